/* test_transform.c — each built-in transformer on a request, and the
 * pipelines section's validation against the catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anthropic_writer.h"
#include "config/config.h"
#include "core/json.h"
#include "pipeline/pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Runs pipeline `p` of a config made of `pipelines` (YAML) on `request`,
 * request and outbound hooks (outbound on a given provider-format body),
 * and returns the edited request. */
static json_object *run_as(const char *format, const char *pipelines, const char *request,
                           ccp_outbound *out)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "providers: [{name: a, format: %s, base_url: 'http://x', pipeline: p}]\n"
             "pipelines:\n  p:\n%s",
             format, pipelines);
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d) != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("config does not load");
    }
    ccp_diags_free(&d);
    json_object *req = ccp_json_parse(request, strlen(request), NULL);
    assert_non_null(req);
    const ccp_pipeline *pl = cfg->providers[0].pipeline;
    assert_non_null(pl);
    ccp_error err;
    if (ccp_pipeline_run_request(pl, req, &err) != 0) fail_msg("%s", err.msg);
    if (out && ccp_pipeline_run_outbound(pl, req, out, &err) != 0) fail_msg("%s", err.msg);
    ccp_config_unref(cfg);
    return req;
}

static json_object *run(const char *pipelines, const char *request, ccp_outbound *out)
{
    return run_as("anthropic", pipelines, request, out);
}

static void assert_json(json_object *got, const char *want)
{
    json_object *w = ccp_json_parse(want, strlen(want), NULL);
    if (!json_object_equal(w, got)) fail_msg("got  %s\nwant %s", ccp_json_str(got, NULL), want);
    json_object_put(w);
}

static void max_tokens_clamps_sets_and_keeps_thinking_below(void **state)
{
    json_object *r =
        run("    - {use: max-tokens, with: {max: 8192}}\n",
            "{\"max_tokens\":64000,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":"
            "10000}}",
            NULL);
    assert_json(r,
                "{\"max_tokens\":8192,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":8191}}");
    json_object_put(r);
    r = run("    - {use: max-tokens, with: {max: 8192}}\n", "{\"max_tokens\":100}", NULL);
    assert_json(r, "{\"max_tokens\":100}");
    json_object_put(r);
    r = run("    - {use: max-tokens, with: {set: 4096}}\n", "{\"max_tokens\":100}", NULL);
    assert_json(r, "{\"max_tokens\":4096}");
    json_object_put(r);
}

static void sampling_sets_and_removes(void **state)
{
    json_object *r = run("    - use: sampling\n      with: {temperature: 0.6, remove: [top_k]}\n",
                         "{\"temperature\":1,\"top_k\":40,\"top_p\":0.9}", NULL);
    assert_json(r, "{\"temperature\":0.6,\"top_p\":0.9}");
    json_object_put(r);
}

static void reasoning_maps_adaptive_and_clamps(void **state)
{
    json_object *r =
        run("    - {use: reasoning, with: {adaptive_budget: 8000, max_budget: 6000}}\n",
            "{\"thinking\":{\"type\":\"adaptive\"}}", NULL);
    assert_json(r, "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":6000}}");
    json_object_put(r);
    r = run("    - {use: reasoning, with: {disable: true}}\n",
            "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":5}}", NULL);
    assert_json(r, "{}");
    json_object_put(r);
}

static void strips_cache_control_and_thinking(void **state)
{
    json_object *r =
        run("    - strip-cache-control\n    - strip-thinking\n",
            "{\"system\":[{\"type\":\"text\",\"text\":\"s\",\"cache_control\":{\"type\":"
            "\"ephemeral\"}}],\"messages\":[{\"role\":\"assistant\",\"content\":[{"
            "\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"x\"},{\"type\":"
            "\"text\",\"text\":\"a\"}]},{\"role\":\"user\",\"content\":[{\"type\":"
            "\"tool_result\",\"tool_use_id\":\"1\",\"content\":[{\"type\":\"text\","
            "\"text\":\"r\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}]}",
            NULL);
    assert_json(r, "{\"system\":[{\"type\":\"text\",\"text\":\"s\"}],\"messages\":[{\"role\":"
                   "\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]},{\"role\":"
                   "\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"1\","
                   "\"content\":[{\"type\":\"text\",\"text\":\"r\"}]}]}]}");
    json_object_put(r);
}

