/* lua_conv.c — JSON trees (json-c) to Lua values and back, and the
 * ccp.json library plugins use. The guarantees of the rest of ccproxy
 * hold across the boundary: 64-bit integers stay Lua integers, strings
 * stay byte-exact (NUL and invalid UTF-8 included), and an empty array
 * stays an array (tables made from JSON carry an array or object
 * metatable; ccp.json.array() marks a new one). */
#include "plugin/lua_internal.h"

#include "core/buf.h"
#include "core/json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_MT "ccp.json.array"
#define OBJECT_MT "ccp.json.object"
/* A weak-keyed table: object table -> the list of its keys in the JSON's
 * order. Lua tables have none, and the order of a request's members is
 * part of what the provider sees (and of its prompt-cache key): members
 * come back in their original order, new ones after them, sorted. */
#define ORDER "ccp.json.order"

void ccp_lua_push_json(lua_State *L, json_object *v, int depth)
{
    luaL_checkstack(L, 4, "JSON too deep");
    if (depth > CCP_JSON_MAX_DEPTH) luaL_error(L, "JSON nested deeper than %d", CCP_JSON_MAX_DEPTH);
    switch (json_object_get_type(v)) {
    case json_type_null:
        lua_pushlightuserdata(L, NULL);
        return;
    case json_type_boolean:
        lua_pushboolean(L, json_object_get_boolean(v));
        return;
    case json_type_int:
        lua_pushinteger(L, (lua_Integer)json_object_get_int64(v));
        return;
    case json_type_double:
        lua_pushnumber(L, json_object_get_double(v));
        return;
    case json_type_string:
        lua_pushlstring(L, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        return;
    case json_type_array: {
        size_t n = json_object_array_length(v);
        lua_createtable(L, (int)(n > 1000000 ? 1000000 : n), 0);
        for (size_t i = 0; i < n; i++) {
            ccp_lua_push_json(L, json_object_array_get_idx(v, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        luaL_setmetatable(L, ARRAY_MT);
        return;
    }
    case json_type_object: {
        int n = json_object_object_length(v), i = 0;
        lua_createtable(L, 0, n);
        lua_getfield(L, LUA_REGISTRYINDEX, ORDER);
        lua_pushvalue(L, -2);
        lua_createtable(L, n, 0); /* the keys in order */
        json_object_object_foreach(v, key, val)
        {
            lua_pushstring(L, key);
            lua_rawseti(L, -2, ++i);
            ccp_lua_push_json(L, val, depth + 1);
            lua_setfield(L, -5, key);
        }
        lua_rawset(L, -3); /* ORDER[t] = keys */
        lua_pop(L, 1);
        luaL_setmetatable(L, OBJECT_MT);
        return;
    }
    }
}

static bool is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* 1: array metatable, 2: object metatable, 0: neither. */
static int table_kind(lua_State *L, int idx)
{
    int kind = 0;
    if (!lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, ARRAY_MT);
    if (lua_rawequal(L, -1, -2)) kind = 1;
    lua_pop(L, 1);
    luaL_getmetatable(L, OBJECT_MT);
    if (lua_rawequal(L, -1, -2)) kind = 2;
    lua_pop(L, 2);
    return kind;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *to_json(lua_State *L, int idx, json_object **out, int depth)
{
    *out = NULL;
    luaL_checkstack(L, 4, "value too deep");
    if (depth > CCP_JSON_MAX_DEPTH) return "a table nested too deep (or a table containing itself)";
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return NULL;
    case LUA_TBOOLEAN:
        *out = json_object_new_boolean(lua_toboolean(L, idx));
        return NULL;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            *out = json_object_new_int64((int64_t)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d)) return "a number that is NaN or infinite";
            *out = json_object_new_double(d);
        }
        return NULL;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        *out = ccp_json_strn(s, n);
        return NULL;
    }
    case LUA_TLIGHTUSERDATA:
        if (is_null(L, idx)) return NULL;
        return "a userdata value";
    case LUA_TTABLE:
        break;
    default:
        return "a function, thread or userdata value";
    }
    idx = lua_absindex(L, idx);
    int kind = table_kind(L, idx);
    size_t n = lua_rawlen(L, idx);
    if (kind == 0) {
        /* No mark: 1..n with n > 0 is an array, string keys an object. */
        size_t count = 0;
        bool ints = true, strs = true;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            if (lua_type(L, -2) == LUA_TSTRING)
                ints = false;
            else
                strs = false;
            lua_pop(L, 1);
        }
        if (count && ints && count == n)
            kind = 1;
        else if (strs)
            kind = 2;
        else
            return "a table whose keys are neither all strings nor 1..n";
    }
    if (kind == 1) {
        json_object *a = json_object_new_array_ext((int)(n > 1000000 ? 1000000 : n));
        *out = a;
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            json_object *e = NULL;
            const char *bad = to_json(L, -1, &e, depth + 1);
            json_object_array_add(a, e);
            lua_pop(L, 1);
            if (bad) return bad;
        }
        return NULL;
    }
    json_object *o = json_object_new_object();
    *out = o;
    /* First the members the object came with, in their order. */
    lua_getfield(L, LUA_REGISTRYINDEX, ORDER);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_istable(L, -1)) {
        int keys = lua_gettop(L);
        lua_Integer nk = (lua_Integer)lua_rawlen(L, keys);
        for (lua_Integer i = 1; i <= nk; i++) {
            lua_rawgeti(L, keys, i);
            const char *k = lua_tostring(L, -1);
            lua_pushvalue(L, -1);
            lua_rawget(L, idx);
            if (k && !lua_isnil(L, -1)) {
                json_object *e = NULL;
                const char *bad = to_json(L, -1, &e, depth + 1);
                json_object_object_add(o, k, e);
                if (bad) {
                    lua_settop(L, keys - 1);
                    return bad;
                }
            }
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
    /* Then the new ones, sorted (lua_next's order changes from state to
     * state). */
    size_t n_new = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            return "an object (table) with a key that is not a string";
        }
        if (!json_object_object_get_ex(o, lua_tostring(L, -2), NULL)) n_new++;
        lua_pop(L, 1);
    }
    if (!n_new) return NULL;
    lua_createtable(L, (int)n_new, 0);
    int fresh = lua_gettop(L);
    lua_Integer nf = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!json_object_object_get_ex(o, lua_tostring(L, -1), NULL)) {
            lua_pushvalue(L, -1);
            lua_rawseti(L, fresh, ++nf);
        }
    }
    /* Sorted here, not by table.sort, which the plugin may have replaced;
     * the names stay anchored in fresh, the array is a userdata (no leak
     * if a Lua error unwinds). */
    const char **names = lua_newuserdatauv(L, (size_t)nf * sizeof *names, 0);
    for (lua_Integer i = 1; i <= nf; i++) {
        lua_rawgeti(L, fresh, i);
        names[i - 1] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    qsort(names, (size_t)nf, sizeof *names, by_name);
    for (lua_Integer i = 1; i <= nf; i++) {
        lua_pushstring(L, names[i - 1]);
        lua_pushvalue(L, -1);
        lua_rawget(L, idx);
        const char *k = lua_tostring(L, -2);
        if (strlen(k) != lua_rawlen(L, -2)) {
            lua_settop(L, fresh - 1);
            return "an object key containing a NUL byte";
        }
        json_object *e = NULL;
        const char *bad = to_json(L, -1, &e, depth + 1);
        json_object_object_add(o, k, e);
        lua_pop(L, 2);
        if (bad) {
            lua_settop(L, fresh - 1);
            return bad;
        }
    }
    lua_settop(L, fresh - 1);
    return NULL;
}

