/* route.c — stage detection and route selection (see route.h). */
#include "router/route.h"

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "core/tokens.h"
#include "plugin/plugin.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define TAG_OPEN "<ccproxy-model>"
#define TAG_CLOSE "</ccproxy-model>"

/* The stages in the order they win when a request matches several: the
 * most constraining first (a long context needs a model that holds it). */
static const ccp_stage stage_priority[] = {CCP_STAGE_LONG_CONTEXT, CCP_STAGE_WEB_SEARCH,
                                           CCP_STAGE_IMAGE,        CCP_STAGE_BACKGROUND,
                                           CCP_STAGE_PLANNING,     CCP_STAGE_THINKING};

const char *ccp_route_via_name(ccp_route_via v)
{
    switch (v) {
    case CCP_VIA_TAG:
        return "tag";
    case CCP_VIA_MODEL:
        return "model";
    case CCP_VIA_RULE:
        return "rule";
    case CCP_VIA_STAGE:
        return "stage";
    case CCP_VIA_DEFAULT:
        return "default";
    case CCP_VIA_SCRIPT:
        return "script";
    }
    return "?";
}

/* ---- detectors ------------------------------------------------------- */

static bool is_type(json_object *blk, const char *type)
{
    const char *t = ccp_json_get_str(blk, "type");
    return t && !strcmp(t, type);
}

/* The latest user message that says something (Claude Code's tool-result
 * turns carry no text of their own), for the plan-mode marker. */
static json_object *latest_user_with_text(json_object *msgs)
{
    for (size_t i = ccp_json_arr_len(msgs); i-- > 0;) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = ccp_json_get_str(m, "role");
        if (!role || strcmp(role, "user") != 0) continue;
        json_object *c = ccp_json_get(m, "content");
        if (json_object_is_type(c, json_type_string)) return m;
        for (size_t j = 0; j < ccp_json_arr_len(c); j++)
            if (is_type(json_object_array_get_idx(c, j), "text")) return m;
    }
    return NULL;
}

static json_object *latest_user(json_object *msgs)
{
    for (size_t i = ccp_json_arr_len(msgs); i-- > 0;) {
        json_object *m = json_object_array_get_idx(msgs, i);
        const char *role = ccp_json_get_str(m, "role");
        if (role && !strcmp(role, "user")) return m;
    }
    return NULL;
}

static bool text_contains(json_object *content, const char *needle)
{
    if (json_object_is_type(content, json_type_string))
        return strstr(json_object_get_string(content), needle) != NULL;
    for (size_t j = 0; j < ccp_json_arr_len(content); j++) {
        json_object *b = json_object_array_get_idx(content, j);
        const char *t = is_type(b, "text") ? ccp_json_get_str(b, "text") : NULL;
        if (t && strstr(t, needle)) return true;
    }
    return false;
}

/* An image block in content, or inside one of its tool results (a
 * screenshot read by a tool). */
static bool has_image(json_object *content)
{
    if (!json_object_is_type(content, json_type_array)) return false;
    for (size_t j = 0; j < ccp_json_arr_len(content); j++) {
        json_object *b = json_object_array_get_idx(content, j);
        if (is_type(b, "image")) return true;
        if (is_type(b, "tool_result") && has_image(ccp_json_get(b, "content"))) return true;
    }
    return false;
}

static bool offers_web_search(json_object *tools)
{
    for (size_t i = 0; i < ccp_json_arr_len(tools); i++) {
        const char *t = ccp_json_get_str(json_object_array_get_idx(tools, i), "type");
        if (t && !strncmp(t, "web_search", 10)) return true;
    }
    return false;
}

