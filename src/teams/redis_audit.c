/* redis_audit.c — the audit stream's chain, its verification and export
 * (see redis_audit.h). */
#include "teams/redis_audit.h"

#include "core/json.h"
#include "teams/audit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ZERO_HASH[] = "0000000000000000000000000000000000000000000000000000000000000000";

void ccp_redis_audit_chain(int64_t seq, const char *hash, size_t n, const int64_t *time_ms,
                           const char *const *kind, const char *const *data, ccp_audit_link *out)
{
    const char *prev = hash;
    for (size_t i = 0; i < n; i++) {
        out[i].seq = seq + 1 + (int64_t)i;
        snprintf(out[i].prev, sizeof out[i].prev, "%s", prev);
        ccp_audit_row_hash(out[i].prev, out[i].seq, time_ms[i], kind[i], data[i], out[i].hash);
        prev = out[i].hash;
    }
}

void ccp_audit_walk_init(ccp_audit_walk *w)
{
    w->want = 1;
    memcpy(w->prev, ZERO_HASH, sizeof w->prev);
    w->rows = 0;
}

/* s as a whole decimal number > 0 (or >= 0 when zero_ok); false if not. */
static bool number_of(const char *s, int64_t *out, bool zero_ok)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < (zero_ok ? 0 : 1)) return false;
    *out = v;
    return true;
}

int ccp_audit_walk_entry(ccp_audit_walk *w, const char *id, const char *seq, const char *time_ms,
                         const char *kind, const char *data, const char *prev, const char *hash,
                         ccp_error *err)
{
    int64_t s, t;
    if (!number_of(seq, &s, false) || !number_of(time_ms, &t, true) || !kind || !data || !prev ||
        !hash)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %s (after entry %lld) is not one ccproxy wrote: a field "
                             "is missing or malformed; it was inserted or edited",
                             id, (long long)w->want - 1);
    if (s > w->want)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %lld is missing (entry %s is %lld): entries were deleted",
                             (long long)w->want, id, (long long)s);
    if (s < w->want)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %s repeats entry %lld: it was inserted or copied", id,
                             (long long)s);
    if (strcmp(prev, w->prev) != 0)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %lld (%s) does not follow entry %lld (its previous hash "
                             "differs): an entry before it was edited, deleted or replaced",
                             (long long)s, id, (long long)s - 1);
    char h[65];
    ccp_audit_row_hash(w->prev, s, t, kind, data, h);
    if (strcmp(hash, h) != 0)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %lld (%s) was edited: its content does not match its "
                             "hash",
                             (long long)s, id);
    memcpy(w->prev, h, sizeof h);
    w->want++;
    w->rows++;
    return 0;
}

int ccp_audit_walk_end(ccp_audit_walk *w, const char *head_seq, const char *head_hash,
                       ccp_error *err)
{
    int64_t last = w->want - 1, hs = 0;
    if (!head_seq && !last) return 0;
    if (!head_seq || !number_of(head_seq, &hs, true) || !head_hash)
        return ccp_error_set(err, CCP_EINVAL,
                             "the audit stream's head (" CCP_REDIS_AUDIT_HEAD
                             ") is missing or malformed, with %lld entries in the stream: it was "
                             "deleted or edited",
                             (long long)last);
    if (hs > last)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entries %lld to %lld are missing (the head is %lld): the "
                             "newest entries were deleted",
                             (long long)last + 1, (long long)hs, (long long)hs);
    if (hs < last || strcmp(head_hash, w->prev) != 0)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %lld is not the chain's head (the head is %lld, hash "
                             "%.12s...): entries were added or replaced at the end",
                             (long long)last, (long long)hs, head_hash);
    return 0;
}

/* The value of field name in an entry's field list, or NULL. */
static const char *field(const redisReply *f, const char *name)
{
    for (size_t i = 0; f && f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && !strcmp(f->element[i]->str, name) &&
            f->element[i + 1]->type == REDIS_REPLY_STRING)
            return f->element[i + 1]->str;
    return NULL;
}

typedef int (*entry_fn)(void *ud, const char *id, const redisReply *fields, ccp_error *err);

