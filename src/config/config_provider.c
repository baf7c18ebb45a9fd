/* config_provider.c — the `providers` section: each provider's keys as one
 * table (provider_keys), the format's own options from its codec's table,
 * and the checks a provider needs as a whole (a name, a base URL, a name
 * used once). */
#include "codec/codec.h"
#include "config/config_internal.h"
#include "core/alloc.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static bool valid_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return false;
    return true;
}

/* The provider keys that are more than a scalar. Each reports its own
 * problems; load_provider counts the diagnostics to know whether the
 * provider is sound. */

static void load_p_name(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_provider *p = base;
    const char *s = ccp_cfg_scalar(v);
    if (!s || !valid_name(s)) {
        DIAG(l, v, "providers.name: use lower-case letters, digits, '-', '_' or '.'");
        return;
    }
    free(p->name);
    p->name = ccp_xstrdup(s);
}

static void load_p_format(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    /* Read before the other keys (load_provider): options depend on it. */
}

static void load_p_base_url(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_provider *p = base;
    char *u = ccp_cfg_interp(l, v, "providers.base_url", &l->unset);
    if (u && strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
        DIAG(l, v, "providers.base_url: must start with http:// or https://");
        free(u);
        u = NULL;
    }
    if (u) {
        size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/')
            u[--n] = '\0';
    }
    free(p->base_url);
    p->base_url = u;
    p->base_url_line = (int)v->start_mark.line + 1;
    p->base_url_col = (int)v->start_mark.column + 1;
}

static void load_p_api_key(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_provider *p = base;
    free(p->api_key);
    p->api_key = ccp_cfg_interp(l, v, "providers.api_key", &l->unset);
    if (p->api_key && !*p->api_key) {
        free(p->api_key);
        p->api_key = NULL;
    }
}

static void load_p_headers(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_provider *p = base;
    ccp_cfg_load_header_map(l, v, "providers.headers", &l->unset, &p->headers, &p->n_headers);
}

static void load_p_models(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_provider *p = base;
    if (v->type != YAML_SEQUENCE_NODE) {
        DIAG(l, v, "providers.models: expected a list of model names");
        return;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        const char *m = ccp_cfg_scalar(ccp_cfg_node(l, *it));
        if (!m || !*m) {
            DIAG(l, ccp_cfg_node(l, *it), "providers.models: each model is a name");
            continue;
        }
        p->models = ccp_xrealloc(p->models, (p->n_models + 1) * sizeof *p->models);
        p->models[p->n_models++] = ccp_xstrdup(m);
    }
}

/* Pipelines may be declared after the providers, and the provider's name
 * may come after these keys: the nodes are kept and resolved later. */
static void load_p_pipeline(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    l->pipeline_node = v;
}

static void load_p_model_pipelines(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    if (v->type != YAML_MAPPING_NODE)
        DIAG(l, v, "providers.model_pipelines: expected a mapping of model to pipeline");
    else
        l->model_pipelines_node = v;
}

static const char *const auths[] = {
    [CCP_AUTH_X_API_KEY] = "x-api-key", [CCP_AUTH_BEARER] = "bearer",
    [CCP_AUTH_GOOG] = "x-goog-api-key", [CCP_AUTH_NONE] = "none",
    [CCP_AUTH_API_KEY] = "api-key",     NULL,
};

