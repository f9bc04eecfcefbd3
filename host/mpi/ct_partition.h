/* ct_partition.h — splitting a mesh's nodes among MPI ranks (METIS) and one rank's share of it.
 *
 * Every node has one owner rank. Rank r's local mesh is every element that touches a node r owns; its
 * nodes are numbered owned first (0..n_owned-1), then ghosts (the other nodes of those elements), grouped by
 * owner rank (ascending) and in ascending global order within a group. The owned nodes start with the
 * interior ones (0..n_interior-1: no element around them has a ghost, so their matrix rows read owned values
 * only), then the boundary ones (n_interior..n_owned-1), each in ascending global order: a backend computes
 * the interior rows while the ghost values are in flight (ct_halo.h). A
 * neighbour is a rank that owns a ghost of r; the two exchange lists of a pair match by construction:
 * what r sends q (r's owned nodes in an element that q also owns a node of, ascending global order) is
 * exactly q's ghost group owned by r, in the same order. The lists are computed from the global mesh and
 * the owner array alone, with no communication, so every rank that holds both gets consistent lists.
 *
 * Assembled on the local mesh, the rows of owned nodes are complete (every element around an owned node
 * is local); ghost rows miss the elements of other ranks and are never used for results.
 *
 * This file does no MPI; it needs METIS only for ct_partition_nodes. Compiled with CT_HAVE_MPI.
 */
#ifndef CT_PARTITION_H
#define CT_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "fem/ct_csr.h"
#include "mesh/ct_mesh.h"

typedef struct ct_partition {
    int rank, n_ranks;
    size_t n_global;             /* nodes of the whole mesh */
    size_t n_owned, n_local;     /* local nodes: owned, then n_local - n_owned ghosts */
    size_t n_interior;           /* owned nodes 0..n_interior-1 share no element with a ghost */
    int32_t *l2g;                /* n_local global node ids, owned */
    ct_mesh *mesh;               /* the local mesh in local numbering (coordinates, tets, fibres, tissue), owned */
    int32_t *tet_l2g;            /* mesh->n_tets global element ids, owned */
    /* Each global element is "kept" by one rank, the owner of its lowest-numbered node, for output that
     * must not repeat an element (the pieces of a parallel .pvtu). */
    uint8_t *tet_kept;           /* mesh->n_tets: 1 where this rank keeps the element, owned */
    /* exchange lists */
    int n_neighbours;
    int *neighbour;              /* n_neighbours ranks, ascending, owned */
    size_t *send_start;          /* n_neighbours + 1 offsets into send_idx, owned */
    int32_t *send_idx;           /* send_start[n_neighbours] local indices of owned nodes, owned */
    size_t *recv_start;          /* n_neighbours + 1 offsets into the ghosts (0: node n_owned), owned */
} ct_partition;

/* A k-way METIS partition (METIS_PartGraphKway, fixed seed) of the graph of the off-diagonal pattern of
 * `pattern` (the node graph of a P1 matrix) into n_parts; owner (caller's, pattern->n) gets each node's
 * part. n_parts == 1 puts every node in part 0. Fails, naming the counts, when a part would be empty. */
ct_status ct_partition_nodes(const ct_csr *pattern, int n_parts, int32_t *owner);

/* Rank `rank`'s share of `mesh`, whose node i belongs to rank owner[i] (0..n_ranks-1). Caller owns *out
 * (ct_partition_destroy). */
ct_status ct_partition_build(const ct_mesh *mesh, const int32_t *owner, int n_ranks, int rank, ct_partition **out);
void ct_partition_destroy(ct_partition *p);

#endif /* CT_PARTITION_H */
