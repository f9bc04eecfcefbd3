/* monodomain.cl - the OpenCL C kernels of the monodomain time step.
 *
 * Embedded into the binary after ct_real.h, the ionic models and ct_node_ops.h (see CMakeLists.txt and
 * tools/embed_source.cmake), so ct_real, ct_acc, the models and the per-node operations (reaction,
 * diffusion formulas, detection) are already defined here: a kernel indexes, calls them and reduces.
 * The order of the step's kernels is kernels/ct_step.c and kernels/ct_cg.c; the host prepends
 * "#pragma OPENCL FP_CONTRACT OFF" so no multiply-add is fused where the CPU rounds twice. Only the order
 * of the terms of a dot product differs from the CPU (work-group tree sums).
 *
 * Build options set by backend_opencl.c:
 *   -DCT_REAL_FLOAT  single-precision state (as the host build)
 *   -DCT_HAVE_FP64   the device has cl_khr_fp64: activation times, the threshold / bound test and the
 *                    dot-product sums are in double, as on the CPU (float otherwise)
 *
 * Layout: structure of arrays; state k of node i is y[k*n + i], so neighbouring work-items touch
 * neighbouring addresses. Element-wise kernels take one node per work-item (the host pads the
 * global size, hence the `i >= n` guards); reduction kernels loop with a grid stride and write one
 * partial sum per work-group, which the host adds in double.
 */

/* ---- helpers ---------------------------------------------------------------------------------- */

/* ct_detect_node (ct_node_ops.h) at node i; a blow-up lowers *bad_node to i (the host resets it to INT_MAX). */
static inline void ct_detect(int i, int n, ct_real vm_prev, ct_real vm_new, __global ct_acc *act_ms, ct_acc t_ms,
                             ct_acc dt_ms, ct_acc thr_mV, ct_acc bound_mV, __global int *bad_node, CT_BEAT_PARAMS)
{
    if (ct_detect_node((ct_size)i, (ct_size)n, vm_prev, vm_new, act_ms, t_ms, dt_ms, thr_mV, bound_mV, CT_BEAT_ARGS))
        atomic_min(bad_node, i);
}

/* Tree sum of the work-group's `nsum` interleaved values in scratch[l*nsum + k]; work-item 0 writes
 * them to partial[group*nsum + k]. The local size is a power of two (the host guarantees it). */
static inline void ct_group_sum(__local ct_acc *scratch, int nsum, __global ct_acc *partial)
{
    int l = (int)get_local_id(0);
    for (int width = (int)get_local_size(0) / 2; width > 0; width /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < width)
            for (int k = 0; k < nsum; k++)
                scratch[l * nsum + k] += scratch[(l + width) * nsum + k];
    }
    if (l == 0)
        for (int k = 0; k < nsum; k++)
            partial[get_group_id(0) * nsum + k] = scratch[k];
}

/* ---- set-up and reaction ---------------------------------------------------------------------- */

/* Initial ionic state, Vm and activation time (-1: not yet) of every node. */
__kernel void ct_init(int model, int n, __global ct_real *y, __global ct_real *vm, __global ct_acc *act_ms,
                      __global const ct_real *param_sets, __global const uchar *node_set, int use_node_set)
{
    int i = (int)get_global_id(0);
    if (i >= n)
        return;
    ct_real prm[CT_MODEL_NPARAM];
    ct_load_params(prm, param_sets, use_node_set ? (int)node_set[i] : 0);
    vm[i] = ct_model_init(model, y + i, (ct_size)n, prm);
    act_ms[i] = (ct_acc)-1;
}

/* Initial beat state (max_beats > 0 only, after ct_init): resting, no beats, v_rest = v_peak = Vm. */
__kernel void ct_beat_init(int n, __global const ct_real *vm, CT_BEAT_PARAMS)
{
    int i = (int)get_global_id(0);
    if (i >= n)
        return;
    beat_count[i] = 0;
    beat_phase[i] = 0;
    v_rest[i] = (ct_acc)vm[i];
    v_peak[i] = (ct_acc)vm[i];
    for (int b = 0; b < max_beats; b++) {
        beat_act_ms[(size_t)b * (size_t)n + (size_t)i] = (ct_acc)-1;
        beat_rep_ms[(size_t)b * (size_t)n + (size_t)i] = (ct_acc)-1;
    }
}

/* Ionic model and stimulus of every node (Rush-Larsen inside ct_model_step); saves Vm in vm_prev.
 * `active` is the set of stimuli on during this step (0 when the problem has no stimulus mask);
 * amp[s] is stimulus s's amplitude (uA/uF). */
/* Nodes first..end-1 (work-item k takes node first + k); n is the node count, the stride of y.
 * use_lut: the voltage-only rates from lut, the model's table for dt (ct_models.h); 0: exact, lut a placeholder. */
