/* test_gemini.c — Anthropic request → Gemini request, field by field, and
 * the JSON Schema conversion with every keyword it drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/gemini.h"
#include "config/config.h"
#include "core/json.h"

#include <stdio.h>
#include <string.h>

static void assert_json(json_object *got, const char *want)
{
    json_object *w = ccp_json_parse(want, strlen(want), NULL);
    if (!w) fail_msg("bad expectation: %s", want);
    if (!json_object_equal(w, got)) {
        fprintf(stderr, "got  %s\nwant %s\n", ccp_json_str(got, NULL), want);
        fail_msg("differs (above)");
    }
    json_object_put(w);
}

static ccp_provider provider = {
    .name = "gem",
    .format = CCP_FORMAT_GEMINI,
    .base_url = "https://generativelanguage.googleapis.com/v1beta",
    .api_key = "g-key",
    .auth = CCP_AUTH_GOOG,
};

/* Encodes request; returns the body, fills url/headers. */
static json_object *encode(const char *request, bool stream, const char *model, ccp_outbound *out,
                           int *rc)
{
    json_object *req = ccp_json_parse(request, strlen(request), NULL);
    if (!req) fail_msg("bad test JSON");
    ccp_outbound_init(out);
    ccp_encode_ctx ctx = {.provider = &provider, .model = model, .request = req, .stream = stream};
    ccp_error err = {0};
    *rc = ccp_codec_gemini.encode(&ctx, out, &err);
    json_object_put(req);
    if (*rc) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "error", json_object_new_string(err.msg));
        return e;
    }
    ccp_outbound_seal(out);
    return ccp_json_parse(out->body.data, out->body.len, NULL);
}

