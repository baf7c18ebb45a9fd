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

/* Installs the allowlist; 0 or -1. */
int ccp_plugin_seccomp_install(void);

/* lua_sandbox.c: the state of a vm (to add the test-only functions), and
 * the log lines collected since the last take (collect: keep collecting). */
lua_State *ccp_plugin_vm_state(ccp_plugin_vm *vm);
json_object *ccp_plugin_vm_take_logs(ccp_plugin_vm *vm, bool collect);

#endif