static void system_prompt_prepends_appends_replaces(void **state)
{
    const char *req = "{\"system\":\"base\"}";
    json_object *r =
        run("    - {use: system-prompt, with: {mode: prepend, text: first}}\n", req, NULL);
    assert_json(r, "{\"system\":[{\"type\":\"text\",\"text\":\"first\"},{\"type\":\"text\","
                   "\"text\":\"base\"}]}");
    json_object_put(r);
    r = run("    - {use: system-prompt, with: {text: last}}\n", req, NULL);
    assert_json(r, "{\"system\":[{\"type\":\"text\",\"text\":\"base\"},{\"type\":\"text\","
                   "\"text\":\"last\"}]}");
    json_object_put(r);
    r = run("    - {use: system-prompt, with: {mode: replace, text: only}}\n", req, NULL);
    assert_json(r, "{\"system\":[{\"type\":\"text\",\"text\":\"only\"}]}");
    json_object_put(r);
}

static void schema_sanitize_drops_keywords_but_not_properties(void **state)
{
    json_object *r =
        run("    - schema-sanitize\n",
            "{\"tools\":[{\"name\":\"t\",\"input_schema\":{\"$schema\":\"x\",\"type\":\"object\","
            "\"additionalProperties\":false,\"properties\":{\"format\":{\"type\":\"string\","
            "\"format\":\"uri\",\"default\":\"a\"},\"n\":{\"type\":\"array\",\"items\":{\"type\":"
            "\"object\",\"additionalProperties\":false,\"examples\":[1]}}},\"required\":["
            "\"format\"]}}]}",
            NULL);
    assert_json(r, "{\"tools\":[{\"name\":\"t\",\"input_schema\":{\"type\":\"object\","
                   "\"properties\":{\"format\":{\"type\":\"string\"},\"n\":{\"type\":\"array\","
                   "\"items\":{\"type\":\"object\"}}},\"required\":[\"format\"]}}]}");
    json_object_put(r);
}

static void extra_body_and_headers_edit_the_outbound_request(void **state)
{
    ccp_outbound out;
    ccp_outbound_init(&out);
    const char *encoded = "{\"model\":\"m\",\"stream\":true,\"user\":\"u\"}";
    out.json = ccp_json_parse(encoded, strlen(encoded), NULL);
    json_object *r = run("    - use: extra-body\n      with: {body: {provider: {order: [a, b]}, "
                         "user: null}}\n    - use: extra-headers\n      with: {headers: "
                         "{X-Title: cc-proxy}}\n",
                         "{}", &out);
    ccp_outbound_seal(&out);
    json_object *body = ccp_json_parse(out.body.data, out.body.len, NULL);
    assert_json(body, "{\"model\":\"m\",\"stream\":true,\"provider\":{\"order\":[\"a\",\"b\"]}}");
    assert_int_equal(out.n_headers, 1);
    assert_string_equal(out.headers[0], "X-Title: cc-proxy");
    json_object_put(body);
    json_object_put(r);
    ccp_outbound_free(&out);
}

/* An outbound hook's result on a given provider body. */
static json_object *outbound(const char *pipeline_yaml, const char *request, const char *body)
{
    ccp_outbound out;
    ccp_outbound_init(&out);
    out.json = ccp_json_parse(body, strlen(body), NULL);
    json_object *r = run_as("openai-chat", pipeline_yaml, request, &out);
    json_object_put(r);
    ccp_outbound_seal(&out);
    json_object *b = ccp_json_parse(out.body.data, out.body.len, NULL);
    ccp_outbound_free(&out);
    return b;
}

