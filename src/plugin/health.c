/* health.c — the idle plugin hosts' health check, on a timer of one event
 * loop (plugin.h, ccp_plugin_health_start).
 *
 * Every CCP_PLUGIN_PING_EVERY_MS the timer takes a reference to the config
 * in force and, when it has process-isolated plugins, queues the check in
 * libuv's thread pool: ccp_plugin_hosts_ping on each of them, which may
 * wait up to CCP_PLUGIN_PONG_MS per host, so never on the loop itself. At
 * most one check runs at a time; the config reference is dropped on the
 * loop when it is done. */
#include "plugin/plugin.h"

#include "config/config.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <uv.h>

struct ccp_plugin_health {
    uv_timer_t timer;
    uv_work_t work;
    ccp_config *(*get)(void *ud);
    void *ud;
    ccp_config *cfg; /* the snapshot checked; a reference held while busy */
    bool busy;       /* a check is queued or running */
    bool closed;     /* the timer is closed: free once not busy */
};

static void check(uv_work_t *w)
{
    ccp_plugin_health *h = w->data;
    const ccp_plugin_set *set = h->cfg->plugins;
    for (size_t i = 0; set && i < set->n; i++)
        if (set->v[i]->isolation == CCP_ISOLATION_PROCESS)
            ccp_plugin_hosts_ping(set->v[i], CCP_PLUGIN_PING_EVERY_MS, CCP_PLUGIN_PONG_MS);
}

static void checked(uv_work_t *w, int status)
{
    (void)status;
    ccp_plugin_health *h = w->data;
    ccp_config_unref(h->cfg);
    h->cfg = NULL;
    h->busy = false;
    if (h->closed) free(h);
}

static bool has_hosts(const ccp_config *cfg)
{
    const ccp_plugin_set *set = cfg->plugins;
    for (size_t i = 0; set && i < set->n; i++)
        if (set->v[i]->isolation == CCP_ISOLATION_PROCESS) return true;
    return false;
}

static void tick(uv_timer_t *t)
{
    ccp_plugin_health *h = t->data;
    if (h->busy) return;
    ccp_config *cfg = h->get(h->ud);
    if (!cfg) return;
    if (!has_hosts(cfg)) {
        ccp_config_unref(cfg);
        return;
    }
    h->cfg = cfg;
    h->busy = true;
    h->work.data = h;
    if (uv_queue_work(t->loop, &h->work, check, checked) != 0) {
        ccp_config_unref(cfg);
        h->cfg = NULL;
        h->busy = false;
    }
}

ccp_plugin_health *ccp_plugin_health_start(struct uv_loop_s *loop,
                                           struct ccp_config *(*get)(void *ud), void *ud)
{
    ccp_plugin_health *h = ccp_xcalloc(1, sizeof *h); /* freed once stopped and idle */
    h->get = get;
    h->ud = ud;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    uv_timer_start(&h->timer, tick, CCP_PLUGIN_PING_EVERY_MS, CCP_PLUGIN_PING_EVERY_MS);
    /* The check alone must not keep a loop that has nothing else to do. */
    uv_unref((uv_handle_t *)&h->timer);
    return h;
}

static void timer_closed(uv_handle_t *t)
{
    ccp_plugin_health *h = t->data;
    h->closed = true;
    if (!h->busy) free(h);
}

void ccp_plugin_health_stop(ccp_plugin_health *h)
{
    if (!h) return;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, timer_closed);
}
