/* lua_sandbox.c — a Lua 5.4 state fenced for plugins: the engine of both
 * isolation modes (in-process, and inside each plugin host).
 *
 * What a plugin can reach: the base functions that only compute, string
 * (without dump), table, math, utf8, coroutine, os.time/clock/date, a
 * `load` that takes text only, and ccp.json. No io, os.execute, package,
 * require, dofile, loadfile, debug, string.dump. Two caps hold every
 * call: a counting allocator refuses to grow the heap past memory_mb, and
 * a count hook stops the VM at the deadline (timeout_ms) or when the
 * instruction budget is spent. A C function that runs long on its own
 * (a pathological string.find pattern) is beyond the hook's reach: that is
 * what process isolation, whose parent kills the host, is for. */
#include "core/log.h"
#include "plugin/host_internal.h"
#include "plugin/lua_internal.h"
#include "plugin/plugin.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_STEP 1000 /* instructions between two checks of the caps */

struct ccp_plugin_vm {
    lua_State *L;
    char *name; /* for logs: the chunk name */
    size_t used, limit;
    /* The call in progress. */
    bool armed, expired;
    uint64_t deadline_ms;
    int64_t instr_limit, instr_used;
    size_t decoded;         /* JSON values ccp.json.decode made in this call */
    ccp_plugin_cause cause; /* set by the hook or the allocator */
    int decl_ref;
    json_object *logs; /* a host collects log lines here; NULL: log at once */
};

uint64_t ccp_plugin_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    ccp_plugin_vm *vm = ud;
    size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        vm->used -= old;
        return NULL;
    }
    if (vm->limit && nsize > old && vm->used - old + nsize > vm->limit) {
        vm->cause = CCP_PLUGIN_MEMORY;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) vm->used = vm->used - old + nsize;
    return p;
}

static ccp_plugin_vm *vm_of(lua_State *L)
{
    return *(ccp_plugin_vm **)lua_getextraspace(L);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    ccp_plugin_vm *vm = vm_of(L);
    if (!vm->armed) return;
    vm->instr_used += HOOK_STEP;
    if (!vm->expired) {
        if (vm->instr_limit > 0 && vm->instr_used > vm->instr_limit)
            vm->expired = true;
        else if (ccp_plugin_now_ms() >= vm->deadline_ms)
            vm->expired = true;
        if (!vm->expired) return;
        vm->cause = CCP_PLUGIN_TIMEOUT;
    }
    /* From now on every instruction of this thread raises, so a pcall in
     * the plugin cannot catch the timeout and go on. Each thread's hook
     * count is its own: one met in a coroutine (which the error ends)
     * leaves its resumer at HOOK_STEP, whose pcall loop would otherwise
     * catch an error every step for ever. So whichever thread runs next
     * is switched at its first hook. */
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    if (vm->instr_limit > 0 && vm->instr_used > vm->instr_limit)
        luaL_error(L, "instruction budget of %I spent", (lua_Integer)vm->instr_limit);
    luaL_error(L, "time limit reached");
}

/* What a converted value costs at least, as the state's own memory counts
 * a value of a table. Converted, one table the hook's result holds in many
 * places (at each of 40 levels, twice) is made as often: up to twice the
 * cap's worth of values and string bytes is made, no more. A tree of
 * distinct values that fits in the state always fits in that. */
#define CONV_VALUE_BYTES 16

void ccp_plugin_vm_check_conversion(lua_State *L, size_t values, size_t bytes)
{
    ccp_plugin_vm *vm = vm_of(L);
    if (vm->limit && values * CONV_VALUE_BYTES + bytes > 2 * vm->limit) {
        vm->cause = CCP_PLUGIN_MEMORY;
        luaL_error(L, "not enough memory: the value converted to JSON would take more than "
                      "twice memory_mb (a table that holds another in many places?)");
    }
    if (vm->armed && (vm->expired || ccp_plugin_now_ms() >= vm->deadline_ms)) {
        vm->expired = true;
        vm->cause = CCP_PLUGIN_TIMEOUT;
        luaL_error(L, "time limit reached");
    }
}

/* What a value ccp.json.decode makes costs in json-c's memory, at least
 * (an object of its own and its parent's slot): a call's decodes may hold
 * memory_mb's worth. */
#define DECODE_VALUE_BYTES 64

size_t ccp_plugin_vm_decode_room(lua_State *L)
{
    ccp_plugin_vm *vm = vm_of(L);
    if (!vm->limit) return SIZE_MAX;
    size_t cap = vm->limit / DECODE_VALUE_BYTES;
    return vm->decoded < cap ? cap - vm->decoded : 0;
}