static void a_claude_code_turn_maps_field_by_field(void **state)
{
    const char *req =
        "{\"model\":\"claude-sonnet-4-5[1m]\",\"max_tokens\":64000,\"temperature\":0.5,\"top_p\":0."
        "9,"
        "\"top_k\":40,\"stop_sequences\":[\"END\"],\"stream\":true,"
        "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cc=1\"},{\"type\":"
        "\"text\",\"text\":\"You are Claude Code.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
        "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},"
        "\"tools\":[{\"name\":\"Read\",\"description\":\"Reads\",\"input_schema\":{\"type\":"
        "\"object\",\"properties\":{\"file_path\":{\"type\":\"string\"}},\"required\":["
        "\"file_path\"]}},{\"name\":\"Ping\",\"input_schema\":{\"type\":\"object\"}},{\"type\":"
        "\"web_search_20250305\",\"name\":\"web_search\"}],"
        "\"tool_choice\":{\"type\":\"tool\",\"name\":\"Read\"},"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},{"
        "\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":"
        "\"iVBO\"}}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
        "\"hm\",\"signature\":\"s\"},{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":"
        "\"Reading.\"},{\"type\":\"tool_use\",\"id\":\"toolu_abcdefghijklmnopqrstuvwx_gs_CiQB-_"
        "ab\","
        "\"name\":\"Read\",\"input\":{\"file_path\":\"/a\"}}]},{\"role\":\"system\",\"content\":"
        "\"Be brief.\"},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
        "\"toolu_abcdefghijklmnopqrstuvwx_gs_CiQB-_ab\",\"is_error\":true,\"content\":[{\"type\":"
        "\"text\",\"text\":\"no such file\"}]},{\"type\":\"text\",\"text\":\"try again\"}]}]}";
    ccp_outbound out;
    int rc;
    json_object *b = encode(req, true, NULL, &out, &rc);
    assert_int_equal(rc, 0);
    assert_json(
        b, "{\"systemInstruction\":{\"parts\":[{\"text\":\"You are Claude Code.\"}]},"
           "\"contents\":["
           "{\"role\":\"user\",\"parts\":[{\"text\":\"look\"},{\"inlineData\":{\"mimeType\":"
           "\"image/png\",\"data\":\"iVBO\"}}]},"
           "{\"role\":\"model\",\"parts\":[{\"text\":\"Reading.\"},{\"functionCall\":{\"name\":"
           "\"Read\",\"args\":{\"file_path\":\"/a\"}},\"thoughtSignature\":\"CiQB+/ab\"}]},"
           "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"Read\",\"response\":{"
           "\"error\":\"no such file\"}}},{\"text\":\"[system] Be brief.\"},{\"text\":\"try "
           "again\"}]}],"
           "\"tools\":[{\"functionDeclarations\":[{\"name\":\"Read\",\"description\":\"Reads\","
           "\"parameters\":{\"type\":\"OBJECT\",\"properties\":{\"file_path\":{\"type\":"
           "\"STRING\"}},\"required\":[\"file_path\"]}},{\"name\":\"Ping\"}]}],"
           "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":["
           "\"Read\"]}},"
           "\"generationConfig\":{\"maxOutputTokens\":64000,\"temperature\":0.5,\"topP\":0.9,"
           "\"topK\":40,\"stopSequences\":[\"END\"],\"thinkingConfig\":{\"thinkingBudget\":2048,"
           "\"includeThoughts\":true}}}");
    assert_string_equal(out.url.data, "https://generativelanguage.googleapis.com/v1beta/models/"
                                      "claude-sonnet-4-5:streamGenerateContent?alt=sse");
    bool key = false;
    for (size_t i = 0; i < out.n_headers; i++)
        key = key || !strcmp(out.headers[i], "x-goog-api-key: g-key");
    assert_true(key);
    assert_null(strstr(out.url.data, "g-key"));
    json_object_put(b);
    ccp_outbound_free(&out);
}

static void thinking_tool_choice_and_output_format_variants(void **state)
{
    ccp_outbound out;
    int rc;
    json_object *b =
        encode("{\"model\":\"m\",\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{"
               "\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\","
               "\"properties\":{\"title\":{\"type\":\"string\"}},"
               "\"additionalProperties\":false}}},\"messages\":[]}",
               false, "gemini-2.5-flash", &out, &rc);
    assert_json(b,
                "{\"contents\":[],\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":-1,"
                "\"includeThoughts\":true},\"responseMimeType\":\"application/json\","
                "\"responseSchema\":{\"type\":\"OBJECT\",\"properties\":{\"title\":{\"type\":"
                "\"STRING\"}}}}}");
    assert_string_equal(out.url.data, "https://generativelanguage.googleapis.com/v1beta/models/"
                                      "gemini-2.5-flash:generateContent");
    json_object_put(b);
    ccp_outbound_free(&out);
    const char *choices[][2] = {{"{\"type\":\"auto\"}", "AUTO"},
                                {"{\"type\":\"any\"}", "ANY"},
                                {"{\"type\":\"none\"}", "NONE"}};
    for (int i = 0; i < 3; i++) {
        char req[512];
        snprintf(req, sizeof req,
                 "{\"model\":\"m\",\"thinking\":{\"type\":\"disabled\"},\"tool_choice\":%s,"
                 "\"tools\":[{\"name\":\"T\",\"input_schema\":{\"type\":\"object\"}}],"
                 "\"messages\":[]}",
                 choices[i][0]);
        b = encode(req, false, NULL, &out, &rc);
        const char *mode = ccp_json_get_str(
            ccp_json_get_obj(ccp_json_get_obj(b, "toolConfig"), "functionCallingConfig"), "mode");
        assert_string_equal(mode, choices[i][1]);
        assert_null(ccp_json_get(b, "generationConfig")); /* thinking disabled: nothing */
        json_object_put(b);
        ccp_outbound_free(&out);
    }
}

static void what_gemini_cannot_take_is_a_clear_error(void **state)
{
    ccp_outbound out;
    int rc;
    json_object *b =
        encode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x.test/a.png\"}}]}]}",
               false, NULL, &out, &rc);
    assert_int_equal(rc, CCP_EINVAL);
    assert_non_null(strstr(ccp_json_get_str(b, "error"), "send it as base64"));
    json_object_put(b);
    ccp_outbound_free(&out);
    b = encode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"tool_result\",\"tool_use_id\":\"toolu_nowhere\",\"content\":\"x\"}]}]}",
               false, NULL, &out, &rc);
    assert_int_equal(rc, CCP_EINVAL);
    assert_non_null(strstr(ccp_json_get_str(b, "error"), "toolu_nowhere answers no tool_use"));
    json_object_put(b);
    ccp_outbound_free(&out);
    /* A file Gemini holds may be given by URL. */
    b = encode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\","
               "\"source\":{\"type\":\"url\",\"url\":\"gs://bucket/a.png\"}}]}]}",
               false, NULL, &out, &rc);
    assert_int_equal(rc, 0);
    assert_json(b, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"fileData\":{\"fileUri\":"
                   "\"gs://bucket/a.png\"}}]}]}");
    json_object_put(b);
    ccp_outbound_free(&out);
}

