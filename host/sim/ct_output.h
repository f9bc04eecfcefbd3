/* ct_output.h — the files a run leaves in its output folder:
 *   vm.pvd + vm_NNNNNN.vtu   Vm (mV) time series, the .pvd rewritten after each frame (open it mid-run)
 *   activation.vtu           activation_time_ms per node (-1: never activated), conduction velocity per element
 *   beats.vtu                per-beat activation, repolarisation and APD90
 *   metrics.json             probe activation times, run status, wall time, node-steps per second
 * Every .vtu (and every piece of a split run's .pvtu, host/mpi/ct_dist.c) also carries what lines it up with
 * the mesh file, whose nodes the run renumbers (elements keep their order): the point field node_id (Int32,
 * the node's index in the mesh file, ct_sim.h), and where the mesh has them the point field cell_type and
 * the cell fields tissue (the labels the run used: the file's, with tissue_regions and lesions painted
 * over) and aha_segment (Int8).
 * Every file is written to a temporary name and renamed into place.
 * While a run writes the folder it holds DIR/.lock (an flock, with the holder's pid in the file): a second
 * run into the same folder is refused, naming that pid; the lock dies with its process, so the file a
 * killed run leaves behind blocks nobody.
 */
#ifndef CT_OUTPUT_H
#define CT_OUTPUT_H

#include "ct_sim.h"
#include "io/ct_pvd.h"

typedef struct ct_output {
    char dir[3072];
    const ct_sim *sim;   /* borrowed */
    ct_pvd *pvd;         /* owned; NULL until the first frame */
    double *labels;      /* owned; NULL until the first whole-mesh file: node_id, cell_type, tissue, aha_segment */
    int n_frames;
    int n_frames_missing; /* a restart into another folder: earlier frames not found there (not listed) */
    int lock_fd;          /* DIR/.lock while held (ct_output_lock), else -1 */
} ct_output;

/* Creates the folder (and parents). The caller owns *out (ct_output_close). */
ct_status ct_output_open(const char *dir, const ct_sim *sim, ct_output **out);
/* Releases the lock (removing DIR/.lock) if held; NULL is allowed. */
void ct_output_close(ct_output *o);

/* Takes DIR/.lock for this process (one process per run: a split run's rank 0). CT_ERR_IO when another
 * live process holds it: "DIR is in use by another run (pid N)". */
ct_status ct_output_lock(ct_output *o);

/* Removes what this process left under temporary names in the folder (NAME.tmp.<pid>, from a write cut
 * short); returns how many. */
int ct_output_remove_temporaries(const ct_output *o);

ct_status ct_output_frame(ct_output *o, double t_ms, const double *vm_mV);
/* A run restarted from a checkpoint: lists the n_frames frames vm_000000.<frame_ext> ... the first run wrote
 * (at times_ms) in a new vm.pvd, without rewriting them, those of them that are in this folder (a restart
 * into another folder lists none it cannot find; o->n_frames_missing counts those left out); later frames
 * continue the numbering. frame_ext is
 * "vtu" (serial) or "pvtu" (a split run's rank 0); NULL only counts them (a split run's other ranks, which
 * write pieces but no collection). */
ct_status ct_output_resume_frames(ct_output *o, int n_frames, const double *times_ms, const char *frame_ext);
/* activation.vtu: activation_time_ms per node and, when cv_speed is not NULL, the conduction velocity per
 * element (m/s; NAN where undefined: an unactivated node or a breakthrough faster than 10 m/s; cv_along and
 * cv_across: the speed where the front travels along / across the fibre, NAN elsewhere). */
ct_status ct_output_activation(ct_output *o, const double *activation_ms, const double *cv_speed,
                               const double *cv_along, const double *cv_across);

/* beats.vtu: per beat b (1-based) point fields activation_ms_beat<b>, repolarisation_ms_beat<b> and
 * apd90_ms_beat<b> (-1 where the beat did not happen or did not repolarise). */
ct_status ct_output_beats(ct_output *o, const ct_run_result *r);

/* metrics.json; `status` CT_OK for a finished run ("completed", or "stopped" when r->stopped: --stop-at),
 * CT_ERR_INTERRUPTED for a stop request ("interrupted"), else "failed"; `message` says what went wrong or
 * why it stopped, and when. The last checkpoint written (r->checkpoint_path) is named. */
ct_status ct_output_metrics(ct_output *o, const ct_run_result *r, ct_status status, const char *message);

#endif /* CT_OUTPUT_H */
