/* config_reference.c — the configuration reference, written from the
 * sections' and codecs' key tables: `ccproxy config-keys` prints it, and the
 * tables in docs/configuration.md are regenerated from it (a unit test
 * fails when the file is stale). */
#include "config/config.h"

#include "codec/codec.h"
#include "config/config_internal.h"

#include <stdio.h>
#include <string.h>

/* The table of the formats: name, what it speaks, how the key is sent by
 * default, which options it takes. */
static void formats_table(ccp_buf *out, bool md)
{
    static const char *const auth_names[] = {
        [CCP_AUTH_X_API_KEY] = "x-api-key", [CCP_AUTH_BEARER] = "bearer",
        [CCP_AUTH_GOOG] = "x-goog-api-key", [CCP_AUTH_NONE] = "none",
        [CCP_AUTH_API_KEY] = "api-key",
    };
    if (md)
        ccp_buf_appends(out, "| format | speaks | default `auth` | options |\n|---|---|---|---|\n");
    for (size_t i = 0; ccp_codecs[i]; i++) {
        const ccp_codec *c = ccp_codecs[i];
        ccp_buf opts = CCP_BUF_INIT;
        for (size_t j = 0; j < c->n_opts; j++)
            ccp_buf_printf(&opts, md ? "%s`%s`" : "%s%s", j ? ", " : "", c->opts[j].name);
        if (md)
            ccp_buf_printf(out, "| `%s` | %s | `%s` | %s |\n", c->name, c->summary,
                           auth_names[c->default_auth], opts.len ? opts.data : "none");
        else
            ccp_buf_printf(out, "  %s: %s (auth %s; options: %s)\n", c->name, c->summary,
                           auth_names[c->default_auth], opts.len ? opts.data : "none");
        ccp_buf_free(&opts);
    }
}

/* Writes the reference block called name; returns false for an unknown
 * name. */
static bool write_block(ccp_buf *out, const char *name, bool md)
{
    const ccp_key_table *sections[] = {
        &ccp_cfg_root_keys,     &ccp_cfg_server_keys,       &ccp_cfg_upstream_keys,
        &ccp_cfg_provider_keys, &ccp_cfg_router_keys,       &ccp_cfg_retry_keys,
        &ccp_cfg_breaker_keys,  &ccp_cfg_telemetry_keys,    &ccp_cfg_server_tls_keys,
        &ccp_cfg_plugins_keys,  &ccp_cfg_plugin_entry_keys, &ccp_cfg_plugin_limit_keys,
        &ccp_cfg_tls_keys,      &ccp_cfg_security_keys,     &ccp_cfg_debug_keys,
        &ccp_cfg_capture_keys,  &ccp_cfg_auth_keys,         &ccp_cfg_state_keys,
        &ccp_cfg_tenant_keys};
    static const char *const names[] = {"top",        "server",   "upstream",     "providers",
                                        "router",     "retry",    "breaker",      "telemetry",
                                        "server.tls", "plugins",  "plugins.load", "plugins.limits",
                                        "tls",        "security", "debug",        "capture",
                                        "auth",       "state",    "tenants"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i])) {
            ccp_keys_write(sections[i], out, md);
            return true;
        }
    if (!strcmp(name, "formats")) {
        formats_table(out, md);
        return true;
    }
    const ccp_codec *c = ccp_codec_find(name);
    if (c && c->n_opts) {
        ccp_key_table t = {c->name, c->opts, c->n_opts};
        ccp_keys_write(&t, out, md);
        return true;
    }
    return false;
}

void ccp_config_reference(ccp_buf *out)
{
    static const char *const blocks[][2] = {
        {"top", "the sections"},           {"server", "server"},
        {"server.tls", "server: tls"},     {"upstream", "upstream"},
        {"providers", "providers (each)"}, {"formats", "providers: formats"},
        {"retry", "providers: retry"},     {"breaker", "providers: breaker"},
        {"tls", "providers: tls"},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        ccp_buf_printf(out, "%s%s:\n", i ? "\n" : "", blocks[i][1]);
        write_block(out, blocks[i][0], false);
    }
    for (size_t i = 0; ccp_codecs[i]; i++) {
        if (!ccp_codecs[i]->n_opts) continue;
        ccp_buf_printf(out, "\nproviders with format %s:\n", ccp_codecs[i]->name);
        write_block(out, ccp_codecs[i]->name, false);
    }
    ccp_buf_appends(out, "\nrouter:\n");
    write_block(out, "router", false);
    ccp_buf_appends(out, "\ntelemetry:\n");
    write_block(out, "telemetry", false);
    ccp_buf_appends(out, "\nplugins:\n");
    write_block(out, "plugins", false);
    ccp_buf_appends(out, "\nplugins: load (each):\n");
    write_block(out, "plugins.load", false);
    ccp_buf_appends(out, "\nplugins: load: limits:\n");
    write_block(out, "plugins.limits", false);
    ccp_buf_appends(out, "\nsecurity:\n");
    write_block(out, "security", false);
    ccp_buf_appends(out, "\ndebug:\n");
    write_block(out, "debug", false);
    ccp_buf_appends(out, "\ndebug.capture:\n");
    write_block(out, "capture", false);
    ccp_buf_appends(out, "\nauth:\n");
    write_block(out, "auth", false);
    ccp_buf_appends(out, "\nstate:\n");
    write_block(out, "state", false);
    ccp_buf_appends(out, "\ntenants (each):\n");
    write_block(out, "tenants", false);
}

#define OPEN "<!-- keys: "
#define CLOSE "<!-- /keys -->"

int ccp_config_doc_update(const char *doc, ccp_buf *out, ccp_error *err)
{
    const char *p = doc;
    for (const char *m; (m = strstr(p, OPEN));) {
        const char *name = m + strlen(OPEN), *name_end = strstr(name, " -->");
        const char *line_end = name_end ? strchr(name_end, '\n') : NULL;
        const char *close = line_end ? strstr(line_end, CLOSE) : NULL;
        if (!close)
            return ccp_error_set(err, CCP_EINVAL, "'%s' at byte %zu is not closed by '%s'", OPEN,
                                 (size_t)(m - doc), CLOSE);
        char block[64];
        size_t n = (size_t)(name_end - name);
        snprintf(block, sizeof block, "%.*s", (int)(n < 63 ? n : 63), name);
        ccp_buf_append(out, p, (size_t)(line_end + 1 - p));
        if (!write_block(out, block, true))
            return ccp_error_set(err, CCP_EINVAL, "no reference table named '%s'", block);
        p = close;
    }
    ccp_buf_appends(out, p);
    return 0;
}
