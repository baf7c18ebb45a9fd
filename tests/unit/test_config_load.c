/* test_config_load.c — config loading: defaults, every error class with its
 * line:col, the router target, and that secrets never reach a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/openai_chat.h"
#include "config/config.h"
#include "config/keys.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ccp_config *load_ok(const char *yaml)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    int rc = ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, &d);
    if (rc != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("config did not load");
    }
    ccp_diags_free(&d);
    return c;
}

/* Loads yaml expecting failure; returns the diagnostics (caller frees). */
static ccp_diags load_bad(const char *yaml)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, &d), CCP_ECONFIG);
    assert_null(c);
    assert_true(d.n > 0);
    return d;
}

static void has_diag(const ccp_diags *d, int line, int col, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].line == line && d->items[i].col == col &&
            strstr(d->items[i].message, needle))
            return;
    ccp_diags_print(d, stderr);
    fail_msg("no diagnostic at %d:%d containing '%s'", line, col, needle);
}

static void empty_config_gets_every_default(void **state)
{
    ccp_config *c = load_ok("");
    assert_string_equal(c->server.host, "127.0.0.1");
    assert_int_equal(c->server.port, 3456);
    assert_int_equal(c->server.max_body_bytes, 32u << 20);
    assert_int_equal(c->server.header_timeout_ms, 10000);
    assert_int_equal(c->upstream.total_timeout_ms, 600000);
    assert_int_equal(c->server.max_json_elements, 500000);
    assert_int_equal(c->upstream.max_response_bytes, 32u << 20);
    assert_int_equal(c->server.echo_model, CCP_ECHO_MODEL_CLIENT);
    assert_int_equal(c->n_providers, 0);
    assert_false(c->has_default);
    ccp_config_unref(c);
}

static const char full[] = "server:\n"
                           "  port: 8080\n"
                           "  max_body_bytes: 2MiB\n"
                           "  log_level: debug\n"
                           "  echo_model: upstream\n"
                           "upstream: {connect_timeout_ms: 500}\n"
                           "providers:\n"
                           "  - name: ds\n"
                           "    base_url: https://api.deepseek.com/anthropic/\n"
                           "    api_key: ${CCP_TEST_KEY}\n"
                           "    auth: bearer\n"
                           "    headers: {x-team: \"${CCP_TEST_TEAM:-core}\"}\n"
                           "    models: [deepseek-chat, deepseek-reasoner]\n"
                           "  - name: or\n"
                           "    format: anthropic\n"
                           "    base_url: https://openrouter.ai/api\n"
                           "router:\n"
                           "  default: ds/deepseek-reasoner\n";

static void a_full_config_loads_into_typed_structs(void **state)
{
    setenv("CCP_TEST_KEY", "sk-secret-1", 1);
    unsetenv("CCP_TEST_TEAM");
    ccp_config *c = load_ok(full);
    assert_int_equal(c->server.port, 8080);
    assert_int_equal(c->server.max_body_bytes, 2u << 20);
    assert_int_equal(c->server.log_level, CCP_LOG_DEBUG);
    assert_int_equal(c->server.echo_model, CCP_ECHO_MODEL_UPSTREAM);
    assert_int_equal(c->upstream.connect_timeout_ms, 500);
    assert_int_equal(c->n_providers, 2);
    const ccp_provider *p = ccp_config_provider(c, "ds");
    assert_string_equal(p->base_url, "https://api.deepseek.com/anthropic");
    assert_string_equal(p->api_key, "sk-secret-1");
    assert_int_equal(p->auth, CCP_AUTH_BEARER);
    assert_string_equal(p->headers[0].name, "x-team");
    assert_string_equal(p->headers[0].value, "core");
    assert_int_equal(p->n_models, 2);
    const ccp_provider *o = ccp_config_provider(c, "or");
    assert_int_equal(o->auth, CCP_AUTH_X_API_KEY);
    assert_null(o->api_key);
    assert_true(c->has_default);
    assert_ptr_equal(c->router_default.provider, p);
    assert_string_equal(c->router_default.model, "deepseek-reasoner");
    ccp_config_unref(c);
}

