/* limits.c — continuously refilled token buckets (see limits.h). */
#include "teams/limits.h"

#include <math.h>

void ccp_bucket_refill(ccp_bucket *b, int64_t cap, int64_t now_ms)
{
    if (!b->started) {
        b->started = true;
        b->level = (double)cap;
        b->at_ms = now_ms;
        return;
    }
    /* A clock that steps back (it should not: it is monotonic) adds nothing. */
    if (now_ms > b->at_ms) {
        b->level += (double)(now_ms - b->at_ms) * (double)cap / 60000.0;
        if (b->level > (double)cap) b->level = (double)cap;
        b->at_ms = now_ms;
    }
}

bool ccp_bucket_allows(const ccp_bucket *b, int64_t cap, int64_t n)
{
    double need = (double)(n < cap ? n : cap);
    /* A little slack for floating point: 3 requests refilled over exactly
     * 20 s must make a whole one. */
    return b->level + 1e-9 >= need;
}

void ccp_bucket_take(ccp_bucket *b, double n)
{
    b->level -= n;
}

void ccp_bucket_give(ccp_bucket *b, int64_t cap, double n)
{
    b->level += n;
    if (b->level > (double)cap) b->level = (double)cap;
}

int64_t ccp_bucket_wait_ms(const ccp_bucket *b, int64_t cap, int64_t n)
{
    double need = (double)(n < cap ? n : cap) - b->level;
    if (need <= 1e-9 || cap <= 0) return 0;
    return (int64_t)ceil(need * 60000.0 / (double)cap);
}

int64_t ccp_bucket_full_ms(const ccp_bucket *b, int64_t cap)
{
    return ccp_bucket_wait_ms(b, cap, cap);
}

int64_t ccp_bucket_remaining(const ccp_bucket *b)
{
    return b->level > 0 ? (int64_t)floor(b->level + 1e-9) : 0;
}
