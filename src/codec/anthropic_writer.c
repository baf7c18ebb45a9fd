/* anthropic_writer.c — canonical events to Anthropic SSE frames, or
 * accumulated into one Anthropic message (see anthropic_writer.h). */
#include "codec/anthropic_writer.h"

#include "core/alloc.h"
#include "core/json.h"
#include "core/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Accumulated state of one content block (non-streaming). */
typedef struct block {
    ccp_block_kind kind;
    ccp_buf text;      /* text, thinking, redacted data or partial JSON */
    ccp_buf signature; /* thinking */
    char *tool_id, *tool_name;
    json_object *raw; /* OTHER: the start object (a reference) */
    bool used;
} block;

struct ccp_anthropic_writer {
    ccp_event_sink sink; /* first, so a sink pointer is a writer pointer */
    bool stream;
    void (*write)(void *ud, const char *data, size_t len);
    void *ud;
    ccp_buf frame; /* reused for every frame */
    ccp_buf json;  /* reused for every event's JSON */
    bool started, done;
    char *echo_model; /* owned; when set, the model every message names */
    char *err_type, *err_msg;
    /* non-streaming accumulation */
    char *id, *model, *stop_reason, *stop_sequence;
    json_object *msg_extra; /* fields of message_start's raw we do not model */
    json_object *usage_extra;
    ccp_usage usage;
    block *blocks;
    size_t n_blocks;
};

void ccp_anthropic_error_json(ccp_buf *out, const char *type, const char *message)
{
    ccp_buf_appends(out, "{\"type\":\"error\",\"error\":{\"type\":");
    ccp_buf_append_json_str(out, type, strlen(type));
    ccp_buf_appends(out, ",\"message\":");
    ccp_buf_append_json_str(out, message, strlen(message));
    ccp_buf_appends(out, "}}");
}

