/* test_tracectx.c — W3C traceparent parsing at every malformation the spec
 * names, and the context a request gets with and without one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obs/tracectx.h"

#include <stdio.h>
#include <string.h>

static bool parses(const char *v)
{
    uint8_t t[16], p[8], f;
    return ccp_tracectx_parse(v, t, p, &f);
}

static void valid_traceparents_parse(void **state)
{
    (void)state;
    uint8_t t[16], p[8], f = 0;
    assert_true(
        ccp_tracectx_parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", t, p, &f));
    assert_int_equal(t[0], 0x0a);
    assert_int_equal(t[15], 0x9c);
    assert_int_equal(p[0], 0xb7);
    assert_int_equal(p[7], 0x31);
    assert_int_equal(f, 1);
    assert_true(parses(" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\t"));
    /* A later version may carry more fields after a '-'. */
    assert_true(parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra"));
    assert_true(parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
}

static void malformed_traceparents_are_refused(void **state)
{
    (void)state;
    assert_false(parses(NULL));
    assert_false(parses(""));
    /* all-zero ids */
    assert_false(parses("00-00000000000000000000000000000000-b7ad6b7169203331-01"));
    assert_false(parses("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"));
    /* version ff, upper-case hex, wrong separators and lengths */
    assert_false(parses("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    assert_false(parses("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"));
    assert_false(parses("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    assert_false(parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0"));
    assert_false(parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x"));
    assert_false(parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x"));
    assert_false(parses("00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01"));
    assert_false(parses("00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01"));
}

static void an_incoming_trace_is_continued_with_a_new_span(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    ccp_tracectx t;
    ccp_tracectx_init(&t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &rng);
    assert_true(t.has_parent);
    assert_string_equal(t.trace_hex, "0af7651916cd43dd8448eb211c80319c");
    assert_string_equal(t.parent_hex, "b7ad6b7169203331");
    assert_int_equal(strlen(t.span_hex), 16);
    assert_string_not_equal(t.span_hex, "b7ad6b7169203331");
    char h[CCP_TRACEPARENT_LEN + 1];
    ccp_tracectx_header(&t, h);
    char want[64];
    snprintf(want, sizeof want, "00-0af7651916cd43dd8448eb211c80319c-%s-01", t.span_hex);
    assert_string_equal(h, want);
    /* Unsampled stays unsampled. */
    ccp_tracectx_init(&t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", &rng);
    ccp_tracectx_header(&t, h);
    assert_string_equal(h + 53, "00");
}

static void without_a_traceparent_a_sampled_trace_starts(void **state)
{
    (void)state;
    uint64_t rng = 99;
    ccp_tracectx a, b;
    ccp_tracectx_init(&a, NULL, &rng);
    ccp_tracectx_init(&b, "garbage", &rng);
    assert_false(a.has_parent);
    assert_string_equal(a.parent_hex, "");
    assert_string_not_equal(a.trace_hex, b.trace_hex);
    assert_string_not_equal(a.span_hex, b.span_hex);
    char h[CCP_TRACEPARENT_LEN + 1];
    ccp_tracectx_header(&a, h);
    assert_int_equal(strlen(h), CCP_TRACEPARENT_LEN);
    uint8_t t[16], p[8], f;
    assert_true(ccp_tracectx_parse(h, t, p, &f));
    assert_memory_equal(t, a.trace_id, 16);
    assert_memory_equal(p, a.span_id, 8);
    assert_int_equal(f, 1);
}

static void tracestate_follows_only_a_continued_trace(void **state)
{
    (void)state;
    uint64_t rng = 7;
    ccp_tracectx t;
    ccp_tracectx_init(&t, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &rng);
    assert_string_equal(ccp_tracectx_state(&t, "congo=t61rcWkgMzE"), "congo=t61rcWkgMzE");
    assert_null(ccp_tracectx_state(&t, NULL));
    assert_null(ccp_tracectx_state(&t, " , "));
    assert_null(ccp_tracectx_state(&t, "a=\x01"));
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_null(ccp_tracectx_state(&t, big));
    big[512] = 0;
    assert_non_null(ccp_tracectx_state(&t, big));
    ccp_tracectx_init(&t, "garbage", &rng);
    assert_null(ccp_tracectx_state(&t, "congo=t61rcWkgMzE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_traceparents_parse),
        cmocka_unit_test(malformed_traceparents_are_refused),
        cmocka_unit_test(an_incoming_trace_is_continued_with_a_new_span),
        cmocka_unit_test(without_a_traceparent_a_sampled_trace_starts),
        cmocka_unit_test(tracestate_follows_only_a_continued_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
