/* addrguard.c — internal address classes for the SSRF guard (see
 * addrguard.h). */
#include "upstream/addrguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *v4_kind(uint32_t a)
{
    if (a == 0xA9FEA9FEu) return "cloud metadata"; /* 169.254.169.254 */
    if ((a >> 24) == 127) return "loopback";
    if ((a >> 24) == 0) return "unspecified"; /* 0.0.0.0 reaches the local host on Linux */
    if ((a >> 24) == 10 || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8) return "private";
    if ((a >> 16) == 0xA9FE) return "link-local";
    /* 100.64.0.0/10: carrier-grade NAT, and the inside of some clouds
     * (Alibaba's metadata service is 100.100.100.200). */
    if ((a >> 22) == (0x64400000u >> 22)) return "shared (CGNAT)";
    if ((a >> 28) >= 0xE || a == 0xFFFFFFFFu) return "multicast or reserved";
    return NULL;
}

const char *ccp_addr_internal(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_kind(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family != AF_INET6) return "not an IP address";
    const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (!memcmp(b, v4mapped, 12) || !memcmp(b, nat64, 12)) {
        uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
        return v4_kind(a);
    }
    static const unsigned char ec2[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0,    0,
                                          0,    0, 0,    0,    0, 0, 0x02, 0x54};
    if (!memcmp(b, ec2, 16)) return "cloud metadata"; /* fd00:ec2::254 */
    static const unsigned char zero[15] = {0};
    if (!memcmp(b, zero, 15)) return b[15] == 1 ? "loopback" : b[15] == 0 ? "unspecified" : NULL;
    if ((b[0] & 0xfe) == 0xfc) return "private";                    /* fc00::/7, unique local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local"; /* fe80::/10 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "private";    /* fec0::/10, site-local */
    if (b[0] == 0xff) return "multicast or reserved";
    return NULL;
}

void ccp_addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)cap)) snprintf(out, cap, "?");
}
