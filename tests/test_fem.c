/* test_fem.c — box meshes, P1 stiffness and mass matrices, the explicit stability bound. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "fem/ct_fem.h"
#include "mesh/ct_mesh.h"
#include "mesh/ct_reorder.h"

static const double size_mm[3] = {2.0, 1.5, 1.0};

static ct_mesh *box(double dx, const double *fibre)
{
    static const double x_axis[3] = {1, 0, 0};
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box(size_mm, dx, fibre ? fibre : x_axis, &m), CT_OK, "%s", ct_error_message());
    return m;
}

static const ct_conductivity cond = {.sigma_l_S_per_m = 0.13342, .sigma_t_S_per_m = 0.017606,
                                     .chi_per_mm = 140.0, .cm_uF_per_mm2 = 0.01};

Test(fem, box_mesh_is_valid_and_fills_the_box)
{
    ct_mesh *m = box(0.25, NULL);
    cr_assert_eq(m->n_nodes, 9u * 7u * 5u);
    cr_assert_eq(m->n_tets, 6u * 8u * 6u * 4u);
    cr_assert_eq(ct_mesh_validate(m, "box"), CT_OK, "%s", ct_error_message());
    for (size_t e = 0; e < m->n_tets; e++)
        cr_assert_gt(ct_mesh_tet_volume(m, e), 0.0, "tet %zu not positively oriented", e);
    cr_assert_float_eq(ct_mesh_volume(m), 2.0 * 1.5 * 1.0, 1e-12);
    ct_mesh_destroy(m);
}

static int cmp_face(const void *a, const void *b)
{
    const int32_t *x = a, *y = b;
    for (int k = 0; k < 3; k++)
        if (x[k] != y[k])
            return x[k] < y[k] ? -1 : 1;
    return 0;
}

/* Conforming: every face is shared by exactly two tets, except the boundary faces, which are the two
 * triangles of each boundary square of the box. */
Test(fem, box_mesh_is_conforming)
{
    ct_mesh *m = box(0.25, NULL); /* 8 x 6 x 4 cells */
    size_t nf = 4 * m->n_tets;
    int32_t *f = malloc(3 * nf * sizeof *f);
    for (size_t e = 0; e < m->n_tets; e++)
        for (int skip = 0; skip < 4; skip++) {
            int32_t *t = f + 3 * (4 * e + (size_t)skip);
            int w = 0;
            for (int a = 0; a < 4; a++)
                if (a != skip)
                    t[w++] = m->tets[4 * e + (size_t)a];
            for (int x = 0; x < 3; x++) /* sort the triple */
                for (int y = x + 1; y < 3; y++)
                    if (t[y] < t[x]) {
                        int32_t s = t[x];
                        t[x] = t[y];
                        t[y] = s;
                    }
        }
    qsort(f, nf, 3 * sizeof *f, cmp_face);
    size_t boundary = 0;
    for (size_t i = 0; i < nf;) {
        size_t j = i + 1;
        while (j < nf && cmp_face(f + 3 * i, f + 3 * j) == 0)
            j++;
        cr_assert_leq(j - i, 2u, "a face is shared by %zu tets", j - i);
        boundary += (j - i == 1);
        i = j;
    }
    cr_assert_eq(boundary, 2u * 2u * (8u * 6u + 6u * 4u + 8u * 4u), "%zu boundary faces", boundary);
    free(f);
    ct_mesh_destroy(m);
}

Test(fem, validate_catches_inverted_and_bad_index)
{
    ct_mesh *m = box(0.5, NULL);
    int32_t s = m->tets[4 * 7 + 2];
    m->tets[4 * 7 + 2] = m->tets[4 * 7 + 3];
    m->tets[4 * 7 + 3] = s;
    cr_assert_eq(ct_mesh_validate(m, "inv.vtu"), CT_ERR_MESH);
    cr_assert(strstr(ct_error_message(), "element 7") && strstr(ct_error_message(), "inverted"), "%s",
              ct_error_message());
    m->tets[4 * 7 + 3] = m->tets[4 * 7 + 2];
    m->tets[4 * 7 + 2] = s;
    m->tets[4 * 3 + 1] = (int32_t)m->n_nodes;
    cr_assert_eq(ct_mesh_validate(m, "idx.vtu"), CT_ERR_MESH);
    cr_assert(strstr(ct_error_message(), "element 3"), "%s", ct_error_message());
    ct_mesh_destroy(m);
}