static void server_allowed_hosts_origins_and_body_timeout(void **state)
{
    ccp_config *c = load_ok("");
    assert_int_equal(c->server.body_timeout_ms, 60000);
    assert_int_equal(c->server.allowed_hosts.n, 0);
    assert_int_equal(c->server.allowed_origins.n, 0);
    ccp_config_unref(c);
    c = load_ok("server:\n"
                "  body_timeout_ms: 5000\n"
                "  allowed_hosts: [proxy.internal, \"10.0.0.5:3456\", \"[fd00::1]:3456\"]\n"
                "  allowed_origins: [\"https://app.example.com\", \"null\"]\n");
    assert_int_equal(c->server.body_timeout_ms, 5000);
    assert_int_equal(c->server.allowed_hosts.n, 3);
    assert_string_equal(c->server.allowed_hosts.v[0], "proxy.internal");
    assert_string_equal(c->server.allowed_hosts.v[2], "[fd00::1]:3456");
    assert_int_equal(c->server.allowed_origins.n, 2);
    assert_string_equal(c->server.allowed_origins.v[0], "https://app.example.com");
    ccp_config_unref(c);
    ccp_diags d = load_bad("server:\n"
                           "  allowed_hosts: proxy.internal\n"
                           "  allowed_origins: [\"https://a.example/path\", app.example]\n"
                           "  body_timeout_ms: 0\n");
    has_diag(&d, 2, 18, "server.allowed_hosts: expected a list");
    has_diag(&d, 3, 21, "each entry is an origin scheme://host[:port] without a path");
    has_diag(&d, 3, 47, "each entry is an origin");
    has_diag(&d, 4, 20, "server.body_timeout_ms: 0 is out of range");
    ccp_diags_free(&d);
    d = load_bad("server: {allowed_hosts: [\"a.example/x\", \"\"]}\n");
    has_diag(&d, 1, 26, "each entry is a host name or address");
    has_diag(&d, 1, 41, "each entry is a host name or address");
    ccp_diags_free(&d);
}

/* server.tls (a mapping with its own keys) and the per-client limits. */
static void server_tls_and_client_limits(void **state)
{
    (void)state;
    ccp_config *c = load_ok("");
    assert_null(c->server.tls.cert_file);
    assert_int_equal(c->server.max_connections_per_client, 0);
    assert_int_equal(c->server.client_rate, 0);
    ccp_config_unref(c);
    c = load_ok("server:\n  tls: {cert_file: /c.pem, key_file: /k.pem, min_version: '1.3', admin: "
                "true}\n  max_connections_per_client: 8\n  client_rate_limit: 600/m\n");
    assert_string_equal(c->server.tls.cert_file, "/c.pem");
    assert_string_equal(c->server.tls.key_file, "/k.pem");
    assert_int_equal(c->server.tls.min_version, CCP_TLS_MIN_1_3);
    assert_true(c->server.tls.admin);
    assert_int_equal(c->server.max_connections_per_client, 8);
    assert_int_equal(c->server.client_rate, 600);
    assert_int_equal(c->server.client_rate_ms, 60000);
    ccp_config_unref(c);
    c = load_ok("server: {tls: {cert_file: /c.pem, key_file: /k.pem}, client_rate_limit: 5/s}\n");
    assert_int_equal(c->server.tls.min_version, CCP_TLS_MIN_1_2);
    assert_false(c->server.tls.admin);
    assert_int_equal(c->server.client_rate_ms, 1000);
    ccp_config_unref(c);
    ccp_diags d = load_bad("server: {tls: {cert_file: /c.pem, min_version: '1.1'}}\n");
    has_diag(&d, 1, 15, "server.tls: both cert_file and key_file");
    has_diag(&d, 1, 48, "server.tls.min_version");
    ccp_diags_free(&d);
    d = load_bad("server: {tls: /c.pem, client_rate_limit: 10}\n");
    has_diag(&d, 1, 15, "server.tls: expected a mapping");
    has_diag(&d, 1, 42, "server.client_rate_limit: expected requests per second or minute");
    ccp_diags_free(&d);
    d = load_bad("server: {tls: {cert_file: /c.pem, key_file: /k.pem, cert: x}}\n");
    has_diag(&d, 1, 53, "unknown key 'cert' in server.tls");
    ccp_diags_free(&d);
}

