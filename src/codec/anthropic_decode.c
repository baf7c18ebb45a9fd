/* anthropic_decode.c — Anthropic's answer (SSE stream or one message
 * object) to canonical events. Unknown block and delta types pass through
 * verbatim (CCP_BLOCK_OTHER / CCP_DELTA_OTHER); unknown event types are
 * skipped, as the API's versioning policy asks of clients. */
#include "codec/anthropic.h"

#include "codec/body_in.h"
#include "codec/emitter.h"
#include "core/alloc.h"
#include "core/json.h"

#include <string.h>

struct ccp_decoder {
    ccp_event_sink *sink;
    ccp_body_in in;
    bool started; /* message_start seen */
    bool stopped; /* message_stop seen */
};

static int64_t usage_field(json_object *u, const char *key)
{
    json_object *v = ccp_json_get(u, key);
    return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

ccp_usage ccp_anthropic_usage(json_object *u)
{
    ccp_usage usage = {
        usage_field(u, "input_tokens"),
        usage_field(u, "output_tokens"),
        usage_field(u, "cache_creation_input_tokens"),
        usage_field(u, "cache_read_input_tokens"),
    };
    return usage;
}

static int emit(ccp_event_sink *sink, const ccp_event *ev)
{
    return sink->emit(sink, ev);
}

static const char *str_len(json_object *o, const char *key, size_t *len)
{
    json_object *v = ccp_json_get(o, key);
    if (!v || !json_object_is_type(v, json_type_string)) {
        *len = 0;
        return "";
    }
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static int block_start(ccp_event_sink *sink, int index, json_object *cb)
{
    const char *type = ccp_json_get_str(cb, "type");
    ccp_event ev = {.type = CCP_EV_BLOCK_START, .index = index, .raw = cb};
    if (!type) type = "";
    if (strcmp(type, "text") == 0) {
        ev.block_kind = CCP_BLOCK_TEXT;
    } else if (strcmp(type, "thinking") == 0) {
        ev.block_kind = CCP_BLOCK_THINKING;
    } else if (strcmp(type, "redacted_thinking") == 0) {
        ev.block_kind = CCP_BLOCK_REDACTED_THINKING;
        ev.text = str_len(cb, "data", &ev.text_len);
    } else if (strcmp(type, "tool_use") == 0) {
        ev.block_kind = CCP_BLOCK_TOOL_USE;
        ev.tool_id = ccp_json_get_str(cb, "id");
        ev.tool_name = ccp_json_get_str(cb, "name");
    } else {
        ev.block_kind = CCP_BLOCK_OTHER;
    }
    return emit(sink, &ev);
}

static int block_delta(ccp_event_sink *sink, int index, json_object *d)
{
    const char *type = ccp_json_get_str(d, "type");
    ccp_event ev = {.type = CCP_EV_BLOCK_DELTA, .index = index, .raw = d};
    if (!type) type = "";
    if (strcmp(type, "text_delta") == 0) {
        ev.delta_kind = CCP_DELTA_TEXT;
        ev.text = str_len(d, "text", &ev.text_len);
    } else if (strcmp(type, "thinking_delta") == 0) {
        ev.delta_kind = CCP_DELTA_THINKING;
        ev.text = str_len(d, "thinking", &ev.text_len);
    } else if (strcmp(type, "signature_delta") == 0) {
        ev.delta_kind = CCP_DELTA_SIGNATURE;
        ev.text = str_len(d, "signature", &ev.text_len);
    } else if (strcmp(type, "input_json_delta") == 0) {
        ev.delta_kind = CCP_DELTA_PARTIAL_JSON;
        ev.text = str_len(d, "partial_json", &ev.text_len);
    } else {
        ev.delta_kind = CCP_DELTA_OTHER;
    }
    return emit(sink, &ev);
}

static int message_start(ccp_decoder *d, json_object *msg)
{
    ccp_event ev = {
        .type = CCP_EV_MESSAGE_START,
        .message_id = ccp_json_get_str(msg, "id"),
        .model = ccp_json_get_str(msg, "model"),
        .usage = ccp_anthropic_usage(ccp_json_get_obj(msg, "usage")),
        .raw = msg,
    };
    d->started = true;
    return emit(d->sink, &ev);
}

/* One parsed stream event. */
static int on_event_json(ccp_decoder *d, json_object *o)
{
    const char *type = ccp_json_get_str(o, "type");
    int index = (int)ccp_json_get_int(o, "index", 0);
    if (!type) return 0;
    if (strcmp(type, "message_start") == 0) return message_start(d, ccp_json_get_obj(o, "message"));
    if (strcmp(type, "content_block_start") == 0)
        return block_start(d->sink, index, ccp_json_get_obj(o, "content_block"));
    if (strcmp(type, "content_block_delta") == 0)
        return block_delta(d->sink, index, ccp_json_get_obj(o, "delta"));
    if (strcmp(type, "content_block_stop") == 0) {
        ccp_event ev = {.type = CCP_EV_BLOCK_STOP, .index = index};
        return emit(d->sink, &ev);
    }
    if (strcmp(type, "message_delta") == 0) {
        json_object *delta = ccp_json_get_obj(o, "delta");
        json_object *usage = ccp_json_get_obj(o, "usage");
        ccp_event ev = {
            .type = CCP_EV_MESSAGE_DELTA,
            .stop_reason = ccp_json_get_str(delta, "stop_reason"),
            .stop_sequence = ccp_json_get_str(delta, "stop_sequence"),
            .usage = ccp_anthropic_usage(usage),
            .raw = usage,
        };
        return emit(d->sink, &ev);
    }
    if (strcmp(type, "message_stop") == 0) {
        ccp_event ev = {.type = CCP_EV_MESSAGE_STOP};
        d->stopped = true;
        return emit(d->sink, &ev);
    }
    if (strcmp(type, "ping") == 0) {
        ccp_event ev = {.type = CCP_EV_PING};
        return emit(d->sink, &ev);
    }
    if (strcmp(type, "error") == 0) {
        json_object *e = ccp_json_get_obj(o, "error");
        const char *et = ccp_json_get_str(e, "type");
        const char *em = ccp_json_get_str(e, "message");
        ccp_event ev = {.type = CCP_EV_ERROR,
                        .error_type = et ? et : "api_error",
                        .error_message = em ? em : "upstream error"};
        d->stopped = true; /* an error ends the stream as message_stop would */
        return emit(d->sink, &ev);
    }
    return 0; /* unknown event types are skipped */
}

static int on_sse(void *ud, const char *event, const char *data, size_t len)
{
    ccp_decoder *d = ud;
    ccp_error perr;
    json_object *o = ccp_json_parse(data, len, &perr);
    if (!o)
        return ccp_error_set(d->in.err, CCP_EUPSTREAM, "upstream sent a bad '%s' event: %s", event,
                             perr.code ? perr.msg : "null data");
    int rc = on_event_json(d, o);
    json_object_put(o);
    return rc;
}

ccp_decoder *ccp_anthropic_decoder_new(ccp_event_sink *sink, bool sse)
{
    ccp_decoder *d = ccp_xcalloc(1, sizeof *d);
    d->sink = sink;
    ccp_body_in_init(&d->in, sse, on_sse, d);
    return d;
}

int ccp_anthropic_decoder_feed(ccp_decoder *d, const char *data, size_t len, ccp_error *err)
{
    return ccp_body_in_feed(&d->in, data, len, err);
}

/* A start block as the stream would send it: the type and empty fields. */
static json_object *empty_block(const char *type)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, type, json_object_new_string(""));
    if (!strcmp(type, "thinking"))
        json_object_object_add(o, "signature", json_object_new_string(""));
    return o;
}

