/* test_cli.c — the cardiotwin command: bad input gives a clear error and a non-zero exit and leaves an
 * earlier result alone; a good run writes the files it promises; a blow-up is reported with time and place. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_test_util.h"
#include "backend.h"
#include "io/ct_vtk.h"

static const char *good_cfg =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [4, 1, 1], \"dx_mm\": 0.5},\n"
    " \"model\": {\"name\": \"mitchell_schaeffer\"},\n"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.13342},\n"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": %s,\n"
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": %s, "
    "\"duration_ms\": 1}],\n"
    " \"probes\": [{\"name\": \"far\", \"position_mm\": [%s, 0.5, 0.5]}],\n"
    " \"output\": {\"interval_ms\": 5}}\n";

static char *dir;
static char earlier[] = "{\"status\": \"completed\", \"sentinel\": true}\n";

static void setup(void)
{
    dir = ct_test_tmpdir("cli");
    cr_assert(dir);
    char p[512];
    snprintf(p, sizeof p, "%s/out", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/out/metrics.json", dir);
    ct_test_write(p, earlier);
}

static void write_cfg(const char *name, const char *end, const char *amp, const char *probe_x)
{
    char text[4096], p[512];
    snprintf(text, sizeof text, good_cfg, end, amp, probe_x);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(ct_test_write(p, text), 0);
}

/* Runs `cardiotwin run DIR/cfg --out DIR/out`, expects failure mentioning `needle`, and the earlier
 * metrics.json untouched. */
static void expect_refusal(const char *cfg_name, const char *needle)
{
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "run %s/%s --out %s/out --quiet", dir, cfg_name, dir);
    int rc = ct_test_cli(args, &out);
    cr_assert_neq(rc, 0, "expected failure, got 0; output: %s", out);
    cr_assert(out && strstr(out, needle), "output does not mention \"%s\": %s", needle, out);
    char p[512];
    snprintf(p, sizeof p, "%s/out/metrics.json", dir);
    char *m = ct_test_read(p);
    cr_assert(m && strcmp(m, earlier) == 0, "an earlier result was overwritten: %s", m);
    free(m);
    free(out);
}

static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}

TestSuite(cli, .init = setup, .fini = teardown);

Test(cli, help_lists_the_subcommands)
{
    char *out = NULL;
    cr_assert_eq(ct_test_cli("--help", &out), 0);
    cr_assert(strstr(out, "run CONFIG.json --out DIR"), "%s", out);
    free(out);
    cr_assert_neq(ct_test_cli("frobnicate", NULL), 0);
}

Test(cli, missing_config_file)
{
    expect_refusal("nope.json", "nope.json: cannot open");
}

Test(cli, malformed_json)
{
    char p[512];
    snprintf(p, sizeof p, "%s/bad.json", dir);
    ct_test_write(p, "{\"mesh\": {\"type\": \"box\"\n\"dx_mm\": }");
    expect_refusal("bad.json", "bad.json:2:");
}

Test(cli, negative_dt)
{
    write_cfg("c.json", "10", "50", "4");
    char p[512];
    snprintf(p, sizeof p, "%s/c.json", dir);
    char *t = ct_test_read(p);
    char *at = strstr(t, "\"dt_ms\": 0.05");
    memcpy(at, "\"dt_ms\":-0.05", 13);
    ct_test_write(p, t);
    free(t);
    expect_refusal("c.json", "\"dt_ms\" = -0.05 is out of range");
}

Test(cli, unknown_model)
{
    write_cfg("c.json", "10", "50", "4");
    char p[512];
    snprintf(p, sizeof p, "%s/c.json", dir);
    char *t = ct_test_read(p);
    char *at = strstr(t, "mitchell_schaeffer");
    memcpy(at, "mitchell_schaefer ", 18);
    ct_test_write(p, t);
    free(t);
    expect_refusal("c.json", "model.name \"mitchell_schaefer \" is not known");
}

Test(cli, probe_outside_mesh)
{
    write_cfg("c.json", "10", "50", "4.5");
    expect_refusal("c.json", "probes[0] (\"far\") at (4.5, 0.5, 0.5) mm lies outside the mesh");
}

Test(cli, too_large_explicit_dt)
{
    write_cfg("c.json", "10", "50", "4");
    char p[512];
    snprintf(p, sizeof p, "%s/c.json", dir);
    char *t = ct_test_read(p);
    char *at = strstr(t, "\"dt_ms\": 0.05");
    memcpy(at, "\"dt_ms\": 2.00", 13);
    ct_test_write(p, t);
    free(t);
    expect_refusal("c.json", "largest safe time step is");
}

/* A backend this machine cannot run, asked of the backend table (so the test holds on a GPU machine too): the
 * first of cuda, opencl whose probe fails here (or that is not compiled in); where both run, cuda pointed at a
 * device index that does not exist (its device_env, CT_CUDA_DEVICE), which its probe refuses. */
Test(cli, unavailable_backend)
{
    write_cfg("c.json", "10", "50", "4");
    const char *names[] = {"cuda", "opencl"}, *name = NULL, *env = "";
    for (int k = 0; k < 2 && !name; k++) {
        const ct_backend_ops *be;
        char why[512];
        if (ct_backend_select(names[k], &be, why, sizeof why) != CT_OK)
            name = names[k];
    }
    if (!name) {
        name = "cuda";
        env = "CT_CUDA_DEVICE=9999 ";
    }
    char args[1024], *out = NULL, needle[64];
    snprintf(args, sizeof args, "%s%s run %s/c.json --out %s/out --backend %s", env, CT_BINARY, dir, dir, name);
    cr_assert_neq(ct_test_shell(args, &out), 0, "%s", out);
    snprintf(needle, sizeof needle, "backend \"%s\" is not available", name);
    cr_assert(strstr(out, needle), "%s: %s", args, out);
    free(out);
}

