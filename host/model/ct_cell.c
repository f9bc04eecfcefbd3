/* ct_cell.c — single-cell pacing driver (see ct_cell.h). */
#include "ct_cell.h"

#include <math.h>
#include <stdlib.h>

#include "../kernels/models/ct_models.h"
#include "model/ct_model_desc.h"

/* Steps in `ms` at `dt_ms`, rounded to nearest. */
static long long ct_cell_steps(double ms, double dt_ms) { return (long long)floor(ms / dt_ms + 0.5); }

static ct_status ct_cell_check(int model, const ct_cell_protocol *p, const ct_cell_result *out)
{
    if (p == NULL || out == NULL)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: protocol and result must not be NULL");
    if (ct_model_by_id(model) == NULL)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: unknown model id %d", model);
    if (!isfinite(p->dt_ms) || p->dt_ms <= 0.0)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: dt_ms = %g: must be finite and > 0", p->dt_ms);
    if (!isfinite(p->bcl_ms) || p->bcl_ms <= 0.0)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: bcl_ms = %g: must be finite and > 0", p->bcl_ms);
    if (p->dt_ms > p->bcl_ms)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: dt_ms = %g exceeds bcl_ms = %g", p->dt_ms, p->bcl_ms);
    if (p->bcl_ms / p->dt_ms > 1e9)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: bcl_ms / dt_ms = %g steps per beat: too many",
                            p->bcl_ms / p->dt_ms);
    if (p->n_beats < 1)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: n_beats = %d: must be >= 1", p->n_beats);
    if (!isfinite(p->stim_amp_uA_per_uF))
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: stim_amp_uA_per_uF = %g: must be finite",
                            p->stim_amp_uA_per_uF);
    if (!isfinite(p->stim_duration_ms) || p->stim_duration_ms <= 0.0)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: stim_duration_ms = %g: must be finite and > 0",
                            p->stim_duration_ms);
    if (!isfinite(p->stim_start_ms) || p->stim_start_ms < 0.0)
        return ct_error_set(CT_ERR_CONFIG, "ct_cell_pace: stim_start_ms = %g: must be finite and >= 0",
                            p->stim_start_ms);
    if (p->stim_start_ms + p->stim_duration_ms > p->bcl_ms)
        return ct_error_set(CT_ERR_CONFIG,
                            "ct_cell_pace: stimulus [%g, %g] ms does not fit in the cycle of bcl_ms = %g",
                            p->stim_start_ms, p->stim_start_ms + p->stim_duration_ms, p->bcl_ms);
    return CT_OK;
}

ct_status ct_cell_pace(int model, const ct_real *param, const ct_cell_protocol *proto, ct_cell_result *out,
                       double *trace_mV, size_t trace_len)
{
    return ct_cell_pace_lut(model, param, proto, NULL, out, trace_mV, trace_len);
}

