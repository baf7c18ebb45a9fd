/* Tests of exchange.c: preparing an attempt (copies while fallbacks remain,
 * hooks on the body tree, one serialization, errors by step) and judging
 * how one ended. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/json.h"
#include "exchange/exchange.h"

#include <stdlib.h>
#include <string.h>

static const char yaml[] =
    "pipelines:\n"
    "  edit:\n"
    "    - use: max-tokens\n"
    "      with: {set: 77}\n"
    "    - use: extra-body\n"
    "      with: {body: {route_tag: first}}\n"
    "providers:\n"
    "  - {name: a, format: openai-chat, base_url: 'http://a.test/v1', pipeline: edit}\n"
    "  - {name: b, base_url: 'http://b.test'}\n"
    "router:\n"
    "  default: [a/model-a, b/model-b]\n";

static ccp_config *load(void)
{
    ccp_diags d = {0};
    ccp_config *c = NULL;
    if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, &d) != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("config");
    }
    ccp_diags_free(&d);
    return c;
}

static json_object *parse(const char *s)
{
    json_object *o = ccp_json_parse(s, strlen(s), NULL);
    assert_non_null(o);
    return o;
}

/* Routes the request text with the test config into an exchange that owns
 * the parsed request. */
static ccp_exchange routed(ccp_config *cfg, const char *text, ccp_route_choice *choice)
{
    json_object *req = parse(text);
    ccp_error err;
    assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, choice, &err), 0);
    return (ccp_exchange){.choice = choice, .request = req, .client_model = "claude"};
}

static void each_target_starts_from_the_clients_request(void **state)
{
    ccp_config *cfg = load();
    ccp_route_choice choice;
    ccp_exchange ex = routed(cfg,
                             "{\"model\":\"claude\",\"max_tokens\":5,\"messages\":[{\"role\":"
                             "\"user\",\"content\":\"hi\"}]}",
                             &choice);
    ccp_attempt a;
    ccp_prep_error pe;

    /* The first target's hooks edit a copy; its body is sealed with both
     * the request hook's and the outbound hook's edits. */
    if (ccp_exchange_prepare(&ex, &a, &pe) != 0) fail_msg("prepare: %s", pe.err.msg);
    assert_null(a.out.json);
    json_object *body = parse(a.out.body.data);
    assert_int_equal(ccp_json_get_int(body, "max_tokens", 0), 77);
    assert_string_equal(ccp_json_get_str(body, "route_tag"), "first");
    assert_string_equal(ccp_json_get_str(body, "model"), "model-a");
    json_object_put(body);
    assert_int_equal(ccp_json_get_int(ex.request, "max_tokens", 0), 5);
    assert_string_equal(ccp_json_get_str(ex.request, "model"), "claude");
    ccp_attempt_free(&a);

    /* The last target still copies while it may be retried... */
    assert_true(ccp_exchange_next(&ex));
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), 0);
    assert_non_null(ex.request);
    ccp_attempt_free(&a);
    /* ...and its last try takes the request itself. */
    ex.tries = (unsigned)ex.choice->route->targets[1].provider->retry.attempts - 1;
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), 0);
    assert_null(ex.request);
    body = parse(a.out.body.data);
    assert_int_equal(ccp_json_get_int(body, "max_tokens", 0), 5);
    assert_null(ccp_json_get(body, "route_tag"));
    assert_string_equal(ccp_json_get_str(body, "model"), "model-b");
    json_object_put(body);
    ccp_attempt_free(&a);
    assert_false(ccp_exchange_next(&ex));

    ccp_exchange_free(&ex);
    ccp_route_choice_free(&choice);
    ccp_config_unref(cfg);
}

static void a_request_that_cannot_be_encoded_is_a_400_at_the_encode_step(void **state)
{
    ccp_config *cfg = load();
    ccp_route_choice choice;
    ccp_exchange ex = routed(
        cfg, "{\"model\":\"claude\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", &choice);
    ccp_attempt a;
    ccp_prep_error pe;
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), -1);
    assert_int_equal(pe.step, CCP_PREP_ENCODE);
    assert_int_equal(pe.status, 400);
    assert_string_equal(pe.type, "invalid_request_error");
    assert_non_null(strstr(pe.err.msg, "messages.0.content"));
    ccp_exchange_free(&ex);
    ccp_route_choice_free(&choice);
    ccp_config_unref(cfg);
}

