/* cmd_plugin.c — `ccproxy plugin new NAME` writes a commented plugin
 * template and a request to try it on; `ccproxy plugin test PATH
 * REQUEST.json` runs the plugin's hooks on that request, under its caps
 * and isolation, and prints what would be sent (the plugin's own dry run:
 * a one-provider config around it, through `ccproxy explain`). */
#include "cli/cli.h"

#include "core/buf.h"
#include "plugin/plugin.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy plugin new NAME [--dir DIR]\n"
          "       ccproxy plugin test PATH REQUEST.json [--isolation process|inprocess]\n"
          "              [--format anthropic|openai-chat|gemini] [--with '{option: value}']\n"
          "              [--timeout-ms N] [--memory-mb N]\n"
          "\n"
          "new   writes NAME.lua (a commented template) and NAME.request.json (a request to\n"
          "      try it on)\n"
          "test  runs the plugin's hooks on the request under its caps and prints the request\n"
          "      as it would be sent to a provider of that format (see docs/plugins.md)\n",
          out);
}

static const char TEMPLATE[] =
    "-- %s.lua — a ccproxy plugin (docs/plugins.md).\n"
    "--\n"
    "-- Use it from a config:\n"
    "--   plugins:\n"
    "--     load: [{path: %s.lua, isolation: process, limits: {timeout_ms: 200}}]\n"
    "--   pipelines:\n"
    "--     mine: [{use: %s, with: {note: \"hello\"}}]\n"
    "-- Try it:  ccproxy plugin test %s.lua %s.request.json\n"
    "--\n"
    "-- Available: string, table, math, utf8, coroutine, os.time/clock/date, a text-only\n"
    "-- load, ccp.json (encode, decode, null, array, object), ctx.log(level, msg).\n"
    "-- Not available: io, os.execute, require, package, dofile, debug, bytecode.\n"
    "\n"
    "return {\n"
    "  name = \"%s\",          -- how pipelines name it (lower case, digits, - and _)\n"
    "  version = \"0.1\",\n"
    "  summary = \"Adds a note to the system prompt.\",\n"
    "  -- Options: checked by `ccproxy check` like a built-in transformer's.\n"
    "  -- type: integer, number, string, boolean, mapping or string_list.\n"
    "  options = {\n"
    "    note = { type = \"string\", default = \"hello\", help = \"the text to append\" },\n"
    "  },\n"
    "  -- formats = { \"anthropic\", \"openai-chat\" },  -- default: every format\n"
    "  -- The request members the request hook is given (the rest stay in the proxy,\n"
    "  -- which spares sending ~150 KiB to a plugin host per call); default: all.\n"
    "  reads = { \"system\" },\n"
    "\n"
    "  -- The Anthropic request, before it is encoded for the provider. Edit req in place\n"
    "  -- (or return a new table); return nil, \"why\" (or call error) to fail the step.\n"
    "  request = function(req, ctx)\n"
    "    ctx.log(\"debug\", \"request \" .. (ctx.request_id or \"?\") .. \" to \" ..\n"
    "            (ctx.provider or \"?\") .. \"/\" .. (ctx.model or \"?\"))\n"
    "    local note = { type = \"text\", text = ctx.options.note }\n"
    "    if type(req.system) == \"string\" then\n"
    "      req.system = { { type = \"text\", text = req.system }, note }\n"
    "    else\n"
    "      req.system = req.system or ccp.json.array()\n"
    "      table.insert(req.system, note)\n"
    "    end\n"
    "  end,\n"
    "\n"
    "  -- The provider's request after encoding: out.url, out.headers (credentials show\n"
    "  -- as \"***\" and keep their value unless replaced), out.body.\n"
    "  -- outbound = function(out, ctx) out.headers[\"x-note\"] = \"1\" end,\n"
    "\n"
    "  -- Each response event ({type = \"content_block_delta\", index, kind = \"text_delta\",\n"
    "  -- text}, ...): edit it, return false to drop it, or a list to add some.\n"
    "  -- event = function(ev, ctx) end,\n"
    "\n"
    "  -- A router (router.script: %s): \"provider/model\", or nil for the built-in one.\n"
    "  -- route = function(req, ctx) return nil end,\n"
    "}\n";

static const char FIXTURE[] = "{\n"
                              "  \"model\": \"claude-sonnet-4-5\",\n"
                              "  \"max_tokens\": 1024,\n"
                              "  \"system\": \"You are Claude Code.\",\n"
                              "  \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]\n"
                              "}\n";

