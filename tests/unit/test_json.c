/* test_json.c — strict whole-body parsing and the fidelity json-c gives us. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "test_helpers.h"

#include <stdlib.h>
#include <string.h>

static json_object *parse(const char *s, ccp_error *err)
{
    return ccp_json_parse(s, strlen(s), err);
}

static void truncated_body_is_an_error_naming_the_end(void **state)
{
    ccp_error err = {0};
    assert_null(parse("{\"a\": [1, 2", &err));
    assert_int_equal(err.code, CCP_EPARSE);
    assert_non_null(strstr(err.msg, "byte offset 11"));
}

static void trailing_garbage_is_an_error_with_its_offset(void **state)
{
    ccp_error err = {0};
    assert_null(parse("{\"a\":1} x", &err));
    assert_int_equal(err.code, CCP_EPARSE);
    assert_non_null(strstr(err.msg, "byte offset 8"));
}

static void bad_token_names_its_offset(void **state)
{
    ccp_error err = {0};
    assert_null(parse("{\"a\": tru}", &err));
    assert_int_equal(err.code, CCP_EPARSE);
    assert_non_null(strstr(err.msg, "byte offset"));
}

/* More of what json-c's strict mode let through (a single-quoted key, NaN,
 * a raw tab in a string) is refused too: see test_json_parse.c. */
static void strict_mode_rejects_trailing_commas_and_bad_literals(void **state)
{
    ccp_error err = {0};
    assert_null(parse("[1,2,]", &err));
    assert_null(parse("{\"a\":1,}", &err));
    assert_null(parse("{\"a\":'x'}", &err));
    assert_null(parse("[True]", &err));
    assert_null(parse("[01]", &err));
}

static void whitespace_around_the_value_is_fine(void **state)
{
    /* A bare number ends with the input, not with a delimiter. */
    ccp_error e0;
    json_object *n = ccp_json_parse("65536", 5, &e0);
    assert_non_null(n);
    assert_int_equal(json_object_get_int64(n), 65536);
    json_object_put(n);
    assert_null(ccp_json_parse("-1.5e", 5, &e0));
    assert_int_equal(e0.code, CCP_EPARSE);
    ccp_error err = {0};
    json_object *o = parse("  \r\n{\"a\":1}\n ", &err);
    assert_non_null(o);
    assert_int_equal(ccp_json_get_int(o, "a", 0), 1);
    json_object_put(o);
}

static void big_integers_nul_bytes_and_lone_surrogates_survive(void **state)
{
    const char *in = "{\"n\":9007199254740993,\"s\":\"a\\u0000b\",\"e\":\"x\\ud83d\"}";
    ccp_error err = {0};
    json_object *o = parse(in, &err);
    assert_non_null(o);
    assert_int_equal(ccp_json_get_int(o, "n", 0), 9007199254740993LL);
    json_object *s = ccp_json_get(o, "s");
    assert_int_equal(json_object_get_string_len(s), 3);
    assert_memory_equal(json_object_get_string(s), "a\0b", 3);
    size_t len;
    const char *out = ccp_json_str(o, &len);
    assert_non_null(strstr(out, "9007199254740993"));
    assert_non_null(strstr(out, "a\\u0000b"));
    /* Re-parsing what we wrote gives the same document. */
    json_object *again = ccp_json_parse(out, len, &err);
    assert_non_null(again);
    assert_true(json_object_equal(o, again));
    json_object_put(again);
    json_object_put(o);
}

static void deep_nesting_to_64_parses_and_beyond_the_cap_fails(void **state)
{
    char deep[2 * 200 + 1];
    for (int depth = 64; depth <= 200; depth += 136) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        deep[2 * depth] = '\0';
        ccp_error err = {0};
        json_object *o = parse(deep, &err);
        if (depth == 64) {
            assert_non_null(o);
            json_object_put(o);
        } else {
            assert_null(o);
            assert_int_equal(err.code, CCP_EPARSE);
        }
    }
}

