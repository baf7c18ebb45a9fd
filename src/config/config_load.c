/* config_load.c — YAML text to a validated ccp_config.
 *
 * libyaml builds a node tree whose every node carries its line and column;
 * the walk below checks each key against the tables of known keys and
 * collects every problem (not just the first) as a diagnostic naming the
 * place and the fix. Values of secrets are never quoted in diagnostics. */
#include "config/config.h"

#include "config/config_internal.h"
#include "config/interp.h"
#include "config/keys.h"
#include "codec/codec.h"
#include "core/alloc.h"
#include "core/error.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* True if a provider of this name was left out because of its own errors:
 * a router target naming it is then not reported a second time. */
bool ccp_cfg_was_rejected(const loader *l, const char *name)
{
    for (size_t off = 0; off < l->rejected.len; off += strlen(l->rejected.data + off) + 1)
        if (strcmp(l->rejected.data + off, name) == 0) return true;
    return false;
}

void ccp_cfg_diag(loader *l, int line, int col, const char *fmt, ...)
{
    ccp_buf b = CCP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ccp_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    ccp_diags *d = l->diags;
    d->items = ccp_xrealloc(d->items, (d->n + 1) * sizeof *d->items);
    d->items[d->n++] = (ccp_diag){ccp_xstrdup(l->file), line, col, ccp_buf_detach(&b, NULL)};
}

yaml_node_t *ccp_cfg_node(loader *l, int idx)
{
    return yaml_document_get_node(&l->doc, idx);
}

const char *ccp_cfg_scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

/* The known key closest to key, if close enough to be a likely typo. */
const char *ccp_cfg_suggest(const char *key, const char *const *known, size_t n)
{
    if (!key) return NULL;
    const char *best = NULL;
    size_t bestd = 99;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(key, known[i]);
        if (d < bestd) bestd = d, best = known[i];
    }
    size_t limit = strlen(key) / 3 + 1;
    return bestd <= (limit < 3 ? limit : 3) ? best : NULL;
}

void ccp_cfg_unknown_key(loader *l, yaml_node_t *k, const char *where, const char *const *known,
                         size_t n)
{
    const char *key = ccp_cfg_scalar(k);
    if (!key) {
        /* YAML allows a mapping or a list as a key ("? [a, b]: v"); no
         * config key is one (found by fuzzing, tests/fuzz/crashes/config). */
        DIAG(l, k, "a key in %s must be a plain name, not a %s", where,
             k && k->type == YAML_MAPPING_NODE ? "mapping" : "list");
        return;
    }
    const char *s = ccp_cfg_suggest(key, known, n);
    ccp_buf list = CCP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i) ccp_buf_appends(&list, ", ");
        ccp_buf_appends(&list, known[i]);
    }
    if (s)
        DIAG(l, k, "unknown key '%s' in %s: did you mean '%s'?", key, where, s);
    else
        DIAG(l, k, "unknown key '%s' in %s; known keys: %s", key, where, list.data);
    ccp_buf_free(&list);
}

/* ---- tables of keys ---------------------------------------------------- */

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const echo_models[] = {"client", "upstream", NULL}; /* ccp_echo_model's order */
static const char *const log_formats[] = {"text", "json", NULL};       /* ccp_log_format's order */

/* "name" or "name:port" or "[v6]:port", or "*": what a Host header may be. */
static bool valid_host_entry(const char *s)
{
    if (!strcmp(s, "*")) return true;
    return *s && !strpbrk(s, "/ \t@?#,*");
}

/* "scheme://host[:port]" with no path, or "null" or "*": what an Origin
 * header may be. */
static bool valid_origin_entry(const char *s)
{
    if (!strcmp(s, "*") || !strcmp(s, "null")) return true;
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || strpbrk(s, " \t")) return false;
    const char *host = sep + 3;
    return *host && !strchr(host, '/') && !strpbrk(host, "?#@*");
}

