/* test_mpi.c — `mpiexec -n N cardiotwin run` gives the serial answer.
 *
 * The N-version slab (dx 0.5 mm, dt 0.05 ms, explicit diffusion with the consistent mass, so a CG solve per
 * step) is run serially and split across 2 and 3 ranks (3 ranks on 2 cores: oversubscribed), and the
 * activation maps (activation.vtu, read back with ct_vtk) must agree at every node within 1e-9 ms, with the
 * same nodes activated: on the CPU backend to 60 ms (all of the slab activates, P8 at ~56 ms), on OpenCL
 * (PoCL) and with Crank-Nicolson on the CPU over shorter runs. The parallel Vm frames (one piece per rank and
 * a .pvtu) must hold the serial frame's values, and a blow-up seen by one rank must stop every rank with
 * the serial run's message, not hang. A 2-rank run stopped and restarted from its checkpoint ends exactly
 * as the uninterrupted one.
 *
 * The ranks run with OMP_NUM_THREADS=1 (see mpi_env for Open MPI's settings). Skipped where MPI was not
 * compiled in. About a minute on two idle cores, most of it the 60 ms CPU case.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../kernels/backend.h"
#include "mesh/ct_mesh.h"
#include "ct_test_util.h"
#include "io/ct_vtk.h"

#if defined(CT_HAVE_MPI) && defined(CT_MPIEXEC)

#define ACT_TOL_MS 1e-9

/* Open MPI: may start as root; ranks not pinned to cores and yielding while they wait, so that 3 ranks on 2
 * cores (or 2 on a busy machine) take turns instead of spinning against each other. Other MPIs ignore these. */
static void mpi_env(void)
{
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_hwloc_base_binding_policy", "none", 1);
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
}

/* `cardiotwin run config --out dir --backend be --quiet` on n_ranks ranks (0: plainly, without mpiexec). */
static int run_ranks(int n_ranks, const char *config, const char *dir, const char *backend, char **output)
{
    char cmd[4096];
    if (n_ranks == 0)
        snprintf(cmd, sizeof cmd, "%s run %s --out %s --backend %s --quiet", CT_BINARY, config, dir, backend);
    else
        snprintf(cmd, sizeof cmd, "%s %s %d %s %s run %s --out %s --backend %s --quiet", CT_MPIEXEC, CT_MPIEXEC_NP,
                 n_ranks, CT_MPIEXEC_PREFLAGS, CT_BINARY, config, dir, backend);
    return ct_test_shell(cmd, output);
}

/* The N-version slab configuration with its end time and diffusion changed, its Vm output interval set (0: no
 * frames) and, if stim_amplitude is not 0, the stimulus amplitude (uA/uF) replaced, written into dir/name. */
static void write_config(const char *dir, const char *name, double end_ms, const char *method, double interval_ms,
                         double stim_amplitude, char *path, size_t path_len)
{
    char *text = ct_test_read(CT_SOURCE_DIR "/meshes/nversion_dx0.5_dt0.05.json");
    cr_assert_not_null(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    cJSON_ReplaceItemInObject(root, "end_time_ms", cJSON_CreateNumber(end_ms));
    cJSON *diff = cJSON_GetObjectItem(root, "diffusion");
    cr_assert_not_null(diff);
    cJSON_ReplaceItemInObject(diff, "method", cJSON_CreateString(method));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "interval_ms", interval_ms);
    if (cJSON_GetObjectItem(root, "output"))
        cJSON_ReplaceItemInObject(root, "output", o);
    else
        cJSON_AddItemToObject(root, "output", o);
    if (stim_amplitude != 0) {
        cJSON *stim = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "stimuli"), 0);
        cr_assert_not_null(stim);
        cJSON_ReplaceItemInObject(stim, "amplitude_uA_per_uF", cJSON_CreateNumber(stim_amplitude));
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    snprintf(path, path_len, "%s/%s", dir, name);
    cr_assert_eq(ct_test_write(path, out), 0);
    cJSON_free(out);
}

