/* error.h — error codes and the error record every fallible call fills.
 *
 * Functions return 0 on success and a negative CCP_E* code on failure; the
 * human message goes into a ccp_error the caller passed (may be NULL). */
#ifndef CCP_CORE_ERROR_H
#define CCP_CORE_ERROR_H

enum {
    CCP_OK = 0,
    CCP_EINVAL = -1, /* bad input from a client or caller */
    CCP_ENOMEM = -2,
    CCP_EIO = -3,       /* OS-level I/O failure */
    CCP_ECONFIG = -4,   /* configuration is invalid */
    CCP_EPARSE = -5,    /* malformed JSON, SSE, YAML, HTTP */
    CCP_EUPSTREAM = -6, /* the upstream failed or sent something unusable */
    CCP_ETIMEOUT = -7,
    CCP_ECANCELED = -8,
    CCP_ELIMIT = -9, /* a size or count limit was exceeded */
    CCP_ENOTFOUND = -10,
    CCP_EUNSUPPORTED = -11,
};

typedef struct ccp_error {
    int code;
    char msg[512];
} ccp_error;

/* Records code and a printf-style message in err (if non-NULL); returns code so
 * that callers can write `return ccp_error_set(err, CCP_EINVAL, "...")`. */
int ccp_error_set(ccp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A static name for a code ("EINVAL", ...). */
const char *ccp_error_name(int code);

#endif
