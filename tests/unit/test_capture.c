/* test_capture.c — the capture records: credentials masked by header name,
 * configured secrets redacted from every payload, bytes that are not
 * UTF-8 kept exactly (base64), the cap on an exchange's size, and the
 * writer's rotation by count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/json.h"
#include "debug/capture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static const char CFG[] = "providers:\n"
                          "  - name: oa\n"
                          "    format: openai-chat\n"
                          "    base_url: http://127.0.0.1:9/v1\n"
                          "    api_key: sk-provider-secret-1234\n"
                          "    headers: {X-Org: org-hidden-value-99}\n"
                          "router:\n"
                          "  default: oa/gpt-test\n";

static ccp_config *load(void)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("t.yaml", CFG, strlen(CFG), &c, &d), 0);
    ccp_diags_free(&d);
    return c;
}

static ccp_access_rec end_rec(ccp_access *a, uint64_t start)
{
    ccp_access_init(a);
    a->provider = "oa";
    return (ccp_access_rec){
        .id = "req_1", .status = 200, .start_ns = start, .end_ns = uv_hrtime(), .info = a};
}

/* The lines of text as parsed JSON objects; every line must parse. */
static size_t parse_lines(const char *text, json_object **out, size_t cap)
{
    size_t n = 0;
    for (const char *p = text; *p && n < cap;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        ccp_error err = {0};
        out[n] = ccp_json_parse(p, (size_t)(nl - p), &err);
        assert_non_null(out[n]);
        n++;
        p = nl + 1;
    }
    return n;
}

static void credentials_never_reach_the_file(void **state)
{
    (void)state;
    ccp_config *cfg = load();
    uint64_t t0 = uv_hrtime();
    ccp_capture_ex *x = ccp_capture_ex_new("req_1", t0, 1 << 20, cfg);
    ccp_header_view h[] = {{"content-type", "application/json"},
                           {"x-api-key", "client-key-abcdefgh"},
                           {"authorization", "Bearer client-bearer-zyxwvut"}};
    /* The body echoes the client's key: redacted all the same. */
    const char body[] = "{\"note\":\"client-key-abcdefgh\"}";
    ccp_request req = {.method = "POST",
                       .path = "/v1/messages",
                       .headers = h,
                       .n_headers = 3,
                       .body = body,
                       .body_len = strlen(body),
                       .id = "req_1",
                       .start_ns = t0};
    ccp_capture_request(x, &req);
    ccp_capture_route(x, "default", NULL, "stage=default", "claude", true);
    char *hdrs[] = {"Content-Type: application/json",
                    "Authorization: Bearer sk-provider-secret-1234", "X-Org: org-hidden-value-99"};
    const char out[] = "{\"k\":\"sk-provider-secret-1234\",\"o\":\"org-hidden-value-99\"}";
    ccp_capture_attempt(x, 0, "oa", "openai-chat", "gpt-test",
                        "http://user:pw@127.0.0.1:9/v1/chat/completions?key=sk-in-query-000", hdrs,
                        3, out, strlen(out));
    ccp_capture_upstream_header(x, "HTTP/1.1 200 OK\r\n", 17);
    ccp_capture_upstream_header(x, "Set-Cookie: session=abcdefghijkl\r\n", 34);
    ccp_capture_upstream_header(x, "Content-Type: text/event-stream\r\n", 33);
    ccp_capture_upstream_head(x, 200);
    ccp_capture_upstream_data(x, "data: {\"a\":1}\n\n", 15);
    const char bad[] = {'d', 'a', (char)0xE6, (char)0x97}; /* half a character */
    ccp_capture_upstream_data(x, bad, sizeof bad);
    ccp_capture_upstream_end(x, 0, NULL);
    ccp_capture_client(x, "HTTP/1.1 200 OK\r\n\r\n", 19, NULL);
    ccp_capture_client(x, "event: x\n\n", 10, NULL);
    ccp_access a;
    ccp_access_rec rec = end_rec(&a, t0);
    ccp_capture_end_record(x, &rec);
    ccp_buf text = CCP_BUF_INIT;
    ccp_capture_format(x, &text);
    ccp_capture_ex_free(x);

    assert_null(strstr(text.data, "client-key-abcdefgh"));
    assert_null(strstr(text.data, "client-bearer-zyxwvut"));
    assert_null(strstr(text.data, "sk-provider-secret-1234"));
    assert_null(strstr(text.data, "org-hidden-value-99"));
    assert_null(strstr(text.data, "sk-in-query-000"));
    assert_null(strstr(text.data, "session=abcdefghijkl"));
    assert_null(strstr(text.data, "user:pw"));
    assert_non_null(strstr(text.data, "[REDACTED]"));
    assert_non_null(strstr(text.data, "[\"x-api-key\",\"[masked]\"]"));

    json_object *l[16];
    size_t n = parse_lines(text.data, l, 16);
    static const char *const types[] = {
        "exchange",      "request",       "route",        "attempt", "upstream_head",
        "upstream_data", "upstream_data", "upstream_end", "client",  "end"};
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(ccp_json_get_str(l[i], "type"), types[i]);
    /* Valid UTF-8 is a string; half a character is base64 of the bytes. */
    assert_string_equal(ccp_json_get_str(l[5], "data"), "data: {\"a\":1}\n\n");
    ccp_buf raw = CCP_BUF_INIT;
    const char *b64 = ccp_json_get_str(l[6], "data_b64");
    assert_non_null(b64);
    assert_int_equal(ccp_capture_b64_decode(&raw, b64, strlen(b64)), 0);
    assert_int_equal(raw.len, sizeof bad);
    assert_memory_equal(raw.data, bad, sizeof bad);
    /* Consecutive client writes make one record. */
    assert_string_equal(ccp_json_get_str(l[8], "data"), "HTTP/1.1 200 OK\r\n\r\nevent: x\n\n");
    assert_int_equal(ccp_json_get_int(l[4], "status", 0), 200);
    assert_false(ccp_json_get_bool(l[9], "truncated", true));
    for (size_t i = 0; i < n; i++)
        json_object_put(l[i]);
    ccp_buf_free(&raw);
    ccp_buf_free(&text);
    ccp_config_unref(cfg);
}

