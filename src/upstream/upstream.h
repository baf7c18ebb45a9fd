/* upstream.h — the HTTP client that talks to providers.
 *
 * One ccp_upstream per worker loop: a libcurl multi handle driven by the
 * loop's poll handles and a timer (curl's multi-socket API), so transfers
 * share connections (keep-alive, HTTP/2 multiplexing where offered) and never
 * block the loop. TLS verification is on unless a provider's
 * tls.insecure_skip_verify says otherwise, at TLS 1.2 or newer; redirects
 * are never followed; a connection to a loopback, private, link-local or
 * metadata address is refused unless the provider allows it
 * (upstream/addrguard.h). HTTPS_PROXY / NO_PROXY are honoured as curl does;
 * with a proxy set in the environment the address check is not made: the
 * proxy, not ccproxy, resolves names and connects (docs/security.md). */
#ifndef CCP_UPSTREAM_UPSTREAM_H
#define CCP_UPSTREAM_UPSTREAM_H

#include "config/config.h"
#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct ccp_upstream ccp_upstream;

/* libcurl's process-wide setup: call once from main before any thread
 * starts, and the cleanup once after they have all stopped. */
void ccp_upstream_global_init(void);
void ccp_upstream_global_cleanup(void);
typedef struct ccp_upstream_req ccp_upstream_req;

/* Returns a client bound to loop (caller owns; ccp_upstream_free cancels any
 * transfer still running, without calling its callbacks). */
ccp_upstream *ccp_upstream_new(uv_loop_t *loop, const ccp_upstream_config *cfg);
/* Replaces u's settings (copied) after a config reload; from u's loop
 * thread. Timers already running keep their period until re-armed. */
void ccp_upstream_set_config(ccp_upstream *u, const ccp_upstream_config *cfg);
/* Cancels every transfer (no callbacks run) and closes the client's loop
 * handles; the memory is released by their close callbacks, so the loop
 * must run afterwards (uv_run until it has no more handles). */
void ccp_upstream_free(ccp_upstream *u);

/* The wait hints of a response head, each NULL when absent (values as
 * sent; exchange/retry.h parses them). */
typedef struct ccp_upstream_hints {
    const char *retry_after;    /* Retry-After: seconds or an HTTP date */
    const char *retry_after_ms; /* retry-after-ms */
    const char *reset_requests; /* x-ratelimit-reset-requests (OpenAI: "1s", "6m0s") */
    const char *reset_tokens;   /* x-ratelimit-reset-tokens */
} ccp_upstream_hints;

typedef struct ccp_upstream_cb {
    /* The response head arrived: status, content type (may be NULL) and
     * the wait hints, all borrowed for the call. Called once, before any
     * on_data. */
    void (*on_head)(void *ud, int status, const char *content_type,
                    const ccp_upstream_hints *hints);
    /* The next piece of the body, in order; borrowed for the call. Return 0
     * to go on, non-zero to abort the transfer (on_done follows with
     * CCP_ECANCELED). */
    int (*on_data)(void *ud, const char *data, size_t len);
    /* The transfer is over: result 0 (body complete), or a CCP_E* code with
     * err describing it (CCP_ETIMEOUT for each of the timeouts, CCP_EUPSTREAM
     * for connection failures). Called exactly once unless the request was
     * cancelled; the request handle is invalid after it returns. */
    void (*on_done)(void *ud, int result, const ccp_error *err);
    /* Optional (debug capture): each raw header line of the answer, status
     * lines and interim heads included, before on_head; borrowed. */
    void (*on_header)(void *ud, const char *line, size_t len);
} ccp_upstream_cb;

typedef struct ccp_upstream_send_opts {
    const char *method; /* "POST" */
    const char *url;
    char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    const char *body; /* borrowed until on_done or cancel */
    size_t body_len;
    /* The whole transfer's limit when shorter than upstream.total_timeout_ms
     * (what remains of the request's deadline); 0: that setting. */
    uint32_t timeout_ms;
    /* The provider the request goes to, for its TLS settings and whether
     * it may reach internal addresses (borrowed until on_done or cancel).
     * NULL: system TLS defaults, internal addresses refused. */
    const ccp_provider *provider;
} ccp_upstream_send_opts;

/* Starts a transfer; callbacks run on the loop, never from inside this call.
 * Returns a handle (owned by the client) valid until on_done returns or
 * ccp_upstream_cancel is called. */
ccp_upstream_req *ccp_upstream_send(ccp_upstream *u, const ccp_upstream_send_opts *opts,
                                    const ccp_upstream_cb *cb, void *ud);

/* Aborts a transfer at once (its connection is closed, so the provider sees
 * the cancellation); no callback runs after this. Safe from inside the
 * request's own callbacks. */
void ccp_upstream_cancel(ccp_upstream_req *r);

/* Backpressure. pause: the receiver's output is congested; the transfer
 * stops after the chunk being delivered (curl keeps the next one, and the
 * provider's TCP window closes), and the idle-gap timeout is suspended.
 * resume: carry on; the kept chunk is delivered on a later loop turn,
 * never from inside this call. Both are safe from inside the request's own
 * callbacks and do nothing on a cancelled request; cancelling a paused
 * request needs nothing more. */
void ccp_upstream_pause(ccp_upstream_req *r);

/* Opens a connection to p's host now (a HEAD of its base_url, answer
 * ignored), so the first real request there does not pay TCP and TLS
 * set-up; failures are logged at debug level. p is borrowed until u is
 * freed. */
void ccp_upstream_preconnect(ccp_upstream *u, const ccp_provider *p);

/* Transfers this client finished and the connections they opened; the
 * difference is what keep-alive and multiplexing saved. */
void ccp_upstream_stats(const ccp_upstream *u, unsigned long long *transfers,
                        unsigned long long *connects);
void ccp_upstream_resume(ccp_upstream_req *r);

#endif
