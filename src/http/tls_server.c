/* tls_server.c — the server side of TLS (server.tls): the SSL_CTX built
 * from the config and replaced on reload, and each connection's SSL over a
 * pair of memory BIOs (see tls_server.h for how conn.c drives it). */
#include "http/tls_server.h"

#include "core/alloc.h"
#include "core/log.h"
#include "upstream/tls.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509err.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ccp_tls_server {
    pthread_mutex_t lock; /* guards ctx: workers take it as they accept, reload swaps it */
    SSL_CTX *ctx;         /* one reference held here; each SSL holds its own */
};

struct ccp_tls_conn {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    bool failed;      /* a fatal error: nothing more is read or written through ssl */
    bool plain;       /* the client spoke plain HTTP: bytes pass through unencrypted */
    bool shut;        /* close_notify queued */
};

/* OpenSSL's last error as text ("error:0A000086:SSL routines::certificate
 * verify failed"), spelt out although its strings are not loaded at start
 * (upstream/tls.h); clears the thread's error queue. */
static void last_error(char *out, size_t cap)
{
    unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (!code) {
        snprintf(out, cap, "unknown OpenSSL error");
        return;
    }
    char raw[256];
    ERR_error_string_n(code, raw, sizeof raw);
    char *spelt = ccp_tls_error_text(raw);
    snprintf(out, cap, "%s", spelt ? spelt : raw);
    free(spelt);
}

/* A file that cannot be opened gets the system's reason, clearer than
 * OpenSSL's "system library" error. */
static int check_readable(const char *key, const char *path, ccp_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ccp_error_set(err, CCP_EIO, "server.tls.%s: cannot read '%s': %s", key, path,
                             strerror(errno));
    fclose(f);
    return 0;
}

/* A new context from cfg, or NULL with err set. The caller owns it. */
static SSL_CTX *build_ctx(const ccp_server_tls_config *cfg, ccp_error *err)
{
    if (!cfg->cert_file || !cfg->key_file) {
        ccp_error_set(err, CCP_EINVAL, "server.tls needs both cert_file and key_file");
        return NULL;
    }
    if (check_readable("cert_file", cfg->cert_file, err) ||
        check_readable("key_file", cfg->key_file, err))
        return NULL;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ccp_error_set(err, CCP_ENOMEM, "server.tls: OpenSSL could not make a context");
        return NULL;
    }
    char why[300];
    SSL_CTX_set_min_proto_version(ctx, cfg->min_version == CCP_TLS_MIN_1_3 ? TLS1_3_VERSION
                                                                           : TLS1_2_VERSION);
    /* Renegotiation (TLS 1.2) is refused: nothing here needs it, and a
     * client renegotiating in a loop makes the server do handshakes for
     * free (CVE-2011-1473). TLS 1.3 has none. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    /* An idle keep-alive connection gives its 16 KiB record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    static const unsigned char sid_ctx[] = "ccproxy";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
        last_error(why, sizeof why);
        ccp_error_set(err, CCP_EINVAL,
                      "server.tls.cert_file '%s' is not a PEM certificate (chain): %s",
                      cfg->cert_file, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
        unsigned long code = ERR_peek_last_error();
        if (ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
            goto mismatch;
        last_error(why, sizeof why);
        ccp_error_set(err, CCP_EINVAL, "server.tls.key_file '%s' is not a PEM private key: %s",
                      cfg->key_file, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
    mismatch:
        ERR_clear_error();
        ccp_error_set(err, CCP_EINVAL,
                      "server.tls.key_file '%s' is not the key of the certificate in '%s'",
                      cfg->key_file, cfg->cert_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    struct stat st;
    if (stat(cfg->key_file, &st) == 0 && (st.st_mode & 077))
        ccp_log_warn("server.tls.key_file '%s' is readable by group or others (mode %03o); "
                     "chmod 600 it",
                     cfg->key_file, (unsigned)(st.st_mode & 0777));
    return ctx;
}

ccp_tls_server *ccp_tls_server_new(const ccp_server_tls_config *cfg, ccp_error *err)
{
    SSL_CTX *ctx = build_ctx(cfg, err);
    if (!ctx) return NULL;
    ccp_tls_server *ts = ccp_xcalloc(1, sizeof *ts);
    pthread_mutex_init(&ts->lock, NULL);
    ts->ctx = ctx;
    return ts;
}

void ccp_tls_server_free(ccp_tls_server *ts)
{
    if (!ts) return;
    SSL_CTX_free(ts->ctx);
    pthread_mutex_destroy(&ts->lock);
    free(ts);
}

int ccp_server_tls_reload(ccp_tls_server *ts, const ccp_server_tls_config *cfg, ccp_error *err)
{
    SSL_CTX *ctx = build_ctx(cfg, err);
    if (!ctx) {
        ccp_log_error("TLS reload refused, the certificate in force stays: %s", err->msg);
        return err->code ? err->code : CCP_EINVAL;
    }
    pthread_mutex_lock(&ts->lock);
    SSL_CTX *old = ts->ctx;
    ts->ctx = ctx;
    pthread_mutex_unlock(&ts->lock);
    /* Open connections hold their own references to old. */
    SSL_CTX_free(old);
    char fp[65];
    ccp_tls_server_fingerprint(ts, fp);
    ccp_log_info("TLS: certificate reloaded from %s (sha256 %.16s...)", cfg->cert_file, fp);
    return 0;
}

