/* ct_output.c — VTK frames, the .pvd collection, the activation map and metrics.json, and the lock on the
 * output folder. */
#define _DEFAULT_SOURCE /* flock, dirent */
#include "ct_output.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ct_files.h"
#include "io/ct_vtk.h"
#include "metrics/ct_cv_map.h"
#include "metrics/ct_gradient.h"

#ifndef CT_VERSION
#define CT_VERSION "unknown"
#endif

ct_status ct_output_open(const char *dir, const ct_sim *sim, ct_output **out)
{
    *out = NULL;
    CT_CHECK(ct_mkdir_p(dir));
    ct_output *o = calloc(1, sizeof *o);
    if (!o)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    if (snprintf(o->dir, sizeof o->dir, "%s", dir) >= (int)sizeof o->dir) {
        free(o);
        return ct_error_set(CT_ERR_IO, "%s: path too long", dir);
    }
    o->sim = sim;
    o->lock_fd = -1;
    *out = o;
    return CT_OK;
}

void ct_output_close(ct_output *o)
{
    if (!o)
        return;
    if (o->lock_fd >= 0) {
        /* unlink while still holding it: a process that opened the old file meanwhile finds, once it gets
         * the lock, that the path no longer leads to its file, and starts again (ct_output_lock) */
        char path[4096];
        if (ct_path_join(path, sizeof path, o->dir, ".lock") == CT_OK)
            unlink(path);
        close(o->lock_fd);
    }
    ct_pvd_destroy(o->pvd);
    free(o->labels);
    free(o);
}

ct_status ct_output_lock(ct_output *o)
{
    if (o->lock_fd >= 0)
        return CT_OK;
    char path[4096];
    CT_CHECK(ct_path_join(path, sizeof path, o->dir, ".lock"));
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            return ct_error_set(CT_ERR_IO, "%s: cannot create the output folder's lock: %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            char pid[32] = "";
            ssize_t got = read(fd, pid, sizeof pid - 1);
            close(fd);
            if (err != EWOULDBLOCK)
                return ct_error_set(CT_ERR_IO, "%s: cannot lock: %s", path, strerror(err));
            pid[got > 0 ? got : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            return ct_error_set(CT_ERR_IO, "%s is in use by another run (pid %s, holding %s): wait for it to end "
                                "or choose another output folder", o->dir, pid[0] ? pid : "unknown", path);
        }
        /* got it: is it still the file at `path` (not one its last holder removed meanwhile)? */
        struct stat held, now;
        if (fstat(fd, &held) != 0 || stat(path, &now) != 0 || held.st_ino != now.st_ino || held.st_dev != now.st_dev) {
            close(fd);
            continue;
        }
        char pid[32];
        int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
            int err = errno;
            close(fd);
            return ct_error_set(CT_ERR_IO, "%s: cannot write the lock: %s", path, strerror(err));
        }
        o->lock_fd = fd;
        return CT_OK;
    }
    return ct_error_set(CT_ERR_IO, "%s: the lock keeps being replaced; is another run starting and ending there?",
                        path);
}

