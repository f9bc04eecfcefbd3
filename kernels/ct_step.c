/* ct_step.c — the Godunov step and the halo state machine of backend.h, once for every backend (ct_step.h).
 *
 * A step: reaction of the owned nodes (with a halo, while the Vm exchange the last step began travels), the
 * end of that exchange, reaction of the ghosts; diffusion (explicit lumped: one fused update; explicit
 * consistent: M_C dv = -dt K v by CG, v += dv; implicit: (M/dt + theta K) v_new = M/dt v - (1 - theta) K v by
 * CG); the start of the Vm exchange of the new values; detection (first activation, beats, blow-up flag) at
 * the owned nodes while it travels; the blow-up report, of an owned node only (a ghost's is its owner's).
 * With a lumped ionic current (lumped_ionic) the implicit right-hand side takes the reaction's increment
 * vm - vm_prev through the lumped mass; the same one-pass start forms it (ct_cg_start_implicit_row).
 */
#include <stdlib.h>
#include <string.h>

#include "ct_step.h"
#include "../host/core/ct_clock.h"
#include "models/ct_models.h"

ct_status ct_step_core_init(ct_step_core *s, const ct_backend_problem *pb, const char *backend,
                            const ct_device_ops *ops, void *dev)
{
    memset(s, 0, sizeof *s);
    s->ops = ops;
    s->dev = dev;
    s->backend = backend;
    if (pb->model < 0 || pb->model >= CT_MODEL_COUNT)
        return ct_error_set(CT_ERR_BACKEND, "%s backend: unknown model id %d", backend, pb->model);
    if (pb->max_beats < 0)
        return ct_error_set(CT_ERR_BACKEND, "%s backend: max_beats = %d is negative", backend, pb->max_beats);
    s->n = pb->n_nodes;
    s->model = pb->model;
    s->nstate = ct_model_nstate(pb->model);
    s->diffusion = pb->diffusion;
    s->consistent = pb->consistent_mass != NULL;
    s->use_cg = pb->diffusion != CT_DIFFUSION_EXPLICIT || s->consistent;
    if (pb->lumped_ionic && s->consistent && pb->diffusion == CT_DIFFUSION_EXPLICIT)
        return ct_error_set(CT_ERR_BACKEND, "%s backend: a lumped ionic current with explicit consistent-mass "
                            "diffusion is not implemented (use crank_nicolson or backward_euler)", backend);
    s->lumped_ionic = pb->lumped_ionic && s->consistent; /* with the lumped mass M = M_L: nothing changes */
    if (pb->cg_start != CT_CG_START_EXTRAPOLATE && pb->cg_start != CT_CG_START_PREVIOUS)
        return ct_error_set(CT_ERR_BACKEND, "%s backend: unknown CG start %d", backend, pb->cg_start);
    s->cg_extrapolate = pb->diffusion != CT_DIFFUSION_EXPLICIT && pb->cg_start == CT_CG_START_EXTRAPOLATE;
    if (s->cg_extrapolate && !ops->cg_accept)
        return ct_error_set(CT_ERR_INTERNAL, "%s backend: the extrapolated CG start needs cg_accept", backend);
    s->has_stim = pb->stim_mask != NULL;
    s->use_node_set = pb->node_param_set != NULL;
    s->max_beats = pb->max_beats;
    s->dt_ms = pb->dt_ms;
    s->theta = pb->diffusion == CT_DIFFUSION_BACKWARD_EULER ? 1.0 : 0.5;
    s->cg_rel_tolerance = pb->cg_rel_tolerance;
    s->cg_max_iterations = pb->cg_max_iterations;
    s->threshold_mV = pb->activation_threshold_mV;
    s->bound_mV = pb->vm_bound_mV;
    s->n_owned = s->n_interior = s->n;
    s->simd = pb->ionic_simd;
    s->lut_len = pb->ionic_lut ? (size_t)ct_model_lut_size(pb->model) : 0;
    if (s->lut_len) { /* built once here, on the host; a backend uses it or copies it to its device */
        s->lut = malloc(s->lut_len * sizeof *s->lut); /* owned, ct_step_core_free */
        if (!s->lut)
            return ct_error_set(CT_ERR_NOMEM, "%s backend: out of memory for the ionic lookup table", backend);
        ct_tp06_lut_fill(s->lut, (ct_real)pb->dt_ms);
    }
    s->timing = pb->timing;
    const ct_halo *h = pb->halo;
    if (!h)
        return CT_OK;
    CT_CHECK(ct_halo_check(h, s->n, backend));
    s->send_idx = malloc((h->n_send + 1) * sizeof *s->send_idx); /* owned, ct_step_core_free */
    if (!s->send_idx)
        return ct_error_set(CT_ERR_NOMEM, "%s backend: out of memory for the halo", backend);
    if (h->n_send)
        memcpy(s->send_idx, h->send_idx, h->n_send * sizeof *s->send_idx);
    s->has_halo = 1;
    s->halo = *h;
    s->halo.send_idx = s->send_idx;
    s->n_owned = h->n_owned;
    s->n_interior = h->n_interior;
    return CT_OK;
}

