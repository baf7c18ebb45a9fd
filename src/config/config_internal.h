/* config_internal.h — what the files of src/config share and nobody else
 * needs. */
#ifndef CCP_CONFIG_INTERNAL_H
#define CCP_CONFIG_INTERNAL_H

#include "config/config.h"

/* Loads YAML text; env_default marks the embedded default, whose providers
 * are left out (not reported) when their key variable is unset. */
int ccp_config_load_yaml(const char *name, const char *yaml, size_t len, bool env_default,
                         ccp_config **out, ccp_diags *diags);

/* Frees what a provider owns (not p itself). */
void ccp_provider_free(ccp_provider *p);

#endif
