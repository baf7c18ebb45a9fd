/* fuzz_import_ccr.c — libFuzzer target for the claude-code-router importer
 * (src/config/import_ccr.c): any bytes convert or fail with a message, and
 * what converts goes through the config loader (loads, or fails with
 * diagnostics) without a crash or a leak. */
#include "config/config.h"
#include "config/import_ccr.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("FUZZ_KEY", "sk-fuzz", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccp_buf yaml = CCP_BUF_INIT, report = CCP_BUF_INIT;
    ccp_error err = {0};
    int rc = ccp_import_ccr((const char *)data, size, &yaml, &report, &err);
    if (rc != 0) {
        FUZZ_CHECK(err.msg[0], "refused (%d) without a message", rc);
    } else {
        FUZZ_CHECK(yaml.len > 0, "converted into nothing");
        ccp_config *cfg = NULL;
        ccp_diags diags = {0};
        if (ccp_config_load_string("fuzz.yaml", yaml.data, yaml.len, &cfg, &diags) == 0)
            ccp_config_unref(cfg);
        else
            FUZZ_CHECK(diags.n > 0, "converted YAML rejected without a diagnostic");
        ccp_diags_free(&diags);
    }
    ccp_buf_free(&yaml);
    ccp_buf_free(&report);
    return 0;
}
