/* error.c — filling ccp_error records. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

int ccp_error_set(ccp_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *ccp_error_name(int code)
{
    switch (code) {
    case CCP_OK:
        return "OK";
    case CCP_EINVAL:
        return "EINVAL";
    case CCP_ENOMEM:
        return "ENOMEM";
    case CCP_EIO:
        return "EIO";
    case CCP_ECONFIG:
        return "ECONFIG";
    case CCP_EPARSE:
        return "EPARSE";
    case CCP_EUPSTREAM:
        return "EUPSTREAM";
    case CCP_ETIMEOUT:
        return "ETIMEOUT";
    case CCP_ECANCELED:
        return "ECANCELED";
    case CCP_ELIMIT:
        return "ELIMIT";
    case CCP_ENOTFOUND:
        return "ENOTFOUND";
    case CCP_EUNSUPPORTED:
        return "EUNSUPPORTED";
    }
    return "EUNKNOWN";
}
