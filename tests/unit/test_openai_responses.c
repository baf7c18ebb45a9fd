/* test_openai_responses.c — Anthropic request → OpenAI Responses API
 * request, asserted field by field: instructions, input items (messages,
 * function_call / function_call_output with call_id, reasoning items
 * restored from thinking signatures), tools, tool_choice, reasoning,
 * max_output_tokens, text.format, safety_identifier, store / include, the
 * URL (Azure's api-version) and the api-key auth mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/openai_responses.h"
#include "core/json.h"

#include <string.h>

/* The provider's options, reset to the table's defaults by provider(). */
static ccp_openai_responses_opts opts;

static ccp_provider provider(void)
{
    opts = (ccp_openai_responses_opts){.reasoning_summary = CCP_RSUMMARY_AUTO,
                                       .safety_identifier = true};
    ccp_provider p = {.name = "oa",
                      .codec_opts = &opts,
                      .format = CCP_FORMAT_OPENAI_RESPONSES,
                      .base_url = "https://api.example.com/v1",
                      .api_key = "sk-oa",
                      .auth = CCP_AUTH_BEARER};
    return p;
}

static json_object *encode_with(const char *req_json, ccp_provider *p, const char *model,
                                bool stream, ccp_outbound *out)
{
    json_object *req = ccp_json_parse(req_json, strlen(req_json), NULL);
    assert_non_null(req);
    ccp_encode_ctx ctx = {.provider = p, .model = model, .request = req, .stream = stream};
    ccp_outbound_init(out);
    ccp_error err;
    assert_int_equal(ccp_codec_openai_responses.encode(&ctx, out, &err), 0);
    json_object_put(req);
    ccp_outbound_seal(out);
    json_object *o = ccp_json_parse(out->body.data, out->body.len, NULL);
    assert_non_null(o);
    return o;
}

static void expect_json(json_object *got, const char *want)
{
    json_object *w = ccp_json_parse(want, strlen(want), NULL);
    assert_non_null(w);
    if (!json_object_equal(w, got)) fail_msg("want %s\ngot  %s", want, ccp_json_str(got, NULL));
    json_object_put(w);
}

static bool has_header(const ccp_outbound *out, const char *line)
{
    for (size_t i = 0; i < out->n_headers; i++)
        if (!strcmp(out->headers[i], line)) return true;
    return false;
}

static const char conversation[] =
    "{\"model\":\"claude-opus-4-8[1m]\",\"max_tokens\":64000,\"stream\":true,"
    "\"temperature\":0.5,\"top_k\":40,\"stop_sequences\":[\"END\"],"
    "\"metadata\":{\"user_id\":\"u-1\"},\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":8000},"
    "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cch=1;\"},"
    "{\"type\":\"text\",\"text\":\"Be terse.\",\"cache_control\":{\"type\":\"ephemeral\"}},"
    "{\"type\":\"text\",\"text\":\"Use tools.\"}],"
    "\"tools\":[{\"name\":\"Read\",\"description\":\"Read a file\",\"input_schema\":"
    "{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"string\"}}}},"
    "{\"name\":\"Strict\",\"strict\":true,\"input_schema\":{\"type\":\"object\"}},"
    "{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}],"
    "\"tool_choice\":{\"type\":\"any\",\"disable_parallel_tool_use\":true},"
    "\"messages\":["
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Read a.c\"},"
    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
    "\"data\":\"iVBO\"}},{\"type\":\"document\",\"title\":\"spec.pdf\",\"source\":{\"type\":"
    "\"base64\",\"media_type\":\"application/pdf\",\"data\":\"JVBE\"}}]},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"Look first.\","
    "\"signature\":\"oai-rs:rs_1:gAAAenc1\"},{\"type\":\"text\",\"text\":\"Reading.\"},"
    "{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"oai-rs:rs_2:gAAAenc2\"},"
    "{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"Read\",\"input\":{\"p\":\"a.c\"}},"
    "{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"Read\",\"input\":{\"p\":\"b.c\"}}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"call_1\","
    "\"content\":\"int main;\"},{\"type\":\"tool_result\",\"tool_use_id\":\"call_2\","
    "\"is_error\":true,\"content\":[{\"type\":\"text\",\"text\":\"no such file\"},"
    "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x/y.png\"}}]},"
    "{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":\"Now fix it.\","
    "\"cache_control\":{\"type\":\"ephemeral\"}}]},"
    "{\"role\":\"system\",\"content\":\"Plan mode is off.\"},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"x\","
    "\"signature\":\"EqQBCkYIBxgCKkB\"},{\"type\":\"redacted_thinking\",\"data\":\"abc\"},"
    "{\"type\":\"thinking\",\"thinking\":\"alone\",\"signature\":\"oai-rs:rs_3:gAAAenc3\"}]}]}";

