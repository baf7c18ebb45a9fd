/* capture_writer.c — the capture's writer thread: finished exchanges in,
 * one file each out, the oldest deleted beyond debug.capture.max_files.
 *
 * Workers only take a mutex long enough to link an exchange into the
 * queue; formatting, redaction and the disk are this thread's. The queue
 * is bounded in bytes (QUEUE_MAX): when the disk cannot keep up, further
 * exchanges are dropped and counted rather than held in memory. */
#include "debug/capture_internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Bytes of exchanges waiting for the writer, at most. */
#define QUEUE_MAX (64u * 1024 * 1024)

struct ccp_capture {
    ccp_capture_config cfg; /* dir owned (a copy) */
    uv_thread_t thread;
    uv_mutex_t mu;
    uv_cond_t cond;
    ccp_capture_ex *head, *tail; /* the queue, under mu */
    size_t queued_bytes;         /* under mu */
    bool stop;                   /* under mu */
    /* The files in dir, oldest first (names, owned); the writer's only. */
    char **files;
    size_t n_files, cap_files;
    _Atomic uint64_t written, dropped;
};

const ccp_capture_config *ccp_capture_cfg(const ccp_capture *cap)
{
    return &cap->cfg;
}

void ccp_capture_counts(const ccp_capture *cap, uint64_t *written, uint64_t *dropped)
{
    *written = cap ? atomic_load(&cap->written) : 0;
    *dropped = cap ? atomic_load(&cap->dropped) : 0;
}

void ccp_capture_submit(ccp_capture *cap, ccp_capture_ex *x)
{
    size_t sz = x->frames.len;
    uv_mutex_lock(&cap->mu);
    bool room = !cap->stop && cap->queued_bytes + sz <= QUEUE_MAX;
    if (room) {
        x->next = NULL;
        if (cap->tail)
            cap->tail->next = x;
        else
            cap->head = x;
        cap->tail = x;
        cap->queued_bytes += sz;
        uv_cond_signal(&cap->cond);
    }
    uv_mutex_unlock(&cap->mu);
    if (!room) {
        atomic_fetch_add(&cap->dropped, 1);
        ccp_capture_ex_free(x);
    }
}

static void add_file(ccp_capture *cap, const char *name)
{
    if (cap->n_files == cap->cap_files) {
        cap->cap_files = cap->cap_files ? cap->cap_files * 2 : 64;
        cap->files = ccp_xrealloc(cap->files, cap->cap_files * sizeof *cap->files);
    }
    cap->files[cap->n_files++] = ccp_xstrdup(name);
}

/* Deletes the oldest files while more than max_files are kept. */
static void rotate(ccp_capture *cap)
{
    size_t excess =
        cap->n_files > (size_t)cap->cfg.max_files ? cap->n_files - (size_t)cap->cfg.max_files : 0;
    if (!excess) return;
    ccp_buf path = CCP_BUF_INIT;
    for (size_t i = 0; i < excess; i++) {
        ccp_buf_reset(&path);
        ccp_buf_printf(&path, "%s/%s", cap->cfg.dir, cap->files[i]);
        if (unlink(path.data) != 0 && errno != ENOENT)
            ccp_log_warn("capture: cannot delete %s: %s", path.data, strerror(errno));
        free(cap->files[i]);
    }
    memmove(cap->files, cap->files + excess, (cap->n_files - excess) * sizeof *cap->files);
    cap->n_files -= excess;
    ccp_buf_free(&path);
}

