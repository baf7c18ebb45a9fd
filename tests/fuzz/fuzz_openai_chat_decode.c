/* fuzz_openai_chat_decode.c — libFuzzer target for the openai-chat decoder
 * (src/codec/openai_chat_decode.c): see fuzz_decode.h. */
#define FUZZ_CODEC ccp_codec_for(CCP_FORMAT_OPENAI_CHAT)
#include "fuzz_decode.h"