unsigned ccp_route_stages(const ccp_router_config *rc, json_object *req, int64_t *tokens_out)
{
    unsigned set = 1u << CCP_STAGE_DEFAULT;
    json_object *msgs = ccp_json_get_arr(req, "messages");
    const char *model = ccp_json_get_str(req, "model");
    if (model && rc->background_model && fnmatch(rc->background_model, model, 0) == 0)
        set |= 1u << CCP_STAGE_BACKGROUND;
    const char *th = ccp_json_get_str(ccp_json_get_obj(req, "thinking"), "type");
    if (th && (!strcmp(th, "enabled") || (rc->adaptive_is_thinking && !strcmp(th, "adaptive"))))
        set |= 1u << CCP_STAGE_THINKING;
    json_object *u = latest_user_with_text(msgs);
    if (u && rc->planning_marker && text_contains(ccp_json_get(u, "content"), rc->planning_marker))
        set |= 1u << CCP_STAGE_PLANNING;
    if (offers_web_search(ccp_json_get_arr(req, "tools"))) set |= 1u << CCP_STAGE_WEB_SEARCH;
    u = latest_user(msgs);
    if (u && has_image(ccp_json_get(u, "content"))) set |= 1u << CCP_STAGE_IMAGE;
    int64_t tokens = tokens_out ? *tokens_out : -1;
    if (tokens < 0 && tokens_out && rc->needs_tokens) tokens = ccp_tokens_estimate_request(req);
    if (tokens > rc->long_context_tokens) set |= 1u << CCP_STAGE_LONG_CONTEXT;
    if (tokens_out) *tokens_out = tokens;
    return set;
}

/* ---- explicit choices ------------------------------------------------ */

/* "provider/model" or "provider,model" naming a configured provider →
 * true and the target (model owned by c). */
static bool explicit_target(const ccp_config *cfg, const char *s, size_t n, ccp_route_choice *c)
{
    size_t plen = 0;
    while (plen < n && s[plen] != '/' && s[plen] != ',')
        plen++;
    if (plen == 0 || plen == n || plen >= 128) return false;
    char pname[128];
    memcpy(pname, s, plen);
    pname[plen] = '\0';
    const ccp_provider *p = ccp_config_provider(cfg, pname);
    if (!p || plen + 1 == n) return false;
    c->explicit_model = ccp_xstrndup(s + plen + 1, n - plen - 1);
    c->explicit_target = (ccp_target){p, c->explicit_model};
    c->explicit_route = (ccp_route){&c->explicit_target, 1};
    c->route = &c->explicit_route;
    return true;
}

/* router.script: the plugin's route hook picks the target, or nil. A
 * failure, or a target naming no provider, is logged and the built-in
 * router decides: routing never fails a request for a plugin. */
static bool script_target(const ccp_config *cfg, json_object *req, ccp_route_choice *c)
{
    ccp_plugin *p = (ccp_plugin *)(uintptr_t)cfg->router.script_plugin;
    ccp_plugin_ctx ctx = {.stage = ccp_stage_name(c->stage)};
    const ccp_plugin_ctx *prev = ccp_plugin_ctx_set(&ctx);
    json_object *r = NULL;
    ccp_error err = {0};
    json_object *arg = ccp_plugin_hook_arg(p, req); /* its `reads`, or all of req */
    ccp_plugin_cause cause = ccp_plugin_call(p, "route", arg, p->defaults, &r, &err);
    json_object_put(arg);
    ccp_plugin_ctx_set(prev);
    bool ok = false;
    if (cause != CCP_PLUGIN_OK) {
        ccp_log_warn("%s; the built-in router decides", err.msg);
    } else if (r) {
        const char *s = json_object_get_string(r);
        ok = explicit_target(cfg, s, strlen(s), c);
        if (!ok)
            ccp_log_warn("plugin '%s' route hook returned '%.128s', which names no configured "
                         "provider/model; the built-in router decides",
                         p->name, s);
    }
    json_object_put(r);
    return ok;
}

/* Finds the subagent tag in one system text; removes it from the string
 * object (replaced in its parent under key). Returns 1 when routed, 0 when
 * absent, -1 with err when the tag names no configured provider. With c
 * NULL (ccp_route_reapply) only removes it: the pick has judged it. */
static int take_tag(const ccp_config *cfg, json_object *parent, const char *key, json_object *text,
                    ccp_route_choice *c, ccp_error *err)
{
    const char *s = json_object_get_string(text);
    const char *open = strstr(s, TAG_OPEN);
    const char *val = open ? open + sizeof TAG_OPEN - 1 : NULL;
    const char *close = val ? strstr(val, TAG_CLOSE) : NULL;
    if (!close) return 0;
    if (c && !explicit_target(cfg, val, (size_t)(close - val), c)) {
        ccp_error_set(err, CCP_EINVAL,
                      "the system prompt's <ccproxy-model> tag names '%.*s'; write "
                      "<ccproxy-model>provider/model</ccproxy-model> with a configured provider",
                      (int)(close - val) > 200 ? 200 : (int)(close - val), val);
        return -1;
    }
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_append(&b, s, (size_t)(open - s));
    const char *after = close + sizeof TAG_CLOSE - 1;
    if (*after == '\n') after++;
    size_t total = (size_t)json_object_get_string_len(text);
    ccp_buf_append(&b, after, total - (size_t)(after - s));
    json_object_object_add(parent, key,
                           json_object_new_string_len(b.data ? b.data : "", (int)b.len));
    ccp_buf_free(&b);
    return 1;
}