#define PROV(f) offsetof(ccp_provider, f)
static const ccp_key provider_keys[] = {
    {.name = "name",
     .type = CCP_KEY_CUSTOM,
     .load = load_p_name,
     .doc_type = "string, `[a-z0-9._-]`",
     .required = true,
     .help = "unique; used by `router.default` and in logs"},
    {.name = "format",
     .type = CCP_KEY_CUSTOM,
     .load = load_p_format,
     .doc_type = "a format (below)",
     .doc_def = "`anthropic`",
     .help = "the provider's wire format; every mapping of [openai-chat](openai-chat.md), "
             "[openai-responses](openai-responses.md) and [gemini](gemini.md) is documented"},
    {.name = "base_url",
     .type = CCP_KEY_CUSTOM,
     .load = load_p_base_url,
     .doc_type = "`http://` or `https://` URL",
     .required = true,
     .help = "without the API path: ccproxy appends `/v1/messages` for `anthropic`; for "
             "`openai-chat` give it up to `/v1` (`https://api.openai.com/v1`) and ccproxy appends "
             "`/chat/completions`; for `openai-responses` up to `/v1` too (Azure OpenAI: "
             "`https://RESOURCE.openai.azure.com/openai/v1`) and ccproxy appends `/responses`; "
             "for `gemini` up to the version "
             "(`https://generativelanguage.googleapis.com/v1beta`) and ccproxy appends "
             "`/models/{model}:…`"},
    {.name = "api_key",
     .type = CCP_KEY_CUSTOM,
     .load = load_p_api_key,
     .doc_type = "string",
     .help = "sent as the `auth` mode says; the client's own key is never forwarded"},
    {.name = "api_keys",
     .type = CCP_KEY_CUSTOM,
     .load = ccp_cfg_load_api_keys,
     .doc_type = "list of strings",
     .help = "more keys of the same account kind, used round-robin with `api_key`: a key "
             "answered `429` rests for the provider's wait hint, one answered `401`/`403` is "
             "parked; logs name a key by its index, never its value (see "
             "[reliability](reliability.md#several-keys-per-provider))"},
    {.name = "auth",
     .type = CCP_KEY_ENUM,
     .offset = PROV(auth),
     .choices = auths,
     .doc_def = "per format (below)",
     .help = "how the key is sent: `x-api-key`, `Authorization: Bearer`, `x-goog-api-key`, "
             "nothing, or an `api-key` header (Azure OpenAI)"},
    {.name = "headers",
     .type = CCP_KEY_CUSTOM,
     .load = load_p_headers,
     .doc_type = "map of string → string",
     .help = "extra headers sent to the provider"},
    {.name = "models",
     .type = CCP_KEY_CUSTOM,
     .load = load_p_models,
     .doc_type = "list of strings",
     .help = "the models it serves: listed by `GET /v1/models`, and checked against "
             "`router.default`"},
    {.name = "pipeline",
     .type = CCP_KEY_CUSTOM,
     .load = load_p_pipeline,
     .doc_type = "name",
     .help = "the pipeline (under `pipelines`) every request to this provider goes through"},
    {.name = "model_pipelines",
     .type = CCP_KEY_CUSTOM,
     .load = load_p_model_pipelines,
     .doc_type = "map of model → name",
     .help = "a pipeline for some of its models instead"},
    {.name = "max_in_flight",
     .type = CCP_KEY_INT,
     .offset = PROV(max_in_flight),
     .def = "0",
     .max = 1000000,
     .help = "transfers to this provider under way at once, across all workers; more wait in a "
             "queue. `0` = no limit (see [Limits and overload](#limits-and-overload))"},
    {.name = "max_queue",
     .type = CCP_KEY_INT,
     .offset = PROV(max_queue),
     .def = "100",
     .max = 1000000,
     .help = "attempts waiting for a slot at most; one more is refused at once (`529 "
             "overloaded_error`, or the route's next target)"},
    {.name = "queue_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = PROV(queue_timeout_ms),
     .def = "30000",
     .max = MS_MAX,
     .help = "how long an attempt waits for a slot before it is refused like a full queue"},
    {.name = "retry",
     .type = CCP_KEY_CUSTOM,
     .load = ccp_cfg_load_retry,
     .doc_type = "mapping",
     .doc_def = "below",
     .help = "retries with exponential backoff ([retry](#retry))"},
    {.name = "breaker",
     .type = CCP_KEY_CUSTOM,
     .load = ccp_cfg_load_breaker,
     .doc_type = "mapping",
     .doc_def = "below",
     .help = "the provider's circuit breaker ([breaker](#breaker))"},
    {.name = "local",
     .type = CCP_KEY_BOOL,
     .offset = PROV(local),
     .def = "false",
     .help = "the provider runs inside your network: its host name may resolve to a loopback, "
             "private or link-local address. Not needed when `base_url` names an IP address or "
             "`localhost`; otherwise such connections are refused ([security](security.md))"},
    {.name = "tls",
     .type = CCP_KEY_CUSTOM,
     .load = ccp_cfg_load_tls,
     .doc_type = "mapping",
     .doc_def = "below",
     .help = "TLS to the provider: private CA, minimum version, key pin, client certificate "
             "([tls](#tls))"},
};

const ccp_key_table ccp_cfg_provider_keys = CCP_KEYS("providers", provider_keys);

/* The format named in a provider's mapping (anthropic when absent); NULL
 * with a diagnostic when it names none. */
static const ccp_codec *provider_codec(loader *l, yaml_node_t *map)
{
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        const char *key = ccp_cfg_scalar(ccp_cfg_node(l, pr->key));
        if (!key || strcmp(key, "format")) continue;
        yaml_node_t *v = ccp_cfg_node(l, pr->value);
        const char *s = ccp_cfg_scalar(v);
        const ccp_codec *c = ccp_codec_find(s);
        if (!c) {
            ccp_buf names = CCP_BUF_INIT;
            ccp_codec_names(&names, " or ");
            DIAG(l, v, "providers.format: '%s' is not a format; use %s", s ? s : "(not a string)",
                 names.data);
            ccp_buf_free(&names);
        }
        return c;
    }
    return ccp_codec_for(CCP_FORMAT_ANTHROPIC);
}

