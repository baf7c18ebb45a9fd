/* json.h — the project's use of json-c, in one place.
 *
 * Parsing is strict, allows nesting to 128 levels (Claude Code sends 11) and
 * requires the parse to consume the whole input: a truncated body is an error,
 * not a "continue". Serialization is plain with no slash escaping. Subtrees
 * are shared by reference count (json_object_get); a tree is deep-copied
 * only where the exchange must keep the client's request for a fallback
 * (exchange.c). */
#ifndef CCP_CORE_JSON_H
#define CCP_CORE_JSON_H

#include "core/buf.h"
#include "core/error.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCP_JSON_MAX_DEPTH 128

/* Parses data[0..len) as exactly one JSON value (surrounding whitespace
 * allowed). Returns a new object the caller owns (json_object_put), or NULL
 * with err set to CCP_EPARSE and a message naming the byte offset. A valid
 * literal `null` also returns NULL but with err->code == CCP_OK. */
json_object *ccp_json_parse(const char *data, size_t len, ccp_error *err);
/* The same with a budget: more than max_values values (every object, array,
 * string, number, true, false and null counts one, members' names do not)
 * is refused with err set to CCP_ELIMIT and nothing kept. 0: no budget. */
json_object *ccp_json_parse_max(const char *data, size_t len, size_t max_values, ccp_error *err);

/* Serializes obj; the string is owned by obj and valid until obj changes or
 * is released. *len (optional) receives its length. */
const char *ccp_json_str(json_object *obj, size_t *len);

/* Appends obj serialized to b: the same bytes as ccp_json_str, written
 * straight into b with no intermediate copy and nothing cached in obj (the
 * hot path: every outbound body and every response is written this way).
 * A NULL obj is written as null. */
void ccp_json_write(ccp_buf *b, json_object *obj);

/* Member lookups that return NULL (or the fallback) when the key is absent or
 * of another type. Returned pointers are borrowed from obj. */
json_object *ccp_json_get(json_object *obj, const char *key);
const char *ccp_json_get_str(json_object *obj, const char *key);
json_object *ccp_json_get_obj(json_object *obj, const char *key);
json_object *ccp_json_get_arr(json_object *obj, const char *key);
int64_t ccp_json_get_int(json_object *obj, const char *key, int64_t fallback);
bool ccp_json_get_bool(json_object *obj, const char *key, bool fallback);

/* The length of an array, 0 for NULL or any other type: json-c's own
 * json_object_array_length and _get_idx assert (abort the process) on a
 * non-array, so code reading request or upstream data uses these. */
size_t ccp_json_arr_len(json_object *arr);
/* Element i of an array, NULL when arr is no array or i is out of range. */
json_object *ccp_json_arr_at(json_object *arr, size_t i);

/* Builds a new string object from s[0..n) (NUL bytes kept). Caller owns it. */
json_object *ccp_json_strn(const char *s, size_t n);

#endif
