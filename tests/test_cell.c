/* test_cell.c — single-cell checks of the ionic models (TP06, Mitchell-Schaeffer) through ct_cell_pace.
 *
 * Reference behaviour (shared/reference/nversion-benchmark.md): TP06 at 1 Hz, 52 uA/uF for 1 ms,
 * Rush-Larsen, dt 0.005 ms, after a few hundred beats: rest about -85.4 mV (epi), peak about +38 mV,
 * dV/dt max about 370-390 V/s, APD90 about 300 ms (epi, endo) and about 400 ms (M).
 *
 * Measured with this code (double; 20 beats unless stated; APD90 from the time of max dV/dt):
 *   epi  dt 0.01 : rest -85.51, peak +39.6, dV/dt max 385 V/s, APD90 305.2 ms
 *   epi  dt 0.005: rest -85.51, peak +39.1, dV/dt max 386 V/s, APD90 305.2 ms
 *   epi  dt 0.005, 300 beats: rest -85.43, peak +38.0, dV/dt max 376 V/s, APD90 301.2 ms
 *   endo dt 0.01 : rest -86.00, peak +39.5, APD90 297.5 ms (300 beats at dt 0.005: 300.0 ms)
 *   M    dt 0.01 : rest -85.85, peak +38.5, APD90 391.3 ms (300 beats at dt 0.005: 396.9 ms)
 *   epi, G_Kr x 0.5: APD90 326.1 ms
 *   Mitchell-Schaeffer, 1 Hz: APD90 286.45 ms (dt 0.01, 0.005 and 0.001 agree to 0.01 ms)
 *   float build (-DCT_REAL_FLOAT), dt 0.01: epi APD90 306.1, endo 298.4, M 391.9, MS 286.5 ms.
 * 20 beats from the CellML initial state are within about 4 ms (APD90) and 1.7 mV (peak) of the
 * 300-beat values, which the ranges below allow for; each TP06 beat costs about 35 ms at dt 0.01.
 *
 * Build: gcc -std=c11 -O2 -Ikernels -Ihost tests/test_cell.c host/model/ct_cell.c host/model/ct_model_desc.c
 *        host/core/ct_status.c -lcriterion -lm
 * (add -DCT_REAL_FLOAT to every file for the single-precision build; the same tests apply).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "model/ct_cell.h"
#include "core/ct_status.h"
#include "model/ct_model_desc.h"
#include "models/ct_models.h"

#define TP06_BEATS 20

static ct_cell_protocol protocol_1hz(double dt_ms, int n_beats)
{
    ct_cell_protocol p;
    p.dt_ms = dt_ms;
    p.bcl_ms = 1000.0;
    p.stim_amp_uA_per_uF = 52.0;
    p.stim_duration_ms = 1.0;
    p.stim_start_ms = 0.0;
    p.n_beats = n_beats;
    return p;
}

/* Paces TP06 of `cell_type` with G_Kr scaled by gkr_scale; fails the test on any error. */
static ct_cell_result pace_tp06(int cell_type, double dt_ms, double gkr_scale)
{
    ct_real param[CT_MODEL_NPARAM];
    ct_tp06_default_params(param, cell_type);
    param[CT_TP06_P_GKR] = (ct_real)gkr_scale;
    ct_cell_protocol p = protocol_1hz(dt_ms, TP06_BEATS);
    ct_cell_result r;
    ct_status s = ct_cell_pace(CT_MODEL_TP06, param, &p, &r, NULL, 0);
    cr_assert_eq(s, CT_OK, "ct_cell_pace(TP06 type %d, dt %g): %s: %s", cell_type, dt_ms, ct_status_name(s),
                 ct_error_message());
    cr_log_info("TP06 type %d dt %g G_Kr x%g: rest %.3f mV, peak %.3f mV, dV/dt max %.1f V/s, APD90 %.2f ms",
                cell_type, dt_ms, gkr_scale, r.rest_mV, r.peak_mV, r.dvdt_max_V_per_s, r.apd90_ms);
    return r;
}

