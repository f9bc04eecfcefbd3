/* test_memory.c — what issue 15's memory savings may not change, and that they happen.
 *
 * - A run given its own sim to consume (ct_run_options.consume: the sim's matrices are freed once the backend
 *   has its copy) gives the same Vm and activation times, bit for bit, as a run that keeps them; the matrices
 *   are gone afterwards; running that sim again, or naming another sim as the one to consume, is refused.
 * - The checkpoint and other files written from several parts (ct_write_file_atomic_parts) hold the parts
 *   one after the other, empty parts included; a failure names the path and leaves nothing behind.
 * - ct_memory_release gives the heap's free pages back: resident memory falls after many small blocks are
 *   freed below a live one (the case glibc does not trim by itself). Not under AddressSanitizer, whose
 *   allocator is not glibc's.
 * - The VTU writer, which now lends the caller's coordinates, tets and fields to VTK instead of copying them,
 *   leaves them unchanged and writes what it was given (tets alone, and tets with triangles).
 */
#define _GNU_SOURCE /* mkdtemp */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "core/ct_files.h"
#include "core/ct_memory.h"
#include "io/ct_vtk.h"
#include "sim/ct_config.h"
#include "sim/ct_sim.h"

/* A 2 x 1 x 1 mm slab, dx 0.25 mm, Crank-Nicolson with the consistent mass (K, M and the lumped mass all
 * exist), stimulated at x <= 0.5 mm. */
static void make_sim(ct_config *cfg, ct_sim **sim)
{
    const char *json =
        "{\"mesh\": {\"type\": \"box\", \"size_mm\": [2, 1, 1], \"dx_mm\": 0.25, \"fibre_direction\": [1, 0, 0]},"
        " \"model\": {\"name\": \"mitchell_schaeffer\"}, \"conductivity\": {\"sigma_l_S_per_m\": 0.13342,"
        " \"sigma_t_S_per_m\": 0.017606}, \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.01,"
        " \"end_time_ms\": 12, \"diffusion\": {\"method\": \"crank_nicolson\", \"mass\": \"consistent\"},"
        " \"stimuli\": [{\"name\": \"S1\", \"box_min_mm\": [0, 0, 0], \"box_max_mm\": [0.5, 1, 1],"
        " \"amplitude_uA_per_uF\": 50, \"start_ms\": 0, \"duration_ms\": 1}]}";
    cr_assert_eq(ct_config_parse(json, "test_memory", cfg), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_sim_create(cfg, sim), CT_OK, "%s", ct_error_message());
}

Test(memory, consumed_sim_runs_the_same_and_only_once)
{
    ct_config cfg_keep, cfg_use;
    ct_sim *keep = NULL, *use = NULL;
    make_sim(&cfg_keep, &keep);
    make_sim(&cfg_use, &use);
    cr_assert_not_null(use->stiffness);
    cr_assert_not_null(use->consistent_mass);
    cr_assert_not_null(use->lumped_mass_mm3);
    size_t n = keep->mesh->n_nodes;

    ct_run_options opt = {.quiet = 1};
    ct_run_result a, b, c;
    cr_assert_eq(ct_sim_run(keep, &ct_backend_cpu, &opt, &a), CT_OK, "%s", ct_error_message());
    opt.consume = use;
    cr_assert_eq(ct_sim_run(use, &ct_backend_cpu, &opt, &b), CT_OK, "%s", ct_error_message());
    cr_assert_gt(a.steps, 0);
    cr_assert_eq(a.steps, b.steps);
    cr_assert_eq(a.cg_iterations_total, b.cg_iterations_total);
    cr_assert_eq(memcmp(a.vm_final_mV, b.vm_final_mV, n * sizeof(double)), 0, "consuming the sim changed Vm");
    cr_assert_eq(memcmp(a.activation_ms, b.activation_ms, n * sizeof(double)), 0,
                 "consuming the sim changed the activation times");
    size_t activated = 0;
    for (size_t i = 0; i < n; i++)
        activated += b.activation_ms[i] >= 0.0;
    cr_assert_eq(activated, n, "the wave crossed the slab in 12 ms (%zu of %zu nodes activated)", activated, n);

    /* the matrices are gone, the mesh is not */
    cr_assert_null(use->stiffness);
    cr_assert_null(use->consistent_mass);
    cr_assert_null(use->lumped_mass_mm3);
    cr_assert_not_null(use->mesh->xyz_mm);

    /* once only */
    opt.consume = NULL;
    cr_assert_eq(ct_sim_run(use, &ct_backend_cpu, &opt, &c), CT_ERR_INTERNAL);
    cr_assert(strstr(ct_error_message(), "released") != NULL, "message: %s", ct_error_message());
    ct_run_result_free(&c);
    /* the sim to consume must be the one run */
    opt.consume = use;
    cr_assert_eq(ct_sim_run(keep, &ct_backend_cpu, &opt, &c), CT_ERR_INTERNAL);
    cr_assert(strstr(ct_error_message(), "consume") != NULL, "message: %s", ct_error_message());
    cr_assert_not_null(keep->stiffness, "a refused run released the other sim's matrices");
    ct_run_result_free(&c);

    ct_run_result_free(&a);
    ct_run_result_free(&b);
    ct_sim_destroy(keep);
    ct_sim_destroy(use);
}

