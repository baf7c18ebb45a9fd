/* keyadmin.c — the proxy-key admin actions both `ccproxy keys` and the
 * /admin/keys endpoints run (see keyadmin.h): one copy of what a change
 * does in Redis and the state file, and of a key's JSON. */
#include "teams/keyadmin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void say(ccp_keyadmin_note_fn note, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(ccp_keyadmin_note_fn note, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    note(line);
}

void ccp_keyadmin_copy(ccp_rkeys *rk, sqlite3 *db, ccp_keyadmin_note_fn note)
{
    ccp_keyrec *all = NULL;
    size_t n = 0;
    int64_t v = 0;
    ccp_error err = {0};
    int rc = ccp_rkeys_list(rk, &all, &n, &v, &err);
    if (!rc && v) rc = ccp_keystore_mirror(db, all, n, &err);
    if (rc)
        say(note, "ccproxy keys: warning: the state file is not a copy of state.redis: %s",
            err.msg);
    for (size_t i = 0; i < n; i++)
        ccp_keyrec_free(&all[i]);
    free(all);
}

int ccp_keyadmin_push(ccp_rkeys *rk, sqlite3 *db, size_t *added, ccp_keyadmin_note_fn note,
                      ccp_error *err)
{
    *added = 0;
    ccp_keyrec *all;
    size_t n;
    int rc = ccp_keystore_list(db, &all, &n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        bool put = false;
        ccp_error e = {0};
        int r = ccp_rkeys_put(rk, &all[i], CCP_RKEYS_IMPORT, &put, &e);
        if (r == CCP_EINVAL)
            say(note, "ccproxy keys: %s (%s) not copied to state.redis: %s", all[i].id, all[i].name,
                e.msg);
        else if (r)
            rc = ccp_error_set(err, r, "%s", e.msg);
        *added += put;
    }
    for (size_t i = 0; i < n; i++)
        ccp_keyrec_free(&all[i]);
    free(all);
    return rc;
}

int ccp_keyadmin_adopt(ccp_rkeys *rk, sqlite3 *db, ccp_keyadmin_note_fn note, ccp_error *err)
{
    int64_t v;
    int rc = ccp_rkeys_version(rk, &v, err);
    if (rc || v) return rc;
    size_t added;
    rc = ccp_keyadmin_push(rk, db, &added, note, err);
    if (!rc && added)
        say(note, "copied the state file's %zu keys to state.redis (where keys live now)", added);
    return rc;
}

/* Revokes (secret NULL) or rotates the key of Redis whose id or name is
 * which, then copies Redis's keys into the file and audits the change. */
static int redis_change(ccp_rkeys *rk, sqlite3 *db, const char *which,
                        char secret[CCP_KEY_SECRET_MAX], ccp_keyadmin_note_fn note, ccp_error *err)
{
    ccp_keyrec *all;
    size_t n;
    int64_t v;
    int rc = ccp_rkeys_list(rk, &all, &n, &v, err);
    if (rc) return rc;
    ccp_keyrec *k = NULL;
    for (size_t i = 0; i < n && !k; i++)
        if (!strcmp(all[i].id, which) || !strcmp(all[i].name, which)) k = &all[i];
    if (!k)
        rc = ccp_error_set(err, CCP_ENOTFOUND,
                           "no key has the id or name '%s' in state.redis (ccproxy keys list "
                           "shows them)",
                           which);
    else if (!secret)
        rc = ccp_rkeys_revoke(rk, k->id, err);
    else if ((rc = ccp_keystore_mint(k, false, secret, err)) == 0)
        rc = ccp_rkeys_rotate(rk, k->id, k->hash, k->prefix, err);
    if (!rc) {
        ccp_keyadmin_copy(rk, db, note);
        ccp_error e = {0};
        if (ccp_keystore_audit_key(db, k, secret ? "rotate" : "revoke", &e) != 0)
            say(note, "ccproxy keys: warning: not audited: %s", e.msg);
    }
    if (rc && secret) memset(secret, 0, CCP_KEY_SECRET_MAX);
    for (size_t i = 0; i < n; i++)
        ccp_keyrec_free(&all[i]);
    free(all);
    return rc;
}

