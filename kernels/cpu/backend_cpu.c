/* backend_cpu.c — the plain C / OpenMP backend: the reference every other backend must reproduce.
 *
 * State is structure-of-arrays in host memory. The step, CG and the halo protocol are kernels/ct_step.c and
 * kernels/ct_cg.c; the arithmetic of a node is kernels/ct_node_ops.h. This file supplies their device
 * primitives (ct_device_ops) as OpenMP loops over host arrays: the reaction, CSR products, the diffusion
 * updates and right-hand sides, the CG vector operations with their dot products (carried in the pass that
 * writes the vectors, summed in fixed slices so the sums do not depend on the thread count), detection over
 * the owned nodes, and the halo's packing and unpacking of host vectors.
 */
#define _POSIX_C_SOURCE 200809L
#define CT_FN_ALWAYS_INLINE /* ct_real.h: the model functions inlined into the reaction loops, so they vectorise */
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "../ct_node_ops.h"
#include "../ct_step.h"
#include "../models/ct_models.h"
#include <omp.h>

/* exp and log as SIMD functions, so that GCC vectorises the TP06 reaction loop (ionic_simd) through glibc's
 * libmvec (_ZGV?N?v_exp ...). glibc declares them so only under -ffast-math; this file has -fno-math-errno
 * instead (CMakeLists.txt), so the scalar paths keep glibc's correctly rounded exp. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma omp declare simd notinbranch
extern double exp(double);
#pragma omp declare simd notinbranch
extern double log(double);
#pragma omp declare simd notinbranch
extern float expf(float);
#pragma omp declare simd notinbranch
extern float logf(float);
#endif

struct ct_backend_ctx {
    ct_step_core core;        /* the problem's scalars and the halo state (ct_step.h) */
    ct_real *params;          /* n_sets * CT_MODEL_NPARAM, owned */
    uint8_t *node_set;        /* n or NULL, owned */
    uint32_t *stim_mask;      /* n or NULL, owned */
    ct_real *y;               /* nstate * n ionic state, owned */
    ct_real *vm, *vm_prev, *tmp; /* n each, owned; vm and tmp swap in the explicit lumped step */
    ct_real *vstar_prev;      /* n, owned; core.cg_extrapolate only (else NULL): the last step's post-reaction Vm
                                 (= vm at create: no guess yet); rotates with vm and tmp in cpu_cg_accept */
    ct_real *iapp;            /* n stimulus currents of the SIMD reaction (uA/uF), owned; NULL unless ionic_simd */
    int iapp_zero;            /* iapp is all zeros (no stimulus on at the last reaction of every node) */
    int one_set;              /* the parameter set of every node if they share one (or node_set is NULL), else 0 */
    int32_t *set_off;         /* n offsets node_set[i] * CT_MODEL_NPARAM into params for the SIMD reaction, owned;
                                 NULL unless ionic_simd and the nodes' sets differ. GCC vectorises the loop only
                                 without it (a node's parameters through a per-lane pointer stop it), which is
                                 the usual case: one cell type, no border zone */
    double *act_ms;           /* n activation times (-1: not yet), owned */
    /* beat tracking (backend.h), all owned, NULL when max_beats == 0 */
    int *beat_count, *beat_phase; /* n each: completed beats; 1 while in a beat, 0 resting */
    double *v_rest, *v_peak;  /* n each, mV */
    double *beat_act_ms, *beat_rep_ms; /* max_beats * n each, beat-major, -1: none */
    /* diffusion operator, owned */
    int32_t *row_ptr, *col;
    ct_diffusion_arrays mat;  /* K, 1/m, and with CG: A, D^-1, m/dt, M_C */
    ct_real *r, *z, *p, *q, *b; /* CG work vectors (q also K v), NULL without CG */
    double *send_buf, *ghost_buf; /* halo: n_send and n - n_owned, owned */
    long bad;                 /* lowest node the last detection flagged, -1: none */
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

