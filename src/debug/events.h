/* events.h — the live feed of finished requests: GET /admin/events (SSE),
 * `ccproxy tail` and the /ui dashboard read it.
 *
 * One ccp_events per server, fed by every worker when a response is
 * finished (app.c's request_done). Each event is formatted once, as a JSON
 * object, and handed to every subscriber's queue under a mutex held only
 * for the copy; a subscriber whose queue is full (a slow reader) loses the
 * event, and the loss is counted and reported to it. Subscribers live on
 * the admin worker's loop and are woken through a uv_async.
 *
 * It also keeps the last hour in per-minute buckets (requests, errors,
 * latency, TTFT, tokens) and the last RECENT events, for the dashboard's
 * charts and its first screen. */
#ifndef CCP_DEBUG_EVENTS_H
#define CCP_DEBUG_EVENTS_H

#include "core/buf.h"
#include "obs/access.h"

#include <stdint.h>
#include <uv.h>

typedef struct ccp_events ccp_events;
typedef struct ccp_events_sub ccp_events_sub;

/* Events a subscriber may have waiting before more are dropped. */
#define CCP_EVENTS_QUEUE 1024

ccp_events *ccp_events_new(void);
/* Every subscriber must be gone first. NULL is fine. */
void ccp_events_free(ccp_events *ev);

/* The JSON object of a finished request (for tests and the feed). */
void ccp_events_format(const ccp_access_rec *rec, int64_t unix_ms, ccp_buf *out);

/* A finished request, from any worker: to every subscriber, the buckets
 * and the recent list. Does nothing for NULL ev, and for the admin
 * listener's own requests. */
void ccp_events_publish(ccp_events *ev, const ccp_access_rec *rec);

/* A subscriber on loop: ready(ud) runs on loop when events are waiting.
 * Owned by the caller until ccp_events_unsubscribe. */
ccp_events_sub *ccp_events_subscribe(ccp_events *ev, uv_loop_t *loop, void (*ready)(void *ud),
                                     void *ud);
/* Moves the waiting events to out as SSE frames ("event: request\ndata:
 * {...}\n\n"), preceded by an "event: dropped" frame when some were lost
 * since the last call; returns how many requests were taken. */
size_t ccp_events_take(ccp_events_sub *s, ccp_buf *out);
/* Detaches and frees s (its handle closes on its loop). */
void ccp_events_unsubscribe(ccp_events_sub *s);

/* Events dropped for slow subscribers, all time. */
uint64_t ccp_events_dropped(const ccp_events *ev);

/* {"now":ms,"minutes":[{"t":ms,"requests":..,"errors":..,"latency_ms_avg":..,
 * "latency_ms_max":..,"ttft_ms_avg":..,"input_tokens":..,"output_tokens":..},
 * ...60, oldest first]} */
void ccp_events_stats(ccp_events *ev, int64_t unix_ms, ccp_buf *out);
/* {"requests":[...the last events, newest last]} */
void ccp_events_recent(ccp_events *ev, ccp_buf *out);

#endif
