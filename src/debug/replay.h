/* replay.h — a captured exchange (capture.h) read back and played again:
 * the provider's captured answer through the current decoders, pipelines
 * and writer (offline), turned into a test fixture, or the client's
 * request sent again to a live provider (cmd_replay.c). */
#ifndef CCP_DEBUG_REPLAY_H
#define CCP_DEBUG_REPLAY_H

#include "config/config.h"
#include "core/buf.h"
#include "core/error.h"
#include "pipeline/pipeline.h"

#include <json-c/json.h>
#include <stdbool.h>

/* A capture file, parsed: its records in order (owned). */
typedef struct ccp_replay {
    json_object **recs;
    size_t n;
} ccp_replay;

/* Parses the text of a capture file into r. Returns 0, or CCP_EPARSE with
 * err naming the line. */
int ccp_replay_load(const char *text, size_t len, ccp_replay *r, ccp_error *err);
void ccp_replay_free(ccp_replay *r);

/* The first record of a type, or NULL. */
json_object *ccp_replay_find(const ccp_replay *r, const char *type);

/* A record's payload ("data" or "data_b64") appended to out; returns
 * false when it has none. */
bool ccp_replay_payload(json_object *rec, ccp_buf *out);

/* One answer of a provider, to be turned into what the client gets. */
typedef struct ccp_replay_answer {
    const char *format;                           /* the codec's name */
    bool stream;                                  /* the client asked for SSE */
    const char *client_model;                     /* echoed when echo_client */
    bool echo_client;                             /* server.echo_model: client */
    const ccp_pipeline *rule_pipeline, *pipeline; /* may be NULL */
    int status;                                   /* the provider's HTTP status */
    const char *content_type;                     /* may be NULL */
    const ccp_buf *chunks;                        /* the body as it arrived */
    size_t n_chunks;
} ccp_replay_answer;

/* Runs a through the decoder, the pipelines' event hooks and the Anthropic
 * writer as the server does, appending the body the client would get
 * (SSE bytes, or one JSON document) to out and its HTTP status to
 * *status. Returns 0, or CCP_EUNSUPPORTED for an unknown format. */
int ccp_replay_decode(const ccp_replay_answer *a, ccp_buf *out, int *status, ccp_error *err);

/* Offline replay of a capture: the last attempt that got an answer, with
 * the pipelines of cfg (NULL: none, and the writer's defaults). */
int ccp_replay_offline(const ccp_replay *r, const ccp_config *cfg, ccp_buf *out, int *status,
                       ccp_error *err);

/* The body the client received, from the capture's client records (head
 * removed, chunked framing undone), and its status. Returns 0, or
 * CCP_ENOTFOUND when the capture holds no response. */
int ccp_replay_client_body(const ccp_replay *r, ccp_buf *out, int *status, ccp_error *err);

/* Writes the capture as a fixture in the layout of tests/fixtures/<format>:
 * <name>.sse (or <name>.json for a whole-body answer) with the provider's
 * bytes, and <name>.expected.json with the events the client got
 * (client_body, SSE) as [{"event","data"}]. The paths written are
 * appended to written, one per line. */
int ccp_replay_fixture(const ccp_replay *r, const ccp_buf *client_body, const char *dir,
                       const char *name, ccp_buf *written, ccp_error *err);

/* Appends the lines that differ between a and b ("-" only in a, "+" only
 * in b, in order) to out; returns how many. */
size_t ccp_replay_diff(const char *a, size_t alen, const char *b, size_t blen, ccp_buf *out);

/* Sends the captured client request again through cfg (routing, pipelines,
 * encoding, the provider's key) — to `to` ("provider/model") when given —
 * and appends the body the client would now get to out, its status to
 * *status and a line saying where it went to info (replay_live.c). */
int ccp_replay_live(const ccp_replay *r, const ccp_config *cfg, const char *to, ccp_buf *out,
                    int *status, ccp_buf *info, ccp_error *err);

#endif
