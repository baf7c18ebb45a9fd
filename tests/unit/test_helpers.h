/* test_helpers.h — small helpers shared by the unit tests (header-only). */
#ifndef CCP_TEST_HELPERS_H
#define CCP_TEST_HELPERS_H

#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>

/* Reads a fixture under tests/fixtures; the caller frees the result. */
static inline char *read_fixture(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CCP_TEST_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = ccp_xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    buf[n] = '\0';
    fclose(f);
    if (len) *len = (size_t)n;
    return buf;
}

#endif
