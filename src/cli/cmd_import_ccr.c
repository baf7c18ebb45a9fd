/* cmd_import_ccr.c — `ccproxy import-ccr` (written by the next commit). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int ccp_cmd_import_ccr(int argc, char **argv)
{
    bool help = argc > 1 && !strcmp(argv[1], "--help");
    fputs("usage: ccproxy import-ccr [PATH]\n", help ? stdout : stderr);
    return help ? 0 : 2;
}
