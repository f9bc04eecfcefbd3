/* test_dimensions.c — the idealised BiV from a patient's measured dimensions (ct_heart_dimensions): the
 * adult default is the phantom's heart and meshes to its volume, given dimensions move the surfaces where
 * they say, bad ones are refused naming the key, and "biventricular_small" is the former default mesh.
 * Coarse meshes (h = 3 mm) keep the file to seconds. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/ct_mesh.h"
#include "ct_test_util.h"
#include "image/ct_phantom.h"
#include "personalise/ct_geometry.h"
#include "personalise/ct_patient.h"

#define H_MM 3.0

static ct_mesh *biv(const ct_biv_params *p, double h_mm)
{
    ct_mesh *m = NULL;
    cr_assert_eq(ct_geometry_biv(p, h_mm, &m), CT_OK, "%s", ct_error_message());
    return m;
}

static ct_biv_params from_dims(const ct_heart_dimensions *d)
{
    ct_biv_params b;
    cr_assert_eq(ct_biv_params_from_dimensions(d, &b), CT_OK, "%s", ct_error_message());
    return b;
}

static void assert_same_heart(const ct_biv_params *a, const ct_biv_params *b)
{
    const double x[] = {a->lv.endo_short_mm, a->lv.endo_long_mm, a->lv.epi_short_mm, a->lv.epi_long_mm,
                        a->lv.base_z_mm,     a->rv_centre_x_mm,  a->rv_centre_z_mm,  a->rv_epi_x_mm,
                        a->rv_epi_y_mm,      a->rv_epi_z_mm,     a->rv_wall_mm};
    const double y[] = {b->lv.endo_short_mm, b->lv.endo_long_mm, b->lv.epi_short_mm, b->lv.epi_long_mm,
                        b->lv.base_z_mm,     b->rv_centre_x_mm,  b->rv_centre_z_mm,  b->rv_epi_x_mm,
                        b->rv_epi_y_mm,      b->rv_epi_z_mm,     b->rv_wall_mm};
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        cr_assert_eq(x[i], y[i], "field %zu: %.17g vs %.17g", i, x[i], y[i]);
}

Test(dimensions, adult_default_is_the_phantom_heart_exactly)
{
    ct_heart_dimensions d = ct_heart_dimensions_default();
    cr_assert_eq(d.lv_edd_mm, 48.0);
    cr_assert_eq(d.lv_length_mm, 86.0);
    cr_assert_eq(d.septum_mm, 10.0);
    cr_assert_eq(d.free_wall_mm, 10.0);
    cr_assert_eq(d.apex_wall_mm, 8.0);
    cr_assert_eq(d.rv_edd_mm, 20.0);
    cr_assert_eq(d.rv_length_mm, 74.0);
    cr_assert_eq(d.rv_wall_mm, 4.0);
    ct_biv_params b = from_dims(&d), def = ct_biv_params_default();
    ct_phantom_params ph = ct_phantom_params_default();
    assert_same_heart(&b, &def);
    assert_same_heart(&b, &ph.heart);
    /* and the documented numbers */
    const ct_biv_params want = {.lv = {.endo_short_mm = 24, .endo_long_mm = 60, .epi_short_mm = 34,
                                       .epi_long_mm = 68, .base_z_mm = 18},
                                .rv_centre_x_mm = 26, .rv_centre_z_mm = 0, .rv_epi_x_mm = 32, .rv_epi_y_mm = 44,
                                .rv_epi_z_mm = 60, .rv_wall_mm = 4};
    assert_same_heart(&b, &want);
}

/* The myocardium of the meshed adult heart against the phantom's quadrature of the same implicit geometry,
 * and its LV wall (tets whose centroid lies inside the LV epicardium) against the analytic shell. */
