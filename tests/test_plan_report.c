/* test_plan_report.c — what `cardiotwin plan` reports besides the circuits: the pre-screen's top-K selection
 * (--prescreen-top), the Vm traces of an induced re-entry (replayed from the last S1), the ERP bisected
 * between the last capturing and the first failing coupling interval (before and after a lesion), and the
 * monomorphic / polymorphic classification of a VT.
 *
 * Cheap cases (seconds each on two cores): a 12 x 12 x 0.5 mm sheet of Mitchell-Schaeffer tissue (tau_close
 * 80 ms, APD90 about 150 ms, CV about 0.25 m/s), dx 0.5 mm (1,250 nodes), S1 2 x 400 ms and one S2 from 300 ms
 * down in 40 ms steps. An observation of 150 ms, shorter than the action potential, makes the protocol declare
 * "re-entry" at the first captured S2 (tissue still excited): no arrhythmia, but it runs the traced replay
 * path on a wave whose timing is known (on a 30 x 3 mm strip the S2 wave reaches the far end about 110 ms
 * after the pacing site).
 * The classification is checked on synthetic traces whose cycle lengths and PS positions are known.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../kernels/backend.h"
#include "sim/ct_config.h"
#include "sim/ct_sim.h"
#include "study/ct_induce.h"
#include "study/ct_plan.h"
#include "study/ct_prescreen.h"
#include "ct_test_util.h"

static const char *small_json =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [12, 12, 0.5], \"dx_mm\": 0.5},"
    " \"model\": {\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_close_ms\": 80}},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.1, \"sigma_t_S_per_m\": 0.1},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 100,"
    " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"}, \"stimuli\": []}";

#define PROTOCOL "--s1-count 2 --s1-bcl-ms 400 --extra 1 --ci-start-ms 300 --ci-step-ms 40 --ci-min-ms 140"

static void small_protocol(ct_induce_protocol *p, double observe_ms)
{
    ct_induce_protocol_defaults(p);
    p->s1_count = 2;
    p->s1_bcl_ms = 400;
    p->extra_stimuli = 1;
    p->ci_start_ms = 300;
    p->ci_step_ms = 40;
    p->ci_min_ms = 140;
    p->observe_ms = observe_ms;
}

static char *write_small(const char *dir)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/small.json", dir);
    cr_assert_eq(ct_test_write(path, small_json), 0);
    return path;
}

static cJSON *read_report(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", dir);
    char *text = ct_test_read(path);
    cr_assert(text, "no %s", path);
    cJSON *r = cJSON_Parse(text);
    free(text);
    cr_assert(r, "%s does not parse", path);
    return r;
}

static const cJSON *get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(v, "no \"%s\" in %s", key, o && o->string ? o->string : "the object");
    return v;
}

/* ---- 1. the pre-screen's top K ---------------------------------------------------------------------- */