static void dialects_rewrite_what_their_provider_differs_in(void **state)
{
    const char *enabled = "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":3000}}";
    const char *adaptive = "{\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":"
                           "\"high\"}}";
    const char *off = "{\"thinking\":{\"type\":\"disabled\"}}";
    json_object *b =
        outbound("    - use: openrouter\n      with: {provider: {order: [fireworks]}}\n", enabled,
                 "{\"model\":\"m\",\"reasoning_effort\":\"low\"}");
    assert_json(b, "{\"model\":\"m\",\"reasoning\":{\"max_tokens\":3000},\"provider\":{"
                   "\"order\":[\"fireworks\"]}}");
    json_object_put(b);
    b = outbound("    - openrouter\n", adaptive, "{\"model\":\"m\"}");
    assert_json(b, "{\"model\":\"m\",\"reasoning\":{\"effort\":\"high\"}}");
    json_object_put(b);

    b = outbound("    - {use: groq, with: {reasoning_format: parsed}}\n", adaptive,
                 "{\"model\":\"m\",\"logprobs\":true}");
    assert_json(b, "{\"model\":\"m\",\"reasoning_format\":\"parsed\"}");
    json_object_put(b);
    b = outbound("    - {use: groq, with: {reasoning_format: parsed}}\n", off, "{\"model\":\"m\"}");
    assert_json(b, "{\"model\":\"m\"}");
    json_object_put(b);

    b = outbound("    - ollama\n", adaptive, "{\"model\":\"m\",\"parallel_tool_calls\":false}");
    assert_json(b, "{\"model\":\"m\",\"reasoning_effort\":\"high\"}");
    json_object_put(b);
    b = outbound("    - ollama\n", off, "{\"model\":\"m\",\"reasoning_effort\":\"low\"}");
    assert_json(b, "{\"model\":\"m\"}");
    json_object_put(b);

    b = outbound("    - qwen\n", enabled, "{\"model\":\"m\",\"stream\":true}");
    assert_json(b, "{\"model\":\"m\",\"stream\":true,\"enable_thinking\":true,"
                   "\"thinking_budget\":3000}");
    json_object_put(b);
    b = outbound("    - qwen\n", enabled, "{\"model\":\"m\"}");
    assert_json(b, "{\"model\":\"m\",\"enable_thinking\":false}");
    json_object_put(b);

    json_object *r = run("    - deepseek\n",
                         "{\"model\":\"deepseek-reasoner\",\"max_tokens\":100000,\"temperature\":"
                         "1,\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
                         "\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"},{\"type\":"
                         "\"text\",\"text\":\"a\"}]}]}",
                         NULL);
    assert_json(r, "{\"model\":\"deepseek-reasoner\",\"max_tokens\":65536,\"messages\":[{"
                   "\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
                   "\"a\"}]}]}");
    json_object_put(r);
    r = run("    - deepseek\n", "{\"model\":\"deepseek-chat\",\"max_tokens\":64000}", NULL);
    assert_json(r, "{\"model\":\"deepseek-chat\",\"max_tokens\":8192}");
    json_object_put(r);
}

/* Events through the pipeline's event hooks into the writer: the message
 * the client would get. */
static json_object *message_through(const char *pipeline_yaml, const char *args)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "providers: [{name: a, base_url: 'http://x', pipeline: p}]\npipelines:\n  p:\n%s",
             pipeline_yaml);
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    ccp_anthropic_writer *w = ccp_anthropic_writer_new(false, NULL, NULL);
    ccp_event_chain ch;
    ccp_event_chain_build(&ch, cfg->providers[0].pipeline, ccp_anthropic_writer_sink(w));
    size_t half = strlen(args) / 2;
    ccp_event evs[] = {
        {.type = CCP_EV_MESSAGE_START,
         .message_id = "msg_1",
         .model = "m",
         .usage = CCP_USAGE_UNKNOWN},
        {.type = CCP_EV_BLOCK_START, .index = 0, .block_kind = CCP_BLOCK_TEXT},
        {.type = CCP_EV_BLOCK_DELTA,
         .index = 0,
         .delta_kind = CCP_DELTA_TEXT,
         .text = "ok",
         .text_len = 2},
        {.type = CCP_EV_BLOCK_STOP, .index = 0},
        {.type = CCP_EV_BLOCK_START,
         .index = 1,
         .block_kind = CCP_BLOCK_TOOL_USE,
         .tool_id = "toolu_1",
         .tool_name = "Read"},
        {.type = CCP_EV_BLOCK_DELTA,
         .index = 1,
         .delta_kind = CCP_DELTA_PARTIAL_JSON,
         .text = args,
         .text_len = half},
        {.type = CCP_EV_BLOCK_DELTA,
         .index = 1,
         .delta_kind = CCP_DELTA_PARTIAL_JSON,
         .text = args + half,
         .text_len = strlen(args) - half},
        {.type = CCP_EV_BLOCK_STOP, .index = 1},
        {.type = CCP_EV_MESSAGE_DELTA, .stop_reason = "tool_use", .usage = CCP_USAGE_UNKNOWN},
        {.type = CCP_EV_MESSAGE_STOP},
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        assert_int_equal(ch.head->emit(ch.head, &evs[i]), 0);
    ccp_buf body = CCP_BUF_INIT;
    ccp_error err;
    assert_int_equal(ccp_anthropic_writer_message(w, &body, &err), 0);
    json_object *m = ccp_json_parse(body.data, body.len, NULL);
    ccp_buf_free(&body);
    ccp_event_chain_free(&ch);
    ccp_anthropic_writer_free(w);
    ccp_config_unref(cfg);
    ccp_diags_free(&d);
    return m;
}

