/* Tests of config_gen.c: what `ccproxy init` writes loads with the config
 * loader and routes as planned; bad plans are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "config/config_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ccp_config *load(const ccp_buf *y)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("gen", y->data, y->len, &c, &d) != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("generated config does not load:\n%s", y->data);
    }
    ccp_diags_free(&d);
    return c;
}

static void a_plan_of_every_provider_loads(void **state)
{
    ccp_gen_plan plan = {0};
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        if (p->key_env) setenv(p->key_env, "k", 1);
        plan.providers[plan.n++] = (ccp_gen_provider){.info = p, .pipeline = true};
    }
    char routes[CCP_CAT_N_STAGES][256];
    assert_int_equal(ccp_gen_validate(&plan, NULL), 0);
    ccp_gen_propose(&plan, routes);
    assert_string_equal(plan.stages[CCP_CAT_DEFAULT], "anthropic"); /* first: client's model */
    assert_string_equal(plan.stages[CCP_CAT_THINKING], "deepseek/deepseek-reasoner");
    ccp_buf y = CCP_BUF_INIT;
    ccp_gen_yaml(&plan, &y);
    ccp_config *c = load(&y);
    assert_int_equal(c->n_providers, ccp_provider_catalog_n);
    assert_string_equal(c->router_default.provider->name, "anthropic");
    assert_null(c->router_default.model);
    assert_int_equal(c->server.port, 3456);
    ccp_config_unref(c);
    ccp_buf_free(&y);
    for (size_t i = 0; i < ccp_provider_catalog_n; i++)
        if (ccp_provider_catalog[i].key_env) unsetenv(ccp_provider_catalog[i].key_env);
}

static void stages_key_variables_and_pipelines_follow_the_plan(void **state)
{
    setenv("MY_DS_KEY", "secret-1", 1);
    ccp_gen_plan plan = {0};
    plan.providers[plan.n++] =
        (ccp_gen_provider){.info = ccp_catalog_find("deepseek"), .key_env = "MY_DS_KEY"};
    plan.providers[plan.n++] =
        (ccp_gen_provider){.info = ccp_catalog_find("ollama"), .pipeline = true};
    plan.stages[CCP_CAT_DEFAULT] = "deepseek/deepseek-reasoner";
    plan.stages[CCP_CAT_BACKGROUND] = "ollama/qwen2.5-coder:7b";
    plan.stages[CCP_CAT_LONG_CONTEXT] = "ollama/some model: with colon";
    char routes[CCP_CAT_N_STAGES][256];
    assert_int_equal(ccp_gen_validate(&plan, NULL), 0);
    ccp_gen_propose(&plan, routes);
    ccp_buf y = CCP_BUF_INIT;
    ccp_gen_yaml(&plan, &y);
    assert_non_null(strstr(y.data, "api_key: ${MY_DS_KEY}"));
    assert_null(strstr(y.data, "secret-1"));
    assert_null(strstr(y.data, "pipeline: deepseek")); /* not chosen */
    assert_non_null(strstr(y.data, "pipeline: ollama"));
    ccp_config *c = load(&y);
    assert_string_equal(c->router_default.model, "deepseek-reasoner");
    assert_string_equal(c->providers[0].api_key, "secret-1");
    assert_null(c->providers[0].pipeline);
    assert_non_null(c->providers[1].pipeline);
    ccp_config_unref(c);
    ccp_buf_free(&y);
    unsetenv("MY_DS_KEY");
}

static void a_raw_key_is_written_only_when_given(void **state)
{
    ccp_gen_plan plan = {0};
    plan.providers[plan.n++] =
        (ccp_gen_provider){.info = ccp_catalog_find("openai"), .raw_key = "sk-\"odd\": key"};
    char routes[CCP_CAT_N_STAGES][256];
    ccp_gen_propose(&plan, routes);
    ccp_buf y = CCP_BUF_INIT;
    ccp_gen_yaml(&plan, &y);
    assert_non_null(strstr(y.data, "chmod 600"));
    ccp_config *c = load(&y);
    assert_string_equal(c->providers[0].api_key, "sk-\"odd\": key");
    assert_string_equal(c->router_default.model, "gpt-5");
    ccp_config_unref(c);
    ccp_buf_free(&y);
}

static void bad_plans_are_refused(void **state)
{
    ccp_gen_plan plan = {0};
    ccp_error err = {0};
    assert_int_equal(ccp_gen_validate(&plan, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "no provider"));
    plan.providers[plan.n++] = (ccp_gen_provider){.info = ccp_catalog_find("groq")};
    plan.stages[CCP_CAT_THINKING] = "openai/gpt-5";
    assert_int_equal(ccp_gen_validate(&plan, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "thinking route 'openai/gpt-5'"));
    plan.stages[CCP_CAT_THINKING] = "groq/";
    assert_int_equal(ccp_gen_validate(&plan, &err), CCP_EINVAL);
    plan.stages[CCP_CAT_THINKING] = "groqx/m";
    assert_int_equal(ccp_gen_validate(&plan, &err), CCP_EINVAL);
    plan.stages[CCP_CAT_THINKING] = NULL;
    plan.providers[plan.n++] = (ccp_gen_provider){.info = ccp_catalog_find("groq")};
    assert_int_equal(ccp_gen_validate(&plan, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "twice"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_plan_of_every_provider_loads),
        cmocka_unit_test(stages_key_variables_and_pipelines_follow_the_plan),
        cmocka_unit_test(a_raw_key_is_written_only_when_given),
        cmocka_unit_test(bad_plans_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
