/* test_admit.c — the per-provider admission queue: slots are counted, a
 * full queue refuses at once, waiters are served first come first served
 * when a slot frees, a wait runs out, a leaving waiter gives its place back,
 * and two threads' loops share one provider's slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/error.h"
#include "exchange/admit.h"

#include <string.h>
#include <uv.h>

static ccp_provider prov = {
    .name = "p", .max_in_flight = 2, .max_queue = 2, .queue_timeout_ms = 600000};
static ccp_config cfg = {.providers = &prov, .n_providers = 1};

typedef struct waiter {
    ccp_admit_ticket t;
    int result; /* 1 until answered */
    int order;  /* when answered */
} waiter;

static int answered;

static void cb(void *ud, int result)
{
    waiter *w = ud;
    w->result = result;
    w->order = ++answered;
}

static int enter(ccp_admit_queue *q, waiter *w)
{
    memset(w, 0, sizeof *w);
    w->result = 1;
    return ccp_admit_enter(q, &prov, &w->t, cb, w);
}

static void counts(ccp_admit *a, int want_in_flight, int want_queued)
{
    int f, qd;
    ccp_admit_counts(a, "p", &f, &qd);
    assert_int_equal(f, want_in_flight);
    assert_int_equal(qd, want_queued);
}

static void slots_queue_and_refusal(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ccp_admit *a = ccp_admit_new(&cfg);
    ccp_admit_queue *q = ccp_admit_queue_new(a, &loop);
    waiter w[5];
    answered = 0;
    assert_int_equal(enter(q, &w[0]), 0);
    assert_int_equal(enter(q, &w[1]), 0);
    counts(a, 2, 0);
    assert_int_equal(enter(q, &w[2]), 1);
    assert_int_equal(enter(q, &w[3]), 1);
    counts(a, 2, 2);
    assert_int_equal(enter(q, &w[4]), CCP_ELIMIT); /* max_queue: 2 */
    assert_int_equal(w[4].t.state, CCP_ADMIT_NONE);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(answered, 0); /* nothing freed: still waiting */
    /* A slot frees: the first waiter, not the second, gets it. */
    ccp_admit_leave(&w[0].t);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(w[2].result, 0);
    assert_int_equal(w[3].result, 1);
    assert_int_equal(w[2].t.state, CCP_ADMIT_HELD);
    counts(a, 2, 1);
    /* A waiter that leaves gives its place back. */
    ccp_admit_leave(&w[3].t);
    counts(a, 2, 0);
    ccp_admit_leave(&w[1].t);
    ccp_admit_leave(&w[2].t);
    ccp_admit_leave(&w[2].t); /* twice is harmless */
    counts(a, 0, 0);
    ccp_admit_queue_free(q);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    ccp_admit_free(a);
}

static void a_wait_runs_out(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ccp_admit *a = ccp_admit_new(&cfg);
    ccp_admit_queue *q = ccp_admit_queue_new(a, &loop);
    prov.queue_timeout_ms = 1;
    waiter w[3];
    answered = 0;
    enter(q, &w[0]);
    enter(q, &w[1]);
    assert_int_equal(enter(q, &w[2]), 1);
    while (w[2].result == 1)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(w[2].result, CCP_ETIMEOUT);
    assert_int_equal(w[2].t.state, CCP_ADMIT_NONE);
    counts(a, 2, 0);
    prov.queue_timeout_ms = 600000;
    ccp_admit_leave(&w[0].t);
    ccp_admit_leave(&w[1].t);
    ccp_admit_queue_free(q);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ccp_admit_free(a);
}

static void an_unlimited_provider_is_never_counted(void **state)
{
    (void)state;
    ccp_provider free_p = {.name = "p", .max_in_flight = 0};
    uv_loop_t loop;
    uv_loop_init(&loop);
    ccp_admit *a = ccp_admit_new(&cfg);
    ccp_admit_queue *q = ccp_admit_queue_new(a, &loop);
    ccp_admit_ticket t[100];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 100; i++)
        assert_int_equal(ccp_admit_enter(q, &free_p, &t[i], cb, NULL), 0);
    counts(a, 0, 0);
    for (int i = 0; i < 100; i++)
        ccp_admit_leave(&t[i]);
    ccp_admit_queue_free(q);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ccp_admit_free(a);
}

/* Another thread's loop holds both slots and queues behind them; this
 * thread gives one back: the other loop is woken and its waiter served. */
typedef struct other {
    ccp_admit *a;
    uv_sem_t queued, done;
    waiter w;
} other;

static void other_main(void *arg)
{
    other *o = arg;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ccp_admit_queue *q = ccp_admit_queue_new(o->a, &loop);
    o->w.result = 1;
    int rc = ccp_admit_enter(q, &prov, &o->w.t, cb, &o->w);
    assert_int_equal(rc, 1);
    uv_sem_post(&o->queued);
    while (o->w.result == 1)
        uv_run(&loop, UV_RUN_ONCE);
    ccp_admit_leave(&o->w.t);
    ccp_admit_queue_free(q);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    uv_sem_post(&o->done);
}

static void a_slot_freed_on_one_loop_wakes_a_waiter_on_another(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ccp_admit *a = ccp_admit_new(&cfg);
    ccp_admit_queue *q = ccp_admit_queue_new(a, &loop);
    waiter w[2];
    enter(q, &w[0]);
    enter(q, &w[1]);
    other o = {.a = a};
    uv_sem_init(&o.queued, 0);
    uv_sem_init(&o.done, 0);
    uv_thread_t th;
    uv_thread_create(&th, other_main, &o);
    uv_sem_wait(&o.queued);
    ccp_admit_leave(&w[0].t);
    uv_sem_wait(&o.done);
    uv_thread_join(&th);
    assert_int_equal(o.w.result, 0);
    ccp_admit_leave(&w[1].t);
    counts(a, 0, 0);
    ccp_admit_queue_free(q);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    uv_sem_destroy(&o.queued);
    uv_sem_destroy(&o.done);
    ccp_admit_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slots_queue_and_refusal),
        cmocka_unit_test(a_wait_runs_out),
        cmocka_unit_test(an_unlimited_provider_is_never_counted),
        cmocka_unit_test(a_slot_freed_on_one_loop_wakes_a_waiter_on_another),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
