/* backend_cuda.cu — the CUDA backend: the whole simulation state lives on one GPU for the run.
 *
 * The order of a step, CG and the halo protocol are kernels/ct_step.c and kernels/ct_cg.c, and the arithmetic
 * of a node is kernels/ct_node_ops.h, all shared with the other backends; this file supplies the device
 * primitives (ct_device_ops) as kernels and cuSPARSE calls. Only summation orders differ from the CPU
 * (cuSPARSE rows, tree-shaped dot products) and the device libm; this file is built with -fmad=false
 * (CMakeLists.txt), so no multiply-add is fused where the CPU rounds twice, and results agree with the CPU to
 * rounding. Per step:
 *   1. reaction_kernel: ionic model + stimulus for every node in one fused kernel (vm_prev saved);
 *   2. diffusion with cuSPARSE's generic SpMV:
 *        explicit, lumped mass:     q = K v, then v -= dt M^-1 q fused with activation + bound check;
 *        explicit, consistent mass: M_C dv = -dt K v by Jacobi-PCG, v += dv;
 *        Crank-Nicolson / backward Euler: (M/dt + theta K) v_new = M/dt v - (1-theta) K v by Jacobi-PCG;
 *   3. activation detection and the blow-up check (fused into 2 for explicit lumped): a device flag takes
 *      the lowest bad node index (atomicMin); its 4 bytes come back through pinned memory once per step.
 * CG (ct_cg.c) keeps its scalars on the host: each reduction (b.b, r.z, r.r at the start; p.q, then r.z and
 * r.r in each iteration) comes back through pinned memory, and alpha and beta go down as kernel arguments.
 * Dot products are accumulated in double, as on the CPU, by a deterministic two-pass reduction (fixed block
 * partials, then one block), so a run repeats bit for bit.
 *
 * Errors: every CUDA and cuSPARSE call is checked (CU_CHECK / SP_CHECK / LAUNCH_CHECK), recording
 * "file:line: call failed: reason" through ct_error_set and returning CT_ERR_BACKEND.
 * Device choice: CT_CUDA_DEVICE=<index> in the environment, else CT_LOCAL_RANK (set under MPI) modulo the
 * device count, else device 0.
 *
 * With a halo (backend.h, MPI): halo_gather_kernel packs the values to send into a device buffer and
 * halo_scatter_kernel unpacks the received ghosts. With a CUDA-aware MPI (halo.device_memory_ok) those
 * device buffers go to MPI as they are; otherwise they are staged through pinned host memory (one copy of
 * n_send values down, one of the ghosts up). The CG kernels and dot products cover the owned nodes; the
 * search direction's exchange overlaps the SpMV of the interior rows (a second CSR descriptor over rows
 * 0..n_interior-1), the boundary and ghost rows follow once the ghosts are in (a third, over the remaining
 * rows).
 */
#include <cuda_runtime.h>
#include <cusparse.h>

/* The C headers below are pulled in before backend.h, whose extern "C" block would otherwise wrap them. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "../ct_node_ops.h"
#include "../ct_step.h"
#include "../models/ct_models.h"

/* The kernels are instantiated per model (reaction_kernel<MODEL>, init_kernel<MODEL>): a new model needs a case
 * in the two dispatches below (create_inner, cuda_step). */
static_assert(CT_MODEL_COUNT == 2, "add the new ionic model to the CUDA kernel dispatch");

/* ---------------------------------------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------------------------------------- */

#ifdef CT_REAL_FLOAT
#define CT_CUDA_REAL CUDA_R_32F
#else
#define CT_CUDA_REAL CUDA_R_64F
#endif

/* CSR_ALG2 gives bit-wise reproducible results run to run; ALG1 may be faster (worth a try on the H100). */
#define CT_SPMV_ALG CUSPARSE_SPMV_CSR_ALG2

enum {
    REACTION_BLOCK = 128, /* threads per block of the ionic kernel (register-heavy: small blocks) */
    BLOCK = 256,          /* element-wise kernels */
    RED_BLOCK = 256,      /* reduction kernels: must be a multiple of 32, at most 1024 */
    MAX_RED_BLOCKS = 1024 /* partial sums per dot product (grid-stride loops beyond) */
};

/* Sums of one CG reduction (at most 3: b.b, r.z, r.r), on the device in double (c->scal), then in pinned memory. */
enum { S_COUNT = 3 };

/* Stimulus amplitudes of this step (uA/uF), passed by value as a kernel argument. */
typedef struct stim_amps {
    ct_real a[CT_MAX_STIMULI];
} stim_amps;

/* What the host reads back each step or CG iteration; lives in pinned memory for cheap async copies. */
typedef struct pinned_mirror {
    double scal[S_COUNT];
    unsigned int bad;   /* lowest index of a node past the bound, UINT_MAX if none */
    ct_real bad_value;  /* Vm at that node */
} pinned_mirror;

/* ---------------------------------------------------------------------------------------------------
 * Error checking
 * ------------------------------------------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static ct_status cuda_fail(const char *file, int line, const char *call, cudaError_t e)
{
    (void)cudaGetLastError(); /* clear a non-sticky error so later calls start clean */
    return ct_error_set(CT_ERR_BACKEND, "%s:%d: %s failed: %s", base_name(file), line, call, cudaGetErrorString(e));
}

static ct_status cusparse_fail(const char *file, int line, const char *call, cusparseStatus_t s)
{
    return ct_error_set(CT_ERR_BACKEND, "%s:%d: %s failed: %s", base_name(file), line, call,
                        cusparseGetErrorString(s));
}

