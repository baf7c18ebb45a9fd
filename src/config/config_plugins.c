/* config_plugins.c — the `plugins` section: the plugins named by
 * plugins.load and those found in plugins.dirs, loaded into the config
 * snapshot's plugin set (plugin/plugin.h). It is loaded before the
 * pipelines, which name plugins as they name built-in transformers; a
 * reload loads the files again, so an edited plugin takes effect with the
 * new snapshot. */
#include "config/config_internal.h"
#include "core/alloc.h"
#include "plugin/plugin.h"

#include <dirent.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The section's own slots: its keys are read into these nodes, then
 * loaded here. */
typedef struct plugins_top {
    yaml_node_t *dirs, *load;
} plugins_top;

typedef struct plugin_entry {
    char *path;
    int isolation; /* ccp_isolation */
    int on_error;  /* 0 fail, 1 skip */
    yaml_node_t *limits, *options;
} plugin_entry;

static void keep_node(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    (void)l;
    *(yaml_node_t **)((char *)base + k->offset) = v;
}

static const ccp_key top_keys[] = {
    {.name = "dirs",
     .type = CCP_KEY_CUSTOM,
     .offset = offsetof(plugins_top, dirs),
     .load = keep_node,
     .doc_type = "list of paths",
     .doc_def = "`[~/.config/ccproxy/plugins]`",
     .help = "folders scanned for plugins (`NAME.lua`, or `NAME/init.lua`); a missing folder "
             "is fine; found plugins get the default isolation and limits"},
    {.name = "load",
     .type = CCP_KEY_CUSTOM,
     .offset = offsetof(plugins_top, load),
     .load = keep_node,
     .doc_type = "list",
     .doc_def = "`[]`",
     .help = "plugins named explicitly, each with `path`, `isolation`, `limits`, `on_error`, "
             "`options` (see below)"},
};
const ccp_key_table ccp_cfg_plugins_keys = CCP_KEYS("plugins", top_keys);

static const char *const iso_names[] = {"process", "inprocess", NULL};
static const char *const on_error_names[] = {"fail", "skip", NULL};
static const ccp_key entry_keys[] = {
    {.name = "path",
     .type = CCP_KEY_STR,
     .offset = offsetof(plugin_entry, path),
     .min = 1,
     .required = true,
     .help = "the plugin: a `.lua` file, or a folder with `init.lua`; relative to the config "
             "file's folder"},
    {.name = "isolation",
     .type = CCP_KEY_ENUM,
     .offset = offsetof(plugin_entry, isolation),
     .def = "process",
     .choices = iso_names,
     .help = "`process`: run in sandboxed plugin-host processes; `inprocess`: a Lua state per "
             "worker thread, for trusted plugins"},
    {.name = "on_error",
     .type = CCP_KEY_ENUM,
     .offset = offsetof(plugin_entry, on_error),
     .def = "fail",
     .choices = on_error_names,
     .help = "what a failed call does to the request when the pipeline step does not say: "
             "`fail` it, or `skip` the step"},
    {.name = "limits",
     .type = CCP_KEY_CUSTOM,
     .offset = offsetof(plugin_entry, limits),
     .load = keep_node,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "the caps of each call (below)"},
    {.name = "options",
     .type = CCP_KEY_CUSTOM,
     .offset = offsetof(plugin_entry, options),
     .load = keep_node,
     .doc_type = "mapping",
     .doc_def = "—",
     .help = "option values for every step that uses the plugin (a step's `with` wins); "
             "checked against the plugin's declared options"},
};
const ccp_key_table ccp_cfg_plugin_entry_keys = CCP_KEYS("plugins.load", entry_keys);

