/* config_internal.h — what the files of src/config share and nobody else
 * needs. */
#ifndef CCP_CONFIG_INTERNAL_H
#define CCP_CONFIG_INTERNAL_H

#include "config/config.h"
#include "config/keys.h"
#include "core/buf.h"
#include "pipeline/pipeline.h"

#include <yaml.h>

/* The state of one load: the YAML document, where diagnostics go, the
 * config being built. */
/* A provider's reference to a pipeline, resolved once all are loaded. */
typedef struct ccp_pipeline_ref {
    char *provider, *model, *pipeline; /* model NULL: the provider's default */
    int line, col;
} ccp_pipeline_ref;

typedef struct ccp_loader {
    const char *file;
    yaml_document_t doc;
    ccp_diags *diags;
    ccp_config *cfg;
    bool env_default; /* the embedded default: skip providers whose key is unset */
    ccp_buf rejected; /* names of providers left out for errors, NUL-separated */
    ccp_pipeline_ref *refs;
    size_t n_refs;
    /* While loading one provider: a ${VAR} was unset; its pipeline nodes. */
    bool unset;
    yaml_node_t *pipeline_node, *model_pipelines_node;
} loader;

/* Adds a diagnostic at line:col (1-based) of the file. */
void ccp_cfg_diag(loader *l, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define DIAG(l, node, ...)                                                                         \
    ccp_cfg_diag((l), (int)(node)->start_mark.line + 1, (int)(node)->start_mark.column + 1,        \
                 __VA_ARGS__)

yaml_node_t *ccp_cfg_node(loader *l, int idx);
/* The text of a scalar node, or NULL for any other node. */
const char *ccp_cfg_scalar(yaml_node_t *n);
/* Reports an unknown key with a "did you mean" from known[0..n). */
void ccp_cfg_unknown_key(loader *l, yaml_node_t *k, const char *where, const char *const *known,
                         size_t n);
/* Interpolates a scalar (${VAR}); a malloc'd string, or NULL with a
 * diagnostic. *unset (optional) is set when a variable was unset. */
char *ccp_cfg_interp(loader *l, yaml_node_t *v, const char *what, bool *unset);
/* A mapping of header name to (interpolated) value appended to *kv, *n:
 * names without ':' or white space, values without line breaks, each
 * problem reported at its place under where ("providers.headers"). */
void ccp_cfg_load_header_map(loader *l, yaml_node_t *v, const char *where, bool *unset, ccp_kv **kv,
                             size_t *n);

/* Loads a mapping of the keys of table t into base, each through its row
 * (ccp_cfg_set_key); an unknown key gets a "did you mean". */
void ccp_cfg_load_keys(loader *l, yaml_node_t *map, const char *where, const ccp_key_table *t,
                       void *base);
/* Loads one key's value v through its row k into base. */
void ccp_cfg_set_key(loader *l, const ccp_key *k, void *base, yaml_node_t *v, const char *where);
/* Reports an unknown key k of a mapping whose keys are t's. */
void ccp_cfg_unknown_in(loader *l, yaml_node_t *k, const char *where, const ccp_key_table *t);
/* True if a provider of this name was left out for its own errors. */
bool ccp_cfg_was_rejected(const loader *l, const char *name);

/* The known name closest to name, if close enough to be a typo; or NULL. */
const char *ccp_cfg_suggest(const char *name, const char *const *known, size_t n);

/* The largest millisecond setting: a day. */
#define MS_MAX (24LL * 3600 * 1000)

/* The sections' tables (config_load.c, config_router.c,
 * config_reliability.c). */
extern const ccp_key_table ccp_cfg_root_keys, ccp_cfg_server_keys, ccp_cfg_upstream_keys,
    ccp_cfg_provider_keys, ccp_cfg_router_keys, ccp_cfg_retry_keys, ccp_cfg_breaker_keys,
    ccp_cfg_telemetry_keys, ccp_cfg_security_keys, ccp_cfg_tls_keys, ccp_cfg_auth_keys,
    ccp_cfg_state_keys;

/* config_security.c: the security section, providers' tls mapping, and the
 * checks after every provider is loaded (the allowlist, allow_internal). */
void ccp_cfg_security_defaults(ccp_security_config *s);
void ccp_cfg_security_free(ccp_security_config *s);
void ccp_cfg_load_tls(loader *l, yaml_node_t *v, void *base, const ccp_key *k);
void ccp_cfg_tls_defaults(ccp_tls_config *t);
void ccp_cfg_tls_free(ccp_tls_config *t);
void ccp_cfg_security_finish(loader *l);
/* True when host:port matches one of patterns (or patterns is empty). */
bool ccp_cfg_upstream_allowed(const ccp_strlist *patterns, const char *host, long port);
/* config_debug.c: the debug section and its capture table. */
extern const ccp_key_table ccp_cfg_debug_keys, ccp_cfg_capture_keys;
void ccp_cfg_debug_defaults(ccp_debug_config *d);
void ccp_cfg_debug_free(ccp_debug_config *d);

/* config_inbound.c: server.tls and the per-client limits. */
extern const ccp_key_table ccp_cfg_server_tls_keys;
void ccp_cfg_load_server_tls(loader *l, yaml_node_t *v, void *base, const ccp_key *k);
void ccp_cfg_load_client_rate(loader *l, yaml_node_t *v, void *base, const ccp_key *k);

/* config_reliability.c: a provider's retry, breaker and api_keys. */
void ccp_cfg_reliability_defaults(ccp_provider *p);
void ccp_cfg_load_retry(loader *l, yaml_node_t *v, void *base, const ccp_key *k);
void ccp_cfg_load_breaker(loader *l, yaml_node_t *v, void *base, const ccp_key *k);
void ccp_cfg_load_api_keys(loader *l, yaml_node_t *v, void *base, const ccp_key *k);
/* Puts api_key first in the key pool (or takes it from api_keys). */
void ccp_cfg_finish_keys(ccp_provider *p);

/* config_telemetry.c: the telemetry section's defaults (unset keys, for
 * the environment to fill) and what it owns. */
void ccp_cfg_telemetry_defaults(ccp_telemetry_config *t);
void ccp_cfg_telemetry_free(ccp_telemetry_config *t);

/* config_teams.c: the pricing section, and what it owns. */
void ccp_cfg_load_pricing(loader *l, yaml_node_t *map);
void ccp_cfg_pricing_free(ccp_config *c);
/* config_teams.c: the tenants section, and what it owns. */
void ccp_cfg_load_tenants(loader *l, yaml_node_t *map);
void ccp_cfg_tenants_free(ccp_config *c);
extern const ccp_key_table ccp_cfg_tenant_keys;

/* config_provider.c: the providers section. */
void ccp_cfg_load_providers(loader *l, yaml_node_t *seq);

/* config_pipeline.c: the pipelines section; providers' references to
 * pipelines are noted while loading and resolved after both. */
void ccp_cfg_load_pipelines(loader *l, yaml_node_t *map);
void ccp_cfg_note_pipeline(loader *l, const char *provider, const char *model, yaml_node_t *v);
void ccp_cfg_resolve_pipelines(loader *l);
/* Checks the option values in map against st->t's declared options into
 * st->opts and st->conf (where names the place in messages). */
bool ccp_cfg_load_options(loader *l, yaml_node_t *map, const char *where, ccp_step *st);

/* config_plugins.c: the plugins section (map may be NULL: the default
 * folder), loaded before the pipelines that name plugins. */
void ccp_cfg_load_plugins(loader *l, yaml_node_t *map);
extern const ccp_key_table ccp_cfg_plugins_keys, ccp_cfg_plugin_entry_keys,
    ccp_cfg_plugin_limit_keys;

/* config_router.c: the router section, after every provider is loaded. */
void ccp_cfg_load_router(loader *l, yaml_node_t *map);
/* A mapping of stage name to route (tenants.NAME.router) into stages[],
 * with where naming it in diagnostics. */
void ccp_cfg_load_stage_routes(loader *l, yaml_node_t *map, const char *where, ccp_route *stages);
/* Fills in router defaults and the default route when none was given. */
void ccp_cfg_router_finish(loader *l);
void ccp_router_config_free(ccp_router_config *r);

/* Loads YAML text; env_default marks the embedded default, whose providers
 * are left out (not reported) when their key variable is unset. */
int ccp_config_load_yaml(const char *name, const char *yaml, size_t len, bool env_default,
                         ccp_config **out, ccp_diags *diags);

/* Frees what a provider owns (not p itself). */
void ccp_provider_free(ccp_provider *p);

#endif
