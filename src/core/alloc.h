/* alloc.h — allocation that never returns NULL.
 *
 * A proxy that runs out of memory cannot answer anyone usefully, and checking
 * every small allocation would double the error paths of every module. Like
 * Redis's zmalloc, these abort with a message on failure; callers own what they
 * get and release it with free(). */
#ifndef CCP_CORE_ALLOC_H
#define CCP_CORE_ALLOC_H

#include <stddef.h>

/* Each returns memory the caller owns (free() it); none returns NULL. */
void *ccp_xmalloc(size_t n);
void *ccp_xcalloc(size_t count, size_t size);
void *ccp_xrealloc(void *p, size_t n);
char *ccp_xstrdup(const char *s);
char *ccp_xstrndup(const char *s, size_t n);

#endif
