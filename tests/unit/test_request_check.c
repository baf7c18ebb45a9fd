/* test_request_check.c — requests of any shape get an answer, never a crash.
 *
 * The type-mutation test takes every request of the corpus in
 * tests/fixtures/requests (a real Claude Code turn among them), and for
 * every field path in it puts a value of each JSON type in its place (or
 * removes it); each mutant goes through the router, every codec's encoder,
 * and each provider's pipeline followed by its encoder. Each must succeed or
 * fail cleanly with a message: never abort (json-c asserts on a wrong type)
 * and, under ASan, never read out of bounds or leak. Then the checks that
 * name the field, the model-name rule and URL path encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "codec/anthropic.h"
#include "codec/codec.h"
#include "codec/gemini.h"
#include "codec/openai_chat.h"
#include "config/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/tokens.h"
#include "pipeline/pipeline.h"
#include "router/route.h"
#include "test_helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Three providers, one per format, each with a pipeline of every
 * transformer that applies to it; a router with rules that read the
 * request (model glob, tools, token estimate, stage). */
static const char config_yaml[] =
    "providers:\n"
    "  - {name: an, format: anthropic, base_url: 'https://api.anthropic.com', api_key: k,"
    " pipeline: pa}\n"
    "  - {name: oa, format: openai-chat, base_url: 'http://127.0.0.1:9/v1', api_key: k,"
    " pipeline: po}\n"
    "  - {name: gm, format: gemini, base_url: 'http://127.0.0.1:9/v1beta', api_key: k,"
    " pipeline: pg}\n"
    "pipelines:\n"
    "  pa:\n"
    "    - {use: max-tokens, with: {max: 1000}}\n"
    "    - {use: reasoning, with: {adaptive_budget: 2048, max_budget: 4096}}\n"
    "    - strip-cache-control\n"
    "    - deepseek\n"
    "    - schema-sanitize\n"
    "  po:\n"
    "    - {use: max-tokens, with: {set: 500}}\n"
    "    - {use: sampling, with: {top_p: 0.5}}\n"
    "    - {use: system-prompt, with: {mode: prepend, text: first}}\n"
    "    - strip-thinking\n"
    "    - deepseek\n"
    "    - openrouter\n"
    "    - groq\n"
    "    - ollama\n"
    "    - qwen\n"
    "    - {use: extra-body, with: {body: {x: 1}}}\n"
    "  pg:\n"
    "    - {use: system-prompt, with: {mode: replace, text: only}}\n"
    "    - {use: reasoning, with: {disable: true}}\n"
    "    - schema-sanitize\n"
    "router:\n"
    "  default: an\n"
    "  thinking: oa/gpt-think\n"
    "  long_context_tokens: 300\n"
    "  rules:\n"
    "    - {name: big, when: {model: '*sonnet*', tokens_above: 100, tools: [Read]},"
    " route: gm/gemini-2.5-pro}\n";

static ccp_config *cfg;

/* ---- the corpus ------------------------------------------------------- */

#define MAX_REQUESTS 32

static json_object *corpus[MAX_REQUESTS];
static char *corpus_names[MAX_REQUESTS];
static size_t n_corpus;

static int load_corpus(void **state)
{
    (void)state;
    ccp_log_set_level(CCP_LOG_ERROR); /* every mutant's dropped tool would be logged */
    ccp_diags d = {0};
    if (ccp_config_load_string("t.yaml", config_yaml, strlen(config_yaml), &cfg, &d) != 0) {
        ccp_diags_print(&d, stderr);
        return -1;
    }
    ccp_diags_free(&d);
    DIR *dir = opendir(CCP_TEST_FIXTURES "/requests");
    if (!dir) return -1;
    struct dirent *e;
    while ((e = readdir(dir)) && n_corpus < MAX_REQUESTS) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "requests/%s", e->d_name);
        size_t len;
        char *text = read_fixture(rel, &len);
        ccp_error err;
        json_object *req = ccp_json_parse(text, len, &err);
        free(text);
        if (!req) {
            fprintf(stderr, "%s: %s\n", rel, err.msg);
            closedir(dir);
            return -1;
        }
        corpus_names[n_corpus] = ccp_xstrdup(e->d_name);
        corpus[n_corpus++] = req;
    }
    closedir(dir);
    return n_corpus ? 0 : -1;
}

