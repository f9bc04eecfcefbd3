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
 * The activation map of a VT's own cycle (ct_vt_lat): on a synthetic turning wave, and on a real induced VT
 * round a block (the ring example at half size, about 12 s), through `plan`, its VTU, surface order and report.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../kernels/backend.h"
#include "io/ct_vtk.h"
#include "mesh/ct_mesh.h"
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

static void ps_circling(double t, double p[3])
{
    double a = 2 * 3.14159265358979323846 * (t - 740) / 325.0; /* once round an 8 mm circle per 325 ms cycle */
    p[0] = 20 + 8 * cos(a);
    p[1] = 20 + 8 * sin(a);
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
    cr_assert_eq(c.n_cycles, 5, "the initiation (S2's own beat, the first turn) left out: %d cycles", c.n_cycles);
    cr_assert_eq(c.n_transient, 2);
    cr_assert_float_eq(c.transient_cl_ms[0], 195, 1e-6);
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
    /* alternating 180 / 260 ms cycles: polymorphic (kept 260, 180, 260, 180, 260: mean 228, 21 % off) */
    free(t.vm_mV);
    double alternating[] = {105, 300, 480, 740, 920, 1180, 1360, 1620};
    synthetic(&t, alternating, 8, ps_still);
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 2, "%s", c.why);
    cr_assert(c.cl_max_deviation > 0.2 && c.cl_max_deviation < 0.22, "deviation %g", c.cl_max_deviation);
    /* cycles 4 % apart: still monomorphic */
    free(t.vm_mV);
    double close[] = {105, 300, 510, 730, 940, 1160, 1370, 1590};
    synthetic(&t, close, 8, ps_still);
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 1, "%s (deviation %g)", c.why, c.cl_max_deviation);
    /* an anatomical circuit as on the ring example (exit-site intervals 184, 414, 330, 320 ms there): S2's own
     * beat, a slow first turn, then 325 ms cycles, the PS circling the obstacle once per cycle (its mean per
     * cycle: the obstacle's centre); monomorphic, the first two intervals reported as the initiation.
     * One-CL-mean windows from the last stimulus mixed the initiation's PS and parts of two turns (the ring run
     * gave 16 % CL deviation and 7.2 mm drift that way: "polymorphic"). */
    free(t.vm_mV);
    double ring[] = {140, 325, 740, 1065, 1390, 1715};
    synthetic(&t, ring, 6, ps_circling);
    for (int f = 0; f < t.n_frames && t.frame_ms[f] < 740; f++) /* the initiation's wave break near the site */
        t.frame_ps[f][0].position_mm[1] = 3;
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 1, "%s", c.why);
    cr_assert_eq(c.n_transient, 2);
    cr_assert_float_eq(c.transient_cl_ms[1], 415, 1e-6);
    cr_assert_float_eq(c.cl_mean_ms, 325, 1e-6);
    cr_assert(c.ps_drift_mm >= 0 && c.ps_drift_mm < 1, "drift %g mm", c.ps_drift_mm);
    j = ct_vt_json(&t, &c);
    cr_assert_eq(cJSON_GetArraySize(get(j, "initiation_cl_ms")), 2);
    cr_assert_eq(cJSON_GetArraySize(get(j, "cl_ms")), 3);
    cJSON_Delete(j);
    /* the same activations with the PS drifting: the cycle-aligned windows still see it */
    free(t.vm_mV);
    synthetic(&t, ring, 6, ps_wandering);
    ct_vt_classify(&t, 0, -40, &c);
    cr_assert_eq(c.verdict, 2, "%s", c.why);
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

/* ---- 5. the activation map of the VT's own cycle ------------------------------------------------------ */

/* Synthetic: a 20 x 20 x 1 mm box (dx 0.5 mm) with a non-conducting block x, y 6..14 mm and a wave turning
 * once round it per 200 ms cycle, observed to 1000 ms; the nodes at x < 2 mm last activated a cycle earlier
 * (before the window). Known by construction: the block's interior and those nodes have no LAT, the others
 * lie in [0, 200) ms with a span of nearly a cycle. */