static void cpu_destroy(ct_backend_ctx *c)
{
    if (!c)
        return;
    (void)ct_step_vm_halo_end(&c->core); /* MPI must be done with send_buf and ghost_buf before they are freed */
    void *owned[] = {c->params, c->node_set, c->stim_mask, c->y, c->vm, c->vm_prev, c->tmp, c->vstar_prev, c->act_ms,
                     c->beat_count, c->beat_phase, c->v_rest, c->v_peak, c->beat_act_ms, c->beat_rep_ms,
                     c->row_ptr, c->col, c->r, c->z, c->p, c->q, c->b, c->send_buf, c->ghost_buf, c->iapp,
                     c->set_off};
    for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++)
        free(owned[k]);
    ct_diffusion_arrays_free(&c->mat);
    ct_step_core_free(&c->core);
    free(c);
}

/* ---- device primitives (ct_step.h) ------------------------------------------------------------ */

static ct_real *vec(ct_backend_ctx *c, int id)
{
    switch (id) {
    case CT_VEC_VM: return c->vm;
    case CT_VEC_TMP: return c->tmp;
    case CT_VEC_Q: return c->q;
    default: return c->p;
    }
}

static const ct_real *mat_val(ct_backend_ctx *c, int id)
{
    return id == CT_MAT_K ? c->mat.k_val : id == CT_MAT_M ? c->mat.m_val : c->mat.a_val;
}

/* y = A x on rows [r0, r1) for a CSR matrix sharing the mesh pattern. */
static void spmv_rows(const ct_backend_ctx *c, const ct_real *val, const ct_real *x, ct_real *y, size_t r0, size_t r1)
{
#pragma omp parallel for schedule(static)
    for (size_t i = r0; i < r1; i++)
        y[i] = ct_csr_row_dot(i, c->row_ptr, c->col, val, x);
}

/* The dot products of CG are summed in an order that does not depend on the number of threads (an OpenMP
 * reduction adds the threads' partial sums in the order they finish): CT_DOT_BLOCKS fixed slices, each summed
 * in order, then the slices' sums in order (block_rows, block_sums). So a run, and a run restarted from a saved
 * state, repeat bit for bit whatever OMP_NUM_THREADS is (backend.h's save_state contract). */
#define CT_DOT_BLOCKS 64

/* The TP06 reaction of nodes [r0, r1) as one SIMD loop (the switch ionic_simd): no branch but selects in the
 * model with the table (ct_tp06_vfac_lut), exp and log through glibc's libmvec (declared simd above;
 * -fno-math-errno on this file, CMakeLists.txt), the stimulus current read from iapp (zeros when no stimulus is
 * on). Always inlined with constant use_lut and use_set (tp06_simd_range_*), so each copy is a loop without
 * those tests; the model functions are inlined too (CT_FN_ALWAYS_INLINE above). */
__attribute__((always_inline)) static inline void tp06_simd_loop(ct_backend_ctx *c, size_t r0, size_t r1, ct_real dt,
                                                                  int use_lut, int use_set)
{
    ct_real *restrict y = c->y, *restrict vm = c->vm, *restrict vm_prev = c->vm_prev;
    const ct_real *restrict iapp = c->iapp, *restrict lut = c->core.lut;
    const ct_real *restrict params = c->params + (size_t)c->one_set * CT_MODEL_NPARAM; /* one set: its values */
    const int32_t *restrict set = c->set_off;
    const size_t n = c->core.n;
#pragma omp simd
    for (size_t i = r0; i < r1; i++) {
        const ct_real *prm = use_set ? params + set[i] : params;
        const ct_real ia = iapp[i];
        const ct_real v = vm[i];
        vm_prev[i] = v;
        const ct_real i_ion = use_lut ? ct_tp06_step_lut(y + i, n, v, ia, dt, prm, lut)
                                      : ct_tp06_step(y + i, n, v, ia, dt, prm);
        vm[i] = v + dt * (ia - i_ion);
    }
}

/* Nodes [a, b) by the loop for this problem (table or not, per-node sets or not). Compiled twice: for the
 * x86-64 baseline (SSE2, 2 doubles a vector) and for AVX2+FMA (4), chosen at run time (cpu_react). */