/* server.allowed_hosts / allowed_origins: a list of patterns into the
 * ccp_strlist at k's offset. */
static void load_pattern_list(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_strlist *out = (ccp_strlist *)((char *)base + k->offset);
    bool hosts = !strcmp(k->name, "allowed_hosts");
    if (v->type != YAML_SEQUENCE_NODE) {
        DIAG(l, v, "server.%s: expected a list, e.g. [%s]", k->name,
             hosts ? "proxy.internal, \"proxy.internal:3456\"" : "\"https://app.example.com\"");
        return;
    }
    ccp_strlist_free(out);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *n = ccp_cfg_node(l, *it);
        const char *s = ccp_cfg_scalar(n);
        if (!(s && (hosts ? valid_host_entry(s) : valid_origin_entry(s)))) {
            if (hosts)
                DIAG(l, n,
                     "server.%s: each entry is a host name or address, optionally with :port "
                     "(e.g. proxy.internal or 10.0.0.5:3456), or \"*\" for any",
                     k->name);
            else
                DIAG(l, n,
                     "server.%s: each entry is an origin scheme://host[:port] without a path "
                     "(e.g. https://app.example.com), \"null\", or \"*\" for any",
                     k->name);
            continue;
        }
        out->v = ccp_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = ccp_xstrdup(s);
    }
}

/* server.admin_listen: "host:port", checked here so that a typo is a
 * config error with its place, not a failure at start. */
static void load_hostport(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    char **out = (char **)((char *)base + k->offset);
    const char *s = ccp_cfg_scalar(v);
    char host[256];
    int port;
    if (!s || !ccp_parse_hostport(s, host, sizeof host, &port)) {
        DIAG(l, v,
             "server.%s: expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464 (port 0 picks a "
             "free one)",
             k->name);
        return;
    }
    free(*out);
    *out = ccp_xstrdup(s);
}