/* <UTC time>-<request id>.jsonl: names sort in the order of the requests. */
static void file_name(const ccp_capture_ex *x, char *out, size_t n)
{
    time_t secs = (time_t)(x->wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y%m%dT%H%M%S", &tm);
    snprintf(out, n, "%s.%03dZ-%s.jsonl", when, (int)(x->wall_ms % 1000), x->id);
}

static void write_one(ccp_capture *cap, ccp_capture_ex *x)
{
    ccp_buf text = CCP_BUF_INIT, path = CCP_BUF_INIT;
    ccp_capture_format(x, &text);
    char name[96];
    file_name(x, name, sizeof name);
    ccp_buf_printf(&path, "%s/%s", cap->cfg.dir, name);
    /* Written under a temporary name and renamed: a reader (ccproxy
     * replay, the dashboard) never sees half a file. 0600: an exchange is
     * the user's conversation. */
    ccp_buf tmp = CCP_BUF_INIT;
    ccp_buf_printf(&tmp, "%s/.%s.tmp", cap->cfg.dir, name);
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    size_t off = 0;
    while (ok && off < text.len) {
        ssize_t n = write(fd, text.data + off, text.len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            ok = false;
        else
            off += (size_t)n;
    }
    if (fd >= 0 && close(fd) != 0) ok = false;
    if (ok && rename(tmp.data, path.data) != 0) ok = false;
    if (ok) {
        add_file(cap, name);
        rotate(cap);
        atomic_fetch_add(&cap->written, 1);
    } else {
        ccp_log_warn("capture: cannot write %s: %s", path.data, strerror(errno));
        unlink(tmp.data);
        atomic_fetch_add(&cap->dropped, 1);
    }
    ccp_buf_free(&tmp);
    ccp_buf_free(&text);
    ccp_buf_free(&path);
}

static void writer_main(void *arg)
{
    ccp_capture *cap = arg;
    uv_mutex_lock(&cap->mu);
    for (;;) {
        while (!cap->head && !cap->stop)
            uv_cond_wait(&cap->cond, &cap->mu);
        ccp_capture_ex *x = cap->head;
        if (!x) break; /* stopping, and nothing left */
        cap->head = x->next;
        if (!cap->head) cap->tail = NULL;
        cap->queued_bytes -= x->frames.len;
        uv_mutex_unlock(&cap->mu);
        write_one(cap, x);
        ccp_capture_ex_free(x);
        uv_mutex_lock(&cap->mu);
    }
    uv_mutex_unlock(&cap->mu);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The capture files already in dir (from an earlier run), oldest first:
 * they count against max_files. */
static void scan_dir(ccp_capture *cap)
{
    DIR *d = opendir(cap->cfg.dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 7 || strcmp(e->d_name + n - 6, ".jsonl") != 0) continue;
        add_file(cap, e->d_name);
    }
    closedir(d);
    if (cap->n_files) qsort(cap->files, cap->n_files, sizeof *cap->files, by_name);
}

ccp_capture *ccp_capture_new(const ccp_capture_config *cfg, ccp_error *err)
{
    if (!cfg->dir) {
        ccp_error_set(err, CCP_EINVAL, "debug.capture.dir is not set");
        return NULL;
    }
    if (mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) {
        ccp_error_set(err, CCP_EIO, "cannot create the capture directory %s: %s", cfg->dir,
                      strerror(errno));
        return NULL;
    }
    if (access(cfg->dir, W_OK | X_OK) != 0) {
        ccp_error_set(err, CCP_EIO, "cannot write to the capture directory %s: %s", cfg->dir,
                      strerror(errno));
        return NULL;
    }
    ccp_capture *cap = ccp_xcalloc(1, sizeof *cap);
    cap->cfg = *cfg;
    cap->cfg.dir = ccp_xstrdup(cfg->dir);
    uv_mutex_init(&cap->mu);
    uv_cond_init(&cap->cond);
    scan_dir(cap);
    rotate(cap);
    if (uv_thread_create(&cap->thread, writer_main, cap) != 0) {
        ccp_error_set(err, CCP_EIO, "cannot start the capture writer thread");
        uv_cond_destroy(&cap->cond);
        uv_mutex_destroy(&cap->mu);
        for (size_t i = 0; i < cap->n_files; i++)
            free(cap->files[i]);
        free(cap->files);
        free(cap->cfg.dir);
        free(cap);
        return NULL;
    }
    return cap;
}

void ccp_capture_free(ccp_capture *cap)
{
    if (!cap) return;
    uv_mutex_lock(&cap->mu);
    cap->stop = true;
    uv_cond_signal(&cap->cond);
    uv_mutex_unlock(&cap->mu);
    uv_thread_join(&cap->thread);
    uv_cond_destroy(&cap->cond);
    uv_mutex_destroy(&cap->mu);
    for (size_t i = 0; i < cap->n_files; i++)
        free(cap->files[i]);
    free(cap->files);
    free(cap->cfg.dir);
    free(cap);
}
