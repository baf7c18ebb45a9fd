/* cmd_service.c — ccproxy as a background service: `start`, `stop`,
 * `restart`, `status` and `reload`.
 *
 * `start` re-executes this binary as `serve` in a new session with its
 * output in the log file, then waits until the proxy has published its
 * address (cli/state.h) and answers GET /health. The others find the
 * running proxy through the pid file of the same config. Exit codes follow
 * the LSB init-script convention where it has one: status 0 running, 3 not
 * running, 1 running but not answering; 2 is a usage error everywhere. */
#include "cli/cli.h"
#include "cli/http_client.h"
#include "cli/service.h"
#include "cli/state.h"

#include "core/buf.h"
#include "core/json.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether pid is alive: it exists and is not a zombie nobody reaped. */
static bool alive(long pid)
{
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return false;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return !(p && p[1] == ' ' && p[2] == 'Z');
}

bool ccp_service_healthy(const char *url)
{
    char u[400];
    snprintf(u, sizeof u, "%s/health", url);
    ccp_buf b = CCP_BUF_INIT;
    long status = 0;
    int rc = ccp_cli_http("GET", u, NULL, 2000, &b, &status);
    ccp_buf_free(&b);
    return rc == 0 && status == 200;
}

/* Prints the log from offset on (what the daemon said before it died). */
static void print_log_tail(const char *path, long offset)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    fseek(f, offset, SEEK_SET);
    char line[1024];
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

int ccp_service_start(const ccp_service_opts *o, const ccp_state *st, ccp_state_info *info,
                      bool *was_running)
{
    *was_running = false;
    if (ccp_state_running(st, info)) {
        *was_running = true;
        return 0;
    }
    int logfd = open(st->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
        fprintf(stderr, "ccproxy: cannot open %s: %s\n", st->log_path, strerror(errno));
        return 1;
    }
    struct stat sb;
    long log_start = fstat(logfd, &sb) == 0 ? (long)sb.st_size : 0;
    char self[PATH_MAX];
    ssize_t sn = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sn <= 0) {
        fprintf(stderr, "ccproxy: cannot find its own executable: %s\n", strerror(errno));
        close(logfd);
        return 1;
    }
    self[sn] = '\0';
    char port[16], workers[16];
    const char *argv[16];
    int n = 0;
    argv[n++] = "ccproxy";
    argv[n++] = "serve";
    if (st->config[0]) {
        argv[n++] = "--config";
        argv[n++] = st->config;
    }
    if (o->host) {
        argv[n++] = "--host";
        argv[n++] = o->host;
    }
    if (o->port >= 0) {
        snprintf(port, sizeof port, "%d", o->port);
        argv[n++] = "--port";
        argv[n++] = port;
    }
    if (o->workers >= 0) {
        snprintf(workers, sizeof workers, "%d", o->workers);
        argv[n++] = "--workers";
        argv[n++] = workers;
    }
    if (o->log_level) {
        argv[n++] = "--log-level";
        argv[n++] = o->log_level;
    }
    argv[n] = NULL;

    /* Fork twice: the daemon is nobody's child here (so `ccproxy code`,
     * which runs on, does not keep a zombie when it stops), in a session
     * of its own (a closed terminal does not hang it up). The middle
     * process tells the daemon's pid through a pipe. */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        close(logfd);
        return 1;
    }
    fflush(NULL);
    pid_t mid = fork();
    if (mid < 0) {
        fprintf(stderr, "ccproxy: fork: %s\n", strerror(errno));
        close(logfd);
        close(pfd[0]);
        close(pfd[1]);
        return 1;
    }
    if (mid == 0) {
        setsid();
        pid_t d = fork();
        if (d == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(logfd, 1);
            dup2(logfd, 2);
            if (chdir("/") != 0) _exit(127);
            execv(self, (char *const *)argv);
            _exit(127);
        }
        long dp = d;
        ssize_t w = write(pfd[1], &dp, sizeof dp);
        _exit(w == sizeof dp ? 0 : 1);
    }
    close(pfd[1]);
    close(logfd);
    long dpid = -1;
    ssize_t r = read(pfd[0], &dpid, sizeof dpid);
    close(pfd[0]);
    waitpid(mid, NULL, 0);
    if (r != sizeof dpid || dpid <= 0) {
        fprintf(stderr, "ccproxy: could not start the daemon\n");
        return 1;
    }
    long waited = 0, limit = (long)o->timeout_s * 1000;
    for (;;) {
        if (ccp_state_running(st, info) && info->pid == dpid && ccp_service_healthy(info->url))
            return 0;
        if (!alive(dpid)) {
            fprintf(stderr, "ccproxy: the proxy exited before it was ready; its log (%s):\n",
                    st->log_path);
            print_log_tail(st->log_path, log_start);
            return 1;
        }
        if (waited >= limit) {
            fprintf(stderr,
                    "ccproxy: the proxy (pid %ld) was not ready after %d s; see %s (it keeps "
                    "running: `ccproxy stop` ends it)\n",
                    dpid, o->timeout_s, st->log_path);
            return 1;
        }
        sleep_ms(50);
        waited += 50;
    }
}

