/* test_image.c — the image route of personalise: readers and writers of label images (NIfTI, MetaImage,
 * NRRD, .vti) with their placement, LGE thresholds, the label image of a known heart (the phantom) back to a
 * twin whose volumes match the analytic ones at several voxel sizes and orientations, and bad input. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_test_util.h"
#include "image/ct_image.h"
#include "image/ct_lge.h"
#include "image/ct_phantom.h"
#include "io/ct_vtk.h"
#include "personalise/ct_patient.h"

#define LABELS "{\"lv_myocardium\": 1, \"rv_myocardium\": 2, \"lv_blood\": 3, \"rv_blood\": 4, \"scar\": 5, " \
               "\"border_zone\": 6}"

static ct_image *phantom_labels(double voxel_mm, double rx, double ry, double rz, ct_image **lge)
{
    ct_phantom_params p = ct_phantom_params_default();
    double r[9];
    ct_phantom_rotation_from_deg(rx, ry, rz, r);
    ct_image *img = NULL;
    cr_assert_eq(ct_phantom_rasterise(&p, voxel_mm, r, 8.0, 7, &img, lge), CT_OK, "%s", ct_error_message());
    return img;
}

static void write_patient(const char *dir, const char *geometry_extra, const char *image, const char *extra)
{
    char path[1024], text[4096];
    snprintf(path, sizeof path, "%s/patient.json", dir);
    snprintf(text, sizeof text,
             "{\"geometry\": {\"type\": \"image\", \"path\": \"%s\", \"h_mm\": 2.5, \"labels\": %s%s},\n"
             " \"pacing\": [{\"name\": \"LV lateral\", \"aha_segment\": 11}]%s}\n",
             image, LABELS, geometry_extra, extra);
    cr_assert_eq(ct_test_write(path, text), 0);
}

/* personalise DIR/patient.json into DIR/out; returns personalise.json parsed (caller deletes) or NULL. */
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

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    if (b)
        x = cJSON_GetObjectItem(x, b);
    cr_assert(cJSON_IsNumber(x), "no number %s.%s", a, b ? b : "");
    return x->valuedouble;
}

/* ---- readers and writers ---- */

static void assert_same_image(const ct_image *a, const ct_image *b, double tol_mm, const char *what)
{
    for (int d = 0; d < 3; d++)
        cr_assert_eq(a->dims[d], b->dims[d], "%s: dims", what);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            cr_assert(fabs(a->ijk_to_mm[r][c] - b->ijk_to_mm[r][c]) < tol_mm, "%s: placement [%d][%d] %g vs %g", what,
                      r, c, a->ijk_to_mm[r][c], b->ijk_to_mm[r][c]);
    size_t n = ct_image_n_voxels(a);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(a->value[i], b->value[i], "%s: voxel %zu: %g vs %g", what, i, a->value[i], b->value[i]);
}

Test(image_io, every_format_keeps_values_and_placement)
{
    char *dir = ct_test_tmpdir("img_io");
    ct_image *img = phantom_labels(3.0, 30, 20, 10, NULL);
    cr_assert_str_eq(img->frame, "RAS");
    static const char *const names[] = {"a.nii.gz", "a.nii", "a.mha", "a.vti"};
    for (int k = 0; k < 4; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        cr_assert_eq(ct_vtk_write_image(path, img, 0), CT_OK, "%s", ct_error_message());
        ct_image *back = NULL;
        cr_assert_eq(ct_vtk_read_image(path, (size_t)1 << 30, &back), CT_OK, "%s", ct_error_message());
        if (k == 2) { /* MetaImage: ITK's LPS frame */
            cr_assert_str_eq(back->frame, "LPS");
            cr_assert_eq(ct_image_set_frame(back, "RAS"), CT_OK);
        }
        /* NIfTI keeps its matrices in single precision */
        assert_same_image(img, back, k < 2 ? 2e-4 : 1e-9, names[k]);
        ct_image_destroy(back);
    }
    ct_image_destroy(img);
    ct_test_rmtree(dir);
    free(dir);
}

