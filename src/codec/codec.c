/* codec.c — the codec registry and what every codec shares: the outbound
 * request record and the status → Anthropic error type table. */
#include "codec/codec.h"

#include "codec/anthropic.h"
#include "codec/gemini.h"
#include "codec/openai_chat.h"
#include "codec/openai_responses.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ccp_outbound_init(ccp_outbound *out)
{
    memset(out, 0, sizeof *out);
}

void ccp_outbound_free(ccp_outbound *out)
{
    json_object_put(out->json);
    ccp_buf_free(&out->url);
    ccp_buf_free(&out->body);
    /* The auth header holds a copy of a provider key: wiped like the
     * config's own copy (docs/security.md). A handful of short lines. */
    for (size_t i = 0; i < out->n_headers; i++) {
        explicit_bzero(out->headers[i], strlen(out->headers[i]));
        free(out->headers[i]);
    }
    free(out->headers);
    memset(out, 0, sizeof *out);
}

void ccp_outbound_seal(ccp_outbound *out)
{
    if (!out->json) return;
    ccp_buf_reset(&out->body);
    ccp_json_write(&out->body, out->json);
    json_object_put(out->json);
    out->json = NULL;
}

void ccp_outbound_add_header(ccp_outbound *out, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    char *line = ccp_xmalloc(nl + vl + 3);
    memcpy(line, name, nl);
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, value, vl + 1);
    out->headers = ccp_xrealloc(out->headers, (out->n_headers + 1) * sizeof *out->headers);
    out->headers[out->n_headers++] = line;
}

void ccp_outbound_add_auth(ccp_outbound *out, const ccp_provider *p, const char *key)
{
    if (!key) key = p->api_key;
    if (key) {
        switch (p->auth) {
        case CCP_AUTH_X_API_KEY:
            ccp_outbound_add_header(out, "x-api-key", key);
            break;
        case CCP_AUTH_GOOG:
            ccp_outbound_add_header(out, "x-goog-api-key", key);
            break;
        case CCP_AUTH_API_KEY:
            ccp_outbound_add_header(out, "api-key", key);
            break;
        case CCP_AUTH_BEARER: {
            ccp_buf b = CCP_BUF_INIT;
            ccp_buf_printf(&b, "Bearer %s", key);
            ccp_outbound_add_header(out, "authorization", b.data);
            explicit_bzero(b.data, b.len);
            ccp_buf_free(&b);
            break;
        }
        case CCP_AUTH_NONE:
            break;
        }
    }
    for (size_t i = 0; i < p->n_headers; i++)
        ccp_outbound_add_header(out, p->headers[i].name, p->headers[i].value);
}

void ccp_error_body_excerpt(ccp_buf *msg, int status, const char *body, size_t len)
{
    size_t n = len < 500 ? len : 500;
    ccp_buf_printf(msg, "upstream answered HTTP %d", status);
    if (n) {
        ccp_buf_appends(msg, ": ");
        ccp_buf_append(msg, body, n);
    }
}

bool ccp_tool_is_server_tool(json_object *tool, const char *codec)
{
    if (ccp_json_get_obj(tool, "input_schema")) return false;
    const char *name = ccp_json_get_str(tool, "name"), *type = ccp_json_get_str(tool, "type");
    ccp_log_info("%s: dropping server tool '%s' (%s)", codec, name ? name : "?", type ? type : "?");
    return true;
}

void ccp_outbound_set_url(ccp_outbound *out, const char *base_url, const char *path)
{
    ccp_buf_reset(&out->url);
    size_t bl = strlen(base_url);
    while (bl > 0 && base_url[bl - 1] == '/')
        bl--;
    ccp_buf_append(&out->url, base_url, bl);
    if (path[0] != '/') ccp_buf_appendc(&out->url, '/');
    ccp_buf_appends(&out->url, path);
}

const ccp_codec *const ccp_codecs[] = {
    [CCP_FORMAT_ANTHROPIC] = &ccp_codec_anthropic,
    [CCP_FORMAT_OPENAI_CHAT] = &ccp_codec_openai_chat,
    [CCP_FORMAT_GEMINI] = &ccp_codec_gemini,
    [CCP_FORMAT_OPENAI_RESPONSES] = &ccp_codec_openai_responses,
    NULL,
};

const ccp_codec *ccp_codec_for(ccp_format format)
{
    assert((unsigned)format < sizeof ccp_codecs / sizeof ccp_codecs[0] - 1);
    return ccp_codecs[format];
}

const ccp_codec *ccp_codec_find(const char *name)
{
    for (size_t i = 0; name && ccp_codecs[i]; i++)
        if (!strcmp(ccp_codecs[i]->name, name)) return ccp_codecs[i];
    return NULL;
}

void ccp_codec_names(ccp_buf *out, const char *last_sep)
{
    for (size_t i = 0; ccp_codecs[i]; i++) {
        if (i) ccp_buf_appends(out, ccp_codecs[i + 1] ? ", " : last_sep);
        ccp_buf_appends(out, ccp_codecs[i]->name);
    }
}

uint64_t ccp_tool_id_seed(const void *salt)
{
    return (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)salt ^ 0x9E3779B97F4A7C15ULL;
}

void ccp_tool_id_append(uint64_t *rng, ccp_buf *out)
{
    static const char al[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char id[30];
    memcpy(id, "toolu_", 6);
    for (int i = 6; i < 30; i++) {
        *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
        id[i] = al[(*rng >> 33) % 62];
    }
    ccp_buf_append(out, id, sizeof id);
}
