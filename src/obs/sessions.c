/* sessions.c — the per-session table behind GET /sessions/ID (sessions.h).
 *
 * A fixed array of entries, allocated once, with a hash chain per bucket
 * to find a session and a doubly linked LRU list over the same entries to
 * pick the one to forget. Strings are copied into fixed fields, cut at
 * their size, so recording never allocates. */
#include "obs/sessions.h"

#include "core/alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longer ids are not Claude Code's (a UUID is 36 characters): ignored. */
#define ID_MAX 128

typedef struct entry {
    char id[ID_MAX + 1];
    struct entry *hnext;       /* the bucket's chain */
    struct entry *prev, *next; /* the LRU list, most recent first */
    bool used;
    /* the latest request */
    char request_id[40];
    char stage[24], rule[64], provider[64], model[128], upstream_model[128], stop_reason[32];
    char error_type[48];
    int status;
    bool stream;
    int attempts;
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens;
    double duration_ms;
    uint64_t at_ms;
    /* the session so far (since the table first saw it) */
    uint64_t requests;
    int64_t total_input, total_output, total_cache_read, total_cache_creation;
} entry;

struct ccp_sessions {
    pthread_mutex_t mu;
    entry *entries; /* cap of them */
    size_t cap, used;
    entry **buckets;
    size_t n_buckets; /* a power of two */
    entry *head, *tail;
};

