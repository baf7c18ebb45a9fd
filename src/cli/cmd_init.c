/* cmd_init.c — `ccproxy init` (stub until written). */
#include "cli/cli.h"
int ccp_cmd_init(int argc, char **argv)
{
    return 2;
}
