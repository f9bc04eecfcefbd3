/* ct_pvd.h — writer of a ParaView .pvd collection: the time series of .vtu frames of one run.
 *
 * A .pvd is a tiny XML file listing <DataSet timestep="..." file="..."/>; opening it in ParaView gives
 * the frames as one animated dataset. VTK 9 has no public writer for it (only ParaView's own
 * vtkPVDWriter, which is not part of VTK), so this one is hand-written, in plain C.
 *
 * The whole file is rewritten atomically (PATH.tmp.<pid> + rename) at open and after every frame,
 * so ParaView can open it while the run goes on and a crash leaves the last complete version.
 */
#ifndef CT_PVD_H
#define CT_PVD_H

#ifdef __cplusplus
extern "C" {
#endif

/* ct_status.h carries its own extern "C" guard; including it here is harmless either way. */
#include "core/ct_status.h"

typedef struct ct_pvd ct_pvd; /* opaque */

/* Starts a new, empty collection at PATH, replacing any earlier file there, and writes it at once
 * (so an unwritable location fails here, not at the first frame: CT_ERR_IO naming the path).
 * On success *out is owned by the caller and must be freed with ct_pvd_destroy; on failure *out = NULL. */
ct_status ct_pvd_open(const char *path, ct_pvd **out);

/* Same as ct_pvd_open, for callers who prefer a pointer: NULL on failure, with ct_error_message() set. */
ct_pvd *ct_pvd_create(const char *path);

/* Appends one frame and rewrites the .pvd. `relative_file` is the frame's .vtu path relative to the
 * directory of the .pvd (copied; the caller keeps its string); it is XML-escaped on output.
 * time_ms must be finite. On failure the collection in memory and on disk is as before the call. */
ct_status ct_pvd_add(ct_pvd *p, double time_ms, const char *relative_file);

/* Number of frames added so far. */
int ct_pvd_n_frames(const ct_pvd *p);

/* Frees the collection in memory; the file on disk stays. NULL is allowed. */
void ct_pvd_destroy(ct_pvd *p);

#ifdef __cplusplus
}
#endif

#endif /* CT_PVD_H */
