/* interp.h — ${VAR} and ${VAR:-default} interpolation of config strings.
 * Internal to src/config; exposed for its unit test. */
#ifndef CCP_CONFIG_INTERP_H
#define CCP_CONFIG_INTERP_H

#include "core/buf.h"

#include <stddef.h>

/* Appends in with every ${VAR} replaced by the environment's value,
 * ${VAR:-default} by the value or, when unset or empty, the default, and
 * "$$" by "$". Returns 0; CCP_ENOTFOUND with the variable's name in var
 * when a ${VAR} without default is unset; CCP_EPARSE (var = "") for an
 * unterminated or empty ${...}. */
int ccp_interp(const char *in, ccp_buf *out, char *var, size_t var_size);

#endif
