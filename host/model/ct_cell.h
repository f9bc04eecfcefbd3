/* ct_cell.h — single-cell pacing driver: paces one isolated cell of an ionic model and measures the last beat.
 *
 * The membrane potential is advanced by forward Euler, Vm += dt (-I_ion + i_app), after the model's own
 * state step (Rush-Larsen gates, see kernels/models/ct_models.h); the stimulus is a rectangular pulse of
 * stim_amp_uA_per_uF (positive depolarises) starting stim_start_ms into every cycle of bcl_ms.
 * All times are rounded to whole steps: the effective cycle length is round(bcl/dt) * dt.
 * Used by the tests and by model-tuning tools; nothing here touches tissue or backends.
 */
#ifndef CT_CELL_H
#define CT_CELL_H

#include <stddef.h>

#include "../kernels/ct_real.h"
#include "core/ct_status.h"

typedef struct ct_cell_protocol {
    double dt_ms;              /* time step, > 0 and <= bcl_ms */
    double bcl_ms;             /* basic cycle length (pacing period), > 0 */
    double stim_amp_uA_per_uF; /* stimulus amplitude, positive depolarising, finite */
    double stim_duration_ms;   /* > 0; stim_start_ms + stim_duration_ms <= bcl_ms */
    double stim_start_ms;      /* >= 0, offset of the stimulus within each cycle */
    int n_beats;               /* >= 1; measurements are of the last one */
} ct_cell_protocol;

typedef struct ct_cell_result { /* all of the last beat */
    double rest_mV;           /* Vm just before the last stimulus */
    double peak_mV;           /* maximum Vm from the last stimulus to the end of the cycle */
    double dvdt_max_V_per_s;  /* maximum forward-difference dVm/dt over the same window (mV/ms = V/s) */
    double apd90_ms;          /* from the time of max dVm/dt (midpoint of that step) to the first downward
                                 crossing, after the peak, of rest + 0.1 (peak - rest), linearly
                                 interpolated; NaN if Vm has not repolarised by the end of the cycle */
} ct_cell_result;

/* Paces one cell of `model` (enum ct_model_id) with parameter set `param` (CT_MODEL_NPARAM reals; NULL
 * means the model's defaults for its default cell type (model/ct_model_desc.h): TP06 epicardial, or the
 * published Mitchell-Schaeffer values) from the model's initial state, for proto->n_beats cycles, and fills
 * *out with measurements of the last beat.
 * trace_mV (optional, caller-owned, may be NULL): receives Vm at the start of each step of the last cycle,
 * trace_mV[k] at time k*dt after the cycle began, for k < min(trace_len, round(bcl/dt)).
 * Returns CT_OK; CT_ERR_CONFIG for a bad model id or protocol value; CT_ERR_NUMERIC if Vm becomes NaN
 * or leaves [-200, 200] mV (the message gives the time); CT_ERR_NOMEM if the beat buffer cannot be had. */
ct_status ct_cell_pace(int model, const ct_real *param, const ct_cell_protocol *proto, ct_cell_result *out,
                       double *trace_mV, size_t trace_len);
/* The same with the voltage-only rates from lut: NULL (exact, as ct_cell_pace) or the model's lookup table
 * built for proto->dt_ms (ct_model_lut_size reals, caller-owned, filled by ct_tp06_lut_fill). */
ct_status ct_cell_pace_lut(int model, const ct_real *param, const ct_cell_protocol *proto, const ct_real *lut,
                           ct_cell_result *out, double *trace_mV, size_t trace_len);

/* The parameter set of the model called `model` (model.name: "tp06", "mitchell_schaeffer") for its cell type
 * `cell_type` ("endo", "mid", "epi" for TP06; NULL: the model's default; ignored by a model without cell
 * types), from the model's descriptor (model/ct_model_desc.h): *model_id (enum ct_model_id) and
 * param[0 .. CT_MODEL_NPARAM-1] (caller-owned), as ct_cell_pace takes them. CT_ERR_CONFIG for a model or cell
 * type that is not known, the message listing the known ones. */
ct_status ct_cell_model_params(const char *model, const char *cell_type, int *model_id, ct_real *param);

#endif /* CT_CELL_H */
