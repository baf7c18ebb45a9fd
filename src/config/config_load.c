/* config_load.c — YAML text to a validated ccp_config.
 *
 * libyaml builds a node tree whose every node carries its line and column;
 * the walk below checks each key against the tables of known keys and
 * collects every problem (not just the first) as a diagnostic naming the
 * place and the fix. Values of secrets are never quoted in diagnostics. */
#include "config/config.h"

#include "config/config_internal.h"
#include "config/interp.h"
#include "core/alloc.h"
#include "core/error.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* True if a provider of this name was left out because of its own errors:
 * a router target naming it is then not reported a second time. */
bool ccp_cfg_was_rejected(const loader *l, const char *name)
{
    for (size_t off = 0; off < l->rejected.len; off += strlen(l->rejected.data + off) + 1)
        if (strcmp(l->rejected.data + off, name) == 0) return true;
    return false;
}

void ccp_cfg_diag(loader *l, int line, int col, const char *fmt, ...)
{
    ccp_buf b = CCP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ccp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    ccp_diags *d = l->diags;
    d->items = ccp_xrealloc(d->items, (d->n + 1) * sizeof *d->items);
    d->items[d->n++] = (ccp_diag){ccp_xstrdup(l->file), line, col, ccp_buf_detach(&b, NULL)};
}

yaml_node_t *ccp_cfg_node(loader *l, int idx)
{
    return yaml_document_get_node(&l->doc, idx);
}

const char *ccp_cfg_scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

/* The known key closest to key, if close enough to be a likely typo. */
const char *ccp_cfg_suggest(const char *key, const char *const *known, size_t n)
{
    const char *best = NULL;
    size_t bestd = 99;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(key, known[i]);
        if (d < bestd) bestd = d, best = known[i];
    }
    size_t limit = strlen(key) / 3 + 1;
    return bestd <= (limit < 3 ? limit : 3) ? best : NULL;
}

void ccp_cfg_unknown_key(loader *l, yaml_node_t *k, const char *where, const char *const *known,
                         size_t n)
{
    const char *key = ccp_cfg_scalar(k);
    const char *s = ccp_cfg_suggest(key, known, n);
    ccp_buf list = CCP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i) ccp_buf_appends(&list, ", ");
        ccp_buf_appends(&list, known[i]);
    }
    if (s)
        DIAG(l, k, "unknown key '%s' in %s: did you mean '%s'?", key, where, s);
    else
        DIAG(l, k, "unknown key '%s' in %s; known keys: %s", key, where, list.data);
    ccp_buf_free(&list);
}

/* ---- typed scalar fields ---------------------------------------------- */

typedef enum { F_STR, F_INT, F_SIZE, F_MS, F_LOGLEVEL } field_type;

typedef struct field {
    const char *name;
    field_type type;
    size_t offset;
    long long min, max;
} field;

#define MS_MAX (24LL * 3600 * 1000)
static const field server_fields[] = {
    {"host", F_STR, offsetof(ccp_server_config, host), 0, 0},
    {"port", F_INT, offsetof(ccp_server_config, port), 0, 65535},
    {"workers", F_INT, offsetof(ccp_server_config, workers), 0, 1024},
    {"max_body_bytes", F_SIZE, offsetof(ccp_server_config, max_body_bytes), 1024, 1LL << 32},
    {"max_header_bytes", F_SIZE, offsetof(ccp_server_config, max_header_bytes), 1024, 1 << 24},
    {"max_json_elements", F_INT, offsetof(ccp_server_config, max_json_elements), 1000, 100000000},
    {"header_timeout_ms", F_MS, offsetof(ccp_server_config, header_timeout_ms), 1, MS_MAX},
    {"idle_timeout_ms", F_MS, offsetof(ccp_server_config, idle_timeout_ms), 1, MS_MAX},
    {"drain_timeout_ms", F_MS, offsetof(ccp_server_config, drain_timeout_ms), 0, MS_MAX},
    {"log_level", F_LOGLEVEL, offsetof(ccp_server_config, log_level), 0, 0},
};

