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

/* ---- proxies ------------------------------------------------------------
 *
 * A JSON object or array reaches Lua as a proxy: an empty table whose
 * metatable reads members from the json-c tree when they are asked for
 * and records writes in a backing table. A plugin that edits one field of
 * a 150 KiB request touches a handful of nodes: nothing else is converted,
 * and on the way back every untouched subtree is the original json-c
 * object, shared by reference. The proxy's state (the tree, the backing
 * table, an array's length) is a userdata found through a weak table
 * keyed by the proxy. */

/* A weak-keyed table of the live boxes: one a Lua error left full is put
 * by ccp_lua_detach_json after the call, on the caller's thread. Left to
 * __gc, it would be put at some later collection, on whichever thread
 * runs the state next, and its tree may hold (non-atomic) references to
 * the caller's request. */
#define BOXES "ccp.json.boxes"
#define PROXY_MT "ccp.json.proxy"
#define PROXY_UD "ccp.json.proxy.state"
#define STATE "ccp.json.state"

typedef struct proxy {
    json_object *j;  /* a reference of its own; NULL once detached */
    lua_Integer len; /* arrays: the length as edited */
    bool array, dirty;
} proxy;

static char deleted_key; /* its address marks a member set to nil */
#define DELETED (&deleted_key)

static int proxy_gc(lua_State *L)
{
    proxy *pr = luaL_checkudata(L, 1, PROXY_UD);
    json_object_put(pr->j);
    pr->j = NULL;
    return 0;
}

/* The state of the proxy at idx, its backing table pushed; NULL (nothing
 * pushed) when the value is no proxy. */
static proxy *state_of(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE) return NULL;
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, STATE);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    proxy *pr = lua_touserdata(L, -1);
    if (!pr) {
        lua_pop(L, 2);
        return NULL;
    }
    lua_getiuservalue(L, -1, 1);
    lua_replace(L, -3);
    lua_pop(L, 1);
    return pr;
}

static void push_proxy(lua_State *L, json_object *v)
{
    lua_createtable(L, 0, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, STATE);
    lua_pushvalue(L, -2);
    proxy *pr = lua_newuserdatauv(L, sizeof *pr, 1);
    pr->j = NULL;
    luaL_setmetatable(L, PROXY_UD);
    pr->j = json_object_get(v);
    pr->array = json_object_is_type(v, json_type_array);
    pr->len = pr->array ? (lua_Integer)json_object_array_length(v) : 0;
    pr->dirty = false;
    lua_createtable(L, 0, 0);
    lua_setiuservalue(L, -2, 1);
    lua_rawset(L, -3); /* STATE[p] = state */
    lua_pop(L, 1);
    luaL_setmetatable(L, PROXY_MT);
}