static int subagent_tag(const ccp_config *cfg, json_object *req, ccp_route_choice *c,
                        ccp_error *err)
{
    json_object *sys = ccp_json_get(req, "system");
    if (json_object_is_type(sys, json_type_string))
        return take_tag(cfg, req, "system", sys, c, err);
    for (size_t i = 0; i < ccp_json_arr_len(sys); i++) {
        json_object *b = json_object_array_get_idx(sys, i);
        json_object *t = ccp_json_get(b, "text");
        if (!t || !json_object_is_type(t, json_type_string)) continue;
        int rc = take_tag(cfg, b, "text", t, c, err);
        if (rc) return rc;
    }
    return 0;
}

void ccp_route_reapply(const ccp_route_choice *c, json_object *req)
{
    /* The pick's own walk, in its order: the first system text holding a
     * whole tag is the one it took. */
    if (c->via == CCP_VIA_TAG) subagent_tag(NULL, req, NULL, NULL);
}

/* ---- rules ----------------------------------------------------------- */

static bool offers_tool(json_object *tools, const char *name)
{
    for (size_t i = 0; i < ccp_json_arr_len(tools); i++) {
        const char *n = ccp_json_get_str(json_object_array_get_idx(tools, i), "name");
        if (n && !strcmp(n, name)) return true;
    }
    return false;
}

static bool rule_matches(const ccp_rule *r, json_object *req, unsigned stages, int64_t tokens,
                         ccp_header_get hdr, void *ud)
{
    const char *model = ccp_json_get_str(req, "model");
    if (r->model_glob && (!model || fnmatch(r->model_glob, model, 0) != 0)) return false;
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *v = hdr ? hdr(ud, r->headers[i].name) : NULL;
        if (!v || fnmatch(r->headers[i].value, v, 0) != 0) return false;
    }
    if (r->tokens_above >= 0 && !(tokens > r->tokens_above)) return false;
    if (r->tokens_below >= 0 && !(tokens < r->tokens_below)) return false;
    json_object *tools = ccp_json_get_arr(req, "tools");
    for (size_t i = 0; i < r->n_tools; i++)
        if (!offers_tool(tools, r->tools[i])) return false;
    if (r->stage >= 0 && !(stages & (1u << r->stage))) return false;
    return true;
}

/* ---- the pick -------------------------------------------------------- */

int ccp_route_pick(const ccp_config *cfg, json_object *req, ccp_header_get hdr, void *ud,
                   ccp_route_choice *out, ccp_error *err)
{
    memset(out, 0, sizeof *out);
    out->tokens = -1;
    if (!cfg->has_default)
        return ccp_error_set(
            err, CCP_ENOTFOUND,
            "cc-proxy has no provider configured. Set one of ANTHROPIC_API_KEY, "
            "OPENROUTER_API_KEY, DEEPSEEK_API_KEY, OPENAI_API_KEY or GEMINI_API_KEY in "
            "ccproxy's environment and restart it, or write a config file (./ccproxy.yaml or "
            "~/.config/ccproxy/config.yaml) with a provider and router.default; see "
            "docs/configuration.md");
    const ccp_router_config *rc = &cfg->router;
    out->stages = ccp_route_stages(rc, req, &out->tokens);
    out->stage = CCP_STAGE_DEFAULT;
    for (size_t i = 0; i < sizeof stage_priority / sizeof stage_priority[0]; i++)
        if (out->stages & (1u << stage_priority[i])) {
            out->stage = stage_priority[i];
            break;
        }

    int tag = subagent_tag(cfg, req, out, err);
    if (tag < 0) return CCP_EINVAL;
    if (tag > 0) {
        out->via = CCP_VIA_TAG;
        return 0;
    }
    const char *model = ccp_json_get_str(req, "model");
    if (model && explicit_target(cfg, model, strlen(model), out)) {
        out->via = CCP_VIA_MODEL;
        return 0;
    }
    if (rc->script_plugin && script_target(cfg, req, out)) {
        out->via = CCP_VIA_SCRIPT;
        return 0;
    }
    for (size_t i = 0; i < rc->n_rules; i++) {
        if (rule_matches(&rc->rules[i], req, out->stages, out->tokens, hdr, ud)) {
            out->rule = &rc->rules[i];
            out->pipeline = rc->rules[i].pipeline;
            if (rc->rules[i].route.n) {
                out->via = CCP_VIA_RULE;
                out->route = &rc->rules[i].route;
                return 0;
            }
            break; /* a pipeline-only rule: routed by stage below */
        }
    }
    for (size_t i = 0; i < sizeof stage_priority / sizeof stage_priority[0]; i++) {
        ccp_stage s = stage_priority[i];
        if ((out->stages & (1u << s)) && rc->stages[s].n) {
            out->via = CCP_VIA_STAGE;
            out->stage = s;
            out->route = &rc->stages[s];
            return 0;
        }
    }
    out->via = CCP_VIA_DEFAULT;
    out->route = &rc->stages[CCP_STAGE_DEFAULT];
    return 0;
}

