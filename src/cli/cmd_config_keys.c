/* cmd_config_keys.c — `ccproxy config-keys`: every configuration key with its type,
 * default and meaning, from the tables the loader validates with.
 * `--update-doc FILE` rewrites the generated tables of a Markdown file
 * (docs/configuration.md; a unit test checks that file is current). */
#include "cli/cli.h"

#include "core/buf.h"

#include <stdio.h>
#include <string.h>

static int update_doc(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ccproxy config-keys: cannot read %s\n", path);
        return 1;
    }
    ccp_buf in = CCP_BUF_INIT, out = CCP_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ccp_buf_append(&in, chunk, n);
    fclose(f);
    ccp_error err = {0};
    int rc = ccp_config_doc_update(in.data ? in.data : "", &out, &err);
    if (rc == 0) {
        f = fopen(path, "wb");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len) rc = -1;
        if (f && fclose(f) != 0) rc = -1;
        if (rc) fprintf(stderr, "ccproxy config-keys: cannot write %s\n", path);
    } else {
        fprintf(stderr, "ccproxy config-keys: %s: %s\n", path, err.msg);
    }
    ccp_buf_free(&in);
    ccp_buf_free(&out);
    return rc ? 1 : 0;
}

int ccp_cmd_config_keys(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--update-doc")) return update_doc(argv[2]);
    if (argc > 1) {
        bool help = !strcmp(argv[1], "--help");
        fputs("usage: ccproxy config-keys                   every config key: type, default, "
              "meaning\n"
              "       ccproxy config-keys --update-doc FILE rewrite FILE's generated key tables\n",
              help ? stdout : stderr);
        return help ? 0 : 2;
    }
    ccp_buf b = CCP_BUF_INIT;
    ccp_config_reference(&b);
    fwrite(b.data, 1, b.len, stdout);
    ccp_buf_free(&b);
    return 0;
}