#define CU_CHECK(call)                                                   \
    do {                                                                 \
        cudaError_t ct_cu_e_ = (call);                                   \
        if (ct_cu_e_ != cudaSuccess)                                     \
            return cuda_fail(__FILE__, __LINE__, #call, ct_cu_e_);       \
    } while (0)

#define SP_CHECK(call)                                                   \
    do {                                                                 \
        cusparseStatus_t ct_sp_s_ = (call);                              \
        if (ct_sp_s_ != CUSPARSE_STATUS_SUCCESS)                         \
            return cusparse_fail(__FILE__, __LINE__, #call, ct_sp_s_);   \
    } while (0)

/* After a <<<...>>> launch: catches bad configurations and earlier asynchronous faults. */
#define LAUNCH_CHECK(kernel_name)                                        \
    do {                                                                 \
        cudaError_t ct_cu_e_ = cudaGetLastError();                       \
        if (ct_cu_e_ != cudaSuccess)                                     \
            return cuda_fail(__FILE__, __LINE__, "launch of " kernel_name, ct_cu_e_); \
    } while (0)

/* ---------------------------------------------------------------------------------------------------
 * Context
 * ------------------------------------------------------------------------------------------------- */

/* Beat tracking (backend.h), passed by value to the detection kernels; the arrays are device memory,
 * allocated only when max_beats > 0. */
struct beat_state {
    int max_beats;
    int *count, *phase;       /* n each: completed beats; 1 while in a beat, 0 resting */
    double *v_rest, *v_peak;  /* n each, mV */
    double *act_ms, *rep_ms;  /* max_beats * n each, beat-major, -1: none */
};

struct ct_backend_ctx {
    ct_step_core core;        /* the problem's scalars and the halo state (ct_step.h) */
    int device;
    size_t nnz;
    unsigned int red_blocks;  /* blocks of the first reduction pass, <= MAX_RED_BLOCKS */

    /* owned CUDA objects */
    cudaStream_t stream;      /* every kernel, copy and cuSPARSE call of this context runs on it */
    cusparseHandle_t sparse;
    cusparseSpMatDescr_t mat_k;   /* K */
    cusparseSpMatDescr_t mat_a;   /* the CG matrix: M_C (explicit) or M/dt + theta K (implicit); NULL if no CG */
    cusparseSpMatDescr_t mat_m;   /* M_C for the implicit right-hand side; NULL unless implicit + consistent */
    cusparseSpMatDescr_t mat_a0;  /* A again (same arrays), for the explicit CG start's A x0; NULL otherwise */
    cusparseDnVecDescr_t vec_vm, vec_q, vec_tmp, vec_p; /* vec_tmp, vec_p NULL if no CG */
    int a0_x;                     /* x0 of the explicit CG start: CT_VEC_TMP; -1 without mat_a0 */
    /* SpMV work buffers, one per (descriptor, x, y) combination, each preprocessed once with the vectors it is
     * always called with: K (vm, q), A (p, q), A0 (x0, q), M (vm, tmp) */
    void *buf_k, *buf_a, *buf_a0, *buf_m;

    /* owned device arrays (NULL when the configuration does not need them) */
    ct_real *params;          /* n_sets * CT_MODEL_NPARAM */
    uint8_t *node_set;        /* n, NULL: every node uses set 0 */
    ct_real *lut;             /* the ionic rate table (ct_step_core.lut), NULL: exact rates */
    uint32_t *stim_mask;      /* n, NULL: no stimuli */
    ct_real *y;               /* nstate * n, state k of node i at y[k*n + i] */
    ct_real *vm, *vm_prev, *q;/* n each; q = K v or A p */
    double *act_ms;           /* n activation times, -1: not yet */
    beat_state beats;         /* beat tracking (backend.h); its arrays owned, NULL when max_beats == 0 */
    int32_t *row_ptr, *col;   /* CSR pattern shared by K, A and M */
    ct_real *k_val;           /* nnz */
    ct_real *a_val, *m_val;   /* nnz each */
    ct_real *inv_mass;        /* n, explicit lumped */
    ct_real *mass_over_dt;    /* n, implicit lumped */
    ct_real *inv_diag;        /* n, Jacobi preconditioner of A */
    ct_real *tmp, *r, *z, *p, *b; /* n each, CG work */
    ct_real *vstar_prev;      /* n, core.cg_extrapolate only (else NULL): the last step's post-reaction Vm (= vm at
                                 create: no guess yet); in the state blob */
    double *partials;         /* 3 * MAX_RED_BLOCKS first-pass sums */
    double *scal;             /* S_COUNT sums of the last CG reduction */
    unsigned int *bad;        /* blow-up flag */

    /* owned pinned host memory */
    pinned_mirror *pinned;
    ct_real *h_stage;         /* n, staging for download() */

    /* MPI halo (backend.h; its state is in core) */
    int halo_on_device;       /* MPI takes d_send / d_ghost themselves (CUDA-aware) */
    int32_t *d_send_idx;      /* halo.n_send, owned (device) */
    double *d_send, *d_ghost; /* halo.n_send and n - n_owned, owned (device) */
    double *h_send, *h_ghost; /* the same, owned (pinned host; staging without CUDA-aware MPI) */
    int32_t *d_row_ptr_bnd;   /* n - n_interior + 1 row offsets of rows n_interior.., from 0, owned (device) */
    cusparseSpMatDescr_t mat_a_int, mat_a_bnd;   /* rows 0..n_interior-1 and n_interior..n-1 of A, owned */
    cusparseDnVecDescr_t vec_q_int, vec_q_bnd;   /* the same rows of q, owned */
    void *buf_a_int, *buf_a_bnd;                 /* their SpMV work buffers, owned (device) */
};

/* ---------------------------------------------------------------------------------------------------
 * Kernels
 * ------------------------------------------------------------------------------------------------- */

__device__ __forceinline__ size_t global_index(void)
{
    return (size_t)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ size_t grid_stride(void)
{
    return (size_t)gridDim.x * blockDim.x;
}

/* Initial ionic state and Vm of every node; activation times -1. */
template <int MODEL>
__global__ void init_kernel(size_t n, ct_real *__restrict__ y, ct_real *__restrict__ vm, double *__restrict__ act_ms,
                            const ct_real *__restrict__ params, const uint8_t *__restrict__ node_set)
{
    size_t i = global_index();
    if (i >= n)
        return;
    ct_real prm[CT_MODEL_NPARAM];
    ct_load_params(prm, params, node_set ? node_set[i] : 0);
    vm[i] = ct_model_init(MODEL, y + i, (ct_size)n, prm);
    act_ms[i] = -1.0;
}

/* Reaction: ionic model and stimulus for node i = first + thread index, i < end (ct_device_ops.react); n
 * is the node count, the stride of y. Where first is 0, thread 0 also resets the blow-up flag for this
 * step: the host read the previous step's value before this launch. */
template <int MODEL>
__global__ void __launch_bounds__(REACTION_BLOCK)
reaction_kernel(size_t n, size_t first, size_t end, ct_real *__restrict__ y, ct_real *__restrict__ vm,
                ct_real *__restrict__ vm_prev, const ct_real *__restrict__ params,
                const uint8_t *__restrict__ node_set, const uint32_t *__restrict__ stim_mask, uint32_t active,
                stim_amps amp, ct_real dt, unsigned int *__restrict__ bad, const ct_real *__restrict__ lut)
{
    size_t i = first + global_index();
    if (i == 0)
        *bad = UINT_MAX;
    if (i >= end)
        return;
    /* active is 0 when stim_mask is NULL */
    ct_real i_app = ct_stim_current(active ? (stim_mask[i] & active) : 0u, amp.a);
    ct_real prm[CT_MODEL_NPARAM];
    ct_load_params(prm, params, node_set ? node_set[i] : 0);
    ct_react_node(MODEL, y + i, (ct_size)n, vm + i, vm_prev + i, prm, i_app, dt, lut);
}

/* ct_detect_node (ct_node_ops.h: first activation, beats, blow-up predicate) of node i; a blow-up lowers the
 * flag to i. */
__device__ __forceinline__ void detect_node(size_t n, size_t i, ct_real v0, ct_real v1, double *__restrict__ act_ms,
                                            double t_ms, double dt_ms, double thr, double bound,
                                            unsigned int *__restrict__ bad, const beat_state &bs)
{
    if (ct_detect_node(i, n, v0, v1, act_ms, t_ms, dt_ms, thr, bound, bs.max_beats, bs.count, bs.phase, bs.v_rest,
                       bs.v_peak, bs.act_ms, bs.rep_ms))
        atomicMin(bad, (unsigned int)i);
}

/* Initial beat state (max_beats > 0 only, after init_kernel): resting, no beats, v_rest = v_peak = Vm. */
__global__ void beat_init_kernel(size_t n, const ct_real *__restrict__ vm, beat_state bs)
{
    size_t i = global_index();
    if (i >= n)
        return;
    bs.count[i] = 0;
    bs.phase[i] = 0;
    bs.v_rest[i] = (double)vm[i];
    bs.v_peak[i] = (double)vm[i];
    for (int b = 0; b < bs.max_beats; b++) {
        bs.act_ms[(size_t)b * n + i] = -1.0;
        bs.rep_ms[(size_t)b * n + i] = -1.0;
    }
}

/* Explicit lumped diffusion, in place: v -= dt m^-1 (K v), with q = K v from cuSPARSE; then detection. */
__global__ void explicit_lumped_kernel(size_t n, ct_real *__restrict__ vm, const ct_real *__restrict__ q,
                                       const ct_real *__restrict__ inv_mass, ct_real dt,
                                       const ct_real *__restrict__ vm_prev, double *__restrict__ act_ms,
                                       double t_ms, double dt_ms, double thr, double bound,
                                       unsigned int *__restrict__ bad, beat_state bs)
{
    size_t i = global_index();
    if (i >= n)
        return;
    ct_real v1 = ct_explicit_lumped_node(vm[i], q[i], inv_mass[i], dt);
    vm[i] = v1;
    detect_node(n, i, vm_prev[i], v1, act_ms, t_ms, dt_ms, thr, bound, bad, bs);
}

__global__ void detect_kernel(size_t n, const ct_real *__restrict__ vm_prev, const ct_real *__restrict__ vm,
                              double *__restrict__ act_ms, double t_ms, double dt_ms, double thr, double bound,
                              unsigned int *__restrict__ bad, beat_state bs)
{
    size_t i = global_index();
    if (i >= n)
        return;
    detect_node(n, i, vm_prev[i], vm[i], act_ms, t_ms, dt_ms, thr, bound, bad, bs);
}

/* Explicit consistent: b = -dt K v, initial guess x = D^-1 b. */
__global__ void consistent_rhs_kernel(size_t n, const ct_real *__restrict__ q, const ct_real *__restrict__ inv_diag,
                                      ct_real dt, ct_real *__restrict__ b, ct_real *__restrict__ x)
{
    size_t i = global_index();
    if (i >= n)
        return;
    ct_real bi = ct_rhs_explicit_consistent_node(q[i], dt);
    b[i] = bi;
    x[i] = bi * inv_diag[i];
}

__global__ void add_kernel(size_t n, ct_real *__restrict__ x, const ct_real *__restrict__ dx)
{
    size_t i = global_index();
    if (i >= n)
        return;
    x[i] += dx[i];
}

/* Sums K values over the block; the totals are valid in thread 0 only. Every thread of the block
 * must call it (it holds __syncthreads). blockDim.x must be RED_BLOCK. */
template <int K>
__device__ __forceinline__ void block_sum(double (&v)[K])
{
    __shared__ double warp_sums[K][RED_BLOCK / 32];
    const unsigned int lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
#pragma unroll
    for (int k = 0; k < K; k++)
        for (int off = 16; off > 0; off >>= 1)
            v[k] += __shfl_down_sync(0xffffffffu, v[k], off);
    if (lane == 0)
#pragma unroll
        for (int k = 0; k < K; k++)
            warp_sums[k][warp] = v[k];
    __syncthreads();
    if (warp == 0) {
#pragma unroll
        for (int k = 0; k < K; k++) {
            v[k] = lane < RED_BLOCK / 32 ? warp_sums[k][lane] : 0.0;
            for (int off = 16; off > 0; off >>= 1)
                v[k] += __shfl_down_sync(0xffffffffu, v[k], off);
        }
    }
}

/* First pass: block b writes its K sums to partials[k * gridDim.x + b]. */
template <int K>
__device__ __forceinline__ void store_partials(double (&v)[K], double *__restrict__ partials)
{
    block_sum<K>(v);
    if (threadIdx.x == 0)
#pragma unroll
        for (int k = 0; k < K; k++)
            partials[(size_t)k * gridDim.x + blockIdx.x] = v[k];
}

/* Second pass (one block): totals of the K partial-sum rows of length nblk; valid in thread 0. */
template <int K>
__device__ __forceinline__ void sum_partials(double (&v)[K], const double *__restrict__ partials, unsigned int nblk)
{
#pragma unroll
    for (int k = 0; k < K; k++)
        v[k] = 0.0;
    for (unsigned int j = threadIdx.x; j < nblk; j += blockDim.x)
#pragma unroll
        for (int k = 0; k < K; k++)
            v[k] += partials[(size_t)k * nblk + j];
    block_sum<K>(v);
}

/* CG start: r = b - A x (q = A x), z = D^-1 r, p = z; partial sums of b.b, r.z, r.r. */
__global__ void __launch_bounds__(RED_BLOCK)
cg_init_kernel(size_t n, const ct_real *__restrict__ b, const ct_real *__restrict__ q,
               const ct_real *__restrict__ inv_diag, ct_real *__restrict__ r, ct_real *__restrict__ z,
               ct_real *__restrict__ p, double *__restrict__ partials)
{
    double s[3] = {0.0, 0.0, 0.0};
    for (size_t i = global_index(); i < n; i += grid_stride())
        ct_cg_start_node(i, b[i], b[i] - q[i], inv_diag, r, z, p, s);
    store_partials<3>(s, partials);
}

/* Implicit CG start from x = vm, with q = K vm (and mv = M vm; NULL with lumped mass):
 * b = (M/dt) vm - (1 - theta) K vm, r = b - A vm = -q, z = D^-1 r, p = z; partial sums of b.b, r.z, r.r. */
__global__ void __launch_bounds__(RED_BLOCK)
cg_start_implicit_kernel(size_t n, const ct_real *__restrict__ q, const ct_real *__restrict__ mv,
                         const ct_real *__restrict__ mass_over_dt, const ct_real *__restrict__ vm, ct_real dt,
                         ct_real one_minus_theta, const ct_real *__restrict__ inv_diag, ct_real *__restrict__ r,
                         ct_real *__restrict__ z, ct_real *__restrict__ p, double *__restrict__ partials)
{
    double s[3] = {0.0, 0.0, 0.0};
    for (size_t i = global_index(); i < n; i += grid_stride()) {
        ct_real bi = mv ? ct_rhs_implicit_consistent_node(mv[i], q[i], dt, one_minus_theta)
                        : ct_rhs_implicit_lumped_node(mass_over_dt[i], vm[i], q[i], one_minus_theta);
        ct_cg_start_node(i, bi, -q[i], inv_diag, r, z, p, s);
    }
    store_partials<3>(s, partials);
}

/* Implicit CG start in one pass over the CSR rows (ct_cg_start_implicit_row, the row the CPU and OpenCL backends
 * run), for the extrapolated start (x0 = vm + (vm_prev - vstar_prev), r = -K vm - A (vm_prev - vstar_prev)) and
 * for the lumped ionic current (b and r take M vm_prev and the reaction's increment through the lumped mass);
 * b, z, p; partial sums of b.b, r.z, r.r. Not cuSPARSE: K vm, M vm, M vm_prev and A d are taken in the same row
 * loop. */
__global__ void __launch_bounds__(RED_BLOCK)
cg_start_row_kernel(size_t n, int consistent, int lumped_ionic, int extrapolate, ct_real dt, ct_real one_minus_theta,
                             const int32_t *__restrict__ row_ptr, const int32_t *__restrict__ col,
                             const ct_real *__restrict__ k_val, const ct_real *__restrict__ m_val,
                             const ct_real *__restrict__ a_val, const ct_real *__restrict__ mass_over_dt,
                             const ct_real *__restrict__ vm, const ct_real *__restrict__ vm_prev,
                             const ct_real *__restrict__ vstar_prev, const ct_real *__restrict__ inv_diag,
                             ct_real *__restrict__ x0, ct_real *__restrict__ r, ct_real *__restrict__ z,
                             ct_real *__restrict__ p, double *__restrict__ partials)
{
    double s[3] = {0.0, 0.0, 0.0};
    for (size_t i = global_index(); i < n; i += grid_stride())
        ct_cg_start_implicit_row((ct_size)i, consistent, lumped_ionic, extrapolate, dt, one_minus_theta, row_ptr, col,
                                 k_val, m_val, a_val, mass_over_dt, vm, vm_prev, vstar_prev, inv_diag, x0, r, z, p, s);
    store_partials<3>(s, partials);
}

/* The end of the extrapolated implicit step (ct_cg_accept_node): vstar_prev <- vm at every node, vm <- x at the
 * owned ones. A copy, not a swap: cuSPARSE's vector descriptors are bound to vm and tmp. */
__global__ void cg_accept_kernel(size_t n, size_t n_owned, ct_real *__restrict__ vm, const ct_real *__restrict__ x,
                                 ct_real *__restrict__ vstar_prev)
{
    size_t i = global_index();
    if (i < n)
        ct_cg_accept_node((ct_size)i, i < n_owned, vm, x, vstar_prev);
}

/* Partial sums of p.q. */
__global__ void __launch_bounds__(RED_BLOCK)
dot_kernel(size_t n, const ct_real *__restrict__ a, const ct_real *__restrict__ b, double *__restrict__ partials)
{
    double s[1] = {0.0};
    for (size_t i = global_index(); i < n; i += grid_stride())
        s[0] += (double)a[i] * (double)b[i];
    store_partials<1>(s, partials);
}

/* x += alpha p, r -= alpha q, z = D^-1 r; partial sums of the new r.z and r.r. */
__global__ void __launch_bounds__(RED_BLOCK)
cg_update_kernel(size_t n, double alpha_d, ct_real *__restrict__ x, const ct_real *__restrict__ p,
                 const ct_real *__restrict__ q, ct_real *__restrict__ r, ct_real *__restrict__ z,
                 const ct_real *__restrict__ inv_diag, double *__restrict__ partials)
{
    const ct_real alpha = (ct_real)alpha_d;
    double s[2] = {0.0, 0.0};
    for (size_t i = global_index(); i < n; i += grid_stride()) {
        x[i] += alpha * p[i];
        ct_real ri = r[i] - alpha * q[i];
        ct_real zi = inv_diag[i] * ri;
        r[i] = ri;
        z[i] = zi;
        s[0] += (double)ri * (double)zi;
        s[1] += (double)ri * (double)ri;
    }
    store_partials<2>(s, partials);
}

/* This process's K sums of the partial-sum rows into out[0..K) (device), for the host (and the halo's sum). */
template <int K>
__global__ void __launch_bounds__(RED_BLOCK)
finalize_store_kernel(const double *__restrict__ partials, unsigned int nblk, double *__restrict__ out)
{
    double s[K];
    sum_partials<K>(s, partials, nblk);
    if (threadIdx.x == 0)
#pragma unroll
        for (int k = 0; k < K; k++)
            out[k] = s[k];
}

/* out[k] = x[idx[k]]: the values a halo sends. */
__global__ void halo_gather_kernel(size_t n_send, const int32_t *__restrict__ idx, const ct_real *__restrict__ x,
                                   double *__restrict__ out)
{
    size_t k = global_index();
    if (k < n_send)
        out[k] = (double)x[idx[k]];
}

/* x_ghost[g] = in[g]: the ghost values a halo received. */
__global__ void halo_scatter_kernel(size_t n_ghost, const double *__restrict__ in, ct_real *__restrict__ x_ghost)
{
    size_t g = global_index();
    if (g < n_ghost)
        x_ghost[g] = (ct_real)in[g];
}

/* p = z + beta p */
__global__ void cg_direction_kernel(size_t n, double beta_d, const ct_real *__restrict__ z, ct_real *__restrict__ p)
{
    size_t i = global_index();
    if (i >= n)
        return;
    const ct_real beta = (ct_real)beta_d;
    p[i] = z[i] + beta * p[i];
}

/* ---------------------------------------------------------------------------------------------------
 * Host side
 * ------------------------------------------------------------------------------------------------- */

/* Blocks covering n items (at least one, so a launch is always valid; kernels bound-check). */
static unsigned int grid_for(size_t n, unsigned int block)
{
    size_t g = (n + block - 1) / block;
    return g ? (unsigned int)g : 1u;
}

/* The device to use: CT_CUDA_DEVICE, else 0. Fails with the reason when there is none. */
static ct_status pick_device(int *device)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return ct_error_set(CT_ERR_BACKEND, "no CUDA device: %s", cudaGetErrorString(e));
    }
    if (count <= 0)
        return ct_error_set(CT_ERR_BACKEND, "no CUDA device found");
    *device = 0;
    const char *local = getenv("CT_LOCAL_RANK"); /* set under MPI (host/mpi/ct_mpi.h): one GPU per rank */
    if (local && *local) {
        char *end = NULL;
        long r = strtol(local, &end, 10);
        if (*end == '\0' && r >= 0)
            *device = (int)(r % count);
    }
    const char *env = getenv("CT_CUDA_DEVICE");
    if (env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        if (*end != '\0' || v < 0 || v >= count)
            return ct_error_set(CT_ERR_BACKEND, "CT_CUDA_DEVICE=\"%s\" is not a device index (this machine has %d CUDA "
                                "device%s: 0..%d)", env, count, count == 1 ? "" : "s", count - 1);
        *device = (int)v;
    }
    return CT_OK;
}

static ct_status cuda_probe(void)
{
    int dev;
    CT_CHECK(pick_device(&dev));
    cudaError_t e = cudaSetDevice(dev);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return ct_error_set(CT_ERR_BACKEND, "CUDA device %d is not usable: %s", dev, cudaGetErrorString(e));
    }
    /* The binary holds code for the architectures CMake named (CMAKE_CUDA_ARCHITECTURES); make sure one fits. */
    cudaFuncAttributes attr;
    e = cudaFuncGetAttributes(&attr, reaction_kernel<CT_MODEL_TP06>);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        cudaDeviceProp prop;
        int have_prop = cudaGetDeviceProperties(&prop, dev) == cudaSuccess;
        (void)cudaGetLastError();
        return ct_error_set(CT_ERR_BACKEND, "CUDA device %d (%s, compute capability %d.%d) cannot run this build: %s", dev,
                            have_prop ? prop.name : "?", have_prop ? prop.major : 0, have_prop ? prop.minor : 0,
                            cudaGetErrorString(e));
    }
    return CT_OK;
}

