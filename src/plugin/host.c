/* host.c — process isolation: plugin-host processes and the calls to them.
 *
 * Each plugin has a small pool of hosts (at most MAX_HOSTS), started on
 * demand from the ccproxy binary itself (`ccproxy plugin-host`, hidden)
 * with an empty environment, cwd /, stdin/stdout on /dev/null and one
 * socket (fd 3). The host sets PR_SET_NO_NEW_PRIVS and its rlimits,
 * closes every other descriptor, loads the seccomp allowlist, and only
 * then runs plugin code: the plugin's source, sent in the first message.
 *
 * A call is a framed JSON message {hook, arg, ctx} answered by {result}
 * or {cause, error}, with the log lines of the call. The parent waits for
 * the answer until the call's deadline (timeout_ms, plus a grace for the
 * host's own Lua-level stop to answer first) and kills the host then. A
 * host that died (killed, crashed, SIGSYS from seccomp, RLIMIT_CPU) is
 * replaced on a later call, after a backoff that doubles per death (0,
 * 100 ms, ... 10 s) and resets after a call that succeeds.
 *
 * Health: a host idle for a while is pinged ({"hook":"$ping"}, answered
 * {"pong":true}; health.c runs ccp_plugin_hosts_ping on a timer); one that
 * does not answer within the deadline is killed and a new one started.
 *
 * A call blocks its calling thread until the answer or the deadline (a
 * bounded poll). Request and outbound hooks are called from libuv's thread
 * pool (http/messages.c prepares such attempts off the loop), and so is a
 * route hook (the request is routed off the loop) and an event hook (the
 * server makes the link asynchronous: events.c). */
#include "plugin/host_internal.h"

#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "plugin/lua_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_HOSTS 4
#define GRACE_MS 100         /* the host's own stop answers within this after timeout_ms */
#define START_MS 5000        /* a host's start-up and load of the plugin */
#define BACKOFF_MAX_MS 10000 /* the longest wait before a host is started again */
#define HOST_FD 3

/* ---- framing ----------------------------------------------------------- */

int ccp_plugin_msg_send(int fd, json_object *v, uint64_t deadline_ms)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_append(&b, "\0\0\0\0", 4);
    ccp_json_write(&b, v);
    uint32_t n = (uint32_t)(b.len - 4);
    unsigned char *h = (unsigned char *)b.data;
    h[0] = (unsigned char)(n >> 24), h[1] = (unsigned char)(n >> 16);
    h[2] = (unsigned char)(n >> 8), h[3] = (unsigned char)n;
    size_t off = 0;
    int rc = 0;
    while (off < b.len) {
        if (deadline_ms) {
            /* A host that stopped reading cannot hold the caller past the
             * deadline. */
            uint64_t now = ccp_plugin_now_ms();
            struct pollfd pf = {fd, POLLOUT, 0};
            int r = now < deadline_ms ? poll(&pf, 1, (int)(deadline_ms - now)) : 0;
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                rc = r == 0 ? CCP_ETIMEOUT : -1;
                break;
            }
        }
        ssize_t w =
            send(fd, b.data + off, b.len - off, MSG_NOSIGNAL | (deadline_ms ? MSG_DONTWAIT : 0));
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) {
            rc = -1;
            break;
        }
        off += (size_t)w;
    }
    ccp_buf_free(&b);
    return rc;
}

/* Reads n bytes; *got says how many came before a failure. */
static int recv_all(int fd, uint64_t deadline_ms, char *p, size_t n, size_t *got_out)
{
    size_t off = 0;
    *got_out = 0;
    while (off < n) {
        if (deadline_ms) {
            uint64_t now = ccp_plugin_now_ms();
            if (now >= deadline_ms) return CCP_ETIMEOUT;
            struct pollfd pf = {fd, POLLIN, 0};
            int r = poll(&pf, 1, (int)(deadline_ms - now));
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) return CCP_ETIMEOUT;
            if (r < 0) return CCP_EIO;
        }
        ssize_t got = recv(fd, p + off, n - off, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) return CCP_EIO;
        off += (size_t)got;
        *got_out = off;
    }
    return 0;
}

/* ccp_plugin_msg_recv, and on failure why (a CCP_PLUGIN_HOST_EXIT_* status
 * that names it: the host ends with it). */
static int msg_recv(int fd, uint64_t deadline_ms, json_object **out, int *why)
{
    *out = NULL;
    unsigned char h[4];
    size_t got = 0;
    int rc = recv_all(fd, deadline_ms, (char *)h, 4, &got);
    if (rc) {
        *why =
            rc == CCP_EIO && got == 0 ? CCP_PLUGIN_HOST_EXIT_CLOSED : CCP_PLUGIN_HOST_EXIT_SOCKET;
        return rc;
    }
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (n > CCP_PLUGIN_MAX_MESSAGE) {
        *why = CCP_PLUGIN_HOST_EXIT_TOO_BIG;
        return CCP_EIO;
    }
    char *body = malloc(n ? n : 1);
    if (!body) {
        *why = CCP_PLUGIN_HOST_EXIT_NOMEM;
        return CCP_EIO;
    }
    rc = recv_all(fd, deadline_ms, body, n, &got);
    *why = CCP_PLUGIN_HOST_EXIT_SOCKET;
    if (rc == 0) {
        ccp_error err = {0};
        *out = ccp_json_parse(body, n, &err);
        if (!*out) {
            rc = CCP_EIO;
            *why =
                err.code == CCP_ENOMEM ? CCP_PLUGIN_HOST_EXIT_NOMEM : CCP_PLUGIN_HOST_EXIT_GARBAGE;
        }
    }
    free(body);
    return rc;
}

