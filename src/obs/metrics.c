/* metrics.c — per-worker counters and the Prometheus exposition (see
 * metrics.h).
 *
 * Every series has a fixed slot, computed from label indices: a shard is
 * one array of counters laid out by the registry (the offsets below), the
 * same for every shard, so the scrape adds slot i of each shard. The label
 * sets are dense and small: the config's providers, its (provider, model)
 * pairs, the stages, a few endpoints and status classes. */
#include "obs/metrics.h"

#include "core/alloc.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

typedef _Atomic uint64_t counter;

/* The most shards (workers, 1024 at most, and the admin listener). */
#define MAX_SHARDS 1100
/* Pairs of (provider, model) beyond this fold into the provider's other. */
#define MAX_PAIRS 1024

static const char *const endpoints[] = {"/v1/messages", "/v1/messages/count_tokens", "/v1/models",
                                        "/metrics", "other"};
#define N_ENDPOINTS (sizeof endpoints / sizeof endpoints[0])
static const char *const status_classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "none"};
#define N_CLASSES 6
/* Stage 0 is "none" (not routed); stage i + 1 is ccp_stage i. */
#define N_STAGES (CCP_STAGE_COUNT + 1)
static const char *const outcomes[CCP_OUTCOME_COUNT] = {
    "ok", "http_4xx", "http_5xx", "429", "timeout", "connect_error", "cancelled"};
static const char *const token_kinds[] = {"input", "output", "cache_read", "cache_creation"};
#define N_KINDS 4

/* Upper bounds in seconds. Durations span a cache hit to a long agent
 * turn; the overhead is the proxy's own work, from tens of microseconds. */
static const double dur_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                    2.5,   5,    10,    30,   60,  120,  300, 600};
#define N_DUR (sizeof dur_bounds / sizeof dur_bounds[0])
static const double ovh_bounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                    0.01,    0.025,  0.05,    0.1,    0.25,  1};
#define N_OVH (sizeof ovh_bounds / sizeof ovh_bounds[0])
/* A histogram series: a count per bucket (not cumulative; +Inf last),
 * then the sum in microseconds. Its count is the buckets' total, so the
 * two cannot disagree however the scrape races the writer. */
#define HIST_SLOTS(nb) ((nb) + 2)

typedef struct pair {
    int prov;    /* provider label index */
    char *model; /* owned; NULL: "other" (or "none" for pair 0) */
} pair;

struct ccp_metrics_shard {
    const struct ccp_metrics *m; /* the registry whose layout v follows */
    counter *v;                  /* owned */
};

struct ccp_metrics {
    /* Provider labels: 0 "none", 1..n the config's, n + 1 "other". */
    char **prov;
    int n_prov;
    /* Pair 0 is (none, none); each provider's pairs are contiguous, its
     * "other" last; the unknown provider has one pair (other, other). */
    pair *pairs;
    int n_pairs;
    int *prov_first; /* per provider label: its first pair */
    int *prov_other; /* per provider label: its "other" pair */
    /* Offsets of each family in a shard's array. */
    size_t o_requests, o_dur, o_ttft, o_ovh, o_tokens, o_attempts, o_fallbacks, o_retries,
        o_disconnects, o_in_flight, o_streams, n_slots;
    /* Families kept elsewhere, written at the end of a scrape. */
    void (*extra)(ccp_buf *out, bool om, void *ud);
    void *extra_ud;
    uv_mutex_t lock; /* shard registration only */
    ccp_metrics_shard *shards[MAX_SHARDS];
    _Atomic size_t n_shards;
    double start_time; /* seconds since the epoch */
};

/* ---- the registry ------------------------------------------------------ */

static int prov_index(const ccp_metrics *m, const char *name)
{
    if (!name) return 0;
    for (int i = 1; i < m->n_prov - 1; i++)
        if (strcmp(m->prov[i], name) == 0) return i;
    return m->n_prov - 1;
}

static int pair_index(const ccp_metrics *m, const char *provider, const char *model)
{
    if (!provider) return 0;
    int p = prov_index(m, provider);
    if (model)
        for (int i = m->prov_first[p]; i < m->prov_other[p]; i++)
            if (strcmp(m->pairs[i].model, model) == 0) return i;
    return m->prov_other[p];
}

