/* pipeline.c — running pipelines, the catalog, typed options. */
#include "pipeline/pipeline.h"

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "transform/transform.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const ccp_transformer *const ccp_transformers[] = {
    &ccp_tf_max_tokens,
    &ccp_tf_sampling,
    &ccp_tf_reasoning,
    &ccp_tf_strip_cache_control,
    &ccp_tf_strip_thinking,
    &ccp_tf_system_prompt,
    &ccp_tf_schema_sanitize,
    &ccp_tf_extra_body,
    &ccp_tf_extra_headers,
    &ccp_tf_tool_args_repair,
    &ccp_tf_openrouter,
    &ccp_tf_deepseek,
    &ccp_tf_groq,
    &ccp_tf_ollama,
    &ccp_tf_qwen,
};
const size_t ccp_n_transformers = sizeof ccp_transformers / sizeof ccp_transformers[0];

const ccp_transformer *ccp_transformer_find(const char *name)
{
    for (size_t i = 0; name && i < ccp_n_transformers; i++)
        if (!strcmp(ccp_transformers[i]->name, name)) return ccp_transformers[i];
    return NULL;
}

const char *ccp_opt_type_name(ccp_opt_type t)
{
    switch (t) {
    case CCP_OPT_INT:
        return "integer";
    case CCP_OPT_NUMBER:
        return "number";
    case CCP_OPT_STRING:
        return "string";
    case CCP_OPT_BOOL:
        return "boolean";
    case CCP_OPT_OBJECT:
        return "mapping";
    case CCP_OPT_STRING_LIST:
        return "list of strings";
    }
    return "?";
}

static int step_failed(const ccp_pipeline *p, size_t i, const ccp_error *e, ccp_error *err)
{
    const ccp_step *s = &p->steps[i];
    if (s->skip_on_error) {
        ccp_log_warn("pipeline '%s' step %zu (%s) failed, skipped (on_error: skip): %s", p->name,
                     i + 1, s->t->name, e->msg);
        return 0;
    }
    return ccp_error_set(err, e->code ? e->code : CCP_EINVAL, "pipeline '%s' step %zu (%s): %s",
                         p->name, i + 1, s->t->name, e->msg);
}

int ccp_pipeline_run_request(const ccp_pipeline *p, json_object *req, ccp_error *err)
{
    for (size_t i = 0; p && i < p->n; i++) {
        const ccp_step *s = &p->steps[i];
        if (!s->t->request) continue;
        ccp_error e = {0};
        if (s->t->request(s, req, &e) != 0 && step_failed(p, i, &e, err) != 0) return err->code;
    }
    return 0;
}

int ccp_pipeline_run_outbound(const ccp_pipeline *p, json_object *req, ccp_outbound *out,
                              ccp_error *err)
{
    for (size_t i = 0; p && i < p->n; i++) {
        const ccp_step *s = &p->steps[i];
        if (!s->t->outbound) continue;
        ccp_error e = {0};
        if (s->t->outbound(s, req, out, &e) != 0 && step_failed(p, i, &e, err) != 0)
            return err->code;
    }
    return 0;
}

void ccp_event_chain_build(ccp_event_chain *ch, const ccp_pipeline *p, ccp_event_sink *last)
{
    ch->head = last;
    ch->n = 0;
    ccp_event_chain_push(ch, p);
}

void ccp_event_chain_push(ccp_event_chain *ch, const ccp_pipeline *p)
{
    /* Built from the last step back, so the first step sees events first. */
    for (size_t i = p ? p->n : 0; i-- > 0;) {
        const ccp_step *s = &p->steps[i];
        if (!s->t->events) continue;
        /* The loader keeps each pipeline within half the room (see
         * CCP_PIPELINE_MAX_EVENT_HOOKS), and a chain holds two. */
        assert(ch->n < CCP_EVENT_CHAIN_MAX && s->t->events_free);
        ch->head = s->t->events(s, ch->head);
        ch->sinks[ch->n] = ch->head;
        ch->owners[ch->n++] = s->t;
    }
}

