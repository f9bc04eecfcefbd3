/* test_cg_start.c — the implicit diffusion step solves its system: the one-pass CG start (cg_start_implicit:
 * b, and the residual -K v of the start x = v, formed in the pass that takes K v) and the relative stopping rule.
 *
 * The tissue is made inert (Mitchell-Schaeffer with tau_in = tau_out = 1e30 ms: I_ion below one ulp of Vm), so
 * the reaction changes Vm only by the stimulus, dt * amp, and the host knows the post-reaction Vm v* exactly.
 * After each of a few steps with a stimulus on one corner (a sharp, non-trivial field), then without, the host
 * checks the step's system with its own products of the assembled K and M:
 *   || (M/dt + theta K) v_new - (M/dt v* - (1 - theta) K v*) || <= 2 tol ||b||,
 * for Crank-Nicolson and backward Euler, lumped and consistent mass, on the CPU backend (the reference the
 * other backends are held to in test_backends). A wrong start residual (its sign, a missing K v term) leaves
 * the relative residual near ||K v*|| / ||b||, about 1e-3 here, far above the tolerance; the test also checks
 * the start was that far off, so CG had work to do. Both starts (diffusion.cg_start, backend.h ct_cg_start): the
 * extrapolated one, x0 = V* + (V^n - V*^(n-1)) with r = -K V* - A d formed in the same pass, and the previous
 * one, x0 = V*.
 *
 * Then on a moving TP06 front the extrapolated start takes under 0.8x the iterations of the previous one with
 * the same activation times; the configuration key; the state blob holds the one extra vector exactly where
 * the extrapolated start is used; and checkpoints of the format before it are refused with a clear message.
 * (OpenCL = CPU with the extrapolated start on, and save/restore bit for bit mid-run on CPU and OpenCL:
 * test_backends, whose implicit cases run with the default start.)
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "backend.h"
#include "fem/ct_fem.h"
#include "mesh/ct_mesh.h"
#include "models/ct_models.h"
#include "sim/ct_checkpoint.h"
#include "sim/ct_config.h"
#include "sim/ct_sim.h"

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

/* The implicit steps of the inert box: stimulus on the corner for STIM_STEPS steps, then none, N_STEPS in all;
 * after every step the host checks the step's system from the Vm before it (the reaction adds dt amp on the
 * corner exactly, as the backend does) and the Vm after it. With the extrapolated start the first step starts
 * from V* (no guess yet) and every later one from V* + the last step's increment, which is not the solution
 * either (the increment changes when the stimulus stops, and diffusion slows down), so CG has work each step. */
#define N_STEPS 5
#define STIM_STEPS 2
static void check_implicit(int method, int consistent, int cg_start)
{
    const double size[3] = {3.0, 1.0, 1.0}, fibre[3] = {1, 0, 0}, dx = 0.25, dt = 0.01;
    const double theta = method == CT_DIFFUSION_BACKWARD_EULER ? 1.0 : 0.5, amp = 50.0;
    ct_mesh *m = NULL; /* owned here, destroyed below */
    cr_assert_eq(ct_mesh_box(size, dx, fibre, &m), CT_OK, "%s", ct_error_message());
    size_t n = m->n_nodes;
    ct_conductivity cond = {0.13342, 0.017606, 140, 0.01};
    ct_csr *k = NULL, *mc = NULL; /* owned here */
    double *lumped = malloc(n * sizeof *lumped), *v0 = malloc(n * sizeof *v0), *v1 = malloc(n * sizeof *v1),
           *vs = malloc(n * sizeof *vs); /* owned here */
    uint32_t *mask = calloc(n, sizeof *mask);
    cr_assert(lumped && v0 && v1 && vs && mask);
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
        .cg_start = cg_start,
    };
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(ct_backend_cpu.create(&pb, &ctx), CT_OK, "%s", ct_error_message());
    double amps[CT_MAX_STIMULI] = {amp};
    ct_step_report rep;
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_VM, v0), CT_OK, "%s", ct_error_message());
    for (int step = 0; step < N_STEPS; step++) {
        uint32_t on = step < STIM_STEPS;
        cr_assert_eq(ct_backend_cpu.step(ctx, step * dt, on, amps, &rep), CT_OK, "%s", ct_error_message());
        cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_VM, v1), CT_OK, "%s", ct_error_message());
        /* v* = v0 + dt amp on the stimulated corner while the stimulus is on (as the backend rounds it) */
        for (size_t i = 0; i < n; i++)
            vs[i] = on && mask[i] ? (double)((ct_real)v0[i] + (ct_real)dt * (ct_real)amp) : v0[i];
        double start = 0.0;
        double rel = relative_residual(k, consistent ? mc : NULL, lumped, dt, theta, vs, v1, n, &start);
        cr_log_info("method %d, %s mass, %s start, step %d: relative residual %.2e (from V*: %.2e), %d iterations",
                    method, consistent ? "consistent" : "lumped",
                    cg_start == CT_CG_START_PREVIOUS ? "previous" : "extrapolated", step + 1, rel, start,
                    rep.cg_iterations);
        cr_expect_gt(start, 100 * TOL, "step %d: V* already solved the system: the test checks nothing", step + 1);
        cr_expect_gt(rep.cg_iterations, 0, "step %d: no CG iteration", step + 1);
        cr_expect_leq(rel, 2 * TOL, "step %d: relative residual %g > 2 x tolerance %g", step + 1, rel, TOL);
        double *t = v0;
        v0 = v1;
        v1 = t;
    }
    ct_backend_cpu.destroy(ctx);
    ct_csr_destroy(k);
    ct_csr_destroy(mc);
    free(lumped);
    free(v0);
    free(v1);
    free(vs);
    free(mask);
    ct_mesh_destroy(m);
}

