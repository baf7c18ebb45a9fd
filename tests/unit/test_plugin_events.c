/* test_plugin_events.c — src/plugin/events.c: a process-isolated plugin's
 * event hook made asynchronous on a libuv loop gives what the synchronous
 * link gives, event for event and in order (more events than one job
 * takes, two asynchronous links in a row); a host that crashes mid-stream
 * keeps on_error's meaning (skip: the rest as is; fail: an error event,
 * then nothing, and the link reports the failure); a chain freed while a
 * job runs is freed by the job's completion, nothing emitted after; an
 * in-process link stays synchronous. This binary is its own plugin host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config/config.h"
#include "core/buf.h"
#include "pipeline/pipeline.h"
#include "plugin/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ccp-plugin-events-test-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    setenv("HOME", dir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A config with the plugin source src (isolation iso, on_error) and a
 * pipeline "p" of n_steps steps of it. Calls may take timeout_ms: 5000
 * (the machine may be busy), or 500 ms in the timeout's test. */
static int timeout_ms = 5000;

static ccp_config *load(const char *src, const char *iso, const char *on_error, int n_steps)
{
    char path[128], yaml[1024];
    snprintf(path, sizeof path, "%s/ev.lua", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(src, f);
    fclose(f);
    snprintf(yaml, sizeof yaml,
             "plugins:\n  dirs: []\n  load:\n    - {path: %s, isolation: %s, on_error: %s,\n"
             "       limits: {timeout_ms: %d}}\n"
             "pipelines:\n  p: [%s]\n",
             path, iso, on_error, timeout_ms, n_steps == 2 ? "ev, ev" : "ev");
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    if (ccp_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &d) != 0)
        ccp_diags_print(&d, stderr);
    ccp_diags_free(&d);
    assert_non_null(cfg);
    return cfg;
}

/* The end of the chain: what reached it, as text. */
typedef struct collect {
    ccp_event_sink base;
    ccp_buf seen;
} collect;

static int collect_emit(ccp_event_sink *self, const ccp_event *ev)
{
    collect *c = (collect *)self;
    ccp_buf_printf(&c->seen, "%s", ccp_event_type_name(ev->type));
    if (ev->type == CCP_EV_BLOCK_DELTA || ev->type == CCP_EV_ERROR)
        ccp_buf_printf(&c->seen, "(%.*s)", ev->type == CCP_EV_ERROR ? 80 : (int)ev->text_len,
                       ev->type == CCP_EV_ERROR ? ev->error_message : ev->text);
    if (ev->type == CCP_EV_MESSAGE_START)
        ccp_buf_printf(&c->seen, "(%s,%s,%lld)", ev->message_id, ev->model,
                       (long long)ev->usage.input_tokens);
    ccp_buf_appends(&c->seen, ";");
    return 0;
}

/* The owner's side of an asynchronous chain. */
typedef struct owner {
    int settled, jobs, jobs_ended;
} owner;

static void settled(void *ud)
{
    ((owner *)ud)->settled++;
}

static void job_begin(void *ud)
{
    ((owner *)ud)->jobs++;
}

static void job_end(void *ud)
{
    ((owner *)ud)->jobs_ended++;
}

/* Runs loop until every job has ended. */
static void drain(uv_loop_t *loop, owner *o)
{
    while (o->jobs_ended < o->jobs)
        uv_run(loop, UV_RUN_ONCE);
}

static const char *EDIT =
    "return {name='ev', event=function(ev)\n"
    "  if ev.type == 'ping' then return false end\n"
    "  if ev.type == 'message_start' then ev.usage.input_tokens = ev.usage.input_tokens + 1 end\n"
    "  if ev.type == 'content_block_delta' then\n"
    "    if ev.text == 'crash' then ccp.test_syscall('open') end\n"
    "    if ev.text == 'hang' then while true do end end\n"
    "    ev.text = ev.text:upper()\n"
    "    return {ev, {type='content_block_delta', index=ev.index, kind='text_delta', text='+'}}\n"
    "  end\n"
    "end}\n";

/* Emits a stream with n text deltas (the one at crash_at says "crash")
 * into ch. */
static const char *bad_word = "crash";

