/* test_vtk_io.c — Criterion tests of host/io: .vtu write/read round trip (exact), atomic replacement,
 * error cases (missing directory, bad arguments, missing file, garbage, non-tet cells) and .pvd output. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, getpid */

#include <criterion/criterion.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../host/core/ct_status.h"
#include "ct_test_util.h"
#include "../host/io/ct_pvd.h"
#include "../host/io/ct_vtk.h"

/* ---- fixture: a fresh temp directory per test ------------------------------------------------- */

static char dir[256];

static void make_dir(void)
{
    char *d = ct_test_tmpdir("vtk");
    cr_assert_not_null(d, "mkdtemp failed");
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
}

static void remove_dir(void) { ct_test_rmtree(dir); }

TestSuite(vtk_io, .init = make_dir, .fini = remove_dir);

static void in_dir(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

/* Number of entries in `dir` whose name contains ".tmp." (leftover temp files). */
static int count_temp_files(void)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, ".tmp.") != NULL)
            n++;
    closedir(d);
    return n;
}

static void write_text(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* ---- a unit cube split into 5 tetrahedra, with fields whose values are not round in binary ---- */

enum { N_POINTS = 8, N_TETS = 5 };
static const double cube_xyz[3 * N_POINTS] = {
    0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1,
};
static const int32_t cube_tets[4 * N_TETS] = {
    0, 1, 3, 4, 1, 2, 3, 6, 1, 4, 5, 6, 3, 4, 6, 7, 1, 3, 4, 6,
};
static double vm_mV[N_POINTS], fiber[3 * N_POINTS], region[N_TETS];

static void fill_fields(double scale)
{
    for (int i = 0; i < N_POINTS; ++i) {
        vm_mV[i] = scale * (-85.0 + i / 3.0); /* x/3: all 52 mantissa bits in use */
        fiber[3 * i + 0] = scale * 0.1 * i;
        fiber[3 * i + 1] = scale * 1e-300 * (i + 1); /* tiny */
        fiber[3 * i + 2] = scale * -1.0 / 7.0;
    }
    for (int t = 0; t < N_TETS; ++t)
        region[t] = scale * (t + 0.5) / 9.0;
}

static ct_status write_cube(const char *path)
{
    const ct_vtk_field pf[] = {{"Vm_mV", 1, vm_mV, CT_VTK_FLOAT64}, {"fiber", 3, fiber, CT_VTK_FLOAT64}};
    const ct_vtk_field cf[] = {{"region", 1, region, CT_VTK_FLOAT64}};
    return ct_vtk_write_vtu(path, N_POINTS, cube_xyz, N_TETS, cube_tets, pf, 2, cf, 1);
}

/* Reads `path` and asserts it holds exactly the cube and the current field values. */
static void assert_cube(const char *path)
{
    ct_vtk_grid *g = NULL;
    ct_status s = ct_vtk_read_vtu(path, &g);
    cr_assert_eq(s, CT_OK, "read %s: %s", path, ct_error_message());
    cr_assert_eq(ct_vtk_grid_n_points(g), (size_t)N_POINTS);
    cr_assert_eq(ct_vtk_grid_n_tets(g), (size_t)N_TETS);
    const double *xyz = ct_vtk_grid_points(g);
    for (int i = 0; i < 3 * N_POINTS; ++i)
        cr_assert_eq(xyz[i], cube_xyz[i], "point coord %d", i);
    const int32_t *tets = ct_vtk_grid_tets(g);
    for (int i = 0; i < 4 * N_TETS; ++i)
        cr_assert_eq(tets[i], cube_tets[i], "connectivity %d", i);

    const double *d;
    int nc;
    cr_assert_eq(ct_vtk_grid_point_field(g, "Vm_mV", &d, &nc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(nc, 1);
    for (int i = 0; i < N_POINTS; ++i)
        cr_assert_eq(d[i], vm_mV[i], "Vm_mV[%d]: %.17g != %.17g", i, d[i], vm_mV[i]);
    cr_assert_eq(ct_vtk_grid_point_field(g, "fiber", &d, &nc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(nc, 3);
    for (int i = 0; i < 3 * N_POINTS; ++i)
        cr_assert_eq(d[i], fiber[i], "fiber[%d]", i);
    cr_assert_eq(ct_vtk_grid_cell_field(g, "region", &d, &nc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(nc, 1);
    for (int t = 0; t < N_TETS; ++t)
        cr_assert_eq(d[t], region[t], "region[%d]", t);
    ct_vtk_grid_destroy(g);
}

/* ---- .vtu --------------------------------------------------------------------------------------- */

Test(vtk_io, round_trip_is_exact)
{
    char path[512];
    in_dir(path, sizeof path, "cube.vtu");
    fill_fields(1.0);
    cr_assert_eq(write_cube(path), CT_OK, "%s", ct_error_message());
    assert_cube(path);
    cr_assert_eq(count_temp_files(), 0);

    /* The file is appended raw binary with zlib compression, as promised. */
    char head[4096] = {0};
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    cr_assert_not_null(strstr(head, "type=\"UnstructuredGrid\""));
    cr_assert_not_null(strstr(head, "vtkZLibDataCompressor"), "not zlib compressed");
    cr_assert_not_null(strstr(head, "encoding=\"raw\""), "appended data not raw");
}

Test(vtk_io, rewrite_replaces_old_contents)
{
    char path[512];
    in_dir(path, sizeof path, "cube.vtu");
    fill_fields(1.0);
    cr_assert_eq(write_cube(path), CT_OK, "%s", ct_error_message());
    fill_fields(-2.0);
    cr_assert_eq(write_cube(path), CT_OK, "%s", ct_error_message());
    assert_cube(path);
}

Test(vtk_io, cell_field_lookup_does_not_find_point_field)
{
    char path[512];
    in_dir(path, sizeof path, "cube.vtu");
    fill_fields(1.0);
    cr_assert_eq(write_cube(path), CT_OK, "%s", ct_error_message());
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_OK, "%s", ct_error_message());
    const double *d = NULL;
    int nc = 0;
    cr_assert_eq(ct_vtk_grid_cell_field(g, "Vm_mV", &d, &nc), CT_ERR_PARSE);
    cr_assert_not_null(strstr(ct_error_message(), "Vm_mV"), "message: %s", ct_error_message());
    cr_assert_not_null(strstr(ct_error_message(), path), "message: %s", ct_error_message());
    cr_assert_eq(ct_vtk_grid_point_field(g, "no_such_field", &d, &nc), CT_ERR_PARSE);
    cr_assert_not_null(strstr(ct_error_message(), "no_such_field"), "message: %s", ct_error_message());
    ct_vtk_grid_destroy(g);
}

Test(vtk_io, missing_directory_is_io_error_naming_path)
{
    char path[512];
    in_dir(path, sizeof path, "no/such/dir/cube.vtu");
    fill_fields(1.0);
    cr_assert_eq(write_cube(path), CT_ERR_IO);
    cr_assert_not_null(strstr(ct_error_message(), path), "message: %s", ct_error_message());
}

Test(vtk_io, rejected_arguments_leave_old_file_intact)
{
    char path[512];
    in_dir(path, sizeof path, "cube.vtu");
    fill_fields(1.0);
    cr_assert_eq(write_cube(path), CT_OK, "%s", ct_error_message());

    double other[N_POINTS] = {0};
    const ct_vtk_field bad_nc[] = {{"Vm_mV", 0, other, CT_VTK_FLOAT64}};
    cr_assert_eq(ct_vtk_write_vtu(path, N_POINTS, cube_xyz, N_TETS, cube_tets, bad_nc, 1, NULL, 0),
                 CT_ERR_INTERNAL);
    cr_assert_not_null(strstr(ct_error_message(), "Vm_mV"), "message: %s", ct_error_message());

    const ct_vtk_field dup[] = {{"a", 1, other, CT_VTK_FLOAT64}, {"a", 1, other, CT_VTK_FLOAT64}};
    cr_assert_eq(ct_vtk_write_vtu(path, N_POINTS, cube_xyz, N_TETS, cube_tets, dup, 2, NULL, 0),
                 CT_ERR_INTERNAL);

    int32_t bad_tets[4 * N_TETS];
    memcpy(bad_tets, cube_tets, sizeof bad_tets);
    bad_tets[4 * 3 + 2] = N_POINTS; /* one past the end */
    cr_assert_eq(ct_vtk_write_vtu(path, N_POINTS, cube_xyz, N_TETS, bad_tets, NULL, 0, NULL, 0),
                 CT_ERR_MESH);
    cr_assert_not_null(strstr(ct_error_message(), "tet 3"), "message: %s", ct_error_message());

    assert_cube(path);
    cr_assert_eq(count_temp_files(), 0);
}

Test(vtk_io, failed_rename_removes_temp_and_keeps_target)
{
    /* PATH is a non-empty directory: the temp file is written fine, then rename() over it fails. */
    char path[512], inner[600];
    in_dir(path, sizeof path, "cube.vtu");
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(inner, sizeof inner, "%s/keep", path);
    write_text(inner, "x", 1);
    fill_fields(1.0);
    cr_assert_eq(write_cube(path), CT_ERR_IO);
    cr_assert_not_null(strstr(ct_error_message(), path), "message: %s", ct_error_message());
    cr_assert_eq(count_temp_files(), 0, "temp file left behind");
    struct stat st;
    cr_assert_eq(stat(inner, &st), 0, "existing contents at PATH were touched");
}

Test(vtk_io, missing_file_is_io_error)
{
    char path[512];
    in_dir(path, sizeof path, "absent.vtu");
    ct_vtk_grid *g = (ct_vtk_grid *)&g; /* must be reset to NULL */
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_ERR_IO);
    cr_assert_null(g);
    cr_assert_not_null(strstr(ct_error_message(), path), "message: %s", ct_error_message());
}

Test(vtk_io, garbage_is_parse_error)
{
    char path[512];
    in_dir(path, sizeof path, "garbage.vtu");
    unsigned char junk[1000];
    for (int i = 0; i < (int)sizeof junk; ++i)
        junk[i] = (unsigned char)(i * 151u + 7u);
    write_text(path, (const char *)junk, sizeof junk);
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_ERR_PARSE, "%s", ct_error_message());
    cr_assert_null(g);
    cr_assert_not_null(strstr(ct_error_message(), path), "message: %s", ct_error_message());
}

Test(vtk_io, truncated_file_is_parse_error)
{
    char path[512];
    in_dir(path, sizeof path, "cube.vtu");
    fill_fields(1.0);
    cr_assert_eq(write_cube(path), CT_OK, "%s", ct_error_message());
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size / 2), 0);
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_ERR_PARSE, "%s", ct_error_message());
    cr_assert_null(g);
}

Test(vtk_io, other_xml_dataset_is_parse_error)
{
    char path[512];
    in_dir(path, sizeof path, "image.vti");
    const char *vti = "<?xml version=\"1.0\"?>\n<VTKFile type=\"ImageData\" version=\"0.1\">\n"
                      "<ImageData WholeExtent=\"0 1 0 1 0 1\" Origin=\"0 0 0\" Spacing=\"1 1 1\">\n"
                      "<Piece Extent=\"0 1 0 1 0 1\"></Piece></ImageData></VTKFile>\n";
    write_text(path, vti, strlen(vti));
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_ERR_PARSE, "%s", ct_error_message());
    cr_assert_not_null(strstr(ct_error_message(), "UnstructuredGrid"), "message: %s", ct_error_message());
}

