/* fuzz_sse.c — libFuzzer target for the SSE reader (core/sse.c). The input,
 * after its first byte (the split point), is read once whole and once in
 * two pieces; both readings must give the same events and the same end. */
#include "core/sse.h"
#include "fuzz.h"

/* Records each event as "name\0<len>:data\n" so two readings compare as
 * bytes. */
static int record(void *ud, const char *event, const char *data, size_t len)
{
    ccp_buf *b = ud;
    ccp_buf_append(b, event, strlen(event) + 1);
    ccp_buf_printf(b, "%zu:", len);
    ccp_buf_append(b, data, len);
    ccp_buf_appendc(b, '\n');
    return 0;
}

/* Reads body in pieces cut at k into events; returns the feeds' first
 * non-zero result. *partial receives ccp_sse_reader_partial. */
static int read_all(const char *body, size_t len, size_t k, ccp_buf *events, int *partial)
{
    ccp_sse_reader r;
    ccp_sse_reader_init(&r, record, events);
    r.max_event = 4096; /* small, so that the limit is reached too */
    int rc = ccp_sse_reader_feed(&r, body, k);
    if (rc == 0) rc = ccp_sse_reader_feed(&r, body + k, len - k);
    *partial = ccp_sse_reader_partial(&r);
    ccp_sse_reader_free(&r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t len = size - 1;
    char *body = fuzz_dup(data + 1, len);
    size_t k = fuzz_split(data[0], len);
    ccp_buf whole, split;
    ccp_buf_init(&whole);
    ccp_buf_init(&split);
    int pw, ps;
    int rw = read_all(body, len, len, &whole, &pw);
    int rs = read_all(body, len, k, &split, &ps);
    FUZZ_CHECK(rw == rs, "whole %d, split at %zu %d", rw, k, rs);
    if (rw == 0) {
        FUZZ_CHECK(whole.len == split.len &&
                       (whole.len == 0 || memcmp(whole.data, split.data, whole.len) == 0),
                   "split at %zu gives other events", k);
        FUZZ_CHECK(pw == ps, "split at %zu changes the partial flag", k);
    }
    ccp_buf_free(&whole);
    ccp_buf_free(&split);
    free(body);
    return 0;
}
