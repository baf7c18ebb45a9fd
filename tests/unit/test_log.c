/* test_log.c — levels, a URL logged without what may hold a secret (user
 * info, query), and log fields a client cannot forge lines or fields
 * with (ccp_log_field). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* What the calls in between write to stderr, read back. */
static int saved_fd = -1;
static FILE *captured;

static void capture(void)
{
    fflush(stderr);
    captured = tmpfile();
    assert_non_null(captured);
    saved_fd = dup(STDERR_FILENO);
    dup2(fileno(captured), STDERR_FILENO);
}

static char *captured_text(void)
{
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);
    long n = ftell(captured);
    char *out = calloc(1, (size_t)n + 1);
    rewind(captured);
    assert_int_equal(fread(out, 1, (size_t)n, captured), (size_t)n);
    fclose(captured);
    return out;
}

/* The access log builds its line itself (ccp_log_line_head/_write): the
 * line must be the one ccp_log writes for the same message, in both
 * formats, the text cut included. */
static void a_line_built_by_hand_is_the_line_ccp_log_writes(void **state)
{
    (void)state;
    static char long_msg[3001];
    memset(long_msg, 'x', 3000);
    long_msg[3000] = '\0';
    const char *const msgs[] = {"req_0123456789abcdef01234567 POST /v1/messages 200", long_msg};
    for (int f = 0; f < 2; f++) {
        /* (ccp_log cuts a long JSON message before it escapes it: the
         * hand-built line's caller cuts its own fields.) */
        for (size_t i = 0; i < (f == CCP_LOG_JSON ? 1u : 2u); i++) {
            ccp_log_set_format((ccp_log_format)f);
            capture();
            ccp_log(CCP_LOG_INFO, "%s", msgs[i]);
            ccp_buf b = CCP_BUF_INIT;
            ccp_log_line_head(&b, (ccp_log_format)f, CCP_LOG_INFO);
            if (f == CCP_LOG_JSON) {
                ccp_buf_appends(&b, ",\"msg\":");
                ccp_log_json_field(&b, msgs[i], 2048);
                if (i == 0) ccp_buf_appends(&b, ",\"request_id\":\"req_0123456789abcdef01234567\"");
            } else {
                ccp_buf_appends(&b, msgs[i]);
            }
            ccp_log_line_write(&b, (ccp_log_format)f);
            ccp_buf_free(&b);
            char *out = captured_text();
            char *second = strchr(out, '\n');
            assert_non_null(second);
            *second++ = '\0';
            char *end = strchr(second, '\n');
            assert_non_null(end);
            assert_int_equal(end[1], '\0');
            *end = '\0';
            /* The same line but for the clock's milliseconds. */
            size_t at = f == CCP_LOG_JSON ? strlen("{\"time\":\"2025-01-31T12:00:00.") : 20;
            assert_int_equal(strlen(out), strlen(second));
            assert_memory_equal(out, second, at - 4); /* to the minute */
            assert_string_equal(out + at + 3, second + at + 3);
            if (f == CCP_LOG_TEXT && i == 1) assert_int_equal(strlen(out), 2046);
            free(out);
        }
    }
    ccp_log_set_format(CCP_LOG_TEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_logged_url_keeps_no_query_and_no_user_info),
        cmocka_unit_test(debug_lines_are_built_only_when_debug_is_on),
        cmocka_unit_test(plain_values_stay_bare),
        cmocka_unit_test(newlines_quotes_and_spaces_cannot_forge_a_line_or_field),
        cmocka_unit_test(long_values_are_cut_with_an_ellipsis_on_a_character_boundary),
        cmocka_unit_test(a_line_built_by_hand_is_the_line_ccp_log_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
