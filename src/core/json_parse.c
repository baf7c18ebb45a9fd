/* json_parse.c — ccp_json_parse: strict JSON (RFC 8259) into json-c objects.
 *
 * json-c's own tokenizer was a fifth of the CPU time of a proxied request
 * (a state machine per byte, every string copied through a growing
 * printbuf). This parser builds the same json-c objects by recursive
 * descent: a string without escapes goes from the input into its object in
 * one copy, found eight bytes at a time.
 *
 * It gives what json-c's tokenizer gave, so everything downstream (and the
 * serializer's byte-for-byte output) is unchanged: integers as int64, or
 * uint64 above INT64_MAX; other numbers as doubles that keep their source
 * text; "\u0000" kept inside the string; a lone surrogate becomes U+FFFD;
 * the last of duplicate keys wins; a key stops at an embedded NUL. It is
 * stricter where json-c's strict mode was not (single-quoted keys, NaN,
 * Infinity and raw control characters are errors, as in Anthropic's API),
 * and an integer too large for 64 bits is kept as a double with its digits
 * rather than refused. */
#include "core/json.h"

#include "core/json_scan.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *p, *end, *start;
    int depth;
    size_t values, max_values; /* values made so far; the budget (0: none) */
    bool over_budget;
    ccp_buf scratch;     /* unescaped string text */
    const char *err_at;  /* first error: where */
    const char *err_msg; /* and what */
} parser;

static int fail(parser *ps, const char *at, const char *msg)
{
    if (!ps->err_msg) {
        ps->err_at = at;
        ps->err_msg = msg;
    }
    return -1;
}

static int fail_here(parser *ps, const char *msg)
{
    return fail(ps, ps->p, ps->p < ps->end ? msg : "unexpected end of input");
}

static void skip_ws(parser *ps)
{
    const char *p = ps->p;
    while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(ccp_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    ccp_buf_append(b, u, n);
}

/* Moves p to the first byte at or after p that ends a plain run. */
static const char *scan_plain(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if (ccp_json_word_special(w)) break;
        p += 8;
    }
    while (p < end && !ccp_json_special[(unsigned char)*p])
        p++;
    return p;
}

/* One escape sequence at ps->p (just after the backslash), appended to
 * ps->scratch. */
static int unescape(parser *ps)
{
    const char *p = ps->p;
    if (p == ps->end) return fail(ps, p, "unexpected end of input");
    char c = *p++;
    char out;
    switch (c) {
    case '"':
    case '\\':
    case '/':
        out = c;
        break;
    case 'b':
        out = '\b';
        break;
    case 'f':
        out = '\f';
        break;
    case 'n':
        out = '\n';
        break;
    case 'r':
        out = '\r';
        break;
    case 't':
        out = '\t';
        break;
    case 'u': {
        unsigned cp;
        if (hex4(p, ps->end, &cp)) return fail(ps, p - 2, "invalid \\u escape");
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (ps->end - p >= 6 && p[0] == '\\' && p[1] == 'u' && !hex4(p + 2, ps->end, &lo) &&
                lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else {
                cp = 0xFFFD; /* a high surrogate alone */
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD; /* a low surrogate alone */
        }
        put_utf8(&ps->scratch, cp);
        ps->p = p;
        return 0;
    }
    default:
        return fail(ps, p - 2, "invalid escape in string");
    }
    ccp_buf_appendc(&ps->scratch, out);
    ps->p = p;
    return 0;
}

/* The string at ps->p (on its opening quote). *s and *n receive its text:
 * borrowed from the input when it has no escapes, else from ps->scratch
 * (valid until the next string is parsed). */
static int parse_string(parser *ps, const char **s, size_t *n)
{
    const char *p = ps->p + 1, *end = ps->end;
    const char *run = p;
    p = scan_plain(p, end);
    if (p < end && *p == '"') {
        *s = run;
        *n = (size_t)(p - run);
        ps->p = p + 1;
        return 0;
    }
    ccp_buf_reset(&ps->scratch);
    for (;;) {
        ccp_buf_append(&ps->scratch, run, (size_t)(p - run));
        if (p == end) return fail(ps, end, "unexpected end of input");
        if (*p == '"') break;
        if (*p != '\\') return fail(ps, p, "control character in string (escape it)");
        ps->p = p + 1;
        if (unescape(ps)) return -1;
        run = p = ps->p;
        p = scan_plain(p, end);
    }
    ps->p = p + 1;
    *s = ps->scratch.data ? ps->scratch.data : "";
    *n = ps->scratch.len;
    return 0;
}

static int parse_number(parser *ps, json_object **out)
{
    const char *start = ps->p, *p = start, *end = ps->end;
    bool neg = false, dbl = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        ps->p = p;
        return fail_here(ps, "invalid number");
    }
    if (p < end && *p == '.') {
        dbl = true;
        p++;
        if (p == end || *p < '0' || *p > '9') {
            ps->p = p;
            return fail_here(ps, "invalid number: a digit must follow '.'");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        dbl = true;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || *p < '0' || *p > '9') {
            ps->p = p;
            return fail_here(ps, "invalid number: a digit must follow the exponent");
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    ps->p = p;
    if (!dbl) {
        uint64_t v = 0;
        bool overflow = false;
        for (const char *d = start + neg; d < p; d++) {
            unsigned digit = (unsigned)(*d - '0');
            if (v > (UINT64_MAX - digit) / 10) {
                overflow = true;
                break;
            }
            v = v * 10 + digit;
        }
        if (!overflow) {
            if (!neg) {
                *out =
                    v <= INT64_MAX ? json_object_new_int64((int64_t)v) : json_object_new_uint64(v);
                return 0;
            }
            if (v <= (uint64_t)INT64_MAX + 1) {
                *out =
                    json_object_new_int64(v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v);
                return 0;
            }
        }
        /* Beyond 64 bits: a double that keeps its digits. */
    }
    /* strtod and json-c want the text NUL-terminated. */
    size_t n = (size_t)(p - start);
    char small[64];
    char *text = n < sizeof small ? small : malloc(n + 1);
    if (!text) return fail(ps, start, "out of memory");
    memcpy(text, start, n);
    text[n] = '\0';
    *out = json_object_new_double_s(strtod(text, NULL), text);
    if (text != small) free(text);
    return 0;
}

static int parse_value(parser *ps, json_object **out);

static int literal(parser *ps, const char *word, size_t n)
{
    const char *p = ps->p;
    size_t have = (size_t)(ps->end - p);
    if (have >= n && memcmp(p, word, n) == 0) {
        ps->p = p + n;
        return 0;
    }
    if (have < n && memcmp(p, word, have) == 0) return fail(ps, ps->end, "unexpected end of input");
    return fail(ps, p, "unexpected character");
}

static int parse_object(parser *ps, json_object **out)
{
    json_object *obj = json_object_new_object();
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        *out = obj;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p == ps->end || *ps->p != '"') {
            fail_here(ps, "expected a member name in double quotes");
            goto bad;
        }
        const char *s;
        size_t n;
        if (parse_string(ps, &s, &n)) goto bad;
        /* The key outlives the scratch buffer (the value may use it). */
        char small[128];
        char *key = n < sizeof small ? small : malloc(n + 1);
        if (!key) {
            fail(ps, ps->p, "out of memory");
            goto bad;
        }
        memcpy(key, s, n);
        key[n] = '\0';
        skip_ws(ps);
        json_object *val = NULL;
        int rc = -1;
        if (ps->p == ps->end || *ps->p != ':')
            fail_here(ps, "expected ':' after the member name");
        else {
            ps->p++;
            rc = parse_value(ps, &val);
        }
        if (rc == 0) json_object_object_add(obj, key, val);
        if (key != small) free(key);
        if (rc) goto bad;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            *out = obj;
            return 0;
        }
        fail_here(ps, "expected ',' or '}'");
        goto bad;
    }
