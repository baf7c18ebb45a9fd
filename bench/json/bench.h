/* bench.h — what each library's side of the JSON benchmark provides. */
#ifndef CCP_BENCH_H
#define CCP_BENCH_H
#include <stddef.h>
/* Parse, rewrite Anthropic → OpenAI Chat, serialize; returns output bytes. */
size_t bench_run(const char *s, size_t n);
/* Parses and re-serializes in; NULL when the library rejects it. */
const char *bench_roundtrip(const char *in);
#endif
