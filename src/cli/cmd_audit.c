/* cmd_audit.c — `ccproxy audit verify|export|archive`: checks the audit
 * record's hash chain (teams/audit.h, or the Redis stream of
 * teams/redis_audit.h when the config has state.redis), writes it out as
 * JSON lines, and moves its oldest entries to a file (audit_archive.h). */
#include "cli/cli.h"

#include "core/buf.h"
#include "teams/audit.h"
#include "teams/audit_archive.h"
#include "teams/redis_audit.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy audit verify [--archive FILE]... [--state FILE] [-c CONFIG]\n"
          "       ccproxy audit export [--since SEQ] [--state FILE] [-c CONFIG]\n"
          "       ccproxy audit archive --before AGE|DATE --out FILE [--state FILE] [-c CONFIG]\n"
          "\n"
          "verify  walks the hash chain of the audit record: exits 0 when every row is\n"
          "        intact, 1 naming the first row edited, deleted or replaced. After an\n"
          "        archive it starts from the archive anchor; --archive FILE (repeatable,\n"
          "        oldest first) walks the archive files first and on into the record,\n"
          "        proving the whole history from entry 1\n"
          "export  writes the rows (after SEQ) as JSON lines: seq, time_ms, kind, data, hash\n"
          "archive writes the rows older than AGE (30d, 12h) or DATE (2026-11-01, UTC;\n"
          "        or 2026-11-01T12:00:00Z) to FILE as export does (FILE must not exist;\n"
          "        synced to disk first), then removes them from the record and keeps\n"
          "        the last one's seq and hash as the anchor the record now starts from\n"
          "\n"
          "When the config has state.redis, all three work on the audit stream every\n"
          "instance appends to (ccp:audit; export adds each entry's stream_id; the anchor\n"
          "is ccp:audit:anchor); else on the state file (the anchor is its table\n"
          "audit_anchor, and the newest row always stays). Running proxies may keep\n"
          "appending while an archive runs. A daily cron line, for instance:\n"
          "  15 3 * * * ccproxy audit archive --before 30d --out /var/lib/ccproxy/audit-$(date -u "
          "+\\%F).jsonl\n",
          out);
}

/* What the subcommand was given. */
typedef struct audit_args {
    const char *sub;
    long long since;
    const char *before, *out;
    int64_t cutoff_ms;
    const char **archives; /* --archive files, oldest first; owned here */
    int n_archives;
} audit_args;

/* Creates path for the archive, refusing one that exists (an earlier
 * archive must never be overwritten). NULL with the reason on stderr. */
static FILE *create_archive(const char *path, int *fd)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (*fd < 0) {
        if (errno == EEXIST)
            fprintf(stderr,
                    "ccproxy audit archive: %s exists; an archive is never overwritten: name a "
                    "new file\n",
                    path);
        else
            fprintf(stderr, "ccproxy audit archive: cannot create %s: %s\n", path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(*fd, "w");
    if (!f) {
        close(*fd);
        unlink(path);
    }
    return f;
}

/* Flushes and syncs the archive and its directory entry, so that the
 * entries are on disk before they leave the record; closes f. */
static int sync_archive(FILE *f, int fd, const char *path)
{
    int rc = fflush(f) != 0 || fsync(fd) != 0 ? -1 : 0;
    if (fclose(f) != 0) rc = -1;
    char *dup = strdup(path); /* dirname may write into it; freed below */
    int dfd = dup ? open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        if (fsync(dfd) != 0) rc = -1;
        close(dfd);
    }
    free(dup);
    if (rc)
        fprintf(stderr, "ccproxy audit archive: writing %s failed: %s\n", path, strerror(errno));
    return rc;
}