__kernel void ct_reaction(int model, int n, int first, int end, __global ct_real *y, __global ct_real *vm,
                          __global ct_real *vm_prev, __global const ct_real *param_sets,
                          __global const uchar *node_set, int use_node_set, __global const uint *stim_mask,
                          uint active, __global const ct_real *amp, ct_real dt, __global const ct_real *lut,
                          int use_lut)
{
    int i = first + (int)get_global_id(0);
    if (i >= end)
        return;
    ct_real i_app = ct_stim_current(active ? (stim_mask[i] & active) : 0u, amp);
    ct_real prm[CT_MODEL_NPARAM];
    ct_load_params(prm, param_sets, use_node_set ? (int)node_set[i] : 0);
    ct_react_node(model, y + i, (ct_size)n, vm + i, vm_prev + i, prm, i_app, dt, use_lut ? lut : 0);
}

/* ---- explicit diffusion, lumped mass: one fused SpMV + activation pass ------------------------ */

/* vm_out = vm - dt M_L^-1 K vm, then activation / blow-up test against vm_prev. */
__kernel void ct_explicit_lumped(int n, __global const int *row_ptr, __global const int *col,
                                 __global const ct_real *k_val, __global const ct_real *vm,
                                 __global const ct_real *inv_mass, ct_real dt, __global ct_real *vm_out,
                                 __global const ct_real *vm_prev, __global ct_acc *act_ms, ct_acc t_ms,
                                 ct_acc dt_ms, ct_acc thr_mV, ct_acc bound_mV, __global int *bad_node,
                                 CT_BEAT_PARAMS)
{
    int i = (int)get_global_id(0);
    if (i >= n)
        return;
    ct_real v1 = ct_explicit_lumped_node(vm[i], ct_csr_row_dot((ct_size)i, row_ptr, col, k_val, vm), inv_mass[i], dt);
    vm_out[i] = v1;
    ct_detect(i, n, vm_prev[i], v1, act_ms, t_ms, dt_ms, thr_mV, bound_mV, bad_node, CT_BEAT_ARGS);
}

/* ---- sparse products and CG ------------------------------------------------------------------- */

/* y = A x on rows first..end-1 (work-item k takes row first + k) */
__kernel void ct_spmv(int first, int end, __global const int *row_ptr, __global const int *col,
                      __global const ct_real *val, __global const ct_real *x, __global ct_real *y)
{
    int i = first + (int)get_global_id(0);
    if (i >= end)
        return;
    y[i] = ct_csr_row_dot((ct_size)i, row_ptr, col, val, x);
}

/* q = A p on rows first..n-1 (rows below `first` hold their products already: the MPI halo's interior
 * rows, computed by ct_spmv while the ghosts travelled), with the work-group partial sums of p.q over all
 * n rows (grid-stride loop). */
__kernel void ct_spmv_dot(int n, int first, __global const int *row_ptr, __global const int *col,
                          __global const ct_real *val, __global const ct_real *p, __global ct_real *q,
                          __global ct_acc *partial, __local ct_acc *scratch)
{
    ct_acc pq = 0;
    for (int i = (int)get_global_id(0); i < n; i += (int)get_global_size(0)) {
        ct_real s;
        if (i >= first) {
            s = ct_csr_row_dot((ct_size)i, row_ptr, col, val, p);
            q[i] = s;
        } else {
            s = q[i];
        }
        pq += (ct_acc)p[i] * (ct_acc)s;
    }
    scratch[get_local_id(0)] = pq;
    ct_group_sum(scratch, 1, partial);
}

/* r = b - q, z = D^-1 r, p = z; partial sums of b.b, r.z, r.r. */
__kernel void ct_cg_init(int n, __global const ct_real *b, __global const ct_real *q,
                         __global const ct_real *inv_diag, __global ct_real *r, __global ct_real *z,
                         __global ct_real *p, __global ct_acc *partial, __local ct_acc *scratch)
{
    ct_acc s3[3] = {0, 0, 0}; /* b.b, r.z, r.r of this work-item */
    for (int i = (int)get_global_id(0); i < n; i += (int)get_global_size(0))
        ct_cg_start_node((ct_size)i, b[i], b[i] - q[i], inv_diag, r, z, p, s3);
    int l = (int)get_local_id(0);
    scratch[3 * l] = s3[0];
    scratch[3 * l + 1] = s3[1];
    scratch[3 * l + 2] = s3[2];
    ct_group_sum(scratch, 3, partial);
}

/* x += alpha p, r -= alpha q, z = D^-1 r; partial sums of r.z and r.r. */
__kernel void ct_cg_update(int n, ct_real alpha, __global ct_real *x, __global const ct_real *p,
                           __global const ct_real *q, __global const ct_real *inv_diag, __global ct_real *r,
                           __global ct_real *z, __global ct_acc *partial, __local ct_acc *scratch)
{
    ct_acc rz = 0, rr = 0;
    for (int i = (int)get_global_id(0); i < n; i += (int)get_global_size(0)) {
        x[i] += alpha * p[i];
        ct_real ri = r[i] - alpha * q[i];
        ct_real zi = inv_diag[i] * ri;
        r[i] = ri;
        z[i] = zi;
        rz += (ct_acc)ri * (ct_acc)zi;
        rr += (ct_acc)ri * (ct_acc)ri;
    }
    int l = (int)get_local_id(0);
    scratch[2 * l] = rz;
    scratch[2 * l + 1] = rr;
    ct_group_sum(scratch, 2, partial);
}