int ccp_plugin_msg_recv(int fd, uint64_t deadline_ms, json_object **out)
{
    int why;
    return msg_recv(fd, deadline_ms, out, &why);
}

const char *ccp_plugin_host_exit_meaning(int status)
{
    switch (status) {
    case CCP_PLUGIN_HOST_EXIT_CLOSED:
        return "the proxy closed its socket between messages (the orderly end)";
    case CCP_PLUGIN_HOST_EXIT_INIT:
        return "its first message (the plugin's source) could not be read";
    case CCP_PLUGIN_HOST_EXIT_SECCOMP:
        return "the seccomp filter could not be installed";
    case CCP_PLUGIN_HOST_EXIT_LOAD:
        return "the plugin did not load";
    case CCP_PLUGIN_HOST_EXIT_SOCKET:
        return "its socket failed or closed in the middle of a message";
    case CCP_PLUGIN_HOST_EXIT_TOO_BIG:
        return "a message longer than the framing allows";
    case CCP_PLUGIN_HOST_EXIT_NOMEM:
        return "out of memory reading a message (its address-space cap)";
    case CCP_PLUGIN_HOST_EXIT_GARBAGE:
        return "a message that is not JSON";
    case CCP_PLUGIN_HOST_EXIT_SEND:
        return "its answer could not be sent (the proxy's end closed)";
    case CCP_PLUGIN_HOST_EXIT_RELOAD:
        return "the plugin did not load again after a call hit a cap";
    }
    return "an exit status the plugin host does not use (a crash in a library?)";
}

/* ---- answers as patches -------------------------------------------------
 *
 * A hook that edits one field of a 150 KiB request returns a tree that is
 * the request's own but for that field (lua_conv.c shares what the hook
 * did not touch). The host answers with the difference: for a container,
 * {"set": {key: value}, "sub": {key: patch}, "del": [key]} (objects) or
 * {"len": n, "set": {"i": value}, "sub": {"i": patch}} (arrays); the
 * parent rebuilds the result from the argument it sent. */

static bool container(json_object *v)
{
    return json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array);
}

/* Do r's members that a also has come in a's order, and the new ones
 * after them? (What a patch can express.) */
static bool order_kept(json_object *a, json_object *r)
{
    struct lh_entry *ea = json_object_get_object(a)->head;
    bool seen_new = false;
    json_object_object_foreach(r, k, v)
    {
        (void)v;
        if (!json_object_object_get_ex(a, k, NULL)) {
            seen_new = true;
            continue;
        }
        if (seen_new) return false;
        while (ea && (strcmp((const char *)lh_entry_k(ea), k) != 0))
            ea = ea->next;
        if (!ea) return false;
        ea = ea->next;
    }
    return true;
}

/* The patch from a to r (both containers of one kind), or NULL when r is
 * better sent whole. */
static json_object *make_patch(json_object *a, json_object *r)
{
    bool obj = json_object_is_type(a, json_type_object);
    if (obj != json_object_is_type(r, json_type_object)) return NULL;
    if (obj && !order_kept(a, r)) return NULL;
    json_object *p = json_object_new_object(), *set = json_object_new_object(),
                *sub = json_object_new_object();
    if (obj) {
        json_object *del = json_object_new_array();
        json_object_object_foreach(r, k, rv)
        {
            json_object *av = NULL;
            bool had = json_object_object_get_ex(a, k, &av);
            if (had && av == rv) continue;
            json_object *sp = had && container(av) && container(rv) ? make_patch(av, rv) : NULL;
            if (sp)
                json_object_object_add(sub, k, sp);
            else
                json_object_object_add(set, k, json_object_get(rv));
        }
        json_object_object_foreach(a, ka, va)
        {
            (void)va;
            if (!json_object_object_get_ex(r, ka, NULL))
                json_object_array_add(del, json_object_new_string(ka));
        }
        json_object_object_add(p, "del", del);
    } else {
        size_t na = json_object_array_length(a), nr = json_object_array_length(r);
        json_object_object_add(p, "len", json_object_new_int64((int64_t)nr));
        for (size_t i = 0; i < nr; i++) {
            json_object *rv = json_object_array_get_idx(r, i);
            json_object *av = i < na ? json_object_array_get_idx(a, i) : NULL;
            if (i < na && av == rv) continue;
            char key[24];
            snprintf(key, sizeof key, "%zu", i);
            json_object *sp = container(av) && container(rv) ? make_patch(av, rv) : NULL;
            if (sp)
                json_object_object_add(sub, key, sp);
            else
                json_object_object_add(set, key, json_object_get(rv));
        }
    }
    json_object_object_add(p, "set", set);
    json_object_object_add(p, "sub", sub);
    return p;
}

/* a with patch p applied, as a new container sharing a's untouched
 * members; NULL when p does not fit a (a host that sends garbage). */
