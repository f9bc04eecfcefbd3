/* ct_study.c — a study (ct_study.h): the model, the sites, the baseline run and induction from every site
 * (child processes through ct_pool.h), before and after ablation. The report's data: ct_study_report.c. */
#define _POSIX_C_SOURCE 200809L
#include "ct_study.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/ct_files.h"
#include "core/ct_json.h"
#include "ct_pool.h"
#include "sim/ct_sim.h"
#include "ct_study_report.h"
#include "personalise/ct_patient.h"
#include "ct_circuit.h"
#include "ct_plan.h"
#include "io/ct_vtk.h"

void ct_study_options_defaults(ct_study_options *o)
{
    memset(o, 0, sizeof *o);
    o->backend = "auto";
    ct_induce_protocol_defaults(&o->protocol);
    o->baseline = 1;
}

double ct_study_erp_resolution_ms(const ct_induce_protocol *p)
{
    return p->ci_step_ms / 8.0;
}

ct_status ct_study_parse_site(const char *spec, ct_induce_site *out)
{
    memset(out, 0, sizeof *out);
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof out->name)
        return ct_error_set(CT_ERR_CONFIG, "site \"%s\": expected NAME:x,y,z (mm)", spec);
    memcpy(out->name, spec, (size_t)(colon - spec));
    const char *p = colon + 1;
    for (int k = 0; k < 3; k++) {
        char *end;
        out->position_mm[k] = strtod(p, &end);
        if (end == p || !isfinite(out->position_mm[k]) || *end != (k < 2 ? ',' : '\0'))
            return ct_error_set(CT_ERR_CONFIG, "site \"%s\": coordinate %d is not a number (expected NAME:x,y,z)",
                                spec, k + 1);
        p = end + 1;
    }
    return CT_OK;
}

/* ---- sites ----------------------------------------------------------------------------------------- */

static int kept(const char *only, const char *name)
{
    if (!only)
        return 1;
    size_t len = strlen(name);
    for (const char *p = only; *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l == len && strncmp(p, name, len) == 0)
            return 1;
        p += l + (comma ? 1 : 0);
    }
    return 0;
}