static void gen_id(char *out, size_t n)
{
    static const char al[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long x = (unsigned long long)ts.tv_nsec * 6364136223846793005ULL ^
                           (unsigned long long)ts.tv_sec ^ (unsigned long long)(uintptr_t)out;
    memcpy(out, "msg_", 5);
    for (size_t i = 4; i + 1 < n && i < 28; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        out[i] = al[(x * 2685821657736338717ULL >> 58) % 62];
        out[i + 1] = '\0';
    }
}

static void json_str(ccp_buf *b, const char *s, size_t n)
{
    ccp_buf_append_json_str(b, s, n);
}

static void json_cstr_or_null(ccp_buf *b, const char *s)
{
    if (s)
        json_str(b, s, strlen(s));
    else
        ccp_buf_appends(b, "null");
}

static bool is_usage_key(const char *k)
{
    return strcmp(k, "input_tokens") == 0 || strcmp(k, "output_tokens") == 0 ||
           strcmp(k, "cache_creation_input_tokens") == 0 ||
           strcmp(k, "cache_read_input_tokens") == 0;
}

/* Appends the members of raw whose keys are not modelled (skip(key) false),
 * so fields an upstream adds reach the client; first: no comma before the
 * first member. */
static void append_extra(ccp_buf *b, json_object *raw, bool (*skip)(const char *), bool first)
{
    if (!raw || !json_object_is_type(raw, json_type_object)) return;
    json_object_object_foreach(raw, k, v)
    {
        if (skip(k)) continue;
        if (!first) ccp_buf_appendc(b, ',');
        first = false;
        json_str(b, k, strlen(k));
        ccp_buf_appendc(b, ':');
        ccp_json_write(b, v);
    }
}

/* Writes a usage object: the known counts, then any extra fields the
 * upstream sent (server_tool_use, service_tier, ...). */
static void write_usage(ccp_buf *b, const ccp_usage *u, json_object *raw)
{
    const struct {
        const char *k;
        int64_t v;
    } f[] = {{"input_tokens", u->input_tokens},
             {"cache_creation_input_tokens", u->cache_creation_input_tokens},
             {"cache_read_input_tokens", u->cache_read_input_tokens},
             {"output_tokens", u->output_tokens}};
    bool first = true;
    ccp_buf_appendc(b, '{');
    for (size_t i = 0; i < 4; i++) {
        if (f[i].v < 0) continue;
        if (!first) ccp_buf_appendc(b, ',');
        ccp_buf_appendc(b, '"');
        ccp_buf_appends(b, f[i].k);
        CCP_BUF_LIT(b, "\":");
        ccp_buf_append_i64(b, f[i].v);
        first = false;
    }
    append_extra(b, raw, is_usage_key, first);
    ccp_buf_appendc(b, '}');
}

static bool is_message_key(const char *k)
{
    static const char *const keys[] = {"id",      "type",        "role",  "model",
                                       "content", "stop_reason", "usage", "stop_sequence"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(k, keys[i]) == 0) return true;
    return false;
}

/* The message object of message_start; with content_json for the
 * non-streaming whole message. */
static void write_message(ccp_anthropic_writer *w, ccp_buf *b, const char *id, const char *model,
                          json_object *extra, const char *content_json, const ccp_usage *usage,
                          json_object *usage_raw)
{
    ccp_buf_appends(b, "{\"id\":");
    json_cstr_or_null(b, id);
    ccp_buf_appends(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    json_cstr_or_null(b, model ? model : "unknown");
    ccp_buf_appends(b, ",\"content\":");
    ccp_buf_appends(b, content_json ? content_json : "[]");
    ccp_buf_appends(b, ",\"stop_reason\":");
    json_cstr_or_null(b, content_json ? w->stop_reason : NULL);
    ccp_buf_appends(b, ",\"stop_sequence\":");
    json_cstr_or_null(b, content_json ? w->stop_sequence : NULL);
    append_extra(b, extra, is_message_key, false);
    ccp_buf_appends(b, ",\"usage\":");
    write_usage(b, usage, usage_raw);
    ccp_buf_appendc(b, '}');
}

static void put_frame(ccp_anthropic_writer *w, const char *event)
{
    ccp_buf_reset(&w->frame);
    ccp_sse_frame(&w->frame, event, w->json.data, w->json.len);
    w->started = true;
    w->write(w->ud, w->frame.data, w->frame.len);
}

static void write_block_start(ccp_buf *b, const ccp_event *ev)
{
    CCP_BUF_LIT(b, "{\"type\":\"content_block_start\",\"index\":");
    ccp_buf_append_i64(b, ev->index);
    CCP_BUF_LIT(b, ",\"content_block\":");
    if (ev->raw && ev->block_kind != CCP_BLOCK_TOOL_USE) {
        ccp_json_write(b, ev->raw);
    } else {
        switch (ev->block_kind) {
        case CCP_BLOCK_TEXT:
            ccp_buf_appends(b, "{\"type\":\"text\",\"text\":\"\"}");
            break;
        case CCP_BLOCK_THINKING:
            ccp_buf_appends(b, "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}");
            break;
        case CCP_BLOCK_REDACTED_THINKING:
            ccp_buf_appends(b, "{\"type\":\"redacted_thinking\",\"data\":");
            json_str(b, ev->text ? ev->text : "", ev->text_len);
            ccp_buf_appendc(b, '}');
            break;
        case CCP_BLOCK_TOOL_USE:
            ccp_buf_appends(b, "{\"type\":\"tool_use\",\"id\":");
            json_cstr_or_null(b, ev->tool_id);
            ccp_buf_appends(b, ",\"name\":");
            json_cstr_or_null(b, ev->tool_name);
            ccp_buf_appends(b, ",\"input\":{}}");
            break;
        case CCP_BLOCK_OTHER:
            ccp_buf_appends(b, "{}");
            break;
        }
    }
    ccp_buf_appendc(b, '}');
}

static void write_block_delta(ccp_buf *b, const ccp_event *ev)
{
    /* One per streamed token: written without printf. */
    CCP_BUF_LIT(b, "{\"type\":\"content_block_delta\",\"index\":");
    ccp_buf_append_i64(b, ev->index);
    CCP_BUF_LIT(b, ",\"delta\":");
    const char *t = ev->text ? ev->text : "";
    switch (ev->delta_kind) {
    case CCP_DELTA_TEXT:
        ccp_buf_appends(b, "{\"type\":\"text_delta\",\"text\":");
        break;
    case CCP_DELTA_THINKING:
        ccp_buf_appends(b, "{\"type\":\"thinking_delta\",\"thinking\":");
        break;
    case CCP_DELTA_SIGNATURE:
        ccp_buf_appends(b, "{\"type\":\"signature_delta\",\"signature\":");
        break;
    case CCP_DELTA_PARTIAL_JSON:
        ccp_buf_appends(b, "{\"type\":\"input_json_delta\",\"partial_json\":");
        break;
    case CCP_DELTA_OTHER: {
        if (ev->raw)
            ccp_json_write(b, ev->raw);
        else
            ccp_buf_appends(b, "{}");
        ccp_buf_appendc(b, '}');
        return;
    }
    }
    json_str(b, t, ev->text_len);
    ccp_buf_appends(b, "}}");
}

static void stream_event(ccp_anthropic_writer *w, const ccp_event *ev)
{
    ccp_buf *b = &w->json;
    ccp_buf_reset(b);
    switch (ev->type) {
    case CCP_EV_MESSAGE_START: {
        char id[32];
        if (!ev->message_id) gen_id(id, sizeof id);
        ccp_buf_appends(b, "{\"type\":\"message_start\",\"message\":");
        write_message(w, b, ev->message_id ? ev->message_id : id,
                      w->echo_model ? w->echo_model : ev->model, ev->raw, NULL, &ev->usage,
                      ev->raw ? ccp_json_get_obj(ev->raw, "usage") : NULL);
        ccp_buf_appendc(b, '}');
        break;
    }
    case CCP_EV_BLOCK_START:
        write_block_start(b, ev);
        break;
    case CCP_EV_BLOCK_DELTA:
        write_block_delta(b, ev);
        break;
    case CCP_EV_BLOCK_STOP:
        CCP_BUF_LIT(b, "{\"type\":\"content_block_stop\",\"index\":");
        ccp_buf_append_i64(b, ev->index);
        ccp_buf_appendc(b, '}');
        break;
    case CCP_EV_MESSAGE_DELTA:
        ccp_buf_appends(b, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
        json_cstr_or_null(b, ev->stop_reason);
        ccp_buf_appends(b, ",\"stop_sequence\":");
        json_cstr_or_null(b, ev->stop_sequence);
        ccp_buf_appends(b, "},\"usage\":");
        write_usage(b, &ev->usage, ev->raw);
        ccp_buf_appendc(b, '}');
        break;
    case CCP_EV_MESSAGE_STOP:
        ccp_buf_appends(b, "{\"type\":\"message_stop\"}");
        break;
    case CCP_EV_PING:
        ccp_buf_appends(b, "{\"type\":\"ping\"}");
        break;
    case CCP_EV_ERROR:
        ccp_anthropic_error_json(b, ev->error_type ? ev->error_type : "api_error",
                                 ev->error_message ? ev->error_message : "error");
        break;
    }
    put_frame(w, ccp_event_type_name(ev->type));
}

static block *block_at(ccp_anthropic_writer *w, int index)
{
    if (index < 0 || index > 4096) return NULL;
    if ((size_t)index >= w->n_blocks) {
        size_t n = (size_t)index + 1;
        w->blocks = ccp_xrealloc(w->blocks, n * sizeof *w->blocks);
        memset(w->blocks + w->n_blocks, 0, (n - w->n_blocks) * sizeof *w->blocks);
        w->n_blocks = n;
    }
    return &w->blocks[index];
}

static void merge_usage(ccp_usage *into, const ccp_usage *u)
{
    if (u->input_tokens >= 0) into->input_tokens = u->input_tokens;
    if (u->output_tokens >= 0) into->output_tokens = u->output_tokens;
    if (u->cache_creation_input_tokens >= 0)
        into->cache_creation_input_tokens = u->cache_creation_input_tokens;
    if (u->cache_read_input_tokens >= 0) into->cache_read_input_tokens = u->cache_read_input_tokens;
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? ccp_xstrdup(s) : NULL;
}

/* Keeps the extra (non-count) usage fields of raw, later ones winning. */
static void merge_usage_extra(ccp_anthropic_writer *w, json_object *raw)
{
    if (!raw || !json_object_is_type(raw, json_type_object)) return;
    if (!w->usage_extra) w->usage_extra = json_object_new_object();
    json_object_object_foreach(raw, k, v)
    {
        if (!is_usage_key(k)) json_object_object_add(w->usage_extra, k, json_object_get(v));
    }
}

static void accumulate(ccp_anthropic_writer *w, const ccp_event *ev)
{
    block *bl;
    switch (ev->type) {
    case CCP_EV_MESSAGE_START:
        set_str(&w->id, ev->message_id);
        set_str(&w->model, ev->model);
        merge_usage(&w->usage, &ev->usage);
        if (ev->raw) {
            json_object_put(w->msg_extra);
            w->msg_extra = json_object_get(ev->raw);
            merge_usage_extra(w, ccp_json_get_obj(ev->raw, "usage"));
        }
        break;
    case CCP_EV_BLOCK_START:
        if (!(bl = block_at(w, ev->index))) break;
        bl->used = true;
        bl->kind = ev->block_kind;
        if (ev->block_kind == CCP_BLOCK_TOOL_USE) {
            set_str(&bl->tool_id, ev->tool_id);
            set_str(&bl->tool_name, ev->tool_name);
        } else if (ev->block_kind == CCP_BLOCK_REDACTED_THINKING && ev->text) {
            ccp_buf_append(&bl->text, ev->text, ev->text_len);
        } else if (ev->block_kind == CCP_BLOCK_OTHER && ev->raw) {
            json_object_put(bl->raw);
            bl->raw = json_object_get(ev->raw);
        }
        break;
    case CCP_EV_BLOCK_DELTA:
        if (!(bl = block_at(w, ev->index)) || !ev->text) break;
        if (ev->delta_kind == CCP_DELTA_SIGNATURE)
            ccp_buf_append(&bl->signature, ev->text, ev->text_len);
        else if (ev->delta_kind != CCP_DELTA_OTHER)
            ccp_buf_append(&bl->text, ev->text, ev->text_len);
        break;
    case CCP_EV_MESSAGE_DELTA:
        set_str(&w->stop_sequence, ev->stop_sequence);
        merge_usage(&w->usage, &ev->usage);
        merge_usage_extra(w, ev->raw);
        break;
    default:
        break;
    }
}

static int sink_emit(ccp_event_sink *s, const ccp_event *ev)
{
    ccp_anthropic_writer *w = (ccp_anthropic_writer *)s;
    if (ev->type == CCP_EV_ERROR) {
        set_str(&w->err_type, ev->error_type ? ev->error_type : "api_error");
        set_str(&w->err_msg, ev->error_message ? ev->error_message : "error");
    }
    if (ev->type == CCP_EV_MESSAGE_STOP) w->done = true;
    /* Kept when streaming too, for ccp_anthropic_writer_stop_reason. */
    if (ev->type == CCP_EV_MESSAGE_DELTA) set_str(&w->stop_reason, ev->stop_reason);
    /* Accumulating merges the usage itself; a stream keeps it for the
     * access log and the metrics. */
    if (w->stream && (ev->type == CCP_EV_MESSAGE_START || ev->type == CCP_EV_MESSAGE_DELTA))
        merge_usage(&w->usage, &ev->usage);
    if (w->stream)
        stream_event(w, ev);
    else
        accumulate(w, ev);
    return 0;
}

const ccp_usage *ccp_anthropic_writer_usage(const ccp_anthropic_writer *w)
{
    return &w->usage;
}

ccp_anthropic_writer *
ccp_anthropic_writer_new(bool stream, void (*write)(void *ud, const char *data, size_t len),
                         void *ud)
{
    ccp_anthropic_writer *w = ccp_xcalloc(1, sizeof *w);
    w->sink.emit = sink_emit;
    w->stream = stream && write;
    w->write = write;
    w->ud = ud;
    w->usage = CCP_USAGE_UNKNOWN;
    return w;
}

void ccp_anthropic_writer_echo_model(ccp_anthropic_writer *w, const char *model)
{
    set_str(&w->echo_model, model);
}

void ccp_anthropic_writer_free(ccp_anthropic_writer *w)
{
    if (!w) return;
    free(w->echo_model);
    for (size_t i = 0; i < w->n_blocks; i++) {
        ccp_buf_free(&w->blocks[i].text);
        ccp_buf_free(&w->blocks[i].signature);
        free(w->blocks[i].tool_id);
        free(w->blocks[i].tool_name);
        json_object_put(w->blocks[i].raw);
    }
    free(w->blocks);
    ccp_buf_free(&w->frame);
    ccp_buf_free(&w->json);
    free(w->err_type);
    free(w->err_msg);
    free(w->id);
    free(w->model);
    free(w->stop_reason);
    free(w->stop_sequence);
    json_object_put(w->msg_extra);
    json_object_put(w->usage_extra);
    free(w);
}

ccp_event_sink *ccp_anthropic_writer_sink(ccp_anthropic_writer *w)
{
    return &w->sink;
}

bool ccp_anthropic_writer_done(const ccp_anthropic_writer *w)
{
    return w->done;
}

bool ccp_anthropic_writer_started(const ccp_anthropic_writer *w)
{
    return w->started;
}

const char *ccp_anthropic_writer_stop_reason(const ccp_anthropic_writer *w)
{
    return w->stop_reason;
}

bool ccp_anthropic_writer_error(const ccp_anthropic_writer *w, const char **type,
                                const char **message)
{
    if (!w->err_type) return false;
    if (type) *type = w->err_type;
    if (message) *message = w->err_msg;
    return true;
}

/* Appends one finished content block of the non-streaming message. */
static int write_block(ccp_buf *b, block *bl, size_t index, ccp_error *err)
{
    switch (bl->kind) {
    case CCP_BLOCK_TEXT:
        ccp_buf_appends(b, "{\"type\":\"text\",\"text\":");
        json_str(b, bl->text.data ? bl->text.data : "", bl->text.len);
        ccp_buf_appendc(b, '}');
        break;
    case CCP_BLOCK_THINKING:
        ccp_buf_appends(b, "{\"type\":\"thinking\",\"thinking\":");
        json_str(b, bl->text.data ? bl->text.data : "", bl->text.len);
        ccp_buf_appends(b, ",\"signature\":");
        json_str(b, bl->signature.data ? bl->signature.data : "", bl->signature.len);
        ccp_buf_appendc(b, '}');
        break;
    case CCP_BLOCK_REDACTED_THINKING:
        ccp_buf_appends(b, "{\"type\":\"redacted_thinking\",\"data\":");
        json_str(b, bl->text.data ? bl->text.data : "", bl->text.len);
        ccp_buf_appendc(b, '}');
        break;
    case CCP_BLOCK_TOOL_USE: {
        json_object *input = NULL;
        if (bl->text.len) {
            ccp_error perr;
            input = ccp_json_parse(bl->text.data, bl->text.len, &perr);
            if (!input || !json_object_is_type(input, json_type_object)) {
                json_object_put(input);
                return ccp_error_set(err, CCP_EUPSTREAM,
                                     "tool_use block %zu: upstream sent input that is not a "
                                     "JSON object",
                                     index);
            }
        }
        ccp_buf_appends(b, "{\"type\":\"tool_use\",\"id\":");
        json_cstr_or_null(b, bl->tool_id);
        ccp_buf_appends(b, ",\"name\":");
        json_cstr_or_null(b, bl->tool_name);
        ccp_buf_appends(b, ",\"input\":");
        if (input) {
            ccp_json_write(b, input);
            json_object_put(input);
        } else {
            ccp_buf_appends(b, "{}");
        }
        ccp_buf_appendc(b, '}');
        break;
    }
    case CCP_BLOCK_OTHER: {
        if (bl->raw)
            ccp_json_write(b, bl->raw);
        else
            ccp_buf_appends(b, "{}");
        break;
    }
    }
    return 0;
}

int ccp_anthropic_writer_message(ccp_anthropic_writer *w, ccp_buf *out, ccp_error *err)
{
    if (!w->done)
        return ccp_error_set(err, CCP_EUPSTREAM, "upstream answer ended before message_stop");
    ccp_buf content = CCP_BUF_INIT;
    ccp_buf_appendc(&content, '[');
    bool first = true;
    for (size_t i = 0; i < w->n_blocks; i++) {
        if (!w->blocks[i].used) continue;
        if (!first) ccp_buf_appendc(&content, ',');
        first = false;
        int rc = write_block(&content, &w->blocks[i], i, err);
        if (rc) {
            ccp_buf_free(&content);
            return rc;
        }
    }
    ccp_buf_appendc(&content, ']');
    char id[32];
    if (!w->id) gen_id(id, sizeof id);
    write_message(w, out, w->id ? w->id : id, w->echo_model ? w->echo_model : w->model,
                  w->msg_extra, content.data, &w->usage, w->usage_extra);
    ccp_buf_free(&content);
    return 0;
}
