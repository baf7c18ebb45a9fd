/* test_gemini_decode.c — Gemini streams and answers → Anthropic events: the
 * recorded corpus in tests/fixtures/gemini fed at every split, whole
 * answers, finish reasons, blocked prompts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anthropic_writer.h"
#include "codec/gemini.h"
#include "core/json.h"
#include "core/sse.h"
#include "test_helpers.h"
#include "test_sse_events.h"
#include "test_decode_split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fixtures[] = {"text",   "thinking_text", "function_call", "function_calls",
                                       "safety", "usage_last",    "error",         "cut"};

/* Tool ids are toolu_ + 24 random characters (+ a signature): compared as
 * toolu_* and what follows. */
static void normalize_ids(json_object *ev)
{
    json_object *cb = ccp_json_get_obj(ccp_json_get_obj(ev, "data"), "content_block");
    const char *id = ccp_json_get_str(cb, "id");
    if (!id || strncmp(id, "toolu_", 6) != 0 || strlen(id) < 30) return;
    char buf[512];
    snprintf(buf, sizeof buf, "toolu_*%s", id + 30);
    json_object_object_add(cb, "id", json_object_new_string(buf));
}

static void every_stream_at_every_split_gives_its_expected_events(void **state)
{
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++)
        test_every_split_expected(&ccp_codec_gemini, "gemini", fixtures[f], normalize_ids);
}

static json_object *message_of(const char *in, bool sse, int *rc_out)
{
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_decoder *d = ccp_gemini_decoder_new(ccp_anthropic_writer_sink(w), sse);
    ccp_error err = {0};
    assert_int_equal(ccp_gemini_decoder_feed(d, in, strlen(in), &err), 0);
    int rc = ccp_gemini_decoder_finish(d, &err);
    if (rc_out) *rc_out = rc;
    json_object *m = NULL;
    const char *type, *msg;
    if (rc == 0 && !ccp_anthropic_writer_error(w, &type, &msg)) {
        ccp_buf out = CCP_BUF_INIT;
        assert_int_equal(ccp_anthropic_writer_message(w, &out, &err), 0);
        m = ccp_json_parse(out.data, out.len, NULL);
        ccp_buf_free(&out);
    } else if (rc == 0) {
        m = json_object_new_object();
        json_object_object_add(m, "error_type", json_object_new_string(type));
        json_object_object_add(m, "error_message", json_object_new_string(msg));
    }
    ccp_gemini_decoder_free(d);
    ccp_anthropic_writer_free(w);
    return m;
}

static void a_whole_answer_and_a_list_of_answers_decode_alike(void **state)
{
    const char *one =
        "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Let me check.\"},"
        "{\"functionCall\":{\"name\":\"Read\",\"args\":{\"file_path\":\"/x\"}},"
        "\"thoughtSignature\":\"QUJD\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
        "\"promptTokenCount\":9,\"candidatesTokenCount\":4},\"modelVersion\":\"gemini-2.5-flash\","
        "\"responseId\":\"rid\"}";
    char list[2048];
    snprintf(list, sizeof list, "[%s]", one);
    const char *inputs[] = {one, list};
    for (int i = 0; i < 2; i++) {
        json_object *m = message_of(inputs[i], false, NULL);
        assert_string_equal(ccp_json_get_str(m, "id"), "msg_rid");
        assert_string_equal(ccp_json_get_str(m, "model"), "gemini-2.5-flash");
        assert_string_equal(ccp_json_get_str(m, "stop_reason"), "tool_use");
        json_object *c = ccp_json_get_arr(m, "content");
        assert_int_equal(json_object_array_length(c), 2);
        json_object *tu = json_object_array_get_idx(c, 1);
        const char *id = ccp_json_get_str(tu, "id");
        assert_non_null(strstr(id, "_gs_QUJD"));
        assert_string_equal(ccp_json_get_str(ccp_json_get_obj(tu, "input"), "file_path"), "/x");
        assert_int_equal(ccp_json_get_int(ccp_json_get_obj(m, "usage"), "output_tokens", -1), 4);
        json_object_put(m);
    }
}

static void a_blocked_prompt_is_a_clear_error(void **state)
{
    const char *blocked =
        "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":{"
        "\"promptTokenCount\":3}}\n\n";
    json_object *m = message_of(blocked, true, NULL);
    assert_string_equal(ccp_json_get_str(m, "error_type"), "invalid_request_error");
    assert_string_equal(ccp_json_get_str(m, "error_message"),
                        "Gemini blocked the prompt (SAFETY); rephrase the request");
    json_object_put(m);
    int rc;
    assert_null(message_of("{\"usageMetadata\":{}}", false, &rc));
    assert_int_equal(rc, CCP_EUPSTREAM);
}

static void finish_reasons_map_to_stop_reasons(void **state)
{
    assert_string_equal(ccp_gemini_stop_reason("STOP", false), "end_turn");
    assert_string_equal(ccp_gemini_stop_reason("STOP", true), "tool_use");
    assert_string_equal(ccp_gemini_stop_reason("MAX_TOKENS", true), "max_tokens");
    const char *refusals[] = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(ccp_gemini_stop_reason(refusals[i], false), "refusal");
    assert_string_equal(ccp_gemini_stop_reason(NULL, false), "end_turn");
}

/* A stream that stops before any finishReason was cut: an error (the
 * client's SSE error event, or a 502), never a clean end_turn. A whole
 * JSON answer keeps its own rules. */
static void a_stream_cut_before_its_finish_reason_is_an_error(void **state)
{
    const char *cut = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
                      "[{\"functionCall\":{\"name\":\"Read\",\"args\":{}}}]}}]}\n\n";
    int rc;
    assert_null(message_of(cut, true, &rc));
    assert_int_equal(rc, CCP_EUPSTREAM);
    const char *whole = "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":"
                        "[{\"text\":\"hi\"}]}}]}";
    json_object *m = message_of(whole, false, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(ccp_json_get_str(m, "stop_reason"), "end_turn");
    json_object_put(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_stream_at_every_split_gives_its_expected_events),
        cmocka_unit_test(a_whole_answer_and_a_list_of_answers_decode_alike),
        cmocka_unit_test(a_blocked_prompt_is_a_clear_error),
        cmocka_unit_test(finish_reasons_map_to_stop_reasons),
        cmocka_unit_test(a_stream_cut_before_its_finish_reason_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