Test(cg_start, crank_nicolson_lumped) { check_implicit(CT_DIFFUSION_CRANK_NICOLSON, 0, CT_CG_START_EXTRAPOLATE); }
Test(cg_start, crank_nicolson_consistent) { check_implicit(CT_DIFFUSION_CRANK_NICOLSON, 1, CT_CG_START_EXTRAPOLATE); }
Test(cg_start, backward_euler_lumped) { check_implicit(CT_DIFFUSION_BACKWARD_EULER, 0, CT_CG_START_EXTRAPOLATE); }
Test(cg_start, backward_euler_consistent) { check_implicit(CT_DIFFUSION_BACKWARD_EULER, 1, CT_CG_START_EXTRAPOLATE); }
Test(cg_start, previous_crank_nicolson_lumped) { check_implicit(CT_DIFFUSION_CRANK_NICOLSON, 0, CT_CG_START_PREVIOUS); }
Test(cg_start, previous_crank_nicolson_consistent)
{
    check_implicit(CT_DIFFUSION_CRANK_NICOLSON, 1, CT_CG_START_PREVIOUS);
}
Test(cg_start, previous_backward_euler_consistent)
{
    check_implicit(CT_DIFFUSION_BACKWARD_EULER, 1, CT_CG_START_PREVIOUS);
}

/* ---- the extrapolated start on a moving front --------------------------------------------------------- */

/* TP06 epi on a 4 x 1 x 1 mm slab (dx 0.2 mm, 1071 nodes), dt 0.01 ms, stimulated at x <= 0.5 mm for 1 ms, 6 ms
 * (600 steps): the front crosses most of the slab. Returns the CG iterations of the whole run and the final Vm
 * and activation times (caller frees). */
static long front_run(int method, const char *mass, int cg_start, double **vm, double **act, size_t *n_out)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"mesh\": {\"type\": \"box\", \"size_mm\": [4, 1, 1], \"dx_mm\": 0.2},"
             " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"
             " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
             " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.01, \"end_time_ms\": 6,"
             " \"diffusion\": {\"method\": \"%s\", \"mass\": \"%s\", \"cg_tolerance\": 1e-8,"
             " \"cg_start\": \"%s\"},"
             " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,10,10], \"amplitude_uA_per_uF\": 50,"
             " \"duration_ms\": 1}]}",
             method == CT_DIFFUSION_BACKWARD_EULER ? "backward_euler" : "crank_nicolson", mass,
             cg_start == CT_CG_START_PREVIOUS ? "previous" : "extrapolate");
    ct_config cfg;
    cr_assert_eq(ct_config_parse(json, "front.json", &cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(cfg.cg_start, cg_start, "diffusion.cg_start was not read");
    ct_sim *sim = NULL; /* owned here */
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_real params[6 * CT_MODEL_NPARAM];
    ct_backend_problem pb;
    ct_sim_backend_problem(sim, 0, params, &pb);
    cr_assert_eq(pb.cg_start, cg_start, "the configuration's cg_start did not reach the backend problem");
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(ct_backend_cpu.create(&pb, &ctx), CT_OK, "%s", ct_error_message());
    long steps = lround(cfg.end_time_ms / cfg.dt_ms), iterations = 0;
    double amp[CT_MAX_STIMULI] = {cfg.stimuli[0].amplitude_uA_per_uF};
    for (long s = 0; s < steps; s++) {
        double t = (double)s * cfg.dt_ms;
        ct_step_report rep;
        cr_assert_eq(ct_backend_cpu.step(ctx, t, ct_stimulus_active(&cfg.stimuli[0], t) ? 1u : 0u, amp, &rep), CT_OK,
                     "%s", ct_error_message());
        iterations += rep.cg_iterations;
    }
    size_t n = pb.n_nodes;
    *vm = malloc(n * sizeof **vm);
    *act = malloc(n * sizeof **act);
    cr_assert(*vm && *act);
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_VM, *vm), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_ACTIVATION_MS, *act), CT_OK, "%s", ct_error_message());
    *n_out = n;
    ct_backend_cpu.destroy(ctx);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
    return iterations;
}

