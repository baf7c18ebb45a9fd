/* log.c — stderr logging (see log.h). The level is the one piece of global
 * mutable state here; it is atomic so that a reload (not implemented yet)
 * can change it while workers log. */
#include "core/log.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = CCP_LOG_INFO;

void ccp_log_set_level(ccp_log_level level)
{
    atomic_store(&g_level, (int)level);
}

ccp_log_level ccp_log_get_level(void)
{
    return (ccp_log_level)atomic_load(&g_level);
}

static const char *const names[] = {"error", "warn", "info", "debug"};

const char *ccp_log_level_name(ccp_log_level level)
{
    return (unsigned)level < 4 ? names[level] : "?";
}

int ccp_log_parse_level(const char *s, ccp_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (ccp_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = CCP_LOG_WARN;
        return 0;
    }
    return CCP_EINVAL;
}

static bool bare_byte(unsigned char ch)
{
    return ch > ' ' && ch != '"' && ch != '\\' && ch != 0x7f;
}

void ccp_log_field(ccp_buf *out, const char *s, size_t max)
{
    if (!s) {
        ccp_buf_appendc(out, '-');
        return;
    }
    size_t n = strlen(s);
    bool cut = n > max;
    if (cut) {
        n = max;
        /* Not in the middle of a UTF-8 sequence. */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    bool bare = n > 0;
    for (size_t i = 0; i < n && bare; i++)
        bare = bare_byte((unsigned char)s[i]);
    if (bare) {
        ccp_buf_append(out, s, n);
        if (cut) ccp_buf_appends(out, "...");
        return;
    }
    ccp_buf_appendc(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            ccp_buf_appendc(out, '\\');
            ccp_buf_appendc(out, (char)ch);
        } else if (ch < ' ' || ch == 0x7f) {
            ccp_buf_printf(out, "\\x%02x", ch);
        } else {
            ccp_buf_appendc(out, (char)ch);
        }
    }
    if (cut) ccp_buf_appends(out, "...");
    ccp_buf_appendc(out, '"');
}

void ccp_log(ccp_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&g_level)) return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, ccp_log_level_name(level));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void ccp_log_url(ccp_buf *out, const char *url)
{
    const char *p = url, *scheme = strstr(url, "://");
    if (scheme) {
        ccp_buf_append(out, url, (size_t)(scheme + 3 - url));
        p = scheme + 3;
    }
    /* The authority ends at the first '/', '?' or '#'; an '@' in it ends
     * the user info, which is dropped. */
    size_t auth = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth);
    if (at) {
        auth -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t rest = auth + strcspn(p + auth, "?#");
    ccp_buf_append(out, p, rest);
    if (p[rest] == '?') ccp_buf_appends(out, "?...");
}
