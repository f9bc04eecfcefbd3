/* ct_csr.c — CSR pattern construction from tetrahedra, lookup and product. */
#include "ct_csr.h"

#include <stdlib.h>
#include <string.h>

void ct_csr_destroy(ct_csr *a)
{
    if (!a)
        return;
    free(a->row_ptr);
    free(a->col);
    free(a->val);
    free(a);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The pattern row by row from the elements around each node (a node -> element incidence list, 16 bytes per
 * element), de-duplicated with a marker per node: about 100 bytes per node besides the pattern itself, where
 * listing 16 candidates per element first would take 64 bytes per element (about 370 per node of a tet mesh).
 * Two passes: count each row's distinct nodes, then fill and sort them. */
ct_status ct_csr_from_tets(size_t n_nodes, size_t n_tets, const int32_t *tets, ct_csr **out)
{
    *out = NULL;
    if (n_tets > (size_t)INT32_MAX / 16 || n_nodes > (size_t)INT32_MAX)
        return ct_error_set(CT_ERR_MESH, "mesh too large for 32-bit sparse indices (%zu nodes, %zu tets)", n_nodes,
                            n_tets);
    /* scratch, owned here: the elements around each node (inc_start, inc) and the marker */
    size_t *inc_start = calloc(n_nodes + 2, sizeof *inc_start);
    int32_t *inc = malloc(4 * n_tets * sizeof *inc + 1);
    int32_t *mark = malloc((n_nodes + 1) * sizeof *mark);
    ct_csr *a = calloc(1, sizeof *a);
    if (a)
        a->row_ptr = malloc((n_nodes + 1) * sizeof *a->row_ptr);
    if (!inc_start || !inc || !mark || !a || !a->row_ptr) {
        free(inc_start);
        free(inc);
        free(mark);
        ct_csr_destroy(a);
        return ct_error_set(CT_ERR_NOMEM, "sparse pattern: out of memory");
    }
    for (size_t e = 0; e < 4 * n_tets; e++)
        inc_start[tets[e] + 2]++;
    for (size_t i = 0; i < n_nodes; i++)
        inc_start[i + 2] += inc_start[i + 1];
    for (size_t e = 0; e < n_tets; e++) /* inc_start[i + 1] is node i's fill position, then its end */
        for (int p = 0; p < 4; p++)
            inc[inc_start[tets[4 * e + p] + 1]++] = (int32_t)e;
    for (size_t i = 0; i < n_nodes; i++)
        mark[i] = -1;
    /* pass 1: distinct nodes per row */
    size_t nnz = 0;
    a->row_ptr[0] = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        for (size_t k = inc_start[i]; k < inc_start[i + 1]; k++)
            for (int q = 0; q < 4; q++) {
                int32_t j = tets[4 * (size_t)inc[k] + q];
                if (mark[j] != (int32_t)i) {
                    mark[j] = (int32_t)i;
                    nnz++;
                }
            }
        if (nnz > (size_t)INT32_MAX) {
            free(inc_start);
            free(inc);
            free(mark);
            ct_csr_destroy(a);
            return ct_error_set(CT_ERR_MESH, "mesh too large for 32-bit sparse indices (over %zu entries)", nnz);
        }
        a->row_ptr[i + 1] = (int32_t)nnz;
    }
    a->n = n_nodes;
    a->nnz = nnz;
    a->col = malloc(nnz * sizeof *a->col + 1);
    a->val = calloc(nnz + 1, sizeof *a->val);
    if (!a->col || !a->val) {
        free(inc_start);
        free(inc);
        free(mark);
        ct_csr_destroy(a);
        return ct_error_set(CT_ERR_NOMEM, "sparse pattern: out of memory");
    }
    /* pass 2: fill each row and sort it */
    for (size_t i = 0; i < n_nodes; i++)
        mark[i] = -1;
    for (size_t i = 0; i < n_nodes; i++) {
        int32_t *row = a->col + a->row_ptr[i];
        size_t len = 0;
        for (size_t k = inc_start[i]; k < inc_start[i + 1]; k++)
            for (int q = 0; q < 4; q++) {
                int32_t j = tets[4 * (size_t)inc[k] + q];
                if (mark[j] != (int32_t)i) {
                    mark[j] = (int32_t)i;
                    row[len++] = j;
                }
            }
        qsort(row, len, sizeof *row, cmp_i32);
    }
    free(inc_start);
    free(inc);
    free(mark);
    *out = a;
    return CT_OK;
}

long ct_csr_find(const ct_csr *a, size_t i, size_t j)
{
    int32_t lo = a->row_ptr[i], hi = a->row_ptr[i + 1];
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if ((size_t)a->col[mid] < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < a->row_ptr[i + 1] && (size_t)a->col[lo] == j) ? lo : -1;
}

void ct_csr_spmv(const ct_csr *a, const double *x, double *y)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < a->n; i++) {
        double s = 0.0;
        for (int32_t k = a->row_ptr[i]; k < a->row_ptr[i + 1]; k++)
            s += a->val[k] * x[a->col[k]];
        y[i] = s;
    }
}