#define SRV(f) offsetof(ccp_server_config, f)
static const ccp_key server_keys[] = {
    {.name = "host",
     .type = CCP_KEY_STR,
     .offset = SRV(host),
     .def = "127.0.0.1",
     .min = 1,
     .help = "address to bind (numeric IPv4/IPv6, or `localhost`); `0.0.0.0` exposes it to the "
             "network"},
    {.name = "port",
     .type = CCP_KEY_INT,
     .offset = SRV(port),
     .def = "3456",
     .max = 65535,
     .help = "`0` picks a free port (printed at start)"},
    {.name = "workers",
     .type = CCP_KEY_INT,
     .offset = SRV(workers),
     .def = "0",
     .max = 1024,
     .help = "worker threads, each with its own event loop sharing the port (`SO_REUSEPORT`); "
             "`0` = one per core"},
    {.name = "max_body_bytes",
     .type = CCP_KEY_SIZE,
     .offset = SRV(max_body_bytes),
     .def = "32MiB",
     .min = 1024,
     .max = 1LL << 32,
     .help = "larger request bodies get `413 request_too_large`"},
    {.name = "max_header_bytes",
     .type = CCP_KEY_SIZE,
     .offset = SRV(max_header_bytes),
     .def = "64KiB",
     .min = 1024,
     .max = 1 << 24,
     .help = "larger request heads get `431`"},
    {.name = "max_headers",
     .type = CCP_KEY_INT,
     .offset = SRV(max_headers),
     .def = "100",
     .min = 8,
     .max = 100000,
     .help = "a request head with more header fields gets `431`: each costs memory and a "
             "lookup however short it is (`a:` is two bytes of `max_header_bytes`). Claude Code "
             "and the SDKs send about 20"},
    {.name = "max_json_elements",
     .type = CCP_KEY_INT,
     .offset = SRV(max_json_elements),
     .def = "500000",
     .min = 1000,
     .max = 100000000,
     .help = "a request body with more JSON values than this (every object, array, string, "
             "number, `true`, `false`, `null`; member names not counted) gets `400 "
             "invalid_request_error` before it is built in memory. Each value costs some 350 "
             "bytes once parsed, so this bounds a request's memory where `max_body_bytes` cannot "
             "(14 MB of tiny messages is a million values and took 375 MiB). A Claude "
             "Code–shaped request holds one value per ~130 bytes (2,300 in 300 KB), so even a 32 "
             "MiB one stays well under the default"},
    {.name = "header_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = SRV(header_timeout_ms),
     .def = "10000",
     .min = 1,
     .max = MS_MAX,
     .help = "a request head must arrive within this time of its first byte (and a new "
             "connection must start one); else `408` and close"},
    {.name = "idle_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = SRV(idle_timeout_ms),
     .def = "60000",
     .min = 1,
     .max = MS_MAX,
     .help = "an idle keep-alive connection is closed after this; a request body that stalls "
             "this long gets `408`"},
    {.name = "body_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = SRV(body_timeout_ms),
     .def = "60000",
     .min = 1,
     .max = MS_MAX,
     .help = "the whole request body must arrive within this time of the end of the head (a "
             "body dribbled a byte at a time is cut off); else `408` and close"},
    {.name = "drain_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = SRV(drain_timeout_ms),
     .def = "10000",
     .max = MS_MAX,
     .help = "on SIGINT/SIGTERM, in-flight requests get this long to finish; then a stream "
             "still open gets an SSE `error` event (`overloaded_error`, \"ccproxy is shutting "
             "down\"), a request not yet answered a `529 overloaded_error`, and the connections "
             "close (see [Limits and overload](#limits-and-overload))"},
    {.name = "write_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = SRV(write_timeout_ms),
     .def = "60000",
     .min = 1,
     .max = MS_MAX,
     .help = "a client that reads nothing of its answer for this long while bytes wait to reach "
             "it is dropped and its upstream transfer cancelled (checked once per period, so "
             "it goes after one to two periods of not reading)"},
    {.name = "max_connections",
     .type = CCP_KEY_INT,
     .offset = SRV(max_connections),
     .def = "0",
     .max = 10000000,
     .help = "open client connections across all workers; past it a new connection is "
             "accepted, answered `503 overloaded_error` once its request head is in, and "
             "closed. `0` = no cap (the open-file limit still bounds it)"},
    {.name = "max_connections_per_client",
     .type = CCP_KEY_INT,
     .offset = SRV(max_connections_per_client),
     .def = "0",
     .max = 10000000,
     .help = "open connections from one client address (IPv4, or IPv6 /64), all workers; past "
             "it a new connection is closed at once, counted in "
             "`ccproxy_client_connections_refused_total` and logged once per burst. Keeps one "
             "client (a connection flood, many slowloris connections) from taking every "
             "connection. `0` = no cap (see [Limits and overload](#limits-and-overload))"},
    {.name = "client_rate_limit",
     .type = CCP_KEY_CUSTOM,
     .offset = SRV(client_rate),
     .load = ccp_cfg_load_client_rate,
     .doc_type = "`N/s` or `N/m`",
     .doc_def = "none",
     .help = "requests per client address (IPv4, or IPv6 /64), counted by a token bucket of "
             "`N` shared by all workers and refilled at `N` per second (`/s`) or minute (`/m`); "
             "a request over it gets `429 rate_limit_error` with `retry-after`. Applies to "
             "every request on the main listener, with or without proxy keys"},
    {.name = "log_level",
     .type = CCP_KEY_ENUM,
     .offset = SRV(log_level),
     .def = "info",
     .choices = log_levels,
     .help = "`info` logs one line per request (the access log); a value a client controls "
             "(path, model, route) is written in double quotes with `\"`, `\\` and control "
             "characters escaped (`\\x0a`) when it holds anything but plain characters, and cut "
             "at 256 bytes; `debug` adds what happened along the way (see [Logging](#logging)); "
             "`--log-level` overrides it"},
    {.name = "log_format",
     .type = CCP_KEY_ENUM,
     .offset = SRV(log_format),
     .def = "text",
     .choices = log_formats,
     .help = "`text`: one line of words per event; `json`: one JSON object per line with stable "
             "field names, the access line carrying request, trace and session ids, timings and "
             "tokens (see [observability](observability.md#structured-logs)); `--log-format` "
             "overrides it"},
    {.name = "metrics",
     .type = CCP_KEY_BOOL,
     .offset = SRV(metrics),
     .def = "true",
     .help = "serve Prometheus metrics at `GET /metrics` (on the admin listener when "
             "`admin_listen` is set; see [observability](observability.md#metrics))"},
    {.name = "admin_listen",
     .type = CCP_KEY_CUSTOM,
     .offset = SRV(admin_listen),
     .load = load_hostport,
     .doc_type = "`host:port`",
     .doc_def = "none",
     .help = "a second listener, on its own thread, for the operator's endpoints (`/metrics`): "
             "they are then served there and no longer on the main port, which can be exposed "
             "while this one stays private. Port `0` picks a free one (printed at start)"},
    {.name = "watch_config",
     .type = CCP_KEY_BOOL,
     .offset = SRV(watch_config),
     .def = "false",
     .help = "reload the config when its file changes (inotify on its directory, so an editor "
             "that saves by renaming is seen; debounced 300 ms), as SIGHUP or `ccproxy reload` "
             "would: a file with errors is refused and the config in force keeps serving. Read "
             "at start (see [Hot reload](#hot-reload))"},
    {.name = "session_table",
     .type = CCP_KEY_INT,
     .offset = SRV(session_table),
     .def = "1024",
     .max = 1000000,
     .help = "how many Claude Code sessions (`x-claude-code-session-id`) the proxy remembers the "
             "latest request of, for `GET /sessions/ID` and `ccproxy statusline`; the least "
             "recently active is forgotten first. About 1 KiB each; `0` = off. Read at start"},
    {.name = "echo_model",
     .type = CCP_KEY_ENUM,
     .offset = SRV(echo_model),
     .def = "client",
     .choices = echo_models,
     .help = "the `model` an answer names (in `message_start` and in a non-streaming message): "
             "`client` names the model the request asked for, `upstream` the one the provider "
             "says served it. Claude Code sends an answer's signed thinking back on the next "
             "turn only when the answer names the model it asked for, so with `upstream` a "
             "routed model loses its reasoning across tool calls. The served model is always in "
             "the `x-ccproxy-route` header and the access log"},
    {.name = "allowed_hosts",
     .type = CCP_KEY_CUSTOM,
     .offset = SRV(allowed_hosts),
     .load = load_pattern_list,
     .doc_type = "list of strings",
     .doc_def = "`[]`",
     .help = "`Host` header values accepted besides the listening address: `name` (any port) or "
             "`name:port`, `[v6]:port`, or `\"*\"` for any (see [Who may call the "
             "proxy](#who-may-call-the-proxy))"},
    {.name = "allowed_origins",
     .type = CCP_KEY_CUSTOM,
     .offset = SRV(allowed_origins),
     .load = load_pattern_list,
     .doc_type = "list of strings",
     .doc_def = "`[]`",
     .help = "origins (`scheme://host[:port]`, `\"null\"`, or `\"*\"`) whose web pages may call "
             "the proxy; none by default"},
    {.name = "tls",
     .type = CCP_KEY_CUSTOM,
     .offset = SRV(tls),
     .load = ccp_cfg_load_server_tls,
     .doc_type = "mapping",
     .doc_def = "none",
     .help = "serve HTTPS on the listener: `cert_file`, `key_file`, `min_version` (see "
             "[server.tls](#servertls) and [tls.md](tls.md))"},
};

