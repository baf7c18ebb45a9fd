/* Tests of retry.c: the backoff (with a fixed random state, no clock) and
 * every wait-hint format, good and bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exchange/retry.h"

#include <string.h>

static const ccp_retry_config rc = {
    .attempts = 5, .base_ms = 100, .max_ms = 1000, .max_wait_ms = 0, .jitter = CCP_JITTER_FULL};

static void the_ceiling_doubles_up_to_max(void **state)
{
    assert_int_equal(ccp_backoff_ceiling(&rc, 0), 100);
    assert_int_equal(ccp_backoff_ceiling(&rc, 1), 200);
    assert_int_equal(ccp_backoff_ceiling(&rc, 3), 800);
    assert_int_equal(ccp_backoff_ceiling(&rc, 4), 1000);
    assert_int_equal(ccp_backoff_ceiling(&rc, 60), 1000); /* no overflow */
    ccp_retry_config none = rc;
    none.jitter = CCP_JITTER_NONE;
    uint64_t rng = 1;
    assert_int_equal(ccp_backoff_delay(&none, 2, &rng), 400);
}

static void full_jitter_stays_within_the_ceiling_and_spreads(void **state)
{
    uint64_t rng = 42;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t d = ccp_backoff_delay(&rc, 2, &rng);
        assert_true(d <= 400);
        if (d < lo) lo = d;
        if (d > hi) hi = d;
    }
    /* Uniform over [0, 400]: 2000 draws reach both ends' neighbourhoods. */
    assert_true(lo < 40);
    assert_true(hi > 360);
    /* The same state gives the same draws: a test can inject it. */
    uint64_t a = 7, b = 7;
    assert_int_equal(ccp_backoff_delay(&rc, 1, &a), ccp_backoff_delay(&rc, 1, &b));
    uint64_t zero = 0; /* a zero state is reseeded, not stuck */
    assert_int_not_equal(ccp_rng_next(&zero), 0);
}

static void retryable_statuses(void **state)
{
    static const int yes[] = {408, 409, 429, 500, 502, 503, 504, 529};
    static const int no[] = {200, 400, 401, 403, 404, 413, 422, 501, 505};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(ccp_retry_status(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_false(ccp_retry_status(no[i]));
}

static void retry_after_in_seconds_and_dates(void **state)
{
    time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    assert_int_equal(ccp_hint_retry_after("120", now), 120000);
    assert_int_equal(ccp_hint_retry_after(" 0 ", now), 0);
    assert_int_equal(ccp_hint_retry_after("1.5", now), 1500);
    assert_int_equal(ccp_hint_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), 10000);
    assert_int_equal(ccp_hint_retry_after("Sunday, 06-Nov-94 08:49:57 GMT", now), 20000);
    assert_int_equal(ccp_hint_retry_after("Sun Nov  6 08:50:37 1994", now), 60000);
    assert_int_equal(ccp_hint_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), 0); /* past */
    assert_int_equal(ccp_hint_retry_after("99999999999", now), 24LL * 3600 * 1000);  /* a day */
    static const char *const bad[] = {"",
                                      "-5",
                                      "abc",
                                      "5s",
                                      "1e3",
                                      "0x10",
                                      "12 34",
                                      "Sun, 06 Nov 1994",
                                      "Sun, 32 Nov 1994 08:49:37 GMT",
                                      "1111111111111111111111"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ccp_hint_retry_after(bad[i], now) != -1) fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(ccp_hint_retry_after(NULL, now), -1);
}

static void retry_after_ms(void **state)
{
    assert_int_equal(ccp_hint_retry_after_ms("1500"), 1500);
    assert_int_equal(ccp_hint_retry_after_ms("20.2"), 21); /* a fraction still waits */
    assert_int_equal(ccp_hint_retry_after_ms("-1"), -1);
    assert_int_equal(ccp_hint_retry_after_ms("soon"), -1);
    assert_int_equal(ccp_hint_retry_after_ms(NULL), -1);
}