#define CT_TP06_SIMD_RANGE(name, attr)                                                                            \
    attr static void name(ct_backend_ctx *c, size_t a, size_t b, ct_real dt)                                     \
    {                                                                                                             \
        if (c->core.lut && c->set_off)                                                                            \
            tp06_simd_loop(c, a, b, dt, 1, 1);                                                                    \
        else if (c->core.lut)                                                                                     \
            tp06_simd_loop(c, a, b, dt, 1, 0);                                                                    \
        else if (c->set_off)                                                                                      \
            tp06_simd_loop(c, a, b, dt, 0, 1);                                                                    \
        else                                                                                                      \
            tp06_simd_loop(c, a, b, dt, 0, 0);                                                                    \
    }
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
CT_TP06_SIMD_RANGE(tp06_simd_range_avx2, __attribute__((target("avx2,fma"))))
#define CT_HAVE_AVX2_VARIANT 1
#endif
CT_TP06_SIMD_RANGE(tp06_simd_range_base, )

static ct_status cpu_react(void *dev, size_t r0, size_t r1, uint32_t active, const ct_real *amp, ct_real dt)
{
    ct_backend_ctx *c = dev;
    size_t n = c->core.n;
    const ct_real *lut = c->core.lut; /* NULL: exact rates */
    if (c->core.simd && c->core.model == CT_MODEL_TP06) {
        int avx2 = 0;
#ifdef CT_HAVE_AVX2_VARIANT
        avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
        if (active || !c->iapp_zero) { /* the stimulus currents first: a loop over bits per node, no SIMD */
#pragma omp parallel for schedule(static)
            for (size_t i = r0; i < r1; i++)
                c->iapp[i] = ct_stim_current(active ? (c->stim_mask[i] & active) : 0u, amp);
            c->iapp_zero = !active && r0 == 0 && r1 == n;
        }
#pragma omp parallel
        {
            /* the same static split as the scalar loop, each thread's share one SIMD loop */
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            size_t len = r1 - r0, per = (len + (size_t)nt - 1) / (size_t)nt;
            size_t a = r0 + (size_t)t * per, b = a + per < r1 ? a + per : r1;
            if (a < b) {
#ifdef CT_HAVE_AVX2_VARIANT
                if (avx2)
                    tp06_simd_range_avx2(c, a, b, dt);
                else
#endif
                    tp06_simd_range_base(c, a, b, dt);
            }
        }
        return CT_OK;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = r0; i < r1; i++) {
        ct_real i_app = ct_stim_current(active ? (c->stim_mask[i] & active) : 0u, amp);
        ct_real prm[CT_MODEL_NPARAM];
        ct_load_params(prm, c->params, c->node_set ? c->node_set[i] : 0);
        ct_react_node(c->core.model, c->y + i, n, c->vm + i, c->vm_prev + i, prm, i_app, dt, lut);
    }
    return CT_OK;
}

static ct_status cpu_spmv(void *dev, int mat, int x, int y, size_t r0, size_t r1)
{
    ct_backend_ctx *c = dev;
    spmv_rows(c, mat_val(c, mat), vec(c, x), vec(c, y), r0, r1);
    return CT_OK;
}

static ct_status cpu_explicit_lumped(void *dev, ct_real dt, double t_ms, int *detected)
{
    ct_backend_ctx *c = dev;
    (void)t_ms;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < c->core.n; i++)
        c->tmp[i] = ct_explicit_lumped_node(c->vm[i], ct_csr_row_dot(i, c->row_ptr, c->col, c->mat.k_val, c->vm),
                                            c->mat.inv_mass[i], dt);
    ct_real *swap = c->vm;
    c->vm = c->tmp;
    c->tmp = swap;
    *detected = 0; /* after the halo exchange has begun, so that the two overlap */
    return CT_OK;
}

static ct_status cpu_rhs_explicit(void *dev, ct_real dt)
{
    ct_backend_ctx *c = dev;
    size_t n = c->core.n;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        c->b[i] = ct_rhs_explicit_consistent_node(c->q[i], dt);
        c->tmp[i] = c->b[i] * c->mat.inv_diag[i];
    }
    return CT_OK;
}

static ct_status cpu_add_tmp(void *dev, double t_ms, int *detected)
{
    ct_backend_ctx *c = dev;
    (void)t_ms;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < c->core.n; i++)
        c->vm[i] += c->tmp[i];
    *detected = 0;
    return CT_OK;
}

