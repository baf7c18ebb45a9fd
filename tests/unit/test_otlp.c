/* test_otlp.c — the exporter's options from config and environment, and
 * the OTLP JSON it writes (parsed back to check field names and types). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "obs/otlp.h"

#include <stdlib.h>
#include <string.h>

static void clear_env(void)
{
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    unsetenv("OTEL_SERVICE_NAME");
    unsetenv("OTEL_TRACES_SAMPLER_ARG");
    unsetenv("OTEL_EXPORTER_OTLP_HEADERS");
    unsetenv("OTEL_SDK_DISABLED");
}

static void nothing_configured_is_off(void **state)
{
    clear_env();
    ccp_telemetry_config t = {.sample_ratio = -1};
    ccp_otlp_opts o;
    ccp_error err = {0};
    assert_int_equal(ccp_otlp_resolve(&t, &o, &err), 0);
    assert_null(o.url);
    assert_null(ccp_otlp_new(&o));
    ccp_otlp_opts_free(&o);
}

static void the_environment_fills_what_the_file_leaves_out(void **state)
{
    clear_env();
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/", 1);
    setenv("OTEL_SERVICE_NAME", "svc", 1);
    setenv("OTEL_TRACES_SAMPLER_ARG", "0.5", 1);
    setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x-y = z", 1);
    ccp_telemetry_config t = {.sample_ratio = -1};
    ccp_otlp_opts o;
    ccp_error err = {0};
    assert_int_equal(ccp_otlp_resolve(&t, &o, &err), 0);
    assert_string_equal(o.url, "http://c:4318/v1/traces");
    assert_string_equal(o.service_name, "svc");
    assert_true(o.sample_ratio == 0.5);
    assert_int_equal(o.n_headers, 2);
    assert_string_equal(o.headers[0], "api-key: a b");
    assert_string_equal(o.headers[1], "x-y: z");
    ccp_otlp_opts_free(&o);

    /* The file wins; the traces endpoint is used as given. */
    ccp_kv h = {"authorization", "Bearer t"};
    ccp_telemetry_config f = {.otlp_endpoint = "https://f:1",
                              .service_name = "file",
                              .sample_ratio = 0,
                              .headers = &h,
                              .n_headers = 1};
    assert_int_equal(ccp_otlp_resolve(&f, &o, &err), 0);
    assert_string_equal(o.url, "https://f:1/v1/traces");
    assert_string_equal(o.service_name, "file");
    assert_true(o.sample_ratio == 0);
    assert_int_equal(o.n_headers, 1);
    ccp_otlp_opts_free(&o);
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9/custom", 1);
    assert_int_equal(ccp_otlp_resolve(&t, &o, &err), 0);
    assert_string_equal(o.url, "http://t:9/custom");
    ccp_otlp_opts_free(&o);
    setenv("OTEL_SDK_DISABLED", "true", 1);
    assert_int_equal(ccp_otlp_resolve(&t, &o, &err), 0);
    assert_null(o.url);
    ccp_otlp_opts_free(&o);
    clear_env();
}

static void bad_values_say_which(void **state)
{
    clear_env();
    ccp_otlp_opts o;
    ccp_error err = {0};
    ccp_telemetry_config t = {.otlp_endpoint = "grpc://c:4317", .sample_ratio = -1};
    assert_int_equal(ccp_otlp_resolve(&t, &o, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "telemetry.otlp_endpoint"));
    setenv("OTEL_TRACES_SAMPLER_ARG", "2", 1);
    t.otlp_endpoint = "http://c:4318";
    assert_int_equal(ccp_otlp_resolve(&t, &o, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "OTEL_TRACES_SAMPLER_ARG"));
    clear_env();
}

static ccp_span spans[2];

static const ccp_span *at(void *ud, size_t i)
{
    return &spans[i];
}

static json_object *attr(json_object *span, const char *key)
{
    json_object *list = ccp_json_get(span, "attributes");
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *kv = json_object_array_get_idx(list, i);
        if (!strcmp(ccp_json_get_str(kv, "key"), key)) return ccp_json_get(kv, "value");
    }
    return NULL;
}

