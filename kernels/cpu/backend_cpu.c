/* backend_cpu.c — the plain C / OpenMP backend: the reference every other backend must reproduce.
 *
 * State is structure-of-arrays in host memory. Each step: one parallel loop for the ionic model and
 * stimulus (Rush-Larsen), then diffusion (explicit: one SpMV fused with the activation check;
 * implicit: Jacobi-preconditioned CG), then activation detection and the blow-up check.
 * With a halo (backend.h, MPI): the ghost Vm is refreshed before the detection, CG refreshes the ghosts of
 * the vector it multiplies (the search direction's while the interior rows are multiplied) and sums its dot
 * products over owned nodes, then over the ranks.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "../models/ct_models.h"

struct ct_backend_ctx {
    size_t n;
    int model, nstate, diffusion;
    double dt_ms, theta, cg_tol, threshold_mV, bound_mV;
    int cg_max_it;
    ct_real *params;          /* n_sets * CT_MODEL_NPARAM, owned */
    uint8_t *node_set;        /* n or NULL, owned */
    uint32_t *stim_mask;      /* n or NULL, owned */
    ct_real *y;               /* nstate * n ionic state, owned */
    ct_real *vm, *vm_prev, *tmp; /* n each, owned */
    double *act_ms;           /* n activation times (-1: not yet), owned */
    /* beat tracking (backend.h), all owned, NULL when max_beats == 0 */
    int max_beats;
    int *beat_count, *beat_phase; /* n each: completed beats; 1 while in a beat, 0 resting */
    double *v_rest, *v_peak;  /* n each, mV */
    double *beat_act_ms, *beat_rep_ms; /* max_beats * n each, beat-major, -1: none */
    /* diffusion operator, owned */
    int32_t *row_ptr, *col;
    ct_real *k_val;           /* K */
    ct_real *a_val;           /* the matrix CG solves with: M/dt + theta K (implicit) or M_C (explicit, consistent) */
    ct_real *m_val;           /* consistent mass M_C, NULL when lumped */
    ct_real *inv_mass;        /* 1/m, lumped (explicit) */
    ct_real *mass_over_dt;    /* m/dt, lumped (implicit rhs) */
    ct_real *inv_diag;        /* Jacobi preconditioner of a_val */
    ct_real *r, *z, *p, *q, *b; /* CG work vectors */
    /* MPI halo (backend.h); n_owned == n_interior == n and has_halo == 0 without one */
    size_t n_owned, n_interior;
    int has_halo;
    int vm_in_flight;         /* the end-of-step Vm exchange is begun, not yet ended (backend.h) */
    ct_halo halo;             /* callbacks and user; send_idx points to the copy below */
    int32_t *send_idx;        /* halo.n_send, owned */
    double *send_buf, *ghost_buf; /* halo.n_send and n - n_owned, owned */
};

static ct_status cpu_probe(void) { return CT_OK; }

/* Peak memory bandwidth of the host, measured: the best of 5 STREAM-style triads a = b + s*c over
 * 3 x 256 MiB of doubles (beyond any cache), counting 24 bytes per element (no write-allocate). */
static double cpu_peak_bandwidth(char *how, size_t how_len)
{
    const size_t n = (size_t)1 << 25;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    double best = 0.0;
    if (a && b && c) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            a[i] = 0.0;
            b[i] = 1.0;
            c[i] = 2.0;
        }
        for (int rep = 0; rep < 5; rep++) {
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < n; i++)
                a[i] = b[i] + 3.0 * c[i];
            clock_gettime(CLOCK_MONOTONIC, &t1);
            double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            double gbs = s > 0 ? 24.0 * (double)n / s * 1e-9 : 0.0;
            if (gbs > best)
                best = gbs;
        }
    }
    snprintf(how, how_len, "%s", best > 0 ? "measured STREAM triad, best of 5" : "triad failed: out of memory");
    free(a);
    free(b);
    free(c);
    return best;
}

static ct_status vm_halo_end(ct_backend_ctx *c);

