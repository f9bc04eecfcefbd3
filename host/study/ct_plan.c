/* ct_plan.c — the virtual ablation plan's rounds (ct_plan.h). */
#define _POSIX_C_SOURCE 200809L
#include "ct_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct_files.h"
#include "ct_circuit.h"
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
                      const ct_config *treated, const ct_backend_ops *be, const ct_induce_site *sites, int n_sites,
                      int jobs, const cJSON *before, cJSON *report, int *n_lesions, int *n_after)
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
        if ((st = ct_study_run_sites(o, config_path, acfg, be, subset, n_sub, dir, jobs)) != CT_OK)
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
