/* test_tenant.c — what a tenant does to a request (teams/tenant.c), the
 * code the server and `ccproxy explain` share: model globs of a key and of
 * a tenant, the tenant's router in place of router's stages (and only
 * those), the route cut down to its providers, and the 403 when none is
 * left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/json.h"
#include "router/route.h"
#include "teams/tenant.h"

#include <stdlib.h>
#include <string.h>

static const char *const CONFIG = "providers:\n"
                                  "  - {name: main, base_url: 'http://127.0.0.1:1'}\n"
                                  "  - {name: backup, base_url: 'http://127.0.0.1:2'}\n"
                                  "router:\n"
                                  "  default: [main/big, backup/big]\n"
                                  "  background: main/small\n"
                                  "tenants:\n"
                                  "  eng:\n"
                                  "    models: ['claude-*', 'mock-?']\n"
                                  "    router:\n"
                                  "      default: backup/eng\n"
                                  "  second:\n"
                                  "    providers: [backup]\n"
                                  "  walled:\n"
                                  "    providers: [nowhere]\n";

static ccp_config *load(void)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("t.yaml", CONFIG, strlen(CONFIG), &c, &d) != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("config does not load");
    }
    ccp_diags_free(&d);
    return c;
}

/* Routes a request of model (background: Claude Code's haiku call) and
 * applies tenant name; returns what ccp_tenant_route returned. */
static bool route(ccp_config *cfg, const char *name, const char *body, ccp_route_choice *c,
                  ccp_route *view, bool *own, char *msg)
{
    ccp_error err;
    json_object *req = ccp_json_parse(body, strlen(body), &err);
    assert_non_null(req);
    assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, c, &err), 0);
    json_object_put(req);
    const ccp_tenant *tc = ccp_tenant_find(cfg, name);
    assert_non_null(tc);
    return ccp_tenant_route(cfg, tc, c, view, own, msg, 300);
}

static const char *const PLAIN =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
    "\"content\":\"hi\"}]}";
static const char *const HAIKU =
    "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
    "\"content\":\"hi\"}]}";
static const char *const BY_MODEL =
    "{\"model\":\"main/explicit\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
    "\"content\":\"hi\"}]}";

static void test_model_globs(void **state)
{
    (void)state;
    assert_true(ccp_key_models_allow(NULL, "anything"));
    assert_true(ccp_key_models_allow("", "anything"));
    assert_true(ccp_key_models_allow("gpt-*,claude-*", "claude-x"));
    assert_false(ccp_key_models_allow("gpt-*,claude-*", "gemini"));
    assert_false(ccp_key_models_allow("claude-*", NULL));
    ccp_config *cfg = load();
    const ccp_tenant *eng = ccp_tenant_find(cfg, "eng");
    assert_non_null(eng);
    assert_null(ccp_tenant_find(cfg, "nope"));
    assert_null(ccp_tenant_find(cfg, NULL));
    assert_true(ccp_tenant_models_allow(eng, "claude-opus"));
    assert_true(ccp_tenant_models_allow(eng, "mock-a"));
    assert_false(ccp_tenant_models_allow(eng, "mock-ab"));
    assert_true(ccp_tenant_models_allow(ccp_tenant_find(cfg, "second"), "gpt-4o"));
    ccp_config_unref(cfg);
}

static void test_router_overrides_only_the_stages_it_names(void **state)
{
    (void)state;
    ccp_config *cfg = load();
    ccp_route_choice c;
    ccp_route view;
    bool own = true;
    char msg[300] = "";
    assert_true(route(cfg, "eng", PLAIN, &c, &view, &own, msg));
    assert_true(own);
    assert_int_equal(c.route->n, 1);
    assert_string_equal(c.route->targets[0].provider->name, "backup");
    assert_string_equal(c.route->targets[0].model, "eng");
    assert_null(view.targets); /* no providers list: no cut */
    ccp_route_choice_free(&c);
    /* background has a route of its own and eng names none for it */
    assert_true(route(cfg, "eng", HAIKU, &c, &view, &own, msg));
    assert_false(own);
    assert_string_equal(c.route->targets[0].model, "small");
    ccp_route_choice_free(&c);
    /* a provider/model request stands */
    assert_true(route(cfg, "eng", BY_MODEL, &c, &view, &own, msg));
    assert_false(own);
    assert_string_equal(c.route->targets[0].model, "explicit");
    ccp_route_choice_free(&c);
    ccp_config_unref(cfg);
}

static void test_route_cut_to_providers_or_refused(void **state)
{
    (void)state;
    ccp_config *cfg = load();
    ccp_route_choice c;
    ccp_route view;
    char msg[300] = "";
    assert_true(route(cfg, "second", PLAIN, &c, &view, NULL, msg));
    assert_ptr_equal(c.route, &view);
    assert_int_equal(view.n, 1);
    assert_string_equal(view.targets[0].provider->name, "backup");
    free(view.targets);
    ccp_route_choice_free(&c);
    assert_false(route(cfg, "walled", PLAIN, &c, &view, NULL, msg));
    assert_int_equal(view.n, 0);
    assert_int_equal(c.route->n, 2); /* the uncut route, for the explanation */
    assert_string_equal(msg, "tenant 'walled' may not use provider 'main', the one this request is "
                             "routed to");
    free(view.targets);
    ccp_route_choice_free(&c);
    ccp_config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_globs),
        cmocka_unit_test(test_router_overrides_only_the_stages_it_names),
        cmocka_unit_test(test_route_cut_to_providers_or_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