Test(image_io, nrrd_space_directions_and_origin)
{
    char *dir = ct_test_tmpdir("img_nrrd");
    char path[1024];
    snprintf(path, sizeof path, "%s/a.nrrd", dir);
    /* 3 x 2 x 2 voxels; axis i along -y (1.5 mm), j along +x (2 mm), k along +z (0.5 mm), in LPS */
    const char *head = "NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\nsizes: 3 2 2\n"
                       "space directions: (0,-1.5,0) (2,0,0) (0,0,0.5)\nkinds: domain domain domain\n"
                       "encoding: raw\nspace origin: (10,20,30)\n\n";
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(head, f);
    for (int i = 0; i < 12; i++)
        fputc(i, f);
    fclose(f);
    ct_image *img = NULL;
    cr_assert_eq(ct_vtk_read_image(path, (size_t)1 << 30, &img), CT_OK, "%s", ct_error_message());
    cr_assert_str_eq(img->frame, "LPS");
    cr_assert_eq(img->dims[0], 3);
    cr_assert_eq(img->dims[2], 2);
    double p[3] = {10 + 2, 20 - 1.5 * 2, 30 + 0.5}; /* voxel (2, 1, 1) */
    cr_assert_float_eq(ct_image_sample(img, p, -1), 2 + 3 * 1 + 6 * 1, 1e-6);
    ct_image_destroy(img);
    ct_test_rmtree(dir);
    free(dir);
}

Test(lge, thresholds_of_both_methods)
{
    /* 900 remote voxels 50..59 (median 54.5-ish), 100 enhanced at 300 */
    size_t n = 1000;
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = i < 900 ? (float)(50 + i % 10) : 300.0f;
    ct_lge_params fw = ct_lge_params_default(CT_LGE_FWHM);
    ct_lge_result r;
    cr_assert_eq(ct_lge_thresholds(v, n, &fw, "t", &r), CT_OK, "%s", ct_error_message());
    cr_assert_float_eq(r.core_threshold, 150.0, 1e-9);
    cr_assert_float_eq(r.grey_threshold, 105.0, 1e-9);
    cr_assert_eq(ct_lge_classify(&r, 300), 2);
    cr_assert_eq(ct_lge_classify(&r, 120), 1);
    cr_assert_eq(ct_lge_classify(&r, 59), 0);
    ct_lge_params sd = ct_lge_params_default(CT_LGE_NSD);
    cr_assert_eq(ct_lge_thresholds(v, n, &sd, "t", &r), CT_OK, "%s", ct_error_message());
    /* median 55 (nearest rank), MAD 3 -> SD 4.4478: core 55 + 3 SD, grey 55 + 2 SD */
    cr_assert_float_eq(r.remote_mean, 55.0, 1e-9);
    cr_assert_float_eq(r.core_threshold, 55.0 + 3 * 1.4826 * 3, 1e-6);
    cr_assert_float_eq(r.grey_threshold, 55.0 + 2 * 1.4826 * 3, 1e-6);
    cr_assert_eq(ct_lge_thresholds(v, 5, &sd, "t.nii", &r), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "t.nii"));
    for (size_t i = 0; i < n; i++)
        v[i] = 7;
    cr_assert_eq(ct_lge_thresholds(v, n, &fw, "t", &r), CT_ERR_CONFIG);
    cr_assert_eq(ct_lge_thresholds(v, n, &sd, "t", &r), CT_ERR_CONFIG);
    free(v);
}

/* ---- the phantom back to a twin ---- */

typedef struct route {
    double myo_mL, scar_mL, bz_mL, seg_mL[17], base_normal[3];
} route;

