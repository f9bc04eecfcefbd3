/* test_ionic_accel.c — the accelerated TP06 paths against the exact one (issue 13, "the ionic model").
 *
 * The switches: "ionic_lut" (the voltage-only rates interpolated in a table over Vm, kernels/models/tp06.h)
 * and "ionic_simd" (the CPU reaction as a SIMD loop through libmvec, kernels/cpu/backend_cpu.c). The exact,
 * scalar path is the reference; each accelerated path must reproduce its physiology:
 *   - the table itself: every column at the midpoints between rows within a small error of the formulas;
 *   - one cell (ct_cell_pace_lut), epi, endo and M at 1 Hz, dt 0.01 ms: APD90 within 1 ms, dV/dt max within 3 %,
 *     rest and peak within 0.5 mV;
 *   - a strand (10 x 0.5 x 0.5 mm, dx 0.25 mm, dt 0.02 ms): conduction velocity within 1 % for the table, the
 *     table with SIMD, and SIMD on the exact path;
 *   - OpenCL (and CUDA) with the table equals the CPU with the table (test_backends' pointwise bounds: 1e-6 mV,
 *     1e-3 ms); skipped, with the reason, where the backend finds no device;
 *   - a switch of the wrong type is a configuration error naming the key.
 * Measured with this code (double), in the log of each test (cr_log_info).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "core/ct_status.h"
#include "model/ct_cell.h"
#include "models/ct_models.h"
#include "sim/ct_config.h"
#include "sim/ct_sim.h"

/* ---- the table ------------------------------------------------------------------------------------ */

/* Every column of the table at the midpoint of each pair of rows against the exact value there: gate steady
 * states and exp(-dt/tau) factors (values in [0, 1]) to 2e-4 absolute, the current factors to 1e-3 relative. */
Test(ionic_lut, table_matches_formulas_between_rows)
{
    const ct_real dt = CT_R(0.01);
    ct_real *lut = malloc(ct_model_lut_size(CT_MODEL_TP06) * sizeof *lut);
    cr_assert_not_null(lut);
    ct_tp06_lut_fill(lut, dt);
    double worst_gate = 0.0, worst_cur = 0.0, v_gate = 0.0, v_cur = 0.0;
    for (int type = 0; type <= 2; type++) {
        for (int k = 0; k + 1 < CT_TP06_LUT_ROWS; k++) {
            const ct_real V = (ct_real)(CT_TP06_LUT_VMIN_MV + (k + 0.5) * CT_TP06_LUT_STEP_MV);
            struct ct_tp06_vfac e, t;
            ct_tp06_vfac_exact(V, dt, type, &e);
            ct_tp06_vfac_lut(V, type, lut, &t);
            const ct_real *pe = &e.m_inf, *pt = &t.m_inf; /* the struct is all ct_real */
            const int n_gate = (int)(offsetof(struct ct_tp06_vfac, cal_ez) / sizeof(ct_real));
            const int n_all = (int)(sizeof e / sizeof(ct_real));
            for (int c = 0; c < n_all; c++) {
                double err = fabs((double)pt[c] - (double)pe[c]);
                if (c < n_gate) {
                    if (err > worst_gate)
                        worst_gate = err, v_gate = (double)V;
                } else {
                    err /= fabs((double)pe[c]) + 1e-30;
                    if (err > worst_cur)
                        worst_cur = err, v_cur = (double)V;
                }
            }
        }
    }
    cr_log_info("table step %.3f mV: worst gate factor error %.3g (at %.3f mV), worst current factor %.3g rel "
                "(at %.3f mV)", CT_TP06_LUT_STEP_MV, worst_gate, v_gate, worst_cur, v_cur);
    cr_expect_lt(worst_gate, 2e-4, "gate factor error %g at %g mV", worst_gate, v_gate);
    cr_expect_lt(worst_cur, 1e-3, "current factor error %g at %g mV", worst_cur, v_cur);
    /* clamped outside the range, and a NaN reads the first row instead of memory outside the table */
    struct ct_tp06_vfac lo, lo2, nan_v;
    ct_tp06_vfac_lut(CT_R(-150.0), CT_TP06_EPI, lut, &lo);
    ct_tp06_vfac_lut(CT_R(-100.0), CT_TP06_EPI, lut, &lo2);
    ct_tp06_vfac_lut((ct_real)NAN, CT_TP06_EPI, lut, &nan_v);
    cr_expect_eq(lo.m_inf, lo2.m_inf);
    cr_expect_eq(nan_v.xs_e, lo2.xs_e);
    free(lut);
}

