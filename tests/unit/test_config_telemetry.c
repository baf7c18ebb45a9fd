/* test_config_telemetry.c — the telemetry section: its keys load into the
 * struct, a key left out stays unset for the environment, bad values are
 * named with their place, and the config's hash is of its bytes. */
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

static void every_key_loads(void **state)
{
    ccp_diags d = {0};
    ccp_config *c = load("telemetry:\n"
                         "  otlp_endpoint: http://collector:4318\n"
                         "  service_name: team-proxy\n"
                         "  sample_ratio: 0.25\n"
                         "  headers: {Authorization: Bearer abc}\n"
                         "  max_queue_spans: 64\n",
                         &d);
    assert_int_equal(d.n, 0);
    assert_non_null(c);
    assert_string_equal(c->telemetry.otlp_endpoint, "http://collector:4318");
    assert_string_equal(c->telemetry.service_name, "team-proxy");
    assert_true(c->telemetry.sample_ratio == 0.25);
    assert_int_equal(c->telemetry.n_headers, 1);
    assert_string_equal(c->telemetry.headers[0].name, "Authorization");
    assert_string_equal(c->telemetry.headers[0].value, "Bearer abc");
    assert_int_equal(c->telemetry.max_queue_spans, 64);
    ccp_config_unref(c);
}

static void keys_left_out_stay_unset(void **state)
{
    ccp_diags d = {0};
    ccp_config *c = load("", &d);
    assert_non_null(c);
    assert_null(c->telemetry.otlp_endpoint);
    assert_null(c->telemetry.service_name);
    assert_true(c->telemetry.sample_ratio < 0);
    assert_int_equal(c->telemetry.n_headers, 0);
    assert_int_equal(c->telemetry.max_queue_spans, 2048);
    ccp_config_unref(c);
}

static void bad_values_are_named_at_their_place(void **state)
{
    ccp_diags d = {0};
    ccp_config *c = load("telemetry:\n"
                         "  sample_ratio: 1.5\n"
                         "  headers: [a]\n"
                         "  otlp_endpointt: x\n",
                         &d);
    assert_null(c);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.items[0].line, 2);
    assert_non_null(
        strstr(d.items[0].message, "telemetry.sample_ratio: expected a number from 0 to 1"));
    assert_int_equal(d.items[1].line, 3);
    assert_non_null(strstr(d.items[2].message, "did you mean 'otlp_endpoint'"));
    ccp_diags_free(&d);
}

static void the_hash_is_sha256_of_the_bytes(void **state)
{
    ccp_diags d = {0};
    ccp_config *c = load("server: {port: 1}\n", &d);
    assert_non_null(c);
    /* printf 'server: {port: 1}\n' | sha256sum */
    assert_string_equal(c->source_hash,
                        "sha256:7f0ff5be519e8ef2e5185a37da961516a5b607b83933f192d9bacd7347311ef7");
    ccp_config_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_key_loads),
        cmocka_unit_test(keys_left_out_stay_unset),
        cmocka_unit_test(bad_values_are_named_at_their_place),
        cmocka_unit_test(the_hash_is_sha256_of_the_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