void ccp_plugin_vm_decoded(lua_State *L, size_t values)
{
    vm_of(L)->decoded += values;
}

void ccp_plugin_vm_decode_refused(lua_State *L)
{
    vm_of(L)->cause = CCP_PLUGIN_MEMORY;
    luaL_error(L, "not enough memory: ccp.json.decode would hold more than memory_mb's worth of "
                  "JSON values in this call");
}

/* ---- the environment --------------------------------------------------- */

void ccp_plugin_text_clean(ccp_buf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        n += (ch < ' ' && ch != '\t') || ch == 0x7f;
    }
    if (!n) return;
    ccp_buf out = CCP_BUF_INIT;
    for (size_t i = 0; i < b->len; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        if ((ch < ' ' && ch != '\t') || ch == 0x7f)
            ccp_buf_printf(&out, "\\x%02x", ch);
        else
            ccp_buf_appendc(&out, (char)ch);
    }
    ccp_buf_free(b);
    *b = out;
}

static void log_line(ccp_plugin_vm *vm, const char *level, const char *msg)
{
    if (vm->logs) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "level", json_object_new_string(level));
        json_object_object_add(o, "msg", json_object_new_string(msg));
        json_object_array_add(vm->logs, o);
        return;
    }
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, msg);
    ccp_plugin_text_clean(&b);
    msg = b.data ? b.data : "";
    if (!strcmp(level, "error"))
        ccp_log_error("plugin %s: %s", vm->name, msg);
    else if (!strcmp(level, "warn"))
        ccp_log_warn("plugin %s: %s", vm->name, msg);
    else if (!strcmp(level, "debug"))
        ccp_log_debug("plugin %s: %s", vm->name, msg);
    else
        ccp_log_info("plugin %s: %s", vm->name, msg);
    ccp_buf_free(&b);
}

static int l_log(lua_State *L)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    int lv = luaL_checkoption(L, 1, "info", levels);
    const char *msg = luaL_checkstring(L, 2);
    log_line(vm_of(L), levels[lv], msg);
    return 0;
}

static int l_print(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    log_line(vm_of(L), "info", lua_tostring(L, -1));
    return 0;
}

/* load(chunk [, chunkname [, mode [, env]]]) for text chunks only:
 * bytecode can break the VM's invariants, so it is refused in any mode. */
static int l_load(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (strcmp(mode, "t") != 0)
        return luaL_error(L, "load: only text chunks (mode \"t\") are allowed in plugins");
    int env = !lua_isnone(L, 4) ? 4 : 0;
    if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env) {
        lua_pushvalue(L, env);
        if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    }
    return 1;
}

static int l_collectgarbage(lua_State *L)
{
    static const char *const opts[] = {"collect", "count", "step", NULL};
    int o = luaL_checkoption(L, 1, "collect", opts);
    if (o == 1) {
        int k = lua_gc(L, LUA_GCCOUNT, 0), b = lua_gc(L, LUA_GCCOUNTB, 0);
        lua_pushnumber(L, (lua_Number)k + ((lua_Number)b / 1024));
        return 1;
    }
    lua_gc(L, o == 0 ? LUA_GCCOLLECT : LUA_GCSTEP, 0);
    /* One full collection of a big heap is many instructions' worth of C
     * that the count hook does not see: the deadline is checked after
     * each, not after the next HOOK_STEP instructions of the plugin (a
     * loop of collections ran ~1 s past timeout_ms). */
    ccp_plugin_vm_check_conversion(L, 0, 0);
    lua_pushinteger(L, 0);
    return 1;
}

/* setmetatable without finalizers: a __gc runs whenever the collector
 * decides, also outside any call and its caps (at lua_close, say), so a
 * plugin may not have one. */