/* ---- one cell ------------------------------------------------------------------------------------- */

static ct_cell_result pace(int type, const ct_real *lut, double dt_ms)
{
    ct_real param[CT_MODEL_NPARAM];
    ct_tp06_default_params(param, type);
    ct_cell_protocol p = {.dt_ms = dt_ms, .bcl_ms = 1000.0, .stim_amp_uA_per_uF = 52.0, .stim_duration_ms = 1.0,
                          .stim_start_ms = 0.0, .n_beats = 5};
    ct_cell_result r;
    ct_status s = ct_cell_pace_lut(CT_MODEL_TP06, param, &p, lut, &r, NULL, 0);
    cr_assert_eq(s, CT_OK, "ct_cell_pace_lut: %s", ct_error_message());
    return r;
}

Test(ionic_lut, single_cell_matches_exact)
{
    const double dt = 0.01;
    ct_real *lut = malloc(ct_model_lut_size(CT_MODEL_TP06) * sizeof *lut);
    cr_assert_not_null(lut);
    ct_tp06_lut_fill(lut, (ct_real)dt);
    static const char *const name[] = {"endo", "M", "epi"};
    for (int type = 0; type <= 2; type++) {
        ct_cell_result e = pace(type, NULL, dt), t = pace(type, lut, dt);
        cr_log_info("%s, 5 beats at 1 Hz, dt %g: exact rest %.3f peak %.3f dV/dt %.1f APD90 %.2f | table rest %.3f "
                    "peak %.3f dV/dt %.1f APD90 %.2f", name[type], dt, e.rest_mV, e.peak_mV, e.dvdt_max_V_per_s,
                    e.apd90_ms, t.rest_mV, t.peak_mV, t.dvdt_max_V_per_s, t.apd90_ms);
        cr_expect(fabs(t.apd90_ms - e.apd90_ms) < 1.0, "%s: APD90 %.3f vs exact %.3f ms", name[type], t.apd90_ms,
                  e.apd90_ms);
        cr_expect(fabs(t.dvdt_max_V_per_s - e.dvdt_max_V_per_s) < 0.03 * e.dvdt_max_V_per_s,
                  "%s: dV/dt max %.2f vs exact %.2f V/s", name[type], t.dvdt_max_V_per_s, e.dvdt_max_V_per_s);
        cr_expect(fabs(t.rest_mV - e.rest_mV) < 0.5, "%s: rest %.3f vs exact %.3f mV", name[type], t.rest_mV,
                  e.rest_mV);
        cr_expect(fabs(t.peak_mV - e.peak_mV) < 0.5, "%s: peak %.3f vs exact %.3f mV", name[type], t.peak_mV,
                  e.peak_mV);
    }
    free(lut);
}

/* ---- tissue --------------------------------------------------------------------------------------- */

typedef struct run_out {
    double *vm, *act_ms; /* n each, owned */
    size_t n;
    double cv_m_per_s;   /* from the activation times at x = 3 and x = 8 mm on the line y = z = 0 */
} run_out;

/* A TP06 epi strand, 10 x 0.5 x 0.5 mm at dx 0.25 mm, stimulated at x <= 0.5 mm, dt 0.02 ms, 25 ms. */
static const char STRAND[] =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [10, 0.5, 0.5], \"dx_mm\": 0.25},"
    " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.02, \"end_time_ms\": 25,"
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,0.5,0.5], \"amplitude_uA_per_uF\": 50,"
    " \"duration_ms\": 2}] %s}";

