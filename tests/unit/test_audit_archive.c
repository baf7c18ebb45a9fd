/* test_audit_archive.c — the archive cutoff (an age or a UTC date) and
 * archive lines read back into the chain's walk: export's lines verify
 * byte for byte (data kept as written, not re-serialised), continue from
 * one file into the next, and an edited, deleted, inserted or malformed
 * line is named by its place; on the state file's table, an archive moves
 * a prefix (never the newest row) and anchors the rest, which verifies
 * from the anchor and after the archive, refuses when another archive
 * moved the start, and a tampered anchor is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "teams/audit.h"
#include "teams/audit_archive.h"
#include "teams/keystore.h"
#include "teams/redis_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
static const char ZERO[] = ZERO_HASH;

static void the_cutoff_is_an_age_or_a_utc_date(void **state)
{
    (void)state;
    int64_t c = 0, now = 1764561600000LL; /* 2025-12-01T04:00:00Z */
    assert_int_equal(ccp_audit_cutoff_parse("7d", now, &c), 0);
    assert_int_equal(c, now - 7LL * 86400 * 1000);
    assert_int_equal(ccp_audit_cutoff_parse("12h", now, &c), 0);
    assert_int_equal(c, now - 12LL * 3600 * 1000);
    assert_int_equal(ccp_audit_cutoff_parse("2026-11-01", now, &c), 0);
    assert_int_equal(c, 1793491200000LL);
    assert_int_equal(ccp_audit_cutoff_parse("2026-11-01T12:30:05Z", now, &c), 0);
    assert_int_equal(c, 1793491200000LL + (12 * 3600 + 30 * 60 + 5) * 1000LL);
    assert_int_equal(ccp_audit_cutoff_parse("2026-11-01T12:30:05", now, &c), 0);
    const char *bad[] = {"",
                         "0d",
                         "-1d",
                         "7",
                         "7w",
                         "yesterday",
                         "2026-02-31",
                         "2026-13-01",
                         "2026-1-01",
                         "2026-11-01T25:00:00Z",
                         "2026-11-01T12:00Z",
                         "2026-11-01 12:00:00",
                         "2026-11-01T12:00:00+01"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ccp_audit_cutoff_parse(bad[i], now, &c), CCP_EINVAL);
}

#define N 4
/* data with spacing and escapes a re-serialisation would change. */
static const char *datas[N] = {"{\"a\": 1}", "{\"request_id\":\"r1\",\"p\":\"a\\/b\"}",
                               "{\"x\":\"\\u00e9\"}", "{\"s\":\",\\\"data\\\":{}\"}"};
static const char *kinds[N] = {"config.load", "request", "request", "re\"quest"};
static int64_t times[N] = {1000, 1001, 1002, 1003};
static char lines[N][512];

/* The chain's entries as export writes them. */
static void make_lines(void)
{
    ccp_audit_link l[N];
    ccp_redis_audit_chain(0, ZERO, N, times, kinds, datas, l);
    for (int i = 0; i < N; i++) {
        ccp_buf b = CCP_BUF_INIT;
        ccp_buf_printf(&b, "{\"seq\":%lld,\"time_ms\":%lld,\"kind\":", (long long)l[i].seq,
                       (long long)times[i]);
        ccp_buf_append_json_str(&b, kinds[i], strlen(kinds[i]));
        ccp_buf_printf(&b, ",\"data\":%s,\"hash\":\"%s\",\"stream_id\":\"1-%d\"}", datas[i],
                       l[i].hash, i);
        snprintf(lines[i], sizeof lines[i], "%.*s", (int)b.len, b.data);
        ccp_buf_free(&b);
    }
}

static int feed(ccp_audit_walk *w, int from, int to, ccp_error *err)
{
    for (int i = from; i < to; i++) {
        char where[32];
        snprintf(where, sizeof where, "f:%d", i + 1);
        int rc = ccp_audit_archive_line(w, lines[i], strlen(lines[i]), where, err);
        if (rc) return rc;
    }
    return 0;
}

static void export_lines_verify_as_written_and_continue_across_files(void **state)
{
    (void)state;
    make_lines();
    ccp_audit_walk w;
    ccp_error err = {0};
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, 0, 2, &err), 0); /* the first file */
    assert_int_equal(feed(&w, 2, N, &err), 0); /* the next */
    assert_int_equal(w.rows, N);
    assert_int_equal(w.want, N + 1);
    /* The walk ends where a store's anchor must be: the last hash. */
    ccp_audit_link l[N];
    ccp_redis_audit_chain(0, ZERO, N, times, kinds, datas, l);
    assert_string_equal(w.prev, l[N - 1].hash);
    /* A file starting after entry 1 has nothing before it to follow. */
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, 2, N, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 1 is missing (entry f:3 is 3)"));
}

