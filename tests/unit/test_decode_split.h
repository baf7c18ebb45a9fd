/* test_decode_split.h — the every-byte-split harness the three decoders'
 * tests share (header-only; include after cmocka.h and test_sse_events.h).
 *
 * A decoder must give the same events however its input is cut into reads.
 * test_every_split feeds a recorded answer to a codec's decoder in two
 * pieces, split at every byte boundary, through a streaming Anthropic
 * writer, and compares the SSE it writes with the expected events. A
 * stream that ends badly reaches the client as messages.c sends it: an SSE
 * error event of type api_error. */
#ifndef CCP_TEST_DECODE_SPLIT_H
#define CCP_TEST_DECODE_SPLIT_H

#include "codec/anthropic_writer.h"
#include "codec/codec.h"
#include "test_helpers.h"
#include "test_sse_events.h"

#include <stdio.h>
#include <stdlib.h>

/* Edits one event of the output before comparison (e.g. random ids); may
 * be NULL. */
typedef void (*test_event_fix)(json_object *ev);

/* Decodes in through codec's decoder, split at split, into out (SSE). */
static inline void test_decode_split(const ccp_codec *codec, const char *in, size_t len,
                                     size_t split, bool sse, ccp_buf *out)
{
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(true, test_collect, out);
    ccp_decoder *d = codec->decoder_new(ccp_anthropic_writer_sink(w), sse);
    ccp_error err = {0};
    assert_int_equal(codec->decoder_feed(d, in, split, &err), 0);
    assert_int_equal(codec->decoder_feed(d, in + split, len - split, &err), 0);
    if (codec->decoder_finish(d, &err) != 0) {
        ccp_event ev = {.type = CCP_EV_ERROR, .error_type = "api_error", .error_message = err.msg};
        ccp_event_sink *sink = ccp_anthropic_writer_sink(w);
        assert_int_equal(sink->emit(sink, &ev), 0);
    }
    codec->decoder_free(d);
    ccp_anthropic_writer_free(w);
}

/* The events of an SSE text, each passed through fix. */
static inline json_object *test_fixed_events(const char *sse, size_t len, test_event_fix fix)
{
    json_object *arr = test_sse_events(sse, len);
    for (size_t i = 0; fix && i < json_object_array_length(arr); i++)
        fix(json_object_array_get_idx(arr, i));
    return arr;
}

/* Feeds the fixture dir/name.sse at every split; each must give the
 * events of want (an array of {event, data}; owned by the caller). */
static inline void test_every_split(const ccp_codec *codec, const char *dir, const char *name,
                                    json_object *want, test_event_fix fix)
{
    char rel[256];
    size_t len;
    snprintf(rel, sizeof rel, "%s/%s.sse", dir, name);
    char *in = read_fixture(rel, &len);
    for (size_t split = 0; split <= len; split++) {
        ccp_buf out = CCP_BUF_INIT;
        test_decode_split(codec, in, len, split, true, &out);
        json_object *got = test_fixed_events(out.data, out.len, fix);
        if (!json_object_equal(want, got)) {
            /* cmocka cuts long messages: the events go to stderr whole. */
            fprintf(stderr, "want %s\ngot  %s\n", ccp_json_str(want, NULL),
                    ccp_json_str(got, NULL));
            fail_msg("%s/%s split %zu: events differ (above)", dir, name, split);
        }
        json_object_put(got);
        ccp_buf_free(&out);
    }
    free(in);
}

/* test_every_split against the fixture dir/name.expected.json. */
static inline void test_every_split_expected(const ccp_codec *codec, const char *dir,
                                             const char *name, test_event_fix fix)
{
    char rel[256];
    size_t elen;
    snprintf(rel, sizeof rel, "%s/%s.expected.json", dir, name);
    char *etxt = read_fixture(rel, &elen);
    json_object *want = ccp_json_parse(etxt, elen, NULL);
    assert_non_null(want);
    test_every_split(codec, dir, name, want, fix);
    json_object_put(want);
    free(etxt);
}

#endif