/* Runs the strand on backend be with the switches given; fills out (caller frees vm and act_ms). */
static void run_strand(const ct_backend_ops *be, int lut, int simd, run_out *out)
{
    char json[2048];
    snprintf(json, sizeof json, STRAND, "");
    ct_config cfg;
    cr_assert_eq(ct_config_parse(json, "<strand>", &cfg), CT_OK, "%s", ct_error_message());
    cfg.ionic_lut = lut;
    cfg.ionic_simd = simd;
    ct_sim *sim = NULL;
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_real params[6 * CT_MODEL_NPARAM];
    ct_backend_problem pb;
    ct_sim_backend_problem(sim, 0, params, &pb);
    ct_backend_ctx *ctx = NULL;
    cr_assert_eq(be->create(&pb, &ctx), CT_OK, "%s create: %s", be->name, ct_error_message());
    long steps = lround(cfg.end_time_ms / cfg.dt_ms);
    double amp[CT_MAX_STIMULI] = {0};
    for (int s = 0; s < cfg.n_stimuli; s++)
        amp[s] = cfg.stimuli[s].amplitude_uA_per_uF;
    for (long k = 0; k < steps; k++) {
        double t = (double)k * cfg.dt_ms;
        ct_step_report rep;
        cr_assert_eq(be->step(ctx, t, ct_config_stimuli_active(&cfg, t), amp, &rep), CT_OK, "%s step %ld: %s",
                     be->name, k, ct_error_message());
    }
    size_t n = sim->mesh->n_nodes;
    out->n = n;
    out->vm = malloc(n * sizeof *out->vm);
    out->act_ms = malloc(n * sizeof *out->act_ms);
    cr_assert(out->vm && out->act_ms);
    cr_assert_eq(be->download(ctx, CT_FIELD_VM, out->vm), CT_OK);
    cr_assert_eq(be->download(ctx, CT_FIELD_ACTIVATION_MS, out->act_ms), CT_OK);
    double t3 = -1, t8 = -1;
    for (size_t i = 0; i < n; i++) {
        const double *x = sim->mesh->xyz_mm + 3 * i;
        if (fabs(x[1]) < 1e-9 && fabs(x[2]) < 1e-9) {
            if (fabs(x[0] - 3.0) < 1e-9)
                t3 = out->act_ms[i];
            if (fabs(x[0] - 8.0) < 1e-9)
                t8 = out->act_ms[i];
        }
    }
    cr_assert(t3 > 0 && t8 > t3, "%s: activation at 3 mm %g ms, at 8 mm %g ms", be->name, t3, t8);
    out->cv_m_per_s = 5.0 / (t8 - t3); /* mm/ms = m/s */
    be->destroy(ctx);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

static void run_free(run_out *r)
{
    free(r->vm);
    free(r->act_ms);
}

/* Largest |a - b| over the nodes, and where. */
static double max_diff(const double *a, const double *b, size_t n, size_t *at)
{
    double worst = 0.0;
    *at = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= worst)) /* NaN counts as worst */
            worst = fabs(a[i] - b[i]), *at = i;
    return worst;
}

Test(ionic_lut, strand_cv_matches_exact)
{
    run_out e, t, ts, es;
    run_strand(&ct_backend_cpu, 0, 0, &e);
    run_strand(&ct_backend_cpu, 1, 0, &t);
    run_strand(&ct_backend_cpu, 1, 1, &ts);
    run_strand(&ct_backend_cpu, 0, 1, &es);
    size_t at;
    double dvm_t = max_diff(t.vm, e.vm, e.n, &at), dact_t = max_diff(t.act_ms, e.act_ms, e.n, &at);
    double dvm_simd = max_diff(ts.vm, t.vm, e.n, &at), dact_simd = max_diff(ts.act_ms, t.act_ms, e.n, &at);
    double dvm_es = max_diff(es.vm, e.vm, e.n, &at), dact_es = max_diff(es.act_ms, e.act_ms, e.n, &at);
    cr_log_info("strand CV: exact %.5f, table %.5f (%+.3f %%), table+SIMD %.5f, exact+SIMD %.5f m/s", e.cv_m_per_s,
                t.cv_m_per_s, 100.0 * (t.cv_m_per_s / e.cv_m_per_s - 1.0), ts.cv_m_per_s, es.cv_m_per_s);
    cr_log_info("at 25 ms: table vs exact max |dVm| %.3g mV, |dact| %.3g ms; table+SIMD vs table %.3g mV, %.3g ms; "
                "exact+SIMD vs exact %.3g mV, %.3g ms", dvm_t, dact_t, dvm_simd, dact_simd, dvm_es, dact_es);
    cr_expect(fabs(t.cv_m_per_s / e.cv_m_per_s - 1.0) < 0.01, "table CV %.5f vs exact %.5f", t.cv_m_per_s,
              e.cv_m_per_s);
    cr_expect(fabs(ts.cv_m_per_s / e.cv_m_per_s - 1.0) < 0.01, "table+SIMD CV %.5f vs exact %.5f", ts.cv_m_per_s,
              e.cv_m_per_s);
    cr_expect(fabs(es.cv_m_per_s / e.cv_m_per_s - 1.0) < 0.01, "exact+SIMD CV %.5f vs exact %.5f", es.cv_m_per_s,
              e.cv_m_per_s);
    /* SIMD moves only the last bits (libmvec's exp and log are not glibc's scalar ones): the pointwise bounds
     * of test_backends */
    cr_expect(dvm_simd < 1e-6 && dact_simd < 1e-3, "table+SIMD vs table: %g mV, %g ms", dvm_simd, dact_simd);
    cr_expect(dvm_es < 1e-6 && dact_es < 1e-3, "exact+SIMD vs exact: %g mV, %g ms", dvm_es, dact_es);
    run_free(&e);
    run_free(&t);
    run_free(&ts);
    run_free(&es);
}