/* max |a - b| of activation_time_ms between two activation.vtu files; asserts the same nodes activated. */
static double activation_diff(const char *dir_a, const char *dir_b, const char *label, size_t *n_activated)
{
    char pa[1100], pb[1100];
    snprintf(pa, sizeof pa, "%s/activation.vtu", dir_a);
    snprintf(pb, sizeof pb, "%s/activation.vtu", dir_b);
    ct_vtk_grid *a = NULL, *b = NULL;
    cr_assert_eq(ct_vtk_read_vtu(pa, &a), CT_OK, "%s: %s", label, ct_error_message());
    cr_assert_eq(ct_vtk_read_vtu(pb, &b), CT_OK, "%s: %s", label, ct_error_message());
    size_t n = ct_vtk_grid_n_points(a);
    cr_assert_eq(n, ct_vtk_grid_n_points(b), "%s: %zu vs %zu nodes", label, n, ct_vtk_grid_n_points(b));
    const double *x, *y;
    int nc;
    cr_assert_eq(ct_vtk_grid_point_field(a, "activation_time_ms", &x, &nc), CT_OK);
    cr_assert_eq(ct_vtk_grid_point_field(b, "activation_time_ms", &y, &nc), CT_OK);
    double worst = 0.0;
    *n_activated = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert((x[i] < 0) == (y[i] < 0), "%s: node %zu activation %.17g vs %.17g ms", label, i, x[i], y[i]);
        if (x[i] >= 0) {
            (*n_activated)++;
            worst = fmax(worst, fabs(x[i] - y[i]));
        }
    }
    ct_vtk_grid_destroy(a);
    ct_vtk_grid_destroy(b);
    return worst;
}

/* Serial, 2 and 3 ranks on one configuration and backend: activation maps within ACT_TOL_MS. */
static void compare_ranks(const char *tag, double end_ms, const char *method, const char *backend,
                          size_t min_activated)
{
    mpi_env();
    char *dir = ct_test_tmpdir(tag);
    cr_assert_not_null(dir);
    char config[1024], serial[1024];
    write_config(dir, "slab.json", end_ms, method, 0, 0, config, sizeof config);
    snprintf(serial, sizeof serial, "%s/serial", dir);
    char *log = NULL;
    int rc = run_ranks(0, config, serial, backend, &log);
    cr_assert_eq(rc, 0, "%s serial: exit %d\n%s", tag, rc, log ? log : "");
    free(log);
    for (int np = 2; np <= 3; np++) {
        char par[1024];
        snprintf(par, sizeof par, "%s/np%d", dir, np);
        rc = run_ranks(np, config, par, backend, &log);
        cr_assert_eq(rc, 0, "%s, %d ranks: exit %d\n%s", tag, np, rc, log ? log : "");
        free(log);
        char label[128];
        snprintf(label, sizeof label, "%s, %d ranks", tag, np);
        size_t n_act = 0;
        double d = activation_diff(serial, par, label, &n_act);
        fprintf(stderr, "mpi vs serial, %s (%s, %s, %g ms): %zu nodes activated, max |d activation| = %.3e ms\n", label,
                backend, method, end_ms, n_act, d);
        cr_assert_geq(n_act, min_activated, "%s: only %zu nodes activated", label, n_act);
        cr_assert_leq(d, ACT_TOL_MS, "%s: activation differs by %.3e ms", label, d);
    }
    ct_test_rmtree(dir);
    free(dir);
}

/* The whole slab (4305 nodes) activates by 60 ms. */
Test(mpi, cpu_explicit_consistent_matches_serial, .timeout = 600)
{
    compare_ranks("mpi_cpu", 60.0, "explicit", "cpu", 4305);
}

Test(mpi, cpu_crank_nicolson_matches_serial, .timeout = 600)
{
    compare_ranks("mpi_cn", 15.0, "crank_nicolson", "cpu", 500);
}

Test(mpi, opencl_explicit_consistent_matches_serial, .timeout = 600)
{
    if (ct_backend_opencl.probe() != CT_OK)
        cr_skip_test("OpenCL backend unavailable: %s", ct_error_message());
    compare_ranks("mpi_ocl", 20.0, "explicit", "opencl", 1000);
}

/* Frames: every rank writes its piece, rank 0 the .pvtu and the .pvd; the pieces hold the serial frame's Vm
 * at the same points, and together cover every element once. */
