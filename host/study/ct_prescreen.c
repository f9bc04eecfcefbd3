/* ct_prescreen.c — the pre-screen of pacing sites (ct_prescreen.h): the edge graph and per-node refractoriness
 * built from the set-up (ct_sim_create), the calibration of each parameter set on a cable, the discrete-event
 * front propagation and the induction protocol run on it, and prescreen.json. */
#define _POSIX_C_SOURCE 200809L
#include "ct_prescreen.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct_clock.h"
#include "core/ct_files.h"
#include "core/ct_json.h"
#include "model/ct_model_desc.h"
#include "sim/ct_sim.h"
#include "../kernels/models/ct_models.h"

#define FAR_MARGIN_MM 2.0    /* capture counts nodes this far beyond the stimulus sphere (as ct_induce.c) */
#define N_SETS 6             /* ionic parameter sets (ct_sim.h) */
#define ERP_STEP_MS 5.0      /* coupling-interval step of the refractory-period calibration */

struct ct_prescreen {
    ct_induce_protocol protocol;
    size_t n;                 /* nodes */
    double *xyz_mm;           /* 3n, owned (copied from the set-up's mesh) */
    size_t *adj_ptr;          /* n + 1, owned: node i's edges are adj_ptr[i] .. adj_ptr[i+1]-1 */
    int32_t *adj_node;        /* owned */
    double *adj_ms;           /* owned: travel time along each edge */
    uint8_t *conducting;      /* n, owned: 1 if the node belongs to a conducting element */
    uint8_t *node_set;        /* n, owned: each node's ionic parameter set */
    double *post_ms;          /* n, owned: refractoriness beyond the APD, R - APD90 at the drive cycle length */
    size_t n_conducting;
    double mean_edge_mm;
    ct_prescreen_tissue tissue[N_SETS];
    double calibration_s;     /* wall time of the calibration */
};

/* ---- the event queue and the propagation state --------------------------------------------------------- */

typedef struct event {
    double t_ms;
    int32_t node;
    int32_t origin; /* which stimulus the front comes from */
} event;

typedef struct state {
    double *act_ms;      /* n: last activation, -INFINITY before any */
    double *prev_ms;     /* n: the activation before it */
    double *apd_cur_ms;  /* n: APD of the node's current (last) beat */
    event *heap;         /* binary min-heap on t_ms */
    size_t n_heap, cap;
    double max_end_ms;   /* latest activation + APD so far */
    /* capture counting: activations of far nodes by fronts of `count_origin` up to count_until_ms */
    int32_t count_origin;
    double count_until_ms;
    const uint8_t *far;
    size_t n_counted;
} state;

static void state_free(state *s)
{
    free(s->act_ms);
    free(s->prev_ms);
    free(s->apd_cur_ms);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

static ct_status state_init(state *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->act_ms = malloc((n + 1) * sizeof *s->act_ms);
    s->prev_ms = malloc((n + 1) * sizeof *s->prev_ms);
    s->apd_cur_ms = calloc(n + 1, sizeof *s->apd_cur_ms);
    s->cap = 1024;
    s->heap = malloc(s->cap * sizeof *s->heap);
    if (!s->act_ms || !s->prev_ms || !s->apd_cur_ms || !s->heap) {
        state_free(s);
        return ct_error_set(CT_ERR_NOMEM, "pre-screen: out of memory for %zu nodes", n);
    }
    for (size_t i = 0; i < n; i++)
        s->act_ms[i] = s->prev_ms[i] = -INFINITY;
    s->max_end_ms = -INFINITY;
    s->count_origin = -1;
    return CT_OK;
}

/* dst := src (dst initialised with state_init for the same n). */
static ct_status state_copy(state *dst, const state *src, size_t n)
{
    if (dst->cap < src->n_heap) {
        event *h = realloc(dst->heap, src->n_heap * sizeof *h);
        if (!h)
            return ct_error_set(CT_ERR_NOMEM, "pre-screen: out of memory for %zu events", src->n_heap);
        dst->heap = h;
        dst->cap = src->n_heap;
    }
    memcpy(dst->heap, src->heap, src->n_heap * sizeof *src->heap);
    dst->n_heap = src->n_heap;
    memcpy(dst->act_ms, src->act_ms, n * sizeof *src->act_ms);
    memcpy(dst->prev_ms, src->prev_ms, n * sizeof *src->prev_ms);
    memcpy(dst->apd_cur_ms, src->apd_cur_ms, n * sizeof *src->apd_cur_ms);
    dst->max_end_ms = src->max_end_ms;
    dst->count_origin = -1;
    dst->n_counted = 0;
    return CT_OK;
}

static ct_status push(state *s, double t_ms, int32_t node, int32_t origin)
{
    if (s->n_heap == s->cap) {
        event *h = realloc(s->heap, 2 * s->cap * sizeof *h);
        if (!h)
            return ct_error_set(CT_ERR_NOMEM, "pre-screen: out of memory for %zu events", 2 * s->cap);
        s->heap = h;
        s->cap *= 2;
    }
    size_t k = s->n_heap++;
    while (k > 0 && s->heap[(k - 1) / 2].t_ms > t_ms) {
        s->heap[k] = s->heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    s->heap[k] = (event){t_ms, node, origin};
    return CT_OK;
}

static event pop(state *s)
{
    event top = s->heap[0], last = s->heap[--s->n_heap];
    size_t k = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s->heap[c + 1].t_ms < s->heap[c].t_ms)
            c++;
        if (s->heap[c].t_ms >= last.t_ms)
            break;
        s->heap[k] = s->heap[c];
        k = c;
    }
    if (n > 0)
        s->heap[k] = last;
    return top;
}

