/* test_openai_responses_decode.c — OpenAI Responses API answers to
 * Anthropic events: each fixture stream (text, reasoning + text, one and
 * several function calls, incomplete, content filter, failed, an error
 * mid-stream, a cut stream), split at every byte boundary, must give
 * exactly its expected event sequence; whole response objects too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anthropic_writer.h"
#include "codec/openai_responses.h"
#include "core/json.h"
#include "core/sse.h"
#include "test_helpers.h"
#include "test_sse_events.h"
#include "test_decode_split.h"

#include <string.h>

static const char *const fixtures[] = {
    "text",   "reasoning_text", "function_call", "function_calls", "incomplete",   "content_filter",
    "failed", "error_mid",      "cut",           "items_only",     "reasoning_raw"};

static void every_stream_at_every_split_gives_its_expected_events(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        if (getenv("CCP_REGEN")) {
            /* Prints the events of split 0 (to review, then save as
             * responses/<name>.expected.json). */
            char rel[256];
            size_t len;
            snprintf(rel, sizeof rel, "responses/%s.sse", fixtures[f]);
            char *in = read_fixture(rel, &len);
            ccp_buf out = CCP_BUF_INIT;
            test_decode_split(&ccp_codec_openai_responses, in, len, 0, true, &out);
            json_object *got = test_fixed_events(out.data, out.len, NULL);
            printf("%s\t%s\n", fixtures[f], ccp_json_str(got, NULL));
            json_object_put(got);
            ccp_buf_free(&out);
            free(in);
            continue;
        }
        test_every_split_expected(&ccp_codec_openai_responses, "responses", fixtures[f], NULL);
    }
}

static json_object *message_of(const char *in, size_t len, bool sse)
{
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_decoder *d = ccp_responses_decoder_new(ccp_anthropic_writer_sink(w), sse);
    ccp_error err = {0};
    assert_int_equal(ccp_responses_decoder_feed(d, in, len, &err), 0);
    assert_int_equal(ccp_responses_decoder_finish(d, &err), 0);
    ccp_buf out = CCP_BUF_INIT;
    assert_int_equal(ccp_anthropic_writer_message(w, &out, &err), 0);
    json_object *m = ccp_json_parse(out.data, out.len, NULL);
    ccp_buf_free(&out);
    ccp_responses_decoder_free(d);
    ccp_anthropic_writer_free(w);
    return m;
}

static void expect_json(json_object *got, const char *want)
{
    json_object *w = ccp_json_parse(want, strlen(want), NULL);
    assert_non_null(w);
    if (!json_object_equal(w, got)) fail_msg("want %s\ngot  %s", want, ccp_json_str(got, NULL));
    json_object_put(w);
}

/* The reasoning of a tool turn comes out as a thinking block whose
 * signature holds the item's id and encrypted content: what the encoder
 * needs to send the item back next turn. */
static void a_streamed_tool_turn_accumulates_with_its_reasoning_signature(void **state)
{
    (void)state;
    size_t len;
    char *in = read_fixture("responses/function_call.sse", &len);
    json_object *m = message_of(in, len, true);
    expect_json(m, "{\"id\":\"msg_resp_fc\",\"type\":\"message\",\"role\":\"assistant\","
                   "\"model\":\"gpt-5.2-codex\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
                   "\"\",\"signature\":\"oai-rs:rs_fc:gAAAAABencFC\"},{\"type\":\"tool_use\","
                   "\"id\":\"call_Read1\",\"name\":\"Read\",\"input\":{\"file_path\":"
                   "\"/tmp/a.c\"}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
                   "\"usage\":{\"input_tokens\":16,\"cache_read_input_tokens\":64,"
                   "\"output_tokens\":40}}");
    json_object_put(m);
    free(in);
}

