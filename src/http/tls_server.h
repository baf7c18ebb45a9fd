/* tls_server.h — HTTPS on the listener (server.tls): OpenSSL over memory
 * BIOs, driven by the connection's libuv stream.
 *
 * The socket stays a plain libuv TCP stream. A TLS connection owns an SSL
 * whose read BIO receives the bytes read from the socket and whose write
 * BIO collects what OpenSSL wants sent (handshake records, encrypted
 * answers, alerts, close_notify); conn.c moves bytes between the two. So
 * TLS changes neither the event loop nor the write path: the server writes
 * ciphertext where it wrote plaintext, and its backpressure and timeouts
 * count the bytes that go to the socket.
 *
 * A ccp_tls_server holds the SSL_CTX new connections are made from. It is
 * built at start from the config and can be rebuilt from renewed files
 * (ccp_server_tls_reload) while the server runs: connections already open
 * keep the context they started with (each SSL holds a reference to it). */
#ifndef CCP_HTTP_TLS_SERVER_H
#define CCP_HTTP_TLS_SERVER_H

#include "config/config.h"
#include "core/buf.h"
#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ccp_tls_server ccp_tls_server;
typedef struct ccp_tls_conn ccp_tls_conn;

/* Builds the context from cfg (cert_file, key_file, min_version). Returns
 * it (caller frees with ccp_tls_server_free, after the server has stopped),
 * or NULL with err saying which file was wrong and why. */
ccp_tls_server *ccp_tls_server_new(const ccp_server_tls_config *cfg, ccp_error *err);
void ccp_tls_server_free(ccp_tls_server *ts);

/* Re-reads the certificate and key named by cfg (a renewed certificate, or
 * the config reloaded) into a new context, used by connections accepted
 * from now on. A pair that cannot be loaded (missing, unreadable, a key
 * that does not match the certificate) is refused: the error is logged and
 * returned in err, and the context in force stays. Thread-safe (workers
 * take the context as they accept). Returns 0 or a CCP_E* code. */
int ccp_server_tls_reload(ccp_tls_server *ts, const ccp_server_tls_config *cfg, ccp_error *err);

/* The SHA-256 of the certificate in force, as 64 hex digits (for logs and
 * tests). */
void ccp_tls_server_fingerprint(ccp_tls_server *ts, char out[65]);

/* ---- one connection (conn.c) ---------------------------------------- */

/* A server-side TLS session over memory BIOs; NULL if OpenSSL could not
 * make one (out of memory). Freed with ccp_tls_conn_free. */
ccp_tls_conn *ccp_tls_conn_new(ccp_tls_server *ts);
void ccp_tls_conn_free(ccp_tls_conn *t);

/* What ccp_tls_conn_read returns besides a count of bytes. */
enum {
    CCP_TLS_AGAIN = 0,   /* nothing more until more bytes arrive */
    CCP_TLS_CLOSED = -1, /* the client sent close_notify */
    CCP_TLS_FAILED = -2, /* a handshake or record failure: close (an alert may be queued) */
    CCP_TLS_PLAIN = -3,  /* the client spoke plain HTTP to this port: answer it in plain text */
};

/* Hands bytes read from the socket to OpenSSL (copied). */
void ccp_tls_conn_feed(ccp_tls_conn *t, const char *data, size_t len);

/* Decrypts into out (at most cap bytes), advancing the handshake as
 * needed. Returns a count > 0, or one of the CCP_TLS_* values above; call
 * until it returns CCP_TLS_AGAIN. Sets *why (static text, may be NULL) on
 * CCP_TLS_FAILED. */
int ccp_tls_conn_read(ccp_tls_conn *t, char *out, size_t cap, const char **why);

/* True when OpenSSL has bytes to send (handshake records, alerts). */
bool ccp_tls_conn_want_write(ccp_tls_conn *t);

/* Encrypts the plaintext in *buf and replaces it with every byte to put on
 * the socket (what OpenSSL had queued, then the new records, then
 * close_notify when last is set: we close the connection after these).
 * After CCP_TLS_PLAIN the bytes pass through as they are. Returns 0, or -1
 * when the plaintext cannot be sent (the handshake has not finished, or the
 * session failed): it is dropped and the caller closes the connection. */
int ccp_tls_conn_seal(ccp_tls_conn *t, ccp_buf *buf, bool last);

#endif
