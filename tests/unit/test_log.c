/* test_log.c — log fields a client cannot forge lines or fields with
 * (src/core/log.c ccp_log_field). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"

#include <string.h>

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
        cmocka_unit_test(plain_values_stay_bare),
        cmocka_unit_test(newlines_quotes_and_spaces_cannot_forge_a_line_or_field),
        cmocka_unit_test(long_values_are_cut_with_an_ellipsis_on_a_character_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
