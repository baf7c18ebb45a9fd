/* test_redis_url.c — state.redis URLs: redis://[[USER]:PASSWORD@]host
 * [:port][/db] splits into its parts, credentials apart from the address,
 * and what is not such a URL is refused (a config error, not a guess). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "teams/redis_store.h"

#include <string.h>

static void plain_urls_parse(void **state)
{
    (void)state;
    char host[64];
    int port, db;
    assert_true(ccp_redis_parse_url("redis://10.0.0.5:6380/3", host, sizeof host, &port, &db));
    assert_string_equal(host, "10.0.0.5");
    assert_int_equal(port, 6380);
    assert_int_equal(db, 3);
    assert_true(ccp_redis_parse_url("redis://cache", host, sizeof host, &port, &db));
    assert_string_equal(host, "cache");
    assert_int_equal(port, 6379);
    assert_int_equal(db, 0);
}

static void credentials_are_split_off(void **state)
{
    (void)state;
    char plain[128], user[32], pass[64], host[64];
    int port, db;
    const char *url = "redis://ops:s3cret-pw@10.0.0.5:6380/2";
    assert_true(ccp_redis_parse_url(url, host, sizeof host, &port, &db));
    assert_string_equal(host, "10.0.0.5");
    assert_int_equal(port, 6380);
    assert_int_equal(db, 2);
    assert_true(
        ccp_redis_url_userinfo(url, plain, sizeof plain, user, sizeof user, pass, sizeof pass));
    assert_string_equal(plain, "redis://10.0.0.5:6380/2");
    assert_string_equal(user, "ops");
    assert_string_equal(pass, "s3cret-pw");
    /* A password alone (requirepass). */
    assert_true(ccp_redis_url_userinfo("redis://:pw@h/1", plain, sizeof plain, user, sizeof user,
                                       pass, sizeof pass));
    assert_string_equal(user, "");
    assert_string_equal(pass, "pw");
    assert_string_equal(plain, "redis://h/1");
    /* None at all. */
    assert_true(ccp_redis_url_userinfo("redis://h", plain, sizeof plain, user, sizeof user, pass,
                                       sizeof pass));
    assert_string_equal(user, "");
    assert_string_equal(pass, "");
}

static void malformed_urls_are_refused(void **state)
{
    (void)state;
    char host[64], plain[64], user[8], pass[8];
    int port, db;
    const char *bad[] = {"http://h",    "redis://",       "redis://h:0",       "redis://h:99999",
                         "redis://h/x", "redis://user@h", "redis://h:6379/1/2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(ccp_redis_parse_url(bad[i], host, sizeof host, &port, &db));
    assert_false(ccp_redis_url_userinfo("redis://user@h", plain, sizeof plain, user, sizeof user,
                                        pass, sizeof pass));
    /* A password longer than the room for it is refused, not cut. */
    assert_false(ccp_redis_url_userinfo("redis://:0123456789@h", plain, sizeof plain, user,
                                        sizeof user, pass, sizeof pass));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_urls_parse),
        cmocka_unit_test(credentials_are_split_off),
        cmocka_unit_test(malformed_urls_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
