/* ct_study_report.c — the data of a study's risk report (ct_study_report.h): the site result files, the
 * surface maps, report.json's sections and the summary printed at the end, and tools/ct_report.py, which
 * draws report.html from them. What runs the simulations is in ct_study.c. */
#define _POSIX_C_SOURCE 200809L
#include "ct_study_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ct_files.h"
#include "metrics/ct_phase.h"

#ifndef CT_TOOLS_DIR
#define CT_TOOLS_DIR "tools"
#endif
#ifndef CT_PYTHON
#define CT_PYTHON "python3"
#endif

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

ct_status ct_study_write_json_file(const char *path, const cJSON *obj)
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
    return ct_study_write_json_file(path, obj);
}

cJSON *ct_study_read_json(const char *path)
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

/* ---- one site's result file ------------------------------------------------------------------------ */

/* DIR/site-NN.json: where site s (0-based) of a phase stores its result. */
ct_status ct_study_site_result_path(const char *dir, int s, char *path, size_t len)
{
    char name[32];
    snprintf(name, sizeof name, "site-%02d.json", s + 1);
    return ct_path_join(path, len, dir, name);
}

cJSON *ct_study_site_json(const ct_induce_site *s, const char *key, ct_status st, const ct_induce_result *r,
                          int extra_stimuli)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddItemToObject(o, "position_mm", cJSON_CreateDoubleArray(s->position_mm, 3));
    cJSON_AddStringToObject(o, "status", st == CT_OK ? "ok" : "failed");
    if (st != CT_OK) {
        cJSON_AddStringToObject(o, "error", ct_status_name(st));
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
    /* where capture first failed on the coupling-interval grid and the last interval that captured: the ERP
     * (bisected between them when erp_refined) lies in [first failing, last capturing) */
    cJSON *bracket = cJSON_AddObjectToObject(o, "erp_bracket_ms");
    for (int k = 0; k < CT_INDUCE_MAX_EXTRA; k++) {
        char name[8];
        snprintf(name, sizeof name, "S%d", k + 2);
        if (k < extra_stimuli && (k < r->n_extra || (k == r->n_extra && !r->inducible))) { /* the ones tried */
            cJSON_AddItemToObject(erp, name, number_or_null(r->erp_ms[k], r->erp_ms[k] > 0));
            cJSON *b = cJSON_CreateArray();
            cJSON_AddItemToArray(b, number_or_null(r->erp_fail_ms[k], r->erp_fail_ms[k] > 0));
            cJSON_AddItemToArray(b, number_or_null(r->erp_capture_ms[k], r->erp_capture_ms[k] > 0));
            cJSON_AddItemToObject(bracket, name, b);
        }
    }
    cJSON_AddBoolToObject(o, "erp_refined", r->erp_refined);
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

/* ---- report.json's sections ----------------------------------------------------------------------- */

/* Collects the site result files of a phase into an array (owned by the caller). */
cJSON *ct_study_collect_sites(const char *dir, const ct_induce_site *sites, int n_sites)
{
    cJSON *arr = cJSON_CreateArray();
    for (int s = 0; s < n_sites; s++) {
        char path[4096];
        cJSON *j = NULL;
        if (ct_study_site_result_path(dir, s, path, sizeof path) == CT_OK)
            j = ct_study_read_json(path);
        if (!j) {
            j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "name", sites[s].name);
            cJSON_AddItemToObject(j, "position_mm", cJSON_CreateDoubleArray(sites[s].position_mm, 3));
            cJSON_AddStringToObject(j, "status", "failed");
            cJSON_AddStringToObject(j, "error", ct_status_name(CT_ERR_IO));
            cJSON_AddStringToObject(j, "message", "no result was stored (its process was stopped or killed?)");
        }
        cJSON_DeleteItemFromObject(j, "key");
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

int ct_study_site_inducible(const cJSON *site)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(site, "inducible"));
}

int ct_study_site_failed(const cJSON *site)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(site, "status");
    return !cJSON_IsString(st) || strcmp(st->valuestring, "ok") != 0;
}

/* The site's failure message, or "" (never NULL). */
static const char *site_message(const cJSON *site)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(site, "message");
    return cJSON_IsString(m) ? m->valuestring : "no message";
}

