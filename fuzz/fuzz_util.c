/* fuzz_util.c — scratch files and result checks shared by the libFuzzer targets (see fuzz_util.h). */
#define _XOPEN_SOURCE 700
#include "fuzz_util.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mesh_io/ct_mesh_io.h"

static char scratch_dir[256];

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_scratch(void)
{
    if (scratch_dir[0])
        nftw(scratch_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Runs once per process, before the first input (libFuzzer's hook). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("OMP_NUM_THREADS", "1", 1); /* one thread: reproducible, and no pool to leak-check */
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch_dir, sizeof scratch_dir, "%s/ct_fuzz_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch_dir)) {
        perror("ct_fuzz: mkdtemp");
        abort();
    }
    atexit(remove_scratch);
    return 0;
}

const char *ct_fuzz_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", scratch_dir, name);
    return path;
}

const char *ct_fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    const char *path = ct_fuzz_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return path;
}

void ct_fuzz_remove(const char *name) { unlink(ct_fuzz_path(name)); }

char *ct_fuzz_string(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "ct_fuzz: FINDING in %s: %s\n  last message: %s\n", what, detail, ct_error_message());
    abort();
}

void ct_fuzz_check_status(ct_status st, const char *must_name, const char *what)
{
    if (st == CT_OK)
        return;
    if (st == CT_ERR_INTERNAL)
        fail(what, "CT_ERR_INTERNAL on bad input (a bug, not an input error)");
    const char *msg = ct_error_message();
    if (!msg[0])
        fail(what, "failed without a message");
    if (!strstr(msg, must_name)) {
        char detail[1024];
        snprintf(detail, sizeof detail, "the message does not name the input \"%s\"", must_name);
        fail(what, detail);
    }
}

void ct_fuzz_check_mesh(ct_mesh *m, const char *source)
{
    if (ct_mesh_validate(m, source) != CT_OK)
        fail(source, "a mesh the reader accepted fails ct_mesh_validate");
    if (ct_mesh_check_topology(m, source) != CT_OK)
        fail(source, "a mesh the reader accepted fails ct_mesh_check_topology");
    if (ct_mesh_orient(m) != 0)
        fail(source, "a mesh the reader accepted still has negatively oriented tets");
    for (size_t e = 0; e < m->n_tets; e++) {
        double v = ct_mesh_tet_volume(m, e);
        if (!(v > 0.0) || !isfinite(v))
            fail(source, "an accepted tet has a volume that is not finite and positive");
        const double *f = m->fibre + 3 * e;
        double n = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
        if (!(fabs(n - 1.0) < 1e-6))
            fail(source, "an accepted fibre is not a unit vector");
        if (m->tissue && (m->tissue[e] < CT_TISSUE_HEALTHY || m->tissue[e] > CT_TISSUE_SCAR))
            fail(source, "an accepted tissue label is out of range");
    }
    for (size_t t = 0; t < 3 * m->n_tris; t++)
        if (m->tris[t] < 0 || (size_t)m->tris[t] >= m->n_nodes)
            fail(source, "an accepted boundary triangle has a node index out of range");
    /* Geometric queries every caller runs on a mesh: bounds, volume, locating the first tet's centroid. */
    double lo[3], hi[3], c[3] = {0, 0, 0}, bary[4];
    ct_mesh_bounds(m, lo, hi);
    if (!(ct_mesh_volume(m) > 0.0))
        fail(source, "an accepted mesh has no positive volume");
    for (int a = 0; a < 4; a++)
        for (int k = 0; k < 3; k++)
            c[k] += 0.25 * m->xyz_mm[3 * (size_t)m->tets[a] + (size_t)k];
    size_t tet;
    if (ct_mesh_locate(m, c, 1e-9 * (hi[0] - lo[0] + hi[1] - lo[1] + hi[2] - lo[2]), &tet, bary) != CT_OK)
        fail(source, "the centroid of tet 0 of an accepted mesh is not located in the mesh");
}