static ct_status cpu_detect(void *dev, double t_ms)
{
    ct_backend_ctx *c = dev;
    const ct_step_core *s = &c->core;
    long bad = LONG_MAX; /* lowest index of a node past the bound */
#pragma omp parallel for schedule(static) reduction(min : bad)
    for (size_t i = 0; i < s->n_owned; i++)
        if (ct_detect_node(i, s->n, c->vm_prev[i], c->vm[i], c->act_ms, t_ms, s->dt_ms, s->threshold_mV, s->bound_mV,
                           s->max_beats, c->beat_count, c->beat_phase, c->v_rest, c->v_peak, c->beat_act_ms,
                           c->beat_rep_ms) &&
            (long)i < bad)
            bad = (long)i;
    c->bad = bad == LONG_MAX ? -1 : bad;
    return CT_OK;
}

static ct_status cpu_blown_up(void *dev, long *node, double *vm_mV)
{
    ct_backend_ctx *c = dev;
    *node = c->bad;
    if (c->bad >= 0)
        *vm_mV = (double)c->vm[c->bad];
    c->bad = -1;
    return CT_OK;
}

/* The CG passes below carry their dot products in the loop that writes the vectors (one pass, one parallel
 * region), summed over the same CT_DOT_BLOCKS slices in the same order as dot(): the sums are bit for bit
 * dot()'s. Slice k of n rows is [lo, hi); part[j][k] the slice's sum j; sums[j] their ordered total. */
static void block_rows(size_t n, int k, size_t *lo, size_t *hi)
{
    size_t per = (n + CT_DOT_BLOCKS - 1) / CT_DOT_BLOCKS;
    *lo = (size_t)k * per < n ? (size_t)k * per : n;
    *hi = *lo + per < n ? *lo + per : n;
}

static void block_sums(int m, double part[][CT_DOT_BLOCKS], double *sums)
{
    for (int j = 0; j < m; j++) {
        sums[j] = 0.0;
        for (int k = 0; k < CT_DOT_BLOCKS; k++)
            sums[j] += part[j][k];
    }
}

static ct_status cpu_cg_start(void *dev, double sums[3])
{
    ct_backend_ctx *c = dev;
    size_t no = c->core.n_owned;
    double part[3][CT_DOT_BLOCKS];
#pragma omp parallel for schedule(static)
    for (int k = 0; k < CT_DOT_BLOCKS; k++) {
        size_t lo, hi;
        block_rows(no, k, &lo, &hi);
        double s3[3] = {0.0, 0.0, 0.0}; /* b.b, r.z, r.r of the slice */
        for (size_t i = lo; i < hi; i++)
            ct_cg_start_node(i, c->b[i], c->b[i] - c->q[i], c->mat.inv_diag, c->r, c->z, c->p, s3);
        part[0][k] = s3[0];
        part[1][k] = s3[1];
        part[2][k] = s3[2];
    }
    block_sums(3, part, sums);
    return CT_OK;
}

static ct_status cpu_cg_start_implicit(void *dev, ct_real dt, ct_real one_minus_theta, double sums[3])
{
    ct_backend_ctx *c = dev;
    size_t no = c->core.n_owned;
    int consistent = c->core.consistent, lumped_ionic = c->core.lumped_ionic, extrapolate = c->core.cg_extrapolate;
    const ct_real *m_val = consistent ? c->mat.m_val : c->mat.k_val; /* not read without consistent mass */
    const ct_real *vsp = extrapolate ? c->vstar_prev : c->vm;          /* not read without the extrapolation */
    double part[3][CT_DOT_BLOCKS];
#pragma omp parallel for schedule(static)
    for (int k = 0; k < CT_DOT_BLOCKS; k++) {
        size_t lo, hi;
        block_rows(no, k, &lo, &hi);
        double s3[3] = {0.0, 0.0, 0.0}; /* b.b, r.z, r.r of the slice */
        for (size_t i = lo; i < hi; i++)
            ct_cg_start_implicit_row(i, consistent, lumped_ionic, extrapolate, dt, one_minus_theta, c->row_ptr, c->col,
                                     c->mat.k_val, m_val, c->mat.a_val, c->mat.mass_over_dt, c->vm, c->vm_prev, vsp,
                                     c->mat.inv_diag, c->tmp, c->r, c->z, c->p, s3);
        part[0][k] = s3[0];
        part[1][k] = s3[1];
        part[2][k] = s3[2];
    }
    block_sums(3, part, sums);
    return CT_OK;
}

