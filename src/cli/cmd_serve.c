/* cmd_serve.c — `ccproxy serve`: run the proxy in the foreground. */
#include "cli/cli.h"
#include "cli/state.h"

#include "config/keys.h"
#include "core/log.h"
#include "guard/secrets.h"
#include "debug/capture.h"
#include "debug/events.h"
#include "http/app.h"
#include "http/reload.h"
#include "obs/metrics.h"
#include "http/server.h"
#include "http/client_limit.h"
#include "http/tls_server.h"
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
          "SIGHUP (or `ccproxy reload`) reloads the config. While it runs, its pid and\n"
          "address are in $XDG_STATE_HOME/ccproxy/ for `ccproxy status`, `stop`, `code`.\n"
          "Point Claude Code at it: ANTHROPIC_BASE_URL=http://127.0.0.1:3456 claude\n"
          "\n"
          "  -c, --config FILE    the config file (default: $CCPROXY_CONFIG, ./ccproxy.yaml,\n"
          "                       ~/.config/ccproxy/config.yaml, else the embedded default\n"
          "                       built from the *_API_KEY variables in the environment)\n"
          "  -H, --host H         address to bind (overrides server.host; default 127.0.0.1)\n"
          "  -p, --port N         port (overrides server.port; default 3456; 0 = any free)\n"
          "  -w, --workers N      worker threads (overrides server.workers; 0 = one per core)\n"
          "  -l, --log-level L    overrides server.log_level\n"
          "  -f, --log-format F   text or json (overrides server.log_format)\n"
          "      --capture DIR    record every exchange to a file in DIR (sets\n"
          "                       debug.capture.dir; see docs/debugging.md)\n"
          "\n"
          "exit: 0 after a clean stop; 1 the config is invalid or the address cannot be\n"
          "bound; 2 usage error\n",
          out);
}

/* The state files of this process (cli/state.h). File-local because the
 * server's callbacks carry only the app; one serve runs per process. */
static ccp_state g_state = {.lock_fd = -1};
static char g_admin_host[256];
static int g_admin_port;

static void on_listening(void *app, const char *host, int port)
{
    ccp_app *a = app;
    ccp_state_publish(&g_state, host, port, g_admin_port ? g_admin_host : NULL, g_admin_port);
    ccp_config *cfg = ccp_app_config(a);
    /* Tests and scripts wait for this exact line. */
    fprintf(stderr, "ccproxy listening on %s://%s:%d (config: %s)\n", a->tls ? "https" : "http",
            host, port, cfg->source);
    const char *warn[8];
    size_t n = ccp_app_warnings(a, warn, 8);
    for (size_t i = 0; i < n; i++)
        ccp_log_warn("%s", warn[i]);
    if (!cfg->has_default)
        ccp_log_warn("no provider configured: set ANTHROPIC_API_KEY (or OPENROUTER_API_KEY, "
                     "DEEPSEEK_API_KEY, ...) or write ccproxy.yaml; see docs/configuration.md");
    ccp_config_unref(cfg);
}

static void on_admin_listening(void *app, const char *host, int port)
{
    ccp_app *a = app;
    snprintf(g_admin_host, sizeof g_admin_host, "%s", host);
    g_admin_port = port;
    /* Printed before the main line, which tests wait for. */
    ccp_config *cfg = ccp_app_config(a);
    fprintf(stderr, "ccproxy admin listening on %s://%s:%d\n",
            a->tls && cfg->server.tls.admin ? "https" : "http", host, port);
    ccp_config_unref(cfg);
}

/* A start given up after the app was initialized: says why, frees what
 * the start made (every free takes NULL) and returns serve's exit code. */
