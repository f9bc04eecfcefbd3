/* ct_halo.h — the MPI side of a backend's halo (kernels/backend.h ct_halo): ghost exchange and global sums
 * for one rank's partition.
 *
 * exchange_begin: one MPI_Irecv per neighbour straight into its (contiguous) range of the ghost values and
 * one MPI_Isend per neighbour from its range of the send values; exchange_end: MPI_Waitall. Between the two
 * a backend computes the rows that need no ghost value. The plan has its own communicator (MPI_Comm_dup), so
 * halo traffic never matches any other message. With a CUDA-aware library (ct_mpi_cuda_aware) the halo says
 * device_memory_ok, and a CUDA backend hands device buffers straight to MPI.
 *
 * sum: MPI_Allgather of every rank's values, then the same sum in rank order on every rank. That makes the
 * totals identical bit for bit on all ranks, whatever reduction algorithm the MPI library picks (an
 * MPI_Allreduce need not give every rank the same rounding), so the CG stopping test takes the same branch
 * everywhere; for the 1-3 values of a CG reduction it costs the same latency as an MPI_Allreduce.
 *
 * Compiled with CT_HAVE_MPI.
 */
#ifndef CT_HALO_H
#define CT_HALO_H

#include "../../kernels/backend.h"
#include "ct_partition.h"

/* Most values one sum() call takes. */
#define CT_HALO_MAX_SUM 8

typedef struct ct_halo_plan ct_halo_plan; /* opaque */

/* The plan of partition p (which must outlive it). Collective over MPI_COMM_WORLD (it duplicates it).
 * Caller owns *out (ct_halo_plan_destroy, also collective). */
ct_status ct_halo_plan_create(const ct_partition *p, ct_halo_plan **out);
void ct_halo_plan_destroy(ct_halo_plan *h);

/* The description a backend takes (ct_backend_problem.halo); valid while the plan lives. */
const ct_halo *ct_halo_plan_halo(const ct_halo_plan *h);

#endif /* CT_HALO_H */
