/* ct_study.c — induction from many sites, before and after ablation, and the risk report (ct_study.h). */
#define _POSIX_C_SOURCE 200809L
#include "ct_study.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct_files.h"
#include "ct_json.h"
#include "ct_sim.h"
#include "metrics/ct_phase.h"
#include "personalise/ct_patient.h"

#ifndef CT_TOOLS_DIR
#define CT_TOOLS_DIR "tools"
#endif
#ifndef CT_PYTHON
#define CT_PYTHON "python3"
#endif

void ct_study_options_defaults(ct_study_options *o)
{
    memset(o, 0, sizeof *o);
    o->backend = "auto";
    ct_induce_protocol_defaults(&o->protocol);
    o->baseline = 1;
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

/* ---- the tools/ct_report.py helper ---------------------------------------------------------------- */

static void tools_script(char *out, size_t len)
{
    const char *env = getenv("CARDIOTWIN_TOOLS_DIR");
    snprintf(out, len, "%s/ct_report.py", env && env[0] ? env : CT_TOOLS_DIR);
}

/* Runs python3 tools/ct_report.py with the given arguments; its messages go to stderr. */
static ct_status run_report_tool(const char *const *args, int n_args)
{
    char script[4096];
    tools_script(script, sizeof script);
    struct stat sb;
    if (stat(script, &sb) != 0)
        return ct_error_set(CT_ERR_IO, "the report tool %s is missing (set CARDIOTWIN_TOOLS_DIR)", script);
    const char *python = getenv("CARDIOTWIN_PYTHON");
    if (!python || !python[0])
        python = CT_PYTHON[0] ? CT_PYTHON : "python3";
    const char *argv[16];
    int k = 0;
    argv[k++] = python;
    argv[k++] = script;
    for (int i = 0; i < n_args && k < 15; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return ct_error_set(CT_ERR_IO, "cannot start %s: %s", python, strerror(errno));
    if (pid == 0) {
        execvp(python, (char *const *)argv);
        fprintf(stderr, "cardiotwin: cannot run %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return ct_error_set(CT_ERR_IO, "waiting for %s: %s", python, strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return ct_error_set(CT_ERR_IO, "%s %s %s failed (exit %d; python3 with numpy and matplotlib is needed: "
                            "tools/setup.sh installs them)",
                            python, script, args[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return CT_OK;
}

ct_status ct_study_plot_ecg(const char *csv_path, const char *png_path)
{
    const char *args[] = {"ecg", csv_path, png_path};
    return run_report_tool(args, 3);
}

/* ---- JSON helpers ---------------------------------------------------------------------------------- */

static ct_status write_json_file(const char *path, const cJSON *obj)
{
    char *text = cJSON_Print(obj);
    if (!text)
        return ct_error_set(CT_ERR_NOMEM, "out of memory writing %s", path);
    ct_status st = ct_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

static ct_status write_json(const char *dir, const char *name, const cJSON *obj)
{
    char path[4096];
    CT_CHECK(ct_path_join(path, sizeof path, dir, name));
    return write_json_file(path, obj);
}

static cJSON *read_json(const char *path)
{
    char *text = NULL;
    size_t len;
    if (ct_read_file(path, &text, &len) != CT_OK)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static cJSON *number_or_null(double v, int valid)
{
    return valid && isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
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
                     "sample %g|phase %g %g|lesions",
                     config_path, s->name, s->position_mm[0], s->position_mm[1], s->position_mm[2], p->s1_count,
                     p->s1_bcl_ms, p->extra_stimuli, p->ci_start_ms, p->ci_min_ms, p->ci_step_ms, p->observe_ms,
                     p->capture_window_ms, p->stim_radius_mm, p->stim_amplitude_uA_per_uF, p->stim_duration_ms,
                     p->dt_ms > 0 ? p->dt_ms : cfg->dt_ms, p->sample_ms, p->phase_delay_ms, p->phase_v_star_mV);
    for (int l = 0; l < cfg->n_lesions && k > 0 && (size_t)k < len; l++) {
        const ct_lesion *le = &cfg->lesions[l];
        k += snprintf(key + k, len - (size_t)k, " %d:%g,%g,%g,%g,%g,%g,%g", le->shape, le->a_mm[0], le->a_mm[1],
                      le->a_mm[2], le->b_mm[0], le->b_mm[1], le->b_mm[2], le->radius_mm);
    }
}

static cJSON *site_json(const ct_induce_site *s, const char *key, ct_status st, const ct_induce_result *r,
                        int extra_stimuli)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddItemToObject(o, "position_mm", cJSON_CreateDoubleArray(s->position_mm, 3));
    cJSON_AddStringToObject(o, "status", st == CT_OK ? "ok" : "failed");
    if (st != CT_OK) {
        cJSON_AddStringToObject(o, "message", ct_error_message());
        cJSON_AddNullToObject(o, "inducible");
        return o;
    }
    cJSON_AddBoolToObject(o, "inducible", r->inducible);
    if (r->inducible) {
        char by[8];
        snprintf(by, sizeof by, "S%d", r->induced_by);
        cJSON_AddStringToObject(o, "induced_by", by);
    } else {
        cJSON_AddNullToObject(o, "induced_by");
    }
    cJSON_AddItemToObject(o, "coupling_ms", cJSON_CreateDoubleArray(r->coupling_ms, r->n_extra));
    cJSON *erp = cJSON_AddObjectToObject(o, "erp_ms");
    for (int k = 0; k < CT_INDUCE_MAX_EXTRA; k++) {
        char name[8];
        snprintf(name, sizeof name, "S%d", k + 2);
        if (k < extra_stimuli && (k < r->n_extra || (k == r->n_extra && !r->inducible))) /* the ones tried */
            cJSON_AddItemToObject(erp, name, number_or_null(r->erp_ms[k], r->erp_ms[k] > 0));
    }
    cJSON_AddItemToObject(o, "cycle_length_ms", number_or_null(r->cycle_length_ms, r->cycle_length_ms > 0));
    cJSON *ps = cJSON_AddArrayToObject(o, "phase_singularities");
    for (int k = 0; k < r->n_ps; k++) {
        cJSON *q = cJSON_CreateObject();
        cJSON_AddItemToObject(q, "position_mm", cJSON_CreateDoubleArray(r->ps[k].position_mm, 3));
        cJSON_AddNumberToObject(q, "charge", r->ps[k].charge);
        cJSON_AddNumberToObject(q, "triangles", r->ps[k].n_triangles);
        cJSON_AddItemToArray(ps, q);
    }
    cJSON_AddNumberToObject(o, "trials", r->trials);
    cJSON_AddNumberToObject(o, "simulated_ms", r->simulated_ms);
    cJSON_AddNumberToObject(o, "wall_s", r->wall_s);
    return o;
}

/* Runs one site and stores its result file (whatever the outcome). */
static ct_status run_site(const ct_study_options *o, const ct_config *cfg, const ct_backend_ops *be,
                          const ct_induce_site *s, const char *key, const char *path)
{
    ct_induce_result r;
    ct_status st = ct_induce_site_run(cfg, s, &o->protocol, be, o->quiet, &r);
    if (st != CT_OK && !o->quiet)
        fprintf(stderr, "cardiotwin: site %s failed: %s\n", s->name, ct_error_message());
    cJSON *j = site_json(s, key, st, &r, o->protocol.extra_stimuli);
    ct_status wst = write_json_file(path, j);
    cJSON_Delete(j);
    return wst;
}

static int result_is_current(const char *path, const char *key)
{
    cJSON *j = read_json(path);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
    int ok = cJSON_IsString(k) && strcmp(k->valuestring, key) == 0;
    cJSON_Delete(j);
    return ok;
}

/* DIR/site-NN.json: where site s (0-based) of a phase stores its result. */
static ct_status site_result_path(const char *dir, int s, char *path, size_t len)
{
    char name[32];
    snprintf(name, sizeof name, "site-%02d.json", s + 1);
    return ct_path_join(path, len, dir, name);
}

/* Runs every site not yet done into dir, up to `jobs` at once (child processes when jobs > 1). */
static ct_status run_sites(const ct_study_options *o, const char *config_path, const ct_config *cfg,
                           const ct_backend_ops *be, const ct_induce_site *sites, int n_sites, const char *dir,
                           int jobs)
{
    CT_CHECK(ct_mkdir_p(dir));
    int running = 0, todo[CT_STUDY_MAX_SITES], n_todo = 0;
    pid_t pid_of[CT_STUDY_MAX_SITES];
    char key[2048], path[4096];
    for (int s = 0; s < n_sites; s++) {
        CT_CHECK(site_result_path(dir, s, path, sizeof path));
        site_key(o, config_path, cfg, &sites[s], key, sizeof key);
        if (result_is_current(path, key)) {
            if (!o->quiet)
                fprintf(stderr, "cardiotwin: site %s: already done (%s)\n", sites[s].name, path);
            continue;
        }
        todo[n_todo++] = s;
    }
    if (jobs <= 1 || n_todo <= 1) {
        for (int t = 0; t < n_todo; t++) {
            int s = todo[t];
            CT_CHECK(site_result_path(dir, s, path, sizeof path));
            site_key(o, config_path, cfg, &sites[s], key, sizeof key);
            if (!o->quiet)
                fprintf(stderr, "cardiotwin: site %s (%d of %d)\n", sites[s].name, t + 1, n_todo);
            CT_CHECK(run_site(o, cfg, be, &sites[s], key, path));
        }
        return CT_OK;
    }
    int threads = omp_get_num_procs() / jobs;
    if (threads < 1)
        threads = 1;
    ct_status st = CT_OK;
    int next = 0;
    while (next < n_todo || running > 0) {
        while (st == CT_OK && next < n_todo && running < jobs) {
            int s = todo[next++];
            CT_CHECK(site_result_path(dir, s, path, sizeof path));
            site_key(o, config_path, cfg, &sites[s], key, sizeof key);
            if (!o->quiet)
                fprintf(stderr, "cardiotwin: site %s started (%d of %d, %d at once)\n", sites[s].name, next,
                        n_todo, jobs);
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                st = ct_error_set(CT_ERR_IO, "cannot start a process for site %s: %s", sites[s].name,
                                  strerror(errno));
                break;
            }
            if (pid == 0) {
                omp_set_num_threads(threads);
                _exit(run_site(o, cfg, be, &sites[s], key, path) == CT_OK ? 0 : 1);
            }
            pid_of[s] = pid;
            running++;
        }
        if (running == 0)
            break;
        int status;
        pid_t done = wait(&status);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return ct_error_set(CT_ERR_IO, "waiting for site processes: %s", strerror(errno));
        }
        running--;
        for (int t = 0; t < n_todo; t++) {
            int s = todo[t];
            if (pid_of[s] != done)
                continue;
            pid_of[s] = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* the child could not even store its failure: record it here */
                if (site_result_path(dir, s, path, sizeof path) == CT_OK && !result_is_current(path, "")) {
                    ct_error_set(CT_ERR_INTERNAL, "the process of site %s ended abnormally (%s %d)", sites[s].name,
                                 WIFSIGNALED(status) ? "signal" : "exit",
                                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                    cJSON *j = site_json(&sites[s], "", CT_ERR_INTERNAL, NULL, 0);
                    write_json_file(path, j);
                    cJSON_Delete(j);
                }
            }
        }
    }
    return st;
}

/* ---- report ---------------------------------------------------------------------------------------- */

/* Collects the site result files of a phase into an array (owned by the caller). */
static cJSON *collect_sites(const char *dir, int n_sites)
{
    cJSON *arr = cJSON_CreateArray();
    for (int s = 0; s < n_sites; s++) {
        char path[4096];
        cJSON *j = NULL;
        if (site_result_path(dir, s, path, sizeof path) == CT_OK)
            j = read_json(path);
        if (!j) {
            j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "status", "failed");
            cJSON_AddStringToObject(j, "message", "no result was stored");
        }
        cJSON_DeleteItemFromObject(j, "key");
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

static int site_inducible(const cJSON *site)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(site, "inducible"));
}

/* surface.json: the boundary of the mesh with the baseline's activation and APD90 (first beat). */
static ct_status write_surface(const char *out_dir, const ct_sim *sim, const ct_run_result *r)
{
    const ct_mesh *m = sim->mesh;
    int32_t *tris = NULL;
    size_t n_tris = 0;
    CT_CHECK(ct_mesh_boundary_tris(m, &tris, &n_tris));
    int32_t *map = malloc(m->n_nodes * sizeof *map + 1);
    if (!map) {
        free(tris);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        map[i] = -1;
    cJSON *root = cJSON_CreateObject();
    cJSON *xyz = cJSON_AddArrayToObject(root, "xyz_mm");
    cJSON *jt = cJSON_AddArrayToObject(root, "tris");
    cJSON *fields = cJSON_AddObjectToObject(root, "fields");
    cJSON *act = cJSON_AddArrayToObject(fields, "activation_ms");
    cJSON *apd = cJSON_AddArrayToObject(fields, "apd90_ms");
    int32_t used = 0;
    for (size_t t = 0; t < 3 * n_tris; t++) {
        int32_t i = tris[t];
        if (map[i] < 0) {
            map[i] = used++;
            for (int k = 0; k < 3; k++)
                cJSON_AddItemToArray(xyz, cJSON_CreateNumber(m->xyz_mm[3 * (size_t)i + k]));
            cJSON_AddItemToArray(act, number_or_null(r->activation_ms[i], r->activation_ms[i] >= 0));
            double a = -1, rep = -1;
            if (r->max_beats > 0) {
                a = r->beat_activation_ms[i];
                rep = r->beat_repolarisation_ms[i];
            }
            cJSON_AddItemToArray(apd, number_or_null(rep - a, a >= 0 && rep >= 0));
        }
        cJSON_AddItemToArray(jt, cJSON_CreateNumber(map[i]));
    }
    free(map);
    free(tris);
    ct_status st = write_json(out_dir, "surface.json", root);
    cJSON_Delete(root);
    return st;
}

/* The baseline run: the configuration's own stimuli, into OUT/baseline; fills the report's "baseline". */
static ct_status run_baseline(const ct_study_options *o, const ct_config *cfg, const ct_backend_ops *be,
                              cJSON *report)
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
    ct_run_options ro = {.out_dir = dir, .quiet = 1, .max_beats = cfg->max_beats > 0 ? (int)cfg->max_beats : 1};
    ct_run_result r;
    ct_status st = ct_sim_run(sim, be, &ro, &r);
    if (st == CT_OK)
        st = write_surface(o->out_dir, sim, &r);
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    if (st != CT_OK) {
        cJSON_AddStringToObject(b, "status", "failed");
        cJSON_AddStringToObject(b, "message", ct_error_message());
        return st;
    }
    /* the report's baseline numbers, from the run's metrics.json */
    char path[4096];
    CT_CHECK(ct_path_join(path, sizeof path, dir, "metrics.json"));
    cJSON *m = read_json(path);
    cJSON_AddStringToObject(b, "status", "ok");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(m, "activation");
    const cJSON *beat = cJSON_GetObjectItemCaseSensitive(m, "beat1");
    const cJSON *ecg = cJSON_GetObjectItemCaseSensitive(m, "ecg");
    static const char *const from_act[] = {"total_activation_time_ms", NULL};
    static const char *const from_beat[] = {"apd90_mean_ms", "apd90_sd_ms", "apd90_min_ms", "apd90_max_ms",
                                            "repolarisation_dispersion_ms", NULL};
    for (int k = 0; from_act[k]; k++)
        cJSON_AddItemToObject(b, from_act[k], cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(act, from_act[k]), 1));
    for (int k = 0; from_beat[k]; k++)
        cJSON_AddItemToObject(b, from_beat[k],
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(beat, from_beat[k]), 1));
    cJSON_AddItemToObject(b, "max_rt_gradient_ms_per_mm",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(beat, "max_repolarisation_gradient_ms_per_mm"), 1));
    cJSON_AddItemToObject(
        b, "volume_above_10_ms_per_mm_mm3",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(beat, "volume_repolarisation_gradient_above_10_ms_per_mm_mm3"), 1));
    cJSON_AddItemToObject(b, "qrs_ms", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ecg, "qrs_ms"), 1));
    cJSON_AddItemToObject(b, "qt_ms", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ecg, "qt_ms"), 1));
    if (ecg)
        cJSON_AddStringToObject(b, "ecg_csv", "baseline/ecg.csv");
    /* cJSON_Duplicate(NULL) gives NULL, which AddItemToObject refuses: absent stays absent */
    cJSON_Delete(m);
    return CT_OK;
}