void ct_step_core_free(ct_step_core *s)
{
    free(s->send_idx);
    s->send_idx = NULL;
    free(s->lut);
    s->lut = NULL;
    s->halo.send_idx = NULL;
}

/* ---- halo ------------------------------------------------------------------------------------- */

/* Step timer (ct_step_timing): the time now, after the device's queued work (ops.finish) has finished. */
static ct_status timer_mark(const ct_step_core *s, double *now_s)
{
    if (s->ops->finish)
        CT_CHECK(s->ops->finish(s->dev));
    *now_s = ct_now_s();
    return CT_OK;
}

/* Step timer: adds the time since t0_s to the halo phase; `st` passes through. */
static ct_status timer_halo(const ct_step_core *s, double t0_s, ct_status st)
{
    double t1 = 0.0;
    if (st == CT_OK && (st = timer_mark(s, &t1)) == CT_OK)
        s->timing->halo_s += t1 - t0_s;
    return st;
}

static ct_status halo_begin(ct_step_core *s, int x)
{
    const double *send = NULL;
    double *ghost = NULL;
    CT_CHECK(s->ops->halo_pack(s->dev, x, &send, &ghost));
    return s->halo.exchange_begin(s->halo.user, send, ghost);
}

static ct_status halo_end(ct_step_core *s, int x)
{
    if (s->ops->flush) /* the device works on what is queued while the host waits */
        CT_CHECK(s->ops->flush(s->dev));
    CT_CHECK(s->halo.exchange_end(s->halo.user));
    return s->ops->halo_unpack(s->dev, x);
}

/* With the step timer on, each halo operation is bracketed by timer marks and charged to halo_s (the
 * phase around it subtracts it, see ct_step_run). */
ct_status ct_step_halo_begin(ct_step_core *s, int x)
{
    if (!s->has_halo)
        return CT_OK;
    double t0 = 0.0;
    if (!s->timing)
        return halo_begin(s, x);
    CT_CHECK(timer_mark(s, &t0));
    return timer_halo(s, t0, halo_begin(s, x));
}

ct_status ct_step_halo_end(ct_step_core *s, int x)
{
    if (!s->has_halo)
        return CT_OK;
    double t0 = 0.0;
    if (!s->timing)
        return halo_end(s, x);
    CT_CHECK(timer_mark(s, &t0));
    return timer_halo(s, t0, halo_end(s, x));
}

ct_status ct_step_halo_sum(ct_step_core *s, double *values, int count)
{
    if (!s->has_halo)
        return CT_OK;
    if (!s->timing)
        return s->halo.sum(s->halo.user, values, count);
    double t0 = ct_now_s(); /* the values are on the host: nothing queued to wait for */
    ct_status st = s->halo.sum(s->halo.user, values, count);
    s->timing->halo_s += ct_now_s() - t0;
    return st;
}

ct_status ct_step_vm_halo_end(ct_step_core *s)
{
    if (!s->vm_in_flight)
        return CT_OK;
    s->vm_in_flight = 0;
    return ct_step_halo_end(s, CT_VEC_VM);
}

/* ---- the step --------------------------------------------------------------------------------- */

