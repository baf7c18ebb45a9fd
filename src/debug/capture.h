/* capture.h — recording exchanges to files (`debug.capture`).
 *
 * One ccp_capture per server, shared by the workers: it owns a writer
 * thread that turns finished exchanges into files (capture_writer.c), so a
 * slow disk never stalls a request. One ccp_capture_ex per captured
 * request, filled on the request's worker at the few points the data
 * passes (messages.c, response.c through a tap) and handed to the writer
 * whole when the response is finished. Its memory is capped at
 * debug.capture.max_bytes: what does not fit is left out and the file says
 * so ("truncated":true).
 *
 * The file is JSON lines, one record per stage (docs/debugging.md):
 * exchange, request, route, attempt, upstream_head, upstream_data,
 * upstream_end, client, end. Byte payloads are a "data" string when they
 * are valid UTF-8, else "data_b64". Credentials never reach a file:
 * header values are masked by header name when recorded, and the
 * configured secrets (providers' keys and header values, the client's
 * masked header values) are replaced by [REDACTED] in the writer. */
#ifndef CCP_DEBUG_CAPTURE_H
#define CCP_DEBUG_CAPTURE_H

#include "config/config.h"
#include "core/buf.h"
#include "core/error.h"
#include "http/server.h"
#include "obs/access.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ccp_capture ccp_capture;
typedef struct ccp_capture_ex ccp_capture_ex;

/* The capture of cfg->dir (created if missing), with its writer thread
 * started. Returns NULL with err set when the directory cannot be made or
 * written. The caller owns the result (ccp_capture_free). */
ccp_capture *ccp_capture_new(const ccp_capture_config *cfg, ccp_error *err);

/* Writes what is queued, stops the writer and frees cap. NULL is fine. */
void ccp_capture_free(ccp_capture *cap);

/* Exchanges captured, and those left out because the writer's queue was
 * full (a disk slower than the traffic). */
void ccp_capture_counts(const ccp_capture *cap, uint64_t *written, uint64_t *dropped);

/* Begins the capture of the request req (served with the config snapshot
 * cfg, whose secrets the writer redacts), or returns NULL when cap is NULL
 * or the request is not in the sample. The exchange is owned by the
 * capture calls: ccp_capture_ex_end hands it to the writer. */
ccp_capture_ex *ccp_capture_begin(ccp_capture *cap, const ccp_request *req, ccp_config *cfg);

/* The routing decision. Every recording call below does nothing for NULL. */
void ccp_capture_route(ccp_capture_ex *x, const char *stage, const char *rule, const char *route,
                       const char *client_model, bool stream);

/* An attempt as sent: URL (user info and query left out), "Name: value"
 * header lines (credentials masked) and body. */
void ccp_capture_attempt(ccp_capture_ex *x, size_t attempt, const char *provider,
                         const char *format, const char *model, const char *url,
                         char *const *headers, size_t n_headers, const char *body, size_t len);

/* One raw header line of the upstream's answer (a curl header callback's
 * line, CRLF included); an "HTTP/" status line starts a new head. */
void ccp_capture_upstream_header(ccp_capture_ex *x, const char *line, size_t len);
/* The head is complete (status known). */
void ccp_capture_upstream_head(ccp_capture_ex *x, int status);
/* Body bytes exactly as received, stamped with their arrival time. */
void ccp_capture_upstream_data(ccp_capture_ex *x, const char *data, size_t len);
/* The transfer ended: result 0 or a CCP_E* code, err its message. */
void ccp_capture_upstream_end(ccp_capture_ex *x, int result, const char *err);

/* Bytes as written to the client's connection (head, chunk framing and
 * all); a response tap (ccp_res_tap). end is non-NULL once, when the
 * response is finished: the end record is written and x goes to the
 * writer (x is invalid after that call). */
void ccp_capture_client(void *x, const char *data, size_t len, const ccp_access_rec *end);

/* The file text of x (for the writer, and for tests): the records, with
 * the secrets redacted. Does not free x. */
void ccp_capture_format(const ccp_capture_ex *x, ccp_buf *out);

/* Frees x without writing it (tests, and a capture shut down meanwhile). */
void ccp_capture_ex_free(ccp_capture_ex *x);

/* For tests: an exchange not tied to a server's writer (max_bytes caps
 * it); end it with ccp_capture_format + ccp_capture_ex_free. */
ccp_capture_ex *ccp_capture_ex_new(const char *id, uint64_t start_ns, size_t max_bytes,
                                   ccp_config *cfg);
void ccp_capture_request(ccp_capture_ex *x, const ccp_request *req);
/* Writes the end record from rec (without handing x to a writer). */
void ccp_capture_end_record(ccp_capture_ex *x, const ccp_access_rec *rec);

/* Whether a header of this name carries a credential (its value is then
 * recorded as "[masked]"). */
bool ccp_capture_header_secret(const char *name, size_t len);

/* Base64 (standard alphabet, padded), for "data_b64" payloads. */
void ccp_capture_b64_encode(ccp_buf *out, const unsigned char *p, size_t n);
/* Decodes s[0..n) into out; returns 0, or -1 on a character that is not
 * base64. */
int ccp_capture_b64_decode(ccp_buf *out, const char *s, size_t n);

#endif