static void which_endings_fall_back(void **state)
{
    /* No retries here (attempts 1): what is left is the fallback rule. */
    ccp_provider p = {.name = "p", .retry = {.attempts = 1}};
    ccp_target targets[2] = {{&p, NULL}, {&p, NULL}};
    ccp_route route = {targets, 2};
    ccp_route_choice choice = {.route = &route};
    json_object *req = json_object_new_object();
    ccp_exchange ex = {.choice = &choice, .request = req};
    ccp_attempt a = {.target = targets[0], .key = -1};
    static const struct {
        int result, status;
        bool answered;
        ccp_verdict want;
    } cases[] = {
        {0, 200, false, CCP_VERDICT_DONE},
        {0, 200, true, CCP_VERDICT_DONE},
        {CCP_ETIMEOUT, 0, false, CCP_VERDICT_FALL_BACK},
        {CCP_EUPSTREAM, 0, false, CCP_VERDICT_FALL_BACK},
        {CCP_EUPSTREAM, 200, true, CCP_VERDICT_FAIL}, /* cut after the stream began */
        {0, 408, false, CCP_VERDICT_FALL_BACK},
        {0, 429, false, CCP_VERDICT_FALL_BACK},
        {0, 500, false, CCP_VERDICT_FALL_BACK},
        {0, 529, false, CCP_VERDICT_FALL_BACK},
        {0, 400, false, CCP_VERDICT_FAIL},
        {0, 401, false, CCP_VERDICT_FAIL},
        {0, 404, false, CCP_VERDICT_FAIL},
    };
    uint64_t delay;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ccp_attempt_end end = {cases[i].result, cases[i].status, cases[i].answered, -1, NULL, 0};
        if (ccp_exchange_judge(&ex, &a, &end, &delay) != cases[i].want)
            fail_msg("case %zu: result %d status %d", i, cases[i].result, cases[i].status);
    }
    /* On the last target, nothing falls back. */
    ex.attempt = 1;
    ccp_attempt_end end = {0, 503, false, -1, NULL, 0};
    assert_int_equal(ccp_exchange_judge(&ex, &a, &end, &delay), CCP_VERDICT_FAIL);
    ccp_exchange_free(&ex);
}

/* ---- retries, breakers and keys, on a fake clock ---- */

static uint64_t fake_now;
static uint64_t fake_clock(void)
{
    return fake_now;
}

static ccp_provider retrying(const char *name)
{
    ccp_provider p = {.name = (char *)name};
    p.retry = (ccp_retry_config){.attempts = 3,
                                 .base_ms = 100,
                                 .max_ms = 1000,
                                 .max_wait_ms = 5000,
                                 .jitter = CCP_JITTER_NONE};
    p.breaker = (ccp_breaker_config){.failures = 2,
                                     .min_requests = 1,
                                     .window_ms = 1000,
                                     .cooldown_ms = 10000,
                                     .half_open_probes = 1};
    return p;
}

static ccp_verdict end_with(ccp_exchange *ex, const ccp_attempt *a, int result, int status,
                            int64_t hint, uint64_t *delay)
{
    ccp_attempt_end end = {result, status, false, hint, NULL, 0};
    return ccp_exchange_judge(ex, a, &end, delay);
}