static void add_pair(ccp_metrics *m, int prov, const char *model, int *cap)
{
    for (int i = m->prov_first[prov]; i < m->n_pairs; i++)
        if (m->pairs[i].model && strcmp(m->pairs[i].model, model) == 0) return;
    if (m->n_pairs >= MAX_PAIRS) return;
    if (m->n_pairs == *cap) {
        *cap *= 2;
        m->pairs = ccp_xrealloc(m->pairs, (size_t)*cap * sizeof *m->pairs);
    }
    m->pairs[m->n_pairs++] = (pair){prov, ccp_xstrdup(model)};
}

/* Adds the models route r asks of provider index prov. */
static void add_route_models(ccp_metrics *m, const ccp_route *r, const ccp_provider *p, int prov,
                             int *cap)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->targets[i].provider == p && r->targets[i].model)
            add_pair(m, prov, r->targets[i].model, cap);
}

ccp_metrics *ccp_metrics_new(const ccp_config *cfg)
{
    ccp_metrics *m = ccp_xcalloc(1, sizeof *m);
    uv_mutex_init(&m->lock);
    m->n_prov = (int)cfg->n_providers + 2;
    m->prov = ccp_xcalloc((size_t)m->n_prov, sizeof *m->prov);
    m->prov[0] = ccp_xstrdup("none");
    for (size_t i = 0; i < cfg->n_providers; i++)
        m->prov[i + 1] = ccp_xstrdup(cfg->providers[i].name);
    m->prov[m->n_prov - 1] = ccp_xstrdup("other");
    m->prov_first = ccp_xcalloc((size_t)m->n_prov, sizeof *m->prov_first);
    m->prov_other = ccp_xcalloc((size_t)m->n_prov, sizeof *m->prov_other);

    int cap = 16;
    m->pairs = ccp_xmalloc((size_t)cap * sizeof *m->pairs);
    m->pairs[m->n_pairs++] = (pair){0, NULL};
    for (int p = 1; p < m->n_prov; p++) {
        m->prov_first[p] = m->n_pairs;
        if (p < m->n_prov - 1) {
            const ccp_provider *pv = &cfg->providers[p - 1];
            for (size_t j = 0; j < pv->n_models; j++)
                add_pair(m, p, pv->models[j], &cap);
            for (int s = 0; s < CCP_STAGE_COUNT; s++)
                add_route_models(m, &cfg->router.stages[s], pv, p, &cap);
            for (size_t r = 0; r < cfg->router.n_rules; r++)
                add_route_models(m, &cfg->router.rules[r].route, pv, p, &cap);
        }
        /* "other" always gets its pair, past the MAX_PAIRS cap if need be. */
        if (m->n_pairs == cap) {
            cap *= 2;
            m->pairs = ccp_xrealloc(m->pairs, (size_t)cap * sizeof *m->pairs);
        }
        m->prov_other[p] = m->n_pairs;
        m->pairs[m->n_pairs++] = (pair){p, NULL};
    }

    size_t K = (size_t)m->n_pairs, P = (size_t)m->n_prov, o = 0;
    m->o_requests = o, o += N_ENDPOINTS * N_STAGES * K * N_CLASSES;
    m->o_dur = o, o += K * 2 * HIST_SLOTS(N_DUR);
    m->o_ttft = o, o += K * 2 * HIST_SLOTS(N_DUR);
    m->o_ovh = o, o += HIST_SLOTS(N_OVH);
    m->o_tokens = o, o += K * N_KINDS;
    m->o_attempts = o, o += P * CCP_OUTCOME_COUNT;
    m->o_fallbacks = o, o += P * P;
    m->o_retries = o++;
    m->o_disconnects = o++;
    m->o_in_flight = o++;
    m->o_streams = o++;
    m->n_slots = o;

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return m;
}

void ccp_metrics_free(ccp_metrics *m)
{
    if (!m) return;
    size_t n = atomic_load(&m->n_shards);
    for (size_t i = 0; i < n; i++) {
        free(m->shards[i]->v);
        free(m->shards[i]);
    }
    for (int i = 0; i < m->n_prov; i++)
        free(m->prov[i]);
    free(m->prov);
    for (int i = 0; i < m->n_pairs; i++)
        free(m->pairs[i].model);
    free(m->pairs);
    free(m->prov_first);
    free(m->prov_other);
    uv_mutex_destroy(&m->lock);
    free(m);
}

