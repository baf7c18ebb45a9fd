/* tool_args_repair.c — the tool-args-repair transformer: a tool_use block's
 * input arrives as partial_json fragments; this holds them back until the
 * block ends and passes the input on as one fragment that is a JSON object
 * (repaired when cut short, else wrapped; see core/json_repair.h). Text and
 * thinking still stream live; only tool input waits, which Claude Code uses
 * whole anyway. */
#include "core/alloc.h"
#include "core/json_repair.h"
#include "core/log.h"
#include "transform/transform.h"

#include <stdlib.h>
#include <string.h>

typedef struct repair_sink {
    ccp_event_sink base;
    ccp_event_sink *next;
    int tool_index; /* the open tool_use block, or -1 */
    ccp_buf args;
} repair_sink;

static int emit(ccp_event_sink *self, const ccp_event *ev)
{
    repair_sink *r = (repair_sink *)self;
    if (ev->type == CCP_EV_BLOCK_START && ev->block_kind == CCP_BLOCK_TOOL_USE) {
        r->tool_index = ev->index;
        ccp_buf_reset(&r->args);
    } else if (ev->type == CCP_EV_BLOCK_DELTA && ev->index == r->tool_index &&
               ev->delta_kind == CCP_DELTA_PARTIAL_JSON) {
        ccp_buf_append(&r->args, ev->text, ev->text_len);
        return 0;
    } else if (ev->type == CCP_EV_BLOCK_STOP && ev->index == r->tool_index) {
        ccp_repair how;
        char *fixed = ccp_json_repair_object(r->args.data ? r->args.data : "", r->args.len, &how);
        if (how != CCP_REPAIR_NONE)
            ccp_log_warn("tool-args-repair: tool input %s",
                         how == CCP_REPAIR_CLOSED ? "was cut short; closed it"
                                                  : "is not JSON; passed as {\"arguments\": ...}");
        ccp_event d = {.type = CCP_EV_BLOCK_DELTA,
                       .index = ev->index,
                       .delta_kind = CCP_DELTA_PARTIAL_JSON,
                       .text = fixed,
                       .text_len = strlen(fixed)};
        int rc = r->next->emit(r->next, &d);
        free(fixed);
        r->tool_index = -1;
        if (rc) return rc;
    }
    return r->next->emit(r->next, ev);
}

static ccp_event_sink *wrap(const ccp_step *s, ccp_event_sink *next)
{
    (void)s;
    repair_sink *r = ccp_xcalloc(1, sizeof *r);
    r->base.emit = emit;
    r->next = next;
    r->tool_index = -1;
    return &r->base;
}

static void sink_free(ccp_event_sink *sink)
{
    repair_sink *r = (repair_sink *)sink;
    ccp_buf_free(&r->args);
    free(r);
}

static const ccp_opt_spec no_opts[] = {{NULL, 0, NULL, NULL, NULL, 0}};

const ccp_transformer ccp_tf_tool_args_repair = {
    .name = "tool-args-repair",
    .summary = "Holds back each tool call's streamed input until the call ends and makes it a "
               "JSON object: completed when cut short, else wrapped as {\"arguments\": text}.",
    .opts = no_opts,
    .events = wrap,
    .events_free = sink_free,
};
