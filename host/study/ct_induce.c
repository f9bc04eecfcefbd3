/* ct_induce.c — programmed electrical stimulation of one site (protocol in ct_induce.h). */
#define _POSIX_C_SOURCE 200809L
#include "ct_induce.h"
#include "sim/ct_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kernels/models/ct_models.h"
#include "sim/ct_sim.h"
#include "core/ct_clock.h"

#define MAX_PULSES (1000 + CT_INDUCE_MAX_EXTRA)
#define FAR_MARGIN_MM 2.0
#define PS_CLUSTER_MM 3.0

void ct_induce_protocol_defaults(ct_induce_protocol *p)
{
    *p = (ct_induce_protocol){
        .s1_count = 6,
        .s1_bcl_ms = 600.0,
        .extra_stimuli = 2,
        .ci_start_ms = 400.0,
        .ci_step_ms = 20.0,
        .ci_min_ms = 180.0,
        .observe_ms = 1000.0,
        .capture_window_ms = 60.0,
        .stim_radius_mm = 3.0,
        .stim_amplitude_uA_per_uF = 60.0,
        .stim_duration_ms = 2.0,
        .dt_ms = 0.0,
        .sample_ms = 1.0,
        .phase_delay_ms = 20.0,
        .phase_v_star_mV = -40.0,
    };
}

#define RANGE(field, lo, hi)                                                                                     \
    do {                                                                                                       \
        if (!((double)p->field >= (lo) && (double)p->field <= (hi)))                                           \
            return ct_error_set(CT_ERR_CONFIG, "induction protocol: %s = %g is outside [%g, %g]", #field,       \
                                (double)p->field, (double)(lo), (double)(hi));                                 \
    } while (0)

ct_status ct_induce_protocol_check(const ct_induce_protocol *p)
{
    RANGE(s1_count, 1, 1000);
    RANGE(s1_bcl_ms, 50, 10000);
    RANGE(extra_stimuli, 1, CT_INDUCE_MAX_EXTRA);
    RANGE(ci_min_ms, 20, 10000);
    RANGE(ci_start_ms, p->ci_min_ms, 10000);
    RANGE(ci_step_ms, 1, 1000);
    RANGE(observe_ms, 50, 100000);
    RANGE(capture_window_ms, 5, p->ci_min_ms);
    RANGE(stim_radius_mm, 0.01, 100);
    RANGE(stim_amplitude_uA_per_uF, 1e-3, 1e4);
    RANGE(stim_duration_ms, 0.01, 100);
    RANGE(dt_ms, 0, 10);
    RANGE(sample_ms, 0.01, 10);
    RANGE(phase_delay_ms, p->sample_ms, 1000);
    RANGE(phase_v_star_mV, -200, 200);
    if (p->s1_bcl_ms <= p->stim_duration_ms || p->ci_min_ms <= p->stim_duration_ms)
        return ct_error_set(CT_ERR_CONFIG, "induction protocol: stimuli of %g ms do not fit the intervals",
                            p->stim_duration_ms);
    return CT_OK;
}

/* The running simulation of one site, and what is watched while it runs. */
typedef struct runner {
    const ct_sim *sim;
    const ct_backend_ops *be;
    ct_backend_ctx *ctx;              /* owned */
    const ct_induce_protocol *p;
    size_t n;
    double dt_ms, thr_mV;
    long step;                        /* steps done: t = step * dt */
    long sample_every;                /* steps between looks at Vm */
    long dur_steps;                   /* stimulus length in steps */
    long pulse[MAX_PULSES];           /* pulse start steps */
    int n_pulses;
    double amp[CT_MAX_STIMULI];
    double *vm, *vm_last;             /* owned, n: Vm now and at the last look (mV) */
    double last_look_ms;
    uint8_t *far;                     /* owned, n: farther than FAR_MARGIN_MM from the stimulus sphere */
    size_t n_far;
    /* capture: nodes of `far` activated since count_from_ms */
    double count_from_ms;
    uint8_t *counted;                 /* owned, n */
    size_t n_new;
    size_t n_active;                  /* nodes above threshold at the last look */
    /* re-entry cycle length: activations from cl_from_ms on */
    double cl_from_ms;
    double *cl_first, *cl_last;       /* owned, n */
    int *cl_count;                    /* owned, n */
    /* Vm of the last ring_len looks, for the phase */
    int ring_len, ring_pos, ring_filled;
    double *ring;                     /* owned, ring_len * n */
    double simulated_ms;
    int own_stimuli;                  /* 1: stimulate as the configuration says (ct_reentry_observe) */
    ct_induce_reentry_observer obs;   /* NULL, or told of the induced re-entry (ct_induce_site_run_observed) */
    void *obs_user;
    double erp_resolution_ms;         /* > 0: ERP bisected (ct_induce_extras) */
    /* the re-entry's traces (ct_induce_site_run_ex): recorded while `tracing`, in the replay */
    ct_induce_traces *traces;         /* borrowed, or NULL */
    int tracing;
    long trace_first_step;            /* the step of sample 0 */
    long trace_cap;                   /* samples allocated per point */
    double frame_next_ms, frame_every_ms;
    const int32_t *tris;              /* borrowed: boundary triangles, for the PS frames */
    size_t n_tris;
    double *phase;                    /* owned, n (rad): the PS frames' phase */
    char site[64];
} runner;

