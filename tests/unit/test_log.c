/* test_log.c — levels, a URL logged without what may hold a secret (user
 * info, query), and log fields a client cannot forge lines or fields
 * with (ccp_log_field). */
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

static void field_is(const char *in, size_t max, const char *want)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_log_field(&b, in, max);
    assert_string_equal(b.data, want);
    ccp_buf_free(&b);
}

static void plain_values_stay_bare(void **state)
{
    field_is("claude-sonnet-4", 256, "claude-sonnet-4");
    field_is("/v1/messages", 256, "/v1/messages");
    field_is("modèle-ü", 256, "modèle-ü"); /* UTF-8 passes */
    field_is(NULL, 256, "-");
    field_is("", 256, "\"\"");
}

static void newlines_quotes_and_spaces_cannot_forge_a_line_or_field(void **state)
{
    field_is("x\n2026-01-01T00:00:00Z info  forged", 256,
             "\"x\\x0a2026-01-01T00:00:00Z info  forged\"");
    field_is("a b", 256, "\"a b\"");
    field_is("m stream=yes", 256, "\"m stream=yes\"");
    field_is("say \"hi\"", 256, "\"say \\\"hi\\\"\"");
    field_is("back\\slash", 256, "\"back\\\\slash\"");
    field_is("\r\t\x1b[31m\x7f", 256, "\"\\x0d\\x09\\x1b[31m\\x7f\"");
}

static void long_values_are_cut_with_an_ellipsis_on_a_character_boundary(void **state)
{
    field_is("abcdefgh", 4, "abcd...");
    field_is("ab cdefgh", 4, "\"ab c...\"");
    field_is("aéb", 2, "a..."); /* é is two bytes: not cut in half */
    field_is("abcd", 4, "abcd");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_logged_url_keeps_no_query_and_no_user_info),
        cmocka_unit_test(debug_lines_are_built_only_when_debug_is_on),
        cmocka_unit_test(plain_values_stay_bare),
        cmocka_unit_test(newlines_quotes_and_spaces_cannot_forge_a_line_or_field),
        cmocka_unit_test(long_values_are_cut_with_an_ellipsis_on_a_character_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
