/* ct_ecg.c — pseudo-ECG electrodes as nodal weight vectors, 12-lead algebra, CSV output and QRS/QT
 * detection (see ct_ecg.h for the formula, the placement and the conventions). */
#include "metrics/ct_ecg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct_files.h"
#include "mesh/ct_tet_grad.h"

#define CT_PI 3.14159265358979323846

struct ct_ecg {
    size_t n_nodes;
    size_t n_elec;
    size_t n_leads;
    double *elec_xyz_mm; /* 3*n_elec */
    double *weights;     /* n_elec * n_nodes, electrode-major */
    double *lead_coef;   /* n_leads * n_elec: lead = sum_j coef * phi_j */
    char (*names)[24];   /* n_leads */
    double *times_ms;    /* n_samples */
    double *values;      /* n_samples * n_leads, sample-major */
    size_t n_samples, cap_samples;
    double *phi_scratch; /* n_elec */
};

static const char *const k12_names[CT_ECG_N_LEADS_12] = {"I", "II", "III", "aVR", "aVL", "aVF",
                                                         "V1", "V2", "V3", "V4", "V5", "V6"};

void ct_ecg_destroy(ct_ecg *ecg)
{
    if (!ecg)
        return;
    free(ecg->elec_xyz_mm);
    free(ecg->weights);
    free(ecg->lead_coef);
    free(ecg->names);
    free(ecg->times_ms);
    free(ecg->values);
    free(ecg->phi_scratch);
    free(ecg);
}

static ct_status ecg_alloc(size_t n_nodes, size_t n_elec, size_t n_leads, ct_ecg **out)
{
    ct_ecg *g = calloc(1, sizeof *g);
    if (!g)
        return ct_error_set(CT_ERR_NOMEM, "ct_ecg: out of memory");
    g->n_nodes = n_nodes;
    g->n_elec = n_elec;
    g->n_leads = n_leads;
    g->elec_xyz_mm = calloc(3 * n_elec, sizeof *g->elec_xyz_mm);
    g->weights = calloc(n_elec * (n_nodes ? n_nodes : 1), sizeof *g->weights);
    g->lead_coef = calloc(n_leads * n_elec, sizeof *g->lead_coef);
    g->names = calloc(n_leads, sizeof *g->names);
    g->phi_scratch = calloc(n_elec, sizeof *g->phi_scratch);
    if (!g->elec_xyz_mm || !g->weights || !g->lead_coef || !g->names || !g->phi_scratch) {
        ct_ecg_destroy(g);
        return ct_error_set(CT_ERR_NOMEM, "ct_ecg: out of memory (%zu nodes x %zu electrodes)", n_nodes, n_elec);
    }
    *out = g;
    return CT_OK;
}

static ct_status check_cond(const ct_ecg_conductivity *c, double *sigma_b)
{
    if (!c)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg: conductivities are required");
    if (!(c->sigma_il_S_per_m > 0.0) || !(c->sigma_it_S_per_m > 0.0) || !(c->sigma_b_S_per_m >= 0.0))
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg: conductivities must be > 0 (sigma_il %g, sigma_it %g, sigma_b %g S/m)",
                            c->sigma_il_S_per_m, c->sigma_it_S_per_m, c->sigma_b_S_per_m);
    *sigma_b = c->sigma_b_S_per_m > 0.0 ? c->sigma_b_S_per_m : 1.0;
    return CT_OK;
}

/* Fills the nodal weights of every electrode from its position: the nodes below g->n_nodes of m's elements. */
static ct_status build_weights(ct_ecg *g, const ct_mesh *m, const ct_ecg_conductivity *c, double sigma_b)
{
    const double sl = c->sigma_il_S_per_m, st = c->sigma_it_S_per_m;
    for (size_t e = 0; e < m->n_tets; e++) {
        double gp[4][3];
        double vol = ct_tet_basis_gradients(m, e, gp);
        if (!(vol > 0.0))
            return ct_error_set(CT_ERR_MESH, "ct_ecg: tet %zu has non-positive volume %g mm^3", e, vol);
        const int32_t *t = m->tets + 4 * e;
        double xc[3] = {0, 0, 0};
        for (int k = 0; k < 4; k++)
            for (int d = 0; d < 3; d++)
                xc[d] += 0.25 * m->xyz_mm[3 * (size_t)t[k] + (size_t)d];
        const double *f = m->fibre + 3 * e;
        for (size_t j = 0; j < g->n_elec; j++) {
            const double *x0 = g->elec_xyz_mm + 3 * j;
            double dx[3] = {xc[0] - x0[0], xc[1] - x0[1], xc[2] - x0[2]};
            double r2 = ct_dot3(dx, dx);
            if (!(r2 > 1e-12))
                return ct_error_set(CT_ERR_CONFIG, "ct_ecg: electrode %zu lies on the centroid of tet %zu", j, e);
            double r3 = r2 * sqrt(r2);
            double q[3] = {dx[0] / r3, dx[1] / r3, dx[2] / r3}; /* (x - x0)/r^3, 1/mm^2 */
            double qf = ct_dot3(q, f);
            double scale = vol / (4.0 * CT_PI * sigma_b);
            double w[3];
            for (int d = 0; d < 3; d++) /* sigma_i q = st q + (sl - st)(f.q) f */
                w[d] = scale * (st * q[d] + (sl - st) * qf * f[d]);
            double *cw = g->weights + j * g->n_nodes;
            for (int k = 0; k < 4; k++)
                if ((size_t)t[k] < g->n_nodes) /* a split run's rank keeps its owned nodes only */
                    cw[t[k]] += ct_dot3(w, gp[k]);
        }
    }
    return CT_OK;
}

