/* test_sse.c — the SSE reader: events split at every byte boundary, every
 * line-ending style, comments and multi-line data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/sse.h"
#include "test_helpers.h"

#include <string.h>

/* Records events as "name|data\n" lines. */
static int record(void *ud, const char *event, const char *data, size_t len)
{
    ccp_buf *out = ud;
    ccp_buf_appends(out, event);
    ccp_buf_appendc(out, '|');
    ccp_buf_append(out, data, len);
    ccp_buf_appendc(out, '\n');
    return 0;
}

static void parse_split(const char *in, size_t len, size_t split, ccp_buf *out)
{
    ccp_sse_reader r;
    ccp_sse_reader_init(&r, record, out);
    assert_int_equal(ccp_sse_reader_feed(&r, in, split), 0);
    assert_int_equal(ccp_sse_reader_feed(&r, in + split, len - split), 0);
    assert_false(ccp_sse_reader_partial(&r));
    ccp_sse_reader_free(&r);
}

static void check_every_split(const char *in, size_t len, const char *want)
{
    for (size_t split = 0; split <= len; split++) {
        ccp_buf got = CCP_BUF_INIT;
        parse_split(in, len, split, &got);
        if (strcmp(got.data ? got.data : "", want) != 0)
            fail_msg("split at %zu: got\n%s\nwant\n%s", split, got.data, want);
        ccp_buf_free(&got);
    }
}

static void fields_comments_and_multiline_data(void **state)
{
    const char *in = ": keep-alive\n"
                     "event: a\ndata: one\ndata:two\nid: 7\nretry: 10\n\n"
                     "data:  spaced\n\n"
                     "event: empty\ndata\n\n"
                     "event: nodata\n\n";
    check_every_split(in, strlen(in), "a|one\ntwo\nmessage| spaced\nempty|\n");
}

static void crlf_and_cr_line_ends_at_every_split(void **state)
{
    const char *crlf = "event: x\r\ndata: 1\r\n\r\nevent: y\r\ndata: 2\r\n\r\n";
    const char *cr = "event: x\rdata: 1\r\revent: y\rdata: 2\r\r";
    check_every_split(crlf, strlen(crlf), "x|1\ny|2\n");
    check_every_split(cr, strlen(cr), "x|1\ny|2\n");
}

static void recorded_streams_parse_the_same_at_every_split_and_byte_by_byte(void **state)
{
    const char *names[] = {"anthropic/text.sse", "anthropic/thinking_text.sse",
                           "anthropic/tool_use_multi.sse"};
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        char *in = read_fixture(names[i], &len);
        ccp_buf whole = CCP_BUF_INIT;
        parse_split(in, len, len, &whole);
        assert_true(whole.len > 100);
        check_every_split(in, len, whole.data);
        ccp_buf bytes = CCP_BUF_INIT;
        ccp_sse_reader r;
        ccp_sse_reader_init(&r, record, &bytes);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(ccp_sse_reader_feed(&r, in + k, 1), 0);
        ccp_sse_reader_free(&r);
        assert_string_equal(bytes.data, whole.data);
        ccp_buf_free(&bytes);
        ccp_buf_free(&whole);
        free(in);
    }
}

static void an_unterminated_event_is_reported_partial(void **state)
{
    ccp_buf got = CCP_BUF_INIT;
    ccp_sse_reader r;
    ccp_sse_reader_init(&r, record, &got);
    assert_int_equal(ccp_sse_reader_feed(&r, "data: x\n", 8), 0);
    assert_true(ccp_sse_reader_partial(&r));
    assert_null(got.data);
    ccp_sse_reader_free(&r);
}

static void an_oversized_event_is_refused(void **state)
{
    ccp_buf got = CCP_BUF_INIT;
    ccp_sse_reader r;
    ccp_sse_reader_init(&r, record, &got);
    r.max_event = 16;
    assert_int_equal(ccp_sse_reader_feed(&r, "data: 0123456789abcdefghij\n", 27), CCP_ELIMIT);
    ccp_sse_reader_free(&r);
}

static int stop_at_first(void *ud, const char *e, const char *d, size_t n)
{
    (*(int *)ud)++;
    return 42;
}

static void a_callback_can_stop_the_reader(void **state)
{
    int calls = 0;
    ccp_sse_reader r;
    ccp_sse_reader_init(&r, stop_at_first, &calls);
    assert_int_equal(ccp_sse_reader_feed(&r, "data: a\n\ndata: b\n\n", 18), 42);
    assert_int_equal(calls, 1);
    ccp_sse_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fields_comments_and_multiline_data),
        cmocka_unit_test(crlf_and_cr_line_ends_at_every_split),
        cmocka_unit_test(recorded_streams_parse_the_same_at_every_split_and_byte_by_byte),
        cmocka_unit_test(an_unterminated_event_is_reported_partial),
        cmocka_unit_test(an_oversized_event_is_refused),
        cmocka_unit_test(a_callback_can_stop_the_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