void ccp_lua_push_json(lua_State *L, json_object *v, int depth)
{
    (void)depth;
    luaL_checkstack(L, 6, "JSON too deep");
    switch (json_object_get_type(v)) {
    case json_type_null:
        lua_pushlightuserdata(L, NULL);
        return;
    case json_type_boolean:
        lua_pushboolean(L, json_object_get_boolean(v));
        return;
    case json_type_int: {
        /* Above INT64_MAX (a uint64) no Lua integer holds it: json-c's
         * int64 getter would give INT64_MAX, a wrong value that goes back
         * as such; a float is the nearest (and same_scalar keeps the
         * original digits when it is written back unchanged). */
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
            lua_pushnumber(L, (lua_Number)json_object_get_uint64(v));
        else
            lua_pushinteger(L, (lua_Integer)i);
        return;
    }
    case json_type_double:
        lua_pushnumber(L, json_object_get_double(v));
        return;
    case json_type_string:
        lua_pushlstring(L, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        return;
    case json_type_array:
    case json_type_object:
        push_proxy(L, v);
        return;
    }
}

/* The original member at key (stack index k) of pr's tree; NULL when
 * there is none (or it is JSON null: *found tells). */
static json_object *original(lua_State *L, const proxy *pr, int k, bool *found)
{
    *found = false;
    if (!pr->j) luaL_error(L, "a JSON value kept from an earlier call cannot be used");
    if (pr->array) {
        if (!lua_isinteger(L, k)) return NULL;
        lua_Integer i = lua_tointeger(L, k);
        if (i < 1 || (size_t)i > json_object_array_length(pr->j)) return NULL;
        *found = true;
        return json_object_array_get_idx(pr->j, (size_t)i - 1);
    }
    if (lua_type(L, k) != LUA_TSTRING || strlen(lua_tostring(L, k)) != lua_rawlen(L, k))
        return NULL; /* no member's name holds a NUL */
    json_object *v = NULL;
    *found = json_object_object_get_ex(pr->j, lua_tostring(L, k), &v);
    return v;
}

/* Pushes the value at key k of the proxy p (with backing table b). */
static void proxy_get(lua_State *L, int p, int b, int k, const proxy *pr)
{
    lua_pushvalue(L, k);
    if (lua_rawget(L, b) != LUA_TNIL) {
        if (lua_touserdata(L, -1) == DELETED) {
            lua_pop(L, 1);
            lua_pushnil(L);
        }
        return;
    }
    lua_pop(L, 1);
    bool found;
    json_object *v = original(L, pr, k, &found);
    if (pr->array && lua_isinteger(L, k) && lua_tointeger(L, k) > pr->len) found = false;
    if (!found) {
        lua_pushnil(L);
        return;
    }
    ccp_lua_push_json(L, v, 0);
    /* A container is kept, so that edits through it stay with it. */
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_pushvalue(L, k);
        lua_pushvalue(L, -2);
        lua_rawset(L, b);
    }
    (void)p;
}

static int proxy_index(lua_State *L)
{
    proxy *pr = state_of(L, 1);
    if (!pr) return 0;
    proxy_get(L, 1, lua_gettop(L), 2, pr);
    return 1;
}

static int proxy_newindex(lua_State *L)
{
    proxy *pr = state_of(L, 1);
    if (!pr) return 0;
    int b = lua_gettop(L);
    if (!pr->j) return luaL_error(L, "a JSON value kept from an earlier call cannot be used");
    if (pr->array) {
        if (!lua_isinteger(L, 2)) return luaL_error(L, "a JSON array takes integer keys 1..n");
        lua_Integer i = lua_tointeger(L, 2);
        if (!lua_isnil(L, 3) && i == pr->len + 1)
            pr->len++;
        else if (lua_isnil(L, 3) && i == pr->len && i > 0)
            pr->len--;
        else if (i < 1 || i > pr->len)
            return luaL_error(L, "index %I is outside the JSON array (length %I)", i, pr->len);
    } else if (lua_type(L, 2) != LUA_TSTRING) {
        return luaL_error(L, "a JSON object takes string keys");
    } else if (strlen(lua_tostring(L, 2)) != lua_rawlen(L, 2)) {
        /* Members are found by C string: "a\0b" would read and replace
         * "a", or go back as "a": null. */
        return luaL_error(L, "a JSON object key cannot contain a NUL byte");
    }
    lua_pushvalue(L, 2);
    if (lua_isnil(L, 3))
        lua_pushlightuserdata(L, DELETED);
    else
        lua_pushvalue(L, 3);
    lua_rawset(L, b);
    pr->dirty = true;
    return 0;
}

static int proxy_len(lua_State *L)
{
    proxy *pr = state_of(L, 1);
    lua_pushinteger(L, pr && pr->array ? pr->len : 0);
    return 1;
}

/* pairs(p): an array's 1..n, an object's members in their order, then
 * the ones added, as next() would give them. */
