/* test_surface.c — the surface route of personalise: readers of STL, PLY, OBJ and VTP, the automatic labelling of
 * one closed myocardial surface (inward-facing, unlabelled: the idealised BiV's boundary), the round trip to a twin
 * whose volume and AHA segments match the idealised route's, the overrides, and bad input (open, non-manifold,
 * wrong units) refused naming the file with nothing written. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_test_util.h"
#include "image/ct_surface_heart.h"
#include "io/ct_vtk.h"
#include "personalise/ct_geometry.h"
#include "personalise/ct_patient.h"

/* ---- the idealised BiV (small) as a surface ---- */

static ct_mesh *biv_mesh(void)
{
    static ct_mesh *m;
    if (!m) {
        ct_biv_params bp = ct_biv_params_small();
        cr_assert_eq(ct_geometry_biv(&bp, 1.5, &m), CT_OK, "%s", ct_error_message());
    }
    return m;
}

/* The boundary triangles of the BiV mesh as a surface with its own compact points; inward-facing when asked.
 * *labels (caller frees) gets the mesher's labels. */
static void biv_surface(int inward, ct_trisurf *s, int32_t **labels)
{
    const ct_mesh *m = biv_mesh();
    int32_t *map = malloc(m->n_nodes * sizeof *map);
    for (size_t i = 0; i < m->n_nodes; i++)
        map[i] = -1;
    memset(s, 0, sizeof *s);
    s->tris = malloc(3 * m->n_tris * sizeof *s->tris);
    s->xyz_mm = malloc(3 * m->n_nodes * sizeof *s->xyz_mm);
    *labels = malloc(m->n_tris * sizeof **labels);
    for (size_t t = 0; t < m->n_tris; t++) {
        for (int k = 0; k < 3; k++) {
            int32_t v = m->tris[3 * t + k];
            if (map[v] < 0) {
                map[v] = (int32_t)s->n_points++;
                memcpy(s->xyz_mm + 3 * (size_t)map[v], m->xyz_mm + 3 * (size_t)v, 3 * sizeof(double));
            }
            s->tris[3 * t + (inward && k ? 3 - k : k)] = map[v];
        }
        (*labels)[t] = m->tri_label[t];
    }
    s->n_tris = m->n_tris;
    free(map);
}

static double tri_area(const ct_trisurf *s, size_t t)
{
    const double *a = s->xyz_mm + 3 * (size_t)s->tris[3 * t], *b = s->xyz_mm + 3 * (size_t)s->tris[3 * t + 1],
                 *c = s->xyz_mm + 3 * (size_t)s->tris[3 * t + 2];
    double u[3], v[3];
    for (int k = 0; k < 3; k++) {
        u[k] = b[k] - a[k];
        v[k] = c[k] - a[k];
    }
    double x = u[1] * v[2] - u[2] * v[1], y = u[2] * v[0] - u[0] * v[2], z = u[0] * v[1] - u[1] * v[0];
    return 0.5 * sqrt(x * x + y * y + z * z);
}

static void write_stl(const char *path, const ct_trisurf *s, double scale)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    char head[80] = "cardiotwin test surface";
    fwrite(head, 1, 80, f);
    uint32_t n = (uint32_t)s->n_tris;
    fwrite(&n, 4, 1, f);
    for (size_t t = 0; t < s->n_tris; t++) {
        float v[12] = {0};
        for (int k = 0; k < 3; k++)
            for (int d = 0; d < 3; d++)
                v[3 + 3 * k + d] = (float)(scale * s->xyz_mm[3 * (size_t)s->tris[3 * t + k] + d]);
        fwrite(v, 4, 12, f);
        uint16_t attr = 0;
        fwrite(&attr, 2, 1, f);
    }
    fclose(f);
}

static void write_obj(const char *path, const ct_trisurf *s)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "# cardiotwin test surface\n");
    for (size_t i = 0; i < s->n_points; i++)
        fprintf(f, "v %.17g %.17g %.17g\n", s->xyz_mm[3 * i], s->xyz_mm[3 * i + 1], s->xyz_mm[3 * i + 2]);
    for (size_t t = 0; t < s->n_tris; t++)
        fprintf(f, "f %d %d %d\n", s->tris[3 * t] + 1, s->tris[3 * t + 1] + 1, s->tris[3 * t + 2] + 1);
    fclose(f);
}