static void cpu_destroy(ct_backend_ctx *c)
{
    if (!c)
        return;
    (void)vm_halo_end(c); /* MPI must be done with send_buf and ghost_buf before they are freed */
    free(c->params);
    free(c->node_set);
    free(c->stim_mask);
    free(c->y);
    free(c->vm);
    free(c->vm_prev);
    free(c->tmp);
    free(c->act_ms);
    free(c->beat_count);
    free(c->beat_phase);
    free(c->v_rest);
    free(c->v_peak);
    free(c->beat_act_ms);
    free(c->beat_rep_ms);
    free(c->row_ptr);
    free(c->col);
    free(c->k_val);
    free(c->a_val);
    free(c->m_val);
    free(c->inv_mass);
    free(c->mass_over_dt);
    free(c->inv_diag);
    free(c->r);
    free(c->z);
    free(c->p);
    free(c->q);
    free(c->b);
    free(c->send_idx);
    free(c->send_buf);
    free(c->ghost_buf);
    free(c);
}

#define CT_ALLOC(ptr, count) ((ptr) = malloc(((count) + 1) * sizeof *(ptr)))

static ct_status cpu_create(const ct_backend_problem *pb, ct_backend_ctx **out)
{
    *out = NULL;
    if (pb->model < 0 || pb->model >= CT_MODEL_COUNT)
        return ct_error_set(CT_ERR_BACKEND, "cpu backend: unknown model id %d", pb->model);
    ct_backend_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ct_error_set(CT_ERR_NOMEM, "cpu backend: out of memory");
    size_t n = pb->n_nodes, nnz = pb->stiffness->nnz;
    c->n = n;
    c->model = pb->model;
    c->nstate = ct_model_nstate(pb->model);
    c->diffusion = pb->diffusion;
    c->dt_ms = pb->dt_ms;
    c->theta = pb->diffusion == CT_DIFFUSION_BACKWARD_EULER ? 1.0 : 0.5;
    c->cg_tol = pb->cg_rel_tolerance;
    c->cg_max_it = pb->cg_max_iterations;
    c->threshold_mV = pb->activation_threshold_mV;
    c->bound_mV = pb->vm_bound_mV;
    int ok = CT_ALLOC(c->params, (size_t)pb->n_param_sets * CT_MODEL_NPARAM) &&
             CT_ALLOC(c->y, (size_t)c->nstate * n) && CT_ALLOC(c->vm, n) && CT_ALLOC(c->vm_prev, n) &&
             CT_ALLOC(c->tmp, n) && CT_ALLOC(c->act_ms, n) && CT_ALLOC(c->row_ptr, n + 1) &&
             CT_ALLOC(c->col, nnz) && CT_ALLOC(c->k_val, nnz) && CT_ALLOC(c->inv_mass, n);
    if (pb->max_beats < 0) {
        cpu_destroy(c);
        return ct_error_set(CT_ERR_BACKEND, "cpu backend: max_beats = %d is negative", pb->max_beats);
    }
    c->max_beats = pb->max_beats;
    size_t nb = (size_t)c->max_beats * n;
    if (ok && c->max_beats > 0)
        ok = CT_ALLOC(c->beat_count, n) && CT_ALLOC(c->beat_phase, n) && CT_ALLOC(c->v_rest, n) &&
             CT_ALLOC(c->v_peak, n) && CT_ALLOC(c->beat_act_ms, nb) && CT_ALLOC(c->beat_rep_ms, nb);
    if (ok && pb->node_param_set)
        ok = CT_ALLOC(c->node_set, n) != NULL;
    if (ok && pb->stim_mask)
        ok = CT_ALLOC(c->stim_mask, n) != NULL;
    int use_cg = pb->diffusion != CT_DIFFUSION_EXPLICIT || pb->consistent_mass;
    if (ok && pb->consistent_mass)
        ok = CT_ALLOC(c->m_val, nnz) != NULL;
    if (ok && use_cg)
        ok = CT_ALLOC(c->a_val, nnz) && CT_ALLOC(c->mass_over_dt, n) && CT_ALLOC(c->inv_diag, n) &&
             CT_ALLOC(c->r, n) && CT_ALLOC(c->z, n) && CT_ALLOC(c->p, n) && CT_ALLOC(c->q, n) &&
             CT_ALLOC(c->b, n);
    if (!ok) {
        cpu_destroy(c);
        return ct_error_set(CT_ERR_NOMEM, "cpu backend: out of memory for %zu nodes", n);
    }
    memcpy(c->params, pb->param_sets, (size_t)pb->n_param_sets * CT_MODEL_NPARAM * sizeof *c->params);
    if (c->node_set)
        memcpy(c->node_set, pb->node_param_set, n);
    if (c->stim_mask)
        memcpy(c->stim_mask, pb->stim_mask, n * sizeof *c->stim_mask);
    memcpy(c->row_ptr, pb->stiffness->row_ptr, (n + 1) * sizeof *c->row_ptr);
    memcpy(c->col, pb->stiffness->col, nnz * sizeof *c->col);
    for (size_t k = 0; k < nnz; k++)
        c->k_val[k] = (ct_real)pb->stiffness->val[k];
    for (size_t i = 0; i < n; i++)
        c->inv_mass[i] = (ct_real)(1.0 / pb->lumped_mass_mm3[i]);
    if (use_cg) {
        /* explicit + consistent: A = M_C;  implicit: A = M/dt + theta K (M lumped or consistent) */
        int expl = pb->diffusion == CT_DIFFUSION_EXPLICIT;
        const double *mc = pb->consistent_mass ? pb->consistent_mass->val : NULL;
        for (size_t i = 0; i < n; i++) {
            c->mass_over_dt[i] = (ct_real)(pb->lumped_mass_mm3[i] / pb->dt_ms);
            for (int32_t k = c->row_ptr[i]; k < c->row_ptr[i + 1]; k++) {
                int diag = (size_t)c->col[k] == i;
                double m = mc ? mc[k] : (diag ? pb->lumped_mass_mm3[i] : 0.0);
                if (c->m_val)
                    c->m_val[k] = (ct_real)m;
                double a = expl ? m : m / pb->dt_ms + c->theta * pb->stiffness->val[k];
                if (diag)
                    c->inv_diag[i] = (ct_real)(1.0 / a);
                c->a_val[k] = (ct_real)a;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const ct_real *prm = c->params + (size_t)(c->node_set ? c->node_set[i] : 0) * CT_MODEL_NPARAM;
        c->vm[i] = ct_model_init(c->model, c->y + i, n, prm);
        c->act_ms[i] = -1.0;
        if (c->max_beats > 0) {
            c->beat_count[i] = 0;
            c->beat_phase[i] = 0;
            c->v_rest[i] = (double)c->vm[i];
            c->v_peak[i] = (double)c->vm[i];
        }
    }
    for (size_t k = 0; k < nb; k++)
        c->beat_act_ms[k] = c->beat_rep_ms[k] = -1.0;
    c->n_owned = c->n_interior = n;
    if (pb->halo) {
        const ct_halo *h = pb->halo;
        ct_status hst = ct_halo_check(h, n, "cpu");
        if (hst != CT_OK) {
            cpu_destroy(c);
            return hst;
        }
        c->has_halo = 1;
        c->halo = *h;
        c->n_owned = h->n_owned;
        c->n_interior = h->n_interior;
        if (!CT_ALLOC(c->send_idx, h->n_send) || !CT_ALLOC(c->send_buf, h->n_send) ||
            !CT_ALLOC(c->ghost_buf, n - h->n_owned)) {
            cpu_destroy(c);
            return ct_error_set(CT_ERR_NOMEM, "cpu backend: out of memory for the halo");
        }
        if (h->n_send)
            memcpy(c->send_idx, h->send_idx, h->n_send * sizeof *c->send_idx);
        c->halo.send_idx = c->send_idx;
    }
    *out = c;
    return CT_OK;
}

/* With a halo: starts sending x's boundary values (send_idx) to the ranks that hold them as ghosts. */
static ct_status halo_begin(ct_backend_ctx *c, const ct_real *x)
{
    for (size_t k = 0; k < c->halo.n_send; k++)
        c->send_buf[k] = (double)x[c->send_idx[k]];
    return c->halo.exchange_begin(c->halo.user, c->send_buf, c->ghost_buf);
}

/* With a halo: waits for the exchange halo_begin started and puts the owners' values into x's ghosts. */
static ct_status halo_end(ct_backend_ctx *c, ct_real *x)
{
    CT_CHECK(c->halo.exchange_end(c->halo.user));
    for (size_t g = 0; g < c->n - c->n_owned; g++)
        x[c->n_owned + g] = (ct_real)c->ghost_buf[g];
    return CT_OK;
}

/* With a halo: x at the ghost nodes <- the owners' values. Without: nothing. */
static ct_status halo_refresh(ct_backend_ctx *c, ct_real *x)
{
    if (!c->has_halo)
        return CT_OK;
    CT_CHECK(halo_begin(c, x));
    return halo_end(c, x);
}

/* Ends the Vm exchange the last step began, if it is still in flight: the ghosts' Vm <- their owners'. */
static ct_status vm_halo_end(ct_backend_ctx *c)
{
    if (!c->vm_in_flight)
        return CT_OK;
    c->vm_in_flight = 0;
    return halo_end(c, c->vm);
}

/* With a halo: the sums of values[0..count) over the ranks. Without: nothing. */
static ct_status halo_sum(ct_backend_ctx *c, double *values, int count)
{
    return c->has_halo ? c->halo.sum(c->halo.user, values, count) : CT_OK;
}

/* One step of the beat tracking of node i (backend.h): Vm went from v0 to v1 over [t_ms, t_ms + dt_ms].
 * The OpenCL (ct_beat) and CUDA (beat_node) backends repeat this operation for operation. */
static inline void beat_node(ct_backend_ctx *c, size_t i, double v0, double v1, double t_ms)
{
    double thr = c->threshold_mV;
    if (!c->beat_phase[i]) {
        if (v0 < thr && v1 >= thr) {
            int b = c->beat_count[i];
            if (b < c->max_beats)
                c->beat_act_ms[(size_t)b * c->n + i] = t_ms + c->dt_ms * (thr - v0) / (v1 - v0);
            c->beat_phase[i] = 1;
            c->v_peak[i] = v1;
        } else if (v1 < c->v_rest[i]) {
            c->v_rest[i] = v1;
        }
    } else {
        if (v1 > c->v_peak[i])
            c->v_peak[i] = v1;
        double level = c->v_rest[i] + 0.1 * (c->v_peak[i] - c->v_rest[i]);
        if (v0 > level && v1 <= level) {
            int b = c->beat_count[i];
            if (b < c->max_beats)
                c->beat_rep_ms[(size_t)b * c->n + i] = t_ms + c->dt_ms * (v0 - level) / (v0 - v1);
            c->beat_count[i] = b + 1;
            c->beat_phase[i] = 0;
            c->v_rest[i] = v1;
        }
    }
}

/* y = A x on rows [r0, r1) for a CSR matrix sharing the mesh pattern. */
static void spmv_rows(const ct_backend_ctx *c, const ct_real *val, const ct_real *x, ct_real *y, size_t r0, size_t r1)
{
#pragma omp parallel for schedule(static)
    for (size_t i = r0; i < r1; i++) {
        ct_real s = 0;
        for (int32_t k = c->row_ptr[i]; k < c->row_ptr[i + 1]; k++)
            s += val[k] * x[c->col[k]];
        y[i] = s;
    }
}

/* y = A x for a CSR matrix sharing the mesh pattern. */
static void spmv(const ct_backend_ctx *c, const ct_real *val, const ct_real *x, ct_real *y)
{
    spmv_rows(c, val, x, y, 0, c->n);
}

/* q = A p in CG. With a halo, p's ghosts are refreshed meanwhile: the interior rows (which read no ghost)
 * are computed while the boundary values travel, the other rows once the ghosts have arrived. */
static ct_status spmv_direction(ct_backend_ctx *c)
{
    if (!c->has_halo) {
        spmv(c, c->a_val, c->p, c->q);
        return CT_OK;
    }
    CT_CHECK(halo_begin(c, c->p));
    spmv_rows(c, c->a_val, c->p, c->q, 0, c->n_interior);
    CT_CHECK(halo_end(c, c->p));
    spmv_rows(c, c->a_val, c->p, c->q, c->n_interior, c->n);
    return CT_OK;
}

static double dot(size_t n, const ct_real *a, const ct_real *b)
{
    double s = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : s)
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* Solves A x = b (A = c->a_val, b = c->b) by Jacobi-preconditioned CG, starting from x. Dot products run
 * over the owned nodes (all nodes without a halo) and are then summed over the ranks. */
static ct_status cg_solve(ct_backend_ctx *c, ct_real *x, int *iterations)
{
    size_t n = c->n, no = c->n_owned;
    CT_CHECK(halo_refresh(c, x));
    spmv(c, c->a_val, x, c->q);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        c->r[i] = c->b[i] - c->q[i];
        c->z[i] = c->inv_diag[i] * c->r[i];
        c->p[i] = c->z[i];
    }
    double s3[3] = {dot(no, c->b, c->b), dot(no, c->r, c->z), dot(no, c->r, c->r)};
    CT_CHECK(halo_sum(c, s3, 3));
    double bnorm = sqrt(s3[0]);
    double stop = c->cg_tol * (bnorm > 0 ? bnorm : 1.0);
    double rz = s3[1], rr = s3[2];
    int it = 0;
    while (sqrt(rr) > stop) {
        if (it >= c->cg_max_it) {
            *iterations = it;
            return ct_error_set(CT_ERR_NUMERIC, "CG did not reach relative residual %g in %d iterations",
                                c->cg_tol, c->cg_max_it);
        }
        CT_CHECK(spmv_direction(c));
        double pq = dot(no, c->p, c->q);
        CT_CHECK(halo_sum(c, &pq, 1));
        double alpha = rz / pq;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            x[i] += (ct_real)alpha * c->p[i];
            c->r[i] -= (ct_real)alpha * c->q[i];
            c->z[i] = c->inv_diag[i] * c->r[i];
        }
        double s2[2] = {dot(no, c->r, c->z), dot(no, c->r, c->r)};
        CT_CHECK(halo_sum(c, s2, 2));
        double beta = s2[0] / rz;
        rz = s2[0];
        rr = s2[1];
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            c->p[i] = c->z[i] + (ct_real)beta * c->p[i];
        it++;
    }
    *iterations = it;
    return CT_OK;
}

