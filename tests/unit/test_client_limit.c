/* test_client_limit.c — the per-client table: a connection cap per address
 * (IPv4 alone, IPv6 by /64), a token bucket per address with retry-after,
 * and one client's use never counted against another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/client_limit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static ccp_client_addr v4(const char *s)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, s, &sa.sin_addr);
    ccp_client_addr a;
    assert_true(ccp_client_addr_of((struct sockaddr *)&sa, &a));
    return a;
}

static ccp_client_addr v6(const char *s)
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, s, &sa.sin6_addr);
    ccp_client_addr a;
    assert_true(ccp_client_addr_of((struct sockaddr *)&sa, &a));
    return a;
}

static void test_connection_cap_is_per_address(void **state)
{
    (void)state;
    ccp_client_table *t = ccp_client_table_new(2, 0, 0);
    ccp_client_addr a = v4("127.0.0.1"), b = v4("127.0.0.2");
    assert_true(ccp_client_conn_open(t, &a));
    assert_true(ccp_client_conn_open(t, &a));
    assert_false(ccp_client_conn_open(t, &a));
    assert_false(ccp_client_conn_open(t, &a));
    assert_true(ccp_client_conn_open(t, &b)); /* another client is not affected */
    assert_int_equal(ccp_client_refused_connections(t), 2);
    ccp_client_conn_close(t, &a);
    assert_true(ccp_client_conn_open(t, &a)); /* a slot freed */
    ccp_client_conn_close(t, &a);
    ccp_client_conn_close(t, &a);
    ccp_client_conn_close(t, &b);
    ccp_client_table_free(t);
}

static void test_ipv6_counts_by_64_and_mapped_ipv4_as_ipv4(void **state)
{
    (void)state;
    ccp_client_addr x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9"),
                    z = v6("2001:db8:1:3::1");
    assert_memory_equal(&x, &y, sizeof x);
    assert_memory_not_equal(&x, &z, sizeof x);
    ccp_client_addr m = v6("::ffff:192.0.2.7"), p = v4("192.0.2.7");
    assert_memory_equal(&m, &p, sizeof m);
    char text[64];
    ccp_client_addr_text(&p, text, sizeof text);
    assert_string_equal(text, "192.0.2.7");
    ccp_client_addr_text(&x, text, sizeof text);
    assert_string_equal(text, "2001:db8:1:2::/64");
}

static void test_rate_is_a_token_bucket_per_address(void **state)
{
    (void)state;
    ccp_client_table *t = ccp_client_table_new(0, 3, 60000); /* 3/m */
    ccp_client_addr a = v4("10.0.0.1"), b = v4("10.0.0.2");
    uint32_t after = 0;
    uint64_t now = 1000000;
    for (int i = 0; i < 3; i++)
        assert_true(ccp_client_rate_take(t, &a, now, &after));
    assert_false(ccp_client_rate_take(t, &a, now, &after));
    assert_int_equal(after, 20);                           /* 20 s for one token */
    assert_true(ccp_client_rate_take(t, &b, now, &after)); /* b has its own bucket */
    /* 20 s later one token is back, and only one. */
    now += 20000;
    assert_true(ccp_client_rate_take(t, &a, now, &after));
    assert_false(ccp_client_rate_take(t, &a, now, &after));
    /* A long pause refills to the bucket's size, no more. */
    now += 3600000;
    for (int i = 0; i < 3; i++)
        assert_true(ccp_client_rate_take(t, &a, now, &after));
    assert_false(ccp_client_rate_take(t, &a, now, &after));
    assert_int_equal(ccp_client_limited_requests(t), 3);
    ccp_client_table_free(t);
}

static void test_refusals_are_logged_once_per_burst(void **state)
{
    (void)state;
    ccp_client_table *t = ccp_client_table_new(1, 0, 0);
    assert_true(ccp_client_should_log(t, 5000));
    assert_false(ccp_client_should_log(t, 5001));
    /* Another worker's loop time may lag the one that logged. */
    assert_false(ccp_client_should_log(t, 4990));
    assert_false(ccp_client_should_log(t, 14999));
    assert_true(ccp_client_should_log(t, 15001));
    ccp_client_table_free(t);
}

static void test_many_clients_come_and_go(void **state)
{
    (void)state;
    /* More addresses than a shard keeps before sweeping: every one opens
     * and closes, and the table frees what it kept (ASan checks). */
    ccp_client_table *t = ccp_client_table_new(1, 5, 1000);
    for (unsigned i = 0; i < 200000; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        ccp_client_addr a;
        ccp_client_addr_of((struct sockaddr *)&sa, &a);
        assert_true(ccp_client_conn_open(t, &a));
        assert_true(ccp_client_rate_take(t, &a, i / 100, NULL));
        ccp_client_conn_close(t, &a);
    }
    ccp_client_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connection_cap_is_per_address),
        cmocka_unit_test(test_ipv6_counts_by_64_and_mapped_ipv4_as_ipv4),
        cmocka_unit_test(test_rate_is_a_token_bucket_per_address),
        cmocka_unit_test(test_refusals_are_logged_once_per_burst),
        cmocka_unit_test(test_many_clients_come_and_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
