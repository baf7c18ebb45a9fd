/* json_repair.h — making a tool call's arguments a JSON object. Models
 * behind OpenAI-compatible servers sometimes send arguments cut short or not
 * JSON at all; Claude Code needs an object. */
#ifndef CCP_CORE_JSON_REPAIR_H
#define CCP_CORE_JSON_REPAIR_H

#include <stddef.h>

typedef enum {
    CCP_REPAIR_NONE,    /* already a JSON object (or empty: "{}") */
    CCP_REPAIR_CLOSED,  /* closing brackets/quotes were missing and were added */
    CCP_REPAIR_WRAPPED, /* not repairable: {"arguments": "<the text>"} */
} ccp_repair;

/* Returns s[0..n) as a JSON object text (malloc'd, caller frees): kept when
 * it is one, completed when only closing characters are missing, else the
 * text wrapped as a string. *how (optional) says which. */
char *ccp_json_repair_object(const char *s, size_t n, ccp_repair *how);

#endif
