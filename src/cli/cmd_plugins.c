/* cmd_plugins.c — `ccproxy plugins`: the plugins of a running proxy (GET
 * /admin/plugins: declaration, caps, breaker state and figures), or of the
 * config when no proxy runs (figures empty).
 *
 * The running proxy is found as `ccproxy status` finds it (cli/state.h):
 * the state files of the config, then its admin listener (or the main one
 * when there is none). --url names a listener directly. */
#include "cli/cli.h"

#include "cli/http_client.h"
#include "cli/state.h"
#include "core/buf.h"
#include "core/json.h"
#include "plugin/plugin.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy plugins [--config FILE] [--url URL] [--json]\n"
          "\n"
          "List the plugins: name, version, isolation, caps, on_error, source path, and from\n"
          "a running proxy the breaker's state and per-plugin figures (calls, errors,\n"
          "timeouts, host kills and restarts, latency, hosts' resident memory). When no\n"
          "proxy runs for the config, the plugins are read from the config (no figures).\n"
          "\n"
          "      --config FILE  the config (default: the usual lookup)\n"
          "      --url URL      ask the proxy at URL (its admin listener when it has one)\n"
          "      --json         print the table as JSON: {running, source, plugins: [...]}\n"
          "  -h, --help         this help\n",
          out);
}

/* GET base/admin/plugins; the parsed answer (owned) or NULL with a message
 * on stderr. */
static json_object *fetch(const char *base)
{
    char url[512];
    snprintf(url, sizeof url, "%s/admin/plugins", base);
    ccp_buf b = CCP_BUF_INIT;
    long code = 0;
    ccp_error err = {0};
    json_object *o = NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ccp_cli_http("GET", url, NULL, 5000, &b, &code) == 0 && code == 200)
        o = ccp_json_parse(b.data, b.len, &err);
    curl_global_cleanup();
    if (!o) fprintf(stderr, "ccproxy plugins: %s did not answer (HTTP %ld)\n", url, code);
    ccp_buf_free(&b);
    return o;
}

static void cell_int(char *out, size_t n, json_object *f, const char *key)
{
    json_object *v = ccp_json_get(f, key);
    if (v)
        snprintf(out, n, "%lld", (long long)json_object_get_int64(v));
    else
        snprintf(out, n, "-");
}

static void cell_ms(char *out, size_t n, json_object *f, const char *key)
{
    json_object *v = ccp_json_get(f, key);
    if (v)
        snprintf(out, n, "%.3g", json_object_get_double(v));
    else
        snprintf(out, n, "-");
}

static void print_table(json_object *r)
{
    json_object *ps = ccp_json_get(r, "plugins");
    if (!ccp_json_arr_len(ps)) {
        printf("no plugins (plugins.load and plugins.dirs name none)\n");
        return;
    }
    printf("%-20s %-8s %-9s %-24s %-8s %-9s %7s %6s %8s %5s %8s %8s %8s %5s %8s  %s\n", "NAME",
           "VERSION", "ISOLATION", "LIMITS", "ON_ERROR", "BREAKER", "CALLS", "ERRORS", "TIMEOUTS",
           "KILLS", "RESTARTS", "MEAN_MS", "P99_MS", "HOSTS", "RSS_MB", "PATH");
    for (size_t i = 0; i < ccp_json_arr_len(ps); i++) {
        json_object *p = ccp_json_arr_at(ps, i), *l = ccp_json_get(p, "limits"),
                    *f = ccp_json_get(p, "figures");
        char lim[64], calls[24], errs[24], tmo[24], kills[24], rest[24], mean[24], p99[24],
            hosts[24], rss[24];
        snprintf(lim, sizeof lim, "%llds/%lldM/%llds/%lld",
                 (long long)ccp_json_get_int(l, "timeout_ms", 0) / 1000,
                 (long long)ccp_json_get_int(l, "memory_mb", 0),
                 (long long)ccp_json_get_int(l, "cpu_seconds", 0),
                 (long long)ccp_json_get_int(l, "instructions", 0));
        /* timeout in ms reads better when under a second */
        if (ccp_json_get_int(l, "timeout_ms", 0) % 1000)
            snprintf(lim, sizeof lim, "%lldms/%lldM/%llds/%lld",
                     (long long)ccp_json_get_int(l, "timeout_ms", 0),
                     (long long)ccp_json_get_int(l, "memory_mb", 0),
                     (long long)ccp_json_get_int(l, "cpu_seconds", 0),
                     (long long)ccp_json_get_int(l, "instructions", 0));
        cell_int(calls, sizeof calls, f, "calls");
        cell_int(errs, sizeof errs, f, "errors");
        cell_int(tmo, sizeof tmo, f, "timeouts");
        cell_int(kills, sizeof kills, f, "kills");
        cell_int(rest, sizeof rest, f, "restarts");
        cell_ms(mean, sizeof mean, f, "mean_ms");
        cell_ms(p99, sizeof p99, f, "p99_ms");
        cell_int(hosts, sizeof hosts, f, "hosts");
        json_object *b = ccp_json_get(f, "hosts_rss_bytes");
        if (b)
            snprintf(rss, sizeof rss, "%.1f", (double)json_object_get_int64(b) / 1048576.0);
        else
            snprintf(rss, sizeof rss, "-");
        const char *br = ccp_json_get_str(p, "breaker"), *ver = ccp_json_get_str(p, "version");
        if (!ver || !*ver) ver = "-";
        printf("%-20s %-8s %-9s %-24s %-8s %-9s %7s %6s %8s %5s %8s %8s %8s %5s %8s  %s\n",
               ccp_json_get_str(p, "name"), ver, ccp_json_get_str(p, "isolation"), lim,
               ccp_json_get_str(p, "on_error"), br ? br : "-", calls, errs, tmo, kills, rest, mean,
               p99, hosts, rss, ccp_json_get_str(p, "path"));
    }
    printf("LIMITS: timeout/memory/cpu_seconds/instructions (0: no count)\n");
}

int ccp_cmd_plugins(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"url", required_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *url = NULL;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 'u':
            url = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    json_object *r = NULL;
    bool running = false;
    if (url) {
        r = fetch(url);
        if (!r) return 1;
        running = true;
    } else {
        ccp_state st;
        ccp_state_info info;
        if (ccp_state_init(&st, config_path, true) == 0 && ccp_state_running(&st, &info)) {
            r = fetch(info.admin_url[0] ? info.admin_url : info.url);
            if (!r) return 1;
            running = true;
        } else {
            ccp_config *cfg = ccp_cli_load_config(config_path);
            if (!cfg) return 1;
            r = ccp_plugin_report(cfg->plugins, false);
            ccp_config_unref(cfg);
        }
    }
    if (json) {
        json_object_object_add(r, "running", json_object_new_boolean(running));
        json_object_object_add(r, "source", json_object_new_string(running ? "proxy" : "config"));
        ccp_buf out = CCP_BUF_INIT;
        ccp_json_write(&out, r);
        printf("%s\n", out.data);
        ccp_buf_free(&out);
    } else {
        if (!running) printf("no proxy runs for this config: the plugins it names, no figures\n");
        print_table(r);
    }
    json_object_put(r);
    return 0;
}
