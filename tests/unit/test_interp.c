/* test_interp.c — ${VAR}, ${VAR:-default} and $$ in config strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/interp.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static void expect(const char *in, const char *want)
{
    ccp_buf out = CCP_BUF_INIT;
    char var[64];
    assert_int_equal(ccp_interp(in, &out, var, sizeof var), 0);
    assert_string_equal(out.data, want);
    ccp_buf_free(&out);
}

static void variables_defaults_and_escapes(void **state)
{
    setenv("CCP_I_A", "alpha", 1);
    setenv("CCP_I_EMPTY", "", 1);
    unsetenv("CCP_I_UNSET");
    expect("plain", "plain");
    expect("${CCP_I_A}", "alpha");
    expect("Bearer ${CCP_I_A}!", "Bearer alpha!");
    expect("${CCP_I_UNSET:-dflt}", "dflt");
    expect("${CCP_I_EMPTY:-dflt}", "dflt");
    expect("${CCP_I_A:-dflt}", "alpha");
    expect("${CCP_I_UNSET:-}", "");
    expect("$$5 and $x", "$5 and $x");
    expect("", "");
}

static void unset_and_malformed_are_errors(void **state)
{
    unsetenv("CCP_I_UNSET");
    ccp_buf out = CCP_BUF_INIT;
    char var[64];
    assert_int_equal(ccp_interp("key ${CCP_I_UNSET}", &out, var, sizeof var), CCP_ENOTFOUND);
    assert_string_equal(var, "CCP_I_UNSET");
    ccp_buf_reset(&out);
    assert_int_equal(ccp_interp("${CCP_I_A", &out, var, sizeof var), CCP_EPARSE);
    ccp_buf_reset(&out);
    assert_int_equal(ccp_interp("${}", &out, var, sizeof var), CCP_EPARSE);
    ccp_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(variables_defaults_and_escapes),
        cmocka_unit_test(unset_and_malformed_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
