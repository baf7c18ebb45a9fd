/* interp.h — ${VAR}, ${VAR:-default} and ${file:/path} interpolation of
 * config strings. Internal to src/config; exposed for its unit test. */
#ifndef CCP_CONFIG_INTERP_H
#define CCP_CONFIG_INTERP_H

#include "core/buf.h"

#include <stddef.h>

/* Appends in with every ${VAR} replaced by the environment's value,
 * ${VAR:-default} by the value or, when unset or empty, the default, and
 * "$$" by "$". Returns 0; CCP_ENOTFOUND with the variable's name in var
 * when a ${VAR} without default is unset; CCP_EPARSE (var = "") for an
 * unterminated or empty ${...}.
 *
 * ${file:/path} is the content of that file with trailing line breaks
 * removed (Docker and Kubernetes secrets). The file must be a regular file
 * of at most 64 KiB with no permission for group or others: otherwise
 * CCP_EIO (missing, unreadable) or CCP_EINVAL (permissions, size, a NUL
 * byte, a relative path), with a message naming the path (never the
 * content) in var. On any error out may hold part of the text: the caller
 * wipes it (explicit_bzero of data, cap bytes). */
int ccp_interp(const char *in, ccp_buf *out, char *var, size_t var_size);

#endif
