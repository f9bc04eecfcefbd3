/* ct_sim.h — a simulation-ready model built from a configuration, and the time loop that runs it.
 *
 * ct_sim_create() does all validation up front (mesh, stimuli that cover no node, probes outside the
 * mesh, an unstable explicit time step), so a bad configuration fails before anything is written.
 * ct_sim_run() drives a backend through the time steps, streams output if asked, and fills a result.
 */
#ifndef CT_SIM_H
#define CT_SIM_H

#include <stdint.h>

#include "../kernels/backend.h"
#include "ct_config.h"
#include "mesh/ct_mesh.h"
#include "metrics/ct_ecg.h"

struct ct_dist; /* host/mpi/ct_dist.h */

/* Wall time of the set-up per phase (s), as ct_sim_create / ct_sim_create_split measured it on this rank:
 * read (the mesh read or generated, renumbered, labels and tissue regions), partition (the node graph and
 * METIS on rank 0, the owners broadcast, this rank's local mesh; 0 serially), assemble (K, M: the whole
 * problem serially, this rank's local mesh when split) and problem (parameter sets, stimuli, probes, and when
 * split the local per-node arrays, the output pieces, the gather layout and the halo plan). */
typedef struct ct_setup_timing {
    double read_s, partition_s, assemble_s, problem_s, total_s;
} ct_setup_timing;

typedef struct ct_sim {
    const ct_config *cfg;        /* borrowed: must outlive the sim */
    ct_mesh *mesh;               /* owned */
    ct_csr *stiffness;           /* owned, K in mm^3/ms */
    double *lumped_mass_mm3;     /* owned, n_nodes */
    ct_csr *consistent_mass;     /* owned, NULL unless the config asks for it */
    uint32_t *stim_mask;         /* owned, n_nodes bit masks (bit s: stimulus s) */
    double *initial_vm_mV;       /* owned, n_nodes, all cfg->initial_vm_mV; NULL without the key. Uniform, so a
                                    rank's problem (ct_dist_backend_problem) may read its first n_local values */
    size_t *probe_tet;           /* owned, n_probes */
    double *probe_bary;          /* owned, 4 * n_probes */
    double explicit_dt_limit_ms; /* forward-Euler diffusion is stable below this (Gershgorin bound) */
    /* ionic parameter sets: cell type (endo, mid, epi) x tissue (healthy, border zone), set = 2*type + bz */
    int n_param_sets;
    double param_sets[6 * 16];   /* n_param_sets * CT_MODEL_NPARAM */
    uint8_t *node_param_set;     /* owned, n_nodes */
    double *sigma_scale;         /* owned, n_tets conductivity factors (tissue labels, lesions); NULL: all 1 */
    /* ablation lesions of the configuration (their elements are scar with zero conductivity) */
    ct_lesion_effect lesion_effect[CT_CONFIG_MAX_LESIONS];
    /* What the output files carry so that they line up with the mesh file (host/sim/ct_output.h). Nodes are
     * renumbered (mesh.renumber "rcm"), elements keep the file's order. */
    int32_t *node_id;            /* owned, n_nodes: each node's index in the mesh as read (the file's node order;
                                    a .msh: the order of the nodes its tets use; a box: as generated) */
    int8_t *node_cell_type;      /* owned, n_nodes: the .vtu mesh file's point field cell_type (0 endo, 1 mid,
                                    2 epi); NULL when the file has none */
    int8_t *aha_segment;         /* owned, n_tets: the .vtu mesh file's cell field aha_segment (0..17); NULL when
                                    the file has none */
    /* A run split across MPI ranks (ct_sim_create_split with several ranks; NULL otherwise): this rank's
     * share (owned). Then the whole-problem matrices are never built: stiffness, lumped_mass_mm3 and
     * consistent_mass are NULL on every rank, node_param_set, stim_mask and sigma_scale are freed once the
     * local problem is built, initial_vm_mV holds this rank's n_local values, and on ranks > 0 the whole mesh
     * keeps only n_nodes, n_tets and xyz_mm (the pseudo-ECG places its electrodes from the whole bounding
     * box; a blow-up message names a global node's position) -- tets, fibre, tissue, node_id, node_cell_type
     * and aha_segment are freed there. Rank 0 keeps the whole mesh and its labels for the whole-mesh results
     * it writes (activation.vtu, beats.vtu, conduction velocities, probes). */
    struct ct_dist *dist;
    int matrices_released;       /* 1 after ct_sim_release_matrices */
    ct_setup_timing setup;       /* this rank's */
    ct_setup_timing setup_max;   /* the slowest rank's per phase (= setup serially) */
} ct_sim;

/* Frees the sim's stiffness, consistent and lumped mass (a split sim: this rank's local copies), which a
 * backend copies at create (kernels/backend.h): a run keeps one copy of its matrices, not two (issue 15: K
 * and M are 368 of the ~1500 bytes per node of a TP06 Crank-Nicolson run). The sim keeps its mesh, labels
 * and probes, but cannot make a backend again: ct_sim_run refuses it (CT_ERR_INTERNAL). */
void ct_sim_release_matrices(ct_sim *sim);

