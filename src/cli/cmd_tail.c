/* cmd_tail.c — `ccproxy tail`: one line per request of a running proxy, as
 * it happens, from its admin listener's event stream (GET /admin/events,
 * src/debug/events.h). */
#include "cli/cli.h"

#include "config/keys.h"
#include "core/buf.h"
#include "core/json.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy tail [--url URL] [--provider P] [--status 4xx|5xx|NNN] [--json]\n"
          "                    [--config FILE] [--count N]\n"
          "\n"
          "Prints one line per request a running ccproxy finishes, as it happens:\n"
          "time, request id, status, stage, provider/model, tokens, time to first\n"
          "token and duration. Reads the admin listener's event stream.\n"
          "\n"
          "      --url URL        the admin listener (default: server.admin_listen of\n"
          "                       the config, else server.host:server.port)\n"
          "      --provider P     only requests served (or failed last) by P\n"
          "      --status S       only these statuses: 4xx, 5xx, or one code\n"
          "      --json           print each event as one JSON object\n"
          "      --count N        stop after N lines\n"
          "  -c, --config FILE    the config to find the address in\n"
          "\n"
          "exit: 0 after --count lines or when the proxy ends the feed; 1 the proxy\n"
          "cannot be reached; 2 usage error\n",
          out);
}

typedef struct {
    const char *provider, *status;
    bool json;
    long count, printed;
    ccp_buf line; /* the SSE line being read */
    bool in_request;
    bool subscribed; /* the feed's first bytes came */
    const char *url;
} tail_state;

static bool status_matches(const char *want, int status)
{
    if (!want) return true;
    if (strlen(want) == 3 && want[1] == 'x' && want[2] == 'x') return status / 100 == want[0] - '0';
    return status == atoi(want);
}

static const char *s_or(json_object *o, const char *k, const char *dflt)
{
    const char *v = ccp_json_get_str(o, k);
    return v ? v : dflt;
}

static void print_event(tail_state *t, const char *data, size_t len)
{
    ccp_error err;
    json_object *o = ccp_json_parse(data, len, &err);
    if (!o) return;
    int status = (int)ccp_json_get_int(o, "status", 0);
    const char *prov = ccp_json_get_str(o, "provider");
    if ((t->provider && (!prov || strcmp(prov, t->provider))) ||
        !status_matches(t->status, status)) {
        json_object_put(o);
        return;
    }
    if (t->json) {
        printf("%.*s\n", (int)len, data);
    } else {
        time_t secs = (time_t)(ccp_json_get_int(o, "time", 0) / 1000);
        struct tm tm;
        localtime_r(&secs, &tm);
        char when[16];
        strftime(when, sizeof when, "%H:%M:%S", &tm);
        char ttft[32] = "-";
        json_object *tt = ccp_json_get(o, "ttft_ms");
        if (tt && !json_object_is_type(tt, json_type_null))
            snprintf(ttft, sizeof ttft, "%.0fms", json_object_get_double(tt));
        json_object *d = ccp_json_get(o, "duration_ms");
        printf("%s %s %d %-11s %s/%s in=%lld out=%lld ttft=%s %.0fms%s%s\n", when,
               s_or(o, "id", "?"), status, s_or(o, "stage", "-"), prov ? prov : "-",
               s_or(o, "upstream_model", s_or(o, "model", "-")),
               (long long)ccp_json_get_int(o, "input_tokens", -1),
               (long long)ccp_json_get_int(o, "output_tokens", -1), ttft,
               d ? json_object_get_double(d) : 0.0, ccp_json_get_str(o, "error_type") ? " " : "",
               s_or(o, "error_type", ""));
    }
    fflush(stdout);
    t->printed++;
    json_object_put(o);
}

/* The stream in pieces: lines, "event: request" then its "data: ". */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    tail_state *t = ud;
    size_t len = size * n;
    if (!t->subscribed) {
        /* From here on no request is missed (scripts wait for this line). */
        fprintf(stderr, "ccproxy tail: following %s\n", t->url);
        t->subscribed = true;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\n') {
            ccp_buf_appendc(&t->line, p[i]);
            continue;
        }
        const char *l = t->line.data ? t->line.data : "";
        if (!strcmp(l, "event: request"))
            t->in_request = true;
        else if (!strncmp(l, "event: ", 7))
            t->in_request = false;
        else if (!strncmp(l, "data: ", 6) && t->in_request)
            print_event(t, l + 6, t->line.len - 6);
        else if (!strncmp(l, "data: ", 6) && strstr(l, "\"dropped\""))
            fprintf(stderr, "ccproxy tail: events were dropped (this reader was too slow): %s\n",
                    l + 6);
        ccp_buf_reset(&t->line);
        if (t->count && t->printed >= t->count) return 0; /* stops the transfer */
    }
    return len;
}

int ccp_cmd_tail(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},    {"provider", required_argument, NULL, 'p'},
        {"status", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'n'},  {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    tail_state t = {0};
    const char *url = NULL, *config_path = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u':
            url = optarg;
            break;
        case 'p':
            t.provider = optarg;
            break;
        case 's':
            t.status = optarg;
            if (!(strlen(optarg) == 3 &&
                  ((optarg[1] == 'x' && optarg[2] == 'x' && optarg[0] >= '1' && optarg[0] <= '5') ||
                   (atoi(optarg) >= 100 && atoi(optarg) <= 599)))) {
                fprintf(stderr, "ccproxy tail: --status wants 4xx, 5xx or a code like 429\n");
                return 2;
            }
            break;
        case 'j':
            t.json = true;
            break;
        case 'n':
            t.count = atol(optarg);
            break;
        case 'c':
            config_path = optarg;
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
    ccp_buf u = CCP_BUF_INIT;
    ccp_buf auth = CCP_BUF_INIT; /* the admin key's header, when there is a key */
    if (url) {
        ccp_buf_printf(&u, "%s/admin/events", url);
        if (ccp_cli_admin_key(NULL))
            ccp_buf_printf(&auth, "authorization: Bearer %s", ccp_cli_admin_key(NULL));
    } else {
        ccp_config *cfg = ccp_cli_load_config(config_path);
        if (!cfg) return 1;
        if (ccp_cli_admin_key(cfg))
            ccp_buf_printf(&auth, "authorization: Bearer %s", ccp_cli_admin_key(cfg));
        char host[256];
        int port = 0;
        if (cfg->server.admin_listen &&
            ccp_parse_hostport(cfg->server.admin_listen, host, sizeof host, &port))
            ccp_buf_printf(&u, "http://%s:%d/admin/events", host, port);
        else
            ccp_buf_printf(&u, "http://%s:%d/admin/events", cfg->server.host, cfg->server.port);
        ccp_config_unref(cfg);
    }
    t.url = u.data;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *e = curl_easy_init();
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, u.data);
    struct curl_slist *hdrs = auth.data ? curl_slist_append(NULL, auth.data) : NULL;
    if (hdrs) curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(e);
    int exit_code = 0;
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.count && t.printed >= t.count)) {
        fprintf(stderr, "ccproxy tail: %s: %s\n", u.data,
                *errbuf ? errbuf : curl_easy_strerror(rc));
        exit_code = 1;
    }
    curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    if (auth.data) explicit_bzero(auth.data, auth.len); /* holds the admin key */
    ccp_buf_free(&auth);
    ccp_buf_free(&u);
    ccp_buf_free(&t.line);
    return exit_code;
}
