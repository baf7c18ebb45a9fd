/* cmd_serve.c — `ccproxy serve`: run the proxy in the foreground. */
#include "cli/cli.h"

#include "config/keys.h"
#include "core/log.h"
#include "http/app.h"
#include "obs/metrics.h"
#include "http/server.h"
#include "obs/pstatus.h"
#include "obs/otlp.h"
#include "teams/gate.h"
#include "teams/guard.h"
#include "upstream/upstream.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy serve [--config FILE] [--host H] [--port N] [--workers N]\n"
          "                     [--log-level error|warn|info|debug] [--log-format text|json]\n"
          "\n"
          "Runs the proxy in the foreground until SIGINT or SIGTERM, then drains.\n"
          "Point Claude Code at it: ANTHROPIC_BASE_URL=http://127.0.0.1:3456 claude\n"
          "\n"
          "  -c, --config FILE    the config file (default: $CCPROXY_CONFIG, ./ccproxy.yaml,\n"
          "                       ~/.config/ccproxy/config.yaml, else the embedded default\n"
          "                       built from the *_API_KEY variables in the environment)\n"
          "  -H, --host H         address to bind (overrides server.host; default 127.0.0.1)\n"
          "  -p, --port N         port (overrides server.port; default 3456; 0 = any free)\n"
          "  -w, --workers N      worker threads (overrides server.workers; 0 = one per core)\n"
          "  -l, --log-level L    overrides server.log_level\n"
          "  -f, --log-format F   text or json (overrides server.log_format)\n",
          out);
}

static void on_listening(void *app, const char *host, int port)
{
    ccp_app *a = app;
    /* Tests and scripts wait for this exact line. */
    fprintf(stderr, "ccproxy listening on http://%s:%d (config: %s)\n", host, port,
            a->config->source);
    const char *warn[8];
    size_t n = ccp_app_warnings(a, warn, 8);
    for (size_t i = 0; i < n; i++)
        ccp_log_warn("%s", warn[i]);
    if (!a->config->has_default)
        ccp_log_warn("no provider configured: set ANTHROPIC_API_KEY (or OPENROUTER_API_KEY, "
                     "DEEPSEEK_API_KEY, ...) or write ccproxy.yaml; see docs/configuration.md");
}

