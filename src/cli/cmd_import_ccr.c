/* cmd_import_ccr.c — `ccproxy import-ccr` (stub until written). */
#include "cli/cli.h"
int ccp_cmd_import_ccr(int argc, char **argv)
{
    return 2;
}
