/* lua_internal.h — what the Lua files of src/plugin share: conversion of
 * JSON trees to Lua values and back (lua_conv.c). */
#ifndef CCP_PLUGIN_LUA_INTERNAL_H
#define CCP_PLUGIN_LUA_INTERNAL_H

#include <json-c/json.h>
#include <lua.h>
#include <stdbool.h>

/* Pushes v as a Lua value: objects and arrays as proxies (tables read
 * from and written through to v lazily; lua_conv.c), integers as Lua
 * integers (all 64 bits), strings byte-exact, null as ccp.json.null. May
 * raise a Lua error (memory): call it in protected mode. */
void ccp_lua_push_json(lua_State *L, json_object *v, int depth);

/* Lets go of every JSON tree the state's proxies hold (after each call:
 * the trees belong to the caller's request, and the state may next run on
 * another thread). A proxy kept past its call raises an error if used. */
void ccp_lua_detach_json(lua_State *L);

/* Converts the value at idx to JSON into *out (NULL for nil or null).
 * Returns NULL on success, else a static description of what cannot be
 * converted (a function, a table with mixed keys, NaN, a loop, ...). *out
 * may hold a partial tree either way: the caller puts it. Raises only on
 * memory errors. */
const char *ccp_lua_to_json(lua_State *L, int idx, json_object **out);

/* For lua_conv.c, every so many values a conversion makes (and at each
 * long string): raises the call's timeout once its deadline has passed,
 * and a memory error once the values and string bytes made come to more
 * than the state could hold (lua_sandbox.c; a conversion runs in C, out of
 * reach of the count hook and of the state's allocator). */
void ccp_plugin_vm_check_conversion(lua_State *L, size_t values, size_t bytes);
/* For ccp.json.decode, whose trees live outside the state's memory until
 * the call ends: how many more values decoding may make in this call
 * (SIZE_MAX: no cap), the values it made, and the memory error raised
 * when a decode would pass that (lua_sandbox.c). */
size_t ccp_plugin_vm_decode_room(lua_State *L);
void ccp_plugin_vm_decoded(lua_State *L, size_t values);
void ccp_plugin_vm_decode_refused(lua_State *L);
/* Opens ccp.json (encode, decode, null, array, object) as global `ccp`,
 * and creates the array/object metatables. */
void ccp_lua_open_json(lua_State *L);

#endif
