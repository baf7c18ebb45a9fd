/* replay.c — reading a capture back and playing its answer again (see
 * replay.h). The decoding path is the server's own: the codec's decoder,
 * the pipelines' event chain and the Anthropic writer, wired as
 * messages.c wires them, so a decoding bug captured once reproduces here
 * without a provider or a key. */
#include "debug/replay.h"

#include "codec/anthropic_writer.h"
#include "codec/codec.h"
#include "core/alloc.h"
#include "core/json.h"
#include "debug/capture.h"
#include "router/route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ccp_replay_load(const char *text, size_t len, ccp_replay *r, ccp_error *err)
{
    *r = (ccp_replay){0};
    size_t cap = 0, line = 0;
    for (size_t off = 0; off < len;) {
        const char *p = text + off, *nl = memchr(p, '\n', len - off);
        size_t n = nl ? (size_t)(nl - p) : len - off;
        off += n + (nl ? 1 : 0);
        line++;
        if (!n) continue;
        ccp_error e = {0};
        json_object *o = ccp_json_parse(p, n, &e);
        if (!o || !json_object_is_type(o, json_type_object) || !ccp_json_get_str(o, "type")) {
            if (o) json_object_put(o);
            ccp_replay_free(r);
            return ccp_error_set(err, CCP_EPARSE,
                                 "line %zu is not a capture record (a JSON object with a "
                                 "\"type\"): %s",
                                 line, e.code ? e.msg : "no type");
        }
        if (r->n == cap) {
            cap = cap ? cap * 2 : 64;
            r->recs = ccp_xrealloc(r->recs, cap * sizeof *r->recs);
        }
        r->recs[r->n++] = o;
    }
    if (!r->n || strcmp(ccp_json_get_str(r->recs[0], "type"), "exchange") != 0) {
        ccp_replay_free(r);
        return ccp_error_set(err, CCP_EPARSE,
                             "not a ccproxy capture: the first record must be of type "
                             "\"exchange\" (see docs/debugging.md)");
    }
    return 0;
}

void ccp_replay_free(ccp_replay *r)
{
    for (size_t i = 0; i < r->n; i++)
        json_object_put(r->recs[i]);
    free(r->recs);
    *r = (ccp_replay){0};
}

static bool is_type(json_object *rec, const char *type)
{
    return !strcmp(ccp_json_get_str(rec, "type"), type);
}

json_object *ccp_replay_find(const ccp_replay *r, const char *type)
{
    for (size_t i = 0; i < r->n; i++)
        if (is_type(r->recs[i], type)) return r->recs[i];
    return NULL;
}

bool ccp_replay_payload(json_object *rec, ccp_buf *out)
{
    json_object *d = ccp_json_get(rec, "data");
    if (d && json_object_is_type(d, json_type_string)) {
        ccp_buf_append(out, json_object_get_string(d), (size_t)json_object_get_string_len(d));
        return true;
    }
    const char *b = ccp_json_get_str(rec, "data_b64");
    return b && ccp_capture_b64_decode(out, b, strlen(b)) == 0;
}

static void collect(void *ud, const char *data, size_t len)
{
    ccp_buf_append(ud, data, len);
}

/* What messages.c does when an answer ends in an error: an HTTP error
 * before the stream began, else an error event (unless the provider
 * already sent one) at the end of the stream. */
static void fail(ccp_anthropic_writer *w, bool stream, ccp_buf *out, int *status, int http,
                 const char *type, const char *msg)
{
    const char *pt, *pm;
    if (stream && ccp_anthropic_writer_started(w)) {
        if (!ccp_anthropic_writer_error(w, &pt, &pm)) {
            ccp_event ev = {.type = CCP_EV_ERROR, .error_type = type, .error_message = msg};
            ccp_anthropic_writer_sink(w)->emit(ccp_anthropic_writer_sink(w), &ev);
        }
        *status = 200;
        return;
    }
    ccp_buf_reset(out);
    ccp_anthropic_error_json(out, type, msg);
    *status = http;
}

