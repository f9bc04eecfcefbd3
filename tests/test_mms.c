/* test_mms.c — code verification against analytic (manufactured) solutions of the monodomain equation, in the
 * manner of Pathmanathan P, Gray RA, "Verification of computational models of cardiac electro-physiology",
 * Int J Numer Meth Biomed Eng 30:525-544 (2014): observed orders of convergence, in space and in time, of the
 * real code path (box mesh, ct_fem_assemble's K and M, the CPU backend's create/step/download) towards a known
 * smooth solution.
 *
 * The problem. Mitchell-Schaeffer with tau_in = 1e30 ms is a passive linear membrane,
 * I_ion = (Vm - V_rest) / tau_out (its inward current h v^2 (1-v) / tau_in is 1e-30 times the outward one).
 * On the cube [0,L]^3 with no-flux boundaries, fibres along x and D = diag(D_l, D_t, D_t) = sigma / (chi Cm) (mm^2/ms,
 * ct_fem_diffusivity), u = Vm - V_rest obeys
 *     du/dt = div(D grad u) - u / tau_out + i_app(x, t),
 * and phi(x) = cos(pi x/L) cos(pi y/L) cos(pi z/L) satisfies div(D grad phi) = -mu phi with no flux, where
 * mu = pi^2 (D_l + 2 D_t) / L^2 (both conductivities enter). With lambda = mu + 1/tau_out:
 *   - decay:  u = A exp(-lambda t) phi(x), i_app = 0 (from u = A phi at t = 0);
 *   - forced: u = A sin(omega t) phi(x), from rest, with the source i_app = A (omega cos(omega t) +
 *     lambda sin(omega t)) phi(x), which makes the splitting error non-zero (below).
 *
 * Setting a smooth field through the public interface. The initial field of the decay case, V_rest + A phi
 * at the nodes (the interpolated exact field), is the problem's initial Vm (ct_backend_problem.initial_vm_mV,
 * the configuration's "initial_vm_mV"; test initial_vm_reaches_every_backend checks that each backend starts
 * from it). The source of the forced case has no per-node amplitude in the interface, so it goes through the
 * stimulus path, which is documented and additive: stimulus s covers node i if bit s of stim_mask[i] is set,
 * and i_app at node i is the sum of the active stimuli's amplitudes. With psi = (phi + 1)/2 in [0,1] rounded
 * to a 30-bit integer q_i, bits 0..29 of node i are those of q_i and bit 30 covers every node; amplitudes
 * g 2^(b+1) / (2^30 - 1) (bit b < 30) and -g (bit 30) then give i_app = g (2 q_i / (2^30 - 1) - 1) = g phi(x_i)
 * within 1e-9 g.
 *
 * The error. e = Vm - V_rest - u(x_i, T) at the nodes, measured in the L2 norm of the P1 function it
 * defines, sqrt(e^T M e) with the consistent mass M (mm^3), relative to the same norm of u(x_i, T).
 *
 * Space (decay, Crank-Nicolson, consistent mass, dt = 0.002 ms, T = 1 ms): h = L/4 .. L/32, expected order 2
 * (P1 elements, L2 norm). The time error at this dt (forward Euler on the membrane term, T dt / (2 tau_out^2)
 * = 3e-5 relative; Crank-Nicolson's is smaller still) is below 1 % of the spatial error at L/32.
 *
 * Time (forced, h = L/16, dt halved three times): the step is Godunov splitting (backend.h): a forward-Euler
 * reaction step (Vm += dt (i_app - I_ion), i_app and I_ion taken at the start of the step), then the
 * diffusion step. The forward-Euler update and the splitting are each first order, so the expected order is
 * 1 whatever the diffusion scheme (Crank-Nicolson, second order by itself, or forward Euler). The passive
 * membrane alone would split exactly: its reaction step, u -> (1 - dt/tau_out) u, is a multiple of the
 * identity and commutes with diffusion, so the decay case's time error is only that of forward Euler,
 * (1 - dt/tau_out) against exp(-dt/tau_out), and Crank-Nicolson's. The source does not commute: the reaction
 * step adds dt g phi, which the diffusion step then decays over the whole step instead of over the part of
 * the step after it entered. At a fixed h the error against u also holds the spatial error, which does not
 * shrink with dt (with explicit diffusion, whose stable dt is small, the runs reach it at dt = 0.0025 ms), so
 * the order is measured on the differences of successive runs, ||Vm(dt) - Vm(dt/2)||, in which it cancels;
 * and the Richardson limit 2 Vm(dt/2) - Vm(dt) must lie within the spatial error of u.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "fem/ct_fem.h"
#include "mesh/ct_mesh.h"
#include "models/ct_models.h"

#define MMS_PI 3.14159265358979323846
#define MMS_L_MM 1.0          /* cube edge */
#define MMS_TAU_OUT_MS 6.0    /* Mitchell-Schaeffer's default */
#define MMS_V_REST_MV (-80.0) /* Mitchell-Schaeffer's default */
#define MMS_A_MV 10.0         /* amplitude of u */
#define MMS_OMEGA_PER_MS 1.0  /* forced case: u = A sin(omega t) phi */
#define MMS_BITS 30           /* bits of the encoded shape (one more stimulus carries the offset) */

