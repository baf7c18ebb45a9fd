/* fuzz.h — what the libFuzzer targets in tests/fuzz share (header-only).
 *
 * Inputs that must be fed in two pieces take the split point from their
 * first byte, so the fuzzer explores boundaries as it explores content.
 * FUZZ_CHECK is the oracle: a property every input must keep (the writer's
 * output is valid JSON, a split changes nothing, ...); it aborts, which
 * libFuzzer reports as a crash with the input saved. */
#ifndef CCP_FUZZ_H
#define CCP_FUZZ_H

#include "core/json.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s: ", #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Where to cut len bytes, from the fuzzer-chosen byte b: 0..len, spread
 * evenly so that both ends and the middle are reachable. */
static inline size_t fuzz_split(uint8_t b, size_t len)
{
    return (size_t)b * len / 255;
}

/* A heap copy of exactly len bytes (not NUL-terminated), so that ASan
 * catches a read one past the end, which a slice of libFuzzer's buffer
 * would not always show. The caller frees it. */
static inline char *fuzz_dup(const uint8_t *data, size_t len)
{
    char *p = malloc(len ? len : 1);
    if (!p) abort();
    if (len) memcpy(p, data, len);
    return p;
}

/* True when data[0..len) is exactly one valid JSON value. */
static inline int fuzz_is_json(const char *data, size_t len)
{
    ccp_error err = {0};
    json_object *o = ccp_json_parse(data, len, &err);
    int ok = o != NULL || err.code == CCP_OK;
    json_object_put(o);
    return ok;
}

#endif