static void retries_back_off_then_fall_back(void **state)
{
    ccp_provider p = retrying("p"), q = retrying("q");
    ccp_target targets[2] = {{&p, NULL}, {&q, NULL}};
    ccp_route route = {targets, 2};
    ccp_route_choice choice = {.route = &route};
    ccp_exchange ex = {.choice = &choice, .request = json_object_new_object(), .clock = fake_clock};
    ccp_attempt a = {.target = targets[0], .key = -1};
    uint64_t d;
    fake_now = 1000;
    assert_int_equal(end_with(&ex, &a, 0, 529, -1, &d), CCP_VERDICT_RETRY);
    assert_int_equal(d, 100); /* base, no jitter */
    assert_int_equal(end_with(&ex, &a, CCP_ETIMEOUT, 0, -1, &d), CCP_VERDICT_RETRY);
    assert_int_equal(d, 200); /* doubled */
    /* attempts: 3 tries of p, then the next target. */
    assert_int_equal(end_with(&ex, &a, 0, 503, -1, &d), CCP_VERDICT_FALL_BACK);
    assert_int_equal(ex.retries, 2);
    assert_true(ccp_exchange_next(&ex));
    assert_int_equal(ex.tries, 0);
    assert_int_equal(ex.fallbacks, 1);
    /* A hint replaces the backoff, and is kept for the client. */
    a.target = targets[1];
    assert_int_equal(end_with(&ex, &a, 0, 429, 1500, &d), CCP_VERDICT_RETRY);
    assert_int_equal(d, 1500);
    assert_true(ex.has_hint);
    assert_int_equal(ex.hint_ms, 1500);
    /* A hint longer than max_wait_ms ends the retries: the client gets it. */
    assert_int_equal(end_with(&ex, &a, 0, 429, 60000, &d), CCP_VERDICT_FAIL);
    assert_int_equal(ex.hint_ms, 60000);
    /* A 400 is never retried. */
    ex.tries = 0;
    assert_int_equal(end_with(&ex, &a, 0, 400, -1, &d), CCP_VERDICT_FAIL);
    ccp_exchange_free(&ex);
}

static void gemini_body_hint_counts_on_a_429(void **state)
{
    ccp_provider p = retrying("g");
    ccp_target t = {&p, NULL};
    ccp_route route = {&t, 1};
    ccp_route_choice choice = {.route = &route};
    ccp_exchange ex = {.choice = &choice, .request = json_object_new_object(), .clock = fake_clock};
    ccp_attempt a = {.target = t, .key = -1};
    static const char body[] =
        "{\"error\":{\"code\":429,\"details\":[{\"@type\":"
        "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"2s\"}]}}";
    ccp_attempt_end end = {0, 429, false, -1, body, sizeof body - 1};
    uint64_t d;
    assert_int_equal(ccp_exchange_judge(&ex, &a, &end, &d), CCP_VERDICT_RETRY);
    assert_int_equal(d, 2000);
    ccp_exchange_free(&ex);
}

static void nothing_is_retried_once_the_client_got_a_byte(void **state)
{
    ccp_provider p = retrying("p");
    ccp_target t = {&p, NULL};
    ccp_route route = {&t, 1};
    ccp_route_choice choice = {.route = &route};
    ccp_exchange ex = {.choice = &choice, .request = json_object_new_object(), .clock = fake_clock};
    ccp_attempt a = {.target = t, .key = -1};
    ccp_attempt_end end = {CCP_EUPSTREAM, 200, true, -1, NULL, 0};
    uint64_t d;
    assert_int_equal(ccp_exchange_judge(&ex, &a, &end, &d), CCP_VERDICT_FAIL);
    ccp_exchange_free(&ex);
}

static void no_retry_starts_that_cannot_finish_by_the_deadline(void **state)
{
    ccp_provider p = retrying("p");
    ccp_target t = {&p, NULL};
    ccp_route route = {&t, 1};
    ccp_route_choice choice = {.route = &route};
    fake_now = 0;
    ccp_exchange ex = {.choice = &choice,
                       .request = json_object_new_object(),
                       .clock = fake_clock,
                       .deadline_ms = 1000};
    ccp_attempt a = {.target = t, .key = -1};
    ex.started_ms = 0;
    fake_now = 300; /* the try took 300 ms; a 100 ms wait + 300 ms fits before 1000 */
    uint64_t d;
    assert_int_equal(end_with(&ex, &a, 0, 529, -1, &d), CCP_VERDICT_RETRY);
    ex.started_ms = 400;
    fake_now = 700; /* 200 ms wait + 300 ms try would end at 1200 */
    assert_int_equal(end_with(&ex, &a, 0, 529, -1, &d), CCP_VERDICT_FAIL);
    assert_true(ex.deadline_hit);
    ccp_exchange_free(&ex);
}

