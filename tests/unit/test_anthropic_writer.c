/* test_anthropic_writer.c — the writer's own choices, beyond what the
 * decoder round trips of test_anthropic_decode.c cover: which model an
 * answer names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anthropic_writer.h"
#include "core/alloc.h"
#include "core/json.h"
#include "test_sse_events.h"

#include <string.h>

/* A thinking + tool_use answer from model "upstream-model". */
static void emit_answer(ccp_anthropic_writer *w)
{
    ccp_event_sink *s = ccp_anthropic_writer_sink(w);
    const ccp_event evs[] = {
        {.type = CCP_EV_MESSAGE_START,
         .message_id = "msg_1",
         .model = "upstream-model",
         .usage = CCP_USAGE_UNKNOWN},
        {.type = CCP_EV_BLOCK_START, .index = 0, .block_kind = CCP_BLOCK_THINKING},
        {.type = CCP_EV_BLOCK_DELTA,
         .index = 0,
         .delta_kind = CCP_DELTA_THINKING,
         .text = "hm",
         .text_len = 2},
        {.type = CCP_EV_BLOCK_DELTA,
         .index = 0,
         .delta_kind = CCP_DELTA_SIGNATURE,
         .text = "sig",
         .text_len = 3},
        {.type = CCP_EV_BLOCK_STOP, .index = 0},
        {.type = CCP_EV_BLOCK_START,
         .index = 1,
         .block_kind = CCP_BLOCK_TOOL_USE,
         .tool_id = "toolu_1",
         .tool_name = "Write"},
        {.type = CCP_EV_BLOCK_STOP, .index = 1},
        {.type = CCP_EV_MESSAGE_DELTA, .stop_reason = "tool_use", .usage = CCP_USAGE_UNKNOWN},
        {.type = CCP_EV_MESSAGE_STOP},
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        assert_int_equal(s->emit(s, &evs[i]), 0);
}

/* The model named by message_start (streaming) or the message (not). */
static char *model_of(bool stream, const char *echo)
{
    ccp_buf out = CCP_BUF_INIT;
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(stream, stream ? test_collect : NULL, &out);
    if (echo) ccp_anthropic_writer_echo_model(w, echo);
    emit_answer(w);
    json_object *msg = NULL, *all = NULL;
    if (stream) {
        all = test_sse_events(out.data, out.len);
        json_object *first = json_object_array_get_idx(all, 0);
        assert_string_equal(ccp_json_get_str(first, "event"), "message_start");
        msg = ccp_json_get_obj(ccp_json_get_obj(first, "data"), "message");
    } else {
        ccp_error err = {0};
        assert_int_equal(ccp_anthropic_writer_message(w, &out, &err), 0);
        all = msg = ccp_json_parse(out.data, out.len, NULL);
        /* The rest of the message is untouched. */
        json_object *content = ccp_json_get(msg, "content");
        assert_int_equal(json_object_array_length(content), 2);
        assert_string_equal(ccp_json_get_str(json_object_array_get_idx(content, 0), "signature"),
                            "sig");
    }
    assert_non_null(msg);
    char *model = ccp_xstrdup(ccp_json_get_str(msg, "model"));
    json_object_put(all);
    ccp_anthropic_writer_free(w);
    ccp_buf_free(&out);
    return model;
}

static void the_echoed_model_replaces_the_upstreams_in_both_forms(void **state)
{
    (void)state;
    for (int stream = 0; stream < 2; stream++) {
        char *m = model_of(stream, "claude-sonnet-4-5");
        assert_string_equal(m, "claude-sonnet-4-5");
        free(m);
    }
}

static void without_an_echo_the_upstreams_model_is_named(void **state)
{
    (void)state;
    for (int stream = 0; stream < 2; stream++) {
        char *m = model_of(stream, NULL);
        assert_string_equal(m, "upstream-model");
        free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_echoed_model_replaces_the_upstreams_in_both_forms),
        cmocka_unit_test(without_an_echo_the_upstreams_model_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
