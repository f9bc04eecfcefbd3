/* test_cuda.c — the CUDA backend reproduces the CPU reference: activation times and the final Vm at every
 * node of the N-version slab, for each diffusion path (explicit consistent / lumped, Crank-Nicolson,
 * backward Euler), the Mitchell-Schaeffer model, and a blow-up reported as a numeric error.
 *
 * Where the build has no CUDA backend, or the machine no usable GPU, every test is skipped with the reason
 * (CI has no GPU: the skip message is the check there). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_config.h"
#include "ct_sim.h"

#ifdef CT_HAVE_CUDA

/* CPU and GPU differ only by rounding (summation order in SpMV and dot products, FMA contraction, libm vs
 * CUDA math): tight in double, looser in float where rounding is 1e-7 relative and the upstroke amplifies it. */
#ifdef CT_REAL_FLOAT
#define ACT_TOL_MS 0.1
#define VM_TOL_MV 0.05
#else
#define ACT_TOL_MS 0.05
#define VM_TOL_MV 1e-6
#endif

#define NVERSION CT_SOURCE_DIR "/meshes/nversion_dx0.5_dt0.05.json"

static void require_cuda(void)
{
    if (ct_backend_cuda.probe() != CT_OK)
        cr_skip_test("CUDA backend: %s", ct_error_message());
}

/* Runs cfg on the CPU and on CUDA and compares every node. */
static void compare_backends(const ct_config *cfg, const char *label)
{
    ct_sim *sim = NULL;
    cr_assert_eq(ct_sim_create(cfg, &sim), CT_OK, "%s: %s", label, ct_error_message());
    ct_run_options opt = {.out_dir = NULL, .quiet = 1};
    ct_run_result rc, rg;
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt, &rc), CT_OK, "%s, cpu: %s", label, ct_error_message());
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cuda, &opt, &rg), CT_OK, "%s, cuda: %s", label, ct_error_message());
    cr_assert_str_eq(rg.backend, "cuda");
    cr_assert_eq(rc.steps, rg.steps);

    size_t n = sim->mesh->n_nodes, n_act = 0, worst_act_node = 0, worst_vm_node = 0;
    double worst_act = 0.0, worst_vm = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = rc.activation_ms[i], b = rg.activation_ms[i];
        cr_assert((a < 0) == (b < 0), "%s: node %zu activated on one backend only (cpu %g ms, cuda %g ms)", label, i,
                  a, b);
        if (a >= 0) {
            n_act++;
            if (fabs(a - b) > worst_act) {
                worst_act = fabs(a - b);
                worst_act_node = i;
            }
        }
        cr_assert(isfinite(rg.vm_final_mV[i]), "%s: cuda Vm at node %zu is %g", label, i, rg.vm_final_mV[i]);
        if (fabs(rc.vm_final_mV[i] - rg.vm_final_mV[i]) > worst_vm) {
            worst_vm = fabs(rc.vm_final_mV[i] - rg.vm_final_mV[i]);
            worst_vm_node = i;
        }
    }
    fprintf(stderr,
            "cuda vs cpu, %s: %zu nodes, %zu activated; max |d activation| %.3g ms (node %zu), max |d Vm| %.3g mV "
            "(node %zu); CG iterations cpu %ld, cuda %ld; %.3g node-steps/s on cuda\n",
            label, n, n_act, worst_act, worst_act_node, worst_vm, worst_vm_node, rc.cg_iterations_total,
            rg.cg_iterations_total, rg.node_steps_per_s);
    cr_assert_gt(n_act, 0, "%s: no node activated, the comparison means nothing", label);
    cr_assert_leq(worst_act, ACT_TOL_MS, "%s: activation differs by %g ms at node %zu", label, worst_act,
                  worst_act_node);
    cr_assert_leq(worst_vm, VM_TOL_MV, "%s: final Vm differs by %g mV at node %zu", label, worst_vm, worst_vm_node);
    if (rc.cg_iterations_total > 0)
        cr_assert_gt(rg.cg_iterations_total, 0, "%s: the CPU ran CG, CUDA did not", label);
    ct_run_result_free(&rc);
    ct_run_result_free(&rg);
    ct_sim_destroy(sim);
}

