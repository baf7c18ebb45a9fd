/* test_json_parse.c — ccp_json_parse against json-c's own tokenizer (which
 * it replaced): on every recorded body and on thousands of generated
 * documents both give equal trees that serialize to the same bytes; on
 * mutated and truncated input ours never accepts what json-c refuses, except
 * integers beyond 64 bits (kept as doubles by design, where json-c refused
 * or clamped them), and is stricter on
 * the inputs json-c's strict mode let through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "test_helpers.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>

/* The reference: json-c's tokenizer as ccproxy used it before. */
static json_object *ref_parse(const char *s, size_t len, bool *ok)
{
    json_tokener *tok = json_tokener_new_ex(CCP_JSON_MAX_DEPTH);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    if (e == json_tokener_continue) {
        o = json_tokener_parse_ex(tok, " ", 1);
        e = json_tokener_get_error(tok);
        off = len;
    }
    *ok = e == json_tokener_success;
    while (*ok && off < len && strchr(" \t\r\n", s[off]))
        off++;
    if (*ok && off != len) *ok = false;
    if (!*ok) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

static void assert_same(const char *s, size_t len)
{
    bool ref_ok;
    json_object *want = ref_parse(s, len, &ref_ok);
    ccp_error err = {0};
    json_object *got = ccp_json_parse(s, len, &err);
    if (!ref_ok) fail_msg("json-c refuses the input: %.*s", (int)(len > 200 ? 200 : len), s);
    if (err.code)
        fail_msg("ccp_json_parse refuses: %s in %.*s", err.msg, (int)(len > 200 ? 200 : len), s);
    ccp_buf a = CCP_BUF_INIT, b = CCP_BUF_INIT;
    ccp_json_write(&a, want);
    ccp_json_write(&b, got);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        fail_msg("different trees for %.*s:\n json-c: %.*s\n ours:   %.*s",
                 (int)(len > 200 ? 200 : len), s, (int)(a.len > 300 ? 300 : a.len), a.data,
                 (int)(b.len > 300 ? 300 : b.len), b.data);
    assert_true(json_object_equal(want, got));
    ccp_buf_free(&a);
    ccp_buf_free(&b);
    json_object_put(want);
    json_object_put(got);
}

/* ---- recorded bodies -------------------------------------------------- */

static int n_files;

static int each_fixture(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (flag != FTW_F || n < 5 || strcmp(path + n - 5, ".json") != 0) return 0;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    assert_same(text, (size_t)len);
    free(text);
    n_files++;
    return 0;
}

static void recorded_bodies_parse_as_json_c_parses_them(void **state)
{
    (void)state;
    assert_int_equal(nftw(CCP_TEST_FIXTURES, each_fixture, 8, 0), 0);
    assert_true(n_files >= 10);
}

/* ---- generated documents ---------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void gen_ws(ccp_buf *b)
{
    static const char *ws[] = {"", "", "", " ", "\n", "\r\n\t ", "  "};
    ccp_buf_appends(b, ws[rnd(7)]);
}

static void gen_string(ccp_buf *b)
{
    static const char *pieces[] = {
        "a",
        "hello world ",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b\\f\\n\\r\\t",
        "\\u0000",
        "\\u001f",
        "\\u00e9",
        "\\u4e2d",
        "\\ud83d\\ude00",
        "\\ud83d",
        "\\ude00",
        "\\ud83dx",
        "\\ud83d\\u0041",
        "\\uD83D\\uDE00",
        "caf\xc3\xa9",
        "\xe4\xb8\xad\xe6\x96\x87",
        "\xf0\x9f\x98\x80",
        "\x7f",
        "0123456789abcdef0123456789",
        "\xff\xfe",
        "'",
        "</script>",
    };
    ccp_buf_appendc(b, '"');
    for (uint32_t i = rnd(8); i > 0; i--)
        ccp_buf_appends(b, pieces[rnd(sizeof pieces / sizeof pieces[0])]);
    ccp_buf_appendc(b, '"');
}

static void gen_number(ccp_buf *b)
{
    static const char *nums[] = {
        "0",
        "-0",
        "1",
        "-1",
        "42",
        "9007199254740993",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "18446744073709551615",
        "0.5",
        "-0.0",
        "1e5",
        "1E+5",
        "2.5e-3",
        "3.141592653589793238462643",
        "1.5e300",
        "100.000",
        "6.02E23",
    };
    ccp_buf_appends(b, nums[rnd(sizeof nums / sizeof nums[0])]);
}

static void gen_value(ccp_buf *b, int depth)
{
    uint32_t k = depth > 6 ? rnd(5) : rnd(7);
    switch (k) {
    case 0:
        gen_string(b);
        break;
    case 1:
        gen_number(b);
        break;
    case 2:
        ccp_buf_appends(b, rnd(2) ? "true" : "false");
        break;
    case 3:
        ccp_buf_appends(b, "null");
        break;
    case 4:
        gen_string(b);
        break;
    case 5: {
        ccp_buf_appendc(b, '[');
        for (uint32_t i = 0, n = rnd(5); i < n; i++) {
            if (i) ccp_buf_appendc(b, ',');
            gen_ws(b);
            gen_value(b, depth + 1);
            gen_ws(b);
        }
        ccp_buf_appendc(b, ']');
        break;
    }
    default: {
        ccp_buf_appendc(b, '{');
        for (uint32_t i = 0, n = rnd(5); i < n; i++) {
            if (i) ccp_buf_appendc(b, ',');
            gen_ws(b);
            /* Repeated keys on purpose: the last one wins in both. */
            static const char *keys[] = {"\"a\"",         "\"b\"", "\"type\"",
                                         "\"k\\u00e9y\"", "\"\"",  "\"a\""};
            ccp_buf_appends(b, keys[rnd(6)]);
            gen_ws(b);
            ccp_buf_appendc(b, ':');
            gen_ws(b);
            gen_value(b, depth + 1);
        }
        ccp_buf_appendc(b, '}');
    }
    }
}