static ct_status load_sites(const char *path, ct_induce_site *sites, int *n)
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
        if (*n >= CT_STUDY_MAX_SITES) {
            st = ct_error_set(CT_ERR_CONFIG, "%s: more than %d sites", path, CT_STUDY_MAX_SITES);
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

/* ---- one site's result file ------------------------------------------------------------------------ */

/* What must match for a stored site result to be reused. */
static void site_key(const ct_study_options *o, const char *config_path, const ct_config *cfg,
                     const ct_induce_site *s, char *key, size_t len)
{
    const ct_induce_protocol *p = &o->protocol;
    int k = snprintf(key, len,
                     "%s|%s|%.17g,%.17g,%.17g|s1 %d x %g|extra %d ci %g-%g step %g|obs %g cap %g|stim %g %g %g|dt %g|"
                     "sample %g|phase %g %g|erp bisected %g|vt traces|lesions",
                     config_path, s->name, s->position_mm[0], s->position_mm[1], s->position_mm[2], p->s1_count,
                     p->s1_bcl_ms, p->extra_stimuli, p->ci_start_ms, p->ci_min_ms, p->ci_step_ms, p->observe_ms,
                     p->capture_window_ms, p->stim_radius_mm, p->stim_amplitude_uA_per_uF, p->stim_duration_ms,
                     p->dt_ms > 0 ? p->dt_ms : cfg->dt_ms, p->sample_ms, p->phase_delay_ms, p->phase_v_star_mV,
                     ct_study_erp_resolution_ms(p));
    for (int l = 0; l < cfg->n_lesions && k > 0 && (size_t)k < len; l++) {
        const ct_lesion *le = &cfg->lesions[l];
        k += snprintf(key + k, len - (size_t)k, " %d:%g,%g,%g,%g,%g,%g,%g", le->shape, le->a_mm[0], le->a_mm[1],
                      le->a_mm[2], le->b_mm[0], le->b_mm[1], le->b_mm[2], le->radius_mm);
    }
}

/* For tests only: CARDIOTWIN_TEST_CRASH_SITE=NAME makes the process that runs site NAME kill itself
 * (SIGKILL) before its simulation, as a crashed worker (or, with --jobs 1, a killed study) would. */
static void test_crash_if_asked(const ct_induce_site *s)
{
    const char *crash = getenv("CARDIOTWIN_TEST_CRASH_SITE");
    if (crash && strcmp(crash, s->name) == 0) {
        fflush(NULL);
        raise(SIGKILL);
    }
}

/* What the observer of an induced re-entry keeps: its circuit as JSON, the traces to record, and the VT
 * cycle's activation map (written to lat_path; its keys for the result's "vt" object kept in lat). */
typedef struct site_observed {
    cJSON *circuit;                   /* owned, or NULL */
    ct_induce_traces *traces;         /* borrowed */
    const ct_study_surface *surface;  /* borrowed: the study's (the nodes of lat_surface_ms) */
    const char *lat_path;             /* borrowed: OUT/<phase>/site-NN-vt.vtu */
    cJSON *lat;                       /* owned, or NULL: {lat_file, lat_span_ms, lat_window_ms, lat_valued_nodes,
                                         lat_surface_ms} or {lat_why} */
} site_observed;

static double round_01(double x)
{
    return round(x * 10.0) / 10.0;
}

/* The VT cycle's local activation time (ct_vt_lat) written as so->lat_path (point field "vt_lat_ms", NaN where
 * none) and its keys kept in so->lat: the file's name, the span (ms) and the LAT at the nodes of surface.json,
 * in its order (so->surface, the study's), null where none; 0.1 ms. The window is the protocol's cycle length
 * (median over nodes; "lat_window_ms"). No cycle length measured: no file, "lat_why" says so. */
static ct_status vt_activation_map(site_observed *so, const ct_mesh *m, const uint8_t *nc,
                                   const double *last_activation_ms, double end_ms, double cycle_length_ms)
{
    cJSON_Delete(so->lat); /* an earlier call's (the observer is told once per site; kept safe regardless) */
    so->lat = cJSON_CreateObject();
    double *lat = malloc(m->n_nodes * sizeof *lat + 1); /* owned here */
    size_t n_valued = 0;
    double span_ms = 0;
    ct_status st = lat && so->lat ? CT_OK : ct_error_set(CT_ERR_NOMEM, "VT activation map: out of memory");
    if (st == CT_OK)
        st = ct_vt_lat(m, nc, last_activation_ms, end_ms, cycle_length_ms, lat, &n_valued, &span_ms);
    if (st == CT_OK && n_valued == 0) {
        cJSON_AddStringToObject(so->lat, "lat_why", cycle_length_ms > 0 ? "no node activated in the last cycle"
                                                                         : "no cycle length measured");
        goto done;
    }
    if (st == CT_OK && so->surface->n_mesh_nodes != m->n_nodes)
        st = ct_error_set(CT_ERR_INTERNAL, "VT activation map: the study's surface was made from a mesh of %zu "
                                           "nodes, the site's has %zu", so->surface->n_mesh_nodes, m->n_nodes);
    if (st == CT_OK) {
        ct_vtk_field f = {.name = "vt_lat_ms", .n_components = 1, .data = lat};
        st = ct_vtk_write_vtu(so->lat_path, m->n_nodes, m->xyz_mm, m->n_tets, m->tets, &f, 1, NULL, 0);
    }
    if (st != CT_OK)
        goto done;
    const char *slash = strrchr(so->lat_path, '/');
    cJSON_AddStringToObject(so->lat, "lat_file", slash ? slash + 1 : so->lat_path);
    cJSON_AddNumberToObject(so->lat, "lat_span_ms", round_01(span_ms));
    cJSON_AddNumberToObject(so->lat, "lat_window_ms", round_01(cycle_length_ms)); /* the cycle length used */
    cJSON_AddNumberToObject(so->lat, "lat_valued_nodes", (double)n_valued);
    cJSON *surf = cJSON_AddArrayToObject(so->lat, "lat_surface_ms");
    for (size_t j = 0; j < so->surface->n_nodes; j++) {
        double v = lat[so->surface->node[j]];
        cJSON_AddItemToArray(surf, isfinite(v) ? cJSON_CreateNumber(round_01(v)) : cJSON_CreateNull());
    }
done:
    free(lat);
    return st;
}

/* The observer of an induced re-entry: its circuit (ct_circuit.h), kept as JSON, its exit site traced, and
 * the activation map of its last cycle (vt_activation_map). */
static ct_status circuit_observer(void *user, const struct ct_sim *sim, const double *last_activation_ms,
                                  double end_ms, const ct_induce_result *r)
{
    site_observed *so = user;
    const ct_mesh *m = sim->mesh;
    uint8_t *nc = calloc(m->n_tets + 1, 1); /* owned here */
    if (!nc)
        return ct_error_set(CT_ERR_NOMEM, "circuit: out of memory");
    for (size_t e = 0; sim->sigma_scale && e < m->n_tets; e++)
        nc[e] = sim->sigma_scale[e] == 0.0;
    ct_circuit c;
    ct_status st = ct_circuit_find(m, nc, last_activation_ms, r->cycle_length_ms, sim->aha_segment, &c);
    if (st == CT_OK && so->lat_path)
        st = vt_activation_map(so, m, nc, last_activation_ms, end_ms, r->cycle_length_ms);
    free(nc);
    if (st == CT_OK)
        so->circuit = ct_circuit_json(&c);
    ct_induce_traces *t = so->traces;
    if (st == CT_OK && c.found && t && t->n_points < CT_INDUCE_MAX_TRACES) {
        snprintf(t->label[t->n_points], sizeof t->label[0], "exit site");
        memcpy(t->want_mm[t->n_points++], c.exit_mm, sizeof t->want_mm[0]);
    }
    return st;
}

/* Runs one site and stores its result file (whatever the outcome); an induced re-entry's circuit with it. */
static ct_status run_site(const ct_study_options *o, const ct_config *cfg, const ct_backend_ops *be,
                          const ct_study_surface *surface, const ct_induce_site *s, const char *key,
                          const char *path)
{
    ct_induce_result r;
    ct_induce_traces *traces = calloc(1, sizeof *traces); /* owned here */
    if (!traces)
        return ct_error_set(CT_ERR_NOMEM, "site %s: out of memory", s->name);
    /* the VT cycle's activation map beside the result: site-NN.json -> site-NN-vt.vtu (a stale one removed) */
    char lat_path[4096];
    size_t plen = strlen(path);
    if (plen < 5 || strcmp(path + plen - 5, ".json") != 0 || plen - 5 + sizeof "-vt.vtu" > sizeof lat_path) {
        free(traces);
        return ct_error_set(CT_ERR_INTERNAL, "site %s: result path %s does not end in .json", s->name, path);
    }
    snprintf(lat_path, sizeof lat_path, "%.*s-vt.vtu", (int)(plen - 5), path);
    remove(lat_path);
    site_observed so = {.circuit = NULL, .traces = traces, .surface = surface, .lat_path = lat_path, .lat = NULL};
    ct_induce_extras x = {.obs = circuit_observer, .obs_user = &so, .traces = traces,
                          .erp_resolution_ms = ct_study_erp_resolution_ms(&o->protocol)};
    test_crash_if_asked(s);
    ct_status st = ct_induce_site_run_ex(cfg, s, &o->protocol, be, o->quiet, &r, &x);
    if (st != CT_OK && !o->quiet)
        fprintf(stderr, "cardiotwin: site %s failed: %s\n", s->name, ct_error_message());
    cJSON *j = ct_study_site_json(s, key, st, &r, o->protocol.extra_stimuli);
    if (so.circuit && st == CT_OK)
        cJSON_AddItemToObject(j, "circuit", so.circuit);
    else
        cJSON_Delete(so.circuit);
    if (st == CT_OK && r.inducible) { /* monomorphic or polymorphic, from the exit site's (else the pacing site's) trace */
        ct_vt_class vc;
        ct_vt_classify(traces, traces->n_points > 1 ? 1 : 0, cfg->activation_threshold_mV, &vc);
        cJSON *vt = ct_vt_json(traces, &vc);
        for (cJSON *k = so.lat ? so.lat->child : NULL; k; k = k->next) /* the VT cycle's activation map */
            cJSON_AddItemToObject(vt, k->string, cJSON_Duplicate(k, 1));
        cJSON_AddItemToObject(j, "vt", vt);
    }
    cJSON_Delete(so.lat);
    ct_induce_traces_free(traces);
    free(traces);
    ct_status wst = ct_study_write_json_file(path, j);
    cJSON_Delete(j);
    return wst;
}

/* 1: path holds a finished result of this key (reused); 0: none, another key's, or a failed trial (a failure
 * is never kept: a rerun runs the site again). */
static int result_is_current(const char *path, const char *key)
{
    cJSON *j = ct_study_read_json(path);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
    int ok = cJSON_IsString(k) && strcmp(k->valuestring, key) == 0 && !ct_study_site_failed(j);
    cJSON_Delete(j);
    return ok;
}

/* The pool's view of a phase's sites (ct_pool.h): task t is site todo[t]. */
typedef struct site_pool_ctx {
    const ct_study_options *o;
    const char *config_path;
    const ct_config *cfg;
    const ct_backend_ops *be;
    const ct_study_surface *surface;
    const ct_induce_site *sites;
    const int *todo;
    int n_todo, jobs, threads;
    const char *dir;
} site_pool_ctx;

static ct_status site_prepare(void *vx, int task, int slot)
{
    (void)slot;
    const site_pool_ctx *x = vx;
    if (!x->o->quiet)
        fprintf(stderr, "cardiotwin: site %s started (%d of %d, %d at once)\n", x->sites[x->todo[task]].name,
                task + 1, x->n_todo, x->jobs);
    return CT_OK;
}

/* In the child: the site's simulation, its result stored whatever the outcome; exit status 0 if stored. */
static int site_child(void *vx, int task, int slot)
{
    (void)slot;
    const site_pool_ctx *x = vx;
    int s = x->todo[task];
    char key[2048], path[4096];
    if (ct_study_site_result_path(x->dir, s, path, sizeof path) != CT_OK)
        return 1;
    site_key(x->o, x->config_path, x->cfg, &x->sites[s], key, sizeof key);
    omp_set_num_threads(x->threads);
    return run_site(x->o, x->cfg, x->be, x->surface, &x->sites[s], key, path) == CT_OK ? 0 : 1;
}

static ct_status site_done(void *vx, int task, int slot, int status, const char *launch_error)
{
    (void)slot;
    const site_pool_ctx *x = vx;
    int s = x->todo[task];
    if (launch_error) /* stops the phase: no further site starts */
        return ct_error_set(CT_ERR_IO, "site %s: %s", x->sites[s].name, launch_error);
    char path[4096], key[2048];
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return CT_OK;
    /* the child could not even store its failure: record it here (unless it stored its result first) */
    site_key(x->o, x->config_path, x->cfg, &x->sites[s], key, sizeof key);
    if (ct_study_site_result_path(x->dir, s, path, sizeof path) == CT_OK && !result_is_current(path, key)) {
        ct_error_set(CT_ERR_INTERNAL, "site %s: its process ended abnormally (%s %d%s)", x->sites[s].name,
                     WIFSIGNALED(status) ? "signal" : "exit",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                     WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? ": killed, e.g. out of memory" : "");
        if (!x->o->quiet)
            fprintf(stderr, "cardiotwin: site %s failed: %s\n", x->sites[s].name, ct_error_message());
        cJSON *j = ct_study_site_json(&x->sites[s], "", CT_ERR_INTERNAL, NULL, 0);
        ct_study_write_json_file(path, j);
        cJSON_Delete(j);
    }
    return CT_OK;
}

/* Runs every site not yet done into dir, up to `jobs` at once (child processes when jobs > 1). */
ct_status ct_study_run_sites(const ct_study_options *o, const char *config_path, const ct_config *cfg,
                             const ct_backend_ops *be, const ct_study_surface *surface, const ct_induce_site *sites,
                             int n_sites, const char *dir, int jobs)
{
    CT_CHECK(ct_mkdir_p(dir));
    int todo[CT_STUDY_MAX_SITES], n_todo = 0;
    char key[2048], path[4096];
    for (int s = 0; s < n_sites; s++) {
        CT_CHECK(ct_study_site_result_path(dir, s, path, sizeof path));
        site_key(o, config_path, cfg, &sites[s], key, sizeof key);
        if (result_is_current(path, key)) {
            if (!o->quiet)
                fprintf(stderr, "cardiotwin: site %s: already done (%s)\n", sites[s].name, path);
            continue;
        }
        cJSON *old = ct_study_read_json(path);
        if (old && ct_study_site_failed(old) && !o->quiet)
            fprintf(stderr, "cardiotwin: site %s failed in an earlier run: running it again\n", sites[s].name);
        cJSON_Delete(old);
        todo[n_todo++] = s;
    }
    if (jobs <= 1 || n_todo <= 1) {
        for (int t = 0; t < n_todo; t++) {
            int s = todo[t];
            CT_CHECK(ct_study_site_result_path(dir, s, path, sizeof path));
            site_key(o, config_path, cfg, &sites[s], key, sizeof key);
            if (!o->quiet)
                fprintf(stderr, "cardiotwin: site %s (%d of %d)\n", sites[s].name, t + 1, n_todo);
            CT_CHECK(run_site(o, cfg, be, surface, &sites[s], key, path));
        }
        return CT_OK;
    }
    int threads = omp_get_num_procs() / jobs;
    site_pool_ctx x = {.o = o, .config_path = config_path, .cfg = cfg, .be = be, .surface = surface,
                       .sites = sites, .todo = todo, .n_todo = n_todo, .jobs = jobs,
                       .threads = threads < 1 ? 1 : threads, .dir = dir};
    ct_pool_options opt = {.jobs = jobs};
    ct_pool_ops ops = {.prepare = site_prepare, .child = site_child, .done = site_done};
    return ct_pool_run(n_todo, &opt, &ops, &x);
}

/* The baseline run: the configuration's own stimuli, into OUT/baseline; fills the report's "baseline". */
static ct_status run_baseline(const ct_study_options *o, const ct_config *cfg, const ct_backend_ops *be,
                              const ct_study_surface *surface, cJSON *report)
{
    char dir[4096];
    CT_CHECK(ct_path_join(dir, sizeof dir, o->out_dir, "baseline"));
    cJSON *b = cJSON_AddObjectToObject(report, "baseline");
    if (cfg->n_stimuli == 0) {
        cJSON_AddStringToObject(b, "status", "not computed: the configuration has no stimulus");
        return CT_OK;
    }
    if (!o->quiet)
        fprintf(stderr, "cardiotwin: baseline run of %s into %s\n", cfg->source, dir);
    ct_sim *sim;
    CT_CHECK(ct_sim_create(cfg, &sim));
    ct_run_options ro = {.out_dir = dir, .quiet = 1, .max_beats = cfg->max_beats > 0 ? (int)cfg->max_beats : 1,
                         .consume = sim}; /* run once; the surface below needs its mesh only */
    ct_run_result r;
    ct_status st = ct_sim_run(sim, be, &ro, &r);
    if (st == CT_OK)
        st = ct_study_write_surface(o->out_dir, sim, surface, &r);
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    if (st != CT_OK) {
        cJSON_AddStringToObject(b, "status", "failed");
        cJSON_AddStringToObject(b, "message", ct_error_message());
        return st;
    }
    CT_CHECK(ct_study_report_baseline(b, dir));
    return CT_OK;
}

/* ---- the study ------------------------------------------------------------------------------------- */

/* A string member of a report object, or `missing` where it is absent or not a string (a report's entries are
 * added by cJSON calls that leave a member out when memory runs short). */
static const char *report_str(const cJSON *obj, const char *key, const char *missing)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
    return v ? v : missing;
}

