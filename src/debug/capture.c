/* capture.c — the records of a captured exchange (see capture.h for the
 * format and docs/debugging.md for its description).
 *
 * Everything here runs on the request's worker and only appends to the
 * exchange's own buffer (bounded by max_bytes): no I/O, no lock. Header
 * values that carry credentials are masked as they are recorded; the
 * configured secrets are redacted later, in the writer (capture_format). */
#include "debug/capture_internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

/* Secrets shorter than this are not searched for in payloads: a short
 * string would match ordinary text (and no real key is that short). */
#define SECRET_MIN 8

bool ccp_capture_header_secret(const char *name, size_t len)
{
    static const char *const words[] = {"auth",   "key",      "token",      "secret",
                                        "cookie", "password", "credential", "signature"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= len; i++)
            if (!strncasecmp(name + i, words[w], wl)) return true;
    }
    return false;
}

static double t_ms(const ccp_capture_ex *x)
{
    return (double)(uv_hrtime() - x->start_ns) / 1e6;
}

static void frame(ccp_capture_ex *x, const ccp_buf *meta, const char *data, size_t len);

/* The client bytes gathered so far become one record. */
static void flush_client(ccp_capture_ex *x)
{
    if (!x->client.len) return;
    ccp_buf m = CCP_BUF_INIT, d = x->client;
    x->client = (ccp_buf)CCP_BUF_INIT;
    ccp_buf_printf(&m, "{\"type\":\"client\",\"t\":%.3f", x->client_t);
    frame(x, &m, d.data, d.len);
    ccp_buf_free(&m);
    ccp_buf_free(&d);
}

/* Appends one frame: meta is the record without its closing brace; data
 * (may be NULL: none) its payload. Over the cap the payload is cut to what
 * fits (the start of a large body is what a reader wants), then left out;
 * the record itself goes in while it fits, so the file shows what happened
 * and where. */
static void frame(ccp_capture_ex *x, const ccp_buf *meta, const char *data, size_t len)
{
    flush_client(x);
    size_t need = 8 + meta->len + (data ? len : 0);
    if (x->frames.len + need > x->max_bytes) {
        x->truncated = true;
        if (x->frames.len + 8 + meta->len > x->max_bytes) {
            if (data) x->left_out += len;
            return;
        }
        if (data) {
            size_t room = x->max_bytes - x->frames.len - 8 - meta->len;
            x->left_out += len - room;
            len = room;
        }
    }
    uint32_t ml = (uint32_t)meta->len, dl = data ? (uint32_t)len : CCP_CAPTURE_NO_DATA;
    ccp_buf_append(&x->frames, &ml, sizeof ml);
    ccp_buf_append(&x->frames, meta->data, meta->len);
    ccp_buf_append(&x->frames, &dl, sizeof dl);
    if (data) ccp_buf_append(&x->frames, data, len);
}

/* Starts a record's meta: {"type":T,"t":ms */
static void meta_start(ccp_buf *m, const ccp_capture_ex *x, const char *type)
{
    ccp_buf_printf(m, "{\"type\":\"%s\",\"t\":%.3f", type, t_ms(x));
}

static void json_field(ccp_buf *m, const char *name, const char *v)
{
    ccp_buf_printf(m, ",\"%s\":", name);
    if (v)
        ccp_buf_append_json_str(m, v, strlen(v));
    else
        ccp_buf_appends(m, "null");
}

/* ["name","value"] with the value masked when the name says credential;
 * a masked value is remembered so that the writer redacts it anywhere. */
static void header_pair(ccp_capture_ex *x, ccp_buf *m, const char *name, size_t nl,
                        const char *value, size_t vl)
{
    ccp_buf_appendc(m, '[');
    ccp_buf_append_json_str(m, name, nl);
    ccp_buf_appendc(m, ',');
    if (ccp_capture_header_secret(name, nl)) {
        ccp_buf_appends(m, "\"[masked]\"");
        /* "Bearer sk-...": the credential is the last word. */
        const char *sp = memrchr(value, ' ', vl);
        const char *s = sp ? sp + 1 : value;
        size_t sl = vl - (size_t)(s - value);
        if (sl >= SECRET_MIN) {
            x->secrets.v = ccp_xrealloc(x->secrets.v, (x->secrets.n + 1) * sizeof *x->secrets.v);
            x->secrets.v[x->secrets.n++] = ccp_xstrndup(s, sl);
        }
    } else {
        ccp_buf_append_json_str(m, value, vl);
    }
    ccp_buf_appendc(m, ']');
}