/* Anisotropic (D_l = 0.1, D_t = 0.025 mm^2/ms), chi and Cm of the N-version benchmark. */
static const ct_conductivity mms_cond = {.sigma_l_S_per_m = 0.14, .sigma_t_S_per_m = 0.035, .chi_per_mm = 140.0,
                                         .cm_uF_per_mm2 = 0.01};

enum mms_case { MMS_DECAY, MMS_FORCED };

/* One mesh of the cube and everything assembled on it; all owned, freed by mms_free. */
typedef struct mms_mesh {
    ct_mesh *mesh;
    ct_csr *stiffness, *mass;  /* K (mm^3/ms), consistent M (mm^3) */
    double *lumped_mass_mm3;   /* n */
    double *phi;               /* n: phi at the nodes */
    uint32_t *stim_mask;       /* n: the encoded shape (see the header) */
} mms_mesh;

/* mu (1/ms): -div(D grad phi) = mu phi. */
static double mms_mu(void)
{
    double d_l = ct_fem_diffusivity(mms_cond.sigma_l_S_per_m, mms_cond.chi_per_mm, mms_cond.cm_uF_per_mm2);
    double d_t = ct_fem_diffusivity(mms_cond.sigma_t_S_per_m, mms_cond.chi_per_mm, mms_cond.cm_uF_per_mm2);
    return MMS_PI * MMS_PI * (d_l + 2.0 * d_t) / (MMS_L_MM * MMS_L_MM);
}

static double mms_lambda(void) { return mms_mu() + 1.0 / MMS_TAU_OUT_MS; }

/* The exact amplitude a(t) of u = a(t) phi(x), and the source amplitude g(t) of i_app = g(t) phi(x). */
static double mms_a(enum mms_case c, double t_ms)
{
    return c == MMS_DECAY ? MMS_A_MV * exp(-mms_lambda() * t_ms) : MMS_A_MV * sin(MMS_OMEGA_PER_MS * t_ms);
}

static double mms_g(enum mms_case c, double t_ms)
{
    if (c == MMS_DECAY)
        return 0.0;
    double w = MMS_OMEGA_PER_MS;
    return MMS_A_MV * (w * cos(w * t_ms) + mms_lambda() * sin(w * t_ms));
}

/* Stimulus amplitudes (uA/uF) that make i_app = g phi at every node (the encoding in the header). */
static void mms_amplitudes(double g, double amp[CT_MAX_STIMULI])
{
    const double q_max = (double)((1u << MMS_BITS) - 1u);
    for (int s = 0; s < CT_MAX_STIMULI; s++)
        amp[s] = 0.0;
    for (int b = 0; b < MMS_BITS; b++)
        amp[b] = g * 2.0 * (double)(1u << b) / q_max;
    amp[MMS_BITS] = -g;
}

static const uint32_t mms_all_stimuli = (1u << (MMS_BITS + 1)) - 1u;

static void mms_free(mms_mesh *m)
{
    ct_mesh_destroy(m->mesh);
    ct_csr_destroy(m->stiffness);
    ct_csr_destroy(m->mass);
    free(m->lumped_mass_mm3);
    free(m->phi);
    free(m->stim_mask);
}