/* ---- the surface ------------------------------------------------------------------------------------ */

ct_status ct_study_surface_make(const ct_mesh *m, ct_study_surface *out)
{
    memset(out, 0, sizeof *out);
    int32_t *tris = NULL; /* owned here until kept in out (ct_mesh_boundary_tris) */
    size_t n_tris = 0;
    CT_CHECK(ct_mesh_boundary_tris(m, &tris, &n_tris));
    int32_t *map = malloc(m->n_nodes * sizeof *map + 1);  /* owned here: mesh node -> surface node, -1 */
    int32_t *node = malloc(m->n_nodes * sizeof *node + 1); /* owned here until kept in out */
    if (!map || !node) {
        free(map);
        free(node);
        free(tris);
        return ct_error_set(CT_ERR_NOMEM, "surface: out of memory (%zu nodes)", m->n_nodes);
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        map[i] = -1;
    int32_t used = 0;
    for (size_t t = 0; t < 3 * n_tris; t++) { /* renumbered in place: mesh node -> surface node */
        int32_t i = tris[t];
        if (map[i] < 0) {
            map[i] = used;
            node[used++] = i;
        }
        tris[t] = map[i];
    }
    free(map);
    *out = (ct_study_surface){
        .n_mesh_nodes = m->n_nodes, .n_nodes = (size_t)used, .node = node, .n_tris = n_tris, .tris = tris};
    return CT_OK;
}

void ct_study_surface_free(ct_study_surface *s)
{
    if (!s)
        return;
    free(s->node);
    free(s->tris);
    memset(s, 0, sizeof *s);
}

/* surface.json: the boundary of the mesh with the baseline's activation and APD90 (first beat). */
ct_status ct_study_write_surface(const char *out_dir, const ct_sim *sim, const ct_study_surface *surf,
                                 const ct_run_result *r)
{
    const ct_mesh *m = sim->mesh;
    if (surf->n_mesh_nodes != m->n_nodes)
        return ct_error_set(CT_ERR_INTERNAL, "surface.json: the surface was made from a mesh of %zu nodes, the "
                                             "baseline's has %zu", surf->n_mesh_nodes, m->n_nodes);
    cJSON *root = cJSON_CreateObject();
    /* a heart (AHA segments: the views say anterior/posterior, base up) or not (a slab: a plan view) */
    cJSON_AddBoolToObject(root, "aha_segments", sim->aha_segment != NULL);
    cJSON *xyz = cJSON_AddArrayToObject(root, "xyz_mm");
    cJSON *jt = cJSON_AddArrayToObject(root, "tris");
    cJSON *fields = cJSON_AddObjectToObject(root, "fields");
    cJSON *act = cJSON_AddArrayToObject(fields, "activation_ms");
    cJSON *apd = cJSON_AddArrayToObject(fields, "apd90_ms");
    for (size_t j = 0; j < surf->n_nodes; j++) {
        size_t i = (size_t)surf->node[j];
        for (int k = 0; k < 3; k++)
            cJSON_AddItemToArray(xyz, cJSON_CreateNumber(m->xyz_mm[3 * i + k]));
        cJSON_AddItemToArray(act, number_or_null(r->activation_ms[i], r->activation_ms[i] >= 0));
        double a = -1, rep = -1;
        if (r->max_beats > 0) {
            a = r->beat_activation_ms[i];
            rep = r->beat_repolarisation_ms[i];
        }
        cJSON_AddItemToArray(apd, number_or_null(rep - a, a >= 0 && rep >= 0));
    }
    for (size_t t = 0; t < 3 * surf->n_tris; t++)
        cJSON_AddItemToArray(jt, cJSON_CreateNumber(surf->tris[t]));
    ct_status st = write_json(out_dir, "surface.json", root);
    cJSON_Delete(root);
    return st;
}

/* The baseline's numbers in the report (b: its "baseline" object), from the run's metrics.json in run_dir. */
ct_status ct_study_report_baseline(cJSON *b, const char *run_dir)
{
    char path[4096];
    CT_CHECK(ct_path_join(path, sizeof path, run_dir, "metrics.json"));
    cJSON *m = ct_study_read_json(path);
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

void ct_study_report_patient(cJSON *report, const char *input, const ct_config *cfg, const ct_sim *sim,
                             const ct_lesion *lesions, int n_lesions)
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
    /* the lesions' elements (scar in sim's mesh) are counted apart from the scar; owned here */
    uint8_t *in_lesion = n_lesions > 0 ? calloc(m->n_tets + 1, 1) : NULL;
    if (in_lesion && ct_lesions_mark(m, lesions, n_lesions, in_lesion, NULL) != CT_OK)
        memset(in_lesion, 0, m->n_tets); /* (checked when sim was made: cannot happen) */
    double vol[4] = {0, 0, 0, 0}; /* healthy, border zone, scar, lesion */
    for (size_t e = 0; e < m->n_tets; e++) {
        int t = m->tissue ? m->tissue[e] : 0;
        vol[in_lesion && in_lesion[e] ? 3 : t >= 0 && t < 3 ? t : 0] += ct_mesh_tet_volume(m, e);
    }
    free(in_lesion);
    cJSON_AddNumberToObject(p, "volume_mm3", vol[0] + vol[1] + vol[2] + vol[3]);
    cJSON_AddNumberToObject(p, "healthy_volume_mm3", vol[0]);
    cJSON_AddNumberToObject(p, "border_zone_volume_mm3", vol[1]);
    cJSON_AddNumberToObject(p, "scar_volume_mm3", vol[2]);
    cJSON_AddNumberToObject(p, "lesion_volume_mm3", vol[3]);
    cJSON_AddStringToObject(p, "model", cfg->model_name);
}

void ct_study_report_protocol(cJSON *report, const ct_induce_protocol *p, const ct_config *cfg, const char *backend)
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

void ct_study_report_notes(cJSON *report, const ct_config *cfg, const ct_induce_protocol *p)
{
    cJSON *notes = cJSON_AddArrayToObject(report, "notes");
    cJSON_AddItemToArray(notes, cJSON_CreateString(
                                    "Monodomain model; the pseudo-ECG assumes an infinite homogeneous medium (no torso)."));
    char note[512];
    snprintf(note, sizeof note,
             "Re-entry is declared when tissue is still excited (Vm above %g mV) %g ms after the last stimulus; "
             "the effective refractory period is the longest coupling interval that failed to capture (bisected "
             "between the first failing and the last capturing interval of the protocol's steps).",
             cfg->activation_threshold_mV, p->observe_ms);
    cJSON_AddItemToArray(notes, cJSON_CreateString(note));
}

int ct_study_count_inducible(const cJSON *sites)
{
    int n = 0;
    for (const cJSON *s = sites ? sites->child : NULL; s; s = s->next)
        n += ct_study_site_inducible(s);
    return n;
}

void ct_study_report_ablation(cJSON *report, const ct_study_options *o, const ct_config *cfg, const ct_sim *sim,
                              const ct_induce_site *sites, int n_sites, const cJSON *before, const cJSON *after)
{
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
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", sites[s].name);
        cJSON_AddItemToObject(j, "inducible_before",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "inducible"), 1));
        cJSON_AddItemToObject(j, "inducible_after",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(a, "inducible"), 1));
        cJSON_AddItemToObject(j, "result_after", cJSON_Duplicate(a, 1));
        cJSON_AddItemToArray(js, j);
    }
}