ccp_metrics_shard *ccp_metrics_shard_new(ccp_metrics *m)
{
    if (!m) return NULL;
    ccp_metrics_shard *s = ccp_xcalloc(1, sizeof *s);
    s->m = m;
    s->v = ccp_xcalloc(m->n_slots, sizeof *s->v);
    uv_mutex_lock(&m->lock);
    size_t n = atomic_load_explicit(&m->n_shards, memory_order_relaxed);
    if (n == MAX_SHARDS) {
        /* Cannot happen with the workers' bound; such a worker counts
         * nothing rather than corrupt another's shard. */
        uv_mutex_unlock(&m->lock);
        free(s->v);
        free(s);
        return NULL;
    }
    m->shards[n] = s;
    /* Release: a scrape that sees the new count sees the shard. */
    atomic_store_explicit(&m->n_shards, n + 1, memory_order_release);
    uv_mutex_unlock(&m->lock);
    return s;
}

/* ---- counting (the shard's own thread) --------------------------------- */

/* The only writer of c is this thread: load and store, no locked add. */
static inline void bump(counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void observe(counter *h, const double *bounds, size_t nb, double seconds)
{
    size_t i = 0;
    while (i < nb && seconds > bounds[i])
        i++;
    bump(&h[i], 1);
    bump(&h[nb + 1], seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0);
}

ccp_attempt_outcome ccp_metrics_outcome(int result, int status)
{
    if (result == CCP_ETIMEOUT) return CCP_OUTCOME_TIMEOUT;
    if (result == CCP_ECANCELED) return CCP_OUTCOME_CANCELLED;
    if (status == 429) return CCP_OUTCOME_429;
    if (status >= 500) return CCP_OUTCOME_HTTP_5XX;
    if (status >= 400) return CCP_OUTCOME_HTTP_4XX;
    if (status >= 200 && status < 300) return CCP_OUTCOME_OK;
    return CCP_OUTCOME_CONNECT_ERROR;
}

void ccp_metrics_request_begin(ccp_metrics_shard *s, ccp_access *a)
{
    if (!s) return;
    bump(&s->v[s->m->o_in_flight], 1);
    a->in_flight = true;
}

static size_t endpoint_index(const char *path)
{
    for (size_t i = 0; i + 1 < N_ENDPOINTS; i++)
        if (strcmp(path, endpoints[i]) == 0) return i;
    return N_ENDPOINTS - 1;
}

static size_t stage_index(const char *stage)
{
    if (!stage) return 0;
    for (int i = 0; i < CCP_STAGE_COUNT; i++)
        if (strcmp(stage, ccp_stage_name((ccp_stage)i)) == 0) return (size_t)i + 1;
    return 0;
}

void ccp_metrics_request_end(ccp_metrics_shard *s, const ccp_access_rec *r)
{
    if (!s) return;
    const ccp_metrics *m = s->m;
    const ccp_access *a = r->info;
    if (a->in_flight) bump(&s->v[m->o_in_flight], (uint64_t)-1);
    size_t K = (size_t)m->n_pairs;
    size_t pr = (size_t)pair_index(m, a->provider, a->upstream_model);
    size_t cls = r->status >= 100 && r->status < 600 ? (size_t)(r->status / 100 - 1) : 5;
    size_t ix =
        ((endpoint_index(r->path) * N_STAGES + stage_index(a->stage)) * K + pr) * N_CLASSES + cls;
    bump(&s->v[m->o_requests + ix], 1);
    if (r->client_gone) bump(&s->v[m->o_disconnects], 1);
    if (a->attempts == 0) return;
    /* Only requests that reached a provider: the rest have no upstream
     * time to tell apart from the proxy's. */
    size_t series = pr * 2 + (a->stream ? 1 : 0);
    double dur = (double)(r->end_ns - r->start_ns) / 1e9;
    observe(&s->v[m->o_dur + series * HIST_SLOTS(N_DUR)], dur_bounds, N_DUR, dur);
    if (a->first_token_ns && a->first_token_ns >= r->start_ns)
        observe(&s->v[m->o_ttft + series * HIST_SLOTS(N_DUR)], dur_bounds, N_DUR,
                (double)(a->first_token_ns - r->start_ns) / 1e9);
    observe(&s->v[m->o_ovh], ovh_bounds, N_OVH, ccp_access_overhead_ms(r) / 1e3);
    const int64_t tok[N_KINDS] = {a->input_tokens, a->output_tokens, a->cache_read_tokens,
                                  a->cache_creation_tokens};
    for (size_t k = 0; k < N_KINDS; k++)
        if (tok[k] > 0) bump(&s->v[m->o_tokens + pr * N_KINDS + k], (uint64_t)tok[k]);
}

void ccp_metrics_attempt(ccp_metrics_shard *s, const char *provider, ccp_attempt_outcome o)
{
    if (!s) return;
    const ccp_metrics *m = s->m;
    bump(&s->v[m->o_attempts + (size_t)prov_index(m, provider) * CCP_OUTCOME_COUNT + o], 1);
}

void ccp_metrics_fallback(ccp_metrics_shard *s, const char *from, const char *to)
{
    if (!s) return;
    const ccp_metrics *m = s->m;
    size_t f = (size_t)prov_index(m, from), t = (size_t)prov_index(m, to);
    bump(&s->v[m->o_fallbacks + f * (size_t)m->n_prov + t], 1);
}

void ccp_metrics_retry(ccp_metrics_shard *s)
{
    if (!s) return;
    bump(&s->v[s->m->o_retries], 1);
}

void ccp_metrics_streams(ccp_metrics_shard *s, int delta)
{
    if (!s) return;
    bump(&s->v[s->m->o_streams], (uint64_t)(int64_t)delta);
}

/* ---- the exposition (any thread) --------------------------------------- */

/* Slot i added up over every shard. */
static uint64_t sum(const ccp_metrics *m, size_t n_shards, size_t i)
{
    uint64_t t = 0;
    for (size_t k = 0; k < n_shards; k++)
        t += atomic_load_explicit(&m->shards[k]->v[i], memory_order_relaxed);
    return t;
}

/* A label value: '\\', '"' and newlines escaped as both formats want. */
static void label(ccp_buf *b, const char *name, const char *value, bool first)
{
    ccp_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            ccp_buf_appendc(b, '\\'), ccp_buf_appendc(b, *p);
        else if (*p == '\n')
            ccp_buf_appends(b, "\\n");
        else
            ccp_buf_appendc(b, *p);
    }
    ccp_buf_appendc(b, '"');
}