static void a_tool_conversation_maps_field_by_field(void **state)
{
    (void)state;
    ccp_provider p = provider();
    ccp_outbound out;
    json_object *o = encode_with(conversation, &p, "gpt-5.2-codex", true, &out);
    expect_json(
        o, "{\"model\":\"gpt-5.2-codex\",\"instructions\":\"Be terse.\\n\\nUse tools.\","
           "\"input\":["
           "{\"type\":\"message\",\"role\":\"user\",\"content\":["
           "{\"type\":\"input_text\",\"text\":\"Read a.c\"},"
           "{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,iVBO\",\"detail\":"
           "\"auto\"},{\"type\":\"input_file\",\"filename\":\"spec.pdf\",\"file_data\":"
           "\"data:application/pdf;base64,JVBE\"}]},"
           "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\","
           "\"text\":\"Look first.\"}],\"encrypted_content\":\"gAAAenc1\"},"
           "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
           "\"text\":\"Reading.\"}]},"
           "{\"type\":\"reasoning\",\"id\":\"rs_2\",\"summary\":[],\"encrypted_content\":"
           "\"gAAAenc2\"},"
           "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"Read\",\"arguments\":"
           "\"{\\\"p\\\":\\\"a.c\\\"}\"},"
           "{\"type\":\"function_call\",\"call_id\":\"call_2\",\"name\":\"Read\",\"arguments\":"
           "\"{\\\"p\\\":\\\"b.c\\\"}\"},"
           "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"int main;\"},"
           "{\"type\":\"function_call_output\",\"call_id\":\"call_2\",\"output\":"
           "\"[tool error] no such file\"},"
           "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_image\","
           "\"image_url\":\"https://x/y.png\",\"detail\":\"auto\"},{\"type\":\"input_text\","
           "\"text\":\"Now fix it.\"}]},"
           "{\"type\":\"message\",\"role\":\"system\",\"content\":[{\"type\":\"input_text\","
           "\"text\":\"Plan mode is off.\"}]}],"
           "\"tools\":[{\"type\":\"function\",\"name\":\"Read\",\"description\":\"Read a file\","
           "\"parameters\":{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"string\"}}},"
           "\"strict\":false},{\"type\":\"function\",\"name\":\"Strict\",\"parameters\":"
           "{\"type\":\"object\"},\"strict\":true}],"
           "\"tool_choice\":\"required\",\"parallel_tool_calls\":false,"
           "\"max_output_tokens\":64000,"
           "\"reasoning\":{\"effort\":\"medium\",\"summary\":\"auto\"},"
           "\"safety_identifier\":\"u-1\",\"store\":false,"
           "\"include\":[\"reasoning.encrypted_content\"],\"stream\":true}");
    assert_string_equal(out.url.data, "https://api.example.com/v1/responses");
    assert_true(has_header(&out, "authorization: Bearer sk-oa"));
    assert_true(has_header(&out, "accept: text/event-stream"));
    json_object_put(o);
    ccp_outbound_free(&out);
}

static void options_structured_output_and_azure(void **state)
{
    (void)state;
    ccp_provider p = provider();
    opts.sampling = true;
    opts.store = true;
    opts.safety_identifier = false;
    opts.reasoning_summary = CCP_RSUMMARY_NONE;
    opts.api_version = "preview";
    p.base_url = "https://res.openai.azure.com/openai/v1/";
    p.auth = CCP_AUTH_API_KEY;
    /* Claude Code's user_id is longer than the 64 characters OpenAI takes. */
    const char *req =
        "{\"model\":\"m\",\"max_tokens\":512,\"temperature\":0.2,\"top_p\":0.9,"
        "\"metadata\":{\"user_id\":\"user_"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
        "abcdef_account__session_1\"},\"thinking\":{\"type\":\"adaptive\"},"
        "\"output_config\":{\"effort\":\"max\",\"format\":{\"type\":\"json_schema\",\"schema\":"
        "{\"type\":\"object\"}}},\"tool_choice\":{\"type\":\"tool\",\"name\":\"T\"},"
        "\"tools\":[{\"name\":\"T\",\"input_schema\":{\"type\":\"object\"}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    ccp_outbound out;
    json_object *o = encode_with(req, &p, NULL, false, &out);
    expect_json(o, "{\"model\":\"m\",\"input\":[{\"type\":\"message\",\"role\":\"user\","
                   "\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}],"
                   "\"tools\":[{\"type\":\"function\",\"name\":\"T\",\"parameters\":"
                   "{\"type\":\"object\"},\"strict\":false}],"
                   "\"tool_choice\":{\"type\":\"function\",\"name\":\"T\"},"
                   "\"max_output_tokens\":512,\"temperature\":0.2,\"top_p\":0.9,"
                   "\"reasoning\":{\"effort\":\"high\"},"
                   "\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"output\","
                   "\"schema\":{\"type\":\"object\"},\"strict\":false}},"
                   "\"user\":\"3fe9217d81e1d48cbf6d621b038e4074fc493d6b74f4b9b1d73e9662045e81d8\","
                   "\"store\":true}");
    assert_string_equal(out.url.data,
                        "https://res.openai.azure.com/openai/v1/responses?api-version=preview");
    assert_true(has_header(&out, "api-key: sk-oa"));
    assert_false(has_header(&out, "authorization: Bearer sk-oa"));
    json_object_put(o);
    ccp_outbound_free(&out);
}