Test(fem, stiffness_rows_sum_to_zero_symmetric_and_mass_sums_to_volume)
{
    const double fibre[3] = {0.6, 0.8, 0.0}; /* an oblique fibre exercises the full tensor */
    ct_mesh *m = box(0.25, fibre);
    double *mass = malloc(m->n_nodes * sizeof *mass);
    ct_csr *k = NULL, *mc = NULL;
    cr_assert_eq(ct_fem_assemble(m, &cond, NULL, &k, mass, &mc), CT_OK, "%s", ct_error_message());
    double vol = 0.0, vol_c = 0.0, kmax = 0.0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        vol += mass[i];
        double row = 0.0;
        for (int32_t p = k->row_ptr[i]; p < k->row_ptr[i + 1]; p++) {
            row += k->val[p];
            vol_c += mc->val[p];
            kmax = fmax(kmax, fabs(k->val[p]));
            long q = ct_csr_find(k, (size_t)k->col[p], i);
            cr_assert_geq(q, 0);
            cr_assert_float_eq(k->val[p], k->val[q], 1e-14 * kmax + 1e-300, "K not symmetric at row %zu", i);
            cr_assert_float_eq(mc->val[p], mc->val[q], 1e-15, "M not symmetric");
        }
        cr_assert_lt(fabs(row), 1e-12 * kmax, "row %zu of K sums to %g", i, row);
        cr_assert_gt(k->val[ct_csr_find(k, i, i)], 0.0, "diagonal of K must be positive");
    }
    cr_assert_float_eq(vol, 3.0, 1e-12, "lumped mass sums to %g, not the volume 3", vol);
    cr_assert_float_eq(vol_c, 3.0, 1e-12, "consistent mass sums to %g", vol_c);
    free(mass);
    ct_csr_destroy(k);
    ct_csr_destroy(mc);
    ct_mesh_destroy(m);
}

/* For u linear, u^T K u = integral of grad u . D grad u = |grad u|^2-weighted diffusivity times volume. */
Test(fem, energy_of_a_linear_field_is_exact)
{
    ct_mesh *m = box(0.5, NULL);
    double *mass = malloc(m->n_nodes * sizeof *mass);
    double *u = malloc(m->n_nodes * sizeof *u), *ku = malloc(m->n_nodes * sizeof *ku);
    ct_csr *k = NULL;
    cr_assert_eq(ct_fem_assemble(m, &cond, NULL, &k, mass, NULL), CT_OK);
    double d_l = ct_fem_diffusivity(cond.sigma_l_S_per_m, cond.chi_per_mm, cond.cm_uF_per_mm2);
    double d_t = ct_fem_diffusivity(cond.sigma_t_S_per_m, cond.chi_per_mm, cond.cm_uF_per_mm2);
    cr_assert_float_eq(d_l, 0.09530, 1e-4, "D_L = %g mm^2/ms, benchmark says 0.09530", d_l);
    cr_assert_float_eq(d_t, 0.012576, 1e-5, "D_T = %g mm^2/ms, benchmark says 0.012576", d_t);
    /* u = 2x + 3y - z: energy = (4 D_l + 9 D_t + 1 D_t) * volume */
    for (size_t i = 0; i < m->n_nodes; i++)
        u[i] = 2 * m->xyz_mm[3 * i] + 3 * m->xyz_mm[3 * i + 1] - m->xyz_mm[3 * i + 2];
    ct_csr_spmv(k, u, ku);
    double e = 0.0;
    for (size_t i = 0; i < m->n_nodes; i++)
        e += u[i] * ku[i];
    cr_assert_float_eq(e, (4 * d_l + 10 * d_t) * 3.0, 1e-10, "energy %g", e);
    free(mass);
    free(u);
    free(ku);
    ct_csr_destroy(k);
    ct_mesh_destroy(m);
}

/* The Gershgorin bound must not be below the true largest eigenvalue; check against power iteration. */
Test(fem, stability_bound_is_an_upper_bound)
{
    ct_mesh *m = box(0.25, NULL);
    size_t n = m->n_nodes;
    double *mass = malloc(n * sizeof *mass), *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    ct_csr *k = NULL;
    cr_assert_eq(ct_fem_assemble(m, &cond, NULL, &k, mass, NULL), CT_OK);
    for (size_t i = 0; i < n; i++)
        x[i] = (i % 2 ? 1.0 : -1.0) * (1.0 + 0.1 * (double)(i % 7));
    double lambda = 0.0;
    for (int it = 0; it < 500; it++) { /* power iteration on M^-1 K */
        ct_csr_spmv(k, x, y);
        double nrm = 0.0;
        for (size_t i = 0; i < n; i++) {
            y[i] /= mass[i];
            nrm += y[i] * y[i];
        }
        nrm = sqrt(nrm);
        double xn = 0.0;
        for (size_t i = 0; i < n; i++)
            xn += x[i] * x[i];
        lambda = nrm / sqrt(xn);
        for (size_t i = 0; i < n; i++)
            x[i] = y[i] / nrm;
    }
    double bound = ct_fem_max_rate_bound(k, mass);
    cr_assert_geq(bound, lambda * (1 - 1e-9), "bound %g below eigenvalue %g", bound, lambda);
    cr_assert_lt(bound, 3.0 * lambda, "bound %g uselessly loose against %g", bound, lambda);
    free(mass);
    free(x);
    free(y);
    ct_csr_destroy(k);
    ct_mesh_destroy(m);
}

