/* main.c — the ccproxy executable's entry point. Everything else, the
 * subcommand dispatch included (dispatch.c), is in the ccp library that the
 * unit tests link too. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return ccp_cli_main(argc, argv);
}
