/* headers.h — a request header as the layers above HTTP see it. */
#ifndef CCP_CORE_HEADERS_H
#define CCP_CORE_HEADERS_H

/* A header of the inbound request: name lower-cased. Borrowed. */
typedef struct ccp_header_view {
    const char *name;
    const char *value;
} ccp_header_view;

#endif