Test(dimensions, adult_default_meshes_to_its_analytic_volume, .timeout = 300)
{
    ct_mesh *m = biv(NULL, H_MM);
    cr_assert_eq(ct_mesh_validate(m, "adult"), CT_OK, "%s", ct_error_message());
    ct_biv_params b = ct_biv_params_default();
    const ct_lv_params *lv = &b.lv;
    double v_lv = 0.0, v = ct_mesh_volume(m);
    for (size_t e = 0; e < m->n_tets; e++) {
        double c[3] = {0, 0, 0};
        for (int a = 0; a < 4; a++)
            for (int k = 0; k < 3; k++)
                c[k] += 0.25 * m->xyz_mm[3 * (size_t)m->tets[4 * e + a] + k];
        double f = (c[0] * c[0] + c[1] * c[1]) / (lv->epi_short_mm * lv->epi_short_mm) +
                   c[2] * c[2] / (lv->epi_long_mm * lv->epi_long_mm);
        if (f < 1.0)
            v_lv += ct_mesh_tet_volume(m, e);
    }
    double lv_ref = ct_geometry_truncated_ellipsoid_volume(lv->epi_short_mm, lv->epi_long_mm, lv->base_z_mm) -
                    ct_geometry_truncated_ellipsoid_volume(lv->endo_short_mm, lv->endo_long_mm, lv->base_z_mm);
    ct_phantom_params ph = ct_phantom_params_default();
    ph.has_scar = 0;
    double vol[CT_PHANTOM_N_LABELS];
    cr_assert_eq(ct_phantom_volumes(&ph, 0.5, vol), CT_OK, "%s", ct_error_message());
    double ref = vol[CT_PHANTOM_LV_MYO] + vol[CT_PHANTOM_RV_MYO];
    fprintf(stderr, "adult BiV h=%.1f: %zu nodes, %zu tets; myocardium %.1f mL (quadrature %.1f), LV wall %.1f mL "
            "(analytic %.1f, quadrature %.1f)\n", H_MM, m->n_nodes, m->n_tets, v / 1e3, ref / 1e3, v_lv / 1e3,
            lv_ref / 1e3, vol[CT_PHANTOM_LV_MYO] / 1e3);
    cr_assert_lt(fabs(v - ref) / ref, 0.03, "myocardium %g vs %g mm^3", v, ref);
    cr_assert_lt(fabs(v_lv - lv_ref) / lv_ref, 0.03, "LV wall %g vs %g mm^3", v_lv, lv_ref);
    cr_assert_lt(fabs(vol[CT_PHANTOM_LV_MYO] - lv_ref) / lv_ref, 0.01, "quadrature LV wall %g vs analytic %g",
                 vol[CT_PHANTOM_LV_MYO], lv_ref);
    ct_mesh_destroy(m);
}

/* Largest in-plane radius of the nodes of surface `label` within h/2 of the equator z = 0, on the side
 * sign * x > 0 (sign 0: any side), and the largest x among them. */
static double equator_radius(const ct_mesh *m, int label, int sign, double *max_x)
{
    double r = 0.0;
    *max_x = -1e300;
    for (size_t i = 0; i < m->n_tris; i++) {
        if (m->tri_label[i] != label)
            continue;
        for (int a = 0; a < 3; a++) {
            const double *x = m->xyz_mm + 3 * (size_t)m->tris[3 * i + a];
            if (fabs(x[2]) > 0.5 * H_MM || (sign && sign * x[0] <= 0))
                continue;
            r = fmax(r, hypot(x[0], x[1]));
            *max_x = fmax(*max_x, x[0]);
        }
    }
    return r;
}

Test(dimensions, given_dimensions_move_the_surfaces, .timeout = 300)
{
    ct_heart_dimensions d = ct_heart_dimensions_default();
    d.lv_edd_mm = 56.0;
    d.septum_mm = d.free_wall_mm = 12.0;
    d.lv_length_mm = 95.0;
    d.apex_wall_mm = 6.0;
    d.rv_edd_mm = 28.0;
    d.rv_length_mm = 80.0;
    d.rv_wall_mm = 5.0;
    ct_biv_params b = from_dims(&d);
    cr_assert_float_eq(b.lv.base_z_mm + b.lv.epi_long_mm, 95.0, 1e-9);
    cr_assert_float_eq(b.lv.epi_long_mm - b.lv.endo_long_mm, 6.0, 1e-9);
    cr_assert_float_eq(b.rv_centre_x_mm + b.rv_epi_x_mm - b.rv_wall_mm - b.lv.epi_short_mm, 28.0, 1e-9);
    cr_assert_float_eq(b.lv.base_z_mm - (b.rv_centre_z_mm - (b.rv_epi_z_mm - b.rv_wall_mm)), 80.0, 1e-9);
    ct_mesh *m = biv(&b, H_MM);
    double max_x, zmin = 1e300, zmax = -1e300;
    double cavity = 2.0 * equator_radius(m, CT_SURF_ENDO_LV, 0, &max_x);
    double lateral_epi = equator_radius(m, CT_SURF_EPI, -1, &max_x);
    equator_radius(m, CT_SURF_ENDO_RV, 0, &max_x);
    double rv_width = max_x - b.lv.epi_short_mm;
    for (size_t i = 0; i < m->n_nodes; i++) {
        zmin = fmin(zmin, m->xyz_mm[3 * i + 2]);
        zmax = fmax(zmax, m->xyz_mm[3 * i + 2]);
    }
    fprintf(stderr, "BiV lv_edd 56, walls 12, length 95, rv_edd 28: %zu nodes; cavity diameter %.2f, lateral wall "
            "%.2f, LV length %.2f, RV width %.2f mm\n", m->n_nodes, cavity, lateral_epi - 28.0, zmax - zmin, rv_width);
    cr_assert_float_eq(cavity, 56.0, H_MM, "LV cavity diameter at the equator %g", cavity);
    cr_assert_float_eq(lateral_epi - 28.0, 12.0, H_MM, "lateral wall %g", lateral_epi - 28.0);
    cr_assert_float_eq(zmax - zmin, 95.0, H_MM, "LV length %g", zmax - zmin);
    cr_assert_float_eq(rv_width, 28.0, H_MM, "RV width %g", rv_width);
    ct_mesh_destroy(m);

    /* a septum and free wall given apart (within 2 mm) give their mean */
    d.septum_mm = 13.0;
    d.free_wall_mm = 11.0;
    b = from_dims(&d);
    cr_assert_float_eq(b.lv.epi_short_mm - b.lv.endo_short_mm, 12.0, 1e-12);
}

