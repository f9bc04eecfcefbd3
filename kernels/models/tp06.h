/* tp06.h — ten Tusscher-Panfilov 2006 human ventricular myocyte, single source for every backend.
 *
 * Written from the published equations: ten Tusscher KHWJ, Panfilov AV, "Alternans and spiral breakup
 * in a human ventricular tissue model", Am J Physiol Heart Circ Physiol 291:H1088-H1100 (2006), in the
 * form of its CellML encoding (ten_tusscher_model_2006_IK1Ko_{epi,endo,M}_units). Plain C99 that also
 * compiles under nvcc and as OpenCL C: only ct_real, CT_R() literals and CT_EXP/CT_LOG/CT_SQRT.
 *
 * Units as in the paper: V in mV, t in ms, currents in pA/pF (= uA/uF = mV/ms), concentrations in mM.
 * Vm is not part of the state (the solver owns it); the 18 state variables are listed in enum ct_tp06_state
 * and live at y[k*stride].
 *
 * Numerics: every gate (Xr1 ... r) by Rush-Larsen, x <- x_inf - (x_inf - x) exp(-dt/tau); R' and the
 * concentrations by forward Euler on the CellML right-hand sides (rapid-buffering form for Ca_i, Ca_SR, Ca_ss).
 * All right-hand sides are evaluated from the state at the start of the step and the vm passed in.
 * ct_tp06_step evaluates every rate from its formula (the reference); ct_tp06_step_lut takes the voltage-only
 * ones from a lookup table over Vm (struct ct_tp06_vfac, ct_tp06_lut_fill below), the switch "ionic_lut".
 *
 * Sign conventions: I_ion > 0 is outward. i_app > 0 depolarises: dVm/dt = -I_ion + i_app. The CellML
 * stimulus is I_stim = -i_app and enters dK_i/dt as -(... + I_stim) Cm/(V_c F), i.e. the stimulus is
 * carried by K+ (that keeps the model charge-conserving under long pacing).
 *
 * Known traps of public ports, checked here: P_NaK is 2.724 pA/pF (p_KNa = 0.03 is the I_Ks Na
 * permeability ratio, something else); the I_NaCa saturation term uses exp((gamma-1) V F/RT);
 * G_Kr is 0.153 nS/pF in all three cell types; tau_Xs carries the +80 ms of the 2006 model.
 */
#ifndef CT_MODELS_TP06_H
#define CT_MODELS_TP06_H

#include "../ct_real.h"

#define CT_TP06_NSTATE 18

/* State indices: variable k of a node lives at y[k*stride]. */
enum ct_tp06_state {
    CT_TP06_XR1 = 0, /* I_Kr activation */
    CT_TP06_XR2,     /* I_Kr inactivation */
    CT_TP06_XS,      /* I_Ks activation */
    CT_TP06_M,       /* I_Na activation */
    CT_TP06_H,       /* I_Na fast inactivation */
    CT_TP06_J,       /* I_Na slow inactivation */
    CT_TP06_D,       /* I_CaL activation */
    CT_TP06_F,       /* I_CaL slow voltage inactivation */
    CT_TP06_F2,      /* I_CaL fast voltage inactivation */
    CT_TP06_FCASS,   /* I_CaL Ca_ss-dependent inactivation */
    CT_TP06_S,       /* I_to inactivation */
    CT_TP06_R,       /* I_to activation */
    CT_TP06_CA_I,    /* free cytosolic Ca2+ (mM) */
    CT_TP06_R_BAR,   /* R': fraction of RyR channels not refractory */
    CT_TP06_CA_SR,   /* free SR Ca2+ (mM) */
    CT_TP06_CA_SS,   /* free subspace (dyadic) Ca2+ (mM) */
    CT_TP06_NA_I,    /* intracellular Na+ (mM) */
    CT_TP06_K_I      /* intracellular K+ (mM) */
};

/* Cell types, stored as a real in param[CT_TP06_P_CELLTYPE]. */
enum ct_tp06_cell_type {
    CT_TP06_ENDO = 0,
    CT_TP06_MCELL = 1,
    CT_TP06_EPI = 2
};

/* Parameter-set indices (param has CT_MODEL_NPARAM = 16 reals). Entries 1..12 are multiplicative
 * scale factors on the control value (1 = control, 0.5 = 50 % block); 13..15 are unused (0). */
enum ct_tp06_param {
    CT_TP06_P_CELLTYPE = 0, /* 0 endo, 1 M, 2 epi (as a real; rounded to nearest) */
    CT_TP06_P_GNA = 1,
    CT_TP06_P_GCAL = 2,
    CT_TP06_P_GTO = 3,
    CT_TP06_P_GKR = 4,
    CT_TP06_P_GKS = 5,
    CT_TP06_P_GK1 = 6,
    CT_TP06_P_KNACA = 7,
    CT_TP06_P_PNAK = 8,
    CT_TP06_P_GPCA = 9,
    CT_TP06_P_GPK = 10,
    CT_TP06_P_GBNA = 11,
    CT_TP06_P_GBCA = 12,
    CT_TP06_P_COUNT = 13
};

/* Fills param[0..15]: the cell type (an enum ct_tp06_cell_type value), every scale factor 1, the rest 0.
 * Host-callable; cell_type outside 0..2 is stored as given and read as the nearest valid type. */
CT_FN void ct_tp06_default_params(ct_real *param, int cell_type)
{
    int k;
    for (k = 0; k < 16; ++k) /* 16 = CT_MODEL_NPARAM */
        param[k] = CT_R(0.0);
    param[CT_TP06_P_CELLTYPE] = (ct_real)cell_type;
    for (k = CT_TP06_P_GNA; k <= CT_TP06_P_GBCA; ++k)
        param[k] = CT_R(1.0);
}

