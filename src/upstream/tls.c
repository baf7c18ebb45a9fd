/* tls.c — OpenSSL's error strings, loaded only when a TLS error needs them. */
#include "upstream/tls.h"

#include "core/buf.h"

/* ERR_load_SSL_strings and ERR_load_ERR_strings are deprecated in OpenSSL 3
 * but are the only calls that load the strings after start-up declined them
 * (OPENSSL_init_crypto ignores a later request to load them). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void ccp_tls_global_init(void)
{
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
}

static pthread_once_t strings_once = PTHREAD_ONCE_INIT;

static void load_strings(void)
{
    ERR_load_ERR_strings();
    ERR_load_SSL_strings();
    ERR_load_X509_strings();
    ERR_load_EVP_strings();
    ERR_load_PEM_strings();
    ERR_load_ASN1_strings();
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* If s starts "error:XXXXXXXX:lib(" (ERR_error_string_n's form for a code
 * whose strings are not loaded), stores the code and the token's length. */
static int numeric_token(const char *s, unsigned long *code, size_t *len)
{
    if (strncmp(s, "error:", 6) != 0) return 0;
    unsigned long v = 0;
    for (int i = 0; i < 8; i++) {
        int h = hexval(s[6 + i]);
        if (h < 0) return 0;
        v = v << 4 | (unsigned long)h;
    }
    if (strncmp(s + 14, ":lib(", 5) != 0) return 0;
    /* The token ends after its reason: "lib(N):<func>:reason(N)". */
    const char *r = strstr(s + 19, ":reason(");
    if (!r) return 0;
    const char *end = strchr(r, ')');
    if (!end) return 0;
    *code = v;
    *len = (size_t)(end + 1 - s);
    return 1;
}

char *ccp_tls_error_text(const char *msg)
{
    if (!msg || !strstr(msg, ":lib(")) return NULL;
    pthread_once(&strings_once, load_strings);
    ccp_buf out = CCP_BUF_INIT;
    int changed = 0;
    for (const char *p = msg; *p;) {
        unsigned long code;
        size_t len;
        if (numeric_token(p, &code, &len)) {
            char text[256];
            ERR_error_string_n(code, text, sizeof text);
            ccp_buf_appends(&out, text);
            p += len;
            changed = 1;
        } else {
            ccp_buf_appendc(&out, *p++);
        }
    }
    if (!changed) {
        ccp_buf_free(&out);
        return NULL;
    }
    size_t n;
    return ccp_buf_detach(&out, &n);
}