static void add_patient(cJSON *report, const char *input, const ct_config *cfg, const ct_sim *sim)
{
    cJSON *p = cJSON_AddObjectToObject(report, "patient");
    cJSON_AddStringToObject(p, "source", input);
    char *text = NULL;
    size_t len;
    if (ct_read_file(input, &text, &len) == CT_OK) {
        cJSON *j = cJSON_Parse(text);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "description");
        cJSON_AddStringToObject(p, "description", cJSON_IsString(d) ? d->valuestring : "");
        cJSON_Delete(j);
        free(text);
    }
    const ct_mesh *m = sim->mesh;
    cJSON_AddNumberToObject(p, "n_nodes", (double)m->n_nodes);
    cJSON_AddNumberToObject(p, "n_tets", (double)m->n_tets);
    double vol[3] = {0, 0, 0};
    for (size_t e = 0; e < m->n_tets; e++) {
        int t = m->tissue ? m->tissue[e] : 0;
        vol[t >= 0 && t < 3 ? t : 0] += ct_mesh_tet_volume(m, e);
    }
    cJSON_AddNumberToObject(p, "volume_mm3", vol[0] + vol[1] + vol[2]);
    cJSON_AddNumberToObject(p, "healthy_volume_mm3", vol[0]);
    cJSON_AddNumberToObject(p, "border_zone_volume_mm3", vol[1]);
    cJSON_AddNumberToObject(p, "scar_volume_mm3", vol[2]);
    cJSON_AddStringToObject(p, "model", cfg->model_name);
}

