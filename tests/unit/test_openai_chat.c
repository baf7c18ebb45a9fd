/* test_openai_chat.c — Anthropic request → OpenAI Chat Completions request,
 * asserted field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/openai_chat.h"
#include "core/json.h"

#include <string.h>

static json_object *encode_with(const char *req_json, ccp_provider *p, const char *model,
                                bool stream, ccp_outbound *out)
{
    json_object *req = ccp_json_parse(req_json, strlen(req_json), NULL);
    assert_non_null(req);
    ccp_encode_ctx ctx = {.provider = p, .model = model, .request = req, .stream = stream};
    ccp_outbound_init(out);
    ccp_error err;
    assert_int_equal(ccp_codec_openai_chat.encode(&ctx, out, &err), 0);
    json_object_put(req);
    ccp_outbound_seal(out);
    json_object *o = ccp_json_parse(out->body.data, out->body.len, NULL);
    assert_non_null(o);
    return o;
}

/* The provider's openai-chat options, reset to the defaults by provider(). */
static ccp_openai_chat_opts opts;

static ccp_provider provider(void)
{
    opts = (ccp_openai_chat_opts){0};
    ccp_provider p = {.name = "oa",
                      .codec_opts = &opts,
                      .format = CCP_FORMAT_OPENAI_CHAT,
                      .base_url = "https://api.example.com/v1",
                      .api_key = "sk-oa",
                      .auth = CCP_AUTH_BEARER};
    return p;
}

static void expect_json(json_object *got, const char *want)
{
    json_object *w = ccp_json_parse(want, strlen(want), NULL);
    assert_non_null(w);
    if (!json_object_equal(w, got)) fail_msg("want %s\ngot  %s", want, ccp_json_str(got, NULL));
    json_object_put(w);
}

static const char conversation[] =
    "{\"model\":\"claude-opus-4-8[1m]\",\"max_tokens\":64000,\"stream\":true,"
    "\"temperature\":0.5,\"top_k\":40,\"stop_sequences\":[\"END\"],"
    "\"metadata\":{\"user_id\":\"u-1\"},\"thinking\":{\"type\":\"adaptive\"},"
    "\"output_config\":{\"effort\":\"low\"},"
    "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cch=1;\"},"
    "{\"type\":\"text\",\"text\":\"Be terse.\",\"cache_control\":{\"type\":\"ephemeral\"}},"
    "{\"type\":\"text\",\"text\":\"Use tools.\"}],"
    "\"tools\":[{\"name\":\"Read\",\"description\":\"Read a file\",\"input_schema\":"
    "{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"string\"}}}},"
    "{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}],"
    "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true},"
    "\"messages\":["
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Read a.c\"},"
    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
    "\"data\":\"iVBO\"}}]},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\","
    "\"signature\":\"s\"},{\"type\":\"text\",\"text\":\"Reading.\"},{\"type\":\"tool_use\","
    "\"id\":\"toolu_1\",\"name\":\"Read\",\"input\":{\"p\":\"a.c\"}},{\"type\":\"tool_use\","
    "\"id\":\"toolu_2\",\"name\":\"Read\",\"input\":{\"p\":\"b.c\"}}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
    "\"content\":\"int main;\"},{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\","
    "\"is_error\":true,\"content\":[{\"type\":\"text\",\"text\":\"no such file\"}]},"
    "{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":\"Now fix it.\","
    "\"cache_control\":{\"type\":\"ephemeral\"}}]},"
    "{\"role\":\"system\",\"content\":\"Plan mode is off.\"},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"\"}]}]}";

