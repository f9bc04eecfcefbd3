/* test_patient.c — personalisation end to end: patient file -> heart.vtu + model.json -> a run in which
 * the scar does not activate and the rest of the heart does. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ct_config.h"
#include "sim/ct_sim.h"
#include "ct_test_util.h"
#include "io/ct_vtk.h"
#include "mesh_io/ct_mesh_io.h"
#include "personalise/ct_geometry.h"
#include "personalise/ct_patient.h"

static const char *patient_fmt =
    "{\"geometry\": {\"type\": \"lv_ellipsoid\", \"h_mm\": 2.0},"
    " \"infarct\": {\"aha_segments\": [%d], \"border_zone_mm\": 2.0},"
    " \"conduction\": {\"sigma_l_S_per_m\": 0.5, \"sigma_t_S_per_m\": 0.2},"
    " \"pacing\": [{\"name\": \"lateral\", \"aha_segment\": 11, \"radius_mm\": 3}],"
    " \"simulation\": {\"dt_ms\": 0.05, \"end_time_ms\": 120, \"output_interval_ms\": 0}%s}";

static char *dir;
static void setup(void) { dir = ct_test_tmpdir("patient"); }
static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}
TestSuite(patient, .init = setup, .fini = teardown);

Test(patient, personalise_then_run_scar_blocks, .timeout = 600)
{
    char text[2048], path[1100], out[512];
    snprintf(text, sizeof text, patient_fmt, 8, "");
    snprintf(path, sizeof path, "%s/p.json", dir);
    snprintf(out, sizeof out, "%s/model", dir);
    ct_test_write(path, text);
    cr_assert_eq(ct_personalise(path, out, 1), CT_OK, "%s", ct_error_message());

    /* heart.vtu carries every field, with sensible values */
    snprintf(path, sizeof path, "%s/heart.vtu", out);
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_OK, "%s", ct_error_message());
    const double *seg, *tissue, *ctype, *fibre;
    int nc;
    cr_assert_eq(ct_vtk_grid_cell_field(g, "aha_segment", &seg, &nc), CT_OK);
    cr_assert_eq(ct_vtk_grid_cell_field(g, "tissue", &tissue, &nc), CT_OK);
    cr_assert_eq(ct_vtk_grid_cell_field(g, "fibre", &fibre, &nc), CT_OK);
    cr_assert_eq(nc, 3);
    cr_assert_eq(ct_vtk_grid_point_field(g, "cell_type", &ctype, &nc), CT_OK);
    int seen[18] = {0}, n_scar = 0, n_bz = 0, types[3] = {0};
    for (size_t e = 0; e < ct_vtk_grid_n_tets(g); e++) {
        cr_assert(seg[e] >= 1 && seg[e] <= 17, "element %zu: segment %g", e, seg[e]);
        seen[(int)seg[e]] = 1;
        if (tissue[e] == 2) {
            n_scar++;
            cr_assert_eq(seg[e], 8, "scar outside segment 8 (element %zu in %g)", e, seg[e]);
        }
        n_bz += tissue[e] == 1;
    }
    for (size_t i = 0; i < ct_vtk_grid_n_points(g); i++)
        types[(int)ctype[i]]++;
    for (int s = 1; s <= 17; s++)
        cr_assert(seen[s], "segment %d empty", s);
    cr_assert_gt(n_scar, 0);
    cr_assert_gt(n_bz, 0);
    cr_assert(types[0] && types[1] && types[2], "cell types %d %d %d", types[0], types[1], types[2]);
    ct_vtk_grid_destroy(g);

    /* model.json runs; the scar segment never activates, every other probe does */
    snprintf(path, sizeof path, "%s/model.json", out);
    ct_config cfg;
    cr_assert_eq(ct_config_load(path, &cfg), CT_OK, "%s", ct_error_message());
    ct_sim *sim;
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_run_result r;
    ct_run_options opt = {.quiet = 1};
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt, &r), CT_OK, "%s", ct_error_message());
    cr_assert_eq(cfg.n_probes, 17);
    for (int p = 0; p < cfg.n_probes; p++) {
        double t = r.probe_activation_ms[p];
        fprintf(stderr, "%s: %g ms\n", cfg.probes[p].name, t);
        if (strcmp(cfg.probes[p].name, "AHA8") == 0)
            cr_assert_lt(t, 0.0, "the scar (AHA 8) activated at %g ms", t);
        else
            cr_assert_gt(t, 0.0, "%s never activated", cfg.probes[p].name);
    }
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
}

