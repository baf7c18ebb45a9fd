/* config_pipeline.c — the `pipelines` section and the providers'
 * references to it, validated against the transformer catalog: unknown
 * transformers and options get a "did you mean", option values their type,
 * and a transformer used with a format it does not apply to is an error at
 * the provider that uses it. */
#include "config/config_internal.h"
#include "core/alloc.h"
#include "core/json.h"
#include "pipeline/pipeline.h"
#include "plugin/plugin.h"

#include <stdlib.h>
#include <string.h>

/* YAML → JSON for option values: plain scalars are typed (null, booleans,
 * integers, numbers), quoted ones stay strings; strings are interpolated. */
static json_object *to_json(loader *l, yaml_node_t *v, bool *ok)
{
    if (v->type == YAML_MAPPING_NODE) {
        json_object *o = json_object_new_object();
        for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
             pr++) {
            const char *k = ccp_cfg_scalar(ccp_cfg_node(l, pr->key));
            if (!k) continue;
            json_object_object_add(o, k, to_json(l, ccp_cfg_node(l, pr->value), ok));
        }
        return o;
    }
    if (v->type == YAML_SEQUENCE_NODE) {
        json_object *a = json_object_new_array();
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++)
            json_object_array_add(a, to_json(l, ccp_cfg_node(l, *it), ok));
        return a;
    }
    const char *s = ccp_cfg_scalar(v);
    if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        bool b;
        long long n;
        char *end;
        if (!strcmp(s, "null") || !strcmp(s, "~") || !*s) return NULL;
        if (ccp_parse_bool(s, &b) == 0) return json_object_new_boolean(b);
        if (ccp_parse_ll(s, &n)) return json_object_new_int64(n);
        double d = strtod(s, &end);
        if (end != s && !*end) return json_object_new_double(d);
    }
    char *t = ccp_cfg_interp(l, v, "pipelines option", NULL);
    if (!t) {
        *ok = false;
        return NULL;
    }
    json_object *js = json_object_new_string(t);
    free(t);
    return js;
}

static bool type_ok(const ccp_opt_spec *o, json_object *v)
{
    switch (o->type) {
    case CCP_OPT_INT:
        return json_object_is_type(v, json_type_int);
    case CCP_OPT_NUMBER:
        return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
    case CCP_OPT_STRING:
        if (!json_object_is_type(v, json_type_string)) return false;
        for (const char *const *c = o->choices; c && *c; c++)
            if (!strcmp(*c, json_object_get_string(v))) return true;
        return !o->choices;
    case CCP_OPT_BOOL:
        return json_object_is_type(v, json_type_boolean);
    case CCP_OPT_OBJECT:
        return json_object_is_type(v, json_type_object);
    case CCP_OPT_STRING_LIST:
        if (!json_object_is_type(v, json_type_array)) return false;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                return false;
        return true;
    }
    return false;
}

bool ccp_cfg_load_options(loader *l, yaml_node_t *map, const char *pname, ccp_step *st)
{
    const ccp_transformer *t = st->t;
    bool ok = true;
    st->opts = json_object_new_object();
    if (map) {
        if (map->type != YAML_MAPPING_NODE) {
            DIAG(l, map, "%s: %s's options are a mapping", pname, t->name);
            return false;
        }
        const char *known[32];
        size_t nk = 0;
        for (const ccp_opt_spec *o = t->opts; o->name && nk < 32; o++)
            known[nk++] = o->name;
        for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
            const char *key = ccp_cfg_scalar(k);
            const ccp_opt_spec *o = t->opts;
            while (o->name && key && strcmp(o->name, key) != 0)
                o++;
            if (!o->name) {
                char where[160];
                snprintf(where, sizeof where, "the options of %s", t->name);
                ccp_cfg_unknown_key(l, k, where, known, nk);
                ok = false;
                continue;
            }
            json_object *val = to_json(l, v, &ok);
            if (!type_ok(o, val)) {
                ccp_buf choices = CCP_BUF_INIT;
                for (const char *const *c = o->choices; c && *c; c++)
                    ccp_buf_printf(&choices, "%s%s", choices.len ? ", " : " (one of: ", *c);
                if (choices.len) ccp_buf_appends(&choices, ")");
                DIAG(l, v, "%s option %s: expected %s %s%s", t->name, o->name,
                     o->type == CCP_OPT_INT ? "an" : "a", ccp_opt_type_name(o->type),
                     choices.data ? choices.data : "");
                ccp_buf_free(&choices);
                json_object_put(val);
                ok = false;
                continue;
            }
            json_object_object_add(st->opts, o->name, val);
        }
    }
    /* A plugin's options from its plugins.load entry come before its
     * declared defaults. */
    const ccp_plugin *plugin = ccp_plugin_of(t);
    if (plugin && plugin->defaults) {
        json_object_object_foreach(plugin->defaults, dk, dv)
        {
            if (!ccp_json_get(st->opts, dk))
                json_object_object_add(st->opts, dk, json_object_get(dv));
        }
    }
    for (const ccp_opt_spec *o = t->opts; o->name; o++)
        if (o->def && !ccp_json_get(st->opts, o->name))
            json_object_object_add(st->opts, o->name, ccp_json_parse(o->def, strlen(o->def), NULL));
    ccp_step_fill_conf(st);
    return ok;
}

