/* health.c — per-provider health (see health.h). */
#include "obs/pstatus.h"

#include "core/alloc.h"
#include "core/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry {
    char *name; /* owned */
    uint64_t successes, failures;
    bool has_result;
    bool last_ok;
    int last_status;      /* 0: no HTTP answer (transport error) */
    uint64_t last_at_ms;  /* Unix epoch */
    char last_error[256]; /* "" until a failure */
    uint64_t last_error_at_ms;
} entry;

struct ccp_pstatus {
    pthread_mutex_t mu;
    entry *e;
    size_t n;
    ccp_health *breakers; /* borrowed; NULL: none */
};

ccp_pstatus *ccp_pstatus_new(const ccp_config *cfg, ccp_health *breakers)
{
    ccp_pstatus *h = ccp_xcalloc(1, sizeof *h);
    h->breakers = breakers;
    pthread_mutex_init(&h->mu, NULL);
    h->n = cfg->n_providers;
    h->e = ccp_xcalloc(h->n ? h->n : 1, sizeof *h->e);
    for (size_t i = 0; i < h->n; i++)
        h->e[i].name = ccp_xstrdup(cfg->providers[i].name);
    return h;
}

void ccp_pstatus_free(ccp_pstatus *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->n; i++)
        free(h->e[i].name);
    free(h->e);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static entry *find(const ccp_pstatus *h, const char *provider)
{
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->e[i].name, provider)) return &h->e[i];
    return NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ccp_pstatus_record(ccp_pstatus *h, const char *provider, int result, int status,
                        const char *error)
{
    if (!h || !provider) return;
    entry *e = find(h, provider);
    if (!e) return;
    bool ok = result == 0 && status >= 200 && status < 300;
    uint64_t at = now_ms();
    pthread_mutex_lock(&h->mu);
    e->has_result = true;
    e->last_ok = ok;
    e->last_status = status;
    e->last_at_ms = at;
    if (ok) {
        e->successes++;
    } else {
        e->failures++;
        e->last_error_at_ms = at;
        if (error)
            snprintf(e->last_error, sizeof e->last_error, "%s", error);
        else if (status)
            snprintf(e->last_error, sizeof e->last_error, "answered HTTP %d", status);
        else
            snprintf(e->last_error, sizeof e->last_error, "%s", ccp_error_name(result));
    }
    pthread_mutex_unlock(&h->mu);
}

const char *ccp_pstatus_breaker_state(const ccp_pstatus *h, const ccp_provider *p)
{
    if (!h || !h->breakers) return ccp_breaker_state_name(CCP_BREAKER_CLOSED);
    ccp_breaker b = ccp_health_breaker(ccp_health_of(h->breakers, p));
    return ccp_breaker_state_name(b.state);
}

static bool route_can_serve(const ccp_pstatus *h, const ccp_route *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(ccp_pstatus_breaker_state(h, r->targets[i].provider), "open")) return true;
    return false;
}

bool ccp_pstatus_can_serve(const ccp_pstatus *h, const ccp_config *cfg)
{
    if (!cfg->has_default) return false;
    for (int s = 0; s < CCP_STAGE_COUNT; s++)
        if (route_can_serve(h, &cfg->router.stages[s])) return true;
    for (size_t i = 0; i < cfg->router.n_rules; i++)
        if (route_can_serve(h, &cfg->router.rules[i].route)) return true;
    return false;
}

static void write_time(ccp_buf *out, uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[40];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    ccp_buf_printf(out, "\"%s.%03uZ\"", s, (unsigned)(ms % 1000));
}

void ccp_pstatus_write_json(const ccp_pstatus *h, const ccp_config *cfg, ccp_buf *out)
{
    ccp_buf_appendc(out, '{');
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const ccp_provider *p = &cfg->providers[i];
        if (i) ccp_buf_appendc(out, ',');
        ccp_buf_append_json_str(out, p->name, strlen(p->name));
        ccp_buf_appends(out, ":{\"configured\":true,\"format\":");
        const char *f = ccp_format_name(p->format);
        ccp_buf_append_json_str(out, f, strlen(f));
        ccp_buf_printf(out, ",\"breaker\":\"%s\"", ccp_pstatus_breaker_state(h, p));
        entry *e = h ? find(h, p->name) : NULL;
        if (!e) {
            ccp_buf_appends(out, ",\"successes\":0,\"failures\":0,\"last_result\":null,"
                                 "\"last_error\":null}");
            continue;
        }
        /* A copy under the lock, written out after. */
        pthread_mutex_lock((pthread_mutex_t *)&h->mu);
        entry c = *e;
        pthread_mutex_unlock((pthread_mutex_t *)&h->mu);
        ccp_buf_printf(out, ",\"successes\":%llu,\"failures\":%llu,\"last_result\":",
                       (unsigned long long)c.successes, (unsigned long long)c.failures);
        if (c.has_result) {
            ccp_buf_printf(out, "{\"ok\":%s,\"status\":", c.last_ok ? "true" : "false");
            if (c.last_status)
                ccp_buf_printf(out, "%d", c.last_status);
            else
                ccp_buf_appends(out, "null");
            ccp_buf_appends(out, ",\"at\":");
            write_time(out, c.last_at_ms);
            ccp_buf_appendc(out, '}');
        } else {
            ccp_buf_appends(out, "null");
        }
        ccp_buf_appends(out, ",\"last_error\":");
        if (c.last_error_at_ms) {
            ccp_buf_appends(out, "{\"message\":");
            ccp_buf_append_json_str(out, c.last_error, strlen(c.last_error));
            ccp_buf_appends(out, ",\"at\":");
            write_time(out, c.last_error_at_ms);
            ccp_buf_appendc(out, '}');
        } else {
            ccp_buf_appends(out, "null");
        }
        ccp_buf_appendc(out, '}');
    }
    ccp_buf_appendc(out, '}');
}