int ccp_replay_decode(const ccp_replay_answer *a, ccp_buf *out, int *status, ccp_error *err)
{
    const ccp_codec *codec = ccp_codec_find(a->format ? a->format : "");
    if (!codec)
        return ccp_error_set(err, CCP_EUNSUPPORTED, "the capture names an unknown format '%s'",
                             a->format ? a->format : "");
    if (a->status < 200 || a->status >= 300) {
        ccp_buf body = CCP_BUF_INIT, msg = CCP_BUF_INIT;
        for (size_t i = 0; i < a->n_chunks; i++)
            ccp_buf_append(&body, a->chunks[i].data, a->chunks[i].len);
        const char *type = codec->map_error(a->status, body.data ? body.data : "", body.len, &msg);
        ccp_anthropic_error_json(out, type, msg.data ? msg.data : "upstream error");
        *status = a->status;
        ccp_buf_free(&body);
        ccp_buf_free(&msg);
        return 0;
    }
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(a->stream, a->stream ? collect : NULL, out);
    if (a->echo_client && a->client_model) ccp_anthropic_writer_echo_model(w, a->client_model);
    ccp_event_chain chain;
    ccp_event_chain_build(&chain, a->pipeline, ccp_anthropic_writer_sink(w));
    ccp_event_chain_push(&chain, a->rule_pipeline);
    bool sse = a->content_type && strstr(a->content_type, "text/event-stream");
    ccp_decoder *d = codec->decoder_new(chain.head, sse);
    ccp_error e = {0};
    int rc = 0;
    for (size_t i = 0; i < a->n_chunks && !rc; i++)
        rc = codec->decoder_feed(d, a->chunks[i].data, a->chunks[i].len, &e);
    const char *etype = NULL, *emsg = NULL;
    if (rc) {
        /* The server stops the transfer on a decoder error: no finish. */
        fail(w, a->stream, out, status, 502, "api_error", e.msg);
    } else {
        rc = codec->decoder_finish(d, &e);
        bool upstream_error = ccp_anthropic_writer_error(w, &etype, &emsg);
        if (a->stream) {
            if (rc && !upstream_error)
                fail(w, true, out, status, 502, "api_error", e.msg);
            else if (!ccp_anthropic_writer_started(w))
                fail(w, true, out, status, 502, "api_error",
                     rc ? e.msg : "upstream sent an empty answer");
            else
                *status = 200;
        } else if (upstream_error) {
            fail(w, false, out, status, ccp_error_status_for_type(etype), etype, emsg);
        } else {
            if (!rc) rc = ccp_anthropic_writer_message(w, out, &e);
            if (rc)
                fail(w, false, out, status, 502, "api_error", e.msg);
            else
                *status = 200;
        }
    }
    codec->decoder_free(d);
    ccp_event_chain_free(&chain);
    ccp_anthropic_writer_free(w);
    (void)err;
    return 0;
}

static const ccp_provider *provider_named(const ccp_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->n_providers; i++)
        if (!strcmp(cfg->providers[i].name, name)) return &cfg->providers[i];
    return NULL;
}

int ccp_replay_offline(const ccp_replay *r, const ccp_config *cfg, ccp_buf *out, int *status,
                       ccp_error *err)
{
    json_object *route = ccp_replay_find(r, "route");
    /* The last attempt that got a head: the one whose answer the client
     * got (earlier ones were retried or fallen back from). */
    json_object *head = NULL;
    for (size_t i = r->n; i-- > 0;)
        if (is_type(r->recs[i], "upstream_head")) {
            head = r->recs[i];
            break;
        }
    if (!route || !head)
        return ccp_error_set(err, CCP_ENOTFOUND,
                             "the capture holds no answer from a provider to replay (no %s "
                             "record)",
                             route ? "upstream_head" : "route");
    int64_t n = ccp_json_get_int(head, "attempt", 0);
    json_object *att = NULL;
    ccp_buf *chunks = NULL;
    size_t n_chunks = 0;
    for (size_t i = 0; i < r->n; i++) {
        json_object *x = r->recs[i];
        if (ccp_json_get_int(x, "attempt", -1) != n) continue;
        if (is_type(x, "attempt")) att = x;
        /* Only the data after the chosen head (a retry reuses the number
         * of the target it retries only when it is the same attempt). */
        if (is_type(x, "upstream_data") && x != head) {
            chunks = ccp_xrealloc(chunks, (n_chunks + 1) * sizeof *chunks);
            chunks[n_chunks] = (ccp_buf)CCP_BUF_INIT;
            ccp_replay_payload(x, &chunks[n_chunks++]);
        }
        if (is_type(x, "upstream_head") && x != head) {
            for (size_t k = 0; k < n_chunks; k++)
                ccp_buf_free(&chunks[k]);
            n_chunks = 0; /* a retry of the same attempt: its data starts anew */
        }
    }
    const char *ctype = NULL;
    json_object *hs = ccp_json_get_arr(head, "headers");
    for (size_t i = 0; i < ccp_json_arr_len(hs); i++) {
        json_object *pair = ccp_json_arr_at(hs, i);
        const char *name = json_object_get_string(ccp_json_arr_at(pair, 0));
        if (name && !strcasecmp(name, "content-type"))
            ctype = json_object_get_string(ccp_json_arr_at(pair, 1));
    }
    const char *client_model = ccp_json_get_str(route, "client_model");
    const ccp_provider *p = att ? provider_named(cfg, ccp_json_get_str(att, "provider")) : NULL;
    ccp_target t = {.provider = p, .model = att ? ccp_json_get_str(att, "model") : NULL};
    const ccp_pipeline *rule_pipeline = NULL;
    const char *rule = ccp_json_get_str(route, "rule");
    for (size_t i = 0; cfg && rule && i < cfg->router.n_rules; i++)
        if (!strcmp(cfg->router.rules[i].name, rule)) rule_pipeline = cfg->router.rules[i].pipeline;
    ccp_replay_answer a = {
        .format = att ? ccp_json_get_str(att, "format") : NULL,
        .stream = ccp_json_get_bool(route, "stream", false),
        .client_model = client_model,
        .echo_client = !cfg || cfg->server.echo_model == CCP_ECHO_MODEL_CLIENT,
        .rule_pipeline = rule_pipeline,
        .pipeline = p ? ccp_route_target_pipeline(&t, client_model) : NULL,
        .status = (int)ccp_json_get_int(head, "status", 0),
        .content_type = ctype,
        .chunks = chunks,
        .n_chunks = n_chunks,
    };
    int rc = ccp_replay_decode(&a, out, status, err);
    for (size_t k = 0; k < n_chunks; k++)
        ccp_buf_free(&chunks[k]);
    free(chunks);
    return rc;
}

