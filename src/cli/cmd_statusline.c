/* cmd_statusline.c — placeholder until the session table lands. */
#include "cli/cli.h"

int ccp_cmd_statusline(int argc, char **argv)
{
    (void)argc, (void)argv;
    return 0;
}
