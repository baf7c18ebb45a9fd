/* fuzz_decode.h — the body of the three decoder targets (header-only; each
 * fuzz_<codec>_decode.c defines FUZZ_CODEC and includes this).
 *
 * Input: byte 0 holds flags (bit 0: the body is SSE, else one JSON body;
 * bit 1: the client streams), byte 1 the split point; the rest is the
 * upstream body, fed in two pieces, then finished. The decoder's events go
 * to the Anthropic writer, as in the proxy; the oracle is that whatever the
 * upstream sent, the client gets valid JSON: every SSE data line of a
 * stream, or the one message. */
#ifndef CCP_FUZZ_DECODE_H
#define CCP_FUZZ_DECODE_H

#include "codec/anthropic_writer.h"
#include "codec/codec.h"
#include "core/sse.h"
#include "fuzz.h"

static void collect(void *ud, const char *data, size_t len)
{
    ccp_buf_append(ud, data, len);
}

static int data_is_json(void *ud, const char *event, const char *data, size_t len)
{
    FUZZ_CHECK(fuzz_is_json(data, len), "the writer sent an event '%s' that is not JSON: %.*s",
               event, (int)(len > 300 ? 300 : len), data);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const ccp_codec *codec = FUZZ_CODEC;
    bool sse = data[0] & 1, stream = data[0] & 2;
    size_t len = size - 2;
    char *body = fuzz_dup(data + 2, len);
    size_t k = fuzz_split(data[1], len);

    ccp_buf out;
    ccp_buf_init(&out);
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(stream, stream ? collect : NULL, &out);
    ccp_decoder *d = codec->decoder_new(ccp_anthropic_writer_sink(w), sse);
    ccp_error err = {0};
    int rc = codec->decoder_feed(d, body, k, &err);
    if (rc == 0) rc = codec->decoder_feed(d, body + k, len - k, &err);
    if (rc == 0) rc = codec->decoder_finish(d, &err);
    codec->decoder_free(d);
    if (rc != 0)
        FUZZ_CHECK(err.msg[0] != '\0' || err.code == 0, "a decode error without a message");

    if (stream) {
        ccp_sse_reader r;
        ccp_sse_reader_init(&r, data_is_json, NULL);
        FUZZ_CHECK(ccp_sse_reader_feed(&r, out.data, out.len) == 0, "the writer's SSE is too big");
        FUZZ_CHECK(!ccp_sse_reader_partial(&r), "the writer left an event unfinished");
        ccp_sse_reader_free(&r);
    } else if (rc == 0 && ccp_anthropic_writer_done(w)) {
        ccp_error merr = {0};
        if (ccp_anthropic_writer_message(w, &out, &merr) == 0)
            FUZZ_CHECK(fuzz_is_json(out.data, out.len), "the message is not JSON: %.*s",
                       (int)(out.len > 300 ? 300 : out.len), out.data);
    }
    ccp_anthropic_writer_free(w);
    ccp_buf_free(&out);
    free(body);
    return 0;
}

#endif
