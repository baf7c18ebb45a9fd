/* secrets.c — redaction of configured secrets, and a serving process that
 * leaves no core dump (see secrets.h). */
#include "guard/secrets.h"

#include "core/log.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#define REDACTED "[redacted]"
#define MIN_SECRET 8

/* Replaces every occurrence of s[0..n) in b; returns the count. */
static size_t redact_one(ccp_buf *b, const char *s, size_t n)
{
    if (n < MIN_SECRET || !b->data || b->len < n) return 0;
    size_t count = 0;
    char *at;
    size_t from = 0;
    while (from + n <= b->len && (at = memmem(b->data + from, b->len - from, s, n))) {
        size_t pos = (size_t)(at - b->data);
        size_t rlen = sizeof REDACTED - 1;
        if (rlen > n) ccp_buf_reserve(b, rlen - n);
        at = b->data + pos;
        memmove(at + rlen, at + n, b->len - pos - n + 1); /* with the NUL */
        memcpy(at, REDACTED, rlen);
        b->len = b->len - n + rlen;
        from = pos + rlen;
        count++;
    }
    return count;
}

/* A secret, and the token of "<scheme> <token>" when it has that form. */
static size_t redact_value(ccp_buf *b, const char *v)
{
    size_t count = redact_one(b, v, strlen(v));
    const char *sp = strchr(v, ' ');
    if (sp && !strchr(sp + 1, ' ')) count += redact_one(b, sp + 1, strlen(sp + 1));
    return count;
}

/* The password of state.redis (redis://[USER]:PASSWORD@host...), which
 * the URL carries as text: redacted wherever it appears. */
static size_t redact_redis_password(ccp_buf *b, const char *url)
{
    const char *auth = url && !strncmp(url, "redis://", 8) ? url + 8 : NULL;
    if (!auth) return 0;
    size_t n = strcspn(auth, "/");
    const char *at = memchr(auth, '@', n);
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon || at == colon + 1) return 0;
    return redact_one(b, colon + 1, (size_t)(at - colon - 1));
}

size_t ccp_secrets_redact(const ccp_config *cfg, ccp_buf *b)
{
    if (!cfg || !b->data || !b->len) return 0;
    size_t count = 0;
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const ccp_provider *p = &cfg->providers[i];
        for (size_t k = 0; k < p->keys.n; k++)
            count += redact_value(b, p->keys.v[k]);
        for (size_t h = 0; h < p->n_headers; h++)
            count += redact_value(b, p->headers[h].value);
    }
    for (size_t h = 0; h < cfg->telemetry.n_headers; h++)
        count += redact_value(b, cfg->telemetry.headers[h].value);
    if (cfg->auth.admin_key) count += redact_value(b, cfg->auth.admin_key);
    count += redact_redis_password(b, cfg->state.redis);
    return count;
}

static int redact_emit(ccp_event_sink *self, const ccp_event *ev)
{
    ccp_redact_sink *s = (ccp_redact_sink *)self;
    if (ev->type != CCP_EV_ERROR || !ev->error_message) return s->next->emit(s->next, ev);
    ccp_buf msg = CCP_BUF_INIT;
    ccp_buf_appends(&msg, ev->error_message);
    ccp_secrets_redact(s->cfg, &msg);
    ccp_event copy = *ev;
    copy.error_message = msg.data;
    int rc = s->next->emit(s->next, &copy);
    ccp_buf_free(&msg);
    return rc;
}

ccp_event_sink *ccp_redact_sink_init(ccp_redact_sink *s, const ccp_config *cfg,
                                     ccp_event_sink *next)
{
    s->base.emit = redact_emit;
    s->next = next;
    s->cfg = cfg;
    return &s->base;
}

void ccp_secrets_warn_insecure(const ccp_config *cfg)
{
    for (size_t i = 0; i < cfg->n_providers; i++)
        if (cfg->providers[i].tls.insecure_skip_verify)
            ccp_log_warn("provider %s: tls.insecure_skip_verify is on: its certificate is NOT "
                         "verified, and anyone on the path can read its key and answers",
                         cfg->providers[i].name);
}

int ccp_secrets_protect_process(ccp_error *err)
{
    /* Chosen over MADV_DONTDUMP on the keys' pages: a key is copied into
     * every outbound request's header lines, curl's and OpenSSL's buffers,
     * and the kernel's socket buffers, none of which ccproxy places, so
     * marking the config's pages would leave most copies in a dump. Not
     * dumpable covers every page, and also stops other processes of the
     * same user from reading the memory through ptrace or /proc/PID/mem. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return ccp_error_set(err, CCP_EIO, "prctl(PR_SET_DUMPABLE, 0) failed: %s", strerror(errno));
    return 0;
}
