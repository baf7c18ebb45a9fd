/* main.c — the ccproxy executable: a launcher for libccproxy-core.so.
 *
 * Everything ccproxy does is in libccproxy-core.so, next to this executable;
 * this file only loads it and calls ccp_cli_main. The split exists for one
 * environment variable. GnuTLS is in the process only as a dependency of
 * Debian's libcurl (through librtmp and libldap, for protocols ccproxy never
 * enables; TLS is OpenSSL's), yet its library constructor initialises it as
 * soon as it is loaded: 0.6 MB of an idle proxy's memory. It skips that when
 * GNUTLS_NO_IMPLICIT_INIT is set before its constructor runs, which for a
 * library the executable links directly is before main. Loading the core
 * (and with it libcurl and GnuTLS) from here, after setting the variable, is
 * the way to have it set in time without executing the program twice
 * (measured: 4.5 ms of start-up). A value the user set is left as it is.
 *
 * This file links nothing but libc. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CORE "libccproxy-core.so"

int main(int argc, char **argv)
{
    setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - sizeof CORE - 1);
    if (n <= 0 || (size_t)n >= sizeof path - sizeof CORE - 1) {
        fprintf(stderr, "ccproxy: cannot find its own path (/proc/self/exe)\n");
        return 1;
    }
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    strcpy(slash ? slash + 1 : path, CORE);
    void *core = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!core) {
        fprintf(stderr, "ccproxy: cannot load %s (it belongs beside the ccproxy executable): %s\n",
                path, dlerror());
        return 1;
    }
    int (*cli_main)(int, char **) = (int (*)(int, char **))dlsym(core, "ccp_cli_main");
    if (!cli_main) {
        fprintf(stderr, "ccproxy: %s has no ccp_cli_main: %s\n", path, dlerror());
        return 1;
    }
    return cli_main(argc, argv);
}
