/* host.c — process isolation (placeholder until the host lands). */
#include "plugin/plugin.h"

ccp_plugin_cause ccp_plugin_host_call(ccp_plugin *p, const char *hook, json_object *arg,
                                      json_object *ctx, json_object **result, ccp_buf *msg)
{
    (void)p, (void)hook, (void)arg, (void)ctx;
    *result = NULL;
    ccp_buf_appends(msg, "process isolation is not available");
    return CCP_PLUGIN_ERROR;
}

void ccp_plugin_hosts_free(ccp_plugin_hosts *h)
{
    (void)h;
}

int ccp_plugin_host_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    return 2;
}
