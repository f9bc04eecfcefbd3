/* test_tissue.c — monodomain tissue physics: the N-version benchmark, integrator agreement, and the
 * convergence of conduction velocity with mesh refinement. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ct_config.h"
#include "sim/ct_sim.h"

static void run_text(const char *text, ct_config *cfg, ct_sim **sim, ct_run_result *res)
{
    cr_assert_eq(ct_config_parse(text, "test", cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_sim_create(cfg, sim), CT_OK, "%s", ct_error_message());
    ct_run_options opt = {.out_dir = NULL, .quiet = 1};
    cr_assert_eq(ct_sim_run(*sim, &ct_backend_cpu, &opt, res), CT_OK, "%s", ct_error_message());
}

static double probe(const ct_config *cfg, const ct_run_result *r, const char *name)
{
    for (int p = 0; p < cfg->n_probes; p++)
        if (strcmp(cfg->probes[p].name, name) == 0)
            return r->probe_activation_ms[p];
    cr_assert_fail("no probe %s", name);
    return -1;
}

/* N-version benchmark (Niederer et al. 2011) from the shipped configurations at dx 0.5 mm.
 * Reference P8 for linear-tet FE codes (../shared/reference/nversion-benchmark.md):
 *   dt 0.05 ms: 56.65 / 57.45 ms;  dt 0.01 ms: 55.91 / 56.02 ms;  P1 about 1.2-1.3 ms.
 * Acceptance: P8 within 1.0 ms of the reference range. */
static void nversion(const char *file, double ref_lo, double ref_hi)
{
    ct_config cfg;
    ct_sim *sim;
    ct_run_result r;
    cr_assert_eq(ct_config_load(file, &cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_run_options opt = {.out_dir = NULL, .quiet = 1};
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt, &r), CT_OK, "%s", ct_error_message());
    double p1 = probe(&cfg, &r, "P1"), p8 = probe(&cfg, &r, "P8");
    fprintf(stderr, "N-version %s: P1 %.3f ms, P8 %.3f ms (reference %.2f / %.2f)\n", file, p1, p8, ref_lo, ref_hi);
    cr_assert(p1 >= 1.2 && p1 <= 1.35, "P1 activates at %g ms, expected 1.2-1.3", p1);
    cr_assert(p8 >= ref_lo - 1.0 && p8 <= ref_hi + 1.0, "P8 activates at %g ms, reference %g-%g", p8, ref_lo, ref_hi);
    /* P8, the far corner, is the last probe to activate */
    const char *others[] = {"P2", "P3", "P4", "P5", "P6", "P7", "P9"};
    for (int k = 0; k < 7; k++) {
        double t = probe(&cfg, &r, others[k]);
        cr_assert(t > p1 && t < p8, "%s at %g ms not between P1 and P8", others[k], t);
    }
    for (size_t i = 0; i < sim->mesh->n_nodes; i++)
        cr_assert_geq(r.activation_ms[i], 0.0, "node %zu never activated", i);
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

Test(tissue, nversion_dx05_dt005, .timeout = 600)
{
    nversion(CT_SOURCE_DIR "/meshes/nversion_dx0.5_dt0.05.json", 56.65, 57.45);
}

Test(tissue, nversion_dx05_dt001, .timeout = 600)
{
    nversion(CT_SOURCE_DIR "/meshes/nversion_dx0.5_dt0.01.json", 55.91, 56.02);
}

static const char *slab_fmt =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [6, 2, 1], \"dx_mm\": 0.25},"
    " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": %s, \"end_time_ms\": 30,"
    " \"diffusion\": {\"method\": \"%s\", \"mass\": \"%s\", \"cg_tolerance\": 1e-10},"
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,0.5,0.5], \"amplitude_uA_per_uF\": 50,"
    " \"duration_ms\": 2}]}";

static double max_diff(const ct_sim *sim, const ct_run_result *a, const ct_run_result *b)
{
    double worst = 0.0;
    for (size_t i = 0; i < sim->mesh->n_nodes; i++) {
        cr_assert(a->activation_ms[i] >= 0 && b->activation_ms[i] >= 0, "node %zu not activated", i);
        worst = fmax(worst, fabs(a->activation_ms[i] - b->activation_ms[i]));
    }
    return worst;
}

/* Explicit (forward Euler) and semi-implicit (Crank-Nicolson, backward Euler) diffusion must agree on the
 * activation map: they discretise the same equation, differing by O(dt) splitting and time errors. */
Test(tissue, explicit_and_implicit_integrators_agree, .timeout = 600)
{
    const char *mass[] = {"lumped", "consistent"};
    for (int m = 0; m < 2; m++) {
        char text[2048];
        ct_config c1, c2, c3;
        ct_sim *s1, *s2, *s3;
        ct_run_result r1, r2, r3;
        snprintf(text, sizeof text, slab_fmt, "0.01", "explicit", mass[m]);
        run_text(text, &c1, &s1, &r1);
        snprintf(text, sizeof text, slab_fmt, "0.01", "crank_nicolson", mass[m]);
        run_text(text, &c2, &s2, &r2);
        snprintf(text, sizeof text, slab_fmt, "0.01", "backward_euler", mass[m]);
        run_text(text, &c3, &s3, &r3);
        double d_cn = max_diff(s1, &r1, &r2), d_be = max_diff(s1, &r1, &r3);
        fprintf(stderr, "%s mass: max |explicit - CN| = %.4f ms, |explicit - BE| = %.4f ms, CG its %ld\n", mass[m],
                d_cn, d_be, r2.cg_iterations_total);
        cr_assert_lt(d_cn, 0.15, "explicit vs Crank-Nicolson differ by %g ms", d_cn);
        cr_assert_lt(d_be, 0.3, "explicit vs backward Euler differ by %g ms", d_be);
        cr_assert_gt(r2.cg_iterations_total, 0);
        ct_run_result_free(&r1);
        ct_run_result_free(&r2);
        ct_run_result_free(&r3);
        ct_sim_destroy(s1);
        ct_sim_destroy(s2);
        ct_sim_destroy(s3);
        ct_config_free(&c1);
        ct_config_free(&c2);
        ct_config_free(&c3);
    }
}