static int proxy_next(lua_State *L)
{
    lua_settop(L, 2);
    proxy *pr = state_of(L, 1);
    if (!pr) return 0;
    int b = 3;
    if (!pr->j) return luaL_error(L, "a JSON value kept from an earlier call cannot be used");
    if (pr->array) {
        lua_Integer i = lua_isnil(L, 2) ? 0 : lua_tointeger(L, 2);
        while (++i <= pr->len) {
            lua_pushinteger(L, i);
            proxy_get(L, 1, b, lua_gettop(L), pr);
            if (!lua_isnil(L, -1)) return 2;
            lua_pop(L, 2);
        }
        return 0;
    }
    /* The original members, through json-c's own ordered list. */
    struct lh_entry *e = NULL;
    bool in_new = false;
    if (lua_isnil(L, 2)) {
        e = json_object_get_object(pr->j)->head;
    } else if (lua_type(L, 2) == LUA_TSTRING) {
        e = lh_table_lookup_entry(json_object_get_object(pr->j), lua_tostring(L, 2));
        if (e)
            e = e->next;
        else
            in_new = true;
    }
    for (; !in_new && e; e = e->next) {
        lua_pushstring(L, (const char *)lh_entry_k(e));
        proxy_get(L, 1, b, lua_gettop(L), pr);
        if (!lua_isnil(L, -1)) return 2;
        lua_pop(L, 2);
    }
    /* Then the added ones, from the backing table. */
    lua_pushvalue(L, in_new ? 2 : 4);
    if (!in_new) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    while (lua_next(L, b)) {
        if (lua_touserdata(L, -1) != DELETED && lua_type(L, -2) == LUA_TSTRING &&
            !json_object_object_get_ex(pr->j, lua_tostring(L, -2), NULL))
            return 2;
        lua_pop(L, 1);
    }
    return 0;
}