/* Cell type from the parameter set: nearest of 0/1/2, clamped. */
CT_FN int ct_tp06_cell_type(const ct_real *param)
{
    ct_real c = param[CT_TP06_P_CELLTYPE];
    if (c < CT_R(0.5))
        return CT_TP06_ENDO;
    if (c < CT_R(1.5))
        return CT_TP06_MCELL;
    return CT_TP06_EPI;
}

/* Writes the CellML initial state of the parameter set's cell type into y[k*stride]; returns V (mV).
 * Epi: the CellML epicardial defaults (also the N-version benchmark's initial state).
 * Endo and M: the CellML defaults of the endocardial and M-cell encodings (every state has its own
 * published value; none was borrowed from epi). */
CT_FN ct_real ct_tp06_init(CT_GLOBAL ct_real *y, ct_size stride, const ct_real *param)
{
    int type = ct_tp06_cell_type(param);
    if (type == CT_TP06_ENDO) {
        y[CT_TP06_XR1 * stride] = CT_R(0.00448);
        y[CT_TP06_XR2 * stride] = CT_R(0.476);
        y[CT_TP06_XS * stride] = CT_R(0.0087);
        y[CT_TP06_M * stride] = CT_R(0.00155);
        y[CT_TP06_H * stride] = CT_R(0.7573);
        y[CT_TP06_J * stride] = CT_R(0.7225);
        y[CT_TP06_D * stride] = CT_R(3.164e-5);
        y[CT_TP06_F * stride] = CT_R(0.8009);
        y[CT_TP06_F2 * stride] = CT_R(0.9778);
        y[CT_TP06_FCASS * stride] = CT_R(0.9953);
        y[CT_TP06_S * stride] = CT_R(0.3212);
        y[CT_TP06_R * stride] = CT_R(2.235e-8);
        y[CT_TP06_CA_I * stride] = CT_R(0.00013);
        y[CT_TP06_R_BAR * stride] = CT_R(0.9068);
        y[CT_TP06_CA_SR * stride] = CT_R(3.715);
        y[CT_TP06_CA_SS * stride] = CT_R(0.00036);
        y[CT_TP06_NA_I * stride] = CT_R(10.355);
        y[CT_TP06_K_I * stride] = CT_R(138.4);
        return CT_R(-86.709);
    }
    if (type == CT_TP06_MCELL) {
        y[CT_TP06_XR1 * stride] = CT_R(0.0165);
        y[CT_TP06_XR2 * stride] = CT_R(0.473);
        y[CT_TP06_XS * stride] = CT_R(0.0174);
        y[CT_TP06_M * stride] = CT_R(0.00165);
        y[CT_TP06_H * stride] = CT_R(0.749);
        y[CT_TP06_J * stride] = CT_R(0.6788);
        y[CT_TP06_D * stride] = CT_R(3.288e-5);
        y[CT_TP06_F * stride] = CT_R(0.7026);
        y[CT_TP06_F2 * stride] = CT_R(0.9526);
        y[CT_TP06_FCASS * stride] = CT_R(0.9942);
        y[CT_TP06_S * stride] = CT_R(0.999998);
        y[CT_TP06_R * stride] = CT_R(2.347e-8);
        y[CT_TP06_CA_I * stride] = CT_R(0.000153);
        y[CT_TP06_R_BAR * stride] = CT_R(0.8978);
        y[CT_TP06_CA_SR * stride] = CT_R(4.272);
        y[CT_TP06_CA_SS * stride] = CT_R(0.00042);
        y[CT_TP06_NA_I * stride] = CT_R(10.132);
        y[CT_TP06_K_I * stride] = CT_R(138.52);
        return CT_R(-85.423);
    }
    y[CT_TP06_XR1 * stride] = CT_R(0.00621);
    y[CT_TP06_XR2 * stride] = CT_R(0.4712);
    y[CT_TP06_XS * stride] = CT_R(0.0095);
    y[CT_TP06_M * stride] = CT_R(0.00172);
    y[CT_TP06_H * stride] = CT_R(0.7444);
    y[CT_TP06_J * stride] = CT_R(0.7045);
    y[CT_TP06_D * stride] = CT_R(3.373e-5);
    y[CT_TP06_F * stride] = CT_R(0.7888);
    y[CT_TP06_F2 * stride] = CT_R(0.9755);
    y[CT_TP06_FCASS * stride] = CT_R(0.9953);
    y[CT_TP06_S * stride] = CT_R(0.999998);
    y[CT_TP06_R * stride] = CT_R(2.42e-8);
    y[CT_TP06_CA_I * stride] = CT_R(0.000126);
    y[CT_TP06_R_BAR * stride] = CT_R(0.9073);
    y[CT_TP06_CA_SR * stride] = CT_R(3.64);
    y[CT_TP06_CA_SS * stride] = CT_R(0.00036);
    y[CT_TP06_NA_I * stride] = CT_R(8.604);
    y[CT_TP06_K_I * stride] = CT_R(136.89);
    return CT_R(-85.23);
}