/* Field f (n_components 1) of a grid, point or cell. */
static const double *field_of(const ct_vtk_grid *g, int point, const char *name, const char *file)
{
    const double *v;
    int nc;
    ct_status st = point ? ct_vtk_grid_point_field(g, name, &v, &nc) : ct_vtk_grid_cell_field(g, name, &v, &nc);
    cr_assert_eq(st, CT_OK, "%s: %s", file, ct_error_message());
    cr_assert_eq(nc, 1, "%s: %s", file, name);
    return v;
}

/* A run's .vtu files line up with heart.vtu: node_id is the heart.vtu node at the same place (the run
 * renumbers its nodes), elements keep their order, and cell_type, tissue and aha_segment are heart.vtu's. */
static void check_lines_up(const ct_vtk_grid *heart, const char *file)
{
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(file, &g), CT_OK, "%s", ct_error_message());
    size_t n = ct_vtk_grid_n_points(heart), ne = ct_vtk_grid_n_tets(heart);
    cr_assert_eq(ct_vtk_grid_n_points(g), n, "%s", file);
    cr_assert_eq(ct_vtk_grid_n_tets(g), ne, "%s", file);
    const double *hx = ct_vtk_grid_points(heart), *x = ct_vtk_grid_points(g);
    const double *id = field_of(g, 1, "node_id", file), *type = field_of(g, 1, "cell_type", file);
    const double *htype = field_of(heart, 1, "cell_type", "heart.vtu");
    size_t moved = 0;
    for (size_t k = 0; k < n; k++) {
        cr_assert(id[k] >= 0 && id[k] < (double)n && id[k] == floor(id[k]), "%s: node %zu: node_id %g", file, k, id[k]);
        size_t i = (size_t)id[k];
        moved += i != k;
        for (int d = 0; d < 3; d++)
            cr_assert_eq(x[3 * k + d], hx[3 * i + d], "%s: node %zu (node_id %zu) is not where heart.vtu has it", file,
                         k, i);
        cr_assert_eq(type[k], htype[i], "%s: node %zu: cell_type", file, k);
    }
    cr_assert_gt(moved, 0, "%s: the run was expected to renumber the nodes", file);
    const int32_t *ht = ct_vtk_grid_tets(heart), *t = ct_vtk_grid_tets(g);
    for (size_t e = 0; e < 4 * ne; e++)
        cr_assert_eq((int32_t)id[t[e]], ht[e], "%s: element %zu corner %zu", file, e / 4, e % 4);
    const char *cells[2] = {"tissue", "aha_segment"};
    for (int c = 0; c < 2; c++) {
        const double *v = field_of(g, 0, cells[c], file), *hv = field_of(heart, 0, cells[c], "heart.vtu");
        for (size_t e = 0; e < ne; e++)
            cr_assert_eq(v[e], hv[e], "%s: element %zu: %s", file, e, cells[c]);
    }
    ct_vtk_grid_destroy(g);
}

/* The patient file's body frame reaches model.json's "ecg" (normalised, anterior made orthogonal) and
 * personalise.json says where it came from; a short run's outputs carry heart.vtu's node ids and labels. */