static ct_status check_mesh(const ct_mesh *m, ct_ecg **out)
{
    if (!m || !out || !m->xyz_mm || !m->tets || !m->fibre)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg: mesh and output are required");
    return CT_OK;
}

ct_status ct_ecg_create_unipolar(const ct_mesh *mesh, const ct_ecg_conductivity *cond, size_t n_electrodes,
                                 const double *xyz_mm, ct_ecg **out)
{
    double sigma_b = 1.0;
    CT_CHECK(check_mesh(mesh, out));
    CT_CHECK(check_cond(cond, &sigma_b));
    if (n_electrodes == 0 || !xyz_mm)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg: at least one electrode position is required");
    ct_ecg *g = NULL;
    CT_CHECK(ecg_alloc(mesh->n_nodes, n_electrodes, n_electrodes, &g));
    memcpy(g->elec_xyz_mm, xyz_mm, 3 * n_electrodes * sizeof *xyz_mm);
    for (size_t j = 0; j < n_electrodes; j++) {
        g->lead_coef[j * n_electrodes + j] = 1.0;
        snprintf(g->names[j], sizeof g->names[j], "E%zu", j);
    }
    ct_status s = build_weights(g, mesh, cond, sigma_b);
    if (s != CT_OK) {
        ct_ecg_destroy(g);
        return s;
    }
    *out = g;
    return CT_OK;
}

static int normalise(double v[3])
{
    double n = sqrt(ct_dot3(v, v));
    if (!(n > 0.0))
        return 0;
    v[0] /= n, v[1] /= n, v[2] /= n;
    return 1;
}

ct_status ct_ecg_create(const ct_mesh *mesh, const ct_ecg_conductivity *cond, const ct_ecg_placement *placement,
                        ct_ecg **out)
{
    return ct_ecg_create_part(mesh, mesh, mesh ? mesh->n_nodes : 0, cond, placement, out);
}

