/* fuzz_json_parse.c — libFuzzer target for the JSON parser (core/json_parse.c)
 * and writer: any bytes parse or fail cleanly; what parses, written and
 * parsed again, gives an equal document and the same text. */
#include "core/json.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_dup(data, size);
    ccp_error err = {0};
    json_object *doc = ccp_json_parse(in, size, &err);
    if (doc) {
        ccp_buf out;
        ccp_buf_init(&out);
        ccp_json_write(&out, doc);
        ccp_error err2 = {0};
        json_object *again = ccp_json_parse(out.data, out.len, &err2);
        FUZZ_CHECK(again != NULL, "the writer's output does not parse: %s", err2.msg);
        FUZZ_CHECK(json_object_equal(doc, again), "written and parsed again differs");
        ccp_buf out2;
        ccp_buf_init(&out2);
        ccp_json_write(&out2, again);
        FUZZ_CHECK(out.len == out2.len && memcmp(out.data, out2.data, out.len) == 0,
                   "writing is not stable");
        ccp_buf_free(&out2);
        ccp_buf_free(&out);
        json_object_put(again);
        json_object_put(doc);
    } else if (err.code != CCP_OK) {
        FUZZ_CHECK(err.msg[0] != '\0', "a parse error without a message");
    }
    free(in);
    return 0;
}