static void schemas_keep_the_subset_and_drop_each_keyword_gemini_refuses(void **state)
{
    const char *in =
        "{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"$id\":\"x\",\"title\":\"T\","
        "\"type\":\"object\",\"additionalProperties\":false,\"$defs\":{\"Mode\":{\"type\":"
        "\"string\",\"enum\":[\"r\",\"w\"]}},\"definitions\":{\"N\":{\"type\":\"integer\","
        "\"format\":\"int64\",\"exclusiveMinimum\":0}},"
        "\"properties\":{"
        "\"path\":{\"type\":\"string\",\"format\":\"uri\",\"default\":\"/\",\"examples\":[\"/a\"],"
        "\"pattern\":\"^/\",\"description\":\"where\",\"minLength\":1},"
        "\"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
        "\"mode\":{\"$ref\":\"#/$defs/Mode\"},\"n\":{\"$ref\":\"#/definitions/N\"},"
        "\"maybe\":{\"type\":[\"string\",\"null\"]},\"kind\":{\"const\":\"file\"},"
        "\"level\":{\"type\":\"integer\",\"enum\":[1,2],\"minimum\":1,\"maximum\":9},"
        "\"either\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"number\",\"format\":\"float\"}]},"
        "\"one\":{\"allOf\":[{\"type\":\"boolean\"}]},"
        "\"list\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"a\":{"
        "\"type\":\"string\"}},\"additionalProperties\":true},\"minItems\":1,\"maxItems\":3,"
        "\"uniqueItems\":true},"
        "\"self\":{\"$ref\":\"#/$defs/Missing\"}},"
        "\"required\":[\"path\",\"ghost\"],\"propertyNames\":{\"pattern\":\"x\"}}";
    json_object *s = ccp_json_parse(in, strlen(in), NULL);
    json_object *g = ccp_gemini_schema(s);
    assert_json(g, "{\"type\":\"OBJECT\",\"properties\":{"
                   "\"path\":{\"type\":\"STRING\",\"description\":\"where\"},"
                   "\"when\":{\"type\":\"STRING\",\"format\":\"date-time\"},"
                   "\"mode\":{\"type\":\"STRING\",\"enum\":[\"r\",\"w\"]},"
                   "\"n\":{\"type\":\"INTEGER\",\"format\":\"int64\"},"
                   "\"maybe\":{\"nullable\":true,\"type\":\"STRING\"},"
                   "\"kind\":{\"enum\":[\"file\"],\"type\":\"STRING\"},"
                   "\"level\":{\"type\":\"INTEGER\",\"minimum\":1,\"maximum\":9},"
                   "\"either\":{\"anyOf\":[{\"type\":\"STRING\"},{\"type\":\"NUMBER\",\"format\":"
                   "\"float\"}]},"
                   "\"one\":{\"type\":\"BOOLEAN\"},"
                   "\"list\":{\"type\":\"ARRAY\",\"items\":{\"type\":\"OBJECT\",\"properties\":{"
                   "\"a\":{\"type\":\"STRING\"}}},\"minItems\":1,\"maxItems\":3},"
                   "\"self\":{\"type\":\"OBJECT\"}},"
                   "\"required\":[\"path\"]}");
    json_object_put(g);
    json_object_put(s);
    /* A schema that refers to itself stops at the depth limit. */
    const char *rec =
        "{\"$defs\":{\"Node\":{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":"
        "\"#/$defs/Node\"}}}},\"$ref\":\"#/$defs/Node\"}";
    s = ccp_json_parse(rec, strlen(rec), NULL);
    g = ccp_gemini_schema(s);
    assert_string_equal(ccp_json_get_str(g, "type"), "OBJECT");
    json_object_put(g);
    json_object_put(s);
}

/* Turns of one role in a row become one turn: Gemini wants user and model to
 * alternate. Claude Code's mid-conversation system message is the usual
 * case; parts keep their order. */
