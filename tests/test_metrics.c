/* test_metrics.c — conduction-velocity maps and the pseudo-ECG (sign, 12-lead algebra, QRS/QT). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ct_files.h"
#include "mesh/ct_mesh.h"
#include "metrics/ct_cv_map.h"
#include "metrics/ct_ecg.h"
#include "metrics/ct_gradient.h"

#define PI 3.14159265358979323846

static ct_mesh *box(const double size[3], double dx, const double fibre[3])
{
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box(size, dx, fibre, &m), CT_OK, "%s", ct_error_message());
    return m;
}

/* Runs the CV map on t = (x cos a + y sin a) / speed and checks every element. */
static void check_planar(const double fibre[3], double angle, double speed, double want_along, double want_across)
{
    static const double size[3] = {2.0, 2.0, 1.0};
    ct_mesh *m = box(size, 0.25, fibre);
    double *act = malloc(m->n_nodes * sizeof *act);
    double *sp = malloc(m->n_tets * sizeof *sp), *al = malloc(m->n_tets * sizeof *al),
           *ac = malloc(m->n_tets * sizeof *ac);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *p = m->xyz_mm + 3 * i;
        act[i] = 5.0 + (p[0] * cos(angle) + p[1] * sin(angle)) / speed; /* offset keeps t >= 0 */
    }
    cr_assert_eq(ct_cv_map(m, act, sp, al, ac), CT_OK, "%s", ct_error_message());
    for (size_t e = 0; e < m->n_tets; e++) {
        cr_assert_float_eq(sp[e], speed, 1e-9, "tet %zu speed %g", e, sp[e]);
        cr_assert_float_eq(al[e], want_along, 1e-9, "tet %zu along %g", e, al[e]);
        cr_assert_float_eq(ac[e], want_across, 1e-9, "tet %zu across %g", e, ac[e]);
    }
    ct_cv_summary s;
    cr_assert_eq(ct_cv_summarise(sp, m->n_tets, &s), CT_OK);
    cr_assert_eq(s.n_valid, m->n_tets);
    cr_assert_float_eq(s.median, speed, 1e-9);
    cr_assert_float_eq(s.p05, speed, 1e-9);
    cr_assert_float_eq(s.p95, speed, 1e-9);
    free(act), free(sp), free(al), free(ac);
    ct_mesh_destroy(m);
}

Test(cv_map, plane_wave_along_x_with_fibres_along_x)
{
    check_planar((const double[3]){1, 0, 0}, 0.0, 0.6, 0.6, 0.0);
}

Test(cv_map, plane_wave_along_x_with_fibres_along_y)
{
    check_planar((const double[3]){0, 1, 0}, 0.0, 0.6, 0.0, 0.6);
}

Test(cv_map, oblique_plane_wave)
{
    double a = 30.0 * PI / 180.0;
    check_planar((const double[3]){1, 0, 0}, a, 0.5, 0.5 * cos(a), 0.5 * sin(a));
}

Test(cv_map, unactivated_and_too_fast_elements_are_nan)
{
    static const double size[3] = {1.0, 1.0, 1.0};
    ct_mesh *m = box(size, 0.5, (const double[3]){1, 0, 0});
    double *act = malloc(m->n_nodes * sizeof *act);
    double *sp = malloc(m->n_tets * sizeof *sp), *al = malloc(m->n_tets * sizeof *al);
    for (size_t i = 0; i < m->n_nodes; i++)
        act[i] = 3.0; /* simultaneous activation: infinite speed */
    cr_assert_eq(ct_cv_map(m, act, sp, al, NULL), CT_OK);
    for (size_t e = 0; e < m->n_tets; e++)
        cr_assert(isnan(sp[e]) && isnan(al[e]));
    for (size_t i = 0; i < m->n_nodes; i++)
        act[i] = m->xyz_mm[3 * i] / 0.6;
    act[0] = -1.0; /* node 0 never activated */
    cr_assert_eq(ct_cv_map(m, act, sp, NULL, NULL), CT_OK);
    size_t n_nan = 0;
    for (size_t e = 0; e < m->n_tets; e++) {
        int touches = 0;
        for (int k = 0; k < 4; k++)
            touches |= m->tets[4 * e + (size_t)k] == 0;
        if (touches) {
            cr_assert(isnan(sp[e]));
            n_nan++;
        } else
            cr_assert_float_eq(sp[e], 0.6, 1e-9);
    }
    cr_assert_gt(n_nan, 0u);
    ct_cv_summary s;
    cr_assert_eq(ct_cv_summarise(sp, m->n_tets, &s), CT_OK);
    cr_assert_eq(s.n_invalid, n_nan);
    cr_assert_float_eq(s.median, 0.6, 1e-9);
    /* the cap: 0.6 m/s is above a 0.5 m/s cap */
    cr_assert_eq(ct_cv_map_capped(m, act, 0.5, sp, NULL, NULL), CT_OK);
    for (size_t e = 0; e < m->n_tets; e++)
        cr_assert(isnan(sp[e]));
    cr_assert_eq(ct_cv_map_capped(m, act, 0.0, sp, NULL, NULL), CT_ERR_CONFIG);
    free(act), free(sp), free(al);
    ct_mesh_destroy(m);
}