static route run_route(double voxel_mm, double rx, double ry, double rz, const char *lge_method)
{
    char *dir = ct_test_tmpdir("img_route");
    ct_image *lge = NULL, *img = phantom_labels(voxel_mm, rx, ry, rz, lge_method ? &lge : NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/labels.nii.gz", dir);
    cr_assert_eq(ct_vtk_write_image(path, img, 0), CT_OK, "%s", ct_error_message());
    char extra[256] = "";
    if (lge) {
        snprintf(path, sizeof path, "%s/lge.nii.gz", dir);
        cr_assert_eq(ct_vtk_write_image(path, lge, 1), CT_OK, "%s", ct_error_message());
        snprintf(extra, sizeof extra, ", \"lge\": {\"path\": \"lge.nii.gz\", \"method\": \"%s\"}", lge_method);
    }
    /* with LGE, the scar labels are left out of the map: the scar comes from the intensities */
    char pat[1024], text[4096];
    snprintf(pat, sizeof pat, "%s/patient.json", dir);
    snprintf(text, sizeof text,
             "{\"geometry\": {\"type\": \"image\", \"path\": \"labels.nii.gz\", \"h_mm\": 2.5, \"labels\": %s%s},\n"
             " \"pacing\": [{\"name\": \"LV lateral\", \"aha_segment\": 11}]}\n",
             lge ? "{\"lv_myocardium\": [1, 5, 6], \"rv_myocardium\": 2, \"lv_blood\": 3, \"rv_blood\": 4}" : LABELS,
             extra);
    cr_assert_eq(ct_test_write(pat, text), 0);
    ct_status st;
    cJSON *j = personalise_dir(dir, &st);
    cr_assert_eq(st, CT_OK, "voxel %g mm, rotation %g %g %g: %s", voxel_mm, rx, ry, rz, ct_error_message());
    route r;
    r.myo_mL = num(j, "image", "myocardium_mesh_mL");
    r.scar_mL = num(j, "volume_scar_mm3", NULL) / 1e3;
    r.bz_mL = num(j, "volume_border_zone_mm3", NULL) / 1e3;
    const cJSON *segs = cJSON_GetObjectItem(j, "aha_segments");
    for (int s = 0; s < 17; s++)
        r.seg_mL[s] = num(cJSON_GetArrayItem(segs, s), "volume_mm3", NULL) / 1e3;
    const cJSON *nrm = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "image"), "base"), "normal");
    for (int k = 0; k < 3; k++)
        r.base_normal[k] = cJSON_GetArrayItem(nrm, k)->valuedouble;
    cJSON_Delete(j);
    ct_image_destroy(img);
    ct_image_destroy(lge);
    ct_test_rmtree(dir);
    free(dir);
    return r;
}

static double ref_mL[CT_PHANTOM_N_LABELS];

static void reference(void)
{
    if (ref_mL[1] > 0)
        return;
    ct_phantom_params p = ct_phantom_params_default();
    double v[CT_PHANTOM_N_LABELS];
    cr_assert_eq(ct_phantom_volumes(&p, 0.5, v), CT_OK, "%s", ct_error_message());
    for (int k = 0; k < CT_PHANTOM_N_LABELS; k++)
        ref_mL[k] = v[k] / 1e3;
}

static void check_volumes(const route *r, const char *what)
{
    reference();
    double myo = ref_mL[1] + ref_mL[2] + ref_mL[5] + ref_mL[6];
    cr_log_info("%s: myocardium %.2f mL (analytic %.2f), scar %.2f (%.2f), border zone %.2f (%.2f)", what, r->myo_mL,
                myo, r->scar_mL, ref_mL[5], r->bz_mL, ref_mL[6]);
    cr_assert(fabs(r->myo_mL / myo - 1) < 0.03, "%s: myocardium %.2f mL vs analytic %.2f", what, r->myo_mL, myo);
    cr_assert(fabs(r->scar_mL / ref_mL[5] - 1) < 0.10, "%s: scar %.2f mL vs analytic %.2f", what, r->scar_mL, ref_mL[5]);
    cr_assert(fabs(r->bz_mL / ref_mL[6] - 1) < 0.25, "%s: border zone %.2f mL vs analytic %.2f", what, r->bz_mL,
              ref_mL[6]);
    /* the valve plane is z = 18 mm in the heart's frame: normal +z */
    cr_assert(r->base_normal[2] > 0.999, "%s: base normal %g %g %g", what, r->base_normal[0], r->base_normal[1],
              r->base_normal[2]);
}

