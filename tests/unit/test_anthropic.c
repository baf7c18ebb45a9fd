/* test_anthropic.c — the anthropic encoder (URL, headers, model rewrite,
 * billing-header stripping) and its upstream error mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anthropic.h"
#include "core/json.h"

#include <string.h>

static const char *header(const ccp_outbound *out, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < out->n_headers; i++)
        if (strncmp(out->headers[i], name, n) == 0 && out->headers[i][n] == ':')
            return out->headers[i] + n + 2;
    return NULL;
}

static const char req_json[] =
    "{\"model\":\"claude-opus-4-8[1m]\",\"max_tokens\":64000,\"stream\":true,"
    "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cc_version=2.1; "
    "cch=abc;\"},{\"type\":\"text\",\"text\":\"You are Claude Code.\",\"cache_control\":"
    "{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":"
    "\"system\",\"content\":\"mid-conversation\"}],\"metadata\":{\"user_id\":\"{\\\"a\\\":1}\"}}";

typedef struct {
    ccp_outbound out;
    json_object *body;
} encoded;

static encoded encode(const char *base_url, ccp_auth auth, const char *model, bool with_beta)
{
    ccp_kv extra = {"x-team", "core"};
    ccp_provider p = {.name = "p",
                      .format = CCP_FORMAT_ANTHROPIC,
                      .base_url = (char *)base_url,
                      .api_key = "sk-test",
                      .auth = auth,
                      .headers = &extra,
                      .n_headers = 1};
    ccp_header_view in[] = {{"anthropic-version", "2023-06-01"},
                            {"anthropic-beta", "a-2025,b-2026"},
                            {"x-api-key", "client-key"}};
    json_object *req = ccp_json_parse(req_json, strlen(req_json), NULL);
    assert_non_null(req);
    ccp_encode_ctx ctx = {.provider = &p,
                          .model = model,
                          .request = req,
                          .stream = true,
                          .in_headers = in,
                          .n_in_headers = with_beta ? 3 : 1};
    encoded e;
    ccp_outbound_init(&e.out);
    ccp_error err;
    assert_int_equal(ccp_codec_anthropic.encode(&ctx, &e.out, &err), 0);
    json_object_put(req);
    ccp_outbound_seal(&e.out);
    e.body = ccp_json_parse(e.out.body.data, e.out.body.len, NULL);
    assert_non_null(e.body);
    return e;
}

static void done(encoded *e)
{
    json_object_put(e->body);
    ccp_outbound_free(&e->out);
}

static void other_providers_get_the_target_model_and_no_billing_block(void **state)
{
    encoded e =
        encode("https://api.deepseek.com/anthropic/", CCP_AUTH_BEARER, "deepseek-chat", true);
    assert_string_equal(e.out.url.data, "https://api.deepseek.com/anthropic/v1/messages");
    assert_string_equal(ccp_json_get_str(e.body, "model"), "deepseek-chat");
    json_object *sys = ccp_json_get_arr(e.body, "system");
    assert_int_equal(json_object_array_length(sys), 1);
    assert_string_equal(ccp_json_get_str(json_object_array_get_idx(sys, 0), "text"),
                        "You are Claude Code.");
    /* Everything else passes through: the mid-conversation system message
     * stays in place, metadata keeps its JSON string. */
    json_object *msgs = ccp_json_get_arr(e.body, "messages");
    assert_string_equal(ccp_json_get_str(json_object_array_get_idx(msgs, 1), "role"), "system");
    assert_string_equal(ccp_json_get_str(ccp_json_get_obj(e.body, "metadata"), "user_id"),
                        "{\"a\":1}");
    assert_string_equal(header(&e.out, "authorization"), "Bearer sk-test");
    assert_null(header(&e.out, "x-api-key"));
    assert_string_equal(header(&e.out, "anthropic-beta"), "a-2025,b-2026");
    assert_string_equal(header(&e.out, "anthropic-version"), "2023-06-01");
    assert_string_equal(header(&e.out, "accept"), "text/event-stream");
    assert_string_equal(header(&e.out, "x-team"), "core");
    done(&e);
}

static void anthropic_itself_keeps_the_billing_block_and_the_client_model(void **state)
{
    encoded e = encode("https://api.anthropic.com", CCP_AUTH_X_API_KEY, NULL, false);
    assert_string_equal(e.out.url.data, "https://api.anthropic.com/v1/messages");
    /* The [1m] marker is Claude Code's, not a model name. */
    assert_string_equal(ccp_json_get_str(e.body, "model"), "claude-opus-4-8");
    assert_int_equal(json_object_array_length(ccp_json_get_arr(e.body, "system")), 2);
    assert_string_equal(header(&e.out, "x-api-key"), "sk-test");
    assert_null(header(&e.out, "anthropic-beta"));
    done(&e);
}

static void auth_none_sends_no_key(void **state)
{
    encoded e = encode("http://127.0.0.1:8080", CCP_AUTH_NONE, "m", false);
    assert_null(header(&e.out, "x-api-key"));
    assert_null(header(&e.out, "authorization"));
    done(&e);
}

static void model_suffix_stripping(void **state)
{
    char a[] = "claude-sonnet-4-5[1m]", b[] = "plain", c[] = "[x]", d[] = "m[";
    ccp_model_strip_suffix(a);
    ccp_model_strip_suffix(b);
    ccp_model_strip_suffix(c);
    ccp_model_strip_suffix(d);
    assert_string_equal(a, "claude-sonnet-4-5");
    assert_string_equal(b, "plain");
    assert_string_equal(c, "[x]");
    assert_string_equal(d, "m[");
}

static void upstream_errors_keep_their_type_or_get_one_from_the_status(void **state)
{
    ccp_buf msg = CCP_BUF_INIT;
    const char *body = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                       "\"message\":\"Overloaded\"}}";
    assert_string_equal(ccp_codec_anthropic.map_error(529, body, strlen(body), &msg),
                        "overloaded_error");
    assert_string_equal(msg.data, "Overloaded");
    ccp_buf_reset(&msg);
    assert_string_equal(ccp_codec_anthropic.map_error(502, "<html>bad gateway</html>", 24, &msg),
                        "api_error");
    assert_string_equal(msg.data, "upstream answered HTTP 502: <html>bad gateway</html>");
    ccp_buf_reset(&msg);
    assert_string_equal(ccp_codec_anthropic.map_error(401, "", 0, &msg), "authentication_error");
    ccp_buf_free(&msg);
    const struct {
        int status;
        const char *type;
    } table[] = {{400, "invalid_request_error"},
                 {401, "authentication_error"},
                 {403, "permission_error"},
                 {404, "not_found_error"},
                 {413, "request_too_large"},
                 {429, "rate_limit_error"},
                 {500, "api_error"},
                 {529, "overloaded_error"},
                 {418, "invalid_request_error"},
                 {504, "timeout_error"}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        assert_string_equal(ccp_error_type_for_status(table[i].status), table[i].type);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(other_providers_get_the_target_model_and_no_billing_block),
        cmocka_unit_test(anthropic_itself_keeps_the_billing_block_and_the_client_model),
        cmocka_unit_test(auth_none_sends_no_key),
        cmocka_unit_test(model_suffix_stripping),
        cmocka_unit_test(upstream_errors_keep_their_type_or_get_one_from_the_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
