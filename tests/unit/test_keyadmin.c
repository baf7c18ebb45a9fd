/* test_keyadmin.c — the proxy-key admin actions shared by `ccproxy keys`
 * and /admin/keys: POST /admin/keys's body parses into a key as the CLI
 * flags do, each wrong field is refused with a message naming it; a key's
 * JSON never holds its hash, and its secret only when given; create,
 * rotate and revoke on a state file are audited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "teams/keyadmin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_object *parse(const char *text)
{
    ccp_error err = {0};
    json_object *o = ccp_json_parse(text, strlen(text), &err);
    assert_non_null(o);
    return o;
}

static void body_with_every_field_parses_as_the_flags_do(void **state)
{
    (void)state;
    json_object *o = parse("{\"name\":\"alice\",\"tenant\":\"eng\",\"rpm\":60,\"tpm\":1000,"
                           "\"concurrency\":2,\"budget\":\"50usd/month\","
                           "\"models\":[\"claude-*\",\"gpt-4o\"],\"expires\":\"2d\"}");
    ccp_keyrec k;
    const char *field = "x";
    ccp_error err = {0};
    assert_int_equal(ccp_keyadmin_from_json(o, 1000, &k, &field, &err), 0);
    assert_null(field);
    assert_string_equal(k.name, "alice");
    assert_string_equal(k.tenant, "eng");
    assert_int_equal(k.rpm, 60);
    assert_int_equal(k.tpm, 1000);
    assert_int_equal(k.concurrency, 2);
    assert_true(k.budget_usd == 50.0);
    assert_int_equal(k.budget_period, CCP_PERIOD_MONTH);
    assert_string_equal(k.models, "claude-*,gpt-4o");
    assert_int_equal(k.expires, 1000 + 2 * 86400);
    ccp_keyrec_free(&k);
    json_object_put(o);
    /* The name alone; models as a string; nulls as absent. */
    o = parse("{\"name\":\"bob\",\"models\":\"a-*,b\",\"tenant\":null}");
    assert_int_equal(ccp_keyadmin_from_json(o, 0, &k, &field, &err), 0);
    assert_string_equal(k.models, "a-*,b");
    assert_null(k.tenant);
    assert_int_equal(k.rpm, 0);
    assert_int_equal(k.expires, 0);
    assert_int_equal(k.budget_period, CCP_PERIOD_NONE);
    ccp_keyrec_free(&k);
    json_object_put(o);
}

static void each_wrong_field_is_refused_naming_it(void **state)
{
    (void)state;
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{}", "name"},
        {"{\"name\":\"\"}", "name"},
        {"{\"name\":3}", "name"},
        {"{\"name\":\"a\\u0000b\"}", "name"},
        {"{\"name\":\"x\",\"tenant\":[]}", "tenant"},
        {"{\"name\":\"x\",\"rpm\":-1}", "rpm"},
        {"{\"name\":\"x\",\"rpm\":1000000000001}", "rpm"},
        {"{\"name\":\"x\",\"tpm\":1.5}", "tpm"},
        {"{\"name\":\"x\",\"concurrency\":\"2\"}", "concurrency"},
        {"{\"name\":\"x\",\"budget\":\"lots\"}", "budget"},
        {"{\"name\":\"x\",\"budget\":50}", "budget"},
        {"{\"name\":\"x\",\"expires\":\"soon\"}", "expires"},
        {"{\"name\":\"x\",\"models\":[]}", "models"},
        {"{\"name\":\"x\",\"models\":[\"a,b\"]}", "models"},
        {"{\"name\":\"x\",\"models\":[1]}", "models"},
        {"{\"name\":\"x\",\"models\":{}}", "models"},
        {"{\"name\":\"x\",\"colour\":\"red\"}", "body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *o = parse(cases[i].body);
        ccp_keyrec k;
        const char *field = NULL;
        ccp_error err = {0};
        int rc = ccp_keyadmin_from_json(o, 0, &k, &field, &err);
        if (rc != CCP_EINVAL) fail_msg("%s: accepted", cases[i].body);
        assert_non_null(field);
        if (strcmp(field, cases[i].field)) fail_msg("%s: field %s", cases[i].body, field);
        /* The message begins with the field's name (or the unknown one's). */
        const char *want = strcmp(field, "body") ? field : "colour";
        if (strncmp(err.msg, want, strlen(want)))
            fail_msg("%s: message '%s'", cases[i].body, err.msg);
        assert_null(k.name); /* freed on failure */
        json_object_put(o);
    }
}

