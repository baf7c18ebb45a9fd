/* test_metrics.c — counting in shards, summing at scrape, bounded labels,
 * escaping, and both exposition formats. (promtool and a real Prometheus
 * check the output in tests/e2e/observability.test.mjs.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "obs/metrics.h"

#include <string.h>

static ccp_config *load(const char *yaml)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    int rc = ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, &d);
    if (rc) ccp_diags_print(&d, stderr);
    ccp_diags_free(&d);
    assert_int_equal(rc, 0);
    return c;
}

static const char *YAML = "providers:\n"
                          "  - {name: a, format: anthropic, base_url: 'http://x', models: [m1, "
                          "'q\"uote']}\n"
                          "  - {name: b, format: anthropic, base_url: 'http://y'}\n"
                          "router:\n"
                          "  default: [a/m1, b/bm]\n";

static void has(const char *text, const char *line)
{
    if (!strstr(text, line)) fail_msg("missing '%s' in:\n%s", line, text);
}

static ccp_access_rec rec_for(ccp_access *a, const char *path, int status, uint64_t dur_ns)
{
    return (ccp_access_rec){.id = "req_x",
                            .method = "POST",
                            .path = path,
                            .status = status,
                            .start_ns = 1000,
                            .end_ns = 1000 + dur_ns,
                            .info = a};
}

static void requests_are_summed_over_shards_with_bounded_labels(void **state)
{
    (void)state;
    ccp_config *cfg = load(YAML);
    ccp_metrics *m = ccp_metrics_new(cfg);
    ccp_metrics_shard *s1 = ccp_metrics_shard_new(m), *s2 = ccp_metrics_shard_new(m);
    ccp_access a;
    ccp_access_init(&a);
    ccp_metrics_request_begin(s1, &a);
    a.stage = "thinking";
    a.provider = "a";
    a.upstream_model = "m1";
    a.stream = true;
    a.attempts = 1;
    a.output_tokens = 7;
    a.upstream_wait_ns = 800000000; /* 0.8 of the 1 s below */
    a.first_token_ns = 1000 + 200000000;
    ccp_access_rec r = rec_for(&a, "/v1/messages", 200, 1000000000);
    ccp_metrics_request_end(s1, &r);
    ccp_metrics_request_end(s2, &r);
    /* Models and providers the config does not name fold into "other". */
    ccp_access o;
    ccp_access_init(&o);
    o.provider = "a";
    o.upstream_model = "client-invented";
    ccp_access_rec ro = rec_for(&o, "/v1/messages", 502, 1000);
    ccp_metrics_request_end(s2, &ro);
    o.provider = "gone-after-reload";
    ccp_metrics_request_end(s2, &ro);
    ccp_access none;
    ccp_access_init(&none);
    ccp_access_rec rn = rec_for(&none, "/no/such/path", 404, 1000);
    rn.client_gone = true;
    ccp_metrics_request_end(s1, &rn);
    ccp_metrics_attempt(s1, "b", ccp_metrics_outcome(CCP_ETIMEOUT, 0));
    ccp_metrics_attempt(s2, "b", ccp_metrics_outcome(0, 429));
    ccp_metrics_fallback(s1, "b", "a");
    ccp_metrics_streams(s1, 1);
    ccp_metrics_streams(s2, 1);
    ccp_metrics_streams(s1, -1);

    ccp_buf b = CCP_BUF_INIT;
    ccp_metrics_write(m, &b, false);
    has(b.data, "ccproxy_requests_total{endpoint=\"/v1/messages\",stage=\"thinking\",provider="
                "\"a\",model=\"m1\",status_class=\"2xx\"} 2\n");
    has(b.data, "ccproxy_requests_total{endpoint=\"/v1/messages\",stage=\"none\",provider=\"a\","
                "model=\"other\",status_class=\"5xx\"} 1\n");
    has(b.data, "ccproxy_requests_total{endpoint=\"/v1/messages\",stage=\"none\",provider="
                "\"other\",model=\"other\",status_class=\"5xx\"} 1\n");
    has(b.data, "ccproxy_requests_total{endpoint=\"other\",stage=\"none\",provider=\"none\","
                "model=\"none\",status_class=\"4xx\"} 1\n");
    assert_null(strstr(b.data, "client-invented"));
    assert_null(strstr(b.data, "gone-after-reload"));
    has(b.data, "ccproxy_request_duration_seconds_bucket{provider=\"a\",model=\"m1\",stream="
                "\"true\",le=\"0.5\"} 0\n");
    has(b.data, "ccproxy_request_duration_seconds_bucket{provider=\"a\",model=\"m1\",stream="
                "\"true\",le=\"1\"} 2\n");
    has(b.data, "ccproxy_request_duration_seconds_count{provider=\"a\",model=\"m1\",stream="
                "\"true\"} 2\n");
    has(b.data, "ccproxy_request_duration_seconds_sum{provider=\"a\",model=\"m1\",stream="
                "\"true\"} 2.000000\n");
    has(b.data, "ccproxy_time_to_first_token_seconds_bucket{provider=\"a\",model=\"m1\",stream="
                "\"true\",le=\"0.25\"} 2\n");
    has(b.data, "ccproxy_overhead_seconds_bucket{le=\"0.1\"} 0\n");
    has(b.data, "ccproxy_overhead_seconds_bucket{le=\"0.25\"} 2\n");
    has(b.data, "ccproxy_tokens_total{provider=\"a\",model=\"m1\",kind=\"output\"} 14\n");
    has(b.data, "ccproxy_upstream_attempts_total{provider=\"b\",outcome=\"timeout\"} 1\n");
    has(b.data, "ccproxy_upstream_attempts_total{provider=\"b\",outcome=\"429\"} 1\n");
    has(b.data, "ccproxy_fallbacks_total{from=\"b\",to=\"a\"} 1\n");
    has(b.data, "ccproxy_in_flight_requests 0\n");
    has(b.data, "ccproxy_open_streams 1\n");
    has(b.data, "ccproxy_client_disconnects_total 1\n");
    has(b.data, "ccproxy_retries_total 0\n");
    has(b.data, "# TYPE ccproxy_requests_total counter\n");
    has(b.data, "# TYPE ccproxy_build_info gauge\n");
    assert_null(strstr(b.data, "# EOF"));
    ccp_buf_free(&b);

    /* OpenMetrics: counter families without _total, info, # EOF last. */
    ccp_metrics_write(m, &b, true);
    has(b.data, "# TYPE ccproxy_requests counter\n");
    has(b.data, "# TYPE ccproxy_build info\n");
    has(b.data, "ccproxy_build_info{version=\"" CCP_VERSION "\"} 1\n");
    assert_string_equal(b.data + b.len - 6, "# EOF\n");
    ccp_buf_free(&b);
    ccp_metrics_free(m);
    ccp_config_unref(cfg);
}

