/* test_plugin.c — Lua plugins: loading and declaration, options checked
 * as for built-ins, the in-process sandbox and its caps, the failure
 * policies, the breaker, and a reload picking up an edited file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/json.h"
#include "pipeline/pipeline.h"
#include "plugin/host_internal.h"
#include "plugin/plugin.h"
#include "router/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ccp-plugin-test-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    setenv("HOME", dir, 1); /* no default plugin folder of the user's */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_plugin(const char *name, const char *src)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(src, f);
    fclose(f);
}

/* Loads a config with one plugin (file name, isolation, extra entry
 * keys) and a pipeline "p" of the given steps. */
static ccp_config *load(const char *file, const char *entry_extra, const char *steps, ccp_diags *d)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "plugins:\n"
             "  dirs: []\n"
             "  load:\n"
             "    - path: %s/%s\n"
             "      isolation: inprocess\n"
             "%s"
             "pipelines:\n"
             "  p:\n"
             "%s",
             dir, file, entry_extra ? entry_extra : "", steps);
    ccp_config *cfg = NULL;
    ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, d);
    return cfg;
}

static ccp_config *load_ok(const char *file, const char *extra, const char *steps)
{
    ccp_diags d = {0};
    ccp_config *cfg = load(file, extra, steps, &d);
    if (!cfg) ccp_diags_print(&d, stderr);
    assert_non_null(cfg);
    ccp_diags_free(&d);
    return cfg;
}

/* The first diagnostic's message (static copy), or "" when it loaded. */
static const char *load_err(const char *file, const char *extra, const char *steps)
{
    static char msg[1024];
    ccp_diags d = {0};
    ccp_config *cfg = load(file, extra, steps, &d);
    msg[0] = '\0';
    if (d.n)
        snprintf(msg, sizeof msg, "%d:%d: %s", d.items[0].line, d.items[0].col, d.items[0].message);
    ccp_config_unref(cfg);
    ccp_diags_free(&d);
    return msg;
}

static json_object *parse(const char *s)
{
    return ccp_json_parse(s, strlen(s), NULL);
}

static const char *EDIT_PLUGIN =
    "return {\n"
    "  name = 'edit', version = '1.0', summary = 'sets max_tokens',\n"
    "  options = { max = { type = 'integer', default = 100, help = 'the cap' },\n"
    "              mode = { type = 'string', choices = {'a', 'b'}, default = 'a' } },\n"
    "  request = function(req, ctx)\n"
    "    req.max_tokens = ctx.options.max\n"
    "    req.seen = math.type(req.big) .. ':' .. #req.bytes\n"
    "    req.big = req.big + 1\n"
    "  end,\n"
    "}\n";

static void request_hook_edits_the_request_keeping_integers_and_bytes(void **state)
{
    (void)state;
    write_plugin("edit.lua", EDIT_PLUGIN);
    ccp_config *cfg = load_ok("edit.lua", NULL, "    - use: edit\n      with: {max: 7}\n");
    json_object *req = parse("{\"max_tokens\":64000,\"big\":9007199254740993,"
                             "\"bytes\":\"a\\u0000b\\u00e9\"}");
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
    assert_int_equal(ccp_json_get_int(req, "max_tokens", 0), 7);
    assert_int_equal(ccp_json_get_int(req, "big", 0), 9007199254740994LL);
    assert_string_equal(ccp_json_get_str(req, "seen"), "integer:5");
    json_object *b = ccp_json_get(req, "bytes");
    assert_int_equal(json_object_get_string_len(b), 5);
    assert_memory_equal(json_object_get_string(b), "a\0b\xc3\xa9", 5);
    json_object_put(req);
    ccp_config_unref(cfg);
}

static void member_order_survives_the_round_trip(void **state)
{
    (void)state;
    write_plugin("ord.lua", "return {name='ord', request=function(r)\n"
                            "  r.zz = 1 r.aa = 2 r.m = nil r.o.y = ccp.json.null\n"
                            "  r.e = ccp.json.object() end}\n");
    ccp_config *cfg = load_ok("ord.lua", NULL, "    - ord\n");
    json_object *req = parse("{\"z\":1,\"m\":0,\"a\":[],\"o\":{\"y\":1,\"x\":{}},\"n\":1.5}");
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
    /* Old members in their order, new ones after, sorted; empty arrays and
     * objects keep their kind. */
    assert_string_equal(ccp_json_str(req, NULL),
                        "{\"z\":1,\"a\":[],\"o\":{\"y\":null,\"x\":{}},\"n\":1.5,\"aa\":2,\"e\":{},"
                        "\"zz\":1}");
    json_object_put(req);
    ccp_config_unref(cfg);
}

static void tables_read_and_edit_lazily_like_plain_ones(void **state)
{
    (void)state;
    write_plugin("lazy.lua",
                 "local kept\n"
                 "return {name='lazy', request=function(r)\n"
                 "  if r.second then return kept.x end\n"
                 "  kept = r.o\n"
                 "  local keys = {} for k, v in pairs(r.o) do keys[#keys + 1] = k .. '=' .. "
                 "tostring(v) end\n"
                 "  r.keys = table.concat(keys, ',')\n"
                 "  local s = 0 for i, v in ipairs(r.a) do s = s + v end r.sum = s\n"
                 "  table.insert(r.a, 1, 0) table.insert(r.a, 9) table.remove(r.a, 2)\n"
                 "  r.n = #r.a\n"
                 "  r.o.y = nil r.o.w = {r.a[1], ccp.json.decode('{\"k\":[1]}')}\n"
                 "  r.msgs[2].content[1].text = r.msgs[2].content[1].text:upper()\n"
                 "  r.enc = ccp.json.encode(r.msgs[1])\n"
                 "end}\n");
    ccp_config *cfg = load_ok("lazy.lua", NULL, "    - lazy\n");
    json_object *req =
        parse("{\"o\":{\"x\":1,\"y\":2,\"z\":3},\"a\":[1,2,3],\"msgs\":[{\"role\":\"user\","
              "\"content\":\"hi\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
              "\"abc\"}]}]}");
    json_object *first_msg =
        json_object_get(json_object_array_get_idx(ccp_json_get(req, "msgs"), 0));
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
    assert_string_equal(
        ccp_json_str(req, NULL),
        "{\"o\":{\"x\":1,\"z\":3,\"w\":[0,{\"k\":[1]}]},\"a\":[0,2,3,9],\"msgs\":[{"
        "\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content\":[{"
        "\"type\":\"text\",\"text\":\"ABC\"}]}],\"enc\":\"{\\\"role\\\":\\\"user\\\","
        "\\\"content\\\":\\\"hi\\\"}\",\"keys\":\"x=1,y=2,z=3\",\"n\":4,\"sum\":6}");
    /* An untouched subtree is the original object, shared, not a copy. */
    assert_ptr_equal(json_object_array_get_idx(ccp_json_get(req, "msgs"), 0), first_msg);
    json_object_put(first_msg);
    json_object_put(req);
    /* A value kept from an earlier call cannot reach a freed tree. */
    req = parse("{\"second\":true}");
    assert_int_not_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
    assert_non_null(strstr(err.msg, "kept from an earlier call"));
    json_object_put(req);
    ccp_config_unref(cfg);
}

/* A ccp.json.encode that fails half-way holds the part it made, which
 * shares the caller's tree. Left to the collector, it was let go at some
 * later collection, on whichever thread ran the state next (json-c counts
 * references without atomics); it is let go when the call ends. */
static void a_failed_encode_lets_go_of_the_request_by_the_calls_end(void **state)
{
    (void)state;
    write_plugin("enc.lua", "return {name='enc', request=function(r)\n"
                            "  assert(not pcall(ccp.json.encode, {r.messages, print}))\n"
                            "end}\n");
    ccp_config *cfg = load_ok("enc.lua", NULL, "    - enc\n");
    json_object *req = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    json_object *messages = json_object_get(ccp_json_get(req, "messages"));
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
    json_object_put(req);
    assert_int_equal(json_object_put(messages), 1); /* the last reference: freed */
    ccp_config_unref(cfg);
}

static void reload_picks_up_an_edited_plugin(void **state)
{
    (void)state;
    write_plugin("v.lua", "return {name='v', request=function(r) r.v = 1 end}\n");
    ccp_config *old = load_ok("v.lua", NULL, "    - v\n");
    write_plugin("v.lua", "return {name='v', request=function(r) r.v = 2 end}\n");
    ccp_config *cur = load_ok("v.lua", NULL, "    - v\n");
    json_object *a = parse("{}"), *b = parse("{}");
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_request(&old->pipelines[0], a, &err), 0);
    assert_int_equal(ccp_pipeline_run_request(&cur->pipelines[0], b, &err), 0);
    /* In-flight requests keep the snapshot they started with. */
    assert_int_equal(ccp_json_get_int(a, "v", 0), 1);
    assert_int_equal(ccp_json_get_int(b, "v", 0), 2);
    json_object_put(a);
    json_object_put(b);
    ccp_config_unref(old);
    ccp_config_unref(cur);
}

