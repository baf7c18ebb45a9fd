/* test_tls.c — OpenSSL's error strings are not loaded at start-up, and a
 * curl message carrying OpenSSL's bare codes gets their text back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "upstream/upstream.h"
#include "upstream/tls.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

static void test_strings_are_not_loaded_at_start(void **state)
{
    (void)state;
    /* What curl would print for a TLS handshake with a plain-HTTP port. */
    char buf[256];
    ERR_error_string_n(0x0A00010BUL, buf, sizeof buf);
    assert_string_equal(buf, "error:0A00010B:lib(20)::reason(267)");
}

static void test_bare_codes_are_spelt_out(void **state)
{
    (void)state;
    char *s = ccp_tls_error_text("OpenSSL/3.0.19: error:0A00010B:lib(20)::reason(267)");
    assert_non_null(s);
    assert_string_equal(s, "OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number");
    free(s);
    /* Two codes, text around them. */
    s = ccp_tls_error_text(
        "a error:0A000086:lib(20)::reason(134) b error:0A00010B:lib(20)::reason(267)");
    assert_non_null(s);
    assert_string_equal(s, "a error:0A000086:SSL routines::certificate verify failed b "
                           "error:0A00010B:SSL routines::wrong version number");
    free(s);
}

static void test_other_messages_are_left_alone(void **state)
{
    (void)state;
    assert_null(ccp_tls_error_text("Failed to connect to 127.0.0.1 port 9: Connection refused"));
    assert_null(ccp_tls_error_text("SSL certificate problem: self-signed certificate"));
    assert_null(ccp_tls_error_text("error:0A00010B:SSL routines::wrong version number"));
    assert_null(ccp_tls_error_text("error:0A0001:lib(20)::reason(267)")); /* not 8 digits */
    assert_null(ccp_tls_error_text("x :lib(3) but no code"));
    assert_null(ccp_tls_error_text(NULL));
}

int main(void)
{
    /* The same start-up as `ccproxy serve`: OpenSSL first, then curl. */
    ccp_upstream_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_are_not_loaded_at_start),
        cmocka_unit_test(test_bare_codes_are_spelt_out),
        cmocka_unit_test(test_other_messages_are_left_alone),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ccp_upstream_global_cleanup();
    return rc;
}
