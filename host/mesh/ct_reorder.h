/* ct_reorder.h — node renumbering for memory locality (reverse Cuthill-McKee).
 *
 * Neighbouring nodes get nearby numbers, so the SpMV's gathers of x and the model's SoA loads stay in
 * cache lines and GPU transactions. Hand-written: METIS offers nested dissection (a fill-reducing order),
 * not a bandwidth-reducing one, and no Debian library we use exposes RCM on a plain graph.
 */
#ifndef CT_REORDER_H
#define CT_REORDER_H

#include "ct_mesh.h"

/* Renumbers the nodes of `mesh` in place by reverse Cuthill-McKee over its element graph (each connected
 * piece started from a pseudo-peripheral node). If old_to_new is not NULL it receives a malloc'ed array
 * (caller frees) with the new index of every old node. */
ct_status ct_mesh_reorder_rcm(ct_mesh *mesh, int32_t **old_to_new);

/* Largest |i - j| over pairs of nodes sharing an element. */
size_t ct_mesh_bandwidth(const ct_mesh *mesh);

/* Applies a node permutation (new index of each old node, a bijection) in place. */
ct_status ct_mesh_permute_nodes(ct_mesh *mesh, const int32_t *old_to_new);

#endif /* CT_REORDER_H */