static const ccp_key limit_keys[] = {
    {.name = "timeout_ms",
     .type = CCP_KEY_INT64,
     .offset = offsetof(ccp_plugin_limits, timeout_ms),
     .def = "1000",
     .min = 1,
     .max = MS_MAX,
     .help = "the longest one hook call may take; then it is stopped (process mode: the host "
             "is killed)"},
    {.name = "memory_mb",
     .type = CCP_KEY_INT64,
     .offset = offsetof(ccp_plugin_limits, memory_mb),
     .def = "64",
     .min = 1,
     .max = 65536,
     .help = "the Lua heap (inprocess), or the host's address space on top of what the "
             "program needs (process)"},
    {.name = "cpu_seconds",
     .type = CCP_KEY_INT64,
     .offset = offsetof(ccp_plugin_limits, cpu_seconds),
     .def = "60",
     .min = 1,
     .max = 86400,
     .help = "process mode: the CPU time a host may use over its life (RLIMIT_CPU); then it "
             "is replaced"},
    {.name = "instructions",
     .type = CCP_KEY_INT64,
     .offset = offsetof(ccp_plugin_limits, instructions),
     .def = "0",
     .min = 0,
     .max = 1000000000000LL,
     .help = "Lua VM instructions one call may run (counted in steps of 1000); 0: no count, "
             "only timeout_ms"},
};
const ccp_key_table ccp_cfg_plugin_limit_keys = CCP_KEYS("plugins.load.limits", limit_keys);

void ccp_plugin_limits_default(ccp_plugin_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    ccp_keys_defaults(&ccp_cfg_plugin_limit_keys, lim);
}

/* path relative to the config file's folder; malloc'd. */
static char *resolve(const loader *l, const char *path)
{
    if (path[0] == '/') return ccp_xstrdup(path);
    if (path[0] == '~' && path[1] == '/' && getenv("HOME")) {
        ccp_buf b = CCP_BUF_INIT;
        ccp_buf_printf(&b, "%s%s", getenv("HOME"), path + 1);
        return (char *)b.data;
    }
    const char *slash = strrchr(l->file, '/');
    if (!slash) return ccp_xstrdup(path);
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_printf(&b, "%.*s/%s", (int)(slash - l->file), l->file, path);
    return (char *)b.data;
}

/* Adds p to the set, or reports why not (and frees it). */
static void add(loader *l, int line, int col, ccp_plugin *p)
{
    ccp_plugin_set *set = l->cfg->plugins;
    if (ccp_transformer_find(p->name)) {
        ccp_cfg_diag(l, line, col,
                     "plugin %s is named '%s', as a built-in transformer is: rename the plugin "
                     "(its `name` field)",
                     p->path, p->name);
        ccp_plugin_free(p);
        return;
    }
    const ccp_plugin *other = ccp_plugin_find(set, p->name);
    if (other) {
        ccp_cfg_diag(l, line, col, "two plugins are named '%s': %s and %s; rename one", p->name,
                     other->path, p->path);
        ccp_plugin_free(p);
        return;
    }
    set->v = ccp_xrealloc(set->v, (set->n + 1) * sizeof *set->v);
    set->v[set->n++] = p;
}

static bool loaded_from(const ccp_plugin_set *set, const char *path)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(path, a)) return false;
    for (size_t i = 0; i < set->n; i++)
        if (realpath(set->v[i]->path, b) && !strcmp(a, b)) return true;
    return false;
}