static void label_values_are_escaped(void **state)
{
    (void)state;
    ccp_config *cfg = load(YAML);
    ccp_metrics *m = ccp_metrics_new(cfg);
    ccp_metrics_shard *s = ccp_metrics_shard_new(m);
    ccp_access a;
    ccp_access_init(&a);
    a.provider = "a";
    a.upstream_model = "q\"uote";
    ccp_access_rec r = rec_for(&a, "/v1/messages", 200, 1000);
    ccp_metrics_request_end(s, &r);
    ccp_buf b = CCP_BUF_INIT;
    ccp_metrics_write(m, &b, false);
    has(b.data, "model=\"q\\\"uote\"");
    ccp_buf_free(&b);
    ccp_metrics_free(m);
    ccp_config_unref(cfg);
}

static void outcomes_map_results_and_statuses(void **state)
{
    (void)state;
    assert_int_equal(ccp_metrics_outcome(0, 200), CCP_OUTCOME_OK);
    assert_int_equal(ccp_metrics_outcome(0, 404), CCP_OUTCOME_HTTP_4XX);
    assert_int_equal(ccp_metrics_outcome(0, 429), CCP_OUTCOME_429);
    assert_int_equal(ccp_metrics_outcome(0, 529), CCP_OUTCOME_HTTP_5XX);
    assert_int_equal(ccp_metrics_outcome(CCP_ETIMEOUT, 0), CCP_OUTCOME_TIMEOUT);
    assert_int_equal(ccp_metrics_outcome(CCP_ECANCELED, 200), CCP_OUTCOME_CANCELLED);
    assert_int_equal(ccp_metrics_outcome(CCP_EUPSTREAM, 0), CCP_OUTCOME_CONNECT_ERROR);
    assert_true(ccp_metrics_wants_openmetrics(
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"));
    assert_false(ccp_metrics_wants_openmetrics("text/plain"));
    assert_false(ccp_metrics_wants_openmetrics(NULL));
    /* Metrics off: every call takes a NULL shard. */
    ccp_access a;
    ccp_access_init(&a);
    ccp_metrics_request_begin(NULL, &a);
    assert_false(a.in_flight);
    ccp_metrics_attempt(NULL, "a", CCP_OUTCOME_OK);
    assert_null(ccp_metrics_shard_new(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(requests_are_summed_over_shards_with_bounded_labels),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(outcomes_map_results_and_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
