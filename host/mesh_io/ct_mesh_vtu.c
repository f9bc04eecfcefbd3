/* ct_mesh_vtu.c — meshes as VTK XML unstructured grids (.vtu), through the C API of io/ct_vtk.h.
 * Cell field "fibre" (3 components; "fiber" is accepted on reading) and "tissue" (1 component) of the tets;
 * labelled boundary triangles as VTK_TRIANGLE cells with the cell field "surface" ("surface_label" is
 * accepted on reading). */
#include "ct_mesh_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../io/ct_vtk.h"

/* The grid's VTK_TRIANGLE cells into m->tris / m->tri_label, labelled by the cell field "surface" (or
 * "surface_label"); each must carry a label 1..4 and be a face of a tet. */
static ct_status read_tris(const ct_vtk_grid *g, const char *path, ct_mesh *m)
{
    const size_t nt = ct_vtk_grid_n_tris(g);
    if (nt == 0)
        return CT_OK;
    const double *label;
    int nc;
    const char *name = "surface";
    if (ct_vtk_grid_tri_field(g, name, &label, &nc) != CT_OK) {
        name = "surface_label";
        if (ct_vtk_grid_tri_field(g, name, &label, &nc) != CT_OK)
            return ct_error_set(CT_ERR_PARSE, "%s: %zu triangle cells (the first is cell %zu) but no cell field "
                                "\"surface\" (or \"surface_label\") labelling them 1 (endo_lv), 2 (endo_rv), 3 (epi) "
                                "or 4 (base)", path, nt, ct_vtk_grid_tri_cell(g, 0));
    }
    if (nc != 1)
        return ct_error_set(CT_ERR_PARSE, "%s: cell field \"%s\" has %d components, expected 1", path, name, nc);
    m->tris = malloc(3 * nt * sizeof *m->tris);
    m->tri_label = malloc(nt * sizeof *m->tri_label);
    if (!m->tris || !m->tri_label)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu triangles", path, nt);
    m->n_tris = nt;
    memcpy(m->tris, ct_vtk_grid_tris(g), 3 * nt * sizeof *m->tris);
    for (size_t t = 0; t < nt; t++) {
        double v = label[t];
        if (!(v == CT_SURF_ENDO_LV || v == CT_SURF_ENDO_RV || v == CT_SURF_EPI || v == CT_SURF_BASE))
            return ct_error_set(CT_ERR_PARSE, "%s: cell %zu (a triangle): %s %g is not 1 (endo_lv), 2 (endo_rv), "
                                "3 (epi) or 4 (base)", path, ct_vtk_grid_tri_cell(g, t), name, v);
        m->tri_label[t] = (int32_t)v;
    }
    size_t bad;
    CT_CHECK(ct_mesh_first_stray_tri(m, &bad));
    if (bad < nt) {
        const int32_t *t = m->tris + 3 * bad;
        return ct_error_set(CT_ERR_MESH, "%s: cell %zu (a triangle, points %d %d %d) is not a face of any "
                            "tetrahedron", path, ct_vtk_grid_tri_cell(g, bad), (int)t[0], (int)t[1], (int)t[2]);
    }
    return CT_OK;
}

