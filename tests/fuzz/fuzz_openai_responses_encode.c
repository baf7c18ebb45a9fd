/* fuzz_openai_responses_encode.c — libFuzzer target for the openai-responses
 * request encoder (src/codec/openai_responses.c): see fuzz_encode.h. */
#define FUZZ_FORMAT CCP_FORMAT_OPENAI_RESPONSES
#include "fuzz_encode.h"