/* Diffusion of Vm over dt; *detected: the backend ran the detection with the update. */
static ct_status diffuse(ct_step_core *s, ct_real dt, double t_ms, int *detected, int *cg_iterations)
{
    const ct_device_ops *o = s->ops;
    void *d = s->dev;
    if (s->diffusion == CT_DIFFUSION_EXPLICIT && !s->consistent)
        return o->explicit_lumped(d, dt, t_ms, detected);
    if (s->diffusion == CT_DIFFUSION_EXPLICIT) { /* M_C dv = -dt K v, v += dv */
        CT_CHECK(o->spmv(d, CT_MAT_K, CT_VEC_VM, CT_VEC_Q, 0, s->n));
        CT_CHECK(o->rhs_explicit(d, dt));
        CT_CHECK(ct_cg_solve(s, CT_VEC_TMP, cg_iterations));
        return o->add_tmp(d, t_ms, detected);
    }
    /* (M/dt + theta K) v_new = M/dt v - (1 - theta) K v, from v_new = v (the post-reaction Vm): the residual
     * of that start is -K v, so b, r, z, p and their sums come from one pass (cg_start_implicit); with a lumped
     * ionic current (lumped_ionic) b and r take the reaction's increment through M_L in the same pass. With the
     * extrapolated start (cg_extrapolate) the same pass starts x = tmp from v + the last step's diffusion
     * increment, and cg_accept makes the solution vm, keeping v for the next step. */
    double s3[3];
    CT_CHECK(o->cg_start_implicit(d, dt, (ct_real)(1.0 - s->theta), s3));
    if (!s->cg_extrapolate)
        return ct_cg_iterate(s, CT_VEC_VM, s3, cg_iterations);
    CT_CHECK(ct_cg_iterate(s, CT_VEC_TMP, s3, cg_iterations));
    return o->cg_accept(d);
}

/* Step timer: charges the time since *mark_s, less the halo time charged meanwhile, to *phase_s, and moves
 * the marks to now. */
static ct_status timer_phase(const ct_step_core *s, double *mark_s, double *halo_mark_s, double *phase_s)
{
    double now = 0.0;
    CT_CHECK(timer_mark(s, &now));
    *phase_s += now - *mark_s - (s->timing->halo_s - *halo_mark_s);
    *mark_s = now;
    *halo_mark_s = s->timing->halo_s;
    return CT_OK;
}

ct_status ct_step_run(ct_step_core *s, double t_ms, uint32_t stim_active, const double *stim_amp_uA_per_uF,
                      ct_step_report *rep)
{
    /* Step timer (ct_step_timing), off when NULL: marks at the phase boundaries, nothing else. */
    ct_step_timing *tm = s->timing;
    double t_start_s = 0.0, mark_s = 0.0, halo_mark_s = 0.0;
    if (tm) {
        CT_CHECK(timer_mark(s, &t_start_s));
        mark_s = t_start_s;
        halo_mark_s = tm->halo_s;
    }

    const ct_device_ops *o = s->ops;
    void *d = s->dev;
    ct_real dt = (ct_real)s->dt_ms;
    ct_real amp[CT_MAX_STIMULI];
    for (int k = 0; k < CT_MAX_STIMULI; k++)
        amp[k] = (stim_active >> k & 1u) ? (ct_real)stim_amp_uA_per_uF[k] : 0;
    uint32_t active = s->has_stim ? stim_active : 0;
    rep->bad_node = -1;
    rep->bad_value_mV = 0.0;
    rep->cg_iterations = 0;

    /* Reaction. With a halo the Vm exchange the last step began is still in flight: the owned nodes react
     * while it travels, the ghosts once their owners' values have arrived. */
    if (s->vm_in_flight) {
        CT_CHECK(o->react(d, 0, s->n_owned, active, amp, dt));
        CT_CHECK(ct_step_vm_halo_end(s));
        CT_CHECK(o->react(d, s->n_owned, s->n, active, amp, dt));
    } else {
        CT_CHECK(o->react(d, 0, s->n, active, amp, dt));
    }
    if (tm)
        CT_CHECK(timer_phase(s, &mark_s, &halo_mark_s, &tm->react_s));

    int detected = 0;
    CT_CHECK(diffuse(s, dt, t_ms, &detected, &rep->cg_iterations));
    if (tm)
        CT_CHECK(timer_phase(s, &mark_s, &halo_mark_s, &tm->diffuse_s));

    /* With a halo the ghosts' new Vm starts its way from their owners, to arrive during the next step's
     * reaction (or before anything reads the state: download, save_state); the detection of the owned nodes
     * runs meanwhile. */
    if (s->has_halo) {
        CT_CHECK(ct_step_halo_begin(s, CT_VEC_VM));
        s->vm_in_flight = 1;
    }
    if (!detected)
        CT_CHECK(o->detect(d, t_ms));

    long bad = -1;
    double bad_mV = 0.0;
    CT_CHECK(o->blown_up(d, &bad, &bad_mV));
    if (tm) {
        CT_CHECK(timer_phase(s, &mark_s, &halo_mark_s, &tm->detect_s));
        tm->total_s += mark_s - t_start_s;
        tm->steps++;
        tm->cg_iterations += rep->cg_iterations;
        tm->detect_fused += detected != 0;
    }
    if (bad >= 0 && (size_t)bad < s->n_owned) {
        rep->bad_node = bad;
        rep->bad_value_mV = bad_mV;
        return ct_error_set(CT_ERR_NUMERIC, "Vm = %g mV at node %ld is past the bound of %g mV", bad_mV, bad,
                            s->bound_mV);
    }
    return CT_OK;
}

