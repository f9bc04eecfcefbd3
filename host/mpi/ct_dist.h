/* ct_dist.h — one simulation split across MPI ranks: what the time loop (host/sim/ct_run.c) needs beyond the
 * serial run.
 *
 * Every rank holds the whole ct_sim (it read the configuration and built the global mesh, parameters and
 * stimuli itself). ct_dist_create() partitions the nodes with METIS on rank 0 and broadcasts the owners;
 * each rank then builds its local mesh (host/mpi/ct_partition.h), assembles K and M on it with
 * ct_fem_assemble, takes the per-node arrays (parameter set, stimulus mask) of its local nodes from the
 * global ones, and sets up the halo (host/mpi/ct_halo.h) that its backend uses. Results travel to rank 0
 * by global node number (ct_dist_gather), where the serial post-processing runs unchanged; Vm frames are
 * written as one piece per rank plus a .pvtu (ct_dist_frame).
 *
 * Without MPI (CT_HAVE_MPI unset) ct_dist_wanted() is 0, ct_dist_create() fails and every other function
 * treats a NULL ct_dist as the serial run (the agreements return their argument), so ct_run.c has no
 * #ifdef.
 */
#ifndef CT_DIST_H
#define CT_DIST_H

#include "sim/ct_output.h"
#include "sim/ct_sim.h"

typedef struct ct_dist ct_dist; /* opaque */

/* Whether this run is to be split: MPI is compiled in and running with more than one rank. */
int ct_dist_wanted(void);

/* Partitions sim across the ranks and builds this rank's share. Collective; the status is agreed (every
 * rank gets the first failing rank's error). Caller owns *out (ct_dist_destroy, collective too). */
ct_status ct_dist_create(const ct_sim *sim, ct_dist **out);
void ct_dist_destroy(ct_dist *d);

int ct_dist_rank(const ct_dist *d);         /* 0 for NULL */
size_t ct_dist_n_local(const ct_dist *d);   /* this rank's nodes, owned and ghost (0 for NULL) */
/* One line for the run log: ranks, owned and ghost nodes per rank (min..max), neighbours. */
const char *ct_dist_summary(const ct_dist *d);

/* This rank's backend problem: ct_sim_backend_problem() with the local nodes, matrices and halo. */
void ct_dist_backend_problem(const ct_dist *d, const ct_sim *sim, int max_beats, ct_real *params,
                             ct_backend_problem *pb);

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

/* Checkpoints of a split run (host/sim/ct_run.c): one file, written by rank 0, holding every rank's backend
 * state. The blob rank 0 gets from ct_dist_gather_state is a header (a magic, the rank count, a hash of the
 * partition, each rank's size) then the ranks' states in rank order; ct_dist_scatter_state checks that
 * header against this run's partition and hands each rank its part, so a checkpoint restarts only with the
 * same mesh, rank count and partition (METIS is run with a fixed seed, so the same inputs give the same
 * one).
 *
 * The parts travel point to point in messages of at most 1 GiB (CT_MPI_MESSAGE_BYTES, read on rank 0, sets
 * a smaller cap: the tests use it to send each part in many pieces), so no part or total is limited by
 * MPI's int counts; rank 0 holds the whole state once.
 *
 * gather: `st` is the status of filling this rank's `blob` (bytes); rank 0 gets *all (malloc'd, the caller
 * frees) and *all_bytes, other ranks NULL and 0. Collective; the result is agreed. */
ct_status ct_dist_gather_state(const ct_dist *d, ct_status st, const void *blob, size_t bytes, void **all,
                               size_t *all_bytes);
/* scatter: rank 0's `all` (all_bytes, read from `path`, named in errors; ignored elsewhere) into every
 * rank's `blob` of `bytes`. Collective; the result is agreed. */
ct_status ct_dist_scatter_state(const ct_dist *d, const char *path, const void *all, size_t all_bytes, void *blob,
                                size_t bytes);
/* rank 0's `bytes` of buf to every rank; `st` is rank 0's status of filling it. Collective; agreed. */
ct_status ct_dist_bcast(const ct_dist *d, ct_status st, void *buf, size_t bytes);

/* One Vm frame at t_ms (the next frame number of `out`): every rank writes vm_NNNNNN_pRRRR.vtu with the
 * elements it keeps (ct_partition.h) and local_vm at their nodes; rank 0 writes vm_NNNNNN.pvtu listing the
 * pieces (by hand: VTK's parallel writer is not among the linked modules; atomically) and adds it to
 * vm.pvd. `st` is the status of filling local_vm; the result is agreed. Collective. */
ct_status ct_dist_frame(const ct_dist *d, ct_output *out, double t_ms, ct_status st, const double *local_vm);

#endif /* CT_DIST_H */