/* A state file alone has nothing to note. */
static void no_note(const char *line)
{
    fail_msg("unexpected note: %s", line);
}

static int count_audit(sqlite3 *db, const char *kind)
{
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM audit WHERE kind = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void actions_on_a_state_file_are_audited_and_json_hides_the_hash(void **state)
{
    (void)state;
    char dir[] = "/tmp/ccp-test-keyadmin-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/state.db", dir);
    sqlite3 *db;
    ccp_error err = {0};
    assert_int_equal(ccp_keystore_open(path, &db, &err), 0);
    ccp_keyrec k = {.name = "alice", .rpm = 5};
    char secret[CCP_KEY_SECRET_MAX];
    assert_int_equal(ccp_keyadmin_create(db, NULL, &k, secret, no_note, &err), 0);
    ccp_buf b = CCP_BUF_INIT;
    ccp_keyadmin_json(&k, NULL, &b);
    assert_null(strstr(b.data, k.hash));
    assert_null(strstr(b.data, secret));
    assert_null(strstr(b.data, "\"key\""));
    assert_non_null(strstr(b.data, "\"status\":\"active\""));
    ccp_buf_reset(&b);
    ccp_keyadmin_json(&k, secret, &b);
    assert_non_null(strstr(b.data, secret));
    assert_null(strstr(b.data, k.hash));
    /* A time past what struct tm holds (a record from Redis may say
     * anything) is null, not text made of an unset struct tm. */
    ccp_keyrec far = k;
    far.created = far.expires = INT64_MAX;
    ccp_buf_reset(&b);
    ccp_keyadmin_json(&far, NULL, &b);
    assert_non_null(strstr(b.data, "\"created\":null,\"expires\":null"));
    ccp_buf_free(&b);
    char old[CCP_KEY_SECRET_MAX];
    memcpy(old, secret, sizeof old);
    assert_int_equal(ccp_keyadmin_rotate(db, NULL, "alice", secret, no_note, &err), 0);
    assert_string_not_equal(old, secret);
    assert_int_equal(ccp_keyadmin_revoke(db, NULL, k.id, no_note, &err), 0);
    assert_int_equal(ccp_keyadmin_revoke(db, NULL, "nobody", no_note, &err), CCP_ENOTFOUND);
    assert_int_equal(ccp_keyadmin_rotate(db, NULL, "nobody", secret, no_note, &err), CCP_ENOTFOUND);
    assert_int_equal(secret[0], 0); /* zeroed on failure */
    assert_int_equal(count_audit(db, "key.create"), 1);
    assert_int_equal(count_audit(db, "key.rotate"), 1);
    assert_int_equal(count_audit(db, "key.revoke"), 1);
    ccp_keyrec r;
    assert_int_equal(ccp_keystore_find(db, "alice", &r, &err), 0);
    assert_string_equal(ccp_keyadmin_status(&r, 0), "revoked");
    ccp_keyrec_free(&r);
    sqlite3_close(db);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void status_follows_expiry(void **state)
{
    (void)state;
    ccp_keyrec k = {.expires = 100};
    assert_string_equal(ccp_keyadmin_status(&k, 99), "active");
    assert_string_equal(ccp_keyadmin_status(&k, 100), "expired");
    k.revoked = true;
    assert_string_equal(ccp_keyadmin_status(&k, 0), "revoked");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_with_every_field_parses_as_the_flags_do),
        cmocka_unit_test(each_wrong_field_is_refused_naming_it),
        cmocka_unit_test(actions_on_a_state_file_are_audited_and_json_hides_the_hash),
        cmocka_unit_test(status_follows_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