Test(plan_report, prescreen_top_k_runs_the_ranked_top_only, .timeout = 600)
{
    char *dir = ct_test_tmpdir("plan_pre"), args[4096], path[4096];
    const char *cfg_path = write_small(dir);
    static const char *const specs[4] = {"a:1,1,0.25", "b:6,6,0.25", "c:11,2,0.25", "d:2,10,0.25"};
    const int k_top = 2;
    snprintf(args, sizeof args,
             "plan %s --out %s/out --site %s --site %s --site %s --site %s --prescreen-top %d " PROTOCOL
             " --observe-ms 300 --jobs 1 --no-baseline",
             cfg_path, dir, specs[0], specs[1], specs[2], specs[3], k_top);
    char *out = NULL;
    int rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "cardiotwin plan failed (%d):\n%s", rc, out);
    free(out);

    /* the ranking, independently: the same model, protocol and sites through the pre-screen's API */
    ct_config cfg;
    cr_assert_eq(ct_config_load(cfg_path, &cfg), CT_OK, "%s", ct_error_message());
    ct_induce_protocol p;
    small_protocol(&p, 300);
    ct_prescreen *ps;
    ct_prescreen_options popt = {.quiet = 1};
    cr_assert_eq(ct_prescreen_create(&cfg, &p, &popt, &ps), CT_OK, "%s", ct_error_message());
    ct_prescreen_result res[4];
    for (int s = 0; s < 4; s++) {
        ct_induce_site site;
        cr_assert_eq(ct_study_parse_site(specs[s], &site), CT_OK);
        cr_assert_eq(ct_prescreen_site(ps, &site, &res[s]), CT_OK, "%s", ct_error_message());
    }
    ct_prescreen_rank(res, 4);
    ct_prescreen_destroy(ps);
    ct_config_free(&cfg);

    snprintf(path, sizeof path, "%s/out", dir);
    cJSON *r = read_report(path);
    const cJSON *pre = get(r, "prescreen"), *ranked = get(pre, "ranked"), *sites = get(r, "sites");
    cr_assert_eq(get(pre, "top_k")->valueint, k_top);
    cr_assert_eq(cJSON_GetArraySize(ranked), 4);
    for (int k = 0; k < 4; k++) {
        const cJSON *e = cJSON_GetArrayItem(ranked, k);
        cr_assert_str_eq(get(e, "name")->valuestring, res[k].name, "rank %d", k + 1);
        cr_assert_float_eq(get(e, "score")->valuedouble, res[k].score, 1e-9 * (1 + fabs(res[k].score)));
        cr_assert_eq(cJSON_IsTrue(get(e, "run")), k < k_top, "rank %d run flag", k + 1);
    }
    /* only the top K ran the full protocol: K site results, each one of the top K; the others screened out */
    cr_assert_eq(cJSON_GetArraySize(sites), k_top, "%d sites in the report", cJSON_GetArraySize(sites));
    for (int k = 0; k < k_top; k++) {
        const char *name = get(cJSON_GetArrayItem(sites, k), "name")->valuestring;
        cr_assert(strcmp(name, res[0].name) == 0 || strcmp(name, res[1].name) == 0, "site %s ran", name);
    }
    const cJSON *outed = get(pre, "screened_out");
    cr_assert_eq(cJSON_GetArraySize(outed), 4 - k_top);
    for (int k = 0; k < 4 - k_top; k++)
        cr_assert_str_eq(get(cJSON_GetArrayItem(outed, k), "name")->valuestring, res[k_top + k].name);
    for (int s = 0; s < 4; s++) {
        snprintf(path, sizeof path, "%s/out/induction/site-%02d.json", dir, s + 1);
        char *t = ct_test_read(path);
        cr_assert_eq(t != NULL, s < k_top, "%s %s", path, t ? "exists" : "missing");
        free(t);
    }
    snprintf(path, sizeof path, "%s/out/prescreen.json", dir);
    char *t = ct_test_read(path);
    cr_assert(t, "no %s", path);
    free(t);
    snprintf(path, sizeof path, "%s/out/report.html", dir);
    t = ct_test_read(path);
    cr_assert(t && strstr(t, "screened out"), "report.html does not name the sites screened out");
    free(t);
    cJSON_Delete(r);
    ct_test_rmtree(dir);
    free(dir);
}

Test(plan_report, prescreen_top_usage_errors)
{
    char *out = NULL;
    static const char *const bad[] = {"--prescreen-top 0", "--prescreen-top 1.5", "--prescreen-top x",
                                      "--prescreen-top"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char args[1024];
        snprintf(args, sizeof args, "plan %s/meshes/reentry_ring/ring.json --out /tmp/ct_never %s", CT_SOURCE_DIR,
                 bad[k]);
        int rc = ct_test_cli(args, &out);
        cr_assert_eq(rc, 2, "%s: exit %d\n%s", bad[k], rc, out);
        cr_assert(strstr(out, "--prescreen-top") || strstr(out, "usage"), "%s: %s", bad[k], out);
        free(out);
    }
    int rc = ct_test_cli("induce " CT_SOURCE_DIR "/meshes/reentry_ring/ring.json --out /tmp/ct_never "
                         "--prescreen-top 2", &out);
    cr_assert_eq(rc, 2, "induce has no --prescreen-top: %s", out);
    free(out);
    rc = ct_test_cli("plan --help", &out);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, "--prescreen-top K"), "%s", out);
    free(out);
}

/* ---- 2. traces of an induced re-entry ------------------------------------------------------------------ */

typedef struct seen {
    ct_induce_traces *traces;
    double far_mm[3];
    double far_last_activation_ms; /* from the protocol's own run, at the node nearest far_mm */
} seen;