/* Reaction on nodes [r0, r1): ionic model (Rush-Larsen) and stimulus, node by node. */
static void react_rows(ct_backend_ctx *c, size_t r0, size_t r1, uint32_t active, const ct_real *amp, ct_real dt)
{
    size_t n = c->n;
#pragma omp parallel for schedule(static)
    for (size_t i = r0; i < r1; i++) {
        ct_real i_app = 0;
        uint32_t hit = active ? (c->stim_mask[i] & active) : 0;
        while (hit) {
            int s = __builtin_ctz(hit);
            i_app += amp[s];
            hit &= hit - 1;
        }
        const ct_real *src = c->params + (size_t)(c->node_set ? c->node_set[i] : 0) * CT_MODEL_NPARAM;
        ct_real prm[CT_MODEL_NPARAM];
        for (int k = 0; k < CT_MODEL_NPARAM; k++)
            prm[k] = src[k];
        ct_real v = c->vm[i];
        c->vm_prev[i] = v;
        ct_real i_ion = ct_model_step(c->model, c->y + i, n, v, i_app, dt, prm);
        c->vm[i] = v + dt * (i_app - i_ion);
    }
}

static ct_status cpu_step(ct_backend_ctx *c, double t_ms, uint32_t stim_active, const double *stim_amp,
                          ct_step_report *rep)
{
    size_t n = c->n;
    ct_real dt = (ct_real)c->dt_ms;
    ct_real amp[CT_MAX_STIMULI];
    for (int s = 0; s < CT_MAX_STIMULI; s++)
        amp[s] = (stim_active >> s & 1u) ? (ct_real)stim_amp[s] : 0;
    uint32_t active = c->stim_mask ? stim_active : 0;
    rep->bad_node = -1;
    rep->cg_iterations = 0;

    /* Reaction. With a halo the Vm exchange the last step began is still in flight: the owned nodes react
     * while it travels, the ghosts once their owners' values have arrived. */
    if (c->vm_in_flight) {
        react_rows(c, 0, c->n_owned, active, amp, dt);
        CT_CHECK(vm_halo_end(c));
        react_rows(c, c->n_owned, n, active, amp, dt);
    } else {
        react_rows(c, 0, n, active, amp, dt);
    }

    /* Diffusion. */
    if (c->diffusion == CT_DIFFUSION_EXPLICIT && c->m_val) {
        /* M_C dv = -dt K v */
        spmv(c, c->k_val, c->vm, c->q);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            c->b[i] = -dt * c->q[i];
            c->tmp[i] = c->b[i] * c->inv_diag[i];
        }
        CT_CHECK(cg_solve(c, c->tmp, &rep->cg_iterations));
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++)
            c->vm[i] += c->tmp[i];
    } else if (c->diffusion == CT_DIFFUSION_EXPLICIT) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            ct_real s = 0;
            for (int32_t k = c->row_ptr[i]; k < c->row_ptr[i + 1]; k++)
                s += c->k_val[k] * c->vm[c->col[k]];
            c->tmp[i] = c->vm[i] - dt * c->inv_mass[i] * s;
        }
        ct_real *swap = c->vm;
        c->vm = c->tmp;
        c->tmp = swap;
    } else {
        /* (M/dt + theta K) v_new = M/dt v - (1 - theta) K v */
        spmv(c, c->k_val, c->vm, c->q);
        ct_real one_minus_theta = (ct_real)(1.0 - c->theta);
        if (c->m_val) {
            spmv(c, c->m_val, c->vm, c->tmp);
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < n; i++)
                c->b[i] = c->tmp[i] / dt - one_minus_theta * c->q[i];
        } else {
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < n; i++)
                c->b[i] = c->mass_over_dt[i] * c->vm[i] - one_minus_theta * c->q[i];
        }
        CT_CHECK(cg_solve(c, c->vm, &rep->cg_iterations));
    }
    /* With a halo: the ghosts' new Vm starts its way from their owners, to arrive during the next step's
     * reaction (or before anything reads Vm: download, save_state). Activation detection and the blow-up
     * check run on the owned nodes meanwhile (a ghost's times are its owner's to report). */
    size_t n_detect = n;
    if (c->has_halo) {
        CT_CHECK(halo_begin(c, c->vm));
        c->vm_in_flight = 1;
        n_detect = c->n_owned;
    }
    long bad = LONG_MAX; /* lowest index of a node past the bound */
    double thr = c->threshold_mV, bound = c->bound_mV;
