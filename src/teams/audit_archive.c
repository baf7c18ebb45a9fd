/* audit_archive.c — the archive cutoff and archive files read back into
 * the chain's walk (see audit_archive.h). */
#include "teams/audit_archive.h"

#include "teams/audit.h"
#include "teams/keystore.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ccp_audit_cutoff_parse(const char *s, int64_t now_ms, int64_t *cutoff_ms)
{
    int64_t secs;
    if (!s || !*s) return CCP_EINVAL;
    if (ccp_parse_duration(s, &secs) == 0) {
        *cutoff_ms = now_ms - secs * 1000;
        return 0;
    }
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
        return CCP_EINVAL;
    const char *rest = s + n;
    if (*rest) {
        int m = 0;
        if (sscanf(rest, "T%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &m) != 3 || m != 9)
            return CCP_EINVAL;
        rest += m;
        if (*rest == 'Z') rest++;
        if (*rest) return CCP_EINVAL;
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
        return CCP_EINVAL;
    int day = tm.tm_mday, mon = tm.tm_mon;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    /* timegm normalises 2026-02-31 to March: such a date is a typo. */
    if (t == (time_t)-1 || tm.tm_mday != day || tm.tm_mon != mon - 1) return CCP_EINVAL;
    *cutoff_ms = (int64_t)t * 1000;
    return 0;
}

/* The raw text of the line's "data" value: the hash covers the text
 * ccproxy wrote, which a parse and re-serialisation would not give back
 * byte for byte. export writes seq, time_ms and kind (a JSON string, whose
 * quotes inside are escaped) before data, so the first `,"data":` is the
 * key. */
static bool raw_data(const char *line, size_t len, const char **start, size_t *n)
{
    static const char key[] = ",\"data\":";
    const char *p = memmem(line, len, key, sizeof key - 1);
    if (!p) return false;
    p += sizeof key - 1;
    json_tokener *tok = json_tokener_new();
    if (!tok) return false;
    json_object *o = json_tokener_parse_ex(tok, p, (int)(len - (size_t)(p - line)));
    bool ok = o && json_object_is_type(o, json_type_object);
    if (ok) {
        *start = p;
        *n = json_tokener_get_parse_end(tok);
    }
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

int ccp_audit_archive_line(ccp_audit_walk *w, const char *line, size_t len, const char *where,
                           ccp_error *err)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
    bool whole = o && json_tokener_get_parse_end(tok) == len;
    if (tok) json_tokener_free(tok);
    json_object *seq, *t, *kind, *hash;
    const char *data = NULL;
    size_t dn = 0;
    if (!whole || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "seq", &seq) || !json_object_is_type(seq, json_type_int) ||
        !json_object_object_get_ex(o, "time_ms", &t) || !json_object_is_type(t, json_type_int) ||
        !json_object_object_get_ex(o, "kind", &kind) ||
        !json_object_is_type(kind, json_type_string) ||
        !json_object_object_get_ex(o, "hash", &hash) ||
        !json_object_is_type(hash, json_type_string) || !raw_data(line, len, &data, &dn)) {
        json_object_put(o);
        return ccp_error_set(err, CCP_EINVAL,
                             "archived entry %s (after entry %lld) is not a line `ccproxy audit "
                             "export` wrote: it was inserted or edited",
                             where, (long long)w->want - 1);
    }
    char s[24], tm[24];
    snprintf(s, sizeof s, "%lld", (long long)json_object_get_int64(seq));
    snprintf(tm, sizeof tm, "%lld", (long long)json_object_get_int64(t));
    char *d = strndup(data, dn); /* owned here, freed below */
    char prev[65];
    /* The file keeps no previous hash: each line must follow the walk. */
    memcpy(prev, w->prev, sizeof prev);
    int rc = d ? ccp_audit_walk_entry(w, where, s, tm, json_object_get_string(kind), d, prev,
                                      json_object_get_string(hash), err)
               : ccp_error_set(err, CCP_ENOMEM, "out of memory");
    free(d);
    json_object_put(o);
    return rc;
}

int ccp_audit_archive_file(ccp_audit_walk *w, const char *path, ccp_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ccp_error_set(err, CCP_EIO, "cannot read the archive %s: %s", path, strerror(errno));
    char *line = NULL; /* getline's, freed below */
    size_t cap = 0;
    ssize_t n;
    long no = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) >= 0) {
        no++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (!n) continue;
        char where[512];
        snprintf(where, sizeof where, "%s:%ld", path, no);
        rc = ccp_audit_archive_line(w, line, (size_t)n, where, err);
    }
    if (!rc && ferror(f)) rc = ccp_error_set(err, CCP_EIO, "cannot read the archive %s", path);
    free(line);
    fclose(f);
    return rc;
}