static void slashes_are_not_escaped(void **state)
{
    ccp_error err = {0};
    json_object *o = parse("{\"u\":\"http://x/y\"}", &err);
    assert_string_equal(ccp_json_str(o, NULL), "{\"u\":\"http://x/y\"}");
    json_object_put(o);
}

/* ccp_json_write must give exactly json-c's own serialization. */
static void assert_write_matches_json_c(json_object *o)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_json_write(&b, o);
    size_t n = 0;
    const char *want = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);
    ccp_buf_free(&b);
}

static void write_gives_json_c_bytes_for_every_kind_of_value(void **state)
{
    const char *docs[] = {
        "{\"a\":null,\"b\":true,\"c\":false,\"d\":[],\"e\":{},\"f\":[null,[{}],{\"x\":[1]}]}",
        "[9223372036854775807,-9223372036854775808,18446744073709551615,0,-1]",
        "[0.1,-0.0,1.5e300,2.50,1E-7,3.141592653589793238]",
        "\"\\u0000\\u0001\\u001f\\u007f\\b\\f\\n\\r\\t\\\"\\\\/\\ud83d\\ude00\\ud83d x\"",
        "{\"k\\n\\\"ey\":\"caf\u00e9 \u4e2d\u6587 \\u2028\",\"/path/x\":\"a/b\"}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        ccp_error err;
        json_object *o = ccp_json_parse(docs[i], strlen(docs[i]), &err);
        if (!o) fail_msg("doc %zu: %s", i, err.msg);
        assert_write_matches_json_c(o);
        json_object_put(o);
    }
    /* Built, not parsed: a NULL member and a double without its source text. */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "content", NULL);
    json_object_object_add(o, "t", json_object_new_double(0.7));
    json_object_object_add(o, "s", json_object_new_string_len("a\0b", 3));
    assert_write_matches_json_c(o);
    json_object_put(o);
    ccp_buf b = CCP_BUF_INIT;
    ccp_json_write(&b, NULL);
    assert_string_equal(b.data, "null");
    ccp_buf_free(&b);
}

static void write_gives_json_c_bytes_for_recorded_bodies(void **state)
{
    const char *files[] = {"anthropic/tool_use_multi.json", "anthropic/thinking_text.json",
                           "tokens/reference.json", "openai/tool_parallel.expected.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t len;
        char *text = read_fixture(files[i], &len);
        json_object *o = ccp_json_parse(text, len, NULL);
        if (!o) fail_msg("%s does not parse", files[i]);
        assert_write_matches_json_c(o);
        json_object_put(o);
        free(text);
    }
}

static void typed_getters_return_fallbacks_on_wrong_types(void **state)
{
    ccp_error err = {0};
    json_object *o = parse("{\"s\":1,\"b\":\"x\",\"a\":{},\"o\":[]}", &err);
    assert_null(ccp_json_get_str(o, "s"));
    assert_true(ccp_json_get_bool(o, "b", true));
    assert_null(ccp_json_get_arr(o, "a"));
    assert_null(ccp_json_get_obj(o, "o"));
    assert_int_equal(ccp_json_get_int(o, "missing", 42), 42);
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(truncated_body_is_an_error_naming_the_end),
        cmocka_unit_test(trailing_garbage_is_an_error_with_its_offset),
        cmocka_unit_test(bad_token_names_its_offset),
        cmocka_unit_test(strict_mode_rejects_trailing_commas_and_bad_literals),
        cmocka_unit_test(whitespace_around_the_value_is_fine),
        cmocka_unit_test(big_integers_nul_bytes_and_lone_surrogates_survive),
        cmocka_unit_test(deep_nesting_to_64_parses_and_beyond_the_cap_fails),
        cmocka_unit_test(slashes_are_not_escaped),
        cmocka_unit_test(write_gives_json_c_bytes_for_every_kind_of_value),
        cmocka_unit_test(write_gives_json_c_bytes_for_recorded_bodies),
        cmocka_unit_test(typed_getters_return_fallbacks_on_wrong_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
