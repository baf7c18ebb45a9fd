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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_text_line_keeps_its_shape),
        cmocka_unit_test(the_json_line_has_every_field),
        cmocka_unit_test(client_bytes_cannot_break_the_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