/* Conduction velocity (mm/ms = m/s) of a plane wave in a bar of one element cross-section along x,
 * measured between x = 3 and x = 9 mm. Consistent mass uses Crank-Nicolson: explicit diffusion with it
 * needs dt below about 0.003 ms at dx 0.1 mm. */
static double bar_cv(double dx, const char *mass)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"mesh\": {\"type\": \"box\", \"size_mm\": [12, %g, %g], \"dx_mm\": %g},"
             " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"
             " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.13342},"
             " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.01, \"end_time_ms\": 30,"
             " \"diffusion\": {\"method\": \"%s\", \"mass\": \"%s\"},"
             " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [1,1,1], \"amplitude_uA_per_uF\": 50,"
             " \"duration_ms\": 2}],"
             " \"probes\": [{\"name\": \"a\", \"position_mm\": [3,0,0]}, {\"name\": \"b\", \"position_mm\": [9,0,0]}]}",
             dx, dx, dx, strcmp(mass, "consistent") == 0 ? "crank_nicolson" : "explicit", mass);
    ct_config cfg;
    ct_sim *sim;
    ct_run_result r;
    run_text(text, &cfg, &sim, &r);
    double ta = r.probe_activation_ms[0], tb = r.probe_activation_ms[1];
    cr_assert(ta > 0 && tb > ta, "bar dx %g: activation %g, %g", dx, ta, tb);
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
    return 6.0 / (tb - ta);
}

Test(tissue, conduction_velocity_converges_with_dx, .timeout = 600)
{
    const double dx[3] = {0.4, 0.2, 0.1};
    double lumped[3], consistent[3];
    for (int k = 0; k < 3; k++) {
        lumped[k] = bar_cv(dx[k], "lumped");
        consistent[k] = bar_cv(dx[k], "consistent");
    }
    fprintf(stderr, "CV at dx 0.4/0.2/0.1 mm: lumped %.4f %.4f %.4f, consistent %.4f %.4f %.4f m/s\n", lumped[0],
            lumped[1], lumped[2], consistent[0], consistent[1], consistent[2]);
    /* lumped mass converges monotonically from below, each halving of dx changing CV less */
    cr_assert(lumped[0] < lumped[1] && lumped[1] < lumped[2], "lumped CV not increasing with refinement");
    double d1 = lumped[1] - lumped[0], d2 = lumped[2] - lumped[1];
    cr_assert_lt(d2, 0.6 * d1, "lumped CV changes do not shrink: %g then %g", d1, d2);
    /* the two discretisations converge to one limit: their gap shrinks (about first order) with each halving */
    for (int k = 0; k < 3; k++)
        cr_assert_gt(consistent[k], lumped[k], "consistent mass should conduct faster at dx %g", dx[k]);
    for (int k = 1; k < 3; k++) {
        double before = consistent[k - 1] - lumped[k - 1], after = consistent[k] - lumped[k];
        cr_assert_lt(after, 0.6 * before, "gap between mass schemes %g -> %g does not shrink", before, after);
    }
    cr_assert_lt(consistent[2] - lumped[2], 0.05 * consistent[2]);
    /* TP06 with D = 0.0953 mm^2/ms conducts at about 0.6-0.7 m/s */
    cr_assert(lumped[2] > 0.55 && consistent[2] < 0.75, "CV %g / %g m/s outside the physiological range", lumped[2],
              consistent[2]);
}

/* Renumbering the nodes changes only the order of floating-point sums: probe activation times agree. */
Test(tissue, renumbering_does_not_change_the_answer, .timeout = 600)
{
    const char *fmt =
        "{\"mesh\": {\"type\": \"box\", \"size_mm\": [4, 2, 1], \"dx_mm\": 0.25, \"renumber\": \"%s\"},"
        " \"model\": {\"name\": \"tp06\"},"
        " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
        " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.02, \"end_time_ms\": 20,"
        " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,0.5,0.5], \"amplitude_uA_per_uF\": 50,"
        " \"duration_ms\": 2}],"
        " \"probes\": [{\"name\": \"a\", \"position_mm\": [4,2,1]}, {\"name\": \"b\", \"position_mm\": [2.1,1.3,0.4]},"
        " {\"name\": \"c\", \"position_mm\": [0,2,0]}]}";
    char text[2048];
    ct_config c1, c2;
    ct_sim *s1, *s2;
    ct_run_result r1, r2;
    snprintf(text, sizeof text, fmt, "none");
    run_text(text, &c1, &s1, &r1);
    snprintf(text, sizeof text, fmt, "rcm");
    run_text(text, &c2, &s2, &r2);
    for (int p = 0; p < 3; p++) {
        cr_assert_gt(r1.probe_activation_ms[p], 0.0);
        cr_assert_float_eq(r1.probe_activation_ms[p], r2.probe_activation_ms[p], 1e-6, "probe %d: %g vs %g", p,
                           r1.probe_activation_ms[p], r2.probe_activation_ms[p]);
    }
    ct_run_result_free(&r1);
    ct_run_result_free(&r2);
    ct_sim_destroy(s1);
    ct_sim_destroy(s2);
    ct_config_free(&c1);
    ct_config_free(&c2);
}
