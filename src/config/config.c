/* config.c — the config snapshot's lifetime, lookups and diagnostics. */
#include "config/config.h"

#include "config/config_internal.h"
#include "codec/codec.h"
#include "core/alloc.h"
#include "pipeline/pipeline.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ccp_diags_free(ccp_diags *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
    }
    free(d->items);
    d->items = NULL;
    d->n = 0;
}

void ccp_diags_print(const ccp_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const ccp_diag *g = &d->items[i];
        if (g->line > 0)
            fprintf(out, "%s:%d:%d: error: %s\n", g->file, g->line, g->col, g->message);
        else
            fprintf(out, "%s: error: %s\n", g->file, g->message);
    }
}

void ccp_provider_free(ccp_provider *p)
{
    free(p->name);
    free(p->base_url);
    if (p->api_key) {
        /* Secrets do not linger in freed memory. */
        memset(p->api_key, 0, strlen(p->api_key));
        free(p->api_key);
    }
    for (size_t i = 0; i < p->keys.n; i++)
        memset(p->keys.v[i], 0, strlen(p->keys.v[i]));
    ccp_strlist_free(&p->keys);
    for (size_t i = 0; i < p->n_headers; i++) {
        free(p->headers[i].name);
        free(p->headers[i].value);
    }
    free(p->headers);
    for (size_t i = 0; i < p->n_models; i++)
        free(p->models[i]);
    free(p->models);
    for (size_t i = 0; i < p->n_model_pipelines; i++)
        free(p->model_pipelines[i].model);
    free(p->model_pipelines);
    free(p->codec_opts);
}

void ccp_strlist_free(ccp_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void ccp_config_destroy(ccp_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_providers; i++)
        ccp_provider_free(&c->providers[i]);
    free(c->providers);
    ccp_router_config_free(&c->router);
    for (size_t i = 0; i < c->n_pipelines; i++)
        ccp_pipeline_free(&c->pipelines[i]);
    free(c->pipelines);
    ccp_keys_free(&ccp_cfg_server_keys, &c->server);
    ccp_strlist_free(&c->server.allowed_hosts);
    ccp_strlist_free(&c->server.allowed_origins);
    free(c->server.admin_listen);
    ccp_keys_free(&ccp_cfg_upstream_keys, &c->upstream);
    ccp_cfg_telemetry_free(&c->telemetry);
    ccp_keys_free(&ccp_cfg_auth_keys, &c->auth);
    ccp_keys_free(&ccp_cfg_state_keys, &c->state);
    ccp_cfg_pricing_free(c);
    ccp_cfg_tenants_free(c);
    free(c->source);
    free(c);
}

ccp_config *ccp_config_ref(ccp_config *c)
{
    atomic_fetch_add(&c->refs, 1);
    return c;
}

void ccp_config_unref(ccp_config *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) ccp_config_destroy(c);
}

const ccp_provider *ccp_config_provider(const ccp_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_providers; i++)
        if (strcmp(c->providers[i].name, name) == 0) return &c->providers[i];
    return NULL;
}

const char *ccp_format_name(ccp_format f)
{
    return ccp_codec_for(f)->name;
}

char *ccp_config_find_path(const char *explicit_path)
{
    if (explicit_path) return ccp_xstrdup(explicit_path);
    const char *env = getenv("CCPROXY_CONFIG");
    if (env && *env) return ccp_xstrdup(env);
    if (access("ccproxy.yaml", R_OK) == 0) return ccp_xstrdup("ccproxy.yaml");
    const char *home = getenv("HOME");
    if (home && *home) {
        size_t n = strlen(home) + sizeof "/.config/ccproxy/config.yaml";
        char *p = ccp_xmalloc(n);
        snprintf(p, n, "%s/.config/ccproxy/config.yaml", home);
        if (access(p, R_OK) == 0) return p;
        free(p);
    }
    return NULL;
}
