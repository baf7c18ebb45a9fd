/* test_redis_usage.c — the usage counters' key layout in Redis: a row
 * name splits back into exactly the parts it was made of, whatever ':' or
 * '%' they hold (so two rows never share a name), and what is not a row
 * name is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "teams/redis_usage.h"

#include <stdlib.h>
#include <string.h>

static void roundtrip(const char *k, const char *t, const char *p, const char *m, const char *want)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_redis_usage_row(&b, k, t, p, m);
    ccp_buf_appendc(&b, '\0');
    if (want) assert_string_equal(b.data, want);
    char *parts[4];
    assert_true(ccp_redis_usage_split(b.data, parts));
    const char *in[4] = {k ? k : "", t ? t : "", p ? p : "", m ? m : ""};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(parts[i], in[i]);
        free(parts[i]);
    }
    ccp_buf_free(&b);
}

static void row_names_are_readable_and_split_back(void **state)
{
    (void)state;
    roundtrip("key_0123456789abcdef", "acme", "anthropic", "claude-sonnet-4-5",
              "key_0123456789abcdef:acme:anthropic:claude-sonnet-4-5");
    roundtrip("key_1", NULL, "mock", "mock-model", "key_1::mock:mock-model");
}

static void colons_and_percents_in_parts_cannot_make_two_rows_one(void **state)
{
    (void)state;
    /* tenant "a:b" + provider "c" and tenant "a" + provider "b:c" would be
     * one name unescaped. */
    ccp_buf x = CCP_BUF_INIT, y = CCP_BUF_INIT;
    ccp_redis_usage_row(&x, "k", "a:b", "c", "m");
    ccp_redis_usage_row(&y, "k", "a", "b:c", "m");
    ccp_buf_appendc(&x, '\0');
    ccp_buf_appendc(&y, '\0');
    assert_string_not_equal(x.data, y.data);
    ccp_buf_free(&x);
    ccp_buf_free(&y);
    roundtrip("k", "a:b", "c", "m", "k:a%3Ab:c:m");
    roundtrip("k", "100%", "p", "ollama:llama3:8b", "k:100%25:p:ollama%3Allama3%3A8b");
    roundtrip("k", "%3A", "p", "%", "k:%253A:p:%25");
}

static void what_is_not_a_row_name_is_refused(void **state)
{
    (void)state;
    const char *bad[] = {"", "a:b:c", "a:b:c:d:e", "a:b%:c:d", "a:b:c:%4", "a:%3a:c:d"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *parts[4];
        assert_false(ccp_redis_usage_split(bad[i], parts));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(row_names_are_readable_and_split_back),
        cmocka_unit_test(colons_and_percents_in_parts_cannot_make_two_rows_one),
        cmocka_unit_test(what_is_not_a_row_name_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