Test(plan_report, vt_lat_of_a_turning_wave)
{
    ct_mesh *m;
    double size[3] = {20, 20, 1}, fibre[3] = {1, 0, 0};
    cr_assert_eq(ct_mesh_box(size, 0.5, fibre, &m), CT_OK, "%s", ct_error_message());
    uint8_t *nc = calloc(m->n_tets, 1);
    for (size_t e = 0; e < m->n_tets; e++) {
        double c[3];
        ct_mesh_tet_centroid(m, e, c);
        nc[e] = c[0] > 6 && c[0] < 14 && c[1] > 6 && c[1] < 14;
    }
    const double cl_ms = 200, end_ms = 1000;
    double *last = malloc(m->n_nodes * sizeof *last), *lat = malloc(m->n_nodes * sizeof *lat);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *x = m->xyz_mm + 3 * i;
        double a = atan2(x[1] - 10, x[0] - 10) + 3.14159265358979323846; /* [0, 2 pi] */
        last[i] = end_ms - cl_ms + 1 + (cl_ms - 2) * a / (2 * 3.14159265358979323846);
        if (x[0] < 2 - 1e-9)
            last[i] -= cl_ms; /* activated in the cycle before, not in the last one */
    }
    size_t n_valued = 0;
    double span_ms = -1;
    cr_assert_eq(ct_vt_lat(m, nc, last, end_ms, cl_ms, lat, &n_valued, &span_ms), CT_OK);
    size_t expect = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *x = m->xyz_mm + 3 * i;
        int inside = x[0] > 6 + 1e-9 && x[0] < 14 - 1e-9 && x[1] > 6 + 1e-9 && x[1] < 14 - 1e-9;
        if (inside || x[0] < 2 - 1e-9) {
            cr_assert(isnan(lat[i]), "node %zu at (%g, %g): LAT %g ms, expected none", i, x[0], x[1], lat[i]);
            continue;
        }
        expect++;
        cr_assert(lat[i] >= 0 && lat[i] <= cl_ms, "node %zu: LAT %g ms outside [0, %g]", i, lat[i], cl_ms);
    }
    cr_assert_eq(n_valued, expect);
    cr_assert(span_ms > 0.9 * cl_ms && span_ms <= cl_ms, "span %g ms of a %g ms cycle", span_ms, cl_ms);
    /* no cycle length measured: no value anywhere, not an error */
    cr_assert_eq(ct_vt_lat(m, nc, last, end_ms, -1, lat, &n_valued, &span_ms), CT_OK);
    cr_assert_eq(n_valued, 0);
    cr_assert(isnan(lat[0]) && span_ms == 0);
    free(last);
    free(lat);
    free(nc);
    ct_mesh_destroy(m);
}

/* A real induced VT, cheaply: the ring example (meshes/reentry_ring/ring.json) at half its size with a quarter
 * of its conductivity (CV halved: the same timing), 20 x 20 x 0.5 mm, dx 0.5 mm (3,362 nodes): an 8 x 8 mm
 * block, the slow-recovery patch below it, paced beside the patch; S2 220 ms induces a clockwise circuit
 * round the block, CL about 358 ms; `plan` proposes a lesion and re-tests (about 8 s on the 2-core VM). */
static const char *mini_ring_json =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [20, 20, 0.5], \"dx_mm\": 0.5, \"fibre_direction\": [1, 0, 0]},"
    " \"model\": {\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_close_ms\": 80}},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.025, \"sigma_t_S_per_m\": 0.025},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 200,"
    " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"},"
    " \"tissue\": {\"border_zone\": {\"parameters\": {\"tau_close_ms\": 130}}},"
    " \"tissue_regions\": ["
    "  {\"name\": \"block\", \"tissue\": \"scar\", \"shape\": \"box\", \"box_min_mm\": [6, 6, -1],"
    "   \"box_max_mm\": [14, 14, 1]},"
    "  {\"name\": \"slow recovery\", \"tissue\": \"border_zone\", \"shape\": \"box\", \"box_min_mm\": [11, 0, -1],"
    "   \"box_max_mm\": [15, 6, 1]}],"
    " \"max_beats\": 1, \"stimuli\": [{\"name\": \"corner\", \"center_mm\": [1, 1, 0.25], \"radius_mm\": 1,"
    " \"amplitude_uA_per_uF\": 60, \"duration_ms\": 2}]}";

