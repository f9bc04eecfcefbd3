/* test_split.c — the box mesh's tet split (mesh.split, ct_mesh_box_split) and the accuracy of the implicit
 * diffusion increment at a small time step: the two suspects of the N-version convergence study
 * (meshes/README.md).
 *
 * - The split. "kuhn" cuts every cube around its (1,1,1) diagonal: every interior node is in 24 tets and has
 *   the same lumped mass dx^3. "mirrored" (the default) mirrors the split cube by cube: no diagonal is
 *   preferred, but the nodes whose indices are all even or all odd are in 48 tets (mass 2 dx^3) and the others in
 *   16 (2/3 dx^3). The tests pin both properties, and that the configuration key chooses between them.
 * - The CG stopping test is relative to ||b||, and at a small dt b ~ M Vm / dt is large against the diffusion
 *   increment; the test checks that a TP06 slab stepped with Crank-Nicolson at dt 0.005 ms and the default
 *   tolerance (1e-8) gives the Vm of a solve to 1e-13 within 1e-4 of the change that diffusion makes (measured:
 *   4.7e-4 mV against 111 mV after 3 ms, 4e-6; a stopping test 1000 times looser would fail).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "sim/ct_config.h"
#include "fem/ct_fem.h"
#include "mesh/ct_mesh.h"
#include "models/ct_models.h"

/* Lumped mass of every node of a box whose indices are at least 1 from the boundary, in units of dx^3:
 * counts the nodes equal to 2/3, 1 and 2 (within 1e-9). */
static void interior_masses(int split, size_t *n_two_thirds, size_t *n_one, size_t *n_two)
{
    const double size[3] = {2.0, 2.0, 2.0}, fibre[3] = {1, 0, 0}, dx = 0.25;
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box_split(size, dx, fibre, split, &m), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_mesh_validate(m, "box"), CT_OK, "%s", ct_error_message());
    ct_conductivity cond = {0.1, 0.1, 140, 0.01};
    ct_csr *k = NULL;
    double *mass = malloc(m->n_nodes * sizeof *mass);
    cr_assert(mass);
    cr_assert_eq(ct_fem_assemble(m, &cond, NULL, &k, mass, NULL), CT_OK, "%s", ct_error_message());
    *n_two_thirds = *n_one = *n_two = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *x = m->xyz_mm + 3 * i;
        if (x[0] < dx / 2 || x[1] < dx / 2 || x[2] < dx / 2 || x[0] > size[0] - dx / 2 || x[1] > size[1] - dx / 2 ||
            x[2] > size[2] - dx / 2)
            continue;
        double r = mass[i] / (dx * dx * dx);
        *n_two_thirds += fabs(r - 2.0 / 3.0) < 1e-9;
        *n_one += fabs(r - 1.0) < 1e-9;
        *n_two += fabs(r - 2.0) < 1e-9;
    }
    ct_csr_destroy(k);
    free(mass);
    ct_mesh_destroy(m);
}

Test(split, kuhn_nodes_are_alike_mirrored_has_hubs)
{
    size_t a, b, c;
    interior_masses(CT_BOX_SPLIT_KUHN, &a, &b, &c);
    cr_expect_eq(a + c, 0, "kuhn: %zu interior nodes without mass dx^3", a + c);
    cr_expect_eq(b, 7 * 7 * 7, "kuhn: %zu of 343 interior nodes with mass dx^3", b);
    interior_masses(CT_BOX_SPLIT_MIRRORED, &a, &b, &c);
    cr_expect_eq(b, 0, "mirrored: %zu interior nodes with mass dx^3", b);
    cr_expect_eq(a + c, 7 * 7 * 7, "mirrored: %zu + %zu of 343 interior nodes with mass 2/3 or 2 dx^3", a, c);
    cr_expect(c > 0 && a > c, "mirrored: %zu hubs (2 dx^3), %zu others (2/3 dx^3)", c, a);
    ct_mesh *m = NULL;
    cr_expect_eq(ct_mesh_box_split((const double[3]){1, 1, 1}, 0.5, (const double[3]){1, 0, 0}, 7, &m),
                 CT_ERR_CONFIG, "an unknown split is refused");
    cr_expect_null(m);
}

static const char *cfg_fmt =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [1, 1, 1], \"dx_mm\": 0.5%s},"
    " \"model\": {\"name\": \"tp06\"}, \"conductivity\": {\"sigma_l_S_per_m\": 0.1, \"sigma_t_S_per_m\": 0.1},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.01, \"end_time_ms\": 1,"
    " \"stimuli\": [{\"box_min_mm\": [0, 0, 0], \"box_max_mm\": [0.5, 0.5, 0.5], \"amplitude_uA_per_uF\": 50,"
    " \"start_ms\": 0, \"duration_ms\": 1}]}";

