/* alloc.c — the abort-on-failure allocators declared in alloc.h. */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "ccproxy: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ccp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *ccp_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *ccp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *ccp_xstrdup(const char *s)
{
    return ccp_xstrndup(s, strlen(s));
}

char *ccp_xstrndup(const char *s, size_t n)
{
    char *p = ccp_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
