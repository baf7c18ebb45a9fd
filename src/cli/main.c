/* main.c — the ccproxy command (placeholder until the CLI lands). */
#include <stdio.h>

int main(void)
{
    printf("ccproxy %s\n", CCP_VERSION);
    return 0;
}
