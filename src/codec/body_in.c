/* body_in.c — see body_in.h. */
#include "codec/body_in.h"

void ccp_body_in_init(ccp_body_in *in, bool sse, ccp_sse_event_fn fn, void *ud)
{
    in->sse = sse;
    in->err = NULL;
    ccp_buf_init(&in->body);
    ccp_sse_reader_init(&in->reader, fn, ud);
}

int ccp_body_in_feed(ccp_body_in *in, const char *data, size_t len, ccp_error *err)
{
    if (!in->sse) {
        ccp_buf_append(&in->body, data, len);
        return 0;
    }
    in->err = err;
    int rc = ccp_sse_reader_feed(&in->reader, data, len);
    in->err = NULL;
    if (rc == CCP_ELIMIT)
        return ccp_error_set(err, CCP_EUPSTREAM,
                             "an upstream SSE event is larger than %u MiB, the most one event "
                             "may hold",
                             CCP_SSE_MAX_EVENT >> 20);
    return rc;
}

void ccp_body_in_free(ccp_body_in *in)
{
    ccp_sse_reader_free(&in->reader);
    ccp_buf_free(&in->body);
}

int ccp_body_in_json(ccp_body_in *in, const char *data, size_t len, json_object **out)
{
    ccp_error perr;
    *out = ccp_json_parse(data, len, &perr);
    if (*out) return 0;
    return ccp_error_set(in->err, CCP_EUPSTREAM, "upstream sent a bad chunk: %s",
                         perr.code ? perr.msg : "null");
}

int ccp_body_in_whole(ccp_body_in *in, json_object **out, ccp_error *err)
{
    ccp_error perr;
    *out = ccp_json_parse(in->body.data ? in->body.data : "", in->body.len, &perr);
    if (*out) return 0;
    return ccp_error_set(err, CCP_EUPSTREAM, "upstream sent a bad JSON answer: %s",
                         perr.code ? perr.msg : "null");
}