/* The extrapolated start's end (ct_step.h cg_accept) by rotating buffers, no pass over memory: vstar_prev <- vm
 * (V*, every row), vm <- tmp (the solution; its ghost rows are refreshed by the end-of-step exchange), and the
 * old vstar_prev becomes the work vector tmp. */
static ct_status cpu_cg_accept(void *dev)
{
    ct_backend_ctx *c = dev;
    ct_real *old_vsp = c->vstar_prev;
    c->vstar_prev = c->vm;
    c->vm = c->tmp;
    c->tmp = old_vsp;
    return CT_OK;
}

static ct_status cpu_cg_product(void *dev, size_t r0, double *pq)
{
    ct_backend_ctx *c = dev;
    size_t no = c->core.n_owned;
    double part[1][CT_DOT_BLOCKS];
#pragma omp parallel for schedule(static)
    for (int k = 0; k < CT_DOT_BLOCKS; k++) {
        size_t lo, hi;
        block_rows(no, k, &lo, &hi);
        double s = 0.0;
        for (size_t i = lo; i < hi; i++) {
            if (i >= r0)
                c->q[i] = ct_csr_row_dot(i, c->row_ptr, c->col, c->mat.a_val, c->p);
            s += (double)c->p[i] * (double)c->q[i];
        }
        part[0][k] = s;
    }
    block_sums(1, part, pq);
    return CT_OK;
}

static ct_status cpu_cg_update(void *dev, int xid, double alpha_d, double sums[2])
{
    ct_backend_ctx *c = dev;
    size_t no = c->core.n_owned;
    ct_real *x = vec(c, xid), alpha = (ct_real)alpha_d;
    double part[2][CT_DOT_BLOCKS];
#pragma omp parallel for schedule(static)
    for (int k = 0; k < CT_DOT_BLOCKS; k++) {
        size_t lo, hi;
        block_rows(no, k, &lo, &hi);
        double rz = 0.0, rr = 0.0;
        for (size_t i = lo; i < hi; i++) {
            x[i] += alpha * c->p[i];
            ct_real ri = c->r[i] - alpha * c->q[i], zi = c->mat.inv_diag[i] * ri;
            c->r[i] = ri;
            c->z[i] = zi;
            rz += (double)ri * (double)zi;
            rr += (double)ri * (double)ri;
        }
        part[0][k] = rz;
        part[1][k] = rr;
    }
    block_sums(2, part, sums);
    return CT_OK;
}

static ct_status cpu_cg_direction(void *dev, double beta_d)
{
    ct_backend_ctx *c = dev;
    ct_real beta = (ct_real)beta_d;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < c->core.n_owned; i++)
        c->p[i] = c->z[i] + beta * c->p[i];
    return CT_OK;
}

static ct_status cpu_halo_pack(void *dev, int xid, const double **send, double **ghost)
{
    ct_backend_ctx *c = dev;
    const ct_real *x = vec(c, xid);
    for (size_t k = 0; k < c->core.halo.n_send; k++)
        c->send_buf[k] = (double)x[c->core.send_idx[k]];
    *send = c->send_buf;
    *ghost = c->ghost_buf;
    return CT_OK;
}

static ct_status cpu_halo_unpack(void *dev, int xid)
{
    ct_backend_ctx *c = dev;
    ct_real *x = vec(c, xid);
    for (size_t g = 0; g < c->core.n - c->core.n_owned; g++)
        x[c->core.n_owned + g] = (ct_real)c->ghost_buf[g];
    return CT_OK;
}

static const ct_device_ops cpu_device_ops = {
    .react = cpu_react,
    .spmv = cpu_spmv,
    .explicit_lumped = cpu_explicit_lumped,
    .rhs_explicit = cpu_rhs_explicit,
    .add_tmp = cpu_add_tmp,
    .detect = cpu_detect,
    .blown_up = cpu_blown_up,
    .cg_start = cpu_cg_start,
    .cg_product = cpu_cg_product,
    .cg_update = cpu_cg_update,
    .cg_direction = cpu_cg_direction,
    .halo_pack = cpu_halo_pack,
    .halo_unpack = cpu_halo_unpack,
    .cg_start_implicit = cpu_cg_start_implicit,
    .cg_accept = cpu_cg_accept,
};

