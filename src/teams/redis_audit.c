/* redis_audit.c — the audit stream's chain, its verification, export and
 * archiving (see redis_audit.h). */
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
    w->anchor_name = NULL;
}

void ccp_audit_walk_anchor(ccp_audit_walk *w, int64_t seq, const char *hash, const char *name)
{
    w->want = seq + 1;
    snprintf(w->prev, sizeof w->prev, "%s", hash);
    w->anchor_name = name;
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
    /* The first entry after an archive anchor: when it does not follow,
     * the anchor is as much a suspect as the entry. */
    const char *an = w->anchor_name;
    if (!number_of(seq, &s, false) || !number_of(time_ms, &t, true) || !kind || !data || !prev ||
        !hash)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %s (after entry %lld) is not one ccproxy wrote: a field "
                             "is missing or malformed; it was inserted or edited",
                             id, (long long)w->want - 1);
    if (an && s > w->want)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %lld is missing (entry %s is %lld): entries after the "
                             "archive anchor (%s, entry %lld) were deleted, or the anchor was "
                             "edited",
                             (long long)w->want, id, (long long)s, an, (long long)w->want - 1);
    if (an && s < w->want)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %s is entry %lld, yet the archive anchor (%s) says "
                             "entries up to %lld were archived: the anchor was edited, or the "
                             "entry inserted",
                             id, (long long)s, an, (long long)w->want - 1);
    if (an && strcmp(prev, w->prev) != 0)
        return ccp_error_set(err, CCP_EINVAL,
                             "audit entry %lld (%s) does not follow the archive anchor (%s, entry "
                             "%lld; its previous hash differs): the anchor or the entry was edited",
                             (long long)s, id, an, (long long)s - 1);
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
    w->anchor_name = NULL;
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

