/* test_route.c — stage detection and route selection on the shapes of
 * request Claude Code really sends, and the router section's validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/json.h"
#include "router/route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const CONFIG =
    "providers:\n"
    "  - {name: main, base_url: 'http://127.0.0.1:1', models: [big-model]}\n"
    "  - {name: small, format: openai-chat, base_url: 'http://127.0.0.1:2/v1', auth: none}\n"
    "  - {name: think, base_url: 'http://127.0.0.1:3'}\n"
    "  - {name: deep, base_url: 'http://127.0.0.1:4'}\n"
    "  - {name: gem, base_url: 'http://127.0.0.1:5'}\n"
    "router:\n"
    "  default: main/big-model\n"
    "  background: small/qwen-small\n"
    "  thinking: think/reasoner\n"
    "  planning: deep/planner\n"
    "  long_context: [gem/long, main/big-model]\n"
    "  web_search: gem/searcher\n"
    "  long_context_tokens: 2000\n"
    "  rules:\n"
    "    - name: research-opus\n"
    "      when: {model: '*opus*', header: {x-team: research*}}\n"
    "      route: deep/opus-like\n"
    "    - name: big-tools\n"
    "      when: {tools: [NotebookEdit], stage: thinking}\n"
    "      route: gem/notebooks\n";

static ccp_config *load(const char *yaml)
{
    ccp_config *c = NULL;
    ccp_diags d = {0};
    int rc = ccp_config_load_string("t.yaml", yaml, strlen(yaml), &c, &d);
    if (rc != 0) {
        ccp_diags_print(&d, stderr);
        fail_msg("config does not load");
    }
    ccp_diags_free(&d);
    return c;
}

typedef struct {
    const char *name, *value;
} hdr;

static const char *get_header(void *ud, const char *name)
{
    for (const hdr *h = ud; h && h->name; h++)
        if (!strcasecmp(h->name, name)) return h->value;
    return NULL;
}

/* Claude Code's main-turn shape: adaptive thinking, its tools, a user turn. */
#define TOOLS                                                                                      \
    "\"tools\":[{\"name\":\"Read\",\"description\":\"r\",\"input_schema\":{\"type\":\"object\"}}," \
    "{\"name\":\"Bash\",\"description\":\"b\",\"input_schema\":{\"type\":\"object\"}}]"
#define SYSTEM                                                                                     \
    "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cc_version=2.1.197\"}," \
    "{\"type\":\"text\",\"text\":\"You are Claude Code.\"}]"

typedef struct {
    const char *what;
    const char *request;
    const hdr *headers;
    ccp_route_via via;
    const char *stage;
    const char *target; /* provider/model of the first target */
    size_t n_targets;
} route_case;

static const hdr research[] = {{"X-Team", "research-west"}, {NULL, NULL}};

