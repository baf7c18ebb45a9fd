/* test_encode_common.c — the pieces several encoders share: content text,
 * image URLs, tool_result text, tool arguments, the output schema, the
 * OpenAI tools block and error body, and a decoder's whole-body parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/body_in.h"
#include "codec/encode_common.h"
#include "core/json.h"

#include <string.h>

static json_object *parse(const char *s)
{
    json_object *o = ccp_json_parse(s, strlen(s), NULL);
    assert_non_null(o);
    return o;
}

static void expect_json(json_object *got, const char *want)
{
    json_object *w = parse(want);
    if (!json_object_equal(w, got)) fail_msg("want %s\ngot  %s", want, ccp_json_str(got, NULL));
    json_object_put(w);
}

static void test_append_text_joins_text_blocks_and_skips_billing(void **state)
{
    (void)state;
    json_object *c = parse("[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cch=1;\"},"
                           "{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image\"},"
                           "{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":\"b\"}]");
    ccp_buf b = CCP_BUF_INIT;
    ccp_append_text(&b, c, "|");
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a|b", 3);
    ccp_append_text(&b, NULL, "|");
    assert_int_equal(b.len, 3);
    json_object_put(c);
    /* A string goes in whole, NUL byte included. */
    c = parse("\"x\\u0000y\"");
    ccp_buf_reset(&b);
    ccp_append_text(&b, c, "|");
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "x\0y", 3);
    json_object_put(c);
    ccp_buf_free(&b);
    assert_true(ccp_is_billing_text("x-anthropic-billing-header:"));
    assert_false(ccp_is_billing_text("x-anthropic-billing"));
}

static void test_image_url_of_each_source(void **state)
{
    (void)state;
    ccp_buf u = CCP_BUF_INIT;
    json_object *b64 = parse("{\"type\":\"image\",\"source\":{\"type\":\"base64\","
                             "\"media_type\":\"image/png\",\"data\":\"AAAA\"}}");
    assert_true(ccp_image_url(b64, &u));
    assert_string_equal(u.data, "data:image/png;base64,AAAA");
    json_object *url = parse("{\"source\":{\"type\":\"url\",\"url\":\"https://x/a.png\"}}");
    ccp_buf_reset(&u);
    assert_true(ccp_image_url(url, &u));
    assert_string_equal(u.data, "https://x/a.png");
    json_object *bad = parse("{\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\"}}");
    ccp_buf_reset(&u);
    assert_false(ccp_image_url(bad, &u));
    assert_int_equal(u.len, 0);
    json_object *none = parse("{\"source\":{\"type\":\"file\",\"file_id\":\"f\"}}");
    assert_false(ccp_image_url(none, &u));
    assert_int_equal(u.len, 0);
    json_object_put(b64);
    json_object_put(url);
    json_object_put(bad);
    json_object_put(none);
    ccp_buf_free(&u);
}

static json_object *image_marker(json_object *blk)
{
    const char *data = ccp_json_get_str(ccp_json_get_obj(blk, "source"), "data");
    return data ? json_object_new_string(data) : NULL;
}

static void test_tool_result_text_and_images(void **state)
{
    (void)state;
    json_object *blk = parse("{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"is_error\":true,"
                             "\"content\":[{\"type\":\"text\",\"text\":\"one\"},"
                             "{\"type\":\"image\",\"source\":{\"data\":\"I1\"}},"
                             "{\"type\":\"image\",\"source\":{}},"
                             "{\"type\":\"text\",\"text\":\"two\"}]}");
    json_object *images = json_object_new_array();
    ccp_buf b = CCP_BUF_INIT;
    ccp_tool_result_text(&b, blk, image_marker, images);
    assert_string_equal(b.data, "[tool error] one\n\ntwo");
    expect_json(images, "[\"I1\"]");
    json_object_put(blk);
    /* String content; no error prefix. */
    blk = parse("{\"type\":\"tool_result\",\"content\":\"plain\"}");
    ccp_buf_reset(&b);
    ccp_tool_result_text(&b, blk, image_marker, images);
    assert_string_equal(b.data, "plain");
    assert_int_equal(json_object_array_length(images), 1);
    json_object_put(blk);
    json_object_put(images);
    ccp_buf_free(&b);
}

static void test_tool_arguments_and_name(void **state)
{
    (void)state;
    json_object *blk = parse("{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\","
                             "\"input\":{\"q\":\"x\",\"k\":[1,2]}}");
    json_object *a = ccp_tool_arguments(blk);
    assert_string_equal(json_object_get_string(a), "{\"q\":\"x\",\"k\":[1,2]}");
    json_object_put(a);
    json_object_put(blk);
    blk = parse("{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\"}");
    a = ccp_tool_arguments(blk);
    assert_string_equal(json_object_get_string(a), "{}");
    json_object_put(a);
    json_object_put(blk);

    json_object *tool = parse("{\"name\":\"f\",\"description\":\"d\",\"input_schema\":{}}");
    json_object *d = json_object_new_object();
    ccp_tool_add_name(d, tool);
    expect_json(d, "{\"name\":\"f\",\"description\":\"d\"}");
    json_object_put(d);
    json_object_put(tool);
    tool = parse("{\"name\":\"f\",\"input_schema\":{}}");
    d = json_object_new_object();
    ccp_tool_add_name(d, tool);
    expect_json(d, "{\"name\":\"f\"}");
    json_object_put(d);
    json_object_put(tool);
}