/* The N-version slab with its diffusion settings changed before ct_sim_create. */
static void nversion_variant(int diffusion, int consistent_mass, const char *label)
{
    require_cuda();
    ct_config cfg;
    cr_assert_eq(ct_config_load(NVERSION, &cfg), CT_OK, "%s", ct_error_message());
    cfg.diffusion = diffusion;
    cfg.consistent_mass = consistent_mass;
    compare_backends(&cfg, label);
    ct_config_free(&cfg);
}

Test(cuda, nversion_explicit_consistent_matches_cpu, .timeout = 600)
{
    nversion_variant(CT_DIFFUSION_EXPLICIT, 1, "N-version, explicit, consistent mass");
}

Test(cuda, nversion_explicit_lumped_matches_cpu, .timeout = 600)
{
    nversion_variant(CT_DIFFUSION_EXPLICIT, 0, "N-version, explicit, lumped mass");
}

Test(cuda, nversion_crank_nicolson_matches_cpu, .timeout = 600)
{
    nversion_variant(CT_DIFFUSION_CRANK_NICOLSON, 1, "N-version, Crank-Nicolson, consistent mass");
}

Test(cuda, nversion_backward_euler_lumped_matches_cpu, .timeout = 600)
{
    nversion_variant(CT_DIFFUSION_BACKWARD_EULER, 0, "N-version, backward Euler, lumped mass");
}

static const char *ms_bar =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [6, 1, 1], \"dx_mm\": 0.25},"
    " \"model\": {\"name\": \"mitchell_schaeffer\"},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.13342},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.01, \"end_time_ms\": %s,"
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": %s,"
    " \"duration_ms\": 1}]}";

Test(cuda, mitchell_schaeffer_matches_cpu, .timeout = 600)
{
    require_cuda();
    char text[2048];
    snprintf(text, sizeof text, ms_bar, "40", "50");
    ct_config cfg;
    cr_assert_eq(ct_config_parse(text, "ms_bar", &cfg), CT_OK, "%s", ct_error_message());
    compare_backends(&cfg, "Mitchell-Schaeffer bar, explicit, lumped mass");
    ct_config_free(&cfg);
}

