/* fuzz_anthropic_encode.c — libFuzzer target for the anthropic request encoder
 * (src/codec/anthropic.c): see fuzz_encode.h. */
#define FUZZ_FORMAT CCP_FORMAT_ANTHROPIC
#include "fuzz_encode.h"
