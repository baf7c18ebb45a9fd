/* test_keystore.c — proxy keys in the state file: a made key is found by
 * id and name and stored only as its hash, names are unique, rotation
 * keeps the id and changes the hash, revocation sticks; the default path
 * honours XDG_STATE_HOME; budgets and durations parse as the CLI takes
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "teams/keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void keys_round_trip(void **state)
{
    char dir[] = "/tmp/ccp-test-keystore-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/sub/state.db", dir); /* the directory is made */
    sqlite3 *db;
    ccp_error err = {0};
    assert_int_equal(ccp_keystore_open(path, &db, &err), 0);
    ccp_keyrec k = {.name = "alice", .tenant = "eng", .rpm = 60, .models = "claude-*"};
    char secret[CCP_KEY_SECRET_MAX];
    assert_int_equal(ccp_keystore_create(db, &k, secret, &err), 0);
    assert_int_equal(strlen(secret), 47);
    assert_memory_equal(secret, "ccp-", 4);
    char hash[65];
    ccp_key_hash(secret, strlen(secret), hash);
    assert_string_equal(hash, k.hash);

    /* Control characters would reach the admin's terminal and the log. */
    ccp_keyrec esc = {.name = "bob\x1b[31m"}, nl = {.name = "carol", .tenant = "a\nb"};
    char s3[CCP_KEY_SECRET_MAX];
    assert_int_equal(ccp_keystore_create(db, &esc, s3, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "name: must not hold a control character"));
    assert_int_equal(ccp_keystore_create(db, &nl, s3, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "tenant"));

    ccp_keyrec dup = {.name = "alice"};
    char s2[CCP_KEY_SECRET_MAX];
    assert_int_equal(ccp_keystore_create(db, &dup, s2, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "exists already"));

    ccp_keyrec f;
    assert_int_equal(ccp_keystore_find(db, "alice", &f, &err), 0);
    assert_string_equal(f.id, k.id);
    assert_string_equal(f.tenant, "eng");
    assert_int_equal(f.rpm, 60);
    assert_string_equal(f.models, "claude-*");
    ccp_keyrec_free(&f);

    assert_int_equal(ccp_keystore_rotate(db, k.id, s2, &err), 0);
    assert_string_not_equal(s2, secret);
    assert_int_equal(ccp_keystore_find(db, k.id, &f, &err), 0);
    ccp_key_hash(s2, strlen(s2), hash);
    assert_string_equal(f.hash, hash);
    assert_false(f.revoked);
    ccp_keyrec_free(&f);

    assert_int_equal(ccp_keystore_revoke(db, "alice", &err), 0);
    ccp_keyrec *all;
    size_t n;
    assert_int_equal(ccp_keystore_list(db, &all, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_true(all[0].revoked);
    ccp_keyrec_free(&all[0]);
    free(all);
    assert_int_equal(ccp_keystore_find(db, "bob", &f, &err), CCP_ENOTFOUND);
    sqlite3_close(db);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void the_default_path_follows_xdg(void **state)
{
    setenv("HOME", "/home/u", 1);
    setenv("XDG_STATE_HOME", "/xdg/state", 1);
    char *p = ccp_keystore_path(NULL);
    assert_string_equal(p, "/xdg/state/ccproxy/state.db");
    free(p);
    setenv("XDG_STATE_HOME", "relative", 1); /* invalid per the spec: ignored */
    p = ccp_keystore_path(NULL);
    assert_string_equal(p, "/home/u/.local/state/ccproxy/state.db");
    free(p);
    p = ccp_keystore_path("/etc/x.db");
    assert_string_equal(p, "/etc/x.db");
    free(p);
}

static void budgets_and_durations_parse(void **state)
{
    double usd;
    int period;
    assert_int_equal(ccp_parse_budget("50usd/month", &usd, &period), 0);
    assert_true(usd == 50 && period == CCP_PERIOD_MONTH);
    assert_int_equal(ccp_parse_budget("0.5usd/day", &usd, &period), 0);
    assert_true(usd == 0.5 && period == CCP_PERIOD_DAY);
    assert_int_equal(ccp_parse_budget("50", &usd, &period), CCP_EINVAL);
    assert_int_equal(ccp_parse_budget("-5usd/day", &usd, &period), CCP_EINVAL);
    assert_int_equal(ccp_parse_budget("5usd/week", &usd, &period), CCP_EINVAL);
    int64_t s;
    assert_int_equal(ccp_parse_duration("30d", &s), 0);
    assert_int_equal(s, 30 * 86400);
    assert_int_equal(ccp_parse_duration("90m", &s), 0);
    assert_int_equal(s, 5400);
    assert_int_equal(ccp_parse_duration("3w", &s), CCP_EINVAL);
    assert_int_equal(ccp_parse_duration("d", &s), CCP_EINVAL);
}

/* Redis's keys copied into the file: each written (last_used kept), a
 * file-only key revoked, one holding a listed key's name renamed. */
static void mirror_makes_the_file_a_copy(void **state)
{
    char dir[] = "/tmp/ccp-test-keystore-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/state.db", dir);
    sqlite3 *db;
    ccp_error err = {0};
    assert_int_equal(ccp_keystore_open(path, &db, &err), 0);
    char secret[CCP_KEY_SECRET_MAX];
    ccp_keyrec mine = {.name = "alice"}, kept = {.name = "bob"};
    assert_int_equal(ccp_keystore_create(db, &mine, secret, &err), 0);
    assert_int_equal(ccp_keystore_create(db, &kept, secret, &err), 0);
    assert_int_equal(ccp_keystore_touch(db, kept.id, 1234), 0);

    ccp_keyrec src[2] = {{.id = "key_00000000000000aa", .name = "alice", .rpm = 9},
                         {.name = "bob", .tenant = "eng", .revoked = true}};
    assert_int_equal(ccp_keystore_mint(&src[0], true, secret, &err), 0);
    memcpy(src[1].id, kept.id, sizeof kept.id);
    memcpy(src[1].hash, kept.hash, sizeof kept.hash);
    assert_int_equal(ccp_keystore_mirror(db, src, 2, &err), 0);

    ccp_keyrec f;
    assert_int_equal(ccp_keystore_find(db, "alice", &f, &err), 0);
    assert_string_equal(f.id, src[0].id);
    assert_int_equal(f.rpm, 9);
    assert_false(f.revoked);
    ccp_keyrec_free(&f);
    char renamed[64];
    snprintf(renamed, sizeof renamed, "alice~%s", mine.id);
    assert_int_equal(ccp_keystore_find(db, renamed, &f, &err), 0);
    assert_true(f.revoked);
    ccp_keyrec_free(&f);
    assert_int_equal(ccp_keystore_find(db, "bob", &f, &err), 0);
    assert_true(f.revoked);
    assert_string_equal(f.tenant, "eng");
    assert_int_equal(f.last_used, 1234);
    ccp_keyrec_free(&f);
    /* Again, unchanged: the same three rows. */
    assert_int_equal(ccp_keystore_mirror(db, src, 2, &err), 0);
    ccp_keyrec *all;
    size_t n;
    assert_int_equal(ccp_keystore_list(db, &all, &n, &err), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        ccp_keyrec_free(&all[i]);
    free(all);
    sqlite3_close(db);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_round_trip),
        cmocka_unit_test(the_default_path_follows_xdg),
        cmocka_unit_test(budgets_and_durations_parse),
        cmocka_unit_test(mirror_makes_the_file_a_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