Test(mpi, frames_are_pieces_of_the_serial_frame, .timeout = 300)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpi_frames");
    char config[1024], serial[1024], par[1024], path[1200];
    write_config(dir, "slab.json", 10.0, "explicit", 5.0, 0, config, sizeof config);
    snprintf(serial, sizeof serial, "%s/serial", dir);
    snprintf(par, sizeof par, "%s/np2", dir);
    char *log = NULL;
    cr_assert_eq(run_ranks(0, config, serial, "cpu", &log), 0, "%s", log);
    free(log);
    cr_assert_eq(run_ranks(2, config, par, "cpu", &log), 0, "%s", log);
    free(log);
    snprintf(path, sizeof path, "%s/vm.pvd", par);
    char *pvd = ct_test_read(path);
    cr_assert_not_null(pvd);
    cr_assert(strstr(pvd, "vm_000002.pvtu") != NULL, "vm.pvd lists the .pvtu frames:\n%s", pvd);
    free(pvd);
    snprintf(path, sizeof path, "%s/vm_000002.pvtu", par);
    char *pvtu = ct_test_read(path);
    cr_assert_not_null(pvtu);
    cr_assert(strstr(pvtu, "vm_000002_p0000.vtu") && strstr(pvtu, "vm_000002_p0001.vtu"), "%s", pvtu);
    free(pvtu);

    snprintf(path, sizeof path, "%s/vm_000002.vtu", serial);
    ct_vtk_grid *whole = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &whole), CT_OK, "%s", ct_error_message());
    const double *xyz = ct_vtk_grid_points(whole), *vm;
    int nc;
    cr_assert_eq(ct_vtk_grid_point_field(whole, "Vm_mV", &vm, &nc), CT_OK);
    size_t n = ct_vtk_grid_n_points(whole), tets = 0;
    double worst = 0.0;
    for (int r = 0; r < 2; r++) {
        snprintf(path, sizeof path, "%s/vm_000002_p%04d.vtu", par, r);
        ct_vtk_grid *piece = NULL;
        cr_assert_eq(ct_vtk_read_vtu(path, &piece), CT_OK, "%s", ct_error_message());
        const double *pxyz = ct_vtk_grid_points(piece), *pvm;
        cr_assert_eq(ct_vtk_grid_point_field(piece, "Vm_mV", &pvm, &nc), CT_OK);
        tets += ct_vtk_grid_n_tets(piece);
        for (size_t k = 0; k < ct_vtk_grid_n_points(piece); k++) {
            size_t i = 0;
            while (i < n && (fabs(xyz[3 * i] - pxyz[3 * k]) > 1e-9 || fabs(xyz[3 * i + 1] - pxyz[3 * k + 1]) > 1e-9 ||
                             fabs(xyz[3 * i + 2] - pxyz[3 * k + 2]) > 1e-9))
                i++;
            cr_assert_lt(i, n, "piece %d point %zu is not a mesh node", r, k);
            worst = fmax(worst, fabs(vm[i] - pvm[k]));
        }
        ct_vtk_grid_destroy(piece);
    }
    cr_assert_eq(tets, ct_vtk_grid_n_tets(whole), "the pieces hold %zu elements, the mesh %zu", tets,
                 ct_vtk_grid_n_tets(whole));
    fprintf(stderr, "mpi frames: 2 pieces, %zu elements, max |d Vm| vs serial at 10 ms = %.3e mV\n", tets, worst);
    cr_assert_leq(worst, 1e-9);
    ct_vtk_grid_destroy(whole);
    ct_test_rmtree(dir);
    free(dir);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* A piece or whole-mesh output file `file` lines up with the mesh file (xyz, tets, cell_type, tissue, aha):
 * every node's node_id names the file's node at the same place with the same cell_type, and every element
 * (found by its corners' node ids) has the file element's tissue and aha_segment. Returns the elements. */
static size_t check_lines_up(const char *file, size_t n, const double *xyz, size_t ne, const int32_t *tets,
                             const double *type, const double *tissue, const double *aha)
{
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(file, &g), CT_OK, "%s", ct_error_message());
    const double *id, *pt, *pz, *pa, *px = ct_vtk_grid_points(g);
    int nc;
    cr_assert_eq(ct_vtk_grid_point_field(g, "node_id", &id, &nc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_vtk_grid_point_field(g, "cell_type", &pt, &nc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_vtk_grid_cell_field(g, "tissue", &pz, &nc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_vtk_grid_cell_field(g, "aha_segment", &pa, &nc), CT_OK, "%s", ct_error_message());
    for (size_t k = 0; k < ct_vtk_grid_n_points(g); k++) {
        cr_assert(id[k] >= 0 && id[k] < (double)n, "%s: node %zu: node_id %g", file, k, id[k]);
        size_t i = (size_t)id[k];
        for (int d = 0; d < 3; d++)
            cr_assert_eq(px[3 * k + d], xyz[3 * i + d], "%s: node %zu is not at mesh-file node %zu", file, k, i);
        cr_assert_eq(pt[k], type[i], "%s: node %zu: cell_type", file, k);
    }
    const int32_t *pt4 = ct_vtk_grid_tets(g);
    for (size_t k = 0; k < ct_vtk_grid_n_tets(g); k++) {
        int32_t a[4], b[4];
        for (int c = 0; c < 4; c++)
            a[c] = (int32_t)id[pt4[4 * k + c]];
        qsort(a, 4, sizeof *a, cmp_i32);
        size_t e = 0;
        for (; e < ne; e++) {
            memcpy(b, tets + 4 * e, sizeof b);
            qsort(b, 4, sizeof *b, cmp_i32);
            if (memcmp(a, b, sizeof a) == 0)
                break;
        }
        cr_assert_lt(e, ne, "%s: element %zu is no element of the mesh file", file, k);
        cr_assert_eq(pz[k], tissue[e], "%s: element %zu: tissue", file, k);
        cr_assert_eq(pa[k], aha[e], "%s: element %zu: aha_segment", file, k);
    }
    size_t nt = ct_vtk_grid_n_tets(g);
    ct_vtk_grid_destroy(g);
    return nt;
}

/* A labelled mesh file (point field cell_type, cell fields tissue and aha_segment): the serial run's
 * activation.vtu and frames, and each piece of a 2-rank run's frames, carry node_id and the labels. */
Test(mpi, pieces_carry_node_ids_and_labels, .timeout = 300)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpi_labels");
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box((const double[3]){6, 3, 2}, 0.5, (const double[3]){1, 0, 0}, &m), CT_OK);
    size_t n = m->n_nodes, ne = m->n_tets;
    double *type = malloc(n * sizeof *type), *tissue = malloc(ne * sizeof *tissue), *aha = malloc(ne * sizeof *aha);
    for (size_t i = 0; i < n; i++)
        type[i] = fmin(2.0, floor(m->xyz_mm[3 * i] / 2.0));
    for (size_t e = 0; e < ne; e++) {
        double c[3];
        ct_mesh_tet_centroid(m, e, c);
        tissue[e] = c[0] > 4.5 ? 1 : 0;
        aha[e] = (double)(1 + e % 17);
    }
    char path[1200], config[1200], serial[1024], par[1024];
    snprintf(path, sizeof path, "%s/labelled.vtu", dir);
    ct_vtk_field pf = {"cell_type", 1, type, CT_VTK_FLOAT64};
    ct_vtk_field cf[3] = {{"fibre", 3, m->fibre, CT_VTK_FLOAT64}, {"tissue", 1, tissue, CT_VTK_FLOAT64},
                          {"aha_segment", 1, aha, CT_VTK_FLOAT64}};
    cr_assert_eq(ct_vtk_write_vtu(path, n, m->xyz_mm, ne, m->tets, &pf, 1, cf, 3), CT_OK, "%s", ct_error_message());
    snprintf(config, sizeof config, "%s/labelled.json", dir);
    ct_test_write(config,
                  "{\"mesh\": {\"type\": \"file\", \"path\": \"labelled.vtu\"},"
                  " \"model\": {\"name\": \"tp06\", \"cell_type\": \"from_mesh\"},"
                  " \"conductivity\": {\"sigma_l_S_per_m\": 0.13, \"sigma_t_S_per_m\": 0.02},"
                  " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 2,"
                  " \"stimuli\": [{\"box_min_mm\": [0, 0, 0], \"box_max_mm\": [1, 3, 2], \"amplitude_uA_per_uF\": 50,"
                  " \"duration_ms\": 1}], \"output\": {\"interval_ms\": 1}}");
    snprintf(serial, sizeof serial, "%s/serial", dir);
    snprintf(par, sizeof par, "%s/np2", dir);
    char *log = NULL;
    cr_assert_eq(run_ranks(0, config, serial, "cpu", &log), 0, "%s", log);
    free(log);
    cr_assert_eq(run_ranks(2, config, par, "cpu", &log), 0, "%s", log);
    free(log);
    const char *whole[] = {"activation.vtu", "vm_000001.vtu"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", serial, whole[k]);
        cr_assert_eq(check_lines_up(path, n, m->xyz_mm, ne, m->tets, type, tissue, aha), ne);
    }
    snprintf(path, sizeof path, "%s/activation.vtu", par);
    cr_assert_eq(check_lines_up(path, n, m->xyz_mm, ne, m->tets, type, tissue, aha), ne);
    size_t tets = 0;
    for (int r = 0; r < 2; r++) {
        snprintf(path, sizeof path, "%s/vm_000001_p%04d.vtu", par, r);
        tets += check_lines_up(path, n, m->xyz_mm, ne, m->tets, type, tissue, aha);
    }
    cr_assert_eq(tets, ne);
    snprintf(path, sizeof path, "%s/vm_000001.pvtu", par);
    char *pvtu = ct_test_read(path);
    cr_assert_not_null(pvtu);
    const char *arrays[] = {"Name=\"node_id\"", "Name=\"cell_type\"", "Name=\"tissue\"", "Name=\"aha_segment\""};
    for (int k = 0; k < 4; k++)
        cr_assert(strstr(pvtu, arrays[k]), "the .pvtu does not list %s:\n%s", arrays[k], pvtu);
    free(pvtu);
    free(type);
    free(tissue);
    free(aha);
    ct_mesh_destroy(m);
    ct_test_rmtree(dir);
    free(dir);
}

/* The blow-up line of a run's output ("simulation blew up at t = ...: Vm = ... at node ..., position ..."). */
static char *blowup_line(const char *log)
{
    const char *at = log ? strstr(log, "simulation blew up") : NULL;
    if (!at)
        return NULL;
    size_t len = strcspn(at, "\n");
    char *line = malloc(len + 1);
    memcpy(line, at, len);
    line[len] = '\0';
    return line;
}

/* A stimulus of 5000 uA/uF drives Vm past the bound (200 mV) within two steps at the stimulated corner, in one
 * or two ranks' share: every rank stops at the same step, the job exits with status 1 and the message (time,
 * global node, position) is the serial run's. */
Test(mpi, blowup_on_one_rank_stops_all, .timeout = 300)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpi_blowup");
    char config[1024], serial[1024], par[1024];
    write_config(dir, "slab.json", 10.0, "explicit", 0, 5000.0, config, sizeof config);
    snprintf(serial, sizeof serial, "%s/serial", dir);
    char *log = NULL;
    cr_assert_eq(run_ranks(0, config, serial, "cpu", &log), 1, "%s", log);
    char *want = blowup_line(log);
    cr_assert_not_null(want, "serial: no blow-up message in\n%s", log);
    free(log);
    for (int np = 2; np <= 3; np++) {
        snprintf(par, sizeof par, "%s/np%d", dir, np);
        int rc = run_ranks(np, config, par, "cpu", &log);
        cr_assert_neq(rc, 0, "%d ranks: a blow-up must fail the run\n%s", np, log);
        char *got = blowup_line(log);
        cr_assert_not_null(got, "%d ranks: no blow-up message in\n%s", np, log);
        cr_assert_str_eq(got, want, "%d ranks: \"%s\", serial \"%s\"", np, got, want);
        fprintf(stderr, "mpi blow-up, %d ranks: %s\n", np, got);
        free(got);
        free(log);
        char metrics[1200];
        snprintf(metrics, sizeof metrics, "%s/metrics.json", par);
        char *text = ct_test_read(metrics);
        cr_assert(text && strstr(text, "\"failed\""), "%d ranks: metrics.json records the failure", np);
        free(text);
    }
    free(want);
    ct_test_rmtree(dir);
    free(dir);
}