#pragma omp parallel for schedule(static) reduction(min : bad)
    for (size_t i = 0; i < n_detect; i++) {
        double v0 = (double)c->vm_prev[i], v1 = (double)c->vm[i];
        if (c->act_ms[i] < 0.0 && v0 < thr && v1 >= thr)
            c->act_ms[i] = t_ms + c->dt_ms * (thr - v0) / (v1 - v0);
        if (c->max_beats > 0)
            beat_node(c, i, v0, v1, t_ms);
        if (!(fabs(v1) <= bound) && (long)i < bad)
            bad = (long)i;
    }
    if (bad != LONG_MAX) {
        rep->bad_node = bad;
        rep->bad_value_mV = (double)c->vm[bad];
        return ct_error_set(CT_ERR_NUMERIC, "Vm = %g mV at node %ld is past the bound of %g mV",
                            rep->bad_value_mV, bad, bound);
    }
    return CT_OK;
}

static ct_status cpu_download(ct_backend_ctx *c, enum ct_field field, double *host)
{
    CT_CHECK(vm_halo_end(c));
    if (field == CT_FIELD_VM) {
        for (size_t i = 0; i < c->n; i++)
            host[i] = (double)c->vm[i];
    } else if (field == CT_FIELD_ACTIVATION_MS) {
        memcpy(host, c->act_ms, c->n * sizeof *host);
    } else if (c->max_beats <= 0 && (field == CT_FIELD_BEAT_ACTIVATION_MS ||
                                     field == CT_FIELD_BEAT_REPOLARISATION_MS || field == CT_FIELD_BEAT_COUNT)) {
        return ct_error_set(CT_ERR_INTERNAL, "cpu backend: field %d needs max_beats > 0", (int)field);
    } else if (field == CT_FIELD_BEAT_ACTIVATION_MS) {
        memcpy(host, c->beat_act_ms, (size_t)c->max_beats * c->n * sizeof *host);
    } else if (field == CT_FIELD_BEAT_REPOLARISATION_MS) {
        memcpy(host, c->beat_rep_ms, (size_t)c->max_beats * c->n * sizeof *host);
    } else if (field == CT_FIELD_BEAT_COUNT) {
        for (size_t i = 0; i < c->n; i++)
            host[i] = (double)c->beat_count[i];
    } else {
        return ct_error_set(CT_ERR_INTERNAL, "cpu backend: unknown field %d", (int)field);
    }
    return CT_OK;
}