Test(memory, file_from_parts)
{
    char dir[] = "/tmp/ct_test_memory_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/parts.bin", dir);
    const char a[] = "header;", c[] = "tail";
    double b[3] = {1.5, -2.25, 1e300};
    ct_file_part parts[4] = {{a, sizeof a - 1}, {NULL, 0}, {b, sizeof b}, {c, sizeof c - 1}};
    cr_assert_eq(ct_write_file_atomic_parts(path, parts, 4), CT_OK, "%s", ct_error_message());
    char *got = NULL;
    size_t len = 0;
    cr_assert_eq(ct_read_file(path, &got, &len), CT_OK, "%s", ct_error_message());
    cr_assert_eq(len, sizeof a - 1 + sizeof b + sizeof c - 1);
    cr_assert_eq(memcmp(got, a, sizeof a - 1), 0);
    cr_assert_eq(memcmp(got + sizeof a - 1, b, sizeof b), 0);
    cr_assert_eq(memcmp(got + sizeof a - 1 + sizeof b, c, sizeof c - 1), 0);
    free(got);

    /* into a folder that does not exist: an error naming the path, no file */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/parts.bin", dir);
    cr_assert_eq(ct_write_file_atomic_parts(bad, parts, 4), CT_ERR_IO);
    cr_assert(strstr(ct_error_message(), "missing/parts.bin") != NULL, "message: %s", ct_error_message());
    cr_assert_neq(access(bad, F_OK), 0);
    unlink(path);
    rmdir(dir);
}

Test(memory, release_gives_free_heap_pages_back)
{
    size_t rss = ct_memory_resident_bytes(), peak = ct_memory_peak_bytes();
    cr_assert_gt(rss, 0, "VmRSS not read from /proc/self/status");
    cr_assert_geq(peak, rss, "VmHWM %zu below VmRSS %zu", peak, rss);
#if defined(__SANITIZE_ADDRESS__) || defined(__GLIBC__) == 0
    cr_log_info("the allocator is not glibc's here: the amount released is not checked");
#else
    /* 48 MB in small blocks (from the brk heap, not mmap), written to, then all freed but the last, which
     * keeps the heap's top in use so that free() alone gives nothing back */
    enum { N = 196608, SIZE = 256 };
    char **blocks = malloc(N * sizeof *blocks);
    cr_assert_not_null(blocks);
    for (size_t i = 0; i < N; i++) {
        blocks[i] = malloc(SIZE);
        cr_assert_not_null(blocks[i]);
        memset(blocks[i], (int)(i & 0x7f) + 1, SIZE);
    }
    for (size_t i = 0; i + 1 < N; i++)
        free(blocks[i]);
    size_t before = ct_memory_resident_bytes();
    size_t released = ct_memory_release();
    size_t after = ct_memory_resident_bytes();
    cr_assert_gt(released, (size_t)24 << 20, "released %zu bytes of the ~48 MB freed (RSS %zu -> %zu)", released,
                 before, after);
    cr_assert_eq(blocks[N - 1][SIZE - 1], (char)(((N - 1) & 0x7f) + 1), "the live block was changed");
    free(blocks[N - 1]);
    free(blocks);
#endif
}

