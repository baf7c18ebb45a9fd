/* bench_plugin.c — what a plugin adds to a request: a plugin that edits
 * one field of a Claude Code–sized request (bench/gen_claude_request.mjs),
 * run as a pipeline step in each isolation mode, against the same request
 * with no step. Prints the median and p99 added time per request.
 *   ccp-bench-plugin REQUEST.json [ITERATIONS]
 *
 * --host-work: what a plugin host does for one call of the same plugin,
 * in this process, so that callgrind can count it (the proxy under
 * callgrind starts its hosts natively, unseen): parse the call message as
 * it arrives, run the hook, build the answer (a patch) and write it, then
 * free the message. Run it twice and take the difference over the extra
 * iterations (docs/performance.md, Plugins):
 *   valgrind --tool=callgrind ccp-bench-plugin --host-work REQUEST.json N */
#include "config/config.h"
#include "core/json.h"
#include "pipeline/pipeline.h"
#include "plugin/host_internal.h"
#include "plugin/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median and p99 of one run: n requests through p (NULL: no step). */
static void run(const ccp_pipeline *p, json_object *req, int n, double *med, double *p99)
{
    double *t = malloc((size_t)n * sizeof *t);
    for (int i = 0; i < n; i++) {
        json_object *copy = NULL;
        json_object_deep_copy(req, &copy, NULL); /* as the exchange gives each attempt */
        ccp_error err = {0};
        double t0 = now_us();
        if (p && ccp_pipeline_run_request(p, copy, &err) != 0) {
            fprintf(stderr, "failed: %s\n", err.msg);
            exit(1);
        }
        ccp_buf b = CCP_BUF_INIT;
        ccp_json_write(&b, copy); /* the body is written once either way */
        t[i] = now_us() - t0;
        ccp_buf_free(&b);
        json_object_put(copy);
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    *med = t[n / 2];
    *p99 = t[n * 99 / 100];
    free(t);
}

/* The host's side of n calls of a one-field edit of req (--host-work). */
static int host_work(json_object *req, int n)
{
    const char *src = "return {name='bump', request=function(req) req.max_tokens = 4096 end}\n";
    ccp_plugin_limits lim;
    ccp_plugin_limits_default(&lim);
    ccp_buf msg = CCP_BUF_INIT;
    ccp_plugin_vm *vm = ccp_plugin_vm_new("=bump", src, strlen(src), &lim, &msg);
    if (!vm) return 1;
    ccp_plugin_vm_take_logs(vm, true); /* a host collects its log lines */
    /* The message as the proxy frames it: {hook, arg, ctx}. */
    json_object *m = json_object_new_object(), *ctx = json_object_new_object();
    json_object_object_add(m, "hook", json_object_new_string("request"));
    json_object_object_add(m, "arg", json_object_get(req));
    json_object_object_add(ctx, "request_id", json_object_new_string("req_0123456789abcdef"));
    json_object_object_add(ctx, "options", json_object_new_object());
    json_object_object_add(m, "ctx", ctx);
    ccp_buf text = CCP_BUF_INIT, out = CCP_BUF_INIT;
    ccp_json_write(&text, m);
    json_object_put(m);
    for (int i = 0; i < n; i++) {
        json_object *call = ccp_json_parse(text.data, text.len, NULL);
        ccp_plugin_cause c;
        json_object *r = ccp_plugin_host_answer(vm, call, &lim, &c);
        if (c != CCP_PLUGIN_OK || !ccp_json_get(r, "patch")) return 1;
        ccp_buf_reset(&out);
        ccp_json_write(&out, r);
        json_object_put(r);
        json_object_put(call);
    }
    printf("host work: %d calls, message %zu bytes, answer %zu bytes\n", n, text.len, out.len);
    ccp_buf_free(&text);
    ccp_buf_free(&out);
    json_object_put(ccp_plugin_vm_take_logs(vm, false));
    ccp_plugin_vm_free(vm);
    ccp_buf_free(&msg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "plugin-host"))
        return ccp_plugin_host_main(argc - 1, argv + 1);
    bool host = argc > 1 && !strcmp(argv[1], "--host-work");
    if (host) argc--, argv++;
    if (argc < 2) {
        fprintf(stderr, "usage: ccp-bench-plugin [--host-work] REQUEST.json [ITERATIONS]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 500;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 1;
    ccp_buf text = CCP_BUF_INIT;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        ccp_buf_append(&text, chunk, got);
    fclose(f);
    json_object *req = ccp_json_parse(text.data, text.len, NULL);
    if (host) {
        int rc = host_work(req, n);
        json_object_put(req);
        ccp_buf_free(&text);
        return rc;
    }
    char plugin[] = "/tmp/ccp-bench-plugin-XXXXXX.lua";
    int fd = mkstemps(plugin, 4);
    const char *src = "return {name='bump', request=function(req) req.max_tokens = 8192 end}\n";
    if (fd < 0 || write(fd, src, strlen(src)) < 0) return 1;
    close(fd);
    /* The same edit declaring what it reads: the host gets max_tokens alone. */
    char plugin_rd[] = "/tmp/ccp-bench-plugin-reads-XXXXXX.lua";
    fd = mkstemps(plugin_rd, 4);
    const char *src_rd = "return {name='bump', reads={'max_tokens'}, request=function(req) "
                         "req.max_tokens = 8192 end}\n";
    if (fd < 0 || write(fd, src_rd, strlen(src_rd)) < 0) return 1;
    close(fd);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - {path: %s, isolation: inprocess}\n"
             "pipelines:\n  p: [bump]\n",
             plugin);
    ccp_config *in = NULL, *proc = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("in.yaml", yaml, strlen(yaml), &in, &d) != 0) return 1;
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - {path: %s, isolation: process}\n"
             "pipelines:\n  p: [bump]\n",
             plugin);
    if (ccp_config_load_string("proc.yaml", yaml, strlen(yaml), &proc, &d) != 0) return 1;
    ccp_config *rd = NULL;
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - {path: %s, isolation: process}\n"
             "pipelines:\n  p: [bump]\n",
             plugin_rd);
    if (ccp_config_load_string("reads.yaml", yaml, strlen(yaml), &rd, &d) != 0) return 1;
    double base, base99, inm, in99, pm, p99, rm, r99;
    run(NULL, req, n / 10, &base, &base99); /* warm-up */
    run(&in->pipelines[0], req, n / 10, &inm, &in99);
    run(&proc->pipelines[0], req, n / 10, &pm, &p99);
    run(&rd->pipelines[0], req, n / 10, &rm, &r99);
    run(NULL, req, n, &base, &base99);
    run(&in->pipelines[0], req, n, &inm, &in99);
    run(&proc->pipelines[0], req, n, &pm, &p99);
    run(&rd->pipelines[0], req, n, &rm, &r99);
    printf("request %zu bytes, %d iterations\n", text.len, n);
    printf("no plugin:           median %8.1f us  p99 %8.1f us\n", base, base99);
    printf("inprocess plugin:    median %8.1f us  p99 %8.1f us  added %.3f ms\n", inm, in99,
           (inm - base) / 1000);
    printf("process plugin:      median %8.1f us  p99 %8.1f us  added %.3f ms\n", pm, p99,
           (pm - base) / 1000);
    printf("process, reads:      median %8.1f us  p99 %8.1f us  added %.3f ms\n", rm, r99,
           (rm - base) / 1000);
    ccp_config_unref(in);
    ccp_config_unref(proc);
    ccp_config_unref(rd);
    unlink(plugin_rd);
    json_object_put(req);
    ccp_buf_free(&text);
    unlink(plugin);
    return 0;
}