#define UP(f) offsetof(ccp_upstream_config, f)
static const ccp_key upstream_keys[] = {
    {.name = "connect_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = UP(connect_timeout_ms),
     .def = "10000",
     .min = 1,
     .max = MS_MAX,
     .help = "TCP + TLS connect to the provider"},
    {.name = "first_byte_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = UP(first_byte_timeout_ms),
     .def = "120000",
     .min = 1,
     .max = MS_MAX,
     .help = "from sending the request (plus the connect timeout) to the response head"},
    {.name = "stream_idle_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = UP(stream_idle_timeout_ms),
     .def = "120000",
     .min = 1,
     .max = MS_MAX,
     .help = "the longest gap between two pieces of the response body"},
    {.name = "total_timeout_ms",
     .type = CCP_KEY_MS,
     .offset = UP(total_timeout_ms),
     .def = "600000",
     .max = MS_MAX,
     .help = "the whole exchange; `0` = no limit"},
    {.name = "max_response_bytes",
     .type = CCP_KEY_SIZE,
     .offset = UP(max_response_bytes),
     .def = "32MiB",
     .min = 1024,
     .max = 1LL << 32,
     .help = "the largest whole (non-streamed) answer accepted from a provider; a larger one is a "
             "`502 api_error` naming this key. A streamed answer is passed on as it arrives and "
             "is not capped in total; one of its events may hold at most 16 MiB"},
    {.name = "preconnect",
     .type = CCP_KEY_BOOL,
     .offset = UP(preconnect),
     .def = "false",
     .help = "at start-up each worker opens a connection (TCP and TLS, no request) to every "
             "provider's host and keeps it for the first request, which then does not pay the "
             "handshakes; a provider that cannot be reached is logged at debug level only"},
};