static void turns_of_one_role_in_a_row_are_merged(void **state)
{
    (void)state;
    const char *req = "{\"model\":\"m\",\"max_tokens\":10,\"messages\":["
                      "{\"role\":\"user\",\"content\":\"one\"},"
                      "{\"role\":\"system\",\"content\":\"Plan mode.\"},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"two\"}]},"
                      "{\"role\":\"assistant\",\"content\":\"a\"},"
                      "{\"role\":\"assistant\",\"content\":\"b\"},"
                      "{\"role\":\"user\",\"content\":\"three\"},"
                      "{\"role\":\"system\",\"content\":\"last\"}]}";
    ccp_outbound out;
    int rc;
    json_object *b = encode(req, false, NULL, &out, &rc);
    assert_int_equal(rc, 0);
    assert_json(ccp_json_get(b, "contents"),
                "[{\"role\":\"user\",\"parts\":[{\"text\":\"one\"},{\"text\":\"[system] Plan "
                "mode.\"},{\"text\":\"two\"}]},"
                "{\"role\":\"model\",\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"}]},"
                "{\"role\":\"user\",\"parts\":[{\"text\":\"three\"},{\"text\":\"[system] "
                "last\"}]}]");
    json_object_put(b);
    ccp_outbound_free(&out);
}

/* U+0000 inside a system text, a system message in the middle and a
 * tool_result's text reached Gemini cut at the NUL (the text was appended
 * as a C string), while openai-chat and the message path sent it whole:
 * the proxy is lossless, every text arrives in full. */
static void a_nul_inside_system_and_tool_result_text_is_kept(void **state)
{
    (void)state;
    const char *req = "{\"model\":\"m\",\"max_tokens\":10,"
                      "\"system\":[{\"type\":\"text\",\"text\":\"a\\u0000b\"}],"
                      "\"messages\":["
                      "{\"role\":\"user\",\"content\":\"q\"},"
                      "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":"
                      "\"toolu_1\",\"name\":\"Read\",\"input\":{}}]},"
                      "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
                      "\"toolu_1\",\"content\":[{\"type\":\"text\",\"text\":\"x\\u0000y\"}]}]},"
                      "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":"
                      "\"s\\u0000t\"}]}]}";
    ccp_outbound out;
    int rc;
    json_object *b = encode(req, false, NULL, &out, &rc);
    assert_int_equal(rc, 0);
    assert_json(ccp_json_get(b, "systemInstruction"), "{\"parts\":[{\"text\":\"a\\u0000b\"}]}");
    assert_non_null(memmem(out.body.data, out.body.len, "x\\u0000y", 8));
    assert_non_null(memmem(out.body.data, out.body.len, "[system] s\\u0000t", 17));
    json_object_put(b);
    ccp_outbound_free(&out);
}

/* 20,000 consecutive user messages (1 MB) became one turn by copying every
 * earlier part at each merge: 11 s of CPU. The work is now counted, not
 * timed: each part is added to an array at most twice. */
static void a_long_run_of_one_role_merges_in_linear_work(void **state)
{
    (void)state;
    enum { N = 20000 };
    json_object *contents = json_object_new_array();
    ccp_gemini_turns t;
    ccp_gemini_turns_init(&t, contents);
    for (int i = 0; i < N; i++) {
        /* Each message: a function response and a text, as a tool-result
         * turn of Claude Code's. */
        json_object *parts = json_object_new_array();
        char buf[64];
        snprintf(buf, sizeof buf, "{\"functionResponse\":{\"name\":\"f%d\"}}", i);
        json_object_array_add(parts, ccp_json_parse(buf, strlen(buf), NULL));
        snprintf(buf, sizeof buf, "{\"text\":\"t%d\"}", i);
        json_object_array_add(parts, ccp_json_parse(buf, strlen(buf), NULL));
        ccp_gemini_turns_add(&t, "user", parts);
    }
    ccp_gemini_turns_add(&t, "model", ccp_json_parse("[{\"text\":\"ok\"}]", 15, NULL));
    ccp_gemini_turns_flush(&t);
    assert_true(t.part_adds <= 2 * (2 * N + 1));
    assert_int_equal(json_object_array_length(contents), 2);
    json_object *parts = ccp_json_get_arr(json_object_array_get_idx(contents, 0), "parts");
    assert_int_equal(json_object_array_length(parts), 2 * N);
    /* The function responses first, then the texts, each in order. */
    for (int i = 0; i < N; i += 997) {
        char want[16];
        snprintf(want, sizeof want, "f%d", i);
        json_object *fr =
            ccp_json_get_obj(json_object_array_get_idx(parts, (size_t)i), "functionResponse");
        assert_string_equal(ccp_json_get_str(fr, "name"), want);
        snprintf(want, sizeof want, "t%d", i);
        assert_string_equal(
            ccp_json_get_str(json_object_array_get_idx(parts, (size_t)(N + i)), "text"), want);
    }
    json_object_put(contents);

    /* And through the encoder: the request of the report. */
    ccp_buf req = CCP_BUF_INIT;
    ccp_buf_appends(&req, "{\"model\":\"gemini-2.5-flash\",\"messages\":[");
    for (int i = 0; i < N; i++)
        ccp_buf_printf(&req, "%s{\"role\":\"user\",\"content\":\"message %d\"}", i ? "," : "", i);
    ccp_buf_appends(&req, "]}");
    ccp_outbound out;
    int rc;
    json_object *o = encode(req.data, false, NULL, &out, &rc);
    assert_int_equal(rc, 0);
    json_object *c = ccp_json_get_arr(o, "contents");
    assert_int_equal(json_object_array_length(c), 1);
    parts = ccp_json_get_arr(json_object_array_get_idx(c, 0), "parts");
    assert_int_equal(json_object_array_length(parts), N);
    assert_string_equal(ccp_json_get_str(json_object_array_get_idx(parts, N - 1), "text"),
                        "message 19999");
    json_object_put(o);
    ccp_outbound_free(&out);
    ccp_buf_free(&req);
}