static void go_durations_of_openai(void **state)
{
    assert_int_equal(ccp_hint_duration("1s"), 1000);
    assert_int_equal(ccp_hint_duration("6m0s"), 360000);
    assert_int_equal(ccp_hint_duration("20ms"), 20);
    assert_int_equal(ccp_hint_duration("1h2m3.5s"), 3723500);
    assert_int_equal(ccp_hint_duration("0s"), 0);
    assert_int_equal(ccp_hint_duration("250us"), 1);
    assert_int_equal(ccp_hint_duration("500ns"), 1);
    static const char *const bad[] = {"", "5", "1x", "s", "1s2", "-1s", "1 s", "m"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ccp_hint_duration(bad[i]) != -1) fail_msg("accepted '%s'", bad[i]);
}

static void gemini_retry_info_in_the_body(void **state)
{
    const char *body = "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":["
                       "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\"},"
                       "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
                       "\"retryDelay\":\"2s\"}]}}";
    assert_int_equal(ccp_hint_google_body(body, strlen(body)), 2000);
    const char *arr = "[{\"error\":{\"details\":[{\"@type\":\"type.googleapis.com/"
                      "google.rpc.RetryInfo\",\"retryDelay\":\"0.250s\"}]}}]";
    assert_int_equal(ccp_hint_google_body(arr, strlen(arr)), 250);
    static const char *const bad[] = {
        "",
        "not json",
        "{\"error\":{}}",
        "{\"error\":{\"details\":{}}}",
        "{\"error\":{\"details\":[{\"@type\":\"x.RetryInfo\",\"retryDelay\":\"2\"}]}}",
        "{\"error\":{\"details\":[{\"@type\":\"google.rpc.RetryInfo\",\"retryDelay\":7}]}}",
        "{\"error\":{\"details\":[{\"retryDelay\":\"2s\"}]}}",
        "{\"error\":{\"details\":[1]}}",
        "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ccp_hint_google_body(bad[i], strlen(bad[i])) != -1) fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(ccp_hint_google_body(NULL, 0), -1);
}

static void the_head_picks_the_most_specific_hint(void **state)
{
    time_t now = 0;
    assert_int_equal(ccp_hint_from_head(429, "5", "1200", NULL, NULL, now), 1200);
    assert_int_equal(ccp_hint_from_head(429, "5", "junk", NULL, NULL, now), 5000);
    assert_int_equal(ccp_hint_from_head(429, NULL, NULL, "1s", "6m0s", now), 360000);
    assert_int_equal(ccp_hint_from_head(429, NULL, NULL, "20ms", NULL, now), 20);
    /* OpenAI sends the reset headers on every answer: not a hint on a 500. */
    assert_int_equal(ccp_hint_from_head(500, NULL, NULL, "1s", "1s", now), -1);
    assert_int_equal(ccp_hint_from_head(503, "3", NULL, NULL, NULL, now), 3000);
    assert_int_equal(ccp_hint_from_head(429, NULL, NULL, NULL, NULL, now), -1);
}

static void the_clients_own_timeout(void **state)
{
    assert_int_equal(ccp_client_timeout_ms("600"), 600000);
    assert_int_equal(ccp_client_timeout_ms("2.5"), 2500);
    assert_int_equal(ccp_client_timeout_ms("0"), -1);
    assert_int_equal(ccp_client_timeout_ms("-3"), -1);
    assert_int_equal(ccp_client_timeout_ms("ten"), -1);
    assert_int_equal(ccp_client_timeout_ms(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_ceiling_doubles_up_to_max),
        cmocka_unit_test(full_jitter_stays_within_the_ceiling_and_spreads),
        cmocka_unit_test(retryable_statuses),
        cmocka_unit_test(retry_after_in_seconds_and_dates),
        cmocka_unit_test(retry_after_ms),
        cmocka_unit_test(go_durations_of_openai),
        cmocka_unit_test(gemini_retry_info_in_the_body),
        cmocka_unit_test(the_head_picks_the_most_specific_hint),
        cmocka_unit_test(the_clients_own_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