const ccp_key_table ccp_cfg_server_keys = CCP_KEYS("server", server_keys);
const ccp_key_table ccp_cfg_upstream_keys = CCP_KEYS("upstream", upstream_keys);

/* The scalar text of v, interpolated (malloc'd), or NULL with a diagnostic. */
static char *scalar_text(loader *l, yaml_node_t *v, const char *what)
{
    if (!ccp_cfg_scalar(v)) {
        DIAG(l, v, "%s: expected a single value, not a %s", what,
             v->type == YAML_MAPPING_NODE ? "mapping" : "list");
        return NULL;
    }
    return ccp_cfg_interp(l, v, what, NULL);
}

void ccp_cfg_set_key(loader *l, const ccp_key *k, void *base, yaml_node_t *v, const char *where)
{
    if (k->type == CCP_KEY_CUSTOM) {
        k->load(l, v, base, k);
        return;
    }
    char what[128];
    snprintf(what, sizeof what, "%s.%s", where, k->name);
    char *s = scalar_text(l, v, what);
    if (!s) return;
    char why[200];
    if (ccp_key_set(k, base, s, why, sizeof why) != 0) DIAG(l, v, "%s: %s", what, why);
    free(s);
}

void ccp_cfg_unknown_in(loader *l, yaml_node_t *k, const char *where, const ccp_key_table *t)
{
    const char *names[64];
    size_t n = t->n < 64 ? t->n : 64;
    for (size_t i = 0; i < n; i++)
        names[i] = t->keys[i].name;
    ccp_cfg_unknown_key(l, k, where, names, n);
}

void ccp_cfg_load_keys(loader *l, yaml_node_t *map, const char *where, const ccp_key_table *t,
                       void *base)
{
    if (map->type != YAML_MAPPING_NODE) {
        DIAG(l, map, "%s: expected a mapping of settings", where);
        return;
    }
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
        const char *key = ccp_cfg_scalar(k);
        const ccp_key *row = ccp_keys_find(t, key);
        if (!key)
            DIAG(l, k, "%s: keys must be plain names", where);
        else if (!row)
            ccp_cfg_unknown_in(l, k, where, t);
        else
            ccp_cfg_set_key(l, row, base, v, where);
    }
}