static const route_case cases[] = {
    {"main turn",
     "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64000,\"stream\":true," SYSTEM "," TOOLS
     ",\"thinking\":{\"type\":\"adaptive\"},\"messages\":[{\"role\":"
     "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"fix the test\"}]}]}",
     NULL, CCP_VIA_DEFAULT, "default", "main/big-model", 1},
    {"haiku background call",
     "{\"model\":\"claude-haiku-4-5-20251001\",\"max_tokens\":512,\"thinking\":{\"type\":"
     "\"disabled\"},\"messages\":[{\"role\":\"user\",\"content\":\"title this\"}]}",
     NULL, CCP_VIA_STAGE, "background", "small/qwen-small", 1},
    {"thinking turn",
     "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64000," TOOLS
     ",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":16000},\"messages\":[{\"role\":"
     "\"user\",\"content\":\"think hard\"}]}",
     NULL, CCP_VIA_STAGE, "thinking", "think/reasoner", 1},
    {"plan mode turn",
     "{\"model\":\"claude-sonnet-4-5\"," SYSTEM ",\"messages\":[{\"role\":\"user\",\"content\":"
     "[{\"type\":\"text\",\"text\":\"<system-reminder>\\nPlan mode is active. The user "
     "indicated that they do not want you to execute yet\\n</system-reminder>\"},{\"type\":"
     "\"text\",\"text\":\"plan the refactor\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":"
     "\"tool_use\",\"id\":\"t1\",\"name\":\"Read\",\"input\":{}}]},{\"role\":\"user\","
     "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"ok\"}]}]}",
     NULL, CCP_VIA_STAGE, "planning", "deep/planner", 1},
    {"image turn, no image route: default",
     "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
     "\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":"
     "\"iVBORw0KGgo=\"}},{\"type\":\"text\",\"text\":\"what is this\"}]}]}",
     NULL, CCP_VIA_DEFAULT, "image", "main/big-model", 1},
    {"long context turn, with a fallback", NULL, NULL, CCP_VIA_STAGE, "long_context", "gem/long",
     2},
    {"/model override", "{\"model\":\"deep,deepseek-reasoner\",\"messages\":[]}", NULL,
     CCP_VIA_MODEL, "default", "deep/deepseek-reasoner", 1},
    {"/model override with a slash", "{\"model\":\"gem/gemini-2.5-pro\",\"messages\":[]}", NULL,
     CCP_VIA_MODEL, "default", "gem/gemini-2.5-pro", 1},
    {"a model with a slash but no such provider",
     "{\"model\":\"anthropic/claude-sonnet-4.5\",\"messages\":[]}", NULL, CCP_VIA_DEFAULT,
     "default", "main/big-model", 1},
    {"subagent tag beats the haiku stage",
     "{\"model\":\"claude-haiku-4-5\",\"system\":[{\"type\":\"text\",\"text\":\"You are a "
     "reviewer.\\n<ccproxy-model>gem/gemini-2.5-flash</ccproxy-model>\\nBe brief.\"}],"
     "\"messages\":[]}",
     NULL, CCP_VIA_TAG, "background", "gem/gemini-2.5-flash", 1},
    {"web search server tool",
     "{\"model\":\"claude-sonnet-4-5\",\"tools\":[{\"type\":\"web_search_20250305\",\"name\":"
     "\"web_search\",\"max_uses\":8}],\"messages\":[{\"role\":\"user\",\"content\":\"news\"}]}",
     NULL, CCP_VIA_STAGE, "web_search", "gem/searcher", 1},
    {"rule on model and header", "{\"model\":\"claude-opus-4-1\",\"messages\":[]}", research,
     CCP_VIA_RULE, "default", "deep/opus-like", 1},
    {"rule needs its header", "{\"model\":\"claude-opus-4-1\",\"messages\":[]}", NULL,
     CCP_VIA_DEFAULT, "default", "main/big-model", 1},
    {"rule on tools and stage",
     "{\"model\":\"claude-sonnet-4-5\",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2000},"
     "\"tools\":[{\"name\":\"NotebookEdit\",\"input_schema\":{}}],\"messages\":[]}",
     NULL, CCP_VIA_RULE, "thinking", "gem/notebooks", 1},
};

/* A request whose estimate is well over the test config's 2,000 tokens,
 * with an image too: long_context wins over image. */
static char *long_request(void)
{
    size_t n = 40000;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        text[i] = "the quick brown fox jumps "[i % 26];
    text[n] = '\0';
    json_object *req = json_object_new_object();
    json_object_object_add(req, "model", json_object_new_string("claude-sonnet-4-5"));
    json_object *msgs = json_object_new_array();
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", json_object_new_string("user"));
    json_object *content = json_object_new_array();
    json_object *img = json_object_new_object();
    json_object_object_add(img, "type", json_object_new_string("image"));
    json_object_array_add(content, img);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "type", json_object_new_string("text"));
    json_object_object_add(t, "text", json_object_new_string(text));
    json_object_array_add(content, t);
    json_object_object_add(m, "content", content);
    json_object_array_add(msgs, m);
    json_object_object_add(req, "messages", msgs);
    char *s = strdup(ccp_json_str(req, NULL));
    json_object_put(req);
    free(text);
    return s;
}

