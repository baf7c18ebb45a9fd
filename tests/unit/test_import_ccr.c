/* Tests of import_ccr.c on claude-code-router configs written from its
 * documented fields (tests/fixtures/ccr/): each converts into a config the
 * loader accepts, with the routes, pipelines and key variables it should
 * have, a report of what has no equivalent, and never a key copied. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "config/import_ccr.h"
#include "pipeline/pipeline.h"
#include "test_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct converted {
    ccp_buf yaml, report;
    ccp_config *cfg;
} converted;

static void convert(const char *fixture, converted *out)
{
    size_t len;
    char *json = read_fixture(fixture, &len);
    memset(out, 0, sizeof *out);
    ccp_error err = {0};
    if (ccp_import_ccr(json, len, &out->yaml, &out->report, &err) != 0)
        fail_msg("%s: %s", fixture, err.msg);
    ccp_diags d = {0};
    if (ccp_config_load_string(fixture, out->yaml.data, out->yaml.len, &out->cfg, &d) != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("%s converts into a config that does not load:\n%.*s", fixture, (int)out->yaml.len,
                 out->yaml.data);
    }
    ccp_diags_free(&d);
    free(json);
}

static void converted_free(converted *c)
{
    ccp_config_unref(c->cfg);
    ccp_buf_free(&c->yaml);
    ccp_buf_free(&c->report);
}

static bool has(const ccp_buf *b, const char *s)
{
    return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void the_readme_example_converts(void **state)
{
    const char *vars[] = {"OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "GEMINI_API_KEY",
                          "VOLCENGINE_API_KEY", "AIHUBMIX_API_KEY"};
    for (size_t i = 0; i < 5; i++)
        setenv(vars[i], "k", 1);
    converted c;
    convert("ccr/readme.json", &c);
    assert_int_equal(c.cfg->n_providers, 8);
    assert_string_equal(c.cfg->router_default.provider->name, "deepseek");
    assert_string_equal(c.cfg->router_default.model, "deepseek-chat");
    assert_int_equal(c.cfg->router.long_context_tokens, 60000);
    assert_int_equal(c.cfg->upstream.total_timeout_ms, 600000);
    const ccp_provider *ds = ccp_config_provider(c.cfg, "deepseek");
    assert_int_equal(ds->format, CCP_FORMAT_OPENAI_CHAT);
    assert_string_equal(ds->base_url, "https://api.deepseek.com");
    assert_non_null(ds->pipeline);
    const ccp_provider *gm = ccp_config_provider(c.cfg, "gemini");
    assert_int_equal(gm->format, CCP_FORMAT_GEMINI);
    assert_string_equal(gm->base_url, "https://generativelanguage.googleapis.com/v1beta");
    assert_int_equal(ccp_config_provider(c.cfg, "ollama")->auth, CCP_AUTH_NONE);
    assert_true(has(&c.yaml, "    - use: max-tokens\n      with: {max: 65536}\n"
                             "    - tool-args-repair\n"));
    /* Keys written in the file become variables; nothing secret is copied. */
    assert_true(has(&c.yaml, "api_key: ${OPENROUTER_API_KEY}"));
    assert_true(has(&c.report, "export OPENROUTER_API_KEY=<the key>"));
    assert_false(has(&c.yaml, "sk-xxx") || has(&c.report, "sk-xxx"));
    assert_false(has(&c.yaml, "your-secret-key") || has(&c.report, "your-secret-key"));
    assert_true(has(&c.report, "- APIKEY"));
    assert_true(has(&c.report, "- PROXY_URL: set HTTPS_PROXY"));
    assert_true(has(&c.report, "'tooluse'"));
    converted_free(&c);
    for (size_t i = 0; i < 5; i++)
        unsetenv(vars[i]);
}