/* The cutoff as a UTC time, for messages. */
static void cutoff_text(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* `archive` on the stream every instance appends to (c), or on the
 * state file (db). */
static int archive(redisContext *c, sqlite3 *db, const audit_args *a)
{
    const char *what = c ? "audit stream" : "audit record";
    int fd;
    FILE *f = create_archive(a->out, &fd);
    if (!f) return 1;
    ccp_error err = {0};
    ccp_audit_cut cut;
    char when[32];
    cutoff_text(a->cutoff_ms, when);
    int rc = c ? ccp_redis_audit_archive_write(c, a->cutoff_ms, f, &cut, &err)
               : ccp_audit_archive_write_db(db, a->cutoff_ms, f, &cut, &err);
    if (rc || !cut.count) {
        fclose(f);
        unlink(a->out);
        if (rc) {
            fprintf(stderr, "ccproxy audit archive: %s; nothing was archived\n", err.msg);
            return 1;
        }
        printf("nothing to archive: the %s has no entry before %s%s\n", what, when,
               c ? "" : " (its newest row always stays)");
        return 0;
    }
    if (sync_archive(f, fd, a->out)) {
        unlink(a->out);
        return 1;
    }
    int64_t removed = 0;
    rc = c ? ccp_redis_audit_trim(c, &cut, &removed, &err)
           : ccp_audit_archive_trim_db(db, &cut, &removed, &err);
    if (rc == CCP_ECANCELED) {
        unlink(a->out);
        fprintf(stderr, "ccproxy audit archive: %s; run it again\n", err.msg);
        return 1;
    }
    if (rc && db) {
        /* The transaction rolled back: the rows are all still there. */
        unlink(a->out);
        fprintf(stderr, "ccproxy audit archive: %s; nothing was removed\n", err.msg);
        return 1;
    }
    if (rc) {
        /* The reply is lost: the script may or may not have run. The file
         * is kept, and verify --archive tells which. */
        fprintf(stderr,
                "ccproxy audit archive: %s; %s is written but whether its entries left the "
                "%s is unknown: `ccproxy audit verify --archive %s` passes if they did\n",
                err.msg, a->out, what, a->out);
        return 1;
    }
    printf("archived audit entries %lld to %lld (%lld entries before %s) to %s; the %s now "
           "starts after entry %lld\n",
           (long long)cut.first_seq, (long long)cut.last_seq, (long long)cut.count, when, a->out,
           what, (long long)cut.last_seq);
    if (removed != cut.count)
        fprintf(stderr, "ccproxy audit archive: warning: %lld entries removed, %lld archived\n",
                (long long)removed, (long long)cut.count);
    return 0;
}

/* Prints how a verify from the store's anchor ended: store is "audit
 * stream" or "audit record", unit and units its rows' names. */
static int report_verify(int rc, const char *store, const char *unit, const char *units,
                         int64_t from, int64_t rows, const ccp_error *err)
{
    if (rc == 0 && from > 1)
        printf("%s intact: from %s %lld; %s before it archived; %lld %s, hash chain verified\n",
               store, unit, (long long)from, units, (long long)rows, units);
    else if (rc == 0)
        printf("%s intact: %lld %s, hash chain verified\n", store, (long long)rows, units);
    else
        fprintf(stderr, "ccproxy audit verify: %s (%lld %s before it verified)\n", err->msg,
                (long long)rows, units);
    return rc ? 1 : 0;
}

/* Prints how a verify through the archive files ended: last is the last
 * entry verified, archived of them from the files, in_store from place. */
static void report_archives(int rc, const audit_args *a, int64_t last, int64_t archived,
                            const char *place, int64_t in_store, int64_t verified,
                            const ccp_error *err)
{
    if (rc == 0)
        printf("audit record intact: entries 1 to %lld, hash chain verified (%lld from %d archive "
               "file%s, %lld in the %s)\n",
               (long long)last, (long long)archived, a->n_archives, a->n_archives == 1 ? "" : "s",
               (long long)in_store, place);
    else
        fprintf(stderr, "ccproxy audit verify: %s (%lld entries before it verified)\n", err->msg,
                (long long)verified);
}

/* `verify` on the stream: from its anchor, or through the archives. */
static int verify_redis(redisContext *c, const audit_args *a)
{
    ccp_error err = {0};
    int rc;
    if (!a->n_archives) {
        int64_t rows = 0, from = 1;
        rc = ccp_redis_audit_verify_from(c, &rows, &from, &err);
        return report_verify(rc, "audit stream", "entry", "entries", from, rows, &err);
    }
    ccp_audit_walk w;
    ccp_audit_walk_init(&w);
    rc = 0;
    for (int i = 0; !rc && i < a->n_archives; i++)
        rc = ccp_audit_archive_file(&w, a->archives[i], &err);
    int64_t archived = w.rows;
    if (!rc) rc = ccp_redis_audit_verify_after(c, &w, &err);
    report_archives(rc, a, w.want - 1, archived, "stream", w.rows - archived, w.rows, &err);
    return rc ? 1 : 0;
}

/* verify, export or archive on the stream every instance appends to
 * (teams/redis_audit.h). Frees c. */
static int from_redis(redisContext *c, const audit_args *a)
{
    int rc;
    if (!strcmp(a->sub, "verify")) {
        rc = verify_redis(c, a);
    } else if (!strcmp(a->sub, "archive")) {
        rc = archive(c, NULL, a);
    } else {
        ccp_error err = {0};
        ccp_buf b = CCP_BUF_INIT;
        rc = ccp_redis_audit_export(c, a->since, &b, &err) ? 1 : 0;
        if (rc == 0 && b.len) fwrite(b.data, 1, b.len, stdout);
        if (rc) fprintf(stderr, "ccproxy audit export: %s\n", err.msg);
        ccp_buf_free(&b);
    }
    redisFree(c);
    return rc;
}

/* verify, export or archive on the state file's audit table. Closes db. */
static int from_state(sqlite3 *db, const audit_args *a)
{
    ccp_error err = {0};
    int rc;
    if (!strcmp(a->sub, "archive")) {
        rc = archive(NULL, db, a);
    } else if (!strcmp(a->sub, "verify") && a->n_archives) {
        ccp_audit_walk w;
        ccp_audit_walk_init(&w);
        int64_t rows = 0;
        rc = 0;
        for (int i = 0; !rc && i < a->n_archives; i++)
            rc = ccp_audit_archive_file(&w, a->archives[i], &err);
        if (!rc) rc = ccp_audit_archive_verify_db(db, &w, &rows, &err);
        report_archives(rc, a, w.want - 1 + rows, w.rows, "state file", rows, w.rows + rows, &err);
    } else if (!strcmp(a->sub, "verify")) {
        int64_t rows = 0, from = 1;
        rc = ccp_audit_verify_from(db, &rows, &from, &err);
        report_verify(rc, "audit record", "row", "rows", from, rows, &err);
    } else {
        ccp_buf b = CCP_BUF_INIT;
        rc = ccp_audit_export(db, a->since, &b, &err);
        if (rc == 0 && b.len) fwrite(b.data, 1, b.len, stdout);
        if (rc) fprintf(stderr, "ccproxy audit export: %s\n", err.msg);
        ccp_buf_free(&b);
    }
    sqlite3_close(db);
    return rc ? 1 : 0;
}

int ccp_cmd_audit(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
        {"since", required_argument, NULL, 'S'}, {"before", required_argument, NULL, 'b'},
        {"out", required_argument, NULL, 'o'},   {"archive", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    audit_args a = {.sub = argv[1]};
    const char *state = NULL, *config = NULL;
    int ch, rc = 2;
    /* Every --archive is one of argv's strings: at most argc of them. */
    a.archives = calloc((size_t)argc, sizeof *a.archives); /* freed at done */
    if (!a.archives) return 1;
    optind = 1;
    while ((ch = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            state = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'S': {
            char *end;
            a.since = strtoll(optarg, &end, 10);
            if (!*optarg || *end || a.since < 0) {
                fprintf(stderr, "ccproxy audit: --since must be a row number >= 0\n");
                goto done;
            }
            break;
        }
        case 'b':
            a.before = optarg;
            if (ccp_audit_cutoff_parse(optarg, ccp_audit_now_ms(), &a.cutoff_ms) != 0) {
                fprintf(stderr,
                        "ccproxy audit: --before must be an age (30d, 12h) or a UTC date "
                        "(2026-11-01, 2026-11-01T12:00:00Z), not '%s'\n",
                        optarg);
                goto done;
            }
            break;
        case 'o':
            a.out = optarg;
            break;
        case 'a':
            a.archives[a.n_archives++] = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto done;
        default:
            usage(stderr);
            goto done;
        }
    }
    if (strcmp(a.sub, "verify") && strcmp(a.sub, "export") && strcmp(a.sub, "archive")) {
        fprintf(stderr, "ccproxy audit: unknown subcommand '%s'\n\n", a.sub);
        usage(stderr);
        goto done;
    }
    if (!strcmp(a.sub, "archive") && (!a.before || !a.out)) {
        fprintf(stderr, "ccproxy audit archive: --before AGE|DATE and --out FILE are required\n");
        goto done;
    }
    if (a.n_archives && strcmp(a.sub, "verify")) {
        fprintf(stderr, "ccproxy audit: --archive is for verify\n");
        goto done;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "audit %s", a.sub);
    bool failed;
    redisContext *rc_redis = ccp_cli_state_redis(config, cmd, &failed);
    rc = 1;
    if (failed) goto done;
    if (rc_redis) {
        rc = from_redis(rc_redis, &a);
        goto done;
    }
    sqlite3 *db = ccp_cli_open_state(state, config, cmd);
    if (db) rc = from_state(db, &a);
done:
    free(a.archives);
    return rc;
}