/* The cube with `cells` cells along each edge, its matrices, phi and the encoded shape. */
static void mms_setup(int cells, mms_mesh *m)
{
    const double size_mm[3] = {MMS_L_MM, MMS_L_MM, MMS_L_MM}, fibre[3] = {1.0, 0.0, 0.0};
    *m = (mms_mesh){0};
    cr_assert_eq(ct_mesh_box(size_mm, MMS_L_MM / cells, fibre, &m->mesh), CT_OK, "%s", ct_error_message());
    size_t n = m->mesh->n_nodes;
    cr_assert_eq(n, (size_t)(cells + 1) * (size_t)(cells + 1) * (size_t)(cells + 1));
    m->lumped_mass_mm3 = malloc(n * sizeof *m->lumped_mass_mm3);
    m->phi = malloc(n * sizeof *m->phi);
    m->stim_mask = malloc(n * sizeof *m->stim_mask);
    cr_assert(m->lumped_mass_mm3 && m->phi && m->stim_mask);
    cr_assert_eq(ct_fem_assemble(m->mesh, &mms_cond, NULL, &m->stiffness, m->lumped_mass_mm3, &m->mass), CT_OK,
                 "%s", ct_error_message());
    const double q_max = (double)((1u << MMS_BITS) - 1u);
    for (size_t i = 0; i < n; i++) {
        const double *x = m->mesh->xyz_mm + 3 * i;
        double phi = cos(MMS_PI * x[0] / MMS_L_MM) * cos(MMS_PI * x[1] / MMS_L_MM) * cos(MMS_PI * x[2] / MMS_L_MM);
        m->phi[i] = phi;
        uint32_t q = (uint32_t)llround(0.5 * (phi + 1.0) * q_max);
        m->stim_mask[i] = q | (1u << MMS_BITS);
    }
}

/* sqrt(a^T M b) for the consistent mass; with a == b the L2 norm of the P1 function a. */
static double mms_mass_norm(const mms_mesh *m, const double *a)
{
    const ct_csr *mc = m->mass;
    double s = 0.0;
    for (size_t i = 0; i < m->mesh->n_nodes; i++)
        for (int32_t k = mc->row_ptr[i]; k < mc->row_ptr[i + 1]; k++)
            s += a[i] * mc->val[k] * a[mc->col[k]];
    return sqrt(s);
}

/* Runs case c to t_end_ms on the CPU backend; Vm at the end into vm (n, caller's). Returns the relative L2
 * error against the exact solution. */
