/* test_cg_start.c — the implicit diffusion step solves its system: the one-pass CG start (cg_start_implicit:
 * b, and the residual -K v of the start x = v, formed in the pass that takes K v) and the relative stopping rule.
 *
 * The tissue is made inert (Mitchell-Schaeffer with tau_in = tau_out = 1e30 ms: I_ion below one ulp of Vm), so
 * the reaction changes Vm only by the stimulus, dt * amp, and the host knows the post-reaction Vm v* exactly.
 * After a step with a stimulus on one corner (a sharp, non-trivial field) and one without, the host checks the
 * step's system with its own products of the assembled K and M:
 *   || (M/dt + theta K) v_new - (M/dt v* - (1 - theta) K v*) || <= 2 tol ||b||,
 * for Crank-Nicolson and backward Euler, lumped and consistent mass, on the CPU backend (the reference the
 * other backends are held to in test_backends). A wrong start residual (its sign, a missing K v term) leaves
 * the relative residual near ||K v*|| / ||b||, about 1e-3 here, far above the tolerance; the test also checks
 * the start was that far off, so CG had work to do.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "backend.h"
#include "fem/ct_fem.h"
#include "mesh/ct_mesh.h"
#include "models/ct_models.h"

#define TOL 1e-9

/* y = mat x (mat NULL: the diagonal `diag`). */
static void product(const ct_csr *mat, const double *diag, const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!mat) {
            y[i] = diag[i] * x[i];
            continue;
        }
        double s = 0.0;
        for (int32_t k = mat->row_ptr[i]; k < mat->row_ptr[i + 1]; k++)
            s += mat->val[k] * x[mat->col[k]];
        y[i] = s;
    }
}

/* ||A v_new - b|| / ||b|| of the implicit step from v_star; *start_rel: the same with v_new = v_star. */
static double relative_residual(const ct_csr *k, const ct_csr *mc, const double *lumped, double dt, double theta,
                                const double *v_star, const double *v_new, size_t n, double *start_rel)
{
    double *kv = malloc(n * sizeof *kv), *mv = malloc(n * sizeof *mv), *kx = malloc(n * sizeof *kx),
           *mx = malloc(n * sizeof *mx); /* owned here */
    cr_assert(kv && mv && kx && mx);
    product(k, NULL, v_star, kv, n);
    product(mc, lumped, v_star, mv, n);
    product(k, NULL, v_new, kx, n);
    product(mc, lumped, v_new, mx, n);
    double bb = 0.0, rr = 0.0, r0 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double b = mv[i] / dt - (1.0 - theta) * kv[i];
        double r = b - (mx[i] / dt + theta * kx[i]);
        double s = b - (mv[i] / dt + theta * kv[i]);
        bb += b * b;
        rr += r * r;
        r0 += s * s;
    }
    free(kv);
    free(mv);
    free(kx);
    free(mx);
    *start_rel = sqrt(r0 / bb);
    return sqrt(rr / bb);
}

