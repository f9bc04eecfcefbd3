/* test_beats.c — per-beat activation, repolarisation and APD90 tracked on the backend (max_beats > 0).
 *
 * A 2 x 0.5 x 0.5 mm TP06 slab (dx 0.25 mm, 81 nodes) paced over its whole volume three times, 500 ms
 * apart: every node is a copy of one cell, so the tissue's first APD90 must agree with the single-cell
 * driver's (host/model/ct_cell.c). Then the beat fields from the backend directly (the beat count, the error
 * when beats were not asked for) and the OpenCL backend against the CPU.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/models/ct_models.h"
#include "model/ct_cell.h"
#include "sim/ct_config.h"
#include "sim/ct_sim.h"

#define MAX_BEATS 4
#define N_PACED 3
#define BCL_MS 500.0

/* Paced 3 times (t = 0, 500, 1000 ms; 52 uA/uF for 1 ms) over the whole slab; 1400 ms. */
static const char *const slab_json =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [2, 0.5, 0.5], \"dx_mm\": 0.25},"
    " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 1400,"
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [2,0.5,0.5], \"amplitude_uA_per_uF\": 52,"
    " \"start_ms\": 0, \"duration_ms\": 1, \"period_ms\": 500, \"count\": 3}]}";

static void load_slab(ct_config *cfg, ct_sim **sim)
{
    cr_assert_eq(ct_config_parse(slab_json, "test_beats slab", cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_sim_create(cfg, sim), CT_OK, "%s", ct_error_message());
}

/* (a) CPU, through ct_sim_run: 3 beats everywhere, at 500 k ms, APD90 as the single cell, slot 4 empty. */
Test(beats, paced_slab_cpu_matches_single_cell, .timeout = 900)
{
    ct_config cfg;
    ct_sim *sim;
    load_slab(&cfg, &sim);
    size_t n = sim->mesh->n_nodes;

    /* The single cell: the same parameter set, dt and stimulus, first beat from the initial state. Its APD90
     * runs from the time of max dVm/dt (ct_cell.h); the tissue's from the threshold crossing
     * (activation_threshold_mV), a few tenths of a ms apart on the TP06 upstroke: inside the 3 ms allowed. */
    int set = sim->node_param_set ? sim->node_param_set[0] : 0;
    ct_real prm[CT_MODEL_NPARAM];
    for (int k = 0; k < CT_MODEL_NPARAM; k++)
        prm[k] = (ct_real)sim->param_sets[set * CT_MODEL_NPARAM + k];
    ct_cell_protocol proto = {.dt_ms = cfg.dt_ms,
                              .bcl_ms = BCL_MS,
                              .stim_amp_uA_per_uF = 52.0,
                              .stim_duration_ms = 1.0,
                              .stim_start_ms = 0.0,
                              .n_beats = 1};
    ct_cell_result cell;
    cr_assert_eq(ct_cell_pace(CT_MODEL_TP06, prm, &proto, &cell, NULL, 0), CT_OK, "%s", ct_error_message());
    cr_assert(isfinite(cell.apd90_ms));

    ct_run_options opt = {.out_dir = NULL, .quiet = 1, .max_beats = MAX_BEATS};
    ct_run_result r;
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt, &r), CT_OK, "%s", ct_error_message());
    cr_assert_eq(r.max_beats, MAX_BEATS);
    cr_assert(r.beat_activation_ms && r.beat_repolarisation_ms);
    double apd_min = INFINITY, apd_max = -INFINITY, act_err = 0.0, apd_last[N_PACED] = {0};
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(r.beat_activation_ms[i], r.activation_ms[i], "node %zu: beat 0 at %g ms, first activation %g ms",
                     i, r.beat_activation_ms[i], r.activation_ms[i]);
        for (int b = 0; b < N_PACED; b++) {
            double a = r.beat_activation_ms[(size_t)b * n + i], p = r.beat_repolarisation_ms[(size_t)b * n + i];
            cr_assert(a >= 0 && p > a, "node %zu beat %d: activation %g ms, repolarisation %g ms", i, b, a, p);
            act_err = fmax(act_err, fabs(a - BCL_MS * b));
            cr_assert_lt(fabs(a - BCL_MS * b), 2.0, "node %zu beat %d activates at %g ms", i, b, a);
            if (b == 0) {
                apd_min = fmin(apd_min, p - a);
                apd_max = fmax(apd_max, p - a);
            }
            apd_last[b] = p - a;
        }
        cr_assert_eq(r.beat_activation_ms[(size_t)N_PACED * n + i], -1.0);
        cr_assert_eq(r.beat_repolarisation_ms[(size_t)N_PACED * n + i], -1.0);
    }
    fprintf(stderr,
            "beats: %zu nodes, max |activation - 500 k| = %.3f ms; first-beat APD90 tissue %.3f..%.3f ms, single cell "
            "%.3f ms (rest %.2f mV, peak %.2f mV); APD90 of beats 1..3 at the last node %.2f, %.2f, %.2f ms\n",
            n, act_err, apd_min, apd_max, cell.apd90_ms, cell.rest_mV, cell.peak_mV, apd_last[0], apd_last[1],
            apd_last[2]);
    cr_assert_lt(fabs(apd_min - cell.apd90_ms), 3.0, "tissue APD90 %g ms, single cell %g ms", apd_min, cell.apd90_ms);
    cr_assert_lt(fabs(apd_max - cell.apd90_ms), 3.0, "tissue APD90 %g ms, single cell %g ms", apd_max, cell.apd90_ms);
    ct_run_result_free(&r);

    /* max_beats 0: as before, no beat arrays. */
    ct_run_options opt0 = {.out_dir = NULL, .quiet = 1, .max_steps = 100};
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt0, &r), CT_OK, "%s", ct_error_message());
    cr_assert(!r.beat_activation_ms && !r.beat_repolarisation_ms && r.max_beats == 0);
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

