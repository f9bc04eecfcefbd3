/* test_conv_dt.c — the time-step convergence of a propagating TP06 front, for the N-version convergence study
 * (issue 12, meshes/README.md "Convergence at dt 0.005 ms").
 *
 * A planar front along the fibres of a strand 5 x 0.5 x 0.5 mm (dx 0.25 mm, N-version conductivities and
 * stimulus strength, consistent mass, the CPU backend) reaches x = 4.5 mm at a time that depends on dt through
 * two first-order errors: the reaction's (Vm by forward Euler with I_ion of the step's start, gates by
 * Rush-Larsen at the step's start Vm: the upstroke lags, the front is late) and the diffusion scheme's
 * (forward Euler diffuses too much and makes it early, backward Euler too little and makes it late,
 * Crank-Nicolson has none to first order). So at every dt: explicit < Crank-Nicolson < backward Euler; halving
 * dt halves each scheme's distance to the common limit; the Richardson limits 2 t(dt/2) - t(dt) of the three
 * agree. This is why the N-version P8 at dx 0.2 moved later from explicit dt 0.01 to Crank-Nicolson dt 0.005
 * while codes with backward Euler diffusion move earlier: not a bug, the same limit approached from two sides.
 * About 3 s of CPU time (Release, OMP_NUM_THREADS=1).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "backend.h"
#include "fem/ct_fem.h"
#include "mesh/ct_mesh.h"
#include "models/ct_models.h"

/* The first activation (ms) at (4.5, 0, 0) of the strand with diffusion `method` at dt_ms, stimulus
 * 35.714 uA/uF on x <= 1 mm for 2 ms. */
static double far_activation_ms(int method, double dt_ms)
{
    const double size[3] = {5.0, 0.5, 0.5}, fibre[3] = {1, 0, 0}, dx = 0.25;
    ct_mesh *m = NULL; /* owned here, destroyed below */
    cr_assert_eq(ct_mesh_box(size, dx, fibre, &m), CT_OK, "%s", ct_error_message());
    ct_conductivity cond = {0.13342, 0.017606, 140, 0.01};
    ct_csr *k = NULL, *mc = NULL; /* owned here */
    double *lumped = malloc(m->n_nodes * sizeof *lumped), *act = malloc(m->n_nodes * sizeof *act);
    uint32_t *mask = calloc(m->n_nodes, sizeof *mask);
    cr_assert(lumped && act && mask);
    cr_assert_eq(ct_fem_assemble(m, &cond, NULL, &k, lumped, &mc), CT_OK, "%s", ct_error_message());
    size_t probe = m->n_nodes;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *x = m->xyz_mm + 3 * i;
        mask[i] = x[0] <= 1.0 + 1e-9;
        if (fabs(x[0] - 4.5) < 1e-9 && fabs(x[1]) < 1e-9 && fabs(x[2]) < 1e-9)
            probe = i;
    }
    cr_assert_lt(probe, m->n_nodes, "no node at (4.5, 0, 0)");
    ct_real params[CT_MODEL_NPARAM] = {0};
    ct_tp06_default_params(params, 2);
    ct_backend_problem pb = {
        .n_nodes = m->n_nodes,
        .model = CT_MODEL_TP06,
        .n_param_sets = 1,
        .param_sets = params,
        .stiffness = k,
        .lumped_mass_mm3 = lumped,
        .consistent_mass = mc,
        .stim_mask = mask,
        .diffusion = method,
        .dt_ms = dt_ms,
        .cg_rel_tolerance = 1e-10,
        .cg_max_iterations = 1000,
        .activation_threshold_mV = 0,
        .vm_bound_mV = 1e3,
    };
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(ct_backend_cpu.create(&pb, &ctx), CT_OK, "%s", ct_error_message());
    double amp[CT_MAX_STIMULI] = {35.714};
    long steps = lround(10.0 / dt_ms), pulse = lround(2.0 / dt_ms); /* the pulse: exactly 2 ms at every dt */
    for (long s = 0; s < steps; s++) {
        ct_step_report rep;
        cr_assert_eq(ct_backend_cpu.step(ctx, (double)s * dt_ms, s < pulse ? 1u : 0u, amp, &rep), CT_OK, "%s",
                     ct_error_message());
    }
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_ACTIVATION_MS, act), CT_OK, "%s", ct_error_message());
    double t = act[probe];
    ct_backend_cpu.destroy(ctx);
    ct_csr_destroy(k);
    ct_csr_destroy(mc);
    free(lumped);
    free(act);
    free(mask);
    ct_mesh_destroy(m);
    cr_assert_gt(t, 2.0, "the far node activated at %g ms (dt %g, method %d)", t, dt_ms, method);
    return t;
}

Test(conv_dt, schemes_bracket_one_first_order_limit, .timeout = 600)
{
    const int methods[3] = {CT_DIFFUSION_EXPLICIT, CT_DIFFUSION_CRANK_NICOLSON, CT_DIFFUSION_BACKWARD_EULER};
    const char *names[3] = {"explicit", "crank_nicolson", "backward_euler"};
    const double dts[3] = {0.01, 0.005, 0.0025};
    double t[3][3], limit[3];
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++)
            t[a][b] = far_activation_ms(methods[a], dts[b]);
        limit[a] = 2.0 * t[a][2] - t[a][1];
        cr_log_info("%s: %.4f %.4f %.4f ms at dt 0.01 0.005 0.0025, Richardson limit %.4f", names[a], t[a][0],
                    t[a][1], t[a][2], limit[a]);
    }
    for (int b = 0; b < 3; b++)
        cr_expect(t[0][b] < t[1][b] && t[1][b] < t[2][b],
                  "dt %g: explicit %.4f < Crank-Nicolson %.4f < backward Euler %.4f ms", dts[b], t[0][b], t[1][b],
                  t[2][b]);
    for (int a = 1; a < 3; a++) { /* the two late schemes: earlier with smaller dt, first order */
        double d1 = t[a][0] - t[a][1], d2 = t[a][1] - t[a][2];
        cr_expect(d1 > 0 && d2 > 0, "%s gets earlier with smaller dt: %.4f %.4f %.4f", names[a], t[a][0], t[a][1],
                  t[a][2]);
        cr_expect(d1 / d2 > 1.6 && d1 / d2 < 2.4, "%s: first order, differences %.4f / %.4f = %.2f", names[a], d1,
                  d2, d1 / d2);
    }
    for (int a = 0; a < 3; a++)
        cr_expect_lt(fabs(limit[a] - limit[1]), 0.01, "Richardson limits %s %.4f vs Crank-Nicolson %.4f ms",
                     names[a], limit[a], limit[1]);
}
