/* ct_cg.c — the Jacobi-preconditioned conjugate gradient of every backend, written once over its device
 * primitives (ct_step.h ct_device_ops).
 *
 * The scalars live on the host, in double; the vectors on the device. Every dot product is this process's
 * sum over its owned nodes, then added over the ranks (halo sum), so with a halo every rank takes the same
 * iterations with the same alpha and beta. The ghosts of the vector a product is taken of are refreshed
 * first: the start value's by a plain exchange, the search direction's while the interior rows (which read
 * no ghost) are multiplied (backend.h).
 *
 * Two entries: ct_cg_solve forms the start from the x given (A x, then cg_start); the implicit diffusion step
 * has its backend form the whole start in one pass (cg_start_implicit: x = vm, whose ghosts are current after
 * the reaction, and r = -K vm with no product with A; or, extrapolated, x = tmp = vm + the last step's
 * diffusion increment, r = -K vm - A d in the same pass: ct_node_ops.h ct_cg_start_implicit_row) and enters
 * at ct_cg_iterate.
 */
#include <math.h>

#include "ct_step.h"

/* q = A p and the global p.q; with a halo p's ghosts travel while rows 0..n_interior-1 are multiplied. */
static ct_status product(ct_step_core *s, double *pq)
{
    const ct_device_ops *o = s->ops;
    size_t first = 0;
    if (s->has_halo) {
        CT_CHECK(ct_step_halo_begin(s, CT_VEC_P));
        if (s->n_interior > 0)
            CT_CHECK(o->spmv(s->dev, CT_MAT_A, CT_VEC_P, CT_VEC_Q, 0, s->n_interior));
        CT_CHECK(ct_step_halo_end(s, CT_VEC_P));
        first = s->n_interior;
    }
    CT_CHECK(o->cg_product(s->dev, first, pq));
    return ct_step_halo_sum(s, pq, 1);
}

ct_status ct_cg_solve(ct_step_core *s, int x, int *iterations)
{
    const ct_device_ops *o = s->ops;
    void *d = s->dev;
    *iterations = 0;
    if (s->has_halo) { /* x's ghosts <- their owners' values */
        CT_CHECK(ct_step_halo_begin(s, x));
        CT_CHECK(ct_step_halo_end(s, x));
    }
    CT_CHECK(o->spmv(d, CT_MAT_A, x, CT_VEC_Q, 0, s->n_owned));
    double s3[3];
    CT_CHECK(o->cg_start(d, s3));
    return ct_cg_iterate(s, x, s3, iterations);
}

/* The stopping rule is relative: ||r|| <= cg_rel_tolerance ||b|| (||b|| = 0: absolute, 1), tested on the
 * recurrence residual the update pass returns with r.z (no extra pass); a start already within it takes no
 * iteration. */
ct_status ct_cg_iterate(ct_step_core *s, int x, double s3[3], int *iterations)
{
    const ct_device_ops *o = s->ops;
    void *d = s->dev;
    *iterations = 0;
    CT_CHECK(ct_step_halo_sum(s, s3, 3));
    double bnorm = sqrt(s3[0]);
    double stop = s->cg_rel_tolerance * (bnorm > 0 ? bnorm : 1.0);
    double rz = s3[1], rr = s3[2];
    int it = 0;
    while (sqrt(rr) > stop) {
        if (it >= s->cg_max_iterations) {
            *iterations = it;
            return ct_error_set(CT_ERR_NUMERIC, "CG did not reach relative residual %g in %d iterations",
                                s->cg_rel_tolerance, s->cg_max_iterations);
        }
        double pq;
        CT_CHECK(product(s, &pq));
        double alpha = rz / pq;
        double s2[2];
        CT_CHECK(o->cg_update(d, x, alpha, s2));
        CT_CHECK(ct_step_halo_sum(s, s2, 2));
        double beta = s2[0] / rz;
        rz = s2[0];
        rr = s2[1];
        CT_CHECK(o->cg_direction(d, beta));
        it++;
    }
    *iterations = it;
    return CT_OK;
}