static void server_observability_keys(void **state)
{
    ccp_config *c = load_ok("");
    assert_int_equal(c->server.log_format, CCP_LOG_TEXT);
    assert_true(c->server.metrics);
    assert_null(c->server.admin_listen);
    ccp_config_unref(c);
    c = load_ok("server: {log_format: json, metrics: off, admin_listen: '[::1]:9464'}\n");
    assert_int_equal(c->server.log_format, CCP_LOG_JSON);
    assert_false(c->server.metrics);
    assert_string_equal(c->server.admin_listen, "[::1]:9464");
    ccp_config_unref(c);
    ccp_diags d = load_bad("server: {admin_listen: 9464, log_format: xml}\n");
    has_diag(&d, 1, 24, "server.admin_listen: expected host:port");
    has_diag(&d, 1, 42, "server.log_format");
    ccp_diags_free(&d);
    char host[64];
    int port = -1;
    assert_true(ccp_parse_hostport("127.0.0.1:0", host, sizeof host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 0);
    assert_true(ccp_parse_hostport("[fd00::1]:80", host, sizeof host, &port));
    assert_string_equal(host, "fd00::1");
    assert_int_equal(port, 80);
    assert_false(ccp_parse_hostport("::1:80", host, sizeof host, &port));
    assert_false(ccp_parse_hostport(":80", host, sizeof host, &port));
    assert_false(ccp_parse_hostport("h:65536", host, sizeof host, &port));
    assert_false(ccp_parse_hostport("h:x", host, sizeof host, &port));
    assert_false(ccp_parse_hostport("h", host, sizeof host, &port));
}

static void openai_chat_provider_options(void **state)
{
    ccp_config *c =
        load_ok("providers:\n  - name: o\n    format: openai-chat\n"
                "    base_url: http://x/v1\n    max_tokens_field: max_completion_tokens\n"
                "    reasoning: effort\n    top_k: true\n    reasoning_history: yes\n");
    const ccp_provider *p = &c->providers[0];
    assert_int_equal(p->auth, CCP_AUTH_BEARER);
    const ccp_openai_chat_opts *o = p->codec_opts;
    assert_int_equal(o->max_tokens_field, 1);
    assert_int_equal(o->reasoning, CCP_REASONING_EFFORT);
    assert_true(o->top_k);
    assert_true(o->reasoning_history);
    ccp_config_unref(c);
    ccp_diags d = load_bad("providers:\n  - {name: o, format: openai-chat, base_url: 'http://x', "
                           "top_k: maybe, reasoning: lots, max_tokens_field: n}\n");
    has_diag(&d, 2, 65, "expected true or false");
    has_diag(&d, 2, 83, "use none or effort");
    has_diag(&d, 2, 107, "max_tokens or max_completion_tokens");
    ccp_diags_free(&d);
    /* An option of another format is an error that names the format, not
     * a setting silently ignored. */
    d = load_bad("providers:\n  - {name: a, base_url: 'http://x', reasoning_history: true}\n");
    has_diag(&d, 2, 37, "applies only to format openai-chat");
    ccp_diags_free(&d);
}

static void router_provider_only_keeps_the_client_model(void **state)
{
    ccp_config *c = load_ok("providers:\n  - {name: a, base_url: 'http://x'}\n"
                            "router: {default: a}\n");
    assert_true(c->has_default);
    assert_null(c->router_default.model);
    ccp_config_unref(c);
}

static void model_names_may_contain_slashes(void **state)
{
    ccp_config *c = load_ok("providers:\n  - {name: or, base_url: 'http://x'}\n"
                            "router: {default: or/anthropic/claude-sonnet-4.5}\n");
    assert_string_equal(c->router_default.model, "anthropic/claude-sonnet-4.5");
    ccp_config_unref(c);
}

static void without_router_the_first_provider_and_model_are_used(void **state)
{
    ccp_config *c = load_ok("providers:\n  - {name: a, base_url: 'http://x', models: [m1, m2]}\n");
    assert_string_equal(c->router_default.provider->name, "a");
    assert_string_equal(c->router_default.model, "m1");
    ccp_config_unref(c);
}

static void unknown_keys_suggest_the_near_one(void **state)
{
    ccp_diags d = load_bad("server:\n  prot: 1\nprovider: []\nrouter:\n  defualt: x\n");
    has_diag(&d, 2, 3, "did you mean 'port'?");
    has_diag(&d, 3, 1, "did you mean 'providers'?");
    has_diag(&d, 5, 3, "did you mean 'default'?");
    ccp_diags_free(&d);
}

static void wrong_types_and_ranges_are_named(void **state)
{
    ccp_diags d = load_bad("server:\n  port: eighty\n  workers: -3\n  max_body_bytes: lots\n"
                           "  log_level: loud\n  echo_model: served\nproviders: {a: 1}\n");
    has_diag(&d, 2, 9, "expected an integer");
    has_diag(&d, 3, 12, "out of range");
    has_diag(&d, 4, 19, "expected a size");
    has_diag(&d, 5, 14, "error, warn, info or debug");
    has_diag(&d, 6, 15, "client or upstream");
    has_diag(&d, 7, 12, "expected a list of providers");
    ccp_diags_free(&d);
}

static void provider_problems_are_each_reported(void **state)
{
    ccp_diags d =
        load_bad("providers:\n"
                 "  - name: a\n    base_url: ftp://x\n"
                 "  - name: b\n    base_url: http://x\n    format: grpc\n"
                 "  - name: c\n    base_url: http://y\n"
                 "  - name: c\n    base_url: http://y\n"
                 "  - base_url: http://z\n"
                 "  - name: d\n    base_url: http://c\n    auth: basic\n    modles: []\n");
    has_diag(&d, 3, 15, "http:// or https://");
    has_diag(&d, 6, 13, "anthropic, openai-chat, gemini or openai-responses");
    has_diag(&d, 9, 5, "used twice");
    has_diag(&d, 11, 5, "needs a name");
    has_diag(&d, 14, 11, "x-api-key, bearer, x-goog-api-key, none or api-key");
    has_diag(&d, 15, 5, "did you mean 'models'?");
    ccp_diags_free(&d);
}

static void a_redis_url_is_judged_at_load_without_echoing_it(void **state)
{
    ccp_diags d = load_bad("state:\n  redis: rediss://cache:6380/0\n");
    has_diag(&d, 2, 10, "TLS to Redis (rediss://) is not supported");
    ccp_diags_free(&d);
    d = load_bad("state:\n  redis: 'redis://:s3cret-pw@cache:port/0'\n");
    has_diag(&d, 2, 10, "expected redis://[[USER]:PASSWORD@]host[:port][/db]");
    for (size_t i = 0; i < d.n; i++)
        assert_null(strstr(d.items[i].message, "s3cret-pw"));
    ccp_diags_free(&d);
    ccp_config *c = load_ok("state:\n  redis: 'redis://:pw@cache:6380/3'\n");
    assert_string_equal(c->state.redis, "redis://:pw@cache:6380/3");
    ccp_config_unref(c);
}

static void router_targets_must_exist(void **state)
{
    ccp_diags d = load_bad("providers:\n  - {name: a, base_url: 'http://x', models: [m1]}\n"
                           "router:\n  default: b/m1\n");
    has_diag(&d, 4, 12, "no provider named 'b'; configured: a");
    ccp_diags_free(&d);
    d = load_bad("providers:\n  - {name: a, base_url: 'http://x', models: [m1]}\n"
                 "router:\n  default: a/m2\n");
    has_diag(&d, 4, 12, "lists no model 'm2'");
    ccp_diags_free(&d);
}

static void an_unset_variable_is_an_error_that_never_shows_the_secret(void **state)
{
    setenv("CCP_TEST_KEY", "sk-very-secret", 1);
    unsetenv("CCP_TEST_UNSET");
    ccp_diags d =
        load_bad("providers:\n  - name: a\n    base_url: http://x\n"
                 "    api_key: ${CCP_TEST_KEY}\n    headers: {auth: '${CCP_TEST_UNSET}'}\n"
                 "    bogus: sk-very-secret\n");
    has_diag(&d, 5, 21, "CCP_TEST_UNSET is not set");
    for (size_t i = 0; i < d.n; i++)
        assert_null(strstr(d.items[i].message, "sk-very-secret"));
    ccp_diags_free(&d);
}

static void a_rejected_provider_is_not_reported_again_by_the_router(void **state)
{
    unsetenv("CCP_TEST_UNSET");
    ccp_diags d = load_bad("providers:\n  - {name: a, base_url: 'http://x', api_key: "
                           "'${CCP_TEST_UNSET}'}\nrouter: {default: a}\n");
    assert_int_equal(d.n, 1);
    has_diag(&d, 2, 46, "CCP_TEST_UNSET is not set");
    ccp_diags_free(&d);
}

static void yaml_syntax_errors_have_a_place(void **state)
{
    ccp_diags d = load_bad("server:\n  port: [1,\n");
    assert_true(d.items[0].line >= 2);
    assert_non_null(strstr(d.items[0].message, "YAML syntax"));
    ccp_diags_free(&d);
}

static void a_missing_file_says_so(void **state)
{
    ccp_config *c;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_file("/nonexistent/ccproxy.yaml", &c, &d), CCP_ECONFIG);
    assert_non_null(strstr(d.items[0].message, "cannot open"));
    ccp_diags_free(&d);
}

