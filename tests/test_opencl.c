/* test_opencl.c — the OpenCL backend against the CPU reference: the same configuration run on both
 * must give the same activation map and final Vm, for every diffusion path (explicit lumped, explicit
 * consistent mass with CG, Crank-Nicolson, backward Euler), both ionic models, and a blow-up.
 *
 * Each test skips, saying why, where no OpenCL device can run this build (ct_backend_opencl.probe()).
 * Runs in about 15 s with PoCL on two idle CPU cores. PoCL is sensitive to a loaded machine: every CG
 * iteration waits twice for the device, so the CG-heavy tests can take several times longer there.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_config.h"
#include "ct_sim.h"
#include "ct_test_util.h"

#ifdef CT_HAVE_OPENCL

/* Activation times may differ by rounding only (same arithmetic; dot products summed in another order
 * and the device's exp/log/pow are not glibc's). */
#define ACT_TOL_MS 0.05

static void require_opencl(void)
{
    if (ct_backend_opencl.probe() != CT_OK)
        cr_skip_test("OpenCL backend unavailable: %s", ct_error_message());
}

typedef struct pair_diff {
    double act_ms;       /* max |activation time difference| over nodes */
    double vm_mV;        /* max |final Vm difference| over nodes */
    long cg_cpu, cg_ocl; /* total CG iterations */
} pair_diff;

/* Runs cfg on the CPU and on OpenCL; asserts both succeed and that every node activates in both or
 * in neither; returns the largest differences. */
static pair_diff run_pair(const ct_config *cfg, const char *label)
{
    ct_sim *sim;
    cr_assert_eq(ct_sim_create(cfg, &sim), CT_OK, "%s: %s", label, ct_error_message());
    ct_run_options opt = {.out_dir = NULL, .quiet = 1};
    ct_run_result rc, ro;
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt, &rc), CT_OK, "%s cpu: %s", label, ct_error_message());
    cr_assert_eq(ct_sim_run(sim, &ct_backend_opencl, &opt, &ro), CT_OK, "%s opencl: %s", label, ct_error_message());
    cr_assert_eq(rc.steps, ro.steps);
    pair_diff d = {0.0, 0.0, rc.cg_iterations_total, ro.cg_iterations_total};
    size_t n = sim->mesh->n_nodes, n_active = 0;
    for (size_t i = 0; i < n; i++) {
        double a = rc.activation_ms[i], b = ro.activation_ms[i];
        cr_assert((a < 0) == (b < 0), "%s: node %zu activation cpu %g ms, opencl %g ms", label, i, a, b);
        if (a >= 0) {
            n_active++;
            d.act_ms = fmax(d.act_ms, fabs(a - b));
        }
        double dv = fabs(rc.vm_final_mV[i] - ro.vm_final_mV[i]);
        cr_assert(!isnan(dv), "%s: node %zu final Vm cpu %g, opencl %g", label, i, rc.vm_final_mV[i],
                  ro.vm_final_mV[i]);
        d.vm_mV = fmax(d.vm_mV, dv);
    }
    fprintf(stderr,
            "opencl vs cpu, %s: %zu nodes (%zu activated), %ld steps: max |d activation| = %.3e ms, "
            "max |d Vm| = %.3e mV, CG iterations cpu %ld / opencl %ld\n",
            label, n, n_active, rc.steps, d.act_ms, d.vm_mV, d.cg_cpu, d.cg_ocl);
    cr_assert_gt(n_active, n / 2, "%s: only %zu of %zu nodes activated: the wave did not travel", label, n_active, n);
    ct_run_result_free(&rc);
    ct_run_result_free(&ro);
    ct_sim_destroy(sim);
    return d;
}

/* (a) The N-version slab at dx 0.5 mm, dt 0.05 ms, 70 ms: explicit diffusion with consistent mass,
 * so every step runs a CG on M_C. Measured with PoCL 3.1 (LLVM 15) on an x86 CPU, double: max |d activation| 1.4e-14 ms,
 * max |d Vm| 1.1e-14 mV. The Vm bound leaves room for a GPU's own exp/log/pow (a few ulp each, amplified
 * through the upstroke) while still catching any real difference in the arithmetic. */