Test(cli, good_run_writes_series_activation_and_metrics)
{
    write_cfg("c.json", "30", "50", "4");
    char args[1024], *out = NULL, p[512];
    snprintf(args, sizeof args, "run %s/c.json --out %s/out --quiet", dir, dir);
    cr_assert_eq(ct_test_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/out/metrics.json", dir);
    char *m = ct_test_read(p);
    cr_assert(m && strstr(m, "\"status\":\t\"completed\""), "%s", m);
    cr_assert(strstr(m, "\"name\":\t\"far\""), "%s", m);
    cr_assert(strstr(m, "node_steps_per_s"), "%s", m);
    free(m);
    snprintf(p, sizeof p, "%s/out/vm.pvd", dir);
    char *pvd = ct_test_read(p);
    cr_assert(pvd && strstr(pvd, "vm_000006.vtu") && !strstr(pvd, "vm_000007.vtu"), "7 frames at 0..30 ms: %s", pvd);
    free(pvd);
    /* the activation map reads back through VTK; the far end activates after the near end */
    snprintf(p, sizeof p, "%s/out/activation.vtu", dir);
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(p, &g), CT_OK, "%s", ct_error_message());
    const double *act;
    int nc;
    cr_assert_eq(ct_vtk_grid_point_field(g, "activation_time_ms", &act, &nc), CT_OK);
    const double *x = ct_vtk_grid_points(g);
    double near = -1, far = -1;
    for (size_t i = 0; i < ct_vtk_grid_n_points(g); i++) {
        cr_assert_geq(act[i], 0.0, "node %zu never activated", i);
        if (x[3 * i] == 0.0)
            near = act[i];
        if (x[3 * i] == 4.0)
            far = act[i];
    }
    cr_assert_gt(far, near + 5.0, "far end %g ms, near end %g ms", far, near);
    ct_vtk_grid_destroy(g);
}

Test(cli, blow_up_is_reported_with_time_and_place_and_keeps_output)
{
    /* 5000 uA/uF for 1 ms drives Vm far past 200 mV within a few steps */
    write_cfg("c.json", "30", "5000", "4");
    char args[1024], *out = NULL, p[512];
    snprintf(args, sizeof args, "run %s/c.json --out %s/out --quiet", dir, dir);
    cr_assert_neq(ct_test_cli(args, &out), 0);
    cr_assert(strstr(out, "blew up at t = ") && strstr(out, "mm"), "%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/out/metrics.json", dir);
    char *m = ct_test_read(p);
    cr_assert(m && strstr(m, "\"status\":\t\"failed\"") && strstr(m, "blew up"), "%s", m);
    free(m);
    snprintf(p, sizeof p, "%s/out/vm_000000.vtu", dir);
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0, "the initial frame written before the blow-up must remain");
}

/* A run asking for an ECG and per-beat tracking writes ecg.csv, beats.vtu and their metrics. */
Test(cli, ecg_beats_and_velocity_outputs)
{
    char text[4096], p[512], args[1024], *out = NULL;
    snprintf(text, sizeof text, good_cfg, "400", "50", "4");
    char *end = strrchr(text, '}');
    snprintf(end, 200, ", \"ecg\": {\"interval_ms\": 1}, \"max_beats\": 2}\n");
    snprintf(p, sizeof p, "%s/e.json", dir);
    cr_assert_eq(ct_test_write(p, text), 0);
    snprintf(args, sizeof args, "run %s/e.json --out %s/out --quiet", dir, dir);
    cr_assert_eq(ct_test_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(p, sizeof p, "%s/out/metrics.json", dir);
    char *m = ct_test_read(p);
    cr_assert(m && strstr(m, "\"qrs_ms\"") && strstr(m, "\"apd90_mean_ms\"") && strstr(m, "\"conduction_velocity\"") &&
                  strstr(m, "\"max_repolarisation_gradient_ms_per_mm\""),
              "%s", m);
    free(m);
    snprintf(p, sizeof p, "%s/out/ecg.csv", dir);
    char *csv = ct_test_read(p);
    cr_assert(csv && strncmp(csv, "time_ms,I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6\n", 47) == 0, "%s", csv);
    int rows = 0;
    for (char *c = csv; *c; c++)
        rows += *c == '\n';
    cr_assert_eq(rows, 1 + 401, "one row per ms from 0 to 400 ms plus the header, got %d lines", rows);
    free(csv);
    /* beats.vtu: the single paced beat repolarised everywhere, beat 2 never happened */
    snprintf(p, sizeof p, "%s/out/beats.vtu", dir);
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(p, &g), CT_OK, "%s", ct_error_message());
    const double *apd1, *act2;
    int nc;
    cr_assert_eq(ct_vtk_grid_point_field(g, "apd90_ms_beat1", &apd1, &nc), CT_OK);
    cr_assert_eq(ct_vtk_grid_point_field(g, "activation_ms_beat2", &act2, &nc), CT_OK);
    for (size_t i = 0; i < ct_vtk_grid_n_points(g); i++) {
        cr_assert(apd1[i] > 200 && apd1[i] < 350, "Mitchell-Schaeffer APD90 %g ms at node %zu", apd1[i], i);
        cr_assert_eq(act2[i], -1.0);
    }
    ct_vtk_grid_destroy(g);
}
