/* admit.c — per-provider concurrency limits with a bounded wait queue
 * (see admit.h for the design and its wake-up argument). */
#include "exchange/admit.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct ccp_admit_slots {
    char *name;            /* the provider's; owned */
    _Atomic int in_flight; /* slots taken, across all workers */
    _Atomic int queued;    /* tickets waiting, across all workers */
};

struct ccp_admit {
    ccp_admit_slots *slots; /* one per provider of the config; owned */
    size_t n;
    uv_mutex_t lock;          /* guards queues (registration and the wake-up walk) */
    ccp_admit_queue **queues; /* every worker's, to wake them */
    size_t n_queues, cap_queues;
};

struct ccp_admit_queue {
    ccp_admit *a;
    uv_loop_t *loop;
    uv_timer_t timer; /* the earliest waiting deadline */
    uv_async_t wake;  /* a slot was given back somewhere */
    ccp_admit_ticket *head, **tail;
    int closing; /* handles still to close */
};

ccp_admit *ccp_admit_new(const ccp_config *cfg)
{
    ccp_admit *a = ccp_xcalloc(1, sizeof *a);
    a->n = cfg->n_providers;
    a->slots = ccp_xcalloc(a->n ? a->n : 1, sizeof *a->slots);
    for (size_t i = 0; i < a->n; i++)
        a->slots[i].name = ccp_xstrdup(cfg->providers[i].name);
    uv_mutex_init(&a->lock);
    return a;
}

void ccp_admit_free(ccp_admit *a)
{
    if (!a) return;
    assert(a->n_queues == 0);
    for (size_t i = 0; i < a->n; i++)
        free(a->slots[i].name);
    free(a->slots);
    free(a->queues);
    uv_mutex_destroy(&a->lock);
    free(a);
}

static ccp_admit_slots *slots_for(const ccp_admit *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->slots[i].name, name)) return &a->slots[i];
    return NULL;
}

void ccp_admit_counts(const ccp_admit *a, const char *provider, int *in_flight, int *queued)
{
    ccp_admit_slots *s = slots_for(a, provider);
    *in_flight = s ? atomic_load(&s->in_flight) : 0;
    *queued = s ? atomic_load(&s->queued) : 0;
}

/* Takes one of s's slots if fewer than max are taken. */
static bool try_take(ccp_admit_slots *s, int max)
{
    int n = atomic_load(&s->in_flight);
    while (n < max)
        if (atomic_compare_exchange_weak(&s->in_flight, &n, n + 1)) return true;
    return false;
}

/* Wakes every worker: one of their tickets may now get the slot. */
static void wake_all(ccp_admit *a)
{
    uv_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->n_queues; i++)
        uv_async_send(&a->queues[i]->wake);
    uv_mutex_unlock(&a->lock);
}

static void unlink_ticket(ccp_admit_ticket *t)
{
    ccp_admit_queue *q = t->q;
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    else
        q->tail = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
    atomic_fetch_sub(&t->slots->queued, 1);
}

static void arm(ccp_admit_queue *q);

/* Starts the tickets that can start and ends those whose wait ran out, in
 * order. Each callback may enter or leave tickets (and so change the
 * list), so the walk starts over after each one. */
static void process(ccp_admit_queue *q)
{
    uint64_t now = uv_now(q->loop);
    for (;;) {
        ccp_admit_ticket *t = q->head;
        int result = 1;
        for (; t; t = t->next) {
            if (try_take(t->slots, t->max)) {
                result = 0;
                break;
            }
            if (t->deadline <= now) {
                result = CCP_ETIMEOUT;
                break;
            }
        }
        if (!t) break;
        unlink_ticket(t);
        t->state = result == 0 ? CCP_ADMIT_HELD : CCP_ADMIT_NONE;
        t->cb(t->ud, result);
    }
    arm(q);
}

static void timer_cb(uv_timer_t *h)
{
    process(h->data);
}

static void wake_cb(uv_async_t *h)
{
    process(h->data);
}

