/* retry.h — when to retry an upstream attempt, and how long to wait.
 *
 * Pure functions, no clock and no randomness of their own: the caller
 * passes the time and the random state, so the unit tests need no timing.
 * The backoff is exponential with "full jitter" (each wait drawn uniformly
 * from 0 to the ceiling, the AWS Architecture Blog's recommendation: it
 * spreads retries of many clients best). A provider's own wait hint, when
 * it gives one, replaces the backoff. */
#ifndef CCP_EXCHANGE_RETRY_H
#define CCP_EXCHANGE_RETRY_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* True for the statuses worth another try of the same provider: 408, 409,
 * 429, 500, 502, 503, 504, 529. */
bool ccp_retry_status(int status);

/* The next value of a xorshift64* generator; *state must not be 0 (a zero
 * state is reseeded from a constant). */
uint64_t ccp_rng_next(uint64_t *state);

/* The backoff ceiling before retry number n (0 for the first retry):
 * min(max_ms, base_ms * 2^n). */
uint64_t ccp_backoff_ceiling(const ccp_retry_config *rc, unsigned n);
/* The wait before retry number n: uniform in [0, ceiling] with full
 * jitter (drawing from *rng), else the ceiling. */
uint64_t ccp_backoff_delay(const ccp_retry_config *rc, unsigned n, uint64_t *rng);

/* Wait hints. Each returns the wait in milliseconds (>= 0), or -1 when
 * the value is absent or malformed (a bad hint is ignored, never an
 * error). Values above a day are taken as a day. */

/* Retry-After: delta-seconds ("120", also "1.5"), or an HTTP date
 * ("Wed, 21 Oct 2015 07:28:00 GMT"; also RFC 850 and asctime forms), whose
 * distance from now (wall clock, seconds) is the wait; a past date is 0. */
int64_t ccp_hint_retry_after(const char *v, time_t now);
/* retry-after-ms (Anthropic's and OpenAI's SDKs read it): milliseconds,
 * possibly fractional. */
int64_t ccp_hint_retry_after_ms(const char *v);
/* A Go duration, as OpenAI's x-ratelimit-reset-requests/-tokens send it:
 * "1s", "6m0s", "20ms", "1h2m3.5s", "250us", "0s". */
int64_t ccp_hint_duration(const char *v);
/* Google's RetryInfo in an error body: error.details[] holding
 * {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}
 * (a protobuf Duration: seconds with up to 9 decimals and an "s"). */
int64_t ccp_hint_google_body(const char *body, size_t len);

/* The response head's hint, the most specific first: retry-after-ms, then
 * retry-after, then (on a 429 only: OpenAI sends them on every answer) the
 * later of x-ratelimit-reset-requests and -tokens. Any argument may be
 * NULL. -1 when there is none. */
int64_t ccp_hint_from_head(int status, const char *retry_after, const char *retry_after_ms,
                           const char *reset_requests, const char *reset_tokens, time_t now);

/* x-stainless-timeout (the official SDKs and Claude Code send their own
 * request timeout, in seconds, possibly fractional): milliseconds, or -1
 * when absent or malformed. */
int64_t ccp_client_timeout_ms(const char *v);

#endif
