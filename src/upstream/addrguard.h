/* addrguard.h — which network addresses a provider connection may not
 * reach unless its config says it is local (the SSRF guard).
 *
 * The check is made on the address curl is about to connect to, after DNS
 * (upstream.c's open-socket callback), so a host name that resolves to an
 * internal address — by misconfiguration, a hijacked record or DNS
 * rebinding — cannot be used to reach the inside of a network. */
#ifndef CCP_UPSTREAM_ADDRGUARD_H
#define CCP_UPSTREAM_ADDRGUARD_H

#include <stddef.h>
#include <sys/socket.h>

/* The kind of internal address sa is ("loopback", "private", "link-local",
 * "cloud metadata", "shared (CGNAT)", "unspecified", "multicast or
 * reserved"), or NULL for a public address. IPv4-mapped and NAT64 IPv6
 * addresses are judged by the IPv4 address they carry. */
const char *ccp_addr_internal(const struct sockaddr *sa);

/* The address as text ("10.0.0.1", "fd00::1") into out. */
void ccp_addr_text(const struct sockaddr *sa, char *out, size_t cap);

#endif