/* ---- providers --------------------------------------------------------- */

/* Interpolates a scalar; NULL (with a diagnostic unless skipping) on error.
 * *unset is set when a variable was unset. The value is never quoted. */
char *ccp_cfg_interp(loader *l, yaml_node_t *v, const char *what, bool *unset)
{
    const char *s = ccp_cfg_scalar(v);
    if (!s) {
        DIAG(l, v, "%s: expected a string", what);
        return NULL;
    }
    ccp_buf out = CCP_BUF_INIT;
    char var[4400];
    int rc = ccp_interp(s, &out, var, sizeof var);
    if (rc == 0) return ccp_buf_detach(&out, NULL);
    if (out.data) explicit_bzero(out.data, out.cap); /* may hold part of a secret */
    ccp_buf_free(&out);
    if (rc == CCP_EIO || rc == CCP_EINVAL) {
        DIAG(l, v, "%s: %s", what, var);
    } else if (rc == CCP_ENOTFOUND) {
        if (unset) *unset = true;
        if (!l->env_default)
            DIAG(l, v,
                 "%s: environment variable %s is not set; export it, or write "
                 "${%s:-default} to give a default",
                 what, var, var);
    } else {
        DIAG(l, v,
             "%s: malformed ${...}: write ${NAME}, ${NAME:-default} or ${file:/path}, and $$ "
             "for a literal $",
             what);
    }
    return NULL;
}

void ccp_cfg_load_header_map(loader *l, yaml_node_t *v, const char *where, bool *unset, ccp_kv **kv,
                             size_t *n)
{
    if (v->type != YAML_MAPPING_NODE) {
        DIAG(l, v, "%s: expected a mapping of header name to value", where);
        return;
    }
    for (yaml_node_pair_t *h = v->data.mapping.pairs.start; h < v->data.mapping.pairs.top; h++) {
        yaml_node_t *hk = ccp_cfg_node(l, h->key), *hv = ccp_cfg_node(l, h->value);
        const char *name = ccp_cfg_scalar(hk);
        if (!name || !*name || strpbrk(name, ": \t\r\n")) {
            DIAG(l, hk, "%s: each name is a header name such as Authorization", where);
            continue;
        }
        char *val = ccp_cfg_interp(l, hv, where, unset);
        if (!val) continue;
        if (strpbrk(val, "\r\n")) {
            DIAG(l, hv, "%s: a value may not contain a line break", where);
            free(val);
            continue;
        }
        *kv = ccp_xrealloc(*kv, (*n + 1) * sizeof **kv);
        (*kv)[(*n)++] = (ccp_kv){ccp_xstrdup(name), val};
    }
}

/* ---- the document ------------------------------------------------------- */

/* The sections, for the unknown-key message and the reference. Each is
 * loaded by its own code (below, config_router.c, config_pipeline.c). */
static const ccp_key root_keys[] = {
    {.name = "server",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "the listener, its limits and logging"},
    {.name = "upstream",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "timeouts of the requests to providers"},
    {.name = "providers",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "list",
     .doc_def = "—",
     .help = "the model providers and how to reach them"},
    {.name = "router",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "which provider and model serve each request"},
    {.name = "pipelines",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "named lists of transformers that providers and rules use"},
    {.name = "plugins",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "user transformers in Lua: where to find them, their isolation and caps "
             "([plugins](plugins.md))"},
    {.name = "telemetry",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "distributed tracing: OpenTelemetry spans exported over OTLP/HTTP"},
    {.name = "auth",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "who may use the proxy: proxy keys (docs/teams.md)"},
    {.name = "state",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "where proxy keys, usage and audit live: SQLite, and Redis across instances"},
    {.name = "tenants",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "groups of proxy keys with the providers and models they may use and shared limits "
             "(docs/teams.md)"},
    {.name = "pricing",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help =
         "USD per million tokens per provider and model, for spend and budgets (docs/teams.md)"},
    {.name = "security",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "where keys may be sent, and how the process guards them ([security](security.md))"},
    {.name = "debug",
     .type = CCP_KEY_CUSTOM,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "debugging aids: capture of exchanges to files (docs/debugging.md)"},
};
const ccp_key_table ccp_cfg_root_keys = CCP_KEYS("the top level", root_keys);

