/* ct_cv_map.c — conduction velocity per element from nodal activation times (see ct_cv_map.h). */
#include "metrics/ct_cv_map.h"

#include <math.h>
#include <stdlib.h>

#include "mesh/ct_tet_grad.h"

ct_status ct_cv_map_capped(const ct_mesh *mesh, const double *act_ms, double max_speed_m_per_s,
                           double *speed_m_per_s, double *along_m_per_s, double *across_m_per_s)
{
    if (!mesh || !act_ms || !speed_m_per_s)
        return ct_error_set(CT_ERR_CONFIG, "ct_cv_map: mesh, activation times and speed output are required");
    if (!(max_speed_m_per_s > 0.0))
        return ct_error_set(CT_ERR_CONFIG, "ct_cv_map: speed cap must be > 0 m/s (got %g)", max_speed_m_per_s);
    /* |g| >= 1/cap: compare squared gradients, no division on the fast path. */
    const double min_g2 = isinf(max_speed_m_per_s) ? 0.0 : 1.0 / (max_speed_m_per_s * max_speed_m_per_s);

    for (size_t e = 0; e < mesh->n_tets; e++) {
        double speed = NAN, along = NAN, across = NAN;
        const int32_t *t = mesh->tets + 4 * e;
        int activated = 1;
        for (int k = 0; k < 4; k++) {
            double a = act_ms[t[k]];
            if (!(a >= 0.0) || !isfinite(a))
                activated = 0;
        }
        if (activated) {
            double gp[4][3];
            if (ct_tet_basis_gradients(mesh, e, gp) == 0.0)
                return ct_error_set(CT_ERR_MESH, "ct_cv_map: tet %zu is degenerate", e);
            double g[3] = {0, 0, 0};
            for (int k = 0; k < 4; k++)
                for (int d = 0; d < 3; d++)
                    g[d] += act_ms[t[k]] * gp[k][d];
            double g2 = ct_dot3(g, g);
            if (g2 > min_g2 && g2 > 0.0) {
                double v[3] = {g[0] / g2, g[1] / g2, g[2] / g2}; /* mm/ms */
                const double *f = mesh->fibre + 3 * e;
                double vf = ct_dot3(v, f);
                double vt[3] = {v[0] - vf * f[0], v[1] - vf * f[1], v[2] - vf * f[2]};
                speed = 1.0 / sqrt(g2);
                along = fabs(vf);
                across = sqrt(ct_dot3(vt, vt));
            }
        }
        speed_m_per_s[e] = speed;
        if (along_m_per_s)
            along_m_per_s[e] = along;
        if (across_m_per_s)
            across_m_per_s[e] = across;
    }
    return CT_OK;
}

ct_status ct_cv_map(const ct_mesh *mesh, const double *act_ms, double *speed_m_per_s, double *along_m_per_s,
                    double *across_m_per_s)
{
    return ct_cv_map_capped(mesh, act_ms, CT_CV_MAX_SPEED_M_PER_S, speed_m_per_s, along_m_per_s, across_m_per_s);
}

ct_status ct_cv_directional(const double *speed, const double *along_component, size_t n_tets, double max_angle_deg,
                            double *along_speed, double *across_speed)
{
    if (!speed || !along_component)
        return ct_error_set(CT_ERR_CONFIG, "ct_cv_directional: speed and along-fibre component are required");
    if (!(max_angle_deg > 0.0 && max_angle_deg <= 45.0))
        return ct_error_set(CT_ERR_CONFIG, "ct_cv_directional: angle %g deg is outside (0, 45]", max_angle_deg);
    const double a = max_angle_deg * 3.14159265358979323846 / 180.0, cos_along = cos(a), cos_across = sin(a);
    for (size_t e = 0; e < n_tets; e++) {
        double s = speed[e], c = along_component[e] / s; /* |cos| of the angle between front and fibre */
        int valid = isfinite(s) && s > 0.0 && isfinite(c);
        if (along_speed)
            along_speed[e] = valid && c >= cos_along ? s : NAN;
        if (across_speed)
            across_speed[e] = valid && c <= cos_across ? s : NAN;
    }
    return CT_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile_sorted(const double *s, size_t n, double p)
{
    double r = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(r);
    if (i + 1 >= n)
        return s[n - 1];
    double w = r - (double)i;
    return s[i] * (1.0 - w) + s[i + 1] * w;
}

ct_status ct_cv_summarise(const double *values, size_t n, ct_cv_summary *out)
{
    if (!out || (n > 0 && !values))
        return ct_error_set(CT_ERR_CONFIG, "ct_cv_summarise: NULL argument");
    *out = (ct_cv_summary){.median = NAN, .p05 = NAN, .p95 = NAN, .mean = NAN};
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return ct_error_set(CT_ERR_NOMEM, "ct_cv_summarise: out of memory (%zu values)", n);
    size_t m = 0;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i])) {
            s[m++] = values[i];
            sum += values[i];
        }
    out->n_valid = m;
    out->n_invalid = n - m;
    if (m > 0) {
        qsort(s, m, sizeof *s, cmp_double);
        out->median = percentile_sorted(s, m, 50.0);
        out->p05 = percentile_sorted(s, m, 5.0);
        out->p95 = percentile_sorted(s, m, 95.0);
        out->mean = sum / (double)m;
    }
    free(s);
    return CT_OK;
}
