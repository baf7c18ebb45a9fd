/* cmd_replay.c — `ccproxy replay FILE`: a captured exchange (see
 * docs/debugging.md) played again. --offline decodes the captured answer
 * with the current code; --fixture writes it as a test fixture; without
 * either, the request goes to a live provider again and the new answer is
 * compared with the captured one. The work is src/debug/replay*.c. */
#include "cli/cli.h"

#include "core/buf.h"
#include "core/json.h"
#include "debug/replay.h"
#include "upstream/upstream.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy replay FILE [--offline | --fixture DIR [--name NAME]]\n"
          "                      [--to PROVIDER/MODEL] [--config FILE]\n"
          "\n"
          "Plays a captured exchange (debug.capture, serve --capture) again.\n"
          "\n"
          "      --offline        decode the captured provider answer with the current\n"
          "                       codecs and pipelines and print what the client gets\n"
          "                       (no provider, no key needed)\n"
          "      --fixture DIR    write the capture as a test fixture into DIR:\n"
          "                       NAME.sse (or .json) and NAME.expected.json\n"
          "      --name NAME      the fixture's name (default: the request id)\n"
          "      --to P/M         send to provider P, model M instead of the route's\n"
          "  -c, --config FILE    the config (default: as for serve)\n"
          "\n"
          "Without --offline or --fixture the captured request is sent again through\n"
          "the current config to a live provider; the new answer is printed, then\n"
          "its differences from the captured one (on stderr).\n"
          "\n"
          "exit: 0 done (live: the answer is the same as the captured one); 1 the\n"
          "live answer differs, or an error; 2 usage error\n",
          out);
}

static bool read_all(const char *path, ccp_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ccp_buf_append(out, chunk, n);
    fclose(f);
    return true;
}

int ccp_cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"offline", no_argument, NULL, 'o'},
        {"fixture", required_argument, NULL, 'F'},
        {"name", required_argument, NULL, 'n'},
        {"to", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool offline = false;
    const char *fixture = NULL, *name = NULL, *to = NULL, *config_path = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            offline = true;
            break;
        case 'F':
            fixture = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 't':
            to = optarg;
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
    if (optind != argc - 1 || (to && (offline || fixture))) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    ccp_buf text = CCP_BUF_INIT;
    if (!read_all(path, &text)) {
        fprintf(stderr, "ccproxy replay: cannot read %s\n", path);
        return 1;
    }
    ccp_replay r;
    ccp_error err = {0};
    int rc = ccp_replay_load(text.data ? text.data : "", text.len, &r, &err);
    ccp_buf_free(&text);
    if (rc) {
        fprintf(stderr, "ccproxy replay: %s: %s\n", path, err.msg);
        return 1;
    }
    /* The config gives the pipelines and the writer's settings; offline, a
     * capture replays without one too. */
    ccp_config *cfg = ccp_cli_load_config(config_path);
    if (!cfg && !(offline || fixture)) {
        ccp_replay_free(&r);
        return 1;
    }
    ccp_buf out = CCP_BUF_INIT, captured = CCP_BUF_INIT, info = CCP_BUF_INIT;
    int status = 0, cstatus = 0, exit_code = 1;
    bool have_captured = ccp_replay_client_body(&r, &captured, &cstatus, &err) == 0;
    if (offline || fixture) {
        rc = ccp_replay_offline(&r, cfg, &out, &status, &err);
    } else {
        ccp_upstream_global_init();
        rc = ccp_replay_live(&r, cfg, to, &out, &status, &info, &err);
        ccp_upstream_global_cleanup();
    }
    if (rc) {
        fprintf(stderr, "ccproxy replay: %s\n", err.msg);
        goto done;
    }
    if (fixture) {
        ccp_buf written = CCP_BUF_INIT;
        const char *id = ccp_json_get_str(r.recs[0], "id");
        rc = ccp_replay_fixture(&r, &out, fixture, name ? name : (id ? id : "capture"), &written,
                                &err);
        if (rc)
            fprintf(stderr, "ccproxy replay: %s\n", err.msg);
        else
            printf("%s", written.data ? written.data : "");
        ccp_buf_free(&written);
        exit_code = rc ? 1 : 0;
        goto done;
    }
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    fflush(stdout);
    if (info.len) fprintf(stderr, "replay: %s", info.data);
    if (!have_captured) {
        fprintf(stderr, "replay: HTTP %d; the capture holds no response to compare with\n", status);
        exit_code = offline ? 0 : 1;
        goto done;
    }
    ccp_buf diff = CCP_BUF_INIT;
    size_t n = ccp_replay_diff(captured.data ? captured.data : "", captured.len,
                               out.data ? out.data : "", out.len, &diff);
    if (!n && status == cstatus) {
        fprintf(stderr, "replay: HTTP %d, the same as the captured response\n", status);
        exit_code = 0;
    } else {
        fprintf(stderr, "replay: HTTP %d (captured: %d); %zu lines differ (- captured, + now):\n%s",
                status, cstatus, n, diff.data ? diff.data : "");
        /* Offline, the output is the result: a difference is information,
         * not a failure of the command. */
        exit_code = offline ? 0 : 1;
    }
    ccp_buf_free(&diff);
done:
    ccp_buf_free(&out);
    ccp_buf_free(&captured);
    ccp_buf_free(&info);
    ccp_replay_free(&r);
    if (cfg) ccp_config_unref(cfg);
    return exit_code;
}
