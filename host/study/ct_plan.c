/* ct_plan.c — the virtual ablation plan's rounds (ct_plan.h). */
#define _POSIX_C_SOURCE 200809L
#include "ct_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct_files.h"
#include "core/ct_clock.h"
#include "ct_circuit.h"
#include "ct_prescreen.h"
#include "ct_study_report.h"
#include "sim/ct_sim.h"

double ct_plan_lesion_distance_mm(const ct_lesion *l, const double p[3])
{
    double q[3];
    if (l->shape == CT_LESION_SPHERE) {
        memcpy(q, l->a_mm, sizeof q);
    } else if (l->shape == CT_LESION_LINE) {
        double d[3], dd = 0, t = 0;
        for (int k = 0; k < 3; k++) {
            d[k] = l->b_mm[k] - l->a_mm[k];
            dd += d[k] * d[k];
            t += (p[k] - l->a_mm[k]) * d[k];
        }
        t = dd > 0 ? t / dd : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        for (int k = 0; k < 3; k++)
            q[k] = l->a_mm[k] + t * d[k];
    } else {
        for (int k = 0; k < 3; k++)
            q[k] = p[k] < l->a_mm[k] ? l->a_mm[k] : p[k] > l->b_mm[k] ? l->b_mm[k] : p[k];
    }
    return sqrt((p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]));
}

static double d3(const double *a, const double *b);

/* ---- the pre-screen before the plan --------------------------------------------------------------- */

ct_status ct_plan_prescreen(const ct_config *cfg, const ct_induce_protocol *p, int top_k, const char *out_dir,
                            int quiet, ct_induce_site *sites, int *n_sites, cJSON *report)
{
    int n = *n_sites;
    double t0 = ct_now_s();
    ct_prescreen *ps = NULL;
    ct_prescreen_options popt = {.backend = NULL, .quiet = quiet}; /* CPU: no device before the fork */
    if (!quiet)
        fprintf(stderr, "cardiotwin: plan: pre-screening %d site%s (keeping the top %d)\n", n, n == 1 ? "" : "s",
                top_k);
    CT_CHECK(ct_prescreen_create(cfg, p, &popt, &ps));
    ct_prescreen_result *res = calloc((size_t)n + 1, sizeof *res);      /* owned: ranked results */
    char (*failed)[256] = calloc((size_t)n + 1, sizeof *failed);         /* owned: why a site could not run */
    ct_induce_site *keep = calloc((size_t)n + 1, sizeof *keep);         /* owned */
    ct_status st = CT_OK;
    if (!res || !failed || !keep) {
        st = ct_error_set(CT_ERR_NOMEM, "plan: out of memory for the pre-screen");
        goto done;
    }
    int n_ok = 0;
    for (int s = 0; s < n; s++) {
        if (ct_prescreen_site(ps, &sites[s], &res[n_ok]) == CT_OK) {
            n_ok++;
        } else {
            snprintf(failed[s], sizeof failed[s], "%s", ct_error_message());
            if (!quiet)
                fprintf(stderr, "cardiotwin: plan: the pre-screen could not run site %s (%s): it is run in full\n",
                        sites[s].name, failed[s]);
        }
    }
    ct_prescreen_rank(res, n_ok);
    double wall = ct_now_s() - t0;
    cJSON *pj = cJSON_AddObjectToObject(report, "prescreen");
    cJSON_AddNumberToObject(pj, "top_k", top_k);
    cJSON_AddNumberToObject(pj, "sites", n);
    cJSON_AddNumberToObject(pj, "wall_s", wall);
    cJSON_AddStringToObject(pj, "file", "prescreen.json");
    cJSON *ranked = cJSON_AddArrayToObject(pj, "ranked");
    cJSON *out = cJSON_AddArrayToObject(pj, "screened_out");
    for (int k = 0; k < n_ok; k++) {
        const ct_prescreen_result *r = &res[k];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "rank", k + 1);
        cJSON_AddStringToObject(j, "name", r->name);
        cJSON_AddItemToObject(j, "position_mm", cJSON_CreateDoubleArray(r->position_mm, 3));
        cJSON_AddNumberToObject(j, "score", r->score);
        cJSON_AddBoolToObject(j, "predicted_inducible", r->inducible);
        cJSON_AddItemToObject(j, "coupling_ms", cJSON_CreateDoubleArray(r->coupling_ms, r->n_extra));
        cJSON_AddNumberToObject(j, "persistence_ms", r->persistence_ms);
        cJSON_AddBoolToObject(j, "run", k < top_k);
        cJSON_AddItemToArray(ranked, j);
        if (k >= top_k) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", r->name);
            cJSON_AddNumberToObject(o, "rank", k + 1);
            cJSON_AddNumberToObject(o, "score", r->score);
            cJSON_AddBoolToObject(o, "predicted_inducible", r->inducible);
            cJSON_AddItemToArray(out, o);
        }
    }
    cJSON *nf = cJSON_AddArrayToObject(pj, "not_prescreened");
    int n_keep = 0;
    for (int s = 0; s < n; s++) {
        int kept = failed[s][0] != 0;
        for (int k = 0; k < n_ok && k < top_k && !kept; k++)
            kept = strcmp(res[k].name, sites[s].name) == 0;
        if (failed[s][0]) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", sites[s].name);
            cJSON_AddStringToObject(o, "reason", failed[s]);
            cJSON_AddItemToArray(nf, o);
        }
        if (kept)
            keep[n_keep++] = sites[s];
    }
    char path[4096];
    if ((st = ct_path_join(path, sizeof path, out_dir, "prescreen.json")) == CT_OK)
        st = ct_prescreen_write_json(path, ps, res, n_ok, top_k, wall);
    if (st != CT_OK)
        goto done;
    memcpy(sites, keep, (size_t)n_keep * sizeof *sites);
    *n_sites = n_keep;
    if (!quiet)
        fprintf(stderr, "cardiotwin: plan: pre-screen %.1f s; %d of %d sites kept for the full protocol\n", wall,
                n_keep, n);
