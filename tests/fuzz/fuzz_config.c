/* fuzz_config.c — libFuzzer target for the config loader (src/config/):
 * any YAML text loads or fails with diagnostics that each say where and
 * what, through the loader's from-memory entry point
 * (ccp_config_load_string, the same path as a file after reading it). */
#include "config/config.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* ${VAR} references resolve against a fixed environment. */
    setenv("FUZZ_KEY", "sk-fuzz", 1);
    unsetenv("CCPROXY_CONFIG");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *yaml = fuzz_dup(data, size);
    ccp_config *cfg = NULL;
    ccp_diags diags = {0};
    int rc = ccp_config_load_string("fuzz.yaml", yaml, size, &cfg, &diags);
    if (rc == 0) {
        FUZZ_CHECK(cfg != NULL, "loaded without a config");
        ccp_config_unref(cfg);
    } else {
        FUZZ_CHECK(diags.n > 0, "rejected (%d) without a diagnostic", rc);
        for (size_t i = 0; i < diags.n; i++)
            FUZZ_CHECK(diags.items[i].message && diags.items[i].message[0],
                       "a diagnostic without a message");
    }
    ccp_diags_free(&diags);
    free(yaml);
    return 0;
}
