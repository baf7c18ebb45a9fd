/* redis_audit.h — the audit record as one Redis Stream shared by every
 * instance (state.redis), hash-chained like the state file's (audit.h).
 *
 *   ccp:audit        the stream; each entry's fields: seq, time_ms, kind,
 *                    data, prev, hash (hash = ccp_audit_row_hash(prev, seq,
 *                    time_ms, kind, data), SHA-256 as in the state file)
 *   ccp:audit:head   a hash {seq, hash}: the chain's last entry
 *   ccp:audit:anchor a hash {seq, hash, stream_id, time_ms}: the last entry
 *                    `ccproxy audit archive` removed from the stream's
 *                    start; the first entry left follows it
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
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define CCP_REDIS_AUDIT_STREAM "ccp:audit"
#define CCP_REDIS_AUDIT_HEAD "ccp:audit:head"
#define CCP_REDIS_AUDIT_ANCHOR "ccp:audit:anchor"

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
    /* Set by ccp_audit_walk_anchor until the next entry is checked: that
     * entry is the first after an archive anchor, and a mismatch names the
     * anchor as a suspect too. */
    const char *anchor_name;
} ccp_audit_walk;

void ccp_audit_walk_init(ccp_audit_walk *w);

/* Starts (or continues) the walk after an archive anchor: the entry seq
 * with hash, removed by `ccproxy audit archive`; name says where the
 * anchor is kept (static), for the messages. */
void ccp_audit_walk_anchor(ccp_audit_walk *w, int64_t seq, const char *hash, const char *name);

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

/* Where a walk through the archive files (oldest first) meets the
 * record: the record's anchor (present, seq, hash; kept in name, in the
 * record called what: "audit stream", "state file") must be the last
 * archived entry. 0, or CCP_EINVAL saying how they differ. */
int ccp_audit_walk_meet(const ccp_audit_walk *w, bool present, int64_t seq, const char *hash,
                        const char *what, const char *name, ccp_error *err);

/* Walks the stream (as ccp_audit_verify does the table) from its archive
 * anchor if it has one; *rows gets the entries verified. */
int ccp_redis_audit_verify(redisContext *c, int64_t *rows, ccp_error *err);

/* The same, and *from gets the seq the walk started at: 1, or the entry
 * after the archive anchor. */
int ccp_redis_audit_verify_from(redisContext *c, int64_t *rows, int64_t *from, ccp_error *err);

/* The archive anchor: *present false when the stream was never archived.
 * seq < 1 or a hash that is not 64 hex digits is CCP_EINVAL (edited). */
typedef struct ccp_audit_anchor {
    bool present;
    int64_t seq, time_ms;
    char hash[65];
    char stream_id[64];
} ccp_audit_anchor;

int ccp_redis_audit_read_anchor(redisContext *c, ccp_audit_anchor *a, ccp_error *err);

/* Continues a walk that has been through the archive files (oldest first)
 * into the stream: the stream's anchor must be the last archived entry,
 * then every entry must follow. */
int ccp_redis_audit_verify_after(redisContext *c, ccp_audit_walk *w, ccp_error *err);

/* What an archive took: the stream ids and seqs of its first and last
 * entries, the last one's hash and time, and how many (0: nothing older
 * than the cutoff). */
typedef struct ccp_audit_cut {
    int64_t count;
    int64_t first_seq, last_seq, last_time_ms;
    char first_id[64], last_id[64];
    char last_hash[65];
    bool had_anchor;
    int64_t anchor_seq; /* the anchor the archive started from */
} ccp_audit_cut;

/* Writes to out, as `export` writes them, the entries from the stream's
 * start up to (not including) the first one whose time_ms is at or after
 * cutoff_ms, checking their chain from the anchor as it goes (a broken
 * chain is not archived: CCP_EINVAL naming the entry). *cut says what was
 * written. Reads the stream a thousand entries at a time. */
int ccp_redis_audit_archive_write(redisContext *c, int64_t cutoff_ms, FILE *out, ccp_audit_cut *cut,
                                  ccp_error *err);

/* Removes the entries cut names from the stream and sets the anchor to
 * the last one, in one script, only if the stream still starts at
 * cut->first_id and the anchor is still the one the archive started from
 * (another archive ran meanwhile: CCP_ECANCELED, nothing removed). Entries
 * appended meanwhile at the end stay. *removed gets the count removed. */
int ccp_redis_audit_trim(redisContext *c, const ccp_audit_cut *cut, int64_t *removed,
                         ccp_error *err);

/* Appends the entries with seq > since as JSON lines: seq, time_ms, kind,
 * data, hash, stream_id. */
int ccp_redis_audit_export(redisContext *c, int64_t since, ccp_buf *out, ccp_error *err);

#endif