void ccp_event_chain_free(ccp_event_chain *ch)
{
    for (size_t i = 0; i < ch->n; i++)
        ch->owners[i]->events_free(ch->sinks[i]);
    ch->n = 0;
    ch->head = NULL;
}

bool ccp_pipeline_edits_request(const ccp_pipeline *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (p->steps[i].t->request) return true;
    return false;
}

void ccp_pipeline_free(ccp_pipeline *p)
{
    for (size_t i = 0; i < p->n; i++) {
        json_object_put(p->steps[i].opts);
        free((void *)p->steps[i].conf);
    }
    free(p->steps);
    free(p->name);
}

/* ---- options ----------------------------------------------------------- */

void ccp_step_fill_conf(ccp_step *s)
{
    const ccp_transformer *t = s->t;
    if (!t->conf_size) return;
    char *conf = ccp_xcalloc(1, t->conf_size);
    for (const ccp_opt_spec *o = t->opts; o->name; o++) {
        json_object *v = ccp_json_get(s->opts, o->name);
        char *slot = conf + o->offset;
        switch (o->type) {
        case CCP_OPT_INT:
            *(int64_t *)slot = v ? json_object_get_int64(v) : CCP_OPT_UNSET;
            break;
        case CCP_OPT_BOOL:
            *(bool *)slot = v && json_object_get_boolean(v);
            break;
        case CCP_OPT_STRING:
            *(const char **)slot = v ? json_object_get_string(v) : NULL;
            break;
        case CCP_OPT_NUMBER:
        case CCP_OPT_OBJECT:
        case CCP_OPT_STRING_LIST:
            *(json_object **)slot = v;
            break;
        }
    }
    s->conf = conf;
}

/* ---- the catalog ------------------------------------------------------- */

static void formats_of(const ccp_transformer *t, ccp_buf *out)
{
    if (!t->formats) {
        ccp_buf_appends(out, "all");
        return;
    }
    bool first = true;
    for (size_t i = 0; ccp_codecs[i]; i++) {
        if (!(t->formats & (1u << ccp_codecs[i]->format))) continue;
        if (!first) ccp_buf_appends(out, ", ");
        ccp_buf_appends(out, ccp_codecs[i]->name);
        first = false;
    }
}

void ccp_catalog_write(ccp_buf *out, bool md)
{
    for (size_t i = 0; i < ccp_n_transformers; i++) {
        const ccp_transformer *t = ccp_transformers[i];
        ccp_buf fm = CCP_BUF_INIT;
        formats_of(t, &fm);
        const char *hooks = t->request && t->outbound ? "request, outbound"
                            : t->request              ? "request"
                            : t->outbound             ? "outbound"
                                                      : "response events";
        if (md) {
            ccp_buf_printf(out, "## `%s`\n\n%s\n\nFormats: %s. Hooks: %s.\n\n", t->name, t->summary,
                           fm.data, hooks);
            if (t->opts[0].name) {
                ccp_buf_appends(out, "| option | type | default | meaning |\n|---|---|---|---|\n");
                for (const ccp_opt_spec *o = t->opts; o->name; o++)
                    ccp_buf_printf(out, "| `%s` | %s | %s%s%s | %s |\n", o->name,
                                   ccp_opt_type_name(o->type), o->def ? "`" : "",
                                   o->def ? o->def : "unset", o->def ? "`" : "", o->help);
                ccp_buf_appends(out, "\n");
            } else {
                ccp_buf_appends(out, "No options.\n\n");
            }
        } else {
            ccp_buf_printf(out, "%s — %s\n  formats: %s; hooks: %s\n", t->name, t->summary, fm.data,
                           hooks);
            for (const ccp_opt_spec *o = t->opts; o->name; o++)
                ccp_buf_printf(out, "  %-14s %-15s default %-10s %s\n", o->name,
                               ccp_opt_type_name(o->type), o->def ? o->def : "unset", o->help);
            ccp_buf_appends(out, "\n");
        }
        ccp_buf_free(&fm);
    }
}