/* A front spreading from a point at 0.6 m/s in every direction (t = r / 0.6) with fibres along x: the CV
 * along the fibres is 0.6 m/s, the speed of the fronts travelling along x; the velocity's component along x,
 * averaged over all directions, is much less and is not what "CV along fibres" means. */
Test(cv_map, directional_speed_of_a_point_source)
{
    static const double size[3] = {4.0, 4.0, 1.0};
    ct_mesh *m = box(size, 0.25, (const double[3]){1, 0, 0});
    size_t ne = m->n_tets;
    double *act = malloc(m->n_nodes * sizeof *act);
    double *sp = malloc(ne * sizeof *sp), *al = malloc(ne * sizeof *al), *ac = malloc(ne * sizeof *ac);
    double *al_speed = malloc(ne * sizeof *al_speed), *ac_speed = malloc(ne * sizeof *ac_speed);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *p = m->xyz_mm + 3 * i;
        act[i] = sqrt(p[0] * p[0] + p[1] * p[1]) / 0.6; /* a line source along z through the corner */
    }
    cr_assert_eq(ct_cv_map(m, act, sp, al, ac), CT_OK, "%s", ct_error_message());
    ct_cv_summary comp, s_al, s_ac;
    cr_assert_eq(ct_cv_summarise(al, ne, &comp), CT_OK);
    cr_assert_eq(ct_cv_directional(sp, al, ne, CT_CV_DIRECTION_TOLERANCE_DEG, al_speed, ac_speed), CT_OK);
    cr_assert_eq(ct_cv_summarise(al_speed, ne, &s_al), CT_OK);
    cr_assert_eq(ct_cv_summarise(ac_speed, ne, &s_ac), CT_OK);
    cr_log_info("point source: component along fibres median %.3f m/s; speed along %.3f (%zu elements), across "
                "%.3f (%zu)", comp.median, s_al.median, s_al.n_valid, s_ac.median, s_ac.n_valid);
    cr_assert_lt(comp.median, 0.5, "the component is the wrong measure here: %g", comp.median);
    cr_assert_gt(s_al.n_valid, ne / 10);
    cr_assert_gt(s_ac.n_valid, ne / 10);
    cr_assert_float_eq(s_al.median, 0.6, 0.03, "speed along the fibres %g m/s", s_al.median);
    cr_assert_float_eq(s_ac.median, 0.6, 0.03, "speed across the fibres %g m/s", s_ac.median);
    for (size_t e = 0; e < ne; e++) {
        if (isnan(sp[e]))
            continue;
        double cosang = al[e] / sp[e];
        cr_assert_eq(!isnan(al_speed[e]), cosang >= cos(30.0 * PI / 180.0), "tet %zu", e);
        cr_assert_eq(!isnan(ac_speed[e]), cosang <= 0.5 + 1e-12, "tet %zu", e);
    }
    /* in place, and the argument checks */
    cr_assert_eq(ct_cv_directional(sp, al, ne, 30.0, al, NULL), CT_OK);
    for (size_t e = 0; e < ne; e++)
        cr_assert(memcmp(&al[e], &al_speed[e], sizeof al[e]) == 0 || (isnan(al[e]) && isnan(al_speed[e])));
    cr_assert_eq(ct_cv_directional(sp, al, ne, 0.0, al, NULL), CT_ERR_CONFIG);
    cr_assert_eq(ct_cv_directional(sp, al, ne, 60.0, al, NULL), CT_ERR_CONFIG);
    cr_assert_eq(ct_cv_directional(NULL, al, ne, 30.0, al, NULL), CT_ERR_CONFIG);
    free(act), free(sp), free(al), free(ac), free(al_speed), free(ac_speed);
    ct_mesh_destroy(m);
}