void ccp_route_overlay(const ccp_config *cfg, const ccp_route *over, ccp_route_choice *c)
{
    if (c->via != CCP_VIA_STAGE && c->via != CCP_VIA_DEFAULT) return;
    const ccp_router_config *rc = &cfg->router;
    for (size_t i = 0; i < sizeof stage_priority / sizeof stage_priority[0]; i++) {
        ccp_stage s = stage_priority[i];
        if (!(c->stages & (1u << s))) continue;
        const ccp_route *r = over[s].n ? &over[s] : rc->stages[s].n ? &rc->stages[s] : NULL;
        if (r) {
            c->via = CCP_VIA_STAGE;
            c->stage = s;
            c->route = r;
            return;
        }
    }
    if (over[CCP_STAGE_DEFAULT].n) {
        c->via = CCP_VIA_DEFAULT;
        c->route = &over[CCP_STAGE_DEFAULT];
    }
}

void ccp_route_choice_free(ccp_route_choice *c)
{
    free(c->explicit_model);
    c->explicit_model = NULL;
}

/* x-ccproxy-route is a header: a client's 100 KB model name, or one with
 * control bytes, would break the client's header parser. Each value is cut
 * at ROUTE_FIELD_MAX bytes (then "...") with control bytes as '?', and the
 * whole at ROUTE_MAX. */
#define ROUTE_FIELD_MAX 128
#define ROUTE_MAX 512

static void append_field(ccp_buf *out, const char *s)
{
    size_t n = strlen(s);
    bool cut = n > ROUTE_FIELD_MAX;
    if (cut) {
        n = ROUTE_FIELD_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) /* not mid-character */
            n--;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        ccp_buf_appendc(out, ch < ' ' || ch == 0x7f ? '?' : (char)ch);
    }
    if (cut) ccp_buf_appends(out, "...");
}

void ccp_route_describe(const ccp_route_choice *c, const ccp_target *served,
                        const char *client_model, ccp_buf *out)
{
    size_t start = out->len;
    CCP_BUF_LIT(out, "stage=");
    ccp_buf_appends(out, ccp_stage_name(c->stage));
    CCP_BUF_LIT(out, "; via=");
    ccp_buf_appends(out, ccp_route_via_name(c->via));
    if (c->rule) {
        ccp_buf_appends(out, "; rule=");
        append_field(out, c->rule->name);
    }
    if (served && served->provider) {
        const char *m = served->model ? served->model : client_model;
        ccp_buf_appends(out, "; target=");
        append_field(out, served->provider->name);
        ccp_buf_appendc(out, '/');
        append_field(out, m ? m : "?");
    }
    if (out->len - start > ROUTE_MAX) {
        size_t n = ROUTE_MAX - 3;
        while (n > 0 && ((unsigned char)out->data[start + n] & 0xC0) == 0x80)
            n--;
        out->len = start + n;
        ccp_buf_appends(out, "...");
    }
}

const ccp_pipeline *ccp_route_target_pipeline(const ccp_target *t, const char *client_model)
{
    const ccp_provider *p = t->provider;
    const char *model = t->model ? t->model : client_model;
    for (size_t i = 0; model && i < p->n_model_pipelines; i++)
        if (!strcmp(p->model_pipelines[i].model, model)) return p->model_pipelines[i].pipeline;
    return p->pipeline;
}
