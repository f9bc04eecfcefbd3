/* ct_aha.c — AHA 17-segment labels from ventricular coordinates at element centroids. */
#include "ct_aha.h"

#include <math.h>

int ct_aha_segment_of(double axial, double rotational_deg, double cavity_tip_axial)
{
    if (axial <= cavity_tip_axial)
        return 17;
    double u = (axial - cavity_tip_axial) / (1.0 - cavity_tip_axial);
    double r = fmod(fmod(rotational_deg, 360.0) + 360.0, 360.0);
    if (u < 1.0 / 3.0) {
        int k = (int)(fmod(r - 15.0 + 360.0, 360.0) / 90.0);
        k = k > 3 ? 3 : k;
        return 13 + (k + 1) % 4;
    }
    int k = (int)(r / 60.0);
    k = k > 5 ? 5 : k;
    return (u < 2.0 / 3.0 ? 7 : 1) + (k + 1) % 6;
}

ct_status ct_aha_segments(const ct_mesh *mesh, const ct_ventricular_coords *coords, int8_t *segment)
{
    if (coords->n_nodes != mesh->n_nodes)
        return ct_error_set(CT_ERR_CONFIG, "aha: coordinates for %zu nodes, mesh has %zu", coords->n_nodes,
                            mesh->n_nodes);
    if (!(coords->lv_cavity_tip_axial < 1.0))
        return ct_error_set(CT_ERR_MESH, "aha: the LV cavity tip lies at the base (axial %g)",
                            coords->lv_cavity_tip_axial);
    for (size_t e = 0; e < mesh->n_tets; e++) {
        const int32_t *t = mesh->tets + 4 * e;
        double c[3] = {0, 0, 0}, axial = 0.0, rv = 0.0;
        for (int a = 0; a < 4; a++) {
            for (int k = 0; k < 3; k++)
                c[k] += 0.25 * mesh->xyz_mm[3 * (size_t)t[a] + k];
            axial += 0.25 * coords->axial[t[a]];
            rv += 0.25 * coords->rv[t[a]];
        }
        segment[e] = rv > 0.5 ? 0
                              : (int8_t)ct_aha_segment_of(axial, ct_coords_rotational_deg(coords, c),
                                                          coords->lv_cavity_tip_axial);
    }
    return CT_OK;
}
