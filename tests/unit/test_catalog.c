/* Tests of catalog.c: every row of the provider catalog, written as YAML
 * with every stage it proposes, passes the config loader; the embedded
 * default built from it loads; docs/providers.md is current. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/catalog.h"
#include "config/config.h"
#include "test_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void every_row_loads_with_its_stages(void **state)
{
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        if (p->key_env) setenv(p->key_env, "test-key", 1);
        ccp_buf y = CCP_BUF_INIT;
        ccp_buf_appends(&y, "providers:\n");
        ccp_catalog_provider_yaml(&y, p, NULL, NULL, true, true);
        if (p->dialect) {
            ccp_buf_appends(&y, "pipelines:\n");
            ccp_catalog_pipeline_yaml(&y, p);
        }
        ccp_buf_appends(&y, "router:\n");
        for (size_t s = 0; s < CCP_CAT_N_STAGES; s++) {
            if (p->stages[s])
                ccp_buf_printf(&y, "  %s: \"%s/%s\"\n", ccp_catalog_stage_names[s], p->name,
                               p->stages[s]);
            else if (s == CCP_CAT_DEFAULT)
                ccp_buf_printf(&y, "  default: %s\n", p->name);
        }
        ccp_config *c = NULL;
        ccp_diags d = {0};
        if (ccp_config_load_string(p->name, y.data, y.len, &c, &d) != 0) {
            ccp_diags_print(&d, stderr);
            fail_msg("catalog row %s does not load:\n%s", p->name, y.data);
        }
        assert_int_equal(c->n_providers, 1);
        assert_string_equal(c->router_default.provider->name, p->name);
        if (p->stages[CCP_CAT_DEFAULT])
            assert_string_equal(c->router_default.model, p->stages[CCP_CAT_DEFAULT]);
        else
            assert_null(c->router_default.model);
        if (p->key_env) assert_string_equal(c->providers[0].api_key, "test-key");
        /* Every proposed model is one the provider lists. */
        for (size_t s = 0; s < CCP_CAT_N_STAGES; s++) {
            if (!p->stages[s]) continue;
            bool listed = false;
            for (size_t m = 0; p->models[m]; m++)
                listed |= !strcmp(p->models[m], p->stages[s]);
            if (!listed) fail_msg("%s: stage model %s is not in models", p->name, p->stages[s]);
        }
        ccp_config_unref(c);
        ccp_diags_free(&d);
        ccp_buf_free(&y);
        if (p->key_env) unsetenv(p->key_env);
    }
}

static void names_are_unique_and_found(void **state)
{
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        assert_ptr_equal(ccp_catalog_find(ccp_provider_catalog[i].name), &ccp_provider_catalog[i]);
        assert_non_null(ccp_provider_catalog[i].docs);
    }
    assert_null(ccp_catalog_find("nope"));
}

static void the_embedded_default_carries_the_dialect_pipeline(void **state)
{
    setenv("DEEPSEEK_API_KEY", "k", 1);
    ccp_config *c = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_default(&c, &d), 0);
    assert_string_equal(c->router_default.provider->name, "deepseek");
    assert_string_equal(c->router_default.model, "deepseek-chat");
    assert_non_null(c->router_default.provider->pipeline); /* the deepseek dialect */
    ccp_config_unref(c);
    ccp_diags_free(&d);
    unsetenv("DEEPSEEK_API_KEY");
}

static void providers_md_is_current(void **state)
{
    char *doc = read_fixture("../../docs/providers.md", NULL);
    ccp_buf out = CCP_BUF_INIT;
    ccp_catalog_write_markdown(&out);
    if (strcmp(out.data, doc) != 0)
        fail_msg("docs/providers.md is stale: run "
                 "'build/ccproxy providers --markdown > docs/providers.md'");
    ccp_buf_free(&out);
    free(doc);
}

static void json_is_one_array(void **state)
{
    ccp_buf out = CCP_BUF_INIT;
    ccp_catalog_write_json(&out);
    assert_true(out.data[0] == '[');
    assert_non_null(strstr(out.data, "\"name\": \"llamacpp\""));
    ccp_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_loads_with_its_stages),
        cmocka_unit_test(names_are_unique_and_found),
        cmocka_unit_test(the_embedded_default_carries_the_dialect_pipeline),
        cmocka_unit_test(providers_md_is_current),
        cmocka_unit_test(json_is_one_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
