/* test_tissue_labels.c — meshes from files carrying tissue labels and cell types: a non-conducting scar
 * forces the wave through an isthmus, border-zone remodelling slows conduction, per-node cell types
 * change the action potential. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ct_config.h"
#include "sim/ct_sim.h"
#include "ct_test_util.h"
#include "io/ct_vtk.h"
#include "mesh_io/ct_mesh_io.h"

static char *dir;
static void setup(void) { dir = ct_test_tmpdir("labels"); }
static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}
TestSuite(labels, .init = setup, .fini = teardown);

/* A 10 x 4 x 0.5 mm sheet; elements whose centroid satisfies `label_of` get that tissue label. */
static void write_sheet(const char *name, int (*label_of)(const double *c))
{
    const double size[3] = {10, 4, 0.5}, fibre[3] = {1, 0, 0};
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box(size, 0.25, fibre, &m), CT_OK);
    m->tissue = calloc(m->n_tets, sizeof *m->tissue);
    for (size_t e = 0; e < m->n_tets; e++) {
        double c[3] = {0, 0, 0};
        for (int a = 0; a < 4; a++)
            for (int d = 0; d < 3; d++)
                c[d] += 0.25 * m->xyz_mm[3 * (size_t)m->tets[4 * e + a] + d];
        m->tissue[e] = label_of(c);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(ct_mesh_write_vtu(path, m), CT_OK, "%s", ct_error_message());
    ct_mesh_destroy(m);
}

static int healthy(const double *c) { (void)c; return CT_TISSUE_HEALTHY; }
/* scar wall across x in [4, 6], open only for y > 3: an isthmus 1 mm wide */
static int scar_wall(const double *c) { return (c[0] > 4 && c[0] < 6 && c[1] < 3) ? CT_TISSUE_SCAR : CT_TISSUE_HEALTHY; }
static int all_border_zone(const double *c) { (void)c; return CT_TISSUE_BORDER_ZONE; }

