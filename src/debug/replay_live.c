/* replay_live.c — `ccproxy replay FILE [--to provider/model]`: the
 * captured client request sent again, through the current config, to a
 * live provider, and its answer decoded as the server would.
 *
 * Routing and preparation are the server's own (ccp_route_pick,
 * ccp_exchange_prepare: pipelines, encoding, outbound hooks, the
 * provider's key from the current config); only the transfer differs: one
 * blocking libcurl transfer, since a command line has nothing else to do
 * meanwhile. --to uses the router's explicit "provider/model" form. */
#include "debug/replay.h"

#include "codec/codec.h"
#include "core/alloc.h"
#include "core/json.h"
#include "exchange/exchange.h"
#include "router/route.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    ccp_buf *chunks;
    size_t n;
    char *content_type; /* owned */
} transfer;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    t->chunks = ccp_xrealloc(t->chunks, (t->n + 1) * sizeof *t->chunks);
    t->chunks[t->n] = (ccp_buf)CCP_BUF_INIT;
    ccp_buf_append(&t->chunks[t->n++], p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    transfer *t = ud;
    size_t len = size * n;
    if (len > 13 && !strncasecmp(p, "content-type:", 13)) {
        const char *v = p + 13;
        while (*v == ' ')
            v++;
        size_t vl = len - (size_t)(v - p);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        free(t->content_type);
        t->content_type = ccp_xstrndup(v, vl);
    }
    return len;
}

/* A header of the captured request (its [name, value] pairs). */
static const char *header_of(void *ud, const char *name)
{
    json_object *hs = ud;
    for (size_t i = 0; i < ccp_json_arr_len(hs); i++) {
        json_object *pair = ccp_json_arr_at(hs, i);
        const char *n = json_object_get_string(ccp_json_arr_at(pair, 0));
        if (n && !strcasecmp(n, name)) return json_object_get_string(ccp_json_arr_at(pair, 1));
    }
    return NULL;
}

int ccp_replay_live(const ccp_replay *r, const ccp_config *cfg, const char *to, ccp_buf *out,
                    int *status, ccp_buf *info, ccp_error *err)
{
    json_object *rq = ccp_replay_find(r, "request"), *route = ccp_replay_find(r, "route");
    ccp_buf body = CCP_BUF_INIT;
    if (!rq || !ccp_replay_payload(rq, &body))
        return ccp_error_set(err, CCP_ENOTFOUND, "the capture holds no client request");
    json_object *req = ccp_json_parse(body.data ? body.data : "", body.len, err);
    ccp_buf_free(&body);
    if (!req || !json_object_is_type(req, json_type_object) || ccp_request_validate(req, err)) {
        if (req) json_object_put(req);
        if (!err->code) ccp_error_set(err, CCP_EINVAL, "the captured request is not a JSON object");
        return err->code;
    }
    /* The answer names the model the client asked for, as it did then. */
    char *client_model = ccp_xstrdup(route && ccp_json_get_str(route, "client_model")
                                         ? ccp_json_get_str(route, "client_model")
                                         : ccp_json_get_str(req, "model"));
    if (to) json_object_object_add(req, "model", json_object_new_string(to));
    ccp_route_choice c = {0};
    json_object *hs = ccp_json_get_arr(rq, "headers");
    int rc = ccp_route_pick(cfg, req, header_of, hs, &c, err);
    if (rc) {
        json_object_put(req);
        free(client_model);
        return rc;
    }
    const char *routed_model = ccp_json_get_str(req, "model");
    bool stream = ccp_json_get_bool(req, "stream", false);
    ccp_exchange ex = {
        .choice = &c,
        .request = json_object_get(req),
        .client_model = routed_model,
        .stream = stream,
        .validated = true,
    };
    ccp_attempt a;
    ccp_prep_error pe;
    if (ccp_exchange_prepare(&ex, &a, &pe) != 0) {
        rc = ccp_error_set(err, CCP_EINVAL, "cannot prepare the request: %s", pe.err.msg);
        goto out;
    }
    ccp_buf_printf(info, "sent to %s/%s (%s)\n", a.target.provider->name,
                   a.target.model ? a.target.model : routed_model,
                   ccp_format_name(a.target.provider->format));
    CURL *e = curl_easy_init();
    struct curl_slist *hl = NULL;
    for (size_t i = 0; i < a.out.n_headers; i++)
        hl = curl_slist_append(hl, a.out.headers[i]);
    transfer t = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, a.out.url.data);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, a.out.body.data ? a.out.body.data : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a.out.body.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->upstream.connect_timeout_ms);
    if (cfg->upstream.total_timeout_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->upstream.total_timeout_ms);
    CURLcode cc = curl_easy_perform(e);
    long st = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hl);
    curl_easy_cleanup(e);
    if (cc != CURLE_OK) {
        rc = ccp_error_set(err, CCP_EUPSTREAM, "the provider '%s' failed: %s",
                           a.target.provider->name, *errbuf ? errbuf : curl_easy_strerror(cc));
    } else {
        ccp_replay_answer ans = {
            .format = ccp_format_name(a.target.provider->format),
            .stream = stream,
            .client_model = client_model,
            .echo_client = cfg->server.echo_model == CCP_ECHO_MODEL_CLIENT,
            .rule_pipeline = a.rule_pipeline,
            .pipeline = a.pipeline,
            .status = (int)st,
            .content_type = t.content_type,
            .chunks = t.chunks,
            .n_chunks = t.n,
        };
        rc = ccp_replay_decode(&ans, out, status, err);
    }
    for (size_t i = 0; i < t.n; i++)
        ccp_buf_free(&t.chunks[i]);
    free(t.chunks);
    free(t.content_type);
    ccp_attempt_free(&a);
out:
    ccp_exchange_free(&ex);
    ccp_route_choice_free(&c);
    json_object_put(req);
    free(client_model);
    return rc;
}
