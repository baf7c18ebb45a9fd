/* cmd_completion.c — placeholder. */
#include "cli/cli.h"

int ccp_cmd_completion(int argc, char **argv)
{
    (void)argc, (void)argv;
    return 0;
}
