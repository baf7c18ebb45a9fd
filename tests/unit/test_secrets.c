/* test_secrets.c — every configured secret is cut out of text that leaves
 * the process, and a protected process is not dumpable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "guard/secrets.h"

#include <string.h>
#include <sys/prctl.h>

static ccp_config *load(const char *yaml)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, &d) != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("config did not load");
    }
    ccp_diags_free(&d);
    return c;
}

static void every_key_and_header_value_is_redacted(void **state)
{
    ccp_config *c = load("providers:\n"
                         "  - name: a\n    base_url: http://x\n    api_key: sk-alpha-0001\n"
                         "    api_keys: [sk-alpha-0002]\n"
                         "    headers: {Authorization: 'Bearer tok-in-a-header', x-flag: '1'}\n"
                         "  - name: b\n    base_url: http://y\n    api_key: sk-beta-00003\n"
                         "telemetry:\n  headers: {x-otlp: otlp-token-abc}\n");
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, "invalid key sk-alpha-0001, also sk-alpha-0002 and sk-beta-00003; "
                        "token tok-in-a-header; otlp-token-abc; flag 1 stays");
    assert_int_equal(ccp_secrets_redact(c, &b), 5);
    assert_string_equal(b.data, "invalid key [redacted], also [redacted] and [redacted]; token "
                                "[redacted]; [redacted]; flag 1 stays");
    /* The key at the very end, twice in a row, and nothing left to find. */
    ccp_buf_reset(&b);
    ccp_buf_appends(&b, "sk-beta-00003sk-beta-00003");
    assert_int_equal(ccp_secrets_redact(c, &b), 2);
    assert_string_equal(b.data, "[redacted][redacted]");
    assert_int_equal(ccp_secrets_redact(c, &b), 0);
    ccp_buf_free(&b);
    ccp_config_unref(c);
}

static void the_admin_key_is_redacted(void **state)
{
    ccp_config *c = load("auth:\n  admin_key: adm-key-0123456789\n");
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, "authorization: Bearer adm-key-0123456789");
    assert_int_equal(ccp_secrets_redact(c, &b), 1);
    assert_string_equal(b.data, "authorization: Bearer [redacted]");
    ccp_buf_free(&b);
    ccp_config_unref(c);
}

static void a_protected_process_is_not_dumpable(void **state)
{
    ccp_error err = {0};
    assert_int_equal(prctl(PR_GET_DUMPABLE), 1);
    assert_int_equal(ccp_secrets_protect_process(&err), 0);
    assert_int_equal(prctl(PR_GET_DUMPABLE), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_key_and_header_value_is_redacted),
        cmocka_unit_test(the_admin_key_is_redacted),
        cmocka_unit_test(a_protected_process_is_not_dumpable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