static void tool_args_repair_completes_or_wraps_tool_input(void **state)
{
    struct {
        const char *args, *want;
    } cases[] = {
        {"{\"file_path\":\"/a.c\"}", "{\"file_path\":\"/a.c\"}"},
        {"{\"file_path\":\"/a.c", "{\"file_path\":\"/a.c\"}"},
        {"{\"edits\":[{\"old\":\"x\"", "{\"edits\":[{\"old\":\"x\"}]}"},
        {"ls -la", "{\"arguments\":\"ls -la\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object *m = message_through("    - tool-args-repair\n", cases[i].args);
        json_object *content = ccp_json_get_arr(m, "content");
        assert_string_equal(ccp_json_get_str(json_object_array_get_idx(content, 0), "text"), "ok");
        assert_json(ccp_json_get(json_object_array_get_idx(content, 1), "input"), cases[i].want);
        json_object_put(m);
    }
}

static void a_failing_step_names_itself_or_is_skipped(void **state)
{
    const char *yaml = "providers: [{name: a, base_url: 'http://x', pipeline: p}]\n"
                       "pipelines:\n  p:\n    - system-prompt\n";
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    json_object *req = ccp_json_parse("{}", 2, NULL);
    ccp_error err;
    assert_int_not_equal(ccp_pipeline_run_request(cfg->providers[0].pipeline, req, &err), 0);
    assert_string_equal(err.msg, "pipeline 'p' step 1 (system-prompt): option text is required");
    ccp_config_unref(cfg);
    yaml = "providers: [{name: a, base_url: 'http://x', pipeline: p}]\n"
           "pipelines:\n  p:\n    - {use: system-prompt, on_error: skip}\n";
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    assert_int_equal(ccp_pipeline_run_request(cfg->providers[0].pipeline, req, &err), 0);
    ccp_config_unref(cfg);
    json_object_put(req);
    ccp_diags_free(&d);
}

static void pipeline_mistakes_are_reported_with_their_place(void **state)
{
    const char *yaml = "providers:\n"
                       "  - {name: a, format: openai-chat, base_url: 'http://x', pipeline: p}\n"
                       "  - {name: b, base_url: 'http://y', pipeline: nope}\n"
                       "pipelines:\n"
                       "  p:\n"
                       "    - max-token\n"
                       "    - {use: max-tokens, with: {max: lots, cap: 3}}\n"
                       "    - {use: system-prompt, with: {mode: middle, text: x}}\n"
                       "    - strip-cache-control\n";
    ccp_config *c = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("p.yaml", yaml, strlen(yaml), &c, &d), CCP_ECONFIG);
    const char *want[] = {
        "p.yaml:6:7: pipeline 'p': unknown transformer 'max-token': did you mean 'max-tokens'?",
        "p.yaml:7:37: max-tokens option max: expected an integer",
        "p.yaml:7:43: unknown key 'cap' in the options of max-tokens",
        "p.yaml:8:41: system-prompt option mode: expected a string (one of: prepend, append, "
        "replace)",
        "p.yaml:2:68: provider 'a' has format openai-chat, but the strip-cache-control step of "
        "pipeline 'p' (p.yaml:9:7) does not apply to it",
        "p.yaml:3:47: provider 'b': no pipeline named 'nope'; declare it under pipelines "
        "(declared: p)",
    };
    size_t n = sizeof want / sizeof want[0];
    for (size_t i = 0; i < d.n && i < n; i++) {
        char got[600];
        snprintf(got, sizeof got, "%s:%d:%d: %s", d.items[i].file, d.items[i].line, d.items[i].col,
                 d.items[i].message);
        if (strncmp(got, want[i], strlen(want[i])) != 0)
            fail_msg("got: %s\nwant: %s", got, want[i]);
    }
    assert_int_equal(d.n, n);
    ccp_diags_free(&d);
}

/* Each option's typed slot lies inside its transformer's conf struct, and
 * a transformer has a conf exactly when it has options. */
static size_t slot_size(ccp_opt_type t)
{
    switch (t) {
    case CCP_OPT_INT:
        return sizeof(int64_t);
    case CCP_OPT_BOOL:
        return sizeof(bool);
    case CCP_OPT_STRING:
        return sizeof(const char *);
    default:
        return sizeof(json_object *);
    }
}