int ccp_audit_archive_write_db(sqlite3 *db, int64_t cutoff_ms, FILE *out, ccp_audit_cut *cut,
                               ccp_error *err)
{
    memset(cut, 0, sizeof *cut);
    ccp_audit_walk w;
    ccp_audit_walk_init(&w);
    bool present;
    int64_t aseq, newest = 0;
    char ahash[65];
    int rc = ccp_audit_read_anchor(db, &present, &aseq, ahash, err);
    if (rc) return rc;
    if (present) {
        ccp_audit_walk_anchor(&w, aseq, ahash, "table " CCP_AUDIT_ANCHOR_TABLE);
        cut->had_anchor = true;
        cut->anchor_seq = aseq;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT max(seq) FROM audit", -1, &st, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW) newest = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, time_ms, kind, data, prev, hash FROM audit WHERE seq < ? "
                           "ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, newest);
    ccp_buf b = CCP_BUF_INIT;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0), t = sqlite3_column_int64(st, 1);
        if (t >= cutoff_ms) break; /* only a prefix can go, as in redis_audit.c */
        const char *kind = (const char *)sqlite3_column_text(st, 2);
        const char *data = (const char *)sqlite3_column_text(st, 3);
        const char *prev = (const char *)sqlite3_column_text(st, 4);
        const char *hash = (const char *)sqlite3_column_text(st, 5);
        char id[32], ss[24], ts[24];
        snprintf(id, sizeof id, "row %lld", (long long)seq);
        snprintf(ss, sizeof ss, "%lld", (long long)seq);
        snprintf(ts, sizeof ts, "%lld", (long long)t);
        rc = ccp_audit_walk_entry(&w, id, ss, ts, kind, data, prev, hash, err);
        if (rc) break;
        ccp_audit_export_line(&b, seq, t, kind, data, hash);
        if (!cut->count++) cut->first_seq = seq;
        cut->last_seq = seq;
        cut->last_time_ms = t;
        memcpy(cut->last_hash, w.prev, sizeof cut->last_hash);
        if (b.len >= (1u << 20)) {
            if (fwrite(b.data, 1, b.len, out) != b.len) {
                rc = ccp_error_set(err, CCP_EIO, "writing the archive failed");
                break;
            }
            ccp_buf_reset(&b);
        }
    }
    if (!rc && s != SQLITE_ROW && s != SQLITE_DONE)
        rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (!rc && b.len && fwrite(b.data, 1, b.len, out) != b.len)
        rc = ccp_error_set(err, CCP_EIO, "writing the archive failed");
    if (!rc && fflush(out) != 0) rc = ccp_error_set(err, CCP_EIO, "writing the archive failed");
    ccp_buf_free(&b);
    return rc;
}

/* Inside trim's transaction: is the table still as the archive read it? */
static int still_as_read(sqlite3 *db, const ccp_audit_cut *cut, ccp_error *err)
{
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT min(seq) FROM audit),"
                           " (SELECT hash FROM audit WHERE seq = ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, cut->last_seq);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 1);
        ok = sqlite3_column_int64(st, 0) == cut->first_seq && h && !strcmp(h, cut->last_hash);
    }
    sqlite3_finalize(st);
    bool present;
    int64_t aseq;
    char ahash[65];
    int rc = ccp_audit_read_anchor(db, &present, &aseq, ahash, err);
    if (rc) return rc;
    if (!ok || present != cut->had_anchor || (present && aseq != cut->anchor_seq))
        return ccp_error_set(err, CCP_ECANCELED,
                             "the audit record no longer starts at row %lld: another archive ran "
                             "meanwhile; nothing was removed",
                             (long long)cut->first_seq);
    return 0;
}

int ccp_audit_archive_trim_db(sqlite3 *db, const ccp_audit_cut *cut, int64_t *removed,
                              ccp_error *err)
{
    *removed = 0;
    if (!cut->count) return 0;
    /* The write lock first: the proxies' state threads wait (busy
     * timeout) while the rows go, then append after the same chain end. */
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    int rc = still_as_read(db, cut, err);
    sqlite3_stmt *st = NULL;
    if (!rc && sqlite3_exec(db,
                            "CREATE TABLE IF NOT EXISTS " CCP_AUDIT_ANCHOR_TABLE
                            " (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,"
                            " hash TEXT NOT NULL, time_ms INTEGER NOT NULL)",
                            NULL, NULL, NULL) != SQLITE_OK)
        rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    if (!rc) {
        if (sqlite3_prepare_v2(db, "DELETE FROM audit WHERE seq <= ?", -1, &st, NULL) != SQLITE_OK)
            rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
        else {
            sqlite3_bind_int64(st, 1, cut->last_seq);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
            else
                *removed = sqlite3_changes(db);
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (!rc) {
        if (sqlite3_prepare_v2(db,
                               "INSERT OR REPLACE INTO " CCP_AUDIT_ANCHOR_TABLE
                               " (id, seq, hash, time_ms) VALUES (1, ?, ?, ?)",
                               -1, &st, NULL) != SQLITE_OK)
            rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
        else {
            sqlite3_bind_int64(st, 1, cut->last_seq);
            sqlite3_bind_text(st, 2, cut->last_hash, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, cut->last_time_ms);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
        }
        sqlite3_finalize(st);
    }
    if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = ccp_error_set(err, CCP_EIO, "audit: %s", sqlite3_errmsg(db));
    if (rc) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        *removed = 0;
    }
    return rc;
}

int ccp_audit_archive_verify_db(sqlite3 *db, ccp_audit_walk *w, int64_t *rows, ccp_error *err)
{
    bool present;
    int64_t aseq;
    char ahash[65];
    *rows = 0;
    int rc = ccp_audit_read_anchor(db, &present, &aseq, ahash, err);
    if (!rc)
        rc = ccp_audit_walk_meet(w, present, aseq, ahash, "state file",
                                 "table " CCP_AUDIT_ANCHOR_TABLE, err);
    if (!rc) rc = ccp_audit_verify_after(db, w->want - 1, w->prev, present, rows, err);
    return rc;
}