static void env_references_stages_and_server_convert(void **state)
{
    setenv("OPENAI_API_KEY", "k1", 1);
    setenv("GEMINI_API_KEY", "k2", 1);
    converted c;
    convert("ccr/env_keys.json", &c);
    assert_true(has(&c.yaml, "api_key: ${OPENAI_API_KEY}"));
    assert_true(has(&c.yaml, "api_key: ${GEMINI_API_KEY}"));
    assert_string_equal(ccp_config_provider(c.cfg, "openai")->api_key, "k1");
    assert_non_null(ccp_config_provider(c.cfg, "gemini-pro"));
    assert_int_equal(c.cfg->server.port, 3457);
    assert_string_equal(c.cfg->server.host, "127.0.0.1"); /* 0.0.0.0 is not carried over */
    assert_int_equal(c.cfg->upstream.total_timeout_ms, 120000);
    assert_int_equal(c.cfg->router.long_context_tokens, 100000);
    assert_true(has(&c.yaml, "  web_search: gemini-pro/gemini-2.5-flash\n"));
    assert_true(has(&c.yaml, "  image: gemini-pro/gemini-2.5-pro\n"));
    assert_true(has(&c.yaml, "  thinking: openai/gpt-5\n"));
    assert_true(has(&c.yaml, "  log_level: debug\n"));
    assert_true(has(&c.report, "CUSTOM_ROUTER_PATH"));
    assert_true(has(&c.report, "gemini-cli.js"));
    assert_true(has(&c.report, "HOST 0.0.0.0"));
    assert_false(has(&c.report, "- OPENAI_API_KEY")); /* ccr's env entries are no loss */
    converted_free(&c);
    unsetenv("OPENAI_API_KEY");
    unsetenv("GEMINI_API_KEY");
}

static void anthropic_endpoints_and_model_transformers_convert(void **state)
{
    setenv("ANTHROPIC_API_KEY", "k1", 1);
    setenv("OPENROUTER_API_KEY", "k2", 1);
    converted c;
    convert("ccr/anthropic_openrouter.json", &c);
    const ccp_provider *a = ccp_config_provider(c.cfg, "anthropic");
    assert_int_equal(a->format, CCP_FORMAT_ANTHROPIC);
    assert_string_equal(a->base_url, "https://api.anthropic.com");
    const ccp_provider *o = ccp_config_provider(c.cfg, "openrouter");
    assert_int_equal(o->n_model_pipelines, 1);
    /* The model's openrouter options replace the provider's. */
    assert_true(has(&c.yaml, "  openrouter.m1:\n    - use: extra-headers\n"));
    assert_true(has(&c.yaml, "{\"only\":[\"moonshotai/fp8\"]}"));
    assert_true(has(&c.yaml, "    - use: sampling\n      with: {\"temperature\":0.6}\n"));
    /* A routed model missing from the list is added, and said so. */
    assert_true(has(&c.report, "'anthropic/claude-opus-4.1', not in openrouter's models"));
    assert_true(has(&c.report, "'nowhere,model' names no provider"));
    assert_true(has(&c.report, "Router.plan"));
    assert_true(has(&c.report, "'my-custom' has no built-in equivalent"));
    assert_true(has(&c.report, "'cleancache' is not needed with format openai-chat"));
    assert_int_equal(c.cfg->server.port, 3458);
    converted_free(&c);
    unsetenv("ANTHROPIC_API_KEY");
    unsetenv("OPENROUTER_API_KEY");
}

/* Found by fuzz_import_ccr: a config with no Router object read a NULL. */
static void a_config_without_router_converts(void **state)
{
    const char *j = "{\"Providers\": [{\"name\": \"l\", \"api_base_url\": "
                    "\"http://127.0.0.1:8080/v1/chat/completions\", \"models\": [\"m\"]}]}";
    ccp_buf y = CCP_BUF_INIT, r = CCP_BUF_INIT;
    ccp_error err = {0};
    assert_int_equal(ccp_import_ccr(j, strlen(j), &y, &r, &err), 0);
    ccp_config *c = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("x", y.data, y.len, &c, &d), 0);
    assert_string_equal(c->router_default.provider->name, "l"); /* the first provider */
    ccp_config_unref(c);
    ccp_diags_free(&d);
    ccp_buf_free(&y);
    ccp_buf_free(&r);
}

static void what_is_no_ccr_config_is_refused(void **state)
{
    const char *bad[] = {"{",
                         "null",
                         "[]",
                         "{}",
                         "{\"Providers\": []}",
                         "{\"Providers\": [{\"name\": \"x\"}]}",
                         ("{\"Providers\": [{\"name\": \"a\", \"api_base_url\": \"http://h\"},"
                          " {\"name\": \"A\", \"api_base_url\": \"http://h\"}]}")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccp_buf y = CCP_BUF_INIT, r = CCP_BUF_INIT;
        ccp_error err = {0};
        assert_true(ccp_import_ccr(bad[i], strlen(bad[i]), &y, &r, &err) < 0);
        assert_true(err.msg[0] != '\0');
        ccp_buf_free(&y);
        ccp_buf_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_readme_example_converts),
        cmocka_unit_test(env_references_stages_and_server_convert),
        cmocka_unit_test(anthropic_endpoints_and_model_transformers_convert),
        cmocka_unit_test(a_config_without_router_converts),
        cmocka_unit_test(what_is_no_ccr_config_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