static void claude_code_request_shapes_route_where_the_config_says(void **state)
{
    ccp_config *cfg = load(CONFIG);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const route_case *tc = &cases[i];
        char *owned = tc->request ? NULL : long_request();
        const char *text = tc->request ? tc->request : owned;
        ccp_error err;
        json_object *req = ccp_json_parse(text, strlen(text), &err);
        if (!req) fail_msg("%s: bad test JSON: %s", tc->what, err.msg);
        ccp_route_choice c;
        if (ccp_route_pick(cfg, req, get_header, (void *)tc->headers, &c, &err) != 0)
            fail_msg("%s: %s", tc->what, err.msg);
        char got[200];
        const ccp_target *t = &c.route->targets[0];
        snprintf(got, sizeof got, "%s/%s", t->provider->name, t->model ? t->model : "-");
        if (c.via != tc->via || strcmp(ccp_stage_name(c.stage), tc->stage) != 0 ||
            strcmp(got, tc->target) != 0 || c.route->n != tc->n_targets)
            fail_msg("%s: got via=%s stage=%s target=%s (%zu targets); want via=%s stage=%s "
                     "target=%s (%zu)",
                     tc->what, ccp_route_via_name(c.via), ccp_stage_name(c.stage), got, c.route->n,
                     ccp_route_via_name(tc->via), tc->stage, tc->target, tc->n_targets);
        if (c.via == CCP_VIA_TAG) {
            /* The tag is gone from what will be sent; the rest stays. */
            const char *sys = ccp_json_get_str(
                json_object_array_get_idx(ccp_json_get_arr(req, "system"), 0), "text");
            assert_string_equal(sys, "You are a reviewer.\nBe brief.");
        }
        /* The request parsed again, with the pick's edits re-applied, is
         * what the pick left (a retry's request is built this way). */
        json_object *again = ccp_json_parse(text, strlen(text), &err);
        ccp_route_reapply(&c, again);
        ccp_buf picked = CCP_BUF_INIT, rebuilt = CCP_BUF_INIT;
        ccp_json_write(&picked, req);
        ccp_json_write(&rebuilt, again);
        if (strcmp(picked.data, rebuilt.data) != 0)
            fail_msg("%s: re-applied\n%s\nnot\n%s", tc->what, rebuilt.data, picked.data);
        ccp_buf_free(&picked);
        ccp_buf_free(&rebuilt);
        json_object_put(again);
        ccp_route_choice_free(&c);
        json_object_put(req);
        free(owned);
    }
    ccp_config_unref(cfg);
}

static void adaptive_thinking_counts_only_when_configured(void **state)
{
    const char *req_text = "{\"model\":\"claude-sonnet-4-5\",\"thinking\":{\"type\":\"adaptive\"},"
                           "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    const char *yaml[] = {
        "providers: [{name: a, base_url: 'http://x'}, {name: b, base_url: 'http://y'}]\n"
        "router: {default: a/m, thinking: b/t}\n",
        "providers: [{name: a, base_url: 'http://x'}, {name: b, base_url: 'http://y'}]\n"
        "router: {default: a/m, thinking: b/t, adaptive_is_thinking: true}\n",
    };
    for (int i = 0; i < 2; i++) {
        ccp_config *cfg = load(yaml[i]);
        json_object *req = ccp_json_parse(req_text, strlen(req_text), NULL);
        ccp_route_choice c;
        assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, &c, NULL), 0);
        assert_string_equal(c.route->targets[0].provider->name, i ? "b" : "a");
        ccp_buf b = CCP_BUF_INIT;
        ccp_route_describe(&c, &c.route->targets[0], "claude-sonnet-4-5", &b);
        assert_string_equal(b.data, i ? "stage=thinking; via=stage; target=b/t"
                                      : "stage=default; via=default; target=a/m");
        ccp_buf_free(&b);
        ccp_route_choice_free(&c);
        json_object_put(req);
        ccp_config_unref(cfg);
    }
}

static void the_route_description_is_capped_and_has_no_control_bytes(void **state)
{
    ccp_provider prov = {.name = "p"};
    ccp_target served = {.provider = &prov, .model = NULL}; /* the client's model */
    ccp_route_choice c = {.via = CCP_VIA_DEFAULT, .stage = CCP_STAGE_DEFAULT};
    size_t n = 100 * 1024;
    char *model = malloc(n + 1);
    memset(model, 'm', n);
    memcpy(model, "a\r\nx-evil: 1", 12);
    model[n] = '\0';
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, "kept|"); /* what the caller had stays */
    ccp_route_describe(&c, &served, model, &b);
    assert_true(b.len - 5 <= 512);
    assert_null(strpbrk(b.data, "\r\n"));
    assert_non_null(strstr(b.data, "kept|stage=default; via=default; target=p/a??x-evil: 1mmm"));
    assert_int_equal(strcmp(b.data + b.len - 3, "..."), 0);
    ccp_buf_free(&b);
    free(model);
    ccp_buf short_b = CCP_BUF_INIT;
    ccp_route_describe(&c, &served, "claude-x", &short_b);
    assert_string_equal(short_b.data, "stage=default; via=default; target=p/claude-x");
    ccp_buf_free(&short_b);
}

/* A request parsed again for a retry gets the tag the pick took removed
 * again, wherever it was: a system string, or a later block after a text
 * with an unclosed tag; nothing else changes. */
