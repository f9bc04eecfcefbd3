/* ct_phase.h — phase maps and phase singularities, for locating re-entry (spiral and scroll waves).
 *
 * Phase (rad) comes from time-delay embedding of Vm (Gray et al. 1998; Iyer & Gray 2001). A phase
 * singularity is a point the phase winds around by +-2 pi; on a triangulated surface it shows up as a
 * triangle whose three wrapped edge phase differences add up to +-2 pi (its topological charge, +-1).
 *
 * Sign convention: a triangle's charge is taken along its node order (a, b, c), i.e. counter-clockwise
 * seen from the side its normal (b - a) x (c - a) points to. Phase increasing counter-clockwise seen
 * from there gives +1.
 *
 * Closed surfaces: the charges on a closed, consistently oriented surface add up to 0. A scroll-wave
 * filament that crosses a slab pierces its boundary twice, and with outward normals the two piercings
 * carry opposite charges (+1 on the top face, -1 on the bottom for the same rotation). Merged into one
 * cluster (a slab thinner than the cluster radius), they are reported as one singularity of charge 0.
 * For the chirality of a rotor, pass the triangles of one surface only (e.g. the epicardium).
 */
#ifndef CT_PHASE_H
#define CT_PHASE_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/ct_mesh.h"
#include "core/ct_status.h"

/* Boundary triangles of a tet mesh: faces that belong to exactly one tet, oriented outward (the normal
 * (b - a) x (c - a) of a triangle (a, b, c) points away from the 4th node of its tet). Works from the
 * tets alone (m->tris is ignored); O(n_tets log n_tets). Caller owns *tris (3 * *n_tris node indices;
 * free()); *tris is NULL when *n_tris == 0. CT_ERR_CONFIG on NULL arguments, CT_ERR_MESH on a tet node
 * index out of range, CT_ERR_NOMEM. */
ct_status ct_mesh_boundary_tris(const ct_mesh *m, int32_t **tris, size_t *n_tris);

/* Phase (rad, in (-pi, pi]) of each node by time-delay embedding (Gray et al. 1998; Iyer & Gray 2001):
 * theta = atan2(vm_delayed - v_star, vm_now - v_star), vm_delayed = Vm tau ms earlier. A node exactly at
 * v_star in both gets 0. All arrays are caller-owned, n_nodes long; phase_rad may not alias the inputs. */
void ct_phase_from_vm(size_t n_nodes, const double *vm_now_mV, const double *vm_delayed_mV, double v_star_mV,
                      double *phase_rad);

/* d (rad) wrapped into (-pi, pi]. */
double ct_phase_wrap(double d_rad);

typedef struct ct_phase_singularity {
    double position_mm[3]; /* mean of the centroids of the triangles in the cluster (mm) */
    int charge;            /* net topological charge of the cluster: +1 / -1 (0 possible if it cancels) */
    int n_triangles;       /* charged triangles merged into it */
} ct_phase_singularity;

/* Phase singularities on a triangulated surface: the topological charge of each triangle is the sum of
 * the phase differences along its three edges, each wrapped into (-pi, pi], divided by 2 pi (rounded; it
 * is -1, 0 or +1). A difference of exactly +-pi (a singularity on an edge) is wrapped to +pi going from the
 * lower node index to the higher and to -pi the other way, so the two triangles sharing that edge never
 * both count it, and the charges on a closed surface always add up to 0. Charged triangles whose
 * centroids lie within cluster_radius_mm (mm, >= 0) of each other (single linkage) form one singularity.
 * Clusters whose net charge is 0 (e.g. the two piercings of a thin slab by one filament, see above) are
 * still reported, with charge 0. Triangles with all three phases equal (resting tissue) or with a non-finite phase are
 * uncharged.
 *
 * tris: 3 * n_tris node indices into m (e.g. from ct_mesh_boundary_tris, or m->tris); phase_rad: m->n_nodes
 * phases (rad; any range, differences are wrapped). out: caller-owned array of max_out (>= 0) entries,
 * may be NULL when max_out == 0; filled with at most max_out singularities, largest clusters (most
 * triangles) first, ties in the order of their first triangle. *n_found = the total number found (may
 * exceed max_out). Errors (ct_error_set): CT_ERR_CONFIG on NULL inputs, a negative or non-finite radius,
 * a negative max_out, or a node index out of range (the message names the triangle); CT_ERR_NOMEM. */
ct_status ct_phase_singularities(const ct_mesh *m, const int32_t *tris, size_t n_tris, const double *phase_rad,
                                 double cluster_radius_mm, ct_phase_singularity *out, int max_out, int *n_found);

#endif /* CT_PHASE_H */