static void thinking_off_sends_no_reasoning_and_empty_turns_vanish(void **state)
{
    (void)state;
    ccp_provider p = provider();
    const char *req = "{\"model\":\"m\",\"max_tokens\":5,\"thinking\":{\"type\":\"disabled\"},"
                      "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}],"
                      "\"tool_choice\":{\"type\":\"auto\"},"
                      "\"messages\":[{\"role\":\"user\",\"content\":\"\"},"
                      "{\"role\":\"assistant\",\"content\":\"Sure.\"},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"go\"}]}]}";
    ccp_outbound out;
    json_object *o = encode_with(req, &p, NULL, false, &out);
    expect_json(o, "{\"model\":\"m\",\"input\":[{\"type\":\"message\",\"role\":\"assistant\","
                   "\"content\":[{\"type\":\"output_text\",\"text\":\"Sure.\"}]},"
                   "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":"
                   "\"input_text\",\"text\":\"go\"}]}],\"max_output_tokens\":5,\"store\":false,"
                   "\"include\":[\"reasoning.encrypted_content\"]}");
    json_object_put(o);
    ccp_outbound_free(&out);
}

/* A signature without encrypted content (a server that gives none) names
 * stored state: sent back only to a provider that stores. */
static void reasoning_without_encrypted_content_goes_back_only_with_store(void **state)
{
    (void)state;
    const char *req =
        "{\"model\":\"m\",\"max_tokens\":5,\"messages\":["
        "{\"role\":\"user\",\"content\":\"go\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
        "\"t\",\"signature\":\"oai-rs:rs_9:\"},{\"type\":\"text\",\"text\":\"ok\"}]}]}";
    for (int store = 0; store <= 1; store++) {
        ccp_provider p = provider();
        opts.store = store;
        ccp_outbound out;
        json_object *o = encode_with(req, &p, NULL, false, &out);
        json_object *input = ccp_json_get_arr(o, "input");
        assert_int_equal(json_object_array_length(input), store ? 3 : 2);
        if (store) {
            json_object *r = json_object_array_get_idx(input, 1);
            expect_json(r, "{\"type\":\"reasoning\",\"id\":\"rs_9\",\"summary\":[{\"type\":"
                           "\"summary_text\",\"text\":\"t\"}]}");
        }
        json_object_put(o);
        ccp_outbound_free(&out);
    }
}

static void a_bad_request_is_refused_with_its_path(void **state)
{
    (void)state;
    ccp_provider p = provider();
    const char *bad = "{\"model\":\"m\",\"messages\":7}";
    json_object *req = ccp_json_parse(bad, strlen(bad), NULL);
    ccp_encode_ctx ctx = {.provider = &p, .model = "m", .request = req};
    ccp_outbound out;
    ccp_outbound_init(&out);
    ccp_error err = {0};
    assert_int_equal(ccp_codec_openai_responses.encode(&ctx, &out, &err), CCP_EINVAL);
    if (!strstr(err.msg, "messages")) fail_msg("%s", err.msg);
    ccp_outbound_free(&out);
    json_object_put(req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_tool_conversation_maps_field_by_field),
        cmocka_unit_test(options_structured_output_and_azure),
        cmocka_unit_test(thinking_off_sends_no_reasoning_and_empty_turns_vanish),
        cmocka_unit_test(reasoning_without_encrypted_content_goes_back_only_with_store),
        cmocka_unit_test(a_bad_request_is_refused_with_its_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