static double mms_run(const mms_mesh *m, enum mms_case c, int diffusion, int consistent_mass, double dt_ms,
                      double t_end_ms, double *vm)
{
    size_t n = m->mesh->n_nodes;
    double *vm0 = malloc(n * sizeof *vm0); /* the decay case's initial field (header); owned here */
    cr_assert(vm0);
    for (size_t i = 0; i < n; i++)
        vm0[i] = MMS_V_REST_MV + MMS_A_MV * m->phi[i];
    ct_real params[CT_MODEL_NPARAM];
    ct_ms_default_params(params);
    params[CT_MS_P_TAU_IN] = (ct_real)1e30;
    params[CT_MS_P_TAU_OUT] = (ct_real)MMS_TAU_OUT_MS;
    params[CT_MS_P_V_REST] = (ct_real)MMS_V_REST_MV;
    ct_backend_problem pb = {
        .n_nodes = m->mesh->n_nodes,
        .model = CT_MODEL_MITCHELL_SCHAEFFER,
        .n_param_sets = 1,
        .param_sets = params,
        .stiffness = m->stiffness,
        .lumped_mass_mm3 = m->lumped_mass_mm3,
        .consistent_mass = consistent_mass ? m->mass : NULL,
        .stim_mask = m->stim_mask,
        .diffusion = diffusion,
        .dt_ms = dt_ms,
        .cg_rel_tolerance = 1e-12,
        .cg_max_iterations = 1000,
        .activation_threshold_mV = 1e3, /* no activation: not looked at here */
        .vm_bound_mV = 1e3,
        .initial_vm_mV = c == MMS_DECAY ? vm0 : NULL, /* the forced case starts from rest */
    };
    const ct_backend_ops *be = &ct_backend_cpu;
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(be->create(&pb, &ctx), CT_OK, "%s", ct_error_message());
    long steps = lround(t_end_ms / dt_ms);
    cr_assert_lt(fabs((double)steps * dt_ms - t_end_ms), 1e-9 * t_end_ms, "dt %g does not divide %g", dt_ms, t_end_ms);
    double amp[CT_MAX_STIMULI] = {0};
    for (long k = 0; k < steps; k++) {
        double t = (double)k * dt_ms;
        uint32_t active = 0; /* the decay case has no source */
        if (c == MMS_FORCED) {
            mms_amplitudes(mms_g(c, t), amp);
            active = mms_all_stimuli;
        }
        ct_step_report rep;
        cr_assert_eq(be->step(ctx, t, active, amp, &rep), CT_OK, "step %ld: %s", k, ct_error_message());
    }
    cr_assert_eq(be->download(ctx, CT_FIELD_VM, vm), CT_OK, "%s", ct_error_message());
    be->destroy(ctx);
    free(vm0);
    double *e = malloc(n * sizeof *e), *u = malloc(n * sizeof *u);
    cr_assert(e && u);
    double a = mms_a(c, (double)steps * dt_ms);
    for (size_t i = 0; i < n; i++) {
        u[i] = a * m->phi[i];
        e[i] = vm[i] - MMS_V_REST_MV - u[i];
    }
    double rel = mms_mass_norm(m, e) / mms_mass_norm(m, u);
    free(e);
    free(u);
    return rel;
}

/* The encoding gives i_app = g phi: one step from rest with explicit diffusion and no conduction (the
 * stiffness zeroed) leaves Vm = V_rest + dt g phi at every node. */
Test(mms, encoded_stimulus_is_the_smooth_field)
{
    mms_mesh m;
    mms_setup(4, &m);
    for (size_t k = 0; k < m.stiffness->nnz; k++)
        m.stiffness->val[k] = 0.0;
    ct_real params[CT_MODEL_NPARAM];
    ct_ms_default_params(params);
    params[CT_MS_P_TAU_IN] = (ct_real)1e30;
    ct_backend_problem pb = {.n_nodes = m.mesh->n_nodes, .model = CT_MODEL_MITCHELL_SCHAEFFER, .n_param_sets = 1,
                             .param_sets = params, .stiffness = m.stiffness, .lumped_mass_mm3 = m.lumped_mass_mm3,
                             .stim_mask = m.stim_mask, .diffusion = CT_DIFFUSION_EXPLICIT, .dt_ms = 0.01,
                             .activation_threshold_mV = 1e3, .vm_bound_mV = 1e3};
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(ct_backend_cpu.create(&pb, &ctx), CT_OK, "%s", ct_error_message());
    double amp[CT_MAX_STIMULI], *vm = malloc(m.mesh->n_nodes * sizeof *vm);
    cr_assert(vm);
    mms_amplitudes(1000.0, amp);
    ct_step_report rep;
    cr_assert_eq(ct_backend_cpu.step(ctx, 0.0, mms_all_stimuli, amp, &rep), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_VM, vm), CT_OK, "%s", ct_error_message());
    for (size_t i = 0; i < m.mesh->n_nodes; i++)
        cr_assert_float_eq(vm[i], -80.0 + 10.0 * m.phi[i], 1e-6, "node %zu: Vm %.12g, expected %.12g", i, vm[i],
                           -80.0 + 10.0 * m.phi[i]);
    ct_backend_cpu.destroy(ctx);
    free(vm);
    mms_free(&m);
}

/* The initial Vm of the problem reaches every backend this machine runs (CPU, OpenCL, CUDA), rounded to
 * ct_real only, for each diffusion path's start-up (explicit lumped, implicit consistent with beats); the
 * ionic state stays the model's (Mitchell-Schaeffer's h = 1), so the first step from it is the CPU's. */
