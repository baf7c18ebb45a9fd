/* api_error.c — the status ↔ error-type table (see api_error.h). */
#include "core/api_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Several statuses map to one type; for a type, the row marked `answer`
 * is the status the API itself sends with it. */
static const struct {
    int status;
    const char *type;
    bool answer;
} table[] = {
    {400, "invalid_request_error", true},
    {401, "authentication_error", true},
    {402, "billing_error", true},
    {403, "permission_error", true},
    {404, "not_found_error", true},
    {408, "timeout_error", false},
    {413, "request_too_large", true},
    {429, "rate_limit_error", true},
    {500, "api_error", true},
    {503, "overloaded_error", false},
    {504, "timeout_error", true},
    {529, "overloaded_error", true},
};

const char *ccp_error_type_for_status(int status)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].status == status) return table[i].type;
    return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
}

int ccp_error_status_for_type(const char *type)
{
    for (size_t i = 0; type && i < sizeof table / sizeof table[0]; i++)
        if (table[i].answer && strcmp(table[i].type, type) == 0) return table[i].status;
    return 500;
}
