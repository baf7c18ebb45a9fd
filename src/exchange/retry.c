/* retry.c — backoff and the parsing of providers' wait hints (retry.h). */
#include "exchange/retry.h"

#include "core/json.h"

#include <string.h>
#include <strings.h>

#define DAY_MS (24LL * 3600 * 1000)

bool ccp_retry_status(int status)
{
    switch (status) {
    case 408: /* request timeout */
    case 409: /* Anthropic: a conflict that clears on retry; the SDKs retry it */
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
    case 529: /* Anthropic: overloaded */
        return true;
    default:
        return false;
    }
}

uint64_t ccp_rng_next(uint64_t *s)
{
    if (!*s) *s = 0x9E3779B97F4A7C15ULL;
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

uint64_t ccp_backoff_ceiling(const ccp_retry_config *rc, unsigned n)
{
    uint64_t c = rc->base_ms;
    for (unsigned i = 0; i < n && c < rc->max_ms; i++)
        c *= 2;
    return c < rc->max_ms ? c : rc->max_ms;
}

uint64_t ccp_backoff_delay(const ccp_retry_config *rc, unsigned n, uint64_t *rng)
{
    uint64_t c = ccp_backoff_ceiling(rc, n);
    if (rc->jitter == CCP_JITTER_NONE) return c;
    return ccp_rng_next(rng) % (c + 1);
}

/* A non-negative decimal "12" or "1.5" at *p, advancing *p past it; false
 * when there is none. At most 15 integer digits (more is not a wait). */
static bool decimal(const char **p, double *out)
{
    const char *s = *p;
    double v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 15) return false;
        v = v * 10 + (*s++ - '0');
    }
    if (*s == '.') {
        s++;
        double scale = 0.1;
        int frac = 0;
        while (*s >= '0' && *s <= '9') {
            v += (*s++ - '0') * scale;
            scale /= 10;
            frac++;
        }
        if (!frac && !digits) return false;
    } else if (!digits) {
        return false;
    }
    *p = s;
    *out = v;
    return true;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int64_t clamp_ms(double ms)
{
    if (ms < 0) return 0;
    if (ms > (double)DAY_MS) return DAY_MS;
    int64_t r = (int64_t)ms;
    return (double)r < ms ? r + 1 : r; /* a fraction of a millisecond still waits one */
}

/* The whole of s is one decimal (spaces around allowed); unit scales it to
 * milliseconds. */
static int64_t plain_number(const char *s, double unit)
{
    if (!s) return -1;
    s = skip_ws(s);
    double v;
    if (!decimal(&s, &v)) return -1;
    if (*skip_ws(s)) return -1;
    return clamp_ms(v * unit);
}

/* HTTP dates: IMF-fixdate, and the two obsolete forms RFC 9110 says a
 * recipient must accept. */
static bool http_date(const char *s, time_t *out)
{
    static const char *const forms[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* Sun, 06 Nov 1994 08:49:37 GMT */
        "%A, %d-%b-%y %H:%M:%S GMT", /* Sunday, 06-Nov-94 08:49:37 GMT */
        "%a %b %e %H:%M:%S %Y",      /* Sun Nov  6 08:49:37 1994 */
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *end = strptime(s, forms[i], &tm);
        if (!end || *skip_ws(end)) continue;
        *out = timegm(&tm);
        return *out != (time_t)-1;
    }
    return false;
}

int64_t ccp_hint_retry_after(const char *v, time_t now)
{
    if (!v) return -1;
    int64_t ms = plain_number(v, 1000);
    if (ms >= 0) return ms;
    time_t when;
    if (!http_date(skip_ws(v), &when)) return -1;
    return when <= now ? 0 : clamp_ms((double)(when - now) * 1000);
}

int64_t ccp_hint_retry_after_ms(const char *v)
{
    return plain_number(v, 1);
}

int64_t ccp_hint_duration(const char *v)
{
    if (!v) return -1;
    const char *s = skip_ws(v);
    double total = 0;
    int parts = 0;
    while (*s && *s != ' ' && *s != '\t') {
        double n;
        if (!decimal(&s, &n)) return -1;
        double unit;
        if (!strncmp(s, "ms", 2))
            unit = 1, s += 2;
        else if (!strncmp(s, "us", 2))
            unit = 1e-3, s += 2;
        else if (!strncmp(s, "\xc2\xb5s", 3)) /* µs */
            unit = 1e-3, s += 3;
        else if (!strncmp(s, "ns", 2))
            unit = 1e-6, s += 2;
        else if (*s == 'h')
            unit = 3600e3, s++;
        else if (*s == 'm')
            unit = 60e3, s++;
        else if (*s == 's')
            unit = 1e3, s++;
        else
            return -1; /* a bare number has no unit: not a Go duration */
        total += n * unit;
        parts++;
    }
    if (!parts || *skip_ws(s)) return -1;
    return clamp_ms(total);
}

/* "2s", "1.500s": a protobuf Duration in JSON. */
static int64_t proto_duration(const char *s)
{
    if (!s) return -1;
    double v;
    if (!decimal(&s, &v) || strcmp(s, "s") != 0) return -1;
    return clamp_ms(v * 1000);
}

int64_t ccp_hint_google_body(const char *body, size_t len)
{
    if (!body || !len) return -1;
    ccp_error perr;
    json_object *root = ccp_json_parse(body, len, &perr);
    if (!root) return -1;
    int64_t ms = -1;
    /* The streaming endpoint wraps its error in an array. */
    json_object *top = json_object_is_type(root, json_type_array) && json_object_array_length(root)
                           ? json_object_array_get_idx(root, 0)
                           : root;
    json_object *err = ccp_json_get_obj(top, "error");
    json_object *details = err ? ccp_json_get(err, "details") : NULL;
    size_t n = details && json_object_is_type(details, json_type_array)
                   ? json_object_array_length(details)
                   : 0;
    for (size_t i = 0; i < n && ms < 0; i++) {
        json_object *d = json_object_array_get_idx(details, i);
        const char *type = ccp_json_get_str(d, "@type");
        if (!type || !strstr(type, "google.rpc.RetryInfo")) continue;
        ms = proto_duration(ccp_json_get_str(d, "retryDelay"));
    }
    json_object_put(root);
    return ms;
}

int64_t ccp_hint_from_head(int status, const char *retry_after, const char *retry_after_ms,
                           const char *reset_requests, const char *reset_tokens, time_t now)
{
    int64_t ms = ccp_hint_retry_after_ms(retry_after_ms);
    if (ms >= 0) return ms;
    ms = ccp_hint_retry_after(retry_after, now);
    if (ms >= 0) return ms;
    if (status != 429) return -1;
    int64_t a = ccp_hint_duration(reset_requests), b = ccp_hint_duration(reset_tokens);
    return a > b ? a : b;
}

int64_t ccp_client_timeout_ms(const char *v)
{
    int64_t ms = plain_number(v, 1000);
    return ms > 0 ? ms : -1;
}
