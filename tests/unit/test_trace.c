/* test_trace.c — W3C traceparent parse and format, ids, sampling, and the
 * span's attribute storage when its text area fills. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obs/trace.h"

#include <string.h>

static void ids_are_never_zero_and_differ(void **state)
{
    uint8_t a[16], b[16], zero[16] = {0};
    ccp_trace_new_id(a, 16);
    ccp_trace_new_id(b, 16);
    assert_memory_not_equal(a, zero, 16);
    assert_memory_not_equal(a, b, 16);
}

static void sampling_follows_the_ratio_on_the_ids_low_bytes(void **state)
{
    uint8_t low[16] = {0}, high[16];
    low[15] = 1;
    memset(high, 0xff, sizeof high);
    assert_true(ccp_trace_sample(high, 1.0));
    assert_false(ccp_trace_sample(low, 0.0));
    assert_true(ccp_trace_sample(low, 0.5));
    assert_false(ccp_trace_sample(high, 0.5));
    size_t kept = 0;
    for (int i = 0; i < 2000; i++) {
        uint8_t id[16];
        ccp_trace_new_id(id, 16);
        kept += ccp_trace_sample(id, 0.25);
    }
    assert_true(kept > 300 && kept < 700); /* 500 expected; far bounds, not timing */
}

static void a_full_text_area_cuts_values_on_a_character_boundary(void **state)
{
    static ccp_span s;
    uint8_t tid[16] = {1};
    ccp_span_init(&s, CCP_SPAN_SERVER, "n", tid, NULL);
    char big[CCP_SPAN_TEXT];
    memset(big, 'a', sizeof big);
    /* Fill all but 2 bytes, then a 3-byte character must not be split. */
    ccp_span_strn(&s, "k1", big, CCP_SPAN_TEXT - 1 - 2);
    ccp_span_str(&s, "k2", "\xe2\x82\xac");
    assert_int_equal(s.n_attrs, 2);
    assert_int_equal(s.attrs[1].len, 0);
    for (int i = 0; i < CCP_SPAN_MAX_ATTRS + 5; i++)
        ccp_span_int(&s, "n", i);
    assert_int_equal(s.n_attrs, CCP_SPAN_MAX_ATTRS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_never_zero_and_differ),
        cmocka_unit_test(sampling_follows_the_ratio_on_the_ids_low_bytes),
        cmocka_unit_test(a_full_text_area_cuts_values_on_a_character_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
