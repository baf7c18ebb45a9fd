/* keypool.h — the state of a provider's API keys: round-robin over the
 * healthy ones, a rest for a key answered 429, parking for one answered
 * 401/403.
 *
 * Keys are named here only by their index in the provider's `keys` list,
 * never by value: the pool never sees a key. No clock and no lock of its
 * own (exchange/health.c holds the lock and passes the time). */
#ifndef CCP_EXCHANGE_KEYPOOL_H
#define CCP_EXCHANGE_KEYPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ccp_key_state {
    uint64_t rest_until; /* monotonic ms; the key is not used before */
    bool parked;         /* refused by the provider (401/403) */
} ccp_key_state;

typedef struct ccp_keypool {
    ccp_key_state *keys; /* owned, n of them */
    size_t n;
    size_t next; /* where the round-robin looks first */
} ccp_keypool;

/* A pool of n keys, all healthy. Free with ccp_keypool_free. */
void ccp_keypool_init(ccp_keypool *kp, size_t n);
void ccp_keypool_free(ccp_keypool *kp);

typedef struct ccp_key_pick {
    int index;        /* the key to use; -1 when every usable key is resting */
    bool healthy;     /* neither resting nor parked */
    uint64_t wait_ms; /* index -1: until the first resting key may serve */
    int resting;      /* index -1: that key (for a retry that already waited) */
} ccp_key_pick;

/* The next healthy key in round-robin order, skipping `avoid` (an index, or
 * -1). With none healthy: a resting key makes the answer -1 (the provider
 * is rate-limited for wait_ms); when every key is parked, one of them is
 * returned anyway (healthy false), so the provider's own refusal reaches
 * the client rather than a guess of ours. */
ccp_key_pick ccp_keypool_pick(ccp_keypool *kp, uint64_t now, int avoid);

/* Key i answered 429: it rests until `until` (kept if already later). */
void ccp_keypool_rest(ccp_keypool *kp, size_t i, uint64_t until);
/* Key i answered 401/403: parked; returns false if it already was. */
bool ccp_keypool_park(ccp_keypool *kp, size_t i);

#endif
