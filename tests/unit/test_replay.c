/* test_replay.c — reading captures back: refusing what is not one, the
 * client's body with its chunked framing undone, and the line diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "debug/replay.h"

#include <string.h>

static void a_file_that_is_not_a_capture_is_refused(void **state)
{
    (void)state;
    ccp_replay r;
    ccp_error err = {0};
    const char junk[] = "{\"type\":\"request\"}\n";
    assert_int_equal(ccp_replay_load(junk, strlen(junk), &r, &err), CCP_EPARSE);
    assert_non_null(strstr(err.msg, "exchange"));
    const char bad[] = "{\"type\":\"exchange\"}\nnot json\n";
    assert_int_equal(ccp_replay_load(bad, strlen(bad), &r, &err), CCP_EPARSE);
    assert_non_null(strstr(err.msg, "line 2"));
}

static void the_client_body_is_unchunked(void **state)
{
    (void)state;
    /* The wire bytes split across records anywhere, one in base64. */
    const char text[] =
        "{\"type\":\"exchange\",\"t\":0}\n"
        "{\"type\":\"client\",\"t\":1,\"data\":\"HTTP/1.1 200 OK\\r\\ntransfer-encoding: "
        "chunked\\r\\n\\r\\n5\\r\\nhel\"}\n"
        "{\"type\":\"client\",\"t\":2,\"data_b64\":\"bG8NCjYNCiB3b3JsZA0K\"}\n"
        "{\"type\":\"client\",\"t\":3,\"data\":\"0\\r\\n\\r\\n\"}\n";
    ccp_replay r;
    ccp_error err = {0};
    assert_int_equal(ccp_replay_load(text, strlen(text), &r, &err), 0);
    ccp_buf body = CCP_BUF_INIT;
    int status = 0;
    assert_int_equal(ccp_replay_client_body(&r, &body, &status, &err), 0);
    assert_int_equal(status, 200);
    assert_int_equal(body.len, 11);
    assert_memory_equal(body.data, "hello world", 11);
    ccp_buf_free(&body);
    ccp_replay_free(&r);
}

static void the_diff_shows_only_what_changed(void **state)
{
    (void)state;
    const char a[] = "one\ntwo\nthree\nfour\n", b[] = "one\n2\nthree\nfour\nfive\n";
    ccp_buf d = CCP_BUF_INIT;
    assert_int_equal(ccp_replay_diff(a, strlen(a), b, strlen(b), &d), 3);
    assert_string_equal(d.data, "-two\n+2\n+five\n");
    ccp_buf_reset(&d);
    assert_int_equal(ccp_replay_diff(a, strlen(a), a, strlen(a), &d), 0);
    ccp_buf_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_file_that_is_not_a_capture_is_refused),
        cmocka_unit_test(the_client_body_is_unchunked),
        cmocka_unit_test(the_diff_shows_only_what_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