done:
    free(res);
    free(failed);
    free(keep);
    ct_prescreen_destroy(ps);
    return st;
}

/* ---- an induced VT: monomorphic or polymorphic ------------------------------------------------------ */

void ct_vt_classify(const ct_induce_traces *t, int point, double thr, ct_vt_class *out)
{
    memset(out, 0, sizeof *out);
    out->point = point;
    out->cl_mean_ms = out->cl_sd_ms = -1;
    out->ps_drift_mm = -1;
    if (!t || t->n_samples < 2 || point < 0 || point >= t->n_points || t->n_stimuli < 1) {
        snprintf(out->why, sizeof out->why, "no traces recorded");
        return;
    }
    double last_ms = t->stimulus_ms[t->n_stimuli - 1];
    const double *v = t->vm_mV + (size_t)point * (size_t)t->n_samples;
    double act[CT_VT_MAX_CYCLES + 2];
    int n_act = 0;
    for (int i = 1; i < t->n_samples && n_act < CT_VT_MAX_CYCLES + 2; i++) {
        double ta = t->t0_ms + (i - 1) * t->sample_ms;
        if (v[i - 1] < thr && v[i] >= thr && ta >= last_ms)
            act[n_act++] = ta + t->sample_ms * (thr - v[i - 1]) / (v[i] - v[i - 1]);
    }
    /* Left out as the initiation (when enough cycles remain to classify): the first interval, which holds the
     * extra-stimulus's own beat, and the first re-entrant turn, which still runs into tissue recovering from it
     * (ring example: 410 ms, then 330 and 320 ms). */
    int n_int = n_act - 1, first = n_int >= 4 ? 2 : n_int >= 3 ? 1 : 0;
    for (int k = 0; k < first; k++)
        out->transient_cl_ms[out->n_transient++] = act[k + 1] - act[k];
    for (int k = first; k + 1 < n_act; k++)
        out->cl_ms[out->n_cycles++] = act[k + 1] - act[k];
    if (out->n_cycles > 0) {
        double s = 0, ss = 0, dev = 0;
        for (int k = 0; k < out->n_cycles; k++)
            s += out->cl_ms[k];
        out->cl_mean_ms = s / out->n_cycles;
        for (int k = 0; k < out->n_cycles; k++) {
            ss += (out->cl_ms[k] - out->cl_mean_ms) * (out->cl_ms[k] - out->cl_mean_ms);
            dev = fmax(dev, fabs(out->cl_ms[k] - out->cl_mean_ms) / out->cl_mean_ms);
        }
        out->cl_sd_ms = out->n_cycles > 1 ? sqrt(ss / (out->n_cycles - 1)) : 0;
        out->cl_max_deviation = dev;
    }
    /* The phase singularities' mean position per cycle: window k runs from the traced point's activation k to
     * activation k + 1 (the cycles measured above), so that a PS going once round an obstacle per cycle (an
     * anatomical circuit) averages to the same place every cycle. Without two activations at the point (no
     * cycle: e.g. the re-entry persists elsewhere but does not come back to it within the traces) there is no
     * cycle to align to: fixed 100 ms windows from the last stimulus give ps_drift_mm for the record (the VT is
     * not classified then: too few cycles). */
    double mean[CT_INDUCE_MAX_FRAMES][3];
    int n_win = 0, by_cycle = out->n_cycles > 0;
    const double win_ms = 100.0; /* without a cycle only (out->cl_mean_ms is -1 then) */
    for (int f = 0; f < t->n_frames;) {
        int w;
        if (by_cycle) {
            for (w = first; w < n_act - 1 && t->frame_ms[f] >= act[w + 1]; w++)
                ;
            if (t->frame_ms[f] < act[first] || w >= n_act - 1) { /* before the first kept cycle or after the last */
                f++;
                continue;
            }
        } else
            w = (int)floor((t->frame_ms[f] - last_ms) / win_ms);
        int cnt = 0;
        double c[3] = {0, 0, 0};
        for (; f < t->n_frames; f++) {
            double tf = t->frame_ms[f];
            if (by_cycle ? tf >= act[w + 1] : (int)floor((tf - last_ms) / win_ms) != w)
                break;
            int m = t->frame_n_ps[f] < CT_INDUCE_FRAME_PS ? t->frame_n_ps[f] : CT_INDUCE_FRAME_PS;
            for (int q = 0; q < m; q++, cnt++)
                for (int d = 0; d < 3; d++)
                    c[d] += t->frame_ps[f][q].position_mm[d];
        }
        if (cnt > 0 && n_win < CT_INDUCE_MAX_FRAMES) {
            for (int d = 0; d < 3; d++)
                mean[n_win][d] = c[d] / cnt;
            n_win++;
        }
    }
    out->ps_windows = n_win;
    if (n_win >= 2) {
        double all[3] = {0, 0, 0};
        for (int w = 0; w < n_win; w++)
            for (int d = 0; d < 3; d++)
                all[d] += mean[w][d] / n_win;
        out->ps_drift_mm = 0;
        for (int w = 0; w < n_win; w++)
            out->ps_drift_mm = fmax(out->ps_drift_mm, d3(mean[w], all));
    }
    if (out->n_cycles < 2) {
        out->verdict = 0;
        snprintf(out->why, sizeof out->why,
                 "%d cycle%s at the %s in the observation: too few to classify (lengthen --observe-ms)",
                 out->n_cycles, out->n_cycles == 1 ? "" : "s", t->label[point]);
        return;
    }
    int cl_ok = out->cl_max_deviation <= CT_VT_CL_TOLERANCE;
    int ps_ok = out->ps_drift_mm < 0 || out->ps_drift_mm < CT_VT_PS_DRIFT_MM;
    out->verdict = cl_ok && ps_ok ? 1 : 2;
    int k = snprintf(out->why, sizeof out->why, "%d cycles at the %s, CL within %.1f %% of the mean (limit %.0f %%)",
                     out->n_cycles, t->label[point], 100 * out->cl_max_deviation, 100 * CT_VT_CL_TOLERANCE);
    if (k > 0 && (size_t)k < sizeof out->why)
        snprintf(out->why + k, sizeof out->why - (size_t)k,
                 out->ps_drift_mm < 0 ? "; phase singularities not tracked on the surface in 2 cycles"
                                      : "; PS per-cycle position drift %.1f mm (limit %.0f mm)",
                 out->ps_drift_mm, CT_VT_PS_DRIFT_MM);
}

