/* test_reload.c — hot reload's swap (http/reload.c, app.c): readers on
 * other threads take and drop references while the config is swapped
 * again and again (a use after free is what ASan would catch), a config
 * with errors is refused with its places, and the settings read at start
 * are reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "http/app.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static char path[64];

static void write_config(const char *model, const char *extra)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "%sproviders:\n  - {name: p, base_url: 'http://127.0.0.1:9', models: [%s]}\n"
            "router: {default: p/%s}\n",
            extra, model, model);
    fclose(f);
}

static ccp_app *new_app(void)
{
    snprintf(path, sizeof path, "/tmp/ccp-reload-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_config("m0", "");
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    assert_int_equal(ccp_config_load_file(path, &cfg, &d), 0);
    ccp_diags_free(&d);
    ccp_app *app = calloc(1, sizeof *app);
    ccp_app_init(app, cfg, path, true, true);
    return app;
}

static void free_app(ccp_app *app)
{
    ccp_app_fini(app);
    free(app);
    unlink(path);
}

typedef struct reader {
    ccp_app *app;
    _Atomic bool *stop;
    long reads;
} reader;

static void read_loop(void *arg)
{
    reader *r = arg;
    while (!atomic_load(r->stop)) {
        ccp_config *c = ccp_app_config(r->app);
        /* Touch what a request would read. */
        assert_true(c->n_providers == 1);
        assert_non_null(c->router_default.model);
        assert_true(c->router_default.model[0] == 'm');
        ccp_config_unref(c);
        r->reads++;
    }
}

static void readers_never_see_a_freed_snapshot_while_it_is_swapped(void **state)
{
    (void)state;
    ccp_app *app = new_app();
    _Atomic bool stop = false;
    reader rs[3];
    uv_thread_t th[3];
    for (int i = 0; i < 3; i++) {
        rs[i] = (reader){.app = app, .stop = &stop};
        uv_thread_create(&th[i], read_loop, &rs[i]);
    }
    for (int i = 1; i <= 200; i++) {
        char model[16];
        snprintf(model, sizeof model, "m%d", i);
        write_config(model, "");
        assert_int_equal(ccp_app_reload(app, "test", NULL), 0);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++) {
        uv_thread_join(&th[i]);
        assert_true(rs[i].reads > 0);
    }
    ccp_config *c = ccp_app_config(app);
    assert_string_equal(c->router_default.model, "m200");
    ccp_config_unref(c);
    assert_int_equal(atomic_load(&app->config_gen), 201);
    free_app(app);
}

static void a_config_with_errors_is_refused_and_the_old_one_stays(void **state)
{
    (void)state;
    ccp_app *app = new_app();
    FILE *f = fopen(path, "w");
    fputs("providers:\n  - {name: p, base_url: 'http://x', models: [a]}\nrouter: {default: q/a}\n",
          f);
    fclose(f);
    ccp_buf out = CCP_BUF_INIT;
    assert_int_equal(ccp_app_reload(app, "test", &out), CCP_ECONFIG);
    ccp_error err = {0};
    json_object *o = ccp_json_parse(out.data, out.len, &err);
    assert_non_null(o);
    assert_false(ccp_json_get_bool(o, "reloaded", true));
    json_object *e0 = ccp_json_arr_at(ccp_json_get_arr(o, "errors"), 0);
    assert_int_equal(ccp_json_get_int(e0, "line", 0), 3);
    assert_true(ccp_json_get_int(e0, "col", 0) > 0);
    json_object_put(o);
    ccp_buf_free(&out);
    ccp_config *c = ccp_app_config(app);
    assert_string_equal(c->router_default.model, "m0");
    ccp_config_unref(c);
    assert_int_equal(atomic_load(&app->config_gen), 1);
    free_app(app);
}

static void settings_read_at_start_are_reported_as_needing_a_restart(void **state)
{
    (void)state;
    ccp_app *app = new_app();
    write_config("m1", "server: {port: 4000, workers: 3, log_level: debug}\n");
    ccp_buf out = CCP_BUF_INIT;
    assert_int_equal(ccp_app_reload(app, "test", &out), 0);
    ccp_error err = {0};
    json_object *o = ccp_json_parse(out.data, out.len, &err);
    const char *nr = ccp_json_get_str(o, "needs_restart");
    assert_non_null(nr);
    assert_non_null(strstr(nr, "server.port"));
    assert_non_null(strstr(nr, "server.workers"));
    assert_null(strstr(nr, "log_level")); /* applied at once */
    json_object_put(o);
    ccp_buf_free(&out);
    /* Nothing that needs a restart changed: null. */
    write_config("m2", "server: {port: 4000, workers: 3}\n");
    assert_int_equal(ccp_app_reload(app, "test", &out), 0);
    o = ccp_json_parse(out.data, out.len, &err);
    assert_true(json_object_is_type(ccp_json_get(o, "needs_restart"), json_type_null));
    json_object_put(o);
    ccp_buf_free(&out);
    free_app(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readers_never_see_a_freed_snapshot_while_it_is_swapped),
        cmocka_unit_test(a_config_with_errors_is_refused_and_the_old_one_stays),
        cmocka_unit_test(settings_read_at_start_are_reported_as_needing_a_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
