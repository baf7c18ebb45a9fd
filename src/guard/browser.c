/* browser.c — the Host, Origin and Content-Type checks (see browser.h). */
#include "guard/browser.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool ccp_browser_host_is_wildcard(const char *h)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, h, a) == 1) return !memcmp(a, "\0\0\0\0", 4);
    if (inet_pton(AF_INET6, h, a) == 1) {
        static const unsigned char zero[16];
        return !memcmp(a, zero, 16);
    }
    return false;
}

bool ccp_browser_host_is_loopback(const char *h)
{
    unsigned char a[16];
    if (!strcasecmp(h, "localhost")) return true;
    if (inet_pton(AF_INET, h, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, h, a) == 1) {
        static const unsigned char one[16] = {[15] = 1};
        return !memcmp(a, one, 16);
    }
    return false;
}

/* Splits a Host value into its name (brackets of an IPv6 literal removed)
 * and port (-1 if none, -2 if malformed). Returns false if malformed. */
static bool split_host(const char *v, char *name, size_t cap, long *port)
{
    const char *end, *colon;
    *port = -1;
    if (*v == '[') {
        end = strchr(v, ']');
        if (!end) return false;
        v++;
        colon = end[1] == ':' ? end + 1 : NULL;
        if (end[1] && !colon) return false;
    } else {
        colon = strchr(v, ':');
        if (colon && strchr(colon + 1, ':')) return false; /* a bare IPv6 literal */
        end = colon ? colon : v + strlen(v);
    }
    size_t n = (size_t)(end - v);
    if (n == 0 || n >= cap) return false;
    memcpy(name, v, n);
    name[n] = '\0';
    if (colon) {
        char *pe;
        *port = strtol(colon + 1, &pe, 10);
        if (pe == colon + 1 || *pe || *port < 0 || *port > 65535) return false;
    }
    return true;
}

/* True if name[:port] matches pattern (a name, optionally with :port; a
 * pattern without a port matches every port). */
static bool host_matches(const char *pattern, const char *name, long port)
{
    char pname[256];
    long pport;
    if (!split_host(pattern, pname, sizeof pname, &pport)) return false;
    if (strcasecmp(pname, name) != 0) return false;
    return pport < 0 || pport == port;
}

bool ccp_browser_check_host(const ccp_browser_policy *p, const char *host, char *msg, size_t cap)
{
    if (!host) return true;
    size_t n = p->allowed_hosts ? p->allowed_hosts->n : 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p->allowed_hosts->v[i], "*")) return true;
    /* Bound to every address (a gateway), the names clients use are not
     * known: any Host passes unless allowed_hosts narrows it. */
    if (n == 0 && ccp_browser_host_is_wildcard(p->bind_host)) return true;
    char name[256];
    long port;
    if (split_host(host, name, sizeof name, &port)) {
        /* The listening address in any of its spellings; a port, if given,
         * must be the one listened on. */
        bool port_ok = port < 0 || port == p->port;
        if (port_ok && (ccp_browser_host_is_loopback(name) || !strcasecmp(name, p->bind_host)))
            return true;
        for (size_t i = 0; i < n; i++)
            if (host_matches(p->allowed_hosts->v[i], name, port)) return true;
    }
    snprintf(msg, cap,
             "Host '%.100s' is not an address this proxy serves: a request through another "
             "name (e.g. a DNS-rebinding web page) is refused; add the name to "
             "server.allowed_hosts if clients really use it",
             host);
    return false;
}

bool ccp_browser_check_origin(const ccp_browser_policy *p, const char *origin,
                              const char *sec_fetch_site, char *msg, size_t cap)
{
    if (!origin && !(sec_fetch_site && !strcasecmp(sec_fetch_site, "cross-site"))) return true;
    size_t n = p->allowed_origins ? p->allowed_origins->n : 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = p->allowed_origins->v[i];
        if (!strcmp(a, "*")) return true;
        /* Origins compare case-insensitively (scheme and host are). */
        if (origin && !strcasecmp(a, origin)) return true;
    }
    if (origin)
        snprintf(msg, cap,
                 "requests from web pages are refused (Origin '%.100s'): a page must not spend "
                 "your provider keys; add the origin to server.allowed_origins to allow it",
                 origin);
    else
        snprintf(msg, cap,
                 "cross-site requests from web pages are refused (Sec-Fetch-Site: cross-site)");
    return false;
}

bool ccp_browser_is_json(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}