static double round2(double x)
{
    return round(x * 100.0) / 100.0;
}

cJSON *ct_vt_json(const ct_induce_traces *t, const ct_vt_class *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "classification",
                            c->verdict == 1 ? "monomorphic" : c->verdict == 2 ? "polymorphic" : "not classified");
    cJSON_AddStringToObject(j, "why", c->why);
    cJSON_AddStringToObject(j, "cl_at", t && c->point < t->n_points ? t->label[c->point] : "");
    cJSON_AddItemToObject(j, "cl_ms", cJSON_CreateDoubleArray(c->cl_ms, c->n_cycles));
    cJSON_AddItemToObject(j, "initiation_cl_ms", cJSON_CreateDoubleArray(c->transient_cl_ms, c->n_transient));
    if (c->n_cycles > 0) {
        cJSON_AddNumberToObject(j, "cl_mean_ms", round2(c->cl_mean_ms));
        cJSON_AddNumberToObject(j, "cl_sd_ms", round2(c->cl_sd_ms));
        cJSON_AddNumberToObject(j, "cl_max_deviation_percent", round2(100 * c->cl_max_deviation));
    } else {
        cJSON_AddNullToObject(j, "cl_mean_ms");
        cJSON_AddNullToObject(j, "cl_sd_ms");
        cJSON_AddNullToObject(j, "cl_max_deviation_percent");
    }
    if (c->ps_drift_mm >= 0)
        cJSON_AddNumberToObject(j, "ps_drift_mm", round2(c->ps_drift_mm));
    else
        cJSON_AddNullToObject(j, "ps_drift_mm");
    if (!t || t->n_samples == 0)
        return j;
    cJSON *tr = cJSON_AddObjectToObject(j, "traces");
    cJSON_AddNumberToObject(tr, "t0_ms", t->t0_ms);
    cJSON_AddNumberToObject(tr, "sample_ms", t->sample_ms);
    cJSON *st = cJSON_AddArrayToObject(tr, "stimuli");
    for (int k = 0; k < t->n_stimuli; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->stimulus_name[k]);
        cJSON_AddNumberToObject(o, "t_ms", t->stimulus_ms[k]);
        cJSON_AddItemToArray(st, o);
    }
    cJSON *pts = cJSON_AddArrayToObject(tr, "points");
    for (int p = 0; p < t->n_points; p++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "label", t->label[p]);
        cJSON_AddItemToObject(o, "position_mm", cJSON_CreateDoubleArray(t->want_mm[p], 3));
        cJSON_AddItemToObject(o, "node_mm", cJSON_CreateDoubleArray(t->node_mm[p], 3));
        cJSON *vm = cJSON_AddArrayToObject(o, "vm_mV");
        for (int i = 0; i < t->n_samples; i++)
            cJSON_AddItemToArray(vm, cJSON_CreateNumber(round2(t->vm_mV[(size_t)p * (size_t)t->n_samples + i])));
        cJSON_AddItemToArray(pts, o);
    }
    cJSON *ps = cJSON_AddArrayToObject(j, "ps_trajectory");
    for (int f = 0; f < t->n_frames; f++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "t_ms", round2(t->frame_ms[f]));
        cJSON_AddNumberToObject(o, "n_ps", t->frame_n_ps[f]);
        cJSON *pos = cJSON_AddArrayToObject(o, "positions_mm");
        int m = t->frame_n_ps[f] < CT_INDUCE_FRAME_PS ? t->frame_n_ps[f] : CT_INDUCE_FRAME_PS;
        for (int q = 0; q < m; q++) {
            double x[3];
            for (int d = 0; d < 3; d++)
                x[d] = round2(t->frame_ps[f][q].position_mm[d]);
            cJSON_AddItemToArray(pos, cJSON_CreateDoubleArray(x, 3));
        }
        cJSON_AddItemToArray(ps, o);
    }
    return j;
}