static int free_corpus(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_corpus; i++) {
        json_object_put(corpus[i]);
        free(corpus_names[i]);
    }
    ccp_config_unref(cfg);
    return 0;
}

static json_object *copy_of(json_object *o)
{
    json_object *c = NULL;
    if (!o) return NULL; /* the whole request mutated to null */
    assert_int_equal(json_object_deep_copy(o, &c, NULL), 0);
    return c;
}

/* ---- running a request through everything that reads it --------------- */

typedef struct tally {
    size_t runs, refused;
} tally;

/* 0, or a clean refusal: an error code with a message. */
static void expect_clean(int rc, const ccp_error *err, const char *what, const char *mutant)
{
    if (rc == 0) return;
    if (rc != CCP_EINVAL || !err->msg[0])
        fail_msg("%s: rc %d (%s) for %s", what, rc, err->msg, mutant);
}

static int encode_with(const ccp_provider *p, json_object *req, const char *mutant)
{
    const ccp_codec *codec = ccp_codec_for(p->format);
    ccp_outbound out;
    ccp_outbound_init(&out);
    ccp_error err = {0};
    ccp_encode_ctx ctx = {.provider = p, .request = req, .stream = true};
    int rc = codec->encode(&ctx, &out, &err);
    expect_clean(rc, &err, codec->name, mutant);
    if (rc == 0) {
        /* What went out is one JSON object and a URL of the provider's. */
        ccp_outbound_seal(&out);
        json_object *body = ccp_json_parse(out.body.data, out.body.len, NULL);
        assert_true(json_object_is_type(body, json_type_object));
        json_object_put(body);
        assert_int_equal(strncmp(out.url.data, p->base_url, strlen(p->base_url)), 0);
    }
    ccp_outbound_free(&out);
    return rc;
}

/* The request (not edited) through the router, each encoder, and each
 * provider's pipeline then its encoder. Returns how many refused it. */
static size_t run_all(json_object *req, const char *mutant)
{
    size_t refused = 0;
    json_object *r = copy_of(req);
    ccp_route_choice choice;
    ccp_error err = {0};
    int rc = ccp_route_pick(cfg, r, NULL, NULL, &choice, &err);
    expect_clean(rc, &err, "router", mutant);
    ccp_route_choice_free(&choice);
    (void)ccp_tokens_estimate_request(r);
    json_object_put(r);

    for (size_t i = 0; i < cfg->n_providers; i++) {
        const ccp_provider *p = &cfg->providers[i];
        r = copy_of(req);
        refused += encode_with(p, r, mutant) != 0;
        json_object_put(r);

        /* A body that is no JSON object is refused before any pipeline
         * (messages.c, explain): pipelines always get an object. */
        if (!json_object_is_type(req, json_type_object)) continue;
        r = copy_of(req);
        rc = ccp_pipeline_run_request(p->pipeline, r, &err);
        expect_clean(rc, &err, p->pipeline->name, mutant);
        if (rc == 0) {
            const ccp_codec *codec = ccp_codec_for(p->format);
            ccp_outbound out;
            ccp_outbound_init(&out);
            ccp_encode_ctx ctx = {.provider = p, .request = r, .stream = false};
            rc = codec->encode(&ctx, &out, &err);
            expect_clean(rc, &err, codec->name, mutant);
            if (rc == 0) {
                rc = ccp_pipeline_run_outbound(p->pipeline, r, &out, &err);
                expect_clean(rc, &err, "outbound pipeline", mutant);
            }
            ccp_outbound_free(&out);
        }
        json_object_put(r);
    }
    return refused;
}

/* ---- field paths and mutations ------------------------------------------ */

#define MAX_DEPTH 32

typedef struct path {
    int n;
    const char *key[MAX_DEPTH]; /* borrowed from the original tree; NULL: index */
    size_t idx[MAX_DEPTH];
} path;

static const char *const values[] = {
    "null", "true", "7", "2.5", "\"s\"", "[]", "{}", "[null]", "[7]", "[{}]", "[\"s\"]", "\"\"",
};
#define REMOVE NULL