static void generated_documents_parse_as_json_c_parses_them(void **state)
{
    (void)state;
    for (int i = 0; i < 3000; i++) {
        ccp_buf b = CCP_BUF_INIT;
        gen_ws(&b);
        gen_value(&b, 0);
        gen_ws(&b);
        assert_same(b.data, b.len);
        ccp_buf_free(&b);
    }
}

/* Whether s has a run of 19 or more digits: an integer that may not fit in
 * 64 bits, which json-c refuses when negative and clamps to UINT64_MAX when
 * positive, and ours keeps, digits and all, as a double. */
static bool has_long_digit_run(const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        run = s[i] >= '0' && s[i] <= '9' ? run + 1 : 0;
        if (run >= 19) return true;
    }
    return false;
}

static void mutated_documents_are_never_accepted_when_json_c_refuses(void **state)
{
    (void)state;
    static const char bytes[] = "{}[]\",:\\ 0-.eEtfnu\t\x01'";
    int accepted = 0, refused = 0;
    for (int i = 0; i < 20000; i++) {
        ccp_buf b = CCP_BUF_INIT;
        gen_value(&b, 0);
        size_t len = b.len;
        switch (rnd(3)) {
        case 0: /* one byte replaced */
            b.data[rnd((uint32_t)len)] = bytes[rnd(sizeof bytes - 1)];
            break;
        case 1: /* truncated */
            len = rnd((uint32_t)len);
            break;
        default: /* one byte dropped */
            if (len > 1) {
                size_t at = rnd((uint32_t)len);
                memmove(b.data + at, b.data + at + 1, len - at - 1);
                len--;
            }
        }
        bool ref_ok;
        json_object *want = ref_parse(b.data, len, &ref_ok);
        ccp_error err = {0};
        json_object *got = ccp_json_parse(b.data, len, &err);
        if (err.code == CCP_OK) {
            accepted++;
            if (!ref_ok && !has_long_digit_run(b.data, len))
                fail_msg("accepted what json-c refuses: %.*s", (int)len, b.data);
            /* json-c clamps such an integer to UINT64_MAX: ours keeps it. */
            if (ref_ok && !has_long_digit_run(b.data, len)) {
                ccp_buf x = CCP_BUF_INIT, y = CCP_BUF_INIT;
                ccp_json_write(&x, want);
                ccp_json_write(&y, got);
                if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
                    fail_msg("different trees for %.*s:\n json-c: %s\n ours:   %s", (int)len,
                             b.data, x.data, y.data);
                ccp_buf_free(&x);
                ccp_buf_free(&y);
            }
        } else {
            refused++;
            assert_int_equal(err.code, CCP_EPARSE);
            assert_non_null(strstr(err.msg, "invalid JSON at byte offset "));
        }
        json_object_put(want);
        json_object_put(got);
        ccp_buf_free(&b);
    }
    /* Both branches were exercised. */
    assert_true(accepted > 1000);
    assert_true(refused > 1000);
}

static void stricter_than_json_c_where_it_was_lax(void **state)
{
    (void)state;
    const char *lax[] = {"{'a':1}",    "[NaN]",      "[Infinity]",  "[-Infinity]",
                         "[\"a\tb\"]", "[\"a\nb\"]", "[\"\\x41\"]", "[1.]",
                         "[.5]",       "[+1]",       "[0x10]"};
    for (size_t i = 0; i < sizeof lax / sizeof lax[0]; i++) {
        ccp_error err = {0};
        json_object *o = ccp_json_parse(lax[i], strlen(lax[i]), &err);
        if (o || err.code != CCP_EPARSE) fail_msg("accepted %s", lax[i]);
    }
}

