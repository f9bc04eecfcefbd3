/* ct_output.c — VTK frames, the .pvd collection, the activation map and metrics.json. */
#include "ct_output.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_files.h"
#include "io/ct_vtk.h"

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
    *out = o;
    return CT_OK;
}

void ct_output_close(ct_output *o)
{
    if (!o)
        return;
    ct_pvd_destroy(o->pvd);
    free(o);
}

static ct_status write_grid(ct_output *o, const char *name, const ct_vtk_field *pf, int npf)
{
    char path[4096];
    CT_CHECK(ct_path_join(path, sizeof path, o->dir, name));
    const ct_mesh *m = o->sim->mesh;
    ct_vtk_field fibre = {"fibre", 3, m->fibre};
    return ct_vtk_write_vtu(path, m->n_nodes, m->xyz_mm, m->n_tets, m->tets, pf, npf, &fibre, 1);
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
    ct_vtk_field f = {"Vm_mV", 1, vm_mV};
    CT_CHECK(write_grid(o, name, &f, 1));
    CT_CHECK(ct_pvd_add(o->pvd, t_ms, name));
    o->n_frames++;
    return CT_OK;
}

ct_status ct_output_activation(ct_output *o, const double *activation_ms)
{
    ct_vtk_field f = {"activation_time_ms", 1, activation_ms};
    return write_grid(o, "activation.vtu", &f, 1);
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
    cJSON_AddStringToObject(root, "status", status == CT_OK ? "completed" : "failed");
    if (status != CT_OK)
        cJSON_AddStringToObject(root, "error", message);
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
    cJSON_AddNumberToObject(root, "wall_time_s", r->wall_s);
    cJSON_AddNumberToObject(root, "node_steps_per_s", r->node_steps_per_s);
    if (cfg->diffusion != CT_DIFFUSION_EXPLICIT)
        cJSON_AddNumberToObject(root, "cg_iterations_total", (double)r->cg_iterations_total);

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
