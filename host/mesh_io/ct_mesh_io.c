/* ct_mesh_io.c — ct_mesh_read: picks the format (given or from the file name), runs its parser, then
 * orients the tets and runs the checks every mesh from a file must pass. */
#define _POSIX_C_SOURCE 200809L
#include "ct_mesh_io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcasecmp(s + n - k, suffix) == 0;
}

static ct_status infer_format(const char *path, const char **format)
{
    if (ends_with(path, ".vtu"))
        *format = "vtu";
    else if (ends_with(path, ".vtk"))
        *format = "vtk";
    else if (ends_with(path, ".msh"))
        *format = "gmsh";
    else if (ends_with(path, ".pts") || ends_with(path, ".elem") || ends_with(path, ".lon"))
        *format = "carp";
    else {
        char pts[4200];
        struct stat sb;
        snprintf(pts, sizeof pts, "%s.pts", path);
        if (stat(pts, &sb) != 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: cannot tell the mesh format from the name (expected .vtu, .msh, "
                                ".pts/.elem/.lon, or an openCARP base name with a .pts file beside it)", path);
        *format = "carp";
    }
    return CT_OK;
}

/* Degenerate tets (after orientation), named with their line for line-based formats: element e is on
 * line e + line_offset of `file` (line_offset 0: no line numbers). The volume floor is ct_mesh_validate's. */
static ct_status check_volumes(const ct_mesh *m, const char *file, size_t line_offset)
{
    double lo[3], hi[3];
    ct_mesh_bounds(m, lo, hi);
    double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                       (hi[2] - lo[2]) * (hi[2] - lo[2]));
    double vol_floor = 1e-12 * diag * diag * diag;
    for (size_t e = 0; e < m->n_tets; e++) {
        double v = ct_mesh_tet_volume(m, e);
        if (v > vol_floor)
            continue;
        const int32_t *t = m->tets + 4 * e;
        char where[64] = "";
        if (line_offset)
            snprintf(where, sizeof where, ":%zu", e + line_offset);
        return ct_error_set(CT_ERR_MESH, "%s%s: element %zu is degenerate: nodes %d %d %d %d are (nearly) coplanar "
                            "or repeated (volume %g mm^3)", file, where, e, (int)t[0], (int)t[1], (int)t[2],
                            (int)t[3], fabs(v));
    }
    return CT_OK;
}

ct_status ct_mesh_read(const char *path, const char *format, double unit_to_mm, ct_mesh **out)
{
    if (!out)
        return ct_error_set(CT_ERR_INTERNAL, "ct_mesh_read: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return ct_error_set(CT_ERR_CONFIG, "mesh: no file name given");
    if (!(unit_to_mm > 0.0) || !isfinite(unit_to_mm))
        return ct_error_set(CT_ERR_CONFIG, "%s: unit_to_mm must be finite and > 0 (got %g)", path, unit_to_mm);
    if (!format)
        CT_CHECK(infer_format(path, &format));

    ct_mesh *m = NULL;
    if (strcmp(format, "carp") == 0)
        CT_CHECK(ct_mesh_read_carp(path, unit_to_mm, &m));
    else if (strcmp(format, "vtu") == 0)
        CT_CHECK(ct_mesh_read_vtu(path, unit_to_mm, &m));
    else if (strcmp(format, "gmsh") == 0 || strcmp(format, "msh") == 0)
        CT_CHECK(ct_mesh_read_gmsh(path, unit_to_mm, &m));
    else if (strcmp(format, "vtk") == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: legacy VTK (.vtk) meshes are not supported; convert to .vtu "
                            "(e.g. in ParaView, or meshio convert)", path);
    else
        return ct_error_set(CT_ERR_CONFIG, "%s: unknown mesh format \"%s\" (expected carp, vtu or gmsh)", path,
                            format);

    /* Line numbers for openCARP: element e is on line e + 2 of BASE.elem (line 1 is the count). */
    char elem_file[4200];
    int carp = strcmp(format, "carp") == 0;
    if (carp) {
        snprintf(elem_file, sizeof elem_file, "%s", path);
        char *dot = strrchr(elem_file, '.');
        if (dot && (strcmp(dot, ".pts") == 0 || strcmp(dot, ".elem") == 0 || strcmp(dot, ".lon") == 0))
            *dot = '\0';
        strncat(elem_file, ".elem", sizeof elem_file - strlen(elem_file) - 1);
    }
    /* coordinates first: a NaN would otherwise show up as a degenerate (or flipped) element */
    ct_status st = ct_mesh_check_coordinates(m, path);
    if (st == CT_OK) {
        size_t flipped = ct_mesh_orient(m);
        if (flipped)
            fprintf(stderr, "cardiotwin: warning: %s: %zu of %zu elements were inverted (negative volume) and have "
                    "been re-oriented (two nodes swapped)\n", path, flipped, m->n_tets);
        st = check_volumes(m, carp ? elem_file : path, carp ? 2 : 0);
    }
    if (st == CT_OK)
        st = ct_mesh_validate(m, path);
    if (st == CT_OK)
        st = ct_mesh_check_topology(m, path);
    if (st != CT_OK && carp && !strstr(ct_error_message(), ".elem:")) {
        /* Point the reader at the lines: node k and element k sit on line k + 2 of their files. */
        char base[4200];
        snprintf(base, sizeof base, "%.*s", (int)(strlen(elem_file) - 5), elem_file);
        st = ct_error_set(st, "%s (openCARP: node k is on line k+2 of %s.pts, element k on line k+2 of %s.elem)",
                          ct_error_message(), base, base);
    }
    if (st != CT_OK) {
        ct_mesh_destroy(m);
        return st;
    }
    *out = m;
    return CT_OK;
}
