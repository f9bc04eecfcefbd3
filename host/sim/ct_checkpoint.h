/* ct_checkpoint.h — checkpoint files: the whole state of a run, to restart it later.
 *
 * A checkpoint holds what a run needs to go on exactly as if it had not stopped: the backend's state
 * blob (Vm, every ionic state variable, activation and beat tracking: backend.h save_state), the step
 * reached (time and stimulus progress follow from it), and the host's accumulators (pseudo-ECG samples so
 * far, the Vm frames already written, CG iterations). Restarted on the same backend and rank count, the run
 * gives the same result bit for bit.
 *
 * File layout (little-endian, as written by this machine): a fixed header (magic "CTCKPT01", format
 * version, backend name, node count, model id, dt, a hash of the configuration file's bytes, the step, the
 * section sizes), the state blob, the host section, then a CRC-32 (zlib) of everything before it.
 * Written to a temporary file, fsync'd and renamed, so a crash or a full disk leaves the previous checkpoint
 * intact. A file that is truncated, corrupt (CRC), of another format version, or written for another
 * configuration, backend or mesh is refused with a message naming the file and the mismatch.
 *
 * A run split across MPI ranks (mpi/ct_dist.h) writes no such single file: each rank writes its own piece
 * (the same layout, format version 4: after the fixed header the partition's hash, the rank's owned and
 * local node counts and the global node number of each local node, owned first then ghosts as
 * mpi/ct_partition.h numbers them; then the rank's backend blob, which covers its ghosts too), and rank 0,
 * once every piece is on disk, writes a small text manifest at the checkpoint's path: the rank count, the
 * step, the backend, the configuration and partition hashes, each piece's file name (relative to the
 * manifest's folder), size and CRC-32, and a CRC-32 of the manifest's own lines. Pieces carry the step in
 * their names, so the previous checkpoint's pieces stay valid until the new manifest has replaced the old
 * one. The serial format (ranks 1) is the same layout with version 3.
 *
 * Format versions 3 (serial) and 4 (piece) replaced 1 and 2 when the backend blob gained the last step's
 * post-reaction Vm (the extrapolated CG start of implicit diffusion, backend.h ct_cg_start): a file of the older
 * versions is refused with a message naming the file and the reason, not misread.
 */
#ifndef CT_CHECKPOINT_H
#define CT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/ct_status.h"

#define CT_CHECKPOINT_VERSION 3u       /* a serial run's file */
#define CT_CHECKPOINT_PIECE_VERSION 4u /* one rank's piece of a split run's checkpoint */
/* Versions 1 (serial) and 2 (piece): the same layout, written before the backends' state blob held the last
 * post-reaction Vm of the extrapolated CG start (implicit diffusion); refused with a message saying so. */
#define CT_CHECKPOINT_OLD_VERSION 1u
#define CT_CHECKPOINT_OLD_PIECE_VERSION 2u

/* What identifies the run a checkpoint belongs to. */
typedef struct ct_checkpoint_id {
    char backend[16];          /* backend name */
    uint64_t n_nodes;
    uint32_t model;            /* enum ct_model_id */
    double dt_ms;
    uint64_t config_hash;      /* ct_checkpoint_hash_file() of the configuration */
    uint32_t ranks;            /* MPI ranks (1: serial) */
    uint32_t rank;
} ct_checkpoint_id;

/* The content. All arrays are owned by whoever filled the struct (ct_checkpoint_read: free with
 * ct_checkpoint_free). */
typedef struct ct_checkpoint {
    ct_checkpoint_id id;
    int64_t step;              /* steps completed: t = step * dt_ms */
    uint64_t state_bytes;
    void *state;               /* backend blob */
    int64_t cg_iterations_total;
    uint64_t n_frames;         /* Vm frames written so far */
    double *frame_times_ms;    /* n_frames */
    uint64_t n_ecg_samples, n_ecg_leads;
    double *ecg_times_ms;      /* n_ecg_samples */
    double *ecg_values;        /* n_ecg_samples * n_ecg_leads */
    /* a piece of a split run (id.ranks > 1) only */
    uint64_t partition_hash;   /* FNV-1a of the owner array (mpi/ct_dist.c) */
    uint64_t n_owned, n_local; /* the rank's nodes: owned, owned + ghosts */
    int32_t *local_gid;        /* n_local global node numbers */
    uint32_t crc32;            /* set by ct_checkpoint_read: the file's CRC-32 (its last 4 bytes) */
} ct_checkpoint;

/* 64-bit FNV-1a hash of a file's bytes (0 and an error if it cannot be read). */
ct_status ct_checkpoint_hash_file(const char *path, uint64_t *hash);

/* Writes c to path atomically: version 1 when c->id.ranks <= 1, else a piece (version 2). */
ct_status ct_checkpoint_write(const char *path, const ct_checkpoint *c);
/* The same, also giving the file's CRC-32 and size in bytes (for the manifest); either may be NULL. */
ct_status ct_checkpoint_write_crc(const char *path, const ct_checkpoint *c, uint32_t *crc32_out,
                                  uint64_t *bytes_out);

/* Reads path into *c (caller frees with ct_checkpoint_free) and checks it against `expect`: the message
 * names the file and what does not match. */
ct_status ct_checkpoint_read(const char *path, const ct_checkpoint_id *expect, ct_checkpoint *c);

void ct_checkpoint_free(ct_checkpoint *c);

/* The manifest of a split run's checkpoint (format above). Arrays owned by whoever filled the struct
 * (ct_checkpoint_manifest_read: free with ct_checkpoint_manifest_free). */
typedef struct ct_checkpoint_manifest {
    uint32_t ranks;
    int64_t step;
    char backend[16];
    uint64_t config_hash, partition_hash;
    char (*piece)[256];        /* ranks file names, relative to the manifest's folder, no newline */
    uint64_t *piece_bytes;     /* ranks */
    uint32_t *piece_crc32;     /* ranks */
} ct_checkpoint_manifest;

/* Writes m to path atomically. */
ct_status ct_checkpoint_manifest_write(const char *path, const ct_checkpoint_manifest *m);
/* Reads and checks (format, its own CRC, one line per rank) path into *m; messages name the file. A serial
 * checkpoint file given here is refused as "a run on 1 MPI rank(s)". */
ct_status ct_checkpoint_manifest_read(const char *path, ct_checkpoint_manifest *m);
void ct_checkpoint_manifest_free(ct_checkpoint_manifest *m);

#endif /* CT_CHECKPOINT_H */
