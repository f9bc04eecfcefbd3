/* ct_dist.h — one simulation split across MPI ranks: what the time loop (host/sim/ct_run.c) needs beyond the
 * serial run.
 *
 * Every rank reads the configuration and the whole mesh and builds the whole per-node labels (parameter
 * set, stimulus mask, element conductivity factors) itself, but not the whole-problem matrices
 * (ct_sim_create_split). ct_dist_create() partitions the node graph (built from the elements on rank 0 alone,
 * or taken from sim->stiffness where a whole sim has it) with METIS on rank 0 -- the serial METIS on the
 * whole graph, about 130 bytes per node on rank 0 during the partition, while that fits -- and broadcasts the
 * owners; each rank then builds its local mesh (host/mpi/ct_partition.h: the elements around its owned
 * nodes), assembles K and M on it with ct_fem_assemble, takes the per-node arrays of its local nodes from the
 * whole ones, and sets up the halo (host/mpi/ct_halo.h) that its backend uses. Final results travel to
 * rank 0 by global node number (ct_dist_gather), where the serial post-processing runs unchanged; Vm frames
 * are written as one piece per rank plus a .pvtu (ct_dist_frame), checkpoints as one piece per rank plus a
 * manifest (ct_dist_checkpoint_write), and the pseudo-ECG is a reduction of per-rank partial sums
 * (ct_dist_ecg_sample).
 *
 * Without MPI (CT_HAVE_MPI unset) ct_dist_wanted() is 0, ct_dist_create() fails and every other function
 * treats a NULL ct_dist as the serial run (the agreements return their argument), so ct_run.c has no
 * #ifdef.
 */
#ifndef CT_DIST_H
#define CT_DIST_H

#include "metrics/ct_ecg.h"
#include "sim/ct_checkpoint.h"
#include "sim/ct_output.h"
#include "sim/ct_sim.h"

typedef struct ct_dist ct_dist; /* opaque */

/* Whether this run is to be split: MPI is compiled in and running with more than one rank. */
int ct_dist_wanted(void);

/* Partitions sim across the ranks and builds this rank's share. Collective; the status is agreed (every
 * rank gets the first failing rank's error). Caller owns *out (ct_dist_destroy, collective too). */
ct_status ct_dist_create(const ct_sim *sim, ct_dist **out);
void ct_dist_destroy(ct_dist *d);

/* Set-up wall time (s) of this rank's ct_dist_create: partition (node graph and METIS on rank 0, owners
 * broadcast, this rank's local mesh) and assemble (K and M on the local mesh). 0 for NULL. */
void ct_dist_setup_times(const ct_dist *d, double *partition_s, double *assemble_s);
/* The Gershgorin bound (1/ms) of M_L^-1 K over the owned rows of every rank (ct_fem_max_rate_bound on the
 * whole problem, exactly: owned rows are complete). Collective, agreed. */
ct_status ct_dist_max_rate_bound(const ct_dist *d, double *rate);
/* max[k] = the maximum of mine[k] over the ranks (n values). Collective. d == NULL: a copy. */
void ct_dist_max_doubles(const ct_dist *d, const double *mine, double *max, int n);

int ct_dist_rank(const ct_dist *d);         /* 0 for NULL */
size_t ct_dist_n_local(const ct_dist *d);   /* this rank's nodes, owned and ghost (0 for NULL) */
/* One line for the run log: ranks, owned and ghost nodes per rank (min..max), neighbours. */
const char *ct_dist_summary(const ct_dist *d);

/* This rank's backend problem: ct_sim_backend_problem() with the local nodes, matrices and halo. */
void ct_dist_backend_problem(const ct_dist *d, const ct_sim *sim, int max_beats, ct_real *params,
                             ct_backend_problem *pb);

/* Frees this rank's local matrices and lumped mass (a backend copies them at create: kernels/backend.h);
 * ct_dist_backend_problem then gives NULL matrices. NULL d: nothing. */
void ct_dist_release_matrices(ct_dist *d);

/* ct_mpi_agree(st) for a split run; st unchanged for d == NULL. */
ct_status ct_dist_agree(const ct_dist *d, ct_status st);