/* One content block of a whole message, as its stream events. */
static int message_block(ccp_emitter *em, json_object *b)
{
    const char *type = ccp_json_get_str(b, "type");
    size_t n;
    const char *s;
    int rc;
    if (type && (!strcmp(type, "text") || !strcmp(type, "thinking"))) {
        bool thinking = type[1] == 'h';
        json_object *start = empty_block(type);
        rc =
            ccp_emitter_open(em, thinking ? CCP_BLOCK_THINKING : CCP_BLOCK_TEXT, NULL, NULL, start);
        json_object_put(start);
        s = str_len(b, type, &n);
        if (!rc && n)
            rc = ccp_emitter_delta(em, thinking ? CCP_DELTA_THINKING : CCP_DELTA_TEXT, s, n);
        s = str_len(b, "signature", &n);
        if (!rc && thinking && n) rc = ccp_emitter_delta(em, CCP_DELTA_SIGNATURE, s, n);
    } else if (type && !strcmp(type, "tool_use")) {
        rc = ccp_emitter_open(em, CCP_BLOCK_TOOL_USE, ccp_json_get_str(b, "id"),
                              ccp_json_get_str(b, "name"), NULL);
        json_object *input = ccp_json_get(b, "input");
        s = input ? ccp_json_str(input, &n) : "{}";
        if (!input) n = 2;
        if (!rc) rc = ccp_emitter_delta(em, CCP_DELTA_PARTIAL_JSON, s, n);
    } else if (type && !strcmp(type, "redacted_thinking")) {
        /* redacted_thinking carries its data in the start event. */
        s = str_len(b, "data", &n);
        ccp_event ev = {.type = CCP_EV_BLOCK_START,
                        .block_kind = CCP_BLOCK_REDACTED_THINKING,
                        .text = s,
                        .text_len = n,
                        .raw = b};
        rc = ccp_emitter_open_ev(em, &ev);
    } else {
        rc = ccp_emitter_open(em, CCP_BLOCK_OTHER, NULL, NULL, b); /* verbatim */
    }
    return rc ? rc : ccp_emitter_close(em);
}

