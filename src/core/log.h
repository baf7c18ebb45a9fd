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

void ccp_log_set_level(ccp_log_level level);
ccp_log_level ccp_log_get_level(void);
/* Parses "error|warn|info|debug"; returns 0 or CCP_EINVAL. */
int ccp_log_parse_level(const char *s, ccp_log_level *out);
const char *ccp_log_level_name(ccp_log_level level);

/* Appends s (at most max of its bytes, then "...") to out as one field of a
 * log line that a client's input cannot forge lines or fields with: bare
 * when every byte is printable and not a space, '"' or '\\' (UTF-8 passes
 * as is), else in double quotes with '"' and '\\' backslash-escaped and
 * control bytes as \xNN. NULL is written as "-". */
void ccp_log_field(ccp_buf *out, const char *s, size_t max);

void ccp_log(ccp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
