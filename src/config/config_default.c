/* config_default.c — the embedded default config, used when no file is
 * found. It is YAML written from the provider catalog (catalog.c, the rows
 * marked in_default) and run through the same loader, so it cannot drift
 * from what a file may say; providers whose key variable is unset are left
 * out, and the router falls to the first provider present (in catalog
 * order). */
#include "config/config.h"

#include "config/catalog.h"
#include "config/config_internal.h"
#include "core/buf.h"
#include "core/error.h"

int ccp_config_load_default(ccp_config **out, ccp_diags *diags)
{
    ccp_buf yaml = CCP_BUF_INIT;
    ccp_buf pipes = CCP_BUF_INIT;
    ccp_buf_appends(&yaml, "providers:\n");
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        if (!p->in_default) continue;
        ccp_catalog_provider_yaml(&yaml, p, NULL, NULL, false, true);
        ccp_catalog_pipeline_yaml(&pipes, p);
    }
    if (pipes.len) {
        ccp_buf_appends(&yaml, "pipelines:\n");
        ccp_buf_append(&yaml, pipes.data, pipes.len);
    }
    int rc = ccp_config_load_yaml("<embedded default>", yaml.data, yaml.len, true, out, diags);
    ccp_buf_free(&pipes);
    ccp_buf_free(&yaml);
    return rc;
}