static void an_edited_deleted_inserted_or_malformed_line_is_named(void **state)
{
    (void)state;
    make_lines();
    ccp_audit_walk w;
    ccp_error err = {0};
    char edited[512];
    /* Same JSON meaning, other bytes: still an edit of what was hashed. */
    snprintf(edited, sizeof edited, "%s", lines[0]);
    char *p = strstr(edited, "{\"a\": 1}");
    assert_non_null(p);
    memmove(p + 5, p + 6, strlen(p + 6) + 1);
    ccp_audit_walk_init(&w);
    assert_int_equal(ccp_audit_archive_line(&w, edited, strlen(edited), "f:1", &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 1 (f:1) was edited"));
    /* Deleted. */
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, 0, 1, &err), 0);
    assert_int_equal(feed(&w, 2, 3, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 2 is missing (entry f:3 is 3)"));
    /* Repeated. */
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, 0, 2, &err), 0);
    assert_int_equal(feed(&w, 1, 2, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "repeats entry 2"));
    /* Not export's: not JSON, trailing bytes, a field missing or mistyped. */
    /* (Its own constant: clang takes a literal split inside the list for
     * a missing comma.) */
    static const char seq_text[] = "{\"seq\":\"1\",\"time_ms\":1,\"kind\":\"k\","
                                   "\"data\":{},\"hash\":\"h\"}";
    const char *bad[] = {"nope", "{\"seq\":1}", seq_text,
                         "{\"seq\":1,\"time_ms\":1,\"kind\":\"k\",\"data\":[],\"hash\":\"h\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ccp_audit_walk_init(&w);
        assert_int_equal(ccp_audit_archive_line(&w, bad[i], strlen(bad[i]), "f:9", &err),
                         CCP_EINVAL);
        assert_non_null(strstr(err.msg, "archived entry f:9 (after entry 0) is not a line"));
    }
    char trailing[600];
    snprintf(trailing, sizeof trailing, "%s x", lines[0]);
    ccp_audit_walk_init(&w);
    assert_int_equal(ccp_audit_archive_line(&w, trailing, strlen(trailing), "f:1", &err),
                     CCP_EINVAL);
}

