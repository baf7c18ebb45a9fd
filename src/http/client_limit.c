/* client_limit.c — the per-client-address table behind
 * server.max_connections_per_client and server.client_rate_limit (see
 * client_limit.h). */
#include "http/client_limit.h"

#include "core/alloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHARDS 64
#define BUCKETS 256 /* chains per shard */
/* Past this many entries a shard drops those that no longer matter (no
 * connection, bucket full) before adding one. */
#define SWEEP_AT 1024

typedef struct entry {
    ccp_client_addr addr;
    int conns;
    double tokens;    /* the bucket's level at last_ms */
    uint64_t last_ms; /* when tokens was last brought up to date */
    struct entry *next;
} entry;

typedef struct shard {
    pthread_mutex_t lock;
    entry *chain[BUCKETS];
    size_t n;
} shard;

struct ccp_client_table {
    int max_conns;
    int rate; /* the bucket's size, and tokens added per rate_ms */
    uint32_t rate_ms;
    _Atomic uint64_t refused, limited;
    _Atomic uint64_t logged_ms; /* when a refusal was last logged (+1; 0 = never) */
    shard shards[SHARDS];
};

bool ccp_client_addr_of(const struct sockaddr *sa, ccp_client_addr *a)
{
    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET) {
        a->b[10] = a->b[11] = 0xff;
        memcpy(a->b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *v6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(v6, mapped, 12) == 0)
            memcpy(a->b, v6, 16); /* an IPv4 client on a dual-stack socket */
        else
            memcpy(a->b, v6, 8); /* its /64 */
        return true;
    }
    return false;
}

void ccp_client_addr_text(const ccp_client_addr *a, char *out, size_t cap)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char tmp[INET6_ADDRSTRLEN];
    if (memcmp(a->b, mapped, 12) == 0) {
        inet_ntop(AF_INET, a->b + 12, tmp, sizeof tmp);
        snprintf(out, cap, "%s", tmp);
    } else {
        inet_ntop(AF_INET6, a->b, tmp, sizeof tmp);
        snprintf(out, cap, "%s/64", tmp);
    }
}

ccp_client_table *ccp_client_table_new(int max_conns, int rate, uint32_t rate_ms)
{
    ccp_client_table *t = ccp_xcalloc(1, sizeof *t);
    t->max_conns = max_conns;
    t->rate = rate;
    t->rate_ms = rate_ms ? rate_ms : 1000;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&t->shards[i].lock, NULL);
    return t;
}

void ccp_client_table_free(ccp_client_table *t)
{
    if (!t) return;
    for (int i = 0; i < SHARDS; i++) {
        for (int j = 0; j < BUCKETS; j++)
            for (entry *e = t->shards[i].chain[j], *next; e; e = next) {
                next = e->next;
                free(e);
            }
        pthread_mutex_destroy(&t->shards[i].lock);
    }
    free(t);
}

/* FNV-1a over the 16 bytes: the low bits pick the shard, the next the
 * chain. */
static uint32_t hash(const ccp_client_addr *a)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ a->b[i]) * 16777619u;
    return h;
}

/* Brings e's bucket up to now. */
static void refill(const ccp_client_table *t, entry *e, uint64_t now_ms)
{
    if (!t->rate) return;
    if (now_ms > e->last_ms) {
        e->tokens += (double)(now_ms - e->last_ms) * t->rate / t->rate_ms;
        if (e->tokens > t->rate) e->tokens = t->rate;
    }
    e->last_ms = now_ms;
}

/* An entry with no connection and a full bucket says nothing a fresh one
 * would not. */
static bool idle(const ccp_client_table *t, entry *e, uint64_t now_ms)
{
    if (e->conns) return false;
    refill(t, e, now_ms);
    return !t->rate || e->tokens >= t->rate;
}

static void sweep(const ccp_client_table *t, shard *s, uint64_t now_ms)
{
    for (int j = 0; j < BUCKETS; j++)
        for (entry **pp = &s->chain[j]; *pp;) {
            entry *e = *pp;
            if (idle(t, e, now_ms)) {
                *pp = e->next;
                free(e);
                s->n--;
            } else {
                pp = &e->next;
            }
        }
}