static int write_new(const char *path, const char *text)
{
    FILE *f = fopen(path, "wx"); /* never overwrites */
    if (!f) {
        fprintf(stderr, "ccproxy plugin new: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputs(text, f);
    fclose(f);
    printf("wrote %s\n", path);
    return 0;
}

static int cmd_new(int argc, char **argv)
{
    const char *dir = ".";
    if (argc == 4 && !strcmp(argv[2], "--dir")) dir = argv[3];
    if (argc != 2 && argc != 4) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')) {
            fprintf(stderr, "ccproxy plugin new: a plugin name is lower-case letters, digits, "
                            "'-' and '_'\n");
            return 2;
        }
    ccp_buf lua = CCP_BUF_INIT, src = CCP_BUF_INIT, req = CCP_BUF_INIT;
    ccp_buf_printf(&lua, "%s/%s.lua", dir, name);
    ccp_buf_printf(&req, "%s/%s.request.json", dir, name);
    ccp_buf_printf(&src, TEMPLATE, name, name, name, name, name, name, name);
    int rc = write_new(lua.data, src.data) == 0 && write_new(req.data, FIXTURE) == 0 ? 0 : 1;
    ccp_buf_free(&lua);
    ccp_buf_free(&src);
    ccp_buf_free(&req);
    return rc;
}

/* s as a YAML single-quoted scalar. */
static void yaml_quote(ccp_buf *b, const char *s)
{
    ccp_buf_appendc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') ccp_buf_appendc(b, '\'');
        ccp_buf_appendc(b, *s);
    }
    ccp_buf_appendc(b, '\'');
}

static int cmd_test(int argc, char **argv)
{
    static const struct option opts[] = {
        {"isolation", required_argument, NULL, 'i'},
        {"format", required_argument, NULL, 'f'},
        {"with", required_argument, NULL, 'w'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"memory-mb", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *iso = "process", *format = "anthropic", *with = "{}";
    long timeout = 0, memory = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "i:f:w:t:m:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            iso = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'w':
            with = optarg;
            break;
        case 't':
            timeout = strtol(optarg, NULL, 10);
            break;
        case 'm':
            memory = strtol(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 2) {
        usage(stderr);
        return 2;
    }
    char path[PATH_MAX];
    if (!realpath(argv[optind], path)) {
        fprintf(stderr, "ccproxy plugin test: %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    /* The declaration first: its name and hooks shape the config. */
    ccp_plugin_limits lim;
    ccp_plugin_limits_default(&lim);
    ccp_error err = {0};
    ccp_plugin *p = ccp_plugin_load(
        path, strcmp(iso, "inprocess") ? CCP_ISOLATION_PROCESS : CCP_ISOLATION_INPROCESS, &lim,
        &err);
    if (!p) {
        fprintf(stderr, "ccproxy plugin test: %s: %s\n", path, err.msg);
        return 1;
    }
    ccp_buf y = CCP_BUF_INIT;
    ccp_buf_appends(&y, "plugins:\n  dirs: []\n  load:\n    - path: ");
    yaml_quote(&y, path);
    ccp_buf_printf(&y, "\n      isolation: %s\n      limits: {", iso);
    if (timeout > 0) ccp_buf_printf(&y, "timeout_ms: %ld%s", timeout, memory > 0 ? ", " : "");
    if (memory > 0) ccp_buf_printf(&y, "memory_mb: %ld", memory);
    ccp_buf_appends(&y, "}\n      options: ");
    ccp_buf_appends(&y, with);
    bool steps = p->has_request || p->has_outbound || p->has_event;
    if (steps) ccp_buf_printf(&y, "\npipelines:\n  test: [%s]", p->name);
    ccp_buf_printf(&y,
                   "\nproviders:\n  - name: test\n    format: %s\n"
                   "    base_url: https://provider.invalid%s\n    api_key: sk-test\n%s"
                   "router:\n  default: test\n",
                   format, !strcmp(format, "openai-chat") ? "/v1" : "",
                   steps ? "    pipeline: test\n" : "");
    if (p->has_route) ccp_buf_printf(&y, "  script: %s\n", p->name);
    ccp_plugin_free(p);
    char cfg[] = "/tmp/ccproxy-plugin-test-XXXXXX.yaml";
    int fd = mkstemps(cfg, 5);
    if (fd < 0 || write(fd, y.data, y.len) != (ssize_t)y.len) {
        fprintf(stderr, "ccproxy plugin test: cannot write a config in /tmp: %s\n",
                strerror(errno));
        if (fd >= 0) close(fd), unlink(cfg);
        ccp_buf_free(&y);
        return 1;
    }
    close(fd);
    ccp_buf_free(&y);
    char *xargv[] = {"explain", "--config", cfg, argv[optind + 1], NULL};
    int rc = ccp_cmd_explain(4, xargv);
    unlink(cfg);
    return rc;
}

int ccp_cmd_plugin(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "new")) return cmd_new(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "test")) return cmd_test(argc - 1, argv + 1);
    bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    usage(help ? stdout : stderr);
    return help ? 0 : 2;
}
