/* ct_laplace.h — Laplace problems on a tet mesh with P1 finite elements, for the ventricular
 * coordinates: the unit-diffusivity stiffness matrix, a Dirichlet solve by elimination with a
 * Jacobi-preconditioned conjugate gradient, and per-element gradients of nodal fields. Host only. */
#ifndef CT_LAPLACE_H
#define CT_LAPLACE_H

#include <stdint.h>

#include "fem/ct_csr.h"
#include "mesh/ct_mesh.h"

/* K_ij = sum_e |T_e| grad(phi_i) . grad(phi_j) (mm), from ct_fem_assemble with an isotropic unit
 * diffusivity. Caller owns *out (ct_csr_destroy). */
ct_status ct_laplace_stiffness(const ct_mesh *mesh, ct_csr **out);

/* Solves K u = 0 at the free nodes with u[i] fixed wherever fixed[i] != 0. On entry u holds the
 * Dirichlet values at fixed nodes (other entries are the initial guess); on exit the solution.
 * The Dirichlet columns are eliminated to the right-hand side, so the system on the free nodes stays
 * symmetric positive definite (every connected part of the mesh needs a fixed node). Converged when
 * ||r|| <= rel_tol ||b|| (2-norms over the free nodes); `what` names the field in error messages.
 * `iterations` (may be NULL) receives the CG iteration count. */
ct_status ct_laplace_solve(const ct_csr *k, const uint8_t *fixed, double *u, double rel_tol, int max_iter,
                           const char *what, int *iterations);

/* Gradient (1/mm times the field's unit) of the P1 interpolant of a nodal field in tet e. */
void ct_laplace_tet_gradient(const ct_mesh *mesh, size_t e, const double *field, double grad[3]);

#endif /* CT_LAPLACE_H */
