/* redis_keys.h — proxy key records in Redis (state.redis), so that one
 * `ccproxy keys create` serves every instance on every host.
 *
 * Layout (all under "ccp:"):
 *   ccp:key:ID        a hash per key: id, hash (hex SHA-256 of the secret),
 *                     prefix, name, tenant, created, expires, revoked, rpm,
 *                     tpm, concurrency, budget_usd, budget_period, models
 *   ccp:keys          a sorted set of the ids, by creation time
 *   ccp:keys:hash     a hash from the secret's SHA-256 to the id
 *   ccp:keys:name     a hash from the name to the id (names are unique)
 *   ccp:keys:version  a counter, INCR'd by every change
 * Every change is one Lua script, so a reader never sees a half-written
 * key and the counter moves with the records it announces.
 *
 * Once Redis holds keys (the counter exists) it is their source of truth:
 * an instance reloads them when the counter moves and copies them into its
 * state file, from which it starts when Redis is down. Until then each
 * state file is its own source, as without Redis.
 *
 * The connection here is blocking (hiredis's synchronous API, with a
 * timeout): it serves the `ccproxy keys` command and the guard's state
 * thread, never a worker loop. */
#ifndef CCP_TEAMS_REDIS_KEYS_H
#define CCP_TEAMS_REDIS_KEYS_H

#include "core/error.h"
#include "teams/keystore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ccp_rkeys ccp_rkeys;

/* Connects to url ("redis://host[:port][/db]") with every command bounded
 * by timeout_ms. *out is the caller's (ccp_rkeys_close). */
int ccp_rkeys_open(const char *url, int timeout_ms, ccp_rkeys **out, ccp_error *err);

/* Closes the connection. NULL is fine. */
void ccp_rkeys_close(ccp_rkeys *r);

/* Whether the connection failed (a timeout, a reset, EOF) rather than
 * Redis answering an error: Redis was unreachable. NULL: false. */
bool ccp_rkeys_broken(const ccp_rkeys *r);

/* The version counter; 0 when Redis holds no keys yet. */
int ccp_rkeys_version(ccp_rkeys *r, int64_t *version, ccp_error *err);

/* Every key record and the version they are, oldest first: a consistent
 * snapshot (plain pipelined reads between two reads of the counter,
 * again when it moved). *out is the caller's (ccp_keyrec_free each, then
 * free). A record that does not decode is skipped with a log line. */
int ccp_rkeys_list(ccp_rkeys *r, ccp_keyrec **out, size_t *n, int64_t *version, ccp_error *err);

/* How ccp_rkeys_put treats an existing key. */
typedef enum {
    CCP_RKEYS_CREATE, /* a new key: its id, name and hash must be free */
    CCP_RKEYS_IMPORT, /* from a state file: skipped when its id is there */
} ccp_rkeys_mode;

/* Writes the whole record k (last_used is not kept in Redis) and moves
 * the version. With CCP_RKEYS_IMPORT, *added (may be NULL) says whether it
 * was written. CCP_EINVAL when the name (or hash) belongs to another key. */
int ccp_rkeys_put(ccp_rkeys *r, const ccp_keyrec *k, ccp_rkeys_mode mode, bool *added,
                  ccp_error *err);

/* Revokes key id, or gives it a new secret hash and prefix, touching only
 * those fields (so two admins' changes at once both hold), and moves the
 * version. CCP_ENOTFOUND when Redis has no such key. */
int ccp_rkeys_revoke(ccp_rkeys *r, const char *id, ccp_error *err);
int ccp_rkeys_rotate(ccp_rkeys *r, const char *id, const char *hash, const char *prefix,
                     ccp_error *err);

/* The field/value pairs of a record, as strings: argv points into k and
 * into nums (so both must outlive the use of argv). */
#define CCP_RKEY_FIELDS 14
typedef struct ccp_rkey_enc {
    const char *argv[2 * CCP_RKEY_FIELDS];
    size_t argc;
    char nums[8][32];
} ccp_rkey_enc;

/* Encodes k; a NULL tenant or models is left out (absent means none). */
void ccp_rkey_encode(const ccp_keyrec *k, ccp_rkey_enc *e);

/* Decodes the n strings of kv (field, value, field, value, ...: what
 * HGETALL gives) into *out (its strings owned: ccp_keyrec_free). Unknown
 * fields are ignored (a newer ccproxy may add some); a missing id, hash,
 * name or prefix, or a malformed value, is CCP_EINVAL naming the field. */
int ccp_rkey_decode(const char *const *kv, size_t n, ccp_keyrec *out, ccp_error *err);

#endif
