/* mitchell_schaeffer.h — Mitchell-Schaeffer 2003 two-variable model, single source for every backend.
 *
 * Mitchell CC, Schaeffer DG, "A two-current model for the dynamics of cardiac membrane",
 * Bull Math Biol 65:767-793 (2003):
 *     dv/dt = h v^2 (1-v)/tau_in - v/tau_out + J,
 *     dh/dt = (1-h)/tau_open  if v < v_gate,   -h/tau_close  otherwise,
 * with v dimensionless (rest 0, peak about 1). Here v is mapped to the membrane potential by
 * Vm = V_rest + V_amp v (mV), so I_ion (uA/uF = mV/ms) = -V_amp (h v^2 (1-v)/tau_in - v/tau_out)
 * and an applied current i_app (uA/uF) is J = i_app / V_amp.
 *
 * State: the gate h only (Vm is owned by the solver). h is advanced exactly over dt for the v held
 * over the step (its equation is linear in h with piecewise-constant coefficients).
 */
#ifndef CT_MODELS_MITCHELL_SCHAEFFER_H
#define CT_MODELS_MITCHELL_SCHAEFFER_H

#include "../ct_real.h"

#define CT_MS_NSTATE 1

enum ct_ms_state {
    CT_MS_H = 0 /* inward-current gate, 1 at rest */
};

/* Parameter-set indices (param has CT_MODEL_NPARAM = 16 reals; 7..15 unused, 0). */
enum ct_ms_param {
    CT_MS_P_TAU_IN = 0,    /* ms, default 0.3 */
    CT_MS_P_TAU_OUT = 1,   /* ms, default 6 */
    CT_MS_P_TAU_OPEN = 2,  /* ms, default 120 */
    CT_MS_P_TAU_CLOSE = 3, /* ms, default 150 */
    CT_MS_P_V_GATE = 4,    /* dimensionless, default 0.13 */
    CT_MS_P_V_REST = 5,    /* mV, default -80 */
    CT_MS_P_V_AMP = 6,     /* mV, default 100 */
    CT_MS_P_COUNT = 7
};

/* Fills param[0..15] with the published defaults (unused entries 0). Host-callable. */
CT_FN void ct_ms_default_params(ct_real *param)
{
    int k;
    for (k = 0; k < 16; ++k) /* 16 = CT_MODEL_NPARAM */
        param[k] = CT_R(0.0);
    param[CT_MS_P_TAU_IN] = CT_R(0.3);
    param[CT_MS_P_TAU_OUT] = CT_R(6.0);
    param[CT_MS_P_TAU_OPEN] = CT_R(120.0);
    param[CT_MS_P_TAU_CLOSE] = CT_R(150.0);
    param[CT_MS_P_V_GATE] = CT_R(0.13);
    param[CT_MS_P_V_REST] = CT_R(-80.0);
    param[CT_MS_P_V_AMP] = CT_R(100.0);
}

/* Resting state: h = 1; returns Vm = V_rest (mV). */
CT_FN ct_real ct_ms_init(CT_GLOBAL ct_real *y, ct_size stride, const ct_real *param)
{
    y[CT_MS_H * stride] = CT_R(1.0);
    return param[CT_MS_P_V_REST];
}

/* Advances h by dt (ms) at potential vm (mV); returns I_ion (uA/uF) at the start of the step.
 * i_app is unused here (it enters only dVm/dt); kept for the common model signature. */
CT_FN ct_real ct_ms_step(CT_GLOBAL ct_real *y, ct_size stride, ct_real vm, ct_real i_app, ct_real dt,
                         const ct_real *param)
{
    const ct_real tau_in = param[CT_MS_P_TAU_IN];
    const ct_real tau_out = param[CT_MS_P_TAU_OUT];
    const ct_real v_amp = param[CT_MS_P_V_AMP];
    const ct_real v = (vm - param[CT_MS_P_V_REST]) / v_amp;
    const ct_real h = y[CT_MS_H * stride];
    const ct_real i_ion = -v_amp * (h * v * v * (CT_R(1.0) - v) / tau_in - v / tau_out);
    (void)i_app;
    if (v < param[CT_MS_P_V_GATE])
        y[CT_MS_H * stride] = CT_R(1.0) - (CT_R(1.0) - h) * CT_EXP(-dt / param[CT_MS_P_TAU_OPEN]);
    else
        y[CT_MS_H * stride] = h * CT_EXP(-dt / param[CT_MS_P_TAU_CLOSE]);
    return i_ion;
}

#endif /* CT_MODELS_MITCHELL_SCHAEFFER_H */
