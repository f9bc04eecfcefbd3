/* ct_gradient.c — element gradients of a nodal time field. */
#include "ct_gradient.h"

#include <math.h>

#include "mesh/ct_tet_grad.h"

ct_status ct_gradient_stats_compute(const ct_mesh *m, const double *t, double threshold, ct_gradient_stats *out)
{
    out->max_ms_per_mm = NAN;
    out->volume_above_mm3 = 0.0;
    out->volume_valid_mm3 = 0.0;
    for (size_t e = 0; e < m->n_tets; e++) {
        const int32_t *tet = m->tets + 4 * e;
        int valid = 1;
        for (int a = 0; a < 4; a++)
            valid &= t[tet[a]] >= 0.0;
        if (!valid)
            continue;
        double g[4][3], grad[3] = {0, 0, 0};
        double vol = ct_tet_basis_gradients(m, e, g);
        if (vol <= 0.0)
            return ct_error_set(CT_ERR_MESH, "element %zu is degenerate", e);
        for (int a = 0; a < 4; a++)
            for (int d = 0; d < 3; d++)
                grad[d] += t[tet[a]] * g[a][d];
        double mag = sqrt(grad[0] * grad[0] + grad[1] * grad[1] + grad[2] * grad[2]);
        if (isnan(out->max_ms_per_mm) || mag > out->max_ms_per_mm)
            out->max_ms_per_mm = mag;
        out->volume_valid_mm3 += vol;
        if (mag > threshold)
            out->volume_above_mm3 += vol;
    }
    return CT_OK;
}