static void load_entry(loader *l, yaml_node_t *n)
{
    plugin_entry e = {0};
    ccp_keys_defaults(&ccp_cfg_plugin_entry_keys, &e);
    ccp_cfg_load_keys(l, n, "plugins.load", &ccp_cfg_plugin_entry_keys, &e);
    ccp_plugin_limits lim;
    ccp_plugin_limits_default(&lim);
    if (e.limits)
        ccp_cfg_load_keys(l, e.limits, "plugins.load.limits", &ccp_cfg_plugin_limit_keys, &lim);
    if (!e.path) {
        if (n->type == YAML_MAPPING_NODE)
            DIAG(l, n, "plugins.load: each entry needs a `path` (a .lua file or a folder)");
        ccp_keys_free(&ccp_cfg_plugin_entry_keys, &e);
        return;
    }
    char *path = resolve(l, e.path);
    ccp_error err = {0};
    ccp_plugin *p = ccp_plugin_load(path, (ccp_isolation)e.isolation, &lim, &err);
    free(path);
    if (!p) {
        DIAG(l, n, "plugin %s: %s", e.path, err.msg);
        ccp_keys_free(&ccp_cfg_plugin_entry_keys, &e);
        return;
    }
    p->skip_on_error = e.on_error == 1;
    if (e.options) {
        ccp_step st = {.t = &p->t};
        char where[160];
        snprintf(where, sizeof where, "plugins.load (%s)", p->name);
        ccp_cfg_load_options(l, e.options, where, &st);
        p->defaults = st.opts;
        free((void *)st.conf);
    }
    add(l, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1, p);
    ccp_keys_free(&ccp_cfg_plugin_entry_keys, &e);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads every plugin of one folder (in name order, for stable errors). */
static void scan_dir(loader *l, const char *dir, int line, int col)
{
    DIR *d = opendir(dir);
    if (!d) return; /* a missing folder is fine: nothing to load */
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        names = ccp_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = ccp_xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        ccp_buf path = CCP_BUF_INIT;
        ccp_buf_printf(&path, "%s/%s", dir, names[i]);
        size_t len = strlen(names[i]);
        struct stat st;
        bool lua = len > 4 && !strcmp(names[i] + len - 4, ".lua");
        bool folder = false;
        if (!lua && stat(path.data, &st) == 0 && S_ISDIR(st.st_mode)) {
            ccp_buf init = CCP_BUF_INIT;
            ccp_buf_printf(&init, "%s/init.lua", path.data);
            folder = stat(init.data, &st) == 0;
            ccp_buf_free(&init);
        }
        if ((lua || folder) && !loaded_from(l->cfg->plugins, path.data)) {
            ccp_plugin_limits lim;
            ccp_plugin_limits_default(&lim);
            ccp_error err = {0};
            ccp_plugin *p = ccp_plugin_load(path.data, CCP_ISOLATION_PROCESS, &lim, &err);
            if (p)
                add(l, line, col, p);
            else
                ccp_cfg_diag(l, line, col, "plugin %s: %s", path.data, err.msg);
        }
        ccp_buf_free(&path);
        free(names[i]);
    }
    free(names);
}

void ccp_cfg_load_plugins(loader *l, yaml_node_t *map)
{
    plugins_top top = {0};
    l->cfg->plugins = ccp_xcalloc(1, sizeof *l->cfg->plugins);
    if (map) ccp_cfg_load_keys(l, map, "plugins", &ccp_cfg_plugins_keys, &top);
    if (top.load && top.load->type != YAML_SEQUENCE_NODE) {
        DIAG(l, top.load, "plugins.load: expected a list of {path, isolation, limits, ...}");
    } else if (top.load) {
        for (yaml_node_item_t *it = top.load->data.sequence.items.start;
             it < top.load->data.sequence.items.top; it++)
            load_entry(l, ccp_cfg_node(l, *it));
    }
    if (!top.dirs) {
        const char *home = getenv("HOME");
        if (home && *home) {
            ccp_buf d = CCP_BUF_INIT;
            ccp_buf_printf(&d, "%s/.config/ccproxy/plugins", home);
            scan_dir(l, d.data, 0, 0);
            ccp_buf_free(&d);
        }
        return;
    }
    if (top.dirs->type != YAML_SEQUENCE_NODE) {
        DIAG(l, top.dirs, "plugins.dirs: expected a list of folders");
        return;
    }
    for (yaml_node_item_t *it = top.dirs->data.sequence.items.start;
         it < top.dirs->data.sequence.items.top; it++) {
        yaml_node_t *v = ccp_cfg_node(l, *it);
        char *s = ccp_cfg_interp(l, v, "plugins.dirs", NULL);
        if (!s) continue;
        char *dir = resolve(l, s);
        scan_dir(l, dir, (int)v->start_mark.line + 1, (int)v->start_mark.column + 1);
        free(dir);
        free(s);
    }
}