Test(cuda, blow_up_is_numeric_error, .timeout = 600)
{
    require_cuda();
    /* 5000 uA/uF for 1 ms drives Vm far past the bound of 200 mV within a few steps (as in test_cli.c) */
    const char *text =
        "{\"mesh\": {\"type\": \"box\", \"size_mm\": [4, 1, 1], \"dx_mm\": 0.5},"
        " \"model\": {\"name\": \"mitchell_schaeffer\"},"
        " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.13342},"
        " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 30,"
        " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": 5000,"
        " \"duration_ms\": 1}]}";
    ct_config cfg;
    ct_sim *sim;
    ct_run_result r;
    cr_assert_eq(ct_config_parse(text, "blow_up", &cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_run_options opt = {.out_dir = NULL, .quiet = 1};
    ct_status st = ct_sim_run(sim, &ct_backend_cuda, &opt, &r);
    cr_assert_eq(st, CT_ERR_NUMERIC, "expected a numeric error, got %d: %s", st, ct_error_message());
    cr_assert(strstr(ct_error_message(), "blew up at t = "), "%s", ct_error_message());
    cr_assert_lt(r.steps, 20, "the blow-up must stop the run at its step, stopped after %ld", r.steps);
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

/* The backend table directly: initial state downloads, and one step moves Vm at the stimulated nodes only. */
Test(cuda, create_download_step_destroy, .timeout = 600)
{
    require_cuda();
    ct_config cfg;
    ct_sim *sim;
    cr_assert_eq(ct_config_load(NVERSION, &cfg), CT_OK, "%s", ct_error_message());
    cfg.consistent_mass = 0;
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_real params[16];
    for (int k = 0; k < 16; k++)
        params[k] = (ct_real)cfg.model_params[k];
    ct_backend_problem pb = {
        .n_nodes = sim->mesh->n_nodes,
        .model = cfg.model,
        .n_param_sets = 1,
        .param_sets = params,
        .node_param_set = NULL,
        .stiffness = sim->stiffness,
        .lumped_mass_mm3 = sim->lumped_mass_mm3,
        .consistent_mass = NULL,
        .stim_mask = sim->stim_mask,
        .diffusion = CT_DIFFUSION_EXPLICIT,
        .dt_ms = cfg.dt_ms,
        .cg_rel_tolerance = cfg.cg_rel_tolerance,
        .cg_max_iterations = (int)cfg.cg_max_iterations,
        .activation_threshold_mV = cfg.activation_threshold_mV,
        .vm_bound_mV = cfg.vm_bound_mV,
    };
    size_t n = pb.n_nodes;
    double *vm = malloc(n * sizeof *vm), *act = malloc(n * sizeof *act), *vm_cpu = malloc(n * sizeof *vm_cpu);
    cr_assert(vm && act && vm_cpu);
    ct_backend_ctx *gpu = NULL, *cpu = NULL;
    cr_assert_eq(ct_backend_cuda.create(&pb, &gpu), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.create(&pb, &cpu), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cuda.download(gpu, CT_FIELD_VM, vm), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cuda.download(gpu, CT_FIELD_ACTIVATION_MS, act), CT_OK, "%s", ct_error_message());
    for (size_t i = 0; i < n; i++) {
        cr_assert_float_eq(vm[i], -85.23, 1e-5, "initial Vm at node %zu is %g", i, vm[i]);
        cr_assert_eq(act[i], -1.0, "initial activation at node %zu is %g", i, act[i]);
    }
    double amp[CT_MAX_STIMULI] = {0};
    amp[0] = cfg.stimuli[0].amplitude_uA_per_uF;
    ct_step_report rg, rc;
    cr_assert_eq(ct_backend_cuda.step(gpu, 0.0, 1u, amp, &rg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.step(cpu, 0.0, 1u, amp, &rc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(rg.bad_node, -1);
    cr_assert_eq(rg.cg_iterations, 0);
    cr_assert_eq(ct_backend_cuda.download(gpu, CT_FIELD_VM, vm), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.download(cpu, CT_FIELD_VM, vm_cpu), CT_OK, "%s", ct_error_message());
    for (size_t i = 0; i < n; i++)
        cr_assert_float_eq(vm[i], vm_cpu[i], 1e-9 + 1e-6 * fabs(vm_cpu[i]), "after one step, node %zu: cuda %.17g, cpu %.17g",
                           i, vm[i], vm_cpu[i]);
    cr_assert_eq(ct_backend_cuda.download(gpu, (enum ct_field)7, vm), CT_ERR_INTERNAL);
    ct_backend_cuda.destroy(gpu);
    ct_backend_cpu.destroy(cpu);
    ct_backend_cuda.destroy(NULL);
    free(vm);
    free(act);
    free(vm_cpu);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

Test(cuda, bad_device_index_is_refused)
{
    require_cuda();
    setenv("CT_CUDA_DEVICE", "999", 1);
    ct_status st = ct_backend_cuda.probe();
    unsetenv("CT_CUDA_DEVICE");
    cr_assert_eq(st, CT_ERR_BACKEND);
    cr_assert(strstr(ct_error_message(), "CT_CUDA_DEVICE"), "%s", ct_error_message());
}

#else /* !CT_HAVE_CUDA */

Test(cuda, not_compiled_in)
{
    cr_skip_test("CUDA backend not compiled in");
}

#endif
