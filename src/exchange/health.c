/* health.c — the process-wide registry of providers' breakers and key
 * pools (health.h). */
#include "exchange/health.h"

#include "core/alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ccp_provider_health {
    char *name; /* owned */
    pthread_mutex_t mu;
    ccp_breaker breaker;
    ccp_keypool keys;
    uint64_t keys_hash; /* of the key values the pool was made for */
    ccp_provider_health *next;
};

/* Entries are never removed and their name and next never change once
 * published, so a lookup reads the list without the lock (every attempt
 * looks its provider up twice, from every worker); only an insertion takes
 * it, and publishes the entry with a release store. */
struct ccp_health {
    pthread_mutex_t mu; /* serializes insertions */
    _Atomic(ccp_provider_health *) head;
};

ccp_health *ccp_health_new(void)
{
    ccp_health *h = ccp_xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

void ccp_health_free(ccp_health *h)
{
    if (!h) return;
    for (ccp_provider_health *e = atomic_load(&h->head), *next; e; e = next) {
        next = e->next;
        pthread_mutex_destroy(&e->mu);
        ccp_keypool_free(&e->keys);
        free(e->name);
        free(e);
    }
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static ccp_provider_health *find(ccp_provider_health *e, const char *name)
{
    while (e && strcmp(e->name, name) != 0)
        e = e->next;
    return e;
}

ccp_provider_health *ccp_health_of(ccp_health *h, const ccp_provider *p)
{
    ccp_provider_health *e = find(atomic_load_explicit(&h->head, memory_order_acquire), p->name);
    if (e) return e;
    pthread_mutex_lock(&h->mu);
    /* Another worker may have added it since the look above. */
    ccp_provider_health *head = atomic_load_explicit(&h->head, memory_order_relaxed);
    e = find(head, p->name);
    if (!e) {
        e = ccp_xcalloc(1, sizeof *e);
        e->name = ccp_xstrdup(p->name);
        pthread_mutex_init(&e->mu, NULL);
        e->next = head;
        atomic_store_explicit(&h->head, e, memory_order_release);
    }
    pthread_mutex_unlock(&h->mu);
    return e;
}

bool ccp_health_admit(ccp_provider_health *ph, const ccp_provider *p, uint64_t now, bool *probe,
                      uint64_t *retry_in)
{
    pthread_mutex_lock(&ph->mu);
    bool ok = ccp_breaker_allow(&ph->breaker, &p->breaker, now, probe);
    *retry_in = ok ? 0 : ccp_breaker_retry_in(&ph->breaker, &p->breaker, now);
    pthread_mutex_unlock(&ph->mu);
    return ok;
}

bool ccp_health_record(ccp_provider_health *ph, const ccp_provider *p, uint64_t now,
                       ccp_health_outcome o, bool probe)
{
    pthread_mutex_lock(&ph->mu);
    bool opened = ccp_breaker_record(&ph->breaker, &p->breaker, now, o, probe);
    pthread_mutex_unlock(&ph->mu);
    return opened;
}

ccp_breaker ccp_health_breaker(ccp_provider_health *ph)
{
    pthread_mutex_lock(&ph->mu);
    ccp_breaker b = ph->breaker;
    pthread_mutex_unlock(&ph->mu);
    return b;
}

/* FNV-1a over the keys: tells a changed key list from the same one. */
static uint64_t keys_hash(const ccp_provider *p)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < p->keys.n; i++)
        for (const unsigned char *s = (const unsigned char *)p->keys.v[i];; s++) {
            h = (h ^ *s) * 0x100000001b3ULL;
            if (!*s) break;
        }
    return h;
}

/* Called with ph->mu held. */
static ccp_keypool *pool(ccp_provider_health *ph, const ccp_provider *p)
{
    uint64_t hash = keys_hash(p);
    if (ph->keys.n != p->keys.n || ph->keys_hash != hash) {
        ccp_keypool_free(&ph->keys);
        ccp_keypool_init(&ph->keys, p->keys.n);
        ph->keys_hash = hash;
    }
    return &ph->keys;
}

ccp_key_pick ccp_health_pick_key(ccp_provider_health *ph, const ccp_provider *p, uint64_t now,
                                 int avoid)
{
    pthread_mutex_lock(&ph->mu);
    ccp_key_pick k = ccp_keypool_pick(pool(ph, p), now, avoid);
    pthread_mutex_unlock(&ph->mu);
    return k;
}

void ccp_health_rest_key(ccp_provider_health *ph, const ccp_provider *p, size_t i, uint64_t until)
{
    pthread_mutex_lock(&ph->mu);
    ccp_keypool *kp = pool(ph, p);
    if (i < kp->n) ccp_keypool_rest(kp, i, until);
    pthread_mutex_unlock(&ph->mu);
}

bool ccp_health_park_key(ccp_provider_health *ph, const ccp_provider *p, size_t i)
{
    pthread_mutex_lock(&ph->mu);
    ccp_keypool *kp = pool(ph, p);
    bool fresh = i < kp->n && ccp_keypool_park(kp, i);
    pthread_mutex_unlock(&ph->mu);
    return fresh;
}

uint64_t ccp_health_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
