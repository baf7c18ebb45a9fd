/* test_admin_key.c — the admin key check of the admin endpoints
 * (src/guard/admin_key.c): which headers carry it, and what is not it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "guard/admin_key.h"

#define KEY "adm-0123456789abcdef"

static void the_key_passes_as_bearer_or_x_api_key(void **state)
{
    assert_true(ccp_admin_key_ok(KEY, "Bearer " KEY, NULL));
    assert_true(ccp_admin_key_ok(KEY, "bearer  " KEY " ", NULL)); /* scheme is case-blind */
    assert_true(ccp_admin_key_ok(KEY, NULL, KEY));
    /* Either header may hold it: a stale value in the other does not matter. */
    assert_true(ccp_admin_key_ok(KEY, "Bearer other-0123456789", KEY));
    assert_true(ccp_admin_key_ok(KEY, "Bearer " KEY, "other-0123456789"));
}

static void anything_else_fails(void **state)
{
    assert_false(ccp_admin_key_ok(KEY, NULL, NULL));
    assert_false(ccp_admin_key_ok(KEY, "", ""));
    assert_false(ccp_admin_key_ok(KEY, KEY, NULL));                    /* no scheme */
    assert_false(ccp_admin_key_ok(KEY, "Basic " KEY, NULL));           /* another scheme */
    assert_false(ccp_admin_key_ok(KEY, "Bearer ", NULL));              /* empty token */
    assert_false(ccp_admin_key_ok(KEY, "Bearer " KEY "x", NULL));      /* longer */
    assert_false(ccp_admin_key_ok(KEY, NULL, "adm-0123456789abcde"));  /* a prefix */
    assert_false(ccp_admin_key_ok(KEY, NULL, "ADM-0123456789ABCDEF")); /* case matters */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_key_passes_as_bearer_or_x_api_key),
        cmocka_unit_test(anything_else_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
