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

void ccp_log_json_field(ccp_buf *out, const char *str, size_t max)
{
    if (!str) {
        ccp_buf_appends(out, "null");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    bool cut = n > max;
    if (cut) n = max;
    ccp_buf_reserve(out, n + 8);
    ccp_buf_appendc(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned char ch = s[i];
        if (ch >= 0x80) {
            size_t l = utf8_len(s + i, n - i);
            if (l) {
                ccp_buf_append(out, (const char *)s + i, l);
                i += l;
            } else {
                ccp_buf_appends(out, "\\ufffd");
                i++;
            }
            continue;
        }
        if (ch == '"' || ch == '\\') {
            ccp_buf_appendc(out, '\\');
            ccp_buf_appendc(out, (char)ch);
        } else if (ch < 0x20 || ch == 0x7f) {
            char e[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
            ccp_buf_appends(out, e);
        } else {
            ccp_buf_appendc(out, (char)ch);
        }
        i++;
    }
    if (cut) ccp_buf_appends(out, "...");
    ccp_buf_appendc(out, '"');
}

/* "2025-01-31T12:00:00.123Z" (24 characters) into out; returns its length. */
static int timestamp(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    return snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    ts.tv_nsec / 1000000);
}

static void json_head(ccp_buf *b, ccp_log_level level)
{
    char ts[40];
    timestamp(ts, sizeof ts);
    ccp_buf_printf(b, "{\"time\":\"%s\",\"level\":\"%s\"", ts, ccp_log_level_name(level));
}

static void write_buf(ccp_buf *b)
{
    ssize_t w = write(STDERR_FILENO, b->data, b->len);
    (void)w;
}

void ccp_log_json_line(ccp_log_level level, const char *fields, size_t len)
{
    ccp_buf b = CCP_BUF_INIT;
    json_head(&b, level);
    if (len) {
        ccp_buf_appendc(&b, ',');
        ccp_buf_append(&b, fields, len);
    }
    ccp_buf_appends(&b, "}\n");
    write_buf(&b);
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
        json_head(&b, level);
        ccp_buf_appends(&b, ",\"msg\":");
        ccp_log_json_field(&b, line, sizeof line);
        size_t id = leading_request_id(line);
        if (id) ccp_buf_printf(&b, ",\"request_id\":\"%.*s\"", (int)id, line);
        ccp_buf_appends(&b, "}\n");
        write_buf(&b);
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