static void write_ply(const char *path, const ct_trisurf *s)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "ply\nformat ascii 1.0\nelement vertex %zu\nproperty float x\nproperty float y\nproperty float z\n"
               "element face %zu\nproperty list uchar int vertex_indices\nend_header\n",
            s->n_points, s->n_tris);
    for (size_t i = 0; i < s->n_points; i++)
        fprintf(f, "%.9g %.9g %.9g\n", s->xyz_mm[3 * i], s->xyz_mm[3 * i + 1], s->xyz_mm[3 * i + 2]);
    for (size_t t = 0; t < s->n_tris; t++)
        fprintf(f, "3 %d %d %d\n", s->tris[3 * t], s->tris[3 * t + 1], s->tris[3 * t + 2]);
    fclose(f);
}

/* Fraction of the area of each true label that got the same label: the smallest over the four labels. */
static double agreement(const ct_trisurf *s, const int32_t *truth, const int32_t *got, double frac[5])
{
    double tot[5] = {0}, ok[5] = {0}, worst = 1;
    for (size_t t = 0; t < s->n_tris; t++) {
        double a = tri_area(s, t);
        tot[truth[t]] += a;
        ok[truth[t]] += truth[t] == got[t] ? a : 0;
    }
    for (int l = 1; l < 5; l++) {
        frac[l] = tot[l] > 0 ? ok[l] / tot[l] : 1;
        worst = fmin(worst, frac[l]);
    }
    return worst;
}

static int32_t *label_it(ct_trisurf *s, const ct_surface_heart_options *opt, ct_surface_heart_report *rep)
{
    memset(rep, 0, sizeof *rep);
    cr_assert_eq(ct_surface_check(s, opt->flip, "test", rep), CT_OK, "%s", ct_error_message());
    int32_t *lab = malloc(s->n_tris * sizeof *lab);
    cr_assert_eq(ct_surface_label(s, opt, "test", lab, rep), CT_OK, "%s", ct_error_message());
    return lab;
}

/* ---- labelling ---- */

Test(surface_label, inward_unlabelled_biv_is_labelled_without_help, .timeout = 300)
{
    ct_trisurf s;
    int32_t *truth;
    biv_surface(1, &s, &truth);
    ct_surface_heart_options opt = ct_surface_heart_options_default();
    ct_surface_heart_report rep;
    int32_t *lab = label_it(&s, &opt, &rep);
    cr_assert_eq(rep.flipped, 1, "the inward-facing surface was not flipped");
    cr_assert_eq(rep.n_cavities, 2);
    double frac[5];
    double worst = agreement(&s, truth, lab, frac);
    cr_log_info("labels agree: endo_lv %.4f, endo_rv %.4f, epi %.4f, base %.4f of the area; base normal %.3f %.3f %.3f",
                frac[1], frac[2], frac[3], frac[4], rep.base_normal[0], rep.base_normal[1], rep.base_normal[2]);
    cr_assert(worst >= 0.95, "labels agree on %.3f / %.3f / %.3f / %.3f of the area", frac[1], frac[2], frac[3], frac[4]);
    cr_assert(rep.base_normal[2] > 0.999, "base normal %g %g %g", rep.base_normal[0], rep.base_normal[1],
              rep.base_normal[2]);
    free(lab);
    free(truth);
    ct_trisurf_free(&s);
}

Test(surface_label, mixed_orientation_is_made_consistent)
{
    ct_trisurf s;
    int32_t *truth;
    biv_surface(0, &s, &truth);
    for (size_t t = 0; t < s.n_tris; t += 7) { /* every seventh triangle flipped */
        int32_t x = s.tris[3 * t + 1];
        s.tris[3 * t + 1] = s.tris[3 * t + 2];
        s.tris[3 * t + 2] = x;
    }
    ct_surface_heart_options opt = ct_surface_heart_options_default();
    ct_surface_heart_report rep;
    int32_t *lab = label_it(&s, &opt, &rep);
    cr_assert_eq(rep.n_reoriented, (s.n_tris + 6) / 7);
    cr_assert_eq(rep.flipped, 0);
    double frac[5];
    cr_assert(agreement(&s, truth, lab, frac) >= 0.95);
    free(lab);
    free(truth);
    ct_trisurf_free(&s);
}