static void describe(const path *p, const char *value, char *out, size_t size)
{
    size_t len = 0;
    for (int i = 0; i < p->n && len < size; i++) {
        int n = p->key[i] ? snprintf(out + len, size - len, "%s%s", i ? "." : "", p->key[i])
                          : snprintf(out + len, size - len, "%s%zu", i ? "." : "", p->idx[i]);
        if (n > 0) len += (size_t)n;
    }
    if (len < size) snprintf(out + len, size - len, " = %s", value ? value : "(removed)");
}

/* The request with the value at path replaced by value (NULL: removed). */
static json_object *mutant(json_object *orig, const path *p, const char *value)
{
    json_object *v = value ? ccp_json_parse(value, strlen(value), NULL) : NULL;
    if (p->n == 0) return v; /* the whole request */
    json_object *root = copy_of(orig), *parent = root;
    for (int i = 0; i < p->n - 1; i++)
        parent = p->key[i] ? ccp_json_get(parent, p->key[i])
                           : json_object_array_get_idx(parent, p->idx[i]);
    int last = p->n - 1;
    if (p->key[last]) {
        if (value)
            json_object_object_add(parent, p->key[last], v);
        else
            json_object_object_del(parent, p->key[last]);
    } else if (value) {
        json_object_array_put_idx(parent, p->idx[last], v);
    } else {
        json_object_array_del_idx(parent, p->idx[last], 1);
    }
    return root;
}

static void mutate_at(json_object *orig, const path *p, tally *t)
{
    char name[512];
    for (size_t i = 0; i <= sizeof values / sizeof values[0]; i++) {
        const char *value = i < sizeof values / sizeof values[0] ? values[i] : REMOVE;
        if (!value && p->n == 0) continue;
        describe(p, value, name, sizeof name);
        json_object *m = mutant(orig, p, value);
        size_t refused = run_all(m, name);
        json_object_put(m);
        t->runs++;
        t->refused += refused != 0;
    }
}

/* Every path under node (node itself included), depth first. */
static void walk(json_object *orig, json_object *node, path *p, tally *t)
{
    mutate_at(orig, p, t);
    if (p->n == MAX_DEPTH) return;
    if (json_object_is_type(node, json_type_object)) {
        json_object_object_foreach(node, k, v)
        {
            p->key[p->n] = k;
            p->n++;
            walk(orig, v, p, t);
            p->n--;
        }
    } else if (json_object_is_type(node, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(node); i++) {
            p->key[p->n] = NULL;
            p->idx[p->n] = i;
            p->n++;
            walk(orig, json_object_array_get_idx(node, i), p, t);
            p->n--;
        }
    }
}

static void every_request_of_the_corpus_encodes_as_it_is(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_corpus; i++) {
        for (size_t k = 0; k < cfg->n_providers; k++) {
            json_object *r = copy_of(corpus[i]);
            if (encode_with(&cfg->providers[k], r, corpus_names[i]) != 0)
                fail_msg("%s does not encode for %s", corpus_names[i], cfg->providers[k].name);
            json_object_put(r);
        }
    }
}

static void every_field_of_every_type_gets_an_answer_never_a_crash(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_corpus; i++) {
        tally t = {0};
        path p = {0};
        walk(corpus[i], corpus[i], &p, &t);
        /* Not vacuous: many mutants are refused, many still encode. */
        print_message("%s: %zu mutants, %zu refused by some codec\n", corpus_names[i], t.runs,
                      t.refused);
        assert_true(t.runs > 100);
        assert_true(t.refused > 0 && t.refused < t.runs);
    }
}

/* ---- the checks name the field ----------------------------------------- */

/* The error every codec gives for req (a JSON text), or "" when it encodes. */
static void expect_refusal(const char *req_json, const char *want)
{
    for (size_t k = 0; k < cfg->n_providers; k++) {
        json_object *req = ccp_json_parse(req_json, strlen(req_json), NULL);
        assert_non_null(req);
        const ccp_provider *p = &cfg->providers[k];
        ccp_outbound out;
        ccp_outbound_init(&out);
        ccp_error err = {0};
        ccp_encode_ctx ctx = {.provider = p, .request = req};
        int rc = ccp_codec_for(p->format)->encode(&ctx, &out, &err);
        if (rc != CCP_EINVAL || strcmp(err.msg, want) != 0)
            fail_msg("%s: rc %d, '%s'; want '%s'", p->name, rc, err.msg, want);
        ccp_outbound_free(&out);
        json_object_put(req);
    }
}