/* p = z + beta p */
__kernel void ct_cg_direction(int n, ct_real beta, __global const ct_real *z, __global ct_real *p)
{
    int i = (int)get_global_id(0);
    if (i >= n)
        return;
    p[i] = z[i] + beta * p[i];
}

/* ---- right-hand sides ------------------------------------------------------------------------- */

/* Explicit, consistent mass (M_C dv = -dt K v): b = -dt q (q = K v), first guess x = D^-1 b. */
__kernel void ct_rhs_explicit_consistent(int n, ct_real dt, __global const ct_real *q,
                                         __global const ct_real *inv_diag, __global ct_real *b, __global ct_real *x)
{
    int i = (int)get_global_id(0);
    if (i >= n)
        return;
    ct_real bi = ct_rhs_explicit_consistent_node(q[i], dt);
    b[i] = bi;
    x[i] = bi * inv_diag[i];
}

/* Implicit diffusion, the whole CG start in one pass (ct_cg_start_implicit_row): per row K vm (and M vm when
 * consistent), b = (M/dt) vm - (1 - theta) K vm (lumped_ionic: the reaction's increment through the lumped mass,
 * M vm_prev taken too); from x = vm, r = b - A vm (-K vm without lumped_ionic); extrapolated (extrapolate != 0),
 * x = x0 = vm + (vm_prev - vstar_prev), r = -K vm - A (vm_prev - vstar_prev); z = D^-1 r, p = z; partial sums
 * of b.b, r.z, r.r. m_val is read only when consistent is set; a_val, vm_prev, vstar_prev, x0 only when
 * extrapolate is. */
__kernel void ct_cg_start_implicit(int n, int consistent, int lumped_ionic, int extrapolate, ct_real dt,
                                   ct_real one_minus_theta,
                                   __global const int *row_ptr, __global const int *col,
                                   __global const ct_real *k_val, __global const ct_real *m_val,
                                   __global const ct_real *a_val, __global const ct_real *mass_over_dt,
                                   __global const ct_real *vm, __global const ct_real *vm_prev,
                                   __global const ct_real *vstar_prev, __global const ct_real *inv_diag,
                                   __global ct_real *x0, __global ct_real *r, __global ct_real *z,
                                   __global ct_real *p, __global ct_acc *partial, __local ct_acc *scratch)
{
    ct_acc s3[3] = {0, 0, 0}; /* b.b, r.z, r.r of this work-item */
    for (int i = (int)get_global_id(0); i < n; i += (int)get_global_size(0))
        ct_cg_start_implicit_row((ct_size)i, consistent, lumped_ionic, extrapolate, dt, one_minus_theta, row_ptr, col,
                                 k_val, m_val, a_val, mass_over_dt, vm, vm_prev, vstar_prev, inv_diag, x0, r, z, p,
                                 s3);
    int l = (int)get_local_id(0);
    scratch[3 * l] = s3[0];
    scratch[3 * l + 1] = s3[1];
    scratch[3 * l + 2] = s3[2];
    ct_group_sum(scratch, 3, partial);
}

/* ---- end of step: activation and blow-up ------------------------------------------------------ */

/* vm += delta, then the activation / blow-up test (explicit diffusion with consistent mass). */
__kernel void ct_add_detect(int n, __global ct_real *vm, __global const ct_real *delta,
                            __global const ct_real *vm_prev, __global ct_acc *act_ms, ct_acc t_ms, ct_acc dt_ms,
                            ct_acc thr_mV, ct_acc bound_mV, __global int *bad_node, CT_BEAT_PARAMS)
{
    int i = (int)get_global_id(0);
    if (i >= n)
        return;
    ct_real v1 = vm[i] + delta[i];
    vm[i] = v1;
    ct_detect(i, n, vm_prev[i], v1, act_ms, t_ms, dt_ms, thr_mV, bound_mV, bad_node, CT_BEAT_ARGS);
}

/* The activation / blow-up test alone (implicit diffusion). */
__kernel void ct_detect_kernel(int n, __global const ct_real *vm, __global const ct_real *vm_prev,
                               __global ct_acc *act_ms, ct_acc t_ms, ct_acc dt_ms, ct_acc thr_mV,
                               ct_acc bound_mV, __global int *bad_node, CT_BEAT_PARAMS)
{
    int i = (int)get_global_id(0);
    if (i >= n)
        return;
    ct_detect(i, n, vm_prev[i], vm[i], act_ms, t_ms, dt_ms, thr_mV, bound_mV, bad_node, CT_BEAT_ARGS);
}