static void options_are_checked_like_builtins(void **state)
{
    (void)state;
    write_plugin("edit.lua", EDIT_PLUGIN);
    const char *m = load_err("edit.lua", NULL, "    - use: edit\n      with: {maks: 7}\n");
    assert_non_null(strstr(m, "did you mean 'max'"));
    assert_non_null(strstr(m, "9:"));
    m = load_err("edit.lua", NULL, "    - use: edit\n      with: {max: seven}\n");
    assert_non_null(strstr(m, "edit option max: expected an integer"));
    m = load_err("edit.lua", NULL, "    - use: edit\n      with: {mode: c}\n");
    assert_non_null(strstr(m, "one of: a, b"));
    m = load_err("edit.lua", "      options: {max: x}\n", "    - edit\n");
    assert_non_null(strstr(m, "edit option max: expected an integer"));
    m = load_err("edit.lua", NULL, "    - edti\n");
    assert_non_null(strstr(m, "did you mean 'edit'"));
    /* The entry's options are the steps' defaults. */
    ccp_config *cfg = load_ok("edit.lua", "      options: {max: 9}\n", "    - edit\n");
    json_object *req = parse("{\"big\":1,\"bytes\":\"\"}");
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
    assert_int_equal(ccp_json_get_int(req, "max_tokens", 0), 9);
    json_object_put(req);
    ccp_config_unref(cfg);
}

static void entry_on_error_and_formats_apply_to_steps(void **state)
{
    (void)state;
    write_plugin("boom.lua", "return {name='boom', formats={'openai-chat'},\n"
                             "  request=function() error('boom') end}\n");
    /* The entry's on_error is the default of its steps; a step's own wins. */
    ccp_config *cfg = load_ok("boom.lua", "      on_error: skip\n",
                              "    - boom\n  q:\n    - {use: boom, on_error: fail}\n");
    json_object *req = parse("{}");
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
    assert_int_not_equal(ccp_pipeline_run_request(&cfg->pipelines[1], req, &err), 0);
    assert_non_null(strstr(err.msg, "pipeline 'q' step 1 (boom): plugin 'boom' request hook "
                                    "failed (error)"));
    json_object_put(req);
    ccp_config_unref(cfg);
    /* formats: used by a provider of another format is a config error. */
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - {path: %s/boom.lua, isolation: inprocess}\n"
             "pipelines:\n  p: [boom]\n"
             "providers:\n  - {name: a, base_url: 'http://127.0.0.1:1', api_key: k, pipeline: p}\n",
             dir);
    ccp_diags d = {0};
    assert_int_not_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    assert_non_null(strstr(d.items[0].message, "the boom step of pipeline 'p'"));
    ccp_diags_free(&d);
}

static void bad_declarations_are_config_errors(void **state)
{
    (void)state;
    write_plugin("clash.lua", "return {name='max-tokens', request=function() end}\n");
    assert_non_null(
        strstr(load_err("clash.lua", NULL, "    - max-tokens\n"), "as a built-in transformer is"));
    write_plugin("nohook.lua", "return {name='x'}\n");
    assert_non_null(strstr(load_err("nohook.lua", NULL, "    - x\n"), "declares no hook"));
    write_plugin("syntax.lua", "return {name=\n");
    assert_non_null(strstr(load_err("syntax.lua", NULL, "    - x\n"), "syntax.lua:"));
    write_plugin("type.lua", "return {name='t', options={a={type='int'}}, request=print}\n");
    assert_non_null(strstr(load_err("type.lua", NULL, "    - t\n"), "option 'a': type is"));
    write_plugin("loop.lua", "while true do end\n");
    assert_non_null(
        strstr(load_err("loop.lua", "      limits: {timeout_ms: 50}\n", "    - x\n"), "timeout"));
    assert_non_null(strstr(load_err("missing.lua", NULL, "    - x\n"), "cannot read it"));
}

/* Runs the plugin file's request hook over {} under the entry's extras;
 * returns the error message ("" on success). */
static const char *run(const char *src, const char *extra)
{
    static char msg[600];
    write_plugin("run.lua", src);
    ccp_config *cfg = load_ok("run.lua", extra, "    - r\n");
    json_object *req = parse("{}");
    ccp_error err = {0};
    int rc = ccp_pipeline_run_request(&cfg->pipelines[0], req, &err);
    snprintf(msg, sizeof msg, "%s", rc ? err.msg : "");
    json_object_put(req);
    ccp_config_unref(cfg);
    return msg;
}

static void infinite_loop_stops_at_timeout(void **state)
{
    (void)state;
    const char *m = run("return {name='r', request=function() while true do end end}\n",
                        "      limits: {timeout_ms: 100}\n");
    assert_non_null(strstr(m, "plugin 'r' request hook failed (timeout)"));
    /* A pcall in the plugin does not catch the timeout. */
    m = run("return {name='r', request=function()\n"
            "  while true do pcall(function() while true do end end) end end}\n",
            "      limits: {timeout_ms: 100}\n");
    assert_non_null(strstr(m, "(timeout)"));
    m = run("return {name='r', request=function()\n"
            "  local co = coroutine.wrap(function() while true do end end) co() end}\n",
            "      limits: {timeout_ms: 100}\n");
    assert_non_null(strstr(m, "(timeout)"));
    /* Nor does a timeout first met inside a coroutine leave the thread
     * that resumed it free to go on catching it in a pcall loop: every
     * pcall would be cut off within a hook step and the loop would run
     * for ever (here, until its bound, and the call would succeed). */
    m = run("return {name='r', request=function()\n"
            "  pcall(coroutine.wrap(function() while true do end end))\n"
            "  for n = 1, 3000 do pcall(function() while true do end end) end end}\n",
            "      limits: {timeout_ms: 100}\n");
    assert_non_null(strstr(m, "(timeout)"));
    m = run("return {name='r', request=function()\n"
            "  pcall(coroutine.wrap(function() while true do end end))\n"
            "  for n = 1, 3000 do pcall(function() while true do end end) end end}\n",
            "      limits: {timeout_ms: 600000, instructions: 100000}\n");
    assert_non_null(strstr(m, "instruction budget"));
}

/* A plugin's error text and log lines reach the proxy's log: a newline
 * in them would start a line of the plugin's making there. Control
 * characters come out as \xNN. */
static void a_plugins_text_cannot_forge_log_lines(void **state)
{
    (void)state;
    const char *m = run("return {name='r', request=function()\n"
                        "  error('bad\\n2026-12-01T00:00:00.000Z error forged\\r', 0) end}\n",
                        NULL);
    assert_non_null(strstr(m, "bad\\x0a2026-12-01T00:00:00.000Z error forged\\x0d"));
    assert_null(strchr(m, '\n'));
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, "a\tb\x1b[31mc\x7f");
    ccp_plugin_text_clean(&b);
    assert_string_equal(b.data, "a\tb\\x1b[31mc\\x7f");
    ccp_buf_free(&b);
}

static void instruction_budget_stops_a_call(void **state)
{
    (void)state;
    const char *m = run("return {name='r', request=function() for i = 1, 1e9 do end end}\n",
                        "      limits: {timeout_ms: 600000, instructions: 100000}\n");
    assert_non_null(strstr(m, "instruction budget of 100000 spent"));
}