ct_status ct_cell_pace_lut(int model, const ct_real *param, const ct_cell_protocol *proto, const ct_real *lut,
                           ct_cell_result *out, double *trace_mV, size_t trace_len)
{
    CT_CHECK(ct_cell_check(model, proto, out));

    ct_real defaults[CT_MODEL_NPARAM];
    if (param == NULL) {
        const ct_model_desc *d = ct_model_by_id(model);
        d->default_params(defaults, d->default_cell_type);
        param = defaults;
    }

    const double dt = proto->dt_ms;
    const long long steps_per_beat = ct_cell_steps(proto->bcl_ms, dt);
    long long stim_first = ct_cell_steps(proto->stim_start_ms, dt);
    long long stim_steps = ct_cell_steps(proto->stim_duration_ms, dt);
    if (stim_steps < 1)
        stim_steps = 1;
    if (stim_first + stim_steps > steps_per_beat)
        stim_first = steps_per_beat - stim_steps; /* rounding pushed it out; stays inside the cycle */

    /* Vm of the last cycle at the start of each step, plus the final value. */
    double *beat = malloc((size_t)(steps_per_beat + 1) * sizeof *beat);
    if (beat == NULL)
        return ct_error_set(CT_ERR_NOMEM, "ct_cell_pace: cannot allocate %lld samples of the last beat",
                            steps_per_beat + 1);

    ct_real y[CT_MODEL_MAX_NSTATE] = {0};
    ct_real vm = ct_model_init(model, y, 1, param);
    const ct_real dt_r = (ct_real)dt;
    const ct_real amp = (ct_real)proto->stim_amp_uA_per_uF;

    for (int b = 0; b < proto->n_beats; ++b) {
        const int last = (b == proto->n_beats - 1);
        for (long long k = 0; k < steps_per_beat; ++k) {
            const ct_real i_app = (k >= stim_first && k < stim_first + stim_steps) ? amp : CT_R(0.0);
            if (last)
                beat[k] = (double)vm;
            const ct_real i_ion = ct_model_step(model, y, 1, vm, i_app, dt_r, param, lut);
            vm = vm + dt_r * (-i_ion + i_app);
            if (!(fabs((double)vm) <= 200.0)) { /* also catches NaN */
                const double t = ((double)b * (double)steps_per_beat + (double)(k + 1)) * dt;
                free(beat);
                return ct_error_set(CT_ERR_NUMERIC,
                                    "ct_cell_pace: Vm = %g mV at t = %.4f ms (beat %d of %d, dt_ms = %g): "
                                    "NaN or outside [-200, 200] mV",
                                    (double)vm, t, b + 1, proto->n_beats, dt);
            }
        }
    }
    beat[steps_per_beat] = (double)vm;

    /* Measurements of the last beat, from the last stimulus to the end of the cycle. */
    const double rest = beat[stim_first];
    double peak = rest, dvdt_max = -INFINITY;
    long long k_peak = stim_first, k_up = stim_first;
    for (long long k = stim_first; k <= steps_per_beat; ++k) {
        if (beat[k] > peak) {
            peak = beat[k];
            k_peak = k;
        }
        if (k < steps_per_beat) {
            const double dvdt = (beat[k + 1] - beat[k]) / dt;
            if (dvdt > dvdt_max) {
                dvdt_max = dvdt;
                k_up = k;
            }
        }
    }
    const double t_up = ((double)k_up + 0.5) * dt;
    const double v90 = rest + 0.1 * (peak - rest);
    double apd90 = NAN;
    for (long long k = k_peak + 1; k <= steps_per_beat; ++k) {
        if (beat[k] <= v90) {
            const double frac = (beat[k - 1] - v90) / (beat[k - 1] - beat[k]);
            apd90 = ((double)(k - 1) + frac) * dt - t_up;
            break;
        }
    }

    out->rest_mV = rest;
    out->peak_mV = peak;
    out->dvdt_max_V_per_s = dvdt_max;
    out->apd90_ms = apd90;

    if (trace_mV != NULL) {
        const size_t n = trace_len < (size_t)steps_per_beat ? trace_len : (size_t)steps_per_beat;
        for (size_t k = 0; k < n; ++k)
            trace_mV[k] = beat[k];
    }
    free(beat);
    return CT_OK;
}

ct_status ct_cell_model_params(const char *model, const char *cell_type, int *model_id, ct_real *param)
{
    const ct_model_desc *d = ct_model_find(model);
    char known[256];
    if (!d) {
        ct_model_names(known, sizeof known, CT_MODEL_ALL, 0);
        return ct_error_set(CT_ERR_CONFIG, "model \"%s\" is not known (expected %s)", model ? model : "", known);
    }
    int type = d->default_cell_type;
    if (d->n_cell_types > 0 && cell_type && (type = ct_model_cell_type_find(d, cell_type)) < 0) {
        ct_model_cell_type_names(d, NULL, known, sizeof known);
        return ct_error_set(CT_ERR_CONFIG, "cell type \"%s\" of model %s is not known (expected %s)", cell_type,
                            d->name, known);
    }
    d->default_params(param, type);
    *model_id = d->id;
    return CT_OK;
}