Test(surface_label, overrides_base_and_lv_cavity)
{
    ct_trisurf s;
    int32_t *truth;
    biv_surface(1, &s, &truth);
    ct_surface_heart_options opt = ct_surface_heart_options_default();
    opt.has_base = 1;
    opt.base_point_mm[2] = ct_biv_params_small().lv.base_z_mm;
    opt.base_normal[2] = 1;
    opt.has_lv_point = 1;
    opt.lv_cavity_point_mm[2] = -5; /* inside the LV cavity */
    ct_surface_heart_report rep;
    int32_t *lab = label_it(&s, &opt, &rep);
    cr_assert_eq(rep.base_found, 0);
    cr_assert_eq(rep.lv_from_point, 1);
    double frac[5];
    cr_assert(agreement(&s, truth, lab, frac) >= 0.95, "%.3f %.3f %.3f %.3f", frac[1], frac[2], frac[3], frac[4]);
    free(lab);
    /* a point in the RV cavity swaps the two: the override wins */
    opt.lv_cavity_point_mm[0] = 15;
    opt.lv_cavity_point_mm[2] = 0;
    lab = label_it(&s, &opt, &rep);
    agreement(&s, truth, lab, frac);
    cr_assert(frac[1] < 0.05 && frac[2] < 0.05, "LV/RV not swapped: %.3f %.3f", frac[1], frac[2]);
    free(lab);
    /* forcing the file's (inward) orientation is refused */
    opt = ct_surface_heart_options_default();
    opt.flip = 0;
    ct_trisurf_free(&s);
    free(truth);
    biv_surface(1, &s, &truth);
    cr_assert_eq(ct_surface_check(&s, 0, "in.stl", &rep), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "in.stl") && strstr(ct_error_message(), "faces inwards"), "%s",
              ct_error_message());
    free(truth);
    ct_trisurf_free(&s);
}

/* ---- readers: every format gives the same surface and labels ---- */

