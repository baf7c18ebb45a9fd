/* fuzz_anthropic_decode.c — libFuzzer target for the anthropic decoder
 * (src/codec/anthropic_decode.c): see fuzz_decode.h. */
#define FUZZ_CODEC ccp_codec_for(CCP_FORMAT_ANTHROPIC)
#include "fuzz_decode.h"
