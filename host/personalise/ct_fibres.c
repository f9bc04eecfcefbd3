/* ct_fibres.c — simplified LDRB fibres and sheets from the transmural and apicobasal gradients. */
#include "ct_fibres.h"
#include "core/ct_vec3.h"

#include <math.h>

#include "ct_laplace.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

ct_fibre_params ct_fibre_params_default(void)
{
    return (ct_fibre_params){.alpha_endo_deg = 60.0, .alpha_epi_deg = -60.0, .beta_endo_deg = -65.0,
                             .beta_epi_deg = 25.0};
}


/* Removes the component along unit u from v. */
static void reject(double v[3], const double u[3])
{
    double d = ct_dot3(v, u);
    for (int k = 0; k < 3; k++)
        v[k] -= d * u[k];
}

int ct_fibres_frame(const ct_mesh *mesh, const ct_ventricular_coords *coords, size_t e, double e_c[3],
                    double e_l[3], double e_t[3])
{
    const int32_t *t = mesh->tets + 4 * e;
    double c[3] = {0, 0, 0}, h = cbrt(6.0 * fabs(ct_mesh_tet_volume(mesh, e)));
    for (int a = 0; a < 4; a++)
        for (int k = 0; k < 3; k++)
            c[k] += 0.25 * mesh->xyz_mm[3 * (size_t)t[a] + k];
    /* Fields vary by O(1) over the wall: a gradient far below 1/(size of the heart) is noise. */
    double tiny = 1e-9 / fmax(h, 1e-300);
    int fallback = 0;
    ct_laplace_tet_gradient(mesh, e, coords->transmural, e_t);
    double nt = sqrt(ct_dot3(e_t, e_t));
    if (nt > tiny) {
        for (int k = 0; k < 3; k++)
            e_t[k] /= nt;
    } else {
        fallback = 1;
        for (int k = 0; k < 3; k++)
            e_t[k] = c[k] - coords->axis_point_mm[k];
        reject(e_t, coords->long_axis);
        nt = sqrt(ct_dot3(e_t, e_t));
        for (int k = 0; k < 3; k++)
            e_t[k] = nt > 0.0 ? e_t[k] / nt : coords->septum_dir[k];
    }
    ct_laplace_tet_gradient(mesh, e, coords->apicobasal, e_l);
    reject(e_l, e_t);
    double nl = sqrt(ct_dot3(e_l, e_l));
    if (!(nl > tiny)) {
        fallback = 1;
        for (int k = 0; k < 3; k++)
            e_l[k] = coords->long_axis[k];
        reject(e_l, e_t);
        nl = sqrt(ct_dot3(e_l, e_l));
        if (!(nl > 1e-12)) { /* e_t along the long axis (apex, base): any tangent will do */
            for (int k = 0; k < 3; k++)
                e_l[k] = coords->septum_dir[k];
            reject(e_l, e_t);
            nl = sqrt(ct_dot3(e_l, e_l));
        }
    }
    for (int k = 0; k < 3; k++)
        e_l[k] /= nl;
    ct_cross3(e_l, e_t, e_c);
    return fallback;
}

ct_status ct_fibres_compute(ct_mesh *mesh, const ct_ventricular_coords *coords, const ct_fibre_params *params,
                            double *sheet, size_t *n_fallback)
{
    ct_fibre_params def = ct_fibre_params_default();
    if (!params)
        params = &def;
    if (coords->n_nodes != mesh->n_nodes)
        return ct_error_set(CT_ERR_CONFIG, "fibres: coordinates for %zu nodes, mesh has %zu", coords->n_nodes,
                            mesh->n_nodes);
    size_t fallbacks = 0;
    const double deg = M_PI / 180.0;
    for (size_t e = 0; e < mesh->n_tets; e++) {
        double e_c[3], e_l[3], e_t[3];
        fallbacks += (size_t)ct_fibres_frame(mesh, coords, e, e_c, e_l, e_t);
        const int32_t *t = mesh->tets + 4 * e;
        double tm = 0.25 * (coords->transmural[t[0]] + coords->transmural[t[1]] + coords->transmural[t[2]] +
                            coords->transmural[t[3]]);
        double alpha = (params->alpha_endo_deg + (params->alpha_epi_deg - params->alpha_endo_deg) * tm) * deg;
        double beta = (params->beta_endo_deg + (params->beta_epi_deg - params->beta_endo_deg) * tm) * deg;
        double *f = mesh->fibre + 3 * e;
        for (int k = 0; k < 3; k++)
            f[k] = cos(alpha) * e_c[k] + sin(alpha) * e_l[k];
        double nf = sqrt(ct_dot3(f, f));
        for (int k = 0; k < 3; k++)
            f[k] /= nf;
        if (sheet) {
            double txf[3], *s = sheet + 3 * e;
            ct_cross3(e_t, f, txf);
            for (int k = 0; k < 3; k++)
                s[k] = cos(beta) * e_t[k] + sin(beta) * txf[k];
            double ns = sqrt(ct_dot3(s, s));
            for (int k = 0; k < 3; k++)
                s[k] /= ns;
        }
    }
    if (n_fallback)
        *n_fallback = fallbacks;
    return CT_OK;
}
