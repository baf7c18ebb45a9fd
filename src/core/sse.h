/* sse.h — an incremental Server-Sent Events reader (WHATWG rules).
 *
 * Feed bytes split anywhere; each complete event (terminated by a blank line)
 * is handed to the callback with its event name and its data lines joined by
 * '\n'. Lines may end in \n, \r\n or \r, a CR at the end of one read followed
 * by LF at the start of the next counting as one line end. Comments (":...")
 * and id/retry fields are ignored. */
#ifndef CCP_CORE_SSE_H
#define CCP_CORE_SSE_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Returns 0 to go on, non-zero to stop: feed then returns that value. The
 * strings are borrowed for the call; event is "message" when none was given. */
typedef int (*ccp_sse_event_fn)(void *ud, const char *event, const char *data, size_t data_len);

typedef struct ccp_sse_reader {
    ccp_sse_event_fn fn;
    void *ud;
    ccp_buf line;     /* the current incomplete line */
    ccp_buf event;    /* the current event's name */
    ccp_buf data;     /* the current event's data */
    bool has_data;    /* a data field was seen (data may be empty) */
    bool skip_lf;     /* the previous byte was a CR ending a line */
    size_t max_event; /* cap on one event's size */
} ccp_sse_reader;

#define CCP_SSE_MAX_EVENT (16u << 20)

void ccp_sse_reader_init(ccp_sse_reader *r, ccp_sse_event_fn fn, void *ud);
void ccp_sse_reader_free(ccp_sse_reader *r);
/* Returns 0, the callback's non-zero value, or CCP_ELIMIT when one event
 * exceeds max_event. */
int ccp_sse_reader_feed(ccp_sse_reader *r, const char *data, size_t len);
/* The stream ended: true if it ended in the middle of an event (the partial
 * event is dropped, as browsers do). */
bool ccp_sse_reader_partial(const ccp_sse_reader *r);

/* Appends "event: NAME\ndata: DATA\n\n" (DATA must hold no newline). */
void ccp_sse_frame(ccp_buf *out, const char *event, const char *data, size_t len);

#endif