/* A fresh state file with rows 1..6 at times 1000..1005. */
static sqlite3 *six_rows(char *path)
{
    strcpy(path, "/tmp/ccp-test-audit-archive-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    sqlite3 *db = NULL;
    ccp_error err = {0};
    assert_int_equal(ccp_keystore_open(path, &db, &err), 0);
    for (int i = 0; i < 6; i++) {
        char d[32];
        snprintf(d, sizeof d, "{\"i\":%d}", i);
        assert_int_equal(ccp_audit_append(db, 1000 + i, "request", d, &err), 0);
    }
    return db;
}

static void close_db(sqlite3 *db, const char *path)
{
    sqlite3_close(db);
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* What the archive file holds, as one string (owned by the caller). */
static char *contents(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *s = calloc(1, (size_t)n + 1);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

/* Feeds the file's lines to w. */
static int feed_text(ccp_audit_walk *w, char *text, ccp_error *err)
{
    int no = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char where[16];
        snprintf(where, sizeof where, "a:%d", ++no);
        int rc = ccp_audit_archive_line(w, line, strlen(line), where, err);
        if (rc) return rc;
    }
    return 0;
}

static void a_state_file_archive_moves_a_prefix_and_verifies_from_its_anchor(void **state)
{
    (void)state;
    char path[64];
    sqlite3 *db = six_rows(path);
    ccp_error err = {0};
    ccp_buf before = CCP_BUF_INIT;
    assert_int_equal(ccp_audit_export(db, 0, &before, &err), 0);
    FILE *f = tmpfile();
    ccp_audit_cut cut;
    assert_int_equal(ccp_audit_archive_write_db(db, 1003, f, &cut, &err), 0);
    assert_int_equal(cut.count, 3);
    assert_int_equal(cut.first_seq, 1);
    assert_int_equal(cut.last_seq, 3);
    assert_false(cut.had_anchor);
    char *text = contents(f);
    /* Exactly export's first three lines. */
    const char *third = before.data;
    for (int i = 0; i < 3; i++)
        third = strchr(third, '\n') + 1;
    assert_int_equal(strlen(text), (size_t)(third - before.data));
    assert_memory_equal(text, before.data, strlen(text));
    int64_t removed = 0, rows = 0, from = 0;
    assert_int_equal(ccp_audit_archive_trim_db(db, &cut, &removed, &err), 0);
    assert_int_equal(removed, 3);
    bool present;
    int64_t aseq;
    char ahash[65];
    assert_int_equal(ccp_audit_read_anchor(db, &present, &aseq, ahash, &err), 0);
    assert_true(present);
    assert_int_equal(aseq, 3);
    assert_string_equal(ahash, cut.last_hash);
    assert_int_equal(ccp_audit_verify_from(db, &rows, &from, &err), 0);
    assert_int_equal(from, 4);
    assert_int_equal(rows, 3);
    /* Appends go on after the anchor. */
    assert_int_equal(ccp_audit_append(db, 2000, "request", "{}", &err), 0);
    assert_int_equal(ccp_audit_verify(db, &rows, &err), 0);
    assert_int_equal(rows, 4);
    /* The archive, then the table: the whole history. */
    ccp_audit_walk w;
    ccp_audit_walk_init(&w);
    assert_int_equal(feed_text(&w, text, &err), 0);
    assert_int_equal(ccp_audit_archive_verify_db(db, &w, &rows, &err), 0);
    assert_int_equal(rows, 4);
    /* Without the archive the walk does not meet the anchor. */
    ccp_audit_walk_init(&w);
    assert_int_equal(ccp_audit_archive_verify_db(db, &w, &rows, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "the archives end at entry 0 but the state file's archive "
                                    "anchor (table audit_anchor) is entry 3"));
    free(text);
    fclose(f);
    ccp_buf_free(&before);
    close_db(db, path);
}

static void the_newest_row_stays_and_a_moved_start_cancels(void **state)
{
    (void)state;
    char path[64];
    sqlite3 *db = six_rows(path);
    ccp_error err = {0};
    FILE *f = tmpfile(), *g = tmpfile();
    ccp_audit_cut stale, cut;
    assert_int_equal(ccp_audit_archive_write_db(db, 1002, g, &stale, &err), 0);
    assert_int_equal(ccp_audit_archive_write_db(db, 99999, f, &cut, &err), 0);
    assert_int_equal(cut.count, 5); /* not row 6, the newest */
    int64_t removed = 0, rows = 0;
    assert_int_equal(ccp_audit_archive_trim_db(db, &cut, &removed, &err), 0);
    assert_int_equal(removed, 5);
    /* The stale archive (read before) no longer matches the start. */
    assert_int_equal(ccp_audit_archive_trim_db(db, &stale, &removed, &err), CCP_ECANCELED);
    assert_int_equal(removed, 0);
    assert_non_null(strstr(err.msg, "no longer starts at row 1"));
    assert_int_equal(ccp_audit_verify(db, &rows, &err), 0);
    assert_int_equal(rows, 1);
    /* Nothing more to archive: the newest row stays. */
    ccp_audit_cut none;
    assert_int_equal(ccp_audit_archive_write_db(db, 99999, g, &none, &err), 0);
    assert_int_equal(none.count, 0);
    assert_true(none.had_anchor);
    fclose(f);
    fclose(g);
    close_db(db, path);
}

static void a_tampered_state_file_anchor_is_named(void **state)
{
    (void)state;
    char path[64];
    sqlite3 *db = six_rows(path);
    ccp_error err = {0};
    FILE *f = tmpfile();
    ccp_audit_cut cut;
    int64_t removed, rows;
    assert_int_equal(ccp_audit_archive_write_db(db, 1002, f, &cut, &err), 0);
    assert_int_equal(ccp_audit_archive_trim_db(db, &cut, &removed, &err), 0);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE audit_anchor SET hash = '" ZERO_HASH "'", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(ccp_audit_verify(db, &rows, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit row 3 does not follow the archive anchor (table "
                                    "audit_anchor, row 2; its previous hash differs)"));
    /* The archive walk meets the anchor no more. */
    char *text = contents(f);
    ccp_audit_walk w;
    ccp_audit_walk_init(&w);
    assert_int_equal(feed_text(&w, text, &err), 0);
    assert_int_equal(ccp_audit_archive_verify_db(db, &w, &rows, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "archived entry 2 is not the state file's archive anchor"));
    assert_int_equal(sqlite3_exec(db, "UPDATE audit_anchor SET seq = 0", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(ccp_audit_verify(db, &rows, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "archive anchor (table audit_anchor) is malformed"));
    free(text);
    fclose(f);
    close_db(db, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_cutoff_is_an_age_or_a_utc_date),
        cmocka_unit_test(export_lines_verify_as_written_and_continue_across_files),
        cmocka_unit_test(an_edited_deleted_inserted_or_malformed_line_is_named),
        cmocka_unit_test(a_state_file_archive_moves_a_prefix_and_verifies_from_its_anchor),
        cmocka_unit_test(the_newest_row_stays_and_a_moved_start_cancels),
        cmocka_unit_test(a_tampered_state_file_anchor_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