static const char *const step_keys[] = {"use", "with", "on_error"};

static bool load_step(loader *l, yaml_node_t *n, const char *pname, ccp_step *st)
{
    yaml_node_t *name_node = n, *with = NULL;
    bool on_error = false; /* the step says on_error */
    st->line = (int)n->start_mark.line + 1;
    st->col = (int)n->start_mark.column + 1;
    bool ok = true;
    if (n->type == YAML_MAPPING_NODE) {
        name_node = NULL;
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
            const char *key = ccp_cfg_scalar(k);
            if (key && !strcmp(key, "use")) {
                name_node = v;
            } else if (key && !strcmp(key, "with")) {
                with = v;
            } else if (key && !strcmp(key, "on_error")) {
                const char *s = ccp_cfg_scalar(v);
                on_error = true;
                if (s && !strcmp(s, "skip")) {
                    st->skip_on_error = true;
                } else if (!s || strcmp(s, "fail") != 0) {
                    DIAG(l, v, "pipeline '%s': on_error is fail or skip", pname);
                    ok = false;
                }
            } else {
                ccp_cfg_unknown_key(l, k, "a pipeline step", step_keys, 3);
                ok = false;
            }
        }
        if (!name_node) {
            DIAG(l, n, "pipeline '%s': a step names its transformer with 'use'", pname);
            return false;
        }
    }
    const char *name = ccp_cfg_scalar(name_node);
    const ccp_plugin *plugin = ccp_plugin_find(l->cfg->plugins, name);
    st->t = plugin ? &plugin->t : ccp_transformer_find(name);
    /* A plugin's steps fail or skip as its plugins.load entry says, unless
     * the step says otherwise. */
    if (plugin && !on_error) st->skip_on_error = plugin->skip_on_error;
    if (!st->t) {
        const char *known[96];
        size_t nk = 0;
        for (size_t i = 0; i < ccp_n_transformers && nk < 96; i++)
            known[nk++] = ccp_transformers[i]->name;
        for (size_t i = 0; l->cfg->plugins && i < l->cfg->plugins->n && nk < 96; i++)
            known[nk++] = l->cfg->plugins->v[i]->name;
        const char *s = name ? ccp_cfg_suggest(name, known, nk) : NULL;
        if (s)
            DIAG(l, name_node, "pipeline '%s': unknown transformer '%s': did you mean '%s'?", pname,
                 name ? name : "?", s);
        else
            DIAG(l, name_node,
                 "pipeline '%s': unknown transformer '%s'; `ccproxy transformers` lists them",
                 pname, name ? name : "?");
        return false;
    }
    char where[160];
    snprintf(where, sizeof where, "pipeline '%s'", pname);
    return ccp_cfg_load_options(l, with, where, st) && ok;
}