/* The model reaches the URL path: percent-encoded, and a model that would
 * climb out of /models/ or add a query is refused before anything is sent. */
static void the_model_in_the_url_cannot_steer_the_request(void **state)
{
    (void)state;
    const char *req = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    ccp_outbound out;
    int rc;
    json_object *o = encode(req, true, "tunedModels/my-model", &out, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out.url.data, "https://generativelanguage.googleapis.com/v1beta/models/"
                                      "tunedModels/my-model:streamGenerateContent?alt=sse");
    json_object_put(o);
    ccp_outbound_free(&out);
    static const char *const bad[] = {"../../../admin/secret", "x?injected=1#", "a/../../b",
                                      "gm,../../../admin/secret"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = encode(req, false, bad[i], &out, &rc);
        assert_int_equal(rc, CCP_EINVAL);
        assert_int_equal(out.url.len, 0);
        json_object_put(o);
        ccp_outbound_free(&out);
    }
}

/* Definitions that refer to one another 8 times a level, 16 levels deep,
 * expand to 8^16 nodes inline: the conversion stops at its node budget
 * (and the request is still answered) instead of running forever. */
static void a_ref_bomb_schema_is_cut_at_the_node_budget(void **state)
{
    (void)state;
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, "{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/D0\"}},"
                        "\"$defs\":{");
    for (int d = 0; d < 16; d++) {
        ccp_buf_printf(&b, "%s\"D%d\":{\"type\":\"object\",\"properties\":{", d ? "," : "", d);
        for (int k = 0; k < 8; k++)
            ccp_buf_printf(&b, "%s\"p%d\":{\"$ref\":\"#/$defs/D%d\"}", k ? "," : "", k, d + 1);
        ccp_buf_appends(&b, "}}");
    }
    ccp_buf_appends(&b, ",\"D16\":{\"type\":\"string\"}}}");
    json_object *schema = ccp_json_parse(b.data, b.len, NULL);
    assert_non_null(schema);
    json_object *g = ccp_gemini_schema(schema);
    size_t len;
    ccp_json_str(g, &len);
    assert_true(len < 20000 * 64); /* bounded by the budget, not 8^16 */
    json_object_put(g);
    json_object_put(schema);
    ccp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_claude_code_turn_maps_field_by_field),
        cmocka_unit_test(thinking_tool_choice_and_output_format_variants),
        cmocka_unit_test(what_gemini_cannot_take_is_a_clear_error),
        cmocka_unit_test(schemas_keep_the_subset_and_drop_each_keyword_gemini_refuses),
        cmocka_unit_test(turns_of_one_role_in_a_row_are_merged),
        cmocka_unit_test(a_nul_inside_system_and_tool_result_text_is_kept),
        cmocka_unit_test(a_long_run_of_one_role_merges_in_linear_work),
        cmocka_unit_test(the_model_in_the_url_cannot_steer_the_request),
        cmocka_unit_test(a_ref_bomb_schema_is_cut_at_the_node_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