/* A key written twice in one mapping: YAML forbids it, and each section's
 * loader sizes its arrays from the first. Reported at the second, with
 * where the first is; returns the number found. */
static size_t duplicate_keys(loader *l)
{
    size_t found = 0;
    for (yaml_node_t *n = l->doc.nodes.start; n < l->doc.nodes.top; n++) {
        if (n->type != YAML_MAPPING_NODE) continue;
        for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
             a++) {
            yaml_node_t *ka = ccp_cfg_node(l, a->key);
            const char *sa = ccp_cfg_scalar(ka);
            for (yaml_node_pair_t *b = n->data.mapping.pairs.start; sa && b < a; b++) {
                yaml_node_t *kb = ccp_cfg_node(l, b->key);
                const char *sb = ccp_cfg_scalar(kb);
                if (!sb || strcmp(sa, sb) != 0) continue;
                DIAG(l, ka,
                     "key '%s' is written twice in this mapping (first at line %d, column "
                     "%d): keep one",
                     sa, (int)kb->start_mark.line + 1, (int)kb->start_mark.column + 1);
                found++;
                break;
            }
        }
    }
    return found;
}

/* "sha256:<hex>" of the config's bytes into out (72 bytes). */
static void source_hash(const char *data, size_t len, char out[72])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    /* This may be OpenSSL's first use: without the flag it would load its
     * error strings now, which upstream/tls.c keeps unloaded until a TLS
     * error needs them (and its messages depend on). */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32) {
        out[0] = '\0';
        return;
    }
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < n; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[7 + 2 * n] = '\0';
}

