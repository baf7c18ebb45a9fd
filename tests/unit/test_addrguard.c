/* test_addrguard.c — each internal address class, and public addresses
 * passing, for IPv4, IPv6 and IPv4 carried in IPv6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "upstream/addrguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const char *kind(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return ccp_addr_internal((struct sockaddr *)&ss);
}

static void internal_addresses_are_named(void **state)
{
    static const char *const cases[][2] = {
        {"127.0.0.1", "loopback"},
        {"127.1.2.3", "loopback"},
        {"10.1.2.3", "private"},
        {"172.16.0.1", "private"},
        {"172.31.255.255", "private"},
        {"192.168.1.1", "private"},
        {"169.254.1.1", "link-local"},
        {"169.254.169.254", "cloud metadata"},
        {"100.64.0.1", "shared (CGNAT)"},
        {"100.127.255.255", "shared (CGNAT)"},
        {"0.0.0.0", "unspecified"},
        {"224.0.0.1", "multicast or reserved"},
        {"::1", "loopback"},
        {"::", "unspecified"},
        {"fd00::1", "private"},
        {"fc00::1", "private"},
        {"fe80::1", "link-local"},
        {"fd00:ec2::254", "cloud metadata"},
        {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:169.254.169.254", "cloud metadata"},
        {"64:ff9b::a00:1", "private"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *k = kind(cases[i][0]);
        if (!k || strcmp(k, cases[i][1])) fail_msg("%s: %s", cases[i][0], k ? k : "public");
    }
}

static void public_addresses_pass(void **state)
{
    static const char *const cases[] = {"8.8.8.8",         "172.32.0.1",      "100.128.0.1",
                                        "172.15.255.255",  "1.1.1.1",         "160.79.104.10",
                                        "2607:6bc0::10",   "2001:4860::8888", "::ffff:8.8.8.8",
                                        "169.253.255.255", "192.169.0.1"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (kind(cases[i])) fail_msg("%s: %s", cases[i], kind(cases[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(internal_addresses_are_named),
        cmocka_unit_test(public_addresses_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