int ccp_replay_client_body(const ccp_replay *r, ccp_buf *out, int *status, ccp_error *err)
{
    ccp_buf wire = CCP_BUF_INIT;
    for (size_t i = 0; i < r->n; i++)
        if (is_type(r->recs[i], "client")) ccp_replay_payload(r->recs[i], &wire);
    const char *end = wire.data ? memmem(wire.data, wire.len, "\r\n\r\n", 4) : NULL;
    if (!end || wire.len < 12 || memcmp(wire.data, "HTTP/1.", 7) != 0) {
        ccp_buf_free(&wire);
        return ccp_error_set(err, CCP_ENOTFOUND,
                             "the capture holds no response to the client (no client record, "
                             "or one cut short)");
    }
    *status = atoi(wire.data + 9);
    size_t hl = (size_t)(end - wire.data);
    bool chunked = false;
    for (size_t i = 0; i + 26 <= hl; i++)
        if (!strncasecmp(wire.data + i, "transfer-encoding: chunked", 26)) chunked = true;
    const char *p = end + 4, *lim = wire.data + wire.len;
    if (!chunked) {
        ccp_buf_append(out, p, (size_t)(lim - p));
    } else {
        while (p < lim) {
            char *e;
            unsigned long n = strtoul(p, &e, 16);
            if (e == p || !n || lim - e < 2) break;
            p = e + 2;
            if ((size_t)(lim - p) < n) n = (unsigned long)(lim - p);
            ccp_buf_append(out, p, n);
            p += n + 2;
        }
    }
    ccp_buf_free(&wire);
    return 0;
}

/* The SSE events of body as a JSON array of {"event","data"} (data
 * parsed), in the layout of tests/fixtures/<format>/NAME.expected.json. */
static json_object *events_of(const char *body, size_t len)
{
    json_object *arr = json_object_new_array();
    const char *p = body, *lim = body + len;
    while (p < lim) {
        const char *end = memmem(p, (size_t)(lim - p), "\n\n", 2);
        if (!end) end = lim;
        const char *ev = NULL, *data = NULL;
        size_t evl = 0, datal = 0;
        for (const char *l = p; l < end;) {
            const char *nl = memchr(l, '\n', (size_t)(end - l));
            const char *le = nl ? nl : end;
            if (!strncmp(l, "event: ", 7)) ev = l + 7, evl = (size_t)(le - l - 7);
            if (!strncmp(l, "data: ", 6)) data = l + 6, datal = (size_t)(le - l - 6);
            l = le + 1;
        }
        if (data) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "event", ev ? ccp_json_strn(ev, evl) : NULL);
            ccp_error e;
            json_object *d = ccp_json_parse(data, datal, &e);
            json_object_object_add(o, "data", d ? d : ccp_json_strn(data, datal));
            json_object_array_add(arr, o);
        }
        p = end + 2;
    }
    return arr;
}