/* Peak DRAM bandwidth from the device's memory clock and bus width (double data rate): the spec-sheet
 * figure (for an H100 SXM about 3350 GB/s), 0 if the device cannot be queried. */
static double cuda_peak_bandwidth(char *how, size_t how_len)
{
    int dev, clock_kHz = 0, bus_bits = 0;
    if (pick_device(&dev) != CT_OK || cudaDeviceGetAttribute(&clock_kHz, cudaDevAttrMemoryClockRate, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev) != cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(how, how_len, "unknown: device attributes not available");
        return 0.0;
    }
    snprintf(how, how_len, "memory clock %d MHz x %d-bit bus x 2 (DDR)", clock_kHz / 1000, bus_bits);
    return 2.0 * (double)clock_kHz * 1e3 * (double)bus_bits / 8.0 * 1e-9;
}

/* Releases everything the context owns; tolerates a half-built context and a broken device. */
static void cuda_destroy(ct_backend_ctx *c)
{
    if (!c)
        return;
    (void)cudaSetDevice(c->device);
    (void)ct_step_vm_halo_end(&c->core); /* MPI must be done with the send and ghost buffers before they are freed */
    if (c->stream)
        (void)cudaStreamSynchronize(c->stream);
    if (c->vec_vm)
        (void)cusparseDestroyDnVec(c->vec_vm);
    if (c->vec_q)
        (void)cusparseDestroyDnVec(c->vec_q);
    if (c->vec_tmp)
        (void)cusparseDestroyDnVec(c->vec_tmp);
    if (c->vec_p)
        (void)cusparseDestroyDnVec(c->vec_p);
    if (c->vec_q_int)
        (void)cusparseDestroyDnVec(c->vec_q_int);
    if (c->vec_q_bnd)
        (void)cusparseDestroyDnVec(c->vec_q_bnd);
    if (c->mat_a_int)
        (void)cusparseDestroySpMat(c->mat_a_int);
    if (c->mat_a_bnd)
        (void)cusparseDestroySpMat(c->mat_a_bnd);
    if (c->mat_k)
        (void)cusparseDestroySpMat(c->mat_k);
    if (c->mat_a)
        (void)cusparseDestroySpMat(c->mat_a);
    if (c->mat_a0)
        (void)cusparseDestroySpMat(c->mat_a0);
    if (c->mat_m)
        (void)cusparseDestroySpMat(c->mat_m);
    if (c->sparse)
        (void)cusparseDestroy(c->sparse);
    void *dev_ptrs[] = {c->buf_k,   c->buf_a,    c->buf_a0,   c->buf_m,    c->params,   c->node_set,     c->stim_mask,
                        c->y,       c->vm,       c->vm_prev,  c->q,        c->act_ms,       c->row_ptr,
                        c->col,     c->k_val,    c->a_val,    c->m_val,    c->inv_mass,     c->mass_over_dt,
                        c->inv_diag, c->tmp,     c->r,        c->z,        c->p,            c->b,
                        c->partials, c->scal,    c->bad,      c->beats.count, c->beats.phase, c->beats.v_rest,
                        c->beats.v_peak, c->beats.act_ms, c->beats.rep_ms, c->d_send_idx, c->d_send,
                        c->d_ghost, c->d_row_ptr_bnd, c->buf_a_int, c->buf_a_bnd, c->lut, c->vstar_prev};
    for (size_t k = 0; k < sizeof dev_ptrs / sizeof dev_ptrs[0]; k++)
        if (dev_ptrs[k])
            (void)cudaFree(dev_ptrs[k]);
    if (c->pinned)
        (void)cudaFreeHost(c->pinned);
    if (c->h_stage)
        (void)cudaFreeHost(c->h_stage);
    if (c->h_send)
        (void)cudaFreeHost(c->h_send);
    if (c->h_ghost)
        (void)cudaFreeHost(c->h_ghost);
    if (c->stream)
        (void)cudaStreamDestroy(c->stream);
    (void)cudaGetLastError();
    ct_step_core_free(&c->core);
    free(c);
}

