/* sse.c — the incremental SSE reader and frame writer (see sse.h). */
#include "core/sse.h"

#include "core/error.h"

#include <string.h>

void ccp_sse_reader_init(ccp_sse_reader *r, ccp_sse_event_fn fn, void *ud)
{
    memset(r, 0, sizeof *r);
    r->fn = fn;
    r->ud = ud;
    r->max_event = CCP_SSE_MAX_EVENT;
}

void ccp_sse_reader_free(ccp_sse_reader *r)
{
    ccp_buf_free(&r->line);
    ccp_buf_free(&r->event);
    ccp_buf_free(&r->data);
}

static int dispatch(ccp_sse_reader *r)
{
    int rc = 0;
    if (r->has_data) {
        const char *ev = r->event.len ? r->event.data : "message";
        rc = r->fn(r->ud, ev, r->data.data ? r->data.data : "", r->data.len);
    }
    ccp_buf_reset(&r->event);
    ccp_buf_reset(&r->data);
    r->has_data = false;
    return rc;
}

/* Processes one complete line (without its terminator). */
static int process_line(ccp_sse_reader *r, const char *s, size_t n)
{
    if (n == 0) return dispatch(r);
    if (s[0] == ':') return 0; /* comment / keep-alive */
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && memcmp(s, "data", 4) == 0) {
        if (r->has_data) ccp_buf_appendc(&r->data, '\n');
        ccp_buf_append(&r->data, v, vlen);
        r->has_data = true;
    } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
        ccp_buf_reset(&r->event);
        ccp_buf_append(&r->event, v, vlen);
    }
    /* id, retry and unknown fields are ignored. */
    if (r->data.len + r->event.len > r->max_event) return CCP_ELIMIT;
    return 0;
}

int ccp_sse_reader_feed(ccp_sse_reader *r, const char *data, size_t len)
{
    size_t i = 0;
    if (r->skip_lf && len > 0) {
        if (data[0] == '\n') i = 1;
        r->skip_lf = false;
    }
    while (i < len) {
        /* Find the next line end in this chunk. */
        size_t j = i;
        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        if (j == len) {
            ccp_buf_append(&r->line, data + i, len - i);
            if (r->line.len > r->max_event) return CCP_ELIMIT;
            return 0;
        }
        int rc;
        if (r->line.len) {
            ccp_buf_append(&r->line, data + i, j - i);
            rc = process_line(r, r->line.data, r->line.len);
            ccp_buf_reset(&r->line);
        } else {
            rc = process_line(r, data + i, j - i);
        }
        if (rc) return rc;
        if (data[j] == '\r') {
            if (j + 1 < len) {
                if (data[j + 1] == '\n') j++;
            } else {
                r->skip_lf = true;
            }
        }
        i = j + 1;
    }
    return 0;
}

bool ccp_sse_reader_partial(const ccp_sse_reader *r)
{
    return r->line.len > 0 || r->has_data;
}

void ccp_sse_frame(ccp_buf *out, const char *event, const char *data, size_t len)
{
    ccp_buf_reserve(out, len + strlen(event) + 16);
    ccp_buf_appends(out, "event: ");
    ccp_buf_appends(out, event);
    ccp_buf_appends(out, "\ndata: ");
    ccp_buf_append(out, data, len);
    ccp_buf_appends(out, "\n\n");
}