static void an_exchange_over_max_bytes_is_cut_and_says_so(void **state)
{
    (void)state;
    uint64_t t0 = uv_hrtime();
    ccp_capture_ex *x = ccp_capture_ex_new("req_2", t0, 4096, NULL);
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 20; i++)
        ccp_capture_upstream_data(x, chunk, sizeof chunk);
    ccp_access a;
    ccp_access_rec rec = end_rec(&a, t0);
    ccp_capture_end_record(x, &rec);
    ccp_buf text = CCP_BUF_INIT;
    ccp_capture_format(x, &text);
    ccp_capture_ex_free(x);
    assert_true(text.len < 4096 + 1024);
    json_object *l[64];
    size_t n = parse_lines(text.data, l, 64);
    json_object *end = l[n - 1];
    assert_string_equal(ccp_json_get_str(end, "type"), "end");
    assert_true(ccp_json_get_bool(end, "truncated", false));
    assert_true(ccp_json_get_int(end, "left_out_bytes", 0) > 10000);
    /* The piece that passed the cap is kept up to it: its start is there. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ccp_json_get_str(l[i], "type"), "upstream_data"))
            kept += strlen(ccp_json_get_str(l[i], "data") ? ccp_json_get_str(l[i], "data") : "");
    assert_int_equal(kept + (size_t)ccp_json_get_int(end, "left_out_bytes", 0), 20000);
    for (size_t i = 0; i < n; i++)
        json_object_put(l[i]);
    ccp_buf_free(&text);
}

static void base64_round_trips_every_length(void **state)
{
    (void)state;
    unsigned char in[40];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 200);
    for (size_t n = 0; n <= sizeof in; n++) {
        ccp_buf e = CCP_BUF_INIT, d = CCP_BUF_INIT;
        ccp_capture_b64_encode(&e, in, n);
        assert_int_equal(e.len, (n + 2) / 3 * 4);
        assert_int_equal(ccp_capture_b64_decode(&d, e.data ? e.data : "", e.len), 0);
        assert_int_equal(d.len, n);
        if (n) assert_memory_equal(d.data, in, n);
        ccp_buf_free(&e);
        ccp_buf_free(&d);
    }
    ccp_buf d = CCP_BUF_INIT;
    assert_int_equal(ccp_capture_b64_decode(&d, "ab$c", 4), -1);
    ccp_buf_free(&d);
}

static void secret_headers_are_known_by_name(void **state)
{
    (void)state;
    static const char *const yes[] = {"authorization",       "x-api-key", "x-goog-api-key",
                                      "Proxy-Authorization", "cookie",    "x-auth-token"};
    static const char *const no[] = {"content-type", "accept", "anthropic-version", "x-request-id"};
    for (size_t i = 0; i < 6; i++)
        assert_true(ccp_capture_header_secret(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < 4; i++)
        assert_false(ccp_capture_header_secret(no[i], strlen(no[i])));
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".jsonl") && e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void the_writer_keeps_max_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/ccp-capture-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ccp_capture_config cc = {.dir = dir, .sample = 1.0, .max_bytes = 1 << 20, .max_files = 2};
    ccp_error err = {0};
    ccp_capture *cap = ccp_capture_new(&cc, &err);
    assert_non_null(cap);
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "req_%024d", i);
        ccp_request req = {.method = "POST",
                           .path = "/v1/messages",
                           .body = "{}",
                           .body_len = 2,
                           .id = id,
                           .start_ns = uv_hrtime()};
        ccp_capture_ex *x = ccp_capture_begin(cap, &req, NULL);
        assert_non_null(x);
        ccp_access a;
        ccp_access_rec rec = end_rec(&a, req.start_ns);
        ccp_capture_client(x, "x", 1, &rec); /* hands x to the writer */
    }
    ccp_capture_free(cap); /* writes what is queued */
    assert_int_equal(count_files(dir), 2);
    /* A second run counts the files already there. */
    cap = ccp_capture_new(&cc, &err);
    assert_non_null(cap);
    ccp_request req = {.method = "POST",
                       .path = "/v1/messages",
                       .body = "{}",
                       .body_len = 2,
                       .id = "req_zzzzzzzzzzzzzzzzzzzzzzzz",
                       .start_ns = uv_hrtime()};
    ccp_access a;
    ccp_access_rec rec = end_rec(&a, req.start_ns);
    ccp_capture_client(ccp_capture_begin(cap, &req, NULL), NULL, 0, &rec);
    ccp_capture_free(cap);
    assert_int_equal(count_files(dir), 2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void sample_zero_captures_nothing(void **state)
{
    (void)state;
    char dir[] = "/tmp/ccp-capture-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ccp_capture_config cc = {.dir = dir, .sample = 0.0, .max_bytes = 1 << 20, .max_files = 2};
    ccp_error err = {0};
    ccp_capture *cap = ccp_capture_new(&cc, &err);
    ccp_request req = {.method = "POST", .path = "/v1/messages", .id = "req_1"};
    assert_null(ccp_capture_begin(cap, &req, NULL));
    ccp_capture_free(cap);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(credentials_never_reach_the_file),
        cmocka_unit_test(an_exchange_over_max_bytes_is_cut_and_says_so),
        cmocka_unit_test(base64_round_trips_every_length),
        cmocka_unit_test(secret_headers_are_known_by_name),
        cmocka_unit_test(the_writer_keeps_max_files),
        cmocka_unit_test(sample_zero_captures_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