Test(surface_io, stl_ply_obj_vtp_read_alike, .timeout = 300)
{
    char *dir = ct_test_tmpdir("surf_io");
    ct_trisurf s;
    int32_t *truth;
    biv_surface(1, &s, &truth);
    static const char *const names[] = {"h.stl", "h.ply", "h.obj", "h.vtp"};
    double ref_area[5] = {0}, ref_vol = 0;
    for (int k = 0; k < 4; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        if (k == 0)
            write_stl(path, &s, 1.0);
        else if (k == 1)
            write_ply(path, &s);
        else if (k == 2)
            write_obj(path, &s);
        else
            cr_assert_eq(ct_vtk_write_surface_vtp(path, &s, NULL), CT_OK, "%s", ct_error_message());
        ct_trisurf r;
        cr_assert_eq(ct_vtk_read_surface(path, &r), CT_OK, "%s", ct_error_message());
        cr_assert_eq(r.n_tris, s.n_tris, "%s: %zu triangles, expected %zu", names[k], r.n_tris, s.n_tris);
        cr_assert_eq(r.n_points, s.n_points, "%s: %zu points, expected %zu", names[k], r.n_points, s.n_points);
        ct_surface_heart_options opt = ct_surface_heart_options_default();
        ct_surface_heart_report rep;
        int32_t *lab = label_it(&r, &opt, &rep);
        cr_log_info("%s: enclosed %.4f mL; areas %.2f %.2f %.2f %.2f mm^2", names[k], rep.enclosed_mm3 / 1e3,
                    rep.area_mm2[1], rep.area_mm2[2], rep.area_mm2[3], rep.area_mm2[4]);
        if (k == 0) {
            ref_vol = rep.enclosed_mm3;
            memcpy(ref_area, rep.area_mm2, sizeof ref_area);
        }
        cr_assert(fabs(rep.enclosed_mm3 / ref_vol - 1) < 1e-5, "%s: volume", names[k]);
        for (int l = 1; l < 5; l++)
            cr_assert(fabs(rep.area_mm2[l] - ref_area[l]) <= 1e-4 * ref_area[l], "%s: label %d area %g vs %g",
                      names[k], l, rep.area_mm2[l], ref_area[l]);
        free(lab);
        ct_trisurf_free(&r);
    }
    /* the labelled surface written back carries a "label" cell field */
    char path[1024];
    snprintf(path, sizeof path, "%s/labels.vtp", dir);
    cr_assert_eq(ct_vtk_write_surface_vtp(path, &s, truth), CT_OK, "%s", ct_error_message());
    char *text = ct_test_read(path);
    cr_assert(text && strstr(text, "Name=\"label\""));
    free(text);
    /* bad files: named */
    snprintf(path, sizeof path, "%s/missing.stl", dir);
    ct_trisurf r;
    cr_assert_eq(ct_vtk_read_surface(path, &r), CT_ERR_IO);
    cr_assert(strstr(ct_error_message(), "missing.stl"));
    snprintf(path, sizeof path, "%s/junk.ply", dir);
    cr_assert_eq(ct_test_write(path, "this is not a ply file\n"), 0);
    cr_assert_neq(ct_vtk_read_surface(path, &r), CT_OK);
    cr_assert(strstr(ct_error_message(), "junk.ply"), "%s", ct_error_message());
    snprintf(path, sizeof path, "%s/h.off", dir);
    cr_assert_eq(ct_test_write(path, "OFF\n"), 0);
    cr_assert_eq(ct_vtk_read_surface(path, &r), CT_ERR_CONFIG);
    free(truth);
    ct_trisurf_free(&s);
    ct_test_rmtree(dir);
    free(dir);
}

/* ---- the round trip through personalise ---- */

static cJSON *personalise_dir(const char *dir, ct_status *st)
{
    char pat[1024], out[1024];
    snprintf(pat, sizeof pat, "%s/patient.json", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    *st = ct_personalise(pat, out, 1);
    if (*st != CT_OK)
        return NULL;
    char js[1100];
    snprintf(js, sizeof js, "%s/personalise.json", out);
    char *text = ct_test_read(js);
    cr_assert_not_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static void write_patient(const char *dir, const char *geometry)
{
    char path[1024], text[4096];
    snprintf(path, sizeof path, "%s/patient.json", dir);
    snprintf(text, sizeof text, "{\"geometry\": %s,\n \"pacing\": [{\"name\": \"LV lateral\", \"aha_segment\": 11}]}\n",
             geometry);
    cr_assert_eq(ct_test_write(path, text), 0);
}

static void segments(const cJSON *j, double seg_mL[17])
{
    const cJSON *segs = cJSON_GetObjectItem(j, "aha_segments");
    for (int s = 0; s < 17; s++)
        seg_mL[s] = cJSON_GetObjectItem(cJSON_GetArrayItem(segs, s), "volume_mm3")->valuedouble / 1e3;
}

Test(surface_route, biv_stl_round_trip_matches_the_idealised_route, .timeout = 900)
{
    char *dir = ct_test_tmpdir("surf_route");
    ct_trisurf s;
    int32_t *truth;
    biv_surface(1, &s, &truth);
    char path[1024];
    snprintf(path, sizeof path, "%s/heart.stl", dir);
    write_stl(path, &s, 1.0);
    write_patient(dir, "{\"type\": \"surface\", \"path\": \"heart.stl\", \"h_mm\": 1.5}");
    ct_status st;
    cJSON *j = personalise_dir(dir, &st);
    cr_assert_eq(st, CT_OK, "%s", ct_error_message());
    const cJSON *js = cJSON_GetObjectItem(j, "surface");
    double myo = cJSON_GetObjectItem(js, "myocardium_mesh_mL")->valuedouble;
    double ref = ct_mesh_volume(biv_mesh()) / 1e3;
    cr_log_info("surface route: myocardium %.4f mL, source mesh %.4f mL (%+.2f %%)", myo, ref, 100 * (myo / ref - 1));
    cr_assert(fabs(myo / ref - 1) < 0.03, "myocardium %.4f mL vs %.4f", myo, ref);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(js, "flipped")));
    snprintf(path, sizeof path, "%s/out/surface_labels.vtp", dir);
    ct_trisurf back;
    cr_assert_eq(ct_vtk_read_surface(path, &back), CT_OK, "%s", ct_error_message());
    cr_assert_eq(back.n_tris, s.n_tris);
    ct_trisurf_free(&back);
    double a[17], b[17];
    segments(j, a);
    cJSON_Delete(j);

    /* the idealised route on the same heart */
    char *dir2 = ct_test_tmpdir("surf_ideal");
    write_patient(dir2, "{\"type\": \"biventricular_small\", \"h_mm\": 1.5}");
    j = personalise_dir(dir2, &st);
    cr_assert_eq(st, CT_OK, "%s", ct_error_message());
    segments(j, b);
    cJSON_Delete(j);
    double worst = 0;
    for (int k = 0; k < 17; k++) {
        cr_log_info("AHA %d: surface %.4f mL, idealised %.4f mL (%+.1f %%)", k + 1, a[k], b[k], 100 * (a[k] / b[k] - 1));
        worst = fmax(worst, fabs(a[k] / b[k] - 1));
        double tol = k < 12 ? 0.08 : 0.12;
        cr_assert(fabs(a[k] / b[k] - 1) < tol, "AHA %d: %.4f vs %.4f mL", k + 1, a[k], b[k]);
    }
    cr_log_info("AHA segments: worst difference %.1f %%", 100 * worst);
    free(truth);
    ct_trisurf_free(&s);
    ct_test_rmtree(dir);
    ct_test_rmtree(dir2);
    free(dir);
    free(dir2);
}