Test(cv_summary, percentiles)
{
    double v[101];
    for (int i = 0; i <= 100; i++)
        v[i] = (double)(100 - i); /* 0..100, unsorted */
    v[7] = NAN;                   /* drops 93 */
    ct_cv_summary s;
    cr_assert_eq(ct_cv_summarise(v, 101, &s), CT_OK);
    cr_assert_eq(s.n_valid, 100u);
    cr_assert_eq(s.n_invalid, 1u);
    cr_assert_float_eq(s.median, 49.5, 1e-12); /* 0..92, 94..100: ranks 49, 50 = 49, 50 */
    cr_assert_float_eq(s.p05, 4.95, 1e-12);
    cr_assert(s.p95 > 94.0 && s.p95 < 96.0);
    cr_assert_eq(ct_cv_summarise(v, 0, &s), CT_OK);
    cr_assert(isnan(s.median));
}

/* ---- pseudo-ECG of a plane depolarisation front crossing a slab along +x ---- */

static const double slab_mm[3] = {10.0, 2.0, 2.0};
static const double front_speed_mm_per_ms = 0.5; /* crosses the slab in 20 ms */
static const ct_ecg_conductivity ecg_cond = {.sigma_il_S_per_m = 0.17, .sigma_it_S_per_m = 0.019,
                                             .sigma_b_S_per_m = 1.0};

/* Vm = +20 mV behind the front (x < c t), -85 mV ahead, tanh over ~1 mm. */
static void plane_front(const ct_mesh *m, double t_ms, double *vm)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        double x = m->xyz_mm[3 * i];
        vm[i] = -85.0 + 105.0 * 0.5 * (1.0 - tanh((x - front_speed_mm_per_ms * t_ms) / 0.5));
    }
}

static void record(const ct_mesh *m, ct_ecg *g)
{
    double *vm = malloc(m->n_nodes * sizeof *vm);
    for (int k = 0; k <= 140; k++) { /* -5 .. 30 ms */
        double t = -5.0 + 0.25 * k;
        plane_front(m, t, vm);
        cr_assert_eq(ct_ecg_sample(g, vm, t), CT_OK, "%s", ct_error_message());
    }
    free(vm);
}