static ct_cell_result pace_ms(double dt_ms, int n_beats, double *trace, size_t trace_len)
{
    ct_real param[CT_MODEL_NPARAM];
    ct_ms_default_params(param);
    ct_cell_protocol p = protocol_1hz(dt_ms, n_beats);
    ct_cell_result r;
    ct_status s = ct_cell_pace(CT_MODEL_MITCHELL_SCHAEFFER, param, &p, &r, trace, trace_len);
    cr_assert_eq(s, CT_OK, "ct_cell_pace(MS, dt %g): %s: %s", dt_ms, ct_status_name(s), ct_error_message());
    return r;
}

/* ---- initial states and parameter sets ---- */

Test(tp06, initial_state_per_cell_type)
{
    ct_real param[CT_MODEL_NPARAM], y[CT_TP06_NSTATE];
    const int types[3] = {CT_TP06_ENDO, CT_TP06_MCELL, CT_TP06_EPI};
    const double v0[3] = {-86.709, -85.423, -85.23};
    for (int t = 0; t < 3; ++t) {
        ct_tp06_default_params(param, types[t]);
        cr_assert_eq(param[CT_TP06_P_CELLTYPE], (ct_real)types[t]);
        for (int k = CT_TP06_P_GNA; k <= CT_TP06_P_GBCA; ++k)
            cr_assert_eq(param[k], CT_R(1.0), "scale factor %d of type %d is not 1", k, types[t]);
        for (int k = CT_TP06_P_GBCA + 1; k < CT_MODEL_NPARAM; ++k)
            cr_assert_eq(param[k], CT_R(0.0));
        double v = (double)ct_model_init(CT_MODEL_TP06, y, 1, param);
        cr_assert(fabs(v - v0[t]) < 1e-4, "type %d: initial V %g, expected %g", types[t], v, v0[t]);
    }
    /* the benchmark's epicardial state, spot-checked */
    cr_assert(fabs((double)y[CT_TP06_K_I] - 136.89) < 1e-3);
    cr_assert(fabs((double)y[CT_TP06_NA_I] - 8.604) < 1e-4);
    cr_assert(fabs((double)y[CT_TP06_CA_SR] - 3.64) < 1e-4);
    cr_assert(fabs((double)y[CT_TP06_R_BAR] - 0.9073) < 1e-5);
}

Test(tp06, resting_current_is_small)
{
    /* At the CellML epicardial initial state the cell is near rest: |I_ion| well below 1 uA/uF
     * (an error in a background or pump current, e.g. P_NaK 0.03 instead of 2.724, breaks this). */
    ct_real param[CT_MODEL_NPARAM], y[CT_TP06_NSTATE];
    ct_tp06_default_params(param, CT_TP06_EPI);
    ct_real v = ct_tp06_init(y, 1, param);
    double i_ion = (double)ct_tp06_step(y, 1, v, CT_R(0.0), CT_R(0.01), param);
    cr_assert(fabs(i_ion) < 0.5, "I_ion at rest = %g uA/uF", i_ion);
}

/* ---- TP06 action potentials at 1 Hz ---- */

Test(tp06, epi_1hz_action_potential, .timeout = 30)
{
    ct_cell_result r = pace_tp06(CT_TP06_EPI, 0.01, 1.0);
    cr_assert(r.rest_mV >= -87.0 && r.rest_mV <= -84.0, "rest %g mV", r.rest_mV);
    cr_assert(r.peak_mV >= 30.0 && r.peak_mV <= 45.0, "peak %g mV", r.peak_mV);
    cr_assert(r.dvdt_max_V_per_s >= 250.0 && r.dvdt_max_V_per_s <= 450.0, "dV/dt max %g V/s", r.dvdt_max_V_per_s);
    cr_assert(r.apd90_ms >= 270.0 && r.apd90_ms <= 330.0, "APD90 %g ms", r.apd90_ms);
}

