/* audit.h — the append-only, hash-chained audit record in the state file.
 *
 * Each row holds when, what kind (key.create, key.revoke, request, ...) and
 * a JSON object of metadata — never a prompt or an answer. Its hash is
 * SHA-256(previous row's hash || the row's canonical text), the first
 * row's previous hash being 64 zeros, so editing or deleting a row breaks
 * the chain at that row: `ccproxy audit verify` walks it. Rows are appended
 * inside BEGIN IMMEDIATE, so the proxy's state thread and a `ccproxy keys`
 * command appending at once still form one chain. */
#ifndef CCP_TEAMS_AUDIT_H
#define CCP_TEAMS_AUDIT_H

#include "core/buf.h"
#include "core/error.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

/* Appends one row (time_ms: Unix milliseconds; data: a JSON object's text)
 * in its own transaction. */
int ccp_audit_append(sqlite3 *db, int64_t time_ms, const char *kind, const char *data,
                     ccp_error *err);

/* Appends one row inside a transaction the caller holds (BEGIN IMMEDIATE). */
int ccp_audit_append_in_tx(sqlite3 *db, int64_t time_ms, const char *kind, const char *data,
                           ccp_error *err);

/* Many rows appended in one transaction the caller holds (BEGIN
 * IMMEDIATE): the chain's end is read once and the insert prepared once,
 * which is what lets the proxy's state thread keep up with thousands of
 * requests a second. */
typedef struct ccp_audit_batch {
    sqlite3 *db;
    sqlite3_stmt *ins;
    char prev[65];
    int64_t seq; /* of the last row */
} ccp_audit_batch;

int ccp_audit_batch_begin(ccp_audit_batch *b, sqlite3 *db, ccp_error *err);
int ccp_audit_batch_add(ccp_audit_batch *b, int64_t time_ms, const char *kind, const char *data,
                        ccp_error *err);
void ccp_audit_batch_end(ccp_audit_batch *b);

/* The row's hash: hex SHA-256 of prev (64 hex digits) and the canonical
 * text "seq\ntime_ms\nkind\ndata". */
void ccp_audit_row_hash(const char *prev, int64_t seq, int64_t time_ms, const char *kind,
                        const char *data, char out[65]);

/* Walks the chain, from the archive anchor if there is one. Returns 0
 * when every row holds; else CCP_EINVAL with err naming the first bad row
 * and what is wrong with it. *rows gets the number of rows checked. */
int ccp_audit_verify(sqlite3 *db, int64_t *rows, ccp_error *err);

/* The same, and *from gets the seq the walk started at: 1, or the row
 * after the archive anchor. */
int ccp_audit_verify_from(sqlite3 *db, int64_t *rows, int64_t *from, ccp_error *err);

/* Walks the table's rows as following the row numbered after with hash:
 * the anchor, or the last row of the archive files (audit_archive.h);
 * anchored: the file has an anchor there, which messages then name. */
int ccp_audit_verify_after(sqlite3 *db, int64_t after, const char *hash, bool anchored,
                           int64_t *rows, ccp_error *err);

/* `ccproxy audit archive` removes the oldest rows (audit_archive.h) and
 * keeps the last one's seq and hash in this one-row table, made by the
 * first archive: id = 1, seq, hash, time_ms. */
#define CCP_AUDIT_ANCHOR_TABLE "audit_anchor"

/* The anchor: *present false when the file was never archived; a
 * malformed one is CCP_EINVAL (edited). */
int ccp_audit_read_anchor(sqlite3 *db, bool *present, int64_t *seq, char hash[65], ccp_error *err);

/* Appends every row with seq > since as one JSON object per line. */
int ccp_audit_export(sqlite3 *db, int64_t since, ccp_buf *out, ccp_error *err);

/* One row as export writes it (a line, newline included). */
void ccp_audit_export_line(ccp_buf *out, int64_t seq, int64_t time_ms, const char *kind,
                           const char *data, const char *hash);

/* Unix milliseconds now. */
int64_t ccp_audit_now_ms(void);

#endif