static void a_whole_response_becomes_the_same_message(void **state)
{
    (void)state;
    const char *r =
        "{\"id\":\"resp_w\",\"object\":\"response\",\"status\":\"completed\",\"model\":\"gpt-5\","
        "\"error\":null,\"incomplete_details\":null,\"output\":["
        "{\"id\":\"rs_w\",\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\",\"text\":"
        "\"a\"},{\"type\":\"summary_text\",\"text\":\"b\"}],\"encrypted_content\":\"ENC\"},"
        "{\"id\":\"msg_w\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":"
        "\"output_text\",\"text\":\"Sure.\"}]},"
        "{\"id\":\"ws_1\",\"type\":\"web_search_call\",\"status\":\"completed\"},"
        "{\"id\":\"fc_w\",\"type\":\"function_call\",\"call_id\":\"call_w\",\"name\":\"Write\","
        "\"arguments\":\"{\\\"path\\\":\\\"/x\\\"\"},"
        "{\"id\":\"fc_v\",\"type\":\"function_call\",\"call_id\":\"\",\"name\":\"Bash\","
        "\"arguments\":\"not json\"}],"
        "\"usage\":{\"input_tokens\":5,\"output_tokens\":6,\"output_tokens_details\":"
        "{\"reasoning_tokens\":4}}}";
    json_object *m = message_of(r, strlen(r), false);
    json_object *content = ccp_json_get_arr(m, "content");
    assert_int_equal(json_object_array_length(content), 4);
    json_object *th = json_object_array_get_idx(content, 0);
    assert_string_equal(ccp_json_get_str(th, "thinking"), "a\n\nb");
    assert_string_equal(ccp_json_get_str(th, "signature"), "oai-rs:rs_w:ENC");
    assert_string_equal(ccp_json_get_str(json_object_array_get_idx(content, 1), "text"), "Sure.");
    json_object *w = json_object_array_get_idx(content, 2);
    assert_string_equal(ccp_json_get_str(w, "id"), "call_w");
    assert_string_equal(ccp_json_get_str(ccp_json_get_obj(w, "input"), "path"), "/x");
    json_object *b = json_object_array_get_idx(content, 3);
    assert_true(!strncmp(ccp_json_get_str(b, "id"), "toolu_", 6));
    assert_non_null(ccp_json_get(b, "input"));
    assert_string_equal(ccp_json_get_str(m, "stop_reason"), "tool_use");
    assert_int_equal(ccp_json_get_int(ccp_json_get_obj(m, "usage"), "output_tokens", 0), 6);
    json_object_put(m);
}

static void a_whole_incomplete_response_ends_at_max_tokens(void **state)
{
    (void)state;
    const char *r =
        "{\"id\":\"resp_i\",\"status\":\"incomplete\",\"model\":\"gpt-5\",\"error\":null,"
        "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"output\":[{"
        "\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Par\"}]}],"
        "\"usage\":{\"input_tokens\":3,\"output_tokens\":16}}";
    json_object *m = message_of(r, strlen(r), false);
    assert_string_equal(ccp_json_get_str(m, "stop_reason"), "max_tokens");
    json_object_put(m);
}

static void a_whole_refusal_ends_as_refusal(void **state)
{
    (void)state;
    const char *r = "{\"id\":\"resp_r\",\"status\":\"completed\",\"model\":\"gpt-5\",\"output\":[{"
                    "\"type\":\"message\",\"content\":[{\"type\":\"refusal\",\"refusal\":"
                    "\"I can't help with that.\"}]}]}";
    json_object *m = message_of(r, strlen(r), false);
    assert_string_equal(ccp_json_get_str(m, "stop_reason"), "refusal");
    assert_string_equal(
        ccp_json_get_str(json_object_array_get_idx(ccp_json_get_arr(m, "content"), 0), "text"),
        "I can't help with that.");
    json_object_put(m);
}

/* An error body on a 2xx (some gateways) is an error event, typed by its
 * code. */
static void a_whole_error_body_is_an_error_of_its_type(void **state)
{
    (void)state;
    const char *r = "{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}}";
    ccp_buf out = CCP_BUF_INIT;
    test_decode_split(&ccp_codec_openai_responses, r, strlen(r), 3, false, &out);
    assert_non_null(strstr(out.data, "rate_limit_error"));
    assert_non_null(strstr(out.data, "slow down"));
    ccp_buf_free(&out);
}

static void error_codes_map_to_anthropic_types(void **state)
{
    (void)state;
    assert_string_equal(ccp_responses_error_type("rate_limit_exceeded"), "rate_limit_error");
    assert_string_equal(ccp_responses_error_type("server_is_overloaded"), "overloaded_error");
    assert_string_equal(ccp_responses_error_type("context_length_exceeded"),
                        "invalid_request_error");
    assert_string_equal(ccp_responses_error_type("invalid_prompt"), "invalid_request_error");
    assert_string_equal(ccp_responses_error_type("server_error"), "api_error");
    assert_string_equal(ccp_responses_error_type(NULL), "api_error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_stream_at_every_split_gives_its_expected_events),
        cmocka_unit_test(a_streamed_tool_turn_accumulates_with_its_reasoning_signature),
        cmocka_unit_test(a_whole_response_becomes_the_same_message),
        cmocka_unit_test(a_whole_incomplete_response_ends_at_max_tokens),
        cmocka_unit_test(a_whole_refusal_ends_as_refusal),
        cmocka_unit_test(a_whole_error_body_is_an_error_of_its_type),
        cmocka_unit_test(error_codes_map_to_anthropic_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