/* ---- voltage-only factors: exact, or from a lookup table over Vm ------------------------------------
 *
 * Every rate function of TP06 that depends on V alone (gate steady states and Rush-Larsen factors
 * exp(-dt/tau) for the fixed dt, and the voltage factors of I_CaL, I_NaCa, I_NaK and I_pK) is gathered in
 * struct ct_tp06_vfac. ct_tp06_vfac_exact evaluates them from the formulas (the reference path);
 * ct_tp06_vfac_lut interpolates them linearly in a table filled by ct_tp06_lut_fill from the exact ones.
 * I_K1 (a function of V - E_K) and the reversal potentials depend on the state and stay exact.
 *
 * The table: CT_TP06_LUT_ROWS rows, V_k = CT_TP06_LUT_VMIN_MV + k CT_TP06_LUT_STEP_MV (-100 .. +80 mV), each row
 * CT_TP06_LUT_NCOL reals (enum ct_tp06_lut_col), row-major. It depends on dt (the exp(-dt/tau) columns) and on
 * nothing else: the two I_to s-gate variants (endo; epi and M) have a column each, the conductance scales do
 * not enter. Outside the range V is clamped to it (the rates of the end row); a NaN V reads row 0 (the
 * blow-up check reports it). The step, 0.05 mV, was chosen by measured error (tests/test_ionic_accel.c:
 * APD90, dV/dt max and conduction velocity against the exact path). */

#define CT_TP06_LUT_VMIN_MV (-100.0)
#define CT_TP06_LUT_STEP_MV 0.05
#define CT_TP06_LUT_ROWS 3601 /* (80 - (-100)) / 0.05 + 1 */

enum ct_tp06_lut_col {
    CT_TP06_LUT_M_INF = 0, CT_TP06_LUT_M_E, CT_TP06_LUT_H_INF, CT_TP06_LUT_H_E, CT_TP06_LUT_J_E,
    CT_TP06_LUT_D_INF, CT_TP06_LUT_D_E, CT_TP06_LUT_F_INF, CT_TP06_LUT_F_E, CT_TP06_LUT_F2_INF, CT_TP06_LUT_F2_E,
    CT_TP06_LUT_R_INF, CT_TP06_LUT_R_E, CT_TP06_LUT_S_INF_ENDO, CT_TP06_LUT_S_E_ENDO, CT_TP06_LUT_S_INF_EPI,
    CT_TP06_LUT_S_E_EPI, CT_TP06_LUT_XR1_INF, CT_TP06_LUT_XR1_E, CT_TP06_LUT_XR2_INF, CT_TP06_LUT_XR2_E,
    CT_TP06_LUT_XS_INF, CT_TP06_LUT_XS_E, CT_TP06_LUT_CAL_EZ, CT_TP06_LUT_CAL_ZFAC, CT_TP06_LUT_NACA_E1,
    CT_TP06_LUT_NACA_E2, CT_TP06_LUT_NAK_DEN, CT_TP06_LUT_PK_DEN,
    CT_TP06_LUT_NCOL
};

/* The voltage-only factors of one node and step ("_e" = exp(-dt/tau) of that gate). */
struct ct_tp06_vfac {
    ct_real m_inf, m_e, h_inf, h_e, j_e, d_inf, d_e, f_inf, f_e, f2_inf, f2_e, r_inf, r_e, s_inf, s_e;
    ct_real xr1_inf, xr1_e, xr2_inf, xr2_e, xs_inf, xs_e;
    ct_real cal_ez, cal_zfac;  /* I_CaL: e^z and z/(e^z - 1), z = 2 (V - 15) F/RT */
    ct_real naca_e1, naca_e2;  /* I_NaCa: exp(gamma V F/RT), exp((gamma - 1) V F/RT) */
    ct_real nak_den;           /* I_NaK: 1 + 0.1245 exp(-0.1 V F/RT) + 0.0353 exp(-V F/RT) */
    ct_real pk_den;            /* I_pK: 1 + exp((25 - V)/5.98) */
};

/* Rush-Larsen update of one gate given x_inf and e = exp(-dt/tau). */
CT_FN ct_real ct_tp06_rl(ct_real x, ct_real x_inf, ct_real e)
{
    return x_inf - (x_inf - x) * e;
}

