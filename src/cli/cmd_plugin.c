/* cmd_plugin.c — `ccproxy plugin new NAME` and `ccproxy plugin test PATH
 * REQUEST.json` (filled in below). */
#include "cli/cli.h"

#include <stdio.h>

int ccp_cmd_plugin(int argc, char **argv)
{
    (void)argc, (void)argv;
    fputs("usage: ccproxy plugin new NAME | ccproxy plugin test PATH REQUEST.json\n", stderr);
    return 2;
}
