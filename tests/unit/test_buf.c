/* test_buf.c — the growable buffer and its JSON string writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/json.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append_grows_and_stays_nul_terminated(void **state)
{
    ccp_buf b = CCP_BUF_INIT;
    for (int i = 0; i < 1000; i++)
        ccp_buf_append(&b, "abc", 3);
    assert_int_equal(b.len, 3000);
    assert_int_equal(b.data[b.len], '\0');
    ccp_buf_printf(&b, "%0300d", 7); /* longer than printf's stack buffer */
    assert_int_equal(b.len, 3300);
    assert_int_equal(b.data[3299], '7');
    ccp_buf_consume(&b, 3000);
    assert_int_equal(b.len, 300);
    assert_int_equal(b.data[0], '0');
    size_t len;
    char *d = ccp_buf_detach(&b, &len);
    assert_int_equal(len, 300);
    assert_null(b.data);
    free(d);
}

static void a_fresh_reserved_buffer_is_an_empty_string(void **state)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_reserve(&b, 100);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    ccp_buf_free(&b);
}

static void json_string_escapes_what_json_requires_and_nothing_else(void **state)
{
    ccp_buf b = CCP_BUF_INIT;
    const char in[] = "q\"b\\n\n\x01/\xf0\x9f\x98\x80\0z";
    ccp_buf_append_json_str(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "\"q\\\"b\\\\n\\n\\u0001/\xf0\x9f\x98\x80\\u0000z\"");
    /* What we write, json-c reads back to the same bytes. */
    ccp_error err;
    json_object *o = ccp_json_parse(b.data, b.len, &err);
    assert_non_null(o);
    assert_int_equal(json_object_get_string_len(o), (int)(sizeof in - 1));
    assert_memory_equal(json_object_get_string(o), in, sizeof in - 1);
    json_object_put(o);
    ccp_buf_free(&b);
}

/* The obvious byte-at-a-time escaper, to check the word-at-a-time one. */
static void reference_escape(ccp_buf *b, const unsigned char *s, size_t n)
{
    ccp_buf_appendc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            ccp_buf_appendc(b, '\\');
            ccp_buf_appendc(b, (char)c);
        } else if (c == '\n') {
            ccp_buf_appends(b, "\\n");
        } else if (c == '\r') {
            ccp_buf_appends(b, "\\r");
        } else if (c == '\t') {
            ccp_buf_appends(b, "\\t");
        } else if (c == '\b') {
            ccp_buf_appends(b, "\\b");
        } else if (c == '\f') {
            ccp_buf_appends(b, "\\f");
        } else if (c < 0x20) {
            ccp_buf_printf(b, "\\u%04x", c);
        } else {
            ccp_buf_appendc(b, (char)c);
        }
    }
    ccp_buf_appendc(b, '"');
}

/* Every byte value at every offset of a 20-byte run (so in each lane of
 * the 8-byte scan and in the tail), alone and next to another. */
static void json_string_escaping_matches_the_reference_for_every_byte_and_offset(void **state)
{
    unsigned char in[20];
    for (int c = 0; c < 256; c++) {
        for (size_t pos = 0; pos < sizeof in; pos++) {
            for (int pair = 0; pair < 2; pair++) {
                memset(in, 'a', sizeof in);
                in[pos] = (unsigned char)c;
                if (pair) in[(pos + 9) % sizeof in] = 0xe4; /* a UTF-8 lead byte */
                ccp_buf got = CCP_BUF_INIT, want = CCP_BUF_INIT;
                ccp_buf_append_json_str(&got, (const char *)in, sizeof in);
                reference_escape(&want, in, sizeof in);
                assert_int_equal(got.len, want.len);
                assert_memory_equal(got.data, want.data, got.len);
                assert_int_equal(got.data[got.len], '\0');
                ccp_buf_free(&got);
                ccp_buf_free(&want);
            }
        }
    }
}

/* The integer appenders write what printf's %llu / %lld write, at the
 * edges (0, every power of ten and its neighbours, the extremes). */
static void integers_are_written_as_printf_writes_them(void **state)
{
    (void)state;
    long long vals[64];
    size_t n = 0;
    vals[n++] = 0;
    vals[n++] = LLONG_MAX;
    vals[n++] = LLONG_MIN;
    for (long long p = 1;; p *= 10) {
        vals[n++] = p - 1;
        vals[n++] = -p;
        vals[n++] = p;
        if (p == 1000000000000000000LL) break;
    }
    for (size_t i = 0; i < n; i++) {
        char want[64];
        ccp_buf b = CCP_BUF_INIT;
        ccp_buf_append_i64(&b, vals[i]);
        snprintf(want, sizeof want, "%lld", vals[i]);
        assert_string_equal(b.data, want);
        ccp_buf_reset(&b);
        ccp_buf_append_u64(&b, (unsigned long long)vals[i]);
        snprintf(want, sizeof want, "%llu", (unsigned long long)vals[i]);
        assert_string_equal(b.data, want);
        ccp_buf_free(&b);
    }
}

/* Milliseconds from nanoseconds, as printf's %.1f / %.3f of ns / 1e6
 * write them: every value around the rounding ties of both, the ties that
 * printf rounds to even (62500 ns = 0.0625 ms), and large values. */
static void milliseconds_are_written_as_printf_writes_them(void **state)
{
    (void)state;
    unsigned long long bases[] = {
        0,         1000, 100000, 62500, 1234567, 999999999, 123456789012345ull, (1ull << 50) - 5,
        1ull << 52};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        for (unsigned long long d = 0; d < 200000; d += (d < 1100 ? 1 : 997)) {
            unsigned long long ns = bases[i] + d;
            for (int places = 1; places <= 3; places += 2) {
                char want[64];
                snprintf(want, sizeof want, "%.*f", places, (double)ns / 1e6);
                ccp_buf b = CCP_BUF_INIT;
                ccp_buf_append_ms(&b, ns, places);
                if (strcmp(b.data, want) != 0)
                    fail_msg("%llu ns, %d: %s, want %s", ns, places, b.data, want);
                ccp_buf_free(&b);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_grows_and_stays_nul_terminated),
        cmocka_unit_test(a_fresh_reserved_buffer_is_an_empty_string),
        cmocka_unit_test(json_string_escapes_what_json_requires_and_nothing_else),
        cmocka_unit_test(json_string_escaping_matches_the_reference_for_every_byte_and_offset),
        cmocka_unit_test(integers_are_written_as_printf_writes_them),
        cmocka_unit_test(milliseconds_are_written_as_printf_writes_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