Test(tp06, epi_time_step_convergence, .timeout = 30)
{
    ct_cell_result a = pace_tp06(CT_TP06_EPI, 0.01, 1.0);
    ct_cell_result b = pace_tp06(CT_TP06_EPI, 0.005, 1.0);
    /* measured differences: rest 0.001 mV, peak 0.5 mV, dV/dt 0.4 V/s, APD90 0.05 ms */
    cr_assert(fabs(a.rest_mV - b.rest_mV) < 0.1, "rest %g vs %g", a.rest_mV, b.rest_mV);
    cr_assert(fabs(a.peak_mV - b.peak_mV) < 1.5, "peak %g vs %g", a.peak_mV, b.peak_mV);
    cr_assert(fabs(a.dvdt_max_V_per_s - b.dvdt_max_V_per_s) < 0.03 * b.dvdt_max_V_per_s, "dV/dt %g vs %g",
              a.dvdt_max_V_per_s, b.dvdt_max_V_per_s);
    cr_assert(fabs(a.apd90_ms - b.apd90_ms) < 2.0, "APD90 %g vs %g", a.apd90_ms, b.apd90_ms);
    cr_assert(b.dvdt_max_V_per_s >= 250.0 && b.dvdt_max_V_per_s <= 450.0, "dV/dt max %g", b.dvdt_max_V_per_s);
}

Test(tp06, endo_1hz_action_potential, .timeout = 30)
{
    ct_cell_result r = pace_tp06(CT_TP06_ENDO, 0.01, 1.0);
    cr_assert(r.rest_mV >= -87.0 && r.rest_mV <= -84.0, "rest %g mV", r.rest_mV);
    cr_assert(r.peak_mV >= 30.0 && r.peak_mV <= 45.0, "peak %g mV", r.peak_mV);
    cr_assert(r.apd90_ms >= 270.0 && r.apd90_ms <= 330.0, "APD90 %g ms", r.apd90_ms);
}

Test(tp06, mcell_longer_than_epi, .timeout = 30)
{
    ct_cell_result m = pace_tp06(CT_TP06_MCELL, 0.01, 1.0);
    ct_cell_result e = pace_tp06(CT_TP06_EPI, 0.01, 1.0);
    cr_assert(m.rest_mV >= -87.0 && m.rest_mV <= -84.0, "rest %g mV", m.rest_mV);
    cr_assert(m.apd90_ms >= 340.0, "M-cell APD90 %g ms", m.apd90_ms);
    cr_assert(m.apd90_ms > e.apd90_ms + 50.0, "M-cell APD90 %g ms vs epi %g ms", m.apd90_ms, e.apd90_ms);
}

Test(tp06, ikr_block_prolongs_apd, .timeout = 30)
{
    ct_cell_result c = pace_tp06(CT_TP06_EPI, 0.01, 1.0);
    ct_cell_result d = pace_tp06(CT_TP06_EPI, 0.01, 0.5);
    /* measured: 305.2 -> 326.1 ms */
    cr_assert(d.apd90_ms > c.apd90_ms + 10.0, "APD90 with G_Kr x0.5: %g ms, control %g ms", d.apd90_ms, c.apd90_ms);
    cr_assert(d.apd90_ms < c.apd90_ms + 60.0, "APD90 with G_Kr x0.5: %g ms, control %g ms", d.apd90_ms, c.apd90_ms);
}

/* ---- Mitchell-Schaeffer ---- */

/* Expected APD90 at 1 Hz, from the model's own asymptotics (Mitchell & Schaeffer 2003):
 *  1. During the plateau v > v_gate, so h closes: h(t) = h0 exp(-t/tau_close), h0 ~ 1 at 1 Hz
 *     (after a diastolic interval of ~710 ms, 1 - h0 ~ 0.8 exp(-710/120) < 0.003).
 *  2. The excited branch exists while h v (1-v)/tau_in = 1/tau_out has a root, i.e. h >= h_min = 4 tau_in/tau_out,
 *     lost at the fold v = 1/2 after t1 = tau_close ln(h0/h_min) = 150 ln 5 = 241.4 ms (the paper's APD_max).
 *  3. Near the fold, with u = v - 1/2 and h = h_min (1 - t/tau_close): u' = -a u^2 - b t, a = h_min/(2 tau_in),
 *     b = h_min/(8 tau_in tau_close). Rescaled this is W' = W^2 + T, which escapes at T = 2.338 (first zero of
 *     Ai'), so the passage through the fold's ghost adds t2 = 2.338 (a b)^(-1/3) = 41.0 ms.
 *  4. The fall from v ~ 1/2 to 10 % of the amplitude takes a few tau_out-scale milliseconds more.
 * Hence APD90 ~ t1 + t2 + (0..10 ms) = 282.4 .. 292.4 ms; measured 286.45 ms, consistent with the ~287 ms
 * of the reference. The bounds below are t1 + t2 - 2 ms and t1 + t2 + 10 ms. */
