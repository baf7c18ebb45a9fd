/* fuzz_openai_chat_encode.c — libFuzzer target for the openai-chat request encoder
 * (src/codec/openai_chat.c): see fuzz_encode.h. */
#define FUZZ_FORMAT CCP_FORMAT_OPENAI_CHAT
#include "fuzz_encode.h"
