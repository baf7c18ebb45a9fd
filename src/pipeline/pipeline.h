/* pipeline.h — transformers and the pipelines that chain them.
 *
 * A transformer is a named unit with hooks on the canonical (Anthropic)
 * request and on the outbound (provider-format) request. Each declares, in
 * its table beside its code, its name, a one-line summary, its options
 * (name, type, default, help) and the formats it applies to; config
 * validation, `ccproxy transformers` and docs/transformers.md all come from
 * those tables. A pipeline is a named, ordered list of steps (a transformer
 * and its options), declared in config; a provider names its default
 * pipeline and a model of it may name another. */
#ifndef CCP_PIPELINE_PIPELINE_H
#define CCP_PIPELINE_PIPELINE_H

#include "codec/codec.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/error.h"

#include <json-c/json.h>
#include <stdbool.h>

typedef enum {
    CCP_OPT_INT,
    CCP_OPT_NUMBER,
    CCP_OPT_STRING,
    CCP_OPT_BOOL,
    CCP_OPT_OBJECT,
    CCP_OPT_STRING_LIST,
} ccp_opt_type;

/* One option of a transformer. Its value lands, once at config load, in
 * the step's conf: the transformer's own struct, at offset, typed:
 *   INT          int64_t (CCP_OPT_UNSET when neither given nor defaulted)
 *   BOOL         bool
 *   STRING       const char * (NULL when unset)
 *   NUMBER       json_object * (an int or a double, as written; NULL unset)
 *   OBJECT       json_object * (NULL unset)
 *   STRING_LIST  json_object * (an array of strings; NULL unset)
 * Strings and JSON values are borrowed from the step's opts, which live as
 * long as the config. */
typedef struct ccp_opt_spec {
    const char *name;
    ccp_opt_type type;
    const char *def; /* the default as JSON text; NULL: unset unless given */
    const char *help;
    const char *const *choices; /* for strings: the allowed values, NULL-terminated; or NULL */
    size_t offset;              /* of the value's slot in the transformer's conf struct */
} ccp_opt_spec;

#define CCP_OPT_UNSET INT64_MIN

typedef struct ccp_step ccp_step;

typedef struct ccp_transformer {
    const char *name;
    const char *summary;
    const ccp_opt_spec *opts; /* terminated by an entry with name NULL */
    size_t conf_size;         /* of the struct the options fill (0: no options) */
    unsigned formats;         /* bit (1u << ccp_format) per format it applies to; 0 = all */
    /* On the canonical request, before encoding. */
    int (*request)(const ccp_step *s, json_object *req, ccp_error *err);
    /* On the provider-format request, after encoding; req is the canonical
     * request it was encoded from (read it, do not edit it). Edit only the
     * top level of out->json, or objects the hook made: the body shares
     * its nested objects with the client's request, which a retry or the
     * next target starts from again. */
    int (*outbound)(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err);
    /* On the response: a sink that takes the canonical events and passes
     * them (edited, held back, added to) to next, which outlives it;
     * events_free releases it (both or neither are set). */
    ccp_event_sink *(*events)(const ccp_step *s, ccp_event_sink *next);
    void (*events_free)(ccp_event_sink *sink);
} ccp_transformer;

struct ccp_step {
    const ccp_transformer *t;
    json_object *opts;  /* every declared option that has a value; owned */
    const void *conf;   /* the options, typed (ccp_opt_spec); owned; NULL without options */
    bool skip_on_error; /* on_error: skip */
    int line, col;      /* where the step is written */
};

struct ccp_pipeline { /* typedef'd in config.h */
    char *name;
    ccp_step *steps;
    size_t n;
};

/* The catalog: every built-in transformer, in a stable order. */
extern const ccp_transformer *const ccp_transformers[];
extern const size_t ccp_n_transformers;
const ccp_transformer *ccp_transformer_find(const char *name);
const char *ccp_opt_type_name(ccp_opt_type t);

/* Runs the pipeline's request hooks over req, then (after the caller has
 * encoded) its outbound hooks over out. A failing step with on_error: fail
 * returns its error, naming the pipeline and the step; with skip, it is
 * logged and the request goes on without it. */
int ccp_pipeline_run_request(const ccp_pipeline *p, json_object *req, ccp_error *err);
int ccp_pipeline_run_outbound(const ccp_pipeline *p, json_object *req, ccp_outbound *out,
                              ccp_error *err);

/* The event hooks of a pipeline, chained in front of a final sink. A
 * request's chain holds its rule's pipeline and its provider's; the config
 * loader refuses a pipeline with more event hooks than its half. */
#define CCP_EVENT_CHAIN_MAX 16
#define CCP_PIPELINE_MAX_EVENT_HOOKS (CCP_EVENT_CHAIN_MAX / 2)
typedef struct ccp_event_chain {
    ccp_event_sink *head; /* where the decoder emits: the first step's sink, or the final one */
    ccp_event_sink *sinks[CCP_EVENT_CHAIN_MAX];
    const ccp_transformer *owners[CCP_EVENT_CHAIN_MAX];
    size_t n;
} ccp_event_chain;
void ccp_event_chain_build(ccp_event_chain *ch, const ccp_pipeline *p, ccp_event_sink *last);
/* Puts p's event hooks in front of what the chain has. */
void ccp_event_chain_push(ccp_event_chain *ch, const ccp_pipeline *p);
void ccp_event_chain_free(ccp_event_chain *ch);
/* True if some step has a request hook (which edits the request tree). */
bool ccp_pipeline_edits_request(const ccp_pipeline *p);

void ccp_pipeline_free(ccp_pipeline *p);

/* The catalog as text (`ccproxy transformers`) or Markdown (docs). */
void ccp_catalog_write(ccp_buf *out, bool markdown);

/* Fills a step's conf from its opts (config load calls it once per step). */
void ccp_step_fill_conf(ccp_step *s);

#endif
