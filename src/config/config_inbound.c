/* config_inbound.c — what the server takes from its clients: `server.tls`
 * (HTTPS on the listener) and `server.client_rate_limit`.
 *
 * The rows here declare the keys of the `server.tls` mapping; the server
 * section's own table (config_load.c) names this file's loaders. The
 * runtime is in src/http/tls_server.c and src/http/client_limit.c. */
#include "config/config.h"

#include "config/config_internal.h"
#include "core/alloc.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const min_versions[] = {"1.2", "1.3", NULL}; /* ccp_tls_min's order */

#define TLS(f) offsetof(ccp_server_tls_config, f)
static const ccp_key server_tls_keys[] = {
    {.name = "cert_file",
     .type = CCP_KEY_STR,
     .offset = TLS(cert_file),
     .min = 1,
     .required = true,
     .help = "the PEM certificate, followed by its intermediates (a full chain such as Let's "
             "Encrypt's `fullchain.pem`); read at start and on reload"},
    {.name = "key_file",
     .type = CCP_KEY_STR,
     .offset = TLS(key_file),
     .min = 1,
     .required = true,
     .help = "the PEM private key of that certificate (unencrypted; a warning is logged when "
             "group or others may read it)"},
    {.name = "min_version",
     .type = CCP_KEY_ENUM,
     .offset = TLS(min_version),
     .def = "1.2",
     .choices = min_versions,
     .help = "the oldest TLS version accepted; a client offering only older ones fails the "
             "handshake (`protocol_version` alert). TLS 1.0 and 1.1 are never accepted"},
    {.name = "admin",
     .type = CCP_KEY_BOOL,
     .offset = TLS(admin),
     .def = "false",
     .help = "the admin listener (`server.admin_listen`) serves HTTPS too, with the same "
             "certificate; by default it stays plain HTTP, meant for a private address"},
};
const ccp_key_table ccp_cfg_server_tls_keys = CCP_KEYS("server.tls", server_tls_keys);

void ccp_cfg_load_server_tls(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    (void)k;
    ccp_server_tls_config *t = &((ccp_server_config *)base)->tls;
    if (v->type != YAML_MAPPING_NODE) {
        DIAG(l, v,
             "server.tls: expected a mapping, e.g. {cert_file: /etc/ccproxy/cert.pem, key_file: "
             "/etc/ccproxy/key.pem}");
        return;
    }
    ccp_keys_free(&ccp_cfg_server_tls_keys, t);
    ccp_keys_defaults(&ccp_cfg_server_tls_keys, t);
    ccp_cfg_load_keys(l, v, "server.tls", &ccp_cfg_server_tls_keys, t);
    if (!t->cert_file || !t->key_file)
        DIAG(l, v, "server.tls: both cert_file and key_file are needed to serve HTTPS");
}

/* "N/s" or "N/m" (also "N/sec", "N/min"): N requests per second or
 * minute, N in 1..1000000. */
void ccp_cfg_load_client_rate(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    (void)k;
    ccp_server_config *s = base;
    char *text = ccp_cfg_interp(l, v, "server.client_rate_limit", NULL);
    if (!text) return;
    char *end = NULL;
    long n = strtol(text, &end, 10);
    uint32_t ms = 0;
    if (end && end != text && *end == '/') {
        const char *u = end + 1;
        if (!strcmp(u, "s") || !strcmp(u, "sec") || !strcmp(u, "second"))
            ms = 1000;
        else if (!strcmp(u, "m") || !strcmp(u, "min") || !strcmp(u, "minute"))
            ms = 60000;
    }
    if (!ms || n < 1 || n > 1000000)
        DIAG(l, v,
             "server.client_rate_limit: expected requests per second or minute as N/s or N/m "
             "(N from 1 to 1000000), e.g. 10/s or 600/m");
    else {
        s->client_rate = (int)n;
        s->client_rate_ms = ms;
    }
    free(text);
}
