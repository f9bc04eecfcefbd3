/* ct_reorder.c — reverse Cuthill-McKee ordering of mesh nodes. */
#include "ct_reorder.h"

#include <stdlib.h>
#include <string.h>

#include "fem/ct_csr.h"

size_t ct_mesh_bandwidth(const ct_mesh *mesh)
{
    size_t bw = 0;
    for (size_t e = 0; e < mesh->n_tets; e++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < a; b++) {
                long d = (long)mesh->tets[4 * e + a] - (long)mesh->tets[4 * e + b];
                size_t ad = (size_t)(d < 0 ? -d : d);
                if (ad > bw)
                    bw = ad;
            }
    return bw;
}

ct_status ct_mesh_permute_nodes(ct_mesh *mesh, const int32_t *old_to_new)
{
    size_t n = mesh->n_nodes;
    double *xyz = malloc(3 * n * sizeof *xyz + 1);
    if (!xyz)
        return ct_error_set(CT_ERR_NOMEM, "renumbering: out of memory");
    for (size_t i = 0; i < n; i++)
        memcpy(xyz + 3 * (size_t)old_to_new[i], mesh->xyz_mm + 3 * i, 3 * sizeof *xyz);
    free(mesh->xyz_mm);
    mesh->xyz_mm = xyz;
    for (size_t k = 0; k < 4 * mesh->n_tets; k++)
        mesh->tets[k] = old_to_new[mesh->tets[k]];
    for (size_t k = 0; k < 3 * mesh->n_tris; k++)
        mesh->tris[k] = old_to_new[mesh->tris[k]];
    return CT_OK;
}

/* Breadth-first search from `start` over unvisited nodes (mark == 0); returns the number of nodes
 * reached and fills `queue` in Cuthill-McKee order (neighbours by increasing degree). Marks visited
 * nodes with `tag`. */
static size_t bfs(const ct_csr *g, int32_t start, int32_t *mark, int32_t tag, int32_t *queue, int32_t *level_last)
{
    size_t head = 0, tail = 0;
    queue[tail++] = start;
    mark[start] = tag;
    while (head < tail) {
        int32_t v = queue[head++];
        size_t first = tail;
        for (int32_t k = g->row_ptr[v]; k < g->row_ptr[v + 1]; k++) {
            int32_t w = g->col[k];
            if (mark[w] != tag && mark[w] >= 0) {
                mark[w] = tag;
                queue[tail++] = w;
            }
        }
        /* insertion sort of the newly queued neighbours by degree (few per node) */
        for (size_t a = first + 1; a < tail; a++) {
            int32_t x = queue[a];
            int32_t dx = g->row_ptr[x + 1] - g->row_ptr[x];
            size_t b = a;
            while (b > first && g->row_ptr[queue[b - 1] + 1] - g->row_ptr[queue[b - 1]] > dx) {
                queue[b] = queue[b - 1];
                b--;
            }
            queue[b] = x;
        }
    }
    if (level_last)
        *level_last = queue[tail - 1];
    return tail;
}

ct_status ct_mesh_reorder_rcm(ct_mesh *mesh, int32_t **old_to_new_out)
{
    if (old_to_new_out)
        *old_to_new_out = NULL;
    size_t n = mesh->n_nodes;
    ct_csr *g;
    CT_CHECK(ct_csr_from_tets(n, mesh->n_tets, mesh->tets, &g));
    int32_t *mark = calloc(n + 1, sizeof *mark);     /* 0 unvisited, >0 probe tag, -1 numbered */
    int32_t *queue = malloc((n + 1) * sizeof *queue);
    int32_t *order = malloc((n + 1) * sizeof *order); /* order[k] = old node placed k-th (Cuthill-McKee) */
    int32_t *old_to_new = malloc((n + 1) * sizeof *old_to_new);
    if (!mark || !queue || !order || !old_to_new) {
        free(mark);
        free(queue);
        free(order);
        free(old_to_new);
        ct_csr_destroy(g);
        return ct_error_set(CT_ERR_NOMEM, "renumbering: out of memory");
    }
    size_t placed = 0;
    int32_t tag = 1;
    for (size_t seed = 0; seed < n; seed++) {
        if (mark[seed] == -1) /* already numbered with its connected piece */
            continue;
        /* Pseudo-peripheral start: repeat BFS from the last node reached while that gets further. */
        int32_t start = (int32_t)seed, far = start;
        bfs(g, start, mark, ++tag, queue, &far);
        for (int it = 0; it < 4 && far != start; it++) {
            int32_t next_far;
            bfs(g, far, mark, ++tag, queue, &next_far);
            start = far;
            far = next_far;
        }
        size_t reached = bfs(g, start, mark, ++tag, queue, NULL);
        for (size_t k = 0; k < reached; k++) {
            order[placed++] = queue[k];
            mark[queue[k]] = -1;
        }
    }
    for (size_t k = 0; k < n; k++) /* reverse */
        old_to_new[order[k]] = (int32_t)(n - 1 - k);
    free(mark);
    free(queue);
    free(order);
    ct_csr_destroy(g);
    ct_status st = ct_mesh_permute_nodes(mesh, old_to_new);
    if (st != CT_OK || !old_to_new_out)
        free(old_to_new);
    else
        *old_to_new_out = old_to_new;
    return st;
}
