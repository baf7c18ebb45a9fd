/* import_ccr.h — converts a claude-code-router (v1/v2) config.json into a
 * ccproxy config (import_ccr.c); `ccproxy import-ccr` is its front end. */
#ifndef CCP_CONFIG_IMPORT_CCR_H
#define CCP_CONFIG_IMPORT_CCR_H

#include "core/buf.h"
#include "core/error.h"

/* Converts json[0..len). On success returns 0, appends the YAML to yaml and
 * to report one "- ..." line per thing that has no exact equivalent (what
 * it was, and what to do instead). Never copies a key into either: a key
 * written in the file becomes ${VAR} and the report says which variable to
 * export. CCP_EPARSE / CCP_EINVAL with err set when the input is no ccr
 * config. */
int ccp_import_ccr(const char *json, size_t len, ccp_buf *yaml, ccp_buf *report, ccp_error *err);

#endif