static void a_tool_conversation_maps_field_by_field(void **state)
{
    ccp_provider p = provider();
    opts.reasoning = CCP_REASONING_EFFORT;
    ccp_outbound out;
    json_object *o = encode_with(conversation, &p, NULL, true, &out);
    expect_json(
        o, "{\"model\":\"claude-opus-4-8\",\"messages\":["
           "{\"role\":\"system\",\"content\":\"Be terse.\\n\\nUse tools.\"},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Read a.c\"},{\"type\":"
           "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBO\"}}]},"
           "{\"role\":\"assistant\",\"content\":\"Reading.\",\"tool_calls\":["
           "{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":{\"name\":\"Read\","
           "\"arguments\":\"{\\\"p\\\":\\\"a.c\\\"}\"}},"
           "{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":\"Read\","
           "\"arguments\":\"{\\\"p\\\":\\\"b.c\\\"}\"}}]},"
           "{\"role\":\"tool\",\"content\":\"int main;\",\"tool_call_id\":\"toolu_1\"},"
           "{\"role\":\"tool\",\"content\":\"[tool error] no such file\",\"tool_call_id\":"
           "\"toolu_2\"},"
           "{\"role\":\"user\",\"content\":\"Now fix it.\"},"
           "{\"role\":\"system\",\"content\":\"Plan mode is off.\"}],"
           "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"Read\",\"description\":"
           "\"Read a file\",\"parameters\":{\"type\":\"object\",\"properties\":{\"p\":{\"type\":"
           "\"string\"}}}}}],"
           "\"tool_choice\":\"required\",\"parallel_tool_calls\":false,\"max_tokens\":64000,"
           "\"temperature\":0.5,\"stop\":[\"END\"],\"user\":\"u-1\",\"reasoning_effort\":\"low\","
           "\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    json_object_put(o);
    assert_string_equal(out.url.data, "https://api.example.com/v1/chat/completions");
    bool auth = false;
    for (size_t i = 0; i < out.n_headers; i++)
        auth |= !strcmp(out.headers[i], "authorization: Bearer sk-oa");
    assert_true(auth);
    ccp_outbound_free(&out);
}

static void provider_options_and_structured_output(void **state)
{
    ccp_provider p = provider();
    opts.max_tokens_field = 1;
    ccp_outbound out;
    json_object *o = encode_with(
        "{\"model\":\"claude-haiku\",\"max_tokens\":512,\"thinking\":{\"type\":\"enabled\","
        "\"budget_tokens\":20000},\"tool_choice\":{\"type\":\"tool\",\"name\":\"Read\"},"
        "\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":"
        "\"object\",\"properties\":{\"title\":{\"type\":\"string\"}}}}},"
        "\"system\":\"Title this.\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        &p, "gpt-5-mini", false, &out);
    expect_json(o, "{\"model\":\"gpt-5-mini\",\"messages\":[{\"role\":\"system\",\"content\":"
                   "\"Title this.\"},{\"role\":\"user\",\"content\":\"hi\"}],"
                   "\"max_completion_tokens\":512,\"response_format\":{\"type\":\"json_schema\","
                   "\"json_schema\":{\"name\":\"output\",\"schema\":{\"type\":\"object\","
                   "\"properties\":{\"title\":{\"type\":\"string\"}}}}}}");
    json_object_put(o);
    ccp_outbound_free(&out);
}

static void top_k_and_reasoning_history_are_per_provider(void **state)
{
    const char *req = "{\"model\":\"m\",\"top_k\":40,\"messages\":[{\"role\":\"assistant\","
                      "\"content\":[{\"type\":\"thinking\",\"thinking\":\"plan\",\"signature\":"
                      "\"s\"},{\"type\":\"text\",\"text\":\"ok\"}]}]}";
    ccp_provider p = provider();
    ccp_outbound out;
    json_object *o = encode_with(req, &p, NULL, false, &out);
    expect_json(o, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":\"ok\"}]}");
    json_object_put(o);
    ccp_outbound_free(&out);
    opts.top_k = true;
    opts.reasoning_history = true;
    o = encode_with(req, &p, NULL, false, &out);
    expect_json(o, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":\"ok\","
                   "\"reasoning_content\":\"plan\"}],\"top_k\":40}");
    json_object_put(o);
    ccp_outbound_free(&out);
}

static void reasoning_effort_follows_thinking(void **state)
{
    const struct {
        const char *req, *want;
    } cases[] = {
        {"{}", NULL},
        {"{\"thinking\":{\"type\":\"disabled\"}}", NULL},
        {"{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024}}", "low"},
        {"{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":8000}}", "medium"},
        {"{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":32000}}", "high"},
        {"{\"thinking\":{\"type\":\"adaptive\"}}", "medium"},
        {"{\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":\"high\"}}", "high"},
        {"{\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":\"max\"}}", "high"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *r = ccp_json_parse(cases[i].req, strlen(cases[i].req), NULL);
        const char *got = ccp_openai_reasoning_effort(r);
        if (cases[i].want)
            assert_string_equal(got, cases[i].want);
        else
            assert_null(got);
        json_object_put(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_tool_conversation_maps_field_by_field),
        cmocka_unit_test(provider_options_and_structured_output),
        cmocka_unit_test(top_k_and_reasoning_history_are_per_provider),
        cmocka_unit_test(reasoning_effort_follows_thinking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
