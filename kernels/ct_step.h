/* ct_step.h — the Godunov step, the Jacobi-preconditioned CG and the MPI halo state machine, written once over
 * a table of device primitives (ct_device_ops) that each backend fills in.
 *
 * The backends (kernels/cpu/backend_cpu.c, kernels/opencl/backend_opencl.c, kernels/cuda/backend_cuda.cu) keep
 * their data where their device wants it and supply element-wise and sparse primitives over it; the order of
 * the operations of a step (reaction, the halo exchange of Vm, diffusion, detection, the blow-up report), the CG
 * iteration and the halo protocol of backend.h live here, in host C, once. In the manner of SUNDIALS' PCG over
 * N_Vector operations: a reduction returns this process's part (owned nodes only), the halo's sum() makes it
 * global (ct_step_core.halo), so every rank takes the same iterations with the same scalars.
 *
 * Vectors and matrices are named by id (enum ct_vec_id, ct_mat_id); a backend maps an id to its storage at the
 * time of the call (the CPU and OpenCL backends swap the buffers behind CT_VEC_VM and CT_VEC_TMP).
 * Per-node arithmetic is in ct_node_ops.h, the one source of the kernels.
 */
#ifndef CT_STEP_H
#define CT_STEP_H

#ifdef __cplusplus
extern "C" {
#endif

#include "backend.h"

/* The vectors the step and CG name (n values each, ct_real). */
enum ct_vec_id {
    CT_VEC_VM = 0, /* transmembrane potential, mV */
    CT_VEC_TMP,    /* work: the increment dv (explicit, consistent); M v in CUDA's implicit start from V*; the
                      CG solution x of the implicit step with the extrapolated start (cg_accept) */
    CT_VEC_Q,      /* work: K v, A x, A p */
    CT_VEC_P       /* CG search direction */
};

/* The matrices (CSR, the pattern of K): K stiffness, M consistent mass, A the matrix CG solves with
 * (M_C for explicit + consistent, M/dt + theta K for implicit). */
enum ct_mat_id { CT_MAT_K = 0, CT_MAT_M, CT_MAT_A };


/* The device primitives of one backend. `dev` is the backend's context. Every entry is required unless marked
 * optional. A primitive works on rows [0, n_owned) of its vectors unless told rows; it may also compute rows of
 * the ghost nodes (n_owned..n-1), whose values are never read before the halo refreshes them. Reductions return
 * this process's sums over the owned nodes, in double; the driver adds them over the ranks. */
typedef struct ct_device_ops {
    /* Reaction of nodes [r0, r1): Vm saved in vm_prev, ionic model (Rush-Larsen) and the stimuli of `active`
     * (0 if the problem has none) with amplitudes amp_uA_per_uF[0..CT_MAX_STIMULI). */
    ct_status (*react)(void *dev, size_t r0, size_t r1, uint32_t active, const ct_real *amp_uA_per_uF,
                       ct_real dt_ms);
    /* y = mat x on rows [r0, r1) (rows of y outside it keep their values, except ghost rows). */
    ct_status (*spmv)(void *dev, int mat, int x, int y, size_t r0, size_t r1);
    /* Explicit diffusion, lumped mass: vm <- vm - dt M_L^-1 K vm. A backend that runs the detection in the same
     * pass (as detect() would) sets *detected to 1. */
    ct_status (*explicit_lumped)(void *dev, ct_real dt_ms, double t_ms, int *detected);
    /* Explicit diffusion, consistent mass: b = -dt q (q = K vm) and the first guess tmp = b / diag(A) (the
     * implicit right-hand sides are formed inside cg_start_implicit). */
    ct_status (*rhs_explicit)(void *dev, ct_real dt_ms);
    /* vm += tmp; *detected as explicit_lumped. */
    ct_status (*add_tmp)(void *dev, double t_ms, int *detected);
    /* Detection at every owned node (ct_detect_node: first activation, beats, blow-up flag) for the step
     * [t_ms, t_ms + dt_ms], Vm going from vm_prev to vm. */
    ct_status (*detect)(void *dev, double t_ms);
    /* The lowest node the detection of this step flagged (-1: none) and its Vm; the flag is clear for the next
     * step afterwards. This is also the step's synchronisation point. */
    ct_status (*blown_up)(void *dev, long *node, double *vm_mV);
    /* CG: r = b - q, z = D^-1 r, p = z; local b.b, r.z, r.r in sums[0..2]. */
    ct_status (*cg_start)(void *dev, double sums[3]);
    /* CG: q = A p on rows [r0, n_owned) (rows below r0 hold theirs already, from spmv), then the local p.q. */
    ct_status (*cg_product)(void *dev, size_t r0, double *pq);
    /* CG: x += alpha p, r -= alpha q, z = D^-1 r (alpha rounded to ct_real); local r.z, r.r in sums[0..1]. */
    ct_status (*cg_update)(void *dev, int x, double alpha, double sums[2]);
    /* CG: p = z + beta p (beta rounded to ct_real). */
    ct_status (*cg_direction)(void *dev, double beta);
    /* Halo: puts x's values at halo.send_idx into the send buffer and returns the buffers the exchange reads
     * (n_send values) and writes (n - n_owned ghost values), in the memory halo.exchange_begin takes. */
    ct_status (*halo_pack)(void *dev, int x, const double **send, double **ghost);
    /* Halo: x's ghosts <- the ghost buffer, once the exchange has ended. */
    ct_status (*halo_unpack)(void *dev, int x);
    /* Optional (NULL: work starts when queued). Submits queued work, so the device runs it while the host
     * waits for an MPI exchange. */
    ct_status (*flush)(void *dev);
    /* Optional (NULL: every primitive has finished when it returns, as on the CPU). Waits until the queued
     * work is done; called between the phases of a step only while the step timer is on (ct_step_timing). */
    ct_status (*finish)(void *dev);
    /* Implicit diffusion: the whole CG start from x = vm in one pass over rows [0, n_owned) (vm's ghosts are
     * current): per row K vm (and, consistent mass, M vm) then b = (M/dt) vm - (1 - theta) K vm,
     * r = b - A vm = -K vm (exact, as A = M/dt + theta K), z = D^-1 r, p = z; local b.b, r.z, r.r in
     * sums[0..2] (as cg_start). Replaces spmv K, spmv M, rhs, spmv A and cg_start: one pass instead of five.
     * With ct_step_core.lumped_ionic, b and r take the reaction's increment through the lumped mass (the row also
     * takes M vm_prev; ct_cg_start_implicit_row). */
    ct_status (*cg_start_implicit)(void *dev, ct_real dt_ms, ct_real one_minus_theta, double sums[3]);
    /* With ct_step_core.cg_extrapolate the start above is instead x = tmp = vm + (vm_prev - vstar_prev) on the
     * owned rows (vm_prev, vstar_prev and vm current at the ghosts: no exchange), r = -K vm - A (vm_prev -
     * vstar_prev); the row is ct_cg_start_implicit_row. After CG has solved for tmp, cg_accept (required then):
     * vstar_prev <- vm (every row, the ghosts too), vm <- tmp (owned rows at least; ghost rows of vm are
     * refreshed by the end-of-step exchange before they are read). A backend may swap buffers to do it. */
    ct_status (*cg_accept)(void *dev);
} ct_device_ops;

/* What every backend's context holds for the driver: the problem's scalars and the halo state. Embedded in the
 * backend's context, set up by ct_step_core_init, released by ct_step_core_free. */
typedef struct ct_step_core {
    const ct_device_ops *ops;
    void *dev;                /* the backend context handed to every op (borrowed) */
    const char *backend;      /* "cpu", "opencl", "cuda": for messages */
    size_t n;
    int model, nstate, diffusion;
    int consistent;           /* consistent mass */
    int lumped_ionic;         /* implicit + consistent mass: the reaction's increment through the lumped mass */
    int use_cg;               /* implicit, or explicit with consistent mass */
    int cg_extrapolate;       /* implicit, pb->cg_start CT_CG_START_EXTRAPOLATE: the
                                 backend keeps vstar_prev (n ct_real, in its state blob, = vm at create so
                                 the first step's start is V*) and fills in cg_accept */
    int has_stim;             /* the problem has a stimulus mask */
    int use_node_set;         /* the problem has per-node parameter sets */
    int max_beats;
    double dt_ms, theta, cg_rel_tolerance, threshold_mV, bound_mV;
    int cg_max_iterations;
    /* MPI halo (backend.h); n_owned == n_interior == n and has_halo == 0 without one */
    size_t n_owned, n_interior;
    int has_halo;
    int vm_in_flight;         /* the end-of-step Vm exchange is begun, not yet ended */
    ct_halo halo;             /* callbacks and user; send_idx points to the copy below */
    int32_t *send_idx;        /* halo.n_send, owned */
    ct_real *lut;             /* the model's rate table for dt_ms (pb->ionic_lut), owned; NULL: exact rates */
    size_t lut_len;           /* reals in lut */
    int simd;                 /* pb->ionic_simd */
    ct_step_timing *timing;   /* NULL: off; else the phase times of every step are added (borrowed, backend.h) */
} ct_step_core;

/* Checks pb (model id, max_beats, the halo: ct_halo_check) and fills s from it; messages name `backend`.
 * On failure s holds nothing to free beyond what ct_step_core_free releases. */
ct_status ct_step_core_init(ct_step_core *s, const ct_backend_problem *pb, const char *backend,
                            const ct_device_ops *ops, void *dev);
/* Frees what s owns (not the device data). Call ct_step_vm_halo_end first while the device data still exist. */
void ct_step_core_free(ct_step_core *s);

/* One Godunov step from t_ms (backend.h step()). */
ct_status ct_step_run(ct_step_core *s, double t_ms, uint32_t stim_active, const double *stim_amp_uA_per_uF,
                      ct_step_report *report);

/* Ends the Vm exchange the last step began, if still in flight: the ghosts' Vm <- their owners'. download,
 * save_state, load_state and destroy call it first. */
ct_status ct_step_vm_halo_end(ct_step_core *s);

/* Solves A x = b by Jacobi-preconditioned CG from the x given (x: CT_VEC_VM or CT_VEC_TMP); ct_cg.c. */
ct_status ct_cg_solve(ct_step_core *s, int x, int *iterations);
/* The CG iterations from a start the backend has formed (r, z, p; the local b.b, r.z, r.r in start_sums, which
 * this sums over the ranks): cg_start_implicit's. Stops at ||r|| <= cg_rel_tolerance ||b|| (ct_cg.c). */
ct_status ct_cg_iterate(ct_step_core *s, int x, double start_sums[3], int *iterations);

/* The halo's part of the driver (ct_step.c), used by CG: with a halo, x's ghosts <- the owners' values
 * (begin, then end), and the sum of values[0..count) over the ranks; without, nothing. */
ct_status ct_step_halo_begin(ct_step_core *s, int x);
ct_status ct_step_halo_end(ct_step_core *s, int x);
ct_status ct_step_halo_sum(ct_step_core *s, double *values, int count);

/* The diffusion arrays every backend builds on the host from the problem, rounded to ct_real the same way:
 * K's values; 1/m (explicit lumped); and when CG is used A, D^-1 = 1/diag(A), m/dt, and M_C's values
 * (consistent mass). All owned by the struct (ct_diffusion_arrays_free); NULL where not needed. */
typedef struct ct_diffusion_arrays {
    ct_real *k_val;           /* nnz */
    ct_real *inv_mass;        /* n */
    ct_real *a_val;           /* nnz, CG only */
    ct_real *inv_diag;        /* n, CG only */
    ct_real *mass_over_dt;    /* n, CG only */
    ct_real *m_val;           /* nnz, CG with consistent mass only */
} ct_diffusion_arrays;

ct_status ct_diffusion_arrays_build(const ct_step_core *s, const ct_backend_problem *pb, ct_diffusion_arrays *out);
void ct_diffusion_arrays_free(ct_diffusion_arrays *a);

#ifdef __cplusplus
}
#endif

#endif /* CT_STEP_H */
