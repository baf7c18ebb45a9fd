/* test_log.c — levels, and that a URL is logged without what may hold a
 * secret (user info, query). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"

#include <string.h>

static void url_is(const char *url, const char *want)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_log_url(&b, url);
    if (strcmp(b.data ? b.data : "", want) != 0)
        fail_msg("%s: want '%s', got '%s'", url, want, b.data ? b.data : "");
    ccp_buf_free(&b);
}

static void a_logged_url_keeps_no_query_and_no_user_info(void **state)
{
    (void)state;
    url_is("https://api.example.com/v1/messages", "https://api.example.com/v1/messages");
    url_is("https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent"
           "?alt=sse&key=AIzaSECRET",
           "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent?...");
    url_is("https://user:s3cret@host:8443/p?key=x#frag", "https://host:8443/p?...");
    url_is("http://host?key=x", "http://host?...");
    url_is("http://host/a@b/c", "http://host/a@b/c"); /* an '@' in the path is no user info */
    url_is("http://host/p#key=x", "http://host/p");
    url_is("", "");
}

static void debug_lines_are_built_only_when_debug_is_on(void **state)
{
    (void)state;
    int evaluated = 0;
    ccp_log_set_level(CCP_LOG_INFO);
    assert_false(ccp_log_enabled(CCP_LOG_DEBUG));
    assert_true(ccp_log_enabled(CCP_LOG_INFO));
    ccp_log_debug("%d", ++evaluated);
    assert_int_equal(evaluated, 0);
    ccp_log_set_level(CCP_LOG_DEBUG);
    assert_true(ccp_log_enabled(CCP_LOG_DEBUG));
    ccp_log_debug("test_log: a debug line %d", ++evaluated);
    assert_int_equal(evaluated, 1);
    ccp_log_set_level(CCP_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_logged_url_keeps_no_query_and_no_user_info),
        cmocka_unit_test(debug_lines_are_built_only_when_debug_is_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