ct_status ct_ecg_create_part(const ct_mesh *mesh, const ct_mesh *part, size_t n_keep,
                             const ct_ecg_conductivity *cond, const ct_ecg_placement *placement, ct_ecg **out)
{
    double sigma_b = 1.0;
    CT_CHECK(check_mesh(mesh, out));
    CT_CHECK(check_mesh(part, out));
    if (n_keep > part->n_nodes)
        return ct_error_set(CT_ERR_INTERNAL, "ct_ecg: %zu nodes kept of a part of %zu", n_keep, part->n_nodes);
    CT_CHECK(check_cond(cond, &sigma_b));
    ct_ecg_placement p = placement ? *placement : (ct_ecg_placement){0};
    double S[3] = {p.superior[0], p.superior[1], p.superior[2]};
    double A[3] = {p.anterior[0], p.anterior[1], p.anterior[2]};
    if (!normalise(S))
        S[0] = 0, S[1] = 0, S[2] = 1;
    if (ct_dot3(A, A) == 0.0)
        A[0] = 0, A[1] = 1, A[2] = 0;
    double sa = ct_dot3(A, S); /* Gram-Schmidt: anterior orthogonal to superior */
    for (int d = 0; d < 3; d++)
        A[d] -= sa * S[d];
    if (!normalise(A))
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg: anterior direction is parallel to the superior direction");
    double L[3];
    ct_cross3(S, A, L);
    double lim = p.limb_distance_radii > 0.0 ? p.limb_distance_radii : 10.0;
    double chest = p.chest_distance_radii > 0.0 ? p.chest_distance_radii : 2.0;

    /* The bounding box in the body frame (L, A, S), so that the electrodes turn with the mesh and its frame;
     * with the default frame it is the mesh's axis-aligned bounding box, exactly. */
    const double *axis[3] = {L, A, S};
    double lo[3], hi[3], c[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++)
        lo[k] = INFINITY, hi[k] = -INFINITY;
    for (size_t i = 0; i < mesh->n_nodes; i++)
        for (int k = 0; k < 3; k++) {
            double u = ct_dot3(mesh->xyz_mm + 3 * i, axis[k]);
            lo[k] = fmin(lo[k], u);
            hi[k] = fmax(hi[k], u);
        }
    double diag2 = 0.0;
    for (int k = 0; k < 3; k++) {
        for (int d = 0; d < 3; d++)
            c[d] += 0.5 * (lo[k] + hi[k]) * axis[k][d];
        diag2 += (hi[k] - lo[k]) * (hi[k] - lo[k]);
    }
    if (p.use_centre)
        memcpy(c, p.centre_mm, sizeof c);
    double R = 0.5 * sqrt(diag2);
    if (!(R > 0.0) || !isfinite(R))
        return ct_error_set(CT_ERR_MESH, "ct_ecg: mesh has an empty bounding box");

    double xyz[3 * CT_ECG_N_ELECTRODES_12];
    const double deg = CT_PI / 180.0;
    const double limb_deg[3] = {-150.0, -30.0, 90.0}; /* RA, LA, LL: from L towards inferior (-S) */
    for (int j = 0; j < 3; j++) {
        double th = limb_deg[j] * deg;
        for (int d = 0; d < 3; d++)
            xyz[3 * j + d] = c[d] + lim * R * (cos(th) * L[d] - sin(th) * S[d]);
    }
    for (int k = 0; k < 6; k++) { /* V1..V6: from A towards L */
        double th = (-30.0 + 24.0 * k) * deg;
        for (int d = 0; d < 3; d++)
            xyz[3 * (3 + k) + d] = c[d] + chest * R * (cos(th) * A[d] + sin(th) * L[d]);
    }

    ct_ecg *g = NULL;
    CT_CHECK(ecg_alloc(n_keep, CT_ECG_N_ELECTRODES_12, CT_ECG_N_LEADS_12, &g));
    memcpy(g->elec_xyz_mm, xyz, sizeof xyz);
    enum { RA = 0, LA = 1, LL = 2 };
    const size_t ne = CT_ECG_N_ELECTRODES_12;
    double *C = g->lead_coef;
    C[0 * ne + LA] = 1, C[0 * ne + RA] = -1;                               /* I */
    C[1 * ne + LL] = 1, C[1 * ne + RA] = -1;                               /* II */
    C[2 * ne + LL] = 1, C[2 * ne + LA] = -1;                               /* III */
    C[3 * ne + RA] = 1, C[3 * ne + LA] = -0.5, C[3 * ne + LL] = -0.5;      /* aVR */
    C[4 * ne + LA] = 1, C[4 * ne + RA] = -0.5, C[4 * ne + LL] = -0.5;      /* aVL */
    C[5 * ne + LL] = 1, C[5 * ne + RA] = -0.5, C[5 * ne + LA] = -0.5;      /* aVF */
    for (size_t k = 0; k < 6; k++) {                                       /* Vk - WCT */
        C[(6 + k) * ne + 3 + k] = 1.0;
        C[(6 + k) * ne + RA] = C[(6 + k) * ne + LA] = C[(6 + k) * ne + LL] = -1.0 / 3.0;
    }
    for (size_t l = 0; l < CT_ECG_N_LEADS_12; l++)
        snprintf(g->names[l], sizeof g->names[l], "%s", k12_names[l]);
    ct_status s = build_weights(g, part, cond, sigma_b);
    if (s != CT_OK) {
        ct_ecg_destroy(g);
        return s;
    }
    *out = g;
    return CT_OK;
}

ct_status ct_ecg_set_samples(ct_ecg *g, size_t n, const double *times_ms, const double *values)
{
    if (!g || (n > 0 && (!times_ms || !values)))
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg_set_samples: NULL argument");
    double *t = malloc((n + 1) * sizeof *t), *v = malloc((n * g->n_leads + 1) * sizeof *v);
    if (!t || !v) {
        free(t);
        free(v);
        return ct_error_set(CT_ERR_NOMEM, "ct_ecg_set_samples: out of memory (%zu samples)", n);
    }
    if (n > 0) {
        memcpy(t, times_ms, n * sizeof *t);
        memcpy(v, values, n * g->n_leads * sizeof *v);
    }
    free(g->times_ms);
    free(g->values);
    g->times_ms = t;
    g->values = v;
    g->n_samples = g->cap_samples = n;
    return CT_OK;
}

