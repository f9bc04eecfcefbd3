/* ct_laplace.c — unit-diffusivity P1 stiffness, Dirichlet elimination and Jacobi-PCG. */
#include "ct_laplace.h"

#include <math.h>
#include <stdlib.h>

#include "fem/ct_fem.h"

ct_status ct_laplace_stiffness(const ct_mesh *mesh, ct_csr **out)
{
    *out = NULL;
    /* sigma / (chi Cm) = 1 with both conductivities equal: the plain Laplacian. */
    ct_conductivity unit = {.sigma_l_S_per_m = 1.0, .sigma_t_S_per_m = 1.0, .chi_per_mm = 1.0,
                            .cm_uF_per_mm2 = 1.0};
    double *mass = malloc(mesh->n_nodes * sizeof *mass + 1);
    if (!mass)
        return ct_error_set(CT_ERR_NOMEM, "laplace: out of memory for %zu nodes", mesh->n_nodes);
    ct_status st = ct_fem_assemble(mesh, &unit, NULL, out, mass, NULL);
    free(mass);
    return st;
}

/* y = A_ff x on the free nodes (x, y full length; fixed entries of y set to 0, of x ignored). */
static void apply_free(const ct_csr *k, const uint8_t *fixed, const double *x, double *y)
{
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < (long)k->n; i++) {
        if (fixed[i]) {
            y[i] = 0.0;
            continue;
        }
        double s = 0.0;
        for (int32_t p = k->row_ptr[i]; p < k->row_ptr[i + 1]; p++)
            if (!fixed[k->col[p]])
                s += k->val[p] * x[k->col[p]];
        y[i] = s;
    }
}

static double dot(size_t n, const double *a, const double *b)
{
    double s = 0.0;
    #pragma omp parallel for reduction(+ : s) schedule(static)
    for (long i = 0; i < (long)n; i++)
        s += a[i] * b[i];
    return s;
}

ct_status ct_laplace_solve(const ct_csr *k, const uint8_t *fixed, double *u, double rel_tol, int max_iter,
                           const char *what, int *iterations)
{
    size_t n = k->n;
    if (iterations)
        *iterations = 0;
    size_t n_fixed = 0;
    for (size_t i = 0; i < n; i++)
        n_fixed += fixed[i] != 0;
    if (n_fixed == 0)
        return ct_error_set(CT_ERR_CONFIG, "laplace %s: no Dirichlet nodes: the problem is singular", what);
    double *b = malloc(5 * n * sizeof *b + 1);
    if (!b)
        return ct_error_set(CT_ERR_NOMEM, "laplace %s: out of memory for %zu nodes", what, n);
    double *r = b + n, *z = b + 2 * n, *p = b + 3 * n, *q = b + 4 * n;
    /* b = -A_fD u_D; the Jacobi preconditioner is 1 / K_ii. */
    for (size_t i = 0; i < n; i++) {
        b[i] = 0.0;
        if (fixed[i])
            continue;
        double diag = 0.0;
        for (int32_t c = k->row_ptr[i]; c < k->row_ptr[i + 1]; c++) {
            int32_t j = k->col[c];
            if ((size_t)j == i)
                diag = k->val[c];
            else if (fixed[j])
                b[i] -= k->val[c] * u[j];
        }
        if (!(diag > 0.0)) {
            free(b);
            return ct_error_set(CT_ERR_MESH, "laplace %s: node %zu has stiffness diagonal %g (isolated or "
                                "degenerate)", what, i, diag);
        }
        z[i] = 1.0 / diag; /* z holds the inverse diagonal until the loop starts */
    }
    double *inv_diag = malloc(n * sizeof *inv_diag + 1);
    if (!inv_diag) {
        free(b);
        return ct_error_set(CT_ERR_NOMEM, "laplace %s: out of memory for %zu nodes", what, n);
    }
    for (size_t i = 0; i < n; i++)
        inv_diag[i] = fixed[i] ? 0.0 : z[i];
    double b_norm = sqrt(dot(n, b, b));
    apply_free(k, fixed, u, q);
    for (size_t i = 0; i < n; i++) {
        r[i] = fixed[i] ? 0.0 : b[i] - q[i];
        z[i] = inv_diag[i] * r[i];
        p[i] = z[i];
    }
    double rz = dot(n, r, z);
    ct_status st = CT_OK;
    int it = 0;
    double r_norm = sqrt(dot(n, r, r));
    if (b_norm == 0.0)
        b_norm = 1.0; /* homogeneous data: converge in absolute terms */
    while (r_norm > rel_tol * b_norm) {
        if (it >= max_iter) {
            st = ct_error_set(CT_ERR_NUMERIC, "laplace %s: CG did not converge in %d iterations (relative "
                              "residual %g > %g)", what, max_iter, r_norm / b_norm, rel_tol);
            break;
        }
        apply_free(k, fixed, p, q);
        double pq = dot(n, p, q);
        if (!(pq > 0.0)) {
            st = ct_error_set(CT_ERR_NUMERIC, "laplace %s: CG breakdown (p.Ap = %g) at iteration %d", what,
                              pq, it);
            break;
        }
        double alpha = rz / pq;
        for (size_t i = 0; i < n; i++) {
            if (fixed[i])
                continue;
            u[i] += alpha * p[i];
            r[i] -= alpha * q[i];
            z[i] = inv_diag[i] * r[i];
        }
        double rz_new = dot(n, r, z);
        double beta = rz_new / rz;
        rz = rz_new;
        for (size_t i = 0; i < n; i++)
            p[i] = z[i] + beta * p[i];
        r_norm = sqrt(dot(n, r, r));
        it++;
    }
    if (st == CT_OK)
        for (size_t i = 0; i < n; i++)
            if (!isfinite(u[i])) {
                st = ct_error_set(CT_ERR_NUMERIC, "laplace %s: non-finite solution at node %zu", what, i);
                break;
            }
    if (iterations)
        *iterations = it;
    free(inv_diag);
    free(b);
    return st;
}

void ct_laplace_tet_gradient(const ct_mesh *mesh, size_t e, const double *field, double grad[3])
{
    const int32_t *t = mesh->tets + 4 * e;
    const double *x0 = mesh->xyz_mm + 3 * (size_t)t[0];
    double a[3][3], d[3];
    for (int r = 0; r < 3; r++) {
        const double *xr = mesh->xyz_mm + 3 * (size_t)t[r + 1];
        for (int k = 0; k < 3; k++)
            a[r][k] = xr[k] - x0[k];
        d[r] = field[t[r + 1]] - field[t[0]];
    }
    /* Solve A g = d (rows of A are edge vectors) by Cramer's rule. */
    double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                 a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                 a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    for (int c = 0; c < 3; c++) {
        double m[3][3];
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 3; k++)
                m[r][k] = (k == c) ? d[r] : a[r][k];
        double dc = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        grad[c] = dc / det;
    }
}