/* After a step: every rank gets the same outcome. A blow-up (CT_ERR_NUMERIC with a bad node) anywhere makes
 * every rank return CT_ERR_NUMERIC with rep->bad_node the lowest bad *global* node over all ranks and its
 * value; another CT_ERR_NUMERIC (CG did not converge: the ranks run CG in lockstep, so they fail together)
 * is shared with its message. Any other failure happened inside the step, where the other ranks may be
 * waiting for this one's halo values: it is printed and the job is ended (ct_mpi_abort). d == NULL: st. */
ct_status ct_dist_agree_step(const ct_dist *d, ct_status st, ct_step_report *rep);

/* Collects a per-node field to rank 0: `local` holds per_node blocks of n_local values (block b of local
 * node i at [b*n_local + i], as the backends' beat fields); rank 0 gets per_node blocks of n_global values in
 * `global` (by global node; other ranks' `global` is not touched). `st` is the status of filling `local`;
 * the result is agreed. Collective. */
ct_status ct_dist_gather(const ct_dist *d, ct_status st, const double *local, int per_node, double *global);

/* Checkpoints of a split run (host/sim/ct_run.c; the format in sim/ct_checkpoint.h): every rank writes its
 * own piece, "<path>.s<step>.p<rank>" beside `path`, so no checkpoint passes through one rank's memory; once
 * every piece is on disk (an agreement) rank 0 writes the manifest at `path`.
 *
 * write: `c` is this rank's checkpoint as the serial run fills it (its backend blob in c->state, rank 0's
 * ECG samples); `st` is the status of filling it. This function sets c->id.rank and the piece section (the
 * partition hash, the node counts and numbers: borrowed, reset to NULL before it returns). `piece` (of
 * piece_len bytes) holds the previous piece this rank wrote ("" if none), removed once the new manifest is
 * in place, and gets the new piece's path. Collective; the result is agreed. */
ct_status ct_dist_checkpoint_write(const ct_dist *d, ct_status st, const char *path, ct_checkpoint *c, char *piece,
                                   size_t piece_len);
/* read: every rank reads the manifest at `path` and then only its own piece, into *c (caller frees with
 * ct_checkpoint_free), and checks the piece against `expect` (with this rank's number), the manifest (CRC,
 * step) and this run's partition (hash, node numbers). A checkpoint of another rank count is refused naming
 * both counts (the state blobs are per-backend and per-partition; restart on the rank count it was written
 * with). `piece` gets the piece's path. Collective; the result is agreed, so a missing or corrupt piece
 * stops every rank with one message naming the file. */
ct_status ct_dist_checkpoint_read(const ct_dist *d, const char *path, const ct_checkpoint_id *expect,
                                  ct_checkpoint *c, char *piece, size_t piece_len);

/* The pseudo-ECG of a split run (metrics/ct_ecg.h), by reduction: every rank holds the electrodes' weights
 * of its owned nodes only (built on its local mesh, whose elements around an owned node are all there;
 * electrode placement from the whole mesh's bounding box), and a sample is one MPI_Reduce of the ranks'
 * partial electrode potentials to rank 0, which alone records the samples. Vm is never gathered.
 * create: collective, agreed; caller owns *out (ct_ecg_destroy). d == NULL: ct_ecg_create on `whole`. */
ct_status ct_dist_ecg_create(const ct_dist *d, const ct_mesh *whole, const ct_ecg_conductivity *cond,
                             const ct_ecg_placement *place, ct_ecg **out);
/* One sample at t_ms from this rank's local Vm (local_vm, n_local values; owned first); `st` is the status
 * of filling local_vm. Collective; agreed. d == NULL: ct_ecg_sample(ecg, local_vm, t_ms) on the whole Vm. */
ct_status ct_dist_ecg_sample(const ct_dist *d, ct_status st, ct_ecg *ecg, const double *local_vm, double t_ms);

/* One Vm frame at t_ms (the next frame number of `out`): every rank writes vm_NNNNNN_pRRRR.vtu with the
 * elements it keeps (ct_partition.h) and local_vm at their nodes; rank 0 writes vm_NNNNNN.pvtu listing the
 * pieces (by hand: VTK's parallel writer is not among the linked modules; atomically) and adds it to
 * vm.pvd. `st` is the status of filling local_vm; the result is agreed. Collective. */
ct_status ct_dist_frame(const ct_dist *d, ct_output *out, double t_ms, ct_status st, const double *local_vm);

#endif /* CT_DIST_H */