static json_object *apply_patch(json_object *a, json_object *p, int depth)
{
    json_object *set = ccp_json_get_obj(p, "set"), *sub = ccp_json_get_obj(p, "sub");
    if (!set || !sub || depth > CCP_JSON_MAX_DEPTH) return NULL;
    if (json_object_is_type(a, json_type_object)) {
        json_object *del = ccp_json_get_arr(p, "del");
        /* The names deleted, as a hash set: a host that deletes every key
         * of a client's huge object must not cost keys x deletions here. */
        json_object *gone = ccp_json_arr_len(del) ? json_object_new_object() : NULL;
        for (size_t i = 0; i < ccp_json_arr_len(del); i++) {
            const char *name = json_object_get_string(ccp_json_arr_at(del, i));
            if (name) json_object_object_add(gone, name, NULL);
        }
        json_object *o = json_object_new_object();
        json_object_object_foreach(a, k, v)
        {
            if (gone && json_object_object_get_ex(gone, k, NULL)) continue;
            json_object *sp = NULL, *sv = NULL;
            if (json_object_object_get_ex(sub, k, &sp)) {
                json_object *n = container(v) ? apply_patch(v, sp, depth + 1) : NULL;
                if (!n) {
                    json_object_put(o);
                    json_object_put(gone);
                    return NULL;
                }
                json_object_object_add(o, k, n);
            } else if (json_object_object_get_ex(set, k, &sv)) {
                json_object_object_add(o, k, json_object_get(sv));
            } else {
                json_object_object_add(o, k, json_object_get(v));
            }
        }
        json_object_object_foreach(set, ks, vs)
        {
            if (!json_object_object_get_ex(a, ks, NULL))
                json_object_object_add(o, ks, json_object_get(vs));
        }
        json_object_put(gone);
        return o;
    }
    if (!json_object_is_type(a, json_type_array)) return NULL;
    json_object *len = ccp_json_get(p, "len");
    int64_t n = json_object_is_type(len, json_type_int) ? json_object_get_int64(len) : -1;
    size_t na = json_object_array_length(a);
    if (n < 0 || n > (int64_t)na + (int64_t)json_object_object_length(set)) return NULL;
    json_object *arr = json_object_new_array_ext((int)n);
    for (int64_t i = 0; i < n; i++) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)i);
        json_object *sp = NULL, *sv = NULL,
                    *av = (size_t)i < na ? json_object_array_get_idx(a, (size_t)i) : NULL;
        json_object *e = NULL;
        if (json_object_object_get_ex(sub, key, &sp)) {
            e = container(av) ? apply_patch(av, sp, depth + 1) : NULL;
            if (!e) {
                json_object_put(arr);
                return NULL;
            }
        } else if (json_object_object_get_ex(set, key, &sv)) {
            e = json_object_get(sv);
        } else {
            e = json_object_get(av);
        }
        json_object_array_add(arr, e);
    }
    return arr;
}

/* ---- the parent's side ------------------------------------------------- */

typedef struct host {
    pid_t pid;
    int fd;
    uint64_t idle_since; /* when it was last put back idle (ccp_plugin_now_ms) */
} host;

struct ccp_plugin_hosts {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    host idle[MAX_HOSTS];
    size_t n_idle, n_live;
    pid_t pids[MAX_HOSTS]; /* of the live hosts, for their RSS in /metrics; 0: free slot */
    uint64_t backoff_ms, next_start_ms;
    bool started_once;
};

static ccp_plugin_hosts *hosts_of(ccp_plugin *p)
{
    pthread_mutex_lock(&p->mu);
    if (!p->hosts) {
        ccp_plugin_hosts *h = ccp_xcalloc(1, sizeof *h); /* freed by ccp_plugin_hosts_free */
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->cv, NULL);
        p->hosts = h;
    }
    pthread_mutex_unlock(&p->mu);
    return p->hosts;
}

/* What a reaped host's wait status says: the signal, or the exit status
 * with what it means (host_internal.h). killed: the proxy sent SIGKILL. */
static void describe_status(int status, bool killed, ccp_buf *msg)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        ccp_buf_printf(msg, "the plugin host was killed by signal %d (%s)", sig,
                       sig == SIGSYS    ? "SIGSYS: a system call outside the seccomp allowlist"
                       : sig == SIGXCPU ? "SIGXCPU: cpu_seconds spent"
                       : sig == SIGKILL ? (killed ? "SIGKILL, sent by the proxy"
                                                  : "SIGKILL, from the kernel (out of memory?) "
                                                    "or another process")
                       : sig == SIGSEGV ? "SIGSEGV: a crash, or out of address space"
                       : sig == SIGABRT ? "SIGABRT: an allocation that cannot fail failed (out of "
                                          "address space), or an assertion"
                                        : strsignal(sig));
    } else if (WIFEXITED(status)) {
        ccp_buf_printf(msg, "the plugin host exited with status %d (%s)", WEXITSTATUS(status),
                       ccp_plugin_host_exit_meaning(WEXITSTATUS(status)));
    } else {
        ccp_buf_appends(msg, "the plugin host died");
    }
}

/* Reaps a host whose socket is closed, and logs how it ended: at info when
 * the proxy killed it (a deadline, a health check, a reload), else as a
 * warning. The description is appended to msg when one is given. */