/* Backend be with the table against the CPU with the table: test_backends' pointwise bounds. */
static void device_table_equals_cpu_table(const ct_backend_ops *be)
{
    if (be->probe() != CT_OK)
        cr_skip_test("no %s device: %s", be->name, ct_error_message());
    run_out c, o;
    run_strand(&ct_backend_cpu, 1, 0, &c);
    run_strand(be, 1, 0, &o);
    size_t at_v, at_a;
    double dvm = max_diff(o.vm, c.vm, c.n, &at_v), dact = max_diff(o.act_ms, c.act_ms, c.n, &at_a);
    cr_log_info("%s vs CPU, both with the table: max |dVm| %.3g mV (node %zu), |dact| %.3g ms", be->name, dvm, at_v,
                dact);
    cr_expect(dvm < 1e-6, "Vm at node %zu: %s %.17g, cpu %.17g", at_v, be->name, o.vm[at_v], c.vm[at_v]);
    cr_expect(dact < 1e-3, "activation at node %zu: %s %.17g, cpu %.17g", at_a, be->name, o.act_ms[at_a],
              c.act_ms[at_a]);
    run_free(&c);
    run_free(&o);
}

#ifdef CT_HAVE_OPENCL
Test(ionic_lut, opencl_table_equals_cpu_table)
{
    device_table_equals_cpu_table(&ct_backend_opencl);
}
#endif
#ifdef CT_HAVE_CUDA
Test(ionic_lut, cuda_table_equals_cpu_table)
{
    device_table_equals_cpu_table(&ct_backend_cuda);
}
#endif

/* ---- configuration -------------------------------------------------------------------------------- */

static void expect_config_error(const char *extra, const char *key)
{
    char json[2048];
    snprintf(json, sizeof json, STRAND, extra);
    ct_config cfg;
    ct_status st = ct_config_parse(json, "<strand>", &cfg);
    cr_expect_eq(st, CT_ERR_CONFIG, "%s: %s", extra, ct_status_name(st));
    if (st == CT_OK) {
        ct_config_free(&cfg);
        return;
    }
    cr_expect_not_null(strstr(ct_error_message(), key), "message \"%s\" names %s", ct_error_message(), key);
}

Test(ionic_lut, switches_parse_and_reject_wrong_types)
{
    char json[2048];
    snprintf(json, sizeof json, STRAND, ", \"ionic_lut\": true, \"ionic_simd\": true");
    ct_config cfg;
    cr_assert_eq(ct_config_parse(json, "<strand>", &cfg), CT_OK, "%s", ct_error_message());
    cr_expect(cfg.ionic_lut == 1 && cfg.ionic_simd == 1);
    ct_config_free(&cfg);
    snprintf(json, sizeof json, STRAND, "");
    cr_assert_eq(ct_config_parse(json, "<strand>", &cfg), CT_OK, "%s", ct_error_message());
    cr_expect(cfg.ionic_lut == 0 && cfg.ionic_simd == 0, "both default off (the exact, scalar reference)");
    ct_config_free(&cfg);
    expect_config_error(", \"ionic_lut\": 1", "ionic_lut");
    expect_config_error(", \"ionic_lut\": \"yes\"", "ionic_lut");
    expect_config_error(", \"ionic_simd\": null", "ionic_simd");
}