Test(patient, body_frame_and_outputs_that_line_up_with_heart_vtu, .timeout = 600)
{
    char text[2048], path[1100], out[512], run[600];
    snprintf(text, sizeof text, patient_fmt, 8,
             ", \"body_frame\": {\"superior\": [0, 0, 2], \"anterior\": [0, -1, 1]}");
    snprintf(path, sizeof path, "%s/p.json", dir);
    snprintf(out, sizeof out, "%s/model", dir);
    ct_test_write(path, text);
    cr_assert_eq(ct_personalise(path, out, 1), CT_OK, "%s", ct_error_message());

    snprintf(path, sizeof path, "%s/personalise.json", out);
    char *js = ct_test_read(path);
    cJSON *summary = cJSON_Parse(js);
    free(js);
    cJSON *bf = cJSON_GetObjectItem(summary, "body_frame");
    cr_assert_not_null(bf);
    cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(bf, "source")), "patient file");
    cr_assert_float_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(bf, "left"), 0)->valuedouble, 1.0, 1e-12,
                       "left = superior x anterior = z x -y = +x");
    cJSON_Delete(summary);

    snprintf(path, sizeof path, "%s/model.json", out);
    js = ct_test_read(path);
    cJSON *model = cJSON_Parse(js);
    free(js);
    cJSON *ecg = cJSON_GetObjectItem(model, "ecg");
    cr_assert_float_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(ecg, "superior"), 2)->valuedouble, 1.0, 1e-12);
    cr_assert_float_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(ecg, "anterior"), 1)->valuedouble, -1.0, 1e-12);
    cr_assert_float_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(ecg, "anterior"), 2)->valuedouble, 0.0, 1e-12);
    /* a short run with frames and beats */
    cJSON_ReplaceItemInObject(model, "end_time_ms", cJSON_CreateNumber(2.0));
    cJSON_ReplaceItemInObject(model, "max_beats", cJSON_CreateNumber(1));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(model, "output"), "interval_ms", cJSON_CreateNumber(1.0));
    js = cJSON_Print(model);
    cJSON_Delete(model);
    snprintf(path, sizeof path, "%s/short.json", out);
    ct_test_write(path, js);
    free(js);
    ct_config cfg;
    cr_assert_eq(ct_config_load(path, &cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(cfg.ecg_has_body_frame, 1);
    cr_assert_eq(cfg.renumber_rcm, 1);
    ct_sim *sim;
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_run_result r;
    snprintf(run, sizeof run, "%s/run", dir);
    ct_run_options opt = {.quiet = 1, .out_dir = run};
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt, &r), CT_OK, "%s", ct_error_message());
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);

    snprintf(path, sizeof path, "%s/heart.vtu", out);
    ct_vtk_grid *heart = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &heart), CT_OK, "%s", ct_error_message());
    const char *files[] = {"activation.vtu", "beats.vtu", "vm_000000.vtu", "vm_000002.vtu"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        snprintf(path, sizeof path, "%s/%s", run, files[k]);
        check_lines_up(heart, path);
    }
    ct_vtk_grid_destroy(heart);
}

Test(patient, bad_patient_files_are_refused_and_write_nothing)
{
    char text[2048], path[1100], out[512];
    snprintf(out, sizeof out, "%s/none", dir);
    snprintf(path, sizeof path, "%s/bad.json", dir);
    snprintf(text, sizeof text, patient_fmt, 8, ", \"heartrate\": 60");
    ct_test_write(path, text);
    cr_assert_eq(ct_personalise(path, out, 1), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "unknown key \"heartrate\""), "%s", ct_error_message());
    snprintf(text, sizeof text, patient_fmt, 18, "");
    ct_test_write(path, text);
    cr_assert_eq(ct_personalise(path, out, 1), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "aha_segments[0]"), "%s", ct_error_message());
    /* the border zone goes into model.json as it is, so it is checked against this file, not model.json */
    const char *bad_bz[][2] = {
        {", \"border_zone\": {\"conductance_scales\": {\"G_Na\": -1}}", "border_zone.conductance_scales"},
        {", \"border_zone\": {\"conductance_scales\": {\"G_Nah\": 0.4}}", "border_zone.conductance_scales.G_Nah"},
        {", \"border_zone\": {\"parameters\": {\"tau_in_ms\": 0.3}}", "needs model mitchell_schaeffer"},
        {", \"border_zone\": {\"sigma_scale\": 20}", "sigma_scale"},
        {", \"body_frame\": {\"superior\": [0, 0, 0], \"anterior\": [0, 1, 0]}", "body_frame.superior"},
        {", \"body_frame\": {\"superior\": [0, 0, 1], \"anterior\": [0, 0, 3]}", "body_frame.anterior"},
        {", \"body_frame\": {\"superior\": [0, 0, 1]}", "body_frame.anterior"},
        {", \"body_frame\": {\"superior\": [0, 0, 1], \"anterior\": [0, 1, 0], \"left\": [1, 0, 0]}",
         "body_frame.left"},
    };
    for (size_t k = 0; k < sizeof bad_bz / sizeof bad_bz[0]; k++) {
        snprintf(text, sizeof text, patient_fmt, 8, bad_bz[k][0]);
        ct_test_write(path, text);
        cr_assert_eq(ct_personalise(path, out, 1), CT_ERR_CONFIG, "%s", bad_bz[k][0]);
        const char *msg = ct_error_message();
        cr_assert(strstr(msg, path) && strstr(msg, bad_bz[k][1]), "%s: %s", bad_bz[k][0], msg);
    }
    cr_assert_eq(ct_personalise("/nonexistent/p.json", out, 1), CT_ERR_IO);
    char probe[600];
    snprintf(probe, sizeof probe, "%s/model.json", out);
    cr_assert_null(ct_test_read(probe), "a failed personalisation wrote model.json");
}