/* The dynamic state as (pointer, bytes) segments, in the order of the state blob (backend.h). */
static int cpu_state_segments(ct_backend_ctx *c, void **ptr, size_t *bytes)
{
    size_t n = c->n, nb = (size_t)c->max_beats * n;
    int k = 0;
    ptr[k] = c->y, bytes[k++] = (size_t)c->nstate * n * sizeof *c->y;
    ptr[k] = c->vm, bytes[k++] = n * sizeof *c->vm;
    ptr[k] = c->vm_prev, bytes[k++] = n * sizeof *c->vm_prev;
    ptr[k] = c->act_ms, bytes[k++] = n * sizeof *c->act_ms;
    if (c->max_beats > 0) {
        ptr[k] = c->beat_count, bytes[k++] = n * sizeof *c->beat_count;
        ptr[k] = c->beat_phase, bytes[k++] = n * sizeof *c->beat_phase;
        ptr[k] = c->v_rest, bytes[k++] = n * sizeof *c->v_rest;
        ptr[k] = c->v_peak, bytes[k++] = n * sizeof *c->v_peak;
        ptr[k] = c->beat_act_ms, bytes[k++] = nb * sizeof *c->beat_act_ms;
        ptr[k] = c->beat_rep_ms, bytes[k++] = nb * sizeof *c->beat_rep_ms;
    }
    return k;
}