static const char *model_label(const ccp_metrics *m, size_t pr)
{
    const pair *p = &m->pairs[pr];
    return p->model ? p->model : pr == 0 ? "none" : "other";
}

/* The HELP and TYPE lines. A counter's family is named without _total in
 * OpenMetrics, its samples with it. */
static void family(ccp_buf *b, const char *name, const char *type, const char *help, bool om)
{
    size_t n = strlen(name);
    if (om && !strcmp(type, "counter") && n > 6 && !strcmp(name + n - 6, "_total")) n -= 6;
    if (om && !strcmp(type, "info")) n -= 5; /* name ends in _info */
    ccp_buf_printf(b, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name, help, (int)n, name,
                   !om && !strcmp(type, "info") ? "gauge" : type);
}

void ccp_metrics_set_extra(ccp_metrics *m, void (*fn)(ccp_buf *out, bool om, void *ud), void *ud)
{
    m->extra = fn;
    m->extra_ud = ud;
}

void ccp_metrics_family(ccp_buf *b, const char *name, const char *type, const char *help, bool om)
{
    family(b, name, type, help, om);
}

static void histogram(ccp_buf *b, const ccp_metrics *m, size_t ns, const char *name, size_t base,
                      const double *bounds, size_t nb, const char *labels)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= nb; i++) {
        cum += sum(m, ns, base + i);
        ccp_buf_printf(b, "%s_bucket{%s%s", name, labels, *labels ? "," : "");
        if (i < nb)
            ccp_buf_printf(b, "le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
        else
            ccp_buf_printf(b, "le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    double s = (double)sum(m, ns, base + nb + 1) / 1e6;
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    ccp_buf_printf(b, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", name, open, labels, close, s,
                   name, open, labels, close, (unsigned long long)cum);
}

/* The two histograms by provider, model and stream: series with no
 * observation are left out. */
static void pair_histograms(ccp_buf *b, const ccp_metrics *m, size_t ns, const char *name,
                            size_t base)
{
    ccp_buf lb = CCP_BUF_INIT;
    for (size_t pr = 0; pr < (size_t)m->n_pairs; pr++) {
        for (int st = 0; st < 2; st++) {
            size_t at = base + (pr * 2 + (size_t)st) * HIST_SLOTS(N_DUR);
            uint64_t n = 0;
            for (size_t i = 0; i <= N_DUR; i++)
                n += sum(m, ns, at + i);
            if (!n) continue;
            ccp_buf_reset(&lb);
            label(&lb, "provider", m->prov[m->pairs[pr].prov], true);
            label(&lb, "model", model_label(m, pr), false);
            label(&lb, "stream", st ? "true" : "false", false);
            histogram(b, m, ns, name, at, dur_bounds, N_DUR, lb.data);
        }
    }
    ccp_buf_free(&lb);
}

/* Resident memory, CPU seconds and open descriptors from /proc. */
static void process_metrics(ccp_buf *b, bool om)
{
    double cpu = -1, rss = -1;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        char line[1024];
        if (fgets(line, sizeof line, f)) {
            /* The command name (field 2) may hold spaces: count from the
             * last ')'. utime and stime are fields 14 and 15, rss 24. */
            char *p = strrchr(line, ')');
            unsigned long long ut, st;
            long long pages;
            if (p && sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
                            "%*d %*d %*d %*u %*u %lld",
                            &ut, &st, &pages) == 3) {
                long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
                cpu = (double)(ut + st) / (double)(hz > 0 ? hz : 100);
                rss = (double)pages * (double)(page > 0 ? page : 4096);
            }
        }
        fclose(f);
    }
    int fds = -1;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        fds = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') fds++;
        closedir(d);
        fds--; /* the directory's own descriptor */
    }
    if (cpu >= 0) {
        family(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent.", om);
        ccp_buf_printf(b, "process_cpu_seconds_total %.2f\n", cpu);
        family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", om);
        ccp_buf_printf(b, "process_resident_memory_bytes %.0f\n", rss);
    }
    if (fds >= 0) {
        family(b, "process_open_fds", "gauge", "Number of open file descriptors.", om);
        ccp_buf_printf(b, "process_open_fds %d\n", fds);
    }
}

