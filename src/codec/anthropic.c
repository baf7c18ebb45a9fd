/* anthropic.c — the `anthropic` codec table, its encoder and error mapping.
 * The decoder is anthropic_decode.c. */
#include "codec/anthropic.h"

#include "codec/encode_common.h"
#include "core/alloc.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_ANTHROPIC_VERSION "2023-06-01"

void ccp_model_strip_suffix(char *model)
{
    size_t n = strlen(model);
    if (n < 3 || model[n - 1] != ']') return;
    char *open = strrchr(model, '[');
    if (open && open != model) *open = '\0';
}

static const char *in_header(const ccp_encode_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_in_headers; i++)
        if (strcmp(ctx->in_headers[i].name, name) == 0) return ctx->in_headers[i].value;
    return NULL;
}

/* True when base_url points at Anthropic's own API. */
static bool is_anthropic_host(const char *base_url)
{
    const char *p = strstr(base_url, "://");
    p = p ? p + 3 : base_url;
    size_t n = strcspn(p, ":/");
    static const char host[] = "api.anthropic.com";
    return n == sizeof host - 1 && strncasecmp(p, host, n) == 0;
}

/* Claude Code's first system block carries a per-request hash; sent to any
 * other provider it defeats prefix caching, so it is dropped there. */
/* The system blocks of req without the billing header: a new array of
 * the same blocks (shared), or NULL when there is none to drop. */
static json_object *system_without_billing(json_object *req)
{
    json_object *sys = ccp_json_get_arr(req, "system");
    size_t n = ccp_json_arr_len(sys), i = 0;
    while (i < n) {
        const char *t = ccp_json_get_str(json_object_array_get_idx(sys, i), "text");
        if (t && ccp_is_billing_text(t)) break;
        i++;
    }
    if (i == n) return NULL;
    json_object *kept = json_object_new_array_ext((int)n);
    for (size_t j = 0; j < n; j++) {
        json_object *b = json_object_array_get_idx(sys, j);
        const char *t = ccp_json_get_str(b, "text");
        if (t && ccp_is_billing_text(t)) continue;
        json_object_array_add(kept, json_object_get(b));
    }
    return kept;
}

static int encode(const ccp_encode_ctx *ctx, ccp_outbound *out, ccp_error *err)
{
    const ccp_provider *p = ctx->provider;
    json_object *req = ctx->request;
    char *m;
    int rc = ccp_encode_begin(ctx, &m, err);
    if (rc) return rc;
    /* The body is the request's top level rebuilt, its members shared: the
     * client's own tree stays as it came, for a retry or another target. */
    json_object *o = json_object_new_object();
    json_object_object_foreach(req, key, val) json_object_object_add(o, key, json_object_get(val));
    json_object_object_add(o, "model", json_object_new_string(m));
    free(m);
    json_object *sys = is_anthropic_host(p->base_url) ? NULL : system_without_billing(req);
    if (sys) json_object_object_add(o, "system", sys);
    out->json = o;
    ccp_outbound_set_url(out, p->base_url, "/v1/messages");

    ccp_outbound_add_header(out, "content-type", "application/json");
    const char *v = in_header(ctx, "anthropic-version");
    ccp_outbound_add_header(out, "anthropic-version", v ? v : DEFAULT_ANTHROPIC_VERSION);
    if ((v = in_header(ctx, "anthropic-beta"))) ccp_outbound_add_header(out, "anthropic-beta", v);
    ccp_encode_end_headers(out, ctx);
    return 0;
}

/* Keeps an Anthropic error body's own type and message; otherwise derives
 * the type from the status and quotes the start of the body. */
static const char *map_error(int status, const char *body, size_t len, ccp_buf *msg)
{
    json_object *o = ccp_json_parse(body, len, NULL);
    json_object *e = ccp_json_get_obj(o, "error");
    const char *type = ccp_json_get_str(e, "type");
    const char *m = ccp_json_get_str(e, "message");
    const char *result = ccp_error_type_for_status(status);
    if (type && m) {
        /* Return the static spelling of a known type so the caller may use
         * it after the parsed body is gone. */
        static const char *const known[] = {
            "invalid_request_error", "authentication_error", "billing_error",    "permission_error",
            "not_found_error",       "request_too_large",    "rate_limit_error", "api_error",
            "timeout_error",         "overloaded_error",
        };
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(type, known[i]) == 0) result = known[i];
        ccp_buf_appends(msg, m);
    } else {
        ccp_error_body_excerpt(msg, status, body, len);
    }
    json_object_put(o);
    return result;
}

const ccp_codec ccp_codec_anthropic = {
    .name = "anthropic",
    .format = CCP_FORMAT_ANTHROPIC,
    .summary =
        "the Anthropic Messages API, and the Anthropic-compatible endpoints of other providers",
    .default_auth = CCP_AUTH_X_API_KEY,
    .encode = encode,
    .decoder_new = ccp_anthropic_decoder_new,
    .decoder_feed = ccp_anthropic_decoder_feed,
    .decoder_finish = ccp_anthropic_decoder_finish,
    .decoder_free = ccp_anthropic_decoder_free,
    .map_error = map_error,
};
