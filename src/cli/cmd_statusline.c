/* cmd_statusline.c — `ccproxy statusline`: one line for Claude Code's
 * status bar. Claude Code runs the command of its `statusLine` setting
 * after each turn with a JSON object on stdin (session_id, model,
 * workspace, ...); this prints the route, provider/model and token counts
 * of that session's latest request through the proxy (GET /sessions/ID,
 * obs/sessions.h). It always exits 0 with some line: a status bar has no
 * place for an error. */
#include "cli/cli.h"
#include "cli/http_client.h"
#include "cli/state.h"

#include "core/buf.h"
#include "core/json.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy statusline [--config FILE] [--url URL]\n"
          "\n"
          "Reads Claude Code's status-line JSON on stdin and prints one line: the route\n"
          "stage, provider/model and tokens of this session's latest request through\n"
          "the proxy, e.g.\n"
          "  ccproxy thinking → deepseek/deepseek-reasoner · in 12.3k out 456 cache 10.2k\n"
          "Enable it in ~/.claude/settings.json (or a project's .claude/settings.json):\n"
          "  \"statusLine\": {\"type\": \"command\", \"command\": \"ccproxy statusline\"}\n"
          "\n"
          "The proxy is the one at --url, else the one serving --config, else the one\n"
          "$ANTHROPIC_BASE_URL names (set by `ccproxy code`), else the one serving the\n"
          "config `ccproxy serve` would find. Colours unless NO_COLOR is set.\n"
          "\n"
          "  -c, --config FILE    ask the proxy serving this config\n"
          "  -u, --url URL        ask the proxy at this address\n"
          "\n"
          "exit: 0 (a line is printed even when the proxy cannot be reached); 2 usage error\n",
          out);
}

/* 12345 → "12.3k". */
static void human_count(char *out, size_t cap, long long n)
{
    if (n < 1000)
        snprintf(out, cap, "%lld", n);
    else if (n < 1000000)
        snprintf(out, cap, "%.1fk", (double)n / 1e3);
    else
        snprintf(out, cap, "%.1fM", (double)n / 1e6);
}

static bool safe_id(const char *id)
{
    if (!*id || strlen(id) > 128) return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* Prints the line for the session JSON s. */
static void print_session(json_object *s, bool color)
{
    const char *dim = color ? "\033[2m" : "", *cyan = color ? "\033[36m" : "",
               *bold = color ? "\033[1m" : "", *red = color ? "\033[31m" : "",
               *off = color ? "\033[0m" : "";
    json_object *l = ccp_json_get_obj(s, "latest");
    const char *stage = ccp_json_get_str(l, "stage"), *prov = ccp_json_get_str(l, "provider");
    const char *model = ccp_json_get_str(l, "upstream_model");
    if (!model) model = ccp_json_get_str(l, "model");
    printf("%sccproxy%s %s%s%s", dim, off, cyan, stage ? stage : "-", off);
    if (prov) printf(" → %s%s%s%s%s", bold, prov, model ? "/" : "", model ? model : "", off);
    const char *err = ccp_json_get_str(l, "error_type");
    if (err) printf(" %s%s%s", red, err, off);
    char a[16], b[16], c[16];
    long long in = ccp_json_get_int(l, "input_tokens", -1),
              out = ccp_json_get_int(l, "output_tokens", -1),
              cache = ccp_json_get_int(l, "cache_read_tokens", -1);
    if (in >= 0 || out >= 0) {
        human_count(a, sizeof a, in < 0 ? 0 : in);
        human_count(b, sizeof b, out < 0 ? 0 : out);
        printf(" %s·%s in %s out %s", dim, off, a, b);
        if (cache > 0) {
            human_count(c, sizeof c, cache);
            printf(" cache %s", c);
        }
    }
    printf("\n");
}

int ccp_cmd_statusline(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"url", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *url = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:u:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'u':
            url = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ccproxy statusline: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    const char *nc = getenv("NO_COLOR");
    bool color = !(nc && nc[0]);
    /* Claude Code's JSON: a few KiB. */
    ccp_buf in = CCP_BUF_INIT;
    char chunk[4096];
    size_t n;
    while (in.len < (1u << 20) && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        ccp_buf_append(&in, chunk, n);
    ccp_error err = {0};
    json_object *j = in.len ? ccp_json_parse(in.data, in.len, &err) : NULL;
    ccp_buf_free(&in);
    const char *sid = j ? ccp_json_get_str(j, "session_id") : NULL;

    char base[400] = "";
    ccp_state st;
    ccp_state_info info;
    const char *env_url = getenv("ANTHROPIC_BASE_URL");
    if (url)
        snprintf(base, sizeof base, "%s", url);
    else if (!config && env_url && *env_url)
        snprintf(base, sizeof base, "%s", env_url);
    else if (ccp_state_init(&st, config, true) == 0 && ccp_state_running(&st, &info))
        snprintf(base, sizeof base, "%s", info.url);
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        base[--bl] = '\0';
    if (!base[0]) {
        printf("ccproxy not running\n");
    } else if (!sid || !safe_id(sid)) {
        printf("ccproxy %s\n", base);
    } else {
        char u[600];
        snprintf(u, sizeof u, "%s/sessions/%s", base, sid);
        ccp_buf b = CCP_BUF_INIT;
        long code = 0;
        int rc = ccp_cli_http("GET", u, NULL, 1000, &b, &code);
        json_object *s = rc == 0 && code == 200 ? ccp_json_parse(b.data, b.len, &err) : NULL;
        if (s)
            print_session(s, color);
        else if (rc != 0)
            printf("ccproxy not answering at %s\n", base);
        else
            printf("ccproxy %s · no request yet\n", base);
        if (s) json_object_put(s);
        ccp_buf_free(&b);
    }
    if (j) json_object_put(j);
    return 0;
}