int ccp_keyadmin_create(sqlite3 *db, ccp_rkeys *rk, ccp_keyrec *k, char secret[CCP_KEY_SECRET_MAX],
                        ccp_keyadmin_note_fn note, ccp_error *err)
{
    if (!rk) {
        int rc = ccp_keystore_create(db, k, secret, err);
        if (rc) memset(secret, 0, CCP_KEY_SECRET_MAX);
        return rc;
    }
    int rc = ccp_keystore_mint(k, true, secret, err);
    if (!rc) rc = ccp_rkeys_put(rk, k, CCP_RKEYS_CREATE, NULL, err);
    if (rc) {
        memset(secret, 0, CCP_KEY_SECRET_MAX);
        return rc;
    }
    ccp_keyadmin_copy(rk, db, note);
    ccp_error e = {0};
    if (ccp_keystore_audit_key(db, k, "create", &e) != 0)
        say(note, "ccproxy keys: warning: not audited: %s", e.msg);
    return 0;
}

int ccp_keyadmin_revoke(sqlite3 *db, ccp_rkeys *rk, const char *which, ccp_keyadmin_note_fn note,
                        ccp_error *err)
{
    return rk ? redis_change(rk, db, which, NULL, note, err) : ccp_keystore_revoke(db, which, err);
}

int ccp_keyadmin_rotate(sqlite3 *db, ccp_rkeys *rk, const char *which,
                        char secret[CCP_KEY_SECRET_MAX], ccp_keyadmin_note_fn note, ccp_error *err)
{
    if (rk) return redis_change(rk, db, which, secret, note, err);
    int rc = ccp_keystore_rotate(db, which, secret, err);
    if (rc) memset(secret, 0, CCP_KEY_SECRET_MAX);
    return rc;
}

const char *ccp_keyadmin_status(const ccp_keyrec *k, int64_t now)
{
    if (k->revoked) return "revoked";
    if (k->expires && now >= k->expires) return "expired";
    return "active";
}

/* t as ISO text; false (out "") when gmtime cannot take it (a year past
 * what struct tm holds: a record from Redis may say anything). */
static bool time_text(int64_t t, char *out, size_t cap)
{
    time_t s = (time_t)t;
    struct tm tm;
    out[0] = '\0';
    if (!gmtime_r(&s, &tm)) return false;
    return strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0;
}

static void json_str(ccp_buf *b, const char *s)
{
    if (s)
        ccp_buf_append_json_str(b, s, strlen(s));
    else
        ccp_buf_appends(b, "null");
}

/* A time as JSON: its ISO text, or null for 0 (never). */
static void json_time(ccp_buf *b, int64_t t)
{
    char s[40];
    if (!t) {
        ccp_buf_appends(b, "null");
        return;
    }
    json_str(b, time_text(t, s, sizeof s) ? s : NULL);
}

void ccp_keyadmin_json(const ccp_keyrec *k, const char *secret, ccp_buf *b)
{
    ccp_buf_printf(b, "{\"id\":\"%s\",\"name\":", k->id);
    json_str(b, k->name);
    ccp_buf_appends(b, ",\"tenant\":");
    json_str(b, k->tenant);
    ccp_buf_printf(b, ",\"prefix\":\"%s\",\"status\":\"%s\",\"created\":", k->prefix,
                   ccp_keyadmin_status(k, (int64_t)time(NULL)));
    char t[40];
    /* A key always has one; null only for a time no calendar shows. */
    json_str(b, time_text(k->created, t, sizeof t) ? t : NULL);
    ccp_buf_appends(b, ",\"expires\":");
    json_time(b, k->expires);
    ccp_buf_appends(b, ",\"last_used\":");
    json_time(b, k->last_used);
    ccp_buf_printf(b,
                   ",\"rpm\":%lld,\"tpm\":%lld,\"concurrency\":%lld,\"budget\":", (long long)k->rpm,
                   (long long)k->tpm, (long long)k->concurrency);
    if (k->budget_period)
        ccp_buf_printf(b, "{\"usd\":%.6g,\"period\":\"%s\"}", k->budget_usd,
                       ccp_period_name(k->budget_period));
    else
        ccp_buf_appends(b, "null");
    ccp_buf_appends(b, ",\"models\":");
    json_str(b, k->models);
    if (secret) {
        ccp_buf_appends(b, ",\"key\":");
        json_str(b, secret);
    }
    ccp_buf_appendc(b, '}');
}

