/* api_error.h — the Anthropic API's error types and the HTTP statuses that
 * go with them, in one table read both ways: a provider's status gives the
 * type the client sees, and an error that arrives as an event (no status
 * of its own) gets the status the API uses for its type. */
#ifndef CCP_CORE_API_ERROR_H
#define CCP_CORE_API_ERROR_H

/* The error type for an HTTP status: "invalid_request_error" for 400,
 * "authentication_error" for 401, ...; any other 4xx is an
 * invalid_request_error, anything else an api_error. Static string. */
const char *ccp_error_type_for_status(int status);

/* The status the Anthropic API answers an error type with (e.g. 529 for
 * overloaded_error); 500 for a type it does not know. */
int ccp_error_status_for_type(const char *type);

#endif