/* ---- the backend ------------------------------------------------------------------------------ */

#define CT_ALLOC(ptr, count) ((ptr) = malloc(((count) + 1) * sizeof *(ptr)))

static ct_status cpu_create(const ct_backend_problem *pb, ct_backend_ctx **out)
{
    *out = NULL;
    ct_backend_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ct_error_set(CT_ERR_NOMEM, "cpu backend: out of memory");
    ct_status st = ct_step_core_init(&c->core, pb, "cpu", &cpu_device_ops, c);
    if (st == CT_OK)
        st = ct_diffusion_arrays_build(&c->core, pb, &c->mat);
    if (st != CT_OK) {
        cpu_destroy(c);
        return st;
    }
    const ct_step_core *s = &c->core;
    size_t n = s->n, nnz = pb->stiffness->nnz, nb = (size_t)s->max_beats * n;
    c->bad = -1;
    int ok = CT_ALLOC(c->params, (size_t)pb->n_param_sets * CT_MODEL_NPARAM) &&
             CT_ALLOC(c->y, (size_t)s->nstate * n) && CT_ALLOC(c->vm, n) && CT_ALLOC(c->vm_prev, n) &&
             CT_ALLOC(c->tmp, n) && CT_ALLOC(c->act_ms, n) && CT_ALLOC(c->row_ptr, n + 1) && CT_ALLOC(c->col, nnz);
    if (ok && s->max_beats > 0)
        ok = CT_ALLOC(c->beat_count, n) && CT_ALLOC(c->beat_phase, n) && CT_ALLOC(c->v_rest, n) &&
             CT_ALLOC(c->v_peak, n) && CT_ALLOC(c->beat_act_ms, nb) && CT_ALLOC(c->beat_rep_ms, nb);
    if (ok && pb->node_param_set)
        ok = CT_ALLOC(c->node_set, n) != NULL;
    if (ok && pb->stim_mask)
        ok = CT_ALLOC(c->stim_mask, n) != NULL;
    if (ok && s->simd)
        ok = CT_ALLOC(c->iapp, n) != NULL;
    int sets_differ = 0;
    for (size_t i = 1; pb->node_param_set && i < n && !sets_differ; i++)
        sets_differ = pb->node_param_set[i] != pb->node_param_set[0];
    c->one_set = pb->node_param_set && n > 0 && !sets_differ ? pb->node_param_set[0] : 0;
    if (ok && s->simd && sets_differ)
        ok = CT_ALLOC(c->set_off, n) != NULL;
    if (ok && s->cg_extrapolate)
        ok = CT_ALLOC(c->vstar_prev, n) != NULL;
    if (ok && s->use_cg)
        ok = CT_ALLOC(c->r, n) && CT_ALLOC(c->z, n) && CT_ALLOC(c->p, n) && CT_ALLOC(c->q, n) && CT_ALLOC(c->b, n);
    if (ok && s->has_halo)
        ok = CT_ALLOC(c->send_buf, s->halo.n_send) && CT_ALLOC(c->ghost_buf, n - s->n_owned);
    if (!ok) {
        cpu_destroy(c);
        return ct_error_set(CT_ERR_NOMEM, "cpu backend: out of memory for %zu nodes", n);
    }
    memcpy(c->params, pb->param_sets, (size_t)pb->n_param_sets * CT_MODEL_NPARAM * sizeof *c->params);
    if (c->node_set)
        memcpy(c->node_set, pb->node_param_set, n);
    if (c->set_off)
        for (size_t i = 0; i < n; i++)
            c->set_off[i] = (int32_t)c->node_set[i] * CT_MODEL_NPARAM;
    if (c->stim_mask)
        memcpy(c->stim_mask, pb->stim_mask, n * sizeof *c->stim_mask);
    memcpy(c->row_ptr, pb->stiffness->row_ptr, (n + 1) * sizeof *c->row_ptr);
    memcpy(c->col, pb->stiffness->col, nnz * sizeof *c->col);
    for (size_t i = 0; i < n; i++) {
        ct_real prm[CT_MODEL_NPARAM];
        ct_load_params(prm, c->params, c->node_set ? c->node_set[i] : 0);
        c->vm[i] = ct_model_init(s->model, c->y + i, n, prm);
        if (pb->initial_vm_mV) /* the given Vm replaces the model's; its ionic state stays */
            c->vm[i] = (ct_real)pb->initial_vm_mV[i];
        c->act_ms[i] = -1.0;
        if (s->max_beats > 0) {
            c->beat_count[i] = 0;
            c->beat_phase[i] = 0;
            c->v_rest[i] = (double)c->vm[i];
            c->v_peak[i] = (double)c->vm[i];
        }
    }
    for (size_t k = 0; k < nb; k++)
        c->beat_act_ms[k] = c->beat_rep_ms[k] = -1.0;
    if (c->vstar_prev) /* no guess yet: the first step's vm_prev equals this, so its start is V* */
        memcpy(c->vstar_prev, c->vm, n * sizeof *c->vstar_prev);
    *out = c;
    return CT_OK;
}