/* The exact voltage-only factors at V (mV) for dt (ms) and cell type (enum ct_tp06_cell_type). */
CT_FN void ct_tp06_vfac_exact(ct_real V, ct_real dt, int type, struct ct_tp06_vfac *o)
{
    const ct_real FRT = CT_R(96485.3415) / (CT_R(8314.472) * CT_R(310.0)); /* 1/mV, as in ct_tp06_step */
    {
        /* I_CaL with the GHK flux written via z = 2 (V-15) F/RT; z/(e^z - 1) by its series near z = 0. */
        const ct_real z = CT_R(2.0) * (V - CT_R(15.0)) * FRT;
        const ct_real ez = CT_EXP(z);
        o->cal_ez = ez;
        o->cal_zfac = CT_FABS(z) < CT_R(1e-2) ? CT_R(1.0) - CT_R(0.5) * z + z * z / CT_R(12.0)
                                              : z / (ez - CT_R(1.0));
    }
    {
        const ct_real nc_gamma = CT_R(0.35);
        o->naca_e1 = CT_EXP(nc_gamma * V * FRT);
        o->naca_e2 = CT_EXP((nc_gamma - CT_R(1.0)) * V * FRT);
    }
    o->nak_den = CT_R(1.0) + CT_R(0.1245) * CT_EXP(CT_R(-0.1) * V * FRT) + CT_R(0.0353) * CT_EXP(-V * FRT);
    o->pk_den = CT_R(1.0) + CT_EXP((CT_R(25.0) - V) / CT_R(5.98));
    {
        /* I_Na */
        const ct_real em = CT_R(1.0) + CT_EXP((CT_R(-56.86) - V) / CT_R(9.03));
        const ct_real a_m = CT_R(1.0) / (CT_R(1.0) + CT_EXP((CT_R(-60.0) - V) / CT_R(5.0)));
        const ct_real b_m = CT_R(0.1) / (CT_R(1.0) + CT_EXP((V + CT_R(35.0)) / CT_R(5.0)))
                          + CT_R(0.1) / (CT_R(1.0) + CT_EXP((V - CT_R(50.0)) / CT_R(200.0)));
        const ct_real tau_m = a_m * b_m;
        const ct_real eh = CT_R(1.0) + CT_EXP((V + CT_R(71.55)) / CT_R(7.43));
        ct_real a_h, b_h, a_j, b_j;
        if (V < CT_R(-40.0)) {
            a_h = CT_R(0.057) * CT_EXP(-(V + CT_R(80.0)) / CT_R(6.8));
            b_h = CT_R(2.7) * CT_EXP(CT_R(0.079) * V) + CT_R(3.1e5) * CT_EXP(CT_R(0.3485) * V);
            a_j = (CT_R(-2.5428e4) * CT_EXP(CT_R(0.2444) * V) - CT_R(6.948e-6) * CT_EXP(CT_R(-0.04391) * V))
                * (V + CT_R(37.78)) / (CT_R(1.0) + CT_EXP(CT_R(0.311) * (V + CT_R(79.23))));
            b_j = CT_R(0.02424) * CT_EXP(CT_R(-0.01052) * V) / (CT_R(1.0) + CT_EXP(CT_R(-0.1378) * (V + CT_R(40.14))));
        } else {
            a_h = CT_R(0.0);
            b_h = CT_R(0.77) / (CT_R(0.13) * (CT_R(1.0) + CT_EXP(-(V + CT_R(10.66)) / CT_R(11.1))));
            a_j = CT_R(0.0);
            b_j = CT_R(0.6) * CT_EXP(CT_R(0.057) * V) / (CT_R(1.0) + CT_EXP(CT_R(-0.1) * (V + CT_R(32.0))));
        }
        o->m_inf = CT_R(1.0) / (em * em);
        o->m_e = CT_EXP(-dt / tau_m);
        o->h_inf = CT_R(1.0) / (eh * eh);
        o->h_e = CT_EXP(-dt / (CT_R(1.0) / (a_h + b_h)));
        o->j_e = CT_EXP(-dt / (CT_R(1.0) / (a_j + b_j)));
    }
    {
        /* I_CaL voltage gates */
        const ct_real a_d = CT_R(1.4) / (CT_R(1.0) + CT_EXP((CT_R(-35.0) - V) / CT_R(13.0))) + CT_R(0.25);
        const ct_real b_d = CT_R(1.4) / (CT_R(1.0) + CT_EXP((V + CT_R(5.0)) / CT_R(5.0)));
        const ct_real g_d = CT_R(1.0) / (CT_R(1.0) + CT_EXP((CT_R(50.0) - V) / CT_R(20.0)));
        const ct_real vf = V + CT_R(27.0);
        const ct_real tau_f = CT_R(1102.5) * CT_EXP(-vf * vf / CT_R(225.0))
                            + CT_R(200.0) / (CT_R(1.0) + CT_EXP((CT_R(13.0) - V) / CT_R(10.0)))
                            + CT_R(180.0) / (CT_R(1.0) + CT_EXP((V + CT_R(30.0)) / CT_R(10.0))) + CT_R(20.0);
        const ct_real tau_f2 = CT_R(562.0) * CT_EXP(-vf * vf / CT_R(240.0))
                             + CT_R(31.0) / (CT_R(1.0) + CT_EXP((CT_R(25.0) - V) / CT_R(10.0)))
                             + CT_R(80.0) / (CT_R(1.0) + CT_EXP((V + CT_R(30.0)) / CT_R(10.0)));
        o->d_inf = CT_R(1.0) / (CT_R(1.0) + CT_EXP((CT_R(-8.0) - V) / CT_R(7.5)));
        o->d_e = CT_EXP(-dt / (a_d * b_d + g_d));
        o->f_inf = CT_R(1.0) / (CT_R(1.0) + CT_EXP((V + CT_R(20.0)) / CT_R(7.0)));
        o->f_e = CT_EXP(-dt / tau_f);
        o->f2_inf = CT_R(0.67) / (CT_R(1.0) + CT_EXP((V + CT_R(35.0)) / CT_R(7.0))) + CT_R(0.33);
        o->f2_e = CT_EXP(-dt / tau_f2);
    }
    {
        /* I_to: r common, s differs between endo and epi/M */
        const ct_real vr = V + CT_R(40.0);
        o->r_inf = CT_R(1.0) / (CT_R(1.0) + CT_EXP((CT_R(20.0) - V) / CT_R(6.0)));
        o->r_e = CT_EXP(-dt / (CT_R(9.5) * CT_EXP(-vr * vr / CT_R(1800.0)) + CT_R(0.8)));
        ct_real tau_s;
        if (type == CT_TP06_ENDO) {
            const ct_real vs = V + CT_R(67.0);
            o->s_inf = CT_R(1.0) / (CT_R(1.0) + CT_EXP((V + CT_R(28.0)) / CT_R(5.0)));
            tau_s = CT_R(1000.0) * CT_EXP(-vs * vs / CT_R(1000.0)) + CT_R(8.0);
        } else {
            const ct_real vs = V + CT_R(45.0);
            o->s_inf = CT_R(1.0) / (CT_R(1.0) + CT_EXP((V + CT_R(20.0)) / CT_R(5.0)));
            tau_s = CT_R(85.0) * CT_EXP(-vs * vs / CT_R(320.0))
                  + CT_R(5.0) / (CT_R(1.0) + CT_EXP((V - CT_R(20.0)) / CT_R(5.0))) + CT_R(3.0);
        }
        o->s_e = CT_EXP(-dt / tau_s);
    }
    {
        /* I_Kr, I_Ks */
        const ct_real a_xr1 = CT_R(450.0) / (CT_R(1.0) + CT_EXP((CT_R(-45.0) - V) / CT_R(10.0)));
        const ct_real b_xr1 = CT_R(6.0) / (CT_R(1.0) + CT_EXP((V + CT_R(30.0)) / CT_R(11.5)));
        const ct_real a_xr2 = CT_R(3.0) / (CT_R(1.0) + CT_EXP((CT_R(-60.0) - V) / CT_R(20.0)));
        const ct_real b_xr2 = CT_R(1.12) / (CT_R(1.0) + CT_EXP((V - CT_R(60.0)) / CT_R(20.0)));
        const ct_real a_xs = CT_R(1400.0) / CT_SQRT(CT_R(1.0) + CT_EXP((CT_R(5.0) - V) / CT_R(6.0)));
        const ct_real b_xs = CT_R(1.0) / (CT_R(1.0) + CT_EXP((V - CT_R(35.0)) / CT_R(15.0)));
        o->xr1_inf = CT_R(1.0) / (CT_R(1.0) + CT_EXP((CT_R(-26.0) - V) / CT_R(7.0)));
        o->xr1_e = CT_EXP(-dt / (a_xr1 * b_xr1));
        o->xr2_inf = CT_R(1.0) / (CT_R(1.0) + CT_EXP((V + CT_R(88.0)) / CT_R(24.0)));
        o->xr2_e = CT_EXP(-dt / (a_xr2 * b_xr2));
        o->xs_inf = CT_R(1.0) / (CT_R(1.0) + CT_EXP((CT_R(-5.0) - V) / CT_R(14.0)));
        o->xs_e = CT_EXP(-dt / (a_xs * b_xs + CT_R(80.0)));
    }
}

