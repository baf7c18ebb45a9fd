/* anthropic_decode.c — Anthropic's answer (SSE stream or one message
 * object) to canonical events. Unknown block and delta types pass through
 * verbatim (CCP_BLOCK_OTHER / CCP_DELTA_OTHER); unknown event types are
 * skipped, as the API's versioning policy asks of clients. */
#include "codec/anthropic.h"

#include "codec/body_in.h"
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

int ccp_anthropic_message_to_events(json_object *msg, ccp_event_sink *sink, ccp_error *err)
{
    if (!msg || !json_object_is_type(msg, json_type_object) || !ccp_json_get_arr(msg, "content"))
        return ccp_error_set(err, CCP_EUPSTREAM, "upstream answer is not a message object");
    int rc;
    ccp_event ev = {
        .type = CCP_EV_MESSAGE_START,
        .message_id = ccp_json_get_str(msg, "id"),
        .model = ccp_json_get_str(msg, "model"),
        .usage = ccp_anthropic_usage(ccp_json_get_obj(msg, "usage")),
        .raw = msg,
    };
    /* The stream form reports output tokens at the end, not at the start. */
    int64_t out_tokens = ev.usage.output_tokens;
    if ((rc = emit(sink, &ev))) return rc;
    json_object *content = ccp_json_get_arr(msg, "content");
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++) {
        json_object *b = json_object_array_get_idx(content, i);
        const char *type = ccp_json_get_str(b, "type");
        int idx = (int)i;
        ccp_event d = {.type = CCP_EV_BLOCK_DELTA, .index = idx};
        if (type && strcmp(type, "text") == 0) {
            json_object *start = json_object_new_object();
            json_object_object_add(start, "type", json_object_new_string("text"));
            json_object_object_add(start, "text", json_object_new_string(""));
            rc = block_start(sink, idx, start);
            json_object_put(start);
            d.delta_kind = CCP_DELTA_TEXT;
            d.text = str_len(b, "text", &d.text_len);
            if (!rc && d.text_len) rc = emit(sink, &d);
        } else if (type && strcmp(type, "thinking") == 0) {
            json_object *start = json_object_new_object();
            json_object_object_add(start, "type", json_object_new_string("thinking"));
            json_object_object_add(start, "thinking", json_object_new_string(""));
            json_object_object_add(start, "signature", json_object_new_string(""));
            rc = block_start(sink, idx, start);
            json_object_put(start);
            d.delta_kind = CCP_DELTA_THINKING;
            d.text = str_len(b, "thinking", &d.text_len);
            if (!rc && d.text_len) rc = emit(sink, &d);
            d.delta_kind = CCP_DELTA_SIGNATURE;
            d.text = str_len(b, "signature", &d.text_len);
            if (!rc && d.text_len) rc = emit(sink, &d);
        } else if (type && strcmp(type, "tool_use") == 0) {
            ccp_event s = {.type = CCP_EV_BLOCK_START,
                           .index = idx,
                           .block_kind = CCP_BLOCK_TOOL_USE,
                           .tool_id = ccp_json_get_str(b, "id"),
                           .tool_name = ccp_json_get_str(b, "name")};
            rc = emit(sink, &s);
            json_object *input = ccp_json_get(b, "input");
            d.delta_kind = CCP_DELTA_PARTIAL_JSON;
            d.text = input ? ccp_json_str(input, &d.text_len) : "{}";
            if (!input) d.text_len = 2;
            if (!rc) rc = emit(sink, &d);
        } else {
            rc = block_start(sink, idx, b); /* redacted_thinking and others: verbatim */
        }
        if (rc) return rc;
        ccp_event stop = {.type = CCP_EV_BLOCK_STOP, .index = idx};
        if ((rc = emit(sink, &stop))) return rc;
    }
    ccp_event md = {
        .type = CCP_EV_MESSAGE_DELTA,
        .stop_reason = ccp_json_get_str(msg, "stop_reason"),
        .stop_sequence = ccp_json_get_str(msg, "stop_sequence"),
        .usage = CCP_USAGE_UNKNOWN,
    };
    md.usage.output_tokens = out_tokens;
    if ((rc = emit(sink, &md))) return rc;
    ccp_event stop = {.type = CCP_EV_MESSAGE_STOP};
    return emit(sink, &stop);
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
    ccp_error perr;
    json_object *msg =
        ccp_json_parse(d->in.body.data ? d->in.body.data : "", d->in.body.len, &perr);
    if (!msg)
        return ccp_error_set(err, CCP_EUPSTREAM, "upstream sent a bad JSON answer: %s",
                             perr.code ? perr.msg : "null");
    /* Some providers answer with an error object and a 2xx status. */
    json_object *e = ccp_json_get_obj(msg, "error");
    int rc;
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