bad:
    json_object_put(obj);
    return -1;
}

static int parse_array(parser *ps, json_object **out)
{
    json_object *arr = json_object_new_array();
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        *out = arr;
        return 0;
    }
    for (;;) {
        json_object *val = NULL;
        if (parse_value(ps, &val)) break;
        json_object_array_add(arr, val);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            *out = arr;
            return 0;
        }
        fail_here(ps, "expected ',' or ']'");
        break;
    }
    json_object_put(arr);
    return -1;
}

static int parse_value(parser *ps, json_object **out)
{
    skip_ws(ps);
    if (ps->p == ps->end) return fail(ps, ps->end, "unexpected end of input");
    /* Each value costs a json-c object (an object ~600 bytes with its hash
     * table), so a small body of tiny values can cost gigabytes: the budget
     * stops the parse before the tree is built. */
    if (ps->max_values && ++ps->values > ps->max_values) {
        ps->over_budget = true;
        return fail(ps, ps->p, "too many values");
    }
    switch (*ps->p) {
    case '{':
    case '[': {
        if (++ps->depth > CCP_JSON_MAX_DEPTH) return fail(ps, ps->p, "nesting too deep");
        int rc = *ps->p == '{' ? parse_object(ps, out) : parse_array(ps, out);
        ps->depth--;
        return rc;
    }
    case '"': {
        const char *s;
        size_t n;
        if (parse_string(ps, &s, &n)) return -1;
        *out = json_object_new_string_len(s, (int)n);
        return 0;
    }
    case 't':
        if (literal(ps, "true", 4)) return -1;
        *out = json_object_new_boolean(1);
        return 0;
    case 'f':
        if (literal(ps, "false", 5)) return -1;
        *out = json_object_new_boolean(0);
        return 0;
    case 'n':
        if (literal(ps, "null", 4)) return -1;
        *out = NULL;
        return 0;
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps, out);
        return fail(ps, ps->p, "unexpected character");
    }
}

json_object *ccp_json_parse(const char *data, size_t len, ccp_error *err)
{
    return ccp_json_parse_max(data, len, 0, err);
}

json_object *ccp_json_parse_max(const char *data, size_t len, size_t max_values, ccp_error *err)
{
    if (err) err->code = CCP_OK;
    /* json-c's string length is an int; bodies are capped far below. */
    if (len > (size_t)INT32_MAX) {
        ccp_error_set(err, CCP_ELIMIT, "JSON input too large");
        return NULL;
    }
    parser ps = {.p = data,
                 .end = data + len,
                 .start = data,
                 .max_values = max_values,
                 .scratch = CCP_BUF_INIT};
    json_object *obj = NULL;
    if (parse_value(&ps, &obj) == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            json_object_put(obj);
            obj = NULL;
            fail(&ps, ps.p, "unexpected data after the value");
        }
    }
    ccp_buf_free(&ps.scratch);
    if (ps.over_budget) {
        ccp_error_set(err, CCP_ELIMIT, "the JSON holds more than %zu values", max_values);
        return NULL;
    }
    if (ps.err_msg) {
        ccp_error_set(err, CCP_EPARSE, "invalid JSON at byte offset %zu: %s",
                      (size_t)(ps.err_at - data), ps.err_msg);
        return NULL;
    }
    return obj;
}