/* Fills the table (CT_TP06_LUT_ROWS * CT_TP06_LUT_NCOL reals, caller's) with the exact factors for dt (ms).
 * Host-callable; the backends build it once per run and keep it (kernels/ct_step.c). */
CT_FN void ct_tp06_lut_fill(ct_real *lut, ct_real dt)
{
    for (int k = 0; k < CT_TP06_LUT_ROWS; k++) {
        const ct_real V = (ct_real)(CT_TP06_LUT_VMIN_MV + (double)k * CT_TP06_LUT_STEP_MV);
        struct ct_tp06_vfac a, b;
        ct_real *row = lut + (ct_size)k * CT_TP06_LUT_NCOL;
        ct_tp06_vfac_exact(V, dt, CT_TP06_ENDO, &a);
        ct_tp06_vfac_exact(V, dt, CT_TP06_EPI, &b);
        row[CT_TP06_LUT_M_INF] = a.m_inf, row[CT_TP06_LUT_M_E] = a.m_e;
        row[CT_TP06_LUT_H_INF] = a.h_inf, row[CT_TP06_LUT_H_E] = a.h_e, row[CT_TP06_LUT_J_E] = a.j_e;
        row[CT_TP06_LUT_D_INF] = a.d_inf, row[CT_TP06_LUT_D_E] = a.d_e;
        row[CT_TP06_LUT_F_INF] = a.f_inf, row[CT_TP06_LUT_F_E] = a.f_e;
        row[CT_TP06_LUT_F2_INF] = a.f2_inf, row[CT_TP06_LUT_F2_E] = a.f2_e;
        row[CT_TP06_LUT_R_INF] = a.r_inf, row[CT_TP06_LUT_R_E] = a.r_e;
        row[CT_TP06_LUT_S_INF_ENDO] = a.s_inf, row[CT_TP06_LUT_S_E_ENDO] = a.s_e;
        row[CT_TP06_LUT_S_INF_EPI] = b.s_inf, row[CT_TP06_LUT_S_E_EPI] = b.s_e;
        row[CT_TP06_LUT_XR1_INF] = a.xr1_inf, row[CT_TP06_LUT_XR1_E] = a.xr1_e;
        row[CT_TP06_LUT_XR2_INF] = a.xr2_inf, row[CT_TP06_LUT_XR2_E] = a.xr2_e;
        row[CT_TP06_LUT_XS_INF] = a.xs_inf, row[CT_TP06_LUT_XS_E] = a.xs_e;
        row[CT_TP06_LUT_CAL_EZ] = a.cal_ez, row[CT_TP06_LUT_CAL_ZFAC] = a.cal_zfac;
        row[CT_TP06_LUT_NACA_E1] = a.naca_e1, row[CT_TP06_LUT_NACA_E2] = a.naca_e2;
        row[CT_TP06_LUT_NAK_DEN] = a.nak_den, row[CT_TP06_LUT_PK_DEN] = a.pk_den;
    }
}

/* The factors at V by linear interpolation in the table (filled by ct_tp06_lut_fill for this dt). No branch
 * but selects, so that a SIMD loop can take it. */
