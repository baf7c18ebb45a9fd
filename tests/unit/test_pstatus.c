/* test_health.c — per-provider health: what attempts record, what /ready
 * and /status read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "obs/pstatus.h"

#include <string.h>

static ccp_config *load(const char *yaml)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, &d), 0);
    return c;
}

static void attempts_are_recorded_per_provider(void **state)
{
    ccp_config *c = load("providers:\n"
                         "  - {name: a, base_url: 'http://a'}\n"
                         "  - {name: b, base_url: 'http://b', format: openai-chat}\n"
                         "router: {default: a/m}\n");
    ccp_pstatus *h = ccp_pstatus_new(c, NULL);
    ccp_pstatus_record(h, "a", 0, 200, NULL);
    ccp_pstatus_record(h, "a", 0, 529, NULL);
    ccp_pstatus_record(h, "b", CCP_ETIMEOUT, 0, "timed out after 10 s");
    ccp_pstatus_record(h, "b", 0, 200, NULL);
    ccp_pstatus_record(h, "nobody", 0, 200, NULL); /* ignored */
    ccp_buf b = CCP_BUF_INIT;
    ccp_pstatus_write_json(h, c, &b);
    ccp_error err = {0};
    json_object *doc = ccp_json_parse(b.data, b.len, &err);
    assert_non_null(doc);
    json_object *a = ccp_json_get(doc, "a"), *pb = ccp_json_get(doc, "b");
    assert_string_equal(ccp_json_get_str(a, "breaker"), "closed");
    assert_int_equal(json_object_get_int(ccp_json_get(a, "successes")), 1);
    assert_int_equal(json_object_get_int(ccp_json_get(a, "failures")), 1);
    json_object *last = ccp_json_get(a, "last_result");
    assert_false(json_object_get_boolean(ccp_json_get(last, "ok")));
    assert_int_equal(json_object_get_int(ccp_json_get(last, "status")), 529);
    assert_string_equal(ccp_json_get_str(ccp_json_get(a, "last_error"), "message"),
                        "answered HTTP 529");
    assert_string_equal(ccp_json_get_str(pb, "format"), "openai-chat");
    assert_true(json_object_get_boolean(ccp_json_get(ccp_json_get(pb, "last_result"), "ok")));
    /* The last error stays after a success, with its own time. */
    assert_string_equal(ccp_json_get_str(ccp_json_get(pb, "last_error"), "message"),
                        "timed out after 10 s");
    assert_non_null(strstr(ccp_json_get_str(ccp_json_get(pb, "last_error"), "at"), "Z"));
    assert_true(ccp_pstatus_can_serve(h, c));
    json_object_put(doc);
    ccp_buf_free(&b);
    ccp_pstatus_free(h);
    ccp_config_unref(c);
}

static void no_provider_cannot_serve(void **state)
{
    ccp_config *c = load("");
    ccp_pstatus *h = ccp_pstatus_new(c, NULL);
    assert_false(ccp_pstatus_can_serve(h, c));
    ccp_buf b = CCP_BUF_INIT;
    ccp_pstatus_write_json(h, c, &b);
    assert_string_equal(b.data, "{}");
    ccp_buf_free(&b);
    ccp_pstatus_free(h);
    ccp_config_unref(c);
}

/* /ready and /status read the exchange's breakers: once the only
 * provider's breaker opens, nothing can serve. */
static void an_open_breaker_is_reported_and_cannot_serve(void **state)
{
    ccp_config *c =
        load("providers:\n  - {name: a, base_url: 'http://a', breaker: {failures: 2}}\n");
    ccp_health *reg = ccp_health_new();
    ccp_pstatus *h = ccp_pstatus_new(c, reg);
    const ccp_provider *p = &c->providers[0];
    assert_string_equal(ccp_pstatus_breaker_state(h, p), "closed");
    assert_true(ccp_pstatus_can_serve(h, c));
    ccp_provider_health *ph = ccp_health_of(reg, p);
    uint64_t now = ccp_health_now_ms();
    ccp_health_record(ph, p, now, CCP_HEALTH_FAIL, false);
    assert_true(ccp_health_record(ph, p, now, CCP_HEALTH_FAIL, false));
    assert_string_equal(ccp_pstatus_breaker_state(h, p), "open");
    assert_false(ccp_pstatus_can_serve(h, c));
    ccp_buf b = CCP_BUF_INIT;
    ccp_pstatus_write_json(h, c, &b);
    assert_non_null(strstr(b.data, "\"breaker\":\"open\""));
    ccp_buf_free(&b);
    ccp_pstatus_free(h);
    ccp_health_free(reg);
    ccp_config_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attempts_are_recorded_per_provider),
        cmocka_unit_test(no_provider_cannot_serve),
        cmocka_unit_test(an_open_breaker_is_reported_and_cannot_serve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