static int proxy_pairs(lua_State *L)
{
    lua_pushcfunction(L, proxy_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

void ccp_lua_detach_json(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, STATE);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        proxy *pr = lua_touserdata(L, -1);
        if (pr) {
            json_object_put(pr->j);
            pr->j = NULL;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, BOXES);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        json_object **box = lua_touserdata(L, -2);
        if (box) {
            json_object_put(*box);
            *box = NULL;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
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

/* One conversion: the containers it made (see owned), and how many
 * values it has made. */
typedef struct conv {
    json_object *pending;
    size_t values, bytes; /* values made, and the bytes of their strings */
} conv;

static const char *to_json(lua_State *L, int idx, json_object **out, int depth, conv *cv);

/* to_json's result as a reference of the caller's own. Containers it
 * makes are owned by the pending list (see ccp_lua_to_json) until a
 * parent takes them, so that a Lua error between a container's making
 * and its parent's taking it (out of memory_mb) leaks nothing; a proxy's
 * unchanged tree is lent by the proxy. Scalars are the caller's. */
static json_object *owned(json_object *v)
{
    if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
        return json_object_get(v);
    return v;
}

/* Is the Lua number at idx what orig, a JSON number, reads as? Then orig
 * goes back, not a new number: a member set to the value it had keeps its
 * text ("0.7", not "0.69999999999999996"; "1e400", which no float writes
 * back; a uint64's digits), as an untouched one does. */
static bool same_scalar(lua_State *L, int idx, json_object *orig)
{
    if (lua_type(L, idx) != LUA_TNUMBER) return false;
    if (json_object_is_type(orig, json_type_int)) {
        int64_t i = json_object_get_int64(orig);
        if (i == INT64_MAX && json_object_get_uint64(orig) > (uint64_t)INT64_MAX)
            return !lua_isinteger(L, idx) &&
                   lua_tonumber(L, idx) == (lua_Number)json_object_get_uint64(orig);
        return lua_isinteger(L, idx) && lua_tointeger(L, idx) == i;
    }
    if (!json_object_is_type(orig, json_type_double) || lua_isinteger(L, idx)) return false;
    lua_Number a = lua_tonumber(L, idx), b = json_object_get_double(orig);
    return memcmp(&a, &b, sizeof a) == 0; /* -0.0 is not 0.0; NaN never parses */
}

/* A proxy back to JSON (its backing table on top of the stack): the
 * original tree when nothing in it changed, else a new container whose
 * untouched members are the original ones, shared. */
static const char *proxy_to_json(lua_State *L, int p, proxy *pr, json_object **out, int depth,
                                 conv *cv)
{
    int b = lua_gettop(L);
    if (!pr->j) {
        lua_pop(L, 1);
        return "a JSON value kept from an earlier call";
    }
    bool same = !pr->dirty;
    const char *bad = NULL;
    if (pr->array) {
        json_object *a = json_object_new_array_ext((int)(pr->len > 1000000 ? 1000000 : pr->len));
        *out = a;
        json_object_array_add(cv->pending, a);
        size_t n0 = json_object_array_length(pr->j);
        for (lua_Integer i = 1; !bad && i <= pr->len; i++) {
            json_object *e = NULL;
            if (lua_rawgeti(L, b, i) == LUA_TNIL) {
                if ((size_t)i <= n0)
                    e = json_object_get(json_object_array_get_idx(pr->j, (size_t)i - 1));
            } else if (lua_touserdata(L, -1) != DELETED) {
                json_object *orig =
                    (size_t)i <= n0 ? json_object_array_get_idx(pr->j, (size_t)i - 1) : NULL;
                if (orig && same_scalar(L, -1, orig)) {
                    e = json_object_get(orig);
                } else {
                    bad = to_json(L, -1, &e, depth + 1, cv);
                    e = owned(e);
                }
                if (!orig || e != orig) same = false;
            }
            lua_pop(L, 1);
            json_object_array_add(a, e);
        }
    } else {
        json_object *o = json_object_new_object();
        *out = o;
        json_object_array_add(cv->pending, o);
        for (struct lh_entry *e = json_object_get_object(pr->j)->head; !bad && e; e = e->next) {
            const char *k = (const char *)lh_entry_k(e);
            json_object *orig = (json_object *)lh_entry_v(e), *v = NULL;
            lua_pushstring(L, k);
            if (lua_rawget(L, b) == LUA_TNIL) {
                json_object_object_add(o, k, json_object_get(orig));
            } else if (lua_touserdata(L, -1) != DELETED) {
                if (orig && same_scalar(L, -1, orig))
                    v = json_object_get(orig);
                else
                    bad = to_json(L, -1, &v, depth + 1, cv);
                json_object_object_add(o, k, owned(v));
                if (v != orig) same = false;
            }
            lua_pop(L, 1);
        }
        /* Members added: after the others, sorted (next's order changes
         * from state to state). */
        size_t n_new = 0;
        lua_pushnil(L);
        while (!bad && lua_next(L, b)) {
            if (lua_touserdata(L, -1) != DELETED && lua_type(L, -2) == LUA_TSTRING &&
                !json_object_object_get_ex(pr->j, lua_tostring(L, -2), NULL))
                n_new++;
            lua_pop(L, 1);
        }
        if (!bad && n_new) {
            same = false;
            const char **names = lua_newuserdatauv(L, n_new * sizeof *names, 0);
            size_t k = 0;
            lua_pushnil(L);
            while (lua_next(L, b)) {
                if (lua_touserdata(L, -1) != DELETED && lua_type(L, -2) == LUA_TSTRING &&
                    !json_object_object_get_ex(pr->j, lua_tostring(L, -2), NULL))
                    names[k++] = lua_tostring(L, -2); /* anchored in b */
                lua_pop(L, 1);
            }
            qsort(names, k, sizeof *names, by_name);
            for (size_t i = 0; !bad && i < k; i++) {
                lua_getfield(L, b, names[i]);
                json_object *v = NULL;
                bad = to_json(L, -1, &v, depth + 1, cv);
                json_object_object_add(o, names[i], owned(v));
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    if (!bad && same) {
        /* Nothing changed below: the original, shared (the new container
         * goes with the pending list). */
        *out = pr->j;
    }
    lua_settop(L, b - 1);
    (void)p;
    return bad;
}

static const char *to_json(lua_State *L, int idx, json_object **out, int depth, conv *cv)
{
    *out = NULL;
    luaL_checkstack(L, 4, "value too deep");
    /* Here C runs, where the count hook never fires, and json-c's memory
     * is not the state's: a table that holds one table twice at each of
     * 40 levels is 2^40 values. The caps are checked as values are made. */
    if ((++cv->values & 1023) == 0) ccp_plugin_vm_check_conversion(L, cv->values, cv->bytes);
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
        /* One Lua string may stand in many places: each is a copy here. */
        cv->bytes += n;
        if (n >= 65536) ccp_plugin_vm_check_conversion(L, cv->values, cv->bytes);
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
    proxy *pr = state_of(L, idx);
    if (pr) return proxy_to_json(L, idx, pr, out, depth, cv);
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
        json_object_array_add(cv->pending, a);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            json_object *e = NULL;
            const char *bad = to_json(L, -1, &e, depth + 1, cv);
            json_object_array_add(a, owned(e));
            lua_pop(L, 1);
            if (bad) return bad;
        }
        return NULL;
    }
    json_object *o = json_object_new_object();
    *out = o;
    json_object_array_add(cv->pending, o);
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
                const char *bad = to_json(L, -1, &e, depth + 1, cv);
                json_object_object_add(o, k, owned(e));
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
        const char *bad = to_json(L, -1, &e, depth + 1, cv);
        json_object_object_add(o, k, owned(e));
        lua_pop(L, 2);
        if (bad) {
            lua_settop(L, fresh - 1);
            return bad;
        }
    }
    lua_settop(L, fresh - 1);
    return NULL;
}

static json_object **new_box(lua_State *L);

const char *ccp_lua_to_json(lua_State *L, int idx, json_object **out)
{
    /* A Lua error (out of memory_mb) may cut the conversion short, with
     * containers made and not yet in their parent: every one made belongs
     * to a boxed list until then, which ccp_lua_detach_json lets go after
     * the call (see owned). Done, the list goes at once. */
    idx = lua_absindex(L, idx);
    *out = NULL;
    json_object **pending = new_box(L);
    *pending = json_object_new_array();
    conv cv = {*pending, 0, 0};
    json_object *v = NULL;
    const char *bad = to_json(L, idx, &v, 0, &cv);
    *out = owned(v);
    json_object_put(*pending);
    *pending = NULL;
    lua_pop(L, 1);
    return bad;
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
    lua_getfield(L, LUA_REGISTRYINDEX, BOXES);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
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

/* The values of v (the parser bounds its depth). */
static size_t count_values(json_object *v)
{
    size_t n = 1;
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            n += count_values(json_object_array_get_idx(v, i));
    } else if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, m)
        {
            (void)k;
            n += count_values(m);
        }
    }
    return n;
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    json_object **box = new_box(L);
    ccp_error err = {0};
    /* The tree is json-c's memory, not the state's, and its proxy keeps
     * it for the rest of the call: a loop of decodes of a long list would
     * hold gigabytes under a memory_mb of 8. The call's decodes share a
     * budget of values instead. */
    size_t room = ccp_plugin_vm_decode_room(L);
    if (room == 0) ccp_plugin_vm_decode_refused(L);
    *box = ccp_json_parse_max(s, n, room == SIZE_MAX ? 0 : room, &err);
    if (!*box && err.code == CCP_ELIMIT) ccp_plugin_vm_decode_refused(L);
    if (*box) ccp_plugin_vm_decoded(L, count_values(*box));
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
    luaL_newmetatable(L, PROXY_UD);
    lua_pushcfunction(L, proxy_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, PROXY_MT);
    static const luaL_Reg mm[] = {{"__index", proxy_index},
                                  {"__newindex", proxy_newindex},
                                  {"__len", proxy_len},
                                  {"__pairs", proxy_pairs},
                                  {NULL, NULL}};
    luaL_setfuncs(L, mm, 0);
    lua_pushliteral(L, "ccp.json"); /* setmetatable cannot take the proxy apart */
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    lua_newtable(L); /* STATE, weak in its keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, STATE);
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
    lua_newtable(L); /* BOXES, weak in its keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, BOXES);
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
