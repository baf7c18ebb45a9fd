/* test_audit.c — the audit hash chain: rows appended by the keystore and by
 * hand verify; an edited row, a deleted row in the middle and a rewritten
 * previous hash are each caught at the right row; export writes one JSON
 * object per line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "teams/audit.h"
#include "teams/keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sqlite3 *open_temp(char *path)
{
    strcpy(path, "/tmp/ccp-test-audit-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    sqlite3 *db = NULL;
    ccp_error err = {0};
    assert_int_equal(ccp_keystore_open(path, &db, &err), 0);
    return db;
}

static void close_temp(sqlite3 *db, const char *path)
{
    sqlite3_close(db);
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static sqlite3 *five_rows(char *path)
{
    sqlite3 *db = open_temp(path);
    ccp_error err = {0};
    ccp_keyrec k = {.name = "alice"};
    char secret[CCP_KEY_SECRET_MAX];
    assert_int_equal(ccp_keystore_create(db, &k, secret, &err), 0);
    assert_int_equal(ccp_keystore_rotate(db, "alice", secret, &err), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ccp_audit_append(db, 1000 + i, "request", "{\"status\":200}", &err), 0);
    return db;
}

static void an_untouched_chain_verifies(void **state)
{
    char path[64];
    sqlite3 *db = five_rows(path);
    int64_t rows = 0;
    ccp_error err = {0};
    assert_int_equal(ccp_audit_verify(db, &rows, &err), 0);
    assert_int_equal(rows, 5);
    ccp_buf b = CCP_BUF_INIT;
    assert_int_equal(ccp_audit_export(db, 3, &b, &err), 0);
    assert_non_null(strstr(b.data, "{\"seq\":4,\"time_ms\":1001,\"kind\":\"request\",\"data\":{"
                                   "\"status\":200},\"hash\":\""));
    assert_null(strstr(b.data, "\"seq\":3"));
    ccp_buf_free(&b);
    close_temp(db, path);
}

static void an_edited_row_is_caught_at_that_row(void **state)
{
    char path[64];
    sqlite3 *db = five_rows(path);
    ccp_error err = {0};
    assert_int_equal(
        ccp_keystore_exec(db, "UPDATE audit SET data = '{\"status\":500}' WHERE seq = 4", &err), 0);
    int64_t rows = 0;
    assert_int_equal(ccp_audit_verify(db, &rows, &err), CCP_EINVAL);
    assert_int_equal(rows, 3);
    assert_non_null(strstr(err.msg, "audit row 4 was edited"));
    close_temp(db, path);
}

static void a_deleted_row_is_caught(void **state)
{
    char path[64];
    sqlite3 *db = five_rows(path);
    ccp_error err = {0};
    assert_int_equal(ccp_keystore_exec(db, "DELETE FROM audit WHERE seq = 2", &err), 0);
    int64_t rows = 0;
    assert_int_equal(ccp_audit_verify(db, &rows, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit row 2 is missing"));
    /* Renumbering to hide the gap breaks the chain instead. */
    assert_int_equal(ccp_keystore_exec(db, "UPDATE audit SET seq = seq - 1 WHERE seq > 2", &err),
                     0);
    assert_int_equal(ccp_audit_verify(db, &rows, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit row 2 does not follow row 1"));
    close_temp(db, path);
}

static void a_row_rehashed_without_its_successor_is_caught(void **state)
{
    char path[64];
    sqlite3 *db = five_rows(path);
    ccp_error err = {0};
    /* Someone edits row 3 and recomputes its hash, but not row 4's link. */
    char h[65];
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT prev, time_ms, kind FROM audit WHERE seq = 3",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    ccp_audit_row_hash((const char *)sqlite3_column_text(st, 0), 3, sqlite3_column_int64(st, 1),
                       (const char *)sqlite3_column_text(st, 2), "{\"status\":201}", h);
    sqlite3_finalize(st);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE audit SET data = '{\"status\":201}', hash = '%s' WHERE seq = 3", h);
    assert_int_equal(ccp_keystore_exec(db, sql, &err), 0);
    int64_t rows = 0;
    assert_int_equal(ccp_audit_verify(db, &rows, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit row 4 does not follow row 3"));
    close_temp(db, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_untouched_chain_verifies),
        cmocka_unit_test(an_edited_row_is_caught_at_that_row),
        cmocka_unit_test(a_deleted_row_is_caught),
        cmocka_unit_test(a_row_rehashed_without_its_successor_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