typedef struct snapshot {
    void *blob;                       /* owned */
    long step;
    int n_pulses;
} snapshot;

static void runner_free(runner *r)
{
    if (r->ctx)
        r->be->destroy(r->ctx);
    free(r->vm);
    free(r->vm_last);
    free(r->far);
    free(r->counted);
    free(r->cl_first);
    free(r->cl_last);
    free(r->cl_count);
    free(r->ring);
    free(r->phase);
}

static void look(runner *r)
{
    double t = (double)r->step * r->dt_ms, t0 = r->last_look_ms;
    size_t active = 0;
    for (size_t i = 0; i < r->n; i++) {
        double v0 = r->vm_last[i], v1 = r->vm[i];
        if (v1 >= r->thr_mV)
            active++;
        if (!(v0 < r->thr_mV && v1 >= r->thr_mV))
            continue;
        double tc = t0 + (t - t0) * (r->thr_mV - v0) / (v1 - v0);
        if (tc >= r->count_from_ms && r->far[i] && !r->counted[i]) {
            r->counted[i] = 1;
            r->n_new++;
        }
        if (tc >= r->cl_from_ms) {
            if (r->cl_count[i] == 0)
                r->cl_first[i] = tc;
            r->cl_last[i] = tc;
            r->cl_count[i]++;
        }
    }
    r->n_active = active;
    memcpy(r->ring + (size_t)r->ring_pos * r->n, r->vm, r->n * sizeof *r->vm);
    r->ring_pos = (r->ring_pos + 1) % r->ring_len;
    if (r->ring_filled < r->ring_len)
        r->ring_filled++;
    memcpy(r->vm_last, r->vm, r->n * sizeof *r->vm);
    r->last_look_ms = t;
}

/* The stimuli of step `step`: the protocol's pulses on stimulus 0, or the configuration's (own_stimuli). */
static uint32_t runner_stimuli(void *user, long step)
{
    const runner *r = user;
    uint32_t active = 0;
    for (int k = 0; k < r->n_pulses; k++)
        if (step >= r->pulse[k] && step < r->pulse[k] + r->dur_steps)
            active = 1u;
    if (r->own_stimuli) /* the configuration's stimuli instead */
        active |= ct_config_stimuli_active(r->sim->cfg, (double)step * r->dt_ms);
    return active;
}

/* While replaying for traces: Vm at the traced nodes, and a PS frame every frame_every_ms after the last
 * stimulus (from the phase of the newest look and the one phase_delay_ms before it). */
static ct_status trace_look(runner *r)
{
    ct_induce_traces *T = r->traces;
    long idx = (r->step - r->trace_first_step) / r->sample_every;
    if (idx >= 0 && idx < r->trace_cap) {
        for (int j = 0; j < T->n_points; j++)
            T->vm_mV[(size_t)j * (size_t)r->trace_cap + (size_t)idx] = r->vm[T->node[j]];
        if (idx + 1 > T->n_samples)
            T->n_samples = (int)(idx + 1);
    }
    double t = (double)r->step * r->dt_ms;
    int delay = (int)lround(r->p->phase_delay_ms / r->p->sample_ms);
    if (t + 1e-9 < r->frame_next_ms || T->n_frames >= CT_INDUCE_MAX_FRAMES || r->ring_filled <= delay ||
        r->n_tris == 0)
        return CT_OK;
    r->frame_next_ms += r->frame_every_ms;
    int newest = (r->ring_pos - 1 + r->ring_len) % r->ring_len;
    int older = (newest - delay + r->ring_len) % r->ring_len;
    ct_phase_from_vm(r->n, r->ring + (size_t)newest * r->n, r->ring + (size_t)older * r->n, r->p->phase_v_star_mV,
                     r->phase);
    int f = T->n_frames, found = 0;
    CT_CHECK(ct_phase_singularities(r->sim->mesh, r->tris, r->n_tris, r->phase, PS_CLUSTER_MM, T->frame_ps[f],
                                    CT_INDUCE_FRAME_PS, &found));
    T->frame_ms[f] = t;
    T->frame_n_ps[f] = found;
    T->n_frames++;
    return CT_OK;
}

