/* fuzz_util.h — what the libFuzzer targets of fuzz/ share: a per-process scratch folder for readers that
 * take a path, and the checks ("oracles") that turn a wrong answer into a crash libFuzzer reports.
 *
 * A finding is any sanitizer report, any crash, and any abort() from these checks:
 *   - a reader that fails must leave a message that names the input (file or source name) and must not
 *     report CT_ERR_INTERNAL (an internal error is a bug, not bad input);
 *   - a mesh that a reader accepted must pass ct_mesh_validate() and ct_mesh_check_topology() again, and
 *     must hold what they promise (positive finite tet volumes, unit fibres, labels in range).
 */
#ifndef CT_FUZZ_UTIL_H
#define CT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/ct_mesh.h"
#include "core/ct_status.h"

/* path = <this process's scratch folder>/name; the folder is made on first use and removed at exit. */
const char *ct_fuzz_path(const char *name);

/* Writes `size` bytes to ct_fuzz_path(name) and returns that path (aborts if it cannot: not a finding
 * about the input). */
const char *ct_fuzz_write(const char *name, const uint8_t *data, size_t size);

/* Removes ct_fuzz_path(name) if it exists. */
void ct_fuzz_remove(const char *name);

/* The input as a NUL-terminated string (caller frees). */
char *ct_fuzz_string(const uint8_t *data, size_t size);

/* Checks the outcome of a reader: on failure the message must name `must_name` and the status must
 * not be CT_ERR_INTERNAL; aborts otherwise. */
void ct_fuzz_check_status(ct_status st, const char *must_name, const char *what);

/* A mesh a reader accepted: validation and topology checks must pass again, and their promises hold
 * (and ct_mesh_orient finds nothing to flip);
 * also runs the geometric queries (bounds, volume, point location). Aborts on a broken promise. */
void ct_fuzz_check_mesh(ct_mesh *m, const char *source);

#endif /* CT_FUZZ_UTIL_H */
