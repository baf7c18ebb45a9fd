/* keypool.c — round-robin over a provider's healthy keys (keypool.h). */
#include "exchange/keypool.h"

#include "core/alloc.h"

#include <assert.h>
#include <stdlib.h>

void ccp_keypool_init(ccp_keypool *kp, size_t n)
{
    kp->keys = n ? ccp_xcalloc(n, sizeof *kp->keys) : NULL;
    kp->n = n;
    kp->next = 0;
}

void ccp_keypool_free(ccp_keypool *kp)
{
    free(kp->keys);
    kp->keys = NULL;
    kp->n = 0;
}

ccp_key_pick ccp_keypool_pick(ccp_keypool *kp, uint64_t now, int avoid)
{
    ccp_key_pick p = {.index = -1, .resting = -1};
    if (!kp->n) return p;
    bool resting = false;
    uint64_t soonest = UINT64_MAX;
    for (size_t k = 0; k < kp->n; k++) {
        size_t i = (kp->next + k) % kp->n;
        const ccp_key_state *s = &kp->keys[i];
        if (s->parked) continue;
        if (s->rest_until > now) {
            resting = true;
            if (s->rest_until - now < soonest) {
                soonest = s->rest_until - now;
                p.resting = (int)i;
            }
            continue;
        }
        if ((int)i == avoid) continue;
        kp->next = (i + 1) % kp->n;
        p.index = (int)i;
        p.healthy = true;
        return p;
    }
    if (resting) {
        p.wait_ms = soonest;
        return p;
    }
    /* Only parked keys (or the avoided one) remain. */
    for (size_t k = 0; k < kp->n; k++) {
        size_t i = (kp->next + k) % kp->n;
        if ((int)i == avoid && kp->n > 1) continue;
        kp->next = (i + 1) % kp->n;
        p.index = (int)i;
        p.healthy = !kp->keys[i].parked;
        return p;
    }
    return p;
}

void ccp_keypool_rest(ccp_keypool *kp, size_t i, uint64_t until)
{
    assert(i < kp->n);
    if (kp->keys[i].rest_until < until) kp->keys[i].rest_until = until;
}

bool ccp_keypool_park(ccp_keypool *kp, size_t i)
{
    assert(i < kp->n);
    bool was = kp->keys[i].parked;
    kp->keys[i].parked = true;
    return !was;
}
