/* test_redis_audit.c — the audit stream's chain apart from Redis: rows
 * chained after a head verify; chained again after a head that moved
 * (what an instance does when its compare-and-set loses), they verify
 * after the new head and not after the old; the walk names an edited,
 * deleted, repeated, inserted or malformed entry, and a head that says
 * newer entries existed; after an archive anchor the walk starts there and
 * names the anchor when the first entry left does not follow it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "teams/audit.h"
#include "teams/redis_audit.h"

#include <stdio.h>
#include <string.h>

static const char ZERO[] = "0000000000000000000000000000000000000000000000000000000000000000";

#define N 5
static int64_t times[N] = {1000, 1001, 1002, 1003, 1004};
static const char *kinds[N] = {"config.load", "request", "request", "request.refused", "request"};
static const char *datas[N] = {"{\"a\":1}", "{\"request_id\":\"r1\"}", "{\"request_id\":\"r2\"}",
                               "{\"reason\":\"x\"}", "{\"request_id\":\"r3\"}"};

/* Feeds links[from, to) to the walk as stream entries. */
static int feed(ccp_audit_walk *w, const ccp_audit_link *links, int from, int to, ccp_error *err)
{
    for (int i = from; i < to; i++) {
        char id[32], seq[24], t[24];
        snprintf(id, sizeof id, "1-%d", i);
        snprintf(seq, sizeof seq, "%lld", (long long)links[i].seq);
        snprintf(t, sizeof t, "%lld", (long long)times[i]);
        int rc = ccp_audit_walk_entry(w, id, seq, t, kinds[i], datas[i], links[i].prev,
                                      links[i].hash, err);
        if (rc) return rc;
    }
    return 0;
}

static void rows_chained_after_the_empty_head_verify(void **state)
{
    (void)state;
    ccp_audit_link l[N];
    ccp_redis_audit_chain(0, ZERO, N, times, kinds, datas, l);
    assert_int_equal(l[0].seq, 1);
    assert_string_equal(l[0].prev, ZERO);
    for (int i = 1; i < N; i++) {
        assert_int_equal(l[i].seq, i + 1);
        assert_string_equal(l[i].prev, l[i - 1].hash);
    }
    /* The same hash as the state file's chain (audit.c). */
    char h[65];
    ccp_audit_row_hash(ZERO, 1, times[0], kinds[0], datas[0], h);
    assert_string_equal(l[0].hash, h);
    ccp_audit_walk w;
    ccp_error err = {0};
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, l, 0, N, &err), 0);
    char hs[24];
    snprintf(hs, sizeof hs, "%d", N);
    assert_int_equal(ccp_audit_walk_end(&w, hs, l[N - 1].hash, &err), 0);
    assert_int_equal(w.rows, N);
}

/* Instance X computed rows 3..5 after head 2; instance Y appended two
 * rows first (the head is now 4): X's script is refused, X chains its
 * rows again after head 4 and the stream is one chain of 7. */
