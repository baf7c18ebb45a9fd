/* log.h — leveled logging to stderr, one line per call.
 *
 * Thread-safe: each line is formatted into a local buffer and written with a
 * single write(2). Never pass a secret (API key, proxy key) to these. */
#ifndef CCP_CORE_LOG_H
#define CCP_CORE_LOG_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CCP_LOG_ERROR = 0,
    CCP_LOG_WARN = 1,
    CCP_LOG_INFO = 2,
    CCP_LOG_DEBUG = 3,
} ccp_log_level;

typedef enum {
    CCP_LOG_TEXT = 0, /* "2025-01-01T00:00:00.000Z info  message" */
    CCP_LOG_JSON = 1, /* {"time":...,"level":...,"msg":...} one object per line */
} ccp_log_format;

void ccp_log_set_level(ccp_log_level level);
ccp_log_level ccp_log_get_level(void);
/* Parses "error|warn|info|debug"; returns 0 or CCP_EINVAL. */
int ccp_log_parse_level(const char *s, ccp_log_level *out);
const char *ccp_log_level_name(ccp_log_level level);
void ccp_log_set_format(ccp_log_format f);
ccp_log_format ccp_log_get_format(void);
/* Parses "text|json"; returns 0 or CCP_EINVAL. */
int ccp_log_parse_format(const char *s, ccp_log_format *out);

/* Appends s (at most max of its bytes, then "...") to out as one field of a
 * log line that a client's input cannot forge lines or fields with: bare
 * when every byte is printable and not a space, '"' or '\\' (UTF-8 passes
 * as is), else in double quotes with '"' and '\\' backslash-escaped and
 * control bytes as \xNN. NULL is written as "-". */
void ccp_log_field(ccp_buf *out, const char *s, size_t max);

/* Appends s (at most max of its bytes, then "...") to out as a JSON string
 * that is always valid JSON whatever s holds: control bytes escaped, a byte
 * that is not part of valid UTF-8 replaced by U+FFFD. NULL is written as
 * null. */
void ccp_log_json_field(ccp_buf *out, const char *s, size_t max);

/* One line per call. In JSON format the message becomes the "msg" field;
 * a message that starts with a request id ("req_" and 24 hex digits) also
 * gets it as "request_id", so every line of a request can be found. */
void ccp_log(ccp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes one JSON log line: {"time":...,"level":..., then fields (the
 * caller's `"name":value` pairs, comma-separated, without braces), then
 * "}". For the access log; the caller has checked the format and level. */
void ccp_log_json_line(ccp_log_level level, const char *fields, size_t len);

/* A line built by the caller, for the access log (one per request, so
 * built without printf): ccp_log_line_head appends the line's head in
 * format f — `{"time":"...","level":"info"` for JSON, the timestamp and
 * the level column for text — the caller appends the rest (for JSON,
 * `,"name":value` pairs), and ccp_log_line_write ends it as ccp_log would
 * (JSON: "}"; text: cut as ccp_log cuts a long line) and writes it with one
 * write(2). The caller has checked the level. */
void ccp_log_line_head(ccp_buf *b, ccp_log_format f, ccp_log_level level);
void ccp_log_line_write(ccp_buf *b, ccp_log_format f);

/* True when lines of this level are written: test it before building what
 * only a log line needs. */
static inline bool ccp_log_enabled(ccp_log_level level)
{
    return (int)level <= (int)ccp_log_get_level();
}

/* Appends url to out as it may be logged: scheme, host, port and path only.
 * User info (user:password@) and the query and fragment are left out (a
 * query is shown as "?..."), because providers take keys there
 * (?key=...). */
void ccp_log_url(ccp_buf *out, const char *url);

#define ccp_log_error(...) ccp_log(CCP_LOG_ERROR, __VA_ARGS__)
#define ccp_log_warn(...) ccp_log(CCP_LOG_WARN, __VA_ARGS__)
#define ccp_log_info(...) ccp_log(CCP_LOG_INFO, __VA_ARGS__)
/* Its arguments are not even evaluated unless debug is on. */
#define ccp_log_debug(...)                                                                         \
    do {                                                                                           \
        if (ccp_log_enabled(CCP_LOG_DEBUG)) ccp_log(CCP_LOG_DEBUG, __VA_ARGS__);                   \
    } while (0)

#endif
