/* Tests of config_reference.c and the key tables behind it: every default
 * parses, and docs/configuration.md carries the tables as generated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/codec.h"
#include "config/config.h"
#include "config/config_internal.h"
#include "test_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A default that did not parse would leave its slot zero, silently. */
static void check_defaults(const ccp_key_table *t)
{
    char slot[64] __attribute__((aligned(16)));
    for (size_t i = 0; i < t->n; i++) {
        const ccp_key *k = &t->keys[i];
        if (!k->def || k->type == CCP_KEY_CUSTOM) continue;
        assert_true(k->offset == 0 || k->offset < 4096);
        memset(slot, 0, sizeof slot);
        ccp_key row = *k;
        row.offset = 0; /* parse into the scratch slot */
        char why[200] = "";
        if (ccp_key_set(&row, slot, k->def, why, sizeof why) != 0)
            fail_msg("%s.%s: default '%s' does not parse: %s", t->name, k->name, k->def, why);
        if (k->type == CCP_KEY_STR) free(*(char **)slot);
    }
}

static void every_default_parses(void **state)
{
    check_defaults(&ccp_cfg_server_keys);
    check_defaults(&ccp_cfg_upstream_keys);
    check_defaults(&ccp_cfg_provider_keys);
    check_defaults(&ccp_cfg_router_keys);
    check_defaults(&ccp_cfg_retry_keys);
    check_defaults(&ccp_cfg_breaker_keys);
    for (size_t i = 0; ccp_codecs[i]; i++) {
        ccp_key_table t = {ccp_codecs[i]->name, ccp_codecs[i]->opts, ccp_codecs[i]->n_opts};
        check_defaults(&t);
    }
}

static void the_loaded_defaults_are_the_tables(void **state)
{
    ccp_diags d = {0};
    ccp_config *c = NULL;
    assert_int_equal(ccp_config_load_string("t.yaml", "", 0, &c, &d), 0);
    assert_string_equal(c->server.host, "127.0.0.1");
    assert_int_equal(c->server.port, 3456);
    assert_int_equal(c->server.max_body_bytes, 32u << 20);
    assert_int_equal(c->server.log_level, CCP_LOG_INFO);
    assert_int_equal(c->upstream.total_timeout_ms, 600000);
    assert_string_equal(c->router.background_model, "*haiku*");
    assert_int_equal(c->router.long_context_tokens, 60000);
    ccp_config_unref(c);
    ccp_diags_free(&d);
}

static void configuration_md_is_current(void **state)
{
    size_t len;
    char *doc = read_fixture("../../docs/configuration.md", &len);
    assert_non_null(strstr(doc, "<!-- keys: server -->"));
    ccp_buf out = CCP_BUF_INIT;
    ccp_error err = {0};
    assert_int_equal(ccp_config_doc_update(doc, &out, &err), 0);
    if (strcmp(out.data, doc) != 0)
        fail_msg("docs/configuration.md is stale: run "
                 "'build/ccproxy config-keys --update-doc docs/configuration.md'");
    ccp_buf_free(&out);
    free(doc);
}

static void a_doc_block_is_replaced_and_bad_blocks_are_errors(void **state)
{
    ccp_buf out = CCP_BUF_INIT;
    ccp_error err = {0};
    assert_int_equal(ccp_config_doc_update(
                         "a\n<!-- keys: upstream -->\nstale-row\n<!-- /keys -->\nb\n", &out, &err),
                     0);
    assert_non_null(strstr(out.data, "| `connect_timeout_ms` | milliseconds | `10000` |"));
    assert_null(strstr(out.data, "stale-row"));
    const char *tail = "<!-- /keys -->\nb\n";
    assert_true(out.len > strlen(tail) && !strcmp(out.data + out.len - strlen(tail), tail));
    ccp_buf_free(&out);
    assert_int_equal(ccp_config_doc_update("<!-- keys: nope -->\n<!-- /keys -->\n", &out, &err),
                     CCP_EINVAL);
    assert_non_null(strstr(err.msg, "'nope'"));
    ccp_buf_free(&out);
    assert_int_equal(ccp_config_doc_update("<!-- keys: server -->\n", &out, &err), CCP_EINVAL);
    ccp_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_default_parses),
        cmocka_unit_test(the_loaded_defaults_are_the_tables),
        cmocka_unit_test(configuration_md_is_current),
        cmocka_unit_test(a_doc_block_is_replaced_and_bad_blocks_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