Test(vtk_io, non_tet_cell_is_mesh_error_naming_cell_and_type)
{
    /* One tetrahedron (cell 0) then one hexahedron (cell 1, VTK type 12), ASCII. */
    char path[512];
    in_dir(path, sizeof path, "hex.vtu");
    const char *vtu =
        "<?xml version=\"1.0\"?>\n"
        "<VTKFile type=\"UnstructuredGrid\" version=\"0.1\" byte_order=\"LittleEndian\">\n"
        "<UnstructuredGrid><Piece NumberOfPoints=\"8\" NumberOfCells=\"2\">\n"
        "<Points><DataArray type=\"Float64\" NumberOfComponents=\"3\" format=\"ascii\">\n"
        "0 0 0 1 0 0 1 1 0 0 1 0 0 0 1 1 0 1 1 1 1 0 1 1</DataArray></Points>\n"
        "<Cells>\n"
        "<DataArray type=\"Int64\" Name=\"connectivity\" format=\"ascii\">0 1 3 4 0 1 2 3 4 5 6 7</DataArray>\n"
        "<DataArray type=\"Int64\" Name=\"offsets\" format=\"ascii\">4 12</DataArray>\n"
        "<DataArray type=\"UInt8\" Name=\"types\" format=\"ascii\">10 12</DataArray>\n"
        "</Cells></Piece></UnstructuredGrid></VTKFile>\n";
    write_text(path, vtu, strlen(vtu));
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_ERR_MESH, "%s", ct_error_message());
    cr_assert_null(g);
    const char *msg = ct_error_message();
    cr_assert_not_null(strstr(msg, "cell 1 "), "message: %s", msg);
    cr_assert_not_null(strstr(msg, "vtkHexahedron"), "message: %s", msg);
    cr_assert_not_null(strstr(msg, path), "message: %s", msg);
}

