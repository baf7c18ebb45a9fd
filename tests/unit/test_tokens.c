/* test_tokens.c — the token estimate against the reference tokenizer's
 * counts (tests/fixtures/tokens/reference.json, made by
 * scripts/gen-token-fixtures.mjs), and the request-level walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
#include "core/tokens.h"
#include "test_helpers.h"

#include <math.h>
#include <string.h>

static void every_sample_is_within_15_percent_of_the_reference(void **state)
{
    size_t len;
    char *ref_txt = read_fixture("tokens/reference.json", &len);
    json_object *ref = ccp_json_parse(ref_txt, len, NULL);
    assert_non_null(ref);
    double est_total = 0, ref_total = 0;
    int samples = 0;
    json_object_object_foreach(ref, name, count)
    {
        char rel[256];
        snprintf(rel, sizeof rel, "tokens/%s", name);
        size_t n;
        char *text = read_fixture(rel, &n);
        double est = (double)ccp_tokens_estimate_text(text, n);
        double want = (double)json_object_get_int64(count);
        double err = (est - want) / want;
        printf("%-20s estimate %6.0f reference %6.0f error %+5.1f%%\n", name, est, want, err * 100);
        if (fabs(err) > 0.15)
            fail_msg("%s: estimate %.0f is %.1f%% off %.0f", name, est, err * 100, want);
        est_total += est;
        ref_total += want;
        samples++;
        free(text);
    }
    assert_true(samples >= 8);
    assert_true(fabs(est_total - ref_total) / ref_total <= 0.15);
    json_object_put(ref);
    free(ref_txt);
}

static int64_t estimate(const char *json)
{
    json_object *o = ccp_json_parse(json, strlen(json), NULL);
    assert_non_null(o);
    int64_t n = ccp_tokens_estimate_request(o);
    json_object_put(o);
    return n;
}

static void the_request_walk_counts_every_part(void **state)
{
    int64_t base = estimate("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}]}");
    assert_true(base >= 3 && base <= 10);
    int64_t two = estimate("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"},"
                           "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":"
                           "\"General Kenobi\"}]}]}");
    assert_true(two > base);
    int64_t sys = estimate("{\"system\":[{\"type\":\"text\",\"text\":\"You are a careful "
                           "engineer.\"}],\"messages\":[{\"role\":\"user\",\"content\":\"Hello "
                           "there\"}]}");
    assert_true(sys > base);
    int64_t tools = estimate("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}],"
                             "\"tools\":[{\"name\":\"Read\",\"description\":\"Read a file\","
                             "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":"
                             "{\"type\":\"string\"}}}}]}");
    assert_true(tools > base + 10);
    int64_t image = estimate("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\","
                             "\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\","
                             "\"data\":\"AAAA\"}}]}]}");
    assert_true(image >= CCP_TOKENS_PER_IMAGE && image < CCP_TOKENS_PER_IMAGE + 10);
    int64_t tool_turn = estimate(
        "{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\","
        "\"name\":\"Read\",\"input\":{\"path\":\"/etc/hosts\"}}]},{\"role\":\"user\",\"content\":"
        "[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":\"127.0.0.1 "
        "localhost\"}]}]}");
    assert_true(tool_turn > 20);
    assert_int_equal(estimate("{\"messages\":[]}"), 1);
}

static void empty_and_non_ascii_text(void **state)
{
    assert_int_equal(ccp_tokens_estimate_text("", 0), 0);
    /* CJK runs count about one token per character. */
    const char *cjk = "日本語のテキストです";
    size_t n = ccp_tokens_estimate_text(cjk, strlen(cjk));
    assert_true(n >= 8 && n <= 12);
    /* A truncated UTF-8 sequence at the end is not read past. */
    assert_true(ccp_tokens_estimate_text("ab\xe6\x97", 4) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_sample_is_within_15_percent_of_the_reference),
        cmocka_unit_test(the_request_walk_counts_every_part),
        cmocka_unit_test(empty_and_non_ascii_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