/* The loop's observer: Vm every sample_every steps, for capture, re-entry and the phase (look). */
static ct_status runner_look(void *user, ct_loop *L)
{
    runner *r = user;
    r->step = L->step;
    CT_CHECK(r->be->download(r->ctx, CT_FIELD_VM, r->vm));
    look(r);
    if (r->tracing)
        CT_CHECK(trace_look(r));
    return CT_OK;
}

/* Steps until t = end_step * dt through the time loop (ct_run.h), looking at Vm every sample_every steps. */
static ct_status advance(runner *r, long end_step)
{
    if (r->step >= end_step)
        return CT_OK;
    char who[96];
    snprintf(who, sizeof who, "site %s: ", r->site);
    ct_loop loop = {.be = r->be, .ctx = r->ctx, .mesh = r->sim->mesh, .dt_ms = r->dt_ms,
                    .vm_bound_mV = r->sim->cfg->vm_bound_mV, .stimuli = runner_stimuli, .stim_user = r,
                    .amp_uA_per_uF = r->amp, .who = who, .step = r->step};
    CT_CHECK(ct_loop_observe(&loop, (ct_observer){r->sample_every, runner_look, r}));
    long from = r->step;
    ct_status st = ct_loop_run(&loop, end_step);
    r->step = loop.step;
    r->simulated_ms += (double)(loop.step - from) * r->dt_ms;
    return st;
}

static ct_status snapshot_take(runner *r, snapshot *s)
{
    size_t bytes = r->be->state_size(r->ctx);
    if (!s->blob && !(s->blob = malloc(bytes + 1)))
        return ct_error_set(CT_ERR_NOMEM, "site %s: out of memory for a state snapshot (%zu bytes)", r->site, bytes);
    s->step = r->step;
    s->n_pulses = r->n_pulses;
    return r->be->save_state(r->ctx, s->blob);
}

static ct_status snapshot_restore(runner *r, const snapshot *s)
{
    CT_CHECK(r->be->load_state(r->ctx, s->blob));
    r->step = s->step;
    r->n_pulses = s->n_pulses;
    CT_CHECK(r->be->download(r->ctx, CT_FIELD_VM, r->vm_last));
    r->last_look_ms = (double)r->step * r->dt_ms;
    r->ring_filled = 0;
    r->n_active = 1;
    return CT_OK;
}

static void count_from(runner *r, double t_ms)
{
    r->count_from_ms = t_ms;
    memset(r->counted, 0, r->n);
    r->n_new = 0;
}

static size_t capture_needed(const runner *r)
{
    size_t k = r->n_far / 100;
    return k > 5 ? k : 5;
}

static long ms_to_step(const runner *r, double t_ms)
{
    return lround(t_ms / r->dt_ms);
}