Test(opencl, nversion_dx05_matches_cpu, .timeout = 300)
{
    require_opencl();
    ct_config cfg;
    cr_assert_eq(ct_config_load(CT_SOURCE_DIR "/meshes/nversion_dx0.5_dt0.05.json", &cfg), CT_OK, "%s",
                 ct_error_message());
    cr_assert(cfg.consistent_mass && cfg.diffusion == CT_DIFFUSION_EXPLICIT);
    pair_diff d = run_pair(&cfg, "N-version dx 0.5 mm");
    cr_assert_lt(d.act_ms, ACT_TOL_MS, "activation differs by %g ms", d.act_ms);
#ifdef CT_REAL_FLOAT
    cr_assert_lt(d.vm_mV, 1.0, "final Vm differs by %g mV", d.vm_mV);
#else
    cr_assert_lt(d.vm_mV, 1e-9, "final Vm differs by %g mV", d.vm_mV);
#endif
    cr_assert_gt(d.cg_ocl, 0);
    ct_config_free(&cfg);
}

/* A 5 x 1.5 x 1 mm TP06 slab at dx 0.25 mm (567 nodes), stimulated at x = 0 for 2 ms, 15 ms long. */
static const char *slab_fmt =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [5, 1.5, 1], \"dx_mm\": 0.25},"
    " \"model\": %s,"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.02, \"end_time_ms\": %g,"
    " \"diffusion\": {\"method\": \"%s\", \"mass\": \"%s\", \"cg_tolerance\": 1e-10},"
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1.5,1], \"amplitude_uA_per_uF\": %g,"
    " \"duration_ms\": 2}]}";

static void slab(const char *model, double end_ms, const char *method, const char *mass, double amp, ct_config *cfg)
{
    char text[2048];
    snprintf(text, sizeof text, slab_fmt, model, end_ms, method, mass, amp);
    cr_assert_eq(ct_config_parse(text, "test_opencl slab", cfg), CT_OK, "%s", ct_error_message());
}

static const char *const tp06 = "{\"name\": \"tp06\", \"cell_type\": \"epi\"}";

/* Vm bound of the small-slab comparisons. Measured (PoCL, double): max |d Vm| 7e-15 (explicit lumped),
 * 1.6e-14 (Crank-Nicolson lumped), 7.8e-14 (backward Euler consistent), 0 (Mitchell-Schaeffer) mV;
 * max |d activation| <= 7.1e-15 ms. Float build: |d Vm| <= 4e-5 mV, |d activation| <= 6e-6 ms.
 * See the N-version test for the margin. */
#ifdef CT_REAL_FLOAT
#define SLAB_VM_TOL_MV 1.0
#else
#define SLAB_VM_TOL_MV 1e-9
#endif

/* (b) Explicit diffusion with lumped mass: the fused SpMV + activation kernel. */
Test(opencl, explicit_lumped_matches_cpu, .timeout = 300)
{
    require_opencl();
    ct_config cfg;
    slab(tp06, 15.0, "explicit", "lumped", 50.0, &cfg);
    pair_diff d = run_pair(&cfg, "explicit lumped");
    cr_assert_lt(d.act_ms, ACT_TOL_MS, "activation differs by %g ms", d.act_ms);
    cr_assert_lt(d.vm_mV, SLAB_VM_TOL_MV, "final Vm differs by %g mV", d.vm_mV);
    cr_assert_eq(d.cg_ocl, 0);
    ct_config_free(&cfg);
}

/* (b) Crank-Nicolson with lumped mass, then the same config switched to backward Euler with consistent
 * mass through the struct (the two implicit right-hand sides). */
Test(opencl, implicit_matches_cpu, .timeout = 300)
{
    require_opencl();
    ct_config cfg;
    slab(tp06, 15.0, "crank_nicolson", "lumped", 50.0, &cfg);
    pair_diff d = run_pair(&cfg, "crank_nicolson lumped");
    cr_assert_lt(d.act_ms, ACT_TOL_MS, "activation differs by %g ms", d.act_ms);
    cr_assert_lt(d.vm_mV, SLAB_VM_TOL_MV, "final Vm differs by %g mV", d.vm_mV);
    cr_assert_gt(d.cg_ocl, 0);
    /* CG iteration counts may differ by one where a residual sits at the tolerance */
    cr_assert_leq(labs(d.cg_ocl - d.cg_cpu), d.cg_cpu / 100 + 1, "CG iterations cpu %ld, opencl %ld", d.cg_cpu,
                  d.cg_ocl);

    cfg.diffusion = CT_DIFFUSION_BACKWARD_EULER;
    cfg.consistent_mass = 1;
    cfg.cg_rel_tolerance = 1e-8; /* fewer CG iterations: each costs two host round trips */
    d = run_pair(&cfg, "backward_euler consistent");
    cr_assert_lt(d.act_ms, ACT_TOL_MS, "activation differs by %g ms", d.act_ms);
    cr_assert_lt(d.vm_mV, SLAB_VM_TOL_MV, "final Vm differs by %g mV", d.vm_mV);
    cr_assert_gt(d.cg_ocl, 0);
    ct_config_free(&cfg);
}