static void a_field_of_the_wrong_type_is_refused_by_name_in_every_format(void **state)
{
    (void)state;
    expect_refusal("{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\","
                   "\"content\":5}]}",
                   "messages.0.content: must be a string or an array of content blocks");
    expect_refusal("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                   "{\"role\":\"assistant\",\"content\":{\"type\":\"text\"}}]}",
                   "messages.1.content: must be a string or an array of content blocks");
    expect_refusal("{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}",
                   "messages.0.content: field required");
    expect_refusal("{\"model\":\"m\",\"messages\":[7]}",
                   "messages.0: must be an object with role and content");
    expect_refusal("{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
                   "messages.0.role: must be \"user\" or \"assistant\"");
    expect_refusal(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
        "\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":\"image\","
        "\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":1}}]}]}]}",
        "messages.0.content.0.content.0.source.data: must be a string");
    expect_refusal("{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
                   "\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":\"{}\"}]}]}",
                   "messages.0.content.0.input: must be an object");
    expect_refusal("{\"model\":\"m\",\"messages\":[],\"system\":[{\"type\":\"text\"}]}",
                   "system.0.text: field required");
    expect_refusal("{\"model\":\"m\",\"messages\":[],\"tools\":[{\"name\":\"a\","
                   "\"input_schema\":[]}]}",
                   "tools.0.input_schema: must be an object (a JSON Schema)");
    expect_refusal("{\"model\":\"m\",\"messages\":[],\"tools\":[{\"input_schema\":{}}]}",
                   "tools.0.name: field required");
    expect_refusal("{\"model\":\"m\",\"messages\":[],\"max_tokens\":\"5\"}",
                   "max_tokens: must be an integer");
    expect_refusal("{\"model\":\"m\",\"messages\":[],\"stop_sequences\":[\"a\",1]}",
                   "stop_sequences.1: must be a string");
    expect_refusal("{\"model\":\"m\",\"messages\":[],\"thinking\":{\"type\":\"enabled\","
                   "\"budget_tokens\":1.5}}",
                   "thinking.budget_tokens: must be an integer");
    expect_refusal("[]", "request: must be a JSON object (an Anthropic Messages request)");
}

/* ---- what a client's request must hold (ccp_request_validate) ---------- */

static void expect_invalid(const char *req_json, const char *want)
{
    json_object *req = ccp_json_parse(req_json, strlen(req_json), NULL);
    assert_non_null(req);
    ccp_error err = {0};
    int rc = ccp_request_validate(req, &err);
    if (want == NULL && rc != 0) fail_msg("%s: refused with '%s'", req_json, err.msg);
    if (want && (rc != CCP_EINVAL || strcmp(err.msg, want) != 0))
        fail_msg("%s: rc %d, '%s'; want '%s'", req_json, rc, err.msg, want);
    json_object_put(req);
}

#define OK_HEAD "{\"model\":\"m\",\"max_tokens\":5,"
#define HI "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

