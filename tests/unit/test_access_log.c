/* test_access_log.c — the access line: the text form as it always was,
 * and a JSON form that stays one valid object whatever a client sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"
#include "obs/access.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <string.h>

static ccp_access_rec sample(ccp_access *a, const ccp_tracectx *t)
{
    ccp_access_init(a);
    a->provider = "ant";
    a->upstream_model = "claude-main";
    a->model = "claude-sonnet-4-5";
    a->stream = true;
    a->has_stream = true;
    a->attempts = 2;
    a->fallback_from = "down";
    a->upstream_status = 200;
    a->upstream_ttfb_ns = 3000000;
    a->upstream_wait_ns = 8000000;
    a->output_tokens = 12;
    a->stop_reason = "end_turn";
    a->stage = "default";
    return (ccp_access_rec){.id = "req_0123456789abcdef01234567",
                            .method = "POST",
                            .path = "/v1/messages",
                            .status = 200,
                            .client = "127.0.0.1:5000",
                            .trace = t,
                            .start_ns = 1000000,
                            .head_ns = 5000000,
                            .end_ns = 11000000,
                            .bytes_in = 10,
                            .bytes_out = 20,
                            .info = a};
}

static void the_text_line_keeps_its_shape(void **state)
{
    (void)state;
    ccp_access a;
    ccp_access_rec r = sample(&a, NULL);
    ccp_buf b = CCP_BUF_INIT;
    ccp_access_format_text(&r, &b);
    assert_string_equal(b.data, "req_0123456789abcdef01234567 POST /v1/messages 200 provider=ant "
                                "model=claude-main stream=yes 10.0ms in=10 out=20");
    ccp_buf_free(&b);
}

static json_object *parse(const ccp_buf *b)
{
    ccp_buf obj = CCP_BUF_INIT;
    ccp_buf_appendc(&obj, '{');
    ccp_buf_append(&obj, b->data, b->len);
    ccp_buf_appendc(&obj, '}');
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, obj.data, (int)obj.len);
    if (!o) fail_msg("not JSON: %s", obj.data);
    json_tokener_free(tok);
    ccp_buf_free(&obj);
    return o;
}

static void the_json_line_has_every_field(void **state)
{
    (void)state;
    uint64_t rng = 7;
    ccp_tracectx t;
    ccp_tracectx_init(&t, NULL, &rng);
    ccp_access a;
    ccp_access_rec r = sample(&a, &t);
    ccp_buf b = CCP_BUF_INIT;
    ccp_access_format_json(&r, &b);
    json_object *o = parse(&b);
    static const char *const fields[] = {"msg",
                                         "request_id",
                                         "trace_id",
                                         "span_id",
                                         "parent_span_id",
                                         "session_id",
                                         "method",
                                         "path",
                                         "status",
                                         "client",
                                         "stage",
                                         "rule",
                                         "route",
                                         "provider",
                                         "model",
                                         "upstream_model",
                                         "stream",
                                         "attempts",
                                         "retries",
                                         "fallback_from",
                                         "upstream_status",
                                         "error_type",
                                         "ttfb_ms",
                                         "upstream_ttfb_ms",
                                         "duration_ms",
                                         "overhead_ms",
                                         "bytes_in",
                                         "bytes_out",
                                         "input_tokens",
                                         "output_tokens",
                                         "cache_read_tokens",
                                         "cache_creation_tokens",
                                         "stop_reason",
                                         "client_gone"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_object *v;
        if (!json_object_object_get_ex(o, fields[i], &v)) fail_msg("no field %s", fields[i]);
    }
    json_object *v;
    json_object_object_get_ex(o, "trace_id", &v);
    assert_string_equal(json_object_get_string(v), t.trace_hex);
    json_object_object_get_ex(o, "ttfb_ms", &v);
    assert_true(json_object_get_double(v) == 4.0);
    json_object_object_get_ex(o, "overhead_ms", &v);
    assert_true(json_object_get_double(v) == 2.0); /* 10 ms less 8 ms upstream */
    json_object_object_get_ex(o, "input_tokens", &v);
    assert_null(v);
    json_object_object_get_ex(o, "output_tokens", &v);
    assert_int_equal(json_object_get_int(v), 12);
    json_object_put(o);
    ccp_buf_free(&b);
}