/* Drives backend `be` through the slab's whole run (as ct_sim_run does) with max_beats beats tracked, and
 * downloads the beat fields (act, rep: max_beats * n; count: n; any may be NULL). */
static void run_backend(const ct_config *cfg, const ct_sim *sim, const ct_backend_ops *be, int max_beats, double *act,
                        double *rep, double *count)
{
    ct_real params[6 * CT_MODEL_NPARAM];
    ct_backend_problem pb;
    ct_sim_backend_problem(sim, max_beats, params, &pb);
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(be->create(&pb, &ctx), CT_OK, "%s: %s", be->name, ct_error_message());
    double amp[CT_MAX_STIMULI] = {0};
    amp[0] = cfg->stimuli[0].amplitude_uA_per_uF;
    long n_steps = (long)ceil(cfg->end_time_ms / cfg->dt_ms - 1e-9);
    for (long step = 0; step < n_steps; step++) {
        double t = (double)step * cfg->dt_ms;
        uint32_t active = ct_stimulus_active(&cfg->stimuli[0], t) ? 1u : 0u;
        ct_step_report rep_step;
        cr_assert_eq(be->step(ctx, t, active, amp, &rep_step), CT_OK, "%s step %ld: %s", be->name, step,
                     ct_error_message());
    }
    if (act)
        cr_assert_eq(be->download(ctx, CT_FIELD_BEAT_ACTIVATION_MS, act), CT_OK, "%s", ct_error_message());
    if (rep)
        cr_assert_eq(be->download(ctx, CT_FIELD_BEAT_REPOLARISATION_MS, rep), CT_OK, "%s", ct_error_message());
    if (count)
        cr_assert_eq(be->download(ctx, CT_FIELD_BEAT_COUNT, count), CT_OK, "%s", ct_error_message());
    be->destroy(ctx);
}

/* The backend interface itself: the beat count field, beats past max_beats still counted, and the beat
 * fields refused when max_beats is 0. */