/* One trial: from snapshot `from`, a pulse at pulse_step; captured? and if so (unless capture_only), re-entry? */
static ct_status trial(runner *r, const snapshot *from, long pulse_step, int capture_only, int *captured,
                       int *reentry, double *activity_ms)
{
    const ct_induce_protocol *p = r->p;
    *captured = *reentry = 0;
    *activity_ms = 0;
    CT_CHECK(snapshot_restore(r, from));
    r->pulse[r->n_pulses++] = pulse_step;
    double t_pulse = (double)pulse_step * r->dt_ms;
    count_from(r, t_pulse);
    r->cl_from_ms = INFINITY;
    CT_CHECK(advance(r, pulse_step + ms_to_step(r, p->capture_window_ms)));
    if (r->n_new < capture_needed(r))
        return CT_OK;
    *captured = 1;
    if (capture_only)
        return CT_OK;
    r->cl_from_ms = t_pulse + 0.5 * p->observe_ms;
    for (size_t i = 0; i < r->n; i++)
        r->cl_count[i] = 0;
    long end = pulse_step + ms_to_step(r, p->observe_ms);
    while (r->step < end) {
        long next = r->step + r->sample_every;
        CT_CHECK(advance(r, next < end ? next : end));
        if (r->n_active == 0) {
            *activity_ms = (double)r->step * r->dt_ms - t_pulse;
            return CT_OK;
        }
    }
    *activity_ms = (double)r->step * r->dt_ms - t_pulse;
    *reentry = r->n_active > 0;
    return CT_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Tells the observer of the re-entry: the last activation of each node in the second half of the observation. */
static ct_status tell_observer(runner *r, const ct_induce_result *out)
{
    if (!r->obs)
        return CT_OK;
    double *last = malloc(r->n * sizeof *last + 1); /* owned here, lent to the observer */
    if (!last)
        return ct_error_set(CT_ERR_NOMEM, "site %s: out of memory", r->site);
    for (size_t i = 0; i < r->n; i++)
        last[i] = r->cl_count[i] > 0 ? r->cl_last[i] : NAN;
    ct_status st = r->obs(r->obs_user, r->sim, last, (double)r->step * r->dt_ms, out);
    free(last);
    return st;
}

/* Re-entry cycle length (median over nodes of the mean interval between activations) and phase
 * singularities at the present moment. */
static ct_status describe_reentry(runner *r, const int32_t *tris, size_t n_tris, ct_induce_result *out)
{
    double *cl = malloc(r->n * sizeof *cl + 1);
    double *phase = malloc(r->n * sizeof *phase + 1);
    if (!cl || !phase) {
        free(cl);
        free(phase);
        return ct_error_set(CT_ERR_NOMEM, "site %s: out of memory", r->site);
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->cl_count[i] >= 2)
            cl[k++] = (r->cl_last[i] - r->cl_first[i]) / (r->cl_count[i] - 1);
    out->cycle_length_ms = -1;
    if (k > 0) {
        qsort(cl, k, sizeof *cl, cmp_double);
        out->cycle_length_ms = k % 2 ? cl[k / 2] : 0.5 * (cl[k / 2 - 1] + cl[k / 2]);
    }
    out->n_ps = 0;
    int delay = (int)lround(r->p->phase_delay_ms / r->p->sample_ms);
    ct_status st = CT_OK;
    if (r->ring_filled > delay && n_tris > 0) {
        int newest = (r->ring_pos - 1 + r->ring_len) % r->ring_len;
        int older = (newest - delay + r->ring_len) % r->ring_len;
        ct_phase_from_vm(r->n, r->ring + (size_t)newest * r->n, r->ring + (size_t)older * r->n,
                         r->p->phase_v_star_mV, phase);
        int found = 0;
        st = ct_phase_singularities(r->sim->mesh, tris, n_tris, phase, PS_CLUSTER_MM, out->ps, CT_INDUCE_MAX_PS,
                                    &found);
        out->n_ps = found < CT_INDUCE_MAX_PS ? found : CT_INDUCE_MAX_PS;
    }
    free(cl);
    free(phase);
    return st;
}

void ct_induce_traces_free(ct_induce_traces *t)
{
    if (!t)
        return;
    free(t->vm_mV);
    t->vm_mV = NULL;
    t->n_samples = 0;
    t->n_stimuli = 0;
    t->n_frames = 0;
}

/* The node nearest p (mm). */
static long nearest_node(const ct_mesh *m, const double p[3])
{
    long best = 0;
    double bd = INFINITY;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *x = m->xyz_mm + 3 * i;
        double d = (x[0] - p[0]) * (x[0] - p[0]) + (x[1] - p[1]) * (x[1] - p[1]) + (x[2] - p[2]) * (x[2] - p[2]);
        if (d < bd) {
            bd = d;
            best = (long)i;
        }
    }
    return best;
}

/* Replays the sequence that induced the re-entry, from `s1` (the state just before the last S1) to end_step,
 * recording the traces (ct_induce_traces). The pulses after the snapshot's are the inducing sequence's. */