Test(fem, locate_finds_points_and_rejects_outside)
{
    ct_mesh *m = box(0.5, NULL);
    size_t tet;
    double b[4];
    const double inside[3] = {1.1, 0.7, 0.3};
    cr_assert_eq(ct_mesh_locate(m, inside, 1e-9, &tet, b), CT_OK);
    double x[3] = {0, 0, 0};
    for (int a = 0; a < 4; a++)
        for (int d = 0; d < 3; d++)
            x[d] += b[a] * m->xyz_mm[3 * (size_t)m->tets[4 * tet + a] + d];
    for (int d = 0; d < 3; d++)
        cr_assert_float_eq(x[d], inside[d], 1e-12);
    const double corner[3] = {2.0, 1.5, 1.0};
    cr_assert_eq(ct_mesh_locate(m, corner, 1e-9, &tet, b), CT_OK);
    const double outside[3] = {2.1, 0.5, 0.5};
    cr_assert_eq(ct_mesh_locate(m, outside, 1e-6, &tet, b), CT_ERR_CONFIG);
    ct_mesh_destroy(m);
}

/* Reverse Cuthill-McKee: a bijection that undoes a random scrambling of the node numbers. */
Test(fem, rcm_renumbering_restores_locality)
{
    ct_mesh *m = box(0.125, NULL); /* 17 x 13 x 9 nodes */
    size_t n = m->n_nodes, natural = ct_mesh_bandwidth(m);
    double vol = ct_mesh_volume(m);
    int32_t *scramble = malloc(n * sizeof *scramble);
    for (size_t i = 0; i < n; i++)
        scramble[i] = (int32_t)i;
    srand(7);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        int32_t s = scramble[i];
        scramble[i] = scramble[j];
        scramble[j] = s;
    }
    cr_assert_eq(ct_mesh_permute_nodes(m, scramble), CT_OK);
    size_t scrambled = ct_mesh_bandwidth(m);
    int32_t *perm = NULL;
    cr_assert_eq(ct_mesh_reorder_rcm(m, &perm), CT_OK, "%s", ct_error_message());
    size_t rcm = ct_mesh_bandwidth(m);
    cr_assert_gt(scrambled, n / 2, "scrambling should destroy locality (bandwidth %zu)", scrambled);
    cr_assert_leq(rcm, natural + natural / 4, "RCM bandwidth %zu vs lexicographic %zu", rcm, natural);
    char *seen = calloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        cr_assert(perm[i] >= 0 && (size_t)perm[i] < n);
        cr_assert_eq(seen[perm[i]], 0, "index %d used twice", perm[i]);
        seen[perm[i]] = 1;
    }
    cr_assert_eq(ct_mesh_validate(m, "rcm"), CT_OK, "%s", ct_error_message());
    cr_assert_float_eq(ct_mesh_volume(m), vol, 1e-12);
    free(seen);
    free(perm);
    free(scramble);
    ct_mesh_destroy(m);
}

/* The sparsity pattern (ct_csr_from_tets, built row by row from the elements around each node) is exactly
 * the set of node pairs that share an element, each row sorted, against a dense n x n table, on a renumbered
 * box (rows far from diagonal) and on a hand-made mesh whose node 3 is in no element (an empty row but its
 * diagonal is absent too: no element, no entry). */
Test(fem, csr_pattern_is_the_pairs_sharing_an_element)
{
    ct_mesh *m = box(0.5, NULL);
    cr_assert_eq(ct_mesh_reorder_rcm(m, NULL), CT_OK, "%s", ct_error_message());
    for (int pass = 0; pass < 2; pass++) {
        static const int32_t tets2[8] = {0, 1, 2, 4, 1, 2, 4, 5};
        size_t n = pass == 0 ? m->n_nodes : 6, ne = pass == 0 ? m->n_tets : 2;
        const int32_t *t = pass == 0 ? m->tets : tets2;
        unsigned char *dense = calloc(n * n, 1);
        cr_assert_not_null(dense);
        for (size_t e = 0; e < ne; e++)
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                    dense[(size_t)t[4 * e + a] * n + (size_t)t[4 * e + b]] = 1;
        ct_csr *g = NULL;
        cr_assert_eq(ct_csr_from_tets(n, ne, t, &g), CT_OK, "%s", ct_error_message());
        size_t want = 0;
        for (size_t k = 0; k < n * n; k++)
            want += dense[k];
        cr_assert_eq(g->nnz, want, "pass %d: %zu entries, %zu pairs", pass, g->nnz, want);
        cr_assert_eq((size_t)g->row_ptr[n], want);
        for (size_t i = 0; i < n; i++)
            for (int32_t k = g->row_ptr[i]; k < g->row_ptr[i + 1]; k++) {
                cr_assert(dense[i * n + (size_t)g->col[k]], "pass %d: (%zu, %d) shares no element", pass, i, g->col[k]);
                cr_assert(k == g->row_ptr[i] || g->col[k] > g->col[k - 1], "pass %d: row %zu not sorted", pass, i);
                cr_assert_eq(g->val[k], 0.0);
            }
        ct_csr_destroy(g);
        free(dense);
    }
    ct_mesh_destroy(m);
}