/* ---- bad input: a clear error naming the file, and nothing written ---- */

static void expect_refusal(const char *dir, const char *needle)
{
    ct_status st;
    cJSON *j = personalise_dir(dir, &st);
    cr_assert_null(j);
    cr_assert_neq(st, CT_OK);
    cr_assert(strstr(ct_error_message(), needle), "expected \"%s\" in: %s", needle, ct_error_message());
    static const char *const outs[] = {"heart.vtu", "surface_labels.vtp", "personalise.json"};
    for (int k = 0; k < 3; k++) {
        char path[1100];
        struct stat sb;
        snprintf(path, sizeof path, "%s/out/%s", dir, outs[k]);
        cr_assert_neq(stat(path, &sb), 0, "%s was written", path);
    }
}

Test(surface_bad, open_surface)
{
    char *dir = ct_test_tmpdir("surf_open");
    ct_trisurf s;
    int32_t *truth;
    biv_surface(1, &s, &truth);
    s.n_tris -= 3; /* a hole */
    char path[1024];
    snprintf(path, sizeof path, "%s/holed.stl", dir);
    write_stl(path, &s, 1.0);
    write_patient(dir, "{\"type\": \"surface\", \"path\": \"holed.stl\"}");
    expect_refusal(dir, "holed.stl: the surface is open");
    free(truth);
    ct_trisurf_free(&s);
    ct_test_rmtree(dir);
    free(dir);
}