/* A prepared attempt against a provider with keys, through the health
 * registry. */
static const char keys_yaml[] = "providers:\n"
                                "  - name: a\n"
                                "    base_url: 'http://a.test'\n"
                                "    api_key: k0\n"
                                "    api_keys: [k1, k2]\n"
                                "    breaker: {failures: 2, cooldown_ms: 10000}\n"
                                "  - {name: b, base_url: 'http://b.test', api_key: kb}\n"
                                "router:\n"
                                "  default: [a/m, b/m]\n";

static const char *sent_key(const ccp_attempt *a)
{
    for (size_t i = 0; i < a->out.n_headers; i++)
        if (!strncmp(a->out.headers[i], "x-api-key: ", 11)) return a->out.headers[i] + 11;
    return NULL;
}

static void keys_rotate_rest_and_park_and_the_breaker_skips(void **state)
{
    ccp_diags dg = {0};
    ccp_config *cfg = NULL;
    assert_int_equal(ccp_config_load_string("k.yaml", keys_yaml, strlen(keys_yaml), &cfg, &dg), 0);
    ccp_diags_free(&dg);
    assert_int_equal(cfg->providers[0].keys.n, 3);
    ccp_health *h = ccp_health_new();
    fake_now = 5000;
    json_object *req = parse("{\"model\":\"c\",\"max_tokens\":5,\"messages\":[{\"role\":"
                             "\"user\",\"content\":\"hi\"}]}");
    ccp_route_choice choice;
    ccp_error err;
    assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, &choice, &err), 0);
    ccp_exchange ex = {.choice = &choice, .request = req, .health = h, .clock = fake_clock};
    ccp_attempt a;
    ccp_prep_error pe;
    uint64_t d;

    /* Round-robin: k0, then after a 429 the next key at once. */
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), 0);
    assert_string_equal(sent_key(&a), "k0");
    assert_int_equal(end_with(&ex, &a, 0, 429, 3000, &d), CCP_VERDICT_RETRY);
    assert_int_equal(d, 0);
    ccp_attempt_free(&a);
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), 0);
    assert_string_equal(sent_key(&a), "k1");
    /* 401: k1 is parked and k2 serves. */
    assert_int_equal(end_with(&ex, &a, 0, 401, -1, &d), CCP_VERDICT_RETRY);
    ccp_attempt_free(&a);
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), 0);
    assert_string_equal(sent_key(&a), "k2");
    assert_int_equal(end_with(&ex, &a, 0, 200, -1, &d), CCP_VERDICT_DONE);
    ccp_attempt_free(&a);
    ccp_exchange_free(&ex);
    ccp_route_choice_free(&choice);

    /* The next request: k0 still rests, k1 is parked: k2 again. Two 500s
     * open a's breaker; the request after is sent to b straight away. */
    for (int i = 0; i < 2; i++) {
        req = parse("{\"model\":\"c\",\"max_tokens\":5,\"messages\":[]}");
        assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, &choice, &err), 0);
        ex = (ccp_exchange){.choice = &choice, .request = req, .health = h, .clock = fake_clock};
        assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), 0);
        assert_string_equal(sent_key(&a), "k2");
        ccp_attempt_end end = {0, 500, false, -1, NULL, 0};
        ccp_exchange_judge(&ex, &a, &end, &d);
        ccp_attempt_free(&a);
        ccp_exchange_free(&ex);
        ccp_route_choice_free(&choice);
    }
    req = parse("{\"model\":\"c\",\"max_tokens\":5,\"messages\":[]}");
    assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, &choice, &err), 0);
    ex = (ccp_exchange){.choice = &choice, .request = req, .health = h, .clock = fake_clock};
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), 0);
    assert_string_equal(a.target.provider->name, "b");
    assert_int_equal(ex.skips, 1);
    ccp_buf b = CCP_BUF_INIT;
    ccp_exchange_describe(&ex, &b);
    assert_string_equal(b.data, "; skipped=a(breaker-open)");
    ccp_buf_free(&b);
    ccp_attempt_free(&a);
    ccp_exchange_free(&ex);
    ccp_route_choice_free(&choice);

    /* A route of a alone, breaker open: 503 with the cool-down as hint. */
    fake_now += 4000;
    ccp_route only_a = {cfg->providers ? (ccp_target[]){{&cfg->providers[0], "m"}} : NULL, 1};
    ccp_route_choice c2 = {.route = &only_a};
    ex = (ccp_exchange){
        .choice = &c2, .request = json_object_new_object(), .health = h, .clock = fake_clock};
    assert_int_equal(ccp_exchange_prepare(&ex, &a, &pe), -1);
    assert_int_equal(pe.step, CCP_PREP_UNAVAILABLE);
    assert_int_equal(pe.status, 503);
    assert_string_equal(pe.type, "overloaded_error");
    assert_true(ex.has_hint);
    assert_int_equal(ex.hint_ms, 6000);
    assert_null(strstr(pe.err.msg, "k0"));
    ccp_exchange_free(&ex);
    ccp_health_free(h);
    ccp_config_unref(cfg);
}

