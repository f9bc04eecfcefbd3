/* ct_csr.h — a square sparse matrix in compressed sparse row form (the layout cuSPARSE takes).
 * Hand-written: the CPU side only needs assembly and a product, not a general sparse library. */
#ifndef CT_CSR_H
#define CT_CSR_H

#include <stddef.h>
#include <stdint.h>

#include "core/ct_status.h"

typedef struct ct_csr {
    size_t n;            /* rows = columns */
    size_t nnz;
    int32_t *row_ptr;    /* n+1, owned */
    int32_t *col;        /* nnz, sorted within each row, owned */
    double *val;         /* nnz, owned */
} ct_csr;

/* The sparsity pattern of the P1 finite-element matrix of a tet mesh: (i,j) for every pair of
 * nodes sharing an element, values zero. Caller owns *out (ct_csr_destroy). */
ct_status ct_csr_from_tets(size_t n_nodes, size_t n_tets, const int32_t *tets, ct_csr **out);
void ct_csr_destroy(ct_csr *a);

/* Index into col/val of entry (i,j), or -1 if (i,j) is not in the pattern. */
long ct_csr_find(const ct_csr *a, size_t i, size_t j);

/* y = A x */
void ct_csr_spmv(const ct_csr *a, const double *x, double *y);

#endif /* CT_CSR_H */