static void test_output_schema_only_for_json_schema(void **state)
{
    (void)state;
    json_object *r = parse("{\"output_config\":{\"format\":{\"type\":\"json_schema\","
                           "\"schema\":{\"type\":\"object\"}}}}");
    json_object *s = ccp_output_schema(r);
    assert_non_null(s);
    expect_json(s, "{\"type\":\"object\"}");
    json_object_put(r);
    r = parse("{\"output_config\":{\"format\":{\"type\":\"json_schema\"}}}");
    assert_null(ccp_output_schema(r));
    json_object_put(r);
    r = parse("{\"output_config\":{\"format\":{\"type\":\"text\",\"schema\":{}}}}");
    assert_null(ccp_output_schema(r));
    json_object_put(r);
    assert_null(ccp_output_schema(NULL));
}

static json_object *keep_all(json_object *tools)
{
    return json_object_get(tools);
}

static json_object *drop_all(json_object *tools)
{
    (void)tools;
    return json_object_new_array();
}

static json_object *choice_type(json_object *tc)
{
    const char *t = ccp_json_get_str(tc, "type");
    return t ? json_object_new_string(t) : NULL;
}

static void test_openai_add_tools(void **state)
{
    (void)state;
    json_object *req =
        parse("{\"tools\":[{\"name\":\"a\"}],"
              "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true}}");
    json_object *o = json_object_new_object();
    ccp_openai_add_tools(o, req, keep_all, choice_type);
    expect_json(o, "{\"tools\":[{\"name\":\"a\"}],\"tool_choice\":\"any\","
                   "\"parallel_tool_calls\":false}");
    json_object_put(o);
    /* No tool kept: no tools, no tool_choice. */
    o = json_object_new_object();
    ccp_openai_add_tools(o, req, drop_all, choice_type);
    expect_json(o, "{}");
    json_object_put(o);
    json_object_put(req);
    req = parse("{\"tools\":[{\"name\":\"a\"}]}");
    o = json_object_new_object();
    ccp_openai_add_tools(o, req, keep_all, choice_type);
    expect_json(o, "{\"tools\":[{\"name\":\"a\"}]}");
    json_object_put(o);
    json_object_put(req);
}

static void test_openai_tool_choice_mode(void **state)
{
    (void)state;
    assert_string_equal(ccp_openai_tool_choice_mode("auto"), "auto");
    assert_string_equal(ccp_openai_tool_choice_mode("any"), "required");
    assert_string_equal(ccp_openai_tool_choice_mode("none"), "none");
    assert_null(ccp_openai_tool_choice_mode("tool"));
    assert_null(ccp_openai_tool_choice_mode("other"));
}

static void test_openai_map_error(void **state)
{
    (void)state;
    ccp_buf m = CCP_BUF_INIT;
    const char *body = "{\"error\":{\"message\":\"slow down\",\"type\":\"x\"}}";
    assert_string_equal(ccp_openai_map_error(429, body, strlen(body), &m), "rate_limit_error");
    assert_string_equal(m.data, "slow down");
    ccp_buf_reset(&m);
    body = "{\"error\":\"bad key\"}";
    assert_string_equal(ccp_openai_map_error(401, body, strlen(body), &m), "authentication_error");
    assert_string_equal(m.data, "bad key");
    ccp_buf_reset(&m);
    body = "oops";
    ccp_openai_map_error(500, body, strlen(body), &m);
    assert_string_equal(m.data, "upstream answered HTTP 500: oops");
    ccp_buf_free(&m);
}

static int no_event(void *ud, const char *event, const char *data, size_t len)
{
    (void)ud, (void)event, (void)data, (void)len;
    return 0;
}

static void test_body_in_whole(void **state)
{
    (void)state;
    ccp_body_in in;
    ccp_error err;
    json_object *o = NULL;
    ccp_body_in_init(&in, false, no_event, NULL);
    assert_int_equal(ccp_body_in_feed(&in, "{\"a\":", 5, &err), 0);
    assert_int_equal(ccp_body_in_feed(&in, "1}", 2, &err), 0);
    assert_int_equal(ccp_body_in_whole(&in, &o, &err), 0);
    expect_json(o, "{\"a\":1}");
    json_object_put(o);
    ccp_body_in_free(&in);
    ccp_body_in_init(&in, false, no_event, NULL);
    assert_int_equal(ccp_body_in_whole(&in, &o, &err), CCP_EUPSTREAM);
    assert_null(o);
    assert_non_null(strstr(err.msg, "upstream sent a bad JSON answer"));
    ccp_body_in_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_text_joins_text_blocks_and_skips_billing),
        cmocka_unit_test(test_image_url_of_each_source),
        cmocka_unit_test(test_tool_result_text_and_images),
        cmocka_unit_test(test_tool_arguments_and_name),
        cmocka_unit_test(test_output_schema_only_for_json_schema),
        cmocka_unit_test(test_openai_add_tools),
        cmocka_unit_test(test_openai_tool_choice_mode),
        cmocka_unit_test(test_openai_map_error),
        cmocka_unit_test(test_body_in_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
