/* audit.c — the hash-chained audit table (see audit.h). */
#include "teams/audit.h"

#include "teams/redis_push.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char ZERO_HASH[] = "0000000000000000000000000000000000000000000000000000000000000000";

int64_t ccp_audit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ccp_audit_row_hash(const char *prev, int64_t seq, int64_t time_ms, const char *kind,
                        const char *data, char out[65])
{
    ccp_buf b = CCP_BUF_INIT;
    /* The canonical text: fields in a fixed order, separated by a byte none
     * of the numbers or the kind can hold (the data is JSON, whose strings
     * escape line breaks), so two different rows never share a text. */
    ccp_buf_printf(&b, "%s%lld\n%lld\n%s\n%s", prev, (long long)seq, (long long)time_ms, kind,
                   data);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(b.data, b.len, md, &n, EVP_sha256(), NULL);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    ccp_buf_free(&b);
}

int ccp_audit_batch_begin(ccp_audit_batch *b, sqlite3 *db, ccp_error *err)
{
    sqlite3_stmt *st = NULL;
    memset(b, 0, sizeof *b);
    b->db = db;
    memcpy(b->prev, ZERO_HASH, sizeof b->prev);
    if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &st,
                           NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW) {
        b->seq = sqlite3_column_int64(st, 0);
        const char *h = (const char *)sqlite3_column_text(st, 1);
        snprintf(b->prev, sizeof b->prev, "%s", h ? h : "");
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO audit(seq, time_ms, kind, data, prev, hash) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &b->ins, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    return 0;
fail:
    sqlite3_finalize(st);
    return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
}

int ccp_audit_batch_add(ccp_audit_batch *b, int64_t time_ms, const char *kind, const char *data,
                        ccp_error *err)
{
    char hash[65];
    int64_t seq = b->seq + 1;
    ccp_audit_row_hash(b->prev, seq, time_ms, kind, data, hash);
    sqlite3_stmt *st = b->ins;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_int64(st, 2, time_ms);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, data, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, b->prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, hash, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    sqlite3_clear_bindings(st);
    if (s != SQLITE_DONE) return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(b->db));
    b->seq = seq;
    memcpy(b->prev, hash, sizeof hash);
    return 0;
}

void ccp_audit_batch_end(ccp_audit_batch *b)
{
    sqlite3_finalize(b->ins);
    b->ins = NULL;
}

int ccp_audit_append_in_tx(sqlite3 *db, int64_t time_ms, const char *kind, const char *data,
                           ccp_error *err)
{
    ccp_audit_batch b;
    int rc = ccp_audit_batch_begin(&b, db, err);
    if (!rc) rc = ccp_audit_batch_add(&b, time_ms, kind, data, err);
    ccp_audit_batch_end(&b);
    /* Admin rows reach the shared stream too, when the file feeds one. */
    if (!rc) rc = ccp_redis_outbox_mirror(db, time_ms, kind, data, err);
    return rc;
}

int ccp_audit_append(sqlite3 *db, int64_t time_ms, const char *kind, const char *data,
                     ccp_error *err)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    int rc = ccp_audit_append_in_tx(db, time_ms, kind, data, err);
    sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    return rc;
}

int ccp_audit_read_anchor(sqlite3 *db, bool *present, int64_t *seq, char hash[65], ccp_error *err)
{
    sqlite3_stmt *st = NULL;
    *present = false;
    *seq = 0;
    hash[0] = '\0';
    /* The table is made by the first archive: none, no anchor. */
    if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM " CCP_AUDIT_ANCHOR_TABLE " WHERE id = 1", -1,
                           &st, NULL) != SQLITE_OK) {
        const char *m = sqlite3_errmsg(db);
        if (strstr(m, "no such table")) return 0;
        return ccp_error_set(err, CCP_EIO, "audit: %s", m);
    }
    int rc = 0, s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *present = true;
        const char *h = (const char *)sqlite3_column_text(st, 1);
        *seq = sqlite3_column_int64(st, 0);
        bool ok = sqlite3_column_type(st, 0) == SQLITE_INTEGER && *seq >= 1 && h && strlen(h) == 64;
        for (int i = 0; ok && i < 64; i++)
            ok = (h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f');
        if (ok)
            memcpy(hash, h, 65);
        else
            rc = ccp_error_set(err, CCP_EINVAL,
                               "the audit record's archive anchor (table " CCP_AUDIT_ANCHOR_TABLE
                               ") is malformed: it was edited");
    } else if (s != SQLITE_DONE) {
        rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc;
}