static void the_embedded_default_follows_the_environment(void **state)
{
    const char *vars[] = {"ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY",
                          "OPENAI_API_KEY", "GEMINI_API_KEY"};
    for (size_t i = 0; i < 5; i++)
        unsetenv(vars[i]);
    ccp_config *c;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_default(&c, &d), 0);
    assert_int_equal(c->n_providers, 0);
    assert_false(c->has_default);
    ccp_config_unref(c);

    setenv("DEEPSEEK_API_KEY", "k1", 1);
    setenv("GEMINI_API_KEY", "k2", 1);
    assert_int_equal(ccp_config_load_default(&c, &d), 0);
    assert_int_equal(c->n_providers, 2);
    assert_string_equal(c->router_default.provider->name, "deepseek");
    assert_string_equal(c->router_default.model, "deepseek-chat");
    ccp_config_unref(c);

    setenv("ANTHROPIC_API_KEY", "k0", 1);
    assert_int_equal(ccp_config_load_default(&c, &d), 0);
    assert_int_equal(c->n_providers, 3);
    assert_string_equal(c->router_default.provider->name, "anthropic");
    assert_null(c->router_default.model); /* the client's model passes through */
    assert_string_equal(c->router_default.provider->api_key, "k0");
    ccp_config_unref(c);
    for (size_t i = 0; i < 5; i++)
        unsetenv(vars[i]);
    assert_int_equal(d.n, 0);
}

