/* Tests of breaker.c: the state machine on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exchange/breaker.h"

static const ccp_breaker_config cfg = {.failures = 3,
                                       .failure_percent = 50,
                                       .min_requests = 10,
                                       .window_ms = 1000,
                                       .cooldown_ms = 5000,
                                       .half_open_probes = 2};

static bool allow(ccp_breaker *b, uint64_t now)
{
    bool probe;
    return ccp_breaker_allow(b, &cfg, now, &probe);
}

static void consecutive_failures_open_it_and_a_success_resets_the_count(void **state)
{
    ccp_breaker b = {0};
    assert_true(allow(&b, 0));
    assert_false(ccp_breaker_record(&b, &cfg, 1, CCP_HEALTH_FAIL, false));
    assert_false(ccp_breaker_record(&b, &cfg, 2, CCP_HEALTH_FAIL, false));
    assert_false(ccp_breaker_record(&b, &cfg, 3, CCP_HEALTH_OK, false));
    assert_false(ccp_breaker_record(&b, &cfg, 4, CCP_HEALTH_FAIL, false));
    assert_false(ccp_breaker_record(&b, &cfg, 5, CCP_HEALTH_FAIL, false));
    assert_true(ccp_breaker_record(&b, &cfg, 6, CCP_HEALTH_FAIL, false));
    assert_int_equal(b.state, CCP_BREAKER_OPEN);
    assert_false(allow(&b, 7));
    assert_int_equal(ccp_breaker_retry_in(&b, &cfg, 1006), 5000 - 1000);
    /* Outcomes of attempts let through before it opened change nothing. */
    assert_false(ccp_breaker_record(&b, &cfg, 8, CCP_HEALTH_OK, false));
    assert_int_equal(b.state, CCP_BREAKER_OPEN);
}

static void a_clock_read_before_another_thread_opened_it_is_no_time_passed(void **state)
{
    (void)state;
    /* Threads read the clock before the breaker's lock: one may arrive with
     * a time a little older than the one another stored when it opened. */
    ccp_breaker b = {.state = CCP_BREAKER_OPEN, .opened_at = 100};
    assert_false(allow(&b, 99));
    assert_int_equal(b.state, CCP_BREAKER_OPEN);
    assert_int_equal(ccp_breaker_retry_in(&b, &cfg, 99), 5000);
    /* Nor does an older time end the failure window. */
    ccp_breaker c = {0};
    assert_false(ccp_breaker_record(&c, &cfg, 2000, CCP_HEALTH_OK, false));
    assert_int_equal(c.window_start, 2000);
    assert_false(ccp_breaker_record(&c, &cfg, 1999, CCP_HEALTH_FAIL, false));
    assert_int_equal(c.window_start, 2000);
    assert_int_equal(c.window_total, 2);
}

static void half_open_lets_probes_through_and_one_success_closes(void **state)
{
    ccp_breaker b = {.state = CCP_BREAKER_OPEN, .opened_at = 100};
    assert_false(allow(&b, 5099));
    bool p1, p2, p3;
    assert_true(ccp_breaker_allow(&b, &cfg, 5100, &p1));
    assert_true(p1);
    assert_int_equal(b.state, CCP_BREAKER_HALF_OPEN);
    assert_true(ccp_breaker_allow(&b, &cfg, 5101, &p2));
    assert_false(ccp_breaker_allow(&b, &cfg, 5102, &p3)); /* two probes at most */
    /* An abandoned probe frees its slot and decides nothing. */
    ccp_breaker_record(&b, &cfg, 5103, CCP_HEALTH_NEUTRAL, true);
    assert_int_equal(b.state, CCP_BREAKER_HALF_OPEN);
    assert_true(ccp_breaker_allow(&b, &cfg, 5104, &p3));
    ccp_breaker_record(&b, &cfg, 5105, CCP_HEALTH_OK, true);
    assert_int_equal(b.state, CCP_BREAKER_CLOSED);
    assert_int_equal(b.consecutive, 0);
    /* The other probe, ending late, changes nothing. */
    ccp_breaker_record(&b, &cfg, 5106, CCP_HEALTH_FAIL, true);
    assert_int_equal(b.state, CCP_BREAKER_CLOSED);
}

static void a_failed_probe_opens_it_again(void **state)
{
    ccp_breaker b = {.state = CCP_BREAKER_OPEN, .opened_at = 0};
    bool probe;
    assert_true(ccp_breaker_allow(&b, &cfg, 6000, &probe));
    assert_true(ccp_breaker_record(&b, &cfg, 6100, CCP_HEALTH_FAIL, true));
    assert_int_equal(b.state, CCP_BREAKER_OPEN);
    assert_false(allow(&b, 11099));
    assert_true(allow(&b, 11100));
}

static void a_failure_share_over_the_window_opens_it(void **state)
{
    ccp_breaker b = {0};
    /* Alternating: never 3 in a row, but half of 10 in one window. */
    for (int i = 0; i < 9; i++)
        assert_false(
            ccp_breaker_record(&b, &cfg, 10 + i, i % 2 ? CCP_HEALTH_FAIL : CCP_HEALTH_OK, false));
    assert_true(ccp_breaker_record(&b, &cfg, 20, CCP_HEALTH_FAIL, false));
    /* The same outcomes spread over two windows do not. */
    ccp_breaker c = {0};
    for (int i = 0; i < 10; i++)
        assert_false(ccp_breaker_record(&c, &cfg, (uint64_t)i * 200,
                                        i % 2 ? CCP_HEALTH_FAIL : CCP_HEALTH_OK, false));
}

static void a_disabled_breaker_always_allows(void **state)
{
    ccp_breaker_config off = cfg;
    off.failures = 0;
    off.failure_percent = 0;
    ccp_breaker b = {0};
    bool probe;
    for (int i = 0; i < 100; i++) {
        assert_true(ccp_breaker_allow(&b, &off, (uint64_t)i, &probe));
        assert_false(ccp_breaker_record(&b, &off, (uint64_t)i, CCP_HEALTH_FAIL, probe));
    }
    assert_string_equal(ccp_breaker_state_name(b.state), "closed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consecutive_failures_open_it_and_a_success_resets_the_count),
        cmocka_unit_test(half_open_lets_probes_through_and_one_success_closes),
        cmocka_unit_test(a_clock_read_before_another_thread_opened_it_is_no_time_passed),
        cmocka_unit_test(a_failed_probe_opens_it_again),
        cmocka_unit_test(a_failure_share_over_the_window_opens_it),
        cmocka_unit_test(a_disabled_breaker_always_allows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