static void refused(ct_heart_dimensions d, const char *key)
{
    ct_biv_params b = ct_biv_params_small(), before = b;
    cr_assert_eq(ct_biv_params_from_dimensions(&d, &b), CT_ERR_CONFIG, "expected %s refused", key);
    cr_assert(strstr(ct_error_message(), key) != NULL, "message does not name %s: %s", key, ct_error_message());
    assert_same_heart(&b, &before);
}

Test(dimensions, bad_dimensions_are_refused_naming_the_key)
{
    ct_heart_dimensions d0 = ct_heart_dimensions_default(), d;
    d = d0, d.lv_edd_mm = 120.0, refused(d, "dimensions.lv_edd_mm");
    d = d0, d.lv_edd_mm = NAN, refused(d, "dimensions.lv_edd_mm");
    d = d0, d.lv_length_mm = 20.0, refused(d, "dimensions.lv_length_mm");
    d = d0, d.septum_mm = 0.0, refused(d, "dimensions.septum_mm");
    d = d0, d.free_wall_mm = 45.0, refused(d, "dimensions.free_wall_mm");
    d = d0, d.apex_wall_mm = 1.0, refused(d, "dimensions.apex_wall_mm");
    d = d0, d.rv_edd_mm = 2.0, refused(d, "dimensions.rv_edd_mm");
    d = d0, d.rv_length_mm = 200.0, refused(d, "dimensions.rv_length_mm");
    d = d0, d.rv_wall_mm = 0.5, refused(d, "dimensions.rv_wall_mm");
    /* consistency */
    d = d0, d.septum_mm = 15.0, refused(d, "dimensions.septum_mm"); /* 5 mm thicker than the free wall */
    d = d0, d.lv_edd_mm = 80.0, d.lv_length_mm = 55.0, refused(d, "dimensions.lv_length_mm"); /* wider than long */
    d = d0, d.rv_length_mm = 84.0, refused(d, "dimensions.rv_length_mm"); /* 84 + 4 below the LV apex (86) */
    d = d0, d.lv_length_mm = 125.0, d.rv_length_mm = 50.0, refused(d, "dimensions.rv_length_mm"); /* base 27.0 */
}

/* The former default BiV, now "biventricular_small": the same numbers and the same mesh as before the adult
 * default (node, tet and triangle counts and volume recorded from the old ct_biv_params_default). */
Test(dimensions, small_biv_is_the_former_default_mesh, .timeout = 120)
{
    ct_biv_params s = ct_biv_params_small();
    const ct_biv_params old = {.lv = {.endo_short_mm = 7, .endo_long_mm = 17, .epi_short_mm = 10, .epi_long_mm = 20,
                                      .base_z_mm = 5},
                               .rv_centre_x_mm = 10, .rv_centre_z_mm = 0, .rv_epi_x_mm = 13, .rv_epi_y_mm = 17,
                               .rv_epi_z_mm = 16, .rv_wall_mm = 3};
    assert_same_heart(&s, &old);
    const struct {
        double h;
        size_t nodes, tets, tris;
        double volume;
    } before[] = {{3.0, 769, 2264, 1534, 6919.693168}, {2.0, 1615, 4833, 3204, 6932.168234}};
    for (int i = 0; i < 2; i++) {
        ct_mesh *m = biv(&s, before[i].h);
        cr_assert_eq(m->n_nodes, before[i].nodes, "h %g: %zu nodes", before[i].h, m->n_nodes);
        cr_assert_eq(m->n_tets, before[i].tets, "h %g: %zu tets", before[i].h, m->n_tets);
        cr_assert_eq(m->n_tris, before[i].tris, "h %g: %zu triangles", before[i].h, m->n_tris);
        cr_assert_float_eq(ct_mesh_volume(m), before[i].volume, 1e-5);
        ct_mesh_destroy(m);
    }
}

/* ---- patient files ---- */

static const char *patient_fmt =
    "{\"geometry\": {\"type\": \"%s\", \"h_mm\": 3.0%s},"
    " \"pacing\": [{\"name\": \"lateral\", \"aha_segment\": 11, \"radius_mm\": 4}],"
    " \"simulation\": {\"dt_ms\": 0.05, \"end_time_ms\": 50, \"output_interval_ms\": 0}}";