static ct_status replay_traced(runner *r, const snapshot *s1, long end_step)
{
    ct_induce_traces *T = r->traces;
    long extra[CT_INDUCE_MAX_EXTRA];
    int n_extra = r->n_pulses - s1->n_pulses;
    if (n_extra < 0 || n_extra > CT_INDUCE_MAX_EXTRA)
        return ct_error_set(CT_ERR_INTERNAL, "site %s: %d extra-stimuli to replay", r->site, n_extra);
    memcpy(extra, r->pulse + s1->n_pulses, (size_t)n_extra * sizeof *extra);
    CT_CHECK(snapshot_restore(r, s1));
    for (int k = 0; k < n_extra; k++)
        r->pulse[r->n_pulses++] = extra[k];
    ct_induce_traces_free(T);
    if (T->n_points > CT_INDUCE_MAX_TRACES)
        T->n_points = CT_INDUCE_MAX_TRACES;
    for (int j = 0; j < T->n_points; j++) {
        T->node[j] = nearest_node(r->sim->mesh, T->want_mm[j]);
        memcpy(T->node_mm[j], r->sim->mesh->xyz_mm + 3 * (size_t)T->node[j], sizeof T->node_mm[j]);
    }
    /* the loop looks after each step whose count is a multiple of sample_every */
    r->trace_first_step = (s1->step / r->sample_every + 1) * r->sample_every;
    r->trace_cap = end_step >= r->trace_first_step ? (end_step - r->trace_first_step) / r->sample_every + 1 : 0;
    T->t0_ms = (double)r->trace_first_step * r->dt_ms;
    T->sample_ms = (double)r->sample_every * r->dt_ms;
    if (r->trace_cap == 0)
        return CT_OK;
    T->vm_mV = malloc((size_t)T->n_points * (size_t)r->trace_cap * sizeof *T->vm_mV + 1); /* T owns it */
    r->phase = r->phase ? r->phase : malloc(r->n * sizeof *r->phase + 1);
    if (!T->vm_mV || !r->phase)
        return ct_error_set(CT_ERR_NOMEM, "site %s: out of memory for the traces", r->site);
    T->n_stimuli = 0;
    for (int k = s1->n_pulses - 1; k < r->n_pulses; k++) {
        snprintf(T->stimulus_name[T->n_stimuli], sizeof T->stimulus_name[0], "S%d", k - s1->n_pulses + 2);
        T->stimulus_ms[T->n_stimuli++] = (double)r->pulse[k] * r->dt_ms;
    }
    double last_ms = T->stimulus_ms[T->n_stimuli - 1], span = (double)end_step * r->dt_ms - last_ms;
    r->frame_every_ms = T->ps_interval_ms > 0 ? T->ps_interval_ms : 10.0;
    if (span / r->frame_every_ms > CT_INDUCE_MAX_FRAMES - 1)
        r->frame_every_ms = span / (CT_INDUCE_MAX_FRAMES - 1);
    r->frame_next_ms = last_ms + r->frame_every_ms;
    r->tracing = 1;
    ct_status st = advance(r, end_step);
    r->tracing = 0;
    /* rows of n_samples */
    for (int j = 1; j < T->n_points && T->n_samples < r->trace_cap; j++)
        memmove(T->vm_mV + (size_t)j * (size_t)T->n_samples, T->vm_mV + (size_t)j * (size_t)r->trace_cap,
                (size_t)T->n_samples * sizeof *T->vm_mV);
    return st;
}

