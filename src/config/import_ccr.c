/* import_ccr.c — claude-code-router's config.json to a ccproxy config
 * (import_ccr.h). The fields follow ccr's README and config.example.json:
 * Providers[] {name, api_base_url (the full endpoint), api_key ("$VAR" and
 * "${VAR}" are read from the environment), models, transformer {use: [name
 * | [name, options]], <model>: {use: [...]}}}, Router {default, background,
 * think, longContext, longContextThreshold, webSearch, image} whose values
 * are "provider,model", and HOST, PORT, APIKEY, API_TIMEOUT_MS, PROXY_URL,
 * LOG, LOG_LEVEL, CUSTOM_ROUTER_PATH, NON_INTERACTIVE_MODE, transformers[].
 * Anything without an exact equivalent is named in the report with what to
 * do instead; a key is never copied. */
#include "config/import_ccr.h"

#include "config/catalog.h"
#include "core/alloc.h"
#include "core/json.h"
#include "pipeline/pipeline.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PROVIDERS 64
#define MAX_MODELS 64

typedef struct prov {
    const char *orig; /* the name in config.json (borrowed from the tree) */
    char name[64];    /* as ccproxy wants it: [a-z0-9._-] */
    const char *format;
    char *base_url;   /* owned */
    char *api_key;    /* owned: "${VAR}" or NULL */
    const char *auth; /* "none" or NULL */
    const char *models[MAX_MODELS];
    size_t n_models;
    json_object *transformer; /* borrowed */
} prov;

typedef struct conv {
    json_object *root;
    prov p[MAX_PROVIDERS];
    size_t n;
    ccp_buf *report;
} conv;

/* ---- helpers ------------------------------------------------------------- */

static void sanitize_name(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*in);
        out[n++] = (isalnum(c) || c == '.' || c == '_' || c == '-') ? (char)c : '-';
    }
    out[n] = '\0';
    if (!n) snprintf(out, cap, "provider");
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

static bool is_loopback_url(const char *u)
{
    const char *h = strstr(u, "://");
    h = h ? h + 3 : u;
    return !strncmp(h, "localhost", 9) || !strncmp(h, "127.", 4) || !strncmp(h, "[::1]", 5) ||
           !strncmp(h, "0.0.0.0", 7);
}

/* "$VAR" or "${VAR}" (ccr's interpolation) → the variable's name, else NULL. */
static bool env_ref(const char *s, char *var, size_t cap)
{
    if (s[0] != '$') return false;
    const char *b = s + 1;
    size_t n;
    if (*b == '{') {
        b++;
        n = strcspn(b, "}");
        if (b[n] != '}' || b[n + 1]) return false;
    } else {
        n = strlen(b);
    }
    if (!n || n >= cap || isdigit((unsigned char)b[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)b[i]) && b[i] != '_') return false;
    memcpy(var, b, n);
    var[n] = '\0';
    return true;
}

static void yaml_str(ccp_buf *out, const char *s)
{
    ccp_catalog_yaml_scalar(out, s);
}

static prov *find_prov(conv *c, const char *orig)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->p[i].orig, orig) || !strcmp(c->p[i].name, orig)) return &c->p[i];
    return NULL;
}

/* The name of a `use` entry: "name" or ["name", {options}]. */
static const char *use_name(json_object *u, json_object **opts)
{
    *opts = NULL;
    if (json_object_is_type(u, json_type_string)) return json_object_get_string(u);
    if (json_object_is_type(u, json_type_array) && ccp_json_arr_len(u) >= 1 &&
        json_object_is_type(ccp_json_arr_at(u, 0), json_type_string)) {
        *opts = ccp_json_arr_at(u, 1);
        return json_object_get_string(ccp_json_arr_at(u, 0));
    }
    return NULL;
}

static bool uses(json_object *transformer, const char *name)
{
    json_object *use = ccp_json_get_arr(transformer, "use"), *opts;
    for (size_t i = 0; i < ccp_json_arr_len(use); i++) {
        const char *n = use_name(ccp_json_arr_at(use, i), &opts);
        if (n && !strcasecmp(n, name)) return true;
    }
    return false;
}