static const field upstream_fields[] = {
    {"connect_timeout_ms", F_MS, offsetof(ccp_upstream_config, connect_timeout_ms), 1, MS_MAX},
    {"first_byte_timeout_ms", F_MS, offsetof(ccp_upstream_config, first_byte_timeout_ms), 1,
     MS_MAX},
    {"stream_idle_timeout_ms", F_MS, offsetof(ccp_upstream_config, stream_idle_timeout_ms), 1,
     MS_MAX},
    {"total_timeout_ms", F_MS, offsetof(ccp_upstream_config, total_timeout_ms), 0, MS_MAX},
    {"max_response_bytes", F_SIZE, offsetof(ccp_upstream_config, max_response_bytes), 1024,
     1LL << 32},
};

bool ccp_cfg_parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || errno || end == s) return false;
    *out = v;
    return *end == '\0';
}

/* "32MiB", "64KiB", "1048576", "2GB"... */
static bool parse_size(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || errno || end == s || v < 0) return false;
    while (*end == ' ')
        end++;
    long long mul = 1;
    if (!*end || !strcmp(end, "B"))
        mul = 1;
    else if (!strcmp(end, "KiB") || !strcmp(end, "KB") || !strcmp(end, "k") || !strcmp(end, "K"))
        mul = 1024;
    else if (!strcmp(end, "MiB") || !strcmp(end, "MB") || !strcmp(end, "M"))
        mul = 1024 * 1024;
    else if (!strcmp(end, "GiB") || !strcmp(end, "GB") || !strcmp(end, "G"))
        mul = 1024LL * 1024 * 1024;
    else
        return false;
    *out = v * mul;
    return true;
}

static void set_field(loader *l, const field *f, void *base, yaml_node_t *v, const char *where)
{
    const char *s = ccp_cfg_scalar(v);
    if (!s) {
        DIAG(l, v, "%s.%s: expected a single value, not a %s", where, f->name,
             v->type == YAML_MAPPING_NODE ? "mapping" : "list");
        return;
    }
    char *p = (char *)base + f->offset;
    long long n;
    switch (f->type) {
    case F_STR:
        free(*(char **)p);
        *(char **)p = ccp_xstrdup(s);
        return;
    case F_LOGLEVEL:
        if (ccp_log_parse_level(s, (ccp_log_level *)p) != 0)
            DIAG(l, v, "%s.%s: '%s' is not a log level; use one of error, warn, info, debug", where,
                 f->name, s);
        return;
    case F_SIZE:
        if (!parse_size(s, &n)) {
            DIAG(l, v, "%s.%s: expected a size in bytes such as 1048576 or 32MiB", where, f->name);
            return;
        }
        break;
    case F_INT:
    case F_MS:
        if (!ccp_cfg_parse_ll(s, &n)) {
            DIAG(l, v, "%s.%s: expected an integer%s", where, f->name,
                 f->type == F_MS ? " number of milliseconds" : "");
            return;
        }
        break;
    }
    if (n < f->min || n > f->max) {
        DIAG(l, v, "%s.%s: %lld is out of range; use %lld to %lld", where, f->name, n, f->min,
             f->max);
        return;
    }
    if (f->type == F_SIZE)
        *(size_t *)p = (size_t)n;
    else if (f->type == F_MS)
        *(uint32_t *)p = (uint32_t)n;
    else
        *(int *)p = (int)n;
}

static void load_fields(loader *l, yaml_node_t *map, const char *where, const field *fields,
                        size_t nf, void *base)
{
    if (map->type != YAML_MAPPING_NODE) {
        DIAG(l, map, "%s: expected a mapping of settings", where);
        return;
    }
    const char *names[16];
    for (size_t i = 0; i < nf; i++)
        names[i] = fields[i].name;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
        const char *key = ccp_cfg_scalar(k);
        size_t i = 0;
        while (key && i < nf && strcmp(key, fields[i].name) != 0)
            i++;
        if (!key) {
            DIAG(l, k, "%s: keys must be plain names", where);
        } else if (i == nf) {
            ccp_cfg_unknown_key(l, k, where, names, nf);
        } else {
            set_field(l, &fields[i], base, v, where);
        }
    }
}

/* ---- providers --------------------------------------------------------- */

/* Interpolates a scalar; NULL (with a diagnostic unless skipping) on error.
 * *unset is set when a variable was unset. The value is never quoted. */