static ct_status add_far_point(void *user, const struct ct_sim *sim, const double *last_activation_ms, double end_ms,
                               const ct_induce_result *r)
{
    (void)end_ms;
    (void)r;
    seen *s = user;
    ct_induce_traces *t = s->traces;
    snprintf(t->label[t->n_points], sizeof t->label[0], "far corner");
    memcpy(t->want_mm[t->n_points++], s->far_mm, sizeof s->far_mm);
    size_t best = 0;
    double bd = INFINITY;
    for (size_t i = 0; i < sim->mesh->n_nodes; i++) {
        const double *x = sim->mesh->xyz_mm + 3 * i;
        double d = pow(x[0] - s->far_mm[0], 2) + pow(x[1] - s->far_mm[1], 2) + pow(x[2] - s->far_mm[2], 2);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    s->far_last_activation_ms = last_activation_ms[best];
    return CT_OK;
}

/* The first upward crossing of thr in trace row j at or after t_from (ms, interpolated); NAN if none. */
static double crossing(const ct_induce_traces *t, int j, double thr, double t_from)
{
    const double *v = t->vm_mV + (size_t)j * (size_t)t->n_samples;
    for (int i = 1; i < t->n_samples; i++) {
        double ta = t->t0_ms + (i - 1) * t->sample_ms;
        if (ta >= t_from && v[i - 1] < thr && v[i] >= thr)
            return ta + t->sample_ms * (thr - v[i - 1]) / (v[i] - v[i - 1]);
    }
    return NAN;
}

/* A 30 x 3 mm strip: the S2 wave reaches the far end about 110 ms after the pacing site, within the second
 * half of a 150 ms observation, where the protocol records activation times. */
static const char *strip_json =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [30, 3, 0.5], \"dx_mm\": 0.5},"
    " \"model\": {\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_close_ms\": 80}},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.1, \"sigma_t_S_per_m\": 0.1},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 100,"
    " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"}, \"stimuli\": []}";

Test(plan_report, traces_of_a_reentry_are_replayed_faithfully, .timeout = 300)
{
    ct_config cfg;
    cr_assert_eq(ct_config_parse(strip_json, "strip", &cfg), CT_OK, "%s", ct_error_message());
    ct_induce_protocol p;
    small_protocol(&p, 150); /* shorter than the far end's action potential: "re-entry" at the first S2 */
    ct_induce_site site = {.name = "end", .position_mm = {1, 1.5, 0.25}};
    ct_induce_traces *t = calloc(1, sizeof *t);
    seen s = {.traces = t, .far_mm = {29, 1.5, 0.25}, .far_last_activation_ms = NAN};
    ct_induce_extras x = {.obs = add_far_point, .obs_user = &s, .traces = t};
    ct_induce_result r;
    cr_assert_eq(ct_induce_site_run_ex(&cfg, &site, &p, &ct_backend_cpu, 1, &r, &x), CT_OK, "%s",
                 ct_error_message());
    cr_assert(r.inducible && r.coupling_ms[0] == 300, "re-entry declared at S2 300 ms (got %d at %g)", r.inducible,
              r.coupling_ms[0]);
    cr_assert_eq(t->n_points, 2);
    cr_assert_str_eq(t->label[0], "pacing site");
    /* the stimuli: the last S1 at 400 ms, S2 300 ms later; samples every 1 ms to the end of the observation */
    cr_assert_eq(t->n_stimuli, 2);
    cr_assert_str_eq(t->stimulus_name[0], "S1");
    cr_assert_str_eq(t->stimulus_name[1], "S2");
    cr_assert_float_eq(t->stimulus_ms[0], 400.0, 1e-9);
    cr_assert_float_eq(t->stimulus_ms[1], 700.0, 1e-9);
    cr_assert_float_eq(t->sample_ms, 1.0, 1e-9);
    cr_assert(t->t0_ms > 400.0 && t->t0_ms <= 401.0 + 1e-9, "t0 %g ms", t->t0_ms);
    cr_assert(abs(t->n_samples - (int)lround(850.0 - t->t0_ms) - 1) <= 1, "%d samples from %g to 850 ms",
              t->n_samples, t->t0_ms);
    double thr = cfg.activation_threshold_mV;
    /* the pacing node activates within 10 ms of each stimulus; the far end 28 mm away later, by about
     * distance / CV (0.2 .. 0.4 m/s) */
    for (int k = 0; k < 2; k++) {
        double a0 = crossing(t, 0, thr, t->stimulus_ms[k]), a1 = crossing(t, 1, thr, t->stimulus_ms[k]);
        cr_assert(a0 >= t->stimulus_ms[k] && a0 < t->stimulus_ms[k] + 10, "%s: pacing node at %g ms",
                  t->stimulus_name[k], a0);
        double dist = hypot(t->node_mm[1][0] - t->node_mm[0][0], t->node_mm[1][1] - t->node_mm[0][1]);
        cr_assert(a1 - a0 > dist / 0.4 && a1 - a0 < dist / 0.2, "%s: far node %g ms after the pacing node (%g mm)",
                  t->stimulus_name[k], a1 - a0, dist);
        if (k == 1) /* the replay is the same solution: the far node's S2 activation as the protocol saw it */
            cr_assert(fabs(a1 - s.far_last_activation_ms) <= t->sample_ms + 1e-9,
                      "replayed activation %g ms, the protocol's %g ms", a1, s.far_last_activation_ms);
    }
    ct_induce_traces_free(t);
    cr_assert_eq(t->n_samples, 0);
    free(t);
    ct_config_free(&cfg);
}

