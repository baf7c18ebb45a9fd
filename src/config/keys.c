/* keys.c — parsing a scalar into a key's slot, the defaults, and the
 * reference tables written from the rows (see keys.h). */
#include "config/keys.h"

#include "core/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ccp_key *ccp_keys_find(const ccp_key_table *t, const char *name)
{
    for (size_t i = 0; name && i < t->n; i++)
        if (strcmp(t->keys[i].name, name) == 0) return &t->keys[i];
    return NULL;
}

bool ccp_parse_ll(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || errno || end == s) return false;
    *out = v;
    return *end == '\0';
}

bool ccp_parse_size(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || errno || end == s || v < 0) return false;
    while (*end == ' ')
        end++;
    long long mul;
    if (!*end || !strcmp(end, "B"))
        mul = 1;
    else if (!strcmp(end, "KiB") || !strcmp(end, "KB") || !strcmp(end, "k") || !strcmp(end, "K"))
        mul = 1024;
    else if (!strcmp(end, "MiB") || !strcmp(end, "MB") || !strcmp(end, "M"))
        mul = 1024 * 1024;
    else if (!strcmp(end, "GiB") || !strcmp(end, "GB") || !strcmp(end, "G"))
        mul = 1024LL * 1024 * 1024;
    else
        return false;
    if (v > INT64_MAX / mul) return false;
    *out = v * mul;
    return true;
}

/* YAML 1.1's booleans, as libyaml leaves them to the reader. */
int ccp_parse_bool(const char *s, bool *out)
{
    if (!s) return -1;
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

bool ccp_parse_hostport(const char *s, char *host, size_t cap, int *port)
{
    const char *colon, *h = s;
    size_t hl;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':') return false;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s))) return false; /* v6 needs [] */
        hl = (size_t)(colon - s);
    }
    long long p;
    if (hl == 0 || hl >= cap || !ccp_parse_ll(colon + 1, &p) || p < 0 || p > 65535) return false;
    if (memchr(h, '/', hl) || memchr(h, ' ', hl) || memchr(h, '@', hl)) return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return true;
}

/* The choices joined by sep, with last_sep before the last one. */
static void choices_text(const ccp_key *k, ccp_buf *out, const char *sep, const char *last_sep,
                         bool code)
{
    for (size_t i = 0; k->choices[i]; i++) {
        if (i) ccp_buf_appends(out, k->choices[i + 1] ? sep : last_sep);
        ccp_buf_printf(out, code ? "`%s`" : "%s", k->choices[i]);
    }
}

int ccp_key_set(const ccp_key *k, void *base, const char *s, char *why, size_t why_len)
{
    char *p = (char *)base + k->offset;
    long long n = 0;
    switch (k->type) {
    case CCP_KEY_STR:
        if ((long long)strlen(s) < k->min) {
            snprintf(why, why_len, "must not be empty");
            return -1;
        }
        if (k->valid && !k->valid(s, why, why_len)) return -1;
        free(*(char **)p);
        *(char **)p = ccp_xstrdup(s);
        return 0;
    case CCP_KEY_BOOL:
        if (ccp_parse_bool(s, (bool *)p) != 0) {
            snprintf(why, why_len, "expected true or false");
            return -1;
        }
        return 0;
    case CCP_KEY_ENUM:
        for (int i = 0; k->choices[i]; i++)
            if (!strcmp(s, k->choices[i])) {
                *(int *)p = i;
                return 0;
            }
        {
            ccp_buf b = CCP_BUF_INIT;
            choices_text(k, &b, ", ", " or ", false);
            snprintf(why, why_len, "'%s' is not a choice; use %s", s, b.data);
            ccp_buf_free(&b);
        }
        return -1;
    case CCP_KEY_SIZE:
        if (!ccp_parse_size(s, &n)) {
            snprintf(why, why_len, "expected a size in bytes such as 1048576 or 32MiB");
            return -1;
        }
        break;
    case CCP_KEY_INT:
    case CCP_KEY_INT64:
    case CCP_KEY_MS:
        if (!ccp_parse_ll(s, &n)) {
            snprintf(why, why_len, "expected an integer%s",
                     k->type == CCP_KEY_MS ? " number of milliseconds" : "");
            return -1;
        }
        break;
    case CCP_KEY_CUSTOM:
        snprintf(why, why_len, "not a scalar key");
        return -1;
    }
    if (n < k->min || n > k->max) {
        snprintf(why, why_len, "%lld is out of range; use %lld to %lld", n, k->min, k->max);
        return -1;
    }
    switch (k->type) {
    case CCP_KEY_SIZE:
        *(size_t *)p = (size_t)n;
        break;
    case CCP_KEY_MS:
        *(uint32_t *)p = (uint32_t)n;
        break;
    case CCP_KEY_INT64:
        *(int64_t *)p = (int64_t)n;
        break;
    default:
        *(int *)p = (int)n;
        break;
    }
    return 0;
}