/* The AHA segment (1..17) of the element nearest p (by centroid), or 0 when the mesh has none. */
static int site_aha_segment(const ct_sim *sim, const double p[3])
{
    const ct_mesh *m = sim->mesh;
    if (!sim->aha_segment)
        return 0;
    double best = INFINITY;
    int seg = 0;
    for (size_t e = 0; e < m->n_tets; e++) {
        if (sim->aha_segment[e] <= 0)
            continue;
        double d2 = 0;
        for (int k = 0; k < 3; k++) {
            double c = 0;
            for (int v = 0; v < 4; v++)
                c += 0.25 * m->xyz_mm[3 * (size_t)m->tets[4 * e + v] + k];
            d2 += (c - p[k]) * (c - p[k]);
        }
        if (d2 < best) {
            best = d2;
            seg = sim->aha_segment[e];
        }
    }
    return seg;
}

/* A failed site in the summary's "failed_sites" and on stdout's list. */
static void add_failed(cJSON *failed, const cJSON *site, const char *name, const char *phase)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "name", name);
    cJSON_AddStringToObject(f, "phase", phase);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(site, "error");
    cJSON_AddStringToObject(f, "error", cJSON_IsString(e) ? e->valuestring : ct_status_name(CT_ERR_INTERNAL));
    cJSON_AddStringToObject(f, "message", site_message(site));
    cJSON_AddItemToArray(failed, f);
}