static void memory_bomb_stops_at_memory_mb(void **state)
{
    (void)state;
    const char *m = run("return {name='r', request=function()\n"
                        "  local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n"
                        "end}\n",
                        "      limits: {memory_mb: 8, timeout_ms: 600000}\n");
    assert_non_null(strstr(m, "(memory limit)"));
    m = run("return {name='r', request=function() local s = string.rep('x', 64 << 20) end}\n",
            "      limits: {memory_mb: 8}\n");
    assert_non_null(strstr(m, "(memory limit)"));
    /* The cap met while the returned table is converted, in a nested
     * object made and not yet in its parent: nothing leaks (ASan). The
     * heap is filled to within a few bytes first, and kept full. */
    m = run("return {name='r', request=function(req)\n"
            "  local inner = {} for i = 1, 2000 do inner['k' .. i] = i end\n"
            "  local fill = false\n"
            "  for _, n in ipairs({4096, 256, 16}) do\n"
            "    local ok = true\n"
            "    while ok do ok = pcall(function()\n"
            "      fill = {fill, string.rep('x', n) .. tostring(fill)} end) end\n"
            "  end\n"
            "  KEEP = fill\n"
            "  return {inner = inner, model = 'm'}\n"
            "end}\n",
            "      limits: {memory_mb: 8, timeout_ms: 600000}\n");
    assert_non_null(strstr(m, "(memory limit)"));
    /* A result that holds one table twice at each of 18 levels is a few
     * hundred bytes of Lua and 2^19 JSON values, made in C where neither
     * cap reached (at 40 levels the call ran on past its timeout, filling
     * the proxy's memory): cut at twice memory_mb's worth. */
    m = run("return {name='r', request=function(req)\n"
            "  local a = {1} for i = 1, 18 do a = {a, a} end\n"
            "  req.x = a\n"
            "end}\n",
            "      limits: {memory_mb: 2, timeout_ms: 600000}\n");
    assert_non_null(strstr(m, "(memory limit): not enough memory: the value converted to JSON"));
    m = run("return {name='r', request=function(req)\n"
            "  local a = {1} for i = 1, 18 do a = {a, a} end\n"
            "  assert(not pcall(ccp.json.encode, a))\n"
            "end}\n",
            "      limits: {memory_mb: 2, timeout_ms: 600000}\n");
    assert_string_equal(m, "");
    /* Decoded trees are json-c's memory too, kept for the call: a call's
     * decodes share memory_mb's worth of values (here 32768). */
    m = run("return {name='r', request=function(req)\n"
            "  local s = '[' .. string.rep('0,', 20000) .. '0]'\n"
            "  local keep = {ccp.json.decode(s)}\n"
            "  assert(#keep[1] == 20001)\n"
            "  keep[2] = ccp.json.decode(s)\n"
            "end}\n",
            "      limits: {memory_mb: 2, timeout_ms: 600000}\n");
    assert_non_null(strstr(m, "(memory limit)"));
    assert_non_null(strstr(m, "ccp.json.decode would hold more than memory_mb's worth"));
}

static void sandbox_refuses_io_os_require_and_bytecode(void **state)
{
    (void)state;
    const char *m = run("return {name='r', request=function() os.execute('true') end}\n", NULL);
    assert_non_null(strstr(m, "execute"));
    assert_non_null(strstr(m, "(error)"));
    m = run("return {name='r', request=function() io.open('/etc/passwd') end}\n", NULL);
    assert_non_null(strstr(m, "global 'io'"));
    m = run("return {name='r', request=function() require 'socket' end}\n", NULL);
    assert_non_null(strstr(m, "require is not available in plugins ('socket')"));
    m = run("return {name='r', request=function() package.loadlib('x', 'y') end}\n", NULL);
    assert_non_null(strstr(m, "global 'package'"));
    m = run("return {name='r', request=function() dofile('/etc/passwd') end}\n", NULL);
    assert_non_null(strstr(m, "dofile"));
    m = run("return {name='r', request=function() string.dump(print) end}\n", NULL);
    assert_non_null(strstr(m, "dump"));
    /* No finalizers: they would run outside any call's caps. */
    m = run("return {name='r', request=function()\n"
            "  setmetatable({}, {__gc = function() while true do end end}) end}\n",
            NULL);
    assert_non_null(strstr(m, "__gc (finalizers) is not available"));
    m = run("return {name='r', request=function(r)\n"
            "  r.ok = getmetatable(setmetatable({}, {__index = {x = 1}})).__index.x end}\n",
            NULL);
    assert_string_equal(m, "");
    /* Bytecode, in any mode. */
    m = run("return {name='r', request=function() load('\\27Lua\\84\\0', 'x', 'b') end}\n", NULL);
    assert_non_null(strstr(m, "only text chunks"));
    m = run("return {name='r', request=function()\n"
            "  local f, e = load('\\27Lua\\84\\0') if not f then error(e) end end}\n",
            NULL);
    assert_non_null(strstr(m, "binary chunk"));
    /* What is there works: text load, string, table, math, utf8, os.time. */
    m = run("return {name='r', request=function(req)\n"
            "  req.x = load('return 1 + 1')() + utf8.len('é') + math.max(1, 2)\n"
            "  req.t = os.time() > 0 and table.concat({'a', 'b'}) or ''\n"
            "  req.j = ccp.json.encode({a = ccp.json.array(), b = ccp.json.null})\n"
            "end}\n",
            NULL);
    assert_string_equal(m, "");
}

static void hook_errors_and_bad_returns(void **state)
{
    (void)state;
    const char *m =
        run("return {name='r', request=function() return nil, 'no thanks' end}\n", NULL);
    assert_non_null(strstr(m, "pipeline 'p' step 1 (r): plugin 'r' request hook failed (error): "
                              "no thanks"));
    m = run("return {name='r', request=function() return 42 end}\n", NULL);
    assert_non_null(strstr(m, "(bad return value)"));
    m = run("return {name='r', request=function(r) r.f = print end}\n", NULL);
    assert_non_null(strstr(m, "(bad return value)"));
    /* on_error: skip: the request goes on without the step. */
    m = run("return {name='r', request=function() error('boom') end}\n", "      on_error: skip\n");
    assert_string_equal(m, "");
}

static void breaker_opens_after_failures_and_recovers(void **state)
{
    (void)state;
    write_plugin("b.lua", "return {name='b', request=function(r)\n"
                          "  if r.fail then error('asked to') end r.ok = true end}\n");
    ccp_config *cfg = load_ok("b.lua", NULL, "    - b\n");
    ccp_plugin *p = cfg->plugins->v[0];
    p->breaker_failures = 3;
    ccp_error err;
    json_object *bad = parse("{\"fail\":true}"), *good = parse("{}"), *r;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ccp_plugin_call(p, "request", bad, NULL, &r, &err), CCP_PLUGIN_ERROR);
    /* Open: even a good request is refused without a call. */
    assert_int_equal(ccp_plugin_call(p, "request", good, NULL, &r, &err), CCP_PLUGIN_OPEN);
    assert_non_null(strstr(err.msg, "breaker is open"));
    /* The cool-down passes: one trial call; it fails, the breaker reopens. */
    p->open_until_ms = 1;
    assert_int_equal(ccp_plugin_call(p, "request", bad, NULL, &r, &err), CCP_PLUGIN_ERROR);
    assert_int_equal(ccp_plugin_call(p, "request", good, NULL, &r, &err), CCP_PLUGIN_OPEN);
    /* Again; this time the trial succeeds and the breaker closes. */
    p->open_until_ms = 1;
    assert_int_equal(ccp_plugin_call(p, "request", good, NULL, &r, &err), CCP_PLUGIN_OK);
    json_object_put(r);
    assert_int_equal(ccp_plugin_call(p, "request", good, NULL, &r, &err), CCP_PLUGIN_OK);
    assert_true(ccp_json_get_bool(r, "ok", false));
    json_object_put(r);
    assert_int_equal(atomic_load(&p->calls), 8);
    json_object_put(bad);
    json_object_put(good);
    ccp_config_unref(cfg);
}

static void outbound_hook_edits_url_headers_body_and_never_sees_keys(void **state)
{
    (void)state;
    write_plugin("o.lua", "return {name='o', outbound=function(out, ctx)\n"
                          "  out.url = out.url .. '?x=1'\n"
                          "  out.headers['x-seen-key'] = out.headers['x-api-key']\n"
                          "  out.body.extra = true\n"
                          "end}\n");
    ccp_config *cfg = load_ok("o.lua", NULL, "    - o\n");
    ccp_outbound out;
    ccp_outbound_init(&out);
    ccp_buf_appends(&out.url, "https://h/v1/messages");
    ccp_outbound_add_header(&out, "x-api-key", "sk-secret");
    out.json = parse("{\"model\":\"m\"}");
    json_object *req = parse("{}");
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_outbound(&cfg->pipelines[0], req, &out, &err), 0);
    assert_string_equal(out.url.data, "https://h/v1/messages?x=1");
    assert_int_equal(out.n_headers, 2);
    bool key = false, seen = false;
    for (size_t i = 0; i < out.n_headers; i++) {
        key |= !strcmp(out.headers[i], "x-api-key: sk-secret");
        seen |= !strcmp(out.headers[i], "x-seen-key: ***");
    }
    assert_true(key && seen);
    assert_true(ccp_json_get_bool(out.json, "extra", false));
    ccp_outbound_free(&out);
    json_object_put(req);
    ccp_config_unref(cfg);
}

