/* ct_models.h — the ionic models, written once, dispatched by id.
 *
 * Single source for every backend: included by the CPU loop (C), the CUDA kernels (nvcc)
 * and embedded into the OpenCL program. Nothing here allocates or touches the host.
 *
 * State layout is structure-of-arrays: state variable k of node i lives at y[k*stride + i];
 * a model function is handed y + i and the stride, so GPU loads coalesce.
 * The transmembrane potential Vm (mV) is NOT part of y: the solver owns it because diffusion acts on it.
 *
 * Units: Vm in mV, time in ms, currents in uA/uF (= mV/ms). The applied (stimulus) current i_app
 * is positive when depolarising:  dVm/dt = -I_ion + i_app  (+ diffusion).
 *
 * Parameters: every node points at one parameter set, an array of CT_MODEL_NPARAM reals whose meaning
 * is model-specific (see tp06.h and mitchell_schaeffer.h). This keeps per-node remodelling and drug
 * block cheap on a GPU: one small index per node instead of a dozen scale factors.
 */
#ifndef CT_MODELS_H
#define CT_MODELS_H

#include "../ct_real.h"

#define CT_MODEL_NPARAM 16
#define CT_MODEL_MAX_NSTATE 18

enum ct_model_id {
    CT_MODEL_TP06 = 0,               /* ten Tusscher-Panfilov 2006 human ventricle */
    CT_MODEL_MITCHELL_SCHAEFFER = 1, /* Mitchell-Schaeffer 2003, two variables */
    CT_MODEL_COUNT
};

#include "tp06.h"
#include "mitchell_schaeffer.h"

/* Number of state variables (excluding Vm) of a model. */
CT_FN int ct_model_nstate(int model)
{
    return model == CT_MODEL_TP06 ? CT_TP06_NSTATE : CT_MS_NSTATE;
}

/* Reals in the model's lookup table over Vm (the switch "ionic_lut"); 0: the model has none (runs exact). */
CT_FN ct_size ct_model_lut_size(int model)
{
    return model == CT_MODEL_TP06 ? (ct_size)CT_TP06_LUT_ROWS * CT_TP06_LUT_NCOL : 0;
}

/* Writes the initial state of one node (y[k*stride]) and returns its initial Vm in mV. */
CT_FN ct_real ct_model_init(int model, CT_GLOBAL ct_real *y, ct_size stride, const ct_real *param)
{
    if (model == CT_MODEL_TP06)
        return ct_tp06_init(y, stride, param);
    return ct_ms_init(y, stride, param);
}

/* Advances the state of one node by dt_ms (Rush-Larsen for gates, forward Euler otherwise) using
 * the potential vm_mV held over the step, and returns the total ionic current I_ion (uA/uF) at the
 * start of the step. The caller then updates Vm += dt_ms * (-I_ion + i_app).
 * lut: NULL, every rate from its formula; else the model's lookup table over Vm built for this dt_ms
 * (ct_model_lut_size; TP06 only, ct_tp06_lut_fill), read for its voltage-only rates. */
CT_FN ct_real ct_model_step(int model, CT_GLOBAL ct_real *y, ct_size stride, ct_real vm_mV,
                            ct_real i_app, ct_real dt_ms, const ct_real *param, const CT_GLOBAL ct_real *lut)
{
    if (model == CT_MODEL_TP06)
        return lut ? ct_tp06_step_lut(y, stride, vm_mV, i_app, dt_ms, param, lut)
                   : ct_tp06_step(y, stride, vm_mV, i_app, dt_ms, param);
    return ct_ms_step(y, stride, vm_mV, i_app, dt_ms, param);
}

#endif /* CT_MODELS_H */
