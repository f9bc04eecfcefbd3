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
 */
#ifndef CT_CHECKPOINT_H
#define CT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/ct_status.h"

#define CT_CHECKPOINT_VERSION 1u

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
} ct_checkpoint;

/* 64-bit FNV-1a hash of a file's bytes (0 and an error if it cannot be read). */
ct_status ct_checkpoint_hash_file(const char *path, uint64_t *hash);

/* Writes c to path atomically. */
ct_status ct_checkpoint_write(const char *path, const ct_checkpoint *c);

/* Reads path into *c (caller frees with ct_checkpoint_free) and checks it against `expect`: the message
 * names the file and what does not match. */
ct_status ct_checkpoint_read(const char *path, const ct_checkpoint_id *expect, ct_checkpoint *c);

void ct_checkpoint_free(ct_checkpoint *c);

#endif /* CT_CHECKPOINT_H */