/* A failure on one rank only (here rank 1 is given a configuration that does not exist, with mpiexec's
 * MPMD syntax) stops every rank with that rank's message, before anything collective can hang. */
Test(mpi, failure_on_one_rank_stops_all, .timeout = 120)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpi_onefails");
    char config[1024], cmd[4096];
    write_config(dir, "slab.json", 1.0, "explicit", 0, 0, config, sizeof config);
    snprintf(cmd, sizeof cmd, "%s %s 1 %s %s run %s --out %s/out --quiet : %s 1 %s run %s/missing.json --out %s/out --quiet",
             CT_MPIEXEC, CT_MPIEXEC_NP, CT_MPIEXEC_PREFLAGS, CT_BINARY, config, dir, CT_MPIEXEC_NP, CT_BINARY, dir, dir);
    char *log = NULL;
    int rc = ct_test_shell(cmd, &log);
    cr_assert_neq(rc, 0, "%s", log);
    cr_assert(log && strstr(log, "rank 1: ") && strstr(log, "missing.json"), "the message names rank 1 and the file:\n%s",
              log);
    free(log);
    ct_test_rmtree(dir);
    free(dir);
}

/* Two files have the same bytes. */
static void same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = ct_test_read_bytes(a, &la), *y = ct_test_read_bytes(b, &lb);
    cr_assert(x && y, "cannot read %s or %s", a, b);
    cr_assert(la == lb && memcmp(x, y, la) == 0, "%s and %s differ (%zu and %zu bytes)", a, b, la, lb);
    free(x);
    free(y);
}