static int l_setmetatable(lua_State *L)
{
    lua_pushliteral(L, "__gc");
    if (lua_type(L, 2) == LUA_TTABLE && lua_rawget(L, 2) != LUA_TNIL)
        return luaL_error(L, "setmetatable: __gc (finalizers) is not available in plugins");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

static int l_require(lua_State *L)
{
    return luaL_error(L,
                      "require is not available in plugins ('%s'): a plugin is one file "
                      "(or a folder's init.lua) and may use only string, table, math, utf8, "
                      "coroutine and ccp.json",
                      luaL_optstring(L, 1, "?"));
}

static void set_global_fn(lua_State *L, const char *name, lua_CFunction f)
{
    if (f)
        lua_pushcfunction(L, f);
    else
        lua_pushnil(L);
    lua_setglobal(L, name);
}

static int open_sandbox(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},
        {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},
        {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    set_global_fn(L, "dofile", NULL);
    set_global_fn(L, "loadfile", NULL);
    set_global_fn(L, "load", l_load);
    set_global_fn(L, "collectgarbage", l_collectgarbage);
    set_global_fn(L, "print", l_print);
    set_global_fn(L, "require", l_require);
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, l_setmetatable, 1);
    lua_setglobal(L, "setmetatable");
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* os: the clock and the calendar only. */
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
    lua_createtable(L, 0, 3);
    static const char *const os_keep[] = {"time", "clock", "date", NULL};
    for (const char *const *k = os_keep; *k; k++) {
        lua_getfield(L, -2, *k);
        lua_setfield(L, -2, *k);
    }
    lua_setglobal(L, LUA_OSLIBNAME);
    lua_pop(L, 1);
    ccp_lua_open_json(L);
    lua_getglobal(L, "ccp");
    lua_pushcfunction(L, l_log);
    lua_setfield(L, -2, "log");
    lua_pop(L, 1);
    return 0;
}

/* ---- calls ------------------------------------------------------------- */

static void arm(ccp_plugin_vm *vm, const ccp_plugin_limits *lim)
{
    vm->armed = true;
    vm->expired = false;
    vm->cause = CCP_PLUGIN_OK;
    vm->instr_used = 0;
    vm->decoded = 0;
    vm->instr_limit = lim->instructions;
    vm->deadline_ms = ccp_plugin_now_ms() + (uint64_t)lim->timeout_ms;
    lua_sethook(vm->L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
}

static void error_text(lua_State *L, ccp_buf *msg)
{
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (s)
        ccp_buf_appends(msg, s);
    else
        ccp_buf_printf(msg, "(an error object of type %s)", luaL_typename(L, -1));
}

/* The cause of a failed pcall. */
static ccp_plugin_cause failure(ccp_plugin_vm *vm, int status)
{
    if (vm->expired) return CCP_PLUGIN_TIMEOUT;
    if (status == LUA_ERRMEM || vm->cause == CCP_PLUGIN_MEMORY) return CCP_PLUGIN_MEMORY;
    return CCP_PLUGIN_ERROR;
}

typedef struct load_args {
    const char *src, *chunkname;
    size_t len;
} load_args;

static int do_load(lua_State *L)
{
    load_args *a = lua_touserdata(L, 1);
    open_sandbox(L);
    if (luaL_loadbufferx(L, a->src, a->len, a->chunkname, "t") != LUA_OK) return lua_error(L);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        return luaL_error(L,
                          "a plugin returns its declaration (a table with name, hooks, ...); "
                          "it returned a %s",
                          luaL_typename(L, -1));
    lua_pushvalue(L, -1);
    vm_of(L)->decl_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

ccp_plugin_vm *ccp_plugin_vm_new(const char *chunkname, const char *src, size_t len,
                                 const ccp_plugin_limits *lim, ccp_buf *msg)
{
    ccp_plugin_vm *vm = calloc(1, sizeof *vm);
    if (!vm) return NULL;
    vm->limit = lim->memory_mb > 0 ? (size_t)lim->memory_mb << 20 : 0;
    vm->decl_ref = LUA_NOREF;
    vm->name = strdup(chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname);
    vm->L = lua_newstate(counting_alloc, vm);
    if (!vm->L || !vm->name) {
        ccp_buf_appends(msg, "out of memory creating a Lua state (memory_mb too small?)");
        ccp_plugin_vm_free(vm);
        return NULL;
    }
    *(ccp_plugin_vm **)lua_getextraspace(vm->L) = vm;
    load_args a = {src, chunkname, len};
    arm(vm, lim);
    lua_pushcfunction(vm->L, do_load);
    lua_pushlightuserdata(vm->L, &a);
    int st = lua_pcall(vm->L, 1, 0, 0);
    vm->armed = false;
    if (st != LUA_OK) {
        ccp_plugin_cause c = failure(vm, st);
        if (c != CCP_PLUGIN_ERROR) ccp_buf_printf(msg, "%s: ", ccp_plugin_cause_name(c));
        error_text(vm->L, msg);
        ccp_plugin_vm_free(vm);
        return NULL;
    }
    lua_settop(vm->L, 0);
    return vm;
}

void ccp_plugin_vm_free(ccp_plugin_vm *vm)
{
    if (!vm) return;
    if (vm->L) lua_close(vm->L);
    json_object_put(vm->logs);
    free(vm->name);
    free(vm);
}

typedef struct decl_args {
    json_object *out;
    const char *bad;
} decl_args;

static int do_declaration(lua_State *L)
{
    decl_args *a = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm_of(L)->decl_ref);
    int t = lua_gettop(L);
    a->out = json_object_new_object();
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            json_object *v = NULL;
            if (lua_isfunction(L, -1)) {
                v = json_object_new_boolean(1);
            } else {
                const char *bad = ccp_lua_to_json(L, -1, &v);
                if (bad && !a->bad) a->bad = bad;
            }
            json_object_object_add(a->out, k, v);
        }
        lua_pop(L, 1);
    }
    return 0;
}