void ct_ecg_potentials(const ct_ecg *g, const double *vm_mV, double *phi_mV)
{
    for (size_t j = 0; j < g->n_elec; j++) {
        const double *w = g->weights + j * g->n_nodes;
        double phi = 0.0;
        for (size_t i = 0; i < g->n_nodes; i++)
            phi += w[i] * vm_mV[i];
        phi_mV[j] = phi;
    }
}

ct_status ct_ecg_sample(ct_ecg *g, const double *vm_mV, double t_ms)
{
    if (!g || !vm_mV)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg_sample: NULL argument");
    ct_ecg_potentials(g, vm_mV, g->phi_scratch);
    return ct_ecg_append(g, g->phi_scratch, t_ms);
}

ct_status ct_ecg_append(ct_ecg *g, const double *phi_mV, double t_ms)
{
    if (!g || !phi_mV)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg_append: NULL argument");
    if (g->n_samples == g->cap_samples) {
        size_t cap = g->cap_samples ? 2 * g->cap_samples : 256;
        double *t = realloc(g->times_ms, cap * sizeof *t);
        if (!t)
            return ct_error_set(CT_ERR_NOMEM, "ct_ecg_sample: out of memory (%zu samples)", cap);
        g->times_ms = t;
        double *v = realloc(g->values, cap * g->n_leads * sizeof *v);
        if (!v)
            return ct_error_set(CT_ERR_NOMEM, "ct_ecg_sample: out of memory (%zu samples)", cap);
        g->values = v;
        g->cap_samples = cap;
    }
    double *row = g->values + g->n_samples * g->n_leads;
    for (size_t l = 0; l < g->n_leads; l++) {
        double v = 0.0;
        for (size_t j = 0; j < g->n_elec; j++)
            v += g->lead_coef[l * g->n_elec + j] * phi_mV[j];
        row[l] = v;
    }
    g->times_ms[g->n_samples++] = t_ms;
    return CT_OK;
}

size_t ct_ecg_n_leads(const ct_ecg *g) { return g->n_leads; }
size_t ct_ecg_n_electrodes(const ct_ecg *g) { return g->n_elec; }
size_t ct_ecg_n_samples(const ct_ecg *g) { return g->n_samples; }
const char *ct_ecg_lead_name(const ct_ecg *g, size_t lead) { return lead < g->n_leads ? g->names[lead] : ""; }

double ct_ecg_value(const ct_ecg *g, size_t s, size_t lead)
{
    return (s < g->n_samples && lead < g->n_leads) ? g->values[s * g->n_leads + lead] : NAN;
}

double ct_ecg_time(const ct_ecg *g, size_t s) { return s < g->n_samples ? g->times_ms[s] : NAN; }

void ct_ecg_electrode_position(const ct_ecg *g, size_t j, double xyz_mm[3])
{
    for (int d = 0; d < 3; d++)
        xyz_mm[d] = j < g->n_elec ? g->elec_xyz_mm[3 * j + (size_t)d] : NAN;
}

const double *ct_ecg_electrode_weights(const ct_ecg *g, size_t j)
{
    return j < g->n_elec ? g->weights + j * g->n_nodes : NULL;
}

ct_status ct_ecg_write_csv(const ct_ecg *g, const char *path)
{
    if (!g || !path)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg_write_csv: NULL argument");
    size_t cap = 64 + g->n_leads * 20 + g->n_samples * (g->n_leads + 1) * 26;
    char *buf = malloc(cap);
    if (!buf)
        return ct_error_set(CT_ERR_NOMEM, "ct_ecg_write_csv: out of memory (%zu bytes)", cap);
    size_t len = (size_t)snprintf(buf, cap, "time_ms");
    for (size_t l = 0; l < g->n_leads; l++)
        len += (size_t)snprintf(buf + len, cap - len, ",%s", g->names[l]);
    len += (size_t)snprintf(buf + len, cap - len, "\n");
    for (size_t s = 0; s < g->n_samples; s++) {
        len += (size_t)snprintf(buf + len, cap - len, "%.6g", g->times_ms[s]);
        for (size_t l = 0; l < g->n_leads; l++)
            len += (size_t)snprintf(buf + len, cap - len, ",%.17g", g->values[s * g->n_leads + l]); /* exact */
        len += (size_t)snprintf(buf + len, cap - len, "\n");
    }
    ct_status st = len < cap ? ct_write_file_atomic(path, buf, len)
                             : ct_error_set(CT_ERR_INTERNAL, "ct_ecg_write_csv: buffer too small");
    free(buf);
    return st;
}