static void add_protocol(cJSON *report, const ct_induce_protocol *p, const ct_config *cfg, const char *backend)
{
    cJSON *j = cJSON_AddObjectToObject(report, "protocol");
    cJSON_AddNumberToObject(j, "s1_count", p->s1_count);
    cJSON_AddNumberToObject(j, "s1_bcl_ms", p->s1_bcl_ms);
    cJSON_AddNumberToObject(j, "extra_stimuli", p->extra_stimuli);
    cJSON_AddNumberToObject(j, "ci_start_ms", p->ci_start_ms);
    cJSON_AddNumberToObject(j, "ci_step_ms", p->ci_step_ms);
    cJSON_AddNumberToObject(j, "ci_min_ms", p->ci_min_ms);
    cJSON_AddNumberToObject(j, "observe_ms", p->observe_ms);
    cJSON_AddNumberToObject(j, "stim_radius_mm", p->stim_radius_mm);
    cJSON_AddNumberToObject(j, "stim_amplitude_uA_per_uF", p->stim_amplitude_uA_per_uF);
    cJSON_AddNumberToObject(j, "stim_duration_ms", p->stim_duration_ms);
    cJSON_AddStringToObject(j, "model", cfg->model_name);
    cJSON_AddStringToObject(j, "backend", backend);
    cJSON_AddNumberToObject(j, "dt_ms", p->dt_ms > 0 ? p->dt_ms : cfg->dt_ms);
}