static int write_file(const char *path, const char *data, size_t len, ccp_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        int e = errno;
        if (f) fclose(f);
        return ccp_error_set(err, CCP_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

int ccp_replay_fixture(const ccp_replay *r, const ccp_buf *client_body, const char *dir,
                       const char *name, ccp_buf *written, ccp_error *err)
{
    json_object *head = NULL;
    for (size_t i = r->n; i-- > 0;)
        if (is_type(r->recs[i], "upstream_head")) {
            head = r->recs[i];
            break;
        }
    if (!head)
        return ccp_error_set(err, CCP_ENOTFOUND, "the capture holds no answer from a provider");
    int64_t n = ccp_json_get_int(head, "attempt", 0);
    ccp_buf up = CCP_BUF_INIT, path = CCP_BUF_INIT;
    bool after = false;
    for (size_t i = 0; i < r->n; i++) {
        if (r->recs[i] == head) after = true;
        if (after && is_type(r->recs[i], "upstream_data") &&
            ccp_json_get_int(r->recs[i], "attempt", -1) == n)
            ccp_replay_payload(r->recs[i], &up);
    }
    bool sse = up.len && (memmem(up.data, up.len, "data:", 5) != NULL) &&
               up.data[strspn(up.data, " \t\r\n")] != '{';
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        ccp_buf_free(&up);
        return ccp_error_set(err, CCP_EIO, "cannot create %s: %s", dir, strerror(errno));
    }
    ccp_buf_printf(&path, "%s/%s.%s", dir, name, sse ? "sse" : "json");
    int rc = write_file(path.data, up.data ? up.data : "", up.len, err);
    if (!rc) ccp_buf_printf(written, "%s\n", path.data);
    if (!rc && client_body) {
        json_object *ev = events_of(client_body->data ? client_body->data : "", client_body->len);
        const char *text = json_object_to_json_string_ext(
            ev, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        ccp_buf_reset(&path);
        ccp_buf_printf(&path, "%s/%s.expected.json", dir, name);
        ccp_buf t = CCP_BUF_INIT;
        ccp_buf_printf(&t, "%s\n", text);
        rc = write_file(path.data, t.data, t.len, err);
        if (!rc) ccp_buf_printf(written, "%s\n", path.data);
        ccp_buf_free(&t);
        json_object_put(ev);
    }
    ccp_buf_free(&up);
    ccp_buf_free(&path);
    return rc;
}

/* ---- the diff ---- */

typedef struct {
    const char *p;
    size_t n;
} line;

static size_t split(const char *s, size_t len, line **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(s + off, '\n', len - off);
        size_t l = nl ? (size_t)(nl - (s + off)) : len - off;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = ccp_xrealloc(*out, cap * sizeof **out);
        }
        (*out)[n++] = (line){s + off, l};
        off += l + 1;
    }
    return n;
}

static bool same(line a, line b)
{
    return a.n == b.n && !memcmp(a.p, b.p, a.n);
}

size_t ccp_replay_diff(const char *a, size_t alen, const char *b, size_t blen, ccp_buf *out)
{
    line *la, *lb;
    size_t na = split(a, alen, &la), nb = split(b, blen, &lb);
    /* Longest common subsequence by dynamic programming: answers are a few
     * thousand lines at most. */
    size_t *t = ccp_xcalloc((na + 1) * (nb + 1), sizeof *t);
#define T(i, j) t[(i) * (nb + 1) + (j)]
    for (size_t i = na; i-- > 0;)
        for (size_t j = nb; j-- > 0;)
            T(i, j) = same(la[i], lb[j]) ? T(i + 1, j + 1) + 1
                                         : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
    size_t i = 0, j = 0, diffs = 0;
    while (i < na || j < nb) {
        if (i < na && j < nb && same(la[i], lb[j])) {
            i++, j++;
        } else if (i < na && (j == nb || T(i + 1, j) >= T(i, j + 1))) {
            ccp_buf_printf(out, "-%.*s\n", (int)la[i].n, la[i].p);
            i++, diffs++;
        } else {
            ccp_buf_printf(out, "+%.*s\n", (int)lb[j].n, lb[j].p);
            j++, diffs++;
        }
    }
#undef T
    free(t);
    free(la);
    free(lb);
    return diffs;
}
