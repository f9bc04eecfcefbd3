/* backend.h — the one interface every compute backend (CPU, CUDA, OpenCL) fills in.
 *
 * The time loops (host/sim/ct_run.c, host/study/ct_induce.c: step, download, the state blob) see only this table. A
 * backend owns the whole simulation state on its device for the length of a run: Vm, the ionic state, the
 * matrices, the activation times. The host hands it the problem once (ct_backend_problem), then calls step()
 * once per time step and download() only when it needs a field for output.
 *
 * Inside, the backends share their algorithms: the per-node operations (stimulus sum, reaction, activation
 * detection, beat tracking, blow-up predicate) are kernels/ct_node_ops.h, compiled for C, CUDA and OpenCL;
 * the step, the Jacobi-preconditioned CG and the halo protocol below are kernels/ct_step.c and
 * kernels/ct_cg.c, written once over a table of device primitives (kernels/ct_step.h) that each backend
 * fills in.
 */
#ifndef CT_BACKEND_H
#define CT_BACKEND_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "../host/fem/ct_csr.h"
#include "../host/core/ct_status.h"
#include "ct_real.h"

#define CT_MAX_STIMULI 32

enum ct_diffusion_method {
    CT_DIFFUSION_EXPLICIT = 0,        /* forward Euler, lumped mass */
    CT_DIFFUSION_CRANK_NICOLSON = 1,  /* theta = 1/2, Jacobi-preconditioned CG */
    CT_DIFFUSION_BACKWARD_EULER = 2   /* theta = 1 */
};

/* The first guess x0 of the implicit diffusion's CG (Crank-Nicolson, backward Euler; with either ionic mass).
 * V* is this step's post-reaction Vm, V^n the Vm before this step's reaction, V*^(n-1) the last step's
 * post-reaction Vm. */
enum ct_cg_start {
    CT_CG_START_EXTRAPOLATE = 0, /* x0 = V* + (V^n - V*^(n-1)): the last step's diffusion increment repeated (the
                                    default); the backend keeps V*^(n-1), one more vector in its state blob */
    CT_CG_START_PREVIOUS = 1     /* x0 = V*, the start before the extrapolation was added */
};

/* One rank's share of a problem split across MPI ranks (host/mpi/): its nodes are numbered owned first
 * (0..n_owned-1), then ghosts (n_owned..n_nodes-1: copies of other ranks' nodes that share an element with
 * an owned node). The owned nodes start with the interior ones (0..n_interior-1), whose matrix rows read
 * owned values only. Owned rows of the matrices are complete; ghost rows are not and their results are never
 * used. With a halo a backend, in every step:
 *   - refreshes the ghost Vm after the diffusion update: the values of send_idx go out, n_nodes - n_owned
 *     values come back, in ghost order. The exchange is begun at the end of the step and ended in the next
 *     one, after the owned nodes' reaction (which reads no ghost) and before the ghosts'; so the reaction
 *     of the owned nodes overlaps it. download, save_state, load_state and destroy end an exchange still in
 *     flight first, so that every value they see or keep is current;
 *   - inside CG, refreshes the ghosts of the vector a product is taken of (the start value, then the search
 *     direction), and sums every dot product over owned nodes only, then through sum(), so every rank
 *     takes the same number of iterations with the same scalars. The refresh of the search direction is
 *     overlapped with the product's interior rows: exchange_begin, rows 0..n_interior-1, exchange_end, then
 *     the other rows;
 *   - reports a blow-up only at an owned node (a ghost's value is its owner's to report).
 * Reaction runs at ghosts too: their parameters, stimuli and Vm equal their owners', so do their states.
 * The callbacks are the MPI side (host/mpi/ct_halo.c); `user` must outlive the backend context. */
typedef struct ct_halo {
    size_t n_owned;
    size_t n_interior;         /* owned nodes 0..n_interior-1 share no element with a ghost */
    size_t n_send;
    const int32_t *send_idx;   /* n_send boundary nodes, in the order the exchange sends them (copied at create) */
    /* Starts sending send_values (n_send) and receiving ghost_values (n_nodes - n_owned, ghost order); both
     * arrays must stay untouched until exchange_end, which waits for both. Collective. */
    ct_status (*exchange_begin)(void *user, const double *send_values, double *ghost_values);
    ct_status (*exchange_end)(void *user);
    /* Replaces values[0..count) by their sums over all ranks, identical on every rank. Collective. */
    ct_status (*sum)(void *user, double *values, int count);
    /* 1: the exchange takes device (CUDA) memory: the MPI library is CUDA-aware at run time (ct_mpi.h). */
    int device_memory_ok;
    void *user;
} ct_halo;

/* CT_OK if h fits a problem of n_nodes nodes (counts in order, callbacks set, every send an owned boundary
 * node); else CT_ERR_INTERNAL naming `backend`. Every backend checks the halo it is given with this. */
ct_status ct_halo_check(const ct_halo *h, size_t n_nodes, const char *backend);