Test(mms, initial_vm_reaches_every_backend)
{
    mms_mesh m;
    mms_setup(4, &m);
    size_t n = m.mesh->n_nodes;
    double *vm0 = malloc(n * sizeof *vm0), *vm = malloc(n * sizeof *vm), *ref = malloc(n * sizeof *ref);
    cr_assert(vm0 && vm && ref);
    for (size_t i = 0; i < n; i++)
        vm0[i] = MMS_V_REST_MV + MMS_A_MV * m.phi[i];
    ct_real params[CT_MODEL_NPARAM];
    ct_ms_default_params(params);
    double amp[CT_MAX_STIMULI] = {0};
    const ct_backend_ops *bes[] = {&ct_backend_cpu, ct_backend_find("opencl"), ct_backend_find("cuda")};
    for (int path = 0; path < 2; path++) {
        ct_backend_problem pb = {.n_nodes = n, .model = CT_MODEL_MITCHELL_SCHAEFFER, .n_param_sets = 1,
                                 .param_sets = params, .stiffness = m.stiffness, .lumped_mass_mm3 = m.lumped_mass_mm3,
                                 .consistent_mass = path ? m.mass : NULL,
                                 .diffusion = path ? CT_DIFFUSION_CRANK_NICOLSON : CT_DIFFUSION_EXPLICIT,
                                 .dt_ms = 0.01, .cg_rel_tolerance = 1e-12, .cg_max_iterations = 1000,
                                 .activation_threshold_mV = -40.0, .vm_bound_mV = 1e3, .max_beats = path ? 2 : 0,
                                 .initial_vm_mV = vm0};
        for (int b = 0; b < 3; b++) {
            const ct_backend_ops *be = bes[b];
            if (!be || be->probe() != CT_OK)
                continue;
            ct_backend_ctx *ctx = NULL;
            cr_assert_eq(be->create(&pb, &ctx), CT_OK, "%s: %s", be->name, ct_error_message());
            cr_assert_eq(be->download(ctx, CT_FIELD_VM, vm), CT_OK, "%s", ct_error_message());
            for (size_t i = 0; i < n; i++)
                cr_assert_eq(vm[i], (double)(ct_real)vm0[i], "%s: node %zu starts at %.17g, not %.17g", be->name, i,
                             vm[i], vm0[i]);
            ct_step_report rep;
            cr_assert_eq(be->step(ctx, 0.0, 0, amp, &rep), CT_OK, "%s: %s", be->name, ct_error_message());
            cr_assert_eq(be->download(ctx, CT_FIELD_VM, b ? vm : ref), CT_OK, "%s", ct_error_message());
            for (size_t i = 0; b && i < n; i++)
                cr_assert_float_eq(vm[i], ref[i], 1e-9, "%s: node %zu after one step: %.17g, CPU %.17g", be->name, i,
                                   vm[i], ref[i]);
            be->destroy(ctx);
        }
    }
    free(vm0);
    free(vm);
    free(ref);
    mms_free(&m);
}

/* Second order in space: L2 error at T = 1 ms for h = L/4 .. L/32 (Crank-Nicolson, consistent mass). */
Test(mms, second_order_in_space, .timeout = 600)
{
    static const int cells[] = {4, 8, 16, 32};
    enum { NH = sizeof cells / sizeof cells[0] };
    const double t_end_ms = 1.0, dt_ms = 0.002;
    double err[NH];
    fprintf(stderr, "MMS space (decay, CN, consistent mass, dt %g ms, T %g ms):\n", dt_ms, t_end_ms);
    for (int k = 0; k < NH; k++) {
        mms_mesh m;
        mms_setup(cells[k], &m);
        double *vm = malloc(m.mesh->n_nodes * sizeof *vm);
        cr_assert(vm);
        err[k] = mms_run(&m, MMS_DECAY, CT_DIFFUSION_CRANK_NICOLSON, 1, dt_ms, t_end_ms, vm);
        double order = k > 0 ? log2(err[k - 1] / err[k]) : NAN;
        fprintf(stderr, "  h = L/%-2d (%6zu nodes): relative L2 error %.4e, order %.3f\n", cells[k],
                m.mesh->n_nodes, err[k], order);
        free(vm);
        mms_free(&m);
    }
    for (int k = 1; k < NH; k++) {
        cr_assert_lt(err[k], err[k - 1], "error does not decrease from h = L/%d to L/%d", cells[k - 1], cells[k]);
        double order = log2(err[k - 1] / err[k]);
        cr_assert(order >= 1.8 && order <= 2.2, "observed order %.3f from h = L/%d to L/%d, expected 2",
                  order, cells[k - 1], cells[k]);
    }
}

