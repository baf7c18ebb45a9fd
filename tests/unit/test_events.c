/* test_events.c — the live feed: a subscriber that does not read loses
 * events past its queue (counted and told), never blocking the publisher;
 * the per-minute buckets and the recent list count every request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "debug/events.h"

#include <string.h>
#include <time.h>
#include <uv.h>

static ccp_access_rec rec(ccp_access *a, int status)
{
    ccp_access_init(a);
    a->provider = "oa";
    a->stage = "default";
    a->output_tokens = 7;
    uint64_t now = uv_hrtime();
    a->first_token_ns = now - 2000000;
    return (ccp_access_rec){.id = "req_x",
                            .method = "POST",
                            .path = "/v1/messages",
                            .status = status,
                            .start_ns = now - 5000000,
                            .end_ns = now,
                            .info = a};
}

static int ready_calls;
static void ready(void *ud)
{
    (void)ud;
    ready_calls++;
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void a_slow_subscriber_loses_events_and_is_told(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ccp_events *ev = ccp_events_new();
    ccp_events_sub *s = ccp_events_subscribe(ev, &loop, ready, NULL);
    ccp_access a;
    for (int i = 0; i < CCP_EVENTS_QUEUE + 5; i++) {
        ccp_access_rec r = rec(&a, i % 2 ? 502 : 200);
        ccp_events_publish(ev, &r);
    }
    assert_int_equal(ccp_events_dropped(ev), 5);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(ready_calls >= 1);
    ccp_buf out = CCP_BUF_INIT;
    assert_int_equal(ccp_events_take(s, &out), CCP_EVENTS_QUEUE);
    assert_non_null(strstr(out.data, "event: dropped\ndata: {\"dropped\":5}\n\n"));
    assert_int_equal(count(out.data, "event: request\n"), CCP_EVENTS_QUEUE);
    ccp_buf_reset(&out);
    assert_int_equal(ccp_events_take(s, &out), 0); /* told once */
    assert_int_equal(out.len, 0);
    ccp_buf_free(&out);

    ccp_buf st = CCP_BUF_INIT;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ccp_events_stats(ev, (int64_t)ts.tv_sec * 1000, &st);
    ccp_error err;
    json_object *o = ccp_json_parse(st.data, st.len, &err);
    json_object *mins = ccp_json_get_arr(o, "minutes");
    assert_int_equal(ccp_json_arr_len(mins), 60);
    /* The events went into the minute they were published in: the last
     * one, or the one before when the minute turned since (summed, so a
     * run across a minute boundary counts them all). */
    int64_t reqs = 0, errs = 0, toks = 0;
    for (size_t m = 58; m < 60; m++) {
        json_object *b = ccp_json_arr_at(mins, m);
        reqs += ccp_json_get_int(b, "requests", 0);
        errs += ccp_json_get_int(b, "errors", 0);
        toks += ccp_json_get_int(b, "output_tokens", 0);
    }
    assert_int_equal(reqs, CCP_EVENTS_QUEUE + 5);
    assert_int_equal(errs, (CCP_EVENTS_QUEUE + 5) / 2);
    assert_int_equal(toks, 7 * (CCP_EVENTS_QUEUE + 5));
    json_object_put(o);
    ccp_buf_free(&st);

    ccp_buf rb = CCP_BUF_INIT;
    ccp_events_recent(ev, &rb);
    o = ccp_json_parse(rb.data, rb.len, &err);
    assert_non_null(o);
    assert_int_equal(ccp_json_arr_len(ccp_json_get_arr(o, "requests")), 200);
    json_object_put(o);
    ccp_buf_free(&rb);

    ccp_events_unsubscribe(s);
    uv_run(&loop, UV_RUN_DEFAULT); /* closes the subscriber's handle */
    ccp_events_free(ev);
    uv_loop_close(&loop);
}

static void an_event_is_one_json_object(void **state)
{
    (void)state;
    ccp_access a;
    ccp_access_rec r = rec(&a, 200);
    a.error_type = "he said \"no\"";
    ccp_buf b = CCP_BUF_INIT;
    ccp_events_format(&r, 1700000000000, &b);
    ccp_error err;
    json_object *o = ccp_json_parse(b.data, b.len, &err);
    assert_non_null(o);
    assert_string_equal(ccp_json_get_str(o, "error_type"), "he said \"no\"");
    assert_int_equal(ccp_json_get_int(o, "status", 0), 200);
    assert_string_equal(ccp_json_get_str(o, "provider"), "oa");
    json_object_put(o);
    ccp_buf_free(&b);
}

static void admin_requests_are_not_published(void **state)
{
    (void)state;
    ccp_events *ev = ccp_events_new();
    ccp_access a;
    ccp_access_rec r = rec(&a, 200);
    r.admin = true;
    ccp_events_publish(ev, &r);
    ccp_buf rb = CCP_BUF_INIT;
    ccp_events_recent(ev, &rb);
    assert_string_equal(rb.data, "{\"requests\":[]}");
    ccp_buf_free(&rb);
    ccp_events_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_slow_subscriber_loses_events_and_is_told),
        cmocka_unit_test(an_event_is_one_json_object),
        cmocka_unit_test(admin_requests_are_not_published),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