static int abandon_start(ccp_app *app, ccp_config *cfg, const char *why)
{
    fprintf(stderr, "ccproxy serve: %s\n", why);
    ccp_guard_free(app->guard);
    ccp_admit_free(app->admit);
    ccp_metrics_free(app->metrics);
    ccp_sessions_free(app->sessions);
    ccp_health_free(app->health);
    ccp_tls_server_free(app->tls);
    ccp_client_table_free(app->clients);
    ccp_app_fini(app);
    ccp_config_unref(cfg);
    ccp_state_release(&g_state);
    return 1;
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
        {"capture", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *capture_dir = NULL;
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
        case 'C':
            capture_dir = optarg;
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

    /* The file found is kept for reloads (NULL: the embedded default). */
    char *found = ccp_config_find_path(config_path);
    ccp_config *cfg = ccp_cli_load_config(found);
    if (!cfg) {
        free(found);
        return 1;
    }
    /* A serving process holds provider keys for hours: no core dump of it,
     * no memory read by another process of the user (docs/security.md). */
    ccp_error perr = {0};
    if (cfg->security.protect_memory && ccp_secrets_protect_process(&perr) != 0)
        ccp_log_warn("%s", perr.msg);
    ccp_secrets_warn_insecure(cfg);
    ccp_log_set_level(level ? lv : (ccp_log_level)cfg->server.log_level);
    ccp_log_set_format(format ? lf : (ccp_log_format)cfg->server.log_format);
    /* Word of this process for `ccproxy status`, `stop`, `code`...: when
     * another serve of the same config holds the files, this one runs
     * without (a second one on another port, say). */
    bool stated = ccp_state_init(&g_state, config_path, true) == 0 && ccp_state_claim(&g_state);
    if (!stated)
        ccp_log_debug("not writing the pid file: another ccproxy serves this config, or the "
                      "state directory is not writable");

    /* The config checked admin_listen's shape already. */
    char admin_host[256];
    int admin_port = 0;
    bool admin =
        cfg->server.admin_listen &&
        ccp_parse_hostport(cfg->server.admin_listen, admin_host, sizeof admin_host, &admin_port);
    ccp_app app = {
        .admit = ccp_admit_new(cfg),
        .health = ccp_health_new(),
        .metrics = cfg->server.metrics ? ccp_metrics_new(cfg) : NULL,
        .sessions = ccp_sessions_new((size_t)cfg->server.session_table),
        .admin_host = admin ? admin_host : NULL,
    };
    ccp_server_opts so = {
        .host = host ? host : cfg->server.host,
        .port = port >= 0 ? port : cfg->server.port,
        .workers = workers >= 0 ? workers : cfg->server.workers,
        .max_header_bytes = cfg->server.max_header_bytes,
        .max_headers = cfg->server.max_headers,
        .max_body_bytes = cfg->server.max_body_bytes,
        .header_timeout_ms = cfg->server.header_timeout_ms,
        .idle_timeout_ms = cfg->server.idle_timeout_ms,
        .body_timeout_ms = cfg->server.body_timeout_ms,
        .drain_timeout_ms = cfg->server.drain_timeout_ms,
        .write_timeout_ms = cfg->server.write_timeout_ms,
        .max_connections = cfg->server.max_connections,
        .max_connections_per_client = cfg->server.max_connections_per_client,
        .on_listening = on_listening,
        .admin_host = app.admin_host,
        .admin_port = admin_port,
        .on_admin_listening = on_admin_listening,
    };
    /* HTTPS (server.tls): the context is built here, so a bad certificate
     * stops the start with its reason; app.tls is what a reload renews. */
    if (cfg->server.tls.cert_file) {
        ccp_error terr = {0};
        app.tls = ccp_tls_server_new(&cfg->server.tls, &terr);
        if (!app.tls) {
            fprintf(stderr, "ccproxy serve: %s\n", terr.msg);
            ccp_admit_free(app.admit);
            ccp_metrics_free(app.metrics);
            ccp_sessions_free(app.sessions);
            ccp_health_free(app.health);
            ccp_config_unref(cfg);
            free(found);
            ccp_state_release(&g_state);
            return 1;
        }
        so.tls = app.tls;
        so.admin_tls = cfg->server.tls.admin ? app.tls : NULL;
    }
    if (cfg->server.max_connections_per_client || cfg->server.client_rate)
        so.clients = app.clients =
            ccp_client_table_new(cfg->server.max_connections_per_client, cfg->server.client_rate,
                                 cfg->server.client_rate_ms);
    /* The app gets a reference of its own, replaced by each reload; ours
     * keeps the startup snapshot alive to the end, because the server's
     * options (so.host, app.host) point into it. */
    ccp_app_init(&app, ccp_config_ref(cfg), found, level != NULL, format != NULL);
    free(found);
    ccp_app_server_hooks(&app, &so);
    /* teams: no open relay by accident; proxy keys loaded before the port opens. */
    ccp_error gerr = {0};
    if (ccp_teams_check_exposure(cfg, so.host, &gerr) != 0 ||
        (cfg->auth.mode == CCP_AUTH_MODE_KEYS && ccp_guard_new(cfg, &app.guard, &gerr) != 0)) {
        return abandon_start(&app, cfg, gerr.msg);
    }
    so.main_start = ccp_reload_main_start;
    so.main_stop = ccp_reload_main_stop;
    so.on_sighup = ccp_reload_on_sighup;
    if (app.metrics) ccp_metrics_set_extra(app.metrics, ccp_app_metrics_extra, &app);
    app.host = so.host;

    ccp_otlp_opts oo;
    ccp_error err = {0};
    if (ccp_otlp_resolve(&cfg->telemetry, &oo, &err) != 0) {
        return abandon_start(&app, cfg, err.msg);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    app.started_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    app.pstatus = ccp_pstatus_new(cfg, app.health);
    app.events = ccp_events_new(); /* /admin/events, /ui */
    ccp_capture_config capc = cfg->debug.capture;
    if (capture_dir) capc.dir = (char *)capture_dir;
    /* A capture directory that cannot be written stops the start (err says
     * why), through the common cleanup below. */
    bool capture_failed = capc.dir && !(app.capture = ccp_capture_new(&capc, &err));
    if (app.capture)
        ccp_log_info("capture: recording exchanges to %s (sample %g)", capc.dir, capc.sample);

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
    int rc = capture_failed ? CCP_EIO : ccp_server_run(&so, &err);
    /* The workers are gone: flush the spans they left, then stop. */
    ccp_otlp_free(app.otlp);
    ccp_capture_free(app.capture); /* writes what is queued */
    ccp_events_free(app.events);
    ccp_pstatus_free(app.pstatus);
    ccp_guard_free(app.guard); /* writes the usage and audit rows still queued */
    ccp_upstream_global_cleanup();
    ccp_admit_free(app.admit);
    ccp_metrics_free(app.metrics);
    ccp_sessions_free(app.sessions);
    ccp_health_free(app.health);
    ccp_tls_server_free(app.tls);
    ccp_client_table_free(app.clients);
    ccp_app_fini(&app);
    ccp_config_unref(cfg);
    ccp_state_release(&g_state);
    if (rc != 0) {
        fprintf(stderr, "ccproxy serve: %s\n", err.msg);
        return 1;
    }
    return 0;
}
