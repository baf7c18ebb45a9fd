/* seccomp.c — the system calls a plugin host may make, as a seccomp-bpf
 * allowlist (libseccomp). A host computes in Lua and talks on its
 * inherited socket: it needs memory, the clock, reads and writes of
 * descriptors it already holds, and to exit. Anything else (open, socket,
 * connect, execve, fork, ptrace, ...) kills the process with SIGSYS. */
#include "plugin/host_internal.h"

#include <seccomp.h>
#include <stddef.h>

int ccp_plugin_seccomp_install(void)
{
    static const int allowed[] = {
        SCMP_SYS(read),           SCMP_SYS(write),        SCMP_SYS(readv),
        SCMP_SYS(writev),         SCMP_SYS(recvfrom),     SCMP_SYS(sendto),
        SCMP_SYS(recvmsg),        SCMP_SYS(sendmsg),      SCMP_SYS(poll),
        SCMP_SYS(ppoll),          SCMP_SYS(close),        SCMP_SYS(fstat),
        SCMP_SYS(newfstatat),     SCMP_SYS(lseek),        SCMP_SYS(brk),
        SCMP_SYS(mmap),           SCMP_SYS(munmap),       SCMP_SYS(mremap),
        SCMP_SYS(mprotect),       SCMP_SYS(madvise),      SCMP_SYS(futex),
        SCMP_SYS(clock_gettime),  SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
        SCMP_SYS(time),           SCMP_SYS(getrandom),    SCMP_SYS(rt_sigreturn),
        SCMP_SYS(rt_sigprocmask), SCMP_SYS(sigaltstack),  SCMP_SYS(getpid),
        SCMP_SYS(gettid),         SCMP_SYS(sched_yield),  SCMP_SYS(exit),
        SCMP_SYS(exit_group),
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx) return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof allowed / sizeof allowed[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    if (rc == 0) rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc;
}
