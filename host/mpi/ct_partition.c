/* ct_partition.c — METIS node partition and one rank's local mesh with its exchange lists (ct_partition.h). */
#include "ct_partition.h"

#ifdef CT_HAVE_MPI

#include <limits.h>
#include <metis.h>
#include <stdlib.h>
#include <string.h>

ct_status ct_partition_nodes(const ct_csr *pattern, int n_parts, int32_t *owner)
{
    size_t n = pattern->n;
    if (n_parts < 1)
        return ct_error_set(CT_ERR_INTERNAL, "partition: %d parts", n_parts);
    if (n_parts == 1) {
        memset(owner, 0, n * sizeof *owner);
        return CT_OK;
    }
    if ((size_t)n_parts > n)
        return ct_error_set(CT_ERR_CONFIG, "partition: a mesh of %zu nodes cannot be split among %d ranks", n, n_parts);
    if (n > (size_t)INT32_MAX || pattern->nnz > (size_t)INT32_MAX)
        return ct_error_set(CT_ERR_MESH, "partition: %zu nodes / %zu matrix entries exceed METIS's 32-bit indices", n,
                            pattern->nnz);
    idx_t *xadj = malloc((n + 1) * sizeof *xadj), *adjncy = malloc((pattern->nnz + 1) * sizeof *adjncy);
    idx_t *part = malloc((n + 1) * sizeof *part);
    size_t *count = calloc((size_t)n_parts, sizeof *count);
    ct_status st = CT_OK;
    if (!xadj || !adjncy || !part || !count)
        st = ct_error_set(CT_ERR_NOMEM, "partition: out of memory for the graph of %zu nodes", n);
    if (st == CT_OK) {
        size_t k = 0;
        xadj[0] = 0;
        for (size_t i = 0; i < n; i++) {
            for (int32_t j = pattern->row_ptr[i]; j < pattern->row_ptr[i + 1]; j++)
                if ((size_t)pattern->col[j] != i)
                    adjncy[k++] = (idx_t)pattern->col[j];
            xadj[i + 1] = (idx_t)k;
        }
        idx_t nv = (idx_t)n, ncon = 1, np = (idx_t)n_parts, cut = 0;
        idx_t options[METIS_NOPTIONS];
        METIS_SetDefaultOptions(options);
        options[METIS_OPTION_NUMBERING] = 0;
        options[METIS_OPTION_SEED] = 4321; /* fixed: the same mesh always gives the same partition */
        int rc = METIS_PartGraphKway(&nv, &ncon, xadj, adjncy, NULL, NULL, NULL, &np, NULL, NULL, options, &cut, part);
        if (rc != METIS_OK)
            st = ct_error_set(CT_ERR_INTERNAL, "partition: METIS_PartGraphKway of %zu nodes into %d parts failed (%s)", n,
                              n_parts,
                              rc == METIS_ERROR_MEMORY ? "out of memory" : rc == METIS_ERROR_INPUT ? "bad input" : "error");
    }
    for (size_t i = 0; st == CT_OK && i < n; i++) {
        if (part[i] < 0 || part[i] >= n_parts)
            st = ct_error_set(CT_ERR_INTERNAL, "partition: METIS put node %zu in part %d of %d", i, (int)part[i], n_parts);
        else {
            owner[i] = (int32_t)part[i];
            count[part[i]]++;
        }
    }
    for (int q = 0; st == CT_OK && q < n_parts; q++)
        if (count[q] == 0)
            st = ct_error_set(CT_ERR_CONFIG, "partition: METIS left rank %d without nodes (%zu nodes, %d ranks): use fewer ranks",
                              q, n, n_parts);
    free(xadj);
    free(adjncy);
    free(part);
    free(count);
    return st;
}

void ct_partition_destroy(ct_partition *p)
{
    if (!p)
        return;
    free(p->l2g);
    ct_mesh_destroy(p->mesh);
    free(p->tet_l2g);
    free(p->tet_kept);
    free(p->neighbour);
    free(p->send_start);
    free(p->send_idx);
    free(p->recv_start);
    free(p);
}

