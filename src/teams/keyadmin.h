/* keyadmin.h — the proxy-key admin actions, shared by `ccproxy keys` (on
 * the state store directly) and the running proxy's /admin/keys endpoints
 * (http/admin_keys.c), so both make, revoke and rotate a key the same way:
 * in Redis first when state.redis is set (then the state file is made a
 * copy of Redis's keys), else in the state file; audited either way.
 *
 * Every call here blocks (SQLite, Redis): never on a worker loop. */
#ifndef CCP_TEAMS_KEYADMIN_H
#define CCP_TEAMS_KEYADMIN_H

#include "core/buf.h"
#include "core/error.h"
#include "teams/keystore.h"
#include "teams/redis_keys.h"

#include <json-c/json.h>
#include <stdint.h>

/* Where a warning or a note of an action goes (a whole line, without its
 * newline): the CLI prints it on stderr, the proxy logs it. */
typedef void (*ccp_keyadmin_note_fn)(const char *line);

/* Makes the state file's keys a copy of Redis's (when Redis has any). A
 * failure is only a warning (to note): Redis is the truth. */
void ccp_keyadmin_copy(ccp_rkeys *rk, sqlite3 *db, ccp_keyadmin_note_fn note);

/* Copies the file's keys that Redis lacks (by id) into Redis; *added says
 * how many. */
int ccp_keyadmin_push(ccp_rkeys *rk, sqlite3 *db, size_t *added, ccp_keyadmin_note_fn note,
                      ccp_error *err);

/* Before the first change to a Redis that holds no keys yet, the state
 * file's keys go there, so keys made before it keep working. */
int ccp_keyadmin_adopt(ccp_rkeys *rk, sqlite3 *db, ccp_keyadmin_note_fn note, ccp_error *err);

/* Makes k (name, tenant, limits, models, expiry set by the caller) and
 * returns its secret in secret; rk NULL: the state file alone. Audited
 * (key.create). On failure secret is zeroed. */
int ccp_keyadmin_create(sqlite3 *db, ccp_rkeys *rk, ccp_keyrec *k, char secret[CCP_KEY_SECRET_MAX],
                        ccp_keyadmin_note_fn note, ccp_error *err);

/* Revokes the key whose id or name is which. Audited (key.revoke). */
int ccp_keyadmin_revoke(sqlite3 *db, ccp_rkeys *rk, const char *which, ccp_keyadmin_note_fn note,
                        ccp_error *err);

/* Gives the key whose id or name is which a new secret (in secret).
 * Audited (key.rotate). On failure secret is zeroed. */
int ccp_keyadmin_rotate(sqlite3 *db, ccp_rkeys *rk, const char *which,
                        char secret[CCP_KEY_SECRET_MAX], ccp_keyadmin_note_fn note, ccp_error *err);

/* "active", "revoked" or "expired" (at now, Unix seconds). Static. */
const char *ccp_keyadmin_status(const ccp_keyrec *k, int64_t now);

/* Appends k as the JSON object `keys list --json` and GET /admin/keys
 * print: never its hash; its secret only when secret is not NULL (made or
 * rotated just now). */
void ccp_keyadmin_json(const ccp_keyrec *k, const char *secret, ccp_buf *b);

/* Fills k's name, tenant, rpm, tpm, concurrency, budget, models and
 * expires from the JSON object body (the fields of POST /admin/keys, as
 * the CLI flags: budget "50usd/month", expires "30d", models a string of
 * comma-separated globs or an array of them). k's strings are malloc'd
 * (ccp_keyrec_free). now: Unix seconds, for expires. CCP_EINVAL with a
 * message naming the field when a field is wrong; *field is set to its
 * name (static). */
int ccp_keyadmin_from_json(json_object *body, int64_t now, ccp_keyrec *k, const char **field,
                           ccp_error *err);

#endif
