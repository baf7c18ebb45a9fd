/* tracectx.c — parsing and creating W3C trace context (see tracectx.h). */
#include "obs/tracectx.h"

#include <string.h>

static int hexval(char c)
{
    /* The spec allows lower-case hex only. */
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* n bytes from 2n hex digits; false on a bad digit. */
static bool unhex(const char *s, uint8_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool all_zero(const uint8_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

bool ccp_tracectx_parse(const char *v, uint8_t trace[16], uint8_t parent[8], uint8_t *flags)
{
    if (!v) return false;
    /* Leading and trailing blanks are allowed around a header value. */
    while (*v == ' ' || *v == '\t')
        v++;
    size_t len = strlen(v);
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len < CCP_TRACEPARENT_LEN) return false;
    uint8_t version, fl;
    if (!unhex(v, &version, 1) || version == 0xff) return false;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
    /* Version 00 is exactly 55 characters; a later version may add fields
     * after a '-', which we do not understand and drop. */
    if (version == 0 ? len != CCP_TRACEPARENT_LEN : len > CCP_TRACEPARENT_LEN && v[55] != '-')
        return false;
    uint8_t t[16], p[8];
    if (!unhex(v + 3, t, 16) || !unhex(v + 36, p, 8) || !unhex(v + 53, &fl, 1)) return false;
    if (all_zero(t, 16) || all_zero(p, 8)) return false;
    memcpy(trace, t, 16);
    memcpy(parent, p, 8);
    *flags = fl;
    return true;
}

static uint64_t next(uint64_t *rng)
{
    uint64_t x = *rng;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    *rng = x;
    /* xorshift's low bits are its weakest; a multiply spreads the state
     * over every byte of the id. */
    return x * 0x2545F4914F6CDD1DULL;
}

static void fill(uint8_t *out, int n, uint64_t *rng)
{
    do {
        for (int i = 0; i < n; i += 8) {
            uint64_t x = next(rng);
            memcpy(out + i, &x, (size_t)(n - i < 8 ? n - i : 8));
        }
    } while (all_zero(out, n));
}

void ccp_tracectx_hex(const uint8_t *b, int n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void ccp_tracectx_new_span(uint8_t span[8], uint64_t *rng)
{
    fill(span, 8, rng);
}

void ccp_tracectx_init(ccp_tracectx *t, const char *traceparent, uint64_t *rng)
{
    memset(t, 0, sizeof *t);
    if (ccp_tracectx_parse(traceparent, t->trace_id, t->parent_span_id, &t->flags)) {
        t->has_parent = true;
        ccp_tracectx_hex(t->parent_span_id, 8, t->parent_hex);
    } else {
        fill(t->trace_id, 16, rng);
        t->flags = 0x01; /* a trace we start is sampled */
    }
    fill(t->span_id, 8, rng);
    ccp_tracectx_hex(t->trace_id, 16, t->trace_hex);
    ccp_tracectx_hex(t->span_id, 8, t->span_hex);
}

void ccp_tracectx_header(const ccp_tracectx *t, char out[CCP_TRACEPARENT_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "00-", 3);
    memcpy(out + 3, t->trace_hex, 32);
    out[35] = '-';
    memcpy(out + 36, t->span_hex, 16);
    out[52] = '-';
    /* Version 00 defines only the sampled bit; others are not passed on. */
    out[53] = hex[(t->flags & 1) >> 4];
    out[54] = hex[t->flags & 1];
    out[55] = '\0';
}

const char *ccp_tracectx_state(const ccp_tracectx *t, const char *tracestate)
{
    if (!t || !t->has_parent || !tracestate) return NULL;
    size_t n = 0;
    for (const char *c = tracestate; *c; c++, n++)
        if (n >= 512 || *c < 0x20 || *c > 0x7e) return NULL;
    /* An empty or all-blank value is no state at all. */
    return strspn(tracestate, " \t,") == n ? NULL : tracestate;
}