int ccp_config_load_yaml(const char *name, const char *yaml, size_t len, bool env_default,
                         ccp_config **out, ccp_diags *diags)
{
    loader l = {.file = name, .diags = diags, .env_default = env_default};
    size_t before = diags->n;
    *out = NULL;
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &l.doc)) {
        ccp_cfg_diag(&l, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                     "YAML syntax: %s%s%s", parser.problem ? parser.problem : "error",
                     parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return CCP_ECONFIG;
    }
    yaml_parser_delete(&parser);
    if (duplicate_keys(&l)) {
        yaml_document_delete(&l.doc);
        return CCP_ECONFIG;
    }

    ccp_config *c = ccp_xcalloc(1, sizeof *c);
    l.cfg = c;
    atomic_init(&c->refs, 1);
    ccp_keys_defaults(&ccp_cfg_server_keys, &c->server);
    ccp_keys_defaults(&ccp_cfg_upstream_keys, &c->upstream);
    ccp_keys_defaults(&ccp_cfg_router_keys, &c->router);
    ccp_cfg_telemetry_defaults(&c->telemetry);
    ccp_keys_defaults(&ccp_cfg_auth_keys, &c->auth);
    ccp_keys_defaults(&ccp_cfg_state_keys, &c->state);
    ccp_cfg_security_defaults(&c->security);
    ccp_cfg_debug_defaults(&c->debug);
    c->source = ccp_xstrdup(name);
    source_hash(yaml, len, c->source_hash);
    yaml_node_t *root = yaml_document_get_root_node(&l.doc);
    yaml_node_t *router = NULL, *tenants = NULL;
    /* Plugins first: pipelines name them as they name built-ins. */
    yaml_node_t *plugins = NULL;
    for (yaml_node_pair_t *pr =
             root && root->type == YAML_MAPPING_NODE ? root->data.mapping.pairs.start : NULL;
         pr && pr < root->data.mapping.pairs.top; pr++) {
        const char *key = ccp_cfg_scalar(ccp_cfg_node(&l, pr->key));
        if (key && !strcmp(key, "plugins")) plugins = ccp_cfg_node(&l, pr->value);
    }
    ccp_cfg_load_plugins(&l, plugins);
    if (root && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = ccp_cfg_node(&l, pr->key), *v = ccp_cfg_node(&l, pr->value);
            const char *key = ccp_cfg_scalar(k);
            if (!key)
                DIAG(&l, k, "top-level keys must be plain names");
            else if (!strcmp(key, "server"))
                ccp_cfg_load_keys(&l, v, "server", &ccp_cfg_server_keys, &c->server);
            else if (!strcmp(key, "upstream"))
                ccp_cfg_load_keys(&l, v, "upstream", &ccp_cfg_upstream_keys, &c->upstream);
            else if (!strcmp(key, "providers"))
                ccp_cfg_load_providers(&l, v);
            else if (!strcmp(key, "router"))
                router = v;
            else if (!strcmp(key, "pipelines"))
                ccp_cfg_load_pipelines(&l, v);
            else if (!strcmp(key, "plugins"))
                ; /* loaded above */
            else if (!strcmp(key, "telemetry"))
                ccp_cfg_load_keys(&l, v, "telemetry", &ccp_cfg_telemetry_keys, &c->telemetry);
            else if (!strcmp(key, "auth"))
                ccp_cfg_load_keys(&l, v, "auth", &ccp_cfg_auth_keys, &c->auth);
            else if (!strcmp(key, "tenants"))
                tenants = v; /* their routers name providers: after them */
            else if (!strcmp(key, "pricing"))
                ccp_cfg_load_pricing(&l, v);
            else if (!strcmp(key, "state"))
                ccp_cfg_load_keys(&l, v, "state", &ccp_cfg_state_keys, &c->state);
            else if (!strcmp(key, "security"))
                ccp_cfg_load_keys(&l, v, "security", &ccp_cfg_security_keys, &c->security);
            else if (!strcmp(key, "debug"))
                ccp_cfg_load_keys(&l, v, "debug", &ccp_cfg_debug_keys, &c->debug);
            else
                ccp_cfg_unknown_in(&l, k, "the top level", &ccp_cfg_root_keys);
        }
    } else if (root && !(root->type == YAML_SCALAR_NODE && !*ccp_cfg_scalar(root))) {
        DIAG(&l, root, "the config must be a mapping with server, providers and router keys");
    }
    /* The router refers to providers, so it is resolved after all of them. */
    ccp_cfg_security_finish(&l); /* after providers and security, in any order */
    ccp_cfg_resolve_pipelines(&l);
    if (tenants) ccp_cfg_load_tenants(&l, tenants);
    if (router) ccp_cfg_load_router(&l, router);
    ccp_cfg_router_finish(&l);
    yaml_document_delete(&l.doc);
    ccp_buf_free(&l.rejected);
    if (diags->n > before) {
        ccp_config_destroy(c);
        return CCP_ECONFIG;
    }
    *out = c;
    return 0;
}

int ccp_config_load_string(const char *name, const char *yaml, size_t len, ccp_config **out,
                           ccp_diags *diags)
{
    return ccp_config_load_yaml(name, yaml, len, false, out, diags);
}

int ccp_config_load_file(const char *path, ccp_config **out, ccp_diags *diags)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        loader l = {.file = path, .diags = diags};
        ccp_cfg_diag(&l, 0, 0,
                     "cannot open config file: %s; check the path (--config, "
                     "$CCPROXY_CONFIG) or remove it to use the embedded default",
                     strerror(errno));
        return CCP_ECONFIG;
    }
    ccp_buf b = CCP_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ccp_buf_append(&b, chunk, n);
    fclose(f);
    int rc = ccp_config_load_yaml(path, b.data ? b.data : "", b.len, false, out, diags);
    ccp_buf_free(&b);
    return rc;
}