/* the writer lends the arrays to VTK: they must come back unchanged and be what the file holds */
static void write_and_compare(size_t n_tris)
{
    /* a unit cube split into 5 tets, 8 points; triangles: two faces of the cube */
    double xyz[24] = {0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1};
    int32_t tets[20] = {0, 1, 3, 4, 1, 2, 3, 6, 1, 4, 5, 6, 3, 4, 6, 7, 1, 3, 4, 6};
    int32_t tris[6] = {0, 1, 2, 0, 2, 3};
    double act[8], cv[7];
    for (int i = 0; i < 8; i++)
        act[i] = 0.5 * i - 1.0;
    for (int i = 0; i < 7; i++)
        cv[i] = i < 5 ? 0.1 * (i + 1) : NAN;
    double xyz0[24], act0[8], cv0[7];
    int32_t tets0[20], tris0[6];
    memcpy(xyz0, xyz, sizeof xyz);
    memcpy(tets0, tets, sizeof tets);
    memcpy(tris0, tris, sizeof tris);
    memcpy(act0, act, sizeof act);
    memcpy(cv0, cv, sizeof cv);
    ct_vtk_field pf = {"activation_time_ms", 1, act, CT_VTK_FLOAT64}, cf = {"cv_m_per_s", 1, cv, CT_VTK_FLOAT64};

    char dir[] = "/tmp/ct_test_memory_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/g.vtu", dir);
    cr_assert_eq(ct_vtk_write_vtu_tris(path, 8, xyz, 5, tets, n_tris, tris, &pf, 1, &cf, 1), CT_OK, "%s",
                 ct_error_message());
    cr_assert_eq(memcmp(xyz, xyz0, sizeof xyz), 0);
    cr_assert_eq(memcmp(tets, tets0, sizeof tets), 0);
    cr_assert_eq(memcmp(tris, tris0, sizeof tris), 0);
    cr_assert_eq(memcmp(act, act0, sizeof act), 0);
    cr_assert_eq(memcmp(cv, cv0, sizeof cv), 0);

    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_vtk_grid_n_points(g), 8);
    cr_assert_eq(ct_vtk_grid_n_tets(g), 5);
    cr_assert_eq(ct_vtk_grid_n_tris(g), n_tris);
    cr_assert_eq(memcmp(ct_vtk_grid_points(g), xyz, sizeof xyz), 0);
    cr_assert_eq(memcmp(ct_vtk_grid_tets(g), tets, sizeof tets), 0);
    if (n_tris)
        cr_assert_eq(memcmp(ct_vtk_grid_tris(g), tris, n_tris * 3 * sizeof(int32_t)), 0);
    const double *v = NULL;
    int nc = 0;
    cr_assert_eq(ct_vtk_grid_point_field(g, "activation_time_ms", &v, &nc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(memcmp(v, act, sizeof act), 0);
    cr_assert_eq(ct_vtk_grid_cell_field(g, "cv_m_per_s", &v, &nc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(memcmp(v, cv, 5 * sizeof(double)), 0); /* the tets' values */
    if (n_tris) {
        cr_assert_eq(ct_vtk_grid_tri_field(g, "cv_m_per_s", &v, &nc), CT_OK, "%s", ct_error_message());
        cr_assert(isnan(v[0]) && isnan(v[1]));
    }
    ct_vtk_grid_destroy(g);
    unlink(path);
    rmdir(dir);
}

Test(memory, vtu_writer_lends_and_keeps_the_arrays) { write_and_compare(0); }
Test(memory, vtu_writer_lends_and_keeps_the_arrays_with_triangles) { write_and_compare(2); }