static void find_path_follows_the_lookup_order(void **state)
{
    char *p = ccp_config_find_path("/explicit.yaml");
    assert_string_equal(p, "/explicit.yaml");
    free(p);
    setenv("CCPROXY_CONFIG", "/from/env.yaml", 1);
    p = ccp_config_find_path(NULL);
    assert_string_equal(p, "/from/env.yaml");
    free(p);
    unsetenv("CCPROXY_CONFIG");
    setenv("HOME", "/nonexistent-home", 1);
    assert_null(ccp_config_find_path(NULL)); /* no ./ccproxy.yaml in the test dir */
}

/* YAML forbids a key twice in one mapping, and the loader sized its arrays
 * from the first (a second `providers:` overflowed them: found by fuzzing,
 * tests/fuzz/crashes/config). */
static void a_key_written_twice_is_an_error_at_the_second(void **state)
{
    ccp_diags d = load_bad("providers:\n  - {name: a, base_url: 'http://x'}\n"
                           "providers:\n  - {name: b, base_url: 'http://y'}\n");
    has_diag(&d, 3, 1, "key 'providers' is written twice in this mapping (first at line 1");
    ccp_diags_free(&d);
    d = load_bad("pipelines:\n  p: [strip-thinking]\npipelines:\n  q: [strip-thinking]\n");
    has_diag(&d, 3, 1, "key 'pipelines' is written twice");
    ccp_diags_free(&d);
    d = load_bad("server: {port: 1, port: 2}\n");
    has_diag(&d, 1, 19, "key 'port' is written twice");
    ccp_diags_free(&d);
}