/* The key headers a plugin leaves "***" get their values back, so the
 * url it returns may not leave the provider's origin: to another host,
 * port or scheme (a user@host trick included) the key would have gone
 * along. Path and query stay the plugin's. */
static void outbound_hook_cannot_send_the_request_elsewhere(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool ok;
    } cases[] = {
        {"https://evil.example/steal", false},
        {"https://h@evil.example/v1/messages", false},
        {"https://h:8443/v1/messages", false},
        {"http://h/v1/messages", false},
        {"not a url", false},
        {"https://H:443/v2/other?q=1", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[256];
        snprintf(src, sizeof src, "return {name='o', outbound=function(out) out.url = '%s' end}\n",
                 cases[i].url);
        write_plugin("o.lua", src);
        ccp_config *cfg = load_ok("o.lua", NULL, "    - o\n");
        ccp_outbound out;
        ccp_outbound_init(&out);
        ccp_buf_appends(&out.url, "https://h/v1/messages");
        ccp_outbound_add_header(&out, "x-api-key", "sk-secret");
        out.json = parse("{\"model\":\"m\"}");
        json_object *req = parse("{}");
        ccp_error err = {0};
        int rc = ccp_pipeline_run_outbound(&cfg->pipelines[0], req, &out, &err);
        if (cases[i].ok) {
            assert_int_equal(rc, 0);
            assert_string_equal(out.url.data, cases[i].url);
        } else {
            assert_int_not_equal(rc, 0);
            assert_non_null(strstr(err.msg, "its url names another scheme, host or port"));
            assert_string_equal(out.url.data, "https://h/v1/messages");
        }
        ccp_outbound_free(&out);
        json_object_put(req);
        ccp_config_unref(cfg);
    }
}

typedef struct collect {
    ccp_event_sink base;
    ccp_buf seen;
} collect;

static int collect_emit(ccp_event_sink *self, const ccp_event *ev)
{
    collect *c = (collect *)self;
    ccp_buf_printf(&c->seen, "%s", ccp_event_type_name(ev->type));
    if (ev->type == CCP_EV_BLOCK_DELTA)
        ccp_buf_printf(&c->seen, "(%.*s)", (int)ev->text_len, ev->text);
    ccp_buf_appends(&c->seen, ";");
    return 0;
}

static void event_hook_edits_drops_and_adds_events(void **state)
{
    (void)state;
    write_plugin("e.lua", "return {name='e', event=function(ev)\n"
                          "  if ev.type == 'ping' then return false end\n"
                          "  if ev.type == 'content_block_delta' then\n"
                          "    ev.text = ev.text:upper()\n"
                          "    return {ev, {type='content_block_delta', index=ev.index,\n"
                          "                 kind='text_delta', text='!'}}\n"
                          "  end\n"
                          "end}\n");
    ccp_config *cfg = load_ok("e.lua", NULL, "    - e\n");
    collect c = {{collect_emit}, CCP_BUF_INIT};
    ccp_event_chain ch;
    ccp_event_chain_build(&ch, &cfg->pipelines[0], &c.base);
    ccp_event ping = {.type = CCP_EV_PING};
    ccp_event d = {
        .type = CCP_EV_BLOCK_DELTA, .delta_kind = CCP_DELTA_TEXT, .text = "hi", .text_len = 2};
    ccp_event stop = {.type = CCP_EV_BLOCK_STOP};
    assert_int_equal(ch.head->emit(ch.head, &ping), 0);
    assert_int_equal(ch.head->emit(ch.head, &d), 0);
    assert_int_equal(ch.head->emit(ch.head, &stop), 0);
    assert_string_equal(c.seen.data,
                        "content_block_delta(HI);content_block_delta(!);content_block_stop;");
    ccp_event_chain_free(&ch);
    ccp_buf_free(&c.seen);
    ccp_config_unref(cfg);
}

/* An event the Anthropic writer would turn into something no Anthropic
 * stream holds (a content_block or delta that is not an object, a negative
 * index, an index past 32 bits cut down to another block's) is dropped
 * with a warning, like one of an unknown type or kind. */
static int collect_index_emit(ccp_event_sink *self, const ccp_event *ev)
{
    collect *c = (collect *)self;
    ccp_buf_printf(&c->seen, "%s[%d]", ccp_event_type_name(ev->type), ev->index);
    if (ev->type == CCP_EV_BLOCK_DELTA && ev->text)
        ccp_buf_printf(&c->seen, "(%.*s)", (int)ev->text_len, ev->text);
    ccp_buf_appends(&c->seen, ";");
    return 0;
}

static void event_hook_results_that_no_anthropic_stream_holds_are_dropped(void **state)
{
    (void)state;
    write_plugin(
        "e.lua",
        "return {name='e', event=function(ev)\n"
        "  return {\n"
        "    {type='content_block_start', index=1, kind='text', raw='x'},\n"
        "    {type='content_block_start', index=1, kind='other', raw={1,2}},\n"
        "    {type='content_block_delta', index=-1, kind='text_delta', text='neg'},\n"
        "    {type='content_block_delta', index=4294967296, kind='text_delta', text='big'},\n"
        "    {type='content_block_delta', index=0, kind='other', raw=5},\n"
        "    {type='content_block_stop', index=-2},\n"
        "    {type='message_start', id='m', model='x', raw='y'},\n"
        "    {type='message_delta', stop_reason='end_turn', raw=true},\n"
        "    {type='content_block_start', index=1, kind='text', raw={type='text', text=''}},\n"
        "    {type='content_block_delta', index=1, kind='text_delta', text='ok'},\n"
        "    {type='content_block_stop', index=1},\n"
        "  }\n"
        "end}\n");
    ccp_config *cfg = load_ok("e.lua", NULL, "    - e\n");
    collect c = {{collect_index_emit}, CCP_BUF_INIT};
    ccp_event_chain ch;
    ccp_event_chain_build(&ch, &cfg->pipelines[0], &c.base);
    ccp_event ping = {.type = CCP_EV_PING};
    assert_int_equal(ch.head->emit(ch.head, &ping), 0);
    assert_string_equal(c.seen.data, "content_block_start[1];content_block_delta[1](ok);"
                                     "content_block_stop[1];");
    ccp_event_chain_free(&ch);
    ccp_buf_free(&c.seen);
    ccp_config_unref(cfg);
}

static void plugins_are_found_in_dirs_and_listed_in_metrics(void **state)
{
    (void)state;
    char sub[128], yaml[512];
    snprintf(sub, sizeof sub, "%s/scan", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/scan/folder", dir);
    mkdir(sub, 0700);
    write_plugin("scan/folder/init.lua", "return {name='folder', request=function() end}\n");
    write_plugin("scan/single.lua", "return {name='single', request=function() end}\n");
    write_plugin("scan/notes.txt", "not a plugin\n");
    snprintf(yaml, sizeof yaml, "plugins:\n  dirs: [%s/scan, %s/nonexistent]\n", dir, dir);
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    assert_int_equal(cfg->plugins->n, 2);
    assert_non_null(ccp_plugin_find(cfg->plugins, "folder"));
    assert_non_null(ccp_plugin_find(cfg->plugins, "single"));
    ccp_buf m = CCP_BUF_INIT;
    ccp_plugin_metrics(cfg->plugins, &m, false);
    assert_non_null(strstr(m.data, "ccproxy_plugin_calls_total{plugin=\"single\"} 0\n"));
    ccp_buf_free(&m);
    ccp_diags_free(&d);
    ccp_config_unref(cfg);
}

static void route_script_picks_or_defers_to_the_router(void **state)
{
    (void)state;
    write_plugin("route.lua", "return {name='router', route=function(req, ctx)\n"
                              "  if req.metadata.user_id == 'fail' then error('no') end\n"
                              "  if req.metadata.user_id == 'b' then return 'b/big' end\n"
                              "  if req.metadata.user_id == 'nowhere' then return 'zz/m' end\n"
                              "end}\n");
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - {path: %s/route.lua, isolation: inprocess}\n"
             "providers:\n  - {name: a, base_url: 'http://127.0.0.1:1', api_key: k}\n"
             "  - {name: b, base_url: 'http://127.0.0.1:2', api_key: k}\n"
             "router:\n  default: a/small\n  script: router\n",
             dir);
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    const char *who[] = {"b", "other", "fail", "nowhere"};
    const char *want[] = {"b/big", "a/small", "a/small", "a/small"};
    for (int i = 0; i < 4; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"metadata\":{"
                 "\"user_id\":\"%s\"}}",
                 who[i]);
        json_object *req = parse(body);
        ccp_route_choice c;
        ccp_error err = {0};
        assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, &c, &err), 0);
        char got[64];
        snprintf(got, sizeof got, "%s/%s", c.route->targets[0].provider->name,
                 c.route->targets[0].model);
        assert_string_equal(got, want[i]);
        assert_int_equal(c.via == CCP_VIA_SCRIPT, i == 0);
        ccp_route_choice_free(&c);
        json_object_put(req);
    }
    ccp_config_unref(cfg);
    /* A script that is no plugin, or has no route hook, is a config error. */
    snprintf(yaml, sizeof yaml, "router:\n  script: nope\n");
    assert_int_not_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    assert_non_null(strstr(d.items[d.n - 1].message, "no plugin named 'nope'"));
    ccp_diags_free(&d);
}

