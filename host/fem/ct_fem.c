/* ct_fem.c — element stiffness and lumped mass assembly for linear tetrahedra. */
#include "ct_fem.h"

#include "mesh/ct_tet_grad.h"

#include <math.h>
#include <stdlib.h>

double ct_fem_diffusivity(double sigma_S_per_m, double chi_per_mm, double cm_uF_per_mm2)
{
    /* sigma [S/m] = 1e-3 S/mm; S/uF = 1e6 1/s = 1e3 1/ms: the two factors cancel. */
    return sigma_S_per_m / (chi_per_mm * cm_uF_per_mm2);
}

ct_status ct_fem_assemble(const ct_mesh *mesh, const ct_conductivity *cond, const double *sigma_scale,
                          ct_csr **stiffness, double *lumped_mass_mm3, ct_csr **consistent_mass)
{
    *stiffness = NULL;
    if (consistent_mass)
        *consistent_mass = NULL;
    if (!(cond->chi_per_mm > 0) || !(cond->cm_uF_per_mm2 > 0) || !(cond->sigma_l_S_per_m >= 0) ||
        !(cond->sigma_t_S_per_m >= 0))
        return ct_error_set(CT_ERR_CONFIG, "conductivity: sigma must be >= 0, chi and Cm > 0");
    ct_csr *k_mat;
    CT_CHECK(ct_csr_from_tets(mesh->n_nodes, mesh->n_tets, mesh->tets, &k_mat));
    ct_csr *m_mat = NULL;
    if (consistent_mass) {
        ct_status st = ct_csr_from_tets(mesh->n_nodes, mesh->n_tets, mesh->tets, &m_mat);
        if (st != CT_OK) {
            ct_csr_destroy(k_mat);
            return st;
        }
    }
    double d_l = ct_fem_diffusivity(cond->sigma_l_S_per_m, cond->chi_per_mm, cond->cm_uF_per_mm2);
    double d_t = ct_fem_diffusivity(cond->sigma_t_S_per_m, cond->chi_per_mm, cond->cm_uF_per_mm2);
    for (size_t i = 0; i < mesh->n_nodes; i++)
        lumped_mass_mm3[i] = 0.0;
    for (size_t e = 0; e < mesh->n_tets; e++) {
        const int32_t *t = mesh->tets + 4 * e;
        double g[4][3];
        double vol = ct_tet_basis_gradients(mesh, e, g);
        double s = sigma_scale ? sigma_scale[e] : 1.0;
        const double *f = mesh->fibre + 3 * e;
        double d[3][3];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
                d[r][c] = s * ((r == c ? d_t : 0.0) + (d_l - d_t) * f[r] * f[c]);
        for (int a = 0; a < 4; a++) {
            lumped_mass_mm3[t[a]] += vol / 4.0;
            double dg[3];
            for (int r = 0; r < 3; r++)
                dg[r] = d[r][0] * g[a][0] + d[r][1] * g[a][1] + d[r][2] * g[a][2];
            for (int b = 0; b < 4; b++) {
                long idx = ct_csr_find(k_mat, (size_t)t[b], (size_t)t[a]);
                k_mat->val[idx] += vol * (g[b][0] * dg[0] + g[b][1] * dg[1] + g[b][2] * dg[2]);
                if (m_mat) /* identical pattern, identical index */
                    m_mat->val[idx] += vol * (a == b ? 2.0 : 1.0) / 20.0;
            }
        }
    }
    *stiffness = k_mat;
    if (consistent_mass)
        *consistent_mass = m_mat;
    return CT_OK;
}

double ct_fem_max_rate_bound(const ct_csr *k, const double *m)
{
    return ct_fem_max_rate_bound_rows(k, m, k->n);
}

double ct_fem_max_rate_bound_rows(const ct_csr *k, const double *m, size_t n_rows)
{
    double bound = 0.0;
    for (size_t i = 0; i < n_rows && i < k->n; i++) {
        double s = 0.0;
        for (int32_t p = k->row_ptr[i]; p < k->row_ptr[i + 1]; p++)
            s += fabs(k->val[p]);
        if (s / m[i] > bound)
            bound = s / m[i];
    }
    return bound;
}