static void emit_stream(ccp_event_chain *ch, int n, int crash_at)
{
    ccp_event start = {.type = CCP_EV_MESSAGE_START,
                       .message_id = "msg_1",
                       .model = "m",
                       .usage = {10, 1, -1, -1}};
    ccp_event ping = {.type = CCP_EV_PING};
    ccp_event open = {.type = CCP_EV_BLOCK_START, .block_kind = CCP_BLOCK_TEXT};
    ccp_event close = {.type = CCP_EV_BLOCK_STOP};
    ccp_event stop = {.type = CCP_EV_MESSAGE_STOP};
    ch->head->emit(ch->head, &start);
    ch->head->emit(ch->head, &ping);
    ch->head->emit(ch->head, &open);
    for (int i = 0; i < n; i++) {
        /* The text lives in a buffer that is gone after emit returns. */
        char *text = malloc(16);
        int len = i == crash_at ? snprintf(text, 16, "%s", bad_word) : snprintf(text, 16, "w%d", i);
        ccp_event d = {.type = CCP_EV_BLOCK_DELTA,
                       .delta_kind = CCP_DELTA_TEXT,
                       .text = text,
                       .text_len = (size_t)len};
        ch->head->emit(ch->head, &d);
        memset(text, 'x', 16);
        free(text);
    }
    ch->head->emit(ch->head, &close);
    ch->head->emit(ch->head, &stop);
}

/* What the chain of the config gives for the stream, synchronous or
 * made asynchronous on a loop. */
static char *run(ccp_config *cfg, bool async, int n, int crash_at, int *failed)
{
    collect c = {{collect_emit}, CCP_BUF_INIT};
    ccp_event_chain ch;
    ccp_event_chain_build(&ch, &cfg->pipelines[0], &c.base);
    uv_loop_t loop;
    uv_loop_init(&loop);
    owner o = {0, 0, 0};
    ccp_plugin_events_async a = {&loop, cfg, settled, &o, job_begin, job_end, &o};
    if (async) assert_int_equal(ccp_plugin_events_make_async(&ch, &a), (size_t)ch.n);
    emit_stream(&ch, n, crash_at);
    if (async) {
        assert_true(ccp_plugin_events_held(&ch) > 0); /* nothing waited in emit */
        drain(&loop, &o);
        assert_int_equal(ccp_plugin_events_held(&ch), 0);
        assert_true(o.settled >= 1);
        if (n > 32 && crash_at < 0) assert_true(o.jobs > 1); /* batches of at most 32 */
    }
    ccp_error err = {0};
    *failed = ccp_plugin_events_failed(&ch, &err);
    char want[64];
    snprintf(want, sizeof want, "plugin 'ev' event hook failed (%s)",
             strcmp(bad_word, "crash") ? "timeout" : "crash");
    if (*failed) assert_non_null(strstr(err.msg, want));
    ccp_event_chain_free(&ch);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    char *out = strdup(c.seen.data ? c.seen.data : "");
    ccp_buf_free(&c.seen);
    return out;
}

static void async_gives_what_sync_gives_in_order(void **state)
{
    (void)state;
    for (int steps = 1; steps <= 2; steps++) {
        ccp_config *cfg = load(EDIT, "process", "fail", steps);
        int f1, f2;
        char *sync = run(cfg, false, 100, -1, &f1);
        char *async = run(cfg, true, 100, -1, &f2);
        assert_int_equal(f1 + f2, 0);
        assert_string_equal(async, sync);
        /* What the hook did, once or twice. */
        assert_non_null(strstr(sync, steps == 1 ? "message_start(msg_1,m,11);content_block_start;"
                                                  "content_block_delta(W0);content_block_delta(+);"
                                                : "message_start(msg_1,m,12);content_block_start;"
                                                  "content_block_delta(W0);content_block_delta(+);"
                                                  "content_block_delta(+);"));
        assert_null(strstr(sync, "ping"));
        assert_non_null(strstr(sync, "content_block_delta(W99);"));
        free(sync);
        free(async);
        ccp_config_unref(cfg);
    }
}

static void a_crash_mid_stream_keeps_on_error(void **state)
{
    (void)state;
    setenv("CCPROXY_PLUGIN_TEST_SYSCALLS", "1", 1);
    /* skip: the crashed event and the rest as they came. */
    ccp_config *cfg = load(EDIT, "process", "skip", 1);
    int failed;
    char *out = run(cfg, true, 40, 35, &failed);
    assert_int_equal(failed, 0);
    assert_non_null(strstr(out, "content_block_delta(W34);content_block_delta(+);"
                                "content_block_delta(crash);content_block_delta(w36);"
                                "content_block_delta(w37);content_block_delta(w38);"
                                "content_block_delta(w39);content_block_stop;message_stop;"));
    free(out);
    ccp_config_unref(cfg);
    /* fail: an error event naming the plugin, then nothing; the link
     * reports it (the server stops the transfer). */
    cfg = load(EDIT, "process", "fail", 1);
    out = run(cfg, true, 40, 35, &failed);
    assert_int_equal(failed, CCP_EINVAL);
    const char *tail = strstr(out, "content_block_delta(W34);content_block_delta(+);error(plugin "
                                   "'ev' event hook failed (crash)");
    assert_non_null(tail);
    assert_null(strstr(tail, "w36"));
    assert_null(strstr(out, "message_stop"));
    free(out);
    ccp_config_unref(cfg);
    unsetenv("CCPROXY_PLUGIN_TEST_SYSCALLS");
}