static void reap(const ccp_plugin *p, pid_t pid, bool killed, ccp_buf *msg)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    ccp_buf why = CCP_BUF_INIT;
    describe_status(status, killed, &why);
    if (killed)
        ccp_log_info("plugin '%s': plugin host (pid %d) reaped: %s", p->name, (int)pid, why.data);
    else
        ccp_log_warn("plugin '%s': plugin host (pid %d) ended: %s", p->name, (int)pid, why.data);
    if (msg) ccp_buf_append(msg, why.data, why.len);
    ccp_buf_free(&why);
}

/* The host is gone or is to go: kill it, reap it, count it, and make the
 * next start wait for the backoff. */
static void bury(ccp_plugin *p, ccp_plugin_hosts *hs, host *h, bool kill_it, ccp_buf *msg)
{
    if (kill_it) kill(h->pid, SIGKILL);
    close(h->fd);
    reap(p, h->pid, kill_it, kill_it ? NULL : msg);
    atomic_fetch_add(&p->kills, 1);
    pthread_mutex_lock(&hs->mu);
    for (size_t i = 0; i < MAX_HOSTS; i++)
        if (hs->pids[i] == h->pid) hs->pids[i] = 0;
    hs->n_live--;
    hs->next_start_ms = ccp_plugin_now_ms() + hs->backoff_ms;
    hs->backoff_ms = hs->backoff_ms ? hs->backoff_ms * 2 : 100;
    if (hs->backoff_ms > BACKOFF_MAX_MS) hs->backoff_ms = BACKOFF_MAX_MS;
    pthread_cond_signal(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
}

static json_object *limits_json(const ccp_plugin_limits *l)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "timeout_ms", json_object_new_int64(l->timeout_ms));
    json_object_object_add(o, "memory_mb", json_object_new_int64(l->memory_mb));
    json_object_object_add(o, "cpu_seconds", json_object_new_int64(l->cpu_seconds));
    json_object_object_add(o, "instructions", json_object_new_int64(l->instructions));
    return o;
}

/* A start that failed before a host existed: its n_live slot (taken by the
 * caller) is given back, or the pool would count a host that never ran
 * and, after MAX_HOSTS such failures (EMFILE under load), wait for ever. */
static void slot_back(ccp_plugin *p)
{
    ccp_plugin_hosts *hs = hosts_of(p);
    pthread_mutex_lock(&hs->mu);
    hs->n_live--;
    pthread_cond_signal(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
}

/* Starts a host and loads the plugin in it; 0, or -1 with msg. The caller
 * counted it in n_live; a failure takes it out again. */
static int start(ccp_plugin *p, host *h, ccp_buf *msg)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        ccp_buf_printf(msg, "cannot find the ccproxy binary: %s", strerror(errno));
        slot_back(p);
        return -1;
    }
    exe[n] = '\0';
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        ccp_buf_printf(msg, "socketpair: %s", strerror(errno));
        slot_back(p);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], HOST_FD);
    posix_spawn_file_actions_addchdir_np(&fa, "/");
    /* Test-only: lets plugins call ccp.test_syscall (see below). */
    const char *test = getenv("CCPROXY_PLUGIN_TEST_SYSCALLS");
    char *argv[] = {exe, "plugin-host", test && *test == '1' ? "--test-syscalls" : NULL, NULL};
    char *envp[] = {NULL};
    int rc = posix_spawn(&h->pid, exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        ccp_buf_printf(msg, "cannot start a plugin host: %s", strerror(rc));
        slot_back(p);
        return -1;
    }
    h->fd = sv[0];
    ccp_plugin_hosts *hs = hosts_of(p);
    pthread_mutex_lock(&hs->mu);
    for (size_t i = 0; i < MAX_HOSTS; i++)
        if (!hs->pids[i]) {
            hs->pids[i] = h->pid;
            break;
        }
    pthread_mutex_unlock(&hs->mu);
    json_object *init = json_object_new_object();
    ccp_buf chunk = CCP_BUF_INIT;
    ccp_buf_printf(&chunk, "@%s", p->path);
    json_object_object_add(init, "chunkname", json_object_new_string(chunk.data));
    ccp_buf_free(&chunk);
    json_object_object_add(init, "source", ccp_json_strn(p->source, p->source_len));
    json_object_object_add(init, "limits", limits_json(&p->limits));
    json_object *reply = NULL;
    uint64_t start_deadline = ccp_plugin_now_ms() + START_MS + (uint64_t)p->limits.timeout_ms;
    rc = ccp_plugin_msg_send(h->fd, init, start_deadline);
    json_object_put(init);
    if (rc == 0) rc = ccp_plugin_msg_recv(h->fd, start_deadline, &reply);
    const char *e = ccp_json_get_str(reply, "error");
    if (rc != 0 || e) {
        if (e) ccp_buf_appends(msg, e);
        bury(p, hosts_of(p), h, true, NULL);
        if (!e) ccp_buf_appends(msg, "the plugin host did not start");
        json_object_put(reply);
        return -1;
    }
    json_object_put(reply);
    return 0;
}

/* An idle host, or a new one; -1 with msg when none can be had before the
 * deadline (the pool is busy, or a dead host's backoff runs past it). */
