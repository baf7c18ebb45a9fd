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

#include <stddef.h>
#include <stdint.h>

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

#endif