/* Sends SIGTERM and waits for the pid file's lock to go. 0 stopped (or was
 * not running), 1 still running after the timeout. */
static int stop(const ccp_state *st, int timeout_s, bool *was_running, long *pid)
{
    ccp_state_info info;
    *was_running = false;
    if (!ccp_state_running(st, NULL)) return 0;
    ccp_state_running(st, &info);
    *was_running = true;
    *pid = info.pid;
    if (kill((pid_t)info.pid, SIGTERM) != 0 && errno != ESRCH) {
        fprintf(stderr, "ccproxy: cannot signal pid %ld: %s\n", info.pid, strerror(errno));
        return 1;
    }
    for (long waited = 0; waited <= (long)timeout_s * 1000; waited += 50) {
        if (!ccp_state_running(st, NULL)) return 0;
        sleep_ms(50);
    }
    fprintf(stderr,
            "ccproxy: pid %ld still runs %d s after SIGTERM (it drains open streams for "
            "server.drain_timeout_ms); `kill -KILL %ld` ends it at once\n",
            info.pid, timeout_s, info.pid);
    return 1;
}

/* ---- the command line --------------------------------------------------- */

typedef enum { START, STOP, RESTART, STATUS, RELOAD } which_cmd;

static const char *names[] = {"start", "stop", "restart", "status", "reload"};

static void usage(which_cmd c, FILE *out)
{
    switch (c) {
    case START:
    case RESTART:
        fprintf(out,
                "usage: ccproxy %s [--config FILE] [--host H] [--port N] [--workers N]\n"
                "                     [--log-level L] [--timeout SECONDS] [--json]\n"
                "\n"
                "%s\n"
                "Waits until it answers GET /health, then prints its address. The pid file\n"
                "and the log are in $XDG_STATE_HOME/ccproxy/ (default ~/.local/state/ccproxy/),\n"
                "one set per config file.\n"
                "\n"
                "  -c, --config FILE    the config (default: the lookup of `ccproxy serve`)\n"
                "  -H, --host, -p, --port, -w, --workers, -l, --log-level: as for serve\n"
                "  -t, --timeout S      how long to wait for it to be ready (default 10)\n"
                "      --json           print {\"pid\",\"url\",\"config\",\"log\"} instead\n"
                "\n"
                "exit: 0 running (started, or already running), 1 it failed to start (its\n"
                "log is printed), 2 usage error\n",
                names[c],
                c == START ? "Starts the proxy in the background, unless one already serves this "
                             "config."
                           : "Stops the proxy serving this config (if any) and starts it again.");
        break;
    case STOP:
        fputs("usage: ccproxy stop [--config FILE] [--timeout SECONDS]\n"
              "\n"
              "Sends SIGTERM to the proxy serving this config and waits until it has\n"
              "drained its requests and exited.\n"
              "\n"
              "  -c, --config FILE    the config (default: the lookup of `ccproxy serve`)\n"
              "  -t, --timeout S      how long to wait (default 30)\n"
              "\n"
              "exit: 0 stopped, or was not running; 1 still running after the timeout\n",
              out);
        break;
    case STATUS:
        fputs("usage: ccproxy status [--config FILE] [--json]\n"
              "\n"
              "Shows the proxy serving this config: pid, address, uptime, config file,\n"
              "requests in flight, and each provider's health and request counts (from\n"
              "its GET /status).\n"
              "\n"
              "  -c, --config FILE    the config (default: the lookup of `ccproxy serve`)\n"
              "      --json           print GET /status's JSON with the state files added\n"
              "\n"
              "exit: 0 running, 3 not running, 1 running but not answering\n",
              out);
        break;
    case RELOAD:
        fputs("usage: ccproxy reload [--config FILE] [--json]\n"
              "\n"
              "Makes the proxy serving this config read it again (POST /admin/reload).\n"
              "A config with errors is refused and the one in force keeps serving;\n"
              "settings that need a restart are listed.\n"
              "\n"
              "  -c, --config FILE    the config (default: the lookup of `ccproxy serve`)\n"
              "      --json           print the proxy's answer as it is\n"
              "\n"
              "exit: 0 reloaded, 1 refused (the problems are printed), 3 not running\n",
              out);
        break;
    }
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static bool use_color(void)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(1) && !(nc && nc[0]) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
}

