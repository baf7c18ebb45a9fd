/* test_tls_server.c — the server side of TLS over memory BIOs, driven by an
 * in-memory OpenSSL client: handshakes, data both ways, close_notify, a
 * plain-HTTP client, and a certificate reload (ccp_server_tls_reload) that
 * new connections see while open ones keep theirs. Certificates are made
 * by the openssl CLI in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/tls_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fail_msg("failed: %s", cmd);
}

/* A self-signed certificate and key, dir/name.pem and dir/name.key. */
static void make_pair(const char *name)
{
    sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
       "%s.key -out %s.pem -days 2 -subj /CN=%s 2>/dev/null && chmod 600 %s.key",
       dir, name, name, name, name);
}

static ccp_server_tls_config cfg_of(const char *cert, const char *key, char *cbuf, char *kbuf)
{
    snprintf(cbuf, 256, "%s/%s.pem", dir, cert);
    snprintf(kbuf, 256, "%s/%s.key", dir, key);
    return (ccp_server_tls_config){.cert_file = cbuf, .key_file = kbuf};
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ccp-tls-unit-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    make_pair("one");
    make_pair("two");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf %s", dir);
    return 0;
}

/* An in-memory client. */
typedef struct client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
} client;

static void client_new(client *c, int max_version)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (max_version) SSL_CTX_set_max_proto_version(c->ctx, max_version);
    c->ssl = SSL_new(c->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(c->rbio, -1);
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
}

static void client_free(client *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
}

/* Moves the client's pending bytes to the server and the server's answer
 * back; returns the last ccp_tls_conn_read result (a count, or CCP_TLS_*),
 * with any plaintext the server read in got. */
static int pump(client *c, ccp_tls_conn *t, ccp_buf *got)
{
    int last = CCP_TLS_AGAIN;
    for (int round = 0; round < 10; round++) {
        char buf[16384];
        bool moved = false;
        int n;
        while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
            ccp_tls_conn_feed(t, buf, (size_t)n);
            moved = true;
        }
        while ((last = ccp_tls_conn_read(t, buf, sizeof buf, NULL)) > 0)
            if (got) ccp_buf_append(got, buf, (size_t)last);
        ccp_buf out = CCP_BUF_INIT;
        ccp_tls_conn_seal(t, &out, false);
        if (out.len) {
            BIO_write(c->rbio, out.data, (int)out.len);
            moved = true;
        }
        ccp_buf_free(&out);
        if (!SSL_is_init_finished(c->ssl)) SSL_do_handshake(c->ssl);
        if (!moved && BIO_ctrl_pending(c->wbio) == 0) break;
    }
    ERR_clear_error();
    return last;
}

/* The SHA-256 of the certificate the client was given, in hex. */
static void peer_fingerprint(client *c, char out[65])
{
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    assert_non_null(x);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    X509_free(x);
}

/* A client connected to a new connection of ts; checks the handshake. */
static ccp_tls_conn *connect_to(ccp_tls_server *ts, client *c)
{
    client_new(c, 0);
    ccp_tls_conn *t = ccp_tls_conn_new(ts);
    assert_non_null(t);
    SSL_do_handshake(c->ssl);
    pump(c, t, NULL);
    assert_true(SSL_is_init_finished(c->ssl));
    return t;
}

/* The client sends msg; the server must read exactly it, answer "ok", and
 * the client must read that. */
static void exchange(client *c, ccp_tls_conn *t, const char *msg)
{
    assert_int_equal(SSL_write(c->ssl, msg, (int)strlen(msg)), (int)strlen(msg));
    ccp_buf got = CCP_BUF_INIT;
    pump(c, t, &got);
    assert_int_equal(got.len, strlen(msg));
    assert_memory_equal(got.data, msg, got.len);
    ccp_buf_free(&got);
    ccp_buf out = CCP_BUF_INIT;
    ccp_buf_appends(&out, "ok");
    assert_int_equal(ccp_tls_conn_seal(t, &out, false), 0);
    assert_true(out.len > 2); /* a record, not the plaintext */
    BIO_write(c->rbio, out.data, (int)out.len);
    ccp_buf_free(&out);
    char buf[16];
    assert_int_equal(SSL_read(c->ssl, buf, sizeof buf), 2);
    assert_memory_equal(buf, "ok", 2);
}