/* ---- providers ------------------------------------------------------------ */

static int load_provider(conv *c, json_object *jp, ccp_error *err)
{
    const char *name = ccp_json_get_str(jp, "name");
    const char *url = ccp_json_get_str(jp, "api_base_url");
    if (!name || !url)
        return ccp_error_set(err, CCP_EINVAL,
                             "Providers[%zu]: a provider needs 'name' and 'api_base_url'", c->n);
    if (c->n == MAX_PROVIDERS)
        return ccp_error_set(err, CCP_EINVAL, "more than %d providers", MAX_PROVIDERS);
    prov *p = &c->p[c->n];
    memset(p, 0, sizeof *p);
    p->orig = name;
    sanitize_name(name, p->name, sizeof p->name);
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->p[i].name, p->name))
            return ccp_error_set(err, CCP_EINVAL, "two providers are named '%s'", p->name);
    if (strcmp(p->name, name))
        ccp_buf_printf(c->report, "- provider '%s' is named '%s' (ccproxy names are [a-z0-9._-])\n",
                       name, p->name);
    p->transformer = ccp_json_get_obj(jp, "transformer");

    /* ccr's api_base_url is the whole endpoint; ccproxy's base_url stops
     * where the format's path starts. */
    char *u = ccp_xstrdup(url);
    size_t ul = strlen(u);
    while (ul && u[ul - 1] == '/')
        u[--ul] = '\0';
    if (uses(p->transformer, "anthropic") || ends_with(u, "/v1/messages")) {
        p->format = "anthropic";
        if (ends_with(u, "/v1/messages")) u[ul - strlen("/v1/messages")] = '\0';
    } else if (uses(p->transformer, "gemini") || strstr(u, "generativelanguage.googleapis.com")) {
        p->format = "gemini";
        char *m = strstr(u, "/models");
        if (m) *m = '\0';
    } else {
        p->format = "openai-chat";
        if (ends_with(u, "/chat/completions")) u[ul - strlen("/chat/completions")] = '\0';
    }
    p->base_url = u;

    const char *key = ccp_json_get_str(jp, "api_key");
    char var[128];
    if (key && env_ref(key, var, sizeof var)) {
        size_t n = strlen(var) + 4;
        p->api_key = ccp_xmalloc(n);
        snprintf(p->api_key, n, "${%s}", var);
    } else if (is_loopback_url(u)) {
        /* ollama, LM Studio, llama.cpp: ccr needs some key, they need none */
        p->auth = "none";
        if (key && *key)
            ccp_buf_printf(c->report,
                           "- provider '%s': the key written in config.json was dropped (a local "
                           "server usually takes none). If it does, set auth: bearer and "
                           "api_key: ${VAR}\n",
                           p->name);
    } else if (!key || !*key) {
        ccp_buf_printf(c->report,
                       "- provider '%s' has no key in config.json; if it needs one, add "
                       "api_key: ${VAR}\n",
                       p->name);
    } else {
        char up[80];
        size_t k = 0;
        for (const char *s = p->name; *s && k + 1 < sizeof up - 8; s++)
            up[k++] = isalnum((unsigned char)*s) ? (char)toupper((unsigned char)*s) : '_';
        snprintf(up + k, sizeof up - k, "_API_KEY");
        size_t n = strlen(up) + 4;
        p->api_key = ccp_xmalloc(n);
        snprintf(p->api_key, n, "${%s}", up);
        ccp_buf_printf(c->report,
                       "- provider '%s': its key was written in config.json; the new config "
                       "reads it from %s: export %s=<the key> before starting ccproxy\n",
                       p->name, up, up);
    }
    json_object *models = ccp_json_get_arr(jp, "models");
    for (size_t i = 0; i < ccp_json_arr_len(models) && p->n_models < MAX_MODELS; i++) {
        const char *m = json_object_get_string(ccp_json_arr_at(models, i));
        if (m && *m) p->models[p->n_models++] = m;
    }
    c->n++;
    return 0;
}