static void a_client_request_missing_what_the_api_requires_is_refused_by_path(void **state)
{
    (void)state;
    expect_invalid(OK_HEAD HI "}", NULL);
    expect_invalid(OK_HEAD HI ",\"some_future_field\":{\"x\":1}}", NULL); /* unknown passes */
    expect_invalid("{\"model\":\"m\"," HI "}", "max_tokens: field required");
    expect_invalid("{\"model\":\"m\",\"max_tokens\":0," HI "}", "max_tokens: must be at least 1");
    expect_invalid("{\"max_tokens\":5," HI "}", "model: field required");
    expect_invalid(OK_HEAD "\"messages\":[]}", "messages: at least one message is required");
    expect_invalid(OK_HEAD "\"messages\":{}}", "messages: must be an array");
    expect_invalid(OK_HEAD "\"messages\":[{\"content\":\"x\"}]}",
                   "messages.0.role: field required");
    expect_invalid(OK_HEAD
                   "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\","
                   "\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"},{\"role\":\"user\","
                   "\"content\":[{\"type\":\"tool_result\",\"content\":\"r\"}]}]}",
                   "messages.3.content.0.tool_use_id: field required");
    expect_invalid(OK_HEAD "\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":"
                           "\"tool_use\",\"id\":\"t\",\"input\":{}}]}]}",
                   "messages.0.content.0.name: field required");
    expect_invalid(OK_HEAD HI ",\"tools\":[{\"name\":\"a\"}]}",
                   "tools.0.input_schema: field required");
    expect_invalid(OK_HEAD HI ",\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"
                              "\"web_search\"}]}",
                   NULL); /* a server tool has no schema */
    expect_invalid(OK_HEAD HI ",\"tool_choice\":{\"type\":\"some\"}}",
                   "tool_choice.type: must be \"auto\", \"any\", \"tool\" or \"none\"");
    expect_invalid(OK_HEAD HI ",\"tool_choice\":{\"type\":\"tool\"}}",
                   "tool_choice.name: field required");
    expect_invalid(OK_HEAD HI ",\"thinking\":{\"type\":\"enabled\"}}",
                   "thinking.budget_tokens: field required");
    expect_invalid(OK_HEAD HI ",\"thinking\":{\"type\":\"on\"}}",
                   "thinking.type: must be \"enabled\", \"disabled\" or \"adaptive\"");
    expect_invalid(OK_HEAD HI ",\"thinking\":{\"type\":\"adaptive\"}}", NULL);
    expect_invalid(OK_HEAD HI ",\"stream\":\"yes\"}", "stream: must be a boolean");
    expect_invalid("{\"model\":\"m\",\"max_tokens\":null," HI "}", "max_tokens: field required");
    /* The top-level members are read in one pass, up to 32 of them; a
     * request with more is checked the same way. */
    char many[2048] = OK_HEAD;
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "\"x%d\":%d,", i, i);
    strcat(many, HI ",\"stream\":\"yes\"}");
    expect_invalid(many, "stream: must be a boolean");
    many[strlen(many) - strlen(",\"stream\":\"yes\"}")] = '\0';
    strcat(many, "}");
    expect_invalid(many, NULL);
}

/* A path too long to print whole is cut at 255 bytes, however deep the
 * walk went: tool_result blocks nested 150 deep (each level adds
 * ".0.content"; built with json-c, past the parser's nesting cap) with a
 * field missing at the bottom. */
static void a_path_deeper_than_its_room_is_cut_not_overflowed(void **state)
{
    (void)state;
    enum { DEPTH = 150 };
    ccp_buf want = CCP_BUF_INIT;
    ccp_buf_appends(&want, "messages.0.content");
    json_object *inner = json_object_new_array();
    json_object *text = json_object_new_object();
    json_object_object_add(text, "type", json_object_new_string("text"));
    json_object_array_add(inner, text);
    for (int i = 0; i < DEPTH; i++) {
        json_object *blk = json_object_new_object();
        json_object_object_add(blk, "type", json_object_new_string("tool_result"));
        json_object_object_add(blk, "tool_use_id", json_object_new_string("t"));
        json_object_object_add(blk, "content", inner);
        inner = json_object_new_array();
        json_object_array_add(inner, blk);
        ccp_buf_appends(&want, ".0.content");
    }
    ccp_buf_appends(&want, ".0.text");
    const char *head = OK_HEAD HI "}";
    json_object *tree = ccp_json_parse(head, strlen(head), NULL);
    assert_non_null(tree);
    json_object *msg0 = json_object_array_get_idx(ccp_json_get(tree, "messages"), 0);
    json_object_object_add(msg0, "content", inner);
    assert_true(want.len > 255);
    char msg[600];
    snprintf(msg, sizeof msg, "%.255s: field required", want.data);
    ccp_error err = {0};
    assert_int_equal(ccp_request_validate(tree, &err), CCP_EINVAL);
    assert_string_equal(err.msg, msg);
    json_object_put(tree);
    ccp_buf_free(&want);
}

/* Every request of the corpus (real Claude Code turns) is valid as sent. */
static void every_request_of_the_corpus_validates(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_corpus; i++) {
        ccp_error err = {0};
        if (ccp_request_validate(corpus[i], &err) != 0)
            fail_msg("%s: %s", corpus_names[i], err.msg);
    }
}

/* ---- model names and URL paths ------------------------------------------ */