/* The error of a study whose report lists failed trials: each site, phase and reason (the report was written;
 * a rerun into the same folder runs those sites again). */

ct_status ct_study_failed_sites_error(const cJSON *report, const char *out_dir)
{
    const cJSON *failed = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(report, "summary"),
                                                           "failed_sites");
    if (!out_dir)
        out_dir = ".";
    char msg[3072];
    int n = cJSON_GetArraySize(failed);
    int k = snprintf(msg, sizeof msg, "%d site trial%s failed (rerun the same command to run them again; %s/report.json):",
                     n, n == 1 ? "" : "s", out_dir);
    for (const cJSON *f = failed ? failed->child : NULL; f && k > 0 && (size_t)k < sizeof msg; f = f->next)
        k += snprintf(msg + k, sizeof msg - (size_t)k, " [%s, %s: %s]", report_str(f, "name", "(unnamed site)"),
                      report_str(f, "phase", "(unknown phase)"), report_str(f, "message", "no message"));
    /* the first failure's own code (its name is stored with it), so that e.g. a bad site stays a CT_ERR_CONFIG */
    ct_status code = CT_ERR_INTERNAL;
    const char *e = report_str(cJSON_GetArrayItem(failed, 0), "error", NULL);
    for (int c = CT_ERR_IO; e && c <= CT_ERR_INTERRUPTED; c++)
        if (strcmp(ct_status_name((ct_status)c), e) == 0)
            code = (ct_status)c;
    return ct_error_set(code, "%s", msg);
}

