/* cmd_providers.c — `ccproxy providers`: the built-in provider catalog
 * (config/catalog.c) as a table, JSON (--json) or Markdown (--markdown,
 * which is docs/providers.md). */
#include "cli/cli.h"

#include "config/catalog.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy providers [--json | --markdown]\n"
          "\n"
          "Lists the providers ccproxy knows: format, base URL, how the key is sent, the\n"
          "variable that usually holds it, the models proposed per stage and the dialect\n"
          "pipeline. 'ccproxy init' writes a config from these rows.\n"
          "\n"
          "  --json       one JSON array, one object per provider\n"
          "  --markdown   the reference page (docs/providers.md)\n",
          out);
}

int ccp_cmd_providers(int argc, char **argv)
{
    int mode = 0; /* 0 text, 1 json, 2 markdown */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            mode = 1;
        else if (!strcmp(argv[i], "--markdown"))
            mode = 2;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ccproxy providers: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    ccp_buf b = CCP_BUF_INIT;
    if (mode == 1)
        ccp_catalog_write_json(&b);
    else if (mode == 2)
        ccp_catalog_write_markdown(&b);
    else
        ccp_catalog_write_text(&b);
    fwrite(b.data, 1, b.len, stdout);
    ccp_buf_free(&b);
    return 0;
}