/* (c) Mitchell-Schaeffer on the small slab (explicit lumped; the CG paths are model-independent and
 * covered above). */
Test(opencl, mitchell_schaeffer_matches_cpu, .timeout = 300)
{
    require_opencl();
    ct_config cfg;
    slab("{\"name\": \"mitchell_schaeffer\"}", 20.0, "explicit", "lumped", 50.0, &cfg);
    pair_diff d = run_pair(&cfg, "mitchell_schaeffer explicit lumped");
    cr_assert_lt(d.act_ms, ACT_TOL_MS, "activation differs by %g ms", d.act_ms);
    cr_assert_lt(d.vm_mV, SLAB_VM_TOL_MV, "final Vm differs by %g mV", d.vm_mV);
    ct_config_free(&cfg);
}

/* (d) A huge stimulus blows the simulation up: OpenCL reports CT_ERR_NUMERIC at the same step as the CPU,
 * with a message naming the node. */
Test(opencl, blow_up_is_reported_like_cpu, .timeout = 300)
{
    require_opencl();
    ct_config cfg;
    slab(tp06, 5.0, "explicit", "lumped", 5000.0, &cfg);
    ct_sim *sim;
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_run_options opt = {.out_dir = NULL, .quiet = 1};
    ct_run_result rc, ro;
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt, &rc), CT_ERR_NUMERIC, "cpu did not blow up");
    cr_assert_eq(ct_sim_run(sim, &ct_backend_opencl, &opt, &ro), CT_ERR_NUMERIC, "opencl did not blow up");
    const char *msg = ct_error_message();
    fprintf(stderr, "opencl blow-up: %s\n", msg);
    cr_assert(strstr(msg, "blew up") && strstr(msg, "node"), "unexpected message: %s", msg);
    cr_assert_eq(rc.steps, ro.steps, "cpu blew up at step %ld, opencl at step %ld", rc.steps + 1, ro.steps + 1);
    ct_run_result_free(&rc);
    ct_run_result_free(&ro);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

/* (e) Selection: "opencl" by name, and "auto" picks some backend and says why. */
Test(opencl, state_save_and_restore_is_bit_for_bit, .timeout = 300)
{
    require_opencl();
    char why[512];
    cr_assert_eq(ct_test_state_roundtrip(&ct_backend_opencl, why, sizeof why), 0, "%s", why);
}

Test(opencl, backend_select)
{
    require_opencl();
    const ct_backend_ops *be = NULL;
    char why[2048] = "";
    cr_assert_eq(ct_backend_select("opencl", &be, why, sizeof why), CT_OK, "%s", ct_error_message());
    cr_assert_eq(be, &ct_backend_opencl);
    cr_assert_str_eq(be->name, "opencl");
    be = NULL;
    why[0] = '\0';
    cr_assert_eq(ct_backend_select("auto", &be, why, sizeof why), CT_OK, "%s", ct_error_message());
    cr_assert_not_null(be);
    fprintf(stderr, "%s\n", why);
    cr_assert(strstr(why, "auto") && strstr(why, be->name), "auto chose %s but says \"%s\"", be->name, why);
    /* An OpenCL device that is only the host CPU (PoCL in CI) is passed over by auto, saying so. */
    if (ct_backend_opencl.runs_on_host_cpu()) {
        cr_assert_neq(be, &ct_backend_opencl, "auto chose OpenCL on the host CPU over the cpu backend");
        cr_assert(strstr(why, "opencl unavailable") && strstr(why, "host CPU"), "%s", why);
    }
}

/* CT_OPENCL_DEVICE out of range is refused with a message naming the variable. */
Test(opencl, bad_device_index_is_refused)
{
    require_opencl();
    setenv("CT_OPENCL_DEVICE", "9999", 1);
    ct_status st = ct_backend_opencl.probe();
    const char *msg = ct_error_message();
    unsetenv("CT_OPENCL_DEVICE");
    cr_assert_eq(st, CT_ERR_BACKEND);
    cr_assert(strstr(msg, "CT_OPENCL_DEVICE"), "message: %s", msg);
}

#else /* !CT_HAVE_OPENCL */

Test(opencl, not_compiled_in)
{
    const ct_backend_ops *be = NULL;
    char why[256];
    cr_assert_eq(ct_backend_select("opencl", &be, why, sizeof why), CT_ERR_BACKEND);
    cr_skip_test("OpenCL backend not compiled into this build: %s", ct_error_message());
}

#endif