Test(ecg, approaching_front_is_positive)
{
    ct_mesh *m = box(slab_mm, 0.5, (const double[3]){1, 0, 0});
    const double el[6] = {60.0, 1.0, 1.0, -50.0, 1.0, 1.0}; /* +x side, -x side, 55 mm from the centre */
    ct_ecg *g = NULL;
    cr_assert_eq(ct_ecg_create_unipolar(m, &ecg_cond, 2, el, &g), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_ecg_n_leads(g), 2u);
    cr_assert_str_eq(ct_ecg_lead_name(g, 1), "E1");
    /* weights sum to zero: uniform Vm gives no signal */
    for (size_t j = 0; j < 2; j++) {
        const double *w = ct_ecg_electrode_weights(g, j);
        double sum = 0, mag = 0;
        for (size_t i = 0; i < m->n_nodes; i++)
            sum += w[i], mag += fabs(w[i]);
        cr_assert_lt(fabs(sum), 1e-12 * mag);
    }
    record(m, g);
    size_t n = ct_ecg_n_samples(g), imax = 0;
    double pmax = -INFINITY;
    for (size_t s = 0; s < n; s++)
        if (ct_ecg_value(g, s, 0) > pmax)
            pmax = ct_ecg_value(g, s, 0), imax = s;
    double t_peak = ct_ecg_time(g, imax);
    cr_log_info("+x electrode: peak %.4g mV at %.2f ms; -x at that time %.4g mV; first %.3g last %.3g", pmax, t_peak,
                ct_ecg_value(g, imax, 1), ct_ecg_value(g, 0, 0), ct_ecg_value(g, n - 1, 0));
    cr_assert_gt(pmax, 0.0);
    cr_assert(t_peak > 0.0 && t_peak < 20.0, "peak at %g ms, front inside the slab in (0, 20)", t_peak);
    /* positive all the time the front is well inside; the -x side sees the opposite sign */
    for (size_t s = 0; s < n; s++) {
        double t = ct_ecg_time(g, s);
        if (t > 2.0 && t < 18.0) {
            cr_assert_gt(ct_ecg_value(g, s, 0), 0.0, "t %g", t);
            cr_assert_lt(ct_ecg_value(g, s, 1), 0.0, "t %g", t);
        }
    }
    /* back towards zero before the front enters and once the slab is depolarised */
    cr_assert_lt(fabs(ct_ecg_value(g, 0, 0)), 1e-3 * pmax);
    cr_assert_lt(fabs(ct_ecg_value(g, n - 1, 0)), 1e-3 * pmax);
    ct_ecg_destroy(g);
    ct_mesh_destroy(m);
}

/* Dipole check of the magnitude: far away, phi = p . (x0 - xd) / (4 pi sigma_b r^3) with the dipole
 * moment p = -integral sigma_i grad Vm dV = sigma_il * (V_behind - V_ahead) * cross-section, along +x. */
Test(ecg, far_field_matches_the_dipole)
{
    ct_mesh *m = box(slab_mm, 0.5, (const double[3]){1, 0, 0});
    const double el[3] = {505.0, 1.0, 1.0};
    ct_ecg *g = NULL;
    cr_assert_eq(ct_ecg_create_unipolar(m, &ecg_cond, 1, el, &g), CT_OK);
    double *vm = malloc(m->n_nodes * sizeof *vm);
    plane_front(m, 10.0, vm); /* front at x = 5, the slab centre */
    cr_assert_eq(ct_ecg_sample(g, vm, 10.0), CT_OK);
    double p = ecg_cond.sigma_il_S_per_m * 105.0 * slab_mm[1] * slab_mm[2];
    double want = p / (4.0 * PI * ecg_cond.sigma_b_S_per_m * 500.0 * 500.0);
    cr_log_info("dipole: phi %.6g mV, expected %.6g mV", ct_ecg_value(g, 0, 0), want);
    cr_assert_float_eq(ct_ecg_value(g, 0, 0), want, 0.02 * want);
    free(vm);
    ct_ecg_destroy(g);
    ct_mesh_destroy(m);
}

