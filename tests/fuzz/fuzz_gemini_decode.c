/* fuzz_gemini_decode.c — libFuzzer target for the gemini decoder
 * (src/codec/gemini_decode.c): see fuzz_decode.h. */
#define FUZZ_CODEC ccp_codec_for(CCP_FORMAT_GEMINI)
#include "fuzz_decode.h"