/* APD90 (ms) of a beat that follows a diastolic interval di_ms (infinite: from rest) in tissue t. */
static double apd_after(const ct_prescreen_tissue *t, double di_ms)
{
    int m = t->n_restitution;
    if (m == 0)
        return t->apd90_ms;
    if (!(di_ms < t->restitution_di_ms[m - 1]))
        return t->restitution_apd_ms[m - 1];
    if (di_ms <= t->restitution_di_ms[0])
        return t->restitution_apd_ms[0];
    int k = 0;
    while (di_ms >= t->restitution_di_ms[k + 1])
        k++;
    double w = (di_ms - t->restitution_di_ms[k]) / (t->restitution_di_ms[k + 1] - t->restitution_di_ms[k]);
    return t->restitution_apd_ms[k] + w * (t->restitution_apd_ms[k + 1] - t->restitution_apd_ms[k]);
}

/* Conduction-velocity factor (<= 1 about) of a front entering tissue t di_ms after its last repolarisation. */
static double cv_factor(const ct_prescreen_tissue *t, double di_ms)
{
    int m = t->n_restitution;
    if (m == 0 || !(di_ms < t->restitution_di_ms[m - 1]))
        return m ? t->restitution_cv_factor[m - 1] : 1.0;
    if (di_ms <= t->restitution_di_ms[0])
        return t->restitution_cv_factor[0];
    int k = 0;
    while (di_ms >= t->restitution_di_ms[k + 1])
        k++;
    double w = (di_ms - t->restitution_di_ms[k]) / (t->restitution_di_ms[k + 1] - t->restitution_di_ms[k]);
    return t->restitution_cv_factor[k] + w * (t->restitution_cv_factor[k + 1] - t->restitution_cv_factor[k]);
}

/* Processes the events before t_end_ms. */
static ct_status run_until(const ct_prescreen *ps, state *s, double t_end_ms)
{
    while (s->n_heap > 0 && s->heap[0].t_ms < t_end_ms) {
        event e = pop(s);
        size_t i = (size_t)e.node;
        double end_ms = s->act_ms[i] + s->apd_cur_ms[i]; /* of the last beat */
        if (e.t_ms < end_ms + ps->post_ms[i])
            continue; /* refractory: the front dies here */
        s->prev_ms[i] = s->act_ms[i];
        s->act_ms[i] = e.t_ms;
        s->apd_cur_ms[i] = apd_after(&ps->tissue[ps->node_set[i]], e.t_ms - end_ms);
        if (e.t_ms + s->apd_cur_ms[i] > s->max_end_ms)
            s->max_end_ms = e.t_ms + s->apd_cur_ms[i];
        if (e.origin == s->count_origin && s->far[i] && e.t_ms <= s->count_until_ms)
            s->n_counted++;
        for (size_t k = ps->adj_ptr[i]; k < ps->adj_ptr[i + 1]; k++) {
            int32_t j = ps->adj_node[k];
            double t = e.t_ms + ps->adj_ms[k], end_j = s->act_ms[j] + s->apd_cur_ms[j];
            if (t < end_j + ps->post_ms[j])
                continue; /* it would die on arrival */
            double f = cv_factor(&ps->tissue[ps->node_set[j]], t - end_j);
            if (f > 0 && f < 1)
                t = e.t_ms + ps->adj_ms[k] / f;
            CT_CHECK(push(s, t, j, e.origin));
        }
    }
    return CT_OK;
}

/* The conducting nodes within radius_mm of the site: mask (n) and count. */
static size_t site_nodes(const ct_prescreen *ps, const double *x_mm, double radius_mm, uint8_t *mask)
{
    size_t count = 0;
    for (size_t i = 0; i < ps->n; i++) {
        double d2 = 0;
        for (int k = 0; k < 3; k++)
            d2 += (ps->xyz_mm[3 * i + k] - x_mm[k]) * (ps->xyz_mm[3 * i + k] - x_mm[k]);
        mask[i] = ps->conducting[i] && d2 <= radius_mm * radius_mm * (1 + 1e-12);
        count += mask[i];
    }
    return count;
}

static ct_status stimulate(state *s, const uint8_t *stim, size_t n, double t_ms, int32_t origin)
{
    for (size_t i = 0; i < n; i++)
        if (stim[i])
            CT_CHECK(push(s, t_ms, (int32_t)i, origin));
    return CT_OK;
}

/* ---- building the model ---------------------------------------------------------------------------- */

typedef struct edge {
    int32_t a, b;
    double t_ms;
} edge;

static int edge_cmp(const void *x, const void *y)
{
    const edge *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->b != q->b)
        return p->b < q->b ? -1 : 1;
    return (p->t_ms > q->t_ms) - (p->t_ms < q->t_ms);
}

/* Travel time (ms) along edge e (mm) in an element with unit fibre f and speeds v_l, v_t (mm/ms). */
static double edge_time_ms(const double e[3], const double f[3], double v_l, double v_t)
{
    double along = e[0] * f[0] + e[1] * f[1] + e[2] * f[2];
    double across2 = 0;
    for (int k = 0; k < 3; k++)
        across2 += (e[k] - along * f[k]) * (e[k] - along * f[k]);
    return sqrt(along * along / (v_l * v_l) + across2 / (v_t * v_t));
}