Test(ecg, twelve_lead_algebra_csv_and_qrs)
{
    ct_mesh *m = box(slab_mm, 0.5, (const double[3]){1, 0, 0});
    ct_ecg *g = NULL;
    cr_assert_eq(ct_ecg_create(m, &ecg_cond, NULL, &g), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_ecg_n_leads(g), 12u);
    cr_assert_eq(ct_ecg_n_electrodes(g), 9u);
    record(m, g);
    size_t n = ct_ecg_n_samples(g);
    double vmax = 0;
    for (size_t s = 0; s < n; s++)
        for (size_t l = 0; l < 12; l++)
            vmax = fmax(vmax, fabs(ct_ecg_value(g, s, l)));
    cr_assert_gt(vmax, 0.0);
    for (size_t s = 0; s < n; s++) {
        double I = ct_ecg_value(g, s, 0), II = ct_ecg_value(g, s, 1), III = ct_ecg_value(g, s, 2);
        double aVR = ct_ecg_value(g, s, 3), aVL = ct_ecg_value(g, s, 4), aVF = ct_ecg_value(g, s, 5);
        cr_assert_lt(fabs(I + III - II), 1e-12 * vmax, "sample %zu", s);
        cr_assert_lt(fabs(aVR + aVL + aVF), 1e-12 * vmax, "sample %zu", s);
    }
    /* limb electrodes at 10 radii, precordials at 2 radii from the centre */
    double lo[3], hi[3], c[3], R2 = 0, e[3];
    ct_mesh_bounds(m, lo, hi);
    for (int d = 0; d < 3; d++)
        c[d] = 0.5 * (lo[d] + hi[d]), R2 += 0.25 * (hi[d] - lo[d]) * (hi[d] - lo[d]);
    for (size_t j = 0; j < 9; j++) {
        ct_ecg_electrode_position(g, j, e);
        double r = sqrt((e[0] - c[0]) * (e[0] - c[0]) + (e[1] - c[1]) * (e[1] - c[1]) + (e[2] - c[2]) * (e[2] - c[2]));
        cr_assert_float_eq(r, (j < 3 ? 10.0 : 2.0) * sqrt(R2), 1e-9);
    }
    ct_ecg_intervals iv;
    cr_assert_eq(ct_ecg_intervals_compute(g, NULL, &iv), CT_OK, "%s", ct_error_message());
    double crossing = slab_mm[0] / front_speed_mm_per_ms;
    cr_log_info("QRS onset %.2f offset %.2f duration %.2f ms (crossing %.1f ms); T end %g", iv.qrs_onset_ms,
                iv.qrs_offset_ms, iv.qrs_ms, crossing, iv.t_end_ms);
    cr_assert_float_eq(iv.qrs_ms, crossing, 0.2 * crossing);
    cr_assert(isnan(iv.t_end_ms), "no T wave in a depolarisation-only signal");

    char dir[] = "/tmp/ct_metrics_XXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(ct_path_join(path, sizeof path, dir, "ecg.csv"), CT_OK);
    cr_assert_eq(ct_ecg_write_csv(g, path), CT_OK, "%s", ct_error_message());
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(ct_read_file(path, &text, &len), CT_OK);
    const char *hdr = "time_ms,I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6\n";
    cr_assert_eq(strncmp(text, hdr, strlen(hdr)), 0, "header: %.80s", text);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    cr_assert_eq(lines, n + 1);
    free(text);
    unlink(path);
    rmdir(dir);
    ct_ecg_destroy(g);
    ct_mesh_destroy(m);
}

/* QRS as a trapezoid on [0, 20] ms and a Gaussian T wave (peak 150 ms, width 20 ms): the tangent at
 * the steepest descent (t = 170 ms) meets the baseline at 190 ms. */
Test(ecg, intervals_of_a_synthetic_envelope)
{
    enum { N = 1201 };
    static double t[N], y[N];
    for (int i = 0; i < N; i++) {
        t[i] = -50.0 + 0.25 * i;
        double q = t[i] < 0 ? 0 : t[i] < 2 ? t[i] / 2 : t[i] < 18 ? 1 : t[i] < 20 ? (20 - t[i]) / 2 : 0;
        y[i] = q + 0.3 * exp(-0.5 * pow((t[i] - 150.0) / 20.0, 2));
    }
    ct_ecg_intervals iv;
    cr_assert_eq(ct_ecg_intervals_from_signal(t, y, N, NULL, &iv), CT_OK);
    cr_log_info("synthetic: QRS %.2f..%.2f, T peak %.2f, T end %.2f, QT %.2f", iv.qrs_onset_ms, iv.qrs_offset_ms,
                iv.t_peak_ms, iv.t_end_ms, iv.qt_ms);
    cr_assert_float_eq(iv.qrs_onset_ms, 0.0, 0.5);
    cr_assert_float_eq(iv.qrs_offset_ms, 20.0, 0.5);
    cr_assert_float_eq(iv.t_peak_ms, 150.0, 0.5);
    cr_assert_float_eq(iv.t_end_ms, 190.0, 1.0);
    cr_assert_float_eq(iv.qt_ms, 190.0, 1.5);
    cr_assert_eq(ct_ecg_intervals_from_signal(t, y, 2, NULL, &iv), CT_ERR_CONFIG);
    /* the same trace cut short at 150 ms (the T peak; nothing came back down) or 165 ms (on the way down,
     * not halfway yet): QRS as before, but no T end and no QT, not a tangent extrapolated far beyond the
     * recording */
    const int cut[] = {200 + 4 * 150, 200 + 4 * 160};
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(ct_ecg_intervals_from_signal(t, y, (size_t)cut[k] + 1, NULL, &iv), CT_OK);
        cr_assert_float_eq(iv.qrs_ms, 20.0, 0.5);
        cr_assert(isnan(iv.t_end_ms) && isnan(iv.qt_ms) && isnan(iv.t_peak_ms),
                  "recording to %g ms: T end %g, QT %g", t[cut[k]], iv.t_end_ms, iv.qt_ms);
    }
    /* to 200 ms it has come down: the QT of the whole trace */
    cr_assert_eq(ct_ecg_intervals_from_signal(t, y, 200 + 4 * 200 + 1, NULL, &iv), CT_OK);
    cr_assert_float_eq(iv.qt_ms, 190.0, 1.5);
}

