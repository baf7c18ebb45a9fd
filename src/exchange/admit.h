/* admit.h — may this attempt start now? Concurrency limits per provider.
 *
 * A provider with `max_in_flight: N` has at most N transfers under way in
 * the whole process (every worker thread together); an attempt beyond that
 * waits in a bounded queue (`max_queue`) for at most `queue_timeout_ms`,
 * and is refused when the queue is full or the wait runs out (the caller
 * answers 529 overloaded_error, or falls back to the route's next target).
 *
 * Design. The counts are process-wide atomics in one ccp_admit (the app
 * owns it): in_flight and queued per provider, found by provider name so a
 * reloaded config keeps counting against the same slots. A waiting attempt
 * waits on its own worker's loop, in that worker's ccp_admit_queue: a FIFO
 * list of plain nodes (no libuv handle per waiter, so a client that leaves
 * costs an unlink, not an asynchronous close), one timer armed at the
 * earliest deadline, and one uv_async_t. Giving a slot back on any worker
 * signals every worker's async while some attempt of that provider is
 * queued anywhere (uv_async_send is thread-safe and coalesces); each worker
 * then re-checks its list in order and starts whom it can. The lost-wakeup
 * race is closed the Dekker way with sequentially consistent atomics: a
 * waiter counts itself in `queued` before it re-tries the slot, a releaser
 * gives the slot back before it reads `queued`, so either the waiter sees
 * the free slot or the releaser sees the waiter. A worker's list is only
 * touched on its own loop thread. Order is first-come-first-served within
 * a worker; across workers a freed slot goes to whichever loop gets there
 * first. A new attempt does not overtake attempts already queued for its
 * provider: it queues behind them. */
#ifndef CCP_EXCHANGE_ADMIT_H
#define CCP_EXCHANGE_ADMIT_H

#include "config/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct ccp_admit ccp_admit;
typedef struct ccp_admit_queue ccp_admit_queue;
typedef struct ccp_admit_slots ccp_admit_slots; /* one provider's counters */

/* The process-wide counters for cfg's providers (caller owns; free after
 * every worker's queue is gone). */
ccp_admit *ccp_admit_new(const ccp_config *cfg);
void ccp_admit_free(ccp_admit *a);

/* One worker's waiting list, on loop (caller owns). free closes its
 * handles (the memory goes with their close callbacks, so the loop must
 * run afterwards); its list must be empty by then. */
ccp_admit_queue *ccp_admit_queue_new(ccp_admit *a, uv_loop_t *loop);
void ccp_admit_queue_free(ccp_admit_queue *q);

typedef enum {
    CCP_ADMIT_NONE,    /* holds nothing */
    CCP_ADMIT_WAITING, /* in its worker's queue */
    CCP_ADMIT_HELD,    /* holds one of its provider's slots (or the provider is unlimited) */
} ccp_admit_state;

/* The caller's part of one attempt's admission: embed it (zeroed) in the
 * attempt's context. */
typedef struct ccp_admit_ticket {
    ccp_admit_state state;
    ccp_admit_queue *q;
    ccp_admit_slots *slots; /* NULL: the provider has no limit */
    int max;                /* the provider's max_in_flight */
    uint64_t deadline;      /* uv_now by which a waiting ticket gives up */
    /* A waiting ticket's answer: result 0, the slot is held; CCP_ETIMEOUT,
     * the wait ran out (the ticket holds nothing). Runs on the loop, never
     * from inside ccp_admit_enter. */
    void (*cb)(void *ud, int result);
    void *ud;
    struct ccp_admit_ticket *next, **pprev;
} ccp_admit_ticket;

/* Asks for a slot of provider p for t. Returns 0 when it is held now (t is
 * HELD), 1 when t waits (cb answers later), or CCP_ELIMIT when p's queue
 * is full (t holds nothing). */
int ccp_admit_enter(ccp_admit_queue *q, const ccp_provider *p, ccp_admit_ticket *t,
                    void (*cb)(void *ud, int result), void *ud);

/* Gives back what t holds (a slot, or its place in the queue); t is NONE
 * after. Safe on a NONE ticket. */
void ccp_admit_leave(ccp_admit_ticket *t);

/* p's counts now (for /status and tests); 0 for an unlimited provider. */
void ccp_admit_counts(const ccp_admit *a, const char *provider, int *in_flight, int *queued);

#endif