Test(image_route, volumes_and_segments_agree_across_voxel_sizes_and_orientations, .timeout = 600)
{
    route a = run_route(1.0, 0, 0, 0, NULL);
    check_volumes(&a, "1 mm");
    route b = run_route(1.5, 30, 20, 10, NULL);
    check_volumes(&b, "1.5 mm, rotated 30/20/10 deg");
    route c = run_route(1.0, -15, 40, 75, NULL);
    check_volumes(&c, "1 mm, rotated -15/40/75 deg");
    for (int s = 0; s < 17; s++) {
        cr_log_info("AHA %d: %.2f / %.2f / %.2f mL", s + 1, a.seg_mL[s], b.seg_mL[s], c.seg_mL[s]);
        /* apical segments hang on the tip of the LV cavity, which moves with the voxels: a wider bound */
        double tol = s < 12 ? 0.08 : 0.12;
        cr_assert(fabs(b.seg_mL[s] / a.seg_mL[s] - 1) < tol, "AHA %d: %.2f vs %.2f mL", s + 1, b.seg_mL[s], a.seg_mL[s]);
        cr_assert(fabs(c.seg_mL[s] / a.seg_mL[s] - 1) < tol, "AHA %d: %.2f vs %.2f mL", s + 1, c.seg_mL[s], a.seg_mL[s]);
    }
}

Test(image_route, lge_fwhm_finds_the_scar_and_the_grey_zone, .timeout = 300)
{
    route r = run_route(1.0, 0, 0, 0, "fwhm");
    check_volumes(&r, "1 mm, scar from LGE (FWHM)");
}

/* ---- bad input: a clear error naming the file, and nothing written ---- */

static void expect_refusal(const char *dir, const char *needle)
{
    ct_status st;
    cJSON *j = personalise_dir(dir, &st);
    cr_assert_null(j);
    cr_assert_neq(st, CT_OK);
    cr_assert(strstr(ct_error_message(), needle), "expected \"%s\" in: %s", needle, ct_error_message());
    char path[1100];
    struct stat sb;
    snprintf(path, sizeof path, "%s/out/heart.vtu", dir);
    cr_assert_neq(stat(path, &sb), 0, "%s was written", path);
}

