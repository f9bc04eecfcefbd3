/* ct_tet_grad.h — gradients of the P1 (linear) basis functions of one tetrahedron, header-only.
 *
 * For tet e with nodes p0..p3 (mm), grad_phi[k] (1/mm) is the constant gradient of the hat function of
 * node k, so the gradient of a nodal field u is sum_k u[tets[4e+k]] * grad_phi[k]. Used by the
 * FEM assembly (host/fem/ct_fem.c) and the metrics (conduction velocity, pseudo-ECG, repolarisation gradients).
 */
#ifndef CT_TET_GRAD_H
#define CT_TET_GRAD_H

#include <stddef.h>

#include "ct_mesh.h"
#include "core/ct_vec3.h"

/* Fills grad_phi[4][3] (1/mm) and returns the signed volume (mm^3); 0 for a degenerate tet, in which
 * case grad_phi is zeroed. */
static inline double ct_tet_basis_gradients(const ct_mesh *m, size_t e, double grad_phi[4][3])
{
    const int32_t *t = m->tets + 4 * e;
    const double *p0 = m->xyz_mm + 3 * (size_t)t[0];
    double a[3][3]; /* edge vectors p1-p0, p2-p0, p3-p0 */
    for (int k = 0; k < 3; k++)
        for (int d = 0; d < 3; d++)
            a[k][d] = m->xyz_mm[3 * (size_t)t[k + 1] + (size_t)d] - p0[d];
    double c[3][3];
    ct_cross3(a[1], a[2], c[0]);
    ct_cross3(a[2], a[0], c[1]);
    ct_cross3(a[0], a[1], c[2]);
    double det = ct_dot3(a[0], c[0]); /* 6 * volume */
    if (det == 0.0) {
        for (int k = 0; k < 4; k++)
            grad_phi[k][0] = grad_phi[k][1] = grad_phi[k][2] = 0.0;
        return 0.0;
    }
    for (int d = 0; d < 3; d++) {
        grad_phi[0][d] = 0.0;
        for (int k = 0; k < 3; k++) {
            grad_phi[k + 1][d] = c[k][d] / det;
            grad_phi[0][d] -= grad_phi[k + 1][d];
        }
    }
    return det / 6.0;
}

#endif /* CT_TET_GRAD_H */
