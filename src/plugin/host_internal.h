/* host_internal.h — what the plugin host's files share: the framing of
 * messages on the host's socket and the seccomp filter.
 *
 * Framing: each message is a 4-byte big-endian length, then that many
 * bytes of JSON (ccproxy's own writer and strict parser, so 64-bit
 * integers and byte-exact strings cross unchanged). */
#ifndef CCP_PLUGIN_HOST_INTERNAL_H
#define CCP_PLUGIN_HOST_INTERNAL_H

#include "core/buf.h"
#include "plugin/plugin.h"

#include <json-c/json.h>
#include <lua.h>
#include <stdint.h>

#define CCP_PLUGIN_MAX_MESSAGE (64u << 20)

/* Sends v framed; 0, CCP_ETIMEOUT, or -1 (the peer is gone). deadline_ms
 * 0: wait for ever. */
int ccp_plugin_msg_send(int fd, json_object *v, uint64_t deadline_ms);
/* Receives one framed message into *out (owned). deadline_ms 0: wait
 * for ever. Returns 0, CCP_ETIMEOUT, or CCP_EIO (closed, or garbage). */
int ccp_plugin_msg_recv(int fd, uint64_t deadline_ms, json_object **out);

/* How a plugin host ends: each way out of `ccproxy plugin-host` has its
 * own exit status, so the proxy's log line when it reaps a host says why
 * it went (ccp_plugin_host_exit_meaning). */
enum {
    CCP_PLUGIN_HOST_EXIT_CLOSED = 0,  /* the proxy closed the socket between messages */
    CCP_PLUGIN_HOST_EXIT_INIT = 2,    /* the first message could not be read */
    CCP_PLUGIN_HOST_EXIT_SECCOMP = 3, /* the filter could not be installed */
    CCP_PLUGIN_HOST_EXIT_LOAD = 4,    /* the plugin did not load */
    CCP_PLUGIN_HOST_EXIT_SOCKET = 5,  /* the socket failed mid-message */
    CCP_PLUGIN_HOST_EXIT_TOO_BIG = 6, /* a frame over CCP_PLUGIN_MAX_MESSAGE */
    CCP_PLUGIN_HOST_EXIT_NOMEM = 7,   /* no memory for a message (RLIMIT_AS) */
    CCP_PLUGIN_HOST_EXIT_GARBAGE = 8, /* a message that is not JSON */
    CCP_PLUGIN_HOST_EXIT_SEND = 9,    /* an answer could not be sent */
    CCP_PLUGIN_HOST_EXIT_RELOAD = 10, /* the plugin did not load again after a cap */
};
/* What a host's exit status means, for logs; static text. */
const char *ccp_plugin_host_exit_meaning(int status);

/* The host's answer to one call message m ({hook, arg, ctx}) from vm:
 * {logs, patch} (or {logs, result} when the result is better sent whole)
 * or {logs, cause, error}; owned by the caller, and it may share subtrees
 * of m's arg (put m after it). *cause: how the call went (after a cap the
 * host replaces vm). */
json_object *ccp_plugin_host_answer(ccp_plugin_vm *vm, json_object *m, const ccp_plugin_limits *lim,
                                    ccp_plugin_cause *cause);

/* Installs the allowlist; 0 or -1. */
int ccp_plugin_seccomp_install(void);

/* lua_sandbox.c: the state of a vm (to add the test-only functions), and
 * the log lines collected since the last take (collect: keep collecting). */
lua_State *ccp_plugin_vm_state(ccp_plugin_vm *vm);
json_object *ccp_plugin_vm_take_logs(ccp_plugin_vm *vm, bool collect);

#endif