/* A key that is another format's option: says which format takes it. */
static bool other_format_option(loader *l, yaml_node_t *k, const char *key, const ccp_codec *mine)
{
    for (size_t i = 0; ccp_codecs[i]; i++) {
        const ccp_codec *c = ccp_codecs[i];
        if (c == mine) continue;
        ccp_key_table t = {c->name, c->opts, c->n_opts};
        if (!ccp_keys_find(&t, key)) continue;
        DIAG(l, k, "providers.%s: applies only to format %s; set 'format: %s' or remove it", key,
             c->name, c->name);
        return true;
    }
    return false;
}

/* Loads one provider; returns false if it must be left out. */
static bool load_provider(loader *l, yaml_node_t *map, ccp_provider *p)
{
    size_t diags_before = l->diags->n;
    l->unset = false;
    l->pipeline_node = l->model_pipelines_node = NULL;
    const ccp_codec *codec = provider_codec(l, map);
    if (!codec) codec = ccp_codec_for(CCP_FORMAT_ANTHROPIC); /* reported; check the rest */
    p->format = codec->format;
    ccp_key_table opts = {codec->name, codec->opts, codec->n_opts};
    if (codec->opts_size) {
        p->codec_opts = ccp_xcalloc(1, codec->opts_size);
        ccp_keys_defaults(&opts, p->codec_opts);
    }
    ccp_keys_defaults(&ccp_cfg_provider_keys, p);
    p->auth = (ccp_auth)-1;
    ccp_cfg_reliability_defaults(p);
    ccp_cfg_tls_defaults(&p->tls);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
        const char *key = ccp_cfg_scalar(k);
        const ccp_key *row;
        if (!key) {
            DIAG(l, k, "providers: keys must be plain names");
        } else if ((row = ccp_keys_find(&ccp_cfg_provider_keys, key))) {
            ccp_cfg_set_key(l, row, p, v, "providers");
        } else if ((row = ccp_keys_find(&opts, key))) {
            ccp_cfg_set_key(l, row, p->codec_opts, v, "providers");
        } else if (!other_format_option(l, k, key, codec)) {
            ccp_cfg_unknown_in(l, k, "a provider", &ccp_cfg_provider_keys);
        }
    }
    if ((int)p->auth < 0) p->auth = codec->default_auth;
    ccp_cfg_finish_keys(p);
    bool ok = l->diags->n == diags_before;
    if (!p->name) {
        DIAG(l, map, "a provider needs a name: add 'name: <provider>'");
        ok = false;
    }
    if (!p->base_url && ok) {
        DIAG(l, map, "provider '%s' needs a base_url, e.g. https://api.anthropic.com",
             p->name ? p->name : "?");
        ok = false;
    }
    if (l->unset && l->env_default) return false;
    if (!ok) return false;
    if (l->pipeline_node) ccp_cfg_note_pipeline(l, p->name, NULL, l->pipeline_node);
    yaml_node_t *mp = l->model_pipelines_node;
    for (yaml_node_pair_t *pr = mp ? mp->data.mapping.pairs.start : NULL;
         pr && pr < mp->data.mapping.pairs.top; pr++) {
        const char *model = ccp_cfg_scalar(ccp_cfg_node(l, pr->key));
        if (model) ccp_cfg_note_pipeline(l, p->name, model, ccp_cfg_node(l, pr->value));
    }
    return true;
}

void ccp_cfg_load_providers(loader *l, yaml_node_t *seq)
{
    if (seq->type != YAML_SEQUENCE_NODE) {
        if (!(seq->type == YAML_SCALAR_NODE && !*ccp_cfg_scalar(seq)))
            DIAG(l, seq, "providers: expected a list of providers (each '- name: ...')");
        return;
    }
    ccp_config *c = l->cfg;
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    c->providers = ccp_xcalloc(n ? n : 1, sizeof *c->providers);
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *m = ccp_cfg_node(l, *it);
        if (m->type != YAML_MAPPING_NODE) {
            DIAG(l, m, "providers: each provider is a mapping with name, base_url, ...");
            continue;
        }
        ccp_provider *p = &c->providers[c->n_providers];
        memset(p, 0, sizeof *p);
        bool ok = load_provider(l, m, p);
        if (ok && ccp_config_provider(c, p->name)) {
            DIAG(l, m, "provider name '%s' is used twice: give each provider its own name",
                 p->name);
            ok = false;
        }
        if (ok) {
            c->n_providers++;
        } else {
            if (p->name) ccp_buf_append(&l->rejected, p->name, strlen(p->name) + 1);
            ccp_provider_free(p);
            memset(p, 0, sizeof *p);
        }
    }
}