static void test_handshake_and_data_both_ways(void **state)
{
    (void)state;
    char cb[256], kb[256];
    ccp_server_tls_config cfg = cfg_of("one", "one", cb, kb);
    ccp_error err = {0};
    ccp_tls_server *ts = ccp_tls_server_new(&cfg, &err);
    assert_non_null(ts);
    client c;
    ccp_tls_conn *t = connect_to(ts, &c);
    exchange(&c, t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /* The last bytes before a close end with close_notify. */
    ccp_buf out = CCP_BUF_INIT;
    ccp_buf_appends(&out, "bye");
    assert_int_equal(ccp_tls_conn_seal(t, &out, true), 0);
    BIO_write(c.rbio, out.data, (int)out.len);
    ccp_buf_free(&out);
    char buf[16];
    assert_int_equal(SSL_read(c.ssl, buf, sizeof buf), 3);
    assert_int_equal(SSL_read(c.ssl, buf, sizeof buf), 0);
    assert_int_equal(SSL_get_error(c.ssl, 0), SSL_ERROR_ZERO_RETURN);
    /* The client's close_notify reads as CCP_TLS_CLOSED. */
    SSL_shutdown(c.ssl);
    assert_int_equal(pump(&c, t, NULL), CCP_TLS_CLOSED);
    ccp_tls_conn_free(t);
    client_free(&c);
    ccp_tls_server_free(ts);
}

static void test_reload_serves_the_new_certificate_to_new_connections(void **state)
{
    (void)state;
    char cb[256], kb[256], cb2[256], kb2[256];
    ccp_server_tls_config one = cfg_of("one", "one", cb, kb);
    ccp_server_tls_config two = cfg_of("two", "two", cb2, kb2);
    ccp_error err = {0};
    ccp_tls_server *ts = ccp_tls_server_new(&one, &err);
    assert_non_null(ts);
    char fp_one[65], fp_two[65], seen[65];
    ccp_tls_server_fingerprint(ts, fp_one);

    client a;
    ccp_tls_conn *ta = connect_to(ts, &a);
    peer_fingerprint(&a, seen);
    assert_string_equal(seen, fp_one);

    assert_int_equal(ccp_server_tls_reload(ts, &two, &err), 0);
    ccp_tls_server_fingerprint(ts, fp_two);
    assert_string_not_equal(fp_one, fp_two);

    /* A new connection gets the renewed certificate... */
    client b;
    ccp_tls_conn *tb = connect_to(ts, &b);
    peer_fingerprint(&b, seen);
    assert_string_equal(seen, fp_two);
    exchange(&b, tb, "after");
    /* ...and the one open before goes on with its own. */
    exchange(&a, ta, "still here");

    ccp_tls_conn_free(ta);
    ccp_tls_conn_free(tb);
    client_free(&a);
    client_free(&b);
    ccp_tls_server_free(ts);
}

static void test_reload_refuses_a_bad_pair_and_keeps_the_old(void **state)
{
    (void)state;
    char cb[256], kb[256], cb2[256], kb2[256];
    ccp_server_tls_config one = cfg_of("one", "one", cb, kb);
    ccp_server_tls_config mixed = cfg_of("two", "one", cb2, kb2);
    ccp_error err = {0};
    ccp_tls_server *ts = ccp_tls_server_new(&one, &err);
    assert_non_null(ts);
    char before[65], after[65];
    ccp_tls_server_fingerprint(ts, before);

    assert_int_not_equal(ccp_server_tls_reload(ts, &mixed, &err), 0);
    assert_non_null(strstr(err.msg, "is not the key of the certificate"));
    ccp_server_tls_config missing = {.cert_file = "/nonexistent.pem", .key_file = kb};
    err = (ccp_error){0};
    assert_int_not_equal(ccp_server_tls_reload(ts, &missing, &err), 0);
    assert_non_null(strstr(err.msg, "cannot read '/nonexistent.pem'"));

    ccp_tls_server_fingerprint(ts, after);
    assert_string_equal(before, after);
    client c;
    ccp_tls_conn *t = connect_to(ts, &c);
    char seen[65];
    peer_fingerprint(&c, seen);
    assert_string_equal(seen, before);
    ccp_tls_conn_free(t);
    client_free(&c);
    ccp_tls_server_free(ts);
}

static void test_plain_http_is_answered_in_plain_text(void **state)
{
    (void)state;
    char cb[256], kb[256];
    ccp_server_tls_config cfg = cfg_of("one", "one", cb, kb);
    ccp_error err = {0};
    ccp_tls_server *ts = ccp_tls_server_new(&cfg, &err);
    ccp_tls_conn *t = ccp_tls_conn_new(ts);
    static const char req[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ccp_tls_conn_feed(t, req, sizeof req - 1);
    char buf[256];
    assert_int_equal(ccp_tls_conn_read(t, buf, sizeof buf, NULL), CCP_TLS_PLAIN);
    ccp_buf out = CCP_BUF_INIT;
    ccp_buf_appends(&out, "HTTP/1.1 400 Bad Request\r\n\r\n");
    assert_int_equal(ccp_tls_conn_seal(t, &out, true), 0);
    assert_string_equal(out.data, "HTTP/1.1 400 Bad Request\r\n\r\n");
    ccp_buf_free(&out);
    ccp_tls_conn_free(t);
    ccp_tls_server_free(ts);
}

static void test_garbage_fails_and_no_plaintext_leaves_before_the_handshake(void **state)
{
    (void)state;
    char cb[256], kb[256];
    ccp_server_tls_config cfg = cfg_of("one", "one", cb, kb);
    ccp_error err = {0};
    ccp_tls_server *ts = ccp_tls_server_new(&cfg, &err);
    ccp_tls_conn *t = ccp_tls_conn_new(ts);
    /* Before any handshake, an answer cannot be sent in clear. */
    ccp_buf out = CCP_BUF_INIT;
    ccp_buf_appends(&out, "HTTP/1.1 408\r\n\r\n");
    assert_int_equal(ccp_tls_conn_seal(t, &out, true), -1);
    assert_int_equal(out.len, 0);
    static const char junk[] = "\x16\x03\x01\x00\x05hello-not-a-client-hello";
    ccp_tls_conn_feed(t, junk, sizeof junk - 1);
    char buf[256];
    const char *why = NULL;
    assert_int_equal(ccp_tls_conn_read(t, buf, sizeof buf, &why), CCP_TLS_FAILED);
    assert_non_null(why);
    ccp_buf_free(&out);
    ccp_tls_conn_free(t);
    ccp_tls_server_free(ts);
}

static void test_min_version_1_3_refuses_a_tls_1_2_client(void **state)
{
    (void)state;
    char cb[256], kb[256];
    ccp_server_tls_config cfg = cfg_of("one", "one", cb, kb);
    cfg.min_version = CCP_TLS_MIN_1_3;
    ccp_error err = {0};
    ccp_tls_server *ts = ccp_tls_server_new(&cfg, &err);
    client c;
    client_new(&c, TLS1_2_VERSION);
    ccp_tls_conn *t = ccp_tls_conn_new(ts);
    SSL_do_handshake(c.ssl);
    assert_int_equal(pump(&c, t, NULL), CCP_TLS_FAILED);
    assert_false(SSL_is_init_finished(c.ssl));
    ccp_tls_conn_free(t);
    client_free(&c);
    ccp_tls_server_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_and_data_both_ways),
        cmocka_unit_test(test_reload_serves_the_new_certificate_to_new_connections),
        cmocka_unit_test(test_reload_refuses_a_bad_pair_and_keeps_the_old),
        cmocka_unit_test(test_plain_http_is_answered_in_plain_text),
        cmocka_unit_test(test_garbage_fails_and_no_plaintext_leaves_before_the_handshake),
        cmocka_unit_test(test_min_version_1_3_refuses_a_tls_1_2_client),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