/* The extrapolated start takes under 0.8x the iterations of the start from V* (the prototype measured 0.62x on
 * the N-version slab at dx 0.2), and both solve to the same tolerance, so the activation times agree to a small
 * fraction of a step. */
static void check_front(int method, const char *mass)
{
    double *vm[2], *act[2];
    size_t n = 0;
    long it_prev = front_run(method, mass, CT_CG_START_PREVIOUS, &vm[0], &act[0], &n);
    long it_extr = front_run(method, mass, CT_CG_START_EXTRAPOLATE, &vm[1], &act[1], &n);
    double dact = 0.0, dvm = 0.0;
    size_t n_act = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(act[0][i] >= 0, act[1][i] >= 0, "node %zu activated with one start only", i);
        if (act[0][i] >= 0) {
            n_act++;
            dact = fmax(dact, fabs(act[0][i] - act[1][i]));
        }
        dvm = fmax(dvm, fabs(vm[0][i] - vm[1][i]));
    }
    double ratio = (double)it_extr / (double)it_prev;
    cr_log_info("front, method %d, %s mass: %ld CG iterations from V*, %ld extrapolated (%.3fx); %zu of %zu nodes "
                "activated, activation times within %.2e ms, final Vm within %.2e mV",
                method, mass, it_prev, it_extr, ratio, n_act, n, dact, dvm);
    cr_expect_gt(n_act, n / 2, "the front did not cross half the slab: no moving front to test on");
    cr_expect_lt(ratio, 0.8, "extrapolated start: %ld iterations against %ld from V* (%.3fx, expected < 0.8x)",
                 it_extr, it_prev, ratio);
    cr_expect_lt(dact, 1e-3, "activation times differ by %g ms between the starts", dact);
    for (int k = 0; k < 2; k++) {
        free(vm[k]);
        free(act[k]);
    }
}

Test(cg_start, extrapolated_fewer_iterations_crank_nicolson_lumped, .timeout = 600)
{
    check_front(CT_DIFFUSION_CRANK_NICOLSON, "lumped");
}
Test(cg_start, extrapolated_fewer_iterations_crank_nicolson_consistent, .timeout = 600)
{
    check_front(CT_DIFFUSION_CRANK_NICOLSON, "consistent");
}
Test(cg_start, extrapolated_fewer_iterations_backward_euler_consistent, .timeout = 600)
{
    check_front(CT_DIFFUSION_BACKWARD_EULER, "consistent");
}

/* ---- configuration and checkpoints ---------------------------------------------------------------------- */

Test(cg_start, configuration_key)
{
    ct_config c;
#define CFG_WITH(extra)                                                                                        \
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [2, 1, 1], \"dx_mm\": 0.5},"                                        \
    " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"                                                   \
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"                            \
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.01, \"end_time_ms\": 1,"                           \
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": 50,"             \
    " \"duration_ms\": 2}], \"diffusion\": {\"method\": \"crank_nicolson\"" extra "}}"
    cr_assert_eq(ct_config_parse(CFG_WITH(""), "a.json", &c), CT_OK, "%s", ct_error_message());
    cr_expect_eq(c.cg_start, CT_CG_START_EXTRAPOLATE, "the default start is the extrapolated one");
    ct_config_free(&c);
    cr_assert_eq(ct_config_parse(CFG_WITH(", \"cg_start\": \"previous\""), "b.json", &c), CT_OK, "%s",
                 ct_error_message());
    cr_expect_eq(c.cg_start, CT_CG_START_PREVIOUS);
    ct_config_free(&c);
    ct_status st = ct_config_parse(CFG_WITH(", \"cg_start\": \"guess\""), "c.json", &c);
#undef CFG_WITH
    cr_expect_eq(st, CT_ERR_CONFIG, "an unknown cg_start was accepted");
    cr_expect(strstr(ct_error_message(), "c.json") && strstr(ct_error_message(), "diffusion.cg_start") &&
                  strstr(ct_error_message(), "guess"),
              "the message does not name the file, the key and the value: %s", ct_error_message());
    if (st == CT_OK)
        ct_config_free(&c);
}

/* The extrapolated start keeps one more vector in the backend's state (V*^(n-1)): the blob of an implicit run
 * (with either ionic mass) is n values longer than with the previous start, and the same as before for explicit
 * diffusion. */