CT_FN void ct_tp06_vfac_lut(ct_real V, int type, const CT_GLOBAL ct_real *lut, struct ct_tp06_vfac *o)
{
    ct_real x = (V - CT_R(-100.0)) * CT_R(20.0); /* (V - VMIN) / STEP */
    x = x > CT_R(0.0) ? x : CT_R(0.0);           /* also NaN -> 0 */
    x = x < (ct_real)(CT_TP06_LUT_ROWS - 1) ? x : (ct_real)(CT_TP06_LUT_ROWS - 1);
    int k = (int)x;
    k = k < CT_TP06_LUT_ROWS - 2 ? k : CT_TP06_LUT_ROWS - 2;
    const ct_real w = x - (ct_real)k;
    /* rows k and k+1 as int offsets from lut itself: a SIMD loop gathers with them (base + 32-bit index) */
    const int a = k * CT_TP06_LUT_NCOL, b = a + CT_TP06_LUT_NCOL;
#define CT_TP06_LERP(col) (lut[a + (col)] + w * (lut[b + (col)] - lut[a + (col)]))
    const int endo = type == CT_TP06_ENDO;
    o->m_inf = CT_TP06_LERP(CT_TP06_LUT_M_INF), o->m_e = CT_TP06_LERP(CT_TP06_LUT_M_E);
    o->h_inf = CT_TP06_LERP(CT_TP06_LUT_H_INF), o->h_e = CT_TP06_LERP(CT_TP06_LUT_H_E);
    o->j_e = CT_TP06_LERP(CT_TP06_LUT_J_E);
    o->d_inf = CT_TP06_LERP(CT_TP06_LUT_D_INF), o->d_e = CT_TP06_LERP(CT_TP06_LUT_D_E);
    o->f_inf = CT_TP06_LERP(CT_TP06_LUT_F_INF), o->f_e = CT_TP06_LERP(CT_TP06_LUT_F_E);
    o->f2_inf = CT_TP06_LERP(CT_TP06_LUT_F2_INF), o->f2_e = CT_TP06_LERP(CT_TP06_LUT_F2_E);
    o->r_inf = CT_TP06_LERP(CT_TP06_LUT_R_INF), o->r_e = CT_TP06_LERP(CT_TP06_LUT_R_E);
    {
        /* both variants read, then one chosen: a select, not a conditional load */
        const ct_real s_inf_endo = CT_TP06_LERP(CT_TP06_LUT_S_INF_ENDO), s_inf_epi = CT_TP06_LERP(CT_TP06_LUT_S_INF_EPI);
        const ct_real s_e_endo = CT_TP06_LERP(CT_TP06_LUT_S_E_ENDO), s_e_epi = CT_TP06_LERP(CT_TP06_LUT_S_E_EPI);
        o->s_inf = endo ? s_inf_endo : s_inf_epi;
        o->s_e = endo ? s_e_endo : s_e_epi;
    }
    o->xr1_inf = CT_TP06_LERP(CT_TP06_LUT_XR1_INF), o->xr1_e = CT_TP06_LERP(CT_TP06_LUT_XR1_E);
    o->xr2_inf = CT_TP06_LERP(CT_TP06_LUT_XR2_INF), o->xr2_e = CT_TP06_LERP(CT_TP06_LUT_XR2_E);
    o->xs_inf = CT_TP06_LERP(CT_TP06_LUT_XS_INF), o->xs_e = CT_TP06_LERP(CT_TP06_LUT_XS_E);
    o->cal_ez = CT_TP06_LERP(CT_TP06_LUT_CAL_EZ), o->cal_zfac = CT_TP06_LERP(CT_TP06_LUT_CAL_ZFAC);
    o->naca_e1 = CT_TP06_LERP(CT_TP06_LUT_NACA_E1), o->naca_e2 = CT_TP06_LERP(CT_TP06_LUT_NACA_E2);
    o->nak_den = CT_TP06_LERP(CT_TP06_LUT_NAK_DEN), o->pk_den = CT_TP06_LERP(CT_TP06_LUT_PK_DEN);
#undef CT_TP06_LERP
}

/* Advances one node by dt (ms) at potential vm (mV) with applied current i_app (uA/uF, > 0 depolarises),
 * given the node's voltage-only factors v (exact or interpolated); returns I_ion (uA/uF) computed from the
 * state at the start of the step. */