/* a's entry in its (locked) shard, made when create is set; NULL if not
 * there and not made. */
static entry *find(ccp_client_table *t, shard *s, uint32_t h, const ccp_client_addr *a, bool create,
                   uint64_t now_ms)
{
    entry **head = &s->chain[(h / SHARDS) % BUCKETS];
    for (entry *e = *head; e; e = e->next)
        if (memcmp(&e->addr, a, sizeof *a) == 0) return e;
    if (!create) return NULL;
    if (s->n >= SWEEP_AT) sweep(t, s, now_ms);
    entry *e = ccp_xcalloc(1, sizeof *e);
    e->addr = *a;
    e->tokens = t->rate;
    e->last_ms = now_ms;
    e->next = *head;
    *head = e;
    s->n++;
    return e;
}

static void drop(shard *s, uint32_t h, entry *gone)
{
    for (entry **pp = &s->chain[(h / SHARDS) % BUCKETS]; *pp; pp = &(*pp)->next)
        if (*pp == gone) {
            *pp = gone->next;
            free(gone);
            s->n--;
            return;
        }
}

/* The monotonic milliseconds the table keeps its buckets in. */
static uint64_t now_ms_of(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool ccp_client_conn_open(ccp_client_table *t, const ccp_client_addr *a)
{
    if (!t->max_conns) return true;
    uint32_t h = hash(a);
    shard *s = &t->shards[h % SHARDS];
    pthread_mutex_lock(&s->lock);
    entry *e = find(t, s, h, a, true, now_ms_of());
    bool ok = e->conns < t->max_conns;
    if (ok) e->conns++;
    pthread_mutex_unlock(&s->lock);
    if (!ok) atomic_fetch_add(&t->refused, 1);
    return ok;
}

void ccp_client_conn_close(ccp_client_table *t, const ccp_client_addr *a)
{
    if (!t->max_conns) return;
    uint32_t h = hash(a);
    shard *s = &t->shards[h % SHARDS];
    pthread_mutex_lock(&s->lock);
    entry *e = find(t, s, h, a, false, 0);
    if (e && e->conns > 0) e->conns--;
    if (e && idle(t, e, now_ms_of())) drop(s, h, e);
    pthread_mutex_unlock(&s->lock);
}

bool ccp_client_rate_take(ccp_client_table *t, const ccp_client_addr *a, uint64_t now_ms,
                          uint32_t *retry_after_s)
{
    if (!t->rate) return true;
    uint32_t h = hash(a);
    shard *s = &t->shards[h % SHARDS];
    pthread_mutex_lock(&s->lock);
    entry *e = find(t, s, h, a, true, now_ms);
    refill(t, e, now_ms);
    bool ok = e->tokens >= 1.0;
    if (ok) {
        e->tokens -= 1.0;
    } else if (retry_after_s) {
        /* The time until one whole token is back, rounded up. */
        double wait_ms = (1.0 - e->tokens) * t->rate_ms / t->rate;
        uint64_t sec = (uint64_t)((wait_ms + 999.0) / 1000.0);
        if (sec < 1) sec = 1;
        *retry_after_s = (uint32_t)(sec > 86400 ? 86400 : sec);
    }
    pthread_mutex_unlock(&s->lock);
    if (!ok) atomic_fetch_add(&t->limited, 1);
    return ok;
}

uint64_t ccp_client_refused_connections(const ccp_client_table *t)
{
    return atomic_load(&((ccp_client_table *)t)->refused);
}

uint64_t ccp_client_limited_requests(const ccp_client_table *t)
{
    return atomic_load(&((ccp_client_table *)t)->limited);
}

bool ccp_client_should_log(ccp_client_table *t, uint64_t now_ms)
{
    uint64_t now = now_ms + 1, last = atomic_load(&t->logged_ms);
    /* Workers call this with their own loop's cached time, which may be a
     * few ms behind the time another worker stored: compare signed, or an
     * older "now" wraps to a huge gap and logs the same burst twice. */
    if (last && (int64_t)(now - last) < 10000) return false;
    return atomic_compare_exchange_strong(&t->logged_ms, &last, now);
}
