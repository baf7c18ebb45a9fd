/* redis_usage.c — the usage counters' layout in Redis and their reading
 * (see redis_usage.h). */
#include "teams/redis_usage.h"

#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void escape(ccp_buf *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '%')
            ccp_buf_appends(out, "%25");
        else if (*s == ':')
            ccp_buf_appends(out, "%3A");
        else
            ccp_buf_appendc(out, *s);
    }
}

void ccp_redis_usage_row(ccp_buf *out, const char *key_id, const char *tenant, const char *provider,
                         const char *model)
{
    escape(out, key_id);
    ccp_buf_appendc(out, ':');
    escape(out, tenant);
    ccp_buf_appendc(out, ':');
    escape(out, provider);
    ccp_buf_appendc(out, ':');
    escape(out, model);
}

/* The part [s, e) unescaped, malloc'd; NULL when an escape is not ours. */
static char *unescape(const char *s, const char *e)
{
    char *out = ccp_xmalloc((size_t)(e - s) + 1), *o = out;
    while (s < e) {
        if (*s != '%') {
            *o++ = *s++;
        } else if (e - s >= 3 && !strncmp(s, "%25", 3)) {
            *o++ = '%';
            s += 3;
        } else if (e - s >= 3 && !strncmp(s, "%3A", 3)) {
            *o++ = ':';
            s += 3;
        } else {
            free(out);
            return NULL;
        }
    }
    *o = '\0';
    return out;
}

bool ccp_redis_usage_split(const char *row, char *parts[4])
{
    const char *p = row;
    for (int i = 0; i < 4; i++) {
        const char *e = i < 3 ? strchr(p, ':') : p + strlen(p);
        if (!e || (i == 3 && strchr(p, ':'))) e = NULL;
        parts[i] = e ? unescape(p, e) : NULL;
        if (!parts[i]) {
            for (int j = 0; j < i; j++)
                free(parts[j]);
            return false;
        }
        p = e + 1;
    }
    return true;
}

void ccp_usage_totals_free(ccp_usage_total *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].key_id);
        free(t[i].tenant);
        free(t[i].provider);
        free(t[i].model);
    }
    free(t);
}

static int64_t int_of(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
}

static int io_error(redisContext *c, redisReply *r, ccp_error *err)
{
    int rc = ccp_error_set(err, CCP_EIO, "state.redis: %s",
                           r && r->type == REDIS_REPLY_ERROR ? r->str
                           : c->errstr[0]                    ? c->errstr
                                                             : "unexpected reply");
    if (r) freeReplyObject(r);
    return rc;
}

int ccp_redis_usage_read(redisContext *c, time_t from, ccp_usage_total **out, size_t *n,
                         ccp_error *err)
{
    *out = NULL;
    *n = 0;
    ccp_usage_total *rows = NULL;
    size_t nrows = 0;
    time_t now = time(NULL);
    /* from, from + a day, ... up to now itself: each UTC day once. */
    for (time_t t = from; t < now + 86400; t += 86400) {
        struct tm tm;
        gmtime_r(&t, &tm);
        char day[16];
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        redisReply *m = redisCommand(c, "SMEMBERS ccp:usage:%s", day);
        if (!m || m->type != REDIS_REPLY_ARRAY) {
            ccp_usage_totals_free(rows, nrows);
            return io_error(c, m, err);
        }
        /* One round trip for the day's rows: the reads pipelined. */
        for (size_t i = 0; i < m->elements; i++)
            redisAppendCommand(c,
                               "HMGET ccp:usage:%s:%b requests input_tokens output_tokens "
                               "cache_read_tokens cache_write_tokens spend_usd unpriced",
                               day, m->element[i]->str, (size_t)m->element[i]->len);
        int rc = 0;
        for (size_t i = 0; i < m->elements; i++) {
            redisReply *h = NULL;
            if (redisGetReply(c, (void **)&h) != REDIS_OK || !h || h->type != REDIS_REPLY_ARRAY ||
                h->elements != 7) {
                if (!rc)
                    rc = io_error(c, h, err);
                else if (h)
                    freeReplyObject(h);
                if (!h) break; /* the connection failed: no more replies */
                continue;
            }
            char *parts[4];
            if (!rc && ccp_redis_usage_split(m->element[i]->str, parts)) {
                rows = ccp_xrealloc(rows, (nrows + 1) * sizeof *rows);
                ccp_usage_total *u = &rows[nrows++];
                memset(u, 0, sizeof *u);
                snprintf(u->day, sizeof u->day, "%s", day);
                u->key_id = parts[0];
                u->tenant = parts[1];
                u->provider = parts[2];
                u->model = parts[3];
                u->requests = int_of(h->element[0]);
                u->input_tokens = int_of(h->element[1]);
                u->output_tokens = int_of(h->element[2]);
                u->cache_read_tokens = int_of(h->element[3]);
                u->cache_write_tokens = int_of(h->element[4]);
                u->spend_usd = h->element[5]->type == REDIS_REPLY_STRING
                                   ? strtod(h->element[5]->str, NULL)
                                   : 0;
                u->unpriced = int_of(h->element[6]);
            }
            freeReplyObject(h);
        }
        freeReplyObject(m);
        if (rc) {
            ccp_usage_totals_free(rows, nrows);
            return rc;
        }
    }
    *out = rows;
    *n = nrows;
    return 0;
}