/* The work of ct_partition_build on p (rank, n_ranks, n_global set); scratch arrays are the caller's. */
static ct_status build(const ct_mesh *m, const int32_t *owner, ct_partition *p, int32_t *g2l, uint8_t *touched,
                       size_t *ghost_count, int *nbr_index)
{
    const size_t n = m->n_nodes, ne = m->n_tets;
    const int rank = p->rank;

    /* Local elements (touching an owned node) and the nodes they touch. */
    size_t n_local_tets = 0;
    for (size_t e = 0; e < ne; e++) {
        const int32_t *t = m->tets + 4 * e;
        if (owner[t[0]] == rank || owner[t[1]] == rank || owner[t[2]] == rank || owner[t[3]] == rank) {
            n_local_tets++;
            int has_ghost = owner[t[0]] != rank || owner[t[1]] != rank || owner[t[2]] != rank || owner[t[3]] != rank;
            for (int a = 0; a < 4; a++) /* 2: an owned node of an element with a ghost (a boundary node) */
                if (touched[t[a]] < 2)
                    touched[t[a]] = (uint8_t)(has_ghost && owner[t[a]] == rank ? 2 : 1);
        }
    }
    /* Interior owned nodes first, then boundary owned nodes, each in global order; then ghosts grouped by
     * owner rank, each group in global order. */
    size_t n_owned = 0, n_interior = 0, n_ghost = 0;
    for (size_t i = 0; i < n; i++) {
        if (owner[i] == rank) {
            n_owned++;
            n_interior += touched[i] != 2;
        } else if (touched[i]) {
            n_ghost++;
            ghost_count[owner[i]]++;
        }
    }
    p->n_owned = n_owned;
    p->n_interior = n_interior;
    p->n_local = n_owned + n_ghost;
    p->n_neighbours = 0;
    for (int q = 0; q < p->n_ranks; q++)
        nbr_index[q] = ghost_count[q] > 0 ? p->n_neighbours++ : -1;
    p->l2g = malloc((p->n_local + 1) * sizeof *p->l2g);
    p->neighbour = malloc(((size_t)p->n_neighbours + 1) * sizeof *p->neighbour);
    p->recv_start = malloc(((size_t)p->n_neighbours + 1) * sizeof *p->recv_start);
    p->send_start = malloc(((size_t)p->n_neighbours + 1) * sizeof *p->send_start);
    size_t *fill = calloc((size_t)p->n_neighbours + 1, sizeof *fill);
    if (!p->l2g || !p->neighbour || !p->recv_start || !p->send_start || !fill) {
        free(fill);
        return ct_error_set(CT_ERR_NOMEM, "partition: out of memory for %zu local nodes", p->n_local);
    }
    p->recv_start[0] = 0;
    for (int q = 0; q < p->n_ranks; q++)
        if (nbr_index[q] >= 0) {
            p->neighbour[nbr_index[q]] = q;
            p->recv_start[nbr_index[q] + 1] = p->recv_start[nbr_index[q]] + ghost_count[q];
        }
    size_t k_interior = 0, k_boundary = n_interior;
    for (size_t i = 0; i < n; i++) {
        size_t at;
        if (owner[i] == rank)
            at = touched[i] == 2 ? k_boundary++ : k_interior++;
        else if (touched[i]) {
            int k = nbr_index[owner[i]];
            at = n_owned + p->recv_start[k] + fill[k]++;
        } else
            continue;
        p->l2g[at] = (int32_t)i;
        g2l[i] = (int32_t)at;
    }
    free(fill);

    /* The local mesh. */
    CT_CHECK(ct_mesh_create(p->n_local, n_local_tets, &p->mesh));
    ct_mesh *lm = p->mesh;
    p->tet_l2g = malloc((n_local_tets + 1) * sizeof *p->tet_l2g);
    p->tet_kept = malloc(n_local_tets + 1);
    if (m->tissue)
        lm->tissue = malloc((n_local_tets + 1) * sizeof *lm->tissue);
    if (!p->tet_l2g || !p->tet_kept || (m->tissue && !lm->tissue))
        return ct_error_set(CT_ERR_NOMEM, "partition: out of memory for %zu local elements", n_local_tets);
    for (size_t l = 0; l < p->n_local; l++)
        memcpy(lm->xyz_mm + 3 * l, m->xyz_mm + 3 * (size_t)p->l2g[l], 3 * sizeof *lm->xyz_mm);
    size_t le = 0;
    for (size_t e = 0; e < ne; e++) {
        const int32_t *t = m->tets + 4 * e;
        if (!(owner[t[0]] == rank || owner[t[1]] == rank || owner[t[2]] == rank || owner[t[3]] == rank))
            continue;
        int32_t lowest = t[0];
        for (int a = 0; a < 4; a++) {
            lm->tets[4 * le + a] = g2l[t[a]];
            if (t[a] < lowest)
                lowest = t[a];
        }
        memcpy(lm->fibre + 3 * le, m->fibre + 3 * e, 3 * sizeof *lm->fibre);
        if (m->tissue)
            lm->tissue[le] = m->tissue[e];
        p->tet_l2g[le] = (int32_t)e;
        p->tet_kept[le] = owner[lowest] == rank;
        le++;
    }

    /* Send lists: the owned nodes of every local element that has a node of neighbour q, per q. */
    uint8_t *flag = calloc((size_t)p->n_neighbours * n_owned + 1, 1);
    if (!flag)
        return ct_error_set(CT_ERR_NOMEM, "partition: out of memory for the exchange lists");
    for (size_t l = 0; l < lm->n_tets; l++) {
        const int32_t *t = lm->tets + 4 * l;
        for (int a = 0; a < 4; a++) {
            if ((size_t)t[a] < n_owned)
                continue;
            int k = nbr_index[owner[p->l2g[t[a]]]];
            for (int b = 0; b < 4; b++)
                if ((size_t)t[b] < n_owned)
                    flag[(size_t)k * n_owned + (size_t)t[b]] = 1;
        }
    }
    size_t n_send = 0;
    for (size_t f = 0; f < (size_t)p->n_neighbours * n_owned; f++)
        n_send += flag[f];
    p->send_idx = malloc((n_send + 1) * sizeof *p->send_idx);
    if (!p->send_idx) {
        free(flag);
        return ct_error_set(CT_ERR_NOMEM, "partition: out of memory for the exchange lists");
    }
    size_t s = 0;
    for (int k = 0; k < p->n_neighbours; k++) {
        p->send_start[k] = s;
        for (size_t i = 0; i < n_owned; i++)
            if (flag[(size_t)k * n_owned + i])
                p->send_idx[s++] = (int32_t)i;
    }
    p->send_start[p->n_neighbours] = s;
    free(flag);
    return CT_OK;
}

