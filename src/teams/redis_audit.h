/* redis_audit.h — the audit record as one Redis Stream shared by every
 * instance (state.redis), hash-chained like the state file's (audit.h).
 *
 *   ccp:audit        the stream; each entry's fields: seq, time_ms, kind,
 *                    data, prev, hash (hash = ccp_audit_row_hash(prev, seq,
 *                    time_ms, kind, data), SHA-256 as in the state file)
 *   ccp:audit:head   a hash {seq, hash}: the chain's last entry
 *
 * Redis's Lua has no SHA-256, so an instance computes the hashes and a
 * script appends its rows only if the head is still the one they were
 * computed from (compare-and-set); otherwise it answers the head, and the
 * instance recomputes and tries again (redis_push.c). Two instances
 * therefore never fork the chain: the stream is one chain holding every
 * instance's rows in the order Redis took them. */
#ifndef CCP_TEAMS_REDIS_AUDIT_H
#define CCP_TEAMS_REDIS_AUDIT_H

#include "core/buf.h"
#include "core/error.h"

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#define CCP_REDIS_AUDIT_STREAM "ccp:audit"
#define CCP_REDIS_AUDIT_HEAD "ccp:audit:head"

/* One row's place in the chain. */
typedef struct ccp_audit_link {
    int64_t seq;
    char prev[65], hash[65];
} ccp_audit_link;

/* Chains n rows after the entry (seq, hash) (0 and 64 zeros: an empty
 * chain): out[i] gets row i's seq, prev and hash. */
void ccp_redis_audit_chain(int64_t seq, const char *hash, size_t n, const int64_t *time_ms,
                           const char *const *kind, const char *const *data, ccp_audit_link *out);

/* The walk `verify` makes over the entries in stream order, apart from
 * Redis (so it can be tested without one). */
typedef struct ccp_audit_walk {
    int64_t want; /* the seq the next entry must have */
    char prev[65];
    int64_t rows; /* entries verified */
} ccp_audit_walk;

void ccp_audit_walk_init(ccp_audit_walk *w);

/* Checks one entry (id: its stream id, for the message; a NULL field: the
 * entry lacks it). 0, or CCP_EINVAL with err naming the entry and what is
 * wrong. */
int ccp_audit_walk_entry(ccp_audit_walk *w, const char *id, const char *seq, const char *time_ms,
                         const char *kind, const char *data, const char *prev, const char *hash,
                         ccp_error *err);

/* After the last entry: checks the head (head_seq NULL: there is none),
 * which catches the newest entries deleted. */
int ccp_audit_walk_end(ccp_audit_walk *w, const char *head_seq, const char *head_hash,
                       ccp_error *err);

/* Walks the stream (as ccp_audit_verify does the table); *rows gets the
 * entries verified. */
int ccp_redis_audit_verify(redisContext *c, int64_t *rows, ccp_error *err);

/* Appends the entries with seq > since as JSON lines: seq, time_ms, kind,
 * data, hash, stream_id. */
int ccp_redis_audit_export(redisContext *c, int64_t since, ccp_buf *out, ccp_error *err);

#endif