Test(beats, backend_count_and_overflow, .timeout = 900)
{
    ct_config cfg;
    ct_sim *sim;
    load_slab(&cfg, &sim);
    size_t n = sim->mesh->n_nodes;
    double *act = malloc(2 * n * sizeof *act), *rep = malloc(2 * n * sizeof *rep), *count = malloc(n * sizeof *count);
    cr_assert(act && rep && count);
    run_backend(&cfg, sim, &ct_backend_cpu, 2, act, rep, count); /* 3 beats, room for 2 */
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(count[i], (double)N_PACED, "node %zu: %g beats", i, count[i]);
        for (int b = 0; b < 2; b++)
            cr_assert(act[(size_t)b * n + i] >= 0 && rep[(size_t)b * n + i] > act[(size_t)b * n + i]);
    }

    ct_real prm[CT_MODEL_NPARAM];
    for (int j = 0; j < CT_MODEL_NPARAM; j++)
        prm[j] = (ct_real)sim->param_sets[j];
    ct_backend_problem pb = {
        .n_nodes = n,
        .model = cfg.model,
        .n_param_sets = 1,
        .param_sets = prm,
        .stiffness = sim->stiffness,
        .lumped_mass_mm3 = sim->lumped_mass_mm3,
        .dt_ms = cfg.dt_ms,
        .activation_threshold_mV = cfg.activation_threshold_mV,
        .vm_bound_mV = cfg.vm_bound_mV,
    };
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(ct_backend_cpu.create(&pb, &ctx), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_BEAT_COUNT, count), CT_ERR_INTERNAL);
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_BEAT_ACTIVATION_MS, act), CT_ERR_INTERNAL);
    ct_backend_cpu.destroy(ctx);
    pb.max_beats = -1;
    cr_assert_neq(ct_backend_cpu.create(&pb, &ctx), CT_OK);
    free(act);
    free(rep);
    free(count);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

#ifdef CT_HAVE_OPENCL
/* (b) OpenCL against the CPU: the same beat fields. The arithmetic is the same, operation for operation
 * (monodomain.cl); in double the times agree to rounding. */
Test(beats, opencl_matches_cpu, .timeout = 900)
{
    if (ct_backend_opencl.probe() != CT_OK)
        cr_skip_test("OpenCL backend unavailable: %s", ct_error_message());
    ct_config cfg;
    ct_sim *sim;
    load_slab(&cfg, &sim);
    size_t n = sim->mesh->n_nodes, nb = (size_t)MAX_BEATS * n;
    double *a_c = malloc(nb * sizeof *a_c), *r_c = malloc(nb * sizeof *r_c), *n_c = malloc(n * sizeof *n_c);
    double *a_o = malloc(nb * sizeof *a_o), *r_o = malloc(nb * sizeof *r_o), *n_o = malloc(n * sizeof *n_o);
    cr_assert(a_c && r_c && n_c && a_o && r_o && n_o);
    run_backend(&cfg, sim, &ct_backend_cpu, MAX_BEATS, a_c, r_c, n_c);
    run_backend(&cfg, sim, &ct_backend_opencl, MAX_BEATS, a_o, r_o, n_o);
#ifdef CT_REAL_FLOAT
    const double tol_ms = 0.05;
#else
    const double tol_ms = 1e-6;
#endif
    double d_act = 0.0, d_rep = 0.0;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(n_c[i], n_o[i], "node %zu: %g beats on the cpu, %g on opencl", i, n_c[i], n_o[i]);
    for (size_t k = 0; k < nb; k++) {
        cr_assert((a_c[k] < 0) == (a_o[k] < 0) && (r_c[k] < 0) == (r_o[k] < 0),
                  "slot %zu: cpu %g / %g ms, opencl %g / %g ms", k, a_c[k], r_c[k], a_o[k], r_o[k]);
        d_act = fmax(d_act, fabs(a_c[k] - a_o[k]));
        d_rep = fmax(d_rep, fabs(r_c[k] - r_o[k]));
    }
    fprintf(stderr, "beats opencl vs cpu: max |d activation| = %.3e ms, max |d repolarisation| = %.3e ms\n", d_act,
            d_rep);
    cr_assert_leq(d_act, tol_ms, "beat activation differs by %g ms", d_act);
    cr_assert_leq(d_rep, tol_ms, "beat repolarisation differs by %g ms", d_rep);
    free(a_c);
    free(r_c);
    free(n_c);
    free(a_o);
    free(r_o);
    free(n_o);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}
#endif