static ct_status cpu_step(ct_backend_ctx *c, double t_ms, uint32_t stim_active, const double *stim_amp,
                          ct_step_report *rep)
{
    return ct_step_run(&c->core, t_ms, stim_active, stim_amp, rep);
}

static ct_status cpu_download(ct_backend_ctx *c, enum ct_field field, double *host)
{
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    if (field == CT_FIELD_VM) {
        for (size_t i = 0; i < c->core.n; i++)
            host[i] = (double)c->vm[i];
    } else if (field == CT_FIELD_ACTIVATION_MS) {
        memcpy(host, c->act_ms, c->core.n * sizeof *host);
    } else if (c->core.max_beats <= 0 && (field == CT_FIELD_BEAT_ACTIVATION_MS ||
                                     field == CT_FIELD_BEAT_REPOLARISATION_MS || field == CT_FIELD_BEAT_COUNT)) {
        return ct_error_set(CT_ERR_INTERNAL, "cpu backend: field %d needs max_beats > 0", (int)field);
    } else if (field == CT_FIELD_BEAT_ACTIVATION_MS) {
        memcpy(host, c->beat_act_ms, (size_t)c->core.max_beats * c->core.n * sizeof *host);
    } else if (field == CT_FIELD_BEAT_REPOLARISATION_MS) {
        memcpy(host, c->beat_rep_ms, (size_t)c->core.max_beats * c->core.n * sizeof *host);
    } else if (field == CT_FIELD_BEAT_COUNT) {
        for (size_t i = 0; i < c->core.n; i++)
            host[i] = (double)c->beat_count[i];
    } else {
        return ct_error_set(CT_ERR_INTERNAL, "cpu backend: unknown field %d", (int)field);
    }
    return CT_OK;
}

/* The dynamic state as (pointer, bytes) segments, in the order of the state blob (backend.h). */
static int cpu_state_segments(ct_backend_ctx *c, void **ptr, size_t *bytes)
{
    size_t n = c->core.n, nb = (size_t)c->core.max_beats * n;
    int k = 0;
    ptr[k] = c->y, bytes[k++] = (size_t)c->core.nstate * n * sizeof *c->y;
    ptr[k] = c->vm, bytes[k++] = n * sizeof *c->vm;
    ptr[k] = c->vm_prev, bytes[k++] = n * sizeof *c->vm_prev;
    ptr[k] = c->act_ms, bytes[k++] = n * sizeof *c->act_ms;
    if (c->vstar_prev)
        ptr[k] = c->vstar_prev, bytes[k++] = n * sizeof *c->vstar_prev;
    if (c->core.max_beats > 0) {
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
    void *ptr[11];
    size_t bytes[11], total = 0;
    int k = cpu_state_segments(c, ptr, bytes);
    for (int s = 0; s < k; s++)
        total += bytes[s];
    return total;
}

static ct_status cpu_save_state(ct_backend_ctx *c, void *buf)
{
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    void *ptr[11];
    size_t bytes[11], off = 0;
    int k = cpu_state_segments(c, ptr, bytes);
    for (int s = 0; s < k; off += bytes[s], s++)
        memcpy((char *)buf + off, ptr[s], bytes[s]);
    return CT_OK;
}

static ct_status cpu_load_state(ct_backend_ctx *c, const void *buf)
{
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    void *ptr[11];
    size_t bytes[11], off = 0;
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