/* ---- 3. ERP before and after a lesion --------------------------------------------------------------- */

static void check_erp(const cJSON *site, double step_ms, const char *when)
{
    const cJSON *erp = get(get(site, "erp_ms"), "S2"), *br = get(get(site, "erp_bracket_ms"), "S2");
    cr_assert(cJSON_IsNumber(erp), "%s: ERP not recorded", when);
    double fail = cJSON_GetArrayItem(br, 0)->valuedouble, cap = cJSON_GetArrayItem(br, 1)->valuedouble;
    cr_assert(cJSON_IsTrue(get(site, "erp_refined")), "%s: ERP not bisected", when);
    cr_assert_float_eq(cap - fail, step_ms, 1e-9, "%s: bracket %g..%g ms, one %g ms step apart", when, fail, cap,
                       step_ms);
    cr_assert(erp->valuedouble >= fail && erp->valuedouble < cap,
              "%s: ERP %g ms outside [first non-captured %g, last captured %g)", when, erp->valuedouble, fail, cap);
    /* bisected to step / 8 */
    double q = (erp->valuedouble - fail) / (step_ms / 8);
    cr_assert(fabs(q - round(q)) < 1e-6, "%s: ERP %g ms is not on the bisection grid", when, erp->valuedouble);
}

Test(plan_report, erp_lies_between_the_last_capture_and_the_first_failure_before_and_after, .timeout = 600)
{
    char *dir = ct_test_tmpdir("plan_erp"), args[4096];
    const char *cfg_path = write_small(dir);
    /* a lesion across the sheet's middle; the site beside it */
    snprintf(args, sizeof args,
             "ablate %s --out %s/out --site s:3,3,0.25 --lesion line:0,7,0.25,12,7,0.25,0.6 " PROTOCOL
             " --observe-ms 300 --jobs 1 --no-baseline",
             cfg_path, dir);
    char *out = NULL;
    int rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "cardiotwin ablate failed (%d):\n%s", rc, out);
    free(out);
    char path[4096];
    snprintf(path, sizeof path, "%s/out", dir);
    cJSON *r = read_report(path);
    const cJSON *before = cJSON_GetArrayItem(get(r, "sites"), 0);
    const cJSON *after = get(cJSON_GetArrayItem(get(get(r, "ablation"), "sites"), 0), "result_after");
    check_erp(before, 40, "before");
    check_erp(after, 40, "after");
    /* the ERP is the tissue's: about the pre-screen's calibrated refractory period of this model (182.5 ms at
     * a 400 ms drive; within a protocol step) */
    cr_assert(fabs(get(get(before, "erp_ms"), "S2")->valuedouble - 182.5) <= 20, "ERP %g ms",
              get(get(before, "erp_ms"), "S2")->valuedouble);
    cJSON_Delete(r);
    ct_test_rmtree(dir);
    free(dir);
}

/* ---- 4. monomorphic or polymorphic ------------------------------------------------------------------ */

/* Synthetic traces: one point, an action potential (20 mV for 100 ms, else -80 mV) at each activation time;
 * one PS frame every 10 ms after the last stimulus at the positions given by ps_at(t). */
