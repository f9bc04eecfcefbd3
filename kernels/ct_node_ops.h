/* ct_node_ops.h — the per-node operations of the time step, written once for every backend.
 *
 * Single source, like the ionic models (models/ct_models.h): included by the CPU backend (C), by the CUDA
 * backend (nvcc: CT_FN is __host__ __device__) and embedded into the OpenCL program after ct_real.h and the
 * models (CMakeLists.txt, tools/embed_source.cmake). A backend's loop or kernel does the indexing and the
 * reduction of the blow-up flag; the arithmetic of a node is here, so the three backends cannot drift apart.
 * Nothing here allocates, and every function works on one node.
 *
 *   ct_stim_current    the applied current of a node: the sum over its active stimuli, in ascending bit order
 *   ct_load_params     a node's parameter set copied into registers
 *   ct_react_node      Rush-Larsen reaction of one node (ionic model + stimulus), Vm saved in vm_prev
 *   ct_*_node          the element-wise formulas of the diffusion update and of its right-hand sides
 *   ct_csr_row_dot     one row of a CSR product (the CPU and OpenCL SpMV; CUDA uses cuSPARSE)
 *   ct_cg_start_node   the per-node tail of a CG start (z = D^-1 r, p = z, the three start sums), shared by the
 *                      start from a given x (r = b - A x) and the implicit one-pass start (r = -K v)
 *   ct_cg_start_implicit_row  one row of the implicit one-pass start, from V* or extrapolated (x0 = V* + d)
 *   ct_cg_accept_node  the end of an extrapolated implicit step: V* kept, vm <- the solution
 *   ct_detect_node     first activation (upward crossing, linearly interpolated in time), the beat-tracking
 *                      step (backend.h) and the blow-up predicate of one node
 *
 * Precision: Vm and the state are ct_real; activation times, beat levels and the threshold / bound tests are
 * ct_acc: double, except in OpenCL on a device without cl_khr_fp64 (the program is then built without
 * CT_HAVE_FP64 and ct_acc is float). Bit-for-bit agreement between backends needs no fused multiply-add in
 * the formulas below: gcc does not contract in ISO C mode, the OpenCL host prepends FP_CONTRACT OFF, and
 * under nvcc the beat level, the one expression of the detection a*b+c could fuse, is written with
 * round-to-nearest intrinsics (CT_ACC_MUL, CT_ACC_ADD).
 */
#ifndef CT_NODE_OPS_H
#define CT_NODE_OPS_H

#include "ct_real.h"
#include "models/ct_models.h"

#if defined(__OPENCL_VERSION__)
#  ifdef CT_HAVE_FP64
#    pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double ct_acc;
#  else
typedef float ct_acc;
#  endif
#else
typedef double ct_acc;
#endif

#if defined(__CUDA_ARCH__)
#  define CT_ACC_MUL(a, b) __dmul_rn((a), (b)) /* never merged into a fused multiply-add */
#  define CT_ACC_ADD(a, b) __dadd_rn((a), (b))
#else
#  define CT_ACC_MUL(a, b) ((a) * (b))
#  define CT_ACC_ADD(a, b) ((a) + (b))
#endif

/* ---- reaction -------------------------------------------------------------------------------- */

/* The applied current (uA/uF) of a node whose stimulus bits are `hit` (its mask & the active set): the sum of
 * amp_uA_per_uF[s] over the set bits s, added in ascending s. */
CT_FN ct_real ct_stim_current(unsigned int hit, const CT_GLOBAL ct_real *amp_uA_per_uF)
{
    ct_real i_app = 0;
    for (int s = 0; hit; s++, hit >>= 1)
        if (hit & 1u)
            i_app += amp_uA_per_uF[s];
    return i_app;
}

/* prm <- parameter set `set` of param_sets (CT_MODEL_NPARAM reals each). */
CT_FN void ct_load_params(ct_real *prm, const CT_GLOBAL ct_real *param_sets, int set)
{
    const CT_GLOBAL ct_real *src = param_sets + (ct_size)set * CT_MODEL_NPARAM;
    for (int k = 0; k < CT_MODEL_NPARAM; k++)
        prm[k] = src[k];
}

/* One node's reaction over dt_ms: y points at the node's first state variable (stride apart), vm and vm_prev
 * at its Vm; Vm is saved in *vm_prev, the model advances (Rush-Larsen) and Vm += dt (i_app - I_ion).
 * lut: NULL or the model's rate table for dt_ms (ct_model_step). */
