/* test_redis_keys.c — a proxy key's record in Redis: every field survives
 * encode → HGETALL's field/value list → decode (a budget as the same
 * double, absent tenant and models as none); unknown fields from a newer
 * ccproxy are ignored; a record missing what identifies a key, or with a
 * malformed value, is refused naming the field, and leaks nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "teams/redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static ccp_keyrec sample(void)
{
    ccp_keyrec k = {.id = "key_0123456789abcdef",
                    .name = "alice",
                    .tenant = "eng",
                    .hash = HASH,
                    .prefix = "ccp-AbCd",
                    .created = 1796083991,
                    .expires = 1798675991,
                    .revoked = true,
                    .rpm = 60,
                    .tpm = 100000,
                    .concurrency = 4,
                    .budget_usd = 0.1 + 0.2, /* not a short decimal: must come back exact */
                    .budget_period = CCP_PERIOD_MONTH,
                    .models = "claude-*,gpt-4o"};
    return k;
}

static void a_record_survives_encoding_and_decoding(void **state)
{
    ccp_keyrec k = sample();
    ccp_rkey_enc e;
    ccp_rkey_encode(&k, &e);
    assert_int_equal(e.argc, 2 * CCP_RKEY_FIELDS);
    ccp_keyrec d;
    ccp_error err = {0};
    assert_int_equal(ccp_rkey_decode(e.argv, e.argc, &d, &err), 0);
    assert_string_equal(d.id, k.id);
    assert_string_equal(d.name, "alice");
    assert_string_equal(d.tenant, "eng");
    assert_string_equal(d.hash, HASH);
    assert_string_equal(d.prefix, "ccp-AbCd");
    assert_int_equal(d.created, k.created);
    assert_int_equal(d.expires, k.expires);
    assert_true(d.revoked);
    assert_int_equal(d.rpm, 60);
    assert_int_equal(d.tpm, 100000);
    assert_int_equal(d.concurrency, 4);
    assert_true(d.budget_usd == k.budget_usd);
    assert_int_equal(d.budget_period, CCP_PERIOD_MONTH);
    assert_string_equal(d.models, "claude-*,gpt-4o");
    assert_int_equal(d.last_used, 0); /* not kept in Redis */
    ccp_keyrec_free(&d);
}

static void no_tenant_and_no_models_stay_none(void **state)
{
    ccp_keyrec k = sample();
    k.tenant = k.models = NULL;
    k.revoked = false;
    k.budget_usd = 0;
    k.budget_period = CCP_PERIOD_NONE;
    ccp_rkey_enc e;
    ccp_rkey_encode(&k, &e);
    assert_int_equal(e.argc, 2 * (CCP_RKEY_FIELDS - 2));
    ccp_keyrec d;
    ccp_error err = {0};
    assert_int_equal(ccp_rkey_decode(e.argv, e.argc, &d, &err), 0);
    assert_null(d.tenant);
    assert_null(d.models);
    assert_false(d.revoked);
    assert_int_equal(d.budget_period, CCP_PERIOD_NONE);
    ccp_keyrec_free(&d);
}

static void unknown_fields_are_ignored(void **state)
{
    const char *kv[] = {"id",     "key_1", "future", "x",        "hash",   HASH,
                        "prefix", "ccp-1", "name",   "bob",      "rpm",    "7",
                        "colour", "blue",  "tenant", "research", "models", ""};
    ccp_keyrec d;
    ccp_error err = {0};
    assert_int_equal(ccp_rkey_decode(kv, 18, &d, &err), 0);
    assert_string_equal(d.name, "bob");
    assert_int_equal(d.rpm, 7);
    assert_string_equal(d.tenant, "research");
    ccp_keyrec_free(&d);
}

/* Replaces field f's value in a sample's encoding (or drops the field
 * when v is NULL) and returns what decoding says. */
static int decode_with(const char *f, const char *v, ccp_error *err)
{
    ccp_keyrec k = sample();
    ccp_rkey_enc e;
    ccp_rkey_encode(&k, &e);
    const char *kv[2 * CCP_RKEY_FIELDS];
    size_t n = 0;
    for (size_t i = 0; i < e.argc; i += 2) {
        if (!strcmp(e.argv[i], f) && !v) continue;
        kv[n++] = e.argv[i];
        kv[n++] = !strcmp(e.argv[i], f) ? v : e.argv[i + 1];
    }
    ccp_keyrec d;
    int rc = ccp_rkey_decode(kv, n, &d, err);
    if (!rc) ccp_keyrec_free(&d);
    return rc;
}

static void a_broken_record_is_refused_naming_the_field(void **state)
{
    static const char *const missing[] = {"id", "hash", "name", "prefix"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        ccp_error err = {0};
        assert_int_equal(decode_with(missing[i], NULL, &err), CCP_EINVAL);
        char want[40];
        snprintf(want, sizeof want, "'%s'", missing[i]);
        assert_non_null(strstr(err.msg, want));
    }
    static const char *const bad[][2] = {
        {"hash", "9F86"},
        {"hash", HASH "00"},
        {"rpm", "-1"},
        {"rpm", "12x"},
        {"tpm", ""},
        {"created", "99999999999999999999999"},
        {"revoked", "yes"},
        {"budget_usd", "NaN"},
        {"budget_usd", "-3"},
        {"budget_period", "3"},
        {"id", "key_0123456789abcdef0123456789"},
        {"prefix", "ccp-0123456789"},
        {"name", ""},
        {"name", "a\nforged log line"},
        {"tenant", "eng\x1b[2J"},
        {"models", "claude-*\r"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ccp_error err = {0};
        assert_int_equal(decode_with(bad[i][0], bad[i][1], &err), CCP_EINVAL);
        assert_non_null(strstr(err.msg, bad[i][0]));
    }
    /* A field given twice (a corrupt HGETALL) is refused, not leaked. */
    const char *kv[] = {"id", "key_1", "hash", HASH, "prefix", "p", "name", "a", "name", "b"};
    ccp_keyrec d;
    ccp_error err = {0};
    assert_int_equal(ccp_rkey_decode(kv, 10, &d, &err), CCP_EINVAL);
    assert_null(d.name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_record_survives_encoding_and_decoding),
        cmocka_unit_test(no_tenant_and_no_models_stay_none),
        cmocka_unit_test(unknown_fields_are_ignored),
        cmocka_unit_test(a_broken_record_is_refused_naming_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