/* ---- host-side arrays ------------------------------------------------------------------------- */

void ct_diffusion_arrays_free(ct_diffusion_arrays *a)
{
    free(a->k_val);
    free(a->inv_mass);
    free(a->a_val);
    free(a->inv_diag);
    free(a->mass_over_dt);
    free(a->m_val);
    memset(a, 0, sizeof *a);
}

ct_status ct_diffusion_arrays_build(const ct_step_core *s, const ct_backend_problem *pb, ct_diffusion_arrays *a)
{
    memset(a, 0, sizeof *a);
    size_t n = pb->n_nodes, nnz = pb->stiffness->nnz, R = sizeof(ct_real);
    a->k_val = malloc((nnz + 1) * R);
    a->inv_mass = malloc((n + 1) * R);
    int ok = a->k_val && a->inv_mass;
    if (ok && s->use_cg) {
        a->a_val = malloc((nnz + 1) * R);
        a->inv_diag = calloc(n + 1, R);
        a->mass_over_dt = malloc((n + 1) * R);
        ok = a->a_val && a->inv_diag && a->mass_over_dt;
        if (ok && pb->consistent_mass)
            ok = (a->m_val = malloc((nnz + 1) * R)) != NULL;
    }
    if (!ok) {
        ct_diffusion_arrays_free(a);
        return ct_error_set(CT_ERR_NOMEM, "%s backend: out of memory for the matrices of %zu nodes", s->backend, n);
    }
    for (size_t k = 0; k < nnz; k++)
        a->k_val[k] = (ct_real)pb->stiffness->val[k];
    for (size_t i = 0; i < n; i++)
        a->inv_mass[i] = (ct_real)(1.0 / pb->lumped_mass_mm3[i]);
    if (!s->use_cg)
        return CT_OK;
    /* explicit + consistent: A = M_C;  implicit: A = M/dt + theta K (M lumped or consistent); in double, then
     * rounded to ct_real */
    int expl = pb->diffusion == CT_DIFFUSION_EXPLICIT;
    const double *mc = pb->consistent_mass ? pb->consistent_mass->val : NULL;
    const int32_t *rp = pb->stiffness->row_ptr, *col = pb->stiffness->col;
    for (size_t i = 0; i < n; i++) {
        a->mass_over_dt[i] = (ct_real)(pb->lumped_mass_mm3[i] / pb->dt_ms);
        for (int32_t k = rp[i]; k < rp[i + 1]; k++) {
            int diag = (size_t)col[k] == i;
            double m = mc ? mc[k] : (diag ? pb->lumped_mass_mm3[i] : 0.0);
            if (a->m_val)
                a->m_val[k] = (ct_real)m;
            double av = expl ? m : m / pb->dt_ms + s->theta * pb->stiffness->val[k];
            if (diag)
                a->inv_diag[i] = (ct_real)(1.0 / av);
            a->a_val[k] = (ct_real)av;
        }
    }
    return CT_OK;
}