CT_FN void ct_react_node(int model, CT_GLOBAL ct_real *y, ct_size stride, CT_GLOBAL ct_real *vm,
                         CT_GLOBAL ct_real *vm_prev, const ct_real *prm, ct_real i_app, ct_real dt_ms,
                         const CT_GLOBAL ct_real *lut)
{
    ct_real v = *vm;
    *vm_prev = v;
    ct_real i_ion = ct_model_step(model, y, stride, v, i_app, dt_ms, prm, lut);
    *vm = v + dt_ms * (i_app - i_ion);
}

/* ---- diffusion: element-wise formulas --------------------------------------------------------- */

/* Explicit, lumped mass: the new Vm from v, the row product kv = (K v)_i and 1/m_i. */
CT_FN ct_real ct_explicit_lumped_node(ct_real v, ct_real kv, ct_real inv_mass, ct_real dt_ms)
{
    return v - dt_ms * inv_mass * kv;
}

/* Explicit, consistent mass (M_C dv = -dt K v): the right-hand side b_i = -dt (K v)_i. The first guess of
 * CG is then b_i / A_ii. */
CT_FN ct_real ct_rhs_explicit_consistent_node(ct_real kv, ct_real dt_ms)
{
    return -dt_ms * kv;
}

/* Implicit, lumped mass: b_i = (m_i/dt) v_i - (1 - theta) (K v)_i. */
CT_FN ct_real ct_rhs_implicit_lumped_node(ct_real mass_over_dt, ct_real v, ct_real kv, ct_real one_minus_theta)
{
    return mass_over_dt * v - one_minus_theta * kv;
}

/* Implicit, consistent mass: b_i = (M v)_i / dt - (1 - theta) (K v)_i. */
CT_FN ct_real ct_rhs_implicit_consistent_node(ct_real mv, ct_real kv, ct_real dt_ms, ct_real one_minus_theta)
{
    return mv / dt_ms - one_minus_theta * kv;
}

/* Implicit, consistent capacitance with a lumped ionic current (diffusion.ionic_mass "lumped"): the reaction's
 * increment v - v_prev (ionic current and stimulus) enters through the lumped mass m_i instead of M:
 * b_i = (M v_prev)_i / dt + (m_i/dt) (v_i - v_prev_i) - (1 - theta) (K v)_i. */
CT_FN ct_real ct_rhs_implicit_lumped_ionic_node(ct_real mv_prev, ct_real mass_over_dt, ct_real v, ct_real v_prev,
                                                ct_real kv, ct_real dt_ms, ct_real one_minus_theta)
{
    return mv_prev / dt_ms + mass_over_dt * (v - v_prev) - one_minus_theta * kv;
}

/* Row i of a CSR product: sum over k of val[k] x[col[k]], accumulated in ct_real in column-entry order. */
CT_FN ct_real ct_csr_row_dot(ct_size i, const CT_GLOBAL int *row_ptr, const CT_GLOBAL int *col,
                             const CT_GLOBAL ct_real *val, const CT_GLOBAL ct_real *x)
{
    ct_real s = 0;
    for (int k = row_ptr[i]; k < row_ptr[i + 1]; k++)
        s += val[k] * x[col[k]];
    return s;
}

/* ---- CG ------------------------------------------------------------------------------------------ */

/* The tail of the Jacobi-preconditioned CG start at node i, once the node's right-hand side bi and residual ri
 * are known (r = b - A x from a given x; r = -K v in the implicit one-pass start): stores r_i = ri,
 * z_i = D^-1 r_i (inv_diag_i ri) and p_i = z_i, and adds b.b, r.z, r.r of the node to sums[0..2] in that order,
 * each product taken in ct_acc (sums: the caller's running partial sums, private memory). */
CT_FN void ct_cg_start_node(ct_size i, ct_real bi, ct_real ri, const CT_GLOBAL ct_real *inv_diag,
                            CT_GLOBAL ct_real *r, CT_GLOBAL ct_real *z, CT_GLOBAL ct_real *p, ct_acc *sums)
{
    ct_real zi = inv_diag[i] * ri;
    r[i] = ri;
    z[i] = zi;
    p[i] = zi;
    sums[0] += (ct_acc)bi * (ct_acc)bi;
    sums[1] += (ct_acc)ri * (ct_acc)zi;
    sums[2] += (ct_acc)ri * (ct_acc)ri;
}