/* ---- the study ------------------------------------------------------------------------------------- */

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
    CT_CHECK(ct_backend_select(o->backend, &be, why, sizeof why));
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
    if ((st = ct_sim_create(o->n_lesions ? ablated : cfg, &sim)) != CT_OK)
        goto done;

    cJSON_AddStringToObject(report, "format", "cardiotwin-report-1");
    cJSON_AddStringToObject(report, "title",
                            o->n_lesions ? "Re-entry inducibility and ablation plan" : "Re-entry inducibility");
    add_patient(report, o->input, cfg, sim);
    add_protocol(report, &o->protocol, cfg, be->name);
    cJSON *notes = cJSON_AddArrayToObject(report, "notes");
    cJSON_AddItemToArray(notes, cJSON_CreateString(
                                    "Monodomain model; the pseudo-ECG assumes an infinite homogeneous medium (no torso)."));
    {
        char note[256];
        snprintf(note, sizeof note,
                 "Re-entry is declared when tissue is still excited (Vm above %g mV) %g ms after the last stimulus; "
                 "the effective refractory period is the longest coupling interval that failed to capture.",
                 cfg->activation_threshold_mV, o->protocol.observe_ms);
        cJSON_AddItemToArray(notes, cJSON_CreateString(note));
    }

    int jobs = o->jobs > 0 ? o->jobs : omp_get_num_procs() / 2;
    if (jobs < 1)
        jobs = 1;
    if (jobs > 8)
        jobs = 8;
    if (strcmp(be->name, "cpu") != 0 && o->jobs <= 0)
        jobs = 1; /* one device: one site at a time unless asked */

    if (o->baseline && (st = run_baseline(o, cfg, be, report)) != CT_OK)
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
    if ((st = run_sites(o, config_path, cfg, be, sites, n_sites, dir_before, jobs)) != CT_OK)
        goto done;
    cJSON *before = collect_sites(dir_before, n_sites);
    cJSON_AddItemToObject(report, "sites", before);
    int n_before = 0, n_after = 0;
    for (int s = 0; s < n_sites; s++)
        n_before += site_inducible(cJSON_GetArrayItem(before, s));

    if (o->n_lesions == 0) {
        cJSON_AddNullToObject(report, "ablation");
    } else {
        if (!o->quiet)
            fprintf(stderr, "cardiotwin: the same with %d lesion%s\n", o->n_lesions, o->n_lesions == 1 ? "" : "s");
        if ((st = run_sites(o, config_path, ablated, be, sites, n_sites, dir_after, jobs)) != CT_OK)
            goto done;
        cJSON *after = collect_sites(dir_after, n_sites);
        cJSON *abl = cJSON_AddObjectToObject(report, "ablation");
        cJSON *jl = cJSON_AddArrayToObject(abl, "lesions");
        for (int l = 0; l < o->n_lesions; l++) {
            const ct_lesion *le = &o->lesions[l];
            const ct_lesion_effect *ef = &sim->lesion_effect[cfg->n_lesions + l];
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "name", le->name);
            cJSON_AddStringToObject(j, "shape", ct_lesion_shape_name(le->shape));
            if (le->shape == CT_LESION_SPHERE) {
                cJSON_AddItemToObject(j, "center_mm", cJSON_CreateDoubleArray(le->a_mm, 3));
            } else if (le->shape == CT_LESION_LINE) {
                cJSON_AddItemToObject(j, "from_mm", cJSON_CreateDoubleArray(le->a_mm, 3));
                cJSON_AddItemToObject(j, "to_mm", cJSON_CreateDoubleArray(le->b_mm, 3));
            } else {
                cJSON_AddItemToObject(j, "box_min_mm", cJSON_CreateDoubleArray(le->a_mm, 3));
                cJSON_AddItemToObject(j, "box_max_mm", cJSON_CreateDoubleArray(le->b_mm, 3));
            }
            if (le->shape != CT_LESION_BOX)
                cJSON_AddNumberToObject(j, "radius_mm", le->radius_mm);
            cJSON_AddNumberToObject(j, "elements", (double)ef->n_elements);
            cJSON_AddNumberToObject(j, "volume_mm3", ef->volume_mm3);
            if (ef->transmural < 0)
                cJSON_AddNullToObject(j, "transmural");
            else
                cJSON_AddBoolToObject(j, "transmural", ef->transmural);
            cJSON_AddItemToArray(jl, j);
        }
        cJSON *js = cJSON_AddArrayToObject(abl, "sites");
        for (int s = 0; s < n_sites; s++) {
            const cJSON *a = cJSON_GetArrayItem(after, s), *b = cJSON_GetArrayItem(before, s);
            n_after += site_inducible(a);
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "name", sites[s].name);
            cJSON_AddItemToObject(j, "inducible_before",
                                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "inducible"), 1));
            cJSON_AddItemToObject(j, "inducible_after",
                                  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(a, "inducible"), 1));
            cJSON_AddItemToObject(j, "result_after", cJSON_Duplicate(a, 1));
            cJSON_AddItemToArray(js, j);
        }
        cJSON_Delete(after);
    }
    {
        cJSON *sum = cJSON_AddObjectToObject(report, "summary");
        cJSON_AddNumberToObject(sum, "sites", n_sites);
        cJSON_AddNumberToObject(sum, "inducible_sites", n_before);
        if (o->n_lesions)
            cJSON_AddNumberToObject(sum, "inducible_sites_after_ablation", n_after);
        {
            printf("re-entry inducible from %d of %d site%s", n_before, n_sites, n_sites == 1 ? "" : "s");
            if (o->n_lesions)
                printf(" before ablation, %d after", n_after);
            printf("\n");
            for (int s = 0; s < n_sites; s++) {
                const cJSON *b = cJSON_GetArrayItem(before, s);
                const cJSON *stt = cJSON_GetObjectItemCaseSensitive(b, "status");
                printf("  %-20s %s", sites[s].name,
                       cJSON_IsString(stt) && strcmp(stt->valuestring, "ok") != 0 ? "FAILED"
                       : site_inducible(b)                                         ? "inducible"
                                                                                    : "not inducible");
                if (o->n_lesions) {
                    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
                                                            cJSON_GetObjectItemCaseSensitive(report, "ablation"), "sites"),
                                                        s);
                    printf(" -> %s", site_inducible(cJSON_GetObjectItemCaseSensitive(a, "result_after"))
                                         ? "inducible after ablation"
                                         : "not inducible after ablation");
                }
                printf("\n");
            }
        }
    }
    if ((st = write_json(o->out_dir, "report.json", report)) != CT_OK)
        goto done;
    {
        const char *args[] = {"report", o->out_dir};
        st = run_report_tool(args, 2);
        if (st == CT_OK)
            printf("report: %s/report.html\n", o->out_dir);
    }
done:
    cJSON_Delete(report);
    ct_sim_destroy(sim);
    if (cfg)
        ct_config_free(cfg);
    free(cfg);
    free(ablated);
    free(sites);
    return st;
}