int ccp_anthropic_message_to_events(json_object *msg, ccp_event_sink *sink, ccp_error *err)
{
    if (!msg || !json_object_is_type(msg, json_type_object) || !ccp_json_get_arr(msg, "content"))
        return ccp_error_set(err, CCP_EUPSTREAM, "upstream answer is not a message object");
    ccp_emitter em;
    ccp_emitter_init(&em, sink);
    ccp_usage usage = ccp_anthropic_usage(ccp_json_get_obj(msg, "usage"));
    int rc = ccp_emitter_start(&em, NULL, ccp_json_get_str(msg, "id"),
                               ccp_json_get_str(msg, "model"), &usage, msg);
    json_object *content = ccp_json_get_arr(msg, "content");
    size_t n = json_object_array_length(content);
    for (size_t i = 0; !rc && i < n; i++)
        rc = message_block(&em, json_object_array_get_idx(content, i));
    if (rc) return rc;
    /* The stream form reports output tokens at the end, not at the start. */
    em.usage = CCP_USAGE_UNKNOWN;
    em.usage.output_tokens = usage.output_tokens;
    return ccp_emitter_finish(&em, ccp_json_get_str(msg, "stop_reason"),
                              ccp_json_get_str(msg, "stop_sequence"));
}

int ccp_anthropic_decoder_finish(ccp_decoder *d, ccp_error *err)
{
    if (d->in.sse) {
        if (!d->stopped)
            return ccp_error_set(err, CCP_EUPSTREAM,
                                 d->started ? "upstream stream ended before message_stop"
                                            : "upstream stream ended before any event");
        return 0;
    }
    json_object *msg;
    int rc = ccp_body_in_whole(&d->in, &msg, err);
    if (rc) return rc;
    /* Some providers answer with an error object and a 2xx status. */
    json_object *e = ccp_json_get_obj(msg, "error");
    if (e && !ccp_json_get_arr(msg, "content")) {
        const char *et = ccp_json_get_str(e, "type");
        const char *em = ccp_json_get_str(e, "message");
        ccp_event ev = {.type = CCP_EV_ERROR,
                        .error_type = et ? et : "api_error",
                        .error_message = em ? em : "upstream error"};
        rc = emit(d->sink, &ev);
    } else {
        rc = ccp_anthropic_message_to_events(msg, d->sink, err);
    }
    json_object_put(msg);
    return rc;
}

void ccp_anthropic_decoder_free(ccp_decoder *d)
{
    if (!d) return;
    ccp_body_in_free(&d->in);
    free(d);
}
