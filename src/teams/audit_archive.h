/* audit_archive.h — what `ccproxy audit archive` and `audit verify
 * --archive` share between the Redis stream and the state file: the
 * cutoff they take (an age or a date) and the reading of an archive file
 * back into the chain's walk (redis_audit.h's ccp_audit_walk).
 *
 * An archive file is the entries `audit export` writes, one JSON object a
 * line (seq, time_ms, kind, data, hash, and stream_id from Redis). It
 * holds no previous hash: each line follows the one before it, the first
 * follows the archive before it (or the chain's start), so an edited,
 * deleted or inserted line breaks the walk there, and the last line must
 * be the store's anchor for the walk to continue into the store. */
#ifndef CCP_TEAMS_AUDIT_ARCHIVE_H
#define CCP_TEAMS_AUDIT_ARCHIVE_H

#include "core/error.h"
#include "teams/redis_audit.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The cutoff for --before: an age ("30d", "12h", as `usage --since`
 * takes, counted back from now_ms) or a UTC date ("2026-11-01", or
 * "2026-11-01T12:00:00Z"). *cutoff_ms gets Unix milliseconds; CCP_EINVAL
 * when s is neither. */
int ccp_audit_cutoff_parse(const char *s, int64_t now_ms, int64_t *cutoff_ms);

/* Feeds one archive line (len bytes, no newline) to the walk; where names
 * it in messages ("FILE:LINE"). CCP_EINVAL naming the entry when the line
 * is not an export line or does not follow. */
int ccp_audit_archive_line(ccp_audit_walk *w, const char *line, size_t len, const char *where,
                           ccp_error *err);

/* Feeds every line of the archive file at path (blank lines skipped). */
int ccp_audit_archive_file(ccp_audit_walk *w, const char *path, ccp_error *err);

/* The state file's audit table (audit.h), as redis_audit.h does the
 * stream: writes to out the rows from the start up to (not including) the
 * first at or after cutoff_ms, checking their chain from the anchor, and
 * never the newest row (the proxies' appends read the chain's end from the
 * table, so it is never left empty). *cut says what was written. */
int ccp_audit_archive_write_db(sqlite3 *db, int64_t cutoff_ms, FILE *out, ccp_audit_cut *cut,
                               ccp_error *err);

/* In one transaction: the rows cut names are deleted and the anchor
 * (table audit_anchor) set to the last, only if the table still starts at
 * cut->first_seq with those rows and the anchor is still the one the
 * archive started from (else CCP_ECANCELED, nothing changed). */
int ccp_audit_archive_trim_db(sqlite3 *db, const ccp_audit_cut *cut, int64_t *removed,
                              ccp_error *err);

/* The whole history: after the archive files' walk, the table from the
 * state file's anchor on. *rows gets the table's rows verified. */
int ccp_audit_archive_verify_db(sqlite3 *db, ccp_audit_walk *w, int64_t *rows, ccp_error *err);

#endif
