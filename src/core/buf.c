/* buf.c — growable byte buffer (see buf.h). */
#include "core/buf.h"

#include "core/alloc.h"
#include "core/json_scan.h"

#include <stdbool.h>
#include <stdint.h>
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

void ccp_buf_append_u64(ccp_buf *b, unsigned long long v)
{
    char tmp[20]; /* 18446744073709551615 */
    size_t n = 0;
    do {
        tmp[sizeof tmp - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ccp_buf_append(b, tmp + sizeof tmp - n, n);
}

void ccp_buf_append_i64(ccp_buf *b, long long v)
{
    if (v < 0) {
        ccp_buf_appendc(b, '-');
        ccp_buf_append_u64(b, 0ull - (unsigned long long)v);
    } else {
        ccp_buf_append_u64(b, (unsigned long long)v);
    }
}

/* Rounding the exact decimal ns / 10^(6-places) half up is what printf
 * does to the double ns / 1e6, except on an exact tie (the double is then a
 * hair above or below the tie, or on it and rounded to even): ties, and
 * times too large for the double to resolve a nanosecond, go to printf. */
void ccp_buf_append_ms(ccp_buf *b, unsigned long long ns, int places)
{
    unsigned long long unit = places == 3 ? 1000 : 100000; /* ns per last digit */
    if (places != 1 && places != 3) {
        ccp_buf_printf(b, "%.*f", places, (double)ns / 1e6);
        return;
    }
    if (ns % unit == unit / 2 || ns >= (1ull << 50)) {
        ccp_buf_printf(b, "%.*f", places, (double)ns / 1e6);
        return;
    }
    unsigned long long v = (ns + unit / 2) / unit; /* in units of the last digit */
    unsigned long long scale = places == 3 ? 1000 : 10;
    ccp_buf_append_u64(b, v / scale);
    char frac[4] = {'.', 0, 0, 0};
    unsigned long long f = v % scale;
    for (int i = places; i >= 1; i--) {
        frac[i] = (char)('0' + f % 10);
        f /= 10;
    }
    ccp_buf_append(b, frac, (size_t)places + 1);
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
    /* Room for the common case (nothing to escape) up front; escapes grow
     * the buffer as they come. */
    ccp_buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        const unsigned char *run = p;
        /* Eight bytes at a time while none needs escaping (text is mostly
         * long plain runs), then byte by byte to find the one that does. */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (ccp_json_word_special(w)) break;
            p += 8;
        }
        while (p < end && !ccp_json_special[*p])
            p++;
        if (p > run) {
            ccp_buf_reserve(b, (size_t)(p - run) + 1);
            memcpy(b->data + b->len, run, (size_t)(p - run));
            b->len += (size_t)(p - run);
        }
        if (p == end) break;
        unsigned char c = *p++;
        char e[6] = {'\\', 0};
        size_t el = 2;
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        default:
            e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
            el = 6;
        }
        ccp_buf_reserve(b, el + 1);
        memcpy(b->data + b->len, e, el);
        b->len += el;
    }
    ccp_buf_reserve(b, 1);
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
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
