/* test_anthropic_decode.c — Anthropic answers through the decoder and the
 * writer: recorded streams must come out event for event as they went in,
 * and accumulate to exactly the recorded non-streaming message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anthropic.h"
#include "codec/anthropic_writer.h"
#include "core/json.h"
#include "core/sse.h"
#include "test_helpers.h"
#include "test_sse_events.h"
#include "test_decode_split.h"

#include <string.h>

static const char *const fixtures[] = {"text", "thinking_text", "tool_use_multi"};

/* Decodes in (split into pieces of chunk bytes) into a writer. */
static void decode(const char *in, size_t len, bool sse, size_t chunk, ccp_anthropic_writer *w)
{
    ccp_decoder *d = ccp_anthropic_decoder_new(ccp_anthropic_writer_sink(w), sse);
    ccp_error err = {0};
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        assert_int_equal(ccp_anthropic_decoder_feed(d, in + off, n, &err), 0);
    }
    assert_int_equal(ccp_anthropic_decoder_finish(d, &err), 0);
    ccp_anthropic_decoder_free(d);
}

static void streams_are_rewritten_event_for_event(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "anthropic/%s.sse", fixtures[i]);
        size_t len;
        char *in = read_fixture(rel, &len);
        for (size_t chunk = 1; chunk <= len; chunk = chunk * 3 + 1) {
            ccp_buf out = CCP_BUF_INIT;
            ccp_anthropic_writer *w = ccp_anthropic_writer_new(true, test_collect, &out);
            decode(in, len, true, chunk, w);
            assert_true(ccp_anthropic_writer_done(w));
            json_object *want = test_sse_events(in, len), *got = test_sse_events(out.data, out.len);
            if (!json_object_equal(want, got))
                fail_msg("%s chunk %zu:\nwant %s\ngot  %s", fixtures[i], chunk,
                         ccp_json_str(want, NULL), ccp_json_str(got, NULL));
            json_object_put(want);
            json_object_put(got);
            ccp_anthropic_writer_free(w);
            ccp_buf_free(&out);
        }
        free(in);
    }
}

/* Split at every byte, each recorded stream still comes out as it went in. */
static void every_stream_at_every_split_passes_through(void **state)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "anthropic/%s.sse", fixtures[i]);
        size_t len;
        char *in = read_fixture(rel, &len);
        json_object *want = test_sse_events(in, len);
        test_every_split(&ccp_codec_anthropic, "anthropic", fixtures[i], want, NULL);
        json_object_put(want);
        free(in);
    }
}

static void check_message(ccp_anthropic_writer *w, const char *name)
{
    char rel[128];
    snprintf(rel, sizeof rel, "anthropic/%s.json", name);
    size_t len;
    char *txt = read_fixture(rel, &len);
    json_object *want = ccp_json_parse(txt, len, NULL);
    ccp_buf out = CCP_BUF_INIT;
    ccp_error err = {0};
    assert_int_equal(ccp_anthropic_writer_message(w, &out, &err), 0);
    json_object *got = ccp_json_parse(out.data, out.len, NULL);
    assert_non_null(got);
    if (!json_object_equal(want, got))
        fail_msg("%s:\nwant %s\ngot  %s", name, ccp_json_str(want, NULL), out.data);
    json_object_put(want);
    json_object_put(got);
    ccp_buf_free(&out);
    free(txt);
}

static void streams_accumulate_to_the_recorded_message(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "anthropic/%s.sse", fixtures[i]);
        size_t len;
        char *in = read_fixture(rel, &len);
        ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
        decode(in, len, true, 7, w);
        check_message(w, fixtures[i]);
        ccp_anthropic_writer_free(w);
        free(in);
    }
}

static void json_bodies_round_trip_and_stream_like_the_recording(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "anthropic/%s.json", fixtures[i]);
        size_t len;
        char *in = read_fixture(rel, &len);
        ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
        decode(in, len, false, 5, w);
        check_message(w, fixtures[i]);
        ccp_anthropic_writer_free(w);
        /* The same body written as a stream accumulates back to itself. */
        ccp_buf sse = CCP_BUF_INIT;
        w = ccp_anthropic_writer_new(true, test_collect, &sse);
        decode(in, len, false, len, w);
        ccp_anthropic_writer_free(w);
        w = ccp_anthropic_writer_new(false, NULL, NULL);
        decode(sse.data, sse.len, true, sse.len, w);
        check_message(w, fixtures[i]);
        ccp_anthropic_writer_free(w);
        ccp_buf_free(&sse);
        free(in);
    }
}