/* A key that is itself a list or a mapping ("? [a]: v") reached the
 * did-you-mean with no name (UBSan: strlen(NULL); found by fuzzing,
 * tests/fuzz/crashes/config/non_scalar_step_key.yaml). */
static void a_key_that_is_not_a_name_is_an_error_not_a_crash(void **state)
{
    ccp_diags d = load_bad("pipelines:\n  a:\n    - {? [x]: 1}\n");
    has_diag(&d, 3, 10, "a key in a pipeline step must be a plain name, not a list");
    ccp_diags_free(&d);
    d = load_bad("pipelines:\n  a:\n    - {? {x: 1}: 1}\n");
    has_diag(&d, 3, 10, "a key in a pipeline step must be a plain name, not a mapping");
    ccp_diags_free(&d);
}

/* Provider and collector headers share one loader: a header name is a
 * token, a value one line (a CR/LF would forge another header). */
static void header_maps_refuse_bad_names_and_line_breaks(void **state)
{
    ccp_diags d = load_bad("providers:\n  - name: a\n    base_url: http://a\n"
                           "    headers: {'x bad': v, x-ok: \"a\\nb\"}\n");
    has_diag(&d, 4, 15, "providers.headers: each name is a header name");
    has_diag(&d, 4, 33, "providers.headers: a value may not contain a line break");
    ccp_diags_free(&d);
}

static void reliability_settings_and_key_pools(void **state)
{
    ccp_config *c = load_ok("providers:\n"
                            "  - name: a\n"
                            "    base_url: http://a\n"
                            "    api_key: k0\n"
                            "    api_keys: [k1, k0, '']\n"
                            "    retry: {attempts: 5, base_ms: 50, jitter: none}\n"
                            "    breaker: {failures: 0, cooldown_ms: 1000}\n"
                            "  - name: b\n"
                            "    base_url: http://b\n"
                            "    api_keys: [kb1, kb2]\n");
    const ccp_provider *a = &c->providers[0], *b = &c->providers[1];
    /* api_key first, listed once; an empty entry dropped. */
    assert_int_equal(a->keys.n, 2);
    assert_string_equal(a->keys.v[0], "k0");
    assert_string_equal(a->keys.v[1], "k1");
    assert_int_equal(a->retry.attempts, 5);
    assert_int_equal(a->retry.base_ms, 50);
    assert_int_equal(a->retry.max_ms, 8000); /* the default */
    assert_int_equal(a->retry.jitter, CCP_JITTER_NONE);
    assert_int_equal(a->breaker.failures, 0);
    assert_int_equal(a->breaker.failure_percent, 50);
    assert_int_equal(a->breaker.cooldown_ms, 1000);
    /* Without api_key, the first of api_keys stands in. */
    assert_string_equal(b->api_key, "kb1");
    assert_int_equal(b->keys.n, 2);
    assert_int_equal(b->retry.attempts, 3);
    ccp_config_unref(c);

    ccp_diags d = load_bad("providers:\n"
                           "  - name: a\n"
                           "    base_url: http://a\n"
                           "    api_keys: sk-secret-1\n"
                           "    retry: {attempts: 0, jiter: full}\n"
                           "    breaker: {failure_percent: 101}\n");
    has_diag(&d, 4, 15, "api_keys: expected a list");
    has_diag(&d, 5, 23, "attempts: 0 is out of range");
    has_diag(&d, 5, 26, "did you mean 'jitter'");
    has_diag(&d, 6, 32, "failure_percent: 101 is out of range");
    for (size_t i = 0; i < d.n; i++)
        assert_null(strstr(d.items[i].message, "sk-secret"));
    ccp_diags_free(&d);
}