ccp_capture_ex *ccp_capture_ex_new(const char *id, uint64_t start_ns, size_t max_bytes,
                                   ccp_config *cfg)
{
    ccp_capture_ex *x = ccp_xcalloc(1, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", id);
    x->start_ns = start_ns;
    x->max_bytes = max_bytes;
    x->cfg = cfg ? ccp_config_ref(cfg) : NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* The wall time of the request's start, not of this call. */
    int64_t since = (int64_t)((uv_hrtime() - start_ns) / 1000000);
    x->wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - since;
    ccp_buf m = CCP_BUF_INIT;
    time_t secs = (time_t)(x->wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[40];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    ccp_buf_printf(&m, "{\"type\":\"exchange\",\"t\":0,\"version\":1,\"id\":");
    ccp_buf_append_json_str(&m, x->id, strlen(x->id));
    ccp_buf_printf(&m, ",\"time\":\"%s.%03dZ\"", when, (int)(x->wall_ms % 1000));
    frame(x, &m, NULL, 0);
    ccp_buf_free(&m);
    return x;
}

void ccp_capture_ex_free(ccp_capture_ex *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->secrets.n; i++) {
        memset(x->secrets.v[i], 0, strlen(x->secrets.v[i]));
        free(x->secrets.v[i]);
    }
    free(x->secrets.v);
    ccp_buf_free(&x->frames);
    ccp_buf_free(&x->head);
    ccp_buf_free(&x->client);
    if (x->cfg) ccp_config_unref(x->cfg);
    free(x);
}

void ccp_capture_request(ccp_capture_ex *x, const ccp_request *req)
{
    if (!x) return;
    ccp_buf m = CCP_BUF_INIT;
    meta_start(&m, x, "request");
    json_field(&m, "method", req->method);
    json_field(&m, "path", req->path);
    ccp_buf_appends(&m, ",\"headers\":[");
    for (size_t i = 0; i < req->n_headers; i++) {
        if (i) ccp_buf_appendc(&m, ',');
        const ccp_header_view *h = &req->headers[i];
        header_pair(x, &m, h->name, strlen(h->name), h->value, strlen(h->value));
    }
    ccp_buf_appendc(&m, ']');
    frame(x, &m, req->body ? req->body : "", req->body_len);
    ccp_buf_free(&m);
}

/* The request is in the sample when its id (random hex) falls below the
 * share: the same request always decides the same way. */
static bool sampled(const char *id, double share)
{
    if (share >= 1.0) return true;
    if (share <= 0.0) return false;
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (double)(h >> 11) / (double)(1ULL << 53) < share;
}

ccp_capture_ex *ccp_capture_begin(ccp_capture *cap, const ccp_request *req, ccp_config *cfg)
{
    if (!cap) return NULL;
    const ccp_capture_config *cc = ccp_capture_cfg(cap);
    if (!sampled(req->id, cc->sample)) return NULL;
    ccp_capture_ex *x = ccp_capture_ex_new(req->id, req->start_ns, cc->max_bytes, cfg);
    x->cap = cap;
    ccp_capture_request(x, req);
    return x;
}

void ccp_capture_route(ccp_capture_ex *x, const char *stage, const char *rule, const char *route,
                       const char *client_model, bool stream)
{
    if (!x) return;
    ccp_buf m = CCP_BUF_INIT;
    meta_start(&m, x, "route");
    json_field(&m, "stage", stage);
    json_field(&m, "rule", rule);
    json_field(&m, "route", route);
    json_field(&m, "client_model", client_model);
    ccp_buf_printf(&m, ",\"stream\":%s", stream ? "true" : "false");
    frame(x, &m, NULL, 0);
    ccp_buf_free(&m);
}

void ccp_capture_attempt(ccp_capture_ex *x, size_t attempt, const char *provider,
                         const char *format, const char *model, const char *url,
                         char *const *headers, size_t n_headers, const char *body, size_t len)
{
    if (!x) return;
    x->attempt = attempt;
    ccp_buf_reset(&x->head);
    ccp_buf m = CCP_BUF_INIT, u = CCP_BUF_INIT;
    meta_start(&m, x, "attempt");
    ccp_buf_printf(&m, ",\"attempt\":%zu", attempt);
    json_field(&m, "provider", provider);
    json_field(&m, "format", format);
    json_field(&m, "model", model);
    ccp_log_url(&u, url);
    json_field(&m, "url", u.data ? u.data : "");
    ccp_buf_appends(&m, ",\"headers\":[");
    for (size_t i = 0; i < n_headers; i++) {
        const char *line = headers[i];
        size_t nl = strcspn(line, ":");
        const char *v = line + nl + (line[nl] ? 1 : 0);
        while (*v == ' ')
            v++;
        if (i) ccp_buf_appendc(&m, ',');
        header_pair(x, &m, line, nl, v, strlen(v));
    }
    ccp_buf_appendc(&m, ']');
    frame(x, &m, body ? body : "", body ? len : 0);
    ccp_buf_free(&m);
    ccp_buf_free(&u);
}

void ccp_capture_upstream_header(ccp_capture_ex *x, const char *line, size_t len)
{
    if (!x) return;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
        ccp_buf_reset(&x->head); /* a new head (after a 100 Continue, or a redirect) */
        return;
    }
    const char *colon = memchr(line, ':', len);
    if (!len || !colon || x->head.len > 64 * 1024) return;
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    if (x->head.len) ccp_buf_appendc(&x->head, ',');
    header_pair(x, &x->head, line, (size_t)(colon - line), v, (size_t)(end - v));
}