static void run_sheet(const char *mesh, const char *extra, ct_run_result *r, ct_sim **sim, ct_config *cfg)
{
    char text[4096], path[512];
    snprintf(text, sizeof text,
             "{\"mesh\": {\"type\": \"file\", \"path\": \"%s\"}, \"model\": {\"name\": \"tp06\"},"
             " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.13342},"
             " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.02, \"end_time_ms\": 45, %s"
             " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,4,0.5], \"amplitude_uA_per_uF\": 60,"
             " \"duration_ms\": 2}],"
             " \"probes\": [{\"name\": \"behind\", \"position_mm\": [8, 0.5, 0.25]},"
             " {\"name\": \"in_scar\", \"position_mm\": [5, 1, 0.25]}]}",
             mesh, extra);
    snprintf(path, sizeof path, "%s/cfg.json", dir);
    ct_test_write(path, text);
    cr_assert_eq(ct_config_load(path, cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_sim_create(cfg, sim), CT_OK, "%s", ct_error_message());
    ct_run_options opt = {.quiet = 1};
    cr_assert_eq(ct_sim_run(*sim, &ct_backend_cpu, &opt, r), CT_OK, "%s", ct_error_message());
}

Test(labels, scar_blocks_and_the_wave_goes_through_the_isthmus, .timeout = 300)
{
    write_sheet("healthy.vtu", healthy);
    write_sheet("scar.vtu", scar_wall);
    ct_run_result r0, r1;
    ct_sim *s0, *s1;
    ct_config c0, c1;
    run_sheet("healthy.vtu", "", &r0, &s0, &c0);
    run_sheet("scar.vtu", "\"tissue\": {\"scar\": {\"sigma_scale\": 0}},", &r1, &s1, &c1);
    double t0 = r0.probe_activation_ms[0], t1 = r1.probe_activation_ms[0];
    fprintf(stderr, "behind the scar: %.2f ms without, %.2f ms with the scar wall\n", t0, t1);
    cr_assert_gt(t0, 0);
    /* the detour through the isthmus at y > 3 mm and back down to y = 0.5 mm is about 1.2 mm longer than
     * the straight path, plus the delay of a wave leaving a narrow isthmus */
    cr_assert_gt(t1, t0 + 1.5, "scar did not delay the wave: %g vs %g ms", t1, t0);
    cr_assert_lt(r1.probe_activation_ms[1], 0.0, "the inside of the scar must not activate");
    cr_assert_gt(r0.probe_activation_ms[1], 0.0);
    /* control: the same labels with a conducting scar change nothing */
    ct_run_result r2;
    ct_sim *s2;
    ct_config c2;
    run_sheet("scar.vtu", "\"tissue\": {\"scar\": {\"sigma_scale\": 1}},", &r2, &s2, &c2);
    cr_assert_float_eq(r2.probe_activation_ms[0], t0, 1e-9, "labels alone changed the answer");
    ct_run_result_free(&r2);
    ct_sim_destroy(s2);
    ct_config_free(&c2);
    ct_run_result_free(&r0);
    ct_run_result_free(&r1);
    ct_sim_destroy(s0);
    ct_sim_destroy(s1);
    ct_config_free(&c0);
    ct_config_free(&c1);
}

Test(labels, border_zone_remodelling_slows_conduction, .timeout = 300)
{
    write_sheet("healthy.vtu", healthy);
    write_sheet("bz.vtu", all_border_zone);
    ct_run_result r0, r1;
    ct_sim *s0, *s1;
    ct_config c0, c1;
    run_sheet("healthy.vtu", "", &r0, &s0, &c0);
    run_sheet("bz.vtu",
              "\"tissue\": {\"border_zone\": {\"conductance_scales\": {\"G_Na\": 0.38, \"G_CaL\": 0.31, \"G_Kr\": 0.30,"
              " \"G_Ks\": 0.20}}},",
              &r1, &s1, &c1);
    double t0 = r0.probe_activation_ms[0], t1 = r1.probe_activation_ms[0];
    fprintf(stderr, "far probe: healthy %.2f ms, border zone %.2f ms\n", t0, t1);
    cr_assert_gt(t1, 1.1 * t0, "I_Na x 0.38 should slow conduction clearly: %g vs %g ms", t1, t0);
    ct_run_result_free(&r0);
    ct_run_result_free(&r1);
    ct_sim_destroy(s0);
    ct_sim_destroy(s1);
    ct_config_free(&c0);
    ct_config_free(&c1);
}

/* Two halves of a strand, endocardial and M cells, read from the mesh's cell_type point field. In the first
 * beat from the initial state APD90 is 282 ms (endo) and 351 ms (M) (`cardiotwin cell --beats 1`): at
 * 320 ms the endocardial half has repolarised and the M half has not. */
Test(labels, cell_type_from_mesh, .timeout = 300)
{
    const double size[3] = {4, 0.5, 0.5}, fibre[3] = {1, 0, 0};
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box(size, 0.5, fibre, &m), CT_OK);
    double *type = malloc(m->n_nodes * sizeof *type);
    for (size_t i = 0; i < m->n_nodes; i++)
        type[i] = m->xyz_mm[3 * i] < 2.0 ? 0.0 : 1.0;
    char path[512];
    snprintf(path, sizeof path, "%s/types.vtu", dir);
    ct_vtk_field pf = {"cell_type", 1, type, CT_VTK_FLOAT64};
    ct_vtk_field cf = {"fibre", 3, m->fibre, CT_VTK_FLOAT64};
    cr_assert_eq(ct_vtk_write_vtu(path, m->n_nodes, m->xyz_mm, m->n_tets, m->tets, &pf, 1, &cf, 1), CT_OK);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"mesh\": {\"type\": \"file\", \"path\": \"%s\"}, \"model\": {\"name\": \"tp06\", \"cell_type\": \"from_mesh\"},"
             " \"conductivity\": {\"sigma_l_S_per_m\": 0.01, \"sigma_t_S_per_m\": 0.01},"
             " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 320,"
             " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [4,1,1], \"amplitude_uA_per_uF\": 52,"
             " \"duration_ms\": 1}]}",
             path);
    ct_config cfg;
    ct_sim *sim;
    ct_run_result r;
    cr_assert_eq(ct_config_parse(text, "types.json", &cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    ct_run_options opt = {.quiet = 1};
    cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &opt, &r), CT_OK, "%s", ct_error_message());
    for (size_t i = 0; i < sim->mesh->n_nodes; i++) {
        double x = sim->mesh->xyz_mm[3 * i];
        if (x <= 1.0)
            cr_assert_lt(r.vm_final_mV[i], -75.0, "endo node at x %g: Vm %g mV at 320 ms", x, r.vm_final_mV[i]);
        if (x >= 3.0)
            cr_assert_gt(r.vm_final_mV[i], -60.0, "M node at x %g: Vm %g mV at 320 ms", x, r.vm_final_mV[i]);
    }
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
    ct_mesh_destroy(m);
    free(type);
}
