/* test_pricing.c — the pricing section: loaded from YAML with globs and
 * every kind of token, bad entries reported at their place, the first
 * matching row wins, and a request's cost from its token counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "teams/pricing.h"

#include <math.h>
#include <string.h>

static ccp_config *load(const char *yaml, ccp_diags *d)
{
    ccp_config *c = NULL;
    ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, d);
    return c;
}

static void prices_load_and_the_first_match_wins(void **state)
{
    ccp_diags d = {0};
    ccp_config *c = load("pricing:\n"
                         "  anthropic:\n"
                         "    claude-sonnet-4*: {input: 3, output: 15, cache_read: 0.3, "
                         "cache_write: 3.75}\n"
                         "    \"*\": {input: 1, output: 2}\n",
                         &d);
    assert_non_null(c);
    assert_int_equal(c->n_prices, 2);
    const ccp_price *p = ccp_price_find(c, "anthropic", "claude-sonnet-4-5");
    assert_non_null(p);
    assert_true(p->cache_write == 3.75);
    /* 1M input, 100k output, 2M cache reads, 10k cache writes. */
    double usd = ccp_price_cost(p, 1000000, 100000, 2000000, 10000);
    assert_true(fabs(usd - (3 + 1.5 + 0.6 + 0.0375)) < 1e-9);
    p = ccp_price_find(c, "anthropic", "claude-haiku");
    assert_non_null(p);
    assert_true(p->input == 1 && p->cache_read == 0);
    assert_null(ccp_price_find(c, "openai", "gpt-4o"));
    assert_null(ccp_price_find(c, NULL, "gpt-4o"));
    /* Counts not reported (-1) cost nothing. */
    assert_true(ccp_price_cost(p, -1, -1, -1, -1) == 0);
    ccp_config_unref(c);
    ccp_diags_free(&d);
}

static void bad_entries_are_reported_at_their_place(void **state)
{
    ccp_diags d = {0};
    ccp_config *c = load("pricing:\n"
                         "  anthropic:\n"
                         "    m1: {input: -3}\n"
                         "    m2: {inptu: 3}\n"
                         "    m3: 5\n",
                         &d);
    assert_null(c);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.items[0].line, 3);
    assert_non_null(strstr(d.items[0].message, "pricing.anthropic.m1.input"));
    assert_non_null(strstr(d.items[1].message, "input"));
    assert_non_null(strstr(d.items[2].message, "pricing.anthropic.m3: expected a mapping"));
    ccp_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prices_load_and_the_first_match_wins),
        cmocka_unit_test(bad_entries_are_reported_at_their_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
