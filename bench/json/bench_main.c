/* bench_main.c — parse, rewrite (Anthropic → OpenAI Chat) and serialize a
 * Claude Code–shaped request with cJSON, jansson and json-c; plus the
 * fidelity checks that decided the choice. Bench-only: not part of ccproxy. One binary per library
 * (jansson and json-c share symbol names), each linking one lib_*.c.
 *   json_bench LIB FILE ITERATIONS   → "median_ms p90_ms maxrss_kb out_bytes"
 *   json_bench LIB --fidelity        → one line of yes/no per check */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fidelity(void)
{
    const char *r = bench_roundtrip("[9007199254740993]");
    printf("big_int:%s ", r && strstr(r, "9007199254740993") ? "yes" : "no");
    r = bench_roundtrip("[\"a\\u0000b\"]");
    printf("nul:%s ", r && strstr(r, "a\\u0000b") ? "yes" : "no");
    r = bench_roundtrip("[\"x\\ud83d\"]");
    printf("lone_surrogate:%s ", r ? "yes" : "no");
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    r = bench_roundtrip(deep);
    printf("depth64:%s\n", r ? "yes" : "no");
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[2], "--fidelity")) {
        fidelity();
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr,
                "usage: json_bench cjson|jansson|json-c FILE ITERATIONS | LIB --fidelity\n");
        return 2;
    }
    size_t (*run)(const char *, size_t) = bench_run;
    FILE *f = fopen(argv[2], "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) return 1;
    s[n] = 0;
    fclose(f);
    int iters = atoi(argv[3]);
    size_t out = 0;
    for (int i = 0; i < 5; i++)
        out = run(s, (size_t)n); /* warm-up */
    double *t = malloc(sizeof *t * (size_t)iters);
    for (int i = 0; i < iters; i++) {
        double a = now_ms();
        out = run(s, (size_t)n);
        t[i] = now_ms() - a;
    }
    qsort(t, (size_t)iters, sizeof *t, cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%.3f %.3f %ld %zu\n", t[iters / 2], t[iters * 9 / 10], ru.ru_maxrss, out);
    free(t);
    free(s);
    return 0;
}
