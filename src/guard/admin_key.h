/* admin_key.h — the check of auth.admin_key on the admin endpoints
 * (/metrics, the /admin endpoints, the data of /ui): the operator's, not a client's.
 * docs/security.md says why it exists. */
#ifndef CCP_GUARD_ADMIN_KEY_H
#define CCP_GUARD_ADMIN_KEY_H

#include <stdbool.h>

/* Whether a request carrying these headers (either may be NULL) holds key:
 * as `Authorization: Bearer <key>` or as `x-api-key: <key>`. The values are
 * compared through their SHA-256 digests with CRYPTO_memcmp, so the time
 * taken tells nothing about the key, its length included. key must not be
 * NULL. */
bool ccp_admin_key_ok(const char *key, const char *authorization, const char *x_api_key);

#endif