static void a_secret_file_readable_by_others_is_refused_at_its_place(void **state)
{
    char path[] = "/tmp/ccp-cfg-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "sk-file-secret\n", 15), 15);
    close(fd);
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "providers:\n  - name: a\n    base_url: http://x\n    api_key: ${file:%s}\n", path);
    assert_int_equal(chmod(path, 0600), 0);
    ccp_config *c = load_ok(yaml);
    assert_string_equal(c->providers[0].api_key, "sk-file-secret");
    ccp_config_unref(c);
    assert_int_equal(chmod(path, 0644), 0);
    ccp_diags d = load_bad(yaml);
    has_diag(&d, 4, 14, "readable by other users");
    for (size_t i = 0; i < d.n; i++)
        assert_null(strstr(d.items[i].message, "sk-file-secret"));
    ccp_diags_free(&d);
    unlink(path);
    d = load_bad(yaml);
    has_diag(&d, 4, 14, "cannot open it");
    ccp_diags_free(&d);
}

static void base_urls_must_be_in_the_upstream_allowlist(void **state)
{
    ccp_config *c = load_ok("providers:\n"
                            "  - {name: a, base_url: 'https://API.openai.com/v1'}\n"
                            "  - {name: b, base_url: 'https://x.openai.azure.com'}\n"
                            "  - {name: c, base_url: 'http://10.0.0.5:8080'}\n"
                            "  - {name: d, base_url: 'http://[::1]:11434'}\n"
                            "  - {name: e, base_url: 'http://localhost:1'}\n"
                            "  - {name: f, base_url: 'https://llm.corp', local: true}\n"
                            "security:\n  allowed_upstreams: [api.openai.com, '*.openai.azure.com',"
                            " '10.0.0.5:8080', '[::1]', localhost, llm.corp:443]\n");
    /* An IP literal or localhost in base_url, or local: true, lets the
     * provider reach internal addresses; a name alone does not. */
    assert_false(c->providers[0].allow_internal);
    assert_false(c->providers[1].allow_internal);
    assert_true(c->providers[2].allow_internal);
    assert_true(c->providers[3].allow_internal);
    assert_true(c->providers[4].allow_internal);
    assert_true(c->providers[5].allow_internal);
    ccp_config_unref(c);
    /* Outside the list: at the base_url's place. The apex of a *.domain
     * pattern and another port are outside too. */
    ccp_diags d = load_bad("providers:\n"
                           "  - name: a\n    base_url: https://evil.example\n"
                           "  - name: b\n    base_url: https://openai.azure.com\n"
                           "  - name: c\n    base_url: http://10.0.0.5:9999\n"
                           "security:\n  allowed_upstreams: ['*.openai.azure.com', "
                           "'10.0.0.5:8080', 'bad/entry']\n");
    has_diag(&d, 3, 15, "evil.example:443 is not in security.allowed_upstreams");
    has_diag(&d, 5, 15, "openai.azure.com:443 is not in");
    has_diag(&d, 7, 15, "10.0.0.5:9999 is not in");
    has_diag(&d, 9, 62, "each entry is a host name");
    ccp_diags_free(&d);
}

static void tls_settings_are_checked(void **state)
{
    ccp_config *c = load_ok("providers:\n  - name: a\n    base_url: https://x\n"
                            "    tls: {ca_file: /dev/null, min_version: '1.3', pin_sha256: "
                            "'sha256//YLh1dUR9y6Kja30RrAn7JKnbQG/uEtLMkBgFF2Fuihg=', "
                            "insecure_skip_verify: false}\n");
    assert_string_equal(c->providers[0].tls.ca_file, "/dev/null");
    assert_int_equal(c->providers[0].tls.min_version, CCP_TLS_1_3);
    assert_non_null(c->providers[0].tls.pin_sha256);
    ccp_config_unref(c);
    ccp_diags d = load_bad("providers:\n  - name: a\n    base_url: https://x\n"
                           "    tls:\n      ca_file: /no/such/ca.pem\n      min_version: '1.1'\n"
                           "      pin_sha256: abc\n");
    has_diag(&d, 5, 16, "cannot read '/no/such/ca.pem'");
    has_diag(&d, 6, 20, "1.2 or 1.3");
    has_diag(&d, 7, 19, "expected sha256//");
    ccp_diags_free(&d);
    d = load_bad("providers:\n  - name: a\n    base_url: https://x\n"
                 "    tls: {client_key: /dev/null}\n");
    has_diag(&d, 3, 15, "tls.client_key needs tls.client_cert");
    ccp_diags_free(&d);
}

