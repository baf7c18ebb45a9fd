/* buf.h — a growable byte buffer, always NUL-terminated after len.
 *
 * Used for building response bodies, SSE frames and outbound requests. A
 * buffer can be reset and reused so that a connection's hot path does not
 * allocate once its buffers have grown to their working size. */
#ifndef CCP_CORE_BUF_H
#define CCP_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct ccp_buf {
    char *data; /* owned; NULL until first append; data[len] == '\0' */
    size_t len;
    size_t cap;
} ccp_buf;

#define CCP_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void ccp_buf_init(ccp_buf *b);
void ccp_buf_free(ccp_buf *b);                  /* releases data; b is reusable after */
void ccp_buf_reset(ccp_buf *b);                 /* len = 0, keeps capacity */
void ccp_buf_reserve(ccp_buf *b, size_t extra); /* room for extra more bytes */
/* The appends are inline: they run for every piece of every JSON body,
 * SSE frame and log line, and a call (and a call to reserve) per piece cost
 * more than most pieces' copy; inline, a literal's copy is a few moves. */
static inline void ccp_buf_append(ccp_buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) ccp_buf_reserve(b, len);
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}
static inline void ccp_buf_appends(ccp_buf *b, const char *s)
{
    ccp_buf_append(b, s, strlen(s));
}
static inline void ccp_buf_appendc(ccp_buf *b, char c)
{
    if (b->len + 2 > b->cap) ccp_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}
void ccp_buf_printf(ccp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ccp_buf_vprintf(ccp_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends v in decimal, as printf's %llu and %lld would, without printf's
 * cost (the hot paths: log lines, headers, usage counts). */
void ccp_buf_append_u64(ccp_buf *b, unsigned long long v);
void ccp_buf_append_i64(ccp_buf *b, long long v);
/* Appends ns / 1e6 (milliseconds) with places (1 or 3) decimals, exactly as
 * printf's "%.1f" / "%.3f" of that double would. */
void ccp_buf_append_ms(ccp_buf *b, unsigned long long ns, int places);
/* Appends a string literal (its length known at compile time). */
#define CCP_BUF_LIT(b, lit) ccp_buf_append((b), "" lit, sizeof(lit) - 1)
/* Appends s[0..n) as a JSON string literal, quotes included. Bytes are passed
 * through unchanged except the escapes JSON requires, so invalid UTF-8 and
 * lone surrogates written as \uD83D survive a round trip. */
void ccp_buf_append_json_str(ccp_buf *b, const char *s, size_t n);
/* Removes the first n bytes. */
void ccp_buf_consume(ccp_buf *b, size_t n);
/* Hands the data to the caller (who must free() it) and empties b. */
char *ccp_buf_detach(ccp_buf *b, size_t *len);

#endif
