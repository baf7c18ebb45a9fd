/* interp.c — ${VAR} / ${VAR:-default} expansion (see interp.h). */
#include "config/interp.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ccp_interp(const char *in, ccp_buf *out, char *var, size_t var_size)
{
    if (var_size) var[0] = '\0';
    const char *p = in;
    while (*p) {
        const char *d = strchr(p, '$');
        if (!d) {
            ccp_buf_appends(out, p);
            break;
        }
        ccp_buf_append(out, p, (size_t)(d - p));
        if (d[1] == '$') {
            ccp_buf_appendc(out, '$');
            p = d + 2;
            continue;
        }
        if (d[1] != '{') {
            ccp_buf_appendc(out, '$');
            p = d + 1;
            continue;
        }
        const char *close = strchr(d + 2, '}');
        if (!close) return CCP_EPARSE;
        const char *name = d + 2;
        const char *sep = strstr(name, ":-");
        if (sep && sep > close) sep = NULL;
        size_t nlen = (size_t)((sep ? sep : close) - name);
        if (nlen == 0 || nlen >= 256) return CCP_EPARSE;
        char vname[256];
        memcpy(vname, name, nlen);
        vname[nlen] = '\0';
        const char *val = getenv(vname);
        if (sep) {
            if (val && *val)
                ccp_buf_appends(out, val);
            else
                ccp_buf_append(out, sep + 2, (size_t)(close - sep - 2));
        } else if (val) {
            ccp_buf_appends(out, val);
        } else {
            snprintf(var, var_size, "%s", vname);
            return CCP_ENOTFOUND;
        }
        p = close + 1;
    }
    if (!out->data) ccp_buf_reserve(out, 0);
    return 0;
}
