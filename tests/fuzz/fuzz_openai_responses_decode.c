/* fuzz_openai_responses_decode.c — libFuzzer target for the openai-responses
 * decoder (src/codec/openai_responses_decode.c): see fuzz_decode.h. */
#define FUZZ_CODEC ccp_codec_for(CCP_FORMAT_OPENAI_RESPONSES)
#include "fuzz_decode.h"