int ct_study_report_summary(cJSON *report, const ct_sim *sim, const ct_induce_site *sites, int n_sites,
                            int n_lesions, int n_before, int n_after)
{
    cJSON *sum = cJSON_AddObjectToObject(report, "summary");
    cJSON_AddNumberToObject(sum, "sites", n_sites);
    cJSON_AddNumberToObject(sum, "inducible_sites", n_before);
    if (n_lesions)
        cJSON_AddNumberToObject(sum, "inducible_sites_after_ablation", n_after);
    const cJSON *before = cJSON_GetObjectItemCaseSensitive(report, "sites");
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(report, "ablation"), "sites");
    cJSON *inducing = cJSON_AddArrayToObject(sum, "inducing_sites");
    cJSON *failed = cJSON_AddArrayToObject(sum, "failed_sites");
    for (int s = 0; s < n_sites; s++) {
        const cJSON *b = cJSON_GetArrayItem(before, s);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(after, s), "result_after");
        if (ct_study_site_failed(b))
            add_failed(failed, b, sites[s].name, "induction");
        if (n_lesions && ct_study_site_failed(a))
            add_failed(failed, a, sites[s].name, "ablated");
        if (!ct_study_site_inducible(b))
            continue;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", sites[s].name);
        cJSON_AddItemToObject(j, "position_mm", cJSON_CreateDoubleArray(sites[s].position_mm, 3));
        int seg = site_aha_segment(sim, sites[s].position_mm);
        if (seg > 0)
            cJSON_AddNumberToObject(j, "aha_segment", seg);
        else
            cJSON_AddNullToObject(j, "aha_segment");
        cJSON_AddItemToObject(j, "induced_by", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "induced_by"), 1));
        cJSON_AddItemToObject(j, "cycle_length_ms",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "cycle_length_ms"), 1));
        if (n_lesions)
            cJSON_AddItemToObject(j, "inducible_after_ablation",
                                  ct_study_site_failed(a) ? cJSON_CreateNull()
                                                          : cJSON_CreateBool(ct_study_site_inducible(a)));
        cJSON_AddItemToArray(inducing, j);
    }
    int n_failed = cJSON_GetArraySize(failed);
    cJSON_AddNumberToObject(sum, "failed", n_failed);

    printf("re-entry inducible from %d of %d site%s", n_before, n_sites, n_sites == 1 ? "" : "s");
    if (n_lesions)
        printf(" before ablation, %d after", n_after);
    if (n_failed)
        printf(" (%d trial%s FAILED: not counted)", n_failed, n_failed == 1 ? "" : "s");
    printf("\n");
    for (int s = 0; s < n_sites; s++) {
        const cJSON *b = cJSON_GetArrayItem(before, s);
        printf("  %-20s ", sites[s].name);
        if (ct_study_site_failed(b)) {
            printf("FAILED (%s)", site_message(b));
        } else {
            const cJSON *cl = cJSON_GetObjectItemCaseSensitive(b, "cycle_length_ms");
            printf("%s", ct_study_site_inducible(b) ? "inducible" : "not inducible");
            if (ct_study_site_inducible(b) && cJSON_IsNumber(cl))
                printf(" (cycle length %.0f ms)", cl->valuedouble);
        }
        if (n_lesions) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(after, s), "result_after");
            if (ct_study_site_failed(a))
                printf(" -> after ablation FAILED (%s)", site_message(a));
            else
                printf(" -> %s", ct_study_site_inducible(a) ? "inducible after ablation" : "not inducible after ablation");
        }
        printf("\n");
    }
    return n_failed;
}

ct_status ct_study_report_write(const char *out_dir, const cJSON *report)
{
    CT_CHECK(write_json(out_dir, "report.json", report));
    const char *args[] = {"report", out_dir};
    CT_CHECK(run_report_tool(args, 2));
    printf("report: %s/report.html\n", out_dir);
    return CT_OK;
}