static int acquire(ccp_plugin *p, ccp_plugin_hosts *hs, uint64_t deadline, host *h, ccp_buf *msg)
{
    pthread_mutex_lock(&hs->mu);
    for (;;) {
        if (hs->n_idle) {
            *h = hs->idle[--hs->n_idle];
            /* Health: an idle host has nothing to say; readable means it
             * died (closed) or misbehaves. It is replaced before a call
             * fails on it. */
            struct pollfd pf = {h->fd, POLLIN, 0};
            if (poll(&pf, 1, 0) == 0) {
                pthread_mutex_unlock(&hs->mu);
                return 0;
            }
            pthread_mutex_unlock(&hs->mu);
            bury(p, hs, h, true, NULL);
            ccp_log_warn("plugin '%s': an idle plugin host died or misbehaved; it is replaced",
                         p->name);
            pthread_mutex_lock(&hs->mu);
            continue;
        }
        uint64_t now = ccp_plugin_now_ms();
        uint64_t until = deadline; /* how long to wait below */
        if (hs->n_live < MAX_HOSTS && now < hs->next_start_ms) {
            /* A dead host's backoff runs. Failing at once would fail every
             * concurrent call in a burst (and open the plugin's breaker)
             * over one host's death: the call waits instead for a live
             * host of the pool to come back or for the backoff to end,
             * within its deadline. With no host live and a backoff that
             * outlasts the deadline, waiting cannot help: fail now. */
            if (now >= deadline || (hs->n_live == 0 && hs->next_start_ms > deadline)) {
                pthread_mutex_unlock(&hs->mu);
                ccp_buf_printf(msg, "the plugin host died and is started again in %llu ms",
                               (unsigned long long)(hs->next_start_ms - now));
                return -1;
            }
            if (hs->next_start_ms < until) until = hs->next_start_ms;
        } else if (hs->n_live < MAX_HOSTS) {
            hs->n_live++;
            bool restart = hs->started_once;
            hs->started_once = true;
            pthread_mutex_unlock(&hs->mu);
            if (restart) atomic_fetch_add(&p->restarts, 1);
            return start(p, h, msg);
        } else if (now >= deadline) {
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t wait = until - now;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&hs->cv, &hs->mu, &ts);
    }
    pthread_mutex_unlock(&hs->mu);
    ccp_buf_appends(msg, "every plugin host is busy");
    return -1;
}