/* Everything a backend needs to run; all pointers are borrowed for the duration of create(). */
typedef struct ct_backend_problem {
    size_t n_nodes;
    int model;                       /* enum ct_model_id */
    int n_param_sets;                /* >= 1 */
    const ct_real *param_sets;       /* n_param_sets * CT_MODEL_NPARAM */
    const uint8_t *node_param_set;   /* n_nodes indices into param_sets; NULL: all use set 0 */
    const ct_csr *stiffness;         /* K (mm^3/ms), see host/fem/ct_fem.h */
    const double *lumped_mass_mm3;   /* n_nodes */
    const ct_csr *consistent_mass;   /* NULL: lumped; else M (mm^3) with the pattern of K, solved by CG */
    const uint32_t *stim_mask;       /* n_nodes bit masks: bit s set if stimulus s covers the node; NULL: none */
    int diffusion;                   /* enum ct_diffusion_method */
    double dt_ms;                    /* fixed time step (the implicit matrix is built for it) */
    double cg_rel_tolerance;         /* implicit only: ||r|| / ||b|| to stop at */
    int cg_max_iterations;
    double activation_threshold_mV;  /* upward crossing that defines activation */
    double vm_bound_mV;              /* |Vm| above this (or NaN) is a blow-up */
    int max_beats;                   /* > 0: track beats (see below) and keep the first max_beats of each node;
                                        0: only the first activation (no extra memory, no extra work) */
    const ct_halo *halo;             /* NULL: the whole problem on one process (no change in behaviour) */
    struct ct_step_timing *timing;   /* NULL: no timer (no cost); else step() adds its phase times into it
                                        (borrowed: must outlive the backend context) */
    int ionic_lut;                   /* 1: the model's voltage-only rates interpolated in a table over Vm built once
                                        for dt_ms (ct_model_lut_size; a model without one runs exact); 0: every
                                        rate from its formula, the reference (configuration key "ionic_lut") */
    int ionic_simd;                  /* CPU backend: 1: the reaction as an OpenMP SIMD loop (libmvec exp/log, not
                                        bit-identical to the scalar loop); 0: scalar. Others ignore it ("ionic_simd") */
    int lumped_ionic;                /* 1: implicit diffusion with consistent_mass takes the reaction's increment
                                        (ionic current and stimulus) through the lumped mass, M (v_new - v)/dt =
                                        M_L (v* - v)/dt - K v~ ("diffusion.ionic_mass" "lumped"); 0: through M.
                                        Ignored with the lumped mass (the same); refused with explicit consistent */
    int cg_start;                    /* enum ct_cg_start: the first guess of the implicit diffusion's CG
                                        ("diffusion.cg_start"); the zero value is the default, extrapolated */
    const double *initial_vm_mV;     /* NULL: each node starts at its model's initial Vm; else n_nodes values (mV)
                                        that replace it after the model's initial state is set (the ionic state
                                        is the model's), at create ("initial_vm_mV") */
} ct_backend_problem;

typedef struct ct_backend_ctx ct_backend_ctx; /* a backend's private state */

/* Beats (max_beats > 0), tracked node by node during step(), with no Vm history kept:
 * - a node starts 'resting'; while resting, v_rest is the lowest Vm since it became resting (from the
 *   initial state, or from its last repolarisation): its diastolic potential;
 * - an upward crossing of activation_threshold_mV (linearly interpolated in time, as the first
 *   activation) starts beat b = the node's beat count: its activation time is recorded if b < max_beats,
 *   v_rest is frozen (it includes the Vm at the start of that step) and v_peak = max Vm since;
 * - the first downward crossing, after the peak, of v_rest + 0.1 (v_peak - v_rest) (linearly
 *   interpolated in time) is its repolarisation: recorded if b < max_beats; the node is resting again
 *   and its beat count goes up by one.
 * APD90 of a beat = repolarisation - activation (the host subtracts; nothing stores it). */
enum ct_field {
    CT_FIELD_VM = 0,
    CT_FIELD_ACTIVATION_MS = 1,          /* n: first activation, ms (-1: none) */
    CT_FIELD_BEAT_ACTIVATION_MS = 2,     /* max_beats * n, beat-major: beat b of node i at [b*n + i]; -1: none */
    CT_FIELD_BEAT_REPOLARISATION_MS = 3, /* max_beats * n, as above; -1: not (yet) repolarised */
    CT_FIELD_BEAT_COUNT = 4              /* n: completed (repolarised) beats, including those past max_beats */
};

/* Where the time of step() goes, for the benchmark (bench/ct_bench.c): when ct_backend_problem.timing points
 * here, every step adds the wall time (s, host monotonic clock) of each of its phases. A backend whose work is
 * queued (OpenCL, CUDA) is waited for at every phase boundary while the timer is on, so a phase is charged
 * with its own device work; with the timer off nothing is waited for and nothing is measured. The phases are
 * disjoint, so react_s + diffuse_s + detect_s + halo_s <= total_s; the rest is the driver and the clock.
 * Zero the struct before the first step; the steps only add. */
