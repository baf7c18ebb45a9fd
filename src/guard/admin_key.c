/* admin_key.c — the constant-time check of the admin key (admin_key.h). */
#include "guard/admin_key.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

/* Whether candidate (length n) is key, in time that depends on neither:
 * both are hashed first, and the digests compared with CRYPTO_memcmp. */
static bool same(const unsigned char kd[SHA256_DIGEST_LENGTH], const char *candidate, size_t n)
{
    unsigned char cd[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)candidate, n, cd);
    return CRYPTO_memcmp(kd, cd, sizeof cd) == 0;
}

bool ccp_admin_key_ok(const char *key, const char *authorization, const char *x_api_key)
{
    unsigned char kd[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), kd);
    bool ok = false;
    if (x_api_key && *x_api_key) ok |= same(kd, x_api_key, strlen(x_api_key));
    if (authorization && !strncasecmp(authorization, "Bearer ", 7)) {
        const char *t = authorization + 7;
        while (*t == ' ')
            t++;
        size_t n = strlen(t);
        while (n && t[n - 1] == ' ')
            n--;
        if (n) ok |= same(kd, t, n);
    }
    return ok;
}
