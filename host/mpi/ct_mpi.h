/* ct_mpi.h — this process's place among the MPI ranks of a run, and the collective helpers that keep
 * the ranks in step when something fails.
 *
 * MPI is started only for `cardiotwin run` and only when a launcher started the process (mpirun, mpiexec,
 * srun: ct_mpi_launched()), so every other use of the binary stays a plain serial program. Without MPI
 * compiled in (CT_HAVE_MPI unset), or when MPI was not started, every function answers "rank 0 of 1" and
 * the collectives return their argument: callers need no #ifdef.
 */
#ifndef CT_MPI_H
#define CT_MPI_H

#include <stddef.h>

#include "core/ct_status.h"

/* Whether a launcher started this process: Open MPI's OMPI_COMM_WORLD_SIZE, PMI_RANK / PMI_SIZE (MPICH,
 * Intel MPI, srun --mpi=pmi2), PMIX_RANK (srun --mpi=pmix), or CT_MPI=1 to force it. */
int ct_mpi_launched(void);

/* The number of ranks and this process's rank as the launcher's environment gives them (1 and 0 when not
 * launched), for commands that do not start MPI but must refuse to run as several copies. */
int ct_mpi_launched_size(void);
int ct_mpi_launched_rank(void);

/* MPI_Init (once), when MPI is compiled in and ct_mpi_launched(); otherwise nothing. With several ranks it
 * also sets CT_LOCAL_RANK (unless set) to the rank among those on this node: the CUDA and OpenCL backends
 * then default to device CT_LOCAL_RANK modulo the devices they can use (one GPU per rank). */
ct_status ct_mpi_init(int *argc, char ***argv);
/* MPI_Finalize if ct_mpi_init started MPI. */
void ct_mpi_finalize(void);

int ct_mpi_rank(void);       /* 0 when MPI is not running */
int ct_mpi_size(void);       /* 1 when MPI is not running */
int ct_mpi_local_rank(void); /* rank among the ranks on this node (MPI_COMM_TYPE_SHARED); 0 when not running */
int ct_mpi_local_size(void);

/* Collective over all ranks: if any rank's `st` is not CT_OK, every rank returns the status of the lowest
 * such rank, with its message ("rank R: ..." when R is not the caller) as ct_error_message(). A barrier in
 * effect. Without MPI returns st. */
ct_status ct_mpi_agree(ct_status st);

/* For a failure that leaves the ranks in different places (one rank failed inside a step while the others
 * wait for its halo values): prints "cardiotwin: rank R: message" to stderr and ends every rank with
 * MPI_Abort(1). Without MPI prints the message and exits with status 1. Does not return. */
void ct_mpi_abort(const char *message);

/* On every rank but 0: stdout and stderr go to /dev/null, so a command's messages and results appear once
 * (rank 0 prints what the agreements bring it, "rank R: ..."). ct_mpi_abort still writes to the original
 * stderr. Nothing when MPI is not running or on rank 0. */
void ct_mpi_quiet_other_ranks(void);

/* 1 if halo buffers may be CUDA device memory: the MPI library says at run time that it is CUDA-aware
 * (MPIX_Query_cuda_support, where Open MPI provides it) and CT_MPI_CUDA_AWARE is not "0" (the way to turn
 * it off when a library claims more than it does). 0 otherwise, and without MPI: halo values are then
 * staged through host memory. */
int ct_mpi_cuda_aware(void);

/* One line about the MPI library for the run log: ranks, library version, whether it is CUDA-aware (and so
 * whether a CUDA backend's halo goes device to device or through host memory). Writes into buf and
 * returns it. */
const char *ct_mpi_describe(char *buf, size_t len);

#endif /* CT_MPI_H */