char *ccp_cfg_interp(loader *l, yaml_node_t *v, const char *what, bool *unset)
{
    const char *s = ccp_cfg_scalar(v);
    if (!s) {
        DIAG(l, v, "%s: expected a string", what);
        return NULL;
    }
    ccp_buf out = CCP_BUF_INIT;
    char var[256];
    int rc = ccp_interp(s, &out, var, sizeof var);
    if (rc == 0) return ccp_buf_detach(&out, NULL);
    ccp_buf_free(&out);
    if (rc == CCP_ENOTFOUND) {
        if (unset) *unset = true;
        if (!l->env_default)
            DIAG(l, v,
                 "%s: environment variable %s is not set; export it, or write "
                 "${%s:-default} to give a default",
                 what, var, var);
    } else {
        DIAG(l, v,
             "%s: malformed ${...}: write ${NAME} or ${NAME:-default}, and $$ for a "
             "literal $",
             what);
    }
    return NULL;
}

static const char *const provider_keys[] = {"name",
                                            "format",
                                            "base_url",
                                            "api_key",
                                            "auth",
                                            "headers",
                                            "models",
                                            "max_tokens_field",
                                            "reasoning",
                                            "top_k",
                                            "reasoning_history",
                                            "pipeline",
                                            "model_pipelines"};

/* YAML 1.1's booleans, as libyaml leaves them to the reader. */
int ccp_cfg_parse_bool(const char *s, bool *out)
{
    if (!s) return -1;
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

static bool valid_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return false;
    return true;
}

