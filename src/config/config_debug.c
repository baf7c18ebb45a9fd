/* config_debug.c — the `debug` section: recording exchanges to files
 * (`debug.capture`, served by src/debug/capture.c).
 *
 * Only the typed settings live here; the capture itself is built from
 * them by whoever runs the server (cmd_serve.c), which also lets
 * `ccproxy serve --capture DIR` turn it on without a config edit. */
#include "config/config_internal.h"

#include "core/alloc.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* sample: a number from 0 to 1 (the key tables have no fractional type). */
static void load_sample(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    (void)k;
    ccp_capture_config *cc = base;
    char *s = ccp_cfg_interp(l, v, "debug.capture.sample", NULL);
    if (!s) return;
    char *end;
    double d = strtod(s, &end);
    if (!*s || *end || !(d >= 0.0 && d <= 1.0))
        DIAG(l, v,
             "debug.capture.sample: expected a number from 0 to 1 (the share of requests "
             "captured, e.g. 0.1), not '%s'",
             s);
    else
        cc->sample = d;
    free(s);
}

#define CAP(f) offsetof(ccp_capture_config, f)
static const ccp_key capture_keys[] = {
    {.name = "dir",
     .type = CCP_KEY_STR,
     .offset = CAP(dir),
     .min = 1,
     .doc_def = "off",
     .help = "the directory that receives one file per captured exchange (created if missing); "
             "unset: no capture, and no cost. `ccproxy serve --capture DIR` sets it too. "
             "docs/debugging.md describes the files"},
    {.name = "sample",
     .type = CCP_KEY_CUSTOM,
     .load = load_sample,
     .doc_type = "number 0–1",
     .doc_def = "`1`",
     .help = "the share of `/v1/messages` requests captured"},
    {.name = "max_bytes",
     .type = CCP_KEY_SIZE,
     .offset = CAP(max_bytes),
     .def = "1MiB",
     .min = 4096,
     .max = 1LL << 30,
     .help = "the most one exchange's file may hold; what comes after is left out and the file "
             "says `\"truncated\":true`. Also the memory an exchange in capture may use"},
    {.name = "max_files",
     .type = CCP_KEY_INT,
     .offset = CAP(max_files),
     .def = "200",
     .min = 1,
     .max = 1000000,
     .help = "capture files kept in `dir`; the oldest are deleted beyond it (so the directory "
             "holds at most `max_files` × `max_bytes`)"},
};

const ccp_key_table ccp_cfg_capture_keys = CCP_KEYS("debug.capture", capture_keys);

static void load_capture(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    (void)k;
    ccp_debug_config *d = base;
    ccp_cfg_load_keys(l, v, "debug.capture", &ccp_cfg_capture_keys, &d->capture);
}

static const ccp_key debug_keys[] = {
    {.name = "capture",
     .type = CCP_KEY_CUSTOM,
     .load = load_capture,
     .doc_type = "mapping",
     .doc_def = "off",
     .help = "record exchanges (request, routing, upstream bytes, response) to files: see the "
             "`debug.capture` table and docs/debugging.md"},
};

const ccp_key_table ccp_cfg_debug_keys = CCP_KEYS("debug", debug_keys);

void ccp_cfg_debug_defaults(ccp_debug_config *d)
{
    ccp_keys_defaults(&ccp_cfg_debug_keys, d);
    ccp_keys_defaults(&ccp_cfg_capture_keys, &d->capture);
    d->capture.sample = 1.0;
}

void ccp_cfg_debug_free(ccp_debug_config *d)
{
    ccp_keys_free(&ccp_cfg_capture_keys, &d->capture);
}
