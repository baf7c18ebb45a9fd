/* config_security.c — the `security` section (the upstream allowlist, the
 * process's memory protection) and each provider's `tls` mapping and
 * `local` flag, with the checks that need the whole config: every base_url
 * inside the allowlist, and which providers may reach internal addresses.
 *
 * The threat these settings answer is in docs/security.md: the config
 * author is trusted; clients, providers' answers and plugins are not. */
#include "config/config_internal.h"

#include "core/alloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- providers.tls ------------------------------------------------------ */

/* A file the TLS library will read at connect time: checked now, so that a
 * wrong path is a config error with its place, not a failed request. */
static void load_tls_file(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    char **out = (char **)((char *)base + k->offset);
    char what[64];
    snprintf(what, sizeof what, "providers.tls.%s", k->name);
    char *s = ccp_cfg_interp(l, v, what, NULL);
    if (!s) return;
    if (!*s || access(s, R_OK) != 0) {
        DIAG(l, v, "%s: cannot read '%s': give the path of a PEM file ccproxy can read", what, s);
        free(s);
        return;
    }
    free(*out);
    *out = s;
}

static bool valid_pin(const char *s)
{
    /* "sha256//" and the base64 of a SHA-256 digest (44 characters), one or
     * more joined by ';' as curl takes them. */
    for (;;) {
        if (strncmp(s, "sha256//", 8) != 0) return false;
        s += 8;
        size_t n = strcspn(s, ";");
        if (n != 44 || s[43] != '=') return false;
        for (size_t i = 0; i < 43; i++)
            if (!(s[i] == '+' || s[i] == '/' || (s[i] >= '0' && s[i] <= '9') ||
                  (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
                return false;
        s += n;
        if (!*s) return true;
        s++;
    }
}

static void load_pin(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_tls_config *t = base;
    char *s = ccp_cfg_interp(l, v, "providers.tls.pin_sha256", NULL);
    if (!s) return;
    if (!valid_pin(s)) {
        DIAG(l, v,
             "providers.tls.pin_sha256: expected sha256// and the base64 SHA-256 of the "
             "server's public key (openssl x509 -pubkey -noout | openssl pkey -pubin -outform der "
             "| openssl dgst -sha256 -binary | base64), several joined by ';'");
        free(s);
        return;
    }
    free(t->pin_sha256);
    t->pin_sha256 = s;
}

static const char *const tls_versions[] = {[CCP_TLS_1_2] = "1.2", [CCP_TLS_1_3] = "1.3", NULL};

#define TLS(f) offsetof(ccp_tls_config, f)
static const ccp_key tls_keys[] = {
    {.name = "ca_file",
     .type = CCP_KEY_CUSTOM,
     .offset = TLS(ca_file),
     .load = load_tls_file,
     .doc_type = "path",
     .doc_def = "the system's CAs",
     .help = "PEM file of the CA certificates that may sign the provider's certificate (a "
             "private CA); it replaces the system's list for this provider"},
    {.name = "min_version",
     .type = CCP_KEY_ENUM,
     .offset = TLS(min_version),
     .choices = tls_versions,
     .def = "1.2",
     .help = "the oldest TLS version accepted; older servers are refused"},
    {.name = "pin_sha256",
     .type = CCP_KEY_CUSTOM,
     .load = load_pin,
     .doc_type = "`sha256//<base64>`",
     .help = "public-key pin: the connection is refused unless the server's key hashes to this "
             "(several joined by `;`), whatever CA signed it"},
    {.name = "client_cert",
     .type = CCP_KEY_CUSTOM,
     .offset = TLS(client_cert),
     .load = load_tls_file,
     .doc_type = "path",
     .help = "PEM client certificate sent to the provider (mutual TLS)"},
    {.name = "client_key",
     .type = CCP_KEY_CUSTOM,
     .offset = TLS(client_key),
     .load = load_tls_file,
     .doc_type = "path",
     .doc_def = "in `client_cert`",
     .help = "the client certificate's PEM private key (unencrypted; keep it mode 0600)"},
    {.name = "insecure_skip_verify",
     .type = CCP_KEY_BOOL,
     .offset = TLS(insecure_skip_verify),
     .def = "false",
     .help = "**turns certificate and host name verification off** for this provider: anyone "
             "on the path can read the keys and answers. For a test bench only; a warning is "
             "logged at every start"},
};

const ccp_key_table ccp_cfg_tls_keys = CCP_KEYS("tls", tls_keys);

void ccp_cfg_load_tls(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_cfg_load_keys(l, v, "providers.tls", &ccp_cfg_tls_keys, &((ccp_provider *)base)->tls);
}

void ccp_cfg_tls_defaults(ccp_tls_config *t)
{
    ccp_keys_defaults(&ccp_cfg_tls_keys, t);
}

void ccp_cfg_tls_free(ccp_tls_config *t)
{
    free(t->ca_file);
    free(t->pin_sha256);
    free(t->client_cert);
    free(t->client_key);
    memset(t, 0, sizeof *t);
}

/* ---- security ------------------------------------------------------------ */

/* An allowlist entry: a host name, "*." and a domain, an IPv4 address or a
 * bracketed IPv6 one, each with an optional ":port". */
static bool valid_upstream_pattern(const char *s)
{
    if (!*s || strpbrk(s, " \t/?#@")) return false;
    if (s[0] == '[') return strchr(s, ']') != NULL;
    const char *colon = strchr(s, ':');
    if (colon) {
        if (strchr(colon + 1, ':') || !colon[1]) return false;
        for (const char *p = colon + 1; *p; p++)
            if (*p < '0' || *p > '9') return false;
    }
    const char *star = strchr(s, '*');
    return !star || (star == s && s[1] == '.' && !strchr(s + 1, '*'));
}

static void load_allowed_upstreams(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_security_config *sec = base;
    if (v->type != YAML_SEQUENCE_NODE) {
        DIAG(l, v,
             "security.allowed_upstreams: expected a list, e.g. [api.anthropic.com, "
             "\"*.openai.azure.com\", \"10.0.0.5:8080\"]");
        return;
    }
    ccp_strlist_free(&sec->allowed_upstreams);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *n = ccp_cfg_node(l, *it);
        const char *s = ccp_cfg_scalar(n);
        if (!s || !valid_upstream_pattern(s)) {
            DIAG(l, n,
                 "security.allowed_upstreams: each entry is a host name, *.domain, an address "
                 "([v6] for IPv6), optionally with :port, e.g. api.openai.com or "
                 "\"*.openai.azure.com:443\"");
            continue;
        }
        ccp_strlist *out = &sec->allowed_upstreams;
        out->v = ccp_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = ccp_xstrdup(s);
    }
}

#define SEC(f) offsetof(ccp_security_config, f)
static const ccp_key security_keys[] = {
    {.name = "allowed_upstreams",
     .type = CCP_KEY_CUSTOM,
     .load = load_allowed_upstreams,
     .doc_type = "list of host patterns",
     .doc_def = "the hosts the config names",
     .help = "the only hosts a provider's `base_url` may name: `api.openai.com`, "
             "`*.openai.azure.com` (any subdomain), `10.0.0.5:8080` (that port only); a "
             "`base_url` outside the list is a config error. Guards against a config edited "
             "by someone (or something) that should not choose where keys are sent"},
    {.name = "protect_memory",
     .type = CCP_KEY_BOOL,
     .offset = SEC(protect_memory),
     .def = "true",
     .help = "`ccproxy serve` marks itself not dumpable: no core file holds the keys, and "
             "other processes of the same user cannot read its memory. `false` to debug it"},
};

const ccp_key_table ccp_cfg_security_keys = CCP_KEYS("security", security_keys);

void ccp_cfg_security_defaults(ccp_security_config *s)
{
    ccp_keys_defaults(&ccp_cfg_security_keys, s);
}

void ccp_cfg_security_free(ccp_security_config *s)
{
    ccp_strlist_free(&s->allowed_upstreams);
}

/* ---- checks on the whole config ----------------------------------------- */

/* base_url's host (lower-case, IPv6 without brackets) and port. */
static bool url_host_port(const char *url, char *host, size_t cap, long *port)
{
    CURLU *u = curl_url();
    char *h = NULL, *p = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK;
    if (ok) {
        const char *s = h;
        size_t n = strlen(s);
        if (n >= 2 && s[0] == '[' && s[n - 1] == ']') s++, n -= 2;
        ok = n < cap;
        if (ok) {
            for (size_t i = 0; i < n; i++)
                host[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
            host[n] = '\0';
            *port = strtol(p, NULL, 10);
        }
    }
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return ok;
}

bool ccp_cfg_upstream_allowed(const ccp_strlist *patterns, const char *host, long port)
{
    if (!patterns->n) return true;
    for (size_t i = 0; i < patterns->n; i++) {
        const char *pat = patterns->v[i];
        char ph[256];
        long pport = -1;
        const char *colon;
        if (pat[0] == '[') {
            const char *close = strchr(pat, ']');
            snprintf(ph, sizeof ph, "%.*s", (int)(close - pat - 1), pat + 1);
            colon = close[1] == ':' ? close + 1 : NULL;
        } else {
            colon = strchr(pat, ':');
            snprintf(ph, sizeof ph, "%.*s", (int)(colon ? (size_t)(colon - pat) : strlen(pat)),
                     pat);
        }
        if (colon) pport = strtol(colon + 1, NULL, 10);
        if (pport >= 0 && pport != port) continue;
        if (ph[0] == '*') {
            /* "*.example.com": a subdomain of it, not example.com itself. */
            size_t hl = strlen(host), sl = strlen(ph + 1);
            if (hl > sl && !strcasecmp(host + hl - sl, ph + 1)) return true;
        } else if (!strcasecmp(host, ph)) {
            return true;
        }
    }
    return false;
}

/* The operator named an internal address in base_url: an IP literal, or
 * localhost. A name that merely resolves to one does not count: that is
 * what a DNS rebinding or a hijacked record would look like. */
static bool names_internal_address(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1 ||
           !strcmp(host, "localhost") || !strcmp(host, "localhost.");
}

void ccp_cfg_security_finish(loader *l)
{
    ccp_config *c = l->cfg;
    for (size_t i = 0; i < c->n_providers; i++) {
        ccp_provider *p = &c->providers[i];
        char host[256];
        long port = 0;
        if (!url_host_port(p->base_url, host, sizeof host, &port)) {
            ccp_cfg_diag(l, p->base_url_line, p->base_url_col,
                         "providers.base_url: '%s' has no host name ccproxy can read", p->base_url);
            continue;
        }
        p->allow_internal = p->local || names_internal_address(host);
        if (!ccp_cfg_upstream_allowed(&c->security.allowed_upstreams, host, port))
            ccp_cfg_diag(l, p->base_url_line, p->base_url_col,
                         "providers.base_url: %s:%ld is not in security.allowed_upstreams; add "
                         "\"%s\" there if provider '%s' may be sent requests and keys",
                         host, port, host, p->name);
        if (p->tls.client_key && !p->tls.client_cert)
            ccp_cfg_diag(l, p->base_url_line, p->base_url_col,
                         "provider '%s': tls.client_key needs tls.client_cert", p->name);
    }
}
