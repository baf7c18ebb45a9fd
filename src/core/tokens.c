/* tokens.c — the token estimate (see tokens.h).
 *
 * BPE vocabularies give common words one token and split rarer, longer ones;
 * punctuation mostly stands alone; digits group in threes; indentation and
 * newlines form their own tokens; CJK characters are about one token each.
 * The walk below counts those units; the weights were fitted against the
 * reference tokenizer (scripts/gen-token-fixtures.mjs). */
#include "core/tokens.h"

#include "core/json.h"

#include <stdbool.h>
#include <string.h>

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

size_t ccp_tokens_estimate_text(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    double t = 0;
    while (p < end) {
        unsigned char c = *p;
        if (is_alpha(c)) {
            const unsigned char *q = p;
            int humps = 0;
            while (q < end && is_alpha(*q)) {
                if (q > p && *q >= 'A' && *q <= 'Z' && q[-1] >= 'a' && q[-1] <= 'z') humps++;
                q++;
            }
            size_t n = (size_t)(q - p);
            t += 1.0 + humps + (n > 6 ? (double)(n - 6) / 4.5 : 0);
            p = q;
        } else if (c >= '0' && c <= '9') {
            const unsigned char *q = p;
            while (q < end && *q >= '0' && *q <= '9')
                q++;
            t += (double)((size_t)(q - p) + 2) / 3;
            p = q;
        } else if (c == ' ') {
            const unsigned char *q = p;
            while (q < end && *q == ' ')
                q++;
            size_t n = (size_t)(q - p);
            /* One space joins the next word; indentation after a newline
             * merges with it; other runs are a token of their own. */
            bool indent = p > (const unsigned char *)s && (p[-1] == '\n' || p[-1] == '\r');
            if (n > 1 && !indent) t += 1 + (double)(n - 1) / 8;
            p = q;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            const unsigned char *q = p;
            while (q < end && (*q == '\n' || *q == '\r' || *q == '\t'))
                q++;
            t += 1;
            p = q;
        } else if (c < 0x80) {
            t += 0.8; /* punctuation: often alone, sometimes merged in pairs */
            p++;
        } else {
            /* A UTF-8 sequence: its length is told by the lead byte. */
            size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            t += n == 4 ? 2.0 : n == 3 ? 1.0 : 0.8;
            p += n;
            if (p > end) p = end;
        }
    }
    return (size_t)(t * 0.93 + 0.5);
}

static int64_t text_of(json_object *o)
{
    if (!o) return 0;
    if (json_object_is_type(o, json_type_string))
        return (int64_t)ccp_tokens_estimate_text(json_object_get_string(o),
                                                 (size_t)json_object_get_string_len(o));
    size_t n;
    const char *s = ccp_json_str(o, &n);
    return (int64_t)ccp_tokens_estimate_text(s, n);
}

static int64_t content_tokens(json_object *content);

static int64_t block_tokens(json_object *b)
{
    const char *type = ccp_json_get_str(b, "type");
    if (!type) return 0;
    if (!strcmp(type, "text")) return text_of(ccp_json_get(b, "text"));
    if (!strcmp(type, "thinking")) return text_of(ccp_json_get(b, "thinking"));
    if (!strcmp(type, "image")) return CCP_TOKENS_PER_IMAGE;
    if (!strcmp(type, "tool_use"))
        return 8 + text_of(ccp_json_get(b, "name")) + text_of(ccp_json_get(b, "input"));
    if (!strcmp(type, "tool_result")) return 8 + content_tokens(ccp_json_get(b, "content"));
    if (!strcmp(type, "document")) return text_of(ccp_json_get(b, "source"));
    return text_of(b);
}

static int64_t content_tokens(json_object *content)
{
    if (!content) return 0;
    if (json_object_is_type(content, json_type_string)) return text_of(content);
    if (!json_object_is_type(content, json_type_array)) return 0;
    int64_t t = 0;
    size_t n = json_object_array_length(content);
    for (size_t i = 0; i < n; i++)
        t += block_tokens(json_object_array_get_idx(content, i));
    return t;
}

int64_t ccp_tokens_estimate_request(json_object *req)
{
    int64_t t = content_tokens(ccp_json_get(req, "system"));
    json_object *msgs = ccp_json_get_arr(req, "messages");
    size_t n = msgs ? json_object_array_length(msgs) : 0;
    for (size_t i = 0; i < n; i++)
        t += 4 + content_tokens(ccp_json_get(json_object_array_get_idx(msgs, i), "content"));
    json_object *tools = ccp_json_get_arr(req, "tools");
    n = tools ? json_object_array_length(tools) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *tool = json_object_array_get_idx(tools, i);
        t += 10 + text_of(ccp_json_get(tool, "name")) + text_of(ccp_json_get(tool, "description")) +
             text_of(ccp_json_get(tool, "input_schema"));
    }
    return t > 0 ? t : 1;
}
