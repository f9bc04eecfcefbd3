/* ct_mesh.c — mesh allocation, validation and point location. */
#include "ct_mesh.h"

#include <math.h>
#include <stdlib.h>

ct_status ct_mesh_create(size_t n_nodes, size_t n_tets, ct_mesh **out)
{
    *out = NULL;
    ct_mesh *m = calloc(1, sizeof *m);
    if (!m)
        return ct_error_set(CT_ERR_NOMEM, "mesh: out of memory");
    m->n_nodes = n_nodes;
    m->n_tets = n_tets;
    m->xyz_mm = calloc(3 * n_nodes + 1, sizeof *m->xyz_mm);
    m->tets = calloc(4 * n_tets + 1, sizeof *m->tets);
    m->fibre = calloc(3 * n_tets + 1, sizeof *m->fibre);
    if (!m->xyz_mm || !m->tets || !m->fibre) {
        ct_mesh_destroy(m);
        return ct_error_set(CT_ERR_NOMEM, "mesh: out of memory for %zu nodes, %zu tets", n_nodes, n_tets);
    }
    for (size_t e = 0; e < n_tets; e++)
        m->fibre[3 * e] = 1.0;
    *out = m;
    return CT_OK;
}

void ct_mesh_destroy(ct_mesh *mesh)
{
    if (!mesh)
        return;
    free(mesh->xyz_mm);
    free(mesh->tets);
    free(mesh->fibre);
    free(mesh->tissue);
    free(mesh->tris);
    free(mesh->tri_label);
    free(mesh);
}

static double det3(const double a[3], const double b[3], const double c[3])
{
    return a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) +
           a[2] * (b[0] * c[1] - b[1] * c[0]);
}

double ct_mesh_tet_volume(const ct_mesh *mesh, size_t e)
{
    const int32_t *t = mesh->tets + 4 * e;
    const double *x0 = mesh->xyz_mm + 3 * (size_t)t[0];
    double a[3], b[3], c[3];
    for (int k = 0; k < 3; k++) {
        a[k] = mesh->xyz_mm[3 * (size_t)t[1] + k] - x0[k];
        b[k] = mesh->xyz_mm[3 * (size_t)t[2] + k] - x0[k];
        c[k] = mesh->xyz_mm[3 * (size_t)t[3] + k] - x0[k];
    }
    return det3(a, b, c) / 6.0;
}

double ct_mesh_volume(const ct_mesh *mesh)
{
    double v = 0.0;
    for (size_t e = 0; e < mesh->n_tets; e++)
        v += ct_mesh_tet_volume(mesh, e);
    return v;
}

void ct_mesh_bounds(const ct_mesh *mesh, double lo_mm[3], double hi_mm[3])
{
    for (int k = 0; k < 3; k++) {
        lo_mm[k] = mesh->n_nodes ? mesh->xyz_mm[k] : 0.0;
        hi_mm[k] = lo_mm[k];
    }
    for (size_t i = 0; i < mesh->n_nodes; i++)
        for (int k = 0; k < 3; k++) {
            double x = mesh->xyz_mm[3 * i + k];
            if (x < lo_mm[k])
                lo_mm[k] = x;
            if (x > hi_mm[k])
                hi_mm[k] = x;
        }
}

