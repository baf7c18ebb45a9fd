/* test_openai_chat_decode.c — OpenAI Chat Completions answers to Anthropic
 * events: each recorded stream, split at every byte boundary, must give
 * exactly its expected event sequence; whole completions too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anthropic_writer.h"
#include "codec/openai_chat.h"
#include "core/json.h"
#include "core/sse.h"
#include "test_helpers.h"
#include "test_sse_events.h"
#include "test_decode_split.h"

#include <string.h>

static const char *const fixtures[] = {
    "text",       "tool_single", "tool_parallel", "reasoning_text_tool",
    "usage_last", "error_mid",   "length",        "no_finish"};

static void every_stream_at_every_split_gives_its_expected_events(void **state)
{
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++)
        test_every_split_expected(&ccp_codec_openai_chat, "openai", fixtures[f], NULL);
}

static json_object *message_of(const char *in, size_t len, bool sse)
{
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_decoder *d = ccp_openai_decoder_new(ccp_anthropic_writer_sink(w), sse);
    ccp_error err = {0};
    assert_int_equal(ccp_openai_decoder_feed(d, in, len, &err), 0);
    assert_int_equal(ccp_openai_decoder_finish(d, &err), 0);
    ccp_buf out = CCP_BUF_INIT;
    assert_int_equal(ccp_anthropic_writer_message(w, &out, &err), 0);
    json_object *m = ccp_json_parse(out.data, out.len, NULL);
    ccp_buf_free(&out);
    ccp_openai_decoder_free(d);
    ccp_anthropic_writer_free(w);
    return m;
}

static void parallel_calls_accumulate_to_three_whole_tool_uses(void **state)
{
    size_t len;
    char *in = read_fixture("openai/tool_parallel.sse", &len);
    json_object *m = message_of(in, len, true);
    const char *want =
        "{\"id\":\"msg_chatcmpl-par\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
        "\"gpt-test\",\"content\":[{\"type\":\"text\",\"text\":\"Reading three files.\"},"
        "{\"type\":\"tool_use\",\"id\":\"call_0\",\"name\":\"Read\",\"input\":{\"p\":\"a\"}},"
        "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"Read\",\"input\":{\"p\":\"b\"}},"
        "{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"Grep\",\"input\":{\"q\":\"x\"}}],"
        "\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":20,"
        "\"cache_read_input_tokens\":100,\"output_tokens\":30}}";
    json_object *w = ccp_json_parse(want, strlen(want), NULL);
    if (!json_object_equal(w, m)) fail_msg("got %s", ccp_json_str(m, NULL));
    json_object_put(w);
    json_object_put(m);
    free(in);
}

static void a_whole_completion_becomes_the_same_message(void **state)
{
    const char *c =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-test\",\"choices\":"
        "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"reasoning_content\":\"hmm\","
        "\"content\":\"Sure.\",\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\","
        "\"function\":{\"name\":\"Write\",\"arguments\":\"{\\\"path\\\":\\\"/x\\\"\"}},"
        "{\"id\":\"\",\"type\":\"function\",\"function\":{\"name\":\"Bash\",\"arguments\":"
        "\"not json\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":5,"
        "\"completion_tokens\":6}}";
    json_object *m = message_of(c, strlen(c), false);
    json_object *content = ccp_json_get_arr(m, "content");
    assert_int_equal(json_object_array_length(content), 4);
    assert_string_equal(ccp_json_get_str(json_object_array_get_idx(content, 0), "thinking"), "hmm");
    assert_string_equal(ccp_json_get_str(json_object_array_get_idx(content, 1), "text"), "Sure.");
    json_object *t1 = json_object_array_get_idx(content, 2);
    /* A missing closing brace is repaired. */
    assert_string_equal(ccp_json_get_str(ccp_json_get_obj(t1, "input"), "path"), "/x");
    json_object *t2 = json_object_array_get_idx(content, 3);
    /* An empty id gets a generated one; unrepairable arguments pass as a string. */
    assert_int_equal(strncmp(ccp_json_get_str(t2, "id"), "toolu_", 6), 0);
    assert_string_equal(ccp_json_get_str(ccp_json_get_obj(t2, "input"), "arguments"), "not json");
    assert_string_equal(ccp_json_get_str(m, "stop_reason"), "tool_use");
    assert_int_equal(ccp_json_get_int(ccp_json_get_obj(m, "usage"), "output_tokens", 0), 6);
    json_object_put(m);
}

static void an_error_body_and_finish_reasons(void **state)
{
    const char *e = "{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_request_error\"}}";
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_decoder *d = ccp_openai_decoder_new(ccp_anthropic_writer_sink(w), false);
    ccp_error err;
    assert_int_equal(ccp_openai_decoder_feed(d, e, strlen(e), &err), 0);
    assert_int_equal(ccp_openai_decoder_finish(d, &err), 0);
    const char *type, *msg;
    assert_true(ccp_anthropic_writer_error(w, &type, &msg));
    assert_string_equal(msg, "bad key");
    ccp_openai_decoder_free(d);
    ccp_anthropic_writer_free(w);
    assert_string_equal(ccp_openai_stop_reason("stop"), "end_turn");
    assert_string_equal(ccp_openai_stop_reason("length"), "max_tokens");
    assert_string_equal(ccp_openai_stop_reason("tool_calls"), "tool_use");
    assert_string_equal(ccp_openai_stop_reason("content_filter"), "refusal");
}

/* vLLM names the stop string that matched (`stop_reason`), SGLang too
 * (`matched_stop`); plain OpenAI does not, and then it is end_turn. */
