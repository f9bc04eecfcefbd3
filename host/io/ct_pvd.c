/* ct_pvd.c — hand-written ParaView .pvd collection writer (VTK 9 has none public); see ct_pvd.h. */
#define _POSIX_C_SOURCE 200809L /* fsync, getpid, fileno */

#include "ct_pvd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ct_pvd_frame {
    double time_ms;
    char *file; /* owned, unescaped */
} ct_pvd_frame;

struct ct_pvd {
    char *path;          /* owned */
    ct_pvd_frame *frames; /* owned, n_frames used of cap_frames */
    int n_frames, cap_frames;
};

static char *ct_pvd_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Writes `s` with the five XML special characters escaped, as an attribute value. */
static void ct_pvd_put_escaped(FILE *f, const char *s)
{
    for (; *s != '\0'; ++s) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(*s, f); break;
        }
    }
}

/* Writes the whole collection to PATH.tmp.<pid>, fsyncs it and renames it over PATH. */
static ct_status ct_pvd_rewrite(const ct_pvd *p)
{
    char tmp[4096];
    int len = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p->path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof tmp)
        return ct_error_set(CT_ERR_IO, "%s: path too long for its temp file name", p->path);

    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return ct_error_set(CT_ERR_IO, "%s: cannot create temp file %s: %s", p->path, tmp, strerror(errno));
    fputs("<?xml version=\"1.0\"?>\n"
          "<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n"
          "  <Collection>\n", f);
    for (int i = 0; i < p->n_frames; ++i) {
        /* %.17g: the time round-trips exactly through the text. */
        fprintf(f, "    <DataSet timestep=\"%.17g\" group=\"\" part=\"0\" file=\"", p->frames[i].time_ms);
        ct_pvd_put_escaped(f, p->frames[i].file);
        fputs("\"/>\n", f);
    }
    fputs("  </Collection>\n</VTKFile>\n", f);

    int failed = ferror(f) || fflush(f) != 0;
    int err = errno;
    if (!failed && fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS) {
        failed = 1;
        err = errno;
    }
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (failed) {
        remove(tmp);
        return ct_error_set(CT_ERR_IO, "%s: cannot write temp file %s: %s", p->path, tmp, strerror(err));
    }
    if (rename(tmp, p->path) != 0) {
        err = errno;
        remove(tmp);
        return ct_error_set(CT_ERR_IO, "%s: cannot rename %s over it: %s", p->path, tmp, strerror(err));
    }
    return CT_OK;
}

ct_status ct_pvd_open(const char *path, ct_pvd **out)
{
    if (out == NULL)
        return ct_error_set(CT_ERR_INTERNAL, "ct_pvd_open: out is NULL");
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return ct_error_set(CT_ERR_INTERNAL, "ct_pvd_open: path is NULL or empty");
    ct_pvd *p = calloc(1, sizeof *p);
    if (p == NULL || (p->path = ct_pvd_strdup(path)) == NULL) {
        free(p);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory opening .pvd collection", path);
    }
    ct_status s = ct_pvd_rewrite(p);
    if (s != CT_OK) {
        ct_pvd_destroy(p);
        return s;
    }
    *out = p;
    return CT_OK;
}

ct_pvd *ct_pvd_create(const char *path)
{
    ct_pvd *p = NULL;
    (void)ct_pvd_open(path, &p);
    return p;
}

ct_status ct_pvd_add(ct_pvd *p, double time_ms, const char *relative_file)
{
    if (p == NULL || relative_file == NULL || relative_file[0] == '\0')
        return ct_error_set(CT_ERR_INTERNAL, "ct_pvd_add: NULL collection or empty file name");
    if (!isfinite(time_ms))
        return ct_error_set(CT_ERR_INTERNAL, "%s: frame \"%s\": time_ms is not finite", p->path,
                            relative_file);
    for (const unsigned char *c = (const unsigned char *)relative_file; *c != '\0'; ++c)
        if (*c < 0x20) /* not representable in an XML 1.0 attribute */
            return ct_error_set(CT_ERR_INTERNAL, "%s: frame file name \"%s\" has control character 0x%02x",
                                p->path, relative_file, *c);
    if (p->n_frames == p->cap_frames) {
        int cap = p->cap_frames > 0 ? 2 * p->cap_frames : 16;
        ct_pvd_frame *grown = realloc(p->frames, (size_t)cap * sizeof *grown);
        if (grown == NULL)
            return ct_error_set(CT_ERR_NOMEM, "%s: out of memory adding frame %d", p->path, p->n_frames);
        p->frames = grown;
        p->cap_frames = cap;
    }
    char *file = ct_pvd_strdup(relative_file);
    if (file == NULL)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory adding frame %d", p->path, p->n_frames);
    p->frames[p->n_frames].time_ms = time_ms;
    p->frames[p->n_frames].file = file;
    p->n_frames++;
    ct_status s = ct_pvd_rewrite(p);
    if (s != CT_OK) { /* undo, so memory matches the file on disk */
        p->n_frames--;
        free(file);
    }
    return s;
}

int ct_pvd_n_frames(const ct_pvd *p) { return p != NULL ? p->n_frames : 0; }

void ct_pvd_destroy(ct_pvd *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n_frames; ++i)
        free(p->frames[i].file);
    free(p->frames);
    free(p->path);
    free(p);
}