ct_status ct_mesh_validate(const ct_mesh *mesh, const char *source)
{
    if (mesh->n_nodes < 4 || mesh->n_tets < 1)
        return ct_error_set(CT_ERR_MESH, "%s: mesh has %zu nodes and %zu tets; need at least 4 and 1",
                            source, mesh->n_nodes, mesh->n_tets);
    for (size_t i = 0; i < 3 * mesh->n_nodes; i++)
        if (!isfinite(mesh->xyz_mm[i]))
            return ct_error_set(CT_ERR_MESH, "%s: node %zu has a non-finite coordinate", source, i / 3);
    double lo[3], hi[3];
    ct_mesh_bounds(mesh, lo, hi);
    double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                       (hi[2] - lo[2]) * (hi[2] - lo[2]));
    /* A tet whose volume is below this (relative to the mesh size) is degenerate. */
    double vol_floor = 1e-12 * diag * diag * diag;
    for (size_t e = 0; e < mesh->n_tets; e++) {
        const int32_t *t = mesh->tets + 4 * e;
        for (int a = 0; a < 4; a++) {
            if (t[a] < 0 || (size_t)t[a] >= mesh->n_nodes)
                return ct_error_set(CT_ERR_MESH, "%s: element %zu: node index %d out of range [0, %zu)",
                                    source, e, (int)t[a], mesh->n_nodes);
            for (int b = 0; b < a; b++)
                if (t[a] == t[b])
                    return ct_error_set(CT_ERR_MESH, "%s: element %zu: node %d repeated", source, e,
                                        (int)t[a]);
        }
        double v = ct_mesh_tet_volume(mesh, e);
        if (v < -vol_floor)
            return ct_error_set(CT_ERR_MESH, "%s: element %zu is inverted (signed volume %g mm^3)",
                                source, e, v);
        if (v <= vol_floor)
            return ct_error_set(CT_ERR_MESH, "%s: element %zu is degenerate (volume %g mm^3)", source,
                                e, v);
        const double *f = mesh->fibre + 3 * e;
        double n = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
        if (!(fabs(n - 1.0) < 1e-6))
            return ct_error_set(CT_ERR_MESH, "%s: element %zu: fibre vector has length %g, not 1",
                                source, e, n);
    }
    return CT_OK;
}

/* Barycentric coordinates of p in tet e (sum to 1). */
static void tet_barycentric(const ct_mesh *mesh, size_t e, const double p[3], double bary[4])
{
    const int32_t *t = mesh->tets + 4 * e;
    const double *x[4];
    for (int a = 0; a < 4; a++)
        x[a] = mesh->xyz_mm + 3 * (size_t)t[a];
    double a[3], b[3], c[3], d[3];
    for (int k = 0; k < 3; k++) {
        a[k] = x[1][k] - x[0][k];
        b[k] = x[2][k] - x[0][k];
        c[k] = x[3][k] - x[0][k];
        d[k] = p[k] - x[0][k];
    }
    double det = det3(a, b, c);
    bary[1] = det3(d, b, c) / det;
    bary[2] = det3(a, d, c) / det;
    bary[3] = det3(a, b, d) / det;
    bary[0] = 1.0 - bary[1] - bary[2] - bary[3];
}

ct_status ct_mesh_locate(const ct_mesh *mesh, const double p_mm[3], double tol_mm, size_t *tet,
                         double bary[4])
{
    /* Brute force over elements, keeping the one whose most negative barycentric coordinate is
     * largest: exact containment wins, and points on faces resolve to a neighbouring element. */
    double best = -INFINITY;
    size_t best_e = 0;
    for (size_t e = 0; e < mesh->n_tets; e++) {
        double b[4];
        tet_barycentric(mesh, e, p_mm, b);
        double worst = fmin(fmin(b[0], b[1]), fmin(b[2], b[3]));
        if (worst > best) {
            best = worst;
            best_e = e;
            if (worst >= 0.0)
                break;
        }
    }
    if (mesh->n_tets == 0)
        return CT_ERR_CONFIG;
    /* Convert the barycentric deficit to a distance scale via the element size. */
    double h = cbrt(fabs(ct_mesh_tet_volume(mesh, best_e)) * 6.0);
    if (best < -tol_mm / (h > 0 ? h : 1.0))
        return CT_ERR_CONFIG;
    tet_barycentric(mesh, best_e, p_mm, bary);
    *tet = best_e;
    return CT_OK;
}

void ct_mesh_tet_centroid(const ct_mesh *m, size_t e, double c[3])
{
    c[0] = c[1] = c[2] = 0;
    for (int a = 0; a < 4; a++)
        for (int d = 0; d < 3; d++)
            c[d] += 0.25 * m->xyz_mm[3 * (size_t)m->tets[4 * e + a] + d];
}
