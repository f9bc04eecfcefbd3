/* test_patient.c — personalisation end to end: patient file -> heart.vtu + model.json -> a run in which
 * the scar does not activate and the rest of the heart does. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_config.h"
#include "ct_sim.h"
#include "ct_test_util.h"
#include "io/ct_vtk.h"
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