static void every_option_has_a_typed_slot(void **state)
{
    for (size_t i = 0; i < ccp_n_transformers; i++) {
        const ccp_transformer *t = ccp_transformers[i];
        assert_int_equal(t->conf_size != 0, t->opts[0].name != NULL);
        for (const ccp_opt_spec *o = t->opts; o->name; o++)
            if (o->offset + slot_size(o->type) > t->conf_size)
                fail_msg("%s option %s: slot outside the conf struct", t->name, o->name);
    }
}

/* A response hook needs a way to be freed, and a pipeline may not hold
 * more response hooks than its half of a request's event chain. */
static void event_hooks_are_freed_and_bounded(void **state)
{
    for (size_t i = 0; i < ccp_n_transformers; i++)
        assert_int_equal(ccp_transformers[i]->events != NULL,
                         ccp_transformers[i]->events_free != NULL);
    ccp_buf yaml = CCP_BUF_INIT;
    ccp_buf_appends(&yaml, "pipelines:\n  many:\n");
    for (int i = 0; i <= CCP_PIPELINE_MAX_EVENT_HOOKS; i++)
        ccp_buf_appends(&yaml, "    - tool-args-repair\n");
    ccp_config *c = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("p.yaml", yaml.data, yaml.len, &c, &d), CCP_ECONFIG);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.items[0].line, 3);
    assert_non_null(strstr(d.items[0].message, "at most 8"));
    ccp_diags_free(&d);
    /* One fewer is fine. */
    yaml.len -= strlen("    - tool-args-repair\n");
    assert_int_equal(ccp_config_load_string("p.yaml", yaml.data, yaml.len, &c, &d), 0);
    ccp_config_unref(c);
    ccp_diags_free(&d);
    ccp_buf_free(&yaml);
}

/* Steps run from several threads at once (two worker loops, the thread
 * pool): a config value a step puts into requests (sampling's
 * temperature, extra-body's members) is the config's, shared, and json-c
 * counts references without atomics. Taken by reference per request, lost
 * counts freed it under the config (a use after free, or a double free);
 * each request now gets a copy. */
typedef struct {
    const ccp_pipeline *p;
    int bad;
} value_race;

static void *value_race_run(void *ud)
{
    value_race *r = ud;
    for (int i = 0; i < 10000; i++) {
        json_object *req = ccp_json_parse("{}", 2, NULL);
        ccp_outbound out;
        ccp_outbound_init(&out);
        out.json = ccp_json_parse("{\"model\":\"m\"}", 13, NULL);
        ccp_error err = {0};
        if (ccp_pipeline_run_request(r->p, req, &err) != 0 ||
            ccp_pipeline_run_outbound(r->p, req, &out, &err) != 0 ||
            json_object_get_double(ccp_json_get(req, "temperature")) != 0.25 ||
            !ccp_json_get(ccp_json_get(out.json, "provider"), "order"))
            r->bad++;
        ccp_outbound_free(&out);
        json_object_put(req);
    }
    return NULL;
}

static void config_values_survive_steps_run_from_many_threads(void **state)
{
    (void)state;
    const char *yaml = "pipelines:\n  p:\n    - {use: sampling, with: {temperature: 0.25}}\n"
                       "    - {use: extra-body, with: {body: {provider: {order: [a, b]}}}}\n";
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    ccp_diags_free(&d);
    value_race r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (value_race){&cfg->pipelines[0], 0};
        assert_int_equal(pthread_create(&t[i], NULL, value_race_run, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].bad, 0);
    }
    ccp_config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_option_has_a_typed_slot),
        cmocka_unit_test(event_hooks_are_freed_and_bounded),
        cmocka_unit_test(max_tokens_clamps_sets_and_keeps_thinking_below),
        cmocka_unit_test(sampling_sets_and_removes),
        cmocka_unit_test(reasoning_maps_adaptive_and_clamps),
        cmocka_unit_test(strips_cache_control_and_thinking),
        cmocka_unit_test(system_prompt_prepends_appends_replaces),
        cmocka_unit_test(schema_sanitize_drops_keywords_but_not_properties),
        cmocka_unit_test(extra_body_and_headers_edit_the_outbound_request),
        cmocka_unit_test(config_values_survive_steps_run_from_many_threads),
        cmocka_unit_test(tool_args_repair_completes_or_wraps_tool_input),
        cmocka_unit_test(dialects_rewrite_what_their_provider_differs_in),
        cmocka_unit_test(a_failing_step_names_itself_or_is_skipped),
        cmocka_unit_test(pipeline_mistakes_are_reported_with_their_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
