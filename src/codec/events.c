/* events.c — names of the canonical event kinds, for logs and tests. */
#include "codec/events.h"

const char *ccp_event_type_name(ccp_event_type t)
{
    switch (t) {
    case CCP_EV_MESSAGE_START:
        return "message_start";
    case CCP_EV_BLOCK_START:
        return "content_block_start";
    case CCP_EV_BLOCK_DELTA:
        return "content_block_delta";
    case CCP_EV_BLOCK_STOP:
        return "content_block_stop";
    case CCP_EV_MESSAGE_DELTA:
        return "message_delta";
    case CCP_EV_MESSAGE_STOP:
        return "message_stop";
    case CCP_EV_PING:
        return "ping";
    case CCP_EV_ERROR:
        return "error";
    }
    return "?";
}

const char *ccp_block_kind_name(ccp_block_kind k)
{
    switch (k) {
    case CCP_BLOCK_TEXT:
        return "text";
    case CCP_BLOCK_THINKING:
        return "thinking";
    case CCP_BLOCK_REDACTED_THINKING:
        return "redacted_thinking";
    case CCP_BLOCK_TOOL_USE:
        return "tool_use";
    case CCP_BLOCK_OTHER:
        return "other";
    }
    return "?";
}

const char *ccp_delta_kind_name(ccp_delta_kind k)
{
    switch (k) {
    case CCP_DELTA_TEXT:
        return "text_delta";
    case CCP_DELTA_THINKING:
        return "thinking_delta";
    case CCP_DELTA_SIGNATURE:
        return "signature_delta";
    case CCP_DELTA_PARTIAL_JSON:
        return "input_json_delta";
    case CCP_DELTA_OTHER:
        return "other";
    }
    return "?";
}