/* Host-side arrays built during create() and uploaded; owned by cuda_create, freed once the stream is idle. */
typedef struct host_scratch {
    ct_diffusion_arrays mat;  /* ct_diffusion_arrays_build */
    int32_t *row_ptr_bnd;
} host_scratch;

static void host_scratch_free(host_scratch *h)
{
    ct_diffusion_arrays_free(&h->mat);
    free(h->row_ptr_bnd);
}

#define DEV_ALLOC(ptr, count) CU_CHECK(cudaMalloc((void **)&(ptr), ((size_t)(count) + 1) * sizeof *(ptr)))
#define HOST_ALLOC(ptr, count)                                                                            \
    do {                                                                                                  \
        if (!((ptr) = (decltype(ptr))calloc((size_t)(count) + 1, sizeof *(ptr))))                         \
            return ct_error_set(CT_ERR_NOMEM, "cuda backend: out of host memory for %zu values",         \
                                (size_t)(count));                                                         \
    } while (0)
#define UPLOAD(dst, src, count) \
    CU_CHECK(cudaMemcpyAsync((dst), (src), (size_t)(count) * sizeof *(dst), cudaMemcpyHostToDevice, c->stream))

/* An SpMV work buffer for matrix descriptor `mat` and the one (x1, y1) pair it is always used with (x2, y2:
 * NULL, kept for a pair that only sizes the buffer); preprocessed once with (x1, y1). cuSPARSE's preprocessing
 * belongs to the descriptor and the vectors it saw, so a product with other vectors gets its own descriptor
 * (mat_a0). The buffer stays bound to that descriptor for the whole run. */
static ct_status make_spmv_buffer(ct_backend_ctx *c, cusparseSpMatDescr_t mat, cusparseDnVecDescr_t x1,
                                  cusparseDnVecDescr_t y1, cusparseDnVecDescr_t x2, cusparseDnVecDescr_t y2,
                                  void **buf)
{
    const ct_real one = 1, zero = 0;
    size_t size1 = 0, size2 = 0;
    SP_CHECK(cusparseSpMV_bufferSize(c->sparse, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, mat, x1, &zero, y1,
                                     CT_CUDA_REAL, CT_SPMV_ALG, &size1));
    if (x2)
        SP_CHECK(cusparseSpMV_bufferSize(c->sparse, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, mat, x2, &zero, y2,
                                         CT_CUDA_REAL, CT_SPMV_ALG, &size2));
    size_t size = size1 > size2 ? size1 : size2;
    CU_CHECK(cudaMalloc(buf, size > 256 ? size : 256));
    SP_CHECK(cusparseSpMV_preprocess(c->sparse, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, mat, x1, &zero, y1,
                                     CT_CUDA_REAL, CT_SPMV_ALG, *buf));
    return CT_OK;
}