static void real_model_ids_pass_the_model_name_check(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "claude-sonnet-4-5-20250929",
        "anthropic/claude-3.5-sonnet:beta",                  /* OpenRouter */
        "meta-llama/llama-3.1-8b-instruct:free",             /* OpenRouter */
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",      /* Bedrock */
        "llama3:8b",                                         /* Ollama */
        "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", /* Ollama from Hugging Face */
        "claude-3-5-sonnet-v2@20241022",                     /* Vertex */
        "ft:gpt-4o-mini-2024-07-18:my-org::9abc",            /* an OpenAI fine-tune */
        "accounts/fireworks/models/llama-v3p1-70b-instruct",
        "gemini-2.5-flash",
        "qwen2.5-coder+tools",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ccp_error err = {0};
        if (ccp_model_name_check(ok[i], &err) != 0) fail_msg("%s: %s", ok[i], err.msg);
    }
}

static void model_names_that_could_steer_a_url_are_refused(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"gm,../../../admin/secret", "model: ',' is not allowed"},
        {"x?injected=1#", "model: '?' is not allowed"},
        {"../admin", "model: a '.' or '..' path segment"},
        {"a/../b", "model: a '.' or '..' path segment"},
        {"a/./b", "model: a '.' or '..' path segment"},
        {"a/..", "model: a '.' or '..' path segment"},
        {"..", "model: a '.' or '..' path segment"},
        {"a//b", "model: an empty path segment"},
        {"/abs", "model: an empty path segment"},
        {"a/", "model: an empty path segment"},
        {"a b", "model: byte 0x20"},
        {"a\nb", "model: byte 0x0a"},
        {"a%2e%2e", "model: '%' is not allowed"},
        {"", "model: must not be empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccp_error err = {0};
        assert_int_equal(ccp_model_name_check(bad[i][0], &err), CCP_EINVAL);
        if (strncmp(err.msg, bad[i][1], strlen(bad[i][1])) != 0)
            fail_msg("%s: '%s', want '%s...'", bad[i][0], err.msg, bad[i][1]);
    }
    char longname[CCP_MODEL_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ccp_error err = {0};
    assert_int_equal(ccp_model_name_check(longname, &err), CCP_EINVAL);
    longname[CCP_MODEL_NAME_MAX] = '\0';
    assert_int_equal(ccp_model_name_check(longname, &err), 0);
}

/* Every codec refuses a bad model, whether the client's or a route's. */
static void every_codec_refuses_a_bad_model(void **state)
{
    (void)state;
    expect_refusal("{\"model\":\"x?injected=1#\",\"messages\":[]}",
                   "model: '?' is not allowed in a model name (letters, digits and - . _ : / @ + "
                   "are)");
    for (size_t k = 0; k < cfg->n_providers; k++) {
        const char *req_json = "{\"model\":\"fine\",\"messages\":[]}";
        json_object *req = ccp_json_parse(req_json, strlen(req_json), NULL);
        ccp_outbound out;
        ccp_outbound_init(&out);
        ccp_error err = {0};
        ccp_encode_ctx ctx = {
            .provider = &cfg->providers[k], .model = "../../../admin/secret", .request = req};
        assert_int_equal(ccp_codec_for(cfg->providers[k].format)->encode(&ctx, &out, &err),
                         CCP_EINVAL);
        ccp_outbound_free(&out);
        json_object_put(req);
    }
}

static void url_path_segments_are_percent_encoded(void **state)
{
    (void)state;
    ccp_buf b = CCP_BUF_INIT;
    ccp_url_append_path(&b, "tunedModels/a b:c@d+e?f#g%h~i_j.k-l");
    assert_string_equal(b.data, "tunedModels/a%20b%3Ac%40d%2Be%3Ff%23g%25h~i_j.k-l");
    ccp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_request_of_the_corpus_encodes_as_it_is),
        cmocka_unit_test(every_field_of_every_type_gets_an_answer_never_a_crash),
        cmocka_unit_test(a_field_of_the_wrong_type_is_refused_by_name_in_every_format),
        cmocka_unit_test(a_client_request_missing_what_the_api_requires_is_refused_by_path),
        cmocka_unit_test(a_path_deeper_than_its_room_is_cut_not_overflowed),
        cmocka_unit_test(every_request_of_the_corpus_validates),
        cmocka_unit_test(real_model_ids_pass_the_model_name_check),
        cmocka_unit_test(model_names_that_could_steer_a_url_are_refused),
        cmocka_unit_test(every_codec_refuses_a_bad_model),
        cmocka_unit_test(url_path_segments_are_percent_encoded),
    };
    return cmocka_run_group_tests(tests, load_corpus, free_corpus);
}