static void print_json_state(const ccp_state *st, const ccp_state_info *info)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_printf(&b, "{\"pid\":%ld,\"url\":", info->pid);
    ccp_buf_append_json_str(&b, info->url, strlen(info->url));
    ccp_buf_appends(&b, ",\"config\":");
    const char *cfg = st->config[0] ? st->config : "<embedded default>";
    ccp_buf_append_json_str(&b, cfg, strlen(cfg));
    ccp_buf_appends(&b, ",\"log\":");
    ccp_buf_append_json_str(&b, st->log_path, strlen(st->log_path));
    ccp_buf_appends(&b, "}\n");
    fputs(b.data, stdout);
    ccp_buf_free(&b);
}

static void human_duration(char *out, size_t cap, double s)
{
    long t = (long)s;
    if (t < 60)
        snprintf(out, cap, "%lds", t);
    else if (t < 3600)
        snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(out, cap, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    else
        snprintf(out, cap, "%ldd%02ldh", t / 86400, (t % 86400) / 3600);
}

static int status(const ccp_state *st, bool json)
{
    ccp_state_info info;
    const char *cfgname = st->config[0] ? st->config : "<embedded default>";
    if (!ccp_state_running(st, &info)) {
        if (json) {
            ccp_buf b = CCP_BUF_INIT;
            ccp_buf_appends(&b, "{\"running\":false,\"config\":");
            ccp_buf_append_json_str(&b, cfgname, strlen(cfgname));
            printf("%s}\n", b.data);
            ccp_buf_free(&b);
        } else
            printf("ccproxy is not running (config: %s)\n", cfgname);
        return 3;
    }
    char url[400];
    snprintf(url, sizeof url, "%s/status", info.url);
    ccp_buf b = CCP_BUF_INIT;
    long code = 0;
    ccp_error err = {0};
    json_object *o = NULL;
    if (ccp_cli_http("GET", url, NULL, 5000, &b, &code) == 0 && code == 200)
        o = ccp_json_parse(b.data, b.len, &err);
    if (!o) {
        fprintf(stderr, "ccproxy: pid %ld holds the pid file but %s does not answer\n", info.pid,
                url);
        ccp_buf_free(&b);
        return 1;
    }
    if (json) {
        /* GET /status as it is, with where its files are. */
        json_object_object_add(o, "running", json_object_new_boolean(1));
        json_object_object_add(o, "url", json_object_new_string(info.url));
        json_object_object_add(o, "pid_file", json_object_new_string(st->pid_path));
        json_object_object_add(o, "log_file", json_object_new_string(st->log_path));
        ccp_buf out = CCP_BUF_INIT;
        ccp_json_write(&out, o);
        printf("%s\n", out.data);
        ccp_buf_free(&out);
    } else {
        bool color = use_color();
        const char *green = color ? "\033[32m" : "", *red = color ? "\033[31m" : "",
                   *yellow = color ? "\033[33m" : "", *off = color ? "\033[0m" : "";
        json_object *c = ccp_json_get_obj(o, "config");
        char up[32];
        json_object *u = ccp_json_get(o, "uptime_seconds");
        human_duration(up, sizeof up, u ? json_object_get_double(u) : 0);
        printf("ccproxy %s%s%s: %s (pid %ld, up %s, version %s)\n", green, "running", off, info.url,
               info.pid, up, ccp_json_get_str(o, "version"));
        if (info.admin_url[0]) printf("  admin:     %s\n", info.admin_url);
        long long reloads = c ? ccp_json_get_int(c, "reloads", 0) : 0;
        printf("  config:    %s",
               c && ccp_json_get_str(c, "source") ? ccp_json_get_str(c, "source") : cfgname);
        if (reloads) printf(" (reloaded %lld time%s)", reloads, reloads == 1 ? "" : "s");
        printf("\n");
        printf("  log:       %s\n", st->log_path);
        printf("  requests:  %lld in flight; %s\n",
               (long long)ccp_json_get_int(o, "in_flight_requests", 0),
               ccp_json_get_bool(o, "ready", false) ? "ready" : "NOT ready");
        json_object *ws = ccp_json_get_arr(o, "warnings");
        for (size_t i = 0; i < ccp_json_arr_len(ws); i++)
            printf("  %swarning%s:   %s\n", yellow, off,
                   json_object_get_string(ccp_json_arr_at(ws, i)));
        json_object *ps = ccp_json_get_obj(o, "providers");
        if (ps) {
            printf("  providers:\n");
            json_object_object_foreach(ps, name, p)
            {
                const char *br = ccp_json_get_str(p, "breaker");
                bool ok = br && !strcmp(br, "closed");
                json_object *lr = ccp_json_get(p, "last_result");
                json_object *le = ccp_json_get(p, "last_error");
                bool last_ok = !lr || !json_object_is_type(lr, json_type_object) ||
                               ccp_json_get_bool(lr, "ok", true);
                printf("    %-16s %s%-9s%s %6lld ok %6lld failed  breaker %s", name,
                       ok && last_ok ? green : red, ok && last_ok ? "healthy" : "failing", off,
                       (long long)ccp_json_get_int(p, "successes", 0),
                       (long long)ccp_json_get_int(p, "failures", 0), br ? br : "?");
                if (le && json_object_is_type(le, json_type_object) &&
                    ccp_json_get_str(le, "message"))
                    printf("  last error: %s", ccp_json_get_str(le, "message"));
                else if (le && json_object_is_type(le, json_type_string))
                    printf("  last error: %s", json_object_get_string(le));
                printf("\n");
            }
        }
    }
    json_object_put(o);
    ccp_buf_free(&b);
    return 0;
}

static int reload(const ccp_state *st, bool json)
{
    ccp_state_info info;
    if (!ccp_state_running(st, &info)) {
        fprintf(stderr, "ccproxy: not running (config: %s)\n",
                st->config[0] ? st->config : "<embedded default>");
        return 3;
    }
    char url[400];
    snprintf(url, sizeof url, "%s/admin/reload", info.admin_url[0] ? info.admin_url : info.url);
    ccp_buf b = CCP_BUF_INIT;
    long code = 0;
    /* The admin key, when the proxy's config (the file it was started
     * with) asks for one. */
    ccp_config *cfg = st->config[0] ? ccp_cli_load_config(st->config) : NULL;
    int hrc = ccp_cli_http_admin("POST", url, "{}", 30000, ccp_cli_admin_key(cfg), &b, &code);
    if (cfg) ccp_config_unref(cfg);
    if (hrc == 0 && code == 401) {
        fprintf(stderr,
                "ccproxy: %s refused the admin key (set auth.admin_key in %s or "
                "CCPROXY_ADMIN_KEY)\n",
                url, st->config[0] ? st->config : "the config");
        ccp_buf_free(&b);
        return 1;
    }
    if (hrc != 0 || (code != 200 && code != 422)) {
        /* No answer (an older proxy, a busy one): the signal does the same,
         * its outcome is in the log. */
        ccp_buf_free(&b);
        if (kill((pid_t)info.pid, SIGHUP) != 0) {
            fprintf(stderr, "ccproxy: cannot signal pid %ld: %s\n", info.pid, strerror(errno));
            return 1;
        }
        printf("sent SIGHUP to pid %ld; the outcome is in its log (%s)\n", info.pid, st->log_path);
        return 0;
    }
    if (json) {
        printf("%s\n", b.data);
        ccp_buf_free(&b);
        return code == 200 ? 0 : 1;
    }
    ccp_error err = {0};
    json_object *o = ccp_json_parse(b.data, b.len, &err);
    ccp_buf_free(&b);
    if (!o) return 1;
    int rc = 0;
    if (code == 200) {
        json_object *c = ccp_json_get_obj(o, "config");
        printf("reloaded %s (%s)%s\n", c ? ccp_json_get_str(c, "source") : "",
               c ? ccp_json_get_str(c, "hash") : "",
               ccp_json_get_bool(o, "unchanged", false) ? ", unchanged" : "");
        const char *nr = ccp_json_get_str(o, "needs_restart");
        if (nr) printf("needs restart to apply: %s\n", nr);
    } else {
        json_object *errs = ccp_json_get_arr(o, "errors");
        for (size_t i = 0; i < ccp_json_arr_len(errs); i++) {
            json_object *e = ccp_json_arr_at(errs, i);
            fprintf(stderr, "%s:%lld:%lld: error: %s\n", ccp_json_get_str(e, "file"),
                    (long long)ccp_json_get_int(e, "line", 0),
                    (long long)ccp_json_get_int(e, "col", 0), ccp_json_get_str(e, "message"));
        }
        json_object *eo = ccp_json_get_obj(o, "error");
        fprintf(stderr, "ccproxy: %s\n", eo ? ccp_json_get_str(eo, "message") : "reload refused");
        rc = 1;
    }
    json_object_put(o);
    return rc;
}

static int run(which_cmd c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"workers", required_argument, NULL, 'w'},
        {"log-level", required_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ccp_service_opts o = {.port = -1, .workers = -1, .timeout_s = c == STOP ? 30 : 10};
    bool json = false;
    int stop_timeout = 30;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:H:p:w:l:t:h", opts, NULL)) != -1) {
        bool serve_opt = ch == 'H' || ch == 'p' || ch == 'w' || ch == 'l';
        if (serve_opt && c != START && c != RESTART) ch = '?';
        if (ch == 'j' && c == STOP) ch = '?';
        if (ch == 't' && (c == STATUS || c == RELOAD)) ch = '?';
        switch (ch) {
        case 'c':
            o.config = optarg;
            break;
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            if (parse_int(optarg, 0, 65535, &o.port) != 0) {
                fprintf(stderr, "ccproxy %s: --port must be 0..65535, not '%s'\n", names[c],
                        optarg);
                return 2;
            }
            break;
        case 'w':
            if (parse_int(optarg, 0, 1024, &o.workers) != 0) {
                fprintf(stderr, "ccproxy %s: --workers must be 0..1024, not '%s'\n", names[c],
                        optarg);
                return 2;
            }
            break;
        case 'l':
            o.log_level = optarg;
            break;
        case 't':
            if (parse_int(optarg, 1, 3600, &o.timeout_s) != 0) {
                fprintf(stderr, "ccproxy %s: --timeout must be 1..3600 seconds, not '%s'\n",
                        names[c], optarg);
                return 2;
            }
            stop_timeout = o.timeout_s;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(c, stdout);
            return 0;
        default:
            usage(c, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ccproxy %s: unexpected argument '%s'\n", names[c], argv[optind]);
        return 2;
    }
    ccp_state st;
    if (ccp_state_init(&st, o.config, false) != 0) return 1;
    if (c == STATUS) return status(&st, json);
    if (c == RELOAD) return reload(&st, json);
    bool was = false;
    long pid = 0;
    if (c == STOP || c == RESTART) {
        int rc = stop(&st, c == STOP ? o.timeout_s : stop_timeout, &was, &pid);
        if (rc != 0) return rc;
        if (c == STOP) {
            if (was)
                printf("ccproxy stopped (pid %ld)\n", pid);
            else
                printf("ccproxy was not running (config: %s)\n",
                       st.config[0] ? st.config : "<embedded default>");
            return 0;
        }
    }
    ccp_state_info info;
    int rc = ccp_service_start(&o, &st, &info, &was);
    if (rc != 0) return rc;
    if (json)
        print_json_state(&st, &info);
    else
        printf("ccproxy %s: %s (pid %ld, config %s, log %s)\n", was ? "already running" : "started",
               info.url, info.pid, st.config[0] ? st.config : "<embedded default>", st.log_path);
    return 0;
}

int ccp_cmd_start(int argc, char **argv)
{
    return run(START, argc, argv);
}
int ccp_cmd_stop(int argc, char **argv)
{
    return run(STOP, argc, argv);
}
int ccp_cmd_restart(int argc, char **argv)
{
    return run(RESTART, argc, argv);
}
int ccp_cmd_status(int argc, char **argv)
{
    return run(STATUS, argc, argv);
}
int ccp_cmd_reload(int argc, char **argv)
{
    return run(RELOAD, argc, argv);
}