static void reapplying_the_pick_removes_the_same_tag_from_a_fresh_parse(void **state)
{
    (void)state;
    ccp_config *cfg = load(CONFIG);
    static const char *const reqs[] = {
        "{\"model\":\"m\",\"system\":\"a<ccproxy-model>gem/x</ccproxy-model>\\nb\","
        "\"messages\":[]}",
        "{\"model\":\"m\",\"system\":[{\"type\":\"text\",\"text\":\"<ccproxy-model>open\"},"
        "{\"type\":\"text\",\"text\":\"x<ccproxy-model>gem/y</ccproxy-model>z\"},"
        "{\"type\":\"text\",\"text\":\"<ccproxy-model>main/w</ccproxy-model>\"}],\"messages\":[]}",
    };
    static const char *const want[] = {
        "{\"model\":\"m\",\"system\":\"ab\",\"messages\":[]}",
        "{\"model\":\"m\",\"system\":[{\"type\":\"text\",\"text\":\"<ccproxy-model>open\"},"
        "{\"type\":\"text\",\"text\":\"xz\"},"
        "{\"type\":\"text\",\"text\":\"<ccproxy-model>main/w</ccproxy-model>\"}],\"messages\":[]}",
    };
    for (size_t i = 0; i < 2; i++) {
        json_object *req = ccp_json_parse(reqs[i], strlen(reqs[i]), NULL);
        ccp_route_choice c;
        ccp_error err;
        assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, &c, &err), 0);
        assert_int_equal(c.via, CCP_VIA_TAG);
        json_object *again = ccp_json_parse(reqs[i], strlen(reqs[i]), NULL);
        ccp_route_reapply(&c, again);
        ccp_buf b = CCP_BUF_INIT;
        ccp_json_write(&b, again);
        assert_string_equal(b.data, want[i]);
        ccp_buf_reset(&b);
        ccp_json_write(&b, req);
        assert_string_equal(b.data, want[i]);
        ccp_buf_free(&b);
        json_object_put(again);
        json_object_put(req);
        ccp_route_choice_free(&c);
    }
    ccp_config_unref(cfg);
}

static void a_tag_naming_no_provider_is_a_clear_error(void **state)
{
    ccp_config *cfg = load(CONFIG);
    const char *t = "{\"model\":\"m\",\"system\":\"<ccproxy-model>nope/x</ccproxy-model>\","
                    "\"messages\":[]}";
    json_object *req = ccp_json_parse(t, strlen(t), NULL);
    ccp_route_choice c;
    ccp_error err;
    assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, &c, &err), CCP_EINVAL);
    assert_non_null(strstr(err.msg, "'nope/x'"));
    ccp_route_choice_free(&c);
    json_object_put(req);
    ccp_config_unref(cfg);
}

static void router_mistakes_are_reported_with_their_place(void **state)
{
    const char *yaml = "providers: [{name: a, base_url: 'http://x'}]\n"
                       "router:\n"
                       "  default: a/m\n"
                       "  thinkng: a/t\n"
                       "  image: [b/v]\n"
                       "  rules:\n"
                       "    - when: {stage: thinkin}\n"
                       "      route: a/x\n"
                       "    - when: {model: '*'}\n";
    ccp_config *c = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("r.yaml", yaml, strlen(yaml), &c, &d), CCP_ECONFIG);
    const char *want[] = {
        "r.yaml:4:3: unknown key 'thinkng' in router: did you mean 'thinking'?",
        "r.yaml:5:11: router.image: no provider named 'b'; configured: a",
        "r.yaml:7:21: router.rules.when.stage: use one of",
        "r.yaml:9:7: router.rules: this rule has no route",
    };
    assert_int_equal(d.n, 4);
    for (size_t i = 0; i < 4; i++) {
        char got[400];
        snprintf(got, sizeof got, "%s:%d:%d: %s", d.items[i].file, d.items[i].line, d.items[i].col,
                 d.items[i].message);
        if (strncmp(got, want[i], strlen(want[i])) != 0)
            fail_msg("got: %s\nwant: %s", got, want[i]);
    }
    ccp_diags_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claude_code_request_shapes_route_where_the_config_says),
        cmocka_unit_test(adaptive_thinking_counts_only_when_configured),
        cmocka_unit_test(the_route_description_is_capped_and_has_no_control_bytes),
        cmocka_unit_test(reapplying_the_pick_removes_the_same_tag_from_a_fresh_parse),
        cmocka_unit_test(a_tag_naming_no_provider_is_a_clear_error),
        cmocka_unit_test(router_mistakes_are_reported_with_their_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