static void ms_expected_apd90(double *lo, double *hi)
{
    const double tau_in = 0.3, tau_out = 6.0, tau_close = 150.0;
    const double h_min = 4.0 * tau_in / tau_out;
    const double t1 = tau_close * log(1.0 / h_min);
    const double a = h_min / (2.0 * tau_in), b = h_min / (8.0 * tau_in * tau_close);
    const double t2 = 2.338 * pow(a * b, -1.0 / 3.0);
    *lo = t1 + t2 - 2.0;
    *hi = t1 + t2 + 10.0;
}

Test(mitchell_schaeffer, apd90_at_1hz)
{
    double lo, hi;
    ms_expected_apd90(&lo, &hi);
    cr_assert(lo > 280.0 && hi < 293.0, "derivation gave [%g, %g]", lo, hi);
    ct_cell_result r = pace_ms(0.01, 5, NULL, 0);
    cr_log_info("MS dt 0.01: rest %.3f, peak %.3f, dV/dt %.1f, APD90 %.3f", r.rest_mV, r.peak_mV,
                r.dvdt_max_V_per_s, r.apd90_ms);
    cr_assert(fabs(r.rest_mV - (-80.0)) < 0.01, "rest %g mV", r.rest_mV);
    /* peak: fixed point of v(1-v) = tau_in/tau_out with h ~ 1: v = (1 + sqrt(1 - 0.2))/2 = 0.947 -> +14.7 mV */
    cr_assert(r.peak_mV > 13.0 && r.peak_mV < 16.0, "peak %g mV", r.peak_mV);
    cr_assert(r.apd90_ms >= lo && r.apd90_ms <= hi, "APD90 %g ms outside [%g, %g]", r.apd90_ms, lo, hi);
    ct_cell_result f = pace_ms(0.005, 5, NULL, 0);
    cr_assert(fabs(f.apd90_ms - r.apd90_ms) < 0.5, "APD90 dt 0.005 %g vs dt 0.01 %g", f.apd90_ms, r.apd90_ms);
}

Test(mitchell_schaeffer, trace_of_last_beat)
{
    enum { N = 100000 + 10 }; /* longer than one beat: only the first 100000 samples are written */
    static double trace[N];
    for (int k = 0; k < N; ++k)
        trace[k] = 1e9;
    ct_cell_result r = pace_ms(0.01, 2, trace, N);
    cr_assert(fabs(trace[0] - r.rest_mV) < 1e-9, "trace[0] %g, rest %g", trace[0], r.rest_mV);
    double peak = -1e9;
    for (int k = 0; k < 100000; ++k)
        peak = trace[k] > peak ? trace[k] : peak;
    cr_assert(fabs(peak - r.peak_mV) < 0.5, "trace peak %g, result peak %g", peak, r.peak_mV);
    cr_assert(trace[100000] == 1e9, "wrote past one beat");
    /* at t = APD90/2 the cell is on its plateau */
    cr_assert(trace[(int)(r.apd90_ms / 2.0 / 0.01)] > -30.0);
}

/* ---- error handling ---- */

static ct_status pace_with(ct_cell_protocol p, int model)
{
    ct_cell_result r;
    return ct_cell_pace(model, NULL, &p, &r, NULL, 0);
}

Test(cell, bad_protocol_is_config_error)
{
    ct_cell_protocol good = protocol_1hz(0.01, 1);
    ct_cell_protocol p;

    p = good; p.dt_ms = 0.0;
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "dt_ms") != NULL, "message: %s", ct_error_message());
    p = good; p.dt_ms = -0.01;
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_CONFIG);
    p = good; p.dt_ms = NAN;
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_CONFIG);
    p = good; p.n_beats = 0;
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "n_beats") != NULL, "message: %s", ct_error_message());
    p = good; p.bcl_ms = 0.0;
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_CONFIG);
    p = good; p.stim_duration_ms = 0.0;
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_CONFIG);
    p = good; p.stim_start_ms = 999.5;
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_CONFIG);
    p = good; p.stim_amp_uA_per_uF = INFINITY;
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_CONFIG);
    cr_assert_eq(pace_with(good, 42), CT_ERR_CONFIG);
    cr_assert_eq(ct_cell_pace(CT_MODEL_TP06, NULL, &good, NULL, NULL, 0), CT_ERR_CONFIG);
}