static double d3(const double *a, const double *b)
{
    return sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
}

/* Whether line lesion l coincides with m: both ends within two radii of m's (either way round). */
static int coincide(const ct_lesion *l, const ct_lesion *m)
{
    double r = 2.0 * (l->radius_mm > m->radius_mm ? l->radius_mm : m->radius_mm);
    return (d3(l->a_mm, m->a_mm) < r && d3(l->b_mm, m->b_mm) < r) ||
           (d3(l->a_mm, m->b_mm) < r && d3(l->b_mm, m->a_mm) < r);
}

static cJSON *lesion_json(const ct_lesion *l, const ct_lesion_effect *ef, int round, const char *from_site)
{
    cJSON *j = cJSON_CreateObject();
    char spec[256];
    snprintf(spec, sizeof spec, "line:%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f", l->a_mm[0], l->a_mm[1], l->a_mm[2],
             l->b_mm[0], l->b_mm[1], l->b_mm[2], l->radius_mm);
    cJSON_AddStringToObject(j, "name", l->name);
    cJSON_AddStringToObject(j, "spec", spec);
    cJSON_AddNumberToObject(j, "round", round);
    cJSON_AddStringToObject(j, "from_site", from_site);
    if (ef) {
        cJSON_AddNumberToObject(j, "volume_mL", ef->volume_mm3 * 1e-3);
        if (ef->transmural < 0)
            cJSON_AddNullToObject(j, "transmural");
        else
            cJSON_AddBoolToObject(j, "transmural", ef->transmural);
    }
    return j;
}