/* The halo's device side: exchange buffers, and with CG the interior / boundary split of A (backend.h). */
static ct_status create_halo(ct_backend_ctx *c, const ct_backend_problem *pb, host_scratch *h)
{
    const ct_step_core *s = &c->core;
    const size_t n = s->n, ni = s->n_interior, n_send = s->halo.n_send, n_ghost = s->n - s->n_owned;
    /* the exchange is in double in either precision (halo_gather_kernel widens, halo_scatter_kernel narrows on
     * the device), so a float build hands d_send / d_ghost to a CUDA-aware MPI as a double build does */
    c->halo_on_device = s->halo.device_memory_ok;
    DEV_ALLOC(c->d_send_idx, n_send);
    DEV_ALLOC(c->d_send, n_send);
    DEV_ALLOC(c->d_ghost, n_ghost);
    UPLOAD(c->d_send_idx, s->send_idx, n_send);
    if (!c->halo_on_device) {
        CU_CHECK(cudaHostAlloc((void **)&c->h_send, (n_send + 1) * sizeof *c->h_send, cudaHostAllocDefault));
        CU_CHECK(cudaHostAlloc((void **)&c->h_ghost, (n_ghost + 1) * sizeof *c->h_ghost, cudaHostAllocDefault));
    }
    if (!s->use_cg)
        return CT_OK;
    const int32_t *rp = pb->stiffness->row_ptr;
    const size_t nnz_int = (size_t)rp[ni], nnz_bnd = c->nnz - nnz_int;
    if (ni > 0) {
        SP_CHECK(cusparseCreateCsr(&c->mat_a_int, (int64_t)ni, (int64_t)n, (int64_t)nnz_int, c->row_ptr, c->col,
                                   c->a_val, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO,
                                   CT_CUDA_REAL));
        SP_CHECK(cusparseCreateDnVec(&c->vec_q_int, (int64_t)ni, c->q, CT_CUDA_REAL));
        CT_CHECK(make_spmv_buffer(c, c->mat_a_int, c->vec_p, c->vec_q_int, NULL, NULL, &c->buf_a_int));
    }
    if (ni < n) {
        HOST_ALLOC(h->row_ptr_bnd, n - ni + 1);
        for (size_t i = ni; i <= n; i++)
            h->row_ptr_bnd[i - ni] = rp[i] - (int32_t)nnz_int;
        DEV_ALLOC(c->d_row_ptr_bnd, n - ni + 1);
        UPLOAD(c->d_row_ptr_bnd, h->row_ptr_bnd, n - ni + 1);
        SP_CHECK(cusparseCreateCsr(&c->mat_a_bnd, (int64_t)(n - ni), (int64_t)n, (int64_t)nnz_bnd, c->d_row_ptr_bnd,
                                   c->col + nnz_int, c->a_val + nnz_int, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                   CUSPARSE_INDEX_BASE_ZERO, CT_CUDA_REAL));
        SP_CHECK(cusparseCreateDnVec(&c->vec_q_bnd, (int64_t)(n - ni), c->q + ni, CT_CUDA_REAL));
        CT_CHECK(make_spmv_buffer(c, c->mat_a_bnd, c->vec_p, c->vec_q_bnd, NULL, NULL, &c->buf_a_bnd));
    }
    return CT_OK;
}

static cusparseDnVecDescr_t dnvec(ct_backend_ctx *c, int id);

static ct_status create_inner(ct_backend_ctx *c, const ct_backend_problem *pb, host_scratch *h)
{
    const ct_step_core *s = &c->core;
    const size_t n = pb->n_nodes, nnz = pb->stiffness->nnz;
    CT_CHECK(pick_device(&c->device));
    CU_CHECK(cudaSetDevice(c->device));
    CU_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));

    /* Device arrays. */
    DEV_ALLOC(c->params, (size_t)pb->n_param_sets * CT_MODEL_NPARAM);
    if (pb->node_param_set)
        DEV_ALLOC(c->node_set, n);
    if (s->lut) { /* built once on the host (ct_step_core_init), copied once */
        DEV_ALLOC(c->lut, s->lut_len);
        CU_CHECK(cudaMemcpy(c->lut, s->lut, s->lut_len * sizeof *c->lut, cudaMemcpyHostToDevice));
    }
    if (pb->stim_mask)
        DEV_ALLOC(c->stim_mask, n);
    DEV_ALLOC(c->y, (size_t)s->nstate * n);
    DEV_ALLOC(c->vm, n);
    DEV_ALLOC(c->vm_prev, n);
    DEV_ALLOC(c->q, n);
    DEV_ALLOC(c->act_ms, n);
    if (c->beats.max_beats > 0) {
        size_t nbeat = (size_t)c->beats.max_beats * n;
        DEV_ALLOC(c->beats.count, n);
        DEV_ALLOC(c->beats.phase, n);
        DEV_ALLOC(c->beats.v_rest, n);
        DEV_ALLOC(c->beats.v_peak, n);
        DEV_ALLOC(c->beats.act_ms, nbeat);
        DEV_ALLOC(c->beats.rep_ms, nbeat);
    }
    DEV_ALLOC(c->row_ptr, n + 1);
    DEV_ALLOC(c->col, nnz);
    DEV_ALLOC(c->k_val, nnz);
    DEV_ALLOC(c->bad, 1);
    if (s->use_cg) {
        DEV_ALLOC(c->a_val, nnz);
        DEV_ALLOC(c->inv_diag, n);
        DEV_ALLOC(c->tmp, n);
        DEV_ALLOC(c->r, n);
        DEV_ALLOC(c->z, n);
        DEV_ALLOC(c->p, n);
        DEV_ALLOC(c->b, n);
        DEV_ALLOC(c->partials, 3 * MAX_RED_BLOCKS);
        DEV_ALLOC(c->scal, S_COUNT);
        if (s->cg_extrapolate)
            DEV_ALLOC(c->vstar_prev, n);
        if (s->diffusion != CT_DIFFUSION_EXPLICIT) {
            if (s->consistent)
                DEV_ALLOC(c->m_val, nnz);
            if (!s->consistent || s->lumped_ionic)
                DEV_ALLOC(c->mass_over_dt, n);
        }
    } else {
        DEV_ALLOC(c->inv_mass, n);
    }
    CU_CHECK(cudaHostAlloc((void **)&c->pinned, sizeof *c->pinned, cudaHostAllocDefault));
    CU_CHECK(cudaHostAlloc((void **)&c->h_stage, (n + 1) * sizeof *c->h_stage, cudaHostAllocDefault));

    /* Matrices, exactly as the other backends build them (ct_step.c: in double, then rounded to ct_real). */
    CT_CHECK(ct_diffusion_arrays_build(s, pb, &h->mat));

    /* Upload (stream-ordered; cuda_create waits for the stream before the host arrays go). */
    UPLOAD(c->params, pb->param_sets, (size_t)pb->n_param_sets * CT_MODEL_NPARAM);
    if (c->node_set)
        UPLOAD(c->node_set, pb->node_param_set, n);
    if (c->stim_mask)
        UPLOAD(c->stim_mask, pb->stim_mask, n);
    UPLOAD(c->row_ptr, pb->stiffness->row_ptr, n + 1);
    UPLOAD(c->col, pb->stiffness->col, nnz);
    UPLOAD(c->k_val, h->mat.k_val, nnz);
    if (s->use_cg) {
        UPLOAD(c->a_val, h->mat.a_val, nnz);
        UPLOAD(c->inv_diag, h->mat.inv_diag, n);
        if (c->m_val)
            UPLOAD(c->m_val, h->mat.m_val, nnz);
        if (c->mass_over_dt)
            UPLOAD(c->mass_over_dt, h->mat.mass_over_dt, n);
    } else {
        UPLOAD(c->inv_mass, h->mat.inv_mass, n);
    }

    /* Initial state. */
    if (s->model == CT_MODEL_TP06)
        init_kernel<CT_MODEL_TP06><<<grid_for(n, BLOCK), BLOCK, 0, c->stream>>>(n, c->y, c->vm, c->act_ms, c->params,
                                                                                 c->node_set);
    else
        init_kernel<CT_MODEL_MITCHELL_SCHAEFFER><<<grid_for(n, BLOCK), BLOCK, 0, c->stream>>>(
            n, c->y, c->vm, c->act_ms, c->params, c->node_set);
    LAUNCH_CHECK("init_kernel");
    if (pb->initial_vm_mV) { /* the given Vm replaces the model's; its ionic state stays */
        for (size_t i = 0; i < n; i++)
            c->h_stage[i] = (ct_real)pb->initial_vm_mV[i];
        UPLOAD(c->vm, c->h_stage, n);
    }
    if (c->vstar_prev) /* no guess yet: the first step's vm_prev equals vm, so its start is V* */
        CU_CHECK(cudaMemcpyAsync(c->vstar_prev, c->vm, n * sizeof *c->vm, cudaMemcpyDeviceToDevice, c->stream));
    if (c->beats.max_beats > 0) {
        beat_init_kernel<<<grid_for(n, BLOCK), BLOCK, 0, c->stream>>>(n, c->vm, c->beats);
        LAUNCH_CHECK("beat_init_kernel");
    }

    /* cuSPARSE: one handle on our stream; K, A and M share the device CSR pattern. */
    SP_CHECK(cusparseCreate(&c->sparse));
    SP_CHECK(cusparseSetStream(c->sparse, c->stream));
    SP_CHECK(cusparseCreateCsr(&c->mat_k, (int64_t)n, (int64_t)n, (int64_t)nnz, c->row_ptr, c->col, c->k_val,
                               CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CT_CUDA_REAL));
    SP_CHECK(cusparseCreateDnVec(&c->vec_vm, (int64_t)n, c->vm, CT_CUDA_REAL));
    SP_CHECK(cusparseCreateDnVec(&c->vec_q, (int64_t)n, c->q, CT_CUDA_REAL));
    CT_CHECK(make_spmv_buffer(c, c->mat_k, c->vec_vm, c->vec_q, NULL, NULL, &c->buf_k));
    if (s->use_cg) {
        SP_CHECK(cusparseCreateCsr(&c->mat_a, (int64_t)n, (int64_t)n, (int64_t)nnz, c->row_ptr, c->col, c->a_val,
                                   CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CT_CUDA_REAL));
        SP_CHECK(cusparseCreateDnVec(&c->vec_tmp, (int64_t)n, c->tmp, CT_CUDA_REAL));
        SP_CHECK(cusparseCreateDnVec(&c->vec_p, (int64_t)n, c->p, CT_CUDA_REAL));
        /* A p each iteration; A x with x = tmp at the start of the explicit consistent CG (an implicit start
         * never forms A x0: cg_start_implicit) */
        CT_CHECK(make_spmv_buffer(c, c->mat_a, c->vec_p, c->vec_q, NULL, NULL, &c->buf_a));
        c->a0_x = -1;
        if (s->diffusion == CT_DIFFUSION_EXPLICIT) {
            c->a0_x = CT_VEC_TMP;
            SP_CHECK(cusparseCreateCsr(&c->mat_a0, (int64_t)n, (int64_t)n, (int64_t)nnz, c->row_ptr, c->col,
                                       c->a_val, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO,
                                       CT_CUDA_REAL));
            CT_CHECK(make_spmv_buffer(c, c->mat_a0, dnvec(c, c->a0_x), c->vec_q, NULL, NULL, &c->buf_a0));
        }
        if (c->m_val) {
            SP_CHECK(cusparseCreateCsr(&c->mat_m, (int64_t)n, (int64_t)n, (int64_t)nnz, c->row_ptr, c->col,
                                       c->m_val, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO,
                                       CT_CUDA_REAL));
            CT_CHECK(make_spmv_buffer(c, c->mat_m, c->vec_vm, c->vec_tmp, NULL, NULL, &c->buf_m));
        }
    }
    if (s->has_halo)
        CT_CHECK(create_halo(c, pb, h));
    CU_CHECK(cudaStreamSynchronize(c->stream));
    return CT_OK;
}