/* Without request hooks an attempt shares the client's tree, and the
 * encoder builds the body apart: the anthropic one drops the billing block
 * and sets the model in the body only, so a retry or the next target still
 * starts from what the client sent. */
static void an_attempt_without_hooks_leaves_the_clients_request_as_it_came(void **state)
{
    static const char y[] = "providers:\n"
                            "  - {name: b, base_url: 'http://b.test'}\n"
                            "  - {name: c, base_url: 'http://c.test'}\n"
                            "router:\n  default: [b/model-b, c]\n";
    ccp_diags d = {0};
    ccp_config *cfg = NULL;
    assert_int_equal(ccp_config_load_string("t.yaml", y, strlen(y), &cfg, &d), 0);
    ccp_route_choice choice;
    ccp_exchange ex = routed(cfg,
                             "{\"model\":\"claude\",\"max_tokens\":5,\"system\":[{\"type\":"
                             "\"text\",\"text\":\"x-anthropic-billing-header: h1\"},{\"type\":"
                             "\"text\",\"text\":\"be brief\"}],\"messages\":[{\"role\":"
                             "\"user\",\"content\":\"hi\"}]}",
                             &choice);
    ccp_attempt a;
    ccp_prep_error pe;
    if (ccp_exchange_prepare(&ex, &a, &pe) != 0) fail_msg("prepare: %s", pe.err.msg);
    json_object *body = parse(a.out.body.data);
    assert_string_equal(ccp_json_get_str(body, "model"), "model-b");
    assert_int_equal(ccp_json_arr_len(ccp_json_get(body, "system")), 1);
    json_object_put(body);
    assert_string_equal(ccp_json_get_str(ex.request, "model"), "claude");
    assert_int_equal(ccp_json_arr_len(ccp_json_get(ex.request, "system")), 2);
    ccp_attempt_free(&a);
    ccp_exchange_free(&ex);
    ccp_route_choice_free(&choice);
    ccp_config_unref(cfg);
    ccp_diags_free(&d);
}

/* ---- the server's way: the tree freed once encoded, rebuilt on demand ---- */

typedef struct rebuild {
    const char *text;
    const ccp_route_choice *choice;
    int calls;
} rebuild;

static json_object *rebuild_request(void *ud, ccp_error *err)
{
    rebuild *r = ud;
    r->calls++;
    json_object *req = ccp_json_parse(r->text, strlen(r->text), err);
    if (req) ccp_route_reapply(r->choice, req);
    return req;
}

/* The body an exchange without a reload (the tree kept, copied or shared)
 * sends at attempt `at`: what the reload's attempts must send too. */
static char *kept_tree_body(ccp_config *cfg, const char *text, size_t at)
{
    ccp_route_choice choice;
    ccp_exchange ex = routed(cfg, text, &choice);
    ex.attempt = at;
    ccp_attempt a;
    ccp_prep_error pe;
    if (ccp_exchange_prepare(&ex, &a, &pe) != 0) fail_msg("prepare: %s", pe.err.msg);
    char *body = strdup(a.out.body.data);
    ccp_attempt_free(&a);
    ccp_exchange_free(&ex);
    ccp_route_choice_free(&choice);
    return body;
}