ct_status ct_plan_run(const ct_study_options *o, const char *config_path, const ct_config *cfg,
                      const ct_config *treated, const ct_backend_ops *be, const ct_study_surface *surface,
                      const ct_induce_site *sites, int n_sites, int jobs, const cJSON *before, cJSON *report,
                      int *n_lesions, int *n_after)
{
    ct_status st = CT_OK;
    cJSON **latest = calloc((size_t)n_sites + 1, sizeof *latest);        /* owned: each site's last result */
    ct_config *acfg = malloc(sizeof *acfg);                               /* owned: treated + proposed lesions */
    ct_study_options *ao = malloc(sizeof *ao);                            /* owned: o with every lesion */
    ct_induce_site *subset = calloc((size_t)n_sites + 1, sizeof *subset); /* owned */
    int *subset_of = calloc((size_t)n_sites + 1, sizeof *subset_of);
    char (*from_site)[64] = calloc(CT_CONFIG_MAX_LESIONS, sizeof *from_site);
    int *lesion_round = calloc(CT_CONFIG_MAX_LESIONS, sizeof *lesion_round);
    ct_sim *sim = NULL;
    cJSON *after = NULL;
    if (!latest || !acfg || !ao || !subset || !subset_of || !from_site || !lesion_round) {
        st = ct_error_set(CT_ERR_NOMEM, "plan: out of memory");
        goto done;
    }
    *acfg = *treated;
    *ao = *o;
    ao->n_lesions = o->n_lesions; /* the user's first, then the proposed ones */
    for (int s = 0; s < n_sites; s++)
        latest[s] = cJSON_Duplicate(cJSON_GetArrayItem(before, s), 1);
    cJSON *plan = cJSON_AddObjectToObject(report, "plan");
    cJSON_AddNumberToObject(plan, "max_rounds", o->plan_rounds);
    cJSON_AddNumberToObject(plan, "user_lesions", o->n_lesions);
    cJSON *rounds = cJSON_AddArrayToObject(plan, "rounds");
    cJSON *proposed = cJSON_AddArrayToObject(plan, "proposed_lesions");
    const char *outcome = NULL;
    char outcome_buf[512];
    int round = 0, n_inducing = 0, n_tested = 0;
    for (;;) {
        /* the circuits of the latest inducing results, and the lesions they call for */
        cJSON *rj = cJSON_CreateObject();
        cJSON_AddItemToArray(rounds, rj);
        cJSON_AddNumberToObject(rj, "round", round);
        char dir_name[32];
        snprintf(dir_name, sizeof dir_name, round == 0 ? "induction" : "round-%d", round);
        cJSON_AddStringToObject(rj, "dir", dir_name);
        cJSON *ran = cJSON_AddArrayToObject(rj, "sites_tested");
        for (int t = 0; round > 0 && t < n_tested; t++)
            cJSON_AddItemToArray(ran, cJSON_CreateString(subset[t].name));
        if (round == 0)
            for (int s = 0; s < n_sites; s++)
                cJSON_AddItemToArray(ran, cJSON_CreateString(sites[s].name));
        cJSON *ind = cJSON_AddArrayToObject(rj, "inducing_sites");
        cJSON *circ = cJSON_AddArrayToObject(rj, "circuits");
        int first_new = acfg->n_lesions;
        n_inducing = 0;
        for (int s = 0; s < n_sites; s++) {
            if (ct_study_site_failed(latest[s]) || !ct_study_site_inducible(latest[s]))
                continue;
            n_inducing++;
            cJSON_AddItemToArray(ind, cJSON_CreateString(sites[s].name));
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(latest[s], "circuit");
            cJSON *cj = c ? cJSON_Duplicate(c, 1) : cJSON_CreateObject();
            if (!c) {
                cJSON_AddBoolToObject(cj, "found", 0);
                cJSON_AddStringToObject(cj, "reason", "no circuit stored with the site's result (an older result file)");
            }
            cJSON_AddStringToObject(cj, "site", sites[s].name);
            cJSON_AddItemToArray(circ, cj);
            ct_lesion l;
            if (!c || !ct_circuit_json_lesion(c, &l))
                continue;
            int dup = 0;
            for (int k = treated->n_lesions; k < acfg->n_lesions && !dup; k++)
                dup = coincide(&l, &acfg->lesions[k]);
            if (dup)
                continue;
            if (acfg->n_lesions >= CT_CONFIG_MAX_LESIONS) {
                st = ct_error_set(CT_ERR_CONFIG, "plan: more than %d lesions", CT_CONFIG_MAX_LESIONS);
                goto done;
            }
            snprintf(l.name, sizeof l.name, "P%d (round %d, %s)", acfg->n_lesions - treated->n_lesions + 1,
                     round + 1, sites[s].name);
            snprintf(from_site[acfg->n_lesions], sizeof from_site[0], "%s", sites[s].name);
            lesion_round[acfg->n_lesions] = round + 1;
            acfg->lesions[acfg->n_lesions++] = l;
        }
        cJSON_AddNumberToObject(rj, "inducible", n_inducing);
        if (n_inducing == 0) {
            outcome = round == 0 ? "not inducible from any site: no lesion needed" : NULL;
            if (!outcome) {
                snprintf(outcome_buf, sizeof outcome_buf, "non-inducible from every site tested after round %d",
                         round);
                outcome = outcome_buf;
            }
            break;
        }
        if (round >= o->plan_rounds) {
            snprintf(outcome_buf, sizeof outcome_buf, "still inducible from %d site%s after %d round%s (--max-rounds)",
                     n_inducing, n_inducing == 1 ? "" : "s", round, round == 1 ? "" : "s");
            outcome = outcome_buf;
            break;
        }
        if (acfg->n_lesions == first_new) {
            snprintf(outcome_buf, sizeof outcome_buf,
                     "still inducible from %d site%s after round %d: no new lesion could be proposed (see the "
                     "circuits' reasons)",
                     n_inducing, n_inducing == 1 ? "" : "s", round);
            outcome = outcome_buf;
            break;
        }
        /* round + 1: the lesions checked on the mesh, then the re-test */
        round++;
        ct_sim_destroy(sim);
        sim = NULL;
        if ((st = ct_sim_create(acfg, &sim)) != CT_OK)
            goto done;
        int n_sub = 0;
        for (int s = 0; s < n_sites; s++) {
            int near = ct_study_site_inducible(latest[s]) && !ct_study_site_failed(latest[s]);
            for (int k = first_new; k < acfg->n_lesions && !near; k++)
                near = ct_plan_lesion_distance_mm(&acfg->lesions[k], sites[s].position_mm) <=
                       CT_PLAN_SITE_RADIUS_MM + acfg->lesions[k].radius_mm;
            if (near) {
                subset_of[n_sub] = s;
                subset[n_sub++] = sites[s];
            }
        }
        n_tested = n_sub;
        char dir[4096];
        snprintf(dir_name, sizeof dir_name, "round-%d", round);
        if ((st = ct_path_join(dir, sizeof dir, o->out_dir, dir_name)) != CT_OK)
            goto done;
        if (!o->quiet)
            fprintf(stderr, "cardiotwin: plan round %d: %d lesion%s (%d new), re-testing %d site%s into %s\n", round,
                    acfg->n_lesions, acfg->n_lesions == 1 ? "" : "s", acfg->n_lesions - first_new, n_sub,
                    n_sub == 1 ? "" : "s", dir);
        if ((st = ct_study_run_sites(o, config_path, acfg, be, surface, subset, n_sub, dir, jobs)) != CT_OK)
            goto done;
        cJSON *res = ct_study_collect_sites(dir, subset, n_sub);
        for (int t = 0; t < n_sub; t++) {
            cJSON_Delete(latest[subset_of[t]]);
            latest[subset_of[t]] = cJSON_Duplicate(cJSON_GetArrayItem(res, t), 1);
        }
        cJSON_Delete(res);
        for (int k = first_new; k < acfg->n_lesions; k++)
            cJSON_AddItemToArray(proposed, lesion_json(&acfg->lesions[k], &sim->lesion_effect[k], lesion_round[k],
                                                       from_site[k]));
    }
    int n_failed = 0;
    for (int s = 0; s < n_sites; s++)
        n_failed += ct_study_site_failed(latest[s]);
    if (n_failed > 0) { /* a failed trial is no evidence of non-inducibility */
        char with[sizeof outcome_buf];
        snprintf(with, sizeof with, "%.400s; %d site%s FAILED at its last test (not counted; rerun to retry)",
                 outcome ? outcome : "", n_failed, n_failed == 1 ? "" : "s");
        memcpy(outcome_buf, with, sizeof outcome_buf);
        outcome = outcome_buf;
    }
    cJSON_AddStringToObject(plan, "outcome", outcome ? outcome : "");
    cJSON_AddNumberToObject(plan, "rounds_run", round);
    *n_lesions = acfg->n_lesions - cfg->n_lesions;
    *n_after = n_inducing;
    if (round == 0) {
        cJSON_AddNullToObject(report, "ablation");
        *n_lesions = 0;
        *n_after = 0;
        goto done;
    }
    /* "ablation": every lesion applied, each site before and at its last test */
    ao->n_lesions = 0;
    for (int k = cfg->n_lesions; k < acfg->n_lesions; k++)
        ao->lesions[ao->n_lesions++] = acfg->lesions[k];
    after = cJSON_CreateArray();
    for (int s = 0; s < n_sites; s++)
        cJSON_AddItemToArray(after, cJSON_Duplicate(latest[s], 1));
    ct_study_report_ablation(report, ao, cfg, sim, sites, n_sites, before, after);
done:
    for (int s = 0; latest && s < n_sites; s++)
        cJSON_Delete(latest[s]);
    cJSON_Delete(after);
    ct_sim_destroy(sim);
    free(latest);
    free(acfg);
    free(ao);
    free(subset);
    free(subset_of);
    free(from_site);
    free(lesion_round);
    return st;
}

