/* state.c — the pid, state and log files of a running ccproxy (state.h). */
#include "cli/state.h"

#include "config/config.h"
#include "core/buf.h"
#include "core/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t ccp_state_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* mkdir -p with mode 0700: the log may name providers and the state who
 * runs what; nobody else needs to read them. */
static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
    return 0;
}

/* FNV-1a, 64 bits: a short stable name for a path, not a security
 * boundary (the directory is the user's own). */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

int ccp_state_init(ccp_state *st, const char *explicit_config, bool quiet)
{
    memset(st, 0, sizeof *st);
    st->lock_fd = -1;
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    /* The XDG spec: a relative $XDG_STATE_HOME is to be ignored. */
    if (xdg && xdg[0] == '/')
        snprintf(st->dir, sizeof st->dir, "%s/ccproxy", xdg);
    else if (home && home[0])
        snprintf(st->dir, sizeof st->dir, "%s/.local/state/ccproxy", home);
    else {
        if (!quiet)
            fprintf(stderr,
                    "ccproxy: neither $XDG_STATE_HOME nor $HOME is set: cannot place the pid "
                    "and log files; set one\n");
        return -1;
    }
    if (mkdirs(st->dir) != 0) {
        if (!quiet) fprintf(stderr, "ccproxy: cannot create %s: %s\n", st->dir, strerror(errno));
        return -1;
    }
    char *found = ccp_config_find_path(explicit_config);
    const char *name = "default";
    char stem[96];
    if (found) {
        if (!realpath(found, st->config)) snprintf(st->config, sizeof st->config, "%s", found);
        free(found);
        /* The file's name first, for a person listing the directory. */
        const char *base = strrchr(st->config, '/');
        base = base ? base + 1 : st->config;
        char clean[40];
        size_t n = 0;
        for (const char *p = base; *p && *p != '.' && n + 1 < sizeof clean; p++)
            clean[n++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                        (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'
                                    ? *p
                                    : '_');
        clean[n] = '\0';
        snprintf(stem, sizeof stem, "%s-%016llx", n ? clean : "config",
                 (unsigned long long)fnv1a(st->config));
        name = stem;
    }
    snprintf(st->pid_path, sizeof st->pid_path, "%s/%s.pid", st->dir, name);
    snprintf(st->json_path, sizeof st->json_path, "%s/%s.json", st->dir, name);
    snprintf(st->log_path, sizeof st->log_path, "%s/%s.log", st->dir, name);
    return 0;
}

static void read_info(const ccp_state *st, ccp_state_info *info, long pid)
{
    memset(info, 0, sizeof *info);
    info->pid = pid;
    FILE *f = fopen(st->json_path, "r");
    if (!f) return;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ccp_error err = {0};
    json_object *o = ccp_json_parse(buf, n, &err);
    if (!o) return;
    if (ccp_json_get_int(o, "pid", 0) == pid) {
        const char *s;
        if ((s = ccp_json_get_str(o, "url"))) snprintf(info->url, sizeof info->url, "%s", s);
        if ((s = ccp_json_get_str(o, "admin_url")))
            snprintf(info->admin_url, sizeof info->admin_url, "%s", s);
        if ((s = ccp_json_get_str(o, "config")))
            snprintf(info->config, sizeof info->config, "%s", s);
        info->started_ms = (uint64_t)ccp_json_get_int(o, "started", 0);
    }
    json_object_put(o);
}

bool ccp_state_running(const ccp_state *st, ccp_state_info *info)
{
    int fd = open(st->pid_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    /* A lock we can take means nobody holds it: the file is stale. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        close(fd);
        return false;
    }
    char buf[32] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
    if (pid <= 0) return false;
    if (!info) return true;
    read_info(st, info, pid);
    return info->url[0] != '\0';
}

bool ccp_state_claim(ccp_state *st)
{
    int fd = open(st->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return false;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        close(fd);
        return false;
    }
    st->lock_fd = fd;
    return true;
}

/* A URL a local client can use for a listener bound to host. */
static void client_url(ccp_buf *b, const char *host, int port)
{
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "localhost"))
        host = "127.0.0.1";
    else if (!strcmp(host, "::"))
        host = "::1";
    if (strchr(host, ':'))
        ccp_buf_printf(b, "http://[%s]:%d", host, port);
    else
        ccp_buf_printf(b, "http://%s:%d", host, port);
}

void ccp_state_publish(ccp_state *st, const char *host, int port, const char *admin_host,
                       int admin_port)
{
    if (st->lock_fd < 0) return;
    ccp_buf b = CCP_BUF_INIT, u = CCP_BUF_INIT;
    ccp_buf_printf(&b, "{\"pid\":%ld,\"url\":", (long)getpid());
    client_url(&u, host, port);
    ccp_buf_append_json_str(&b, u.data, u.len);
    ccp_buf_appends(&b, ",\"admin_url\":");
    ccp_buf_reset(&u);
    if (admin_host) client_url(&u, admin_host, admin_port);
    ccp_buf_append_json_str(&b, u.len ? u.data : "", u.len);
    ccp_buf_appends(&b, ",\"config\":");
    ccp_buf_append_json_str(&b, st->config, strlen(st->config));
    ccp_buf_appends(&b, ",\"log\":");
    ccp_buf_append_json_str(&b, st->log_path, strlen(st->log_path));
    ccp_buf_printf(&b, ",\"started\":%llu}\n", (unsigned long long)ccp_state_now_ms());
    ccp_buf_free(&u);
    /* Written whole then renamed, so a reader never sees half of it. */
    char tmp[PATH_MAX + 136];
    snprintf(tmp, sizeof tmp, "%s.tmp", st->json_path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        bool ok = fwrite(b.data, 1, b.len, f) == b.len;
        ok = fclose(f) == 0 && ok;
        if (ok) rename(tmp, st->json_path);
    }
    ccp_buf_free(&b);
}

void ccp_state_release(ccp_state *st)
{
    if (st->lock_fd < 0) return;
    unlink(st->json_path);
    unlink(st->pid_path);
    close(st->lock_fd); /* drops the lock */
    st->lock_fd = -1;
}