int ccp_audit_walk_meet(const ccp_audit_walk *w, bool present, int64_t seq, const char *hash,
                        const char *what, const char *name, ccp_error *err)
{
    int64_t last = w->want - 1;
    if (!present && last > 0)
        return ccp_error_set(err, CCP_EINVAL,
                             "the archives end at entry %lld but the %s has no archive anchor "
                             "(%s): it was deleted, or the archives are not this record's",
                             (long long)last, what, name);
    if (present && seq != last)
        return ccp_error_set(err, CCP_EINVAL,
                             "the archives end at entry %lld but the %s's archive anchor (%s) is "
                             "entry %lld: an archive file is missing, extra or out of order, or "
                             "the anchor was edited",
                             (long long)last, what, name, (long long)seq);
    if (present && strcmp(hash, w->prev) != 0)
        return ccp_error_set(err, CCP_EINVAL,
                             "archived entry %lld is not the %s's archive anchor (%s, entry %lld; "
                             "their hashes differ): the archive file or the anchor was edited",
                             (long long)last, what, name, (long long)seq);
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

/* The stream's entries after where w stands, then the head. */
static int walk_stream(redisContext *c, ccp_audit_walk *w, ccp_error *err)
{
    int rc = each_entry(c, verify_entry, w, err);
    if (rc) return rc;
    redisReply *h = redisCommand(c, "HMGET " CCP_REDIS_AUDIT_HEAD " seq hash");
    if (!h || h->type != REDIS_REPLY_ARRAY || h->elements != 2) {
        rc = ccp_error_set(err, CCP_EIO, "state.redis: %s",
                           c->errstr[0] ? c->errstr : "unexpected reply");
    } else {
        const char *s = h->element[0]->type == REDIS_REPLY_STRING ? h->element[0]->str : NULL;
        const char *hh = h->element[1]->type == REDIS_REPLY_STRING ? h->element[1]->str : NULL;
        rc = ccp_audit_walk_end(w, s, hh, err);
    }
    if (h) freeReplyObject(h);
    return rc;
}

/* A reply element's string, or NULL. */
static const char *str_of(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

static bool is_hash(const char *h)
{
    if (!h || strlen(h) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
    return true;
}

int ccp_redis_audit_read_anchor(redisContext *c, ccp_audit_anchor *a, ccp_error *err)
{
    memset(a, 0, sizeof *a);
    redisReply *r = redisCommand(c, "HMGET " CCP_REDIS_AUDIT_ANCHOR " seq hash stream_id time_ms");
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        int rc = ccp_error_set(err, CCP_EIO, "state.redis: %s",
                               r && r->type == REDIS_REPLY_ERROR ? r->str
                               : c->errstr[0]                    ? c->errstr
                                                                 : "unexpected reply");
        if (r) freeReplyObject(r);
        return rc;
    }
    const char *seq = str_of(r->element[0]), *hash = str_of(r->element[1]);
    const char *id = str_of(r->element[2]), *t = str_of(r->element[3]);
    int rc = 0;
    if (seq || hash || id || t) {
        a->present = true;
        if (!number_of(seq, &a->seq, false) || !is_hash(hash))
            rc = ccp_error_set(err, CCP_EINVAL,
                               "the audit stream's archive anchor (" CCP_REDIS_AUDIT_ANCHOR
                               ") is malformed (seq '%s'): it was edited",
                               seq ? seq : "(none)");
        else
            memcpy(a->hash, hash, sizeof a->hash);
        snprintf(a->stream_id, sizeof a->stream_id, "%s", id ? id : "");
        if (t) number_of(t, &a->time_ms, true);
    }
    freeReplyObject(r);
    return rc;
}

int ccp_redis_audit_verify_from(redisContext *c, int64_t *rows, int64_t *from, ccp_error *err)
{
    ccp_audit_walk w;
    ccp_audit_walk_init(&w);
    ccp_audit_anchor a;
    *rows = 0;
    *from = 1;
    int rc = ccp_redis_audit_read_anchor(c, &a, err);
    if (rc) return rc;
    if (a.present) ccp_audit_walk_anchor(&w, a.seq, a.hash, CCP_REDIS_AUDIT_ANCHOR);
    *from = w.want;
    rc = walk_stream(c, &w, err);
    *rows = w.rows;
    return rc;
}

int ccp_redis_audit_verify(redisContext *c, int64_t *rows, ccp_error *err)
{
    int64_t from;
    return ccp_redis_audit_verify_from(c, rows, &from, err);
}

int ccp_redis_audit_verify_after(redisContext *c, ccp_audit_walk *w, ccp_error *err)
{
    ccp_audit_anchor a;
    int rc = ccp_redis_audit_read_anchor(c, &a, err);
    if (rc) return rc;
    rc = ccp_audit_walk_meet(w, a.present, a.seq, a.hash, "audit stream", CCP_REDIS_AUDIT_ANCHOR,
                             err);
    if (rc) return rc;
    if (a.present) w->anchor_name = CCP_REDIS_AUDIT_ANCHOR;
    return walk_stream(c, w, err);
}

typedef struct export_ctx {
    int64_t since;
    ccp_buf *out;
} export_ctx;

/* One entry as a line of `export`, appended to out. */
static void export_line(ccp_buf *out, const char *id, const redisReply *f, int64_t s)
{
    const char *t = field(f, "time_ms"), *kind = field(f, "kind");
    const char *data = field(f, "data"), *hash = field(f, "hash");
    int64_t tm = 0;
    number_of(t, &tm, true);
    ccp_buf_printf(out, "{\"seq\":%lld,\"time_ms\":%lld,\"kind\":", (long long)s, (long long)tm);
    ccp_buf_append_json_str(out, kind ? kind : "", kind ? strlen(kind) : 0);
    /* data is a JSON object written by ccproxy: embedded as it is (verify
     * says whether it is still what ccproxy wrote). Anyone who can write
     * to Redis can put anything there: what is not a JSON object goes as a
     * string, so the export stays one JSON object a line. */
    ccp_error jerr = {0};
    json_object *o = data && *data ? ccp_json_parse(data, strlen(data), &jerr) : NULL;
    bool object = o && json_object_is_type(o, json_type_object);
    json_object_put(o);
    ccp_buf_appends(out, ",\"data\":");
    if (object)
        ccp_buf_appends(out, data);
    else if (data)
        ccp_buf_append_json_str(out, data, strlen(data));
    else
        ccp_buf_appends(out, "{}");
    ccp_buf_appends(out, ",\"hash\":");
    ccp_buf_append_json_str(out, hash ? hash : "", hash ? strlen(hash) : 0);
    ccp_buf_printf(out, ",\"stream_id\":\"%s\"}\n", id);
}

static int export_entry(void *ud, const char *id, const redisReply *f, ccp_error *err)
{
    export_ctx *x = ud;
    int64_t s = 0;
    if (!number_of(field(f, "seq"), &s, false) || s <= x->since) return 0;
    export_line(x->out, id, f, s);
    (void)err;
    return 0;
}

int ccp_redis_audit_export(redisContext *c, int64_t since, ccp_buf *out, ccp_error *err)
{
    export_ctx x = {since, out};
    return each_entry(c, export_entry, &x, err);
}

typedef struct archive_ctx {
    ccp_audit_walk walk;
    int64_t cutoff_ms;
    FILE *out;
    ccp_buf buf;
    ccp_audit_cut *cut;
    bool write_failed;
} archive_ctx;

#define ARCHIVE_STOP 1 /* each_entry's callback: the cutoff is reached */

/* Writes what buf holds to the file; false when the write failed. */
static bool flush_to(archive_ctx *x)
{
    if (x->buf.len && fwrite(x->buf.data, 1, x->buf.len, x->out) != x->buf.len)
        x->write_failed = true;
    ccp_buf_reset(&x->buf);
    return !x->write_failed;
}

static int archive_entry(void *ud, const char *id, const redisReply *f, ccp_error *err)
{
    archive_ctx *x = ud;
    int64_t t = 0, s = 0;
    /* Only a prefix can go (the proxies append at the other end): the first
     * entry at or after the cutoff ends it, even if one after it is older
     * (an instance's clock, or a row that waited in its outbox). */
    if (number_of(field(f, "time_ms"), &t, true) && t >= x->cutoff_ms) return ARCHIVE_STOP;
    int rc = verify_entry(&x->walk, id, f, err);
    if (rc) return rc;
    number_of(field(f, "seq"), &s, false);
    export_line(&x->buf, id, f, s);
    ccp_audit_cut *c = x->cut;
    if (!c->count++) {
        c->first_seq = s;
        snprintf(c->first_id, sizeof c->first_id, "%s", id);
    }
    c->last_seq = s;
    c->last_time_ms = t;
    snprintf(c->last_id, sizeof c->last_id, "%s", id);
    memcpy(c->last_hash, x->walk.prev, sizeof c->last_hash);
    if (x->buf.len >= (1u << 20) && !flush_to(x))
        return ccp_error_set(err, CCP_EIO, "writing the archive failed");
    return 0;
}

int ccp_redis_audit_archive_write(redisContext *c, int64_t cutoff_ms, FILE *out, ccp_audit_cut *cut,
                                  ccp_error *err)
{
    memset(cut, 0, sizeof *cut);
    archive_ctx x = {.cutoff_ms = cutoff_ms, .out = out, .buf = CCP_BUF_INIT, .cut = cut};
    ccp_audit_walk_init(&x.walk);
    ccp_audit_anchor a;
    int rc = ccp_redis_audit_read_anchor(c, &a, err);
    if (rc) return rc;
    if (a.present) {
        ccp_audit_walk_anchor(&x.walk, a.seq, a.hash, CCP_REDIS_AUDIT_ANCHOR);
        cut->had_anchor = true;
        cut->anchor_seq = a.seq;
    }
    rc = each_entry(c, archive_entry, &x, err);
    if (rc == ARCHIVE_STOP) rc = 0;
    if (!rc && (!flush_to(&x) || fflush(out) != 0))
        rc = ccp_error_set(err, CCP_EIO, "writing the archive failed");
    ccp_buf_free(&x.buf);
    return rc;
}

/* Removes the archived prefix and sets the anchor, atomically. Refuses
 * when the stream no longer starts where the archive began or the anchor
 * moved: another archive ran between our read and now, and removing by
 * our ids would drop entries not in our file. XTRIM MINID removes the
 * entries before the last archived one, XDEL that one; entries the
 * proxies append meanwhile have later ids and stay. */
static const char TRIM_LUA[] =
    "local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)\n"
    "if #first == 0 or first[1][1] ~= ARGV[1] then return {0, 'start'} end\n"
    "local a = redis.call('HGET', KEYS[2], 'seq')\n"
    "if (a or '') ~= ARGV[6] then return {0, 'anchor'} end\n"
    "local n = redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])\n"
    "n = n + redis.call('XDEL', KEYS[1], ARGV[2])\n"
    "redis.call('HSET', KEYS[2], 'seq', ARGV[3], 'hash', ARGV[4], 'stream_id', ARGV[2],\n"
    "           'time_ms', ARGV[5])\n"
    "return {1, n}\n";

int ccp_redis_audit_trim(redisContext *c, const ccp_audit_cut *cut, int64_t *removed,
                         ccp_error *err)
{
    *removed = 0;
    if (!cut->count) return 0;
    char seq[24], t[24], anchor[24] = "";
    snprintf(seq, sizeof seq, "%lld", (long long)cut->last_seq);
    snprintf(t, sizeof t, "%lld", (long long)cut->last_time_ms);
    if (cut->had_anchor) snprintf(anchor, sizeof anchor, "%lld", (long long)cut->anchor_seq);
    const char *argv[] = {
        "EVAL",        TRIM_LUA,     "2", CCP_REDIS_AUDIT_STREAM, CCP_REDIS_AUDIT_ANCHOR,
        cut->first_id, cut->last_id, seq, cut->last_hash,         t,
        anchor};
    size_t n = sizeof argv / sizeof *argv;
    redisReply *r = redisCommandArgv(c, (int)n, argv, NULL);
    int rc = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
        rc = ccp_error_set(err, CCP_EIO, "state.redis: %s",
                           r && r->type == REDIS_REPLY_ERROR ? r->str
                           : c->errstr[0]                    ? c->errstr
                                                             : "unexpected reply");
    else if (r->element[0]->integer != 1)
        rc = ccp_error_set(err, CCP_ECANCELED,
                           "the audit stream no longer starts at entry %lld (%s): another "
                           "archive ran meanwhile; nothing was removed",
                           (long long)cut->first_seq,
                           str_of(r->element[1]) && !strcmp(r->element[1]->str, "anchor")
                               ? "its archive anchor moved"
                               : cut->first_id);
    else if (r->element[1]->type == REDIS_REPLY_INTEGER)
        *removed = r->element[1]->integer;
    if (r) freeReplyObject(r);
    return rc;
}