/* ---- the VT cycle's local activation time ------------------------------------------------------------ */

ct_status ct_vt_lat(const ct_mesh *m, const uint8_t *nc, const double *last_activation_ms, double end_ms,
                    double cycle_length_ms, double *lat_ms, size_t *n_valued, double *span_ms)
{
    *n_valued = 0;
    *span_ms = 0;
    for (size_t i = 0; i < m->n_nodes; i++)
        lat_ms[i] = NAN;
    if (!(cycle_length_ms > 0) || !isfinite(cycle_length_ms))
        return CT_OK;
    uint8_t *conducts = calloc(m->n_nodes + 1, 1); /* owned here: 1 where some element round the node conducts */
    if (!conducts)
        return ct_error_set(CT_ERR_NOMEM, "VT activation map: out of memory (%zu nodes)", m->n_nodes);
    for (size_t e = 0; e < m->n_tets; e++)
        if (!nc || !nc[e])
            for (int k = 0; k < 4; k++)
                conducts[m->tets[4 * e + k]] = 1;
    double from_ms = end_ms - cycle_length_ms, earliest_ms = INFINITY;
    for (size_t i = 0; i < m->n_nodes; i++) {
        double t = last_activation_ms[i];
        if (conducts[i] && isfinite(t) && t >= from_ms && t <= end_ms && t < earliest_ms)
            earliest_ms = t;
    }
    for (size_t i = 0; isfinite(earliest_ms) && i < m->n_nodes; i++) {
        double t = last_activation_ms[i];
        if (conducts[i] && isfinite(t) && t >= from_ms && t <= end_ms) {
            lat_ms[i] = t - earliest_ms;
            (*n_valued)++;
            if (lat_ms[i] > *span_ms)
                *span_ms = lat_ms[i];
        }
    }
    free(conducts);
    return CT_OK;
}