static char *bad_dir(ct_image **img_out)
{
    char *dir = ct_test_tmpdir("img_bad");
    ct_image *img = phantom_labels(2.0, 0, 0, 0, NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/labels.nii.gz", dir);
    cr_assert_eq(ct_vtk_write_image(path, img, 0), CT_OK, "%s", ct_error_message());
    if (img_out)
        *img_out = img;
    else
        ct_image_destroy(img);
    return dir;
}

Test(image_bad, two_dimensional_image)
{
    char *dir = ct_test_tmpdir("img_2d");
    int dims[3] = {40, 30, 1};
    double a[3][4];
    ct_image_placement((double[3]){1, 1, 1}, NULL, (double[3]){0, 0, 0}, a);
    ct_image *img = NULL;
    cr_assert_eq(ct_image_create(dims, a, &img), CT_OK);
    snprintf(img->frame, sizeof img->frame, "RAS");
    char path[1024];
    snprintf(path, sizeof path, "%s/flat.nii", dir);
    cr_assert_eq(ct_vtk_write_image(path, img, 0), CT_OK, "%s", ct_error_message());
    write_patient(dir, "", "flat.nii", "");
    expect_refusal(dir, "must be 3-D");
    expect_refusal(dir, "flat.nii");
    ct_image_destroy(img);
    ct_test_rmtree(dir);
    free(dir);
}

Test(image_bad, absent_label_lists_what_the_image_holds)
{
    char *dir = bad_dir(NULL);
    char pat[1024];
    snprintf(pat, sizeof pat, "%s/patient.json", dir);
    cr_assert_eq(ct_test_write(pat, "{\"geometry\": {\"type\": \"image\", \"path\": \"labels.nii.gz\", \"labels\": "
                                    "{\"lv_myocardium\": 1, \"lv_blood\": 3, \"scar\": 9}}, \"pacing\": [{\"aha_segment\": 1}]}"),
                 0);
    expect_refusal(dir, "label 9 (scar) does not occur in the image, whose labels are: 0 (");
    ct_test_rmtree(dir);
    free(dir);
}

Test(image_bad, image_without_myocardium)
{
    ct_image *img = NULL;
    char *dir = bad_dir(&img);
    size_t n = ct_image_n_voxels(img);
    for (size_t i = 0; i < n; i++)
        if (img->value[i] == 1 || img->value[i] == 2 || img->value[i] == 5 || img->value[i] == 6)
            img->value[i] = 0;
    char path[1024];
    snprintf(path, sizeof path, "%s/labels.nii.gz", dir);
    cr_assert_eq(ct_vtk_write_image(path, img, 0), CT_OK);
    snprintf(path, sizeof path, "%s/patient.json", dir);
    cr_assert_eq(ct_test_write(path, "{\"geometry\": {\"type\": \"image\", \"path\": \"labels.nii.gz\", \"labels\": "
                                     "{\"lv_myocardium\": 1, \"lv_blood\": 3}}, \"pacing\": [{\"aha_segment\": 1}]}"),
                 0);
    expect_refusal(dir, "label 1 (lv_myocardium) does not occur");
    ct_image_destroy(img);
    ct_test_rmtree(dir);
    free(dir);
}

Test(image_bad, both_cavities_labelled_lv)
{
    char *dir = bad_dir(NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s/patient.json", dir);
    cr_assert_eq(ct_test_write(path, "{\"geometry\": {\"type\": \"image\", \"path\": \"labels.nii.gz\", \"labels\": "
                                     "{\"lv_myocardium\": [1, 2], \"lv_blood\": [3, 4]}}, \"pacing\": [{\"aha_segment\": 1}]}"),
                 0);
    expect_refusal(dir, "two separate cavities");
    ct_test_rmtree(dir);
    free(dir);
}

Test(image_bad, implausible_units)
{
    char *dir = bad_dir(NULL);
    write_patient(dir, ", \"units\": \"um\"", "labels.nii.gz", "");
    expect_refusal(dir, "implausible for a heart");
    ct_test_rmtree(dir);
    free(dir);
}

Test(image_bad, gigantic_image_is_refused_with_the_memory_it_needs)
{
    char *dir = bad_dir(NULL);
    write_patient(dir, ", \"max_memory_gib\": 0.0001", "labels.nii.gz", "");
    expect_refusal(dir, "would need");
    ct_test_rmtree(dir);
    free(dir);
}

Test(image_bad, lge_image_elsewhere_in_space)
{
    ct_image *img = NULL;
    char *dir = bad_dir(&img);
    for (int r = 0; r < 3; r++)
        img->ijk_to_mm[r][3] += 500; /* a header that places it half a metre away */
    char path[1024];
    snprintf(path, sizeof path, "%s/lge.mha", dir);
    cr_assert_eq(ct_vtk_write_image(path, img, 1), CT_OK, "%s", ct_error_message());
    snprintf(path, sizeof path, "%s/patient.json", dir);
    cr_assert_eq(ct_test_write(path, "{\"geometry\": {\"type\": \"image\", \"path\": \"labels.nii.gz\", \"labels\": "
                                     "{\"lv_myocardium\": [1, 5, 6], \"rv_myocardium\": 2, \"lv_blood\": 3, "
                                     "\"rv_blood\": 4}, \"lge\": {\"path\": \"lge.mha\"}}, \"pacing\": [{\"aha_segment\": 1}]}"),
                 0);
    expect_refusal(dir, "LGE voxels fall on the myocardium");
    ct_image_destroy(img);
    ct_test_rmtree(dir);
    free(dir);
}

/* ---- separate surfaces (epicardium, LV and RV cavities), as segmentation pipelines export them ---- */

static void write_mask_surface(const ct_image *img, const int *values, int n_values, const char *path)
{
    size_t nv = ct_image_n_voxels(img);
    unsigned char *mask = malloc(nv);
    for (size_t i = 0; i < nv; i++) {
        mask[i] = 0;
        for (int k = 0; k < n_values; k++)
            mask[i] |= (int)img->value[i] == values[k];
    }
    ct_trisurf s;
    cr_assert_eq(ct_vtk_mask_surface(mask, img->dims, img->ijk_to_mm, 20, 0.05, 1.5, path, &s), CT_OK, "%s",
                 ct_error_message());
    cr_assert_eq(ct_vtk_write_surface_vtp(path, &s, NULL), CT_OK, "%s", ct_error_message());
    ct_trisurf_free(&s);
    free(mask);
}

Test(image_route, separate_surfaces_of_epicardium_and_cavities, .timeout = 600)
{
    char *dir = ct_test_tmpdir("img_surfaces");
    ct_image *img = phantom_labels(1.0, 0, 0, 0, NULL);
    char path[1024];
    static const int epi[] = {1, 2, 3, 4, 5, 6}, lv[] = {3}, rv[] = {4};
    snprintf(path, sizeof path, "%s/epi.vtp", dir);
    write_mask_surface(img, epi, 6, path);
    snprintf(path, sizeof path, "%s/lv.vtp", dir);
    write_mask_surface(img, lv, 1, path);
    snprintf(path, sizeof path, "%s/rv.vtp", dir);
    write_mask_surface(img, rv, 1, path);
    ct_image_destroy(img);
    snprintf(path, sizeof path, "%s/patient.json", dir);
    cr_assert_eq(ct_test_write(path, "{\"geometry\": {\"type\": \"surfaces\", \"epi\": \"epi.vtp\", \"endo_lv\": \"lv.vtp\", "
                                     "\"endo_rv\": \"rv.vtp\", \"h_mm\": 2.5, \"voxel_mm\": 1.0},\n"
                                     " \"pacing\": [{\"name\": \"LV lateral\", \"aha_segment\": 11}]}\n"),
                 0);
    ct_status st;
    cJSON *j = personalise_dir(dir, &st);
    cr_assert_eq(st, CT_OK, "%s", ct_error_message());
    reference();
    double myo = ref_mL[1] + ref_mL[2] + ref_mL[5] + ref_mL[6], got = num(j, "image", "myocardium_mesh_mL");
    const cJSON *nrm = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "image"), "base"), "normal");
    cr_log_info("separate surfaces: myocardium %.2f mL (analytic %.2f); base normal %.3f %.3f %.3f", got, myo,
                cJSON_GetArrayItem(nrm, 0)->valuedouble, cJSON_GetArrayItem(nrm, 1)->valuedouble,
                cJSON_GetArrayItem(nrm, 2)->valuedouble);
    cr_assert(fabs(got / myo - 1) < 0.03, "myocardium %.2f mL vs analytic %.2f", got, myo);
    cr_assert(cJSON_GetArrayItem(nrm, 2)->valuedouble > 0.999);
    /* AHA segments as the label-image route gives them (same heart) */
    route a = run_route(1.0, 0, 0, 0, NULL);
    const cJSON *segs = cJSON_GetObjectItem(j, "aha_segments");
    for (int s = 0; s < 17; s++)
        cr_log_info("AHA %d: %.2f mL (label image %.2f)", s + 1,
                    num(cJSON_GetArrayItem(segs, s), "volume_mm3", NULL) / 1e3, a.seg_mL[s]);
    for (int s = 0; s < 17; s++) {
        double v = num(cJSON_GetArrayItem(segs, s), "volume_mm3", NULL) / 1e3, tol = s < 12 ? 0.08 : 0.12;
        cr_assert(fabs(v / a.seg_mL[s] - 1) < tol, "AHA %d: %.2f vs %.2f mL", s + 1, v, a.seg_mL[s]);
    }
    cJSON_Delete(j);
    ct_test_rmtree(dir);
    free(dir);
}

