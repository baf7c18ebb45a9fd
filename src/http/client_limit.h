/* client_limit.h — per-client-address limits shared by every worker:
 * open connections (server.max_connections_per_client) and a request rate
 * (server.client_rate_limit, a token bucket).
 *
 * A client is its address: an IPv4 address, or the /64 an IPv6 address is
 * in (one host commonly holds a whole /64, so counting single IPv6
 * addresses would let it take 2^64 shares). The table is split into shards,
 * each with its own lock, so workers accepting at once rarely wait on one
 * another; an entry lives while its client has a connection open or its
 * bucket is not yet full again, so memory follows the clients active now. */
#ifndef CCP_HTTP_CLIENT_LIMIT_H
#define CCP_HTTP_CLIENT_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct ccp_client_table ccp_client_table;

/* A client's key: 16 bytes (IPv4 as ::ffff:a.b.c.d, IPv6 cut to its /64). */
typedef struct ccp_client_addr {
    unsigned char b[16];
} ccp_client_addr;

/* Fills a from a peer address; false for a family that is neither. */
bool ccp_client_addr_of(const struct sockaddr *sa, ccp_client_addr *a);
/* The address as text ("192.0.2.7", "2001:db8::/64") for logs. */
void ccp_client_addr_text(const ccp_client_addr *a, char *out, size_t cap);

/* A table enforcing max_conns open connections per client (0 = no cap)
 * and rate requests per rate_ms per client (0 = no rate limit). Caller
 * frees it after the server has stopped. */
ccp_client_table *ccp_client_table_new(int max_conns, int rate, uint32_t rate_ms);
void ccp_client_table_free(ccp_client_table *t);

/* A connection from a opens: true if it may stay (it is then counted until
 * ccp_client_conn_close), false if a already has max_conns open (counted in
 * the refused total). */
bool ccp_client_conn_open(ccp_client_table *t, const ccp_client_addr *a);
void ccp_client_conn_close(ccp_client_table *t, const ccp_client_addr *a);

/* A request from a at now_ms (a monotonic clock): true if it may go on,
 * false if a's bucket is empty, with *retry_after_s (at least 1) saying
 * when the next token is there. Always true without a rate limit. */
bool ccp_client_rate_take(ccp_client_table *t, const ccp_client_addr *a, uint64_t now_ms,
                          uint32_t *retry_after_s);

/* Totals since start, for /metrics. */
uint64_t ccp_client_refused_connections(const ccp_client_table *t);
uint64_t ccp_client_limited_requests(const ccp_client_table *t);

/* True once per 10 s across all workers (now_ms monotonic): a burst of
 * refused connections is logged once, not once per connection. */
bool ccp_client_should_log(ccp_client_table *t, uint64_t now_ms);

#endif
