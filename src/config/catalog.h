/* catalog.h — the built-in provider catalog: one row per provider ccproxy
 * knows how to reach (format, base URL, auth, key variable, models per stage,
 * dialect pipeline, docs). `ccproxy providers`, `ccproxy init`, the embedded
 * default config and docs/providers.md are all generated from this one table
 * (catalog.c). */
#ifndef CCP_CONFIG_CATALOG_H
#define CCP_CONFIG_CATALOG_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* The router stages a catalog row proposes a model for, in the order of
 * ccp_catalog_stage_names (the router's own key names). */
enum {
    CCP_CAT_DEFAULT,
    CCP_CAT_BACKGROUND,
    CCP_CAT_THINKING,
    CCP_CAT_LONG_CONTEXT,
    CCP_CAT_WEB_SEARCH,
    CCP_CAT_IMAGE,
    CCP_CAT_N_STAGES
};

#define CCP_CAT_MAX_MODELS 6

typedef struct ccp_provider_info {
    const char *name;     /* the provider's name in a config: [a-z0-9._-] */
    const char *title;    /* for people: "Moonshot (Kimi)" */
    const char *format;   /* anthropic | openai-chat | gemini */
    const char *base_url; /* as the provider's `base_url` key wants it */
    const char *auth;     /* the `auth` key when it differs from the format's default, else NULL */
    const char *key_env;  /* the usual variable holding the key; NULL: no key (local servers) */
    /* The models written to `models:`; none means the client's model passes
     * through (Anthropic-compatible endpoints that serve Claude's names). */
    const char *models[CCP_CAT_MAX_MODELS + 1];
    /* A proposed model per stage; NULL: the stage is not proposed (for
     * stages[CCP_CAT_DEFAULT], NULL means the client's model). */
    const char *stages[CCP_CAT_N_STAGES];
    const char *dialect; /* the built-in dialect transformer its pipeline uses, or NULL */
    const char *options; /* more provider keys, "key: value" lines, or NULL */
    const char *docs;    /* the provider's API documentation */
    const char *note;    /* one line for people, or NULL */
    bool in_default;     /* part of the embedded default (config_default.c) */
} ccp_provider_info;

extern const ccp_provider_info ccp_provider_catalog[];
extern const size_t ccp_provider_catalog_n;
extern const char *const ccp_catalog_stage_names[CCP_CAT_N_STAGES];

/* The row named name, or NULL. */
const ccp_provider_info *ccp_catalog_find(const char *name);

/* Appends the YAML of one `providers:` list item for p (at two spaces of
 * indentation), its key taken from ${key_env} (NULL: p->key_env; "" or no
 * variable at all: no key). With raw_key set, that literal value is written
 * instead (the user asked for it). comments adds a line saying where the
 * provider's docs are; pipeline names the pipeline of its dialect (see
 * ccp_catalog_pipeline_yaml) when it has one. */
void ccp_catalog_provider_yaml(ccp_buf *out, const ccp_provider_info *p, const char *key_env,
                               const char *raw_key, bool comments, bool pipeline);

/* The same with more models listed after the row's own (NULL-terminated;
 * NULL for none): the models a route names that the row does not propose,
 * which the loader wants listed. */
void ccp_catalog_provider_yaml_ex(ccp_buf *out, const ccp_provider_info *p, const char *key_env,
                                  const char *raw_key, bool comments, bool pipeline,
                                  const char *const *extra_models);

/* Appends s as a YAML scalar: plain when that reads back as the same
 * string, else double-quoted. */
void ccp_catalog_yaml_scalar(ccp_buf *out, const char *s);

/* Appends the pipeline p's dialect needs, as one `pipelines:` entry named
 * after the provider (nothing when p has no dialect). */
void ccp_catalog_pipeline_yaml(ccp_buf *out, const ccp_provider_info *p);

/* The catalog as text (a table), JSON (an array of objects) or Markdown
 * (docs/providers.md, which a unit test keeps current). */
void ccp_catalog_write_text(ccp_buf *out);
void ccp_catalog_write_json(ccp_buf *out);
void ccp_catalog_write_markdown(ccp_buf *out);

#endif