static ct_status parse_split(const char *extra, int *split)
{
    char text[1024];
    snprintf(text, sizeof text, cfg_fmt, extra);
    ct_config cfg;
    ct_status st = ct_config_parse(text, "split.json", &cfg);
    if (st == CT_OK) {
        *split = cfg.box_split;
        ct_config_free(&cfg);
    }
    return st;
}

Test(split, configuration_key)
{
    int split = -1;
    cr_assert_eq(parse_split("", &split), CT_OK, "%s", ct_error_message());
    cr_expect_eq(split, CT_BOX_SPLIT_MIRRORED, "the default split is mirrored");
    cr_assert_eq(parse_split(", \"split\": \"kuhn\"", &split), CT_OK, "%s", ct_error_message());
    cr_expect_eq(split, CT_BOX_SPLIT_KUHN);
    cr_assert_eq(parse_split(", \"split\": \"mirrored\"", &split), CT_OK, "%s", ct_error_message());
    cr_expect_eq(split, CT_BOX_SPLIT_MIRRORED);
    cr_expect_eq(parse_split(", \"split\": \"diagonal\"", &split), CT_ERR_CONFIG);
    cr_expect(strstr(ct_error_message(), "mesh.split") != NULL, "message names the key: %s", ct_error_message());
}

/* Vm after `steps` steps of a TP06 (epi) slab 3 x 1.5 x 1.5 mm, dx 0.25 mm, N-version conductivities,
 * corner stimulus 35.714 uA/uF for 2 ms, consistent mass, at dt 0.005 ms, diffusion as given (theta 0.5 or
 * none: sigma 0 gives K = 0). vm: caller's array of the node count, which *n receives. */
static void slab_vm(double sigma_scale, double cg_tol, int steps, double *vm, size_t *n)
{
    const double size[3] = {3.0, 1.5, 1.5}, fibre[3] = {1, 0, 0};
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box(size, 0.25, fibre, &m), CT_OK, "%s", ct_error_message());
    ct_conductivity cond = {0.13342 * sigma_scale, 0.017606 * sigma_scale, 140, 0.01};
    ct_csr *k = NULL, *mc = NULL;
    double *lumped = malloc(m->n_nodes * sizeof *lumped);
    uint32_t *mask = calloc(m->n_nodes, sizeof *mask);
    cr_assert(lumped && mask);
    cr_assert_eq(ct_fem_assemble(m, &cond, NULL, &k, lumped, &mc), CT_OK, "%s", ct_error_message());
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *x = m->xyz_mm + 3 * i;
        mask[i] = x[0] <= 0.5 + 1e-9 && x[1] <= 0.5 + 1e-9 && x[2] <= 0.5 + 1e-9;
    }
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
        .diffusion = CT_DIFFUSION_CRANK_NICOLSON,
        .dt_ms = 0.005,
        .cg_rel_tolerance = cg_tol,
        .cg_max_iterations = 1000,
        .activation_threshold_mV = 0,
        .vm_bound_mV = 1e3,
    };
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(ct_backend_cpu.create(&pb, &ctx), CT_OK, "%s", ct_error_message());
    double amp[CT_MAX_STIMULI] = {35.714};
    for (int s = 0; s < steps; s++) {
        double t = 0.005 * s;
        ct_step_report rep;
        cr_assert_eq(ct_backend_cpu.step(ctx, t, t < 2.0 ? 1u : 0u, amp, &rep), CT_OK, "%s", ct_error_message());
    }
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_VM, vm), CT_OK, "%s", ct_error_message());
    *n = m->n_nodes;
    ct_backend_cpu.destroy(ctx);
    ct_csr_destroy(k);
    ct_csr_destroy(mc);
    free(lumped);
    free(mask);
    ct_mesh_destroy(m);
}

Test(split, cg_increment_is_accurate_at_small_dt, .timeout = 300)
{
    enum { STEPS = 600 }; /* 3 ms: the stimulus and the first millimetre of spread */
    size_t n = 0;
    double *loose = malloc(4096 * sizeof *loose), *tight = malloc(4096 * sizeof *tight),
           *none = malloc(4096 * sizeof *none);
    cr_assert(loose && tight && none);
    slab_vm(1.0, 1e-8, STEPS, loose, &n);
    cr_assert_leq(n, 4096);
    slab_vm(1.0, 1e-13, STEPS, tight, &n);
    slab_vm(0.0, 1e-13, STEPS, none, &n);
    double diff = 0, spread = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(loose[i] - tight[i]));
        spread = fmax(spread, fabs(tight[i] - none[i]));
    }
    cr_expect_gt(spread, 10.0, "diffusion changes Vm by %g mV only", spread);
    cr_expect_lt(diff, 1e-4 * spread, "CG to 1e-8: Vm differs from the solve to 1e-13 by %g mV (diffusion: %g mV)",
                 diff, spread);
    free(loose);
    free(tight);
    free(none);
}
