/* secrets.h — what ccproxy does to keep the keys it holds out of reach:
 * redaction of every configured secret from text that leaves the process,
 * and no core dumps of a serving process.
 *
 * The secrets are the config snapshot's: every provider key (the key pool
 * owns the one copy of each), every provider header value, every
 * telemetry header value and auth.admin_key. They are wiped when the snapshot is freed
 * (config.c). */
#ifndef CCP_GUARD_SECRETS_H
#define CCP_GUARD_SECRETS_H

#include "codec/events.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/error.h"

#include <stddef.h>

/* Replaces, in b, every occurrence of every secret of cfg with
 * "[redacted]"; returns how many were replaced. A header value of the form
 * "<scheme> <token>" (Bearer, Basic) has its token redacted too. Values
 * shorter than 8 bytes are left alone: a short header value ("1", "true")
 * is no secret, and replacing it would garble the text. */
size_t ccp_secrets_redact(const ccp_config *cfg, ccp_buf *b);

/* An event sink that passes every event on to next, with the message of an
 * error event redacted (ccp_secrets_redact): a provider's in-stream error
 * may quote the key too. Put it first, where the decoder emits, so that
 * transformers and traces see the redacted text. Needs no freeing; cfg and
 * next are borrowed. */
typedef struct ccp_redact_sink {
    ccp_event_sink base;
    ccp_event_sink *next;
    const ccp_config *cfg;
} ccp_redact_sink;

/* Sets s up and returns its sink. */
ccp_event_sink *ccp_redact_sink_init(ccp_redact_sink *s, const ccp_config *cfg,
                                     ccp_event_sink *next);

/* Logs a warning for each provider with tls.insecure_skip_verify on. For
 * every start, and every reload (a reload should call it with the new
 * snapshot). */
void ccp_secrets_warn_insecure(const ccp_config *cfg);

/* Marks the process not dumpable (prctl PR_SET_DUMPABLE 0): no core file,
 * and no ptrace attach or /proc/PID/mem read by other processes of the
 * same user. For serve mode, which holds keys for hours. Returns 0, or
 * CCP_EIO with err set. */
int ccp_secrets_protect_process(ccp_error *err);

#endif