static void a_timeout_mid_stream_keeps_on_error(void **state)
{
    (void)state;
    bad_word = "hang"; /* the hook loops on it until timeout_ms */
    timeout_ms = 500;
    ccp_config *cfg = load(EDIT, "process", "skip", 1);
    int failed;
    char *out = run(cfg, true, 10, 5, &failed);
    assert_int_equal(failed, 0);
    assert_non_null(strstr(out, "content_block_delta(W4);content_block_delta(+);"
                                "content_block_delta(hang);content_block_delta(w6);"));
    free(out);
    ccp_config_unref(cfg);
    cfg = load(EDIT, "process", "fail", 1);
    out = run(cfg, true, 10, 5, &failed);
    assert_int_equal(failed, CCP_EINVAL);
    assert_non_null(strstr(out, "content_block_delta(W4);content_block_delta(+);error(plugin "
                                "'ev' event hook failed (timeout)"));
    assert_null(strstr(out, "w6"));
    free(out);
    ccp_config_unref(cfg);
    bad_word = "crash";
    timeout_ms = 5000;
}

static void a_chain_freed_while_a_job_runs_is_freed_by_its_completion(void **state)
{
    (void)state;
    /* The hook takes its time on message_start: the chain goes while the
     * job has it. */
    ccp_config *cfg = load("return {name='ev', event=function(ev)\n"
                           "  if ev.type == 'message_start' then\n"
                           "    local t = os.clock() while os.clock() - t < 0.2 do end\n"
                           "  end\n"
                           "end}\n",
                           "process", "fail", 2);
    collect c = {{collect_emit}, CCP_BUF_INIT};
    ccp_event_chain ch;
    ccp_event_chain_build(&ch, &cfg->pipelines[0], &c.base);
    uv_loop_t loop;
    uv_loop_init(&loop);
    owner o = {0, 0, 0};
    ccp_plugin_events_async a = {&loop, cfg, settled, &o, job_begin, job_end, &o};
    ccp_plugin_events_make_async(&ch, &a);
    emit_stream(&ch, 50, -1);
    ccp_event_chain_free(&ch);
    /* The config may go too: each link holds it until freed. */
    ccp_config_unref(cfg);
    drain(&loop, &o);
    assert_int_equal(o.jobs, 1); /* the first link's; the second never got an event */
    assert_int_equal(o.settled, 0);
    assert_null(c.seen.data); /* nothing emitted */
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void in_process_links_stay_synchronous(void **state)
{
    (void)state;
    ccp_config *cfg = load(EDIT, "inprocess", "fail", 1);
    collect c = {{collect_emit}, CCP_BUF_INIT};
    ccp_event_chain ch;
    ccp_event_chain_build(&ch, &cfg->pipelines[0], &c.base);
    uv_loop_t loop;
    uv_loop_init(&loop);
    owner o = {0, 0, 0};
    ccp_plugin_events_async a = {&loop, cfg, settled, &o, job_begin, job_end, &o};
    assert_int_equal(ccp_plugin_events_make_async(&ch, &a), 0);
    emit_stream(&ch, 2, -1);
    assert_int_equal(ccp_plugin_events_held(&ch), 0);
    assert_non_null(strstr(c.seen.data, "content_block_delta(W1);content_block_delta(+);"));
    assert_int_equal(o.jobs, 0);
    ccp_event_chain_free(&ch);
    ccp_buf_free(&c.seen);
    assert_int_equal(uv_loop_close(&loop), 0);
    ccp_config_unref(cfg);
}

int main(int argc, char **argv)
{
    /* Process isolation starts this binary (/proc/self/exe) as the host. */
    if (argc > 1 && !strcmp(argv[1], "plugin-host"))
        return ccp_plugin_host_main(argc - 1, argv + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(async_gives_what_sync_gives_in_order),
        cmocka_unit_test(a_crash_mid_stream_keeps_on_error),
        cmocka_unit_test(a_timeout_mid_stream_keeps_on_error),
        cmocka_unit_test(a_chain_freed_while_a_job_runs_is_freed_by_its_completion),
        cmocka_unit_test(in_process_links_stay_synchronous),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