/* ---- POST /admin/keys's body ---- */

static int bad(ccp_error *err, const char **field, const char *name, const char *what)
{
    *field = name;
    return ccp_error_set(err, CCP_EINVAL, "%s: %s", name, what);
}

/* A string field: *out malloc'd, NULL when absent or null. */
static int get_str(json_object *body, const char *name, char **out, const char **field,
                   ccp_error *err)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(body, name, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_string)) return bad(err, field, name, "must be a string");
    if (json_object_get_string_len(v) == 0) return bad(err, field, name, "must not be empty");
    if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
        return bad(err, field, name, "must not hold a NUL character");
    *out = strdup(json_object_get_string(v));
    return 0;
}

static int get_limit(json_object *body, const char *name, int64_t *out, const char **field,
                     ccp_error *err)
{
    json_object *v;
    if (!json_object_object_get_ex(body, name, &v) || !v) return 0;
    if (!json_object_is_type(v, json_type_int))
        return bad(err, field, name, "must be a whole number >= 0 (0: no limit)");
    int64_t n = json_object_get_int64(v);
    if (n < 0 || n > 1000000000000LL)
        return bad(err, field, name, "must be a whole number from 0 to 1000000000000");
    *out = n;
    return 0;
}

/* models: "a,b" or ["a","b"] → "a,b" (malloc'd in *out). */
static int get_models(json_object *body, char **out, const char **field, ccp_error *err)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(body, "models", &v) || !v) return 0;
    if (json_object_is_type(v, json_type_string)) return get_str(body, "models", out, field, err);
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0)
        return bad(err, field, "models",
                   "must be a non-empty array of model globs or a string of them, "
                   "comma-separated");
    ccp_buf b = CCP_BUF_INIT;
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *e = json_object_array_get_idx(v, i);
        const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
        if (!*s || strchr(s, ',') || strlen(s) != (size_t)json_object_get_string_len(e)) {
            ccp_buf_free(&b);
            return bad(err, field, "models",
                       "each element must be a non-empty model glob without a comma");
        }
        if (i) ccp_buf_appendc(&b, ',');
        ccp_buf_appends(&b, s);
    }
    *out = ccp_buf_detach(&b, NULL);
    return 0;
}

int ccp_keyadmin_from_json(json_object *body, int64_t now, ccp_keyrec *k, const char **field,
                           ccp_error *err)
{
    static const char *const known[] = {"name",        "tenant", "rpm",    "tpm",
                                        "concurrency", "budget", "models", "expires"};
    memset(k, 0, sizeof *k);
    *field = NULL;
    json_object_object_foreach(body, name, val)
    {
        (void)val;
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0] && !ok; i++)
            ok = !strcmp(name, known[i]);
        if (!ok) {
            *field = "body";
            return ccp_error_set(err, CCP_EINVAL,
                                 "%.100s: unknown field (known: name, tenant, rpm, tpm, "
                                 "concurrency, budget, models, expires)",
                                 name);
        }
    }
    char *budget = NULL, *expires = NULL;
    int rc = get_str(body, "name", &k->name, field, err);
    if (!rc && !k->name) rc = bad(err, field, "name", "is required (a name to tell the key by)");
    if (!rc) rc = get_str(body, "tenant", &k->tenant, field, err);
    if (!rc) rc = get_limit(body, "rpm", &k->rpm, field, err);
    if (!rc) rc = get_limit(body, "tpm", &k->tpm, field, err);
    if (!rc) rc = get_limit(body, "concurrency", &k->concurrency, field, err);
    if (!rc) rc = get_str(body, "budget", &budget, field, err);
    if (!rc && budget && ccp_parse_budget(budget, &k->budget_usd, &k->budget_period) != 0)
        rc = bad(err, field, "budget",
                 "must be an amount per day or month, e.g. 50usd/month or 5usd/day");
    if (!rc) rc = get_models(body, &k->models, field, err);
    if (!rc) rc = get_str(body, "expires", &expires, field, err);
    if (!rc && expires) {
        int64_t secs;
        if (ccp_parse_duration(expires, &secs) != 0)
            rc = bad(err, field, "expires", "must be a duration such as 30d, 12h or 90m");
        else
            k->expires = now + secs;
    }
    free(budget);
    free(expires);
    if (rc) ccp_keyrec_free(k);
    return rc;
}