/* Checkpoint and restart of a run split across 2 ranks: stopped at 9 ms (last checkpoint at 8 ms) and
 * restarted on 2 ranks, it ends exactly as the uninterrupted 2-rank run (activation map, the last Vm frame's
 * pieces byte for byte, the frame list); restarting that checkpoint on 3 ranks or serially is refused. */
Test(mpi, restart_equals_uninterrupted_on_two_ranks, .timeout = 600)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpi_ckpt");
    cr_assert_not_null(dir);
    char config[1024], cmd[8192], ck[1200];
    write_config(dir, "slab.json", 15.0, "crank_nicolson", 2.0, 0, config, sizeof config);
    char *log = NULL;
    const char *mpi = CT_MPIEXEC " " CT_MPIEXEC_NP;
    snprintf(cmd, sizeof cmd, "%s 2 %s %s run %s --out %s/whole --backend cpu --quiet", mpi, CT_MPIEXEC_PREFLAGS,
             CT_BINARY, config, dir);
    int rc = ct_test_shell(cmd, &log);
    cr_assert_eq(rc, 0, "uninterrupted: exit %d\n%s", rc, log ? log : "");
    free(log);
    snprintf(cmd, sizeof cmd, "%s 2 %s %s run %s --out %s/split --backend cpu --quiet "
             "--checkpoint-every 4 --stop-at 9", mpi, CT_MPIEXEC_PREFLAGS, CT_BINARY, config, dir);
    rc = ct_test_shell(cmd, &log);
    cr_assert_eq(rc, 0, "interrupted: exit %d\n%s", rc, log ? log : "");
    free(log);
    snprintf(ck, sizeof ck, "%s/split/checkpoint.ctck", dir);
    struct stat sb;
    cr_assert(stat(ck, &sb) == 0 && sb.st_size > 100, "no checkpoint manifest written"); /* pieces: test_mpi_ckpt */

    /* the wrong rank counts are refused, naming the file and the counts */
    snprintf(cmd, sizeof cmd, "%s 3 %s %s run %s --out %s/np3 --backend cpu --quiet --restart %s", mpi,
             CT_MPIEXEC_PREFLAGS, CT_BINARY, config, dir, ck);
    rc = ct_test_shell(cmd, &log);
    cr_assert_neq(rc, 0, "a 2-rank checkpoint restarted on 3 ranks\n%s", log ? log : "");
    cr_assert(log && strstr(log, ck) && strstr(log, "2 MPI rank(s); this run has 3"), "%s", log ? log : "");
    free(log);
    snprintf(cmd, sizeof cmd, "%s run %s --out %s/serial --backend cpu --quiet --restart %s", CT_BINARY, config, dir, ck);
    rc = ct_test_shell(cmd, &log);
    cr_assert_neq(rc, 0, "a 2-rank checkpoint restarted serially\n%s", log ? log : "");
    cr_assert(log && strstr(log, "this run has 1"), "%s", log ? log : "");
    free(log);

    snprintf(cmd, sizeof cmd, "%s 2 %s %s run %s --out %s/split --backend cpu --quiet --restart %s", mpi,
             CT_MPIEXEC_PREFLAGS, CT_BINARY, config, dir, ck);
    rc = ct_test_shell(cmd, &log);
    cr_assert_eq(rc, 0, "restart: exit %d\n%s", rc, log ? log : "");
    free(log);

    char a[1100], b[1100];
    snprintf(a, sizeof a, "%s/whole", dir);
    snprintf(b, sizeof b, "%s/split", dir);
    size_t n_act = 0;
    double d = activation_diff(a, b, "restart on 2 ranks", &n_act);
    fprintf(stderr, "mpi restart, 2 ranks: %zu nodes activated, max |d activation| = %.3e ms\n", n_act, d);
    cr_assert_gt(n_act, 100);
    cr_assert_eq(d, 0.0, "the restarted run differs from the uninterrupted one by %.3e ms", d);
    const char *same[] = {"vm.pvd", "vm_000007.pvtu", "vm_000007_p0000.vtu", "vm_000007_p0001.vtu"};
    for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
        snprintf(a, sizeof a, "%s/whole/%s", dir, same[k]);
        snprintf(b, sizeof b, "%s/split/%s", dir, same[k]);
        same_file(a, b);
    }
    ct_test_rmtree(dir);
    free(dir);
}