static void client_bytes_cannot_break_the_json(void **state)
{
    (void)state;
    ccp_access a;
    ccp_access_rec r = sample(&a, NULL);
    /* a quote, a newline, a control byte, invalid UTF-8, a surrogate,
     * an overlong form, and a valid multibyte character */
    r.path = "/p\"x\n\x01\xff\xed\xa0\x80\xc0\xaf\xe2\x82\xac";
    r.session_id = "\"},{\"injected\":1";
    a.model = "m\\";
    ccp_buf b = CCP_BUF_INIT;
    ccp_access_format_json(&r, &b);
    json_object *o = parse(&b);
    json_object *v;
    json_object_object_get_ex(o, "path", &v);
    assert_string_equal(json_object_get_string(v),
                        "/p\"x\n\x01\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "\xef\xbf\xbd\xe2\x82\xac");
    assert_false(json_object_object_get_ex(o, "injected", &v));
    json_object_put(o);
    ccp_buf_free(&b);

    /* Capped: the cut lands between characters, never inside one. */
    ccp_log_json_field(&b, "\xe2\x82\xac\xe2\x82\xac", 4);
    assert_string_equal(b.data, "\"\xe2\x82\xac\\ufffd...\"");
    ccp_buf_free(&b);
}

/* ---- the reference: the line as it was written with printf -------------
 * The formatter writes its numbers and fields without printf (it runs once
 * per request); this is the printf version it replaced, kept as the oracle:
 * both must write the same bytes for any record. */
static size_t ref_utf8_len(const unsigned char *s, size_t n)
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
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static void ref_json_field(ccp_buf *out, const char *str, size_t max)
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
    ccp_buf_appendc(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned char ch = s[i];
        if (ch >= 0x80) {
            size_t l = ref_utf8_len(s + i, n - i);
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

static double ref_ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void ref_text(const ccp_access_rec *r, ccp_buf *b)
{
    const ccp_access *a = r->info;
    ccp_buf_printf(b, "%s ", r->id);
    ccp_log_field(b, r->method, 256);
    ccp_buf_appendc(b, ' ');
    ccp_log_field(b, r->path, 256);
    ccp_buf_printf(b, " %d provider=", r->status);
    ccp_log_field(b, a ? a->provider : NULL, 256);
    ccp_buf_appends(b, " model=");
    ccp_log_field(b, a ? a->upstream_model : NULL, 256);
    ccp_buf_printf(b, " stream=%s %.1fms in=%llu out=%llu%s", a && a->stream ? "yes" : "no",
                   ref_ms(r->end_ns - r->start_ns), (unsigned long long)r->bytes_in,
                   (unsigned long long)r->bytes_out, r->client_gone ? " (client gone)" : "");
    if (a && a->route) {
        ccp_buf_appends(b, " route=");
        ccp_log_field(b, a->route, 512);
    }
}

static void ref_jstr(ccp_buf *b, const char *name, const char *v, size_t max)
{
    ccp_buf_printf(b, ",\"%s\":", name);
    ref_json_field(b, v, max);
}

static void ref_jint(ccp_buf *b, const char *name, long long v, bool known)
{
    if (known)
        ccp_buf_printf(b, ",\"%s\":%lld", name, v);
    else
        ccp_buf_printf(b, ",\"%s\":null", name);
}

static void ref_jms(ccp_buf *b, const char *name, double v, bool known)
{
    if (known)
        ccp_buf_printf(b, ",\"%s\":%.3f", name, v);
    else
        ccp_buf_printf(b, ",\"%s\":null", name);
}

static void ref_json(const ccp_access_rec *r, ccp_buf *b)
{
    static const ccp_access none = {.upstream_ttfb_ns = -1,
                                    .input_tokens = -1,
                                    .output_tokens = -1,
                                    .cache_read_tokens = -1,
                                    .cache_creation_tokens = -1};
    const ccp_access *a = r->info ? r->info : &none;
    const ccp_tracectx *t = r->trace;
    ccp_buf_appends(b, "\"msg\":\"request\"");
    ref_jstr(b, "request_id", r->id, 256);
    ref_jstr(b, "trace_id", t ? t->trace_hex : NULL, 64);
    ref_jstr(b, "span_id", t ? t->span_hex : NULL, 64);
    ref_jstr(b, "parent_span_id", t && t->has_parent ? t->parent_hex : NULL, 64);
    ref_jstr(b, "session_id", r->session_id, 256);
    ref_jstr(b, "method", r->method, 256);
    ref_jstr(b, "path", r->path, 256);
    ref_jint(b, "status", r->status, r->status != 0);
    ref_jstr(b, "client", r->client, 64);
    ref_jstr(b, "stage", a->stage, 64);
    ref_jstr(b, "rule", a->rule, 256);
    ref_jstr(b, "route", a->route, 512);
    ref_jstr(b, "provider", a->provider, 256);
    ref_jstr(b, "model", a->model, 256);
    ref_jstr(b, "upstream_model", a->upstream_model, 256);
    if (a->has_stream)
        ccp_buf_printf(b, ",\"stream\":%s", a->stream ? "true" : "false");
    else
        ccp_buf_appends(b, ",\"stream\":null");
    ccp_buf_printf(b, ",\"attempts\":%d,\"retries\":%d", a->attempts, a->retries);
    ref_jstr(b, "fallback_from", a->fallback_from, 256);
    ref_jint(b, "upstream_status", a->upstream_status, a->upstream_status != 0);
    ref_jstr(b, "error_type", a->error_type, 64);
    ref_jms(b, "ttfb_ms", r->head_ns ? ref_ms(r->head_ns - r->start_ns) : 0, r->head_ns != 0);
    ref_jms(b, "upstream_ttfb_ms",
            a->upstream_ttfb_ns >= 0 ? ref_ms((uint64_t)a->upstream_ttfb_ns) : 0,
            a->upstream_ttfb_ns >= 0);
    ref_jms(b, "duration_ms", ref_ms(r->end_ns - r->start_ns), true);
    ref_jms(b, "overhead_ms", ccp_access_overhead_ms(r), true);
    ccp_buf_printf(b, ",\"bytes_in\":%llu,\"bytes_out\":%llu", (unsigned long long)r->bytes_in,
                   (unsigned long long)r->bytes_out);
    ref_jint(b, "input_tokens", a->input_tokens, a->input_tokens >= 0);
    ref_jint(b, "output_tokens", a->output_tokens, a->output_tokens >= 0);
    ref_jint(b, "cache_read_tokens", a->cache_read_tokens, a->cache_read_tokens >= 0);
    ref_jint(b, "cache_creation_tokens", a->cache_creation_tokens, a->cache_creation_tokens >= 0);
    ref_jstr(b, "stop_reason", a->stop_reason, 64);
    ccp_buf_printf(b, ",\"client_gone\":%s", r->client_gone ? "true" : "false");
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A time in ns that lands on the formatter's edges often: exact ties of
 * both roundings (…500 ns, …50000 ns), values just beside them, zero,
 * whole milliseconds, and huge values. */
static uint64_t edgy_ns(uint64_t *x)
{
    uint64_t r = next(x);
    uint64_t base = r % 5000000000ull;
    switch (r >> 60) {
    case 0:
        return base / 1000 * 1000 + 500;
    case 1:
        return base / 100000 * 100000 + 50000;
    case 2:
        return base / 1000 * 1000 + 499 + (r >> 59 & 2);
    case 3:
        return 0;
    case 4:
        return base / 1000000 * 1000000;
    case 5:
        return (1ull << 50) - 1 + (r >> 40 & 3);
    case 6:
        return 62500; /* 0.0625 ms: a tie printf rounds to even */
    case 7:
        return next(x);
    default:
        return base;
    }
}

static const char *edgy_str(uint64_t *x, char *buf, size_t cap)
{
    static const char *const some[] = {NULL,
                                       "",
                                       "POST",
                                       "/v1/messages",
                                       "a\"b\\c",
                                       "\x01\x7f\n",
                                       "\xe2\x82\xac\xff\xc0\xaf\xed\xa0\x80",
                                       "with space"};
    uint64_t r = next(x);
    if (r % 3) return some[r % (sizeof some / sizeof some[0])];
    size_t n = (size_t)(next(x) % (cap - 1));
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(next(x) % 255 + 1);
    buf[n] = '\0';
    return buf;
}

/* The formatter writes, byte for byte, what the printf version wrote: for
 * 20,000 records of random fields, times on the rounding edges, strings
 * with every byte, NULLs and long values past the caps. */
static void the_line_is_the_same_bytes_as_the_printf_version(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    char s1[600], s2[600], s3[600], s4[600], s5[600], s6[600];
    for (int i = 0; i < 20000; i++) {
        ccp_access a;
        ccp_access_init(&a);
        uint64_t tr = 7;
        ccp_tracectx t;
        ccp_tracectx_init(&t, NULL, &tr);
        a.stage = edgy_str(&x, s1, sizeof s1);
        a.route = (char *)edgy_str(&x, s2, sizeof s2);
        a.provider = edgy_str(&x, s3, sizeof s3);
        a.upstream_model = "m";
        a.model = edgy_str(&x, s4, sizeof s4);
        a.stream = next(&x) & 1;
        a.has_stream = next(&x) & 1;
        a.attempts = (int)(next(&x) % 5);
        a.retries = (int)(next(&x) % 3) - 1;
        a.upstream_status = (int)(next(&x) % 3) * 200;
        a.upstream_ttfb_ns = (int64_t)edgy_ns(&x) - (int64_t)(next(&x) % 2);
        a.upstream_wait_ns = (int64_t)edgy_ns(&x);
        a.input_tokens = (int64_t)(next(&x) % 100000) - 1;
        a.output_tokens = (int64_t)next(&x);
        a.stop_reason = next(&x) & 1 ? "end_turn" : NULL;
        uint64_t start = next(&x) % 1000000000000ull;
        ccp_access_rec r = {.id = "req_0123456789abcdef01234567",
                            .method = edgy_str(&x, s5, sizeof s5),
                            .path = edgy_str(&x, s6, sizeof s6),
                            .status = (int)(next(&x) % 600),
                            .client = "127.0.0.1:5000",
                            .trace = next(&x) & 1 ? &t : NULL,
                            .start_ns = start,
                            .head_ns = next(&x) & 1 ? start + edgy_ns(&x) : 0,
                            .end_ns = start + edgy_ns(&x),
                            .bytes_in = next(&x),
                            .bytes_out = next(&x) % 1000,
                            .client_gone = next(&x) & 1,
                            .info = next(&x) % 8 ? &a : NULL};
        ccp_buf got = CCP_BUF_INIT, want = CCP_BUF_INIT;
        ccp_access_format_json(&r, &got);
        ref_json(&r, &want);
        if (strcmp(got.data, want.data) != 0)
            fail_msg("json\n got %s\nwant %s", got.data, want.data);
        ccp_buf_reset(&got);
        ccp_buf_reset(&want);
        ccp_access_format_text(&r, &got);
        ref_text(&r, &want);
        if (strcmp(got.data, want.data) != 0)
            fail_msg("text\n got %s\nwant %s", got.data, want.data);
        ccp_buf_free(&got);
        ccp_buf_free(&want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_text_line_keeps_its_shape),
        cmocka_unit_test(the_json_line_has_every_field),
        cmocka_unit_test(client_bytes_cannot_break_the_json),
        cmocka_unit_test(the_line_is_the_same_bytes_as_the_printf_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
