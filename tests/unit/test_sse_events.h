/* test_sse_events.h — what the decoder tests share (header-only; include
 * after cmocka.h): collecting the writer's output, and reading an SSE text
 * back as an array of {event, data} objects to compare with a fixture. */
#ifndef CCP_TEST_SSE_EVENTS_H
#define CCP_TEST_SSE_EVENTS_H

#include "core/buf.h"
#include "core/json.h"
#include "core/sse.h"

/* An Anthropic writer's output callback: appends to the ccp_buf in ud. */
static inline void test_collect(void *ud, const char *data, size_t len)
{
    ccp_buf_append(ud, data, len);
}

static inline int test_event_to_array(void *ud, const char *event, const char *data, size_t len)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "event", json_object_new_string(event));
    json_object *d = ccp_json_parse(data, len, NULL);
    assert_non_null(d);
    json_object_object_add(o, "data", d);
    json_object_array_add(ud, o);
    return 0;
}

/* The events of an SSE text, in order; the caller owns the array. */
static inline json_object *test_sse_events(const char *sse, size_t len)
{
    json_object *arr = json_object_new_array();
    ccp_sse_reader r;
    ccp_sse_reader_init(&r, test_event_to_array, arr);
    assert_int_equal(ccp_sse_reader_feed(&r, sse, len), 0);
    ccp_sse_reader_free(&r);
    return arr;
}

#endif