Test(surface_bad, non_manifold_fin)
{
    char *dir = ct_test_tmpdir("surf_fin");
    ct_trisurf s;
    int32_t *truth;
    biv_surface(1, &s, &truth);
    /* a fin: one more point, and two triangles (front and back) on an existing edge */
    s.xyz_mm = realloc(s.xyz_mm, 3 * (s.n_points + 1) * sizeof *s.xyz_mm);
    s.tris = realloc(s.tris, 3 * (s.n_tris + 2) * sizeof *s.tris);
    int32_t a = s.tris[0], b = s.tris[1], f = (int32_t)s.n_points++;
    for (int k = 0; k < 3; k++)
        s.xyz_mm[3 * f + k] = 0.5 * (s.xyz_mm[3 * a + k] + s.xyz_mm[3 * b + k]) + (k == 0 ? 5 : 0);
    int32_t fin[6] = {a, b, f, b, a, f};
    memcpy(s.tris + 3 * s.n_tris, fin, sizeof fin);
    s.n_tris += 2;
    char path[1024];
    snprintf(path, sizeof path, "%s/fin.obj", dir);
    write_obj(path, &s);
    write_patient(dir, "{\"type\": \"surface\", \"path\": \"fin.obj\"}");
    expect_refusal(dir, "fin.obj: the surface is non-manifold");
    free(truth);
    ct_trisurf_free(&s);
    ct_test_rmtree(dir);
    free(dir);
}

Test(surface_bad, centimetres_read_as_millimetres)
{
    char *dir = ct_test_tmpdir("surf_cm");
    ct_trisurf s;
    int32_t *truth;
    biv_surface(1, &s, &truth);
    char path[1024];
    snprintf(path, sizeof path, "%s/heart_cm.stl", dir);
    write_stl(path, &s, 0.1);
    write_patient(dir, "{\"type\": \"surface\", \"path\": \"heart_cm.stl\"}");
    expect_refusal(dir, "implausible for a heart");
    expect_refusal(dir, "heart_cm.stl");
    free(truth);
    ct_trisurf_free(&s);
    ct_test_rmtree(dir);
    free(dir);
}

Test(surface_bad, keys_of_the_surface_route_elsewhere)
{
    cr_assert_eq(ct_patient_check("{\"geometry\": {\"type\": \"biventricular_small\", \"flip_normals\": true}, "
                                  "\"pacing\": [{\"aha_segment\": 1}]}", "p.json"), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "belongs to geometry.type \"surface\""), "%s", ct_error_message());
    cr_assert_eq(ct_patient_check("{\"geometry\": {\"type\": \"surface\", \"path\": \"a.stl\", \"units\": \"inch\"}, "
                                  "\"pacing\": [{\"aha_segment\": 1}]}", "p.json"), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "units"), "%s", ct_error_message());
    cr_assert_eq(ct_patient_check("{\"geometry\": {\"type\": \"surface\", \"path\": \"a.stl\", \"flip_normals\": 1}, "
                                  "\"pacing\": [{\"aha_segment\": 1}]}", "p.json"), CT_ERR_CONFIG);
}

/* ---- the adult phantom: a smoothed, decimated surface of a rasterised heart, as a segmentation tool gives it ---- */

#include "image/ct_image.h"
#include "image/ct_phantom.h"

