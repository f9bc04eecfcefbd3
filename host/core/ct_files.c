/* ct_files.c — output folders and atomic writes (POSIX). */
#define _POSIX_C_SOURCE 200809L
#include "ct_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ct_status ct_mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ct_error_set(CT_ERR_IO, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ct_error_set(CT_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return ct_error_set(CT_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
    struct stat sb;
    if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ct_error_set(CT_ERR_IO, "%s: exists and is not a directory", path);
    return CT_OK;
}

int ct_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        p += w;
        len -= (size_t)w;
    }
    return 1;
}

int ct_read_all(int fd, void *data, size_t len)
{
    char *p = data;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        p += r;
        len -= (size_t)r;
    }
    return 1;
}

ct_status ct_write_file_atomic(const char *path, const void *data, size_t len)
{
    ct_file_part part = {data, len};
    return ct_write_file_atomic_parts(path, &part, 1);
}

ct_status ct_write_file_atomic_parts(const char *path, const ct_file_part *parts, size_t n_parts)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ct_error_set(CT_ERR_IO, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    int written = 1;
    for (size_t k = 0; k < n_parts && written; k++)
        written = ct_write_all(fd, parts[k].data, parts[k].len);
    if (!written) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return ct_error_set(CT_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    /* close even when fsync fails (a full disk can surface there: NFS, delayed allocation); EINVAL / EROFS:
     * a file system without fsync, as the VTK and .pvd writers treat it */
    int flush_errno = fsync(fd) != 0 ? errno : 0;
    if (flush_errno == EINVAL || flush_errno == EROFS)
        flush_errno = 0;
    if (close(fd) != 0 && flush_errno == 0)
        flush_errno = errno;
    if (flush_errno != 0) {
        unlink(tmp);
        return ct_error_set(CT_ERR_IO, "%s: cannot flush to disk: %s", path, strerror(flush_errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ct_error_set(CT_ERR_IO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return CT_OK;
}

ct_status ct_read_file(const char *path, char **data, size_t *len_out)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
        fclose(f);
        return ct_error_set(CT_ERR_IO, "%s: is not a regular file", path);
    }
    size_t cap = sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (len + 1 < cap)
            break;
        char *bigger = realloc(buf, 2 * cap);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    int read_error = ferror(f);
    fclose(f);
    if (!buf)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (read_error) {
        free(buf);
        return ct_error_set(CT_ERR_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    *data = buf;
    if (len_out)
        *len_out = len;
    return CT_OK;
}

ct_status ct_path_relative_to(char *out, size_t out_len, const char *base_file, const char *path)
{
    const char *slash = strrchr(base_file, '/');
    int n = (path[0] == '/' || !slash) ? snprintf(out, out_len, "%s", path)
                                       : snprintf(out, out_len, "%.*s/%s", (int)(slash - base_file), base_file, path);
    if (n < 0 || n >= (int)out_len)
        return ct_error_set(CT_ERR_CONFIG, "%s: the path \"%s\" is too long", base_file, path);
    return CT_OK;
}

ct_status ct_path_join(char *out, size_t out_len, const char *dir, const char *name)
{
    if (snprintf(out, out_len, "%s/%s", dir, name) >= (int)out_len)
        return ct_error_set(CT_ERR_IO, "%s/%s: path too long", dir, name);
    return CT_OK;
}
