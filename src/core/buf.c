/* buf.c — growable byte buffer (see buf.h). */
#include "core/buf.h"

#include "core/alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ccp_buf_init(ccp_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void ccp_buf_free(ccp_buf *b)
{
    free(b->data);
    ccp_buf_init(b);
}

void ccp_buf_reset(ccp_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void ccp_buf_reserve(ccp_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    bool fresh = b->data == NULL;
    b->data = ccp_xrealloc(b->data, cap);
    b->cap = cap;
    if (fresh) b->data[0] = '\0'; /* the invariant: data[len] == '\0' */
}

void ccp_buf_append(ccp_buf *b, const void *data, size_t len)
{
    ccp_buf_reserve(b, len);
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void ccp_buf_appends(ccp_buf *b, const char *s)
{
    ccp_buf_append(b, s, strlen(s));
}

void ccp_buf_appendc(ccp_buf *b, char c)
{
    ccp_buf_append(b, &c, 1);
}

void ccp_buf_vprintf(ccp_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof small) {
        ccp_buf_append(b, small, (size_t)n);
    } else {
        ccp_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void ccp_buf_printf(ccp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ccp_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void ccp_buf_append_json_str(ccp_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    ccp_buf_reserve(b, n + 2);
    ccp_buf_appendc(b, '"');
    size_t run = 0; /* start of the current run of bytes needing no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        ccp_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            ccp_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            ccp_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            ccp_buf_append(b, "\\n", 2);
            break;
        case '\r':
            ccp_buf_append(b, "\\r", 2);
            break;
        case '\t':
            ccp_buf_append(b, "\\t", 2);
            break;
        case '\b':
            ccp_buf_append(b, "\\b", 2);
            break;
        case '\f':
            ccp_buf_append(b, "\\f", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ccp_buf_append(b, u, 6);
        }
        }
    }
    ccp_buf_append(b, s + run, n - run);
    ccp_buf_appendc(b, '"');
}

void ccp_buf_consume(ccp_buf *b, size_t n)
{
    if (n >= b->len) {
        ccp_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *ccp_buf_detach(ccp_buf *b, size_t *len)
{
    if (!b->data) ccp_buf_reserve(b, 0);
    char *d = b->data;
    if (len) *len = b->len;
    ccp_buf_init(b);
    return d;
}
