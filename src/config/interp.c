/* interp.c — ${VAR} / ${VAR:-default} / ${file:/path} expansion (see
 * interp.h). */
#include "config/interp.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A secret file is a key or a token, not a document: a larger one is more
 * likely a wrong path (a log, a binary) than a key. */
#define SECRET_FILE_MAX (64 * 1024)

/* Appends the content of the secret file at path to out, trailing line
 * breaks trimmed. Returns 0, or CCP_EIO / CCP_EINVAL with why in msg. The
 * content never goes into msg. */
static int read_secret_file(const char *path, ccp_buf *out, char *msg, size_t msg_size)
{
    if (path[0] != '/') {
        snprintf(msg, msg_size, "${file:%s}: the path must be absolute", path);
        return CCP_EINVAL;
    }
    /* O_NOFOLLOW is not used: Kubernetes mounts each secret as a symlink
     * into a timestamped directory; the checks below are on the target. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msg_size, "${file:%s}: cannot open it: %s", path, strerror(errno));
        return CCP_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, msg_size, "${file:%s}: not a regular file", path);
        close(fd);
        return CCP_EINVAL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        /* Checked on the open descriptor, so a swap of the file between a
         * check and the read cannot slip past it. */
        snprintf(msg, msg_size,
                 "${file:%s}: the file is readable by other users (mode %03o); a secret file "
                 "must be readable by its owner only: chmod 600 (or mode 0400 for a Docker or "
                 "Kubernetes secret)",
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return CCP_EINVAL;
    }
    if (st.st_size > SECRET_FILE_MAX) {
        snprintf(msg, msg_size, "${file:%s}: larger than %d bytes: is it the right file?", path,
                 SECRET_FILE_MAX);
        close(fd);
        return CCP_EINVAL;
    }
    /* Room for the whole file at once: a buffer that grew by realloc would
     * leave copies of the secret in freed memory. */
    ccp_buf_reserve(out, (size_t)st.st_size + 1);
    char buf[4096];
    size_t start = out->len, total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 && total <= SECRET_FILE_MAX) {
        ccp_buf_append(out, buf, (size_t)n);
        total += (size_t)n;
    }
    int rerr = n < 0 ? errno : 0;
    /* The copy on the stack is a secret too. */
    explicit_bzero(buf, sizeof buf);
    close(fd);
    if (rerr) {
        snprintf(msg, msg_size, "${file:%s}: cannot read it: %s", path, strerror(rerr));
        return CCP_EIO;
    }
    while (out->len > start && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r'))
        out->data[--out->len] = '\0';
    if (out->data && memchr(out->data + start, '\0', out->len - start)) {
        snprintf(msg, msg_size, "${file:%s}: holds a NUL byte: is it the right file?", path);
        return CCP_EINVAL;
    }
    return 0;
}

int ccp_interp(const char *in, ccp_buf *out, char *var, size_t var_size)
{
    if (var_size) var[0] = '\0';
    const char *p = in;
    while (*p) {
        const char *d = strchr(p, '$');
        if (!d) {
            ccp_buf_appends(out, p);
            break;
        }
        ccp_buf_append(out, p, (size_t)(d - p));
        if (d[1] == '$') {
            ccp_buf_appendc(out, '$');
            p = d + 2;
            continue;
        }
        if (d[1] != '{') {
            ccp_buf_appendc(out, '$');
            p = d + 1;
            continue;
        }
        const char *close = strchr(d + 2, '}');
        if (!close) return CCP_EPARSE;
        const char *name = d + 2;
        if (!strncmp(name, "file:", 5)) {
            size_t plen = (size_t)(close - name - 5);
            if (plen == 0 || plen >= 4096) return CCP_EPARSE;
            char path[4096];
            memcpy(path, name + 5, plen);
            path[plen] = '\0';
            int rc = read_secret_file(path, out, var, var_size);
            if (rc) return rc;
            p = close + 1;
            continue;
        }
        const char *sep = strstr(name, ":-");
        if (sep && sep > close) sep = NULL;
        size_t nlen = (size_t)((sep ? sep : close) - name);
        if (nlen == 0 || nlen >= 256) return CCP_EPARSE;
        char vname[256];
        memcpy(vname, name, nlen);
        vname[nlen] = '\0';
        const char *val = getenv(vname);
        if (sep) {
            if (val && *val)
                ccp_buf_appends(out, val);
            else
                ccp_buf_append(out, sep + 2, (size_t)(close - sep - 2));
        } else if (val) {
            ccp_buf_appends(out, val);
        } else {
            snprintf(var, var_size, "%s", vname);
            return CCP_ENOTFOUND;
        }
        p = close + 1;
    }
    if (!out->data) ccp_buf_reserve(out, 0);
    return 0;
}