/* Calls fn for each stream entry in order, reading a thousand at a time. */
static int each_entry(redisContext *c, entry_fn fn, void *ud, ccp_error *err)
{
    char start[64] = "-";
    for (;;) {
        redisReply *r = redisCommand(c, "XRANGE " CCP_REDIS_AUDIT_STREAM " %s + COUNT 1000", start);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            int rc = ccp_error_set(err, CCP_EIO, "state.redis: %s",
                                   r && r->type == REDIS_REPLY_ERROR ? r->str
                                   : c->errstr[0]                    ? c->errstr
                                                                     : "unexpected reply");
            if (r) freeReplyObject(r);
            return rc;
        }
        size_t n = r->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[0]->type != REDIS_REPLY_STRING)
                continue;
            int rc = fn(ud, e->element[0]->str, e->element[1], err);
            if (rc) {
                freeReplyObject(r);
                return rc;
            }
            /* The next page starts after this entry (exclusive range). */
            snprintf(start, sizeof start, "(%s", e->element[0]->str);
        }
        freeReplyObject(r);
        if (n < 1000) return 0;
    }
}

static int verify_entry(void *ud, const char *id, const redisReply *f, ccp_error *err)
{
    return ccp_audit_walk_entry(ud, id, field(f, "seq"), field(f, "time_ms"), field(f, "kind"),
                                field(f, "data"), field(f, "prev"), field(f, "hash"), err);
}

int ccp_redis_audit_verify(redisContext *c, int64_t *rows, ccp_error *err)
{
    ccp_audit_walk w;
    ccp_audit_walk_init(&w);
    int rc = each_entry(c, verify_entry, &w, err);
    if (!rc) {
        redisReply *h = redisCommand(c, "HMGET " CCP_REDIS_AUDIT_HEAD " seq hash");
        if (!h || h->type != REDIS_REPLY_ARRAY || h->elements != 2) {
            rc = ccp_error_set(err, CCP_EIO, "state.redis: %s",
                               c->errstr[0] ? c->errstr : "unexpected reply");
        } else {
            const char *s = h->element[0]->type == REDIS_REPLY_STRING ? h->element[0]->str : NULL;
            const char *hh = h->element[1]->type == REDIS_REPLY_STRING ? h->element[1]->str : NULL;
            rc = ccp_audit_walk_end(&w, s, hh, err);
        }
        if (h) freeReplyObject(h);
    }
    *rows = w.rows;
    return rc;
}

typedef struct export_ctx {
    int64_t since;
    ccp_buf *out;
} export_ctx;

static int export_entry(void *ud, const char *id, const redisReply *f, ccp_error *err)
{
    export_ctx *x = ud;
    const char *seq = field(f, "seq"), *t = field(f, "time_ms"), *kind = field(f, "kind");
    const char *data = field(f, "data"), *hash = field(f, "hash");
    int64_t s = 0, tm = 0;
    if (!number_of(seq, &s, false) || s <= x->since) return 0;
    number_of(t, &tm, true);
    ccp_buf_printf(x->out, "{\"seq\":%lld,\"time_ms\":%lld,\"kind\":", (long long)s, (long long)tm);
    ccp_buf_append_json_str(x->out, kind ? kind : "", kind ? strlen(kind) : 0);
    /* data is a JSON object written by ccproxy: embedded as it is (verify
     * says whether it is still what ccproxy wrote). Anyone who can write
     * to Redis can put anything there: what is not a JSON object goes as a
     * string, so the export stays one JSON object a line. */
    ccp_error jerr = {0};
    json_object *o = data && *data ? ccp_json_parse(data, strlen(data), &jerr) : NULL;
    bool object = o && json_object_is_type(o, json_type_object);
    json_object_put(o);
    ccp_buf_appends(x->out, ",\"data\":");
    if (object)
        ccp_buf_appends(x->out, data);
    else if (data)
        ccp_buf_append_json_str(x->out, data, strlen(data));
    else
        ccp_buf_appends(x->out, "{}");
    ccp_buf_appends(x->out, ",\"hash\":");
    ccp_buf_append_json_str(x->out, hash ? hash : "", hash ? strlen(hash) : 0);
    ccp_buf_printf(x->out, ",\"stream_id\":\"%s\"}\n", id);
    (void)err;
    return 0;
}

int ccp_redis_audit_export(redisContext *c, int64_t since, ccp_buf *out, ccp_error *err)
{
    export_ctx x = {since, out};
    return each_entry(c, export_entry, &x, err);
}
