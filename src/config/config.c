/* config.c — the config snapshot's lifetime, lookups and diagnostics. */
#include "config/config.h"

#include "config/config_internal.h"
#include "codec/codec.h"
#include "core/alloc.h"
#include "pipeline/pipeline.h"
#include "plugin/plugin.h"

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

/* Wipes and frees a secret string (NULL is fine). */
static void free_secret(char *s)
{
    if (!s) return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void ccp_provider_free(ccp_provider *p)
{
    free(p->name);
    free(p->base_url);
    /* Secrets do not linger in freed memory (a reload frees the old
     * snapshot's): the keys, and header values, which often carry a token.
     * api_key points into keys (ccp_cfg_finish_keys); it is set apart from
     * the pool only while its provider is being loaded. */
    bool api_key_pooled = false;
    for (size_t i = 0; i < p->keys.n; i++) {
        if (p->keys.v[i] == p->api_key) api_key_pooled = true;
        free_secret(p->keys.v[i]);
    }
    if (!api_key_pooled) free_secret(p->api_key);
    free(p->keys.v);
    p->keys.v = NULL;
    p->keys.n = 0;
    p->api_key = NULL;
    for (size_t i = 0; i < p->n_headers; i++) {
        free(p->headers[i].name);
        free_secret(p->headers[i].value);
    }
    free(p->headers);
    for (size_t i = 0; i < p->n_models; i++)
        free(p->models[i]);
    free(p->models);
    for (size_t i = 0; i < p->n_model_pipelines; i++)
        free(p->model_pipelines[i].model);
    free(p->model_pipelines);
    if (p->codec_opts) {
        const ccp_codec *c = ccp_codec_for(p->format);
        ccp_key_table t = {c->name, c->opts, c->n_opts};
        ccp_keys_free(&t, p->codec_opts);
    }
    free(p->codec_opts);
    ccp_cfg_tls_free(&p->tls);
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
    ccp_plugin_set_free(c->plugins); /* after the pipelines whose steps point into it */
    ccp_keys_free(&ccp_cfg_server_keys, &c->server);
    ccp_strlist_free(&c->server.allowed_hosts);
    ccp_strlist_free(&c->server.allowed_origins);
    free(c->server.admin_listen);
    ccp_keys_free(&ccp_cfg_server_tls_keys, &c->server.tls);
    ccp_keys_free(&ccp_cfg_upstream_keys, &c->upstream);
    ccp_cfg_telemetry_free(&c->telemetry);
    free_secret(c->auth.admin_key);
    c->auth.admin_key = NULL;
    ccp_keys_free(&ccp_cfg_auth_keys, &c->auth);
    free_secret(c->state.redis); /* may hold Redis's password */
    c->state.redis = NULL;
    ccp_keys_free(&ccp_cfg_state_keys, &c->state);
    ccp_cfg_pricing_free(c);
    ccp_cfg_tenants_free(c);
    ccp_cfg_security_free(&c->security);
    ccp_cfg_debug_free(&c->debug);
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