/* Loads one provider; returns false if it must be left out. */
static bool load_provider(loader *l, yaml_node_t *map, ccp_provider *p)
{
    bool ok = true, skip = false, auth_set = false;
    yaml_node_t *name_node = NULL, *pipeline_node = NULL, *model_pipelines_node = NULL;
    p->format = CCP_FORMAT_ANTHROPIC;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
        const char *key = ccp_cfg_scalar(k), *s = ccp_cfg_scalar(v);
        if (!key) {
            DIAG(l, k, "providers: keys must be plain names");
            ok = false;
        } else if (!strcmp(key, "name")) {
            name_node = v;
            if (!s || !valid_name(s)) {
                DIAG(l, v, "providers.name: use lower-case letters, digits, '-', '_' or '.'");
                ok = false;
            } else {
                p->name = ccp_xstrdup(s);
            }
        } else if (!strcmp(key, "format")) {
            if (s && !strcmp(s, "anthropic"))
                p->format = CCP_FORMAT_ANTHROPIC;
            else if (s && !strcmp(s, "openai-chat"))
                p->format = CCP_FORMAT_OPENAI_CHAT;
            else if (s && !strcmp(s, "gemini"))
                p->format = CCP_FORMAT_GEMINI;
            else {
                DIAG(l, v,
                     "providers.format: '%s' is not a format; use anthropic, openai-chat "
                     "or gemini",
                     s ? s : "(not a string)");
                ok = false;
            }
        } else if (!strcmp(key, "base_url")) {
            char *u = ccp_cfg_interp(l, v, "providers.base_url", &skip);
            if (u && strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
                DIAG(l, v, "providers.base_url: must start with http:// or https://");
                free(u);
                u = NULL;
            }
            if (!u) ok = false;
            if (u) {
                size_t n = strlen(u);
                while (n > 0 && u[n - 1] == '/')
                    u[--n] = '\0';
            }
            free(p->base_url);
            p->base_url = u;
        } else if (!strcmp(key, "api_key")) {
            if (p->api_key) free(p->api_key);
            p->api_key = ccp_cfg_interp(l, v, "providers.api_key", &skip);
            if (!p->api_key)
                ok = false;
            else if (!*p->api_key) {
                free(p->api_key);
                p->api_key = NULL;
            }
        } else if (!strcmp(key, "auth")) {
            auth_set = true;
            if (s && !strcmp(s, "x-api-key"))
                p->auth = CCP_AUTH_X_API_KEY;
            else if (s && !strcmp(s, "bearer"))
                p->auth = CCP_AUTH_BEARER;
            else if (s && !strcmp(s, "none"))
                p->auth = CCP_AUTH_NONE;
            else if (s && !strcmp(s, "x-goog-api-key"))
                p->auth = CCP_AUTH_GOOG;
            else {
                DIAG(l, v, "providers.auth: use x-api-key, bearer, x-goog-api-key or none");
                ok = false;
            }
        } else if (!strcmp(key, "max_tokens_field")) {
            if (s && !strcmp(s, "max_tokens"))
                p->max_completion_tokens = false;
            else if (s && !strcmp(s, "max_completion_tokens"))
                p->max_completion_tokens = true;
            else {
                DIAG(l, v, "providers.max_tokens_field: use max_tokens or max_completion_tokens");
                ok = false;
            }
        } else if (!strcmp(key, "top_k") || !strcmp(key, "reasoning_history")) {
            bool *dst = !strcmp(key, "top_k") ? &p->send_top_k : &p->reasoning_history;
            if (ccp_cfg_parse_bool(s, dst) != 0) {
                DIAG(l, v, "providers.%s: expected true or false", key);
                ok = false;
            }
        } else if (!strcmp(key, "reasoning")) {
            if (s && !strcmp(s, "none"))
                p->reasoning = CCP_REASONING_NONE;
            else if (s && !strcmp(s, "effort"))
                p->reasoning = CCP_REASONING_EFFORT;
            else {
                DIAG(l, v, "providers.reasoning: use none or effort");
                ok = false;
            }
        } else if (!strcmp(key, "headers")) {
            if (v->type != YAML_MAPPING_NODE) {
                DIAG(l, v, "providers.headers: expected a mapping of header name to value");
                ok = false;
                continue;
            }
            for (yaml_node_pair_t *h = v->data.mapping.pairs.start; h < v->data.mapping.pairs.top;
                 h++) {
                yaml_node_t *hk = ccp_cfg_node(l, h->key), *hv = ccp_cfg_node(l, h->value);
                char *val = ccp_cfg_interp(l, hv, "providers.headers", &skip);
                if (!ccp_cfg_scalar(hk) || !val) {
                    free(val);
                    ok = false;
                    continue;
                }
                p->headers = ccp_xrealloc(p->headers, (p->n_headers + 1) * sizeof *p->headers);
                p->headers[p->n_headers++] = (ccp_kv){ccp_xstrdup(ccp_cfg_scalar(hk)), val};
            }
        } else if (!strcmp(key, "models")) {
            if (v->type != YAML_SEQUENCE_NODE) {
                DIAG(l, v, "providers.models: expected a list of model names");
                ok = false;
                continue;
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                const char *m = ccp_cfg_scalar(ccp_cfg_node(l, *it));
                if (!m || !*m) {
                    DIAG(l, ccp_cfg_node(l, *it), "providers.models: each model is a name");
                    ok = false;
                    continue;
                }
                p->models = ccp_xrealloc(p->models, (p->n_models + 1) * sizeof *p->models);
                p->models[p->n_models++] = ccp_xstrdup(m);
            }
        } else if (!strcmp(key, "pipeline")) {
            pipeline_node = v;
        } else if (!strcmp(key, "model_pipelines")) {
            if (v->type != YAML_MAPPING_NODE) {
                DIAG(l, v, "providers.model_pipelines: expected a mapping of model to pipeline");
                ok = false;
            } else {
                model_pipelines_node = v;
            }
        } else {
            ccp_cfg_unknown_key(l, k, "a provider", provider_keys,
                                sizeof provider_keys / sizeof provider_keys[0]);
            ok = false;
        }
    }
    if (!auth_set)
        p->auth = p->format == CCP_FORMAT_ANTHROPIC ? CCP_AUTH_X_API_KEY
                  : p->format == CCP_FORMAT_GEMINI  ? CCP_AUTH_GOOG
                                                    : CCP_AUTH_BEARER;
    if (!p->name && !name_node) {
        DIAG(l, map, "a provider needs a name: add 'name: <provider>'");
        ok = false;
    }
    if (!p->base_url && ok) {
        DIAG(l, map, "provider '%s' needs a base_url, e.g. https://api.anthropic.com",
             p->name ? p->name : "?");
        ok = false;
    }
    if (skip && l->env_default) return false;
    /* Pipelines may be declared after the providers: resolved later. */
    if (ok && pipeline_node) ccp_cfg_note_pipeline(l, p->name, NULL, pipeline_node);
    for (yaml_node_pair_t *pr =
             model_pipelines_node ? model_pipelines_node->data.mapping.pairs.start : NULL;
         ok && pr && pr < model_pipelines_node->data.mapping.pairs.top; pr++) {
        const char *model = ccp_cfg_scalar(ccp_cfg_node(l, pr->key));
        if (model) ccp_cfg_note_pipeline(l, p->name, model, ccp_cfg_node(l, pr->value));
    }
    return ok;
}