static void spans_serialize_to_otlp_json(void **state)
{
    uint8_t tid[16], parent[8] = {0xab, 1, 2, 3, 4, 5, 6, 7};
    memset(tid, 0x11, sizeof tid);
    ccp_span_init(&spans[0], CCP_SPAN_SERVER, "POST /v1/messages", tid, parent);
    spans[0].start_ns = 1700000000000000000ULL;
    spans[0].end_ns = 1700000000500000000ULL;
    ccp_span_str(&spans[0], "gen_ai.request.model", "m\"x");
    ccp_span_int(&spans[0], "gen_ai.usage.input_tokens", 25);
    ccp_span_bool(&spans[0], "ccproxy.fallback", true);
    ccp_span_str_list1(&spans[0], "gen_ai.response.finish_reasons", "end_turn");
    ccp_span_status(&spans[0], CCP_STATUS_ERROR, "upstream failed");
    ccp_span_init(&spans[1], CCP_SPAN_CLIENT, "chat m", tid, spans[0].span_id);

    ccp_buf b = CCP_BUF_INIT;
    ccp_otlp_serialize(at, NULL, 2, "svc", &b);
    ccp_error err = {0};
    json_object *doc = ccp_json_parse(b.data, b.len, &err);
    assert_non_null(doc);
    json_object *rs = json_object_array_get_idx(ccp_json_get(doc, "resourceSpans"), 0);
    json_object *res_attrs = ccp_json_get(ccp_json_get(rs, "resource"), "attributes");
    json_object *svc = json_object_array_get_idx(res_attrs, 0);
    assert_string_equal(ccp_json_get_str(svc, "key"), "service.name");
    assert_string_equal(ccp_json_get_str(ccp_json_get(svc, "value"), "stringValue"), "svc");
    json_object *ss = json_object_array_get_idx(ccp_json_get(rs, "scopeSpans"), 0);
    json_object *list = ccp_json_get(ss, "spans");
    assert_int_equal(json_object_array_length(list), 2);
    json_object *s0 = json_object_array_get_idx(list, 0), *s1 = json_object_array_get_idx(list, 1);
    assert_string_equal(ccp_json_get_str(s0, "traceId"), "11111111111111111111111111111111");
    assert_string_equal(ccp_json_get_str(s0, "parentSpanId"), "ab01020304050607");
    assert_int_equal(strlen(ccp_json_get_str(s0, "spanId")), 16);
    assert_string_equal(ccp_json_get_str(s0, "name"), "POST /v1/messages");
    assert_int_equal(json_object_get_int(ccp_json_get(s0, "kind")), 2);
    assert_string_equal(ccp_json_get_str(s0, "startTimeUnixNano"), "1700000000000000000");
    assert_string_equal(ccp_json_get_str(attr(s0, "gen_ai.request.model"), "stringValue"), "m\"x");
    assert_string_equal(ccp_json_get_str(attr(s0, "gen_ai.usage.input_tokens"), "intValue"), "25");
    assert_true(json_object_get_boolean(ccp_json_get(attr(s0, "ccproxy.fallback"), "boolValue")));
    json_object *fr = ccp_json_get(
        ccp_json_get(attr(s0, "gen_ai.response.finish_reasons"), "arrayValue"), "values");
    assert_string_equal(ccp_json_get_str(json_object_array_get_idx(fr, 0), "stringValue"),
                        "end_turn");
    json_object *st = ccp_json_get(s0, "status");
    assert_int_equal(json_object_get_int(ccp_json_get(st, "code")), 2);
    assert_string_equal(ccp_json_get_str(st, "message"), "upstream failed");
    assert_string_equal(ccp_json_get_str(s1, "parentSpanId"), ccp_json_get_str(s0, "spanId"));
    assert_null(ccp_json_get(s1, "status") ? ccp_json_get(ccp_json_get(s1, "status"), "message")
                                           : NULL);
    json_object_put(doc);
    ccp_buf_free(&b);
}

static void a_full_queue_drops_and_counts_and_free_flushes_with_a_deadline(void **state)
{
    clear_env();
    /* Nobody listens on port 9 of localhost: exports fail at once. */
    ccp_telemetry_config t = {
        .otlp_endpoint = "http://127.0.0.1:9", .sample_ratio = -1, .max_queue_spans = 16};
    ccp_otlp_opts o;
    ccp_error err = {0};
    assert_int_equal(ccp_otlp_resolve(&t, &o, &err), 0);
    ccp_otlp *x = ccp_otlp_new(&o);
    assert_non_null(x);
    uint8_t tid[16] = {1};
    ccp_span_init(&spans[0], CCP_SPAN_SERVER, "s", tid, NULL);
    size_t refused = 0;
    for (int i = 0; i < 1000; i++)
        refused += !ccp_otlp_submit(x, &spans[0]);
    /* A queue of 16 cannot take 1000 spans at once: the rest are counted
     * as dropped, and submit returned at once each time. */
    assert_true(refused > 0);
    ccp_otlp_stats st;
    ccp_otlp_stats_get(x, &st);
    assert_true(st.dropped >= refused);
    assert_int_equal(st.exported, 0);
    ccp_otlp_free(x); /* returns: the failed flush gives up rather than hang */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_configured_is_off),
        cmocka_unit_test(the_environment_fills_what_the_file_leaves_out),
        cmocka_unit_test(bad_values_say_which),
        cmocka_unit_test(spans_serialize_to_otlp_json),
        cmocka_unit_test(a_full_queue_drops_and_counts_and_free_flushes_with_a_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
