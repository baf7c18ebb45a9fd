/* capture_internal.h — what capture.c (the records) and capture_writer.c
 * (the thread and the files) share. */
#ifndef CCP_DEBUG_CAPTURE_INTERNAL_H
#define CCP_DEBUG_CAPTURE_INTERNAL_H

#include "debug/capture.h"

/* A frame in ccp_capture_ex.frames: the record's JSON text without its
 * closing brace (meta), then its payload, each after a native uint32
 * length; NO_DATA for a record without payload. The payload is encoded
 * (string or base64) and redacted only in the writer, off the request
 * path. */
#define CCP_CAPTURE_NO_DATA UINT32_MAX

struct ccp_capture_ex {
    ccp_capture *cap;  /* the writer it goes to; NULL for a test's */
    ccp_config *cfg;   /* a reference: the secrets to redact; may be NULL */
    char id[32];       /* the request id */
    uint64_t start_ns; /* uv_hrtime() of the request's start: records' "t" is from it */
    int64_t wall_ms;   /* Unix time of the start, for the file name */
    size_t max_bytes;  /* cap on frames */
    size_t attempt;    /* the attempt being recorded */
    ccp_buf frames;
    ccp_buf head; /* the upstream head's header lines being gathered, as JSON array items */
    /* Bytes written to the client since the last record: consecutive
     * writes (a chunk's size line, its data, its CRLF) make one record,
     * stamped with the first one's time. */
    ccp_buf client;
    double client_t;
    bool truncated;
    uint64_t left_out;    /* payload bytes left out by the cap */
    ccp_strlist secrets;  /* the client's masked header values: redacted too */
    ccp_capture_ex *next; /* in the writer's queue */
};

/* capture_writer.c: hands x to the writer (which frees it), or frees it
 * and counts a drop when the queue is full. */
void ccp_capture_submit(ccp_capture *cap, ccp_capture_ex *x);
/* The settings the records need. */
const ccp_capture_config *ccp_capture_cfg(const ccp_capture *cap);

#endif
