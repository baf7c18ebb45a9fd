/* fuzz_encode.h — the body of the three request-encoder targets
 * (header-only; each fuzz_<codec>_encode.c defines FUZZ_FORMAT and
 * includes this).
 *
 * Input: a JSON document taken as the client's Messages request (what the
 * proxy hands a codec after parsing the body), encoded for a fixed provider
 * of that format. The request may have any shape — a field of the wrong type
 * included — and the oracle is that encoding either fails with a message or
 * gives a body that is valid JSON. */
#ifndef CCP_FUZZ_ENCODE_H
#define CCP_FUZZ_ENCODE_H

#include "codec/codec.h"
#include "fuzz.h"

static ccp_provider provider = {
    .name = "fuzz",
    .format = FUZZ_FORMAT,
    .base_url = "https://upstream.invalid/v1",
    .api_key = "k",
    .auth = CCP_AUTH_BEARER,
};

/* The codec's options at their defaults, with every path that maps more
 * of the request turned on where the codec has it. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const ccp_codec *codec = ccp_codec_for(FUZZ_FORMAT);
    if (!codec->opts_size) return 0;
    void *opts = calloc(1, codec->opts_size);
    ccp_key_table t = {codec->name, codec->opts, codec->n_opts};
    ccp_keys_defaults(&t, opts);
    static const char *const on[][2] = {
        {"reasoning", "effort"}, {"reasoning_history", "true"}, {"sampling", "true"}};
    char why[200];
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
        const ccp_key *k = ccp_keys_find(&t, on[i][0]);
        if (k) ccp_key_set(k, opts, on[i][1], why, sizeof why);
    }
    provider.codec_opts = opts;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_dup(data, size);
    json_object *req = ccp_json_parse(in, size, NULL);
    free(in);
    if (!req || !json_object_is_type(req, json_type_object)) {
        json_object_put(req);
        return 0;
    }
    const ccp_codec *codec = ccp_codec_for(FUZZ_FORMAT);
    json_object *stream = NULL;
    json_object_object_get_ex(req, "stream", &stream);
    ccp_encode_ctx ctx = {
        .provider = &provider,
        .model = (size & 1) ? "fuzz-model" : NULL,
        .request = req,
        .stream = json_object_get_boolean(stream),
    };
    ccp_outbound out;
    ccp_outbound_init(&out);
    ccp_error err = {0};
    int rc = codec->encode(&ctx, &out, &err);
    ccp_outbound_seal(&out);
    if (rc == 0)
        FUZZ_CHECK(fuzz_is_json(out.body.data, out.body.len), "the encoded body is not JSON");
    else
        FUZZ_CHECK(err.msg[0] != '\0', "encode failed (%d) without a message", rc);
    ccp_outbound_free(&out);
    json_object_put(req);
    return 0;
}

#endif