CT_FN ct_real ct_tp06_advance(CT_GLOBAL ct_real *y, ct_size stride, ct_real vm, ct_real i_app, ct_real dt,
                              const ct_real *param, const struct ct_tp06_vfac *v)
{
    /* ---- physical constants and cell geometry ---- */
    const ct_real R = CT_R(8314.472);    /* J/(kmol K) */
    const ct_real T = CT_R(310.0);       /* K */
    const ct_real F = CT_R(96485.3415);  /* C/mol */
    const ct_real Cm = CT_R(0.185);      /* uF */
    const ct_real V_c = CT_R(0.016404);  /* cytosol volume (CellML units) */
    const ct_real V_sr = CT_R(0.001094); /* SR volume */
    const ct_real V_ss = CT_R(0.00005468); /* subspace volume */
    const ct_real K_o = CT_R(5.4), Na_o = CT_R(140.0), Ca_o = CT_R(2.0); /* mM */
    const ct_real RTF = R * T / F;       /* mV */

    /* ---- conductances, scaled by the parameter set ---- */
    const int type = ct_tp06_cell_type(param);
    const ct_real G_Na = CT_R(14.838) * param[CT_TP06_P_GNA];             /* nS/pF */
    const ct_real G_CaL = CT_R(3.98e-5) * param[CT_TP06_P_GCAL];          /* cm/(ms uF) */
    const ct_real G_to = (type == CT_TP06_ENDO ? CT_R(0.073) : CT_R(0.294)) * param[CT_TP06_P_GTO];
    const ct_real G_Kr = CT_R(0.153) * param[CT_TP06_P_GKR];
    const ct_real G_Ks = (type == CT_TP06_MCELL ? CT_R(0.098) : CT_R(0.392)) * param[CT_TP06_P_GKS];
    const ct_real G_K1 = CT_R(5.405) * param[CT_TP06_P_GK1];
    const ct_real k_NaCa = CT_R(1000.0) * param[CT_TP06_P_KNACA];         /* pA/pF */
    const ct_real P_NaK = CT_R(2.724) * param[CT_TP06_P_PNAK];            /* pA/pF */
    const ct_real G_pCa = CT_R(0.1238) * param[CT_TP06_P_GPCA];
    const ct_real G_pK = CT_R(0.0146) * param[CT_TP06_P_GPK];
    const ct_real G_bNa = CT_R(0.00029) * param[CT_TP06_P_GBNA];
    const ct_real G_bCa = CT_R(0.000592) * param[CT_TP06_P_GBCA];
    const ct_real p_KNa = CT_R(0.03);

    /* ---- state at the start of the step ---- */
    const ct_real V = vm;
    const ct_real xr1 = y[CT_TP06_XR1 * stride], xr2 = y[CT_TP06_XR2 * stride], xs = y[CT_TP06_XS * stride];
    const ct_real m = y[CT_TP06_M * stride], h = y[CT_TP06_H * stride], j = y[CT_TP06_J * stride];
    const ct_real d = y[CT_TP06_D * stride], f = y[CT_TP06_F * stride], f2 = y[CT_TP06_F2 * stride];
    const ct_real fcass = y[CT_TP06_FCASS * stride], s = y[CT_TP06_S * stride], r = y[CT_TP06_R * stride];
    const ct_real Ca_i = y[CT_TP06_CA_I * stride], Rb = y[CT_TP06_R_BAR * stride];
    const ct_real Ca_sr = y[CT_TP06_CA_SR * stride], Ca_ss = y[CT_TP06_CA_SS * stride];
    const ct_real Na_i = y[CT_TP06_NA_I * stride], K_i = y[CT_TP06_K_I * stride];

    /* ---- reversal potentials ---- */
    const ct_real E_Na = RTF * CT_LOG(Na_o / Na_i);
    const ct_real E_K = RTF * CT_LOG(K_o / K_i);
    const ct_real E_Ks = RTF * CT_LOG((K_o + p_KNa * Na_o) / (K_i + p_KNa * Na_i));
    const ct_real E_Ca = CT_R(0.5) * RTF * CT_LOG(Ca_o / Ca_i);
    const ct_real sqrt_ko = CT_SQRT(K_o / CT_R(5.4));

    /* ---- currents (pA/pF) ---- */
    const ct_real I_Na = G_Na * m * m * m * h * j * (V - E_Na);

    /* I_CaL, GHK flux: zfac = z/(e^z - 1), z = 2 (V-15) F/RT (ct_tp06_vfac_exact) */
    const ct_real I_CaL = G_CaL * d * f * f2 * fcass * CT_R(2.0) * F * v->cal_zfac
                        * (CT_R(0.25) * Ca_ss * v->cal_ez - Ca_o);

    const ct_real I_to = G_to * r * s * (V - E_K);
    const ct_real I_Kr = G_Kr * sqrt_ko * xr1 * xr2 * (V - E_K);
    const ct_real I_Ks = G_Ks * xs * xs * (V - E_Ks);

    ct_real I_K1;
    {
        const ct_real a_K1 = CT_R(0.1) / (CT_R(1.0) + CT_EXP(CT_R(0.06) * (V - E_K - CT_R(200.0))));
        const ct_real b_K1 = (CT_R(3.0) * CT_EXP(CT_R(0.0002) * (V - E_K + CT_R(100.0)))
                              + CT_EXP(CT_R(0.1) * (V - E_K - CT_R(10.0))))
                           / (CT_R(1.0) + CT_EXP(CT_R(-0.5) * (V - E_K)));
        I_K1 = G_K1 * sqrt_ko * (a_K1 / (a_K1 + b_K1)) * (V - E_K);
    }

    ct_real I_NaCa;
    {
        const ct_real Km_Nai = CT_R(87.5), Km_Ca = CT_R(1.38);
        const ct_real k_sat = CT_R(0.1), nc_alpha = CT_R(2.5);
        const ct_real e1 = v->naca_e1, e2 = v->naca_e2; /* exp(gamma V F/RT), exp((gamma - 1) V F/RT) */
        I_NaCa = k_NaCa * (e1 * Na_i * Na_i * Na_i * Ca_o - e2 * Na_o * Na_o * Na_o * Ca_i * nc_alpha)
               / ((Km_Nai * Km_Nai * Km_Nai + Na_o * Na_o * Na_o) * (Km_Ca + Ca_o) * (CT_R(1.0) + k_sat * e2));
    }

    const ct_real I_NaK = P_NaK * K_o * Na_i
                        / ((K_o + CT_R(1.0)) * (Na_i + CT_R(40.0))
                           * v->nak_den);
    const ct_real I_pCa = G_pCa * Ca_i / (Ca_i + CT_R(0.0005));
    const ct_real I_pK = G_pK * (V - E_K) / v->pk_den;
    const ct_real I_bNa = G_bNa * (V - E_Na);
    const ct_real I_bCa = G_bCa * (V - E_Ca);

    const ct_real I_ion = I_Na + I_CaL + I_to + I_Kr + I_Ks + I_K1 + I_NaCa + I_NaK + I_pCa + I_pK + I_bNa + I_bCa;

    /* ---- gates: Rush-Larsen ---- */
    {
        const ct_real cs = Ca_ss / CT_R(0.05); /* Ca_ss inactivation of I_CaL */
        const ct_real fcass_inf = CT_R(0.6) / (CT_R(1.0) + cs * cs) + CT_R(0.4);
        const ct_real tau_fcass = CT_R(80.0) / (CT_R(1.0) + cs * cs) + CT_R(2.0);
        y[CT_TP06_M * stride] = ct_tp06_rl(m, v->m_inf, v->m_e);
        y[CT_TP06_H * stride] = ct_tp06_rl(h, v->h_inf, v->h_e);
        y[CT_TP06_J * stride] = ct_tp06_rl(j, v->h_inf, v->j_e);
        y[CT_TP06_D * stride] = ct_tp06_rl(d, v->d_inf, v->d_e);
        y[CT_TP06_F * stride] = ct_tp06_rl(f, v->f_inf, v->f_e);
        y[CT_TP06_F2 * stride] = ct_tp06_rl(f2, v->f2_inf, v->f2_e);
        y[CT_TP06_FCASS * stride] = ct_tp06_rl(fcass, fcass_inf, CT_EXP(-dt / tau_fcass));
        y[CT_TP06_R * stride] = ct_tp06_rl(r, v->r_inf, v->r_e);
        y[CT_TP06_S * stride] = ct_tp06_rl(s, v->s_inf, v->s_e);
        y[CT_TP06_XR1 * stride] = ct_tp06_rl(xr1, v->xr1_inf, v->xr1_e);
        y[CT_TP06_XR2 * stride] = ct_tp06_rl(xr2, v->xr2_inf, v->xr2_e);
        y[CT_TP06_XS * stride] = ct_tp06_rl(xs, v->xs_inf, v->xs_e);
    }

    /* ---- Ca2+ handling: forward Euler, rapid-buffering form ---- */
    {
        const ct_real V_maxup = CT_R(0.006375), K_up = CT_R(0.00025);
        const ct_real V_rel = CT_R(0.102), V_leak = CT_R(0.00036), V_xfer = CT_R(0.0038);
        const ct_real k1p = CT_R(0.15), k2p = CT_R(0.045), k3 = CT_R(0.06), k4 = CT_R(0.005);
        const ct_real EC = CT_R(1.5), max_sr = CT_R(2.5), min_sr = CT_R(1.0);
        const ct_real Buf_c = CT_R(0.2), K_bufc = CT_R(0.001);
        const ct_real Buf_sr = CT_R(10.0), K_bufsr = CT_R(0.3);
        const ct_real Buf_ss = CT_R(0.4), K_bufss = CT_R(0.00025);

        const ct_real I_leak = V_leak * (Ca_sr - Ca_i);
        const ct_real kup_ca = K_up / Ca_i;
        const ct_real I_up = V_maxup / (CT_R(1.0) + kup_ca * kup_ca);
        const ct_real ec_sr = EC / Ca_sr;
        const ct_real k_casr = max_sr - (max_sr - min_sr) / (CT_R(1.0) + ec_sr * ec_sr);
        const ct_real k1 = k1p / k_casr;
        const ct_real k2 = k2p * k_casr;
        const ct_real ss2 = Ca_ss * Ca_ss;
        const ct_real O = k1 * ss2 * Rb / (k3 + k1 * ss2);
        const ct_real I_rel = V_rel * O * (Ca_sr - Ca_ss);
        const ct_real I_xfer = V_xfer * (Ca_ss - Ca_i);

        const ct_real ci = Ca_i + K_bufc, csr = Ca_sr + K_bufsr, css = Ca_ss + K_bufss;
        const ct_real bc = CT_R(1.0) / (CT_R(1.0) + Buf_c * K_bufc / (ci * ci));
        const ct_real bsr = CT_R(1.0) / (CT_R(1.0) + Buf_sr * K_bufsr / (csr * csr));
        const ct_real bss = CT_R(1.0) / (CT_R(1.0) + Buf_ss * K_bufss / (css * css));

        const ct_real dCa_i = bc * ((I_leak - I_up) * V_sr / V_c + I_xfer
                                    - (I_bCa + I_pCa - CT_R(2.0) * I_NaCa) * Cm / (CT_R(2.0) * V_c * F));
        const ct_real dCa_sr = bsr * (I_up - (I_rel + I_leak));
        const ct_real dCa_ss = bss * (-I_CaL * Cm / (CT_R(2.0) * V_ss * F) + I_rel * V_sr / V_ss - I_xfer * V_c / V_ss);
        const ct_real dRb = -k2 * Ca_ss * Rb + k4 * (CT_R(1.0) - Rb);

        /* Na+ and K+; the CellML stimulus I_stim = -i_app is carried by K+ */
        const ct_real dNa_i = -(I_Na + I_bNa + CT_R(3.0) * I_NaK + CT_R(3.0) * I_NaCa) * Cm / (V_c * F);
        const ct_real dK_i = -(I_K1 + I_to + I_Kr + I_Ks + I_pK - i_app - CT_R(2.0) * I_NaK) * Cm / (V_c * F);

        y[CT_TP06_CA_I * stride] = Ca_i + dt * dCa_i;
        y[CT_TP06_CA_SR * stride] = Ca_sr + dt * dCa_sr;
        y[CT_TP06_CA_SS * stride] = Ca_ss + dt * dCa_ss;
        y[CT_TP06_R_BAR * stride] = Rb + dt * dRb;
        y[CT_TP06_NA_I * stride] = Na_i + dt * dNa_i;
        y[CT_TP06_K_I * stride] = K_i + dt * dK_i;
    }

    return I_ion;
}

/* Advances one node by dt (ms), every rate from its formula (the reference path); see ct_tp06_advance. */
CT_FN ct_real ct_tp06_step(CT_GLOBAL ct_real *y, ct_size stride, ct_real vm, ct_real i_app, ct_real dt,
                           const ct_real *param)
{
    struct ct_tp06_vfac v;
    ct_tp06_vfac_exact(vm, dt, ct_tp06_cell_type(param), &v);
    return ct_tp06_advance(y, stride, vm, i_app, dt, param, &v);
}

/* The same with the voltage-only factors interpolated in lut (ct_tp06_lut_fill, built for this dt). */
CT_FN ct_real ct_tp06_step_lut(CT_GLOBAL ct_real *y, ct_size stride, ct_real vm, ct_real i_app, ct_real dt,
                               const ct_real *param, const CT_GLOBAL ct_real *lut)
{
    struct ct_tp06_vfac v;
    ct_tp06_vfac_lut(vm, ct_tp06_cell_type(param), lut, &v);
    return ct_tp06_advance(y, stride, vm, i_app, dt, param, &v);
}

#endif /* CT_MODELS_TP06_H */
