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

ct_status ct_csr_from_tets(size_t n_nodes, size_t n_tets, const int32_t *tets, ct_csr **out)
{
    *out = NULL;
    if (n_tets > (size_t)INT32_MAX / 16)
        return ct_error_set(CT_ERR_MESH, "mesh too large for 32-bit sparse indices (%zu tets)", n_tets);
    /* Pass 1: candidate entries per row (4 per incident tet, with repeats). */
    size_t *start = calloc(n_nodes + 1, sizeof *start);
    int32_t *cand = malloc(16 * n_tets * sizeof *cand + 1);
    ct_csr *a = calloc(1, sizeof *a);
    if (!start || !cand || !a) {
        free(start);
        free(cand);
        free(a);
        return ct_error_set(CT_ERR_NOMEM, "sparse pattern: out of memory");
    }
    for (size_t e = 0; e < n_tets; e++)
        for (int p = 0; p < 4; p++)
            start[tets[4 * e + p] + 1] += 4;
    for (size_t i = 0; i < n_nodes; i++)
        start[i + 1] += start[i];
    size_t *fill = malloc((n_nodes + 1) * sizeof *fill);
    if (!fill) {
        free(start);
        free(cand);
        free(a);
        return ct_error_set(CT_ERR_NOMEM, "sparse pattern: out of memory");
    }
    memcpy(fill, start, (n_nodes + 1) * sizeof *fill);
    for (size_t e = 0; e < n_tets; e++)
        for (int p = 0; p < 4; p++) {
            int32_t i = tets[4 * e + p];
            for (int q = 0; q < 4; q++)
                cand[fill[i]++] = tets[4 * e + q];
        }
    free(fill);
    /* Pass 2: sort and de-duplicate each row in place. */
    a->n = n_nodes;
    a->row_ptr = malloc((n_nodes + 1) * sizeof *a->row_ptr);
    if (!a->row_ptr) {
        free(start);
        free(cand);
        ct_csr_destroy(a);
        return ct_error_set(CT_ERR_NOMEM, "sparse pattern: out of memory");
    }
    size_t nnz = 0;
    a->row_ptr[0] = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        int32_t *row = cand + start[i];
        size_t len = start[i + 1] - start[i];
        qsort(row, len, sizeof *row, cmp_i32);
        for (size_t k = 0; k < len; k++)
            if (k == 0 || row[k] != row[k - 1])
                cand[nnz++] = row[k]; /* nnz <= start[i] + k, so this never overtakes the reads */
        a->row_ptr[i + 1] = (int32_t)nnz;
    }
    free(start);
    a->nnz = nnz;
    int32_t *shrunk = realloc(cand, nnz * sizeof *shrunk + 1);
    a->col = shrunk ? shrunk : cand; /* a failed shrink leaves cand valid and large enough */
    a->val = calloc(nnz + 1, sizeof *a->val);
    if (!a->val) {
        ct_csr_destroy(a);
        return ct_error_set(CT_ERR_NOMEM, "sparse pattern: out of memory");
    }
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