static const ct_device_ops *cuda_device_ops_table(void);

static ct_status cuda_create(const ct_backend_problem *pb, ct_backend_ctx **out)
{
    *out = NULL;
    if (!pb->stiffness || pb->stiffness->n != pb->n_nodes || pb->n_param_sets < 1 || !pb->param_sets ||
        !pb->lumped_mass_mm3)
        return ct_error_set(CT_ERR_INTERNAL, "cuda backend: incomplete problem description");
    if (pb->n_nodes == 0 || pb->n_nodes > (size_t)INT32_MAX || pb->stiffness->nnz > (size_t)INT32_MAX)
        return ct_error_set(CT_ERR_BACKEND, "cuda backend: %zu nodes / %zu matrix entries is outside the 32-bit indexing",
                            pb->n_nodes, pb->stiffness->nnz);
    if (pb->consistent_mass && pb->consistent_mass->nnz != pb->stiffness->nnz)
        return ct_error_set(CT_ERR_INTERNAL, "cuda backend: mass and stiffness matrices differ in pattern");

    ct_backend_ctx *c = (ct_backend_ctx *)calloc(1, sizeof *c);
    if (!c)
        return ct_error_set(CT_ERR_NOMEM, "cuda backend: out of memory");
    ct_status cst = ct_step_core_init(&c->core, pb, "cuda", cuda_device_ops_table(), c);
    if (cst != CT_OK) {
        ct_step_core_free(&c->core);
        free(c);
        return cst;
    }
    const size_t n = pb->n_nodes;
    c->nnz = pb->stiffness->nnz;
    c->beats.max_beats = pb->max_beats;
    unsigned int nb = grid_for(n, RED_BLOCK);
    c->red_blocks = nb < (unsigned int)MAX_RED_BLOCKS ? nb : (unsigned int)MAX_RED_BLOCKS;

    host_scratch h;
    memset(&h, 0, sizeof h);
    ct_status st = create_inner(c, pb, &h);
    if (st != CT_OK && c->stream)
        (void)cudaStreamSynchronize(c->stream); /* no copy may still read the host arrays */
    host_scratch_free(&h);
    if (st != CT_OK) {
        cuda_destroy(c);
        return st;
    }
    *out = c;
    return CT_OK;
}

/* y = A x with one of the context's matrices and the buffer made for it. */
static ct_status spmv(ct_backend_ctx *c, cusparseSpMatDescr_t mat, void *buf, cusparseDnVecDescr_t x,
                      cusparseDnVecDescr_t y)
{
    const ct_real one = 1, zero = 0;
    SP_CHECK(cusparseSpMV(c->sparse, CUSPARSE_OPERATION_NON_TRANSPOSE, &one, mat, x, &zero, y, CT_CUDA_REAL,
                          CT_SPMV_ALG, buf));
    return CT_OK;
}

/* Enqueues the reaction of nodes [first, end). */
static ct_status launch_reaction(ct_backend_ctx *c, size_t first, size_t end, uint32_t active, const stim_amps &amp,
                                 ct_real dt)
{
    const unsigned int blocks = grid_for(end > first ? end - first : 0, REACTION_BLOCK);
    if (c->core.model == CT_MODEL_TP06)
        reaction_kernel<CT_MODEL_TP06><<<blocks, REACTION_BLOCK, 0, c->stream>>>(
            c->core.n, first, end, c->y, c->vm, c->vm_prev, c->params, c->node_set, c->stim_mask, active, amp, dt, c->bad,
            c->lut);
    else
        reaction_kernel<CT_MODEL_MITCHELL_SCHAEFFER><<<blocks, REACTION_BLOCK, 0, c->stream>>>(
            c->core.n, first, end, c->y, c->vm, c->vm_prev, c->params, c->node_set, c->stim_mask, active, amp, dt, c->bad,
            c->lut);
    LAUNCH_CHECK("reaction_kernel");
    return CT_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Device primitives (ct_step.h)
 * ------------------------------------------------------------------------------------------------- */

static ct_real *dvec(ct_backend_ctx *c, int id)
{
    switch (id) {
    case CT_VEC_VM: return c->vm;
    case CT_VEC_TMP: return c->tmp;
    case CT_VEC_Q: return c->q;
    default: return c->p;
    }
}

static cusparseDnVecDescr_t dnvec(ct_backend_ctx *c, int id)
{
    switch (id) {
    case CT_VEC_VM: return c->vec_vm;
    case CT_VEC_TMP: return c->vec_tmp;
    case CT_VEC_Q: return c->vec_q;
    default: return c->vec_p;
    }
}

/* This process's K sums of the last reduction (partials) into out[0..K) on the host. */
template <int K>
static ct_status local_sums(ct_backend_ctx *c, double *out)
{
    finalize_store_kernel<K><<<1, RED_BLOCK, 0, c->stream>>>(c->partials, c->red_blocks, c->scal);
    LAUNCH_CHECK("finalize_store_kernel");
    CU_CHECK(cudaMemcpyAsync(c->pinned->scal, c->scal, K * sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    CU_CHECK(cudaStreamSynchronize(c->stream));
    for (int k = 0; k < K; k++)
        out[k] = c->pinned->scal[k];
    return CT_OK;
}

/* q = A x on rows [r0, r1) with the descriptor that covers them: the whole of A; with a halo, for the search
 * direction, its interior rows (0..n_interior-1) or the rest (n_interior..n-1, ghost rows included). */
static ct_status spmv_a(ct_backend_ctx *c, int x, size_t r0, size_t r1)
{
    const ct_step_core *s = &c->core;
    if (r0 >= r1)
        return CT_OK;
    if (s->has_halo && x == CT_VEC_P && r0 == 0 && r1 == s->n_interior && c->mat_a_int)
        return spmv(c, c->mat_a_int, c->buf_a_int, c->vec_p, c->vec_q_int);
    if (r0 == 0 && x == CT_VEC_P)
        return spmv(c, c->mat_a, c->buf_a, c->vec_p, c->vec_q);
    if (r0 == 0 && x == c->a0_x && c->mat_a0)
        return spmv(c, c->mat_a0, c->buf_a0, dnvec(c, x), c->vec_q);
    if (x == CT_VEC_P && r0 == s->n_interior && c->mat_a_bnd)
        return spmv(c, c->mat_a_bnd, c->buf_a_bnd, c->vec_p, c->vec_q_bnd);
    return ct_error_set(CT_ERR_INTERNAL, "cuda backend: no CSR descriptor for rows %zu..%zu of A", r0, r1);
}

static ct_status cuda_react(void *dev, size_t r0, size_t r1, uint32_t active, const ct_real *amp_uA_per_uF,
                            ct_real dt)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    stim_amps amp;
    memcpy(amp.a, amp_uA_per_uF, sizeof amp.a);
    return launch_reaction(c, r0, r1, active, amp, dt);
}

static ct_status cuda_spmv(void *dev, int mat, int x, int y, size_t r0, size_t r1)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    if (mat == CT_MAT_A && y == CT_VEC_Q)
        return spmv_a(c, x, r0, r1);
    /* only the (x, y) pairs each descriptor was preprocessed with (make_spmv_buffer) */
    if (r0 == 0 && r1 == c->core.n && mat == CT_MAT_K && x == CT_VEC_VM && y == CT_VEC_Q)
        return spmv(c, c->mat_k, c->buf_k, c->vec_vm, c->vec_q);
    if (r0 == 0 && r1 == c->core.n && mat == CT_MAT_M && c->mat_m && x == CT_VEC_VM && y == CT_VEC_TMP)
        return spmv(c, c->mat_m, c->buf_m, c->vec_vm, c->vec_tmp);
    return ct_error_set(CT_ERR_INTERNAL, "cuda backend: no product of matrix %d with vectors %d -> %d on rows %zu..%zu",
                        mat, x, y, r0, r1);
}

static ct_status cuda_explicit_lumped(void *dev, ct_real dt, double t_ms, int *detected)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    const ct_step_core *s = &c->core;
    CT_CHECK(spmv(c, c->mat_k, c->buf_k, c->vec_vm, c->vec_q));
    explicit_lumped_kernel<<<grid_for(s->n, BLOCK), BLOCK, 0, c->stream>>>(
        s->n, c->vm, c->q, c->inv_mass, dt, c->vm_prev, c->act_ms, t_ms, s->dt_ms, s->threshold_mV, s->bound_mV,
        c->bad, c->beats);
    LAUNCH_CHECK("explicit_lumped_kernel");
    *detected = 1;
    return CT_OK;
}