const char *ccp_lua_to_json(lua_State *L, int idx, json_object **out)
{
    return to_json(L, idx, out, 0);
}

/* ---- ccp.json ---------------------------------------------------------- */

/* A JSON tree held by a userdata, so that a Lua error (memory) between
 * its making and its release does not leak it: __gc puts it. */
#define BOX_MT "ccp.json.box"

static int box_gc(lua_State *L)
{
    json_object **box = luaL_checkudata(L, 1, BOX_MT);
    json_object_put(*box);
    *box = NULL;
    return 0;
}

static json_object **new_box(lua_State *L)
{
    json_object **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    luaL_setmetatable(L, BOX_MT);
    return box;
}

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    json_object **box = new_box(L);
    const char *bad = ccp_lua_to_json(L, 1, box);
    if (bad) return luaL_error(L, "ccp.json.encode: cannot encode %s", bad);
    ccp_buf b = CCP_BUF_INIT;
    ccp_json_write(&b, *box);
    json_object_put(*box);
    *box = NULL;
    /* The buffer is freed before anything that may raise. */
    luaL_Buffer lb;
    char *dst = luaL_buffinitsize(L, &lb, b.len);
    memcpy(dst, b.data ? b.data : "", b.len);
    size_t len = b.len;
    ccp_buf_free(&b);
    luaL_pushresultsize(&lb, len);
    return 1;
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    json_object **box = new_box(L);
    ccp_error err = {0};
    *box = ccp_json_parse(s, n, &err);
    if (!*box && err.code) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        return 2;
    }
    ccp_lua_push_json(L, *box, 0);
    json_object_put(*box);
    *box = NULL;
    return 1;
}

static int l_mark(lua_State *L, const char *mt)
{
    if (lua_isnoneornil(L, 1)) lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_setmetatable(L, mt);
    return 1;
}

static int l_array(lua_State *L)
{
    return l_mark(L, ARRAY_MT);
}

static int l_object(lua_State *L)
{
    return l_mark(L, OBJECT_MT);
}

void ccp_lua_open_json(lua_State *L)
{
    luaL_newmetatable(L, ARRAY_MT);
    lua_pop(L, 1);
    luaL_newmetatable(L, OBJECT_MT);
    lua_pop(L, 1);
    lua_newtable(L); /* ORDER, weak in its keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, ORDER);
    luaL_newmetatable(L, BOX_MT);
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        {"encode", l_encode}, {"decode", l_decode}, {"array", l_array},
        {"object", l_object}, {NULL, NULL},
    };
    lua_newtable(L); /* ccp */
    luaL_newlib(L, fns);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_setfield(L, -2, "json");
    lua_setglobal(L, "ccp");
}