static void synthetic(ct_induce_traces *t, const double *act, int n_act, void (*ps_at)(double, double[3]))
{
    memset(t, 0, sizeof *t);
    t->n_points = 1;
    snprintf(t->label[0], sizeof t->label[0], "exit site");
    t->t0_ms = 0;
    t->sample_ms = 1;
    t->n_samples = 2000;
    t->vm_mV = malloc(2000 * sizeof *t->vm_mV);
    for (int i = 0; i < 2000; i++) {
        t->vm_mV[i] = -80;
        for (int k = 0; k < n_act; k++)
            if (i >= act[k] && i < act[k] + 100)
                t->vm_mV[i] = 20;
    }
    t->n_stimuli = 2;
    snprintf(t->stimulus_name[0], sizeof t->stimulus_name[0], "S1");
    snprintf(t->stimulus_name[1], sizeof t->stimulus_name[1], "S2");
    t->stimulus_ms[0] = 0;
    t->stimulus_ms[1] = 100;
    for (double tm = 110; tm < 2000 && t->n_frames < CT_INDUCE_MAX_FRAMES; tm += 10) {
        int f = t->n_frames++;
        t->frame_ms[f] = tm;
        t->frame_n_ps[f] = 1;
        ps_at(tm, t->frame_ps[f][0].position_mm);
    }
}

static void ps_still(double t, double p[3])
{
    (void)t;
    p[0] = 10 + 0.3 * sin(t / 37.0); /* a rotor tip wobbling by 0.3 mm */
    p[1] = 20;
    p[2] = 0;
}

static void ps_wandering(double t, double p[3])
{
    p[0] = 10 + 0.02 * t; /* drifting 20 mm per second */
    p[1] = 20;
    p[2] = 0;
}

Test(plan_report, vt_classification)
{
    ct_induce_traces t;
    ct_vt_class c;
    /* steady 220 ms cycles, the PS in place: monomorphic, CL 220 +- 0 */
    double steady[] = {105, 300, 520, 740, 960, 1180, 1400, 1620};
    synthetic(&t, steady, 8, ps_still);
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 1, "%s", c.why);
    cr_assert_eq(c.n_cycles, 6, "the first interval (S2's own beat) left out: %d cycles", c.n_cycles);
    cr_assert_float_eq(c.cl_mean_ms, 220, 1e-6);
    cr_assert(c.cl_sd_ms < 1e-6 && c.ps_drift_mm >= 0 && c.ps_drift_mm < 1, "sd %g, drift %g", c.cl_sd_ms,
              c.ps_drift_mm);
    cJSON *j = ct_vt_json(&t, &c);
    cr_assert_str_eq(get(j, "classification")->valuestring, "monomorphic");
    const cJSON *pts = get(get(j, "traces"), "points");
    cr_assert_eq(cJSON_GetArraySize(pts), 1);
    cr_assert_eq(cJSON_GetArraySize(get(cJSON_GetArrayItem(pts, 0), "vm_mV")), t.n_samples);
    cr_assert_eq(cJSON_GetArraySize(get(j, "ps_trajectory")), t.n_frames);
    cJSON_Delete(j);
    /* the same cycles, the PS wandering off: polymorphic */
    free(t.vm_mV);
    synthetic(&t, steady, 8, ps_wandering);
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 2, "%s", c.why);
    cr_assert(c.ps_drift_mm > CT_VT_PS_DRIFT_MM, "drift %g mm", c.ps_drift_mm);
    /* alternating 180 / 260 ms cycles: polymorphic (CL varies by 18 %) */
    free(t.vm_mV);
    double alternating[] = {105, 300, 480, 740, 920, 1180, 1360, 1620};
    synthetic(&t, alternating, 8, ps_still);
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 2, "%s", c.why);
    cr_assert(c.cl_max_deviation > 0.15 && c.cl_max_deviation < 0.2, "deviation %g", c.cl_max_deviation);
    /* cycles 4 % apart: still monomorphic */
    free(t.vm_mV);
    double close[] = {105, 300, 510, 730, 940, 1160, 1370, 1590};
    synthetic(&t, close, 8, ps_still);
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 1, "%s (deviation %g)", c.why, c.cl_max_deviation);
    /* one cycle only: not classified, and says why */
    free(t.vm_mV);
    double short_run[] = {105, 300};
    synthetic(&t, short_run, 2, ps_still);
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 0);
    cr_assert(strstr(c.why, "too few"), "%s", c.why);
    free(t.vm_mV);
    /* no traces at all */
    ct_vt_classify(NULL, 0, -40, &c);
    cr_assert_eq(c.verdict, 0);
}