ct_status ct_partition_build(const ct_mesh *mesh, const int32_t *owner, int n_ranks, int rank, ct_partition **out)
{
    *out = NULL;
    size_t n = mesh->n_nodes;
    if (n_ranks < 1 || rank < 0 || rank >= n_ranks)
        return ct_error_set(CT_ERR_INTERNAL, "partition: rank %d of %d", rank, n_ranks);
    if (n > (size_t)INT32_MAX)
        return ct_error_set(CT_ERR_MESH, "partition: %zu nodes exceed 32-bit indices", n);
    for (size_t i = 0; i < n; i++)
        if (owner[i] < 0 || owner[i] >= n_ranks)
            return ct_error_set(CT_ERR_INTERNAL, "partition: node %zu has owner %d of %d ranks", i, (int)owner[i],
                                n_ranks);
    ct_partition *p = calloc(1, sizeof *p);
    int32_t *g2l = malloc((n + 1) * sizeof *g2l);
    uint8_t *touched = calloc(n + 1, 1);
    size_t *ghost_count = calloc((size_t)n_ranks, sizeof *ghost_count);
    int *nbr_index = malloc((size_t)n_ranks * sizeof *nbr_index);
    ct_status st = CT_OK;
    if (!p || !g2l || !touched || !ghost_count || !nbr_index)
        st = ct_error_set(CT_ERR_NOMEM, "partition: out of memory for %zu nodes", n);
    if (st == CT_OK) {
        p->rank = rank;
        p->n_ranks = n_ranks;
        p->n_global = n;
        st = build(mesh, owner, p, g2l, touched, ghost_count, nbr_index);
    }
    free(g2l);
    free(touched);
    free(ghost_count);
    free(nbr_index);
    if (st != CT_OK) {
        ct_partition_destroy(p);
        return st;
    }
    *out = p;
    return CT_OK;
}

#else
typedef int ct_partition_needs_mpi; /* the file is empty without MPI and METIS */
#endif /* CT_HAVE_MPI */