void ccp_metrics_write(ccp_metrics *m, ccp_buf *b, bool om)
{
    size_t ns = atomic_load_explicit(&m->n_shards, memory_order_acquire);
    size_t K = (size_t)m->n_pairs, P = (size_t)m->n_prov;
    ccp_buf lb = CCP_BUF_INIT;

    family(b, "ccproxy_requests_total", "counter",
           "Requests answered, by endpoint, stage, provider, model and status class.", om);
    for (size_t e = 0; e < N_ENDPOINTS; e++)
        for (size_t st = 0; st < N_STAGES; st++)
            for (size_t pr = 0; pr < K; pr++)
                for (size_t c = 0; c < N_CLASSES; c++) {
                    size_t ix = ((e * N_STAGES + st) * K + pr) * N_CLASSES + c;
                    uint64_t v = sum(m, ns, m->o_requests + ix);
                    if (!v) continue;
                    ccp_buf_reset(&lb);
                    label(&lb, "endpoint", endpoints[e], true);
                    label(&lb, "stage", st ? ccp_stage_name((ccp_stage)(st - 1)) : "none", false);
                    label(&lb, "provider", m->prov[m->pairs[pr].prov], false);
                    label(&lb, "model", model_label(m, pr), false);
                    label(&lb, "status_class", status_classes[c], false);
                    ccp_buf_printf(b, "ccproxy_requests_total{%s} %llu\n", lb.data,
                                   (unsigned long long)v);
                }

    family(b, "ccproxy_request_duration_seconds", "histogram",
           "Time from the request's first byte to the end of its answer, for requests sent to a "
           "provider.",
           om);
    pair_histograms(b, m, ns, "ccproxy_request_duration_seconds", m->o_dur);
    family(b, "ccproxy_time_to_first_token_seconds", "histogram",
           "Time from the request's first byte to the first token sent to the client (the "
           "whole answer when not streaming).",
           om);
    pair_histograms(b, m, ns, "ccproxy_time_to_first_token_seconds", m->o_ttft);
    family(b, "ccproxy_overhead_seconds", "histogram",
           "Time a request spent in the proxy itself, excluding the wait on providers.", om);
    histogram(b, m, ns, "ccproxy_overhead_seconds", m->o_ovh, ovh_bounds, N_OVH, "");

    family(b, "ccproxy_upstream_attempts_total", "counter",
           "Upstream attempts, by provider and how they ended.", om);
    for (size_t p = 0; p < P; p++)
        for (size_t o = 0; o < CCP_OUTCOME_COUNT; o++) {
            uint64_t v = sum(m, ns, m->o_attempts + p * CCP_OUTCOME_COUNT + o);
            if (!v) continue;
            ccp_buf_reset(&lb);
            label(&lb, "provider", m->prov[p], true);
            label(&lb, "outcome", outcomes[o], false);
            ccp_buf_printf(b, "ccproxy_upstream_attempts_total{%s} %llu\n", lb.data,
                           (unsigned long long)v);
        }
    family(b, "ccproxy_fallbacks_total", "counter",
           "Moves from a failed provider to the route's next one.", om);
    for (size_t f = 0; f < P; f++)
        for (size_t t = 0; t < P; t++) {
            uint64_t v = sum(m, ns, m->o_fallbacks + f * P + t);
            if (!v) continue;
            ccp_buf_reset(&lb);
            label(&lb, "from", m->prov[f], true);
            label(&lb, "to", m->prov[t], false);
            ccp_buf_printf(b, "ccproxy_fallbacks_total{%s} %llu\n", lb.data, (unsigned long long)v);
        }
    family(b, "ccproxy_retries_total", "counter",
           "Attempts repeated on the same provider after a failure.", om);
    ccp_buf_printf(b, "ccproxy_retries_total %llu\n", (unsigned long long)sum(m, ns, m->o_retries));

    family(b, "ccproxy_tokens_total", "counter",
           "Tokens the providers reported, by provider, model and kind.", om);
    for (size_t pr = 0; pr < K; pr++)
        for (size_t k = 0; k < N_KINDS; k++) {
            uint64_t v = sum(m, ns, m->o_tokens + pr * N_KINDS + k);
            if (!v) continue;
            ccp_buf_reset(&lb);
            label(&lb, "provider", m->prov[m->pairs[pr].prov], true);
            label(&lb, "model", model_label(m, pr), false);
            label(&lb, "kind", token_kinds[k], false);
            ccp_buf_printf(b, "ccproxy_tokens_total{%s} %llu\n", lb.data, (unsigned long long)v);
        }

    /* Gauges are kept as wrapping unsigned counts of +1/-1: the sum read
     * as signed is the level (a scrape racing a request may see -1 for an
     * instant; it is shown as 0). */
    int64_t inflight = (int64_t)sum(m, ns, m->o_in_flight);
    int64_t streams = (int64_t)sum(m, ns, m->o_streams);
    family(b, "ccproxy_in_flight_requests", "gauge", "Requests being handled now.", om);
    ccp_buf_printf(b, "ccproxy_in_flight_requests %lld\n",
                   (long long)(inflight > 0 ? inflight : 0));
    family(b, "ccproxy_open_streams", "gauge", "Streamed answers being sent now.", om);
    ccp_buf_printf(b, "ccproxy_open_streams %lld\n", (long long)(streams > 0 ? streams : 0));
    family(b, "ccproxy_client_disconnects_total", "counter",
           "Requests whose client disconnected before the answer was complete.", om);
    ccp_buf_printf(b, "ccproxy_client_disconnects_total %llu\n",
                   (unsigned long long)sum(m, ns, m->o_disconnects));

    process_metrics(b, om);
    family(b, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch in seconds.", om);
    ccp_buf_printf(b, "process_start_time_seconds %.3f\n", m->start_time);
    family(b, "ccproxy_build_info", "info", "The running ccproxy's version.", om);
    ccp_buf_printf(b, "ccproxy_build_info{version=\"%s\"} 1\n", CCP_VERSION);
    if (m->extra) m->extra(b, om, m->extra_ud);
    if (om) ccp_buf_appends(b, "# EOF\n");
    ccp_buf_free(&lb);
}

bool ccp_metrics_wants_openmetrics(const char *accept)
{
    return accept && strstr(accept, "application/openmetrics-text") != NULL;
}