static ct_status cuda_rhs_explicit(void *dev, ct_real dt)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    const size_t n = c->core.n;
    const unsigned int ng = grid_for(n, BLOCK);
    consistent_rhs_kernel<<<ng, BLOCK, 0, c->stream>>>(n, c->q, c->inv_diag, dt, c->b, c->tmp);
    LAUNCH_CHECK("consistent_rhs_kernel");
    return CT_OK;
}

static ct_status cuda_add_tmp(void *dev, double t_ms, int *detected)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    (void)t_ms;
    add_kernel<<<grid_for(c->core.n, BLOCK), BLOCK, 0, c->stream>>>(c->core.n, c->vm, c->tmp);
    LAUNCH_CHECK("add_kernel");
    *detected = 0;
    return CT_OK;
}

/* Detection at every node (a ghost's result is never used: the driver reports owned nodes only). */
static ct_status cuda_detect(void *dev, double t_ms)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    const ct_step_core *s = &c->core;
    detect_kernel<<<grid_for(s->n, BLOCK), BLOCK, 0, c->stream>>>(s->n, c->vm_prev, c->vm, c->act_ms, t_ms, s->dt_ms,
                                                                  s->threshold_mV, s->bound_mV, c->bad, c->beats);
    LAUNCH_CHECK("detect_kernel");
    return CT_OK;
}

/* The one wait of an explicit step: 4 bytes of blow-up flag (reset by the next step's reaction_kernel). */
static ct_status cuda_blown_up(void *dev, long *node, double *vm_mV)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    CU_CHECK(cudaMemcpyAsync(&c->pinned->bad, c->bad, sizeof(unsigned int), cudaMemcpyDeviceToHost, c->stream));
    CU_CHECK(cudaStreamSynchronize(c->stream));
    unsigned int bad = c->pinned->bad;
    *node = -1;
    if (bad == UINT_MAX)
        return CT_OK;
    CU_CHECK(cudaMemcpyAsync(&c->pinned->bad_value, c->vm + bad, sizeof(ct_real), cudaMemcpyDeviceToHost,
                             c->stream));
    CU_CHECK(cudaStreamSynchronize(c->stream));
    *node = (long)bad;
    *vm_mV = (double)c->pinned->bad_value;
    return CT_OK;
}

static ct_status cuda_cg_start(void *dev, double sums[3])
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    cg_init_kernel<<<c->red_blocks, RED_BLOCK, 0, c->stream>>>(c->core.n_owned, c->b, c->q, c->inv_diag, c->r, c->z,
                                                                c->p, c->partials);
    LAUNCH_CHECK("cg_init_kernel");
    return local_sums<3>(c, sums);
}

/* From V* (the previous start, no lumped ionic current): K vm (and M vm) by cuSPARSE, then b, r = -K vm, z, p
 * and the sums in one kernel, no product with A. Extrapolated (x0 = tmp = vm + (vm_prev - vstar_prev)) or with a
 * lumped ionic current: the fused row kernel. */
static ct_status cuda_cg_start_implicit(void *dev, ct_real dt, ct_real one_minus_theta, double sums[3])
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    const ct_step_core *s = &c->core;
    if (s->cg_extrapolate || s->lumped_ionic) {
        const ct_real *m_val = s->consistent ? c->m_val : c->k_val;           /* not read without consistent mass */
        const ct_real *mdt = c->mass_over_dt ? c->mass_over_dt : c->inv_diag; /* read only where allocated */
        const ct_real *vsp = s->cg_extrapolate ? c->vstar_prev : c->vm;       /* not read without the extrapolation */
        cg_start_row_kernel<<<c->red_blocks, RED_BLOCK, 0, c->stream>>>(
            s->n_owned, s->consistent, s->lumped_ionic, s->cg_extrapolate, dt, one_minus_theta, c->row_ptr, c->col,
            c->k_val, m_val, c->a_val, mdt, c->vm, c->vm_prev, vsp, c->inv_diag, c->tmp, c->r, c->z, c->p,
            c->partials);
        LAUNCH_CHECK("cg_start_row_kernel");
        return local_sums<3>(c, sums);
    }
    CT_CHECK(cuda_spmv(dev, CT_MAT_K, CT_VEC_VM, CT_VEC_Q, 0, c->core.n));
    if (c->core.consistent)
        CT_CHECK(cuda_spmv(dev, CT_MAT_M, CT_VEC_VM, CT_VEC_TMP, 0, c->core.n));
    cg_start_implicit_kernel<<<c->red_blocks, RED_BLOCK, 0, c->stream>>>(
        c->core.n_owned, c->q, c->core.consistent ? c->tmp : NULL, c->mass_over_dt, c->vm, dt, one_minus_theta,
        c->inv_diag, c->r, c->z, c->p, c->partials);
    LAUNCH_CHECK("cg_start_implicit_kernel");
    return local_sums<3>(c, sums);
}

static ct_status cuda_cg_accept(void *dev)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    cg_accept_kernel<<<grid_for(c->core.n, BLOCK), BLOCK, 0, c->stream>>>(c->core.n, c->core.n_owned, c->vm, c->tmp,
                                                                         c->vstar_prev);
    LAUNCH_CHECK("cg_accept_kernel");
    return CT_OK;
}

static ct_status cuda_cg_product(void *dev, size_t r0, double *pq)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    CT_CHECK(spmv_a(c, CT_VEC_P, r0, c->core.n_owned));
    dot_kernel<<<c->red_blocks, RED_BLOCK, 0, c->stream>>>(c->core.n_owned, c->p, c->q, c->partials);
    LAUNCH_CHECK("dot_kernel");
    return local_sums<1>(c, pq);
}

static ct_status cuda_cg_update(void *dev, int x, double alpha, double sums[2])
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    cg_update_kernel<<<c->red_blocks, RED_BLOCK, 0, c->stream>>>(c->core.n_owned, alpha, dvec(c, x), c->p, c->q, c->r,
                                                                  c->z, c->inv_diag, c->partials);
    LAUNCH_CHECK("cg_update_kernel");
    return local_sums<2>(c, sums);
}

static ct_status cuda_cg_direction(void *dev, double beta)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    cg_direction_kernel<<<grid_for(c->core.n_owned, BLOCK), BLOCK, 0, c->stream>>>(c->core.n_owned, beta, c->z, c->p);
    LAUNCH_CHECK("cg_direction_kernel");
    return CT_OK;
}

/* Packs device vector x's values to send (device buffers with a CUDA-aware MPI, else staged through pinned
 * host memory) and waits until they are in place for MPI. */
static ct_status cuda_halo_pack(void *dev, int x, const double **send, double **ghost)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    const size_t n_send = c->core.halo.n_send;
    if (n_send > 0) {
        halo_gather_kernel<<<grid_for(n_send, BLOCK), BLOCK, 0, c->stream>>>(n_send, c->d_send_idx, dvec(c, x),
                                                                            c->d_send);
        LAUNCH_CHECK("halo_gather_kernel");
        if (!c->halo_on_device)
            CU_CHECK(cudaMemcpyAsync(c->h_send, c->d_send, n_send * sizeof(double), cudaMemcpyDeviceToHost,
                                     c->stream));
    }
    CU_CHECK(cudaStreamSynchronize(c->stream));
    *send = c->halo_on_device ? c->d_send : c->h_send;
    *ghost = c->halo_on_device ? c->d_ghost : c->h_ghost;
    return CT_OK;
}