Test(cg_start, state_holds_the_last_post_reaction_vm)
{
    const double size[3] = {1.0, 1.0, 1.0}, fibre[3] = {1, 0, 0};
    ct_mesh *m = NULL; /* owned here */
    cr_assert_eq(ct_mesh_box(size, 0.25, fibre, &m), CT_OK, "%s", ct_error_message());
    size_t n = m->n_nodes;
    ct_conductivity cond = {0.13342, 0.017606, 140, 0.01};
    ct_csr *k = NULL, *mc = NULL; /* owned here */
    double *lumped = malloc(n * sizeof *lumped); /* owned here */
    cr_assert_not_null(lumped);
    cr_assert_eq(ct_fem_assemble(m, &cond, NULL, &k, lumped, &mc), CT_OK, "%s", ct_error_message());
    ct_real params[CT_MODEL_NPARAM] = {0};
    ct_ms_default_params(params);
    ct_backend_problem pb = {.n_nodes = n, .model = CT_MODEL_MITCHELL_SCHAEFFER, .n_param_sets = 1,
                             .param_sets = params, .stiffness = k, .lumped_mass_mm3 = lumped,
                             .dt_ms = 0.01, .cg_rel_tolerance = 1e-8, .cg_max_iterations = 100,
                             .vm_bound_mV = 1e3};
    size_t bytes[3][2]; /* [explicit, CN, CN with the lumped ionic current][previous, extrapolate] */
    for (int d = 0; d < 3; d++)
        for (int e = 0; e < 2; e++) {
            pb.diffusion = d == 0 ? CT_DIFFUSION_EXPLICIT : CT_DIFFUSION_CRANK_NICOLSON;
            pb.consistent_mass = d == 2 ? mc : NULL;
            pb.lumped_ionic = d == 2;
            pb.cg_start = e ? CT_CG_START_EXTRAPOLATE : CT_CG_START_PREVIOUS;
            ct_backend_ctx *ctx = NULL;
            cr_assert_eq(ct_backend_cpu.create(&pb, &ctx), CT_OK, "%s", ct_error_message());
            bytes[d][e] = ct_backend_cpu.state_size(ctx);
            ct_backend_cpu.destroy(ctx);
        }
    cr_expect_eq(bytes[1][1], bytes[1][0] + n * sizeof(ct_real), "implicit: %zu bytes extrapolated, %zu previous",
                 bytes[1][1], bytes[1][0]);
    cr_expect_eq(bytes[0][1], bytes[0][0], "explicit diffusion keeps no CG start");
    cr_expect_eq(bytes[2][1], bytes[2][0] + n * sizeof(ct_real),
                 "implicit with the lumped ionic current: %zu bytes extrapolated, %zu previous", bytes[2][1],
                 bytes[2][0]);
    pb.cg_start = 7;
    ct_backend_ctx *ctx = NULL;
    cr_expect_eq(ct_backend_cpu.create(&pb, &ctx), CT_ERR_BACKEND, "an unknown cg_start was accepted");
    cr_expect_null(ctx);
    ct_csr_destroy(k);
    ct_csr_destroy(mc);
    free(lumped);
    ct_mesh_destroy(m);
}

/* A checkpoint of the format before the extrapolated start's state (version 1 serial, 2 a piece) is refused
 * with a message naming the file and the reason, not misread; the current versions round-trip. */
Test(cg_start, old_checkpoint_versions_are_refused)
{
    char path[] = "/tmp/ct_cg_start_ckpt_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    double state[4] = {1, 2, 3, 4};
    ct_checkpoint c;
    memset(&c, 0, sizeof c);
    snprintf(c.id.backend, sizeof c.id.backend, "cpu");
    c.id.n_nodes = 1;
    c.id.dt_ms = 0.01;
    c.id.ranks = 1;
    c.step = 3;
    c.state_bytes = sizeof state;
    c.state = state;
    cr_assert_eq(ct_checkpoint_write(path, &c), CT_OK, "%s", ct_error_message());
    ct_checkpoint r;
    cr_assert_eq(ct_checkpoint_read(path, NULL, &r), CT_OK, "%s", ct_error_message());
    cr_expect_eq(r.step, 3);
    cr_expect_eq(memcmp(r.state, state, sizeof state), 0);
    ct_checkpoint_free(&r);
    /* the same file with version 1 and its CRC-32 made right again */
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cr_assert(len > 16 && len < sizeof buf);
    uint32_t version = 1;
    memcpy(buf + 8, &version, sizeof version); /* after the 8-byte magic */
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(len - 4));
    memcpy(buf + len - 4, &crc, sizeof crc);
    f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    ct_status st = ct_checkpoint_read(path, NULL, &r);
    cr_expect_eq(st, CT_ERR_PARSE, "a version 1 checkpoint was read");
    cr_expect(strstr(ct_error_message(), path) && strstr(ct_error_message(), "version 1") &&
                  strstr(ct_error_message(), "older build"),
              "the message does not name the file and the old version: %s", ct_error_message());
    if (st == CT_OK)
        ct_checkpoint_free(&r);
    unlink(path);
}
