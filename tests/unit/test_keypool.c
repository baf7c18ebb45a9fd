/* Tests of keypool.c: round-robin, rests, parking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exchange/keypool.h"

static void round_robin_over_healthy_keys(void **state)
{
    ccp_keypool kp;
    ccp_keypool_init(&kp, 3);
    int seen[6];
    for (int i = 0; i < 6; i++) {
        ccp_key_pick p = ccp_keypool_pick(&kp, 0, -1);
        assert_true(p.healthy);
        seen[i] = p.index;
    }
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 2);
    assert_int_equal(seen[3], 0);
    ccp_keypool_free(&kp);
}

static void a_resting_key_is_passed_over_until_its_time(void **state)
{
    ccp_keypool kp;
    ccp_keypool_init(&kp, 2);
    ccp_keypool_rest(&kp, 0, 1000);
    ccp_keypool_rest(&kp, 0, 500); /* an earlier end does not shorten it */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ccp_keypool_pick(&kp, 100, -1).index, 1);
    /* Avoiding key 1 too: every usable key rests; wait for the first. */
    ccp_key_pick p = ccp_keypool_pick(&kp, 100, 1);
    assert_int_equal(p.index, -1);
    assert_int_equal(p.wait_ms, 900);
    assert_int_equal(p.resting, 0);
    ccp_keypool_rest(&kp, 1, 2000);
    p = ccp_keypool_pick(&kp, 100, -1);
    assert_int_equal(p.index, -1);
    assert_int_equal(p.wait_ms, 900);
    p = ccp_keypool_pick(&kp, 1000, -1);
    assert_int_equal(p.index, 0);
    assert_true(p.healthy);
    ccp_keypool_free(&kp);
}

static void parked_keys_are_skipped_but_a_last_resort(void **state)
{
    ccp_keypool kp;
    ccp_keypool_init(&kp, 2);
    assert_true(ccp_keypool_park(&kp, 0));
    assert_false(ccp_keypool_park(&kp, 0)); /* logged once */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ccp_keypool_pick(&kp, 0, -1).index, 1);
    /* Another healthy key than 1? None: a parked one, marked unhealthy. */
    ccp_key_pick p = ccp_keypool_pick(&kp, 0, 1);
    assert_int_equal(p.index, 0);
    assert_false(p.healthy);
    ccp_keypool_park(&kp, 1);
    p = ccp_keypool_pick(&kp, 0, -1);
    assert_true(p.index >= 0);
    assert_false(p.healthy);
    ccp_keypool_free(&kp);
}

static void one_key_and_no_keys(void **state)
{
    ccp_keypool kp;
    ccp_keypool_init(&kp, 1);
    ccp_key_pick p = ccp_keypool_pick(&kp, 0, 0);
    assert_int_equal(p.index, 0); /* the only key, even when avoided */
    ccp_keypool_free(&kp);
    ccp_keypool_init(&kp, 0);
    assert_int_equal(ccp_keypool_pick(&kp, 0, -1).index, -1);
    ccp_keypool_free(&kp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_robin_over_healthy_keys),
        cmocka_unit_test(a_resting_key_is_passed_over_until_its_time),
        cmocka_unit_test(parked_keys_are_skipped_but_a_last_resort),
        cmocka_unit_test(one_key_and_no_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
