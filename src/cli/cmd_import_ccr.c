/* cmd_import_ccr.c — `ccproxy import-ccr [PATH]`: converts a
 * claude-code-router config.json (config/import_ccr.c), prints or writes
 * the YAML, prints what had no equivalent, and checks the result with the
 * config loader. */
#include "cli/cli.h"

#include "config/import_ccr.h"
#include "core/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy import-ccr [PATH] [--output FILE] [--force]\n"
          "\n"
          "Converts a claude-code-router config.json (default:\n"
          "~/.claude-code-router/config.json) into a ccproxy config: Providers become\n"
          "providers (api_base_url gives base_url and format; \"$VAR\" keys become ${VAR}, and\n"
          "a key written in the file becomes a variable to export), transformer lists become\n"
          "pipelines of the closest built-ins, Router gives the stages, HOST/PORT the\n"
          "listener, API_TIMEOUT_MS the upstream timeout. What has no equivalent (APIKEY,\n"
          "CUSTOM_ROUTER_PATH, custom transformers, ...) is listed on standard error with\n"
          "what to do instead. The result is checked with the config loader.\n"
          "\n"
          "  -o, --output FILE   write the config there (default: standard output)\n"
          "  -f, --force         overwrite FILE if it exists\n"
          "\n"
          "Exit codes: 0 converted and valid, 1 unreadable input or an invalid result,\n"
          "2 bad usage.\n",
          out);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    ccp_buf b = CCP_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ccp_buf_append(&b, chunk, n);
    fclose(f);
    ccp_buf_appendc(&b, '\0');
    *len = b.len - 1;
    return ccp_buf_detach(&b, NULL);
}

/* Gives every ${VAR} of yaml that is unset a stand-in, for the check only:
 * an unset key variable is not a fault of the converted file. */
static void stand_in_unset_vars(const char *yaml)
{
    for (const char *s = strstr(yaml, "${"); s; s = strstr(s + 2, "${")) {
        size_t n = 0;
        while (isalnum((unsigned char)s[2 + n]) || s[2 + n] == '_')
            n++;
        if (!n || s[2 + n] != '}' || n >= 128) continue;
        char var[128];
        memcpy(var, s + 2, n);
        var[n] = '\0';
        if (getenv(var)) continue;
        fprintf(stderr, "note: %s is not set: export it before starting ccproxy\n", var);
        setenv(var, "unset-during-check", 1);
    }
}

int ccp_cmd_import_ccr(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    bool force = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:fh", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            output = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 2;
    }
    char *path;
    if (optind < argc) {
        path = ccp_xstrdup(argv[optind]);
    } else {
        const char *home = getenv("HOME");
        size_t n = strlen(home ? home : "") + sizeof "/.claude-code-router/config.json";
        path = ccp_xmalloc(n);
        snprintf(path, n, "%s/.claude-code-router/config.json", home ? home : "");
    }
    size_t len;
    char *json = read_all(path, &len);
    if (!json) {
        fprintf(stderr, "ccproxy import-ccr: cannot read %s: %s\n", path, strerror(errno));
        free(path);
        return 1;
    }
    ccp_buf yaml = CCP_BUF_INIT, report = CCP_BUF_INIT;
    ccp_error err = {0};
    int rc = 0;
    if (ccp_import_ccr(json, len, &yaml, &report, &err) != 0) {
        fprintf(stderr, "ccproxy import-ccr: %s: %s\n", path, err.msg);
        rc = 1;
        goto out;
    }
    if (report.len)
        fprintf(stderr, "What has no exact equivalent:\n%.*s", (int)report.len, report.data);
    if (output) {
        int fd =
            open(output, O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL) | O_CLOEXEC, 0644);
        bool ok = fd >= 0 && write(fd, yaml.data, yaml.len) == (ssize_t)yaml.len;
        if (fd >= 0 && close(fd) != 0) ok = false;
        if (!ok) {
            fprintf(stderr, "ccproxy import-ccr: cannot write %s: %s%s\n", output, strerror(errno),
                    errno == EEXIST ? " (--force overwrites it)" : "");
            rc = 1;
            goto out;
        }
    } else {
        fwrite(yaml.data, 1, yaml.len, stdout);
        fflush(stdout);
    }
    ccp_buf_appendc(&yaml, '\0');
    stand_in_unset_vars(yaml.data);
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    const char *name = output ? output : "<converted>";
    if ((output ? ccp_config_load_file(output, &cfg, &d)
                : ccp_config_load_string(name, yaml.data, yaml.len - 1, &cfg, &d)) != 0) {
        ccp_diags_print(&d, stderr);
        fprintf(stderr, "ccproxy import-ccr: the converted config has %zu problem%s\n", d.n,
                d.n == 1 ? "" : "s");
        rc = 1;
    } else {
        fprintf(stderr, "%s: ok, %zu provider%s", name, cfg->n_providers,
                cfg->n_providers == 1 ? "" : "s");
        if (cfg->has_default)
            fprintf(stderr, ", default route %s%s%s\n", cfg->router_default.provider->name,
                    cfg->router_default.model ? "/" : "",
                    cfg->router_default.model ? cfg->router_default.model : "");
        else
            fputc('\n', stderr);
        if (output) fprintf(stderr, "Start it: ccproxy serve --config %s\n", output);
        ccp_config_unref(cfg);
    }
    ccp_diags_free(&d);
out:
    ccp_buf_free(&yaml);
    ccp_buf_free(&report);
    free(json);
    free(path);
    return rc;
}
