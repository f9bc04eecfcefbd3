/* test_ionic_mass.c — the ionic current's mass matrix (diffusion.ionic_mass) and the speed of a front along the
 * fibres, for the N-version convergence study (issue 12, meshes/README.md "Ionic current through the lumped
 * mass").
 *
 * The implicit step takes the reaction's increment (ionic current and stimulus) through the consistent mass M
 * ("consistent", the default: ionic current interpolation, ICI) or through the lumped mass M_L ("lumped", with M
 * still on the capacitive term). With M the source of a node spreads to the nodes ahead of the front, which
 * depolarise early: ICI's speed is too high on coarse meshes. With M_L, M^-1 M_L sharpens the source instead and
 * the front is too slow. A planar front along the fibres of a strand 6 x 0.25 x 0.25 mm (N-version conductivities
 * and stimulus strength, Crank-Nicolson dt 0.01 ms, the CPU backend) shows it: the speed between x = 3 and
 * x = 5.5 mm at dx 0.25 / 0.125 / 0.0625 mm. Asserted: at every dx the lumped-ionic front is slower than the
 * consistent one; the lumped-ionic speed rises with refinement (it converges from below); the two schemes
 * approach one limit (their gap shrinks at each halving); and the finest consistent speed lies between the two
 * speeds of the coarsest mesh, i.e. the schemes bracket the converged speed from the two sides. Measured:
 * consistent 0.6245 / 0.6165 / 0.6094, lumped 0.4618 / 0.5666 / 0.5971 mm/ms (gap 0.163 / 0.050 / 0.012).
 * The lumped-ionic option is refused with explicit consistent-mass diffusion (ct_config.c, ct_step.c), and a
 * value other than "consistent" or "lumped" is an error naming the key. About 6 s of CPU time (Release,
 * OMP_NUM_THREADS=1).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fem/ct_fem.h"
#include "mesh/ct_mesh.h"
#include "sim/ct_config.h"
#include "models/ct_models.h"

#define X_A_MM 3.0
#define X_B_MM 5.5

/* The strand's problem at dx_mm: everything it owns, for strand_free. */
typedef struct strand {
    ct_mesh *mesh;
    ct_csr *k, *mc;
    double *lumped, *act;
    uint32_t *mask;
    size_t probe[2]; /* the nodes at (X_A_MM, 0, 0) and (X_B_MM, 0, 0) */
    ct_real params[CT_MODEL_NPARAM];
    ct_backend_problem pb;
} strand;

static void strand_build(strand *s, double dx_mm, int method, int lumped_ionic)
{
    const double size[3] = {6.0, 0.25, 0.25}, fibre[3] = {1, 0, 0};
    cr_assert_eq(ct_mesh_box(size, dx_mm, fibre, &s->mesh), CT_OK, "%s", ct_error_message());
    size_t n = s->mesh->n_nodes;
    ct_conductivity cond = {0.13342, 0.017606, 140, 0.01};
    s->k = s->mc = NULL;
    s->lumped = malloc(n * sizeof *s->lumped); /* owned, strand_free */
    s->act = malloc(n * sizeof *s->act);       /* owned, strand_free */
    s->mask = calloc(n, sizeof *s->mask);      /* owned, strand_free */
    cr_assert(s->lumped && s->act && s->mask);
    cr_assert_eq(ct_fem_assemble(s->mesh, &cond, NULL, &s->k, s->lumped, &s->mc), CT_OK, "%s", ct_error_message());
    s->probe[0] = s->probe[1] = n;
    for (size_t i = 0; i < n; i++) {
        const double *x = s->mesh->xyz_mm + 3 * i;
        s->mask[i] = x[0] <= 1.0 + 1e-9; /* the whole section: a planar front */
        for (int p = 0; p < 2; p++)
            if (fabs(x[0] - (p ? X_B_MM : X_A_MM)) < 1e-9 && fabs(x[1]) < 1e-9 && fabs(x[2]) < 1e-9)
                s->probe[p] = i;
    }
    cr_assert(s->probe[0] < n && s->probe[1] < n, "no node at the probes for dx %g", dx_mm);
    ct_tp06_default_params(s->params, 2);
    s->pb = (ct_backend_problem){
        .n_nodes = n,
        .model = CT_MODEL_TP06,
        .n_param_sets = 1,
        .param_sets = s->params,
        .stiffness = s->k,
        .lumped_mass_mm3 = s->lumped,
        .consistent_mass = s->mc,
        .stim_mask = s->mask,
        .diffusion = method,
        .dt_ms = 0.01,
        .cg_rel_tolerance = 1e-10,
        .cg_max_iterations = 1000,
        .activation_threshold_mV = 0,
        .vm_bound_mV = 1e3,
        .lumped_ionic = lumped_ionic,
    };
}

static void strand_free(strand *s)
{
    ct_csr_destroy(s->k);
    ct_csr_destroy(s->mc);
    free(s->lumped);
    free(s->act);
    free(s->mask);
    ct_mesh_destroy(s->mesh);
}

