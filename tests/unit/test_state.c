/* test_state.c — the state files of a running ccproxy (cli/state.c): where
 * they go, one set per config, and the lock that tells a live proxy from
 * a stale pid file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ccp-state-XXXXXX");
    assert_non_null(mkdtemp(dir));
    setenv("XDG_STATE_HOME", dir, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void write_file(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("providers: []\n", f);
    fclose(f);
}

static void each_config_gets_its_own_files_in_the_xdg_state_directory(void **state)
{
    (void)state;
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/team.yaml", dir);
    snprintf(b, sizeof b, "%s/other.yaml", dir);
    write_file(a);
    write_file(b);
    ccp_state sa, sb, sa2;
    assert_int_equal(ccp_state_init(&sa, a, true), 0);
    assert_int_equal(ccp_state_init(&sb, b, true), 0);
    assert_int_equal(ccp_state_init(&sa2, a, true), 0);
    char want[128];
    snprintf(want, sizeof want, "%s/ccproxy/team-", dir);
    assert_memory_equal(sa.pid_path, want, strlen(want));
    assert_string_equal(sa.pid_path + strlen(sa.pid_path) - 4, ".pid");
    assert_string_equal(sa.pid_path, sa2.pid_path);
    assert_string_not_equal(sa.pid_path, sb.pid_path);
    assert_string_equal(sa.config, a);
    /* A relative XDG_STATE_HOME is ignored (the spec), HOME's is used. */
    setenv("XDG_STATE_HOME", "relative", 1);
    setenv("HOME", dir, 1);
    assert_int_equal(ccp_state_init(&sa2, a, true), 0);
    snprintf(want, sizeof want, "%s/.local/state/ccproxy", dir);
    assert_string_equal(sa2.dir, want);
    setenv("XDG_STATE_HOME", dir, 1);
}

static void the_lock_tells_a_running_proxy_from_a_stale_pid_file(void **state)
{
    (void)state;
    char a[128];
    snprintf(a, sizeof a, "%s/c.yaml", dir);
    write_file(a);
    ccp_state st, other;
    assert_int_equal(ccp_state_init(&st, a, true), 0);
    assert_false(ccp_state_running(&st, NULL));
    assert_true(ccp_state_claim(&st));
    assert_true(ccp_state_running(&st, NULL));
    /* Claimed but not yet listening: no address to give. */
    ccp_state_info info;
    assert_false(ccp_state_running(&st, &info));
    /* A second serve of the same config does not get the files. */
    assert_int_equal(ccp_state_init(&other, a, true), 0);
    assert_false(ccp_state_claim(&other));
    ccp_state_publish(&st, "0.0.0.0", 3456, "::", 9090);
    assert_true(ccp_state_running(&st, &info));
    assert_int_equal(info.pid, (long)getpid());
    assert_string_equal(info.url, "http://127.0.0.1:3456");
    assert_string_equal(info.admin_url, "http://[::1]:9090");
    assert_string_equal(info.config, a);
    ccp_state_release(&st);
    assert_false(ccp_state_running(&st, NULL));
    assert_int_equal(access(st.pid_path, F_OK), -1);
    /* A pid file nobody holds (a crash) is stale. */
    FILE *f = fopen(st.pid_path, "w");
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
    assert_false(ccp_state_running(&st, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_config_gets_its_own_files_in_the_xdg_state_directory),
        cmocka_unit_test(the_lock_tells_a_running_proxy_from_a_stale_pid_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