static void rows_chained_again_after_a_moved_head_make_one_chain(void **state)
{
    (void)state;
    ccp_audit_link y[2], stale[3], x[3];
    int64_t ty[2] = {1, 2}, tx[3] = {3, 4, 5};
    const char *ky[2] = {"request", "request"}, *kx[3] = {"request", "request", "request"};
    const char *dy[2] = {"{\"i\":\"y1\"}", "{\"i\":\"y2\"}"};
    const char *dx[3] = {"{\"i\":\"x1\"}", "{\"i\":\"x2\"}", "{\"i\":\"x3\"}"};
    ccp_audit_link head[2];
    int64_t th[2] = {10, 11};
    const char *kh[2] = {"config.load", "config.load"}, *dh[2] = {"{}", "{\"b\":2}"};
    ccp_redis_audit_chain(0, ZERO, 2, th, kh, dh, head);
    ccp_redis_audit_chain(2, head[1].hash, 3, tx, kx, dx, stale);
    ccp_redis_audit_chain(2, head[1].hash, 2, ty, ky, dy, y);
    ccp_redis_audit_chain(y[1].seq, y[1].hash, 3, tx, kx, dx, x);
    assert_int_equal(x[0].seq, 5);
    assert_string_equal(x[0].prev, y[1].hash);
    assert_string_not_equal(x[0].hash, stale[0].hash);
    /* Walk the stream as Redis holds it: head rows, Y's, then X's. */
    ccp_audit_walk w;
    ccp_error err = {0};
    ccp_audit_walk_init(&w);
    char seq[24], t[24];
    const ccp_audit_link *all[7] = {&head[0], &head[1], &y[0], &y[1], &x[0], &x[1], &x[2]};
    const int64_t *ts[7] = {&th[0], &th[1], &ty[0], &ty[1], &tx[0], &tx[1], &tx[2]};
    const char *ks[7] = {kh[0], kh[1], ky[0], ky[1], kx[0], kx[1], kx[2]};
    const char *ds[7] = {dh[0], dh[1], dy[0], dy[1], dx[0], dx[1], dx[2]};
    for (int i = 0; i < 7; i++) {
        snprintf(seq, sizeof seq, "%lld", (long long)all[i]->seq);
        snprintf(t, sizeof t, "%lld", (long long)*ts[i]);
        assert_int_equal(
            ccp_audit_walk_entry(&w, "1-0", seq, t, ks[i], ds[i], all[i]->prev, all[i]->hash, &err),
            0);
    }
    assert_int_equal(ccp_audit_walk_end(&w, "7", x[2].hash, &err), 0);
    /* The stale rows (had the script taken them) would not follow Y's. */
    ccp_audit_walk_init(&w);
    for (int i = 0; i < 4; i++) {
        snprintf(seq, sizeof seq, "%lld", (long long)all[i]->seq);
        snprintf(t, sizeof t, "%lld", (long long)*ts[i]);
        assert_int_equal(
            ccp_audit_walk_entry(&w, "1-0", seq, t, ks[i], ds[i], all[i]->prev, all[i]->hash, &err),
            0);
    }
    assert_int_equal(
        ccp_audit_walk_entry(&w, "1-9", "5", "3", kx[0], dx[0], stale[0].prev, stale[0].hash, &err),
        CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 5 (1-9) does not follow entry 4"));
}

static void an_edited_entry_is_named(void **state)
{
    (void)state;
    ccp_audit_link l[N];
    ccp_redis_audit_chain(0, ZERO, N, times, kinds, datas, l);
    ccp_audit_walk w;
    ccp_error err = {0};
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, l, 0, 2, &err), 0);
    assert_int_equal(ccp_audit_walk_entry(&w, "7-1", "3", "1002", "request",
                                          "{\"request_id\":\"rX\"}", l[2].prev, l[2].hash, &err),
                     CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 3 (7-1) was edited"));
    assert_int_equal(w.rows, 2);
}

static void a_deleted_entry_is_named(void **state)
{
    (void)state;
    ccp_audit_link l[N];
    ccp_redis_audit_chain(0, ZERO, N, times, kinds, datas, l);
    ccp_audit_walk w;
    ccp_error err = {0};
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, l, 0, 2, &err), 0);
    assert_int_equal(feed(&w, l, 3, N, &err), CCP_EINVAL); /* entry 3 gone */
    assert_non_null(strstr(err.msg, "audit entry 3 is missing (entry 1-3 is 4)"));
    /* The newest deleted: only the head tells. */
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, l, 0, N - 1, &err), 0);
    assert_int_equal(ccp_audit_walk_end(&w, "5", l[N - 1].hash, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entries 5 to 5 are missing"));
    /* Everything deleted but the head. */
    ccp_audit_walk_init(&w);
    assert_int_equal(ccp_audit_walk_end(&w, "5", l[N - 1].hash, &err), CCP_EINVAL);
    /* The head deleted with entries there. */
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, l, 0, N, &err), 0);
    assert_int_equal(ccp_audit_walk_end(&w, NULL, NULL, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "head"));
    /* Nothing at all: an empty record verifies. */
    ccp_audit_walk_init(&w);
    assert_int_equal(ccp_audit_walk_end(&w, NULL, NULL, &err), 0);
}