/* ---- .pvd --------------------------------------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

Test(vtk_io, pvd_three_frames_well_formed)
{
    char pvd_path[512], vtu_path[512];
    in_dir(pvd_path, sizeof pvd_path, "run.pvd");
    ct_pvd *p = NULL;
    cr_assert_eq(ct_pvd_open(pvd_path, &p), CT_OK, "%s", ct_error_message());
    cr_assert_not_null(strstr(slurp(pvd_path), "<Collection>"), "empty collection not written at open");

    const double times_ms[3] = {0.0, 0.5, 1.25};
    const char *files[3] = {"frame_0000.vtu", "frame_0001.vtu", "a&b<\"c\">.vtu"};
    fill_fields(1.0);
    for (int k = 0; k < 3; ++k) {
        in_dir(vtu_path, sizeof vtu_path, files[k]);
        cr_assert_eq(write_cube(vtu_path), CT_OK, "%s", ct_error_message());
        cr_assert_eq(ct_pvd_add(p, times_ms[k], files[k]), CT_OK, "%s", ct_error_message());
    }
    cr_assert_eq(ct_pvd_n_frames(p), 3);
    ct_pvd_destroy(p);

    /* Parse it back: header, then exactly three DataSet entries in order, then the closing tags. */
    const char *text = slurp(pvd_path);
    cr_assert_eq(strncmp(text, "<?xml version=\"1.0\"?>", 21), 0, "%s", text);
    const char *c = strstr(text, "<VTKFile type=\"Collection\"");
    cr_assert_not_null(c, "%s", text);
    c = strstr(c, "<Collection>");
    cr_assert_not_null(c, "%s", text);
    const char *escaped[3] = {"frame_0000.vtu", "frame_0001.vtu", "a&amp;b&lt;&quot;c&quot;&gt;.vtu"};
    double last = -1.0;
    for (int k = 0; k < 3; ++k) {
        c = strstr(c, "<DataSet ");
        cr_assert_not_null(c, "entry %d missing:\n%s", k, text);
        const char *ts = strstr(c, "timestep=\"");
        cr_assert_not_null(ts);
        double t = strtod(ts + 10, NULL);
        cr_assert_eq(t, times_ms[k], "entry %d timestep %.17g", k, t);
        cr_assert_gt(t, last);
        last = t;
        const char *fa = strstr(c, "file=\"");
        cr_assert_not_null(fa);
        fa += 6;
        const char *end = strchr(fa, '"');
        cr_assert_not_null(end);
        cr_assert_eq((size_t)(end - fa), strlen(escaped[k]), "entry %d file", k);
        cr_assert_eq(strncmp(fa, escaped[k], strlen(escaped[k])), 0, "entry %d file", k);
        c = end;
    }
    cr_assert_null(strstr(c, "<DataSet "), "more than three entries:\n%s", text);
    const char *close_coll = strstr(c, "</Collection>");
    cr_assert_not_null(close_coll, "%s", text);
    cr_assert_not_null(strstr(close_coll, "</VTKFile>"), "%s", text);
    /* Nothing unescaped leaked into the file. */
    cr_assert_null(strstr(text, "a&b"), "%s", text);

    cr_assert_eq(count_temp_files(), 0, "temp file left behind");
}