/* The timer goes off at the earliest deadline in the list. */
static void arm(ccp_admit_queue *q)
{
    if (!q->head) {
        uv_timer_stop(&q->timer);
        return;
    }
    uint64_t first = q->head->deadline;
    for (ccp_admit_ticket *t = q->head->next; t; t = t->next)
        if (t->deadline < first) first = t->deadline;
    uint64_t now = uv_now(q->loop);
    uv_timer_start(&q->timer, timer_cb, first > now ? first - now : 0, 0);
}

ccp_admit_queue *ccp_admit_queue_new(ccp_admit *a, uv_loop_t *loop)
{
    ccp_admit_queue *q = ccp_xcalloc(1, sizeof *q);
    q->a = a;
    q->loop = loop;
    q->tail = &q->head;
    uv_timer_init(loop, &q->timer);
    q->timer.data = q;
    uv_async_init(loop, &q->wake, wake_cb);
    q->wake.data = q;
    uv_mutex_lock(&a->lock);
    if (a->n_queues == a->cap_queues) {
        a->cap_queues = a->cap_queues ? a->cap_queues * 2 : 8;
        a->queues = ccp_xrealloc(a->queues, a->cap_queues * sizeof *a->queues);
    }
    a->queues[a->n_queues++] = q;
    uv_mutex_unlock(&a->lock);
    return q;
}

static void queue_closed(uv_handle_t *h)
{
    ccp_admit_queue *q = h->data;
    if (--q->closing == 0) free(q);
}

void ccp_admit_queue_free(ccp_admit_queue *q)
{
    if (!q) return;
    assert(q->head == NULL);
    ccp_admit *a = q->a;
    /* Out of the wake-up list first: no other thread may signal the async
     * once its close has begun. */
    uv_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->n_queues; i++)
        if (a->queues[i] == q) {
            a->queues[i] = a->queues[--a->n_queues];
            break;
        }
    uv_mutex_unlock(&a->lock);
    q->closing = 2;
    uv_close((uv_handle_t *)&q->timer, queue_closed);
    uv_close((uv_handle_t *)&q->wake, queue_closed);
}

int ccp_admit_enter(ccp_admit_queue *q, const ccp_provider *p, ccp_admit_ticket *t,
                    void (*cb)(void *ud, int result), void *ud)
{
    assert(t->state == CCP_ADMIT_NONE);
    t->q = q;
    t->slots = p->max_in_flight > 0 ? slots_for(q->a, p->name) : NULL;
    t->max = p->max_in_flight;
    t->cb = cb;
    t->ud = ud;
    if (!t->slots) { /* unlimited, or a provider the counters do not know */
        t->state = CCP_ADMIT_HELD;
        return 0;
    }
    /* Nobody waiting: take a slot if one is free. Else queue behind the
     * waiters, so a newcomer does not overtake them. */
    if (atomic_load(&t->slots->queued) == 0 && try_take(t->slots, t->max)) {
        t->state = CCP_ADMIT_HELD;
        return 0;
    }
    int n = atomic_load(&t->slots->queued);
    do {
        if (n >= p->max_queue) return CCP_ELIMIT;
    } while (!atomic_compare_exchange_weak(&t->slots->queued, &n, n + 1));
    t->state = CCP_ADMIT_WAITING;
    uv_update_time(q->loop);
    t->deadline = uv_now(q->loop) + p->queue_timeout_ms;
    t->next = NULL;
    t->pprev = q->tail;
    *q->tail = t;
    q->tail = &t->next;
    /* Now counted as queued, it re-tries on the next loop turn: a slot
     * given back before the count was visible is seen there (admit.h). */
    uv_async_send(&q->wake);
    arm(q);
    return 1;
}

void ccp_admit_leave(ccp_admit_ticket *t)
{
    switch (t->state) {
    case CCP_ADMIT_NONE:
        return;
    case CCP_ADMIT_WAITING:
        unlink_ticket(t);
        t->state = CCP_ADMIT_NONE;
        return;
    case CCP_ADMIT_HELD:
        t->state = CCP_ADMIT_NONE;
        if (!t->slots) return;
        atomic_fetch_sub(&t->slots->in_flight, 1);
        if (atomic_load(&t->slots->queued) > 0) wake_all(t->q->a);
        return;
    }
}
