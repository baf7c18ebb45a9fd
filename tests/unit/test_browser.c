/* test_browser.c — the Host, Origin and Content-Type checks that keep web
 * pages from using the proxy (src/guard/browser.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "guard/browser.h"

#include <string.h>

static char *none[1];
static ccp_strlist empty = {none, 0};

static bool host_ok(const ccp_browser_policy *p, const char *host)
{
    char msg[512] = "";
    bool ok = ccp_browser_check_host(p, host, msg, sizeof msg);
    if (!ok) assert_non_null(strstr(msg, "server.allowed_hosts"));
    return ok;
}

static void loopback_names_with_the_right_port_or_none_pass(void **state)
{
    ccp_browser_policy p = {"127.0.0.1", 3456, &empty, &empty};
    assert_true(host_ok(&p, NULL)); /* HTTP/1.0 without Host */
    assert_true(host_ok(&p, "127.0.0.1:3456"));
    assert_true(host_ok(&p, "127.0.0.1"));
    assert_true(host_ok(&p, "localhost:3456"));
    assert_true(host_ok(&p, "LOCALHOST"));
    assert_true(host_ok(&p, "[::1]:3456"));
    assert_true(host_ok(&p, "[::1]"));
    assert_false(host_ok(&p, "127.0.0.1:80"));
    assert_false(host_ok(&p, "localhost:3457"));
    assert_false(host_ok(&p, "evil.example:3456"));
    assert_false(host_ok(&p, "evil.example"));
    assert_false(host_ok(&p, "localhost.evil.example"));
    assert_false(host_ok(&p, "::1"));        /* a bare IPv6 literal is malformed */
    assert_false(host_ok(&p, "[::1"));       /* unterminated */
    assert_false(host_ok(&p, "[::1]x"));     /* junk after the bracket */
    assert_false(host_ok(&p, "127.0.0.1:")); /* an empty port */
    assert_false(host_ok(&p, "127.0.0.1:99999"));
    assert_false(host_ok(&p, ""));
}

static void the_configured_host_and_allowed_hosts_pass(void **state)
{
    char *hosts[] = {"proxy.internal", "gw.example:8443", "[fd00::2]"};
    ccp_strlist allowed = {hosts, 3};
    ccp_browser_policy p = {"192.168.1.5", 3456, &allowed, &empty};
    assert_true(host_ok(&p, "192.168.1.5:3456"));
    assert_true(host_ok(&p, "192.168.1.5"));
    assert_false(host_ok(&p, "192.168.1.5:1234"));
    assert_true(host_ok(&p, "127.0.0.1:3456"));
    assert_true(host_ok(&p, "proxy.internal"));
    assert_true(host_ok(&p, "Proxy.Internal:9999")); /* no port in the entry: any */
    assert_true(host_ok(&p, "gw.example:8443"));
    assert_false(host_ok(&p, "gw.example:3456"));
    assert_false(host_ok(&p, "gw.example"));
    assert_true(host_ok(&p, "[fd00::2]:3456"));
    assert_false(host_ok(&p, "evil.example"));
    ccp_browser_policy v6 = {"::1", 3456, &empty, &empty};
    assert_true(host_ok(&v6, "[::1]:3456"));
    assert_true(host_ok(&v6, "[0:0::1]:3456")); /* the same address spelled otherwise */
}

static void a_wildcard_bind_allows_any_host_unless_allowed_hosts_is_set(void **state)
{
    ccp_browser_policy p = {"0.0.0.0", 3456, &empty, &empty};
    assert_true(host_ok(&p, "anything.example"));
    ccp_browser_policy p6 = {"::", 3456, &empty, &empty};
    assert_true(host_ok(&p6, "anything.example:1"));
    char *hosts[] = {"proxy.internal"};
    ccp_strlist allowed = {hosts, 1};
    p.allowed_hosts = &allowed;
    assert_true(host_ok(&p, "proxy.internal:3456"));
    assert_true(host_ok(&p, "localhost:3456"));
    assert_false(host_ok(&p, "anything.example"));
    char *star[] = {"*"};
    ccp_strlist any = {star, 1};
    ccp_browser_policy q = {"127.0.0.1", 3456, &any, &empty};
    assert_true(host_ok(&q, "anything.example"));
}

