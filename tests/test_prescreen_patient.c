/* test_prescreen_patient.c — the pre-screen (host/study/ct_prescreen.h) on patient models, as the adult VT demo
 * (patients/README.md) uses it:
 * - calibration on a coarse mesh (2.5 mm, the adult heart's mean edge) with a short Mitchell-Schaeffer action
 *   potential: the APD and CV restitution are measured (before the S2 runs were cut off before the S2 beat
 *   repolarised at the middle of the 75 mm cable, and the restitution came out empty: one point);
 * - on a small personalised heart with an infarct (patient file -> model.json, as `cardiotwin personalise`):
 *   the sites of its sites.json are ranked (scores descending), the scar interior is never activated, and a
 *   site that cannot run (outside the heart) is reported as failed with the reason naming it, ranked last,
 *   written to prescreen.json as failed (never "not inducible") and never marked top.
 * Runs in about half a minute.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct_json.h"
#include "ct_test_util.h"
#include "personalise/ct_patient.h"
#include "sim/ct_config.h"
#include "study/ct_prescreen.h"

static char *dir;
static void setup(void) { dir = ct_test_tmpdir("prescreen_patient"); }
static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}
TestSuite(prescreen_patient, .init = setup, .fini = teardown);

/* The demo's protocol (patients/README.md), shorter observation. */
static void demo_protocol(ct_induce_protocol *p)
{
    ct_induce_protocol_defaults(p);
    p->s1_count = 2;
    p->s1_bcl_ms = 600;
    p->extra_stimuli = 1;
    p->ci_start_ms = 300;
    p->ci_step_ms = 20;
    p->ci_min_ms = 200;
    p->observe_ms = 600;
}

Test(prescreen_patient, restitution_is_calibrated_on_a_coarse_mesh, .timeout = 300)
{
    /* the demo's healthy tissue: tau_close 100 ms, conductivities tuned to 0.58 m/s at h 2.5 mm */
    const char *json =
        "{\"mesh\": {\"type\": \"box\", \"size_mm\": [10, 10, 5], \"dx_mm\": 2.5, \"fibre_direction\": [1, 0, 0]},"
        " \"model\": {\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_close_ms\": 100}},"
        " \"conductivity\": {\"sigma_l_S_per_m\": 0.5535, \"sigma_t_S_per_m\": 0.2022},"
        " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 100,"
        " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"}, \"stimuli\": []}";
    ct_config cfg;
    cr_assert_eq(ct_config_parse(json, "test", &cfg), CT_OK, "%s", ct_error_message());
    ct_induce_protocol p;
    demo_protocol(&p);
    ct_prescreen_options opt = {.quiet = 1};
    ct_prescreen *ps = NULL;
    cr_assert_eq(ct_prescreen_create(&cfg, &p, &opt, &ps), CT_OK, "%s", ct_error_message());
    ct_config_free(&cfg);
    const ct_prescreen_tissue *t = ct_prescreen_tissue_of(ps, 0);
    cr_assert(t && t->used);
    cr_assert(t->cv_l_mm_per_ms > 0.5 && t->cv_l_mm_per_ms < 0.66, "CV %g m/s", t->cv_l_mm_per_ms);
    cr_assert(t->apd90_ms > 150 && t->apd90_ms < 240, "APD90 %g ms", t->apd90_ms);
    /* six S1-S2 runs plus the drive train's own beat; at least four distinct DIs */
    cr_assert_geq(t->n_restitution, 4, "restitution points: %d", t->n_restitution);
    for (int i = 1; i < t->n_restitution; i++) {
        cr_assert_gt(t->restitution_di_ms[i], t->restitution_di_ms[i - 1]);
        cr_assert_geq(t->restitution_apd_ms[i], t->restitution_apd_ms[i - 1] - 1.0, "APD falls with DI at %g ms",
                      t->restitution_di_ms[i]);
    }
    /* a short DI shortens the APD and slows conduction */
    cr_assert_lt(t->restitution_apd_ms[0], 0.9 * t->apd90_ms, "APD %g at DI %g vs %g", t->restitution_apd_ms[0],
                 t->restitution_di_ms[0], t->apd90_ms);
    cr_assert_lt(t->restitution_cv_factor[0], 0.95, "CV factor %g", t->restitution_cv_factor[0]);
    ct_prescreen_destroy(ps);
}

static const char *patient_json =
    "{\"geometry\": {\"type\": \"lv_ellipsoid\", \"h_mm\": 2.0},"
    " \"infarct\": {\"aha_segments\": [7, 8], \"border_zone_mm\": 2.0},"
    " \"conduction\": {\"sigma_l_S_per_m\": 0.5, \"sigma_t_S_per_m\": 0.2},"
    " \"pacing\": [{\"name\": \"lateral\", \"aha_segment\": 11, \"radius_mm\": 3}],"
    " \"simulation\": {\"dt_ms\": 0.05, \"end_time_ms\": 100, \"output_interval_ms\": 0}}";