/* One row i of the implicit diffusion's CG start (ct_device_ops.cg_start_implicit), in one pass over the row:
 * K v and, with consistent mass (consistent != 0; m_val is read only then), M v, where v = vm is this step's post-reaction Vm V*;
 * b_i = (M v)_i / dt - (1 - theta) (K v)_i (M lumped: m_i/dt v_i); with a lumped ionic current (lumped_ionic != 0,
 * consistent mass only) b_i = (M v_prev)_i / dt + (m_i/dt) (v_i - v_prev_i) - (1 - theta) (K v)_i
 * (ct_rhs_implicit_lumped_ionic_node; v_prev = vm_prev, the Vm before this step's reaction, M v_prev in the same
 * row loop);
 * - previous start (extrapolate 0): x0 = V*, whose residual b - A V* is -K V* exactly (A = M/dt + theta K), plus
 *   (M (v_prev - v))_i / dt + (m_i/dt) (v_i - v_prev_i) with the lumped ionic current;
 * - extrapolated start (extrapolate 1): x0 = V* + d with d = vm_prev - vstar_prev (V^n, the Vm before this step's
 *   reaction, less V*^(n-1), the last step's post-reaction Vm: the last step's diffusion increment, which the
 *   solution of this step repeats to first order), stored in x0[i]; residual r_i = (b - A V*)_i - (A d)_i, A d
 *   taken in the same row loop from d at the row's columns (a_val read only then).
 * Then ct_cg_start_node (r, z, p and the row's b.b, r.z, r.r added to sums). With d = 0 (vstar_prev = vm_prev,
 * as a backend sets it at create) the extrapolated start equals the previous one bit for bit. */
CT_FN void ct_cg_start_implicit_row(ct_size i, int consistent, int lumped_ionic, int extrapolate, ct_real dt_ms,
                                    ct_real one_minus_theta, const CT_GLOBAL int *row_ptr, const CT_GLOBAL int *col,
                                    const CT_GLOBAL ct_real *k_val, const CT_GLOBAL ct_real *m_val,
                                    const CT_GLOBAL ct_real *a_val, const CT_GLOBAL ct_real *mass_over_dt,
                                    const CT_GLOBAL ct_real *vm, const CT_GLOBAL ct_real *vm_prev,
                                    const CT_GLOBAL ct_real *vstar_prev, const CT_GLOBAL ct_real *inv_diag,
                                    CT_GLOBAL ct_real *x0, CT_GLOBAL ct_real *r, CT_GLOBAL ct_real *z,
                                    CT_GLOBAL ct_real *p, ct_acc *sums)
{
    ct_real kv = 0, mv = 0, mvp = 0, ad = 0;
    for (int k = row_ptr[i]; k < row_ptr[i + 1]; k++) {
        int j = col[k];
        ct_real v = vm[j];
        kv += k_val[k] * v;
        if (consistent)
            mv += m_val[k] * v;
        if (lumped_ionic)
            mvp += m_val[k] * vm_prev[j];
        if (extrapolate)
            ad += a_val[k] * (vm_prev[j] - vstar_prev[j]);
    }
    ct_real bi, ri = -kv;
    if (lumped_ionic) {
        bi = ct_rhs_implicit_lumped_ionic_node(mvp, mass_over_dt[i], vm[i], vm_prev[i], kv, dt_ms, one_minus_theta);
        ri += (mvp - mv) / dt_ms + mass_over_dt[i] * (vm[i] - vm_prev[i]);
    } else {
        bi = consistent ? ct_rhs_implicit_consistent_node(mv, kv, dt_ms, one_minus_theta)
                        : ct_rhs_implicit_lumped_node(mass_over_dt[i], vm[i], kv, one_minus_theta);
    }
    if (extrapolate) {
        x0[i] = vm[i] + (vm_prev[i] - vstar_prev[i]);
        ri -= ad;
    }
    ct_cg_start_node(i, bi, ri, inv_diag, r, z, p, sums);
}

/* The end of an implicit step with the extrapolated start, node i: vstar_prev_i <- vm_i (V*, kept for the next
 * step's start); vm_i <- x_i (the CG solution) on the owned nodes (owned != 0); a ghost keeps V* until the halo
 * refreshes it. For a backend that cannot swap its buffers (CUDA's are bound to cuSPARSE descriptors). */
CT_FN void ct_cg_accept_node(ct_size i, int owned, CT_GLOBAL ct_real *vm, const CT_GLOBAL ct_real *x,
                             CT_GLOBAL ct_real *vstar_prev)
{
    ct_real v = vm[i];
    vstar_prev[i] = v;
    if (owned)
        vm[i] = x[i];
}

/* ---- detection -------------------------------------------------------------------------------- */

/* Whether Vm crossed thr_mV upwards over the step (v0 below, v1 at or above). */
CT_FN int ct_crosses_up(ct_acc v0, ct_acc v1, ct_acc thr_mV)
{
    return v0 < thr_mV && v1 >= thr_mV;
}