/* The edge graph from the conducting elements of the set-up, with per-element speeds. */
static ct_status build_graph(ct_prescreen *ps, const ct_sim *sim)
{
    const ct_mesh *m = sim->mesh;
    const ct_config *cfg = sim->cfg;
    static const int pair[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
    edge *edges = malloc((6 * m->n_tets + 1) * sizeof *edges); /* owned here */
    if (!edges)
        return ct_error_set(CT_ERR_NOMEM, "pre-screen: out of memory for %zu elements", m->n_tets);
    size_t ne = 0;
    double len_sum = 0;
    for (size_t e = 0; e < m->n_tets; e++) {
        double scale = sim->sigma_scale ? sim->sigma_scale[e] : 1.0;
        if (!(scale > 0))
            continue; /* scar or lesion: no conduction */
        int bz = m->tissue && m->tissue[e] == CT_TISSUE_BORDER_ZONE;
        /* the element's speeds: its first node's cell type, the element's own tissue; a border-zone set was
         * calibrated with the border zone's sigma scale, any other with scale 1 */
        int set = (sim->node_param_set[m->tets[4 * e]] & ~1) | bz;
        const ct_prescreen_tissue *t = &ps->tissue[set];
        double rel = bz ? scale / cfg->border_zone_sigma_scale : scale;
        double v_l = t->cv_l_mm_per_ms * sqrt(rel), v_t = t->cv_t_mm_per_ms * sqrt(rel);
        const double *f = m->fibre + 3 * e;
        for (int k = 0; k < 6; k++) {
            int32_t a = m->tets[4 * e + pair[k][0]], b = m->tets[4 * e + pair[k][1]];
            double d[3];
            for (int c = 0; c < 3; c++)
                d[c] = m->xyz_mm[3 * (size_t)b + c] - m->xyz_mm[3 * (size_t)a + c];
            len_sum += sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
            edges[ne++] = (edge){a < b ? a : b, a < b ? b : a, edge_time_ms(d, f, v_l, v_t)};
        }
    }
    ps->mean_edge_mm = ne ? len_sum / (double)ne : 0;
    qsort(edges, ne, sizeof *edges, edge_cmp);
    size_t nu = 0; /* unique edges, keeping the fastest (sorted first) */
    for (size_t k = 0; k < ne; k++)
        if (nu == 0 || edges[k].a != edges[nu - 1].a || edges[k].b != edges[nu - 1].b)
            edges[nu++] = edges[k];
    size_t n = ps->n;
    ps->adj_ptr = calloc(n + 2, sizeof *ps->adj_ptr);
    ps->adj_node = malloc((2 * nu + 1) * sizeof *ps->adj_node);
    ps->adj_ms = malloc((2 * nu + 1) * sizeof *ps->adj_ms);
    if (!ps->adj_ptr || !ps->adj_node || !ps->adj_ms) {
        free(edges);
        return ct_error_set(CT_ERR_NOMEM, "pre-screen: out of memory for %zu edges", nu);
    }
    for (size_t k = 0; k < nu; k++) {
        ps->adj_ptr[edges[k].a + 1]++;
        ps->adj_ptr[edges[k].b + 1]++;
        ps->conducting[edges[k].a] = ps->conducting[edges[k].b] = 1;
    }
    for (size_t i = 0; i < n; i++)
        ps->adj_ptr[i + 1] += ps->adj_ptr[i];
    size_t *fill = malloc((n + 1) * sizeof *fill); /* owned here */
    if (!fill) {
        free(edges);
        return ct_error_set(CT_ERR_NOMEM, "pre-screen: out of memory");
    }
    memcpy(fill, ps->adj_ptr, n * sizeof *fill);
    for (size_t k = 0; k < nu; k++) {
        size_t pa = fill[edges[k].a]++, pb = fill[edges[k].b]++;
        ps->adj_node[pa] = edges[k].b;
        ps->adj_ms[pa] = edges[k].t_ms;
        ps->adj_node[pb] = edges[k].a;
        ps->adj_ms[pb] = edges[k].t_ms;
    }
    free(fill);
    free(edges);
    for (size_t i = 0; i < n; i++)
        ps->n_conducting += ps->conducting[i];
    return CT_OK;
}

/* The node of the cable nearest x (on its y = z = 0 edge). */
static size_t cable_node(const ct_mesh *m, double x_mm)
{
    size_t best = 0;
    double bd = INFINITY;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *p = m->xyz_mm + 3 * i;
        double d = fabs(p[0] - x_mm) + fabs(p[1]) + fabs(p[2]);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

#define CABLE_MAX_BEATS 16

/* Activation and repolarisation (ms, -1 where none) of each beat at three nodes of a cable run. */
typedef struct cable_obs {
    int n_beats;
    double act_ms[3][CABLE_MAX_BEATS], rep_ms[3][CABLE_MAX_BEATS];
    double x_mm[3];
} cable_obs;

/* Runs the cable configuration c (its stimuli, until c->end_time_ms, beats tracked up to c->max_beats) and
 * observes the nodes nearest x_mm[0..2]. */
static ct_status cable_run(const ct_config *c, const ct_backend_ops *be, const double x_mm[3], cable_obs *o)
{
    ct_sim *cs = NULL;
    ct_run_result res;
    memset(&res, 0, sizeof res);
    memset(o, 0, sizeof *o);
    o->n_beats = (int)c->max_beats;
    ct_run_options ro = {.quiet = 1, .max_beats = (int)c->max_beats};
    ct_status st = ct_sim_create(c, &cs);
    if (st == CT_OK)
        st = ct_sim_run(cs, be, &ro, &res);
    if (st == CT_OK) {
        size_t n = cs->mesh->n_nodes;
        for (int k = 0; k < 3; k++) {
            size_t i = cable_node(cs->mesh, x_mm[k]);
            o->x_mm[k] = cs->mesh->xyz_mm[3 * i];
            for (int b = 0; b < o->n_beats; b++) {
                o->act_ms[k][b] = res.beat_activation_ms[(size_t)b * n + i];
                o->rep_ms[k][b] = res.beat_repolarisation_ms[(size_t)b * n + i];
            }
        }
    }
    ct_run_result_free(&res);
    ct_sim_destroy(cs);
    return st;
}

/* Calibrates parameter set `set` on a fibre-aligned cable of the set-up's model, tissue, conductivity and time
 * step, with mesh spacing h_mm (see ct_prescreen.h). */
static ct_status calibrate_set(const ct_sim *sim, int set, const ct_induce_protocol *p, double h_mm,
                               const ct_backend_ops *be, int quiet, ct_prescreen_tissue *out)
{
    const ct_config *base = sim->cfg;
    int bz = set & 1;
    double reach = p->stim_radius_mm + FAR_MARGIN_MM;
    double len_mm = fmax(fmax(20.0, 30 * h_mm), 4 * reach);
    int train = p->s1_count < CABLE_MAX_BEATS - 1 ? p->s1_count : CABLE_MAX_BEATS - 1;
    ct_config *c = malloc(sizeof *c); /* a shallow copy that borrows nothing (probes dropped); owned here */
    if (!c)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    *c = *base;
    c->probes = NULL;
    c->n_probes = 0;
    c->output_interval_ms = 0;
    c->ecg_interval_ms = 0;
    c->mesh_from_file = 0;
    c->box_size_mm[0] = len_mm;
    c->box_size_mm[1] = c->box_size_mm[2] = h_mm;
    c->dx_mm = h_mm;
    c->fibre_direction[0] = 1;
    c->fibre_direction[1] = c->fibre_direction[2] = 0;
    c->cell_type_from_mesh = 0;
    memcpy(c->model_params, sim->param_sets + set * CT_MODEL_NPARAM, sizeof c->model_params);
    c->n_tissue_regions = 0;
    c->n_lesions = 0;
    if (bz) {
        c->conductivity.sigma_l_S_per_m *= base->border_zone_sigma_scale;
        c->conductivity.sigma_t_S_per_m *= base->border_zone_sigma_scale;
    }
    if (p->dt_ms > 0)
        c->dt_ms = p->dt_ms;
    c->n_stimuli = 1;
    ct_stimulus *s = &c->stimuli[0];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "calibration S1");
    s->shape = CT_REGION_SPHERE;
    s->radius_mm = p->stim_radius_mm;
    s->amplitude_uA_per_uF = p->stim_amplitude_uA_per_uF;
    s->duration_ms = p->stim_duration_ms;
    s->period_ms = p->s1_bcl_ms;
    s->count = train;
    c->max_beats = train;
    double last_s1_ms = (train - 1) * p->s1_bcl_ms;
    c->end_time_ms = last_s1_ms + 0.98 * p->s1_bcl_ms;
    /* observed nodes: near the stimulus, near the far end, the middle */
    const double x_mm[3] = {reach + 2, len_mm - 2, 0.5 * (reach + len_mm)};
    cable_obs o;
    double s1_di_ms = INFINITY;
    double mid_delay_ms = 0; /* travel time of the last S1 beat from its stimulus to the middle node */
    ct_status st = cable_run(c, be, x_mm, &o);
    if (st == CT_OK) {
        int b = train - 1;
        double t1 = o.act_ms[0][b], t2 = o.act_ms[1][b], a = o.act_ms[2][b], r = o.rep_ms[2][b];
        if (!(t1 >= 0 && t2 > t1 && a >= 0 && r > a))
            st = ct_error_set(CT_ERR_CONFIG,
                              "pre-screen: calibration of parameter set %d: beat %d of the drive train did not "
                              "propagate along the cable or did not repolarise (activation %g, %g ms, "
                              "repolarisation %g ms)",
                              set, train, t1, t2, r);
        else {
            out->cv_l_mm_per_ms = (o.x_mm[1] - o.x_mm[0]) / (t2 - t1);
            out->cv_t_mm_per_ms = out->cv_l_mm_per_ms *
                                  sqrt(base->conductivity.sigma_t_S_per_m / base->conductivity.sigma_l_S_per_m);
            out->apd90_ms = r - a;
            mid_delay_ms = fmax(0.0, a - last_s1_ms);
            if (b > 0 && o.rep_ms[2][b - 1] > 0)
                s1_di_ms = a - o.rep_ms[2][b - 1];
        }
    }
    /* the refractory period: the protocol's own capture test on the cable, S2 every ERP_STEP_MS */
    ct_induce_protocol q = *p;
    q.s1_count = train;
    q.extra_stimuli = 1;
    q.ci_step_ms = ERP_STEP_MS;
    q.ci_min_ms = fmax(20.0, fmax(q.capture_window_ms, floor(0.4 * out->apd90_ms / ERP_STEP_MS) * ERP_STEP_MS));
    q.ci_start_ms = fmin(p->s1_bcl_ms - ERP_STEP_MS, ceil((out->apd90_ms + 60) / ERP_STEP_MS) * ERP_STEP_MS);
    q.observe_ms = fmax(q.observe_ms, p->s1_bcl_ms);
    ct_induce_site site = {.name = "calibration cable", .position_mm = {0, 0.5 * h_mm, 0.5 * h_mm}};
    ct_induce_result ir;
    for (int tries = 0; st == CT_OK && tries < 4; tries++) {
        if (q.ci_start_ms < q.ci_min_ms)
            q.ci_start_ms = q.ci_min_ms;
        st = ct_induce_site_run(c, &site, &q, be, 1, &ir);
        if (st != CT_OK)
            break;
        if (ir.erp_ms[0] < 0) { /* captured down to ci_min */
            out->refractory_ms = q.ci_min_ms;
            break;
        }
        if (ir.erp_ms[0] < q.ci_start_ms) {
            out->refractory_ms = 0.5 * (ir.erp_ms[0] + ir.coupling_ms[0]);
            break;
        }
        /* failed at the first interval: start later */
        q.ci_min_ms = q.ci_start_ms - ERP_STEP_MS;
        q.ci_start_ms = fmin(p->s1_bcl_ms - ERP_STEP_MS, q.ci_start_ms + 100);
        out->refractory_ms = q.ci_start_ms; /* if the tries run out */
    }
    /* APD restitution: S1-S2 at coupling intervals above R, DI and APD90 of the S2 beat at the middle */
    static const double extra_ms[] = {5, 12, 25, 45, 80, 160};
    c->n_stimuli = 2;
    c->max_beats = train + 1;
    ct_stimulus *s2 = &c->stimuli[1];
    *s2 = *s;
    snprintf(s2->name, sizeof s2->name, "calibration S2");
    s2->period_ms = 0;
    s2->count = 1;
    out->n_restitution = 0;
    for (size_t k = 0; st == CT_OK && k < sizeof extra_ms / sizeof extra_ms[0]; k++) {
        double ci = ceil(out->refractory_ms) + extra_ms[k];
        if (ci >= p->s1_bcl_ms)
            break;
        s2->start_ms = last_s1_ms + ci;
        /* until the S2 beat has repolarised at the middle node: it gets there later than S1 did (slower at a
         * short DI; on a coarse patient mesh the cable is long, 30 edges); without the travel time a short
         * APD (Mitchell-Schaeffer) ended the run before it, and the restitution came out empty */
        c->end_time_ms = s2->start_ms + 2 * mid_delay_ms + out->apd90_ms + 60;
        st = cable_run(c, be, x_mm, &o);
        double a = o.act_ms[2][train], r = o.rep_ms[2][train], prev_r = o.rep_ms[2][train - 1];
        double t1 = o.act_ms[0][train], t2 = o.act_ms[1][train];
        if (st == CT_OK && a > 0 && r > a && prev_r > 0 && a > prev_r && t1 > 0 && t2 > t1) {
            int m = out->n_restitution++;
            out->restitution_di_ms[m] = a - prev_r;
            out->restitution_apd_ms[m] = r - a;
            out->restitution_cv_factor[m] = (o.x_mm[1] - o.x_mm[0]) / (t2 - t1) / out->cv_l_mm_per_ms;
        }
    }
    if (st == CT_OK && isfinite(s1_di_ms) && out->n_restitution < 8) { /* the drive train's own beat */
        int m = out->n_restitution++;
        out->restitution_di_ms[m] = s1_di_ms;
        out->restitution_apd_ms[m] = out->apd90_ms;
        out->restitution_cv_factor[m] = 1.0;
    }
    for (int i = 1; i < out->n_restitution; i++) /* DI ascending, strictly */
        for (int j = i; j > 0 && out->restitution_di_ms[j] < out->restitution_di_ms[j - 1]; j--) {
            double t = out->restitution_di_ms[j];
            out->restitution_di_ms[j] = out->restitution_di_ms[j - 1];
            out->restitution_di_ms[j - 1] = t;
            t = out->restitution_apd_ms[j];
            out->restitution_apd_ms[j] = out->restitution_apd_ms[j - 1];
            out->restitution_apd_ms[j - 1] = t;
            t = out->restitution_cv_factor[j];
            out->restitution_cv_factor[j] = out->restitution_cv_factor[j - 1];
            out->restitution_cv_factor[j - 1] = t;
        }
    int m = 0;
    for (int i = 0; i < out->n_restitution; i++)
        if (m == 0 || out->restitution_di_ms[i] > out->restitution_di_ms[m - 1] + 1e-9) {
            out->restitution_di_ms[m] = out->restitution_di_ms[i];
            out->restitution_apd_ms[m] = out->restitution_apd_ms[i];
            out->restitution_cv_factor[m++] = out->restitution_cv_factor[i];
        }
    out->n_restitution = m;
    free(c);
    if (st != CT_OK)
        return ct_error_set(st, "pre-screen: calibration of parameter set %d: %s", set, ct_error_message());
    if (!quiet) {
        fprintf(stderr,
                "  pre-screen calibration, %s tissue (parameter set %d): CV %.3f m/s along, %.3f across; APD90 %.1f "
                "ms; refractory period %.1f ms; restitution DI->APD90 (CV):",
                bz ? "border-zone" : "healthy", set, out->cv_l_mm_per_ms, out->cv_t_mm_per_ms, out->apd90_ms,
                out->refractory_ms);
        for (int i = 0; i < out->n_restitution; i++)
            fprintf(stderr, " %.0f->%.0f (CV x%.2f)", out->restitution_di_ms[i], out->restitution_apd_ms[i],
                    out->restitution_cv_factor[i]);
        fprintf(stderr, " ms\n");
    }
    return CT_OK;
}

void ct_prescreen_destroy(ct_prescreen *ps)
{
    if (!ps)
        return;
    free(ps->xyz_mm);
    free(ps->adj_ptr);
    free(ps->adj_node);
    free(ps->adj_ms);
    free(ps->conducting);
    free(ps->node_set);
    free(ps->post_ms);
    free(ps);
}

ct_status ct_prescreen_create(const ct_config *cfg, const ct_induce_protocol *p, const ct_prescreen_options *opt,
                              ct_prescreen **out)
{
    *out = NULL;
    ct_prescreen_options defaults = {0};
    if (!opt)
        opt = &defaults;
    CT_CHECK(ct_induce_protocol_check(p));
    double t0 = ct_now_s();
    ct_sim *sim = NULL;
    ct_status st = ct_sim_create(cfg, &sim);
    if (st != CT_OK)
        return ct_error_set(st, "pre-screen: %s", ct_error_message());
    ct_prescreen *ps = calloc(1, sizeof *ps);
    if (!ps) {
        ct_sim_destroy(sim);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    ps->protocol = *p;
    size_t n = ps->n = sim->mesh->n_nodes;
    ps->xyz_mm = malloc((3 * n + 1) * sizeof *ps->xyz_mm);
    ps->conducting = calloc(n + 1, 1);
    ps->node_set = malloc(n + 1);
    ps->post_ms = malloc((n + 1) * sizeof *ps->post_ms);
    if (!ps->xyz_mm || !ps->conducting || !ps->node_set || !ps->post_ms)
        st = ct_error_set(CT_ERR_NOMEM, "pre-screen: out of memory for %zu nodes", n);
    if (st == CT_OK)
        memcpy(ps->xyz_mm, sim->mesh->xyz_mm, 3 * n * sizeof *ps->xyz_mm);
    /* which parameter sets the mesh uses: by its nodes, and by its border-zone elements */
    for (size_t i = 0; st == CT_OK && i < n; i++)
        ps->tissue[sim->node_param_set[i]].used = 1;
    for (size_t e = 0; st == CT_OK && sim->mesh->tissue && e < sim->mesh->n_tets; e++)
        if (sim->mesh->tissue[e] == CT_TISSUE_BORDER_ZONE)
            ps->tissue[sim->node_param_set[sim->mesh->tets[4 * e]] | 1].used = 1;
    int given = opt->cv_l_mm_per_ms > 0 && opt->cv_t_mm_per_ms > 0 && opt->apd90_ms > 0 && opt->refractory_ms > 0;
    double h_mm = cfg->mesh_from_file ? 0 : cfg->dx_mm;
    if (h_mm <= 0 && st == CT_OK) { /* a mesh file: its mean edge length */
        double sum = 0;
        static const int pair[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
        for (size_t e = 0; e < sim->mesh->n_tets; e++)
            for (int k = 0; k < 6; k++) {
                const double *a = sim->mesh->xyz_mm + 3 * (size_t)sim->mesh->tets[4 * e + pair[k][0]],
                             *b = sim->mesh->xyz_mm + 3 * (size_t)sim->mesh->tets[4 * e + pair[k][1]];
                sum += sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                            (a[2] - b[2]) * (a[2] - b[2]));
            }
        h_mm = sim->mesh->n_tets ? sum / (6.0 * (double)sim->mesh->n_tets) : 1.0;
    }
    const ct_backend_ops *be = opt->backend ? opt->backend : &ct_backend_cpu;
    /* the calibration cables have a few hundred nodes: one thread is fastest (no barrier per step) */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    for (int set = 0; st == CT_OK && set < N_SETS; set++) {
        ct_prescreen_tissue *t = &ps->tissue[set];
        if (!t->used)
            continue;
        if (given) {
            t->cv_l_mm_per_ms = opt->cv_l_mm_per_ms;
            t->cv_t_mm_per_ms = opt->cv_t_mm_per_ms;
            t->apd90_ms = opt->apd90_ms;
            t->refractory_ms = opt->refractory_ms;
        } else {
            st = calibrate_set(sim, set, p, h_mm, be, opt->quiet, t);
        }
    }
    omp_set_num_threads(threads);
    for (size_t i = 0; st == CT_OK && i < n; i++) {
        const ct_prescreen_tissue *t = &ps->tissue[sim->node_param_set[i]];
        ps->node_set[i] = sim->node_param_set[i];
        ps->post_ms[i] = t->refractory_ms - t->apd90_ms;
    }
    if (st == CT_OK)
        st = build_graph(ps, sim);
    ct_sim_destroy(sim);
    if (st != CT_OK) {
        ct_prescreen_destroy(ps);
        return st;
    }
    ps->calibration_s = ct_now_s() - t0;
    *out = ps;
    return CT_OK;
}

const ct_prescreen_tissue *ct_prescreen_tissue_of(const ct_prescreen *ps, int set)
{
    return set >= 0 && set < N_SETS ? &ps->tissue[set] : NULL;
}

size_t ct_prescreen_n_nodes(const ct_prescreen *ps)
{
    return ps->n;
}

const double *ct_prescreen_xyz_mm(const ct_prescreen *ps)
{
    return ps->xyz_mm;
}

/* ---- the protocol --------------------------------------------------------------------------------- */

ct_status ct_prescreen_activation(const ct_prescreen *ps, const ct_induce_site *site, double radius_mm,
                                  double *act_ms)
{
    uint8_t *stim = malloc(ps->n + 1); /* owned here */
    if (!stim)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    if (site_nodes(ps, site->position_mm, radius_mm, stim) == 0) {
        free(stim);
        return ct_error_set(CT_ERR_CONFIG,
                            "site %s: no conducting node within %g mm of (%g, %g, %g) mm (outside the mesh, or in "
                            "scar or a lesion)",
                            site->name, radius_mm, site->position_mm[0], site->position_mm[1], site->position_mm[2]);
    }
    state s;
    ct_status st = state_init(&s, ps->n);
    if (st == CT_OK)
        st = stimulate(&s, stim, ps->n, 0.0, 0);
    if (st == CT_OK)
        st = run_until(ps, &s, INFINITY);
    for (size_t i = 0; st == CT_OK && i < ps->n; i++)
        act_ms[i] = isfinite(s.act_ms[i]) ? s.act_ms[i] : -1;
    state_free(&s);
    free(stim);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct site_run {
    const ct_prescreen *ps;
    const uint8_t *stim;
    const uint8_t *far;   /* conducting nodes farther than FAR_MARGIN_MM beyond the stimulus sphere */
    size_t needed;        /* capture: far nodes the stimulus must activate */
    state work;
} site_run;

/* One trial: from snapshot `from` (stimuli up to prev_ms given), a stimulus at t_ms with origin `origin`,
 * watched until observe_ms after it or until all is quiet. */
static ct_status trial(site_run *r, const state *from, double t_ms, int32_t origin, int *captured, int *reentry,
                       double *persistence_ms)
{
    const ct_induce_protocol *p = &r->ps->protocol;
    state *s = &r->work;
    CT_CHECK(state_copy(s, from, r->ps->n));
    CT_CHECK(stimulate(s, r->stim, r->ps->n, t_ms, origin));
    s->far = r->far;
    s->count_origin = origin;
    s->count_until_ms = t_ms + p->capture_window_ms;
    double end_ms = t_ms + p->observe_ms;
    CT_CHECK(run_until(r->ps, s, end_ms));
    *captured = s->n_counted >= r->needed;
    *reentry = *captured && s->max_end_ms > end_ms;
    double pers = s->max_end_ms - t_ms;
    *persistence_ms = pers < 0 ? 0 : pers > p->observe_ms ? p->observe_ms : pers;
    return CT_OK;
}

/* Median over nodes activated twice after t_ms of the interval between their last two activations. */
static double cycle_length(const state *s, size_t n, double t_ms)
{
    double *iv = malloc((n + 1) * sizeof *iv); /* owned here */
    if (!iv)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s->prev_ms[i] > t_ms)
            iv[k++] = s->act_ms[i] - s->prev_ms[i];
    double cl = -1;
    if (k > 0) {
        qsort(iv, k, sizeof *iv, cmp_double);
        cl = iv[k / 2];
    }
    free(iv);
    return cl;
}

static ct_status protocol(site_run *r, const ct_induce_site *site, ct_prescreen_result *out)
{
    const ct_prescreen *ps = r->ps;
    const ct_induce_protocol *p = &ps->protocol;
    size_t n = ps->n;
    state snap[CT_INDUCE_MAX_EXTRA];
    memset(snap, 0, sizeof snap);
    ct_status st = CT_OK;
    for (int k = 0; k < p->extra_stimuli && st == CT_OK; k++)
        st = state_init(&snap[k], n);
    if (st == CT_OK)
        st = state_init(&r->work, n);
    /* the drive train, snapshot at the last S1 (pending) */
    double prev = (p->s1_count - 1) * p->s1_bcl_ms;
    for (int k = 0; st == CT_OK && k < p->s1_count - 1; k++)
        st = stimulate(&snap[0], r->stim, n, k * p->s1_bcl_ms, k);
    if (st == CT_OK)
        st = run_until(ps, &snap[0], prev);
    int captured = 0, reentry = 0;
    double pers = 0;
    if (st == CT_OK) /* did the last S1 capture? */
        st = trial(r, &snap[0], prev, p->s1_count - 1, &captured, &reentry, &pers);
    if (st == CT_OK && !captured)
        st = ct_error_set(CT_ERR_CONFIG,
                          "site %s: the drive train S1 did not capture in the pre-screen (%zu of the %zu nodes "
                          "needed activated beyond the stimulus; is the site beside scar?)",
                          site->name, r->work.n_counted, r->needed);
    if (st == CT_OK)
        st = stimulate(&snap[0], r->stim, n, prev, p->s1_count - 1);
    int32_t origin = p->s1_count;
    for (int k = 0; st == CT_OK && k < p->extra_stimuli; k++) {
        double best = -1;
        int inducing = 0;
        for (double ci = p->ci_start_ms; ci >= p->ci_min_ms - 1e-9 && st == CT_OK; ci -= p->ci_step_ms) {
            st = trial(r, &snap[k], prev + ci, origin, &captured, &reentry, &pers);
            if (st != CT_OK)
                break;
            out->trials++;
            if (pers > out->persistence_ms)
                out->persistence_ms = pers;
            if (!captured) {
                if (!out->inducible)
                    out->erp_ms[k] = ci;
                break;
            }
            if (out->inducible) { /* past the protocol's answer: the width of the inducing window */
                inducing += reentry;
                continue;
            }
            best = ci;
            out->n_extra = k + 1;
            out->coupling_ms[k] = ci;
            if (reentry) {
                out->inducible = 1;
                out->induced_by = k + 2;
                out->cycle_length_ms = cycle_length(&r->work, n, prev + ci);
                inducing = 1;
            }
        }
        if (out->inducible) {
            out->window_ms = inducing * p->ci_step_ms;
            break;
        }
        if (best < 0 || k + 1 == p->extra_stimuli || st != CT_OK)
            break;
        /* the next extra-stimulus couples to this one at its shortest capturing interval */
        st = state_copy(&snap[k + 1], &snap[k], n);
        if (st == CT_OK)
            st = stimulate(&snap[k + 1], r->stim, n, prev + best, origin);
        if (st == CT_OK)
            st = run_until(ps, &snap[k + 1], prev + best);
        prev += best;
        origin++;
    }
    for (int k = 0; k < CT_INDUCE_MAX_EXTRA; k++)
        state_free(&snap[k]);
    state_free(&r->work);
    return st;
}

ct_status ct_prescreen_site(const ct_prescreen *ps, const ct_induce_site *site, ct_prescreen_result *out)
{
    double t0 = ct_now_s();
    const ct_induce_protocol *p = &ps->protocol;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", site->name);
    memcpy(out->position_mm, site->position_mm, sizeof out->position_mm);
    out->cycle_length_ms = -1;
    for (int k = 0; k < CT_INDUCE_MAX_EXTRA; k++)
        out->erp_ms[k] = -1;
    uint8_t *stim = malloc(ps->n + 1), *far = malloc(ps->n + 1); /* owned here */
    if (!stim || !far) {
        free(stim);
        free(far);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    ct_status st = CT_OK;
    if (site_nodes(ps, site->position_mm, p->stim_radius_mm, stim) == 0)
        st = ct_error_set(CT_ERR_CONFIG,
                          "site %s: no conducting node within %g mm of (%g, %g, %g) mm (outside the mesh, or in "
                          "scar or a lesion)",
                          site->name, p->stim_radius_mm, site->position_mm[0], site->position_mm[1],
                          site->position_mm[2]);
    size_t n_far = 0;
    if (st == CT_OK) {
        site_nodes(ps, site->position_mm, p->stim_radius_mm + FAR_MARGIN_MM, far);
        for (size_t i = 0; i < ps->n; i++) {
            far[i] = ps->conducting[i] && !far[i];
            n_far += far[i];
        }
    }
    site_run r = {.ps = ps, .stim = stim, .far = far, .needed = n_far / 100 > 5 ? n_far / 100 : 5};
    if (st == CT_OK)
        st = protocol(&r, site, out);
    free(stim);
    free(far);
    out->score = out->persistence_ms + out->window_ms;
    out->wall_s = ct_now_s() - t0;
    if (st != CT_OK) {
        out->failed = 1;
        out->inducible = 0;
        out->score = -1;
        snprintf(out->reason, sizeof out->reason, "%s", ct_error_message());
    }
    return st;
}

void ct_prescreen_rank(ct_prescreen_result *r, int n)
{
    for (int i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        ct_prescreen_result x = r[i];
        int j = i - 1;
        while (j >= 0 && (r[j].failed > x.failed || (r[j].failed == x.failed && r[j].score < x.score))) {
            r[j + 1] = r[j];
            j--;
        }
        r[j + 1] = x;
    }
}

/* ---- files ------------------------------------------------------------------------------------------ */

ct_status ct_prescreen_load_sites(const char *path, ct_induce_site *sites, int max, int *n)
{
    char *text;
    CT_CHECK(ct_json_read_file(path, &text));
    cJSON *root;
    ct_status st = ct_json_parse(text, path, &root);
    free(text);
    CT_CHECK(st);
    static const char *const keys[] = {"sites", NULL}, *const skeys[] = {"name", "position_mm", NULL};
    st = ct_json_known_keys(root, keys, path, "");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "sites");
    if (st == CT_OK && !cJSON_IsArray(arr))
        st = ct_error_set(CT_ERR_CONFIG, "%s: \"sites\" must be an array", path);
    for (int i = 0; st == CT_OK && i < cJSON_GetArraySize(arr); i++) {
        const cJSON *o = cJSON_GetArrayItem(arr, i);
        char where[32];
        snprintf(where, sizeof where, "sites[%d]", i);
        if (*n >= max) {
            st = ct_error_set(CT_ERR_CONFIG, "%s: more than %d sites", path, max);
            break;
        }
        const char *name = NULL;
        if (!cJSON_IsObject(o))
            st = ct_error_set(CT_ERR_CONFIG, "%s: %s must be an object", path, where);
        if (st == CT_OK)
            st = ct_json_known_keys(o, skeys, path, where);
        if (st == CT_OK)
            st = ct_json_string(o, "name", 1, path, where, &name);
        if (st == CT_OK)
            st = ct_json_vec(o, "position_mm", 1, 3, path, where, sites[*n].position_mm);
        if (st == CT_OK) {
            snprintf(sites[*n].name, sizeof sites[*n].name, "%s", name);
            (*n)++;
        }
    }
    cJSON_Delete(root);
    return st;
}

ct_status ct_prescreen_write_json(const char *path, const ct_prescreen *ps, const ct_prescreen_result *r, int n,
                                  int top_k, double total_wall_s)
{
    const ct_induce_protocol *p = &ps->protocol;
    cJSON *root = cJSON_CreateObject(), *proto = cJSON_AddObjectToObject(root, "protocol"),
          *cal = cJSON_AddArrayToObject(root, "calibration"), *arr = cJSON_AddArrayToObject(root, "sites");
    cJSON_AddStringToObject(root, "method",
                            "event-driven eikonal with refractoriness on the mesh's edge graph (ct_prescreen.h)");
    cJSON_AddNumberToObject(proto, "s1_count", p->s1_count);
    cJSON_AddNumberToObject(proto, "s1_bcl_ms", p->s1_bcl_ms);
    cJSON_AddNumberToObject(proto, "extra_stimuli", p->extra_stimuli);
    cJSON_AddNumberToObject(proto, "ci_start_ms", p->ci_start_ms);
    cJSON_AddNumberToObject(proto, "ci_step_ms", p->ci_step_ms);
    cJSON_AddNumberToObject(proto, "ci_min_ms", p->ci_min_ms);
    cJSON_AddNumberToObject(proto, "observe_ms", p->observe_ms);
    cJSON_AddNumberToObject(proto, "stim_radius_mm", p->stim_radius_mm);
    for (int s = 0; s < N_SETS; s++) {
        const ct_prescreen_tissue *t = &ps->tissue[s];
        if (!t->used)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "parameter_set", s);
        cJSON_AddStringToObject(o, "tissue", s & 1 ? "border_zone" : "healthy");
        cJSON_AddNumberToObject(o, "cv_along_m_per_s", t->cv_l_mm_per_ms);
        cJSON_AddNumberToObject(o, "cv_across_m_per_s", t->cv_t_mm_per_ms);
        cJSON_AddNumberToObject(o, "apd90_ms", t->apd90_ms);
        cJSON_AddNumberToObject(o, "refractory_ms", t->refractory_ms);
        cJSON_AddItemToObject(o, "restitution_di_ms", cJSON_CreateDoubleArray(t->restitution_di_ms, t->n_restitution));
        cJSON_AddItemToObject(o, "restitution_apd90_ms",
                              cJSON_CreateDoubleArray(t->restitution_apd_ms, t->n_restitution));
        cJSON_AddItemToObject(o, "restitution_cv_factor",
                              cJSON_CreateDoubleArray(t->restitution_cv_factor, t->n_restitution));
        cJSON_AddItemToArray(cal, o);
    }
    cJSON_AddNumberToObject(root, "n_nodes", (double)ps->n);
    cJSON_AddNumberToObject(root, "n_conducting_nodes", (double)ps->n_conducting);
    cJSON_AddNumberToObject(root, "calibration_wall_s", ps->calibration_s);
    cJSON_AddNumberToObject(root, "wall_s", total_wall_s);
    cJSON_AddNumberToObject(root, "top_k", top_k);
    int n_ind = 0, n_failed = 0;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "rank", i + 1);
        cJSON_AddBoolToObject(o, "top", i - n_failed < top_k && !r[i].failed);
        cJSON_AddStringToObject(o, "name", r[i].name);
        cJSON_AddItemToObject(o, "position_mm", cJSON_CreateDoubleArray(r[i].position_mm, 3));
        if (r[i].failed) { /* reported as failed, never as "not inducible" */
            cJSON_AddBoolToObject(o, "failed", 1);
            cJSON_AddStringToObject(o, "reason", r[i].reason);
            cJSON_AddItemToArray(arr, o);
            n_failed++;
            continue;
        }
        cJSON_AddBoolToObject(o, "predicted_inducible", r[i].inducible);
        cJSON_AddNumberToObject(o, "induced_by", r[i].induced_by);
        cJSON_AddItemToObject(o, "coupling_ms", cJSON_CreateDoubleArray(r[i].coupling_ms, r[i].n_extra));
        cJSON_AddItemToObject(o, "erp_ms", cJSON_CreateDoubleArray(r[i].erp_ms, p->extra_stimuli));
        cJSON_AddNumberToObject(o, "window_ms", r[i].window_ms);
        cJSON_AddNumberToObject(o, "persistence_ms", r[i].persistence_ms);
        if (r[i].cycle_length_ms > 0)
            cJSON_AddNumberToObject(o, "cycle_length_ms", r[i].cycle_length_ms);
        cJSON_AddNumberToObject(o, "score", r[i].score);
        cJSON_AddNumberToObject(o, "trials", r[i].trials);
        cJSON_AddNumberToObject(o, "wall_s", r[i].wall_s);
        cJSON_AddItemToArray(arr, o);
        n_ind += r[i].inducible;
    }
    cJSON_AddNumberToObject(root, "n_predicted_inducible", n_ind);
    cJSON_AddNumberToObject(root, "n_failed", n_failed);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory", path);
    ct_status st = ct_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}