/* The slab configuration at dir/name with its "mesh" object replaced by the JSON text `mesh`. */
static void write_mesh_variant(const char *dir, const char *name, const char *mesh, char *path, size_t len)
{
    write_config(dir, name, 1.0, "explicit", 0, 0, path, len);
    char *text = ct_test_read(path);
    cr_assert_not_null(text);
    cJSON *root = cJSON_Parse(text), *m = cJSON_Parse(mesh);
    free(text);
    cr_assert(root && m, "%s", mesh);
    cJSON_ReplaceItemInObject(root, "mesh", m);
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    cr_assert_eq(ct_test_write(path, out), 0);
    cJSON_free(out);
}

/* Occurrences of `what` in `text`. */
static int count_of(const char *text, const char *what)
{
    int k = 0;
    for (const char *p = text ? strstr(text, what) : NULL; p; p = strstr(p + 1, what))
        k++;
    return k;
}

/* Bad input under MPI at the split set-up (every rank reads the mesh itself, ct_sim_create_split): a rank
 * that cannot read its mesh, and a rank that reads another mesh than rank 0, stop every rank (no hang)
 * with one message naming the rank and the file. */
Test(mpi, bad_mesh_on_one_rank_stops_all, .timeout = 300)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpi_badmesh");
    char good[1024], gone[1024], other[1024], cmd[8192], mesh[512];
    write_config(dir, "good.json", 1.0, "explicit", 0, 0, good, sizeof good);
    snprintf(mesh, sizeof mesh, "{\"type\": \"file\", \"path\": \"%s/gone_mesh.vtu\"}", dir);
    write_mesh_variant(dir, "gone.json", mesh, gone, sizeof gone);
    /* the slab's box at another resolution: a mesh that reads, but not rank 0's */
    write_mesh_variant(dir, "other.json",
                       "{\"type\": \"box\", \"size_mm\": [20, 7, 3], \"dx_mm\": 0.25, \"fibre_direction\": [1, 0, 0]}",
                       other, sizeof other);
    const char *second[2] = {gone, other};
    const char *expect[2] = {"gone_mesh.vtu", "is not rank 0's"};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd,
                 "%s %s 1 %s %s run %s --out %s/out%d --quiet : %s 1 %s run %s --out %s/out%d --quiet : "
                 "%s 1 %s run %s --out %s/out%d --quiet",
                 CT_MPIEXEC, CT_MPIEXEC_NP, CT_MPIEXEC_PREFLAGS, CT_BINARY, good, dir, k, CT_MPIEXEC_NP, CT_BINARY,
                 second[k], dir, k, CT_MPIEXEC_NP, CT_BINARY, good, dir, k);
        char *log = NULL;
        int rc = ct_test_shell(cmd, &log);
        cr_assert_neq(rc, 0, "%s", log);
        cr_assert(log && strstr(log, "rank 1: ") && strstr(log, expect[k]),
                  "the message names rank 1 and \"%s\":\n%s", expect[k], log);
        cr_assert_eq(count_of(log, expect[k]), 1, "one message, from rank 0 only:\n%s", log);
        cr_assert_null(strstr(log, "MPI_ABORT"), "the ranks stop on the agreed status, not by MPI_Abort:\n%s", log);
        free(log);
    }
    ct_test_rmtree(dir);
    free(dir);
}