static ct_status runner_open(runner *r, const ct_sim *sim, const ct_backend_ops *be, const ct_induce_protocol *p,
                             const ct_induce_site *site)
{
    const ct_config *cfg = sim->cfg;
    memset(r, 0, sizeof *r);
    r->sim = sim;
    r->be = be;
    r->p = p;
    r->n = sim->mesh->n_nodes;
    r->dt_ms = cfg->dt_ms;
    r->thr_mV = cfg->activation_threshold_mV;
    snprintf(r->site, sizeof r->site, "%s", site->name);
    r->sample_every = lround(p->sample_ms / cfg->dt_ms);
    if (r->sample_every < 1)
        r->sample_every = 1;
    r->dur_steps = lround(p->stim_duration_ms / cfg->dt_ms);
    if (r->dur_steps < 1)
        r->dur_steps = 1;
    r->amp[0] = p->stim_amplitude_uA_per_uF;
    if (!site->name[0]) { /* ct_reentry_observe: the configuration's stimuli */
        r->own_stimuli = 1;
        snprintf(r->site, sizeof r->site, "%.63s", cfg->source);
        for (int s = 0; s < cfg->n_stimuli; s++)
            r->amp[s] = cfg->stimuli[s].amplitude_uA_per_uF;
    }
    r->ring_len = (int)lround(p->phase_delay_ms / p->sample_ms) + 2;
    size_t n = r->n;
    r->vm = malloc(n * sizeof *r->vm + 1);
    r->vm_last = malloc(n * sizeof *r->vm_last + 1);
    r->far = calloc(n + 1, 1);
    r->counted = calloc(n + 1, 1);
    r->cl_first = malloc(n * sizeof *r->cl_first + 1);
    r->cl_last = malloc(n * sizeof *r->cl_last + 1);
    r->cl_count = calloc(n + 1, sizeof *r->cl_count);
    r->ring = malloc((size_t)r->ring_len * n * sizeof *r->ring + 1);
    if (!r->vm || !r->vm_last || !r->far || !r->counted || !r->cl_first || !r->cl_last || !r->cl_count || !r->ring)
        return ct_error_set(CT_ERR_NOMEM, "site %s: out of memory for %zu nodes", site->name, n);
    double reach = p->stim_radius_mm + FAR_MARGIN_MM;
    for (size_t i = 0; i < n; i++) {
        const double *x = sim->mesh->xyz_mm + 3 * i;
        double d2 = 0;
        for (int k = 0; k < 3; k++)
            d2 += (x[k] - site->position_mm[k]) * (x[k] - site->position_mm[k]);
        r->far[i] = d2 > reach * reach;
        r->n_far += r->far[i];
    }
    if (!be->state_size || !be->save_state || !be->load_state)
        return ct_error_set(CT_ERR_BACKEND, "the %s backend cannot save its state, which induction needs", be->name);
    ct_real params[6 * CT_MODEL_NPARAM];
    ct_backend_problem pb;
    ct_sim_backend_problem(sim, 0, params, &pb);
    CT_CHECK(be->create(&pb, &r->ctx));
    CT_CHECK(be->download(r->ctx, CT_FIELD_VM, r->vm_last));
    r->count_from_ms = INFINITY;
    r->cl_from_ms = INFINITY;
    r->n_active = 1;
    return CT_OK;
}