int ct_output_remove_temporaries(const ct_output *o)
{
    char suffix[40];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    size_t ls = strlen(suffix);
    DIR *d = opendir(o->dir);
    if (!d)
        return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t ln = strlen(e->d_name);
        char path[4096];
        if (ln > ls && strcmp(e->d_name + ln - ls, suffix) == 0 &&
            ct_path_join(path, sizeof path, o->dir, e->d_name) == CT_OK && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* The labels every whole-mesh file carries (ct_output.h), as doubles for ct_vtk_write_vtu: node_id and
 * cell_type per node, tissue and aha_segment per element (the ones the sim has), built once. */
static ct_status build_labels(ct_output *o)
{
    const ct_sim *sim = o->sim;
    const ct_mesh *m = sim->mesh;
    size_t n = m->n_nodes, ne = m->n_tets;
    o->labels = malloc((2 * n + 2 * ne + 1) * sizeof *o->labels);
    if (!o->labels)
        return ct_error_set(CT_ERR_NOMEM, "out of memory for the output labels (%zu nodes)", n);
    double *id = o->labels, *type = id + n, *tissue = type + n, *aha = tissue + ne;
    for (size_t i = 0; i < n; i++) {
        id[i] = sim->node_id ? sim->node_id[i] : (double)i;
        type[i] = sim->node_cell_type ? sim->node_cell_type[i] : 0;
    }
    for (size_t e = 0; e < ne; e++) {
        tissue[e] = m->tissue ? m->tissue[e] : 0;
        aha[e] = sim->aha_segment ? sim->aha_segment[e] : 0;
    }
    return CT_OK;
}

static ct_status write_grid(ct_output *o, const char *name, const ct_vtk_field *pf, int npf,
                            const ct_vtk_field *extra_cells, int n_extra)
{
    char path[4096];
    CT_CHECK(ct_path_join(path, sizeof path, o->dir, name));
    if (!o->labels)
        CT_CHECK(build_labels(o));
    const ct_sim *sim = o->sim;
    const ct_mesh *m = sim->mesh;
    size_t n = m->n_nodes, ne = m->n_tets;
    ct_vtk_field *points = malloc(((size_t)npf + 2) * sizeof *points);
    if (!points)
        return ct_error_set(CT_ERR_NOMEM, "out of memory writing %s", path);
    int np = 0;
    for (int k = 0; k < npf; k++)
        points[np++] = pf[k];
    points[np++] = (ct_vtk_field){"node_id", 1, o->labels, CT_VTK_INT32};
    if (sim->node_cell_type)
        points[np++] = (ct_vtk_field){"cell_type", 1, o->labels + n, CT_VTK_INT8};
    ct_vtk_field cells[6] = {{"fibre", 3, m->fibre, CT_VTK_FLOAT64}};
    int nc = 1;
    for (int k = 0; k < n_extra && k < 3; k++)
        cells[nc++] = extra_cells[k];
    if (m->tissue)
        cells[nc++] = (ct_vtk_field){"tissue", 1, o->labels + 2 * n, CT_VTK_INT8};
    if (sim->aha_segment)
        cells[nc++] = (ct_vtk_field){"aha_segment", 1, o->labels + 2 * n + ne, CT_VTK_INT8};
    ct_status st = ct_vtk_write_vtu(path, n, m->xyz_mm, ne, m->tets, points, np, cells, nc);
    free(points);
    return st;
}

ct_status ct_output_frame(ct_output *o, double t_ms, const double *vm_mV)
{
    if (!o->pvd) {
        char path[4096];
        CT_CHECK(ct_path_join(path, sizeof path, o->dir, "vm.pvd"));
        CT_CHECK(ct_pvd_open(path, &o->pvd));
    }
    char name[64];
    snprintf(name, sizeof name, "vm_%06d.vtu", o->n_frames);
    ct_vtk_field f = {"Vm_mV", 1, vm_mV, CT_VTK_FLOAT64};
    CT_CHECK(write_grid(o, name, &f, 1, NULL, 0));
    CT_CHECK(ct_pvd_add(o->pvd, t_ms, name));
    o->n_frames++;
    return CT_OK;
}

ct_status ct_output_resume_frames(ct_output *o, int n_frames, const double *times_ms, const char *frame_ext)
{
    if (o->n_frames != 0)
        return ct_error_set(CT_ERR_INTERNAL, "ct_output_resume_frames: frames were already written");
    if (n_frames == 0)
        return CT_OK;
    if (!frame_ext) {
        o->n_frames = n_frames;
        return CT_OK;
    }
    char path[4096];
    CT_CHECK(ct_path_join(path, sizeof path, o->dir, "vm.pvd"));
    CT_CHECK(ct_pvd_open(path, &o->pvd));
    for (int k = 0; k < n_frames; k++) {
        char name[64], frame[4096];
        struct stat sb;
        snprintf(name, sizeof name, "vm_%06d.%s", k, frame_ext);
        CT_CHECK(ct_path_join(frame, sizeof frame, o->dir, name));
        if (stat(frame, &sb) == 0)
            CT_CHECK(ct_pvd_add(o->pvd, times_ms[k], name));
        else
            o->n_frames_missing++;
        o->n_frames++; /* the numbering goes on either way */
    }
    return CT_OK;
}

ct_status ct_output_activation(ct_output *o, const double *activation_ms, const double *cv_speed,
                               const double *cv_along, const double *cv_across)
{
    ct_vtk_field f = {"activation_time_ms", 1, activation_ms, CT_VTK_FLOAT64};
    ct_vtk_field cv[3] = {{"cv_m_per_s", 1, cv_speed, CT_VTK_FLOAT64},
                          {"cv_along_m_per_s", 1, cv_along, CT_VTK_FLOAT64},
                          {"cv_across_m_per_s", 1, cv_across, CT_VTK_FLOAT64}};
    return write_grid(o, "activation.vtu", &f, 1, cv, cv_speed ? 3 : 0);
}

ct_status ct_output_beats(ct_output *o, const ct_run_result *r)
{
    size_t n = o->sim->mesh->n_nodes;
    int nb = r->max_beats;
    double *apd = malloc((size_t)nb * n * sizeof *apd + 1);
    ct_vtk_field *f = calloc(3 * (size_t)nb + 1, sizeof *f);
    char(*names)[48] = calloc(3 * (size_t)nb + 1, sizeof *names);
    if (!apd || !f || !names) {
        free(apd);
        free(f);
        free(names);
        return ct_error_set(CT_ERR_NOMEM, "out of memory writing beats.vtu");
    }
    for (int b = 0; b < nb; b++) {
        const double *act = r->beat_activation_ms + (size_t)b * n, *rep = r->beat_repolarisation_ms + (size_t)b * n;
        for (size_t i = 0; i < n; i++)
            apd[(size_t)b * n + i] = (act[i] >= 0 && rep[i] >= 0) ? rep[i] - act[i] : -1.0;
        snprintf(names[3 * b], sizeof names[0], "activation_ms_beat%d", b + 1);
        snprintf(names[3 * b + 1], sizeof names[0], "repolarisation_ms_beat%d", b + 1);
        snprintf(names[3 * b + 2], sizeof names[0], "apd90_ms_beat%d", b + 1);
        f[3 * b] = (ct_vtk_field){names[3 * b], 1, act, CT_VTK_FLOAT64};
        f[3 * b + 1] = (ct_vtk_field){names[3 * b + 1], 1, rep, CT_VTK_FLOAT64};
        f[3 * b + 2] = (ct_vtk_field){names[3 * b + 2], 1, apd + (size_t)b * n, CT_VTK_FLOAT64};
    }
    ct_status st = write_grid(o, "beats.vtu", f, 3 * nb, NULL, 0);
    free(apd);
    free(f);
    free(names);
    return st;
}

/* Mean, standard deviation, min and max of the non-negative entries of x (count in *n_valid). */
static void stats(const double *x, size_t n, size_t *n_valid, double *mean, double *sd, double *lo, double *hi)
{
    double s = 0, s2 = 0;
    *n_valid = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0))
            continue;
        (*n_valid)++;
        s += x[i];
        s2 += x[i] * x[i];
        *lo = fmin(*lo, x[i]);
        *hi = fmax(*hi, x[i]);
    }
    *mean = *n_valid ? s / (double)*n_valid : NAN;
    *sd = *n_valid > 1 ? sqrt(fmax(0, (s2 - s * s / (double)*n_valid) / (double)(*n_valid - 1))) : NAN;
}

