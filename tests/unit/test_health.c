/* test_health.c — the provider health registry (health.c): lookups read
 * the list without its lock while other threads add to it; every thread
 * must get the one entry of a provider, and none may be lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config/config.h"
#include "exchange/health.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { THREADS = 4, NAMES = 64, ROUNDS = 200 };

static ccp_health *reg;
static ccp_provider providers[NAMES];
static char names[NAMES][16];
static ccp_provider_health *seen[THREADS][NAMES];

static void *looker(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        /* Each thread walks the names in its own order, so additions
         * race with lookups of names added a moment before. */
        for (size_t i = 0; i < NAMES; i++) {
            size_t n = (i * (2 * t + 1) + (size_t)r) % NAMES;
            ccp_provider_health *e = ccp_health_of(reg, &providers[n]);
            if (!seen[t][n]) seen[t][n] = e;
            if (seen[t][n] != e) return (void *)1;
        }
    }
    return NULL;
}

static void concurrent_lookups_agree_on_one_entry_per_provider(void **state)
{
    (void)state;
    reg = ccp_health_new();
    for (size_t i = 0; i < NAMES; i++) {
        snprintf(names[i], sizeof names[i], "p%zu", i);
        providers[i].name = names[i];
    }
    pthread_t th[THREADS];
    for (size_t t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, looker, (void *)(uintptr_t)t), 0);
    for (size_t t = 0; t < THREADS; t++) {
        void *rc;
        pthread_join(th[t], &rc);
        assert_null(rc);
    }
    for (size_t n = 0; n < NAMES; n++) {
        for (size_t t = 1; t < THREADS; t++)
            assert_ptr_equal(seen[t][n], seen[0][n]);
        /* And it is the entry a later lookup finds. */
        assert_ptr_equal(ccp_health_of(reg, &providers[n]), seen[0][n]);
    }
    ccp_health_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_lookups_agree_on_one_entry_per_provider),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