json_object *ccp_plugin_vm_declaration(ccp_plugin_vm *vm)
{
    decl_args a = {0};
    lua_pushcfunction(vm->L, do_declaration);
    lua_pushlightuserdata(vm->L, &a);
    if (lua_pcall(vm->L, 1, 0, 0) != LUA_OK) {
        lua_settop(vm->L, 0);
        json_object_put(a.out);
        return NULL;
    }
    return a.out;
}

typedef struct call_args {
    const char *hook;
    json_object *arg, *ctx;
    json_object *result;
    const char *bad;
    ccp_buf *errmsg; /* the hook's own `return nil, "message"` */
} call_args;

static int do_call(lua_State *L)
{
    call_args *a = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm_of(L)->decl_ref);
    lua_getfield(L, -1, a->hook);
    if (!lua_isfunction(L, -1)) return luaL_error(L, "the plugin has no %s hook", a->hook);
    ccp_lua_push_json(L, a->arg, 0);
    int argi = lua_gettop(L);
    lua_pushvalue(L, argi - 1); /* the hook */
    lua_pushvalue(L, argi);     /* the argument, which it may edit in place */
    ccp_lua_push_json(L, a->ctx, 0);
    lua_pushcfunction(L, l_log);
    lua_setfield(L, -2, "log");
    lua_call(L, 2, 2);
    /* `return nil, "why"`: the hook refuses. */
    if (lua_isnil(L, -2) && lua_type(L, -1) == LUA_TSTRING) {
        ccp_buf_appends(a->errmsg, lua_tostring(L, -1));
        return 0;
    }
    lua_pop(L, 1);
    /* No value: the argument as the hook left it (request, outbound and
     * event hooks edit in place). The route hook's nil stays nil. */
    if (lua_isnil(L, -1) && strcmp(a->hook, "route") != 0) lua_pushvalue(L, argi);
    a->bad = ccp_lua_to_json(L, -1, &a->result);
    return 0;
}

static int do_detach(lua_State *L)
{
    ccp_lua_detach_json(L);
    return 0;
}

ccp_plugin_cause ccp_plugin_vm_call(ccp_plugin_vm *vm, const char *hook, json_object *arg,
                                    json_object *ctx, const ccp_plugin_limits *lim,
                                    json_object **result, ccp_buf *msg)
{
    call_args a = {.hook = hook, .arg = arg, .ctx = ctx, .errmsg = msg};
    *result = NULL;
    size_t before = msg->len;
    arm(vm, lim);
    lua_pushcfunction(vm->L, do_call);
    lua_pushlightuserdata(vm->L, &a);
    int st = lua_pcall(vm->L, 1, 0, 0);
    vm->armed = false;
    ccp_plugin_cause c = CCP_PLUGIN_OK;
    if (st != LUA_OK) {
        c = failure(vm, st);
        error_text(vm->L, msg);
    } else if (msg->len > before) {
        c = CCP_PLUGIN_ERROR;
    } else if (a.bad) {
        c = CCP_PLUGIN_BAD_RETURN;
        ccp_buf_printf(msg, "the %s hook returned %s", hook, a.bad);
    }
    lua_settop(vm->L, 0);
    /* The proxies let go of the caller's tree now, not at some later
     * collection on whichever thread runs this state next. */
    lua_pushcfunction(vm->L, do_detach);
    lua_pcall(vm->L, 0, 0, 0);
    lua_settop(vm->L, 0);
    if (c != CCP_PLUGIN_OK) {
        json_object_put(a.result);
        return c;
    }
    *result = a.result;
    return CCP_PLUGIN_OK;
}

/* For the plugin host: log lines go into the answer, not to a log. */
json_object *ccp_plugin_vm_take_logs(ccp_plugin_vm *vm, bool collect)
{
    json_object *l = vm->logs;
    vm->logs = collect ? json_object_new_array() : NULL;
    return l;
}

void ccp_plugin_vm_set_name(ccp_plugin_vm *vm, const char *name)
{
    free(vm->name);
    vm->name = strdup(name);
}

lua_State *ccp_plugin_vm_state(ccp_plugin_vm *vm)
{
    return vm->L;
}