static void a_truncated_stream_is_an_error(void **state)
{
    size_t len;
    char *in = read_fixture("anthropic/tool_use_multi.sse", &len);
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_decoder *d = ccp_anthropic_decoder_new(ccp_anthropic_writer_sink(w), true);
    ccp_error err = {0};
    assert_int_equal(ccp_anthropic_decoder_feed(d, in, len / 2, &err), 0);
    assert_int_equal(ccp_anthropic_decoder_finish(d, &err), CCP_EUPSTREAM);
    assert_non_null(strstr(err.msg, "message_stop"));
    ccp_buf out = CCP_BUF_INIT;
    assert_int_equal(ccp_anthropic_writer_message(w, &out, &err), CCP_EUPSTREAM);
    ccp_buf_free(&out);
    ccp_anthropic_decoder_free(d);
    ccp_anthropic_writer_free(w);
    free(in);
}

static void an_error_event_passes_through(void **state)
{
    const char *in = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
                     "{\"id\":\"m\",\"model\":\"x\",\"content\":[],\"usage\":{}}}\n\n"
                     "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                     "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    ccp_buf out = CCP_BUF_INIT;
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(true, test_collect, &out);
    decode(in, strlen(in), true, 3, w);
    const char *type, *msg;
    assert_true(ccp_anthropic_writer_error(w, &type, &msg));
    assert_string_equal(type, "overloaded_error");
    assert_string_equal(msg, "Overloaded");
    assert_non_null(strstr(out.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                     "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"));
    ccp_anthropic_writer_free(w);
    ccp_buf_free(&out);
}

static void garbage_data_is_an_upstream_error(void **state)
{
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_decoder *d = ccp_anthropic_decoder_new(ccp_anthropic_writer_sink(w), true);
    ccp_error err = {0};
    assert_int_equal(ccp_anthropic_decoder_feed(d, "data: {nope\n\n", 13, &err), CCP_EUPSTREAM);
    assert_non_null(strstr(err.msg, "byte offset"));
    ccp_anthropic_decoder_free(d);
    ccp_anthropic_writer_free(w);
}

static void unknown_blocks_and_events_pass_or_are_skipped(void **state)
{
    const char *in =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
        "\"model\":\"x\",\"content\":[],\"container\":null,\"usage\":{\"input_tokens\":1}}}\n\n"
        "event: future_event\ndata: {\"type\":\"future_event\"}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":"
        "\"web_search\",\"input\":{\"query\":\"q\"}}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3,"
        "\"server_tool_use\":{\"web_search_requests\":1}}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    decode(in, strlen(in), true, 11, w);
    ccp_buf out = CCP_BUF_INIT;
    ccp_error err;
    assert_int_equal(ccp_anthropic_writer_message(w, &out, &err), 0);
    json_object *got = ccp_json_parse(out.data, out.len, NULL);
    json_object *want = ccp_json_parse(
        "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"x\",\"content\":"
        "[{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":"
        "{\"query\":\"q\"}}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"container\":"
        "null,\"usage\":{\"input_tokens\":1,\"output_tokens\":3,\"server_tool_use\":"
        "{\"web_search_requests\":1}}}",
        strlen("{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"x\","
               "\"content\":[{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":"
               "\"web_search\",\"input\":{\"query\":\"q\"}}],\"stop_reason\":\"end_turn\","
               "\"stop_sequence\":null,\"container\":null,\"usage\":{\"input_tokens\":1,"
               "\"output_tokens\":3,\"server_tool_use\":{\"web_search_requests\":1}}}"),
        NULL);
    assert_non_null(want);
    if (!json_object_equal(want, got)) fail_msg("got %s", out.data);
    json_object_put(want);
    json_object_put(got);
    ccp_buf_free(&out);
    ccp_anthropic_writer_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(streams_are_rewritten_event_for_event),
        cmocka_unit_test(every_stream_at_every_split_passes_through),
        cmocka_unit_test(streams_accumulate_to_the_recorded_message),
        cmocka_unit_test(json_bodies_round_trip_and_stream_like_the_recording),
        cmocka_unit_test(a_truncated_stream_is_an_error),
        cmocka_unit_test(an_error_event_passes_through),
        cmocka_unit_test(garbage_data_is_an_upstream_error),
        cmocka_unit_test(unknown_blocks_and_events_pass_or_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