static void add_cv(cJSON *parent, const char *name, const double *v, size_t n)
{
    ct_cv_summary s;
    if (!v || ct_cv_summarise(v, n, &s) != CT_OK || s.n_valid == 0)
        return;
    cJSON *o = cJSON_AddObjectToObject(parent, name);
    cJSON_AddNumberToObject(o, "median_m_per_s", s.median);
    cJSON_AddNumberToObject(o, "p05_m_per_s", s.p05);
    cJSON_AddNumberToObject(o, "p95_m_per_s", s.p95);
    cJSON_AddNumberToObject(o, "elements", (double)s.n_valid);
}

static cJSON *vec3(const double *x)
{
    return cJSON_CreateDoubleArray(x, 3);
}

ct_status ct_output_metrics(ct_output *o, const ct_run_result *r, ct_status status, const char *message)
{
    const ct_config *cfg = o->sim->cfg;
    const ct_mesh *m = o->sim->mesh;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return ct_error_set(CT_ERR_NOMEM, "out of memory for metrics.json");
    cJSON_AddStringToObject(root, "cardiotwin_version", CT_VERSION);
    cJSON_AddStringToObject(root, "config", cfg->source);
    cJSON_AddStringToObject(root, "status", status == CT_OK              ? (r->stopped ? "stopped" : "completed")
                                            : status == CT_ERR_INTERRUPTED ? "interrupted"
                                                                           : "failed");
    if (status != CT_OK)
        cJSON_AddStringToObject(root, "error", message);
    else if (r->stopped && message && *message)
        cJSON_AddStringToObject(root, "message", message);
    if (r->checkpoint_path[0]) {
        cJSON *ck = cJSON_AddObjectToObject(root, "checkpoint");
        cJSON_AddStringToObject(ck, "path", r->checkpoint_path);
        cJSON_AddNumberToObject(ck, "t_ms", r->checkpoint_t_ms);
    }
    cJSON_AddStringToObject(root, "backend", r->backend ? r->backend : "");
    cJSON_AddStringToObject(root, "model", cfg->model_name);
    if (cfg->cell_type[0])
        cJSON_AddStringToObject(root, "cell_type", cfg->cell_type);
    cJSON_AddNumberToObject(root, "n_nodes", (double)m->n_nodes);
    cJSON_AddNumberToObject(root, "n_tets", (double)m->n_tets);
    cJSON_AddNumberToObject(root, "dt_ms", cfg->dt_ms);
    cJSON_AddNumberToObject(root, "end_time_ms", cfg->end_time_ms);
    cJSON_AddNumberToObject(root, "simulated_time_ms", r->t_end_ms);
    cJSON_AddNumberToObject(root, "steps", (double)r->steps);
    if (r->first_step > 0) /* a restart: wall time and rate are of the steps this run took */
        cJSON_AddNumberToObject(root, "restarted_at_step", (double)r->first_step);
    cJSON_AddNumberToObject(root, "steps_this_run", (double)(r->steps - r->first_step));
    cJSON_AddNumberToObject(root, "wall_time_s", r->wall_s);
    cJSON_AddNumberToObject(root, "node_steps_per_s", r->node_steps_per_s);
    if (cfg->diffusion != CT_DIFFUSION_EXPLICIT)
        cJSON_AddNumberToObject(root, "cg_iterations_total", (double)r->cg_iterations_total);
    { /* set-up wall time per phase (ct_sim.h): rank 0's and, split across ranks, the slowest rank's */
        const ct_setup_timing *t[2] = {&o->sim->setup, &o->sim->setup_max};
        cJSON *su = cJSON_AddObjectToObject(root, "setup");
        for (int k = 0; k < 2; k++) {
            cJSON *p = k == 0 ? su : cJSON_AddObjectToObject(su, "slowest_rank");
            cJSON_AddNumberToObject(p, "read_s", t[k]->read_s);
            cJSON_AddNumberToObject(p, "partition_s", t[k]->partition_s);
            cJSON_AddNumberToObject(p, "assemble_s", t[k]->assemble_s);
            cJSON_AddNumberToObject(p, "problem_s", t[k]->problem_s);
            cJSON_AddNumberToObject(p, "total_s", t[k]->total_s);
        }
    }

    cJSON *probes = cJSON_AddArrayToObject(root, "probes");
    for (int p = 0; p < cfg->n_probes; p++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", cfg->probes[p].name);
        cJSON_AddItemToObject(e, "position_mm", vec3(cfg->probes[p].position_mm));
        double a = r->probe_activation_ms ? r->probe_activation_ms[p] : -1.0;
        if (a >= 0)
            cJSON_AddNumberToObject(e, "activation_time_ms", a);
        else
            cJSON_AddNullToObject(e, "activation_time_ms");
        cJSON_AddItemToArray(probes, e);
    }
    if (r->activation_ms) {
        double first = -1, last = -1;
        size_t count = 0;
        for (size_t i = 0; i < m->n_nodes; i++) {
            double a = r->activation_ms[i];
            if (a < 0)
                continue;
            count++;
            if (first < 0 || a < first)
                first = a;
            if (a > last)
                last = a;
        }
        cJSON *act = cJSON_AddObjectToObject(root, "activation");
        cJSON_AddNumberToObject(act, "activated_fraction", m->n_nodes ? (double)count / (double)m->n_nodes : 0);
        if (count) {
            cJSON_AddNumberToObject(act, "first_ms", first);
            cJSON_AddNumberToObject(act, "last_ms", last);
            cJSON_AddNumberToObject(act, "total_activation_time_ms", last - first);
        }
    }
    cJSON *cv = cJSON_AddObjectToObject(root, "conduction_velocity");
    add_cv(cv, "speed", r->cv_speed, m->n_tets);
    /* the speed of the fronts travelling along (across) the fibres, within this angle: what "CV along the
     * fibres" means to a reader; absent when no front went that way */
    cJSON_AddNumberToObject(cv, "direction_tolerance_deg", CT_CV_DIRECTION_TOLERANCE_DEG);
    add_cv(cv, "along_fibres", r->cv_along, m->n_tets);
    add_cv(cv, "across_fibres", r->cv_across, m->n_tets);
    if (r->max_beats > 0 && r->beat_repolarisation_ms) {
        /* first beat: APD90 statistics and the dispersion of repolarisation times */
        size_t n = m->n_nodes, nv, nr;
        double *apd = malloc(n * sizeof *apd + 1);
        if (apd) {
            for (size_t i = 0; i < n; i++)
                apd[i] = (r->beat_activation_ms[i] >= 0 && r->beat_repolarisation_ms[i] >= 0)
                             ? r->beat_repolarisation_ms[i] - r->beat_activation_ms[i]
                             : -1.0;
            double mean, sd, lo, hi, rmean, rsd, rlo, rhi;
            stats(apd, n, &nv, &mean, &sd, &lo, &hi);
            stats(r->beat_repolarisation_ms, n, &nr, &rmean, &rsd, &rlo, &rhi);
            cJSON *b = cJSON_AddObjectToObject(root, "beat1");
            cJSON_AddNumberToObject(b, "repolarised_nodes", (double)nv);
            if (nv > 0) {
                cJSON_AddNumberToObject(b, "apd90_mean_ms", mean);
                cJSON_AddNumberToObject(b, "apd90_sd_ms", nv > 1 ? sd : 0);
                cJSON_AddNumberToObject(b, "apd90_min_ms", lo);
                cJSON_AddNumberToObject(b, "apd90_max_ms", hi);
                cJSON_AddNumberToObject(b, "repolarisation_dispersion_ms", rhi - rlo);
                ct_gradient_stats gs;
                if (ct_gradient_stats_compute(m, r->beat_repolarisation_ms, 10.0, &gs) == CT_OK &&
                    isfinite(gs.max_ms_per_mm)) {
                    cJSON_AddNumberToObject(b, "max_repolarisation_gradient_ms_per_mm", gs.max_ms_per_mm);
                    cJSON_AddNumberToObject(b, "volume_repolarisation_gradient_above_10_ms_per_mm_mm3",
                                            gs.volume_above_mm3);
                }
            }
            free(apd);
        }
    }
    if (r->has_ecg) {
        cJSON *e = cJSON_AddObjectToObject(root, "ecg");
        /* null: not found in the trace (no QRS; no T wave that ended within the recording) */
        if (isfinite(r->ecg.qrs_ms))
            cJSON_AddNumberToObject(e, "qrs_ms", r->ecg.qrs_ms);
        else
            cJSON_AddNullToObject(e, "qrs_ms");
        if (isfinite(r->ecg.qt_ms))
            cJSON_AddNumberToObject(e, "qt_ms", r->ecg.qt_ms);
        else
            cJSON_AddNullToObject(e, "qt_ms");
        cJSON_AddStringToObject(e, "leads_csv", "ecg.csv");
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return ct_error_set(CT_ERR_NOMEM, "out of memory for metrics.json");
    char path[4096];
    ct_status st = ct_path_join(path, sizeof path, o->dir, "metrics.json");
    if (st == CT_OK) {
        size_t len = strlen(text);
        text[len] = '\n';
        st = ct_write_file_atomic(path, text, len + 1);
    }
    cJSON_free(text);
    return st;
}