/* With a reload, no attempt keeps the client's tree past its encoding; a
 * retry and a fallback rebuild it and send byte for byte what they sent
 * when the tree was kept: with a request hook that edits the tree (a's
 * pipeline), and with a subagent tag the router removed (re-applied). */
static void a_retry_after_the_tree_was_freed_sends_the_same_body(void **state)
{
    (void)state;
    ccp_config *cfg = load();
    static const char *const texts[] = {
        "{\"model\":\"claude\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
        "\"hi\"}]}",
        "{\"model\":\"claude\",\"max_tokens\":5,\"system\":[{\"type\":\"text\",\"text\":\"a\\n"
        "<ccproxy-model>a/model-t</ccproxy-model>\\nb\"}],\"messages\":[{\"role\":\"user\","
        "\"content\":\"hi\"}]}",
    };
    for (size_t i = 0; i < 2; i++) {
        ccp_route_choice choice;
        ccp_exchange ex = routed(cfg, texts[i], &choice);
        rebuild rb = {texts[i], &choice, 0};
        ex.reload = rebuild_request;
        ex.reload_ud = &rb;
        char *want0 = kept_tree_body(cfg, texts[i], 0);
        ccp_attempt a;
        ccp_prep_error pe;
        if (ccp_exchange_prepare(&ex, &a, &pe) != 0) fail_msg("prepare: %s", pe.err.msg);
        assert_null(ex.request); /* freed once encoded */
        assert_string_equal(a.out.body.data, want0);
        assert_null(strstr(a.out.body.data, "ccproxy-model"));
        uint64_t delay;
        ccp_attempt_end end = {0, 503, false, -1, NULL, 0};
        assert_int_equal(ccp_exchange_judge(&ex, &a, &end, &delay), CCP_VERDICT_RETRY);
        ccp_attempt_free(&a);
        assert_int_equal(rb.calls, 0);
        if (ccp_exchange_prepare(&ex, &a, &pe) != 0) fail_msg("retry: %s", pe.err.msg);
        assert_int_equal(rb.calls, 1);
        assert_null(ex.request);
        assert_string_equal(a.out.body.data, want0);
        ccp_attempt_free(&a);
        if (choice.route->n > 1) {
            /* The fallback to b: what b got with the tree kept. */
            char *want1 = kept_tree_body(cfg, texts[i], 1);
            assert_true(ccp_exchange_next(&ex));
            if (ccp_exchange_prepare(&ex, &a, &pe) != 0) fail_msg("fallback: %s", pe.err.msg);
            assert_int_equal(rb.calls, 2);
            assert_string_equal(a.out.body.data, want1);
            ccp_attempt_free(&a);
            free(want1);
        }
        /* Once the client got something, nothing follows. */
        ccp_exchange_answered(&ex);
        assert_false(ccp_exchange_has_next(&ex));
        end = (ccp_attempt_end){0, 503, false, -1, NULL, 0};
        a.target = choice.route->targets[ex.attempt];
        assert_int_equal(ccp_exchange_judge(&ex, &a, &end, &delay), CCP_VERDICT_FAIL);
        free(want0);
        ccp_exchange_free(&ex);
        ccp_route_choice_free(&choice);
    }
    ccp_config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_target_starts_from_the_clients_request),
        cmocka_unit_test(an_attempt_without_hooks_leaves_the_clients_request_as_it_came),
        cmocka_unit_test(a_retry_after_the_tree_was_freed_sends_the_same_body),
        cmocka_unit_test(a_request_that_cannot_be_encoded_is_a_400_at_the_encode_step),
        cmocka_unit_test(which_endings_fall_back),
        cmocka_unit_test(retries_back_off_then_fall_back),
        cmocka_unit_test(gemini_body_hint_counts_on_a_429),
        cmocka_unit_test(nothing_is_retried_once_the_client_got_a_byte),
        cmocka_unit_test(no_retry_starts_that_cannot_finish_by_the_deadline),
        cmocka_unit_test(keys_rotate_rest_and_park_and_the_breaker_skips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