static void on_admin_listening(void *app, const char *host, int port)
{
    (void)app;
    /* Printed before the main line, which tests wait for. */
    fprintf(stderr, "ccproxy admin listening on http://%s:%d\n", host, port);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int ccp_cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"workers", required_argument, NULL, 'w'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *host = NULL, *level = NULL, *format = NULL;
    int port = -1, workers = -1;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:H:p:w:l:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 'H':
            host = optarg;
            break;
        case 'p':
            if (parse_int(optarg, 0, 65535, &port) != 0) {
                fprintf(stderr, "ccproxy serve: --port must be 0..65535, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'w':
            if (parse_int(optarg, 0, 1024, &workers) != 0) {
                fprintf(stderr, "ccproxy serve: --workers must be 0..1024, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'l':
            level = optarg;
            break;
        case 'f':
            format = optarg;
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
        fprintf(stderr, "ccproxy serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    ccp_log_level lv;
    if (level && ccp_log_parse_level(level, &lv) != 0) {
        fprintf(stderr, "ccproxy serve: --log-level must be error, warn, info or debug\n");
        return 2;
    }

    ccp_log_format lf;
    if (format && ccp_log_parse_format(format, &lf) != 0) {
        fprintf(stderr, "ccproxy serve: --log-format must be text or json\n");
        return 2;
    }

    ccp_config *cfg = ccp_cli_load_config(config_path);
    if (!cfg) return 1;
    ccp_log_set_level(level ? lv : (ccp_log_level)cfg->server.log_level);
    ccp_log_set_format(format ? lf : (ccp_log_format)cfg->server.log_format);

    /* The config checked admin_listen's shape already. */
    char admin_host[256];
    int admin_port = 0;
    bool admin =
        cfg->server.admin_listen &&
        ccp_parse_hostport(cfg->server.admin_listen, admin_host, sizeof admin_host, &admin_port);
    ccp_app app = {
        .config = cfg,
        .admit = ccp_admit_new(cfg),
        .health = ccp_health_new(),
        .metrics = cfg->server.metrics ? ccp_metrics_new(cfg) : NULL,
        .admin_host = admin ? admin_host : NULL,
    };
    ccp_server_opts so = {
        .host = host ? host : cfg->server.host,
        .port = port >= 0 ? port : cfg->server.port,
        .workers = workers >= 0 ? workers : cfg->server.workers,
        .max_header_bytes = cfg->server.max_header_bytes,
        .max_body_bytes = cfg->server.max_body_bytes,
        .header_timeout_ms = cfg->server.header_timeout_ms,
        .idle_timeout_ms = cfg->server.idle_timeout_ms,
        .body_timeout_ms = cfg->server.body_timeout_ms,
        .drain_timeout_ms = cfg->server.drain_timeout_ms,
        .write_timeout_ms = cfg->server.write_timeout_ms,
        .max_connections = cfg->server.max_connections,
        .on_listening = on_listening,
        .admin_host = app.admin_host,
        .admin_port = admin_port,
        .on_admin_listening = on_admin_listening,
    };
    ccp_app_server_hooks(&app, &so);
    /* teams: no open relay by accident; proxy keys loaded before the port opens. */
    ccp_error gerr = {0};
    if (ccp_teams_check_exposure(cfg, so.host, &gerr) != 0 ||
        (cfg->auth.mode == CCP_AUTH_MODE_KEYS && ccp_guard_new(cfg, &app.guard, &gerr) != 0)) {
        fprintf(stderr, "ccproxy serve: %s\n", gerr.msg);
        ccp_admit_free(app.admit);
        ccp_metrics_free(app.metrics);
        ccp_health_free(app.health);
        ccp_config_unref(cfg);
        return 1;
    }
    if (app.metrics) ccp_metrics_set_extra(app.metrics, ccp_app_metrics_extra, &app);
    app.host = so.host;

    ccp_otlp_opts oo;
    ccp_error err = {0};
    if (ccp_otlp_resolve(&cfg->telemetry, &oo, &err) != 0) {
        fprintf(stderr, "ccproxy serve: %s\n", err.msg);
        ccp_guard_free(app.guard);
        ccp_admit_free(app.admit);
        ccp_metrics_free(app.metrics);
        ccp_health_free(app.health);
        ccp_config_unref(cfg);
        return 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    app.started_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    app.pstatus = ccp_pstatus_new(cfg, app.health);

    ccp_upstream_global_init();
    if (oo.url) {
        /* Without user info or query: a collector token may live there. */
        ccp_buf u = CCP_BUF_INIT;
        ccp_log_url(&u, oo.url);
        ccp_log_info("tracing: exporting spans over OTLP/HTTP to %s (sample ratio %g)", u.data,
                     oo.sample_ratio);
        ccp_buf_free(&u);
    }
    /* After libcurl's global init: the exporter thread uses it. */
    app.otlp = ccp_otlp_new(&oo);
    ccp_otlp_opts_free(&oo);
    int rc = ccp_server_run(&so, &err);
    /* The workers are gone: flush the spans they left, then stop. */
    ccp_otlp_free(app.otlp);
    ccp_pstatus_free(app.pstatus);
    ccp_guard_free(app.guard); /* writes the usage and audit rows still queued */
    ccp_upstream_global_cleanup();
    ccp_admit_free(app.admit);
    ccp_metrics_free(app.metrics);
    ccp_health_free(app.health);
    ccp_config_unref(cfg);
    if (rc != 0) {
        fprintf(stderr, "ccproxy serve: %s\n", err.msg);
        return 1;
    }
    return 0;
}