static void wildcard_and_loopback_addresses(void **state)
{
    assert_true(ccp_browser_host_is_wildcard("0.0.0.0"));
    assert_true(ccp_browser_host_is_wildcard("::"));
    assert_true(ccp_browser_host_is_wildcard("0::0"));
    assert_false(ccp_browser_host_is_wildcard("127.0.0.1"));
    assert_false(ccp_browser_host_is_wildcard("localhost"));
    assert_true(ccp_browser_host_is_loopback("127.0.0.1"));
    assert_true(ccp_browser_host_is_loopback("127.1.2.3"));
    assert_true(ccp_browser_host_is_loopback("::1"));
    assert_true(ccp_browser_host_is_loopback("localhost"));
    assert_false(ccp_browser_host_is_loopback("0.0.0.0"));
    assert_false(ccp_browser_host_is_loopback("192.168.1.5"));
    assert_false(ccp_browser_host_is_loopback("::"));
}

static bool origin_ok(const ccp_browser_policy *p, const char *origin, const char *site)
{
    char msg[512] = "";
    bool ok = ccp_browser_check_origin(p, origin, site, msg, sizeof msg);
    if (!ok) assert_non_null(strstr(msg, "refused"));
    return ok;
}

static void browser_requests_need_an_allowed_origin(void **state)
{
    ccp_browser_policy p = {"127.0.0.1", 3456, &empty, &empty};
    assert_true(origin_ok(&p, NULL, NULL));
    assert_true(origin_ok(&p, NULL, "none"));        /* typed into the address bar */
    assert_true(origin_ok(&p, NULL, "same-origin")); /* not a page's request */
    assert_false(origin_ok(&p, NULL, "cross-site"));
    assert_false(origin_ok(&p, "http://evil.example", NULL));
    assert_false(origin_ok(&p, "null", NULL));
    assert_false(origin_ok(&p, "http://127.0.0.1:3456", "same-origin"));
    char *origins[] = {"https://app.example.com", "null"};
    ccp_strlist allowed = {origins, 2};
    p.allowed_origins = &allowed;
    assert_true(origin_ok(&p, "https://app.example.com", "cross-site"));
    assert_true(origin_ok(&p, "HTTPS://APP.EXAMPLE.COM", NULL));
    assert_true(origin_ok(&p, "null", NULL));
    assert_false(origin_ok(&p, "https://app.example.com.evil.example", NULL));
    assert_false(origin_ok(&p, "http://app.example.com", NULL));
    assert_false(origin_ok(&p, NULL, "cross-site")); /* no origin to match */
    char *star[] = {"*"};
    ccp_strlist any = {star, 1};
    p.allowed_origins = &any;
    assert_true(origin_ok(&p, "http://evil.example", "cross-site"));
    assert_true(origin_ok(&p, NULL, "cross-site"));
}

static void only_json_content_types_pass(void **state)
{
    assert_true(ccp_browser_is_json("application/json"));
    assert_true(ccp_browser_is_json("Application/JSON"));
    assert_true(ccp_browser_is_json("application/json; charset=utf-8"));
    assert_true(ccp_browser_is_json("application/json;charset=UTF-8"));
    assert_true(ccp_browser_is_json(" application/json "));
    assert_false(ccp_browser_is_json(NULL));
    assert_false(ccp_browser_is_json(""));
    assert_false(ccp_browser_is_json("text/plain"));
    assert_false(ccp_browser_is_json("text/plain; x=application/json"));
    assert_false(ccp_browser_is_json("application/x-www-form-urlencoded"));
    assert_false(ccp_browser_is_json("multipart/form-data; boundary=x"));
    assert_false(ccp_browser_is_json("application/jsonp"));
    assert_false(ccp_browser_is_json("application/json-seq"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_names_with_the_right_port_or_none_pass),
        cmocka_unit_test(the_configured_host_and_allowed_hosts_pass),
        cmocka_unit_test(a_wildcard_bind_allows_any_host_unless_allowed_hosts_is_set),
        cmocka_unit_test(wildcard_and_loopback_addresses),
        cmocka_unit_test(browser_requests_need_an_allowed_origin),
        cmocka_unit_test(only_json_content_types_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