static void a_named_stop_string_becomes_stop_sequence(void **state)
{
    const char *streams[] = {
        "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":\"1 2 3\"}}]}\n\ndata: {\"id\":\"c\",\"model\":\"m\",\"choices\":"
        "[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}"
        "\n\ndata: [DONE]\n\n",
        "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":\"1 2 3\"},\"finish_reason\":\"stop\",\"matched_stop\":\"END\"}]}"
        "\n\ndata: [DONE]\n\n",
        "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":\"1 2 3\"},\"finish_reason\":\"stop\",\"stop_reason\":null}]}"
        "\n\ndata: [DONE]\n\n",
    };
    for (int i = 0; i < 3; i++) {
        json_object *m = message_of(streams[i], strlen(streams[i]), true);
        if (i < 2) {
            assert_string_equal(ccp_json_get_str(m, "stop_reason"), "stop_sequence");
            assert_string_equal(ccp_json_get_str(m, "stop_sequence"), "END");
        } else {
            assert_string_equal(ccp_json_get_str(m, "stop_reason"), "end_turn");
            assert_null(ccp_json_get_str(m, "stop_sequence"));
        }
        json_object_put(m);
    }
    const char *whole = "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                        "\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\","
                        "\"stop_reason\":\"###\"}]}";
    json_object *m = message_of(whole, strlen(whole), false);
    assert_string_equal(ccp_json_get_str(m, "stop_sequence"), "###");
    json_object_put(m);
}

/* Groq reports a stream's usage in x_groq on its last chunk. */
static void groq_usage_in_x_groq_is_read(void **state)
{
    const char *in =
        "data: {\"id\":\"g\",\"model\":\"llama\",\"choices\":[{\"index\":0,\"delta\":{"
        "\"content\":\"hi\"}}]}\n\ndata: {\"id\":\"g\",\"model\":\"llama\",\"choices\":[{"
        "\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"x_groq\":{\"id\":\"req\","
        "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3}}}\n\ndata: [DONE]\n\n";
    json_object *m = message_of(in, strlen(in), true);
    json_object *u = ccp_json_get_obj(m, "usage");
    assert_int_equal(ccp_json_get_int(u, "input_tokens", -1), 11);
    assert_int_equal(ccp_json_get_int(u, "output_tokens", -1), 3);
    json_object_put(m);
}

static void an_empty_stream_is_an_error(void **state)
{
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_decoder *d = ccp_openai_decoder_new(ccp_anthropic_writer_sink(w), true);
    ccp_error err;
    assert_int_equal(ccp_openai_decoder_feed(d, ": ping\n\n", 8, &err), 0);
    assert_int_equal(ccp_openai_decoder_finish(d, &err), CCP_EUPSTREAM);
    ccp_openai_decoder_free(d);
    ccp_anthropic_writer_free(w);
}

/* The finish result of one stream fed whole. */
static int finish_of(const char *in, ccp_error *err)
{
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_decoder *d = ccp_openai_decoder_new(ccp_anthropic_writer_sink(w), true);
    assert_int_equal(ccp_openai_decoder_feed(d, in, strlen(in), err), 0);
    int rc = ccp_openai_decoder_finish(d, err);
    ccp_openai_decoder_free(d);
    ccp_anthropic_writer_free(w);
    return rc;
}

/* A stream that stops with neither [DONE] nor a finish_reason was cut: an
 * error (the client's SSE error event, or a 502), never a clean end_turn.
 * Either sign of a whole answer alone is enough. */
static void a_stream_cut_before_its_finish_is_an_error(void **state)
{
    const char *chunk = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                        "\"delta\":{\"content\":\"par\"}}]}\n\n";
    const char *tool = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                       "\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"function\":"
                       "{\"name\":\"Read\",\"arguments\":\"{\\\"p\\\":\"}}]}}]}\n\n";
    const char *fin = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                      "\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    char buf[1024];
    ccp_error err = {0};
    assert_int_equal(finish_of(chunk, &err), CCP_EUPSTREAM);
    assert_non_null(strstr(err.msg, "ended early"));
    assert_int_equal(finish_of(tool, &err), CCP_EUPSTREAM);
    snprintf(buf, sizeof buf, "%s%s", chunk, fin); /* finish_reason, no [DONE] */
    assert_int_equal(finish_of(buf, &err), 0);
    snprintf(buf, sizeof buf, "%sdata: [DONE]\n\n", chunk); /* [DONE], no finish_reason */
    assert_int_equal(finish_of(buf, &err), 0);
    /* A whole (non-streamed) completion keeps its own rules: no
     * finish_reason there is still a message. */
    const char *whole = "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                        "\"message\":{\"content\":\"x\"}}]}";
    json_object *m = message_of(whole, strlen(whole), false);
    assert_string_equal(ccp_json_get_str(m, "stop_reason"), "end_turn");
    json_object_put(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_stream_at_every_split_gives_its_expected_events),
        cmocka_unit_test(parallel_calls_accumulate_to_three_whole_tool_uses),
        cmocka_unit_test(a_whole_completion_becomes_the_same_message),
        cmocka_unit_test(an_error_body_and_finish_reasons),
        cmocka_unit_test(a_named_stop_string_becomes_stop_sequence),
        cmocka_unit_test(groq_usage_in_x_groq_is_read),
        cmocka_unit_test(an_empty_stream_is_an_error),
        cmocka_unit_test(a_stream_cut_before_its_finish_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