static void load_providers(loader *l, yaml_node_t *seq)
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

/* ---- the document ------------------------------------------------------- */

static const char *const root_keys[] = {"server", "upstream", "providers", "router", "pipelines"};

static void defaults(ccp_config *c)
{
    c->server.host = ccp_xstrdup("127.0.0.1");
    c->server.port = 3456;
    c->server.workers = 0;
    c->server.max_body_bytes = 32u << 20;
    c->server.max_header_bytes = 64u << 10;
    c->server.max_json_elements = 500000;
    c->server.header_timeout_ms = 10000;
    c->server.idle_timeout_ms = 60000;
    c->server.drain_timeout_ms = 10000;
    c->server.log_level = CCP_LOG_INFO;
    c->upstream.connect_timeout_ms = 10000;
    c->upstream.first_byte_timeout_ms = 120000;
    c->upstream.stream_idle_timeout_ms = 120000;
    c->upstream.total_timeout_ms = 600000;
    c->upstream.max_response_bytes = 32u << 20;
    atomic_init(&c->refs, 1);
}

int ccp_config_load_yaml(const char *name, const char *yaml, size_t len, bool env_default,
                         ccp_config **out, ccp_diags *diags)
{
    loader l = {.file = name, .diags = diags, .env_default = env_default};
    size_t before = diags->n;
    *out = NULL;
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &l.doc)) {
        ccp_cfg_diag(&l, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                     "YAML syntax: %s%s%s", parser.problem ? parser.problem : "error",
                     parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return CCP_ECONFIG;
    }
    yaml_parser_delete(&parser);

    ccp_config *c = ccp_xcalloc(1, sizeof *c);
    l.cfg = c;
    defaults(c);
    c->source = ccp_xstrdup(name);
    yaml_node_t *root = yaml_document_get_root_node(&l.doc);
    yaml_node_t *router = NULL;
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = ccp_cfg_node(&l, pr->key), *v = ccp_cfg_node(&l, pr->value);
            const char *key = ccp_cfg_scalar(k);
            if (!key)
                DIAG(&l, k, "top-level keys must be plain names");
            else if (!strcmp(key, "server"))
                load_fields(&l, v, "server", server_fields,
                            sizeof server_fields / sizeof server_fields[0], &c->server);
            else if (!strcmp(key, "upstream"))
                load_fields(&l, v, "upstream", upstream_fields,
                            sizeof upstream_fields / sizeof upstream_fields[0], &c->upstream);
            else if (!strcmp(key, "providers"))
                load_providers(&l, v);
            else if (!strcmp(key, "router"))
                router = v;
            else if (!strcmp(key, "pipelines"))
                ccp_cfg_load_pipelines(&l, v);
            else
                ccp_cfg_unknown_key(&l, k, "the top level", root_keys, 5);
        }
    } else if (root && !(root->type == YAML_SCALAR_NODE && !*ccp_cfg_scalar(root))) {
        DIAG(&l, root, "the config must be a mapping with server, providers and router keys");
    }
    /* The router refers to providers, so it is resolved after all of them. */
    ccp_cfg_resolve_pipelines(&l);
    if (router) ccp_cfg_load_router(&l, router);
    ccp_cfg_router_finish(&l);
    yaml_document_delete(&l.doc);
    ccp_buf_free(&l.rejected);
    if (diags->n > before) {
        ccp_config_destroy(c);
        return CCP_ECONFIG;
    }
    *out = c;
    return 0;
}

int ccp_config_load_string(const char *name, const char *yaml, size_t len, ccp_config **out,
                           ccp_diags *diags)
{
    return ccp_config_load_yaml(name, yaml, len, false, out, diags);
}

int ccp_config_load_file(const char *path, ccp_config **out, ccp_diags *diags)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        loader l = {.file = path, .diags = diags};
        ccp_cfg_diag(&l, 0, 0,
                     "cannot open config file: %s; check the path (--config, "
                     "$CCPROXY_CONFIG) or remove it to use the embedded default",
                     strerror(errno));
        return CCP_ECONFIG;
    }
    ccp_buf b = CCP_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ccp_buf_append(&b, chunk, n);
    fclose(f);
    int rc = ccp_config_load_yaml(path, b.data ? b.data : "", b.len, false, out, diags);
    ccp_buf_free(&b);
    return rc;
}