Test(ecg, rejects_bad_input)
{
    ct_mesh *m = box(slab_mm, 1.0, (const double[3]){1, 0, 0});
    ct_ecg *g = NULL;
    ct_ecg_conductivity bad = {.sigma_il_S_per_m = 0.0, .sigma_it_S_per_m = 0.02};
    cr_assert_eq(ct_ecg_create(m, &bad, NULL, &g), CT_ERR_CONFIG);
    cr_assert_null(g);
    cr_assert_eq(ct_ecg_create(m, NULL, NULL, &g), CT_ERR_CONFIG);
    ct_ecg_placement par = {.superior = {0, 0, 1}, .anterior = {0, 0, 2}};
    cr_assert_eq(ct_ecg_create(m, &ecg_cond, &par, &g), CT_ERR_CONFIG);
    cr_assert_eq(ct_ecg_create_unipolar(m, &ecg_cond, 0, NULL, &g), CT_ERR_CONFIG);
    ct_mesh_destroy(m);
}

/* The body frame: the same activation sequence on the slab turned by a rotation Q (50 deg about (1, 2, 2)/3),
 * with the frame turned with it (superior Q z, anterior Q y), gives the same 12 leads to rounding and every
 * electrode at Q times its old place; with the default frame (+z, +y) on the turned slab the leads change,
 * since the electrodes stay where they were while the heart turns. */