static size_t cpu_state_size(ct_backend_ctx *c)
{
    void *ptr[10];
    size_t bytes[10], total = 0;
    int k = cpu_state_segments(c, ptr, bytes);
    for (int s = 0; s < k; s++)
        total += bytes[s];
    return total;
}

static ct_status cpu_save_state(ct_backend_ctx *c, void *buf)
{
    CT_CHECK(vm_halo_end(c));
    void *ptr[10];
    size_t bytes[10], off = 0;
    int k = cpu_state_segments(c, ptr, bytes);
    for (int s = 0; s < k; off += bytes[s], s++)
        memcpy((char *)buf + off, ptr[s], bytes[s]);
    return CT_OK;
}

static ct_status cpu_load_state(ct_backend_ctx *c, const void *buf)
{
    CT_CHECK(vm_halo_end(c));
    void *ptr[10];
    size_t bytes[10], off = 0;
    int k = cpu_state_segments(c, ptr, bytes);
    for (int s = 0; s < k; off += bytes[s], s++)
        memcpy(ptr[s], (const char *)buf + off, bytes[s]);
    return CT_OK;
}

const ct_backend_ops ct_backend_cpu = {
    .name = "cpu",
    .probe = cpu_probe,
    .peak_bandwidth_GB_per_s = cpu_peak_bandwidth,
    .create = cpu_create,
    .destroy = cpu_destroy,
    .step = cpu_step,
    .download = cpu_download,
    .state_size = cpu_state_size,
    .save_state = cpu_save_state,
    .load_state = cpu_load_state,
};