void ccp_capture_upstream_head(ccp_capture_ex *x, int status)
{
    if (!x) return;
    ccp_buf m = CCP_BUF_INIT;
    meta_start(&m, x, "upstream_head");
    ccp_buf_printf(&m, ",\"attempt\":%zu,\"status\":%d,\"headers\":[", x->attempt, status);
    if (x->head.len) ccp_buf_append(&m, x->head.data, x->head.len);
    ccp_buf_appendc(&m, ']');
    frame(x, &m, NULL, 0);
    ccp_buf_free(&m);
    ccp_buf_reset(&x->head);
}

void ccp_capture_upstream_data(ccp_capture_ex *x, const char *data, size_t len)
{
    if (!x) return;
    ccp_buf m = CCP_BUF_INIT;
    meta_start(&m, x, "upstream_data");
    ccp_buf_printf(&m, ",\"attempt\":%zu", x->attempt);
    frame(x, &m, data, len);
    ccp_buf_free(&m);
}

void ccp_capture_upstream_end(ccp_capture_ex *x, int result, const char *err)
{
    if (!x) return;
    ccp_buf m = CCP_BUF_INIT;
    meta_start(&m, x, "upstream_end");
    ccp_buf_printf(&m, ",\"attempt\":%zu,\"result\":%d", x->attempt, result);
    if (result) json_field(&m, "error", err ? err : ccp_error_name(result));
    frame(x, &m, NULL, 0);
    ccp_buf_free(&m);
}

static double ms_between(uint64_t a, uint64_t b)
{
    return b > a ? (double)(b - a) / 1e6 : 0.0;
}

void ccp_capture_end_record(ccp_capture_ex *x, const ccp_access_rec *rec)
{
    const ccp_access *a = rec->info;
    ccp_buf m = CCP_BUF_INIT;
    meta_start(&m, x, "end");
    ccp_buf_printf(&m, ",\"status\":%d", rec->status);
    json_field(&m, "stage", a ? a->stage : NULL);
    json_field(&m, "provider", a ? a->provider : NULL);
    json_field(&m, "model", a ? a->upstream_model : NULL);
    json_field(&m, "error_type", a ? a->error_type : NULL);
    json_field(&m, "stop_reason", a ? a->stop_reason : NULL);
    if (a)
        ccp_buf_printf(&m,
                       ",\"attempts\":%d,\"upstream_status\":%d,\"input_tokens\":%lld,"
                       "\"output_tokens\":%lld,\"upstream_wait_ms\":%.3f",
                       a->attempts, a->upstream_status, (long long)a->input_tokens,
                       (long long)a->output_tokens, (double)a->upstream_wait_ns / 1e6);
    if (a && a->first_token_ns)
        ccp_buf_printf(&m, ",\"ttft_ms\":%.3f", ms_between(rec->start_ns, a->first_token_ns));
    ccp_buf_printf(&m, ",\"duration_ms\":%.3f,\"client_gone\":%s",
                   ms_between(rec->start_ns, rec->end_ns), rec->client_gone ? "true" : "false");
    /* The end record always goes in: it may pass the cap by its own size. */
    size_t max = x->max_bytes;
    x->max_bytes = SIZE_MAX;
    ccp_buf_printf(&m, ",\"truncated\":%s,\"left_out_bytes\":%llu", x->truncated ? "true" : "false",
                   (unsigned long long)x->left_out);
    frame(x, &m, NULL, 0);
    x->max_bytes = max;
    ccp_buf_free(&m);
}