ccp_sessions *ccp_sessions_new(size_t cap)
{
    if (cap == 0) return NULL;
    ccp_sessions *s = ccp_xcalloc(1, sizeof *s);
    s->cap = cap;
    s->entries = ccp_xcalloc(cap, sizeof *s->entries);
    s->n_buckets = 16;
    while (s->n_buckets < cap)
        s->n_buckets <<= 1;
    s->buckets = ccp_xcalloc(s->n_buckets, sizeof *s->buckets);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void ccp_sessions_free(ccp_sessions *s)
{
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    free(s->buckets);
    free(s->entries);
    free(s);
}

static size_t hash(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 0x100000001b3ull;
    return (size_t)h;
}

static void lru_unlink(ccp_sessions *s, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(ccp_sessions *s, entry *e)
{
    e->next = s->head;
    e->prev = NULL;
    if (s->head) s->head->prev = e;
    s->head = e;
    if (!s->tail) s->tail = e;
}

static entry *find(ccp_sessions *s, const char *id, entry ***slot)
{
    entry **p = &s->buckets[hash(id) & (s->n_buckets - 1)];
    for (; *p; p = &(*p)->hnext)
        if (!strcmp((*p)->id, id)) break;
    if (slot) *slot = p;
    return *p;
}

/* Removes e from its bucket's chain. */
static void unhash(ccp_sessions *s, entry *e)
{
    entry **p;
    find(s, e->id, &p);
    if (*p == e) *p = e->hnext;
    e->hnext = NULL;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void add(int64_t *total, int64_t v)
{
    if (v > 0) *total += v;
}

void ccp_sessions_record(ccp_sessions *s, const ccp_access_rec *rec)
{
    if (!s || !rec->session_id || !rec->info || strcmp(rec->path, "/v1/messages") != 0) return;
    size_t n = strlen(rec->session_id);
    if (n == 0 || n > ID_MAX) return;
    const ccp_access *a = rec->info;
    pthread_mutex_lock(&s->mu);
    entry **slot;
    entry *e = find(s, rec->session_id, &slot);
    if (e) {
        lru_unlink(s, e);
    } else {
        if (s->used < s->cap) {
            e = &s->entries[s->used++];
        } else { /* forget the least recently updated */
            e = s->tail;
            lru_unlink(s, e);
            unhash(s, e);
            find(s, rec->session_id, &slot); /* the chain may have changed */
        }
        memset(e, 0, sizeof *e);
        memcpy(e->id, rec->session_id, n + 1);
        e->hnext = *slot;
        *slot = e;
        e->used = true;
    }
    lru_push_front(s, e);
    copy(e->request_id, sizeof e->request_id, rec->id);
    copy(e->stage, sizeof e->stage, a->stage);
    copy(e->rule, sizeof e->rule, a->rule);
    copy(e->provider, sizeof e->provider, a->provider);
    copy(e->model, sizeof e->model, a->model);
    copy(e->upstream_model, sizeof e->upstream_model, a->upstream_model);
    copy(e->stop_reason, sizeof e->stop_reason, a->stop_reason);
    copy(e->error_type, sizeof e->error_type, a->error_type);
    e->status = rec->status;
    e->stream = a->stream;
    e->attempts = a->attempts;
    e->input_tokens = a->input_tokens;
    e->output_tokens = a->output_tokens;
    e->cache_read_tokens = a->cache_read_tokens;
    e->cache_creation_tokens = a->cache_creation_tokens;
    e->duration_ms = rec->end_ns > rec->start_ns ? (double)(rec->end_ns - rec->start_ns) / 1e6 : 0;
    e->at_ms = now_ms();
    e->requests++;
    add(&e->total_input, a->input_tokens);
    add(&e->total_output, a->output_tokens);
    add(&e->total_cache_read, a->cache_read_tokens);
    add(&e->total_cache_creation, a->cache_creation_tokens);
    pthread_mutex_unlock(&s->mu);
}

static void jstr(ccp_buf *b, const char *name, const char *v)
{
    ccp_buf_printf(b, ",\"%s\":", name);
    if (v[0])
        ccp_buf_append_json_str(b, v, strlen(v));
    else
        ccp_buf_appends(b, "null");
}

static void jint(ccp_buf *b, const char *name, int64_t v)
{
    if (v < 0)
        ccp_buf_printf(b, ",\"%s\":null", name);
    else
        ccp_buf_printf(b, ",\"%s\":%lld", name, (long long)v);
}

bool ccp_sessions_write_json(ccp_sessions *s, const char *id, ccp_buf *out)
{
    if (!s || strlen(id) > ID_MAX) return false;
    pthread_mutex_lock(&s->mu);
    entry *e = find(s, id, NULL);
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    entry c = *e; /* written out after the lock */
    pthread_mutex_unlock(&s->mu);
    ccp_buf_appends(out, "{\"session_id\":");
    ccp_buf_append_json_str(out, c.id, strlen(c.id));
    ccp_buf_printf(
        out, ",\"requests\":%llu,\"latest\":{\"request_id\":", (unsigned long long)c.requests);
    ccp_buf_append_json_str(out, c.request_id, strlen(c.request_id));
    ccp_buf_printf(out, ",\"at\":%llu", (unsigned long long)c.at_ms);
    jstr(out, "stage", c.stage);
    jstr(out, "rule", c.rule);
    jstr(out, "provider", c.provider);
    jstr(out, "model", c.model);
    jstr(out, "upstream_model", c.upstream_model);
    ccp_buf_printf(out, ",\"status\":%d,\"stream\":%s,\"attempts\":%d", c.status,
                   c.stream ? "true" : "false", c.attempts);
    jstr(out, "stop_reason", c.stop_reason);
    jstr(out, "error_type", c.error_type);
    ccp_buf_printf(out, ",\"duration_ms\":%.1f", c.duration_ms);
    jint(out, "input_tokens", c.input_tokens);
    jint(out, "output_tokens", c.output_tokens);
    jint(out, "cache_read_tokens", c.cache_read_tokens);
    jint(out, "cache_creation_tokens", c.cache_creation_tokens);
    ccp_buf_printf(out,
                   "},\"totals\":{\"input_tokens\":%lld,\"output_tokens\":%lld,"
                   "\"cache_read_tokens\":%lld,\"cache_creation_tokens\":%lld}}",
                   (long long)c.total_input, (long long)c.total_output,
                   (long long)c.total_cache_read, (long long)c.total_cache_creation);
    return true;
}
