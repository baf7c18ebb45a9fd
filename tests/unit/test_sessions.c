/* test_sessions.c — the per-session table behind GET /sessions/ID: what it
 * records, what it ignores, and that it stays bounded (LRU). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "obs/sessions.h"

#include <stdio.h>
#include <string.h>

static void record(ccp_sessions *s, const char *path, const char *sid, const char *provider,
                   int64_t in, int64_t out)
{
    ccp_access a;
    ccp_access_init(&a);
    a.stage = "thinking";
    a.provider = provider;
    a.model = "claude-sonnet-4-5";
    a.upstream_model = "deepseek-reasoner";
    a.stream = true;
    a.input_tokens = in;
    a.output_tokens = out;
    ccp_access_rec rec = {.id = "req_1",
                          .method = "POST",
                          .path = path,
                          .status = 200,
                          .session_id = sid,
                          .info = &a,
                          .start_ns = 1000000,
                          .end_ns = 3000000};
    ccp_sessions_record(s, &rec);
}

static json_object *get(ccp_sessions *s, const char *id)
{
    ccp_buf b = CCP_BUF_INIT;
    if (!ccp_sessions_write_json(s, id, &b)) return NULL;
    ccp_error err = {0};
    json_object *o = ccp_json_parse(b.data, b.len, &err);
    assert_non_null(o);
    ccp_buf_free(&b);
    return o;
}

static void the_latest_request_and_the_totals_are_kept(void **state)
{
    (void)state;
    ccp_sessions *s = ccp_sessions_new(8);
    record(s, "/v1/messages", "sess-a", "ds", 100, 10);
    record(s, "/v1/messages", "sess-a", "ds", 200, -1); /* output not reported */
    json_object *o = get(s, "sess-a");
    assert_int_equal(ccp_json_get_int(o, "requests", 0), 2);
    json_object *l = ccp_json_get(o, "latest");
    assert_string_equal(ccp_json_get_str(l, "stage"), "thinking");
    assert_string_equal(ccp_json_get_str(l, "provider"), "ds");
    assert_string_equal(ccp_json_get_str(l, "upstream_model"), "deepseek-reasoner");
    assert_int_equal(ccp_json_get_int(l, "input_tokens", 0), 200);
    assert_null(ccp_json_get_str(l, "output_tokens"));
    assert_true(json_object_is_type(ccp_json_get(l, "output_tokens"), json_type_null));
    json_object *t = ccp_json_get(o, "totals");
    assert_int_equal(ccp_json_get_int(t, "input_tokens", 0), 300);
    assert_int_equal(ccp_json_get_int(t, "output_tokens", 0), 10);
    json_object_put(o);
    ccp_sessions_free(s);
}

static void other_paths_and_requests_without_a_usable_id_are_ignored(void **state)
{
    (void)state;
    ccp_sessions *s = ccp_sessions_new(8);
    record(s, "/v1/messages/count_tokens", "sess-b", "ds", 1, 1);
    record(s, "/v1/messages", NULL, "ds", 1, 1);
    record(s, "/v1/messages", "", "ds", 1, 1);
    char longid[200];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    record(s, "/v1/messages", longid, "ds", 1, 1);
    assert_null(get(s, "sess-b"));
    assert_null(get(s, ""));
    assert_null(get(s, longid));
    ccp_sessions_free(s);
    /* Off: every call accepts NULL. */
    assert_null(ccp_sessions_new(0));
    record(NULL, "/v1/messages", "x", "ds", 1, 1);
    assert_null(get(NULL, "x"));
}

static void past_its_capacity_the_least_recently_active_session_goes(void **state)
{
    (void)state;
    ccp_sessions *s = ccp_sessions_new(4);
    char id[32];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "s%d", i);
        record(s, "/v1/messages", id, "p", i, i);
    }
    record(s, "/v1/messages", "s0", "p", 5, 5); /* s0 is now the most recent */
    record(s, "/v1/messages", "s4", "p", 4, 4); /* evicts s1 */
    json_object *o;
    assert_null(get(s, "s1"));
    const char *kept[] = {"s0", "s2", "s3", "s4"};
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(o = get(s, kept[i]));
        json_object_put(o);
    }
    /* Many more: still four, the last four. */
    for (int i = 5; i < 1000; i++) {
        snprintf(id, sizeof id, "s%d", i);
        record(s, "/v1/messages", id, "p", i, i);
    }
    for (int i = 0; i < 996; i++) {
        snprintf(id, sizeof id, "s%d", i);
        assert_null(get(s, id));
    }
    for (int i = 996; i < 1000; i++) {
        snprintf(id, sizeof id, "s%d", i);
        assert_non_null(o = get(s, id));
        json_object_put(o);
    }
    ccp_sessions_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_latest_request_and_the_totals_are_kept),
        cmocka_unit_test(other_paths_and_requests_without_a_usable_id_are_ignored),
        cmocka_unit_test(past_its_capacity_the_least_recently_active_session_goes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
