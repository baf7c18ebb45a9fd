/* test_limits.c — the token buckets of the per-key limits, on a clock the
 * test drives: full at first use, continuous refill capped at capacity,
 * waits and reset times, requests larger than the capacity, and the
 * reconciliation of a token estimate with the real count (both ways). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "teams/limits.h"

static void starts_full_and_takes_until_empty(void **state)
{
    ccp_bucket b = {0};
    ccp_bucket_refill(&b, 3, 1000);
    assert_int_equal(ccp_bucket_remaining(&b), 3);
    for (int i = 0; i < 3; i++) {
        assert_true(ccp_bucket_allows(&b, 3, 1));
        ccp_bucket_take(&b, 1);
    }
    assert_false(ccp_bucket_allows(&b, 3, 1));
    assert_int_equal(ccp_bucket_remaining(&b), 0);
    /* 3 per minute: one every 20 s. */
    assert_int_equal(ccp_bucket_wait_ms(&b, 3, 1), 20000);
    assert_int_equal(ccp_bucket_full_ms(&b, 3), 60000);
}

static void refills_continuously_and_never_above_capacity(void **state)
{
    ccp_bucket b = {0};
    ccp_bucket_refill(&b, 3, 0);
    ccp_bucket_take(&b, 3);
    ccp_bucket_refill(&b, 3, 19999);
    assert_false(ccp_bucket_allows(&b, 3, 1));
    assert_int_equal(ccp_bucket_wait_ms(&b, 3, 1), 1);
    ccp_bucket_refill(&b, 3, 20000);
    assert_true(ccp_bucket_allows(&b, 3, 1));
    ccp_bucket_refill(&b, 3, 10 * 60000);
    assert_int_equal(ccp_bucket_remaining(&b), 3);
    /* A clock that steps back adds nothing and loses nothing. */
    ccp_bucket_take(&b, 1);
    ccp_bucket_refill(&b, 3, 5);
    assert_int_equal(ccp_bucket_remaining(&b), 2);
}

static void a_request_larger_than_the_capacity_waits_for_a_full_bucket(void **state)
{
    ccp_bucket b = {0};
    ccp_bucket_refill(&b, 1000, 0);
    assert_true(ccp_bucket_allows(&b, 1000, 5000));
    ccp_bucket_take(&b, 5000);
    assert_true(b.level < 0);
    assert_false(ccp_bucket_allows(&b, 1000, 1));
    /* 4001 tokens to make up at 1000 a minute. */
    assert_int_equal(ccp_bucket_wait_ms(&b, 1000, 1), 4001 * 60);
}

static void reconciliation_gives_back_an_overestimate_and_takes_an_underestimate(void **state)
{
    ccp_bucket b = {0};
    ccp_bucket_refill(&b, 1000, 0);
    ccp_bucket_take(&b, 600); /* the estimate at admission */
    assert_int_equal(ccp_bucket_remaining(&b), 400);
    ccp_bucket_give(&b, 1000, 600 - 100); /* the provider counted 100 */
    assert_int_equal(ccp_bucket_remaining(&b), 900);
    ccp_bucket_give(&b, 1000, 5000); /* never above the capacity */
    assert_int_equal(ccp_bucket_remaining(&b), 1000);
    ccp_bucket_take(&b, 300);
    ccp_bucket_take(&b, 1500 - 300); /* it counted 1500: the difference */
    assert_int_equal(ccp_bucket_remaining(&b), 0);
    assert_false(ccp_bucket_allows(&b, 1000, 1));
    ccp_bucket_refill(&b, 1000, 60000); /* a minute later: -500 + 1000 */
    assert_int_equal(ccp_bucket_remaining(&b), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_full_and_takes_until_empty),
        cmocka_unit_test(refills_continuously_and_never_above_capacity),
        cmocka_unit_test(a_request_larger_than_the_capacity_waits_for_a_full_bucket),
        cmocka_unit_test(reconciliation_gives_back_an_overestimate_and_takes_an_underestimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
