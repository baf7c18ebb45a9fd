/* browser.h — keeps web pages from using the proxy.
 *
 * A page in the user's browser can POST to http://127.0.0.1:3456 (a "simple"
 * cross-origin request needs no CORS preflight), and with DNS rebinding it
 * can even read the answers, spending the user's provider keys. Three
 * checks stop that, each pure so they can be tested alone:
 *  - the Host header must name the address ccproxy listens on (or an
 *    allowed host): a rebound name does not;
 *  - a request a browser marks as coming from a page (Origin, or
 *    Sec-Fetch-Site: cross-site) is refused unless its origin is allowed;
 *  - a POST body must be declared application/json, which a page cannot
 *    send cross-origin without a preflight ccproxy never grants. */
#ifndef CCP_GUARD_BROWSER_H
#define CCP_GUARD_BROWSER_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ccp_browser_policy {
    const char *bind_host;              /* the address bound (server.host or --host) */
    int port;                           /* the port listened on */
    const ccp_strlist *allowed_hosts;   /* server.allowed_hosts */
    const ccp_strlist *allowed_origins; /* server.allowed_origins */
} ccp_browser_policy;

/* True for 0.0.0.0, :: and other all-zero addresses. */
bool ccp_browser_host_is_wildcard(const char *bind_host);
/* True for 127.0.0.0/8, ::1 and "localhost". */
bool ccp_browser_host_is_loopback(const char *bind_host);

/* Checks the Host header (NULL when absent: allowed, as only non-browser
 * HTTP/1.0 clients omit it). Returns true if allowed; else writes the
 * reason into msg. */
bool ccp_browser_check_host(const ccp_browser_policy *p, const char *host, char *msg, size_t cap);
/* Checks Origin and Sec-Fetch-Site (each NULL when absent). Returns true if
 * allowed; else writes the reason into msg. */
bool ccp_browser_check_origin(const ccp_browser_policy *p, const char *origin,
                              const char *sec_fetch_site, char *msg, size_t cap);
/* True if a Content-Type value is application/json, with or without
 * parameters (e.g. "application/json; charset=utf-8"). */
bool ccp_browser_is_json(const char *content_type);

#endif
