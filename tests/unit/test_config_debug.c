/* test_config_debug.c — the debug section: debug.capture's keys load into
 * the struct with their defaults, and a bad value is named with its place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"

#include <string.h>

static ccp_config *load(const char *yaml, ccp_diags *d)
{
    ccp_config *c = NULL;
    ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, d);
    return c;
}

static void capture_keys_load(void **state)
{
    (void)state;
    ccp_diags d = {0};
    ccp_config *c = load("debug:\n"
                         "  capture:\n"
                         "    dir: /tmp/cap\n"
                         "    sample: 0.5\n"
                         "    max_bytes: 64KiB\n"
                         "    max_files: 7\n",
                         &d);
    assert_int_equal(d.n, 0);
    assert_non_null(c);
    assert_string_equal(c->debug.capture.dir, "/tmp/cap");
    assert_true(c->debug.capture.sample == 0.5);
    assert_int_equal(c->debug.capture.max_bytes, 64 * 1024);
    assert_int_equal(c->debug.capture.max_files, 7);
    ccp_config_unref(c);
}

static void capture_is_off_by_default(void **state)
{
    (void)state;
    ccp_diags d = {0};
    ccp_config *c = load("server: {port: 1234}\n", &d);
    assert_non_null(c);
    assert_null(c->debug.capture.dir);
    assert_true(c->debug.capture.sample == 1.0);
    assert_int_equal(c->debug.capture.max_bytes, 1024 * 1024);
    assert_int_equal(c->debug.capture.max_files, 200);
    ccp_config_unref(c);
}

static void bad_values_are_named(void **state)
{
    (void)state;
    ccp_diags d = {0};
    ccp_config *c = load("debug:\n  capture:\n    sample: 2\n    max_files: 0\n    dri: x\n", &d);
    assert_null(c);
    assert_int_equal(d.n, 3);
    assert_non_null(strstr(d.items[0].message, "debug.capture.sample"));
    assert_int_equal(d.items[0].line, 3);
    assert_non_null(strstr(d.items[1].message, "max_files"));
    assert_non_null(strstr(d.items[2].message, "dri"));
    ccp_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(capture_keys_load),
        cmocka_unit_test(capture_is_off_by_default),
        cmocka_unit_test(bad_values_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