static void check_implicit(int method, int consistent)
{
    const double size[3] = {3.0, 1.0, 1.0}, fibre[3] = {1, 0, 0}, dx = 0.25, dt = 0.01;
    const double theta = method == CT_DIFFUSION_BACKWARD_EULER ? 1.0 : 0.5, amp = 50.0;
    ct_mesh *m = NULL; /* owned here, destroyed below */
    cr_assert_eq(ct_mesh_box(size, dx, fibre, &m), CT_OK, "%s", ct_error_message());
    size_t n = m->n_nodes;
    ct_conductivity cond = {0.13342, 0.017606, 140, 0.01};
    ct_csr *k = NULL, *mc = NULL; /* owned here */
    double *lumped = malloc(n * sizeof *lumped), *v0 = malloc(n * sizeof *v0), *v1 = malloc(n * sizeof *v1),
           *v2 = malloc(n * sizeof *v2), *vs = malloc(n * sizeof *vs); /* owned here */
    uint32_t *mask = calloc(n, sizeof *mask);
    cr_assert(lumped && v0 && v1 && v2 && vs && mask);
    cr_assert_eq(ct_fem_assemble(m, &cond, NULL, &k, lumped, &mc), CT_OK, "%s", ct_error_message());
    for (size_t i = 0; i < n; i++) {
        const double *x = m->xyz_mm + 3 * i;
        mask[i] = x[0] <= 0.5 + 1e-9 && x[1] <= 0.5 + 1e-9;
    }
    ct_real params[CT_MODEL_NPARAM] = {0};
    ct_ms_default_params(params);
    params[CT_MS_P_TAU_IN] = params[CT_MS_P_TAU_OUT] = (ct_real)1e30; /* inert: I_ion below an ulp of Vm */
    ct_backend_problem pb = {
        .n_nodes = n,
        .model = CT_MODEL_MITCHELL_SCHAEFFER,
        .n_param_sets = 1,
        .param_sets = params,
        .stiffness = k,
        .lumped_mass_mm3 = lumped,
        .consistent_mass = consistent ? mc : NULL,
        .stim_mask = mask,
        .diffusion = method,
        .dt_ms = dt,
        .cg_rel_tolerance = TOL,
        .cg_max_iterations = 1000,
        .activation_threshold_mV = 0,
        .vm_bound_mV = 1e3,
    };
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(ct_backend_cpu.create(&pb, &ctx), CT_OK, "%s", ct_error_message());
    double amps[CT_MAX_STIMULI] = {amp};
    ct_step_report rep;
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_VM, v0), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.step(ctx, 0.0, 1u, amps, &rep), CT_OK, "%s", ct_error_message());
    int it1 = rep.cg_iterations;
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_VM, v1), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.step(ctx, dt, 0u, amps, &rep), CT_OK, "%s", ct_error_message());
    int it2 = rep.cg_iterations;
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_VM, v2), CT_OK, "%s", ct_error_message());
    ct_backend_cpu.destroy(ctx);

    /* step 1: v* = v0 + dt amp on the stimulated corner (the reaction adds exactly that, as the backend does) */
    for (size_t i = 0; i < n; i++)
        vs[i] = mask[i] ? (double)((ct_real)v0[i] + (ct_real)dt * (ct_real)amp) : v0[i];
    double start1 = 0.0, start2 = 0.0;
    double rel1 = relative_residual(k, consistent ? mc : NULL, lumped, dt, theta, vs, v1, n, &start1);
    /* step 2: no stimulus, the reaction leaves Vm as it is */
    double rel2 = relative_residual(k, consistent ? mc : NULL, lumped, dt, theta, v1, v2, n, &start2);
    cr_log_info("method %d, %s mass: relative residual %.2e (start %.2e, %d iterations), %.2e (start %.2e, %d "
                "iterations)",
                method, consistent ? "consistent" : "lumped", rel1, start1, it1, rel2, start2, it2);
    cr_expect_gt(start1, 100 * TOL, "the start of step 1 already solved the system: the test checks nothing");
    cr_expect_gt(start2, 100 * TOL, "the start of step 2 already solved the system: the test checks nothing");
    cr_expect_gt(it1, 0);
    cr_expect_gt(it2, 0);
    cr_expect_leq(rel1, 2 * TOL, "step 1: relative residual %g > 2 x tolerance %g", rel1, TOL);
    cr_expect_leq(rel2, 2 * TOL, "step 2: relative residual %g > 2 x tolerance %g", rel2, TOL);
    ct_csr_destroy(k);
    ct_csr_destroy(mc);
    free(lumped);
    free(v0);
    free(v1);
    free(v2);
    free(vs);
    free(mask);
    ct_mesh_destroy(m);
}

Test(cg_start, crank_nicolson_lumped) { check_implicit(CT_DIFFUSION_CRANK_NICOLSON, 0); }
Test(cg_start, crank_nicolson_consistent) { check_implicit(CT_DIFFUSION_CRANK_NICOLSON, 1); }
Test(cg_start, backward_euler_lumped) { check_implicit(CT_DIFFUSION_BACKWARD_EULER, 0); }
Test(cg_start, backward_euler_consistent) { check_implicit(CT_DIFFUSION_BACKWARD_EULER, 1); }
