/* test_timing.c — the step timer (ct_step_timing, kernels/backend.h) that ct_bench's "where the time goes"
 * reads: its structure, never its numbers (no timing assertions).
 *
 * For every backend this machine has (cpu, opencl, cuda where probed), both models, explicit (lumped) and
 * Crank-Nicolson diffusion, a small slab runs through ct_sim_run twice, timer off and on, and the test checks:
 * - the timer changes nothing: final Vm and activation times bit for bit, the same CG iteration count;
 * - it saw every step and every CG iteration the run reports (steps, cg_iterations);
 * - every phase time is non-negative and finite, halo_s is 0 on one process, and the phases, being disjoint
 *   parts of each step, add up to at most the steps' total (a structural bound: one clock, subtracted);
 * - detect_fused counts at most one per step, and none where the diffusion is by CG (detection cannot run
 *   inside a CG solve).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "sim/ct_config.h"
#include "models/ct_models.h"
#include "sim/ct_sim.h"

#define STEPS 60 /* 0.6 ms at dt 0.01: the stimulus (1 ms) is on throughout, Vm moves everywhere near x = 0 */

/* A 2 x 1 x 1 mm slab, dx 0.25 mm, stimulated at x <= 0.5 mm; configuration text as a user writes it. */
static void make_sim(const char *model, const char *method, ct_config *cfg, ct_sim **sim)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"mesh\": {\"type\": \"box\", \"size_mm\": [2, 1, 1], \"dx_mm\": 0.25, \"fibre_direction\": [1, 0, 0]},"
             " \"model\": {\"name\": \"%s\"}, \"conductivity\": {\"sigma_l_S_per_m\": 0.13342,"
             " \"sigma_t_S_per_m\": 0.017606}, \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.01,"
             " \"end_time_ms\": 5, \"diffusion\": {\"method\": \"%s\", \"mass\": \"lumped\"},"
             " \"activation_threshold_mV\": -40,"
             " \"stimuli\": [{\"name\": \"S1\", \"box_min_mm\": [0, 0, 0], \"box_max_mm\": [0.5, 1, 1],"
             " \"amplitude_uA_per_uF\": 50, \"start_ms\": 0, \"duration_ms\": 1}]}",
             model, method);
    cr_assert_eq(ct_config_parse(json, "test_timing", cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_sim_create(cfg, sim), CT_OK, "%s", ct_error_message());
}

static void check_backend(const char *name, const char *model, const char *method)
{
    const ct_backend_ops *be = NULL;
    char why[256];
    if (ct_backend_select(name, &be, why, sizeof why) != CT_OK || (be->probe && be->probe() != CT_OK)) {
        cr_log_info("%s: not available here (%s)", name, ct_error_message());
        return;
    }
    ct_config cfg;
    ct_sim *sim = NULL;
    make_sim(model, method, &cfg, &sim);
    size_t n = sim->mesh->n_nodes;

    ct_run_options opt = {.quiet = 1, .max_steps = STEPS};
    ct_run_result off, on;
    cr_assert_eq(ct_sim_run(sim, be, &opt, &off), CT_OK, "%s %s %s: %s", name, model, method, ct_error_message());
    ct_step_timing tm;
    memset(&tm, 0, sizeof tm);
    opt.timing = &tm;
    cr_assert_eq(ct_sim_run(sim, be, &opt, &on), CT_OK, "%s %s %s: %s", name, model, method, ct_error_message());

    const char *what = name;
    cr_assert_eq(off.steps, STEPS, "%s: %ld steps", what, off.steps);
    cr_assert_eq(on.steps, off.steps);
    cr_assert_eq(memcmp(on.vm_final_mV, off.vm_final_mV, n * sizeof(double)), 0,
                 "%s %s %s: the timer changed Vm", name, model, method);
    cr_assert_eq(memcmp(on.activation_ms, off.activation_ms, n * sizeof(double)), 0,
                 "%s %s %s: the timer changed the activation times", name, model, method);
    cr_assert_eq(on.cg_iterations_total, off.cg_iterations_total, "%s %s %s", name, model, method);

    cr_assert_eq(tm.steps, on.steps, "%s %s %s: timer saw %ld steps of %ld", name, model, method, tm.steps, on.steps);
    cr_assert_eq(tm.cg_iterations, on.cg_iterations_total, "%s %s %s: timer saw %ld CG iterations of %ld", name,
                 model, method, tm.cg_iterations, on.cg_iterations_total);
    int cg = strcmp(method, "explicit") != 0;
    if (cg)
        cr_assert_gt(tm.cg_iterations, 0, "%s %s %s: Crank-Nicolson took no CG iteration", name, model, method);
    else
        cr_assert_eq(tm.cg_iterations, 0);

    const double phase[] = {tm.react_s, tm.diffuse_s, tm.detect_s, tm.halo_s, tm.total_s};
    for (size_t k = 0; k < sizeof phase / sizeof *phase; k++)
        cr_assert(isfinite(phase[k]) && phase[k] >= 0.0, "%s %s %s: phase %zu = %g s", name, model, method, k,
                  phase[k]);
    cr_assert_eq(tm.halo_s, 0.0, "%s: halo time %g s on one process", name, tm.halo_s);
    double sum = tm.react_s + tm.diffuse_s + tm.detect_s + tm.halo_s;
    cr_assert_leq(sum, tm.total_s * (1.0 + 1e-12) + 1e-12, "%s %s %s: phases %.9g s > steps' total %.9g s", name,
                  model, method, sum, tm.total_s);
    cr_assert(tm.detect_fused >= 0 && tm.detect_fused <= tm.steps, "%s: detect_fused %ld", name, tm.detect_fused);
    if (cg)
        cr_assert_eq(tm.detect_fused, 0, "%s: detection fused into a CG diffusion", name);

    ct_run_result_free(&on);
    ct_run_result_free(&off);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

static void check_all(const char *model, const char *method)
{
    static const char *const names[] = {"cpu", "opencl", "cuda"};
    for (size_t b = 0; b < sizeof names / sizeof *names; b++)
        check_backend(names[b], model, method);
}

Test(timing, tp06_explicit) { check_all("tp06", "explicit"); }
Test(timing, tp06_crank_nicolson) { check_all("tp06", "crank_nicolson"); }
Test(timing, ms_explicit) { check_all("mitchell_schaeffer", "explicit"); }
Test(timing, ms_crank_nicolson) { check_all("mitchell_schaeffer", "crank_nicolson"); }

/* The timer is opt-in: a problem built without one (ct_sim_backend_problem) has none. */
Test(timing, off_by_default)
{
    ct_config cfg;
    ct_sim *sim = NULL;
    make_sim("mitchell_schaeffer", "explicit", &cfg, &sim);
    ct_real params[6 * CT_MODEL_NPARAM];
    ct_backend_problem pb;
    memset(&pb, 0xff, sizeof pb); /* every field overwritten */
    ct_sim_backend_problem(sim, 0, params, &pb);
    cr_assert_null(pb.timing);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}
