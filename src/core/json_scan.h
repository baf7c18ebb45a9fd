/* json_scan.h — the bytes a JSON string cannot hold as they are.
 *
 * Controls (below 0x20), '"' and '\\': the serializer escapes them, and the
 * parser stops at them. Both skip long plain runs eight bytes at a time. */
#ifndef CCP_CORE_JSON_SCAN_H
#define CCP_CORE_JSON_SCAN_H

#include <stdbool.h>
#include <stdint.h>

/* 1 for the bytes JSON needs escaped: controls, '"' and '\\'. */
static const unsigned char ccp_json_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,         1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1,
};

/* Whether any byte of w is below 0x20, '"' or '\\' (exact: the classic
 * "has zero byte" / "has byte less than" bit tricks). */
static inline bool ccp_json_word_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t ctl = (w - ones * 0x20) & ~w & high;
    uint64_t q = w ^ (ones * '"');
    uint64_t bs = w ^ (ones * '\\');
    q = (q - ones) & ~q & high;
    bs = (bs - ones) & ~bs & high;
    return (ctl | q | bs) != 0;
}

#endif