/* The split set-up reports its phases: metrics.json's "setup" (rank 0's and the slowest rank's) and rank 0's
 * console line, and a 2-rank run's explicit time-step limit (a maximum over the ranks' owned rows) is the
 * serial one to the printed digits. */
Test(mpi, setup_phases_reported, .timeout = 300)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpi_setup");
    char config[1024], d1[1200], d2[1200];
    write_config(dir, "slab.json", 0.5, "explicit", 0, 0, config, sizeof config);
    snprintf(d1, sizeof d1, "%s/serial", dir);
    snprintf(d2, sizeof d2, "%s/np2", dir);
    char cmd[4096], *log1 = NULL, *log2 = NULL;
    snprintf(cmd, sizeof cmd, "%s run %s --out %s --backend cpu", CT_BINARY, config, d1);
    cr_assert_eq(ct_test_shell(cmd, &log1), 0, "%s", log1);
    snprintf(cmd, sizeof cmd, "%s %s 2 %s %s run %s --out %s --backend cpu", CT_MPIEXEC, CT_MPIEXEC_NP,
             CT_MPIEXEC_PREFLAGS, CT_BINARY, config, d2);
    cr_assert_eq(ct_test_shell(cmd, &log2), 0, "%s", log2);
    const char *limit1 = strstr(log1, "explicit limit "), *limit2 = strstr(log2, "explicit limit ");
    cr_assert(limit1 && limit2, "%s\n%s", log1, log2);
    cr_assert_eq(strncmp(limit1, limit2, 30), 0, "serial %.30s, 2 ranks %.30s", limit1, limit2);
    cr_assert(strstr(log2, "set-up ") && strstr(log2, "partition ") && strstr(log2, "the slowest rank per phase"),
              "%s", log2);
    for (int k = 0; k < 2; k++) {
        char path[1300];
        snprintf(path, sizeof path, "%s/metrics.json", k ? d2 : d1);
        char *text = ct_test_read(path);
        cr_assert_not_null(text, "%s", path);
        cJSON *root = cJSON_Parse(text);
        free(text);
        const cJSON *su = cJSON_GetObjectItem(root, "setup");
        const cJSON *slow = cJSON_GetObjectItem(su, "slowest_rank");
        cr_assert(su && slow, "%s: no setup", path);
        const char *keys[] = {"read_s", "partition_s", "assemble_s", "problem_s", "total_s"};
        double sum = 0;
        for (int q = 0; q < 5; q++) {
            const cJSON *v = cJSON_GetObjectItem(su, keys[q]), *w = cJSON_GetObjectItem(slow, keys[q]);
            cr_assert(cJSON_IsNumber(v) && cJSON_IsNumber(w) && v->valuedouble >= 0 && w->valuedouble >= v->valuedouble,
                      "%s: setup.%s", path, keys[q]);
            if (q < 4)
                sum += v->valuedouble;
        }
        double total = cJSON_GetObjectItem(su, "total_s")->valuedouble;
        cr_assert(total > 0 && fabs(sum - total) <= 1e-6 + 1e-9 * total, "%s: phases %g s, total %g s", path, sum, total);
        double part = cJSON_GetObjectItem(su, "partition_s")->valuedouble;
        cr_assert(k ? part > 0 : part == 0, "%s: partition_s %g", path, part);
        cJSON_Delete(root);
    }
    free(log1);
    free(log2);
    ct_test_rmtree(dir);
    free(dir);
}

/* Other commands refuse to run as several ranks. */
Test(mpi, other_commands_refuse_ranks, .timeout = 120)
{
    mpi_env();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2 %s %s cell --beats 1", CT_MPIEXEC, CT_MPIEXEC_NP, CT_MPIEXEC_PREFLAGS, CT_BINARY);
    char *log = NULL;
    int rc = ct_test_shell(cmd, &log);
    cr_assert_neq(rc, 0, "%s", log);
    cr_assert(log && strstr(log, "only `cardiotwin run` can be split"), "%s", log);
    free(log);
}

#else

Test(mpi, not_built)
{
    cr_skip_test("built without MPI and METIS (or no mpiexec found): runs are serial only");
}

#endif