Test(cell, blow_up_is_numeric_error)
{
    ct_cell_protocol p = protocol_1hz(0.01, 1);
    p.stim_amp_uA_per_uF = 1e5; /* 1000 mV per step: leaves [-200, 200] mV on the first step */
    cr_assert_eq(pace_with(p, CT_MODEL_TP06), CT_ERR_NUMERIC);
    cr_assert(strstr(ct_error_message(), "t = ") != NULL, "message: %s", ct_error_message());
}

/* ---- the model descriptors (host/model/ct_model_desc.h) against the kernels ---- */

/* The kernel's own defaults of model id for cell type `type`. */
static void kernel_defaults(int id, int type, ct_real *p)
{
    if (id == CT_MODEL_TP06)
        ct_tp06_default_params(p, type);
    else
        ct_ms_default_params(p);
}

Test(model_desc, every_model_is_described_as_its_kernel_computes_it)
{
    cr_assert_null(ct_model_by_id(-1));
    cr_assert_null(ct_model_by_id(CT_MODEL_COUNT));
    cr_assert_null(ct_model_find("tp07"));
    cr_assert_null(ct_model_find(NULL));
    for (int id = 0; id < CT_MODEL_COUNT; id++) {
        const ct_model_desc *d = ct_model_by_id(id);
        cr_assert_not_null(d);
        cr_assert_eq(d->id, id);
        cr_assert_eq(ct_model_find(d->name), d, "%s", d->name);
        cr_assert_eq(d->n_states, ct_model_nstate(id), "%s", d->name);
        cr_assert(d->n_states <= CT_MODEL_MAX_NSTATE);
        for (int k = 0; k < d->n_states; k++) {
            cr_assert(d->state_names[k] && d->state_names[k][0]);
            for (int j = 0; j < k; j++)
                cr_assert(strcmp(d->state_names[j], d->state_names[k]) != 0, "%s: state %s twice", d->name,
                          d->state_names[k]);
        }
        /* defaults: the kernel's, for every cell type; the cell type stored where the descriptor says */
        int n_types = d->n_cell_types > 0 ? d->n_cell_types : 1;
        cr_assert(d->default_cell_type >= 0 && d->default_cell_type < n_types);
        for (int t = 0; t < n_types; t++) {
            ct_real a[CT_MODEL_NPARAM], b[CT_MODEL_NPARAM];
            d->default_params(a, t);
            kernel_defaults(id, t, b);
            cr_assert(memcmp(a, b, sizeof a) == 0, "%s, cell type %d: defaults differ from the kernel's", d->name, t);
            if (d->cell_type_param >= 0)
                cr_assert_eq(a[d->cell_type_param], (ct_real)t);
            for (int k = 0; k < d->n_params; k++) { /* every default inside its own range */
                const ct_model_param_desc *q = &d->params[k];
                cr_assert(q->index >= 0 && q->index < CT_MODEL_NPARAM);
                cr_assert((double)a[q->index] >= q->lo && (double)a[q->index] <= q->hi, "%s.%s = %g outside [%g, %g]",
                          d->name, q->name, (double)a[q->index], q->lo, q->hi);
            }
            for (int k = 0; k < d->n_scales; k++) /* scale factors are 1 by default */
                cr_assert_eq(a[d->scale_first + k], CT_R(1.0), "%s.%s", d->name, d->scale_names[k]);
        }
        cr_assert_eq(d->n_cell_types > 0, d->cell_type_param >= 0);
        cr_assert(d->n_scales <= CT_MODEL_MAX_SCALES);
        cr_assert(d->n_scales == 0 || (d->scale_first >= 0 && d->scale_first + d->n_scales <= CT_MODEL_NPARAM));
        if (d->n_scales)
            cr_assert_null(d->scale_names[d->n_scales], "%s: scale_names is a NULL-terminated key list", d->name);
    }
    /* the kernels' parameter order */
    const ct_model_desc *tp = ct_model_by_id(CT_MODEL_TP06);
    cr_assert_str_eq(tp->scale_names[CT_TP06_P_GKR - tp->scale_first], "G_Kr");
    cr_assert_str_eq(tp->scale_names[CT_TP06_P_GBCA - tp->scale_first], "G_bCa");
    cr_assert_str_eq(tp->state_names[CT_TP06_CA_SR], "Ca_SR_mM");
    cr_assert_eq(ct_model_cell_type_find(tp, "M"), CT_TP06_MCELL);
    cr_assert_eq(ct_model_cell_type_find(tp, "epi"), CT_TP06_EPI);
    cr_assert_eq(ct_model_cell_type_find(tp, "apex"), -1);
    const ct_model_desc *ms = ct_model_find("mitchell_schaeffer");
    cr_assert_eq(ms->n_params, CT_MS_P_COUNT);
    cr_assert_eq(ct_model_cell_type_find(ms, "epi"), -1);
}