/* ---- transformers → pipeline steps ------------------------------------------ */

typedef struct step {
    const char *t; /* the ccproxy transformer */
    char *text;    /* its YAML list item at 4 spaces (owned) */
} step;

typedef struct steps {
    step v[32];
    size_t n;
} steps;

static void steps_free(steps *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].text);
    s->n = 0;
}

static int format_bit(const char *format)
{
    return !strcmp(format, "anthropic")     ? CCP_FORMAT_ANTHROPIC
           : !strcmp(format, "openai-chat") ? CCP_FORMAT_OPENAI_CHAT
                                            : CCP_FORMAT_GEMINI;
}

/* Adds a step unless its transformer does not apply to the provider's
 * format (then the report says so). */
static void add_step(conv *c, const prov *p, steps *s, const char *where, const char *ccr,
                     const char *t, ccp_buf *text)
{
    const ccp_transformer *tf = ccp_transformer_find(t);
    if (tf && tf->formats && !(tf->formats & (1u << format_bit(p->format)))) {
        ccp_buf_printf(c->report, "- %s: transformer '%s' is not needed with format %s; left out\n",
                       where, ccr, p->format);
        ccp_buf_free(text);
        return;
    }
    if (s->n == sizeof s->v / sizeof s->v[0]) {
        ccp_buf_free(text);
        return;
    }
    ccp_buf_appendc(text, '\0');
    s->v[s->n].t = t;
    s->v[s->n++].text = ccp_buf_detach(text, NULL);
}

