/* ct_surfaces_image.c — closed surfaces of the epicardium and the cavities to a label image (see the header). */
#include "ct_surfaces_image.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

ct_status ct_surfaces_label_image(const ct_trisurf *epi, const ct_trisurf *lv, const ct_trisurf *rv, double voxel_mm,
                                  size_t max_voxels, const char *const names[3], ct_image **out)
{
    *out = NULL;
    if (!(voxel_mm > 0) || !isfinite(voxel_mm))
        return ct_error_set(CT_ERR_CONFIG, "%s: voxel size %g mm must be > 0", names[0], voxel_mm);
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (size_t i = 0; i < epi->n_points; i++)
        for (int d = 0; d < 3; d++) {
            lo[d] = fmin(lo[d], epi->xyz_mm[3 * i + d]);
            hi[d] = fmax(hi[d], epi->xyz_mm[3 * i + d]);
        }
    int dims[3];
    double org[3], n = 1;
    for (int d = 0; d < 3; d++) {
        org[d] = lo[d] - 3 * voxel_mm;
        double cells = ceil((hi[d] - lo[d]) / voxel_mm) + 7;
        if (!(cells >= 2 && cells < 1e6))
            return ct_error_set(CT_ERR_CONFIG, "%s: the surface spans %g mm along axis %d: not a heart", names[0],
                                hi[d] - lo[d], d);
        dims[d] = (int)cells;
        n *= cells;
    }
    if (n > (double)max_voxels)
        return ct_error_set(CT_ERR_CONFIG, "%s: voxelising at %g mm needs %.0f voxels, more than %zu: give a larger "
                            "geometry.voxel_mm or h_mm", names[0], voxel_mm, n, max_voxels);
    double a[3][4];
    ct_image_placement((double[3]){voxel_mm, voxel_mm, voxel_mm}, NULL, org, a);
    ct_image *img = NULL;
    CT_CHECK(ct_image_create(dims, a, &img));
    size_t nv = ct_image_n_voxels(img);
    uint8_t *m_epi = malloc(nv), *m_cav = malloc(nv);
    ct_status st = CT_OK;
    if (!m_epi || !m_cav) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu voxels", names[0], nv);
        goto done;
    }
    if ((st = ct_vtk_surface_mask(epi, dims, a, names[0], m_epi)) != CT_OK)
        goto done;
    for (size_t i = 0; i < nv; i++)
        img->value[i] = m_epi[i] ? 1.0f : 0.0f;
    const ct_trisurf *cav[2] = {lv, rv};
    for (int c = 0; c < 2; c++) {
        if (!cav[c])
            continue;
        if ((st = ct_vtk_surface_mask(cav[c], dims, a, names[c + 1], m_cav)) != CT_OK)
            goto done;
        size_t in = 0, inside_epi = 0;
        for (size_t i = 0; i < nv; i++)
            if (m_cav[i]) {
                in++;
                inside_epi += m_epi[i];
                img->value[i] = c == 0 ? 3.0f : 4.0f;
            }
        if (in == 0 || (double)inside_epi < 0.9 * (double)in) {
            st = ct_error_set(CT_ERR_CONFIG, "%s: %zu of the cavity's %zu voxels lie inside the epicardium %s: the "
                              "surfaces do not describe one heart (other units or frames?)", names[c + 1], inside_epi,
                              in, names[0]);
            goto done;
        }
    }
done:
    free(m_epi);
    free(m_cav);
    if (st != CT_OK)
        ct_image_destroy(img);
    else
        *out = img;
    return st;
}
