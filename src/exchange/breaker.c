/* breaker.c — the circuit breaker's state machine (breaker.h). */
#include "exchange/breaker.h"

static bool enabled(const ccp_breaker_config *c)
{
    return c->failures > 0 || c->failure_percent > 0;
}

/* Time since t. Callers read the clock before taking the breaker's lock, so
 * another thread may have stored a slightly later time: that is no time
 * passed, not an unsigned wrap to "ages ago". */
static uint64_t since(uint64_t now, uint64_t t)
{
    return now > t ? now - t : 0;
}

static void open_at(ccp_breaker *b, uint64_t now)
{
    b->state = CCP_BREAKER_OPEN;
    b->opened_at = now;
    b->probes = 0;
    b->opened++;
}

static void close_fresh(ccp_breaker *b, uint64_t now)
{
    b->state = CCP_BREAKER_CLOSED;
    b->consecutive = 0;
    b->window_start = now;
    b->window_total = b->window_failed = 0;
    b->probes = 0;
}

bool ccp_breaker_allow(ccp_breaker *b, const ccp_breaker_config *c, uint64_t now, bool *probe)
{
    *probe = false;
    if (!enabled(c)) return true;
    if (b->state == CCP_BREAKER_OPEN) {
        if (since(now, b->opened_at) < c->cooldown_ms) return false;
        b->state = CCP_BREAKER_HALF_OPEN;
        b->probes = 0;
    }
    if (b->state == CCP_BREAKER_HALF_OPEN) {
        if (b->probes >= (uint32_t)c->half_open_probes) return false;
        b->probes++;
        *probe = true;
    }
    return true;
}

bool ccp_breaker_record(ccp_breaker *b, const ccp_breaker_config *c, uint64_t now,
                        ccp_health_outcome o, bool probe)
{
    if (!enabled(c)) return false;
    if (probe) {
        if (b->probes) b->probes--;
        /* A probe that outlived its half-open state (another probe decided
         * first) decides nothing. */
        if (b->state != CCP_BREAKER_HALF_OPEN || o == CCP_HEALTH_NEUTRAL) return false;
        if (o == CCP_HEALTH_OK) {
            close_fresh(b, now);
            return false;
        }
        open_at(b, now);
        return true;
    }
    /* Attempts let through while closed that end after it opened say
     * nothing new. */
    if (b->state != CCP_BREAKER_CLOSED || o == CCP_HEALTH_NEUTRAL) return false;
    if (since(now, b->window_start) >= c->window_ms) {
        b->window_start = now;
        b->window_total = b->window_failed = 0;
    }
    b->window_total++;
    if (o == CCP_HEALTH_OK) {
        b->consecutive = 0;
        return false;
    }
    b->consecutive++;
    b->window_failed++;
    bool trip =
        (c->failures > 0 && b->consecutive >= (uint32_t)c->failures) ||
        (c->failure_percent > 0 && b->window_total >= (uint32_t)c->min_requests &&
         (uint64_t)b->window_failed * 100 >= (uint64_t)b->window_total * c->failure_percent);
    if (trip) open_at(b, now);
    return trip;
}

uint64_t ccp_breaker_retry_in(const ccp_breaker *b, const ccp_breaker_config *c, uint64_t now)
{
    if (b->state != CCP_BREAKER_OPEN) return 0;
    uint64_t s = since(now, b->opened_at);
    return s >= c->cooldown_ms ? 0 : c->cooldown_ms - s;
}

const char *ccp_breaker_state_name(ccp_breaker_state s)
{
    switch (s) {
    case CCP_BREAKER_CLOSED:
        return "closed";
    case CCP_BREAKER_OPEN:
        return "open";
    case CCP_BREAKER_HALF_OPEN:
        return "half-open";
    }
    return "?";
}