/* Converts one ccr `use` list into steps. */
static void steps_of(conv *c, const prov *p, json_object *use, const char *where, steps *out)
{
    for (size_t i = 0; i < ccp_json_arr_len(use); i++) {
        json_object *opts;
        const char *t = use_name(ccp_json_arr_at(use, i), &opts);
        if (!t) continue;
        ccp_buf b = CCP_BUF_INIT;
        if (!strcasecmp(t, "anthropic") || !strcasecmp(t, "gemini") || !strcasecmp(t, "openai")) {
            continue; /* the format itself */
        } else if (!strcasecmp(t, "deepseek") || !strcasecmp(t, "groq") ||
                   !strcasecmp(t, "ollama") || !strcasecmp(t, "qwen")) {
            char low[16];
            snprintf(low, sizeof low, "%s", t);
            for (char *q = low; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            ccp_buf_printf(&b, "    - %s\n", low);
            add_step(c, p, out, where, t, ccp_transformer_find(low)->name, &b);
        } else if (!strcasecmp(t, "openrouter")) {
            json_object *prv = ccp_json_get_obj(opts, "provider");
            if (prv) {
                ccp_buf_appends(&b, "    - use: openrouter\n      with: {provider: ");
                ccp_json_write(&b, prv);
                ccp_buf_appends(&b, "}\n");
            } else {
                ccp_buf_appends(&b, "    - openrouter\n");
            }
            add_step(c, p, out, where, t, "openrouter", &b);
            const char *referer = ccp_json_get_str(opts, "referer");
            const char *title = ccp_json_get_str(opts, "title");
            if (referer || title) {
                json_object *h = json_object_new_object();
                if (referer)
                    json_object_object_add(h, "HTTP-Referer", json_object_new_string(referer));
                if (title) json_object_object_add(h, "X-Title", json_object_new_string(title));
                ccp_buf_appends(&b, "    - use: extra-headers\n      with: {headers: ");
                ccp_json_write(&b, h);
                ccp_buf_appends(&b, "}\n");
                json_object_put(h);
                add_step(c, p, out, where, t, "extra-headers", &b);
            }
        } else if (!strcasecmp(t, "maxtoken") && ccp_json_get_int(opts, "max_tokens", 0) > 0) {
            ccp_buf_printf(&b, "    - use: max-tokens\n      with: {max: %lld}\n",
                           (long long)ccp_json_get_int(opts, "max_tokens", 0));
            add_step(c, p, out, where, t, "max-tokens", &b);
        } else if (!strcasecmp(t, "enhancetool")) {
            ccp_buf_appends(&b, "    - tool-args-repair\n");
            add_step(c, p, out, where, t, "tool-args-repair", &b);
        } else if (!strcasecmp(t, "cleancache")) {
            ccp_buf_appends(&b, "    - strip-cache-control\n");
            add_step(c, p, out, where, t, "strip-cache-control", &b);
        } else if (!strcasecmp(t, "sampling") && opts) {
            json_object *w = json_object_new_object();
            const char *keys[] = {"temperature", "top_p", "top_k"};
            for (size_t k = 0; k < 3; k++) {
                json_object *v = ccp_json_get(opts, keys[k]);
                if (v) json_object_object_add(w, keys[k], json_object_get(v));
            }
            ccp_buf_appends(&b, "    - use: sampling\n      with: ");
            ccp_json_write(&b, w);
            ccp_buf_appendc(&b, '\n');
            json_object_put(w);
            add_step(c, p, out, where, t, "sampling", &b);
        } else if (!strcasecmp(t, "customparams") && ccp_json_get_obj(opts, "params")) {
            ccp_buf_appends(&b, "    - use: extra-body\n      with: {body: ");
            ccp_json_write(&b, ccp_json_get_obj(opts, "params"));
            ccp_buf_appends(&b, "}\n");
            add_step(c, p, out, where, t, "extra-body", &b);
        } else if (!strcasecmp(t, "reasoning") || !strcasecmp(t, "sampling") ||
                   !strcasecmp(t, "maxtoken")) {
            ccp_buf_printf(c->report,
                           "- %s: transformer '%s' is not needed: the codecs read "
                           "reasoning_content and pass sampling fields and max_tokens as sent\n",
                           where, t);
        } else if (!strcasecmp(t, "tooluse")) {
            ccp_buf_printf(c->report,
                           "- %s: transformer 'tooluse' (forcing tool_choice) has no built-in "
                           "equivalent; if the model needs it, add an extra-body step with "
                           "{tool_choice: required} or write a plugin\n",
                           where);
        } else {
            ccp_buf_printf(c->report,
                           "- %s: transformer '%s' has no built-in equivalent and was left out "
                           "('ccproxy transformers' lists the built-ins; a plugin can do the "
                           "rest)\n",
                           where, t);
        }
    }
}

/* The steps of a model pipeline: ccr runs the provider's transformers and
 * then the model's; ccproxy's model pipeline replaces the provider's, so it
 * holds both, a provider step dropped when the model's list has the same
 * transformer (its options are the model's). */
static void write_steps(ccp_buf *out, const steps *prov_steps, const steps *model_steps)
{
    for (size_t i = 0; i < prov_steps->n; i++) {
        bool overridden = false;
        for (size_t j = 0; model_steps && j < model_steps->n; j++)
            overridden |= !strcmp(prov_steps->v[i].t, model_steps->v[j].t);
        if (!overridden) ccp_buf_appends(out, prov_steps->v[i].text);
    }
    for (size_t j = 0; model_steps && j < model_steps->n; j++)
        ccp_buf_appends(out, model_steps->v[j].text);
}

/* ---- router ------------------------------------------------------------------ */

static const struct {
    const char *ccr, *ours;
} router_map[] = {
    {"default", "default"},          {"background", "background"}, {"think", "thinking"},
    {"longContext", "long_context"}, {"webSearch", "web_search"},  {"image", "image"},
};

/* "provider,model" → "name/model" in out; adds the model to the provider's
 * list when missing (ccproxy checks routes against it). */
static bool convert_route(conv *c, const char *key, const char *v, char *out, size_t cap)
{
    const char *comma = strchr(v, ',');
    char pname[128];
    size_t pn = comma ? (size_t)(comma - v) : strlen(v);
    if (pn >= sizeof pname) pn = sizeof pname - 1;
    memcpy(pname, v, pn);
    pname[pn] = '\0';
    prov *p = find_prov(c, pname);
    if (!p) {
        ccp_buf_printf(c->report, "- Router.%s: '%s' names no provider of the file; left out\n",
                       key, v);
        return false;
    }
    if (!comma || !comma[1]) {
        snprintf(out, cap, "%s", p->name);
        return true;
    }
    const char *model = comma + 1;
    snprintf(out, cap, "%s/%s", p->name, model);
    for (size_t i = 0; i < p->n_models; i++)
        if (!strcmp(p->models[i], model)) return true;
    if (p->n_models < MAX_MODELS) p->models[p->n_models++] = model;
    ccp_buf_printf(c->report, "- Router.%s names model '%s', not in %s's models: added to them\n",
                   key, model, p->name);
    return true;
}

/* ---- the whole file ---------------------------------------------------------- */

static const char *const handled_keys[] = {
    "Providers",
    "providers",
    "Router",
    "HOST",
    "PORT",
    "APIKEY",
    "API_TIMEOUT_MS",
    "PROXY_URL",
    "LOG",
    "LOG_LEVEL",
    "CUSTOM_ROUTER_PATH",
    "NON_INTERACTIVE_MODE",
    "transformers",
    NULL,
};

static void report_top_level(conv *c)
{
    json_object *r = c->root;
    if (ccp_json_get(r, "APIKEY"))
        ccp_buf_appends(c->report,
                        "- APIKEY (the key clients had to send) was not carried over: ccproxy "
                        "checks client keys with its proxy keys (see its documentation on keys); "
                        "until then keep it on 127.0.0.1\n");
    const char *crp = ccp_json_get_str(r, "CUSTOM_ROUTER_PATH");
    if (crp)
        ccp_buf_printf(c->report,
                       "- CUSTOM_ROUTER_PATH (%s): a JavaScript router cannot run in ccproxy; "
                       "write its decisions as router.rules (docs/routing.md: match on model, "
                       "headers, tokens, tools, text) or as a plugin\n",
                       crp);
    json_object *tfs = ccp_json_get_arr(r, "transformers");
    for (size_t i = 0; i < ccp_json_arr_len(tfs); i++) {
        const char *path = ccp_json_get_str(ccp_json_arr_at(tfs, i), "path");
        ccp_buf_printf(c->report,
                       "- custom transformer %s: JavaScript transformers cannot run in ccproxy; "
                       "use the built-ins ('ccproxy transformers') or write a plugin\n",
                       path ? path : "(no path)");
    }
    const char *proxy = ccp_json_get_str(r, "PROXY_URL");
    if (proxy)
        ccp_buf_appends(c->report,
                        "- PROXY_URL: set HTTPS_PROXY (and HTTP_PROXY) in ccproxy's environment "
                        "instead; libcurl reads them\n");
    if (ccp_json_get(r, "NON_INTERACTIVE_MODE"))
        ccp_buf_appends(c->report, "- NON_INTERACTIVE_MODE: not needed, ccproxy never reads a "
                                   "terminal while serving\n");
    json_object_object_foreach(r, k, v)
    {
        (void)v;
        /* ccr's own env entries ("OPENAI_API_KEY": "$OPENAI_API_KEY")
         * only feed its interpolation: nothing to carry over. */
        bool known =
            json_object_is_type(v, json_type_string) && json_object_get_string(v)[0] == '$';
        for (size_t i = 0; handled_keys[i] && !known; i++)
            known = !strcmp(k, handled_keys[i]);
        if (!known) ccp_buf_printf(c->report, "- %s: no equivalent in ccproxy; left out\n", k);
    }
}

static void write_yaml(conv *c, ccp_buf *out, const char *routes[], size_t n_routes,
                       const char *route_keys[])
{
    json_object *r = c->root;
    ccp_buf_appends(out, "# Converted from a claude-code-router config by 'ccproxy import-ccr'.\n"
                         "# Check it: ccproxy check --config THIS_FILE\n\n");
    /* server */
    const char *host = ccp_json_get_str(r, "HOST");
    json_object *port = ccp_json_get(r, "PORT");
    const char *level = ccp_json_get_str(r, "LOG_LEVEL");
    ccp_buf_appends(out, "server:\n");
    if (host && strcmp(host, "127.0.0.1") && strcmp(host, "localhost") && strcmp(host, "::1")) {
        /* ccr forces 127.0.0.1 without APIKEY; with it, the host was guarded
         * by a key this config does not carry: either way stay local. */
        ccp_buf_printf(c->report,
                       "- HOST %s: this config listens on 127.0.0.1; set server.host once "
                       "clients must authenticate (ccproxy's proxy keys) or the network is "
                       "trusted\n",
                       host);
        host = "127.0.0.1";
    }
    ccp_buf_appends(out, "  host: ");
    yaml_str(out, host ? host : "127.0.0.1");
    ccp_buf_appendc(out, '\n');
    int64_t pv = port ? (json_object_is_type(port, json_type_string)
                             ? strtoll(json_object_get_string(port), NULL, 10)
                             : json_object_get_int64(port))
                      : 3456;
    ccp_buf_printf(out, "  port: %lld\n", (long long)(pv > 0 && pv < 65536 ? pv : 3456));
    if (level) {
        const char *l = !strcmp(level, "fatal") || !strcmp(level, "error")   ? "error"
                        : !strcmp(level, "warn")                             ? "warn"
                        : !strcmp(level, "debug") || !strcmp(level, "trace") ? "debug"
                                                                             : "info";
        ccp_buf_printf(out, "  log_level: %s\n", l);
    }
    int64_t tmo = ccp_json_get_int(r, "API_TIMEOUT_MS", 0);
    if (!tmo && ccp_json_get_str(r, "API_TIMEOUT_MS"))
        tmo = strtoll(ccp_json_get_str(r, "API_TIMEOUT_MS"), NULL, 10);
    if (tmo > 0) ccp_buf_printf(out, "\nupstream:\n  total_timeout_ms: %lld\n", (long long)tmo);

    /* providers and their pipelines */
    ccp_buf pipes = CCP_BUF_INIT;
    ccp_buf_appends(out, "\nproviders:\n");
    for (size_t i = 0; i < c->n; i++) {
        prov *p = &c->p[i];
        char where[128];
        ccp_buf_printf(out, "  - name: %s\n    format: %s\n    base_url: ", p->name, p->format);
        yaml_str(out, p->base_url);
        ccp_buf_appendc(out, '\n');
        if (p->auth) ccp_buf_printf(out, "    auth: %s\n", p->auth);
        if (p->api_key) ccp_buf_printf(out, "    api_key: %s\n", p->api_key);
        if (p->n_models) {
            ccp_buf_appends(out, "    models: [");
            for (size_t m = 0; m < p->n_models; m++) {
                if (m) ccp_buf_appends(out, ", ");
                yaml_str(out, p->models[m]);
            }
            ccp_buf_appends(out, "]\n");
        }
        /* The provider's steps, then per model its pipeline. */
        snprintf(where, sizeof where, "provider '%s'", p->name);
        steps ps = {0};
        steps_of(c, p, ccp_json_get_arr(p->transformer, "use"), where, &ps);
        if (ps.n) {
            ccp_buf_printf(out, "    pipeline: %s\n", p->name);
            ccp_buf_printf(&pipes, "  %s:\n", p->name);
            write_steps(&pipes, &ps, NULL);
        }
        size_t nm = 0;
        if (p->transformer) {
            json_object_object_foreach(p->transformer, model, spec)
            {
                if (!strcmp(model, "use") || !json_object_is_type(spec, json_type_object)) continue;
                snprintf(where, sizeof where, "provider '%s' model '%s'", p->name, model);
                steps ms = {0};
                steps_of(c, p, ccp_json_get_arr(spec, "use"), where, &ms);
                if (ms.n) {
                    nm++;
                    if (nm == 1) ccp_buf_appends(out, "    model_pipelines:\n");
                    ccp_buf_appends(out, "      ");
                    yaml_str(out, model);
                    ccp_buf_printf(out, ": %s.m%zu\n", p->name, nm);
                    ccp_buf_printf(&pipes, "  %s.m%zu:\n", p->name, nm);
                    write_steps(&pipes, &ps, &ms);
                }
                steps_free(&ms);
            }
        }
        steps_free(&ps);
    }
    if (pipes.len) {
        ccp_buf_appends(out, "\npipelines:\n");
        ccp_buf_append(out, pipes.data, pipes.len);
    }
    ccp_buf_free(&pipes);

    /* router (none: the first provider with its first model serves) */
    json_object *thr = ccp_json_get(ccp_json_get_obj(r, "Router"), "longContextThreshold");
    bool has_thr = thr && json_object_get_int64(thr) > 0;
    if (n_routes || has_thr) ccp_buf_appends(out, "\nrouter:\n");
    for (size_t i = 0; i < n_routes; i++) {
        ccp_buf_printf(out, "  %s: ", route_keys[i]);
        yaml_str(out, routes[i]);
        ccp_buf_appendc(out, '\n');
    }
    if (has_thr)
        ccp_buf_printf(out, "  long_context_tokens: %lld\n", (long long)json_object_get_int64(thr));
}

int ccp_import_ccr(const char *json, size_t len, ccp_buf *yaml, ccp_buf *report, ccp_error *err)
{
    json_object *root = ccp_json_parse(json, len, err);
    if (!root) {
        if (err && err->code == CCP_OK)
            ccp_error_set(err, CCP_EINVAL, "the file holds null, not a config");
        return err ? err->code : CCP_EPARSE;
    }
    int rc = 0;
    conv *c = ccp_xcalloc(1, sizeof *c);
    c->root = root;
    c->report = report;
    if (!json_object_is_type(root, json_type_object)) {
        rc = ccp_error_set(err, CCP_EINVAL, "the file is not a JSON object");
        goto out;
    }
    json_object *provs = ccp_json_get_arr(root, "Providers");
    if (!provs) provs = ccp_json_get_arr(root, "providers");
    if (ccp_json_arr_len(provs) == 0) {
        rc = ccp_error_set(err, CCP_EINVAL,
                           "no Providers: is this a claude-code-router config.json?");
        goto out;
    }
    for (size_t i = 0; i < ccp_json_arr_len(provs); i++)
        if ((rc = load_provider(c, ccp_json_arr_at(provs, i), err)) != 0) goto out;

    char route_buf[6][512];
    const char *routes[6], *route_keys[6];
    size_t nr = 0;
    json_object *router = ccp_json_get_obj(root, "Router");
    for (size_t i = 0; i < sizeof router_map / sizeof router_map[0]; i++) {
        const char *v = ccp_json_get_str(router, router_map[i].ccr);
        if (!v || !*v) continue;
        if (convert_route(c, router_map[i].ccr, v, route_buf[nr], sizeof route_buf[nr])) {
            routes[nr] = route_buf[nr];
            route_keys[nr++] = router_map[i].ours;
        }
    }
    if (router) {
        json_object_object_foreach(router, rk, rv)
        {
            (void)rv;
            bool known = !strcmp(rk, "longContextThreshold");
            for (size_t i = 0; i < sizeof router_map / sizeof router_map[0] && !known; i++)
                known = !strcmp(rk, router_map[i].ccr);
            if (!known)
                ccp_buf_printf(report,
                               "- Router.%s: no such stage in ccproxy; a router.rules entry can "
                               "route it (docs/routing.md)\n",
                               rk);
        }
    }
    report_top_level(c);
    write_yaml(c, yaml, routes, nr, route_keys);
out:
    for (size_t i = 0; i < c->n; i++) {
        free(c->p[i].base_url);
        free(c->p[i].api_key);
    }
    free(c);
    json_object_put(root);
    return rc;
}
