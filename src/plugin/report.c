/* report.c — the plugins table: what `ccproxy plugins` prints and
 * GET /admin/plugins answers (plugin.h, ccp_plugin_report).
 *
 * One object per plugin of a config's set: how it is declared and capped
 * (from the config) and, from a running proxy, its breaker's state and its
 * figures (the same counters /metrics has, plus latency quantiles read off
 * the histogram and the hosts' memory). */
#include "plugin/plugin.h"

#include <stdatomic.h>

const char *ccp_plugin_breaker_state(ccp_plugin *p, uint64_t now_ms)
{
    pthread_mutex_lock(&p->mu);
    const char *s = !p->open_until_ms ? "closed" : now_ms < p->open_until_ms ? "open" : "half-open";
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* The upper bound of the bucket where quantile q of the calls falls
 * (seconds), or -1 without calls; the +Inf bucket reports the last
 * finite bound. An estimate, as Prometheus's histogram_quantile is. */
static double quantile(const uint64_t *n, uint64_t total, double q)
{
    if (!total) return -1;
    uint64_t want = (uint64_t)((double)total * q + 0.999999), cum = 0;
    for (size_t b = 0; b <= CCP_PLUGIN_LATENCY_BUCKETS; b++) {
        cum += n[b];
        if (cum >= want && b < CCP_PLUGIN_LATENCY_BUCKETS) return ccp_plugin_latency_bounds[b];
    }
    return ccp_plugin_latency_bounds[CCP_PLUGIN_LATENCY_BUCKETS - 1];
}

static json_object *figures(ccp_plugin *p)
{
    json_object *f = json_object_new_object();
    uint64_t calls = atomic_load(&p->calls);
    json_object_object_add(f, "calls", json_object_new_int64((int64_t)calls));
    json_object_object_add(f, "errors", json_object_new_int64((int64_t)atomic_load(&p->errors)));
    json_object_object_add(f, "timeouts",
                           json_object_new_int64((int64_t)atomic_load(&p->timeouts)));
    json_object_object_add(f, "kills", json_object_new_int64((int64_t)atomic_load(&p->kills)));
    json_object_object_add(f, "restarts",
                           json_object_new_int64((int64_t)atomic_load(&p->restarts)));
    json_object_object_add(f, "pings", json_object_new_int64((int64_t)atomic_load(&p->pings)));
    json_object_object_add(f, "unresponsive",
                           json_object_new_int64((int64_t)atomic_load(&p->unresponsive)));
    uint64_t n[CCP_PLUGIN_LATENCY_BUCKETS + 1], timed = 0;
    for (size_t b = 0; b <= CCP_PLUGIN_LATENCY_BUCKETS; b++)
        timed += n[b] = atomic_load(&p->lat[b]);
    uint64_t us = atomic_load(&p->call_us);
    json_object_object_add(
        f, "mean_ms", timed ? json_object_new_double((double)us / 1000.0 / (double)timed) : NULL);
    double p50 = quantile(n, timed, 0.5), p99 = quantile(n, timed, 0.99);
    json_object_object_add(f, "p50_ms", p50 < 0 ? NULL : json_object_new_double(p50 * 1000));
    json_object_object_add(f, "p99_ms", p99 < 0 ? NULL : json_object_new_double(p99 * 1000));
    int hosts;
    uint64_t rss;
    ccp_plugin_host_figures(p, &hosts, &rss);
    json_object_object_add(f, "hosts", json_object_new_int(hosts));
    json_object_object_add(f, "hosts_rss_bytes", json_object_new_int64((int64_t)rss));
    return f;
}

json_object *ccp_plugin_report(const ccp_plugin_set *set, bool with_figures)
{
    json_object *arr = json_object_new_array();
    uint64_t now = ccp_plugin_now_ms();
    for (size_t i = 0; set && i < set->n; i++) {
        ccp_plugin *p = set->v[i];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(p->name));
        json_object_object_add(o, "version", json_object_new_string(p->version ? p->version : ""));
        json_object_object_add(o, "path", json_object_new_string(p->path ? p->path : ""));
        json_object_object_add(o, "isolation",
                               json_object_new_string(p->isolation == CCP_ISOLATION_INPROCESS
                                                          ? "inprocess"
                                                          : "process"));
        json_object *l = json_object_new_object();
        json_object_object_add(l, "timeout_ms", json_object_new_int64(p->limits.timeout_ms));
        json_object_object_add(l, "memory_mb", json_object_new_int64(p->limits.memory_mb));
        json_object_object_add(l, "cpu_seconds", json_object_new_int64(p->limits.cpu_seconds));
        json_object_object_add(l, "instructions", json_object_new_int64(p->limits.instructions));
        json_object_object_add(o, "limits", l);
        json_object_object_add(o, "on_error",
                               json_object_new_string(p->skip_on_error ? "skip" : "fail"));
        json_object *h = json_object_new_array();
        if (p->has_request) json_object_array_add(h, json_object_new_string("request"));
        if (p->has_outbound) json_object_array_add(h, json_object_new_string("outbound"));
        if (p->has_event) json_object_array_add(h, json_object_new_string("event"));
        if (p->has_route) json_object_array_add(h, json_object_new_string("route"));
        json_object_object_add(o, "hooks", h);
        json_object_object_add(
            o, "breaker",
            with_figures ? json_object_new_string(ccp_plugin_breaker_state(p, now)) : NULL);
        json_object_object_add(o, "figures", with_figures ? figures(p) : NULL);
        json_object_array_add(arr, o);
    }
    json_object *r = json_object_new_object();
    json_object_object_add(r, "plugins", arr);
    return r;
}