Test(vtk_io, pvd_in_missing_directory_is_io_error)
{
    char path[512];
    in_dir(path, sizeof path, "no/such/dir/run.pvd");
    ct_pvd *p = (ct_pvd *)&p;
    cr_assert_eq(ct_pvd_open(path, &p), CT_ERR_IO);
    cr_assert_null(p);
    cr_assert_not_null(strstr(ct_error_message(), path), "message: %s", ct_error_message());
    cr_assert_null(ct_pvd_create(path));
}

Test(vtk_io, pvd_failed_add_keeps_collection)
{
    char path[512];
    in_dir(path, sizeof path, "run.pvd");
    ct_pvd *p = ct_pvd_create(path);
    cr_assert_not_null(p, "%s", ct_error_message());
    cr_assert_eq(ct_pvd_add(p, 1.0, "f0.vtu"), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_pvd_add(p, NAN, "f1.vtu"), CT_ERR_INTERNAL);
    cr_assert_eq(ct_pvd_add(p, 2.0, "bad\nname.vtu"), CT_ERR_INTERNAL);
    cr_assert_eq(ct_pvd_n_frames(p), 1);
    const char *text = slurp(path);
    cr_assert_not_null(strstr(text, "f0.vtu"));
    cr_assert_null(strstr(text, "f1.vtu"));
    ct_pvd_destroy(p);
}