/* geometry.type "file": the LV written as openCARP (um, with BASE.endo_lv/epi/base.surf) and as .vtu (with
 * triangle cells labelled by the cell field "surface") personalises like the built-in LV; without the
 * surface files the mesh is refused. */
Test(patient, file_geometry_with_surfaces_from_carp_and_vtu, .timeout = 600)
{
    ct_lv_params lp = ct_lv_params_default();
    ct_mesh *m = NULL;
    cr_assert_eq(ct_geometry_lv(&lp, 2.5, &m), CT_OK, "%s", ct_error_message());
    char base[600], vtu[600], path[1100], out[600], text[2048];
    snprintf(base, sizeof base, "%s/lv", dir);
    snprintf(vtu, sizeof vtu, "%s/lv.vtu", dir);
    cr_assert_eq(ct_mesh_write_carp(base, m, 1000.0), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_mesh_write_vtu(vtu, m), CT_OK, "%s", ct_error_message());
    const char *geometry[2] = {"{\"type\": \"file\", \"path\": \"lv\", \"format\": \"carp\", \"units\": \"um\"}",
                               "{\"type\": \"file\", \"path\": \"lv.vtu\"}"};
    for (int k = 0; k < 2; k++) {
        snprintf(text, sizeof text,
                 "{\"geometry\": %s, \"infarct\": {\"aha_segments\": [8], \"border_zone_mm\": 2.0},"
                 " \"conduction\": {\"sigma_l_S_per_m\": 0.5, \"sigma_t_S_per_m\": 0.2},"
                 " \"pacing\": [{\"name\": \"lateral\", \"aha_segment\": 11, \"radius_mm\": 3}],"
                 " \"simulation\": {\"dt_ms\": 0.05, \"end_time_ms\": 120, \"output_interval_ms\": 0}}",
                 geometry[k]);
        snprintf(path, sizeof path, "%s/p%d.json", dir, k);
        snprintf(out, sizeof out, "%s/model%d", dir, k);
        ct_test_write(path, text);
        cr_assert_eq(ct_personalise(path, out, 1), CT_OK, "%s: %s", geometry[k], ct_error_message());
        snprintf(path, sizeof path, "%s/heart.vtu", out);
        ct_vtk_grid *g = NULL;
        cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_OK, "%s", ct_error_message());
        cr_assert_eq(ct_vtk_grid_n_tets(g), m->n_tets);
        const double *seg;
        int nc, seen[18] = {0};
        cr_assert_eq(ct_vtk_grid_cell_field(g, "aha_segment", &seg, &nc), CT_OK);
        for (size_t e = 0; e < ct_vtk_grid_n_tets(g); e++)
            seen[(int)seg[e]] = 1;
        for (int s = 1; s <= 17; s++)
            cr_assert(seen[s], "%s: segment %d empty", geometry[k], s);
        ct_vtk_grid_destroy(g);
    }
    /* No surfaces: refused, saying why. */
    free(m->tris);
    free(m->tri_label);
    m->tris = m->tri_label = NULL;
    m->n_tris = 0;
    cr_assert_eq(ct_mesh_write_carp(base, m, 1000.0), CT_OK, "%s", ct_error_message());
    snprintf(path, sizeof path, "%s/p0.json", dir);
    cr_assert_eq(ct_personalise(path, out, 1), CT_ERR_MESH);
    cr_assert(strstr(ct_error_message(), "no labelled surfaces"), "%s", ct_error_message());
    ct_mesh_destroy(m);
}