void ccp_keys_defaults(const ccp_key_table *t, void *base)
{
    char why[160];
    for (size_t i = 0; i < t->n; i++)
        if (t->keys[i].def && t->keys[i].type != CCP_KEY_CUSTOM)
            ccp_key_set(&t->keys[i], base, t->keys[i].def, why, sizeof why);
}

void ccp_keys_free(const ccp_key_table *t, void *base)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->keys[i].type == CCP_KEY_STR) {
            char **p = (char **)((char *)base + t->keys[i].offset);
            free(*p);
            *p = NULL;
        }
}

void ccp_key_type_text(const ccp_key *k, ccp_buf *out, bool md)
{
    switch (k->type) {
    case CCP_KEY_STR:
        ccp_buf_appends(out, "string");
        return;
    case CCP_KEY_BOOL:
        ccp_buf_appends(out, "boolean");
        return;
    case CCP_KEY_ENUM:
        choices_text(k, out, md ? " \\| " : " | ", md ? " \\| " : " | ", md);
        return;
    case CCP_KEY_SIZE:
        ccp_buf_appends(out, "size");
        return;
    case CCP_KEY_MS:
        ccp_buf_appends(out, "milliseconds");
        return;
    case CCP_KEY_INT:
    case CCP_KEY_INT64:
        if (k->max >= INT32_MAX)
            ccp_buf_printf(out, "integer ≥ %lld", k->min);
        else
            ccp_buf_printf(out, "integer %lld–%lld", k->min, k->max);
        return;
    case CCP_KEY_CUSTOM:
        ccp_buf_appends(out, k->doc_type ? k->doc_type : "see below");
        return;
    }
}

static void default_text(const ccp_key *k, ccp_buf *out, bool md)
{
    if (k->doc_def)
        ccp_buf_appends(out, k->doc_def);
    else if (k->required)
        ccp_buf_appends(out, "required");
    else if (k->def)
        ccp_buf_printf(out, md ? "`%s`" : "%s", k->def);
    else
        ccp_buf_appends(out, "none");
}

void ccp_keys_write(const ccp_key_table *t, ccp_buf *out, bool md)
{
    if (md) ccp_buf_appends(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < t->n; i++) {
        const ccp_key *k = &t->keys[i];
        if (md) {
            ccp_buf_printf(out, "| `%s` | ", k->name);
            ccp_key_type_text(k, out, true);
            ccp_buf_appends(out, " | ");
            default_text(k, out, true);
            ccp_buf_printf(out, " | %s |\n", k->help);
        } else {
            ccp_buf_printf(out, "  %s (", k->name);
            ccp_key_type_text(k, out, false);
            ccp_buf_appends(out, "; default ");
            default_text(k, out, false);
            ccp_buf_printf(out, ")\n      %s\n", k->help);
        }
    }
}