Test(ecg, leads_turn_with_the_body_frame)
{
    ct_mesh *m = box(slab_mm, 0.5, (const double[3]){1, 0, 0}), *turned = NULL;
    cr_assert_eq(ct_mesh_create(m->n_nodes, m->n_tets, &turned), CT_OK);
    const double u[3] = {1.0 / 3, 2.0 / 3, 2.0 / 3}, a = 50.0 * PI / 180.0, c = cos(a), s = sin(a);
    double Q[3][3]; /* Rodrigues: c I + s [u]x + (1 - c) u u^T */
    const double ux[3][3] = {{0, -u[2], u[1]}, {u[2], 0, -u[0]}, {-u[1], u[0], 0}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            Q[i][j] = (i == j ? c : 0.0) + s * ux[i][j] + (1 - c) * u[i] * u[j];
    for (size_t i = 0; i < m->n_nodes; i++)
        for (int r = 0; r < 3; r++)
            turned->xyz_mm[3 * i + r] = Q[r][0] * m->xyz_mm[3 * i] + Q[r][1] * m->xyz_mm[3 * i + 1] +
                                        Q[r][2] * m->xyz_mm[3 * i + 2];
    for (size_t e = 0; e < m->n_tets; e++)
        for (int r = 0; r < 3; r++)
            turned->fibre[3 * e + r] = Q[r][0] * m->fibre[3 * e] + Q[r][1] * m->fibre[3 * e + 1] +
                                       Q[r][2] * m->fibre[3 * e + 2];
    memcpy(turned->tets, m->tets, 4 * m->n_tets * sizeof *m->tets);
    ct_ecg_placement frame = {.superior = {Q[0][2], Q[1][2], Q[2][2]}, .anterior = {Q[0][1], Q[1][1], Q[2][1]}};
    ct_ecg *g0 = NULL, *g1 = NULL, *g2 = NULL;
    cr_assert_eq(ct_ecg_create(m, &ecg_cond, NULL, &g0), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_ecg_create(turned, &ecg_cond, &frame, &g1), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_ecg_create(turned, &ecg_cond, NULL, &g2), CT_OK, "%s", ct_error_message());
    for (size_t j = 0; j < 9; j++) {
        double e0[3], e1[3];
        ct_ecg_electrode_position(g0, j, e0);
        ct_ecg_electrode_position(g1, j, e1);
        for (int r = 0; r < 3; r++)
            cr_assert_float_eq(e1[r], Q[r][0] * e0[0] + Q[r][1] * e0[1] + Q[r][2] * e0[2], 1e-9, "electrode %zu", j);
    }
    double *vm = malloc(m->n_nodes * sizeof *vm);
    for (int k = 0; k <= 140; k++) { /* the same sequence by node on both meshes */
        double t = -5.0 + 0.25 * k;
        plane_front(m, t, vm);
        cr_assert_eq(ct_ecg_sample(g0, vm, t), CT_OK);
        cr_assert_eq(ct_ecg_sample(g1, vm, t), CT_OK);
        cr_assert_eq(ct_ecg_sample(g2, vm, t), CT_OK);
    }
    double vmax = 0, d_turned = 0, d_fixed = 0;
    for (size_t k = 0; k < ct_ecg_n_samples(g0); k++)
        for (size_t l = 0; l < 12; l++) {
            double v0 = ct_ecg_value(g0, k, l);
            vmax = fmax(vmax, fabs(v0));
            d_turned = fmax(d_turned, fabs(ct_ecg_value(g1, k, l) - v0));
            d_fixed = fmax(d_fixed, fabs(ct_ecg_value(g2, k, l) - v0));
        }
    cr_log_info("body frame: max |lead| %.4g mV; turned with the mesh: max diff %.3g, left at +z/+y: %.3g", vmax,
                d_turned, d_fixed);
    cr_assert_gt(vmax, 0.0);
    cr_assert_leq(d_turned, 1e-9 * vmax, "the frame turned with the mesh: leads differ by %g mV", d_turned);
    cr_assert_gt(d_fixed, 0.05 * vmax, "the frame not turned: leads should change (by %g mV only)", d_fixed);
    free(vm);
    ct_ecg_destroy(g0);
    ct_ecg_destroy(g1);
    ct_ecg_destroy(g2);
    ct_mesh_destroy(turned);
    ct_mesh_destroy(m);
}

/* Repolarisation-time gradients: a linear field has the same gradient everywhere. */
Test(metrics, repolarisation_gradient_stats)
{
    const double size[3] = {4, 2, 1}, fibre[3] = {1, 0, 0};
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box(size, 0.5, fibre, &m), CT_OK);
    double *t = malloc(m->n_nodes * sizeof *t);
    for (size_t i = 0; i < m->n_nodes; i++) /* 12 ms/mm along x, 5 along y: |grad| = 13 */
        t[i] = 300 + 12 * m->xyz_mm[3 * i] + 5 * m->xyz_mm[3 * i + 1];
    ct_gradient_stats s;
    cr_assert_eq(ct_gradient_stats_compute(m, t, 10.0, &s), CT_OK);
    cr_assert_float_eq(s.max_ms_per_mm, 13.0, 1e-9);
    cr_assert_float_eq(s.volume_above_mm3, 8.0, 1e-9);
    cr_assert_float_eq(s.volume_valid_mm3, 8.0, 1e-9);
    for (size_t i = 0; i < m->n_nodes; i++)
        t[i] = 300 + 3 * m->xyz_mm[3 * i] + (m->xyz_mm[3 * i] == 0 ? -1000 : 0); /* x = 0 face undefined */
    cr_assert_eq(ct_gradient_stats_compute(m, t, 10.0, &s), CT_OK);
    cr_assert_float_eq(s.max_ms_per_mm, 3.0, 1e-9);
    cr_assert_float_eq(s.volume_above_mm3, 0.0, 1e-12);
    cr_assert_float_eq(s.volume_valid_mm3, 7.0, 1e-9, "the first layer of cells (1 mm^3) is excluded: %g",
                       s.volume_valid_mm3);
    free(t);
    ct_mesh_destroy(m);
}