int ccp_audit_verify_after(sqlite3 *db, int64_t after, const char *hash, bool anchored,
                           int64_t *rows, ccp_error *err)
{
    sqlite3_stmt *st = NULL;
    *rows = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, time_ms, kind, data, prev, hash FROM audit ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    char prev[65];
    snprintf(prev, sizeof prev, "%s", hash);
    int64_t want = after + 1;
    int rc = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        int64_t t = sqlite3_column_int64(st, 1);
        const char *kind = (const char *)sqlite3_column_text(st, 2);
        const char *data = (const char *)sqlite3_column_text(st, 3);
        const char *rprev = (const char *)sqlite3_column_text(st, 4);
        const char *rhash = (const char *)sqlite3_column_text(st, 5);
        /* The first row after an archive anchor: when it does not follow,
         * the anchor is as much a suspect as the row. */
        bool first_after_anchor = anchored && *rows == 0;
        if (seq != want && first_after_anchor) {
            rc = ccp_error_set(err, CCP_EINVAL,
                               "audit row %lld is not the one after the archive anchor "
                               "(table " CCP_AUDIT_ANCHOR_TABLE
                               ", row %lld): rows after it were deleted, or the anchor was edited",
                               (long long)seq, (long long)want - 1);
            break;
        }
        if (seq != want) {
            rc = ccp_error_set(err, CCP_EINVAL,
                               "audit row %lld is missing (the next row is %lld): rows were "
                               "deleted",
                               (long long)want, (long long)seq);
            break;
        }
        if ((!rprev || strcmp(rprev, prev) != 0) && first_after_anchor) {
            rc = ccp_error_set(
                err, CCP_EINVAL,
                "audit row %lld does not follow the archive anchor (table " CCP_AUDIT_ANCHOR_TABLE
                ", row %lld; its previous hash differs): the anchor or the row was "
                "edited",
                (long long)seq, (long long)seq - 1);
            break;
        }
        if (!rprev || strcmp(rprev, prev) != 0) {
            rc = ccp_error_set(err, CCP_EINVAL,
                               "audit row %lld does not follow row %lld (its previous hash "
                               "differs): a row before it was edited, deleted or replaced",
                               (long long)seq, (long long)seq - 1);
            break;
        }
        char h[65];
        ccp_audit_row_hash(prev, seq, t, kind ? kind : "", data ? data : "", h);
        if (!rhash || strcmp(rhash, h) != 0) {
            rc = ccp_error_set(err, CCP_EINVAL,
                               "audit row %lld was edited: its content does not match its hash",
                               (long long)seq);
            break;
        }
        memcpy(prev, h, sizeof prev);
        want++;
        (*rows)++;
    }
    if (!rc && s != SQLITE_DONE && s != SQLITE_ROW)
        rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

int ccp_audit_verify_from(sqlite3 *db, int64_t *rows, int64_t *from, ccp_error *err)
{
    bool present;
    int64_t seq;
    char hash[65];
    *rows = 0;
    *from = 1;
    int rc = ccp_audit_read_anchor(db, &present, &seq, hash, err);
    if (rc) return rc;
    if (!present) {
        seq = 0;
        memcpy(hash, ZERO_HASH, sizeof hash);
    }
    *from = seq + 1;
    return ccp_audit_verify_after(db, seq, hash, present, rows, err);
}

int ccp_audit_verify(sqlite3 *db, int64_t *rows, ccp_error *err)
{
    int64_t from;
    return ccp_audit_verify_from(db, rows, &from, err);
}

void ccp_audit_export_line(ccp_buf *out, int64_t seq, int64_t time_ms, const char *kind,
                           const char *data, const char *hash)
{
    ccp_buf_printf(out, "{\"seq\":%lld,\"time_ms\":%lld,\"kind\":", (long long)seq,
                   (long long)time_ms);
    ccp_buf_append_json_str(out, kind ? kind : "", kind ? strlen(kind) : 0);
    /* data is a JSON object written by ccproxy: embedded as it is. */
    ccp_buf_printf(out, ",\"data\":%s,\"hash\":\"%s\"}\n", data && *data ? data : "{}",
                   hash ? hash : "");
}

int ccp_audit_export(sqlite3 *db, int64_t since, ccp_buf *out, ccp_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, time_ms, kind, data, hash FROM audit WHERE seq > ? "
                           "ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, since);
    while (sqlite3_step(st) == SQLITE_ROW)
        ccp_audit_export_line(out, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                              (const char *)sqlite3_column_text(st, 2),
                              (const char *)sqlite3_column_text(st, 3),
                              (const char *)sqlite3_column_text(st, 4));
    sqlite3_finalize(st);
    return 0;
}