/* Builds mesh, matrices, stimulus masks and probe locations; caller owns *out (ct_sim_destroy). */
ct_status ct_sim_create(const ct_config *cfg, ct_sim **out);
/* ct_sim_create for `cardiotwin run`: under MPI with several ranks (ct_dist_wanted) the set-up is split --
 * every rank reads (or generates) the whole mesh and builds the per-node labels, METIS partitions the node
 * graph on rank 0, and each rank assembles K and M only on its local mesh (the elements around its owned
 * nodes); the explicit time-step limit is the maximum over the ranks' owned rows (the serial value exactly).
 * See ct_sim.dist for what is kept. Collective, the status agreed: a rank that cannot read the mesh stops
 * every rank with its message. With one rank (or without MPI) it is ct_sim_create. */
ct_status ct_sim_create_split(const ct_config *cfg, ct_sim **out);
void ct_sim_destroy(ct_sim *sim); /* collective when sim->dist is set */

typedef struct ct_run_options {
    const char *out_dir;         /* NULL: write nothing (tests, benchmarks) */
    int quiet;                   /* no progress lines on stderr */
    long max_steps;              /* > 0: stop after this many steps (benchmarks) */
    int max_beats;               /* > 0: per-beat activation and repolarisation of the first max_beats beats
                                    of every node (kernels/backend.h); 0: the first activation only */
    double checkpoint_every_ms;  /* > 0: write the whole state (ct_checkpoint.h) every this many ms */
    const char *checkpoint_path; /* where; NULL: <out_dir>/checkpoint.ctck */
    const char *restart_path;    /* NULL: start from rest; else go on from this checkpoint (same
                                    configuration file, backend and mesh, or it is refused) */
    ct_step_timing *timing;      /* NULL: no step timer; else every step adds its phase times here
                                    (kernels/backend.h; borrowed; zero it first) */
    ct_sim *consume;             /* NULL, or the sim this run is given (the same object), which its caller runs
                                    once only: its matrices are freed once the backend holds its own copy
                                    (ct_sim_release_matrices), so that the time loop does not keep both */
} ct_run_options;

typedef struct ct_run_result {
    double *activation_ms;       /* owned, n_nodes, -1 where never activated; free with ct_run_result_free */
    double *probe_activation_ms; /* owned, n_probes, -1 where never activated */
    double *vm_final_mV;         /* owned, n_nodes */
    /* Per-beat times (ms), owned, NULL unless max_beats > 0: max_beats * n_nodes each, beat b of node i at
     * [b*n_nodes + i], -1 where the beat did not happen / did not repolarise. APD90 = repolarisation -
     * activation. */
    double *beat_activation_ms, *beat_repolarisation_ms;
    int max_beats;
    /* Conduction velocity per element (m/s), owned, NAN where undefined (see metrics/ct_cv_map.h): the speed,
     * and the speed where the front travels along / across the fibre (within 30 degrees; ct_cv_directional). */
    double *cv_speed, *cv_along, *cv_across;
    /* Pseudo-ECG intervals (when the configuration asks for an ECG). */
    int has_ecg;
    ct_ecg_intervals ecg;
    long steps;                  /* the step reached (counted from t = 0, across restarts) */
    long first_step;             /* the step this run began at: > 0 when restarted from a checkpoint */
    int stopped;                 /* 1: ended at max_steps before end_time_ms (--stop-at), not completed */
    int interrupted_by;          /* > 0: the signal that stopped the run (status CT_ERR_INTERRUPTED, ct_run.h) */
    char checkpoint_path[4096];  /* the last checkpoint this run wrote, "" if none */
    double checkpoint_t_ms;      /* its simulated time */
    double t_end_ms;             /* simulated time reached */
    double wall_s;               /* time-loop wall time */
    double node_steps_per_s;     /* of this run's steps (steps - first_step) */
    long cg_iterations_total;
    const char *backend;         /* static name */
} ct_run_result;

/* The problem a backend is created from, for this sim: `params` is the caller's buffer of
 * 6 * CT_MODEL_NPARAM reals that pb->param_sets points into; every other pointer borrows from sim. */
void ct_sim_backend_problem(const ct_sim *sim, int max_beats, ct_real *params, ct_backend_problem *pb);

/* Runs the whole simulation on `backend`. On a blow-up returns CT_ERR_NUMERIC with a message naming the
 * time and node position; files written so far stay, and metrics.json records the failure. A stop request
 * (ct_run.h: SIGINT, SIGTERM) ends it the same way after the step in progress, with CT_ERR_INTERRUPTED and
 * metrics.json's status "interrupted". The output folder is locked for the run (DIR/.lock, ct_output.h): a
 * second run into it is refused (CT_ERR_IO, naming the pid that holds it).
 * Under MPI with several ranks (host/mpi/ct_dist.h) every rank calls it with its sim and it runs split
 * across them (sim->dist from ct_sim_create_split, else a distribution made here from the whole sim); the
 * status is the same on every rank, but the result's per-node arrays, probes, conduction
 * velocities and ECG are filled on rank 0 only. */
ct_status ct_sim_run(const ct_sim *sim, const ct_backend_ops *backend, const ct_run_options *opt,
                     ct_run_result *result);
void ct_run_result_free(ct_run_result *r);

#endif /* CT_SIM_H */
