/* test_interp.c — ${VAR}, ${VAR:-default}, ${file:/path} and $$ in config
 * strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/interp.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void expect(const char *in, const char *want)
{
    ccp_buf out = CCP_BUF_INIT;
    char var[64];
    assert_int_equal(ccp_interp(in, &out, var, sizeof var), 0);
    assert_string_equal(out.data, want);
    ccp_buf_free(&out);
}

static void variables_defaults_and_escapes(void **state)
{
    setenv("CCP_I_A", "alpha", 1);
    setenv("CCP_I_EMPTY", "", 1);
    unsetenv("CCP_I_UNSET");
    expect("plain", "plain");
    expect("${CCP_I_A}", "alpha");
    expect("Bearer ${CCP_I_A}!", "Bearer alpha!");
    expect("${CCP_I_UNSET:-dflt}", "dflt");
    expect("${CCP_I_EMPTY:-dflt}", "dflt");
    expect("${CCP_I_A:-dflt}", "alpha");
    expect("${CCP_I_UNSET:-}", "");
    expect("$$5 and $x", "$5 and $x");
    expect("", "");
}

static void unset_and_malformed_are_errors(void **state)
{
    unsetenv("CCP_I_UNSET");
    ccp_buf out = CCP_BUF_INIT;
    char var[64];
    assert_int_equal(ccp_interp("key ${CCP_I_UNSET}", &out, var, sizeof var), CCP_ENOTFOUND);
    assert_string_equal(var, "CCP_I_UNSET");
    ccp_buf_reset(&out);
    assert_int_equal(ccp_interp("${CCP_I_A", &out, var, sizeof var), CCP_EPARSE);
    ccp_buf_reset(&out);
    assert_int_equal(ccp_interp("${}", &out, var, sizeof var), CCP_EPARSE);
    ccp_buf_free(&out);
}

/* Writes text to a new file of the given mode under /tmp; returns its path
 * (static buffer). */
static const char *secret_file(const char *text, mode_t mode)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ccp-interp-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static void file_secrets_are_read_trimmed_and_guarded(void **state)
{
    char in[128], var[4400];
    ccp_buf out = CCP_BUF_INIT;
    const char *path = secret_file("sk-from-file\n\n", 0600);
    snprintf(in, sizeof in, "Bearer ${file:%s}!", path);
    assert_int_equal(ccp_interp(in, &out, var, sizeof var), 0);
    assert_string_equal(out.data, "Bearer sk-from-file!");
    ccp_buf_reset(&out);
    /* Readable by the group: refused, and the message names the path and
     * the mode, never the content. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ccp_interp(in, &out, var, sizeof var), CCP_EINVAL);
    assert_non_null(strstr(var, path));
    assert_non_null(strstr(var, "640"));
    assert_null(strstr(var, "sk-from-file"));
    ccp_buf_reset(&out);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(ccp_interp(in, &out, var, sizeof var), CCP_EINVAL);
    unlink(path);
    ccp_buf_reset(&out);
    /* Missing, relative, and a directory. */
    assert_int_equal(ccp_interp(in, &out, var, sizeof var), CCP_EIO);
    assert_non_null(strstr(var, "cannot open"));
    ccp_buf_reset(&out);
    assert_int_equal(ccp_interp("${file:relative/key}", &out, var, sizeof var), CCP_EINVAL);
    assert_non_null(strstr(var, "absolute"));
    ccp_buf_reset(&out);
    assert_int_equal(ccp_interp("${file:/}", &out, var, sizeof var), CCP_EINVAL);
    ccp_buf_reset(&out);
    assert_int_equal(ccp_interp("${file:}", &out, var, sizeof var), CCP_EPARSE);
    ccp_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(variables_defaults_and_escapes),
        cmocka_unit_test(unset_and_malformed_are_errors),
        cmocka_unit_test(file_secrets_are_read_trimmed_and_guarded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