ct_status ct_ecg_intervals_from_signal(const double *t, const double *y, size_t n,
                                       const ct_ecg_interval_params *params, ct_ecg_intervals *out)
{
    if (!t || !y || !out)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg_intervals: NULL argument");
    *out = (ct_ecg_intervals){NAN, NAN, NAN, NAN, NAN, NAN};
    if (n < 3)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg_intervals: need at least 3 samples (got %zu)", n);
    ct_ecg_interval_params p = params ? *params : (ct_ecg_interval_params){0};
    double frac = p.qrs_slope_fraction > 0 ? p.qrs_slope_fraction : 0.1;
    double qrs_max = p.qrs_max_ms > 0 ? p.qrs_max_ms : 200.0;
    double gap = p.t_min_gap_ms > 0 ? p.t_min_gap_ms : 10.0;
    double t_frac = p.t_min_fraction > 0 ? p.t_min_fraction : 0.02;

    double *s = malloc(n * sizeof *s); /* d y / dt */
    if (!s)
        return ct_error_set(CT_ERR_NOMEM, "ct_ecg_intervals: out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t a = i > 0 ? i - 1 : 0, b = i + 1 < n ? i + 1 : n - 1;
        double dt = t[b] - t[a];
        s[i] = dt > 0 ? (y[b] - y[a]) / dt : 0.0;
    }
    double smax = 0.0;
    for (size_t i = 0; i < n; i++)
        smax = fmax(smax, fabs(s[i]));
    ct_status st = CT_OK;
    if (!(smax > 0.0)) {
        free(s);
        return CT_OK; /* flat signal: nothing found */
    }
    double thr = frac * smax;
    size_t on = 0;
    while (on < n && fabs(s[on]) < thr)
        on++;
    size_t off = on;
    for (size_t i = on; i < n && t[i] <= t[on] + qrs_max; i++)
        if (fabs(s[i]) >= thr)
            off = i;
    out->qrs_onset_ms = t[on];
    out->qrs_offset_ms = t[off];
    out->qrs_ms = t[off] - t[on];

    double qrs_peak = 0.0;
    for (size_t i = on; i <= off; i++)
        qrs_peak = fmax(qrs_peak, fabs(y[i]));
    double baseline = y[on];
    size_t tp = n;
    for (size_t i = off; i < n; i++)
        if (t[i] >= t[off] + gap && (tp == n || y[i] > y[tp]))
            tp = i;
    if (tp < n && y[tp] - baseline >= t_frac * qrs_peak && tp + 1 < n) {
        size_t steep = tp; /* most negative slope after the T peak */
        for (size_t i = tp; i < n; i++)
            if (s[i] < s[steep])
                steep = i;
        /* A T wave is one that ended within the recording: the trace came at least halfway back down from
         * its peak to the baseline, and the tangent reaches the baseline before the last sample (a run cut
         * short during the plateau, where nothing repolarised, has neither: its QT is not known). */
        double lowest_after = y[tp];
        for (size_t i = tp; i < n; i++)
            lowest_after = fmin(lowest_after, y[i]);
        int came_down = lowest_after <= baseline + 0.5 * (y[tp] - baseline);
        double t_end = s[steep] < 0.0 ? t[steep] + (y[steep] - baseline) / (-s[steep]) : NAN;
        if (came_down && t_end <= t[n - 1]) {
            out->t_peak_ms = t[tp];
            out->t_end_ms = t_end;
            out->qt_ms = out->t_end_ms - out->qrs_onset_ms;
        }
    }
    free(s);
    return st;
}

ct_status ct_ecg_intervals_compute(const ct_ecg *g, const ct_ecg_interval_params *params, ct_ecg_intervals *out)
{
    if (!g || !out)
        return ct_error_set(CT_ERR_CONFIG, "ct_ecg_intervals: NULL argument");
    size_t n = g->n_samples;
    double *rms = malloc((n ? n : 1) * sizeof *rms);
    if (!rms)
        return ct_error_set(CT_ERR_NOMEM, "ct_ecg_intervals: out of memory");
    for (size_t i = 0; i < n; i++) {
        double acc = 0.0;
        for (size_t l = 0; l < g->n_leads; l++) {
            double v = g->values[i * g->n_leads + l];
            acc += v * v;
        }
        rms[i] = sqrt(acc / (double)g->n_leads);
    }
    ct_status st = ct_ecg_intervals_from_signal(g->times_ms, rms, n, params, out);
    free(rms);
    return st;
}
