/* ct_bench_count.c — counts the transcendental calls (exp, log, pow, sqrt) of one TP06 node-step, the work that
 * makes the ionic model compute-bound on a CPU: ct_bench divides the measured exp() throughput of the machine
 * by this count to get the model's node-step ceiling (bench/README.md, "Where the time goes").
 *
 * The count is not typed in by hand: this file compiles the model's own source (kernels/models/tp06.h, the
 * reference path ct_tp06_step that evaluates every rate from its formula) with CT_EXP, CT_LOG, CT_POW and
 * CT_SQRT redirected to counting wrappers, and steps one node. At the time of writing (tp06.h of commit
 * 342e643) the list, for an epicardial node, is:
 *   log  4: E_Na, E_K, E_Ks, E_Ca
 *   exp 10 in the currents: I_CaL 1, I_K1 4, I_NaCa 2, I_NaK 2, I_pK 1
 *   exp 43 in the gates: m 4 (m_inf, a_m, b_m x2), h_inf 1, d 4, f 4, f2 4 (f_inf .. tau_f2), r 2, s 3 (epi;
 *          endo 2), Xr1 3, Xr2 3, Xs 3, and 12 Rush-Larsen factors exp(-dt/tau) (m h j d f f2 fCass r s Xr1 Xr2
 *          Xs)
 *   exp  8 more for V < -40 mV (a_h 1, b_h 2, a_j 3, b_j 2), 3 for V >= -40 mV (b_h 1, b_j 2)
 *   sqrt 2 (a_xs, and sqrt(K_o/5.4), a constant an optimising compiler folds), pow 0
 * so 61 exp + 4 log at rest and 56 exp + 4 log when depolarised; the counting build below is the authority.
 * The counters are plain statics: call from one thread.
 */
#include "ct_bench_count.h"

#include "../kernels/ct_real.h"

static long g_exp, g_log, g_pow, g_sqrt;

static ct_real count_exp(ct_real x)
{
    g_exp++;
    return CT_EXP(x);
}

static ct_real count_log(ct_real x)
{
    g_log++;
    return CT_LOG(x);
}

static ct_real count_pow(ct_real x, ct_real y)
{
    g_pow++;
    return CT_POW(x, y);
}

static ct_real count_sqrt(ct_real x)
{
    g_sqrt++;
    return CT_SQRT(x);
}

/* From here on the model's math goes through the counters. */
#undef CT_EXP
#undef CT_LOG
#undef CT_POW
#undef CT_SQRT
#define CT_EXP(x) count_exp(x)
#define CT_LOG(x) count_log(x)
#define CT_POW(x, y) count_pow(x, y)
#define CT_SQRT(x) count_sqrt(x)

#include "../kernels/models/tp06.h"

void ct_bench_tp06_count(int cell_type, double vm_mV, double dt_ms, ct_bench_tcount *out)
{
    ct_real param[16]; /* CT_MODEL_NPARAM */
    ct_real y[CT_TP06_NSTATE];
    ct_tp06_default_params(param, cell_type);
    (void)ct_tp06_init(y, 1, param);
    (void)count_pow; /* tp06.h calls no pow today; the wrapper counts any it gains */
    g_exp = g_log = g_pow = g_sqrt = 0;
    (void)ct_tp06_step(y, 1, (ct_real)vm_mV, 0, (ct_real)dt_ms, param);
    out->exp_calls = g_exp;
    out->log_calls = g_log;
    out->pow_calls = g_pow;
    out->sqrt_calls = g_sqrt;
}
