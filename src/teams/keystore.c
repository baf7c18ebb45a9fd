/* keystore.c — proxy keys in the SQLite state file (see keystore.h), and
 * the file's schema: keys, usage, audit. */
#include "teams/keystore.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "teams/audit.h"

#include <errno.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS keys ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, tenant TEXT,"
    " hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, created INTEGER NOT NULL,"
    " expires INTEGER NOT NULL DEFAULT 0, last_used INTEGER NOT NULL DEFAULT 0,"
    " revoked INTEGER NOT NULL DEFAULT 0, rpm INTEGER NOT NULL DEFAULT 0,"
    " tpm INTEGER NOT NULL DEFAULT 0, concurrency INTEGER NOT NULL DEFAULT 0,"
    " budget_usd REAL NOT NULL DEFAULT 0, budget_period INTEGER NOT NULL DEFAULT 0,"
    " models TEXT);"
    "CREATE TABLE IF NOT EXISTS usage ("
    " day TEXT NOT NULL, key_id TEXT NOT NULL, tenant TEXT NOT NULL DEFAULT '',"
    " provider TEXT NOT NULL, model TEXT NOT NULL, requests INTEGER NOT NULL DEFAULT 0,"
    " input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,"
    " cache_read_tokens INTEGER NOT NULL DEFAULT 0, cache_write_tokens INTEGER NOT NULL DEFAULT 0,"
    " spend_usd REAL NOT NULL DEFAULT 0, unpriced INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (day, key_id, tenant, provider, model));"
    "CREATE TABLE IF NOT EXISTS audit ("
    " seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
    " data TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);";

void ccp_keyrec_free(ccp_keyrec *k)
{
    if (!k) return;
    free(k->name);
    free(k->tenant);
    free(k->models);
    k->name = k->tenant = k->models = NULL;
}

char *ccp_keystore_path(const char *state_path)
{
    if (state_path) return ccp_xstrdup(state_path);
    ccp_buf b = CCP_BUF_INIT;
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    /* The XDG spec: a relative XDG_STATE_HOME is invalid and ignored. */
    if (xdg && xdg[0] == '/')
        ccp_buf_printf(&b, "%s/ccproxy/state.db", xdg);
    else if (home && *home)
        ccp_buf_printf(&b, "%s/.local/state/ccproxy/state.db", home);
    else
        return NULL;
    return b.data;
}

/* mkdir -p of path's directory, each made 0700 (the file holds usage and
 * key hashes: the owner's alone). */
static int make_dirs(const char *path, ccp_error *err)
{
    char *d = ccp_xstrdup(path);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d) {
        free(d);
        return 0;
    }
    *slash = '\0';
    for (char *p = d + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            char c = *p;
            *p = '\0';
            if (mkdir(d, 0700) != 0 && errno != EEXIST) {
                int e = errno;
                int rc =
                    ccp_error_set(err, CCP_EIO, "cannot create directory %s: %s", d, strerror(e));
                free(d);
                return rc;
            }
            *p = c;
        }
        if (end) break;
    }
    free(d);
    return 0;
}