void ccp_cfg_load_pipelines(loader *l, yaml_node_t *map)
{
    ccp_config *c = l->cfg;
    if (map->type != YAML_MAPPING_NODE) {
        DIAG(l, map, "pipelines: expected a mapping of pipeline name to a list of steps");
        return;
    }
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    c->pipelines = ccp_xcalloc(n ? n : 1, sizeof *c->pipelines);
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
        const char *name = ccp_cfg_scalar(k);
        if (!name) continue;
        if (v->type != YAML_SEQUENCE_NODE) {
            DIAG(l, v, "pipelines.%s: expected a list of steps", name);
            continue;
        }
        ccp_pipeline *p = &c->pipelines[c->n_pipelines++];
        p->name = ccp_xstrdup(name);
        size_t ns = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        p->steps = ccp_xcalloc(ns ? ns : 1, sizeof *p->steps);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            ccp_step *st = &p->steps[p->n];
            if (load_step(l, ccp_cfg_node(l, *it), name, st)) {
                p->n++;
            } else {
                json_object_put(st->opts);
                free((void *)st->conf);
                memset(st, 0, sizeof *st);
            }
        }
        /* A request's event chain holds a rule's pipeline and a provider's:
         * each gets half of its fixed room. */
        size_t hooks = 0;
        for (size_t i = 0; i < p->n; i++)
            hooks += p->steps[i].t->events != NULL;
        if (hooks > CCP_PIPELINE_MAX_EVENT_HOOKS)
            DIAG(l, v,
                 "pipelines.%s: %zu steps have response (event) hooks; a pipeline may have at "
                 "most %d: remove some, or split them between a rule's pipeline and the "
                 "provider's",
                 name, hooks, CCP_PIPELINE_MAX_EVENT_HOOKS);
    }
}

static const ccp_pipeline *find(const ccp_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_pipelines; i++)
        if (!strcmp(c->pipelines[i].name, name)) return &c->pipelines[i];
    return NULL;
}

void ccp_cfg_note_pipeline(loader *l, const char *provider, const char *model, yaml_node_t *v)
{
    const char *name = ccp_cfg_scalar(v);
    if (!name || !*name) {
        DIAG(l, v, "providers.%s: expected a pipeline name",
             model ? "model_pipelines" : "pipeline");
        return;
    }
    l->refs = ccp_xrealloc(l->refs, (l->n_refs + 1) * sizeof *l->refs);
    l->refs[l->n_refs++] = (ccp_pipeline_ref){
        ccp_xstrdup(provider), model ? ccp_xstrdup(model) : NULL, ccp_xstrdup(name),
        (int)v->start_mark.line + 1, (int)v->start_mark.column + 1};
}

void ccp_cfg_resolve_pipelines(loader *l)
{
    ccp_config *c = l->cfg;
    for (size_t i = 0; i < l->n_refs; i++) {
        ccp_pipeline_ref *r = &l->refs[i];
        ccp_provider *p = (ccp_provider *)ccp_config_provider(c, r->provider);
        const ccp_pipeline *pl = find(c, r->pipeline);
        if (p && !pl) {
            ccp_buf names = CCP_BUF_INIT;
            for (size_t j = 0; j < c->n_pipelines; j++)
                ccp_buf_printf(&names, "%s%s", j ? ", " : "", c->pipelines[j].name);
            ccp_cfg_diag(l, r->line, r->col,
                         "provider '%s': no pipeline named '%s'; declare it under pipelines "
                         "(declared: %s)",
                         r->provider, r->pipeline, names.data ? names.data : "none");
            ccp_buf_free(&names);
        }
        for (size_t j = 0; p && pl && j < pl->n; j++) {
            const ccp_transformer *t = pl->steps[j].t;
            if (t->formats && !(t->formats & (1u << p->format)))
                ccp_cfg_diag(l, r->line, r->col,
                             "provider '%s' has format %s, but the %s step of pipeline '%s' "
                             "(%s:%d:%d) does not apply to it; remove the step or use another "
                             "pipeline",
                             r->provider, ccp_format_name(p->format), t->name, pl->name, l->file,
                             pl->steps[j].line, pl->steps[j].col);
        }
        if (p && pl) {
            if (!r->model) {
                p->pipeline = pl;
            } else {
                p->model_pipelines = ccp_xrealloc(
                    p->model_pipelines, (p->n_model_pipelines + 1) * sizeof *p->model_pipelines);
                p->model_pipelines[p->n_model_pipelines++] =
                    (ccp_model_pipeline){ccp_xstrdup(r->model), pl};
            }
        }
        free(r->provider);
        free(r->model);
        free(r->pipeline);
    }
    free(l->refs);
    l->refs = NULL;
    l->n_refs = 0;
}