static ct_status run_protocol(runner *r, const int32_t *tris, size_t n_tris, int quiet, ct_induce_result *out)
{
    const ct_induce_protocol *p = r->p;
    snapshot snap[CT_INDUCE_MAX_EXTRA] = {{0}}, snap_s1 = {0};
    ct_status st = CT_OK;
    /* drive train, then the first snapshot ci_min behind the last S1 */
    long bcl = ms_to_step(r, p->s1_bcl_ms), ci_min = ms_to_step(r, p->ci_min_ms);
    for (int k = 0; k < p->s1_count; k++)
        r->pulse[r->n_pulses++] = (long)k * bcl;
    long prev = (long)(p->s1_count - 1) * bcl; /* step of the stimulus the next one couples to */
    if ((st = advance(r, prev)) != CT_OK)
        goto done;
    if (r->traces && (st = snapshot_take(r, &snap_s1)) != CT_OK) /* just before the last S1: the replay's start */
        goto done;
    count_from(r, (double)prev * r->dt_ms);
    if ((st = advance(r, prev + ci_min)) != CT_OK)
        goto done;
    if (r->n_new < capture_needed(r)) {
        st = ct_error_set(CT_ERR_CONFIG,
                          "site %s: the drive train S1 did not capture (%zu nodes activated beyond the stimulus; "
                          "is the site in scar or the stimulus too weak?)",
                          r->site, r->n_new);
        goto done;
    }
    if ((st = snapshot_take(r, &snap[0])) != CT_OK)
        goto done;
    if (!quiet)
        fprintf(stderr, "  %s: drive train %d x %g ms done\n", r->site, p->s1_count, p->s1_bcl_ms);

    for (int k = 0; k < p->extra_stimuli; k++) {
        long ci_step = ms_to_step(r, p->ci_step_ms), best = -1;
        out->erp_ms[k] = -1;
        for (long ci = ms_to_step(r, p->ci_start_ms); ci >= ci_min; ci -= ci_step) {
            int captured, reentry;
            double activity_ms;
            if ((st = trial(r, &snap[k], prev + ci, 0, &captured, &reentry, &activity_ms)) != CT_OK)
                goto done;
            out->trials++;
            if (!quiet)
                fprintf(stderr, "  %s: S%d at %g ms: %s\n", r->site, k + 2, (double)ci * r->dt_ms,
                        !captured ? "no capture" : reentry ? "captured, RE-ENTRY" : "captured, no re-entry");
            if (!captured) {
                out->erp_ms[k] = out->erp_fail_ms[k] = (double)ci * r->dt_ms;
                /* bisection between the failing interval and the last capturing one (capture-only trials) */
                long lo = ci, hi = best, res = ms_to_step(r, r->erp_resolution_ms);
                if (res < 1)
                    res = 1;
                while (r->erp_resolution_ms > 0 && best >= 0 && hi - lo > res) {
                    long mid = lo + (hi - lo) / 2;
                    if ((st = trial(r, &snap[k], prev + mid, 1, &captured, &reentry, &activity_ms)) != CT_OK)
                        goto done;
                    out->trials++;
                    if (!quiet)
                        fprintf(stderr, "  %s: S%d at %g ms (ERP bisection): %s\n", r->site, k + 2,
                                (double)mid * r->dt_ms, captured ? "captured" : "no capture");
                    *(captured ? &hi : &lo) = mid;
                }
                if (r->erp_resolution_ms > 0 && best >= 0) {
                    out->erp_ms[k] = (double)lo * r->dt_ms;
                    out->erp_refined = 1;
                }
                break;
            }
            best = ci;
            out->erp_capture_ms[k] = (double)ci * r->dt_ms;
            out->n_extra = k + 1;
            out->coupling_ms[k] = (double)ci * r->dt_ms;
            if (reentry) {
                out->inducible = 1;
                out->induced_by = k + 2;
                st = describe_reentry(r, tris, n_tris, out);
                if (st == CT_OK)
                    st = tell_observer(r, out);
                if (st == CT_OK && r->traces) {
                    r->tris = tris;
                    r->n_tris = n_tris;
                    st = replay_traced(r, &snap_s1, r->step);
                }
                goto done;
            }
        }
        if (best < 0 || k + 1 == p->extra_stimuli)
            break;
        /* the next extra-stimulus couples to this one at its shortest capturing interval */
        if ((st = snapshot_restore(r, &snap[k])) != CT_OK)
            goto done;
        r->pulse[r->n_pulses++] = prev + best;
        prev += best;
        if ((st = advance(r, prev + ci_min)) != CT_OK || (st = snapshot_take(r, &snap[k + 1])) != CT_OK)
            goto done;
    }
done:
    for (int k = 0; k < CT_INDUCE_MAX_EXTRA; k++)
        free(snap[k].blob);
    free(snap_s1.blob);
    return st;
}

ct_status ct_induce_site_run(const ct_config *base, const ct_induce_site *site, const ct_induce_protocol *p,
                             const ct_backend_ops *be, int quiet, ct_induce_result *out)
{
    return ct_induce_site_run_observed(base, site, p, be, quiet, out, NULL, NULL);
}

ct_status ct_induce_site_run_observed(const ct_config *base, const ct_induce_site *site, const ct_induce_protocol *p,
                                      const ct_backend_ops *be, int quiet, ct_induce_result *out,
                                      ct_induce_reentry_observer obs, void *obs_user)
{
    ct_induce_extras x = {.obs = obs, .obs_user = obs_user};
    return ct_induce_site_run_ex(base, site, p, be, quiet, out, &x);
}

static void result_clear(ct_induce_result *out)
{
    memset(out, 0, sizeof *out);
    out->cycle_length_ms = -1;
    for (int k = 0; k < CT_INDUCE_MAX_EXTRA; k++)
        out->erp_ms[k] = out->erp_fail_ms[k] = out->erp_capture_ms[k] = -1;
}