typedef struct ct_step_timing {
    double react_s;      /* ionic model and stimulus, every node (owned and ghosts) */
    double diffuse_s;    /* diffusion: SpMV, right-hand side, CG (the explicit lumped update, and the
                            detection a backend fuses into it, see ct_device_ops.explicit_lumped) */
    double detect_s;     /* activation and beat detection, blow-up check (the step's synchronisation point) */
    double halo_s;       /* MPI halo: pack, start, wait, unpack and the CG's global sums; 0 on one process.
                            Also the end of a Vm exchange that download/save_state wait for, outside a step */
    double total_s;      /* the whole step() */
    long steps;          /* steps timed */
    long cg_iterations;  /* their CG iterations (the sum of ct_step_report.cg_iterations) */
    long detect_fused;   /* steps whose detection ran inside the diffusion (counted in diffuse_s) */
} ct_step_timing;

/* What step() found wrong, for the driver to report with a time and position. */
typedef struct ct_step_report {
    long bad_node;          /* lowest-numbered node that blew up, -1 if none */
    double bad_value_mV;
    int cg_iterations;      /* implicit diffusion: iterations of this step */
} ct_step_report;

typedef struct ct_backend_ops {
    const char *name;   /* "cpu", "opencl", "cuda" */
    /* Returns CT_OK if the backend can run on this machine; otherwise CT_ERR_BACKEND with a message
     * saying why (no device, driver too old, not compiled in). */
    ct_status (*probe)(void);
    /* Optional (NULL: no). Whether the device it would use is the host CPU, on which the plain C backend
     * is faster: "auto" then passes over it (naming it in ct_error_message()); asking by name still works. */
    int (*runs_on_host_cpu)(void);
    /* Optional (NULL: unknown). The device's peak memory bandwidth in GB/s, for the benchmark's "fraction
     * of peak"; `how` (caller's buffer) says where the figure comes from (measured triad, spec sheet). */
    double (*peak_bandwidth_GB_per_s)(char *how, size_t how_len);
    /* Allocates device state, uploads the problem, sets the initial ionic state; caller owns *ctx. */
    ct_status (*create)(const ct_backend_problem *problem, ct_backend_ctx **ctx);
    void (*destroy)(ct_backend_ctx *ctx);
    /* One Godunov step from t_ms to t_ms + dt_ms: reaction (Rush-Larsen, with the stimuli whose bit is
     * set in stim_active carrying stim_amp_uA_per_uF[s]), then diffusion, then activation detection
     * (first upward crossing of the threshold, linearly interpolated in time; beats when max_beats > 0)
     * and the blow-up check.
     * A blow-up returns CT_ERR_NUMERIC with report->bad_node set. */
    ct_status (*step)(ct_backend_ctx *ctx, double t_ms, uint32_t stim_active,
                      const double *stim_amp_uA_per_uF, ct_step_report *report);
    /* Copies a field (n_nodes values; max_beats * n_nodes for the per-beat times) to host memory owned by
     * the caller. The beat fields need max_beats > 0 (CT_ERR_INTERNAL otherwise). */
    ct_status (*download)(ct_backend_ctx *ctx, enum ct_field field, double *host);
    /* The whole dynamic state (Vm, the ionic state, activation and beat tracking, and with the extrapolated CG
     * start the last post-reaction Vm: everything step() changes) as an opaque blob, for snapshots (programmed stimulation restarts from the end of the drive
     * train) and checkpoints. state_size() gives its size in bytes; save_state() copies it into the
     * caller's buffer, load_state() back. A blob is only meaningful to the same backend, built from the
     * same problem (and, for OpenCL, the same device); after load_state() the run continues bit for bit
     * as it would have from the moment of save_state(). */
    size_t (*state_size)(ct_backend_ctx *ctx);
    ct_status (*save_state)(ct_backend_ctx *ctx, void *buf);
    ct_status (*load_state)(ct_backend_ctx *ctx, const void *buf);
    /* Optional (NULL: one device). How many devices a new process can be pointed at, as 0..n-1 in the
     * environment variable device_env (e.g. CT_CUDA_DEVICE); 0 if none can be counted. `cardiotwin
     * cohort` runs one process per device. */
    int (*device_count)(void);
    const char *device_env;
} ct_backend_ops;

/* The backends compiled into this binary (CT_HAVE_* are set by CMake). */
extern const ct_backend_ops ct_backend_cpu;
#ifdef CT_HAVE_OPENCL
extern const ct_backend_ops ct_backend_opencl;
#endif
#ifdef CT_HAVE_CUDA
extern const ct_backend_ops ct_backend_cuda;
#endif

/* Picks a backend by name ("auto", "cpu", "opencl", "cuda"). "auto" tries CUDA, then OpenCL, then
 * the CPU; `why` (caller's buffer) receives one line saying what was chosen and why. */
ct_status ct_backend_select(const char *name, const ct_backend_ops **out, char *why, size_t why_len);
/* The backend compiled in under `name` ("cpu", "opencl", "cuda"), without probing it; NULL if none. For a
 * process that had the choice made elsewhere (ct_pool_backend_select probes in a child process). */
const ct_backend_ops *ct_backend_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* CT_BACKEND_H */
