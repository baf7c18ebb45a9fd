/* Tests of exchange.c: preparing an attempt (copies while fallbacks remain,
 * hooks on the body tree, one serialization, errors by step) and judging
 * how one ended. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/json.h"
#include "exchange/exchange.h"

#include <string.h>

static const char yaml[] =
    "pipelines:\n"
    "  edit:\n"
    "    - use: max-tokens\n"
    "      with: {set: 77}\n"
    "    - use: extra-body\n"
    "      with: {body: {route_tag: first}}\n"
    "providers:\n"
    "  - {name: a, format: openai-chat, base_url: 'http://a.test/v1', pipeline: edit}\n"
    "  - {name: b, base_url: 'http://b.test'}\n"
    "router:\n"
    "  default: [a/model-a, b/model-b]\n";

static ccp_config *load(void)
{
    ccp_diags d = {0};
    ccp_config *c = NULL;
    if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, &d) != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("config");
    }
    ccp_diags_free(&d);
    return c;
}

static json_object *parse(const char *s)
{
    json_object *o = ccp_json_parse(s, strlen(s), NULL);
    assert_non_null(o);
    return o;
}

/* Routes the request text with the test config into an exchange that owns
 * the parsed request. */
static ccp_exchange routed(ccp_config *cfg, const char *text, ccp_route_choice *choice)
{
    json_object *req = parse(text);
    ccp_error err;
    assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, choice, &err), 0);
    return (ccp_exchange){.choice = choice, .request = req, .client_model = "claude"};
}

static void each_target_starts_from_the_clients_request(void **state)
{
    ccp_config *cfg = load();
    ccp_route_choice choice;
    ccp_exchange ex = routed(cfg,
                             "{\"model\":\"claude\",\"max_tokens\":5,\"messages\":[{\"role\":"
                             "\"user\",\"content\":\"hi\"}]}",
                             &choice);
    ccp_attempt a;
    ccp_prep_error pe;

    /* The first target's hooks edit a copy; its body is sealed with both
     * the request hook's and the outbound hook's edits. */
    if (ccp_exchange_prepare(&ex, &a, &pe) != 0) fail_msg("prepare: %s", pe.err.msg);
    assert_null(a.out.json);
    json_object *body = parse(a.out.body.data);
    assert_int_equal(ccp_json_get_int(body, "max_tokens", 0), 77);
    assert_string_equal(ccp_json_get_str(body, "route_tag"), "first");
    assert_string_equal(ccp_json_get_str(body, "model"), "model-a");
    json_object_put(body);
    assert_int_equal(ccp_json_get_int(ex.request, "max_tokens", 0), 5);
    assert_string_equal(ccp_json_get_str(ex.request, "model"), "claude");
    ccp_attempt_free(&a);

    /* The last target takes the request itself. */
    assert_true(ccp_exchange_next(&ex));
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), 0);
    assert_null(ex.request);
    body = parse(a.out.body.data);
    assert_int_equal(ccp_json_get_int(body, "max_tokens", 0), 5);
    assert_null(ccp_json_get(body, "route_tag"));
    assert_string_equal(ccp_json_get_str(body, "model"), "model-b");
    json_object_put(body);
    ccp_attempt_free(&a);
    assert_false(ccp_exchange_next(&ex));

    ccp_exchange_free(&ex);
    ccp_route_choice_free(&choice);
    ccp_config_unref(cfg);
}

static void a_request_that_cannot_be_encoded_is_a_400_at_the_encode_step(void **state)
{
    ccp_config *cfg = load();
    ccp_route_choice choice;
    ccp_exchange ex = routed(
        cfg, "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", &choice);
    ccp_attempt a;
    ccp_prep_error pe;
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), -1);
    assert_int_equal(pe.step, CCP_PREP_ENCODE);
    assert_int_equal(pe.status, 400);
    assert_string_equal(pe.type, "invalid_request_error");
    assert_non_null(strstr(pe.err.msg, "messages.0.content"));
    ccp_exchange_free(&ex);
    ccp_route_choice_free(&choice);
    ccp_config_unref(cfg);
}

static void which_endings_fall_back(void **state)
{
    ccp_target targets[2] = {{0}};
    ccp_route route = {targets, 2};
    ccp_route_choice choice = {.route = &route};
    json_object *req = json_object_new_object();
    ccp_exchange ex = {.choice = &choice, .request = req};
    static const struct {
        int result, status;
        bool answered;
        ccp_verdict want;
    } cases[] = {
        {0, 200, false, CCP_VERDICT_DONE},
        {0, 200, true, CCP_VERDICT_DONE},
        {CCP_ETIMEOUT, 0, false, CCP_VERDICT_FALL_BACK},
        {CCP_EUPSTREAM, 0, false, CCP_VERDICT_FALL_BACK},
        {CCP_EUPSTREAM, 200, true, CCP_VERDICT_FAIL}, /* cut after the stream began */
        {0, 408, false, CCP_VERDICT_FALL_BACK},
        {0, 429, false, CCP_VERDICT_FALL_BACK},
        {0, 500, false, CCP_VERDICT_FALL_BACK},
        {0, 529, false, CCP_VERDICT_FALL_BACK},
        {0, 400, false, CCP_VERDICT_FAIL},
        {0, 401, false, CCP_VERDICT_FAIL},
        {0, 404, false, CCP_VERDICT_FAIL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ccp_attempt_end end = {cases[i].result, cases[i].status, cases[i].answered};
        if (ccp_exchange_judge(&ex, &end) != cases[i].want)
            fail_msg("case %zu: result %d status %d", i, cases[i].result, cases[i].status);
    }
    /* On the last target, nothing falls back. */
    ex.attempt = 1;
    ccp_attempt_end end = {0, 503, false};
    assert_int_equal(ccp_exchange_judge(&ex, &end), CCP_VERDICT_FAIL);
    ccp_exchange_free(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_target_starts_from_the_clients_request),
        cmocka_unit_test(a_request_that_cannot_be_encoded_is_a_400_at_the_encode_step),
        cmocka_unit_test(which_endings_fall_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