/* First order in time at h = L/16. The errors against u fall with dt while the time error dominates; the
 * first-order error removed (Richardson: 2 Vm(dt/2) - Vm(dt)), what is left is the spatial error of L/16,
 * below max_limit_error: the runs converge to u, not to some other field. */
static void first_order_in_time(int diffusion, int consistent_mass, double dt0_ms, int n_decreasing,
                                double max_limit_error, const char *label)
{
    enum { NT = 4 };
    const double t_end_ms = 1.0;
    mms_mesh m;
    mms_setup(16, &m);
    size_t n = m.mesh->n_nodes;
    double *vm[NT], err[NT], dt[NT], diff[NT - 1];
    fprintf(stderr, "MMS time (forced, %s, h = L/16, T %g ms):\n", label, t_end_ms);
    for (int k = 0; k < NT; k++) {
        dt[k] = dt0_ms / (double)(1 << k);
        vm[k] = malloc(n * sizeof *vm[k]);
        cr_assert(vm[k]);
        err[k] = mms_run(&m, MMS_FORCED, diffusion, consistent_mass, dt[k], t_end_ms, vm[k]);
    }
    double *d = malloc(n * sizeof *d), *u = malloc(n * sizeof *u);
    cr_assert(d && u);
    for (size_t i = 0; i < n; i++)
        u[i] = mms_a(MMS_FORCED, t_end_ms) * m.phi[i];
    for (int k = 0; k + 1 < NT; k++) {
        for (size_t i = 0; i < n; i++)
            d[i] = vm[k][i] - vm[k + 1][i];
        diff[k] = mms_mass_norm(&m, d) / mms_mass_norm(&m, u);
    }
    for (size_t i = 0; i < n; i++)
        d[i] = 2.0 * vm[NT - 1][i] - vm[NT - 2][i] - MMS_V_REST_MV - u[i];
    double limit_err = mms_mass_norm(&m, d) / mms_mass_norm(&m, u);
    for (int k = 0; k < NT; k++) {
        fprintf(stderr, "  dt = %-7g ms: relative L2 error %.4e", dt[k], err[k]);
        if (k + 1 < NT)
            fprintf(stderr, ", ||Vm(dt) - Vm(dt/2)|| %.4e", diff[k]);
        if (k >= 1 && k + 1 < NT)
            fprintf(stderr, ", order %.3f", log2(diff[k - 1] / diff[k]));
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "  extrapolated 2 Vm(%g) - Vm(%g): relative L2 error %.4e\n", dt[NT - 1], dt[NT - 2], limit_err);
    for (int k = 1; k <= n_decreasing; k++)
        cr_assert_lt(err[k], err[k - 1], "%s: error does not decrease from dt %g to %g", label, dt[k - 1], dt[k]);
    for (int k = 1; k + 1 < NT; k++) {
        double order = log2(diff[k - 1] / diff[k]);
        cr_assert(order >= 0.8 && order <= 1.2, "%s: observed order %.3f at dt %g ms, expected 1", label, order,
                  dt[k]);
    }
    cr_assert_lt(limit_err, max_limit_error, "%s: the dt -> 0 limit is %g (relative L2) from u", label, limit_err);
    for (int k = 0; k < NT; k++)
        free(vm[k]);
    free(d);
    free(u);
    mms_free(&m);
}

Test(mms, first_order_in_time_crank_nicolson, .timeout = 600)
{
    first_order_in_time(CT_DIFFUSION_CRANK_NICOLSON, 1, 0.1, 3, 1e-2, "Crank-Nicolson, consistent mass");
}

Test(mms, first_order_in_time_explicit, .timeout = 600)
{
    first_order_in_time(CT_DIFFUSION_EXPLICIT, 0, 0.01, 2, 1e-2, "explicit, lumped mass");
}