/* The speed (mm/ms) of the front from X_A_MM to X_B_MM, Crank-Nicolson, consistent mass, at dx_mm. */
static double front_speed(double dx_mm, int lumped_ionic)
{
    strand s;
    strand_build(&s, dx_mm, CT_DIFFUSION_CRANK_NICOLSON, lumped_ionic);
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(ct_backend_cpu.create(&s.pb, &ctx), CT_OK, "%s", ct_error_message());
    double amp[CT_MAX_STIMULI] = {35.714}, dt = s.pb.dt_ms;
    long steps = lround(14.0 / dt), pulse = lround(2.0 / dt);
    for (long k = 0; k < steps; k++) {
        ct_step_report rep;
        cr_assert_eq(ct_backend_cpu.step(ctx, (double)k * dt, k < pulse ? 1u : 0u, amp, &rep), CT_OK, "%s",
                     ct_error_message());
    }
    cr_assert_eq(ct_backend_cpu.download(ctx, CT_FIELD_ACTIVATION_MS, s.act), CT_OK, "%s", ct_error_message());
    double ta = s.act[s.probe[0]], tb = s.act[s.probe[1]];
    ct_backend_cpu.destroy(ctx);
    strand_free(&s);
    cr_assert(ta > 2.0 && tb > ta, "dx %g, %s ionic mass: activation %g ms at x = %g, %g ms at x = %g", dx_mm,
              lumped_ionic ? "lumped" : "consistent", ta, X_A_MM, tb, X_B_MM);
    return (X_B_MM - X_A_MM) / (tb - ta);
}

Test(ionic_mass, lumped_and_consistent_bracket_the_converged_speed, .timeout = 600)
{
    const double dx[3] = {0.25, 0.125, 0.0625};
    double v[2][3]; /* [lumped_ionic][dx] */
    for (int d = 0; d < 3; d++) {
        for (int l = 0; l < 2; l++)
            v[l][d] = front_speed(dx[d], l);
        cr_log_info("dx %g mm: speed along the fibres %.4f (consistent ionic mass) / %.4f mm/ms (lumped)", dx[d],
                    v[0][d], v[1][d]);
    }
    for (int d = 0; d < 3; d++)
        cr_expect_lt(v[1][d], v[0][d], "dx %g: lumped ionic mass %.4f mm/ms is not below consistent %.4f", dx[d],
                     v[1][d], v[0][d]);
    for (int d = 1; d < 3; d++) {
        cr_expect_gt(v[1][d], v[1][d - 1], "lumped ionic mass: %.4f mm/ms at dx %g, not above %.4f at dx %g",
                     v[1][d], dx[d], v[1][d - 1], dx[d - 1]);
        cr_expect_lt(v[0][d] - v[1][d], 0.6 * (v[0][d - 1] - v[1][d - 1]),
                     "the schemes' gap %.4f mm/ms at dx %g did not shrink from %.4f at dx %g", v[0][d] - v[1][d],
                     dx[d], v[0][d - 1] - v[1][d - 1], dx[d - 1]);
    }
    cr_expect(v[1][0] < v[0][2] && v[0][2] < v[0][0],
              "the finest speed %.4f mm/ms is not between the coarsest lumped %.4f and consistent %.4f", v[0][2],
              v[1][0], v[0][0]);
}

/* Explicit diffusion with the consistent mass has no lumped-ionic form: the backend refuses it. */
Test(ionic_mass, explicit_consistent_refused)
{
    strand s;
    strand_build(&s, 0.25, CT_DIFFUSION_EXPLICIT, 1);
    ct_backend_ctx *ctx = NULL;
    ct_status st = ct_backend_cpu.create(&s.pb, &ctx);
    cr_expect_neq(st, CT_OK, "explicit consistent with a lumped ionic current was accepted");
    cr_expect(strstr(ct_error_message(), "lumped ionic") != NULL, "message: %s", ct_error_message());
    if (st == CT_OK)
        ct_backend_cpu.destroy(ctx);
    strand_free(&s);
}

/* A configuration with the diffusion object `diffusion` (JSON); its parse status, the config in *c. */
static ct_status parse_with(const char *diffusion, ct_config *c)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"mesh\": {\"type\": \"box\", \"size_mm\": [2, 1, 1], \"dx_mm\": 0.5},"
             " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"
             " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
             " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.01, \"end_time_ms\": 1,"
             " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": 50,"
             " \"duration_ms\": 2}], \"diffusion\": %s}",
             diffusion);
    return ct_config_parse(json, "ionic_mass.json", c);
}

Test(ionic_mass, configuration_key)
{
    ct_config c;
    cr_assert_eq(parse_with("{\"method\": \"crank_nicolson\", \"mass\": \"consistent\"}", &c), CT_OK, "%s",
                 ct_error_message());
    cr_expect_eq(c.lumped_ionic, 0, "the default is the consistent ionic mass");
    ct_config_free(&c);
    cr_assert_eq(parse_with("{\"method\": \"backward_euler\", \"mass\": \"consistent\", \"ionic_mass\": \"lumped\"}",
                            &c),
                 CT_OK, "%s", ct_error_message());
    cr_expect_eq(c.lumped_ionic, 1);
    ct_config_free(&c);

    ct_status st = parse_with("{\"method\": \"crank_nicolson\", \"mass\": \"consistent\", \"ionic_mass\": \"lumpy\"}",
                              &c);
    cr_expect_eq(st, CT_ERR_CONFIG, "an unknown ionic_mass was accepted");
    cr_expect(strstr(ct_error_message(), "diffusion.ionic_mass") && strstr(ct_error_message(), "lumpy"),
              "message: %s", ct_error_message());
    if (st == CT_OK)
        ct_config_free(&c);
    st = parse_with("{\"method\": \"explicit\", \"mass\": \"consistent\", \"ionic_mass\": \"lumped\"}", &c);
    cr_expect_eq(st, CT_ERR_CONFIG, "explicit consistent with a lumped ionic mass was accepted");
    cr_expect(strstr(ct_error_message(), "diffusion.ionic_mass") != NULL, "message: %s", ct_error_message());
    if (st == CT_OK)
        ct_config_free(&c);
}