void ccp_tls_server_fingerprint(ccp_tls_server *ts, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    pthread_mutex_lock(&ts->lock);
    X509 *x = SSL_CTX_get0_certificate(ts->ctx);
    if (x && X509_digest(x, EVP_sha256(), md, &n) == 1)
        for (unsigned i = 0; i < n && i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    pthread_mutex_unlock(&ts->lock);
}

/* ---- one connection ------------------------------------------------- */

ccp_tls_conn *ccp_tls_conn_new(ccp_tls_server *ts)
{
    pthread_mutex_lock(&ts->lock);
    SSL *ssl = SSL_new(ts->ctx); /* takes its own reference to the context */
    pthread_mutex_unlock(&ts->lock);
    if (!ssl) return NULL;
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    if (!r || !w) {
        BIO_free(r);
        BIO_free(w);
        SSL_free(ssl);
        return NULL;
    }
    /* An empty read BIO means "more later", not end of file. */
    BIO_set_mem_eof_return(r, -1);
    BIO_set_mem_eof_return(w, -1);
    SSL_set_bio(ssl, r, w);
    SSL_set_accept_state(ssl);
    ccp_tls_conn *t = ccp_xcalloc(1, sizeof *t);
    t->ssl = ssl;
    t->rbio = r;
    t->wbio = w;
    return t;
}

void ccp_tls_conn_free(ccp_tls_conn *t)
{
    if (!t) return;
    SSL_free(t->ssl); /* frees both BIOs */
    free(t);
}

void ccp_tls_conn_feed(ccp_tls_conn *t, const char *data, size_t len)
{
    /* A memory BIO takes every byte (it grows); reads come in at most
     * 64 KiB, well under INT_MAX. */
    if (len && !t->failed) BIO_write(t->rbio, data, (int)len);
}

/* The reason of a handshake failure, for the debug log. */
static const char *failure_text(unsigned long code)
{
    switch (ERR_GET_REASON(code)) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
        return "the client offered no TLS version server.tls.min_version allows";
    case SSL_R_NO_SHARED_CIPHER:
        return "no cipher in common with the client";
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNKNOWN_PROTOCOL:
        return "the client did not speak TLS";
    case SSL_R_NO_RENEGOTIATION:
        return "the client asked to renegotiate (refused)";
    default:
        return "TLS handshake or record failure";
    }
}

int ccp_tls_conn_read(ccp_tls_conn *t, char *out, size_t cap, const char **why)
{
    if (t->failed || t->plain) return CCP_TLS_FAILED;
    if (cap > INT_MAX) cap = INT_MAX;
    ERR_clear_error();
    int n = SSL_read(t->ssl, out, (int)cap);
    if (n > 0) return n;
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return CCP_TLS_AGAIN;
    if (e == SSL_ERROR_ZERO_RETURN) return CCP_TLS_CLOSED;
    unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && (ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST ||
                                             ERR_GET_REASON(code) == SSL_R_HTTPS_PROXY_REQUEST)) {
        /* Whatever OpenSSL queued (an alert) would garble the answer. */
        (void)BIO_reset(t->wbio);
        t->plain = true;
        return CCP_TLS_PLAIN;
    }
    t->failed = true;
    if (why) *why = failure_text(code);
    return CCP_TLS_FAILED;
}

bool ccp_tls_conn_want_write(ccp_tls_conn *t)
{
    return BIO_ctrl_pending(t->wbio) > 0;
}

/* Queues close_notify once; the client's is not awaited (the socket
 * closes next). Nothing after a failure or before the handshake ends. */
static void shutdown_once(ccp_tls_conn *t)
{
    if (t->shut || t->failed || !SSL_is_init_finished(t->ssl)) return;
    t->shut = true;
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
}

int ccp_tls_conn_seal(ccp_tls_conn *t, ccp_buf *buf, bool last)
{
    if (t->plain) return 0;
    int rc = 0;
    if (buf->len) {
        if (t->failed || !SSL_is_init_finished(t->ssl) || buf->len > INT_MAX) {
            rc = -1;
        } else {
            ERR_clear_error();
            /* A memory BIO never refuses, so SSL_write takes it all (as
             * records of up to 16 KiB) or fails. */
            if (SSL_write(t->ssl, buf->data, (int)buf->len) <= 0) {
                ERR_clear_error();
                t->failed = true;
                rc = -1;
            }
        }
        ccp_buf_reset(buf);
    }
    if (last) shutdown_once(t);
    size_t pending = BIO_ctrl_pending(t->wbio);
    if (pending) {
        ccp_buf_reserve(buf, pending);
        int got = BIO_read(t->wbio, buf->data + buf->len, (int)pending);
        if (got > 0) buf->len += (size_t)got;
        buf->data[buf->len] = '\0'; /* the buffer's invariant */
    }
    return rc;
}