ct_status ct_induce_site_run_ex(const ct_config *base, const ct_induce_site *site, const ct_induce_protocol *p,
                                const ct_backend_ops *be, int quiet, ct_induce_result *out,
                                const ct_induce_extras *x)
{
    static const ct_induce_extras none;
    if (!x)
        x = &none;
    result_clear(out);
    CT_CHECK(ct_induce_protocol_check(p));
    double t0 = ct_now_s();
    /* the site's configuration: the base one with the site as its only stimulus and no outputs (a shallow
     * copy that borrows nothing freed here: probes dropped) */
    ct_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    *cfg = *base;
    cfg->probes = NULL;
    cfg->n_probes = 0;
    cfg->output_interval_ms = 0;
    cfg->ecg_interval_ms = 0;
    cfg->max_beats = 0;
    if (p->dt_ms > 0)
        cfg->dt_ms = p->dt_ms;
    cfg->n_stimuli = 1;
    ct_stimulus *s = &cfg->stimuli[0];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", site->name);
    s->shape = CT_REGION_SPHERE;
    memcpy(s->center_mm, site->position_mm, sizeof s->center_mm);
    s->radius_mm = p->stim_radius_mm;
    s->amplitude_uA_per_uF = p->stim_amplitude_uA_per_uF;
    s->duration_ms = p->stim_duration_ms;
    s->count = 1;

    ct_sim *sim = NULL;
    runner r;
    memset(&r, 0, sizeof r);
    int32_t *tris = NULL;
    size_t n_tris = 0;
    ct_status st = ct_sim_create(cfg, &sim);
    if (st != CT_OK)
        st = ct_error_set(st, "site %s: %s", site->name, ct_error_message());
    if (st == CT_OK)
        st = ct_mesh_boundary_tris(sim->mesh, &tris, &n_tris);
    if (st == CT_OK)
        st = runner_open(&r, sim, be, p, site);
    r.obs = x->obs;
    r.obs_user = x->obs_user;
    r.erp_resolution_ms = x->erp_resolution_ms;
    r.traces = x->traces;
    if (r.traces && r.traces->n_points < 1) { /* [0] the pacing site */
        r.traces->n_points = 1;
        snprintf(r.traces->label[0], sizeof r.traces->label[0], "pacing site");
        memcpy(r.traces->want_mm[0], site->position_mm, sizeof r.traces->want_mm[0]);
    }
    if (st == CT_OK)
        st = run_protocol(&r, tris, n_tris, quiet, out);
    out->simulated_ms = r.simulated_ms;
    out->wall_s = ct_now_s() - t0;
    runner_free(&r);
    free(tris);
    ct_sim_destroy(sim);
    free(cfg);
    return st;
}

ct_status ct_reentry_observe(const ct_config *cfg, const ct_backend_ops *be, double last_stimulus_ms,
                             const ct_induce_protocol *p, int quiet, ct_induce_result *out)
{
    result_clear(out);
    CT_CHECK(ct_induce_protocol_check(p));
    double t0 = ct_now_s();
    ct_sim *sim = NULL;
    runner r;
    memset(&r, 0, sizeof r);
    int32_t *tris = NULL;
    size_t n_tris = 0;
    ct_induce_site nobody;
    memset(&nobody, 0, sizeof nobody);
    nobody.position_mm[0] = nobody.position_mm[1] = nobody.position_mm[2] = INFINITY;
    ct_status st = ct_sim_create(cfg, &sim);
    if (st == CT_OK)
        st = ct_mesh_boundary_tris(sim->mesh, &tris, &n_tris);
    if (st == CT_OK)
        st = runner_open(&r, sim, be, p, &nobody);
    long start = lround(last_stimulus_ms / cfg->dt_ms);
    if (st == CT_OK)
        st = advance(&r, start);
    if (st == CT_OK) {
        r.cl_from_ms = last_stimulus_ms + 0.5 * p->observe_ms;
        long end = start + lround(p->observe_ms / cfg->dt_ms);
        while (st == CT_OK && r.step < end && r.n_active > 0) {
            long next = r.step + r.sample_every;
            st = advance(&r, next < end ? next : end);
        }
        out->inducible = st == CT_OK && r.n_active > 0;
        if (!quiet)
            fprintf(stderr, "  %s: activity %s %g ms after the last stimulus\n", cfg->source,
                    out->inducible ? "persists" : "ended", (double)r.step * r.dt_ms - last_stimulus_ms);
    }
    if (st == CT_OK && out->inducible)
        st = describe_reentry(&r, tris, n_tris, out);
    out->simulated_ms = r.simulated_ms;
    out->wall_s = ct_now_s() - t0;
    runner_free(&r);
    free(tris);
    ct_sim_destroy(sim);
    return st;
}