Test(surface_route, phantom_surface_from_a_rotated_grid, .timeout = 900)
{
    ct_phantom_params pp = ct_phantom_params_default();
    double r[9];
    ct_phantom_rotation_from_deg(30, 20, 10, r);
    ct_image *img = NULL;
    cr_assert_eq(ct_phantom_rasterise(&pp, 1.5, r, 0, 1, &img, NULL), CT_OK, "%s", ct_error_message());
    size_t nv = ct_image_n_voxels(img);
    unsigned char *mask = malloc(nv);
    for (size_t i = 0; i < nv; i++) {
        int v = (int)img->value[i];
        mask[i] = v == 1 || v == 2 || v == 5 || v == 6;
    }
    ct_trisurf s;
    cr_assert_eq(ct_vtk_mask_surface(mask, img->dims, img->ijk_to_mm, 20, 0.05, 2.5, "phantom", &s), CT_OK, "%s",
                 ct_error_message());
    free(mask);
    ct_image_destroy(img);
    {   /* the last resort of ct_geometry_from_surface: the surface's own triangles, filled */
        ct_mesh *m0 = NULL;
        cr_assert_eq(ct_geometry_fill_surface(&s, 2.5, "phantom", &m0), CT_OK, "%s", ct_error_message());
        cr_log_info("phantom surface filled as it is: %zu tets, %.2f mL", m0->n_tets, ct_mesh_volume(m0) / 1e3);
        cr_assert(m0->n_tris > 0);
        ct_mesh_destroy(m0);
    }
    ct_surface_heart_options opt = ct_surface_heart_options_default();
    ct_surface_heart_report rep;
    int32_t *lab = label_it(&s, &opt, &rep);
    /* the truth per triangle: what lies outside it (2 and 4 mm along the outward normal) */
    double tot[5] = {0}, ok[5] = {0};
    for (size_t t = 0; t < s.n_tris; t++) {
        const double *a = s.xyz_mm + 3 * (size_t)s.tris[3 * t], *b = s.xyz_mm + 3 * (size_t)s.tris[3 * t + 1],
                     *c = s.xyz_mm + 3 * (size_t)s.tris[3 * t + 2];
        double u[3], v[3], n[3], cen[3];
        for (int k = 0; k < 3; k++) {
            u[k] = b[k] - a[k];
            v[k] = c[k] - a[k];
            cen[k] = (a[k] + b[k] + c[k]) / 3;
        }
        n[0] = u[1] * v[2] - u[2] * v[1], n[1] = u[2] * v[0] - u[0] * v[2], n[2] = u[0] * v[1] - u[1] * v[0];
        double l = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
        int truth = CT_SURF_NONE;
        for (int step = 1; step <= 2 && truth == CT_SURF_NONE; step++) {
            double p[3];
            for (int k = 0; k < 3; k++)
                p[k] = cen[k] + 2.0 * step * n[k] / l;
            int lbl = ct_phantom_label_at(&pp, p);
            truth = lbl == CT_PHANTOM_LV_BLOOD ? CT_SURF_ENDO_LV : lbl == CT_PHANTOM_RV_BLOOD ? CT_SURF_ENDO_RV
                  : lbl == CT_PHANTOM_BACKGROUND ? (p[2] > pp.heart.lv.base_z_mm ? CT_SURF_BASE : CT_SURF_EPI)
                                                 : CT_SURF_NONE;
        }
        if (truth == CT_SURF_NONE)
            continue;
        tot[truth] += 0.5 * l;
        ok[truth] += truth == lab[t] ? 0.5 * l : 0;
    }
    cr_log_info("phantom surface (%zu triangles): labels agree on endo_lv %.4f, endo_rv %.4f, epi %.4f, base %.4f of "
                "the area; base normal %.3f %.3f %.3f; %zu small pieces", s.n_tris, ok[1] / tot[1], ok[2] / tot[2],
                ok[3] / tot[3], ok[4] / tot[4], rep.base_normal[0], rep.base_normal[1], rep.base_normal[2],
                rep.n_small_pieces);
    cr_assert_eq(rep.n_cavities, 2);
    cr_assert(rep.base_normal[2] > 0.99, "base normal %g %g %g", rep.base_normal[0], rep.base_normal[1],
              rep.base_normal[2]);
    for (int l = 1; l < 5; l++)
        cr_assert(ok[l] / tot[l] >= 0.95, "label %d: %.3f of the area agrees", l, ok[l] / tot[l]);
    free(lab);
    /* Gmsh's reparametrisation refuses this smoothed surface split at 40 deg creases ("Wrong topology of
     * boundary mesh for parametrization"); ct_geometry_from_surface then tries other crease angles */
    ct_mesh *m = NULL;
    cr_assert_eq(ct_geometry_from_surface(&s, 2.5, "phantom", &m), CT_OK, "%s", ct_error_message());
    double ref[CT_PHANTOM_N_LABELS];
    cr_assert_eq(ct_phantom_volumes(&pp, 0.5, ref), CT_OK, "%s", ct_error_message());
    double myo = ref[1] + ref[2] + ref[5] + ref[6], v = ct_mesh_volume(m);
    cr_log_info("phantom surface meshed: %zu tets, %.2f mL vs analytic %.2f mL", m->n_tets, v / 1e3, myo / 1e3);
    cr_assert(fabs(v / myo - 1) < 0.03, "%.2f mL vs analytic %.2f mL", v / 1e3, myo / 1e3);
    ct_mesh_destroy(m);
    ct_trisurf_free(&s);
}