static void release(ccp_plugin_hosts *hs, const host *h)
{
    pthread_mutex_lock(&hs->mu);
    hs->idle[hs->n_idle] = *h;
    hs->idle[hs->n_idle++].idle_since = ccp_plugin_now_ms();
    hs->backoff_ms = 0;
    pthread_cond_signal(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
}

static void log_lines(const ccp_plugin *p, json_object *logs)
{
    for (size_t i = 0; i < ccp_json_arr_len(logs); i++) {
        json_object *l = ccp_json_arr_at(logs, i);
        const char *lv = ccp_json_get_str(l, "level"), *m = ccp_json_get_str(l, "msg");
        if (!lv || !m) continue;
        ccp_buf b = CCP_BUF_INIT;
        ccp_buf_appends(&b, m);
        ccp_plugin_text_clean(&b);
        m = b.data ? b.data : "";
        if (!strcmp(lv, "error"))
            ccp_log_error("plugin %s: %s", p->name, m);
        else if (!strcmp(lv, "warn"))
            ccp_log_warn("plugin %s: %s", p->name, m);
        else if (!strcmp(lv, "debug"))
            ccp_log_debug("plugin %s: %s", p->name, m);
        else
            ccp_log_info("plugin %s: %s", p->name, m);
        ccp_buf_free(&b);
    }
}

static ccp_plugin_cause cause_of(const char *s)
{
    for (int c = CCP_PLUGIN_ERROR; c <= CCP_PLUGIN_OPEN; c++)
        if (s && !strcmp(s, ccp_plugin_cause_name((ccp_plugin_cause)c))) return (ccp_plugin_cause)c;
    return CCP_PLUGIN_ERROR;
}

ccp_plugin_cause ccp_plugin_host_call(ccp_plugin *p, const char *hook, json_object *arg,
                                      json_object *ctx, json_object **result, ccp_buf *msg)
{
    *result = NULL;
    ccp_plugin_hosts *hs = hosts_of(p);
    uint64_t deadline = ccp_plugin_now_ms() + (uint64_t)p->limits.timeout_ms;
    host h;
    if (acquire(p, hs, deadline, &h, msg) != 0) return CCP_PLUGIN_CRASH;
    json_object *m = json_object_new_object();
    json_object_object_add(m, "hook", json_object_new_string(hook));
    json_object_object_add(m, "arg", json_object_get(arg));
    json_object_object_add(m, "ctx", json_object_get(ctx));
    json_object *reply = NULL;
    int rc = ccp_plugin_msg_send(h.fd, m, deadline + GRACE_MS);
    json_object_put(m);
    if (rc == 0) rc = ccp_plugin_msg_recv(h.fd, deadline + GRACE_MS, &reply);
    if (rc == CCP_ETIMEOUT) {
        bury(p, hs, &h, true, NULL);
        ccp_buf_printf(msg, "no answer within timeout_ms (%lld ms): the plugin host was killed",
                       (long long)p->limits.timeout_ms);
        return CCP_PLUGIN_TIMEOUT;
    }
    if (rc != 0) {
        bury(p, hs, &h, false, msg);
        return CCP_PLUGIN_CRASH;
    }
    log_lines(p, ccp_json_get(reply, "logs"));
    ccp_plugin_cause c = CCP_PLUGIN_OK;
    json_object *cause = ccp_json_get(reply, "cause");
    if (cause) {
        c = cause_of(json_object_get_string(cause));
        const char *e = ccp_json_get_str(reply, "error");
        ccp_buf_appends(msg, e ? e : "");
    } else if (ccp_json_get(reply, "patch")) {
        *result = container(arg) ? apply_patch(arg, ccp_json_get(reply, "patch"), 0) : NULL;
        if (!*result) {
            c = CCP_PLUGIN_BAD_RETURN;
            ccp_buf_appends(msg, "the plugin host sent a patch that does not fit the request");
        }
    } else {
        *result = json_object_get(ccp_json_get(reply, "result"));
    }
    json_object_put(reply);
    release(hs, &h);
    return c;
}

/* Puts h back idle after a health check: as release, but a ping proves
 * nothing about the plugin's calls, so the backoff is left alone. */
static void put_back(ccp_plugin_hosts *hs, const host *h)
{
    pthread_mutex_lock(&hs->mu);
    hs->idle[hs->n_idle] = *h;
    hs->idle[hs->n_idle++].idle_since = ccp_plugin_now_ms();
    pthread_cond_signal(&hs->cv);
    pthread_mutex_unlock(&hs->mu);
}

/* Starts a host in place of one the health check killed, when the pool
 * has room and no backoff runs; a failure is left to the next call. */
static void replace(ccp_plugin *p, ccp_plugin_hosts *hs)
{
    pthread_mutex_lock(&hs->mu);
    if (hs->n_live >= MAX_HOSTS || ccp_plugin_now_ms() < hs->next_start_ms) {
        pthread_mutex_unlock(&hs->mu);
        return;
    }
    hs->n_live++;
    pthread_mutex_unlock(&hs->mu);
    atomic_fetch_add(&p->restarts, 1);
    host h;
    ccp_buf msg = CCP_BUF_INIT;
    if (start(p, &h, &msg) == 0)
        put_back(hs, &h);
    else
        ccp_log_warn("plugin '%s': the replacement plugin host did not start: %s", p->name,
                     msg.data ? msg.data : "");
    ccp_buf_free(&msg);
}

int ccp_plugin_hosts_ping(ccp_plugin *p, uint64_t idle_ms, uint64_t pong_ms)
{
    pthread_mutex_lock(&p->mu);
    ccp_plugin_hosts *hs = p->hosts;
    pthread_mutex_unlock(&p->mu);
    if (!hs) return 0;
    /* Take the hosts idle for long enough out of the pool, so no call
     * gets one while it is being checked (a call meanwhile starts another
     * host or waits). */
    host taken[MAX_HOSTS];
    size_t n = 0;
    uint64_t now = ccp_plugin_now_ms();
    pthread_mutex_lock(&hs->mu);
    for (size_t i = 0; i < hs->n_idle;) {
        if (now - hs->idle[i].idle_since >= idle_ms) {
            taken[n++] = hs->idle[i];
            hs->idle[i] = hs->idle[--hs->n_idle];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&hs->mu);
    int replaced = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *m = json_object_new_object(), *reply = NULL;
        json_object_object_add(m, "hook", json_object_new_string("$ping"));
        uint64_t deadline = ccp_plugin_now_ms() + pong_ms;
        int rc = ccp_plugin_msg_send(taken[i].fd, m, deadline);
        json_object_put(m);
        if (rc == 0) rc = ccp_plugin_msg_recv(taken[i].fd, deadline, &reply);
        bool pong = rc == 0 && ccp_json_get(reply, "pong");
        json_object_put(reply);
        atomic_fetch_add(&p->pings, 1);
        if (pong) {
            put_back(hs, &taken[i]);
            continue;
        }
        ccp_log_warn("plugin '%s': an idle plugin host (pid %d) did not answer a ping within "
                     "%llu ms; it is killed and replaced",
                     p->name, (int)taken[i].pid, (unsigned long long)pong_ms);
        bury(p, hs, &taken[i], true, NULL);
        atomic_fetch_add(&p->unresponsive, 1);
        replaced++;
        replace(p, hs);
    }
    return replaced;
}

void ccp_plugin_host_figures(ccp_plugin *p, int *hosts, uint64_t *rss)
{
    *hosts = 0;
    *rss = 0;
    pthread_mutex_lock(&p->mu);
    ccp_plugin_hosts *hs = p->hosts;
    pthread_mutex_unlock(&p->mu);
    if (!hs) return;
    pid_t pids[MAX_HOSTS];
    pthread_mutex_lock(&hs->mu);
    memcpy(pids, hs->pids, sizeof pids);
    *hosts = (int)hs->n_live;
    pthread_mutex_unlock(&hs->mu);
    for (size_t i = 0; i < MAX_HOSTS; i++) {
        if (!pids[i]) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/statm", (int)pids[i]);
        FILE *f = fopen(path, "r");
        unsigned long size, res;
        if (f && fscanf(f, "%lu %lu", &size, &res) == 2)
            *rss += (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
        if (f) fclose(f);
    }
}

json_object *ccp_plugin_host_declaration(ccp_plugin *p, ccp_buf *msg)
{
    ccp_plugin_hosts *hs = hosts_of(p);
    uint64_t deadline = ccp_plugin_now_ms() + START_MS + (uint64_t)p->limits.timeout_ms;
    host h;
    if (acquire(p, hs, deadline, &h, msg) != 0) return NULL;
    json_object *m = json_object_new_object(), *reply = NULL;
    json_object_object_add(m, "hook", json_object_new_string("$declaration"));
    int rc = ccp_plugin_msg_send(h.fd, m, deadline);
    json_object_put(m);
    if (rc == 0) rc = ccp_plugin_msg_recv(h.fd, deadline, &reply);
    json_object *d = ccp_json_get_obj(reply, "result");
    if (rc != 0 || !d) {
        bury(p, hs, &h, true, NULL);
        ccp_buf_appends(msg, "the plugin host did not give the declaration");
        json_object_put(reply);
        return NULL;
    }
    json_object_get(d);
    json_object_put(reply);
    release(hs, &h); /* a warm host for the first call */
    return d;
}

void ccp_plugin_hosts_free(ccp_plugin_hosts *hs)
{
    if (!hs) return;
    /* Called with the config, when no call can be running. */
    for (size_t i = 0; i < hs->n_idle; i++) {
        int status;
        kill(hs->idle[i].pid, SIGKILL);
        close(hs->idle[i].fd);
        while (waitpid(hs->idle[i].pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_destroy(&hs->mu);
    pthread_cond_destroy(&hs->cv);
    free(hs);
}

/* ---- the host's side --------------------------------------------------- */

/* ccp.test_syscall(name): makes a system call the allowlist refuses, so a
 * test can see the kernel kill the host ("open", "socket", "execve"), or
 * makes the host stop answering pings ("deaf"), so a test can see the
 * health check replace it. Only with --test-syscalls, which the parent
 * passes when CCPROXY_PLUGIN_TEST_SYSCALLS=1. */
static bool test_deaf; /* the host's own: ccp.test_syscall("deaf") was called */

static int l_test_syscall(lua_State *L)
{
    const char *what = luaL_checkstring(L, 1);
    long r = -1;
    if (!strcmp(what, "deaf")) /* stop answering pings (the health check's test) */
        test_deaf = true, r = 0;
    else if (!strcmp(what, "open"))
        r = syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
    else if (!strcmp(what, "socket"))
        r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    else if (!strcmp(what, "execve")) {
        char *argv[] = {"/bin/true", NULL}, *envp[] = {NULL};
        r = syscall(SYS_execve, "/bin/true", argv, envp);
    }
    lua_pushinteger(L, r);
    return 1;
}

/* The address space in use now (bytes), before the cap is added to it. */
static size_t vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1) pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void set_limit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    setrlimit(res, &rl);
}

static ccp_plugin_vm *host_vm(json_object *init, const ccp_plugin_limits *lim, bool test,
                              ccp_buf *msg)
{
    const char *src = ccp_json_get_str(init, "source");
    json_object *s = ccp_json_get(init, "source");
    const char *chunk = ccp_json_get_str(init, "chunkname");
    ccp_plugin_vm *vm = ccp_plugin_vm_new(chunk ? chunk : "=plugin", src ? src : "",
                                          s ? (size_t)json_object_get_string_len(s) : 0, lim, msg);
    if (vm && test) {
        lua_State *L = ccp_plugin_vm_state(vm);
        lua_getglobal(L, "ccp");
        lua_pushcfunction(L, l_test_syscall);
        lua_setfield(L, -2, "test_syscall");
        lua_pop(L, 1);
    }
    return vm;
}

json_object *ccp_plugin_host_answer(ccp_plugin_vm *vm, json_object *m, const ccp_plugin_limits *lim,
                                    ccp_plugin_cause *cause)
{
    /* Lines left from before (none, normally) go, and the call's are
     * collected. The old list is put: dropped unput, it leaked one list
     * per call, until a host that had served some 500,000 calls hit its
     * address-space cap and ended (with status 0, then). */
    json_object_put(ccp_plugin_vm_take_logs(vm, true));
    const char *hook = ccp_json_get_str(m, "hook");
    json_object *arg = ccp_json_get(m, "arg"), *result = NULL;
    ccp_buf msg = CCP_BUF_INIT;
    ccp_plugin_cause c =
        ccp_plugin_vm_call(vm, hook ? hook : "?", arg, ccp_json_get(m, "ctx"), lim, &result, &msg);
    json_object *r = json_object_new_object();
    json_object_object_add(r, "logs", ccp_plugin_vm_take_logs(vm, true));
    json_object *patch = c == CCP_PLUGIN_OK && container(arg) && container(result) && result != arg
                             ? make_patch(arg, result)
                             : NULL;
    if (c == CCP_PLUGIN_OK && result == arg) {
        /* Nothing changed: an empty patch. */
        json_object_put(result);
        patch = json_object_new_object();
        json_object_object_add(patch, "set", json_object_new_object());
        json_object_object_add(patch, "sub", json_object_new_object());
        if (json_object_is_type(arg, json_type_array))
            json_object_object_add(patch, "len",
                                   json_object_new_int64((int64_t)json_object_array_length(arg)));
        result = NULL;
    }
    if (patch) {
        json_object_object_add(r, "patch", patch);
        json_object_put(result);
    } else if (c == CCP_PLUGIN_OK) {
        json_object_object_add(r, "result", result);
    } else {
        json_object_object_add(r, "cause", json_object_new_string(ccp_plugin_cause_name(c)));
        json_object_object_add(r, "error", json_object_new_string(msg.data ? msg.data : ""));
    }
    ccp_buf_free(&msg);
    *cause = c;
    return r;
}

int ccp_plugin_host_main(int argc, char **argv)
{
    bool test = argc > 1 && !strcmp(argv[1], "--test-syscalls");
    int fd = HOST_FD;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* no orphaned hosts */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    json_object *init = NULL;
    int why = 0;
    if (msg_recv(fd, 0, &init, &why) != 0) _exit(CCP_PLUGIN_HOST_EXIT_INIT);
    ccp_plugin_limits lim;
    json_object *l = ccp_json_get(init, "limits");
    lim.timeout_ms = ccp_json_get_int(l, "timeout_ms", 1000);
    lim.memory_mb = ccp_json_get_int(l, "memory_mb", 64);
    lim.cpu_seconds = ccp_json_get_int(l, "cpu_seconds", 60);
    lim.instructions = ccp_json_get_int(l, "instructions", 0);

    /* The fence, before any plugin code runs. */
    tzset(); /* os.date reads the zone now, not under seccomp */
    size_t as = vm_size() + ((size_t)lim.memory_mb << 20) * 2 + (64u << 20);
    set_limit(RLIMIT_AS, as, as);
    set_limit(RLIMIT_CPU, (rlim_t)lim.cpu_seconds, (rlim_t)lim.cpu_seconds + 1);
    set_limit(RLIMIT_FSIZE, 0, 0);
    set_limit(RLIMIT_NPROC, 0, 0);
    syscall(SYS_close_range, HOST_FD + 1, ~0U, 0);
    set_limit(RLIMIT_NOFILE, HOST_FD + 1, HOST_FD + 1);
    if (ccp_plugin_seccomp_install() != 0) {
        json_object *r = json_object_new_object();
        json_object_object_add(r, "error", json_object_new_string("cannot install seccomp"));
        ccp_plugin_msg_send(fd, r, 0);
        _exit(CCP_PLUGIN_HOST_EXIT_SECCOMP);
    }

    ccp_buf msg = CCP_BUF_INIT;
    ccp_plugin_vm *vm = host_vm(init, &lim, test, &msg);
    json_object *r = json_object_new_object();
    if (!vm) json_object_object_add(r, "error", json_object_new_string(msg.data ? msg.data : "?"));
    ccp_plugin_msg_send(fd, r, 0);
    json_object_put(r);
    if (!vm) _exit(CCP_PLUGIN_HOST_EXIT_LOAD);
    int status = CCP_PLUGIN_HOST_EXIT_CLOSED;
    for (;;) {
        json_object *m = NULL;
        if (msg_recv(fd, 0, &m, &why) != 0) {
            status = why;
            break;
        }
        const char *hook = ccp_json_get_str(m, "hook");
        if (hook && !strcmp(hook, "$ping")) {
            json_object_put(m);
            if (test_deaf) continue;
            r = json_object_new_object();
            json_object_object_add(r, "pong", json_object_new_boolean(1));
            int rc = ccp_plugin_msg_send(fd, r, 0);
            json_object_put(r);
            if (rc != 0) {
                status = CCP_PLUGIN_HOST_EXIT_SEND;
                break;
            }
            continue;
        }
        if (hook && !strcmp(hook, "$declaration")) {
            r = json_object_new_object();
            json_object_object_add(r, "result", ccp_plugin_vm_declaration(vm));
            json_object_put(m);
            int rc = ccp_plugin_msg_send(fd, r, 0);
            json_object_put(r);
            if (rc != 0) {
                status = CCP_PLUGIN_HOST_EXIT_SEND;
                break;
            }
            continue;
        }
        ccp_plugin_cause c;
        r = ccp_plugin_host_answer(vm, m, &lim, &c);
        /* The answer goes before the message is freed: the proxy waits for
         * the one, not the other (freeing a 150 KiB request's tree takes a
         * good part of a call). */
        int rc = ccp_plugin_msg_send(fd, r, 0);
        json_object_put(r);
        json_object_put(m);
        if (rc != 0) {
            status = CCP_PLUGIN_HOST_EXIT_SEND;
            break;
        }
        /* After a cap was hit the state may be half-way through anything:
         * a fresh one from the same source. */
        if (c == CCP_PLUGIN_TIMEOUT || c == CCP_PLUGIN_MEMORY) {
            ccp_plugin_vm_free(vm);
            ccp_buf_reset(&msg);
            vm = host_vm(init, &lim, test, &msg);
            if (!vm) {
                status = CCP_PLUGIN_HOST_EXIT_RELOAD;
                break;
            }
        }
    }
    /* _exit: no atexit work (a sanitizer's leak check would need calls the
     * filter refuses). */
    _exit(status);
}
