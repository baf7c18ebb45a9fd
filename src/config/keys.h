/* keys.h — configuration keys as tables: one row per key, with its type,
 * where its value goes, its default and its help.
 *
 * Every section of the config (server, upstream, providers, router) and
 * every codec's provider options are declared as a ccp_key table beside the
 * code that reads them — the way an nginx module's command table names the
 * slot each directive fills. From those rows come the loading and
 * validation (config_load.c), the defaults, `ccproxy config-keys` and the
 * reference tables in docs/configuration.md (a test checks the file is
 * current). A key whose value is more than a scalar (a list, a mapping, a
 * reference to a provider) names a loader function that fills it. */
#ifndef CCP_CONFIG_KEYS_H
#define CCP_CONFIG_KEYS_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CCP_KEY_STR,    /* char *, owned; ${VAR} interpolated; min = least length */
    CCP_KEY_INT,    /* int in [min, max] */
    CCP_KEY_INT64,  /* int64_t in [min, max] */
    CCP_KEY_SIZE,   /* size_t in [min, max]: bytes, or a number with KiB, MiB, GiB */
    CCP_KEY_MS,     /* uint32_t milliseconds in [min, max] */
    CCP_KEY_BOOL,   /* bool: true/false (also yes/no, on/off) */
    CCP_KEY_ENUM,   /* int: the index of the value in choices */
    CCP_KEY_CUSTOM, /* filled by the row's load function */
} ccp_key_type;

struct ccp_loader;  /* config_internal.h */
struct yaml_node_s; /* yaml.h's yaml_node_t */

typedef struct ccp_key {
    const char *name;
    ccp_key_type type;
    size_t offset;   /* of the value in the section's struct */
    const char *def; /* the default, written as in a config file; NULL: none */
    long long min;   /* INT, INT64, SIZE, MS: the bounds; STR: the least length */
    long long max;
    const char *const *choices; /* ENUM: the values, NULL-terminated, in the enum's order */
    const char *help;           /* one line for the reference; Markdown */
    /* For the reference when the row alone cannot say it: the type (CUSTOM)
     * or a default computed at load (e.g. "per format"). */
    const char *doc_type;
    const char *doc_def;
    bool required;
    /* STR (optional): false with why filled when the text is not one the
     * key takes, so the loader reports it at the value's place. */
    bool (*valid)(const char *s, char *why, size_t why_len);
    /* CUSTOM: reads v into base (the section's struct), reporting problems
     * through the loader. */
    void (*load)(struct ccp_loader *l, struct yaml_node_s *v, void *base, const struct ccp_key *k);
} ccp_key;

/* A table with its length, as sections and codecs declare them. */
typedef struct ccp_key_table {
    const char *name; /* "server", "providers", "openai-chat options", ... */
    const ccp_key *keys;
    size_t n;
} ccp_key_table;

/* An initializer for a ccp_key_table of a static array. */
#define CCP_KEYS(name, arr)                                                                        \
    {                                                                                              \
        (name), (arr), sizeof(arr) / sizeof((arr)[0])                                              \
    }

/* The row named name, or NULL. */
const ccp_key *ccp_keys_find(const ccp_key_table *t, const char *name);

/* Parses text (a scalar as written in config, after interpolation) into
 * the slot of k in base. Returns 0, or -1 with why (what was expected)
 * written to why. Not for CUSTOM rows. A STR slot's old value is freed. */
int ccp_key_set(const ccp_key *k, void *base, const char *text, char *why, size_t why_len);

/* Sets every row that has a default to it (the defaults are the table's
 * own text, checked by a unit test to parse). */
void ccp_keys_defaults(const ccp_key_table *t, void *base);

/* Frees the STR slots of base (the struct itself is the caller's). */
void ccp_keys_free(const ccp_key_table *t, void *base);

/* "size", "integer 0–65535", "`a` \| `b`", ...: the type column. */
void ccp_key_type_text(const ccp_key *k, ccp_buf *out, bool markdown);

/* The reference table of t: Markdown (| key | type | default | meaning |)
 * or plain text for the terminal. */
void ccp_keys_write(const ccp_key_table *t, ccp_buf *out, bool markdown);

/* "size in bytes such as 1048576 or 32MiB" parsing, shared with --flags. */
bool ccp_parse_size(const char *s, long long *out);
bool ccp_parse_ll(const char *s, long long *out);
int ccp_parse_bool(const char *s, bool *out);
/* "host:port" or "[v6]:port" (port 0–65535) into host (cap bytes, without
 * brackets) and *port; false when malformed. For server.admin_listen. */
bool ccp_parse_hostport(const char *s, char *host, size_t cap, int *port);

#endif