static void a_repeated_inserted_or_malformed_entry_is_named(void **state)
{
    (void)state;
    ccp_audit_link l[N];
    ccp_redis_audit_chain(0, ZERO, N, times, kinds, datas, l);
    ccp_audit_walk w;
    ccp_error err = {0};
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, l, 0, 3, &err), 0);
    assert_int_equal(feed(&w, l, 2, 3, &err), CCP_EINVAL); /* entry 3 again */
    assert_non_null(strstr(err.msg, "audit entry 1-2 repeats entry 3"));
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, l, 0, 3, &err), 0);
    assert_int_equal(
        ccp_audit_walk_entry(&w, "9-9", "x4", "1", "request", "{}", l[2].hash, l[2].hash, &err),
        CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 9-9 (after entry 3) is not one ccproxy wrote"));
    assert_int_equal(
        ccp_audit_walk_entry(&w, "9-9", "4", "1", "request", NULL, l[2].hash, l[2].hash, &err),
        CCP_EINVAL);
    /* A forged entry with a right hash after the real last one: the head
     * says the chain ends before it. */
    char forged[65];
    ccp_audit_walk_init(&w);
    assert_int_equal(feed(&w, l, 0, N, &err), 0);
    ccp_audit_row_hash(l[N - 1].hash, N + 1, 1, "request", "{}", forged);
    char seq[24];
    snprintf(seq, sizeof seq, "%d", N + 1);
    assert_int_equal(
        ccp_audit_walk_entry(&w, "9-9", seq, "1", "request", "{}", l[N - 1].hash, forged, &err), 0);
    assert_int_equal(ccp_audit_walk_end(&w, "5", l[N - 1].hash, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 6 is not the chain's head (the head is 5"));
}

/* Entries 1..2 archived: the walk starts at the anchor (2, its hash) and
 * verifies 3..5 and the head; an anchor with another hash or seq, or the
 * first entry after it deleted, fails naming the entry and the anchor. */
static void a_walk_from_an_anchor_verifies_the_rest_and_names_a_bad_anchor(void **state)
{
    (void)state;
    ccp_audit_link l[N];
    ccp_redis_audit_chain(0, ZERO, N, times, kinds, datas, l);
    ccp_audit_walk w;
    ccp_error err = {0};
    char hs[24];
    snprintf(hs, sizeof hs, "%d", N);
    ccp_audit_walk_init(&w);
    ccp_audit_walk_anchor(&w, 2, l[1].hash, "A");
    assert_int_equal(w.want, 3);
    assert_int_equal(feed(&w, l, 2, N, &err), 0);
    assert_null(w.anchor_name); /* only the first entry after it */
    assert_int_equal(ccp_audit_walk_end(&w, hs, l[N - 1].hash, &err), 0);
    assert_int_equal(w.rows, N - 2);
    /* Everything archived: the anchor is the head. */
    ccp_audit_walk_init(&w);
    ccp_audit_walk_anchor(&w, N, l[N - 1].hash, "A");
    assert_int_equal(ccp_audit_walk_end(&w, hs, l[N - 1].hash, &err), 0);
    /* ... with the head then moved on by an entry that is gone. */
    assert_int_equal(ccp_audit_walk_end(&w, "6", "ff", &err), CCP_EINVAL);
    /* The anchor's hash edited. */
    ccp_audit_walk_init(&w);
    ccp_audit_walk_anchor(&w, 2, l[0].hash, "A");
    assert_int_equal(feed(&w, l, 2, N, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 3 (1-2) does not follow the archive anchor (A, "
                                    "entry 2; its previous hash differs)"));
    /* Its seq moved back or on. */
    ccp_audit_walk_init(&w);
    ccp_audit_walk_anchor(&w, 1, l[1].hash, "A");
    assert_int_equal(feed(&w, l, 2, N, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 2 is missing (entry 1-2 is 3): entries after "
                                    "the archive anchor (A, entry 1)"));
    ccp_audit_walk_init(&w);
    ccp_audit_walk_anchor(&w, 3, l[1].hash, "A");
    assert_int_equal(feed(&w, l, 2, N, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 1-2 is entry 3, yet the archive anchor (A) says "
                                    "entries up to 3 were archived"));
    /* The first entry after a right anchor deleted. */
    ccp_audit_walk_init(&w);
    ccp_audit_walk_anchor(&w, 2, l[1].hash, "A");
    assert_int_equal(feed(&w, l, 3, N, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 3 is missing (entry 1-3 is 4)"));
    /* An entry edited after the anchor is named as without one. */
    ccp_audit_walk_init(&w);
    ccp_audit_walk_anchor(&w, 2, l[1].hash, "A");
    assert_int_equal(feed(&w, l, 2, 3, &err), 0);
    assert_int_equal(
        ccp_audit_walk_entry(&w, "7-1", "4", "1003", "request", "{}", l[3].prev, l[3].hash, &err),
        CCP_EINVAL);
    assert_non_null(strstr(err.msg, "audit entry 4 (7-1) was edited"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_chained_after_the_empty_head_verify),
        cmocka_unit_test(rows_chained_again_after_a_moved_head_make_one_chain),
        cmocka_unit_test(an_edited_entry_is_named),
        cmocka_unit_test(a_deleted_entry_is_named),
        cmocka_unit_test(a_repeated_inserted_or_malformed_entry_is_named),
        cmocka_unit_test(a_walk_from_an_anchor_verifies_the_rest_and_names_a_bad_anchor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