Test(prescreen_patient, ranks_the_sites_of_a_personalised_heart_and_reports_a_failed_one, .timeout = 600)
{
    char path[1100], out[600];
    snprintf(path, sizeof path, "%s/p.json", dir);
    snprintf(out, sizeof out, "%s/model", dir);
    cr_assert_eq(ct_test_write(path, patient_json), 0);
    cr_assert_eq(ct_personalise(path, out, 1), CT_OK, "%s", ct_error_message());
    snprintf(path, sizeof path, "%s/model.json", out);
    ct_config cfg;
    cr_assert_eq(ct_config_load(path, &cfg), CT_OK, "%s", ct_error_message());
    ct_induce_protocol p;
    demo_protocol(&p);
    /* calibration given (no TP06 cable runs): the test is about the heart, not the cable */
    ct_prescreen_options opt = {.quiet = 1, .cv_l_mm_per_ms = 0.6, .cv_t_mm_per_ms = 0.3, .apd90_ms = 200,
                                .refractory_ms = 230};
    ct_prescreen *ps = NULL;
    cr_assert_eq(ct_prescreen_create(&cfg, &p, &opt, &ps), CT_OK, "%s", ct_error_message());
    ct_config_free(&cfg);

    /* the personalised sites (one per LV segment and ...), then one outside the heart */
    ct_induce_site sites[40];
    int n = 0;
    snprintf(path, sizeof path, "%s/sites.json", out);
    cr_assert_eq(ct_prescreen_load_sites(path, sites, 39, &n), CT_OK, "%s", ct_error_message());
    cr_assert_geq(n, 17);
    ct_induce_site outside = {.name = "outside the heart", .position_mm = {500, 500, 500}};
    sites[n++] = outside;

    /* a wave from the first site: the scar's interior nodes are never reached, the rest of the heart is */
    size_t nn = ct_prescreen_n_nodes(ps);
    double *act = malloc(nn * sizeof *act);
    cr_assert_eq(ct_prescreen_activation(ps, &sites[0], 3.0, act), CT_OK, "%s", ct_error_message());
    size_t unreached = 0;
    for (size_t i = 0; i < nn; i++)
        unreached += act[i] < 0;
    cr_assert(unreached > 0 && unreached < nn / 5, "%zu of %zu nodes never reached", unreached, nn);
    free(act);

    ct_prescreen_result res[40];
    int n_failed = 0;
    for (int k = 0; k < n; k++) {
        ct_status st = ct_prescreen_site(ps, &sites[k], &res[k]);
        cr_assert_eq(st != CT_OK, res[k].failed != 0, "site %s: status %d, failed %d", sites[k].name, st,
                     res[k].failed);
        n_failed += res[k].failed;
    }
    cr_assert(res[n - 1].failed, "the site outside the heart ran");
    cr_assert(strstr(res[n - 1].reason, "outside the heart"), "reason: %s", res[n - 1].reason);
    cr_assert_leq(n_failed, 4, "%d of %d sites failed", n_failed, n); /* some may sit beside the scar */
    /* put the failed site first: ranking puts it last, the rest by score, descending */
    ct_prescreen_result tmp = res[0];
    res[0] = res[n - 1];
    res[n - 1] = tmp;
    ct_prescreen_rank(res, n);
    for (int k = 0; k < n - n_failed; k++) {
        cr_assert(!res[k].failed, "failed site %s ranked %d", res[k].name, k + 1);
        if (k > 0)
            cr_assert_geq(res[k - 1].score, res[k].score);
    }
    cr_assert(res[n - 1].failed);

    /* prescreen.json: the failed site is written as failed, with its reason, and never marked top */
    snprintf(path, sizeof path, "%s/prescreen.json", dir);
    cr_assert_eq(ct_prescreen_write_json(path, ps, res, n, n, 1.0), CT_OK, "%s", ct_error_message());
    char *text = ct_test_read(path);
    cr_assert(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert(root);
    cr_assert_eq(cJSON_GetObjectItem(root, "n_failed")->valueint, n_failed);
    const cJSON *arr = cJSON_GetObjectItem(root, "sites");
    int seen = 0;
    for (int k = 0; k < cJSON_GetArraySize(arr); k++) {
        const cJSON *o = cJSON_GetArrayItem(arr, k);
        if (strcmp(cJSON_GetObjectItem(o, "name")->valuestring, "outside the heart") != 0)
            continue;
        seen = 1;
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "failed")));
        cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "top")));
        cr_assert_null(cJSON_GetObjectItem(o, "predicted_inducible"));
        cr_assert(strstr(cJSON_GetObjectItem(o, "reason")->valuestring, "no conducting node"));
    }
    cr_assert(seen);
    cJSON_Delete(root);
    ct_prescreen_destroy(ps);
}
