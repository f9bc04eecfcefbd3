/* ct_mesh_vtu.c — meshes as VTK XML unstructured grids (.vtu), through the C API of io/ct_vtk.h.
 * Cell field "fibre" (3 components; "fiber" is accepted on reading) and "tissue" (1 component). */
#include "ct_mesh_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../io/ct_vtk.h"

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
    double *tissue = malloc((mesh->n_tets + 1) * sizeof *tissue);
    if (!tissue)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory", path);
    for (size_t e = 0; e < mesh->n_tets; e++)
        tissue[e] = mesh->tissue ? (double)mesh->tissue[e] : 0.0;
    const ct_vtk_field cells[2] = {
        {.name = "fibre", .n_components = 3, .data = mesh->fibre},
        {.name = "tissue", .n_components = 1, .data = tissue},
    };
    ct_status st = ct_vtk_write_vtu(path, mesh->n_nodes, mesh->xyz_mm, mesh->n_tets, mesh->tets, NULL, 0,
                                    cells, 2);
    free(tissue);
    return st;
}