ct_status ct_mesh_read_vtu(const char *path, double unit_to_mm, ct_mesh **out)
{
    *out = NULL;
    ct_vtk_grid *g = NULL;
    CT_CHECK(ct_vtk_read_vtu(path, &g));
    const size_t nn = ct_vtk_grid_n_points(g), ne = ct_vtk_grid_n_tets(g);
    ct_mesh *m = NULL;
    ct_status st = ct_mesh_create(nn, ne, &m);
    if (st != CT_OK) {
        ct_vtk_grid_destroy(g);
        return st;
    }
    const double *x = ct_vtk_grid_points(g);
    for (size_t i = 0; i < 3 * nn; i++)
        m->xyz_mm[i] = x[i] * unit_to_mm;
    if (ne)
        memcpy(m->tets, ct_vtk_grid_tets(g), 4 * ne * sizeof *m->tets);

    const double *data;
    int nc;
    if (ct_vtk_grid_cell_field(g, "fibre", &data, &nc) == CT_OK ||
        ct_vtk_grid_cell_field(g, "fiber", &data, &nc) == CT_OK) {
        if (nc != 3) {
            st = ct_error_set(CT_ERR_PARSE, "%s: cell field \"fibre\" has %d components, expected 3", path, nc);
            goto fail;
        }
        for (size_t e = 0; e < ne; e++) {
            const double *f = data + 3 * e;
            double len = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
            if (!(len > 0.0) || !isfinite(len)) {
                st = ct_error_set(CT_ERR_PARSE, "%s: element %zu: fibre vector (%g, %g, %g) is zero or not finite",
                                  path, e, f[0], f[1], f[2]);
                goto fail;
            }
            for (int k = 0; k < 3; k++)
                m->fibre[3 * e + k] = f[k] / len;
        }
    }
    if (ct_vtk_grid_cell_field(g, "tissue", &data, &nc) == CT_OK) {
        if (nc != 1) {
            st = ct_error_set(CT_ERR_PARSE, "%s: cell field \"tissue\" has %d components, expected 1", path, nc);
            goto fail;
        }
        m->tissue = malloc((ne + 1) * sizeof *m->tissue);
        if (!m->tissue) {
            st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        for (size_t e = 0; e < ne; e++) {
            double t = data[e];
            if (!(t == CT_TISSUE_HEALTHY || t == CT_TISSUE_BORDER_ZONE || t == CT_TISSUE_SCAR)) {
                st = ct_error_set(CT_ERR_PARSE, "%s: element %zu: tissue %g is not 0 (healthy), 1 (border zone) "
                                  "or 2 (scar)", path, e, t);
                goto fail;
            }
            m->tissue[e] = (int32_t)t;
        }
    }
    st = read_tris(g, path, m);
    if (st != CT_OK)
        goto fail;
    ct_error_set(CT_OK, "%s", ""); /* clear the "no such field" message of the lookups above */
    ct_vtk_grid_destroy(g);
    *out = m;
    return CT_OK;
fail:
    ct_vtk_grid_destroy(g);
    ct_mesh_destroy(m);
    return st;
}

ct_status ct_mesh_write_vtu(const char *path, const ct_mesh *mesh)
{
    const size_t ne = mesh->n_tets, nt = mesh->tris ? mesh->n_tris : 0;
    if (nt == 0) {
        double *tissue = malloc((ne + 1) * sizeof *tissue);
        if (!tissue)
            return ct_error_set(CT_ERR_NOMEM, "%s: out of memory", path);
        for (size_t e = 0; e < ne; e++)
            tissue[e] = mesh->tissue ? (double)mesh->tissue[e] : 0.0;
        const ct_vtk_field cells[2] = {
            {.name = "fibre", .n_components = 3, .data = mesh->fibre},
            {.name = "tissue", .n_components = 1, .data = tissue},
        };
        ct_status st = ct_vtk_write_vtu(path, mesh->n_nodes, mesh->xyz_mm, ne, mesh->tets, NULL, 0, cells, 2);
        free(tissue);
        return st;
    }
    /* Tets, then the triangles; every cell field has a value per cell: the triangles get fibre 0 0 0 and
     * tissue 0, the tets surface 0. */
    const size_t nc = ne + nt;
    double *fibre = calloc(3 * nc + 1, sizeof *fibre);
    double *tissue = calloc(nc + 1, sizeof *tissue);
    double *surface = calloc(nc + 1, sizeof *surface);
    ct_status st = CT_OK;
    if (!fibre || !tissue || !surface) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", path);
    } else {
        if (ne)
            memcpy(fibre, mesh->fibre, 3 * ne * sizeof *fibre);
        for (size_t e = 0; e < ne; e++)
            tissue[e] = mesh->tissue ? (double)mesh->tissue[e] : 0.0;
        for (size_t t = 0; t < nt; t++)
            surface[ne + t] = mesh->tri_label ? (double)mesh->tri_label[t] : 0.0;
        const ct_vtk_field cells[3] = {
            {.name = "fibre", .n_components = 3, .data = fibre},
            {.name = "tissue", .n_components = 1, .data = tissue},
            {.name = "surface", .n_components = 1, .data = surface, .type = CT_VTK_INT32},
        };
        st = ct_vtk_write_vtu_tris(path, mesh->n_nodes, mesh->xyz_mm, ne, mesh->tets, nt, mesh->tris, NULL, 0,
                                   cells, 3);
    }
    free(fibre);
    free(tissue);
    free(surface);
    return st;
}