Test(model_desc, lists_and_model_json_read_as_messages_say_them)
{
    char s[256];
    ct_model_names(s, sizeof s, CT_MODEL_ALL, 0);
    cr_assert_str_eq(s, "tp06 or mitchell_schaeffer");
    ct_model_names(s, sizeof s, CT_MODEL_WITH_SCALES, 1);
    cr_assert_str_eq(s, "TP06");
    ct_model_names(s, sizeof s, CT_MODEL_WITH_PARAMS, 0);
    cr_assert_str_eq(s, "mitchell_schaeffer");
    ct_model_names(s, sizeof s, CT_MODEL_WITH_PARAMS | CT_MODEL_WITH_SCALES, 0);
    cr_assert_str_eq(s, "");
    ct_model_cell_type_names(ct_model_default(), "from_mesh", s, sizeof s);
    cr_assert_str_eq(s, "endo, mid, epi or from_mesh");
    ct_model_cell_type_names(ct_model_default(), NULL, s, sizeof s);
    cr_assert_str_eq(s, "endo, mid or epi");
    ct_model_names(s, 8, CT_MODEL_ALL, 0); /* truncated, terminated */
    cr_assert_eq(strlen(s), 7u);
    cr_assert_eq(ct_model_json(ct_model_default(), "epi", s, sizeof s), CT_OK);
    cr_assert_str_eq(s, "{\"name\": \"tp06\", \"cell_type\": \"epi\"}");
    cr_assert_eq(ct_model_json(ct_model_find("mitchell_schaeffer"), "epi", s, sizeof s), CT_OK);
    cr_assert_str_eq(s, "{\"name\": \"mitchell_schaeffer\"}");
    cr_assert_eq(ct_model_json(ct_model_default(), "epi", s, 20), CT_ERR_CONFIG);
}

Test(cell, model_params_by_name)
{
    int id = -1;
    ct_real p[CT_MODEL_NPARAM], q[CT_MODEL_NPARAM];
    cr_assert_eq(ct_cell_model_params("tp06", "mid", &id, p), CT_OK, "%s", ct_error_message());
    cr_assert_eq(id, CT_MODEL_TP06);
    ct_tp06_default_params(q, CT_TP06_MCELL);
    cr_assert(memcmp(p, q, sizeof p) == 0);
    cr_assert_eq(ct_cell_model_params("tp06", NULL, &id, p), CT_OK); /* the default: epicardial */
    cr_assert_eq(p[CT_TP06_P_CELLTYPE], (ct_real)CT_TP06_EPI);
    cr_assert_eq(ct_cell_model_params("mitchell_schaeffer", "epi", &id, p), CT_OK); /* no cell types: ignored */
    cr_assert_eq(id, CT_MODEL_MITCHELL_SCHAEFFER);
    ct_ms_default_params(q);
    cr_assert(memcmp(p, q, sizeof p) == 0);
    cr_assert_eq(ct_cell_model_params("tp6", "epi", &id, p), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "expected tp06 or mitchell_schaeffer"), "%s", ct_error_message());
    cr_assert_eq(ct_cell_model_params("tp06", "apex", &id, p), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "expected endo, mid or epi"), "%s", ct_error_message());
}