/* ---- the examples (examples/plugins) ----------------------------------- */

#define EXAMPLES CCP_TEST_FIXTURES "/../../examples/plugins"

/* Runs the example's request hook (pipeline step `with` given) over req. */
static json_object *run_example(const char *file, const char *name, const char *with,
                                const char *req_text)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - {path: %s/%s, isolation: inprocess}\n"
             "pipelines:\n  p:\n    - {use: %s, with: %s}\n",
             EXAMPLES, file, name, with);
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d) != 0)
        ccp_diags_print(&d, stderr);
    ccp_diags_free(&d);
    assert_non_null(cfg);
    json_object *req = parse(req_text);
    ccp_error err = {0};
    assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
    ccp_config_unref(cfg);
    return req;
}

static void example_redact_secrets_masks_keys_tokens_and_private_keys(void **state)
{
    (void)state;
    json_object *req = run_example(
        "redact-secrets.lua", "redact-secrets", "{}",
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"key AKIAABCDEFGHIJKLMNOP and sk-ant-api03-abcdefghijklmnopqrstuvwxyz here\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":\"-----BEGIN RSA PRIVATE "
        "KEY-----\\nMIIEow\\n-----END RSA PRIVATE KEY-----\\nok\"}]},"
        "{\"role\":\"assistant\",\"content\":\"AKIAABCDEFGHIJKLMNOP\"},"
        "{\"role\":\"user\",\"content\":\"token ghp_abcdefghijklmnopqrstuvwxyz0123456789\"}]}");
    const char *out = ccp_json_str(req, NULL);
    assert_non_null(strstr(out, "\"key [REDACTED] and [REDACTED] here\""));
    assert_non_null(strstr(out, "\"content\":\"[REDACTED]\\nok\""));
    assert_non_null(strstr(out, "\"token [REDACTED]\""));
    /* The assistant's own text is not the user's secret to mask. */
    assert_non_null(strstr(out, "{\"role\":\"assistant\",\"content\":\"AKIAABCDEFGHIJKLMNOP\"}"));
    json_object_put(req);
}

static void example_ultrathink_raises_the_budget(void **state)
{
    (void)state;
    json_object *req = run_example(
        "ultrathink.lua", "ultrathink", "{budget: 20000}",
        "{\"max_tokens\":8000,\"temperature\":1,\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"Please UltraThink about this\"}]}]}");
    assert_int_equal(ccp_json_get_int(ccp_json_get(req, "thinking"), "budget_tokens", 0), 20000);
    assert_string_equal(ccp_json_get_str(ccp_json_get(req, "thinking"), "type"), "enabled");
    assert_int_equal(ccp_json_get_int(req, "max_tokens", 0), 24096);
    assert_null(ccp_json_get(req, "temperature"));
    json_object_put(req);
    req =
        run_example("ultrathink.lua", "ultrathink", "{}",
                    "{\"max_tokens\":8000,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assert_null(ccp_json_get(req, "thinking"));
    json_object_put(req);
}

static void example_simplify_tools_trims_schemas(void **state)
{
    (void)state;
    json_object *req = run_example(
        "simplify-tools.lua", "simplify-tools", "{max_description: 5, keep: [Read]}",
        "{\"tools\":[{\"name\":\"Read\",\"description\":\"Reads a file\",\"input_schema\":{"
        "\"$schema\":\"x\",\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
        "\"path\":{\"type\":\"string\",\"format\":\"uri\",\"description\":\"ééééé\"}},"
        "\"required\":[\"path\"]}},{\"name\":\"Bash\",\"input_schema\":{\"type\":\"object\"}}],"
        "\"messages\":[]}");
    assert_string_equal(ccp_json_str(ccp_json_get(req, "tools"), NULL),
                        "[{\"name\":\"Read\",\"description\":\"Reads…\",\"input_schema\":{"
                        "\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\","
                        "\"description\":\"éé…\"}},\"required\":[\"path\"]}}]");
    json_object_put(req);
}

static void example_route_by_project_picks_by_working_directory(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - path: %s/route-by-project.lua\n"
             "      isolation: inprocess\n"
             "      options: {projects: {/home/me/: a/generic, /home/me/oss/: b/local}}\n"
             "providers:\n  - {name: a, base_url: 'http://127.0.0.1:1', api_key: k}\n"
             "  - {name: b, base_url: 'http://127.0.0.1:2', api_key: k}\n"
             "router:\n  default: a/default\n  script: route-by-project\n",
             EXAMPLES);
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d) != 0)
        ccp_diags_print(&d, stderr);
    assert_non_null(cfg);
    const char *dirs[] = {"/home/me/oss/tool", "/home/me/work", "/srv/x"};
    const char *want[] = {"b/local", "a/generic", "a/default"};
    for (int i = 0; i < 3; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[],\"system\":[{\"type\":"
                 "\"text\",\"text\":\"You are Claude Code.\"},{\"type\":\"text\",\"text\":"
                 "\"<env>\\nWorking directory: %s\\nIs directory a git repo: Yes\\n</env>\"}]}",
                 dirs[i]);
        json_object *req = parse(body);
        ccp_route_choice c;
        ccp_error err = {0};
        assert_int_equal(ccp_route_pick(cfg, req, NULL, NULL, &c, &err), 0);
        char got[64];
        snprintf(got, sizeof got, "%s/%s", c.route->targets[0].provider->name,
                 c.route->targets[0].model);
        assert_string_equal(got, want[i]);
        ccp_route_choice_free(&c);
        json_object_put(req);
    }
    ccp_config_unref(cfg);
}

/* ---- process isolation ------------------------------------------------- */

/* Calls the request hook of the process-isolated plugin file src with
 * req; returns the cause, the message in msg. */
static ccp_plugin_cause call_process(ccp_config *cfg, const char *req_text, char *msg, size_t cap,
                                     json_object **out)
{
    ccp_plugin *p = cfg->plugins->v[0];
    json_object *req = parse(req_text), *r = NULL;
    ccp_error err = {0};
    ccp_plugin_cause c = ccp_plugin_call(p, "request", req, NULL, &r, &err);
    snprintf(msg, cap, "%s", c ? err.msg : "");
    json_object_put(req);
    if (out)
        *out = r;
    else
        json_object_put(r);
    return c;
}

static ccp_config *load_process(const char *src, const char *limits);

/* A member a hook sets to the value it read keeps its text, in either
 * mode: a float its digits ("0.7", not "0.69999999999999996"), 1e400 (no
 * float writes it back: the call failed), and an unsigned integer past
 * 2^63 its value (it read as INT64_MAX and went back so). Such an integer
 * reads as the nearest float, and a key with a NUL byte is refused rather
 * than taken for the name before the NUL. */
static void numbers_written_back_unchanged_keep_their_text(void **state)
{
    (void)state;
    static const char *src =
        "return {name='n', request=function(req)\n"
        "  local m = req.metadata\n"
        "  m.a = m.a; m.b = m.b; m.c = m.c; m.e = m.e; m.d[1] = m.d[1]; m.d[2] = m.d[2]\n"
        "  m.kind = math.type(m.c) .. ':' .. tostring(m.c > 9.2e18)\n"
        "  m.nul = tostring(pcall(function() m['a\\0b'] = 1 end)) .. ':' .. tostring(m['a\\0b'])\n"
        "end}\n";
    static const char *req_text =
        "{\"metadata\":{\"a\":0.7,\"b\":1e400,\"c\":18446744073709551615,"
        "\"d\":[-0.0,12345678901234567890123],\"e\":-9223372036854775808}}";
    static const char *want = "{\"metadata\":{\"a\":0.7,\"b\":1e400,\"c\":18446744073709551615,"
                              "\"d\":[-0.0,12345678901234567890123],\"e\":-9223372036854775808,"
                              "\"kind\":\"float:true\",\"nul\":\"false:nil\"}}";
    for (int mode = 0; mode < 2; mode++) {
        ccp_config *cfg;
        if (mode == 0) {
            write_plugin("n.lua", src);
            cfg = load_ok("n.lua", NULL, "    - n\n");
        } else {
            cfg = load_process(src, "{timeout_ms: 5000}");
        }
        char msg[600];
        json_object *r = NULL;
        assert_int_equal(call_process(cfg, req_text, msg, sizeof msg, &r), CCP_PLUGIN_OK);
        ccp_buf b = CCP_BUF_INIT;
        ccp_json_write(&b, r);
        assert_string_equal(b.data, want);
        ccp_buf_free(&b);
        json_object_put(r);
        ccp_config_unref(cfg);
    }
}

