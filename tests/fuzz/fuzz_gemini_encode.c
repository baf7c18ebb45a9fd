/* fuzz_gemini_encode.c — libFuzzer target for the gemini request encoder
 * (src/codec/gemini.c): see fuzz_encode.h. */
#define FUZZ_FORMAT CCP_FORMAT_GEMINI
#include "fuzz_encode.h"