/* tenants.NAME.router: stage routes of the tenant's own, loaded after the
 * providers whatever the order in the file; a stage name that is not one
 * is an error. */
static void a_tenants_router_loads_stage_routes(void **state)
{
    ccp_config *c = load_ok("tenants:\n  eng:\n    router:\n      default: b/m1\n"
                            "      thinking: [a/m2, b]\n"
                            "providers:\n  - name: a\n    base_url: https://x\n"
                            "  - name: b\n    base_url: https://y\n");
    assert_int_equal(c->n_tenants, 1);
    const ccp_tenant *t = &c->tenants[0];
    assert_int_equal(t->router[CCP_STAGE_DEFAULT].n, 1);
    assert_string_equal(t->router[CCP_STAGE_DEFAULT].targets[0].provider->name, "b");
    assert_string_equal(t->router[CCP_STAGE_DEFAULT].targets[0].model, "m1");
    assert_int_equal(t->router[CCP_STAGE_THINKING].n, 2);
    assert_null(t->router[CCP_STAGE_THINKING].targets[1].model);
    assert_int_equal(t->router[CCP_STAGE_BACKGROUND].n, 0);
    ccp_config_unref(c);
    ccp_diags d = load_bad("providers:\n  - name: a\n    base_url: https://x\n"
                           "tenants:\n  eng:\n    router:\n      thinkin: a/m\n");
    has_diag(&d, 7, 7, "'thinkin' is not a stage");
    ccp_diags_free(&d);
    d = load_bad("providers:\n  - name: a\n    base_url: https://x\n"
                 "tenants:\n  eng:\n    router:\n      default: nope/m\n");
    has_diag(&d, 7, 16, "no provider named 'nope'");
    ccp_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_key_written_twice_is_an_error_at_the_second),
        cmocka_unit_test(a_key_that_is_not_a_name_is_an_error_not_a_crash),
        cmocka_unit_test(empty_config_gets_every_default),
        cmocka_unit_test(a_full_config_loads_into_typed_structs),
        cmocka_unit_test(server_tls_and_client_limits),
        cmocka_unit_test(server_observability_keys),
        cmocka_unit_test(openai_chat_provider_options),
        cmocka_unit_test(router_provider_only_keeps_the_client_model),
        cmocka_unit_test(model_names_may_contain_slashes),
        cmocka_unit_test(without_router_the_first_provider_and_model_are_used),
        cmocka_unit_test(unknown_keys_suggest_the_near_one),
        cmocka_unit_test(wrong_types_and_ranges_are_named),
        cmocka_unit_test(provider_problems_are_each_reported),
        cmocka_unit_test(router_targets_must_exist),
        cmocka_unit_test(an_unset_variable_is_an_error_that_never_shows_the_secret),
        cmocka_unit_test(a_rejected_provider_is_not_reported_again_by_the_router),
        cmocka_unit_test(yaml_syntax_errors_have_a_place),
        cmocka_unit_test(server_allowed_hosts_origins_and_body_timeout),
        cmocka_unit_test(a_missing_file_says_so),
        cmocka_unit_test(the_embedded_default_follows_the_environment),
        cmocka_unit_test(find_path_follows_the_lookup_order),
        cmocka_unit_test(reliability_settings_and_key_pools),
        cmocka_unit_test(header_maps_refuse_bad_names_and_line_breaks),
        cmocka_unit_test(a_secret_file_readable_by_others_is_refused_at_its_place),
        cmocka_unit_test(base_urls_must_be_in_the_upstream_allowlist),
        cmocka_unit_test(tls_settings_are_checked),
        cmocka_unit_test(a_tenants_router_loads_stage_routes),
        cmocka_unit_test(a_redis_url_is_judged_at_load_without_echoing_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
