/* log.c — stderr logging (see log.h). The level and the format are the
 * global mutable state here; they are atomic so that a reload
 * (http/reload.c) can change them while workers log. */
#include "core/log.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = CCP_LOG_INFO;
static _Atomic int g_format = CCP_LOG_TEXT;

void ccp_log_set_format(ccp_log_format f)
{
    atomic_store(&g_format, (int)f);
}

ccp_log_format ccp_log_get_format(void)
{
    return (ccp_log_format)atomic_load_explicit(&g_format, memory_order_relaxed);
}

int ccp_log_parse_format(const char *s, ccp_log_format *out)
{
    if (strcmp(s, "text") == 0) {
        *out = CCP_LOG_TEXT;
        return 0;
    }
    if (strcmp(s, "json") == 0) {
        *out = CCP_LOG_JSON;
        return 0;
    }
    return CCP_EINVAL;
}

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

/* The length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Bytes a JSON string takes as they are (the rest need an escape or a
 * UTF-8 check). */
static bool json_plain(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

void ccp_log_json_field(ccp_buf *out, const char *str, size_t max)
{
    if (!str) {
        CCP_BUF_LIT(out, "null");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    bool cut = n > max;
    if (cut) n = max;
    if (out->len + n + 9 > out->cap) ccp_buf_reserve(out, n + 8);
    ccp_buf_appendc(out, '"');
    for (size_t i = 0; i < n;) {
        /* A run of plain bytes (most of every field) in one append. */
        size_t run = i;
        while (run < n && json_plain(s[run]))
            run++;
        if (run > i) {
            ccp_buf_append(out, (const char *)s + i, run - i);
            i = run;
            if (i == n) break;
        }
        unsigned char ch = s[i];
        if (ch >= 0x80) {
            size_t l = utf8_len(s + i, n - i);
            if (l) {
                ccp_buf_append(out, (const char *)s + i, l);
                i += l;
            } else {
                CCP_BUF_LIT(out, "\\ufffd");
                i++;
            }
            continue;
        }
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            ccp_buf_append(out, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            ccp_buf_append(out, e, 6);
        }
        i++;
    }
    if (cut) CCP_BUF_LIT(out, "...");
    ccp_buf_appendc(out, '"');
}

/* Writes v as exactly `digits` decimal digits (zero-padded) at p. */
static void digits(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        p[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* "2025-01-31T12:00:00.123Z" (24 characters) into out (at least 25
 * bytes); returns its length. The date and time of day are kept per thread
 * for the second they name: every log line of that second reuses them
 * rather than calling gmtime_r and formatting seven numbers again. */
static int timestamp(char *out, size_t cap)
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[20]; /* "2025-01-31T12:00:00" */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int year = tm.tm_year + 1900;
        if (year < 0 || year > 9999 || cap < 25)
            return snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", year, tm.tm_mon + 1,
                            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
        memcpy(cached, "0000-00-00T00:00:00", 20);
        digits(cached, (unsigned)year, 4);
        digits(cached + 5, (unsigned)tm.tm_mon + 1, 2);
        digits(cached + 8, (unsigned)tm.tm_mday, 2);
        digits(cached + 11, (unsigned)tm.tm_hour, 2);
        digits(cached + 14, (unsigned)tm.tm_min, 2);
        digits(cached + 17, (unsigned)tm.tm_sec, 2);
        cached_sec = ts.tv_sec;
    }
    memcpy(out, cached, 19);
    out[19] = '.';
    digits(out + 20, (unsigned)(ts.tv_nsec / 1000000), 3);
    out[23] = 'Z';
    out[24] = '\0';
    return 24;
}

/* The text line's level column: " %-5s " of the level's name. */
static const char *const text_levels[] = {" error ", " warn  ", " info  ", " debug "};

/* A text line, its newline excluded, is cut at this many bytes: what
 * ccp_log's 2048-byte line holds before its newline and NUL. */
#define TEXT_LINE_MAX 2046

void ccp_log_line_head(ccp_buf *b, ccp_log_format f, ccp_log_level level)
{
    char ts[40];
    int n = timestamp(ts, sizeof ts);
    if (f == CCP_LOG_JSON) {
        CCP_BUF_LIT(b, "{\"time\":\"");
        ccp_buf_append(b, ts, (size_t)n);
        CCP_BUF_LIT(b, "\",\"level\":\"");
        ccp_buf_appends(b, ccp_log_level_name(level));
        ccp_buf_appendc(b, '"');
    } else {
        ccp_buf_append(b, ts, (size_t)n);
        if ((unsigned)level < 4)
            ccp_buf_append(b, text_levels[level], 7);
        else
            ccp_buf_printf(b, " %-5s ", ccp_log_level_name(level));
    }
}

static void write_buf(ccp_buf *b)
{
    ssize_t w = write(STDERR_FILENO, b->data, b->len);
    (void)w;
}

void ccp_log_line_write(ccp_buf *b, ccp_log_format f)
{
    if (f == CCP_LOG_JSON) {
        CCP_BUF_LIT(b, "}\n");
    } else {
        if (b->len > TEXT_LINE_MAX) b->len = TEXT_LINE_MAX;
        ccp_buf_appendc(b, '\n');
    }
    write_buf(b);
}

void ccp_log_json_line(ccp_log_level level, const char *fields, size_t len)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_reserve(&b, len + 64);
    ccp_log_line_head(&b, CCP_LOG_JSON, level);
    if (len) {
        ccp_buf_appendc(&b, ',');
        ccp_buf_append(&b, fields, len);
    }
    ccp_log_line_write(&b, CCP_LOG_JSON);
    ccp_buf_free(&b);
}

/* The request id a message starts with ("req_" + 24 hex digits, then a
 * space or a colon), or 0. */
static size_t leading_request_id(const char *msg)
{
    if (strncmp(msg, "req_", 4) != 0) return 0;
    for (int i = 4; i < 28; i++)
        if (!((msg[i] >= '0' && msg[i] <= '9') || (msg[i] >= 'a' && msg[i] <= 'f'))) return 0;
    return msg[28] == ' ' || msg[28] == ':' ? 28 : 0;
}

void ccp_log(ccp_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&g_level)) return;
    char line[2048];
    bool json = atomic_load_explicit(&g_format, memory_order_relaxed) == CCP_LOG_JSON;
    int n = 0;
    if (!json) {
        n = timestamp(line, sizeof line);
        n += snprintf(line + n, sizeof line - (size_t)n, " %-5s ", ccp_log_level_name(level));
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    if (json) {
        line[len] = '\0';
        ccp_buf b = CCP_BUF_INIT;
        ccp_log_line_head(&b, CCP_LOG_JSON, level);
        ccp_buf_appends(&b, ",\"msg\":");
        ccp_log_json_field(&b, line, sizeof line);
        size_t id = leading_request_id(line);
        if (id) ccp_buf_printf(&b, ",\"request_id\":\"%.*s\"", (int)id, line);
        ccp_log_line_write(&b, CCP_LOG_JSON);
        ccp_buf_free(&b);
        return;
    }
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