static cJSON *read_json(const char *path)
{
    char *text = ct_test_read(path);
    cr_assert(text, "no %s", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cr_assert(j, "%s does not parse", path);
    return j;
}

/* Grid index of a node of the 20 x 20 x 0.5 mm, dx 0.5 mm box from its coordinates (mm). */
static int grid_index(const double *x)
{
    return ((int)lround(x[2] / 0.5) * 41 + (int)lround(x[1] / 0.5)) * 41 + (int)lround(x[0] / 0.5);
}

Test(plan_report, vt_activation_map_of_the_cycle, .timeout = 600)
{
    char *dir = ct_test_tmpdir("plan_lat"), path[4096], args[2 * 4096 + 256];
    snprintf(path, sizeof path, "%s/mini_ring.json", dir);
    cr_assert_eq(ct_test_write(path, mini_ring_json), 0);
    snprintf(args, sizeof args,
             "plan %s --out %s/out --site patch:9,2.5,0.25 --s1-count 2 --s1-bcl-ms 500 --extra 1 --ci-start-ms 220"
             " --ci-step-ms 20 --ci-min-ms 200 --observe-ms 800 --jobs 1",
             path, dir);
    char *out = NULL;
    int rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "cardiotwin plan failed (%d):\n%s", rc, out);
    free(out);

    snprintf(path, sizeof path, "%s/out/induction/site-01.json", dir);
    cJSON *site = read_json(path);
    cr_assert(cJSON_IsTrue(get(site, "inducible")), "the half-size ring no longer induces VT");
    double cl = get(site, "cycle_length_ms")->valuedouble;
    cr_assert(cl > 250 && cl < 450, "CL %g ms", cl);
    const cJSON *vt = get(site, "vt");
    cr_assert_str_eq(get(vt, "lat_file")->valuestring, "site-01-vt.vtu");
    double span = get(vt, "lat_span_ms")->valuedouble;
    cr_assert(span > 0.5 * cl && span <= 1.05 * cl, "LAT span %g ms of a %g ms cycle (a macro-re-entry)", span, cl);
    cr_assert(fabs(get(vt, "lat_window_ms")->valuedouble - cl) <= 0.05 + 1e-9, "window %g ms, CL %g ms",
              get(vt, "lat_window_ms")->valuedouble, cl);

    /* the file: a VTU of the whole mesh, LAT in [0, CL] where valued, none inside the block */
    snprintf(path, sizeof path, "%s/out/induction/site-01-vt.vtu", dir);
    ct_vtk_grid *g;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_OK, "%s", ct_error_message());
    size_t n = ct_vtk_grid_n_points(g);
    cr_assert_eq(n, 41 * 41 * 2);
    cr_assert_eq(ct_vtk_grid_n_tets(g), 40 * 40 * 6);
    const double *lat, *xyz = ct_vtk_grid_points(g);
    int nc_comp;
    cr_assert_eq(ct_vtk_grid_point_field(g, "vt_lat_ms", &lat, &nc_comp), CT_OK, "%s", ct_error_message());
    cr_assert_eq(nc_comp, 1);
    double by_grid[41 * 41 * 2], latest = 0;
    size_t valued = 0, outside = 0, outside_valued = 0;
    for (size_t i = 0; i < n; i++) {
        const double *x = xyz + 3 * i;
        by_grid[grid_index(x)] = lat[i];
        int in_block = x[0] > 6 + 1e-9 && x[0] < 14 - 1e-9 && x[1] > 6 + 1e-9 && x[1] < 14 - 1e-9;
        if (in_block) {
            cr_assert(isnan(lat[i]), "non-conducting node (%g, %g) mm has LAT %g ms", x[0], x[1], lat[i]);
            continue;
        }
        outside++;
        if (isnan(lat[i]))
            continue;
        valued++;
        outside_valued++;
        cr_assert(lat[i] >= 0 && lat[i] <= cl + 1e-9, "LAT %g ms at (%g, %g) mm outside [0, %g]", lat[i], x[0], x[1],
                  cl);
        latest = lat[i] > latest ? lat[i] : latest;
    }
    cr_assert_eq((double)valued, get(vt, "lat_valued_nodes")->valuedouble);
    cr_assert(outside_valued > 0.8 * outside, "only %zu of %zu conducting nodes activated in the cycle",
              outside_valued, outside);
    cr_assert(fabs(latest - span) <= 0.05 + 1e-9, "span %g ms, latest LAT in the file %g ms", span, latest);
    ct_vtk_grid_destroy(g);

    /* lat_surface_ms: surface.json's nodes in its order (on this sheet every node is on the surface) */
    snprintf(path, sizeof path, "%s/out/surface.json", dir);
    cJSON *surf = read_json(path);
    const cJSON *sxyz = get(surf, "xyz_mm"), *slat = get(vt, "lat_surface_ms");
    cr_assert_eq(cJSON_GetArraySize(slat), cJSON_GetArraySize(sxyz) / 3);
    for (int k = 0; k < cJSON_GetArraySize(slat); k++) {
        double x[3];
        for (int d = 0; d < 3; d++)
            x[d] = cJSON_GetArrayItem(sxyz, 3 * k + d)->valuedouble;
        const cJSON *v = cJSON_GetArrayItem(slat, k);
        double want = by_grid[grid_index(x)];
        if (isnan(want))
            cr_assert(cJSON_IsNull(v), "surface node %d: %g ms, the file has none", k, v->valuedouble);
        else
            cr_assert(cJSON_IsNumber(v) && fabs(v->valuedouble - want) <= 0.05 + 1e-9,
                      "surface node %d: %g ms, the file %g ms", k, v->valuedouble, want);
    }
    cJSON_Delete(surf);
    cJSON_Delete(site);

    /* the report draws it; rendered again from results without the new keys (an older study), it still renders */
    snprintf(path, sizeof path, "%s/out/report.html", dir);
    char *html = ct_test_read(path);
    cr_assert(html && strstr(html, "activation map of the VT cycle"), "report.html has no VT cycle map");
    free(html);
    snprintf(path, sizeof path, "%s/out/vt-1-lat.png", dir);
    char *png = ct_test_read(path);
    cr_assert(png, "no %s", path);
    free(png);
    snprintf(path, sizeof path, "%s/strip.py", dir);
    cr_assert_eq(ct_test_write(path,
                               "import json, sys\n"
                               "p = sys.argv[1]\n"
                               "r = json.load(open(p))\n"
                               "def strip(o):\n"
                               "    if isinstance(o, dict):\n"
                               "        for k in [k for k in o if k.startswith('lat_')]:\n"
                               "            del o[k]\n"
                               "        for v in o.values():\n"
                               "            strip(v)\n"
                               "    elif isinstance(o, list):\n"
                               "        for v in o:\n"
                               "            strip(v)\n"
                               "strip(r)\n"
                               "json.dump(r, open(p, 'w'))\n"),
                 0);
    const char *py = getenv("CARDIOTWIN_PYTHON");
    py = py && py[0] ? py : "/usr/bin/python3";
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s/strip.py %s/out/report.json && %s %s/tools/ct_report.py report %s/out", py, dir,
             dir, py, CT_SOURCE_DIR, dir);
    rc = ct_test_shell(cmd, &out);
    cr_assert_eq(rc, 0, "the report of an older result failed (%d):\n%s", rc, out);
    free(out);
    snprintf(path, sizeof path, "%s/out/report.html", dir);
    html = ct_test_read(path);
    cr_assert(html && strstr(html, "Induced VTs") && !strstr(html, "activation map of the VT cycle"),
              "older results: the VT section without the cycle map");
    free(html);
    snprintf(path, sizeof path, "%s/out/vt-1-lat.png", dir);
    png = ct_test_read(path);
    cr_assert(!png, "a stale %s was left", path);
    ct_test_rmtree(dir);
    free(dir);
}