/* Writes x's ghosts from the received values (enqueued on the stream). */
static ct_status cuda_halo_unpack(void *dev, int x)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    const size_t n_ghost = c->core.n - c->core.n_owned;
    if (n_ghost == 0)
        return CT_OK;
    if (!c->halo_on_device)
        CU_CHECK(cudaMemcpyAsync(c->d_ghost, c->h_ghost, n_ghost * sizeof(double), cudaMemcpyHostToDevice,
                                 c->stream));
    halo_scatter_kernel<<<grid_for(n_ghost, BLOCK), BLOCK, 0, c->stream>>>(n_ghost, c->d_ghost,
                                                                          dvec(c, x) + c->core.n_owned);
    LAUNCH_CHECK("halo_scatter_kernel");
    return CT_OK;
}

/* The step timer's phase boundary (ct_step_timing): the stream's work done. */
static ct_status cuda_finish(void *dev)
{
    ct_backend_ctx *c = (ct_backend_ctx *)dev;
    CU_CHECK(cudaStreamSynchronize(c->stream));
    return CT_OK;
}

/* Positional (nvcc's C++ has no designated initialisers before C++20), in the order of ct_device_ops. */
static const ct_device_ops cuda_device_ops = {
    cuda_react,     cuda_spmv,     cuda_explicit_lumped, cuda_rhs_explicit,       cuda_add_tmp,
    cuda_detect,    cuda_blown_up, cuda_cg_start,        cuda_cg_product,   cuda_cg_update,
    cuda_cg_direction, cuda_halo_pack, cuda_halo_unpack, NULL, /* flush: kernels start when launched */
    cuda_finish,    cuda_cg_start_implicit, cuda_cg_accept,
};

static const ct_device_ops *cuda_device_ops_table(void)
{
    return &cuda_device_ops;
}

static ct_status cuda_step(ct_backend_ctx *c, double t_ms, uint32_t stim_active, const double *stim_amp,
                           ct_step_report *rep)
{
    rep->bad_node = -1;
    rep->bad_value_mV = 0.0;
    rep->cg_iterations = 0;
    CU_CHECK(cudaSetDevice(c->device));
    return ct_step_run(&c->core, t_ms, stim_active, stim_amp, rep);
}

static ct_status cuda_download(ct_backend_ctx *c, enum ct_field field, double *host)
{
    CU_CHECK(cudaSetDevice(c->device));
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    if (field == CT_FIELD_VM) {
        CU_CHECK(cudaMemcpyAsync(c->h_stage, c->vm, c->core.n * sizeof *c->vm, cudaMemcpyDeviceToHost, c->stream));
        CU_CHECK(cudaStreamSynchronize(c->stream));
        for (size_t i = 0; i < c->core.n; i++)
            host[i] = (double)c->h_stage[i];
    } else if (field == CT_FIELD_ACTIVATION_MS) {
        CU_CHECK(cudaMemcpyAsync(host, c->act_ms, c->core.n * sizeof *host, cudaMemcpyDeviceToHost, c->stream));
        CU_CHECK(cudaStreamSynchronize(c->stream));
    } else if (c->beats.max_beats <= 0 && (field == CT_FIELD_BEAT_ACTIVATION_MS ||
                                           field == CT_FIELD_BEAT_REPOLARISATION_MS || field == CT_FIELD_BEAT_COUNT)) {
        return ct_error_set(CT_ERR_INTERNAL, "cuda backend: field %d needs max_beats > 0", (int)field);
    } else if (field == CT_FIELD_BEAT_ACTIVATION_MS || field == CT_FIELD_BEAT_REPOLARISATION_MS) {
        const double *src = field == CT_FIELD_BEAT_ACTIVATION_MS ? c->beats.act_ms : c->beats.rep_ms;
        size_t count = (size_t)c->beats.max_beats * c->core.n;
        CU_CHECK(cudaMemcpyAsync(host, src, count * sizeof *host, cudaMemcpyDeviceToHost, c->stream));
        CU_CHECK(cudaStreamSynchronize(c->stream));
    } else if (field == CT_FIELD_BEAT_COUNT) {
        int *counts = (int *)malloc((c->core.n + 1) * sizeof *counts); /* owned here, freed below */
        if (!counts)
            return ct_error_set(CT_ERR_NOMEM, "cuda backend: out of host memory for %zu values", c->core.n);
        cudaError_t e = cudaMemcpyAsync(counts, c->beats.count, c->core.n * sizeof *counts, cudaMemcpyDeviceToHost,
                                        c->stream);
        if (e == cudaSuccess)
            e = cudaStreamSynchronize(c->stream);
        if (e == cudaSuccess)
            for (size_t i = 0; i < c->core.n; i++)
                host[i] = (double)counts[i];
        free(counts);
        CU_CHECK(e);
    } else {
        return ct_error_set(CT_ERR_INTERNAL, "cuda backend: unknown field %d", (int)field);
    }
    return CT_OK;
}

/* The dynamic state as (device pointer, bytes) segments, in the order of the state blob (backend.h). */
static int cuda_state_segments(ct_backend_ctx *c, void **ptr, size_t *bytes)
{
    size_t n = c->core.n, nb = (size_t)c->beats.max_beats * n;
    int k = 0;
    ptr[k] = c->y, bytes[k++] = (size_t)c->core.nstate * n * sizeof *c->y;
    ptr[k] = c->vm, bytes[k++] = n * sizeof *c->vm;
    ptr[k] = c->vm_prev, bytes[k++] = n * sizeof *c->vm_prev;
    ptr[k] = c->act_ms, bytes[k++] = n * sizeof *c->act_ms;
    if (c->vstar_prev)
        ptr[k] = c->vstar_prev, bytes[k++] = n * sizeof *c->vstar_prev;
    if (c->beats.max_beats > 0) {
        ptr[k] = c->beats.count, bytes[k++] = n * sizeof *c->beats.count;
        ptr[k] = c->beats.phase, bytes[k++] = n * sizeof *c->beats.phase;
        ptr[k] = c->beats.v_rest, bytes[k++] = n * sizeof *c->beats.v_rest;
        ptr[k] = c->beats.v_peak, bytes[k++] = n * sizeof *c->beats.v_peak;
        ptr[k] = c->beats.act_ms, bytes[k++] = nb * sizeof *c->beats.act_ms;
        ptr[k] = c->beats.rep_ms, bytes[k++] = nb * sizeof *c->beats.rep_ms;
    }
    return k;
}

static size_t cuda_state_size(ct_backend_ctx *c)
{
    void *ptr[11];
    size_t bytes[11], total = 0;
    int k = cuda_state_segments(c, ptr, bytes);
    for (int s = 0; s < k; s++)
        total += bytes[s];
    return total;
}

static ct_status cuda_save_state(ct_backend_ctx *c, void *buf)
{
    void *ptr[11];
    size_t bytes[11], off = 0;
    int k = cuda_state_segments(c, ptr, bytes);
    CU_CHECK(cudaSetDevice(c->device));
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    for (int s = 0; s < k; off += bytes[s], s++)
        CU_CHECK(cudaMemcpyAsync((char *)buf + off, ptr[s], bytes[s], cudaMemcpyDeviceToHost, c->stream));
    CU_CHECK(cudaStreamSynchronize(c->stream));
    return CT_OK;
}

static ct_status cuda_load_state(ct_backend_ctx *c, const void *buf)
{
    void *ptr[11];
    size_t bytes[11], off = 0;
    int k = cuda_state_segments(c, ptr, bytes);
    CU_CHECK(cudaSetDevice(c->device));
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    for (int s = 0; s < k; off += bytes[s], s++)
        CU_CHECK(cudaMemcpyAsync(ptr[s], (const char *)buf + off, bytes[s], cudaMemcpyHostToDevice, c->stream));
    CU_CHECK(cudaStreamSynchronize(c->stream));
    return CT_OK;
}

/* The CUDA devices this process can see (CT_CUDA_DEVICE picks one of 0..n-1); 0 if there is none. */
static int cuda_device_count(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return count;
}

/* C linkage: kernels/backend_select.c refers to it as `extern const ct_backend_ops ct_backend_cuda`
 * (backend.h's extern "C" block covers that declaration, which this definition matches). */
extern "C" const ct_backend_ops ct_backend_cuda = {
    "cuda",
    cuda_probe,
    NULL, /* runs_on_host_cpu: never */
    cuda_peak_bandwidth,
    cuda_create,
    cuda_destroy,
    cuda_step,
    cuda_download,
    cuda_state_size,
    cuda_save_state,
    cuda_load_state,
    cuda_device_count,
    "CT_CUDA_DEVICE",
};