static void integers_beyond_64_bits_keep_their_digits(void **state)
{
    (void)state;
    const char *in = "[123456789012345678901234567890,-99999999999999999999]";
    ccp_error err = {0};
    json_object *o = ccp_json_parse(in, strlen(in), &err);
    assert_non_null(o);
    ccp_buf b = CCP_BUF_INIT;
    ccp_json_write(&b, o);
    assert_string_equal(b.data, in);
    ccp_buf_free(&b);
    json_object_put(o);
}

static void errors_name_the_offset_and_the_problem(void **state)
{
    (void)state;
    struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"{\"a\" 1}", "byte offset 5: expected ':' after the member name"},
        {"{\"a\":1 \"b\":2}", "byte offset 7: expected ',' or '}'"},
        {"[1 2]", "byte offset 3: expected ',' or ']'"},
        {"{1:2}", "byte offset 1: expected a member name in double quotes"},
        {"[\"a\\qb\"]", "byte offset 3: invalid escape in string"},
        {"[\"\\u12g4\"]", "byte offset 2: invalid \\u escape"},
        {"[\"ab", "byte offset 4: unexpected end of input"},
        {"[-]", "byte offset 2: invalid number"},
        {"[1.e5]", "byte offset 3: invalid number: a digit must follow '.'"},
        {"[1e]", "byte offset 3: invalid number: a digit must follow the exponent"},
        {"[nul]", "byte offset 1: unexpected character"},
        {"[nul", "byte offset 4: unexpected end of input"},
        {"", "byte offset 0: unexpected end of input"},
        {"[\"a\x01\"]", "byte offset 3: control character in string (escape it)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ccp_error err = {0};
        assert_null(ccp_json_parse(cases[i].in, strlen(cases[i].in), &err));
        if (!strstr(err.msg, cases[i].want)) fail_msg("%s: got '%s'", cases[i].in, err.msg);
    }
    /* Nesting: CCP_JSON_MAX_DEPTH levels parse; one more, or a hundred
     * thousand, is an error (not a stack overflow). */
    size_t big = 100000;
    char *deep = malloc(2 * big);
    for (size_t depth = CCP_JSON_MAX_DEPTH; depth <= big;
         depth = depth == CCP_JSON_MAX_DEPTH ? depth + 1 : big) {
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        ccp_error err = {0};
        json_object *o = ccp_json_parse(deep, 2 * depth, &err);
        if (depth == CCP_JSON_MAX_DEPTH) {
            assert_non_null(o);
            json_object_put(o);
        } else {
            assert_null(o);
            assert_non_null(strstr(err.msg, "nesting too deep"));
        }
        if (depth == big) break;
    }
    free(deep);
}

/* The value budget: a document of exactly N values parses under a budget
 * of N and is refused under N - 1, for every kind of value, nested or not;
 * member names do not count. */
static void value_budget_is_exact(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t values;
    } cases[] = {
        {"1", 1},
        {"null", 1},
        {"[]", 1},
        {"{}", 1},
        {"[1,2,3]", 4},
        {"{\"a\":{\"b\":[true,null]},\"c\":\"x\"}", 6},
        {"[[[]],{},\"s\",-1.5,false]", 7},
        {"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}", 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *in = cases[i].in;
        size_t n = cases[i].values;
        ccp_error err = {0};
        json_object *o = ccp_json_parse_max(in, strlen(in), n, &err);
        if (err.code != CCP_OK) fail_msg("%s with a budget of %zu: %s", in, n, err.msg);
        json_object_put(o);
        if (n == 1) continue; /* a budget of 0 means none */
        err = (ccp_error){0};
        assert_null(ccp_json_parse_max(in, strlen(in), n - 1, &err));
        assert_int_equal(err.code, CCP_ELIMIT);
        char want[64];
        snprintf(want, sizeof want, "more than %zu values", n - 1);
        if (!strstr(err.msg, want)) fail_msg("%s: got '%s'", in, err.msg);
    }
    /* A large array: the budget stops the parse part-way and frees what
     * was built (ASan checks); one more value of room and it parses. */
    size_t count = 100000;
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appendc(&b, '[');
    for (size_t i = 0; i < count; i++)
        ccp_buf_appends(&b, i ? ",{}" : "{}");
    ccp_buf_appendc(&b, ']');
    ccp_error err = {0};
    assert_null(ccp_json_parse_max(b.data, b.len, count, &err));
    assert_int_equal(err.code, CCP_ELIMIT);
    json_object *o = ccp_json_parse_max(b.data, b.len, count + 1, &err);
    assert_non_null(o);
    assert_int_equal(json_object_array_length(o), count);
    json_object_put(o);
    ccp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recorded_bodies_parse_as_json_c_parses_them),
        cmocka_unit_test(generated_documents_parse_as_json_c_parses_them),
        cmocka_unit_test(mutated_documents_are_never_accepted_when_json_c_refuses),
        cmocka_unit_test(stricter_than_json_c_where_it_was_lax),
        cmocka_unit_test(integers_beyond_64_bits_keep_their_digits),
        cmocka_unit_test(errors_name_the_offset_and_the_problem),
        cmocka_unit_test(value_budget_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