/* The time at which Vm, linear from v0 at t_ms to v1 at t_ms + dt_ms, equals level (v0 != v1). */
CT_FN ct_acc ct_crossing_time(ct_acc v0, ct_acc v1, ct_acc level, ct_acc t_ms, ct_acc dt_ms)
{
    return t_ms + dt_ms * (level - v0) / (v1 - v0);
}

/* Whether v is a blow-up: |v| above bound_mV, or NaN. */
CT_FN int ct_blown_up(ct_acc v, ct_acc bound_mV)
{
    return !(fabs(v) <= bound_mV);
}

/* The beat-tracking arrays (backend.h), all device memory of n (count, phase, v_rest, v_peak) or
 * max_beats * n (act_ms, rep_ms, beat-major) entries; with max_beats == 0 none is touched. */
#define CT_BEAT_PARAMS                                                                                         \
    int max_beats, CT_GLOBAL int *beat_count, CT_GLOBAL int *beat_phase, CT_GLOBAL ct_acc *v_rest,             \
        CT_GLOBAL ct_acc *v_peak, CT_GLOBAL ct_acc *beat_act_ms, CT_GLOBAL ct_acc *beat_rep_ms
#define CT_BEAT_ARGS max_beats, beat_count, beat_phase, v_rest, v_peak, beat_act_ms, beat_rep_ms

/* One step of the beat tracking of node i of n (backend.h): Vm went from v0 to v1 over [t_ms, t_ms + dt_ms].
 * Resting: an upward crossing of thr_mV starts beat b = beat_count[i] (its time kept if b < max_beats) and
 * freezes v_rest; else v_rest follows the minimum. In a beat: v_peak follows the maximum, and the first
 * downward crossing of v_rest + 0.1 (v_peak - v_rest) ends the beat (its time kept if b < max_beats). */
CT_FN void ct_beat_node(ct_size i, ct_size n, ct_acc v0, ct_acc v1, ct_acc t_ms, ct_acc dt_ms, ct_acc thr_mV,
                        CT_BEAT_PARAMS)
{
    if (!beat_phase[i]) {
        if (ct_crosses_up(v0, v1, thr_mV)) {
            int b = beat_count[i];
            if (b < max_beats)
                beat_act_ms[(ct_size)b * n + i] = ct_crossing_time(v0, v1, thr_mV, t_ms, dt_ms);
            beat_phase[i] = 1;
            v_peak[i] = v1;
        } else if (v1 < v_rest[i]) {
            v_rest[i] = v1;
        }
    } else {
        ct_acc peak = v_peak[i];
        if (v1 > peak) {
            peak = v1;
            v_peak[i] = v1;
        }
        ct_acc rest = v_rest[i];
        ct_acc level = CT_ACC_ADD(rest, CT_ACC_MUL((ct_acc)0.1, peak - rest));
        if (v0 > level && v1 <= level) {
            int b = beat_count[i];
            if (b < max_beats)
                beat_rep_ms[(ct_size)b * n + i] = t_ms + dt_ms * (v0 - level) / (v0 - v1);
            beat_count[i] = b + 1;
            beat_phase[i] = 0;
            v_rest[i] = v1;
        }
    }
}

/* The end-of-step detection of node i of n, whose Vm went from vm_prev to vm_new over [t_ms, t_ms + dt_ms]:
 * its first activation (act_ms[i] < 0 until then), its beats (max_beats > 0) and the blow-up predicate,
 * returned (1: blown up; the backend reduces it to the lowest such node). The crossing is tested before
 * act_ms[i] is read, so most steps never load it. */
CT_FN int ct_detect_node(ct_size i, ct_size n, ct_real vm_prev, ct_real vm_new, CT_GLOBAL ct_acc *act_ms, ct_acc t_ms,
                         ct_acc dt_ms, ct_acc thr_mV, ct_acc bound_mV, CT_BEAT_PARAMS)
{
    ct_acc v0 = (ct_acc)vm_prev, v1 = (ct_acc)vm_new;
    if (ct_crosses_up(v0, v1, thr_mV) && act_ms[i] < (ct_acc)0)
        act_ms[i] = ct_crossing_time(v0, v1, thr_mV, t_ms, dt_ms);
    if (max_beats > 0)
        ct_beat_node(i, n, v0, v1, t_ms, dt_ms, thr_mV, CT_BEAT_ARGS);
    return ct_blown_up(v1, bound_mV);
}

#endif /* CT_NODE_OPS_H */
