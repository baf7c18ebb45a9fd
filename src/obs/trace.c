/* trace.c — span data, ids and sampling (see trace.h); the traceparent
 * header itself is obs/tracectx.c's. */
#include "obs/trace.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

/* xorshift64*, one per thread, seeded from getrandom: ids must be unique,
 * not secret, and a syscall per id would cost more than the span. */
static _Thread_local uint64_t rng_state;

static uint64_t next_rand(void)
{
    if (!rng_state) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed || !seed) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)&seed;
        }
        rng_state = seed | 1;
    }
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void ccp_trace_new_id(uint8_t *id, size_t len)
{
    do {
        for (size_t i = 0; i < len; i += 8) {
            uint64_t r = next_rand();
            size_t n = len - i < 8 ? len - i : 8;
            memcpy(id + i, &r, n);
        }
    } while (all_zero(id, len));
}

bool ccp_trace_sample(const uint8_t trace_id[16], double ratio)
{
    if (ratio >= 1.0) return true;
    if (ratio <= 0.0) return false;
    uint64_t v = 0;
    for (int i = 8; i < 16; i++)
        v = v << 8 | trace_id[i];
    /* OpenTelemetry's rule: sampled when the id's low 63 bits are below
     * ratio * 2^63. */
    v &= 0x7fffffffffffffffULL;
    return (double)v < ratio * 9223372036854775808.0;
}

uint64_t ccp_trace_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Copies up to n bytes of v into the span's text; returns the offset and
 * sets *got to what fit. */
static uint16_t put_text(ccp_span *s, const char *v, size_t n, uint16_t *got)
{
    size_t room = CCP_SPAN_TEXT - s->text_len;
    if (n > room) {
        /* Cut on a character boundary: the exporter writes it as JSON. */
        n = room;
        while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
            n--;
    }
    uint16_t off = s->text_len;
    if (n) memcpy(s->text + off, v, n);
    s->text_len = (uint16_t)(s->text_len + n);
    *got = (uint16_t)n;
    return off;
}

void ccp_span_init(ccp_span *s, int kind, const char *name, const uint8_t trace_id[16],
                   const uint8_t parent_id[8])
{
    /* Only the header is cleared: the text area is written before it is
     * read, and clearing 1.5 KiB per span is the one cost worth avoiding. */
    memset(s, 0, offsetof(ccp_span, attrs));
    s->kind = (uint8_t)kind;
    memcpy(s->trace_id, trace_id, 16);
    if (parent_id) memcpy(s->parent_id, parent_id, 8);
    ccp_trace_new_id(s->span_id, 8);
    s->name_off = put_text(s, name, strlen(name), &s->name_len);
}

static ccp_span_attr *add_attr(ccp_span *s, const char *key, int type)
{
    if (s->n_attrs >= CCP_SPAN_MAX_ATTRS) return NULL;
    ccp_span_attr *a = &s->attrs[s->n_attrs++];
    a->key = key;
    a->type = (uint8_t)type;
    a->off = a->len = 0;
    a->i = 0;
    return a;
}

void ccp_span_strn(ccp_span *s, const char *key, const char *v, size_t n)
{
    if (!v) return;
    ccp_span_attr *a = add_attr(s, key, CCP_ATTR_STR);
    if (a) a->off = put_text(s, v, n, &a->len);
}

void ccp_span_str(ccp_span *s, const char *key, const char *v)
{
    if (v) ccp_span_strn(s, key, v, strlen(v));
}

void ccp_span_int(ccp_span *s, const char *key, int64_t v)
{
    ccp_span_attr *a = add_attr(s, key, CCP_ATTR_INT);
    if (a) a->i = v;
}

void ccp_span_bool(ccp_span *s, const char *key, bool v)
{
    ccp_span_attr *a = add_attr(s, key, CCP_ATTR_BOOL);
    if (a) a->i = v;
}

void ccp_span_str_list1(ccp_span *s, const char *key, const char *v)
{
    if (!v) return;
    ccp_span_attr *a = add_attr(s, key, CCP_ATTR_STR_LIST1);
    if (a) a->off = put_text(s, v, strlen(v), &a->len);
}

void ccp_span_status(ccp_span *s, int code, const char *msg)
{
    s->status = (uint8_t)code;
    if (code == CCP_STATUS_ERROR && msg)
        s->status_off = put_text(s, msg, strlen(msg) < 300 ? strlen(msg) : 300, &s->status_len);
}