static ct_status check_patient(const char *type, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text, patient_fmt, type, extra);
    return ct_patient_check(text, "p.json");
}

static void patient_refused(const char *type, const char *extra, const char *needle)
{
    cr_assert_eq(check_patient(type, extra), CT_ERR_CONFIG, "accepted: %s %s", type, extra);
    cr_assert(strstr(ct_error_message(), needle) != NULL, "message does not name %s: %s", needle, ct_error_message());
}

Test(dimensions, patient_file_geometry_dimensions)
{
    cr_assert_eq(check_patient("biventricular", ""), CT_OK, "%s", ct_error_message());
    cr_assert_eq(check_patient("biventricular_small", ""), CT_OK, "%s", ct_error_message());
    cr_assert_eq(check_patient("lv_ellipsoid", ""), CT_OK, "%s", ct_error_message());
    cr_assert_eq(check_patient("biventricular", ", \"dimensions\": {\"lv_edd_mm\": 52, \"lv_length_mm\": 90, "
                               "\"septum_mm\": 11, \"free_wall_mm\": 10, \"apex_wall_mm\": 7, \"rv_edd_mm\": 24, "
                               "\"rv_length_mm\": 72, \"rv_wall_mm\": 3}"), CT_OK, "%s", ct_error_message());
    /* a free wall given alone sets the septum too (else 14 against the default septum 10 would be refused) */
    cr_assert_eq(check_patient("biventricular", ", \"dimensions\": {\"free_wall_mm\": 14}"), CT_OK, "%s",
                 ct_error_message());
    patient_refused("biventricular", ", \"dimensions\": {\"lv_edd_mm\": 120}", "geometry.dimensions.lv_edd_mm");
    patient_refused("biventricular", ", \"dimensions\": {\"septum_mm\": 14, \"free_wall_mm\": 9}",
                    "geometry.dimensions.septum_mm");
    patient_refused("biventricular", ", \"dimensions\": {\"rv_length_mm\": 90}", "geometry.dimensions.rv_length_mm");
    patient_refused("biventricular", ", \"dimensions\": {\"rv_edd_mm\": \"wide\"}", "geometry.dimensions.rv_edd_mm");
    patient_refused("biventricular", ", \"dimensions\": {\"lv_diameter_mm\": 50}", "lv_diameter_mm");
    patient_refused("biventricular", ", \"dimensions\": 48", "geometry.dimensions");
    patient_refused("biventricular_small", ", \"dimensions\": {\"lv_edd_mm\": 50}", "geometry.dimensions");
    patient_refused("lv_ellipsoid", ", \"dimensions\": {}", "geometry.dimensions");
    patient_refused("biventricular_large", "", "biventricular_small");
}

/* The whole route for an adult heart from dimensions; personalise.json records them and the ellipsoids. */
Test(dimensions, personalise_an_adult_from_dimensions, .timeout = 600)
{
    char *dir = ct_test_tmpdir("dimensions");
    char text[2048], path[1100], out[512];
    snprintf(text, sizeof text, patient_fmt, "biventricular", ", \"dimensions\": {\"lv_edd_mm\": 52, \"rv_edd_mm\": 24}");
    snprintf(path, sizeof path, "%s/p.json", dir);
    snprintf(out, sizeof out, "%s/model", dir);
    cr_assert_eq(ct_test_write(path, text), 0);
    cr_assert_eq(ct_personalise(path, out, 1), CT_OK, "%s", ct_error_message());
    snprintf(path, sizeof path, "%s/personalise.json", out);
    char *s = ct_test_read(path);
    cr_assert_not_null(s);
    cJSON *j = cJSON_Parse(s);
    cr_assert_not_null(j);
    const cJSON *dm = cJSON_GetObjectItem(j, "dimensions_mm"), *el = cJSON_GetObjectItem(j, "ellipsoids_mm");
    cr_assert_not_null(dm);
    cr_assert_not_null(el);
    cr_assert_eq(cJSON_GetObjectItem(dm, "lv_edd")->valuedouble, 52.0);
    cr_assert_eq(cJSON_GetObjectItem(dm, "lv_length")->valuedouble, 86.0);
    cr_assert_eq(cJSON_GetObjectItem(el, "lv_endo_short")->valuedouble, 26.0);
    cr_assert_eq(cJSON_GetObjectItem(el, "lv_epi_short")->valuedouble, 36.0);
    double n = cJSON_GetObjectItem(j, "n_nodes")->valuedouble;
    fprintf(stderr, "adult patient from dimensions, h 3: %.0f nodes\n", n);
    cr_assert_gt(n, 3000);
    cJSON_Delete(j);
    free(s);
    ct_test_rmtree(dir);
    free(dir);
}