void ccp_capture_client(void *xv, const char *data, size_t len, const ccp_access_rec *end)
{
    ccp_capture_ex *x = xv;
    if (!x) return;
    if (len) {
        if (!x->client.len) x->client_t = t_ms(x);
        /* Bounded like the rest: what passes the cap is counted, not kept. */
        if (x->frames.len + x->client.len + len + 64 > x->max_bytes) {
            x->truncated = true;
            x->left_out += len;
        } else {
            ccp_buf_append(&x->client, data, len);
        }
    }
    if (!end) return;
    ccp_capture_end_record(x, end);
    if (x->cap)
        ccp_capture_submit(x->cap, x);
    else
        ccp_capture_ex_free(x);
}

/* ---- the file text (runs in the writer) ---- */

static bool valid_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0)
            k = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            k = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            k = 3, cp = c & 0x07;
        else
            return false;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (p[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

void ccp_capture_b64_encode(ccp_buf *out, const unsigned char *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ccp_buf_reserve(out, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        char q[4] = {t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=',
                     i + 2 < n ? t[v & 63] : '='};
        ccp_buf_append(out, q, 4);
    }
}

int ccp_capture_b64_decode(ccp_buf *out, const char *s, size_t n)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=')
            break;
        else
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            ccp_buf_appendc(out, (char)(acc >> bits & 0xFF));
        }
    }
    return 0;
}

/* Replaces every secret (of at least SECRET_MIN bytes) in b with
 * [REDACTED]. */
static void redact_one(ccp_buf *b, const char *s)
{
    size_t sl = strlen(s);
    if (sl < SECRET_MIN || !b->len) return;
    static const char mark[] = "[REDACTED]";
    const size_t ml = sizeof mark - 1;
    ccp_buf r = CCP_BUF_INIT;
    size_t from = 0;
    const char *hit;
    bool any = false;
    while ((hit = memmem(b->data + from, b->len - from, s, sl))) {
        any = true;
        size_t at = (size_t)(hit - b->data);
        ccp_buf_append(&r, b->data + from, at - from);
        ccp_buf_append(&r, mark, ml);
        from = at + sl;
    }
    if (!any) return;
    ccp_buf_append(&r, b->data + from, b->len - from);
    ccp_buf_free(b);
    *b = r;
}

static void redact(const ccp_capture_ex *x, ccp_buf *b)
{
    for (size_t i = 0; i < x->secrets.n; i++)
        redact_one(b, x->secrets.v[i]);
    if (!x->cfg) return;
    for (size_t p = 0; p < x->cfg->n_providers; p++) {
        const ccp_provider *pr = &x->cfg->providers[p];
        if (pr->api_key) redact_one(b, pr->api_key);
        for (size_t k = 0; k < pr->keys.n; k++)
            redact_one(b, pr->keys.v[k]);
        for (size_t h = 0; h < pr->n_headers; h++)
            redact_one(b, pr->headers[h].value);
    }
}

void ccp_capture_format(const ccp_capture_ex *x, ccp_buf *out)
{
    size_t off = 0;
    ccp_buf meta = CCP_BUF_INIT, data = CCP_BUF_INIT;
    while (off + 8 <= x->frames.len) {
        uint32_t ml, dl;
        memcpy(&ml, x->frames.data + off, sizeof ml);
        off += sizeof ml;
        ccp_buf_reset(&meta);
        ccp_buf_append(&meta, x->frames.data + off, ml);
        off += ml;
        memcpy(&dl, x->frames.data + off, sizeof dl);
        off += sizeof dl;
        redact(x, &meta);
        ccp_buf_append(out, meta.data, meta.len);
        if (dl != CCP_CAPTURE_NO_DATA) {
            ccp_buf_reset(&data);
            ccp_buf_append(&data, x->frames.data + off, dl);
            off += dl;
            redact(x, &data);
            if (valid_utf8((const unsigned char *)(data.data ? data.data : ""), data.len)) {
                ccp_buf_appends(out, ",\"data\":");
                ccp_buf_append_json_str(out, data.data ? data.data : "", data.len);
            } else {
                ccp_buf_appends(out, ",\"data_b64\":\"");
                ccp_capture_b64_encode(out, (const unsigned char *)data.data, data.len);
                ccp_buf_appendc(out, '"');
            }
        }
        ccp_buf_appends(out, "}\n");
    }
    ccp_buf_free(&meta);
    ccp_buf_free(&data);
}