/* The demo's images (patients/adult_image/) are what `cardiotwin phantom` makes with its defaults: the
 * generator and the shipped files have not drifted apart. */
Test(image_io, shipped_demo_images_are_the_phantoms)
{
    ct_phantom_params p = ct_phantom_params_default();
    ct_image *lab = NULL, *lge = NULL, *flab = NULL, *flge = NULL;
    cr_assert_eq(ct_phantom_rasterise(&p, 1.0, NULL, 8.0, 1, &lab, &lge), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_vtk_read_image(CT_SOURCE_DIR "/patients/adult_image/labels.nii.gz", (size_t)1 << 30, &flab), CT_OK,
                 "%s", ct_error_message());
    cr_assert_eq(ct_vtk_read_image(CT_SOURCE_DIR "/patients/adult_image/lge.nii.gz", (size_t)1 << 30, &flge), CT_OK,
                 "%s", ct_error_message());
    assert_same_image(lab, flab, 2e-4, "labels.nii.gz");
    /* the LGE file holds whole numbers (unsigned 16-bit) */
    size_t n = ct_image_n_voxels(lge);
    for (size_t i = 0; i < n; i++)
        lge->value[i] = fminf(65535.0f, floorf(lge->value[i] + 0.5f));
    assert_same_image(lge, flge, 2e-4, "lge.nii.gz");
    ct_image_destroy(lab);
    ct_image_destroy(lge);
    ct_image_destroy(flab);
    ct_image_destroy(flge);
}