/* The pid of the plugin's only idle host: its child process, found as
 * the child of this process running `plugin-host` (test-only). */
static pid_t plugin_host_pid_for_test(const ccp_plugin *p)
{
    (void)p;
    char cmd[128], line[64];
    snprintf(cmd, sizeof cmd, "pgrep -P %d -f plugin-host", (int)getpid());
    FILE *f = popen(cmd, "r");
    pid_t pid = -1;
    if (f && fgets(line, sizeof line, f)) pid = (pid_t)atoi(line);
    if (f) pclose(f);
    return pid;
}

/* True once pid has exited (a zombie waiting for its parent). */
static bool host_is_zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] == 'Z';
}

static ccp_config *load_process(const char *src, const char *limits)
{
    char extra[256];
    write_plugin("proc.lua", src);
    snprintf(extra, sizeof extra, "      limits: %s\n", limits);
    /* load() writes isolation: inprocess; the entry's later key wins
     * nothing in YAML, so a separate path is used. */
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - path: %s/proc.lua\n      isolation: process\n"
             "%s",
             dir, extra);
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d) != 0)
        ccp_diags_print(&d, stderr);
    ccp_diags_free(&d);
    assert_non_null(cfg);
    return cfg;
}

static void process_mode_runs_hooks_in_a_host(void **state)
{
    (void)state;
    ccp_config *cfg = load_process("return {name='proc', request=function(req, ctx)\n"
                                   "  req.big = req.big + 1 req.n = #req.s\n"
                                   "  ctx.log('info', 'hello from the host') end}\n",
                                   "{timeout_ms: 5000}");
    char msg[600];
    json_object *r = NULL;
    assert_int_equal(
        call_process(cfg, "{\"big\":9007199254740993,\"s\":\"a\\u0000b\"}", msg, sizeof msg, &r),
        CCP_PLUGIN_OK);
    assert_int_equal(ccp_json_get_int(r, "big", 0), 9007199254740994LL);
    assert_int_equal(ccp_json_get_int(r, "n", 0), 3);
    json_object_put(r);
    ccp_config_unref(cfg);
}

static void process_mode_answers_with_patches_that_rebuild_the_result(void **state)
{
    (void)state;
    /* Each edit in the host must give what the same edit gives in-process. */
    static const char *const edits[] = {
        "", /* nothing changed */
        "r.o.y = nil r.o.w = 1 r.a[2] = {x = 1} r.zz = ccp.json.null",
        "table.insert(r.a, 1, 'first') r.msgs[1].content[1].text = 'X'",
        "table.remove(r.a) r.msgs = ccp.json.array()",
        "return {b = 1, a = r.a}", /* a new table: sent whole */
    };
    const char *body = "{\"o\":{\"x\":1,\"y\":2},\"a\":[1,[2],3],\"msgs\":[{\"content\":[{"
                       "\"text\":\"a\"}]}],\"big\":9007199254740993}";
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char src[512];
        snprintf(src, sizeof src, "return {name='proc', request=function(r) %s end}\n", edits[i]);
        ccp_config *cfg = load_process(src, "{timeout_ms: 5000}");
        char msg[600], want[1024];
        json_object *r = NULL;
        assert_int_equal(call_process(cfg, body, msg, sizeof msg, &r), CCP_PLUGIN_OK);
        char got[1024];
        snprintf(got, sizeof got, "%s", ccp_json_str(r, NULL));
        json_object_put(r);
        ccp_config_unref(cfg);
        write_plugin("same.lua", src);
        cfg = load_ok("same.lua", NULL, "    - proc\n");
        json_object *req = parse(body);
        ccp_error err = {0};
        assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
        snprintf(want, sizeof want, "%s", ccp_json_str(req, NULL));
        json_object_put(req);
        ccp_config_unref(cfg);
        assert_string_equal(got, want);
        /* A hook that changes nothing leaves the request as it was. */
        if (i == 0) assert_string_equal(want, body);
    }
}

/* With `reads`, the request hook sees only the members named, in both
 * modes; what it sets, deletes or adds lands in the request, and the
 * members it was not given stay where they were. */
static void a_plugin_that_declares_reads_is_given_those_members_only(void **state)
{
    (void)state;
    write_plugin("reads.lua",
                 "return {name='rd', reads={'model', 'system'}, request=function(req)\n"
                 "  req.seen = (req.messages == nil and 'no-messages' or 'messages') .. ',' ..\n"
                 "             (req.tools == nil and 'no-tools' or 'tools')\n"
                 "  req.model = req.model .. '-x'\n"
                 "  req.system = nil\n"
                 "end}\n");
    const char *body = "{\"model\":\"m\",\"system\":\"s\",\"messages\":[{\"role\":\"user\","
                       "\"content\":\"hi\"}],\"tools\":[{\"name\":\"t\"}],\"max_tokens\":5}";
    const char *want = "{\"model\":\"m-x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                       "\"tools\":[{\"name\":\"t\"}],\"max_tokens\":5,\"seen\":\"no-messages,"
                       "no-tools\"}";
    static const char *const modes[] = {"inprocess", "process"};
    for (size_t i = 0; i < 2; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml,
                 "plugins:\n  dirs: []\n  load:\n    - path: %s/reads.lua\n      isolation: %s\n"
                 "pipelines:\n  p:\n    - rd\n",
                 dir, modes[i]);
        ccp_config *cfg = NULL;
        ccp_diags d = {0};
        if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d) != 0)
            ccp_diags_print(&d, stderr);
        ccp_diags_free(&d);
        assert_non_null(cfg);
        json_object *req = parse(body);
        json_object *messages = ccp_json_get(req, "messages");
        ccp_error err = {0};
        assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
        assert_string_equal(ccp_json_str(req, NULL), want);
        /* Not sent anywhere: the very object the request had. */
        assert_ptr_equal(ccp_json_get(req, "messages"), messages);
        json_object_put(req);
        ccp_config_unref(cfg);
    }
    write_plugin("badreads.lua", "return {name='br', reads='model', request=function() end}\n");
    assert_non_null(strstr(load_err("badreads.lua", NULL, "    - br\n"), "reads is a list"));
    write_plugin("badreads.lua",
                 "return {name='br', reads={'model', 3}, request=function() end}\n");
    assert_non_null(strstr(load_err("badreads.lua", NULL, "    - br\n"), "reads: entry 2"));
}

static void an_idle_host_that_died_is_replaced_before_a_call_fails(void **state)
{
    (void)state;
    ccp_config *cfg = load_process("return {name='proc', request=function(r) r.ok = true end}\n",
                                   "{timeout_ms: 5000}");
    char msg[600];
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_OK);
    /* Kill the idle host from outside (as the OOM killer might). */
    ccp_plugin *p = cfg->plugins->v[0];
    pid_t pid = plugin_host_pid_for_test(p);
    assert_true(pid > 0);
    kill(pid, SIGKILL);
    /* Wait until its socket reports the death (no timing threshold: the
     * kernel closes it as the process dies). */
    while (kill(pid, 0) == 0 && !host_is_zombie(pid))
        usleep(1000);
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_OK);
    assert_int_equal(atomic_load(&p->kills), 1);
    assert_int_equal(atomic_load(&p->restarts), 1);
    ccp_config_unref(cfg);
}

static void process_mode_reads_the_declaration_in_a_host(void **state)
{
    (void)state;
    char yaml[1024];
    ccp_diags d = {0};
    ccp_config *cfg = NULL;
    static const char *const bad[][2] = {
        {"return {name=\n", "proc.lua:"},
        {"while true do end\n", "timeout"},
        {"return {name='proc', request=function() end, x = io.open('/etc/passwd')}\n",
         "global 'io'"},
    };
    for (size_t i = 0; i < 3; i++) {
        write_plugin("proc.lua", bad[i][0]);
        snprintf(yaml, sizeof yaml,
                 "plugins:\n  dirs: []\n  load:\n    - path: %s/proc.lua\n"
                 "      limits: {timeout_ms: 200}\n",
                 dir);
        assert_int_not_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
        assert_non_null(strstr(d.items[d.n - 1].message, bad[i][1]));
        ccp_diags_free(&d);
    }
    /* The declaration came from the host, which stays for the first call. */
    cfg = load_process("return {name='proc', request=function(r) r.ok = true end}\n",
                       "{timeout_ms: 5000}");
    assert_true(plugin_host_pid_for_test(cfg->plugins->v[0]) > 0);
    char msg[600];
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_OK);
    assert_int_equal(atomic_load(&cfg->plugins->v[0]->restarts), 0);
    ccp_config_unref(cfg);
}