int ccp_keystore_exec(sqlite3 *db, const char *sql, ccp_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    int rc = ccp_error_set(err, CCP_EIO, "state file: %s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return rc;
}

int ccp_keystore_open(const char *path, sqlite3 **out, ccp_error *err)
{
    *out = NULL;
    int rc = make_dirs(path, err);
    if (rc) return rc;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = ccp_error_set(err, CCP_EIO, "cannot open state file %s: %s", path,
                           db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    chmod(path, 0600);
    /* Another process (a `ccproxy keys` command, the proxy's state thread)
     * may hold the write lock for a moment: wait rather than fail. */
    sqlite3_busy_timeout(db, 5000);
    if ((rc = ccp_keystore_exec(db, "PRAGMA journal_mode=WAL", err)) ||
        (rc = ccp_keystore_exec(db, "PRAGMA synchronous=NORMAL", err)) ||
        (rc = ccp_keystore_exec(db, SCHEMA, err))) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

/* SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm
 * up (under a lock) on every digest, which costs four times the hash of a
 * key (measured: 1030 ns against 222 ns). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void ccp_key_hash(const char *secret, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    pthread_once(&sha256_once, sha256_fetch);
    EVP_Digest(secret, len, md, &n, sha256_md ? sha256_md : EVP_sha256(), NULL);
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

static int random_bytes(unsigned char *p, size_t n, ccp_error *err)
{
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return ccp_error_set(err, CCP_EIO, "getrandom: %s", strerror(errno));
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* A new secret: "ccp-" and 32 random bytes in unpadded base64url. */
static int new_secret(char secret[CCP_KEY_SECRET_MAX], ccp_error *err)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[33];
    int rc = random_bytes(r, 32, err);
    if (rc) return rc;
    r[32] = 0;
    char *o = secret + 4;
    memcpy(secret, "ccp-", 4);
    for (size_t i = 0; i < 33; i += 3) {
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = b64[v >> 6 & 63];
        *o++ = b64[v & 63];
    }
    /* 32 bytes are 43 characters; the last one came from the padding byte. */
    secret[4 + 43] = '\0';
    memset(r, 0, sizeof r);
    return 0;
}

static int new_id(char id[24], ccp_error *err)
{
    unsigned char r[8];
    int rc = random_bytes(r, sizeof r, err);
    if (rc) return rc;
    snprintf(id, 24, "key_%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
             r[6], r[7]);
    return 0;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? ccp_xstrdup(s) : NULL;
}

#define KEY_COLS                                                                                   \
    "id, name, tenant, hash, prefix, created, expires, last_used, revoked, rpm, tpm, "             \
    "concurrency, budget_usd, budget_period, models"

static void read_row(sqlite3_stmt *st, ccp_keyrec *k)
{
    memset(k, 0, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", (const char *)sqlite3_column_text(st, 0));
    k->name = col_dup(st, 1);
    k->tenant = col_dup(st, 2);
    snprintf(k->hash, sizeof k->hash, "%s", (const char *)sqlite3_column_text(st, 3));
    snprintf(k->prefix, sizeof k->prefix, "%s", (const char *)sqlite3_column_text(st, 4));
    k->created = sqlite3_column_int64(st, 5);
    k->expires = sqlite3_column_int64(st, 6);
    k->last_used = sqlite3_column_int64(st, 7);
    k->revoked = sqlite3_column_int(st, 8) != 0;
    k->rpm = sqlite3_column_int64(st, 9);
    k->tpm = sqlite3_column_int64(st, 10);
    k->concurrency = sqlite3_column_int64(st, 11);
    k->budget_usd = sqlite3_column_double(st, 12);
    k->budget_period = sqlite3_column_int(st, 13);
    k->models = col_dup(st, 14);
}

/* The audit row's data for an admin action on key k. */
static void key_json(const ccp_keyrec *k, const char *action, ccp_buf *b)
{
    ccp_buf_appends(b, "{\"action\":");
    ccp_buf_append_json_str(b, action, strlen(action));
    ccp_buf_printf(b, ",\"key_id\":\"%s\",\"name\":", k->id);
    ccp_buf_append_json_str(b, k->name ? k->name : "", k->name ? strlen(k->name) : 0);
    ccp_buf_appends(b, ",\"tenant\":");
    if (k->tenant)
        ccp_buf_append_json_str(b, k->tenant, strlen(k->tenant));
    else
        ccp_buf_appends(b, "null");
    ccp_buf_appendc(b, '}');
}

bool ccp_key_text_ok(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

int ccp_keystore_mint(ccp_keyrec *k, bool new_key, char secret[CCP_KEY_SECRET_MAX], ccp_error *err)
{
    /* A name, tenant or model list is printed as it is by `ccproxy keys
     * list` and in log lines: a control character there (an escape
     * sequence, a newline) would write into the admin's terminal or forge
     * a log line. */
    const char *bad = !ccp_key_text_ok(k->name)     ? "name"
                      : !ccp_key_text_ok(k->tenant) ? "tenant"
                      : !ccp_key_text_ok(k->models) ? "models"
                                                    : NULL;
    if (new_key && bad) {
        memset(secret, 0, CCP_KEY_SECRET_MAX);
        return ccp_error_set(err, CCP_EINVAL,
                             "%s: must not hold a control character (a newline, an escape)", bad);
    }
    int rc = new_secret(secret, err);
    if (!rc && new_key) rc = new_id(k->id, err);
    if (rc) {
        memset(secret, 0, CCP_KEY_SECRET_MAX);
        return rc;
    }
    ccp_key_hash(secret, strlen(secret), k->hash);
    snprintf(k->prefix, sizeof k->prefix, "%.8s", secret);
    if (new_key) k->created = (int64_t)time(NULL);
    return 0;
}

int ccp_keystore_audit_key(sqlite3 *db, const ccp_keyrec *k, const char *action, ccp_error *err)
{
    ccp_buf b = CCP_BUF_INIT;
    key_json(k, action, &b);
    char kind[32];
    snprintf(kind, sizeof kind, "key.%s", action);
    int rc = ccp_audit_append(db, ccp_audit_now_ms(), kind, b.data, err);
    ccp_buf_free(&b);
    return rc;
}

int ccp_keystore_mirror(sqlite3 *db, const ccp_keyrec *recs, size_t n, ccp_error *err)
{
    int rc;
    if ((rc = ccp_keystore_exec(db, "BEGIN IMMEDIATE", err))) return rc;
    sqlite3_stmt *clash = NULL, *drop = NULL, *put = NULL;
    /* A key the source does not have is no key: revoked (kept, with its
     * usage, for `keys list`), unless the source lists it below. */
    if ((rc = ccp_keystore_exec(db, "UPDATE keys SET revoked = 1", err))) goto out;
    /* A file-only key holding a name or a secret hash the source gives to
     * another key steps aside: renamed "NAME~ID" or dropped (its secret is
     * the other key's, so it cannot stay). */
    if (sqlite3_prepare_v2(db,
                           "UPDATE keys SET name = name || '~' || id WHERE name = ?2 AND id != ?1;",
                           -1, &clash, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "DELETE FROM keys WHERE hash = ?2 AND id != ?1", -1, &drop, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(
            db,
            "INSERT INTO keys(id, name, tenant, hash, prefix, created, expires, revoked, rpm, tpm, "
            "concurrency, budget_usd, budget_period, models) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, tenant = excluded.tenant, "
            "hash = excluded.hash, prefix = excluded.prefix, created = excluded.created, "
            "expires = excluded.expires, revoked = excluded.revoked, rpm = excluded.rpm, "
            "tpm = excluded.tpm, concurrency = excluded.concurrency, "
            "budget_usd = excluded.budget_usd, budget_period = excluded.budget_period, "
            "models = excluded.models",
            -1, &put, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const ccp_keyrec *k = &recs[i];
        sqlite3_reset(clash);
        sqlite3_bind_text(clash, 1, k->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(clash, 2, k->name, -1, SQLITE_STATIC);
        if (sqlite3_step(clash) != SQLITE_DONE) goto fail;
        sqlite3_reset(drop);
        sqlite3_bind_text(drop, 1, k->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(drop, 2, k->hash, -1, SQLITE_STATIC);
        if (sqlite3_step(drop) != SQLITE_DONE) goto fail;
        sqlite3_reset(put);
        sqlite3_bind_text(put, 1, k->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(put, 2, k->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(put, 3, k->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(put, 4, k->hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(put, 5, k->prefix, -1, SQLITE_STATIC);
        sqlite3_bind_int64(put, 6, k->created);
        sqlite3_bind_int64(put, 7, k->expires);
        sqlite3_bind_int(put, 8, k->revoked);
        sqlite3_bind_int64(put, 9, k->rpm);
        sqlite3_bind_int64(put, 10, k->tpm);
        sqlite3_bind_int64(put, 11, k->concurrency);
        sqlite3_bind_double(put, 12, k->budget_usd);
        sqlite3_bind_int(put, 13, k->budget_period);
        sqlite3_bind_text(put, 14, k->models, -1, SQLITE_STATIC);
        if (sqlite3_step(put) != SQLITE_DONE) goto fail;
    }
    sqlite3_finalize(clash);
    sqlite3_finalize(drop);
    sqlite3_finalize(put);
    return ccp_keystore_exec(db, "COMMIT", err);
fail:
    rc = ccp_error_set(err, CCP_EIO, "state file: %s", sqlite3_errmsg(db));
out:
    sqlite3_finalize(clash);
    sqlite3_finalize(drop);
    sqlite3_finalize(put);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int ccp_keystore_create(sqlite3 *db, ccp_keyrec *k, char secret[CCP_KEY_SECRET_MAX], ccp_error *err)
{
    int rc;
    if ((rc = ccp_keystore_mint(k, true, secret, err))) return rc;
    sqlite3_stmt *st = NULL;
    if ((rc = ccp_keystore_exec(db, "BEGIN IMMEDIATE", err))) return rc;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO keys(id, name, tenant, hash, prefix, created, expires, "
                           "rpm, tpm, concurrency, budget_usd, budget_period, models) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, k->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, k->prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, k->created);
    sqlite3_bind_int64(st, 7, k->expires);
    sqlite3_bind_int64(st, 8, k->rpm);
    sqlite3_bind_int64(st, 9, k->tpm);
    sqlite3_bind_int64(st, 10, k->concurrency);
    sqlite3_bind_double(st, 11, k->budget_usd);
    sqlite3_bind_int(st, 12, k->budget_period);
    sqlite3_bind_text(st, 13, k->models, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE &&
            strstr(sqlite3_errmsg(db), "keys.name")) {
            rc = ccp_error_set(err, CCP_EINVAL,
                               "a key named '%s' exists already: choose another --name (or "
                               "rotate that one: ccproxy keys rotate %s)",
                               k->name, k->name);
            goto out;
        }
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    ccp_buf b = CCP_BUF_INIT;
    key_json(k, "create", &b);
    rc = ccp_audit_append_in_tx(db, ccp_audit_now_ms(), "key.create", b.data, err);
    ccp_buf_free(&b);
    if (rc) goto out;
    return ccp_keystore_exec(db, "COMMIT", err);
fail:
    rc = ccp_error_set(err, CCP_EIO, "state file: %s", sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    memset(secret, 0, CCP_KEY_SECRET_MAX);
    return rc;
}

int ccp_keystore_list(sqlite3 *db, ccp_keyrec **out, size_t *n, ccp_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT " KEY_COLS " FROM keys ORDER BY rowid", -1, &st, NULL) !=
        SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "state file: %s", sqlite3_errmsg(db));
    size_t cap = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = ccp_xrealloc(*out, cap * sizeof **out);
        }
        read_row(st, &(*out)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++)
            ccp_keyrec_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return ccp_error_set(err, CCP_EIO, "state file: %s", sqlite3_errmsg(db));
    }
    return 0;
}

int ccp_keystore_find(sqlite3 *db, const char *which, ccp_keyrec *out, ccp_error *err)
{
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(db, "SELECT " KEY_COLS " FROM keys WHERE id = ?1 OR name = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "state file: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, which, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) read_row(st, out);
    sqlite3_finalize(st);
    if (s == SQLITE_ROW) return 0;
    if (s == SQLITE_DONE)
        return ccp_error_set(err, CCP_ENOTFOUND,
                             "no key has the id or name '%s' (ccproxy keys list shows them)",
                             which);
    return ccp_error_set(err, CCP_EIO, "state file: %s", sqlite3_errmsg(db));
}

/* Runs an update of the key named which inside a transaction with its
 * audit row. sql binds ?1 = id and, when set, ?2 = new_hash, ?3 = prefix. */
static int update_key(sqlite3 *db, const char *which, const char *sql, const char *action,
                      const char *new_hash, const char *prefix, ccp_error *err)
{
    int rc;
    if ((rc = ccp_keystore_exec(db, "BEGIN IMMEDIATE", err))) return rc;
    ccp_keyrec k;
    if ((rc = ccp_keystore_find(db, which, &k, err))) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) goto fail;
    sqlite3_bind_text(st, 1, k.id, -1, SQLITE_STATIC);
    if (new_hash) {
        sqlite3_bind_text(st, 2, new_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(st) != SQLITE_DONE) goto fail;
    sqlite3_finalize(st);
    ccp_buf b = CCP_BUF_INIT;
    key_json(&k, action, &b);
    char kind[32];
    snprintf(kind, sizeof kind, "key.%s", action);
    rc = ccp_audit_append_in_tx(db, ccp_audit_now_ms(), kind, b.data, err);
    ccp_buf_free(&b);
    ccp_keyrec_free(&k);
    if (rc) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return ccp_keystore_exec(db, "COMMIT", err);
fail:
    rc = ccp_error_set(err, CCP_EIO, "state file: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    ccp_keyrec_free(&k);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int ccp_keystore_revoke(sqlite3 *db, const char *which, ccp_error *err)
{
    return update_key(db, which, "UPDATE keys SET revoked = 1 WHERE id = ?1", "revoke", NULL, NULL,
                      err);
}

int ccp_keystore_rotate(sqlite3 *db, const char *which, char secret[CCP_KEY_SECRET_MAX],
                        ccp_error *err)
{
    int rc = new_secret(secret, err);
    if (rc) return rc;
    char hash[65], prefix[12];
    ccp_key_hash(secret, strlen(secret), hash);
    snprintf(prefix, sizeof prefix, "%.8s", secret);
    rc = update_key(db, which, "UPDATE keys SET hash = ?2, prefix = ?3 WHERE id = ?1", "rotate",
                    hash, prefix, err);
    if (rc) memset(secret, 0, CCP_KEY_SECRET_MAX);
    return rc;
}

int ccp_keystore_touch(sqlite3 *db, const char *id, int64_t when)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE keys SET last_used = ?2 WHERE id = ?1 AND last_used < ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return CCP_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, when);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : CCP_EIO;
}

int ccp_parse_budget(const char *s, double *usd, int *period)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v > 0) || v > 1e9) return CCP_EINVAL;
    if (!strncasecmp(end, "usd", 3))
        end += 3;
    else if (*end == '$')
        end++;
    if (!strcmp(end, "/day") || !strcmp(end, "/d"))
        *period = CCP_PERIOD_DAY;
    else if (!strcmp(end, "/month") || !strcmp(end, "/mo"))
        *period = CCP_PERIOD_MONTH;
    else
        return CCP_EINVAL;
    *usd = v;
    return 0;
}

int ccp_parse_duration(const char *s, int64_t *seconds)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0 || v > 100LL * 365 * 24 * 3600) return CCP_EINVAL;
    long long mult;
    if (!strcmp(end, "d"))
        mult = 86400;
    else if (!strcmp(end, "h"))
        mult = 3600;
    else if (!strcmp(end, "m"))
        mult = 60;
    else if (!strcmp(end, "s"))
        mult = 1;
    else
        return CCP_EINVAL;
    *seconds = v * mult;
    return 0;
}

const char *ccp_period_name(int period)
{
    return period == CCP_PERIOD_DAY ? "day" : period == CCP_PERIOD_MONTH ? "month" : "none";
}
