/* keystore.h — proxy keys in the SQLite state file.
 *
 * A proxy key is random (`ccp-` and 32 bytes from getrandom in base64url),
 * shown once when made and stored only as its SHA-256. A plain hash, not a
 * slow password hash, is right here: a key has 256 bits of entropy, so no
 * dictionary or brute force can invert its hash, and the proxy checks a key
 * on every request, where bcrypt/argon2 would cost milliseconds.
 *
 * The `keys`, `usage` and `audit` commands and the running proxy open the
 * same file (WAL mode, so readers never wait for the writer). Every call
 * here is blocking and is never made on a worker loop: the proxy reads keys
 * at start and from its state thread (teams/guard.c). */
#ifndef CCP_TEAMS_KEYSTORE_H
#define CCP_TEAMS_KEYSTORE_H

#include "core/error.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The period a budget runs over. */
typedef enum { CCP_PERIOD_NONE = 0, CCP_PERIOD_DAY, CCP_PERIOD_MONTH } ccp_period;

#define CCP_KEY_SECRET_MAX 64 /* "ccp-" + 43 base64url characters + NUL fits */

/* One proxy key as stored (no secret: only its hash). Limits of 0 mean
 * none. Strings are owned (ccp_keyrec_free). */
typedef struct ccp_keyrec {
    char id[24];       /* "key_" and 16 hex digits: stable across rotation */
    char *name;        /* unique among keys */
    char *tenant;      /* NULL: none */
    char hash[65];     /* hex SHA-256 of the secret */
    char prefix[12];   /* the secret's first characters, to tell keys apart */
    int64_t created;   /* Unix seconds */
    int64_t expires;   /* Unix seconds; 0: never */
    int64_t last_used; /* Unix seconds; 0: never */
    bool revoked;
    int64_t rpm, tpm, concurrency;
    double budget_usd; /* 0: no budget */
    int budget_period; /* a ccp_period */
    char *models;      /* comma-separated globs of allowed models; NULL: any */
} ccp_keyrec;

void ccp_keyrec_free(ccp_keyrec *k);

/* The state file's path: state_path when set, else
 * $XDG_STATE_HOME/ccproxy/state.db, else ~/.local/state/ccproxy/state.db.
 * malloc'd; NULL when no HOME either. */
char *ccp_keystore_path(const char *state_path);

/* Opens (creating the directory, mode 0700, the file and its tables) the
 * state file. *out is the caller's (sqlite3_close). */
int ccp_keystore_open(const char *path, sqlite3 **out, ccp_error *err);

/* Hex SHA-256 of a secret. */
void ccp_key_hash(const char *secret, size_t len, char hex[65]);

/* Makes a key from k's name, tenant, limits, models and expiry: fills its
 * id, hash, prefix and created, writes it, and returns its secret in
 * secret (the only time it exists). An admin action: audited. */
int ccp_keystore_create(sqlite3 *db, ccp_keyrec *k, char secret[CCP_KEY_SECRET_MAX],
                        ccp_error *err);

/* A new secret for k (returned in secret) and its hash and prefix; with
 * new_key also a new id and created time. Nothing is written. */
int ccp_keystore_mint(ccp_keyrec *k, bool new_key, char secret[CCP_KEY_SECRET_MAX], ccp_error *err);

/* Whether s (NULL: yes) holds no control character: what a key's name,
 * tenant and models may hold (they are printed as they are). */
bool ccp_key_text_ok(const char *s);

/* Makes the keys table the n records of recs (Redis's, redis_keys.h), in
 * one transaction: each is written (its last_used kept), every other key
 * is revoked; one that holds a listed key's name is renamed "NAME~ID". */
int ccp_keystore_mirror(sqlite3 *db, const ccp_keyrec *recs, size_t n, ccp_error *err);

/* Appends the audit row of an admin action ("create", "revoke",
 * "rotate") on k, as ccp_keystore_create and the others do. */
int ccp_keystore_audit_key(sqlite3 *db, const ccp_keyrec *k, const char *action, ccp_error *err);

/* Every key, oldest first; *out is the caller's (ccp_keyrec_free each, then
 * free). */
int ccp_keystore_list(sqlite3 *db, ccp_keyrec **out, size_t *n, ccp_error *err);

/* The key whose id or name is which; CCP_ENOTFOUND when none. */
int ccp_keystore_find(sqlite3 *db, const char *which, ccp_keyrec *out, ccp_error *err);

/* Revokes the key (id or name). Audited. */
int ccp_keystore_revoke(sqlite3 *db, const char *which, ccp_error *err);

/* Gives the key (id or name) a new secret, keeping its id, limits and
 * usage; the old secret stops working. Audited. */
int ccp_keystore_rotate(sqlite3 *db, const char *which, char secret[CCP_KEY_SECRET_MAX],
                        ccp_error *err);

/* Sets last_used of the key with this id (the state thread's batch). */
int ccp_keystore_touch(sqlite3 *db, const char *id, int64_t when);

/* Runs sql (no result rows); CCP_EIO with the message on failure. */
int ccp_keystore_exec(sqlite3 *db, const char *sql, ccp_error *err);

/* "50usd/month" → 50.0, CCP_PERIOD_MONTH; "30d", "12h", "90m" → seconds. */
int ccp_parse_budget(const char *s, double *usd, int *period);
int ccp_parse_duration(const char *s, int64_t *seconds);
const char *ccp_period_name(int period);

#endif