static void process_mode_stops_loops_and_memory_bombs(void **state)
{
    (void)state;
    char msg[600];
    /* A Lua loop: the host's own count hook stops it. */
    ccp_config *cfg = load_process(
        "return {name='proc', request=function() while true do end end}\n", "{timeout_ms: 200}");
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_TIMEOUT);
    ccp_config_unref(cfg);
    /* A long C call the hook cannot interrupt: the parent kills the host
     * at the deadline. */
    cfg = load_process("return {name='proc', request=function()\n"
                       "  local s = string.rep('a', 200000) s:find('.-.-.-.-.-b') end}\n",
                       "{timeout_ms: 200}");
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_TIMEOUT);
    assert_non_null(strstr(msg, "the plugin host was killed"));
    assert_int_equal(atomic_load(&cfg->plugins->v[0]->kills), 1);
    ccp_config_unref(cfg);
    cfg = load_process(
        "return {name='proc', request=function()\n"
        "  local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end end}\n",
        "{timeout_ms: 60000, memory_mb: 16}");
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_MEMORY);
    ccp_config_unref(cfg);
    cfg = load_process("return {name='proc', request=function() io.open('/etc/passwd') end}\n",
                       "{timeout_ms: 5000}");
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_ERROR);
    assert_non_null(strstr(msg, "global 'io'"));
    ccp_config_unref(cfg);
}

static void seccomp_kills_a_host_that_opens_connects_or_execs(void **state)
{
    (void)state;
    setenv("CCPROXY_PLUGIN_TEST_SYSCALLS", "1", 1);
    ccp_config *cfg = load_process("return {name='proc', request=function(req)\n"
                                   "  if req.what then ccp.test_syscall(req.what) end\n"
                                   "  req.ok = true end}\n",
                                   "{timeout_ms: 5000}");
    ccp_plugin *p = cfg->plugins->v[0];
    char msg[600];
    const char *calls[] = {"{\"what\":\"open\"}", "{\"what\":\"socket\"}", "{\"what\":\"execve\"}"};
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call_process(cfg, calls[i], msg, sizeof msg, NULL), CCP_PLUGIN_CRASH);
        assert_non_null(strstr(msg, "killed by signal 31 (SIGSYS"));
        /* The next call gets a new host. */
        json_object *r = NULL;
        assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, &r), CCP_PLUGIN_OK);
        assert_true(ccp_json_get_bool(r, "ok", false));
        json_object_put(r);
    }
    assert_int_equal(atomic_load(&p->kills), 3);
    assert_int_equal(atomic_load(&p->restarts), 3);
    unsetenv("CCPROXY_PLUGIN_TEST_SYSCALLS");
    ccp_config_unref(cfg);
}

/* Health: an idle host is pinged; one made (test-only) to stop answering
 * pings is killed and a new one started in its place, which answers. */
static void an_idle_host_that_stops_answering_pings_is_replaced(void **state)
{
    (void)state;
    setenv("CCPROXY_PLUGIN_TEST_SYSCALLS", "1", 1);
    ccp_config *cfg = load_process("return {name='proc', request=function(req)\n"
                                   "  if req.deaf then ccp.test_syscall('deaf') end\n"
                                   "  req.ok = true end}\n",
                                   "{timeout_ms: 5000}");
    ccp_plugin *p = cfg->plugins->v[0];
    char msg[600];
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, NULL), CCP_PLUGIN_OK);
    /* A healthy idle host answers its ping and stays. */
    assert_int_equal(ccp_plugin_hosts_ping(p, 0, 5000), 0);
    assert_int_equal(atomic_load(&p->pings), 1);
    pid_t deaf = plugin_host_pid_for_test(p);
    assert_true(deaf > 0);
    /* The call itself is answered; from then on pings are not. */
    assert_int_equal(call_process(cfg, "{\"deaf\":true}", msg, sizeof msg, NULL), CCP_PLUGIN_OK);
    assert_int_equal(ccp_plugin_hosts_ping(p, 0, 200), 1);
    assert_int_equal(atomic_load(&p->unresponsive), 1);
    assert_int_equal(atomic_load(&p->kills), 1);
    assert_int_equal(atomic_load(&p->restarts), 1);
    assert_true(kill(deaf, 0) != 0); /* killed and reaped */
    pid_t fresh = plugin_host_pid_for_test(p);
    assert_true(fresh > 0 && fresh != deaf);
    /* The replacement answers pings and calls. */
    assert_int_equal(ccp_plugin_hosts_ping(p, 0, 5000), 0);
    json_object *r = NULL;
    assert_int_equal(call_process(cfg, "{}", msg, sizeof msg, &r), CCP_PLUGIN_OK);
    assert_true(ccp_json_get_bool(r, "ok", false));
    json_object_put(r);
    assert_int_equal(atomic_load(&p->kills), 1);
    /* Hosts idle for less than idle_ms are left alone. */
    uint64_t pings = atomic_load(&p->pings);
    assert_int_equal(ccp_plugin_hosts_ping(p, 3600 * 1000, 5000), 0);
    assert_int_equal(atomic_load(&p->pings), pings);
    unsetenv("CCPROXY_PLUGIN_TEST_SYSCALLS");
    ccp_config_unref(cfg);
}

/* The host's answer to each call carries that call's log lines, and no
 * list is left behind: the host once dropped one list per call unput,
 * which grew it until its address-space cap ended it (exit status 0).
 * Run in-process here, so the leak check sees what the host would keep. */
static void host_answers_carry_each_calls_logs_and_keep_nothing(void **state)
{
    (void)state;
    const char *src = "return {name='logger', request=function(req, ctx)\n"
                      "  if req.say then ctx.log('warn', req.say) end\n"
                      "  req.n = (req.n or 0) + 1 end}\n";
    ccp_plugin_limits lim;
    ccp_plugin_limits_default(&lim);
    ccp_buf msg = CCP_BUF_INIT;
    ccp_plugin_vm *vm = ccp_plugin_vm_new("=logger", src, strlen(src), &lim, &msg);
    assert_non_null(vm);
    ccp_plugin_vm_take_logs(vm, true); /* the host collects (NULL before: nothing to put) */
    const char *calls[] = {"{\"hook\":\"request\",\"arg\":{\"say\":\"one\"},\"ctx\":{}}",
                           "{\"hook\":\"request\",\"arg\":{},\"ctx\":{}}",
                           "{\"hook\":\"request\",\"arg\":{\"say\":\"three\"},\"ctx\":{}}"};
    const char *want_logs[] = {"[{\"level\":\"warn\",\"msg\":\"one\"}]", "[]",
                               "[{\"level\":\"warn\",\"msg\":\"three\"}]"};
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 3; i++) {
            json_object *m = ccp_json_parse(calls[i], strlen(calls[i]), NULL);
            ccp_plugin_cause c;
            json_object *r = ccp_plugin_host_answer(vm, m, &lim, &c);
            assert_int_equal(c, CCP_PLUGIN_OK);
            assert_string_equal(ccp_json_str(ccp_json_get(r, "logs"), NULL), want_logs[i]);
            assert_non_null(ccp_json_get(r, "patch"));
            json_object_put(r);
            json_object_put(m);
        }
    }
    json_object_put(ccp_plugin_vm_take_logs(vm, false));
    ccp_plugin_vm_free(vm);
    ccp_buf_free(&msg);
}

/* Each way out of a plugin host has its own exit status, and the proxy
 * says what it means. */
