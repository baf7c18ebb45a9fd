/* redis_sync.h — a blocking hiredis connection to state.redis, for code
 * that may wait: the guard's state thread (off the request path) and the
 * `ccproxy usage` and `ccproxy audit` commands. The worker loops never use
 * it (they have redis_store.h's asynchronous one).
 *
 * Every command has the connection's timeout, so a Redis that stopped
 * answering costs the caller at most that long; after a failure the
 * holder (ccp_redis_sync) reconnects at most once a second. */
#ifndef CCP_TEAMS_REDIS_SYNC_H
#define CCP_TEAMS_REDIS_SYNC_H

#include "core/error.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connects to url ("redis://[[USER]:PASSWORD@]host[:port][/db]"), sends
 * AUTH and SELECT when the URL has them, and gives every later command
 * timeout_ms. Returns the context (the caller's: redisFree) or NULL with
 * err set (the password never in it). */
redisContext *ccp_redis_sync_connect(const char *url, int timeout_ms, ccp_error *err);

/* A connection that comes back after failures. */
typedef struct ccp_redis_sync ccp_redis_sync;

/* Owned by the caller (ccp_redis_sync_free); url is copied. Connects
 * lazily. */
ccp_redis_sync *ccp_redis_sync_new(const char *url, int timeout_ms);
void ccp_redis_sync_free(ccp_redis_sync *s);

/* The connection, connecting when there is none and the last try is a
 * second old or more; NULL (err set) when Redis cannot be reached. The
 * first failure after success is logged once, and the return. Borrowed:
 * valid until ccp_redis_sync_drop or _free. */
redisContext *ccp_redis_sync_get(ccp_redis_sync *s, ccp_error *err);

/* Forgets the connection after an I/O error or a timeout (its state is
 * unknown: a reply may still be on the way). why is logged once. */
void ccp_redis_sync_drop(ccp_redis_sync *s, const char *why);

/* Runs a Lua script: EVALSHA sha (40 hex digits of the script's SHA-1,
 * ccp_redis_script_sha), and EVAL when Redis does not know it yet.
 * args are the arguments after the script (numkeys, keys, argv), with
 * their lengths. Returns the reply (the caller's: freeReplyObject) or
 * NULL when the connection failed (c->errstr says why). */
redisReply *ccp_redis_sync_script(redisContext *c, const char *script, const char *sha, int argc,
                                  const char **argv, const size_t *lens);

/* The SHA-1 of script in hex, as EVALSHA wants it. */
void ccp_redis_script_sha(const char *script, char sha[41]);

#endif