static int is_patient_file(const char *path, ct_status *st)
{
    char *text;
    *st = ct_json_read_file(path, &text);
    if (*st != CT_OK)
        return 0;
    cJSON *root;
    *st = ct_json_parse(text, path, &root);
    free(text);
    if (*st != CT_OK)
        return 0;
    int patient = cJSON_HasObjectItem(root, "geometry");
    cJSON_Delete(root);
    return patient;
}

ct_status ct_study_run(const ct_study_options *o)
{
    CT_CHECK(ct_induce_protocol_check(&o->protocol));
    const ct_backend_ops *be;
    char why[512];
    /* probed in a child process: this one opens no device (CUDA) before it forks the site workers */
    CT_CHECK(ct_pool_backend_select(o->backend, &be, why, sizeof why));
    CT_CHECK(ct_mkdir_p(o->out_dir));
    if (!o->quiet)
        fprintf(stderr, "cardiotwin: %s\n", why);

    /* the model: a patient is personalised first */
    char config_path[4096], default_sites[4096];
    ct_status st;
    int patient = is_patient_file(o->input, &st);
    CT_CHECK(st);
    if (patient) {
        char model_dir[4096];
        CT_CHECK(ct_path_join(model_dir, sizeof model_dir, o->out_dir, "model"));
        CT_CHECK(ct_personalise(o->input, model_dir, o->quiet));
        CT_CHECK(ct_path_join(config_path, sizeof config_path, model_dir, "model.json"));
        CT_CHECK(ct_path_join(default_sites, sizeof default_sites, model_dir, "sites.json"));
    } else {
        snprintf(config_path, sizeof config_path, "%s", o->input);
        CT_CHECK(ct_path_relative_to(default_sites, sizeof default_sites, o->input, "sites.json"));
    }
    ct_config *cfg = calloc(1, sizeof *cfg), *ablated = calloc(1, sizeof *ablated);
    ct_induce_site *sites = calloc(CT_STUDY_MAX_SITES, sizeof *sites);
    cJSON *report = cJSON_CreateObject();
    ct_sim *sim = NULL;
    ct_study_surface surface = {0}; /* owned here: surface.json's nodes, the sites' VT maps' too */
    if (!cfg || !ablated || !sites) {
        st = ct_error_set(CT_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = ct_config_load(config_path, cfg)) != CT_OK)
        goto done;

    /* the sites */
    int n_all = 0, n_sites = 0;
    struct stat sb;
    const char *sites_file = o->sites_file ? o->sites_file
                             : (o->n_sites == 0 && stat(default_sites, &sb) == 0) ? default_sites
                                                                                 : NULL;
    if (sites_file && (st = load_sites(sites_file, sites, &n_all)) != CT_OK)
        goto done;
    for (int k = 0; k < o->n_sites && n_all < CT_STUDY_MAX_SITES; k++)
        sites[n_all++] = o->sites[k];
    for (int k = 0; k < n_all; k++)
        if (kept(o->only, sites[k].name))
            sites[n_sites++] = sites[k];
    if (n_sites == 0) {
        st = ct_error_set(CT_ERR_CONFIG,
                          "%s: no pacing site%s (give --site NAME:x,y,z, --sites FILE, or a patient file whose "
                          "personalised model has sites.json)",
                          o->input, o->only ? " left after --only" : "");
        goto done;
    }

    /* `plan --prescreen-top K`: only the pre-screen's top K are run in full */
    if (o->plan_rounds > 0 && o->prescreen_top > 0 &&
        (st = ct_plan_prescreen(cfg, &o->protocol, o->prescreen_top, o->out_dir, o->quiet, sites, &n_sites,
                                report)) != CT_OK)
        goto done;

    /* lesions: checked on the mesh before any long run */
    *ablated = *cfg;
    ablated->probes = NULL; /* borrowed view: freed with cfg */
    ablated->n_probes = 0;
    for (int l = 0; l < o->n_lesions; l++) {
        if (ablated->n_lesions >= CT_CONFIG_MAX_LESIONS) {
            st = ct_error_set(CT_ERR_CONFIG, "more than %d lesions", CT_CONFIG_MAX_LESIONS);
            goto done;
        }
        ablated->lesions[ablated->n_lesions++] = o->lesions[l];
    }
    if ((st = ct_sim_create(o->n_lesions ? ablated : cfg, &sim)) != CT_OK ||
        (st = ct_study_surface_make(sim->mesh, &surface)) != CT_OK)
        goto done;

    cJSON_AddStringToObject(report, "format", "cardiotwin-report-1");
    cJSON_AddStringToObject(report, "title",
                            o->plan_rounds > 0 ? "Virtual ablation plan: circuits, proposed lesions, re-test"
                            : o->n_lesions     ? "Re-entry inducibility and ablation plan"
                                               : "Re-entry inducibility");
    ct_study_report_patient(report, o->input, cfg, sim, ablated->lesions, ablated->n_lesions);
    ct_study_report_protocol(report, &o->protocol, cfg, be->name);
    ct_study_report_notes(report, cfg, &o->protocol);

    int jobs = o->jobs > 0 ? o->jobs : omp_get_num_procs() / 2;
    if (jobs < 1)
        jobs = 1;
    if (jobs > 8)
        jobs = 8;
    if (strcmp(be->name, "cpu") != 0 && o->jobs <= 0)
        jobs = 1; /* one device: one site at a time unless asked */

    /* The baseline runs in this process. Where site workers will be forked (fork without exec) it runs after
     * them: a device context made here before a fork (CUDA's) does not survive into the workers. */
    int baseline_after = jobs > 1 && n_sites > 1;
    if (o->baseline && !baseline_after && (st = run_baseline(o, cfg, be, &surface, report)) != CT_OK)
        goto done;
    if (!o->baseline)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(report, "baseline"), "status", "not computed (--no-baseline)");

    char dir_before[4096], dir_after[4096];
    if ((st = ct_path_join(dir_before, sizeof dir_before, o->out_dir, "induction")) != CT_OK ||
        (st = ct_path_join(dir_after, sizeof dir_after, o->out_dir, "ablated")) != CT_OK)
        goto done;
    if (!o->quiet)
        fprintf(stderr, "cardiotwin: programmed stimulation from %d site%s, %d at once\n", n_sites,
                n_sites == 1 ? "" : "s", jobs);
    if ((st = ct_study_run_sites(o, config_path, cfg, be, &surface, sites, n_sites, dir_before, jobs)) != CT_OK)
        goto done;
    cJSON *before = ct_study_collect_sites(dir_before, sites, n_sites);
    cJSON_AddItemToObject(report, "sites", before);
    int n_before = ct_study_count_inducible(before), n_after = 0, n_applied = o->n_lesions;

    if (o->plan_rounds > 0) { /* `plan`: lesions proposed from the circuits, rounds of re-tests (ct_plan.h) */
        if ((st = ct_plan_run(o, config_path, cfg, ablated, be, &surface, sites, n_sites, jobs, before, report,
                              &n_applied, &n_after)) != CT_OK)
            goto done;
    } else if (o->n_lesions == 0) {
        cJSON_AddNullToObject(report, "ablation");
    } else {
        if (!o->quiet)
            fprintf(stderr, "cardiotwin: the same with %d lesion%s\n", o->n_lesions, o->n_lesions == 1 ? "" : "s");
        if ((st = ct_study_run_sites(o, config_path, ablated, be, &surface, sites, n_sites, dir_after, jobs)) != CT_OK)
            goto done;
        cJSON *after = ct_study_collect_sites(dir_after, sites, n_sites);
        ct_study_report_ablation(report, o, cfg, sim, sites, n_sites, before, after);
        n_after = ct_study_count_inducible(after);
        cJSON_Delete(after);
    }
    if (o->baseline && baseline_after && (st = run_baseline(o, cfg, be, &surface, report)) != CT_OK)
        goto done;
    int n_failed = ct_study_report_summary(report, sim, sites, n_sites, n_applied, n_before, n_after);
    st = ct_study_report_write(o->out_dir, report);
    if (st == CT_OK && n_failed > 0)
        st = ct_study_failed_sites_error(report, o->out_dir);
done:
    cJSON_Delete(report);
    ct_study_surface_free(&surface);
    ct_sim_destroy(sim);
    if (cfg)
        ct_config_free(cfg);
    free(cfg);
    free(ablated);
    free(sites);
    return st;
}