static void host_exit_statuses_are_distinct_and_explained(void **state)
{
    (void)state;
    const int st[] = {CCP_PLUGIN_HOST_EXIT_CLOSED,  CCP_PLUGIN_HOST_EXIT_INIT,
                      CCP_PLUGIN_HOST_EXIT_SECCOMP, CCP_PLUGIN_HOST_EXIT_LOAD,
                      CCP_PLUGIN_HOST_EXIT_SOCKET,  CCP_PLUGIN_HOST_EXIT_TOO_BIG,
                      CCP_PLUGIN_HOST_EXIT_NOMEM,   CCP_PLUGIN_HOST_EXIT_GARBAGE,
                      CCP_PLUGIN_HOST_EXIT_SEND,    CCP_PLUGIN_HOST_EXIT_RELOAD};
    const size_t n = sizeof st / sizeof st[0];
    const char *unknown = ccp_plugin_host_exit_meaning(99);
    for (size_t i = 0; i < n; i++) {
        /* 1 is what a crash in a library's exit() might give: not ours. */
        assert_true(st[i] != 1 && st[i] >= 0 && st[i] < 126);
        assert_true(ccp_plugin_host_exit_meaning(st[i]) != unknown);
        for (size_t j = i + 1; j < n; j++) {
            assert_int_not_equal(st[i], st[j]);
            assert_string_not_equal(ccp_plugin_host_exit_meaning(st[i]),
                                    ccp_plugin_host_exit_meaning(st[j]));
        }
    }
}

/* After plugin request hooks, only the top-level members they replaced
 * are checked again; a change that would fail the whole check fails this
 * one, so the encoder then checks the whole and gives its error. */
static void only_what_plugins_replaced_is_checked_again(void **state)
{
    (void)state;
    const char *body = "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"hi\"}],\"system\":\"s\",\"tools\":[{\"name\":\"t\","
                       "\"input_schema\":{\"type\":\"object\"}}]}";
    static const struct {
        const char *edit; /* the hook's body */
        bool ok;
    } cases[] = {
        {"", true},
        {"r.max_tokens = 4096", true},
        {"r.max_tokens = 'many'", false},
        {"r.messages[1].content = 5", false},
        {"r.messages[1].content = 'hello'", true},
        {"table.insert(r.messages, {role='assistant', content={{type='text', text='x'}}})", true},
        {"table.insert(r.messages, {role='assistant', content={{type='text', text=5}}})", false},
        {"r.model = nil", false},
        {"r.messages = nil", false},
        {"r.system = nil r.tools = nil", true},
        {"r.tools[1].name = 7", false},
        {"r.stream = 'yes'", false},
        {"r.whatever = {1, 2}", true},
        {"r.thinking = {type = 'enabled', budget_tokens = 1024}", true},
        {"r.thinking = {budget_tokens = 1024}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[512];
        snprintf(src, sizeof src, "return {name='edit', request=function(r) %s end}\n",
                 cases[i].edit);
        write_plugin("edit.lua", src);
        ccp_config *cfg = load_ok("edit.lua", NULL, "    - edit\n");
        assert_true(ccp_plugin_edits_only(&cfg->pipelines[0]));
        json_object *req = parse(body);
        json_object *before = ccp_plugin_request_mark(req);
        ccp_error err = {0};
        assert_int_equal(ccp_pipeline_run_request(&cfg->pipelines[0], req, &err), 0);
        bool ok = ccp_plugin_request_still_checked(before, req);
        ccp_error full = {0};
        if (ok != cases[i].ok || ok != (ccp_request_check(req, &full) == 0))
            fail_msg("%s: partial %d, whole %d, want %d", cases[i].edit, ok,
                     ccp_request_check(req, &full) == 0, cases[i].ok);
        json_object_put(before);
        json_object_put(req);
        ccp_config_unref(cfg);
    }
    /* A built-in step with a request hook: the whole is checked. */
    ccp_diags d = {0};
    ccp_config *cfg = NULL;
    const char *yaml = "pipelines:\n  p:\n    - {use: max-tokens, with: {max: 100}}\n";
    assert_int_equal(ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d), 0);
    assert_false(ccp_plugin_edits_only(&cfg->pipelines[0]));
    ccp_config_unref(cfg);
    ccp_diags_free(&d);
    assert_true(ccp_plugin_edits_only(NULL));
    assert_false(ccp_plugin_request_still_checked(NULL, NULL));
}

/* One step, called from several threads at once (worker loops and the
 * thread pool do that): its options are the config's, shared, and json-c
 * counts references without atomics. A reference taken and dropped per
 * call lost counts until the options were freed under the config, and
 * every later call sent its host a ctx with `"options":}` (hosts ended,
 * one after another, under a 32-connection load). Here a lost count shows
 * as a use after free or a leak. */
typedef struct {
    const ccp_pipeline *p;
    int bad;
} opt_race;

static void *opt_race_run(void *ud)
{
    opt_race *r = ud;
    for (int i = 0; i < 4000; i++) {
        json_object *req = parse("{\"max_tokens\":1}");
        ccp_error err = {0};
        if (ccp_pipeline_run_request(r->p, req, &err) != 0 ||
            ccp_json_get_int(req, "max_tokens", 0) != 77)
            r->bad++;
        json_object_put(req);
    }
    return NULL;
}

static void step_options_survive_calls_from_many_threads(void **state)
{
    (void)state;
    write_plugin("opt.lua", "return {name='opt', options={n={type='integer', default=5}},\n"
                            "  request=function(req, ctx) req.max_tokens = ctx.options.n end}\n");
    ccp_config *cfg = load_ok("opt.lua", NULL, "    - {use: opt, with: {n: 77}}\n");
    opt_race r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (opt_race){&cfg->pipelines[0], 0};
        assert_int_equal(pthread_create(&t[i], NULL, opt_race_run, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].bad, 0);
    }
    assert_int_equal(ccp_json_get_int(cfg->pipelines[0].steps[0].opts, "n", 0), 77);
    ccp_config_unref(cfg);
}

int main(int argc, char **argv)
{
    /* Process isolation starts this binary (/proc/self/exe) as the host. */
    if (argc > 1 && !strcmp(argv[1], "plugin-host"))
        return ccp_plugin_host_main(argc - 1, argv + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_hook_edits_the_request_keeping_integers_and_bytes),
        cmocka_unit_test(member_order_survives_the_round_trip),
        cmocka_unit_test(tables_read_and_edit_lazily_like_plain_ones),
        cmocka_unit_test(a_failed_encode_lets_go_of_the_request_by_the_calls_end),
        cmocka_unit_test(reload_picks_up_an_edited_plugin),
        cmocka_unit_test(options_are_checked_like_builtins),
        cmocka_unit_test(entry_on_error_and_formats_apply_to_steps),
        cmocka_unit_test(bad_declarations_are_config_errors),
        cmocka_unit_test(infinite_loop_stops_at_timeout),
        cmocka_unit_test(a_plugins_text_cannot_forge_log_lines),
        cmocka_unit_test(instruction_budget_stops_a_call),
        cmocka_unit_test(memory_bomb_stops_at_memory_mb),
        cmocka_unit_test(sandbox_refuses_io_os_require_and_bytecode),
        cmocka_unit_test(hook_errors_and_bad_returns),
        cmocka_unit_test(breaker_opens_after_failures_and_recovers),
        cmocka_unit_test(outbound_hook_edits_url_headers_body_and_never_sees_keys),
        cmocka_unit_test(outbound_hook_cannot_send_the_request_elsewhere),
        cmocka_unit_test(event_hook_edits_drops_and_adds_events),
        cmocka_unit_test(event_hook_results_that_no_anthropic_stream_holds_are_dropped),
        cmocka_unit_test(plugins_are_found_in_dirs_and_listed_in_metrics),
        cmocka_unit_test(route_script_picks_or_defers_to_the_router),
        cmocka_unit_test(example_redact_secrets_masks_keys_tokens_and_private_keys),
        cmocka_unit_test(example_ultrathink_raises_the_budget),
        cmocka_unit_test(example_simplify_tools_trims_schemas),
        cmocka_unit_test(example_route_by_project_picks_by_working_directory),
        cmocka_unit_test(process_mode_runs_hooks_in_a_host),
        cmocka_unit_test(numbers_written_back_unchanged_keep_their_text),
        cmocka_unit_test(process_mode_answers_with_patches_that_rebuild_the_result),
        cmocka_unit_test(a_plugin_that_declares_reads_is_given_those_members_only),
        cmocka_unit_test(an_idle_host_that_died_is_replaced_before_a_call_fails),
        cmocka_unit_test(process_mode_reads_the_declaration_in_a_host),
        cmocka_unit_test(process_mode_stops_loops_and_memory_bombs),
        cmocka_unit_test(seccomp_kills_a_host_that_opens_connects_or_execs),
        cmocka_unit_test(an_idle_host_that_stops_answering_pings_is_replaced),
        cmocka_unit_test(host_answers_carry_each_calls_logs_and_keep_nothing),
        cmocka_unit_test(host_exit_statuses_are_distinct_and_explained),
        cmocka_unit_test(only_what_plugins_replaced_is_checked_again),
        cmocka_unit_test(step_options_survive_calls_from_many_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
