/* test_phantom.c — the parametric heart phantom (host/image/ct_phantom.h): analytic LV volumes by
 * quadrature, voxel-count volumes on straight and rotated grids, the infarct's labels and channel,
 * the LGE noise's determinism, refused parameters and the `cardiotwin phantom` command. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ct_test_util.h"
#include "image/ct_phantom.h"
#include "io/ct_vtk.h"
#include "personalise/ct_geometry.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define QUAD_STEP_MM 0.5

/* Reference volumes of the default phantom, computed once per process. */
static const double *default_volumes(void)
{
    static double vol[CT_PHANTOM_N_LABELS];
    static int done = 0;
    if (!done) {
        ct_phantom_params p = ct_phantom_params_default();
        cr_assert_eq(ct_phantom_volumes(&p, QUAD_STEP_MM, vol), CT_OK, "%s", ct_error_message());
        done = 1;
    }
    return vol;
}

static double myo_of(const double *v)
{
    return v[CT_PHANTOM_LV_MYO] + v[CT_PHANTOM_RV_MYO] + v[CT_PHANTOM_SCAR] + v[CT_PHANTOM_BORDER];
}

static void count_labels(const ct_image *img, size_t count[CT_PHANTOM_N_LABELS])
{
    memset(count, 0, CT_PHANTOM_N_LABELS * sizeof *count);
    size_t n = ct_image_n_voxels(img);
    for (size_t i = 0; i < n; i++) {
        int l = (int)img->value[i];
        cr_assert(l >= 0 && l < CT_PHANTOM_N_LABELS && l == img->value[i], "voxel %zu has label %g", i,
                  img->value[i]);
        count[l]++;
    }
}

/* A point of the LV wall at angle phi (deg), height z and transmural fraction t. */
static void wall_point(const ct_phantom_params *p, double phi_deg, double z, double t, double x[3])
{
    const ct_lv_params *lv = &p->heart.lv;
    double a = lv->endo_short_mm + t * (lv->epi_short_mm - lv->endo_short_mm);
    double c = lv->endo_long_mm + t * (lv->epi_long_mm - lv->endo_long_mm);
    double r = a * sqrt(1.0 - z * z / (c * c));
    x[0] = r * cos(phi_deg * M_PI / 180.0);
    x[1] = r * sin(phi_deg * M_PI / 180.0);
    x[2] = z;
}

Test(phantom, defaults_are_a_sensible_adult_biv)
{
    ct_phantom_params p = ct_phantom_params_default();
    cr_assert_eq(ct_phantom_check(&p), CT_OK, "%s", ct_error_message());
    const ct_biv_params *h = &p.heart;
    /* the RV cavity reaches beyond the LV epicardium (ct_geometry_biv's condition) */
    cr_assert_gt(h->rv_centre_x_mm + h->rv_epi_x_mm - h->rv_wall_mm, h->lv.epi_short_mm);
    /* the RV is shorter than the LV */
    cr_assert_gt(h->rv_centre_z_mm - h->rv_epi_z_mm, -h->lv.epi_long_mm);
    double x[3];
    x[0] = 0, x[1] = 0, x[2] = 0;
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_LV_BLOOD);
    x[0] = 29; /* the septum */
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_LV_MYO);
    x[0] = 42; /* the RV cavity crescent on +x */
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_RV_BLOOD);
    x[0] = 56; /* the RV free wall */
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_RV_MYO);
    x[0] = -40; /* left of the LV: outside */
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_BACKGROUND);
    x[0] = 0, x[2] = 20; /* above the base */
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_BACKGROUND);
    x[0] = 0, x[2] = -64; /* the apical LV wall, below the RV */
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_LV_MYO);
    x[0] = -30, x[2] = 0; /* no RV on the lateral side */
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_LV_MYO);
}

Test(phantom, lv_volumes_match_the_truncated_ellipsoids)
{
    ct_phantom_params p = ct_phantom_params_default();
    const ct_lv_params *lv = &p.heart.lv;
    const double *v = default_volumes();
    /* labels 1, 3, 5, 6 are exactly the LV epicardium below the base (the RV never enters it) */
    double lv_all = v[CT_PHANTOM_LV_MYO] + v[CT_PHANTOM_LV_BLOOD] + v[CT_PHANTOM_SCAR] + v[CT_PHANTOM_BORDER];
    double epi = ct_geometry_truncated_ellipsoid_volume(lv->epi_short_mm, lv->epi_long_mm, lv->base_z_mm);
    double endo = ct_geometry_truncated_ellipsoid_volume(lv->endo_short_mm, lv->endo_long_mm, lv->base_z_mm);
    cr_assert_lt(fabs(lv_all - epi) / epi, 0.005, "LV epicardial volume %.0f mm^3 by quadrature, %.0f analytic",
                 lv_all, epi);
    cr_assert_lt(fabs(v[CT_PHANTOM_LV_BLOOD] - endo) / endo, 0.005, "LV cavity %.0f mm^3 by quadrature, %.0f analytic",
                 v[CT_PHANTOM_LV_BLOOD], endo);
    /* adult-sized: cavity and wall within the normal ranges of Lang et al. 2015 */
    cr_assert(endo > 62e3 && endo < 150e3, "LV cavity %.1f mL", endo / 1e3);
    cr_assert(epi - endo > 84e3 && epi - endo < 213e3, "LV wall %.1f mL", (epi - endo) / 1e3);
    for (int l = 1; l < CT_PHANTOM_N_LABELS; l++)
        cr_assert_gt(v[l], 0, "label %d (%s) has no volume", l, ct_phantom_label_name(l));
    cr_log_info("reference volumes (mL): LV myo %.2f, RV myo %.2f, LV blood %.2f, RV blood %.2f, scar %.2f, "
                "BZ %.2f, myocardium %.2f", v[1] / 1e3, v[2] / 1e3, v[3] / 1e3, v[4] / 1e3, v[5] / 1e3, v[6] / 1e3,
                myo_of(v) / 1e3);
}

Test(phantom, lv_only_scarless_quadrature)
{
    /* without the infarct the LV wall is label 1 alone and equals the epi - endo shell */
    ct_phantom_params p = ct_phantom_params_default();
    p.has_scar = 0;
    double v[CT_PHANTOM_N_LABELS];
    cr_assert_eq(ct_phantom_volumes(&p, QUAD_STEP_MM, v), CT_OK, "%s", ct_error_message());
    const ct_lv_params *lv = &p.heart.lv;
    double wall = ct_geometry_truncated_ellipsoid_volume(lv->epi_short_mm, lv->epi_long_mm, lv->base_z_mm) -
                  ct_geometry_truncated_ellipsoid_volume(lv->endo_short_mm, lv->endo_long_mm, lv->base_z_mm);
    cr_assert_lt(fabs(v[CT_PHANTOM_LV_MYO] - wall) / wall, 0.005, "LV wall %.0f vs %.0f mm^3", v[CT_PHANTOM_LV_MYO],
                 wall);
    cr_assert_eq(v[CT_PHANTOM_SCAR], 0);
    cr_assert_eq(v[CT_PHANTOM_BORDER], 0);
}

static void check_voxel_volumes(const double rotation[9], const char *what)
{
    ct_phantom_params p = ct_phantom_params_default();
    ct_image *lab = NULL;
    cr_assert_eq(ct_phantom_rasterise(&p, 1.0, rotation, 0, 1, &lab, NULL), CT_OK, "%s", ct_error_message());
    cr_assert_str_eq(lab->frame, "RAS");
    cr_assert_float_eq(ct_image_voxel_volume_mm3(lab), 1.0, 1e-9);
    size_t count[CT_PHANTOM_N_LABELS];
    count_labels(lab, count);
    for (int l = 1; l < CT_PHANTOM_N_LABELS; l++)
        cr_assert_gt(count[l], 0, "%s: label %d (%s) absent", what, l, ct_phantom_label_name(l));
    double vox[CT_PHANTOM_N_LABELS];
    for (int l = 0; l < CT_PHANTOM_N_LABELS; l++)
        vox[l] = (double)count[l];
    const double *ref = default_volumes();
    double rel = fabs(myo_of(vox) - myo_of(ref)) / myo_of(ref);
    cr_assert_lt(rel, 0.02, "%s: myocardium %.0f voxels vs %.0f mm^3 reference (%.2f %%)", what, myo_of(vox),
                 myo_of(ref), 100 * rel);
    cr_log_info("%s: grid %d x %d x %d, myocardium %.0f mm^3 (reference %.0f, %+.2f %%)", what, lab->dims[0],
                lab->dims[1], lab->dims[2], myo_of(vox), myo_of(ref), 100 * (myo_of(vox) / myo_of(ref) - 1));
    /* the margin: the outer layer of voxels is background */
    for (int k = 0; k < lab->dims[2]; k += lab->dims[2] - 1)
        for (int j = 0; j < lab->dims[1]; j++)
            for (int i = 0; i < lab->dims[0]; i++)
                cr_assert_eq(lab->value[i + lab->dims[0] * (j + lab->dims[1] * k)], 0);
    ct_image_destroy(lab);
}

Test(phantom, voxel_volumes_straight_grid)
{
    check_voxel_volumes(NULL, "identity grid");
}

Test(phantom, voxel_volumes_rotated_grid)
{
    double r[9];
    ct_phantom_rotation_from_deg(30, 20, 10, r);
    check_voxel_volumes(r, "grid rotated 30,20,10 deg");
}

Test(phantom, rotation_only_turns_the_grid)
{
    double r[9];
    ct_phantom_rotation_from_deg(0, 0, 90, r); /* about z: x -> y */
    cr_assert_float_eq(r[0], 0, 1e-12);
    cr_assert_float_eq(r[3], 1, 1e-12);
    ct_phantom_rotation_from_deg(30, 20, 10, r);
    ct_phantom_params p = ct_phantom_params_default();
    ct_image *lab = NULL;
    cr_assert_eq(ct_phantom_rasterise(&p, 2.0, r, 0, 1, &lab, NULL), CT_OK, "%s", ct_error_message());
    /* the voxel axes are the rotation's columns; the world point's label is found at that place */
    for (int c = 0; c < 3; c++)
        for (int row = 0; row < 3; row++)
            cr_assert_float_eq(lab->ijk_to_mm[row][c], 2.0 * r[3 * row + c], 1e-12);
    double pts[4][3] = {{0, 0, 0}, {42, 0, 0}, {0, 0, -64}, {56, 0, 0}};
    int want[4] = {CT_PHANTOM_LV_BLOOD, CT_PHANTOM_RV_BLOOD, CT_PHANTOM_LV_MYO, CT_PHANTOM_RV_MYO};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ct_image_sample(lab, pts[i], -1), want[i], "point %d", i);
    ct_image_destroy(lab);
}

Test(phantom, wall_fraction)
{
    ct_phantom_params p = ct_phantom_params_default();
    double x[3] = {29, 0, 0}; /* halfway through the 24..34 mm equatorial wall */
    cr_assert_float_eq(ct_phantom_wall_fraction(&p.heart.lv, x), 0.5, 1e-9);
    x[0] = 10;
    cr_assert_eq(ct_phantom_wall_fraction(&p.heart.lv, x), 0.0);
    x[0] = 40;
    cr_assert_eq(ct_phantom_wall_fraction(&p.heart.lv, x), 1.0);
    double y[3];
    wall_point(&p, 130, -30, 0.3, y);
    cr_assert_float_eq(ct_phantom_wall_fraction(&p.heart.lv, y), 0.3, 1e-9);
}

Test(phantom, infarct_labels_and_channel)
{
    ct_phantom_params p = ct_phantom_params_default();
    double mid_phi = 0.5 * (p.scar_phi_from_deg + p.scar_phi_to_deg), x[3];
    /* the channel's centre line, at every depth, is border zone */
    for (double t = 0.05; t < 1; t += 0.1) {
        wall_point(&p, mid_phi, p.channel_z_mm, t, x);
        cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_BORDER, "channel centre, t %.2f", t);
    }
    /* above and below the channel: core */
    wall_point(&p, mid_phi, p.channel_z_mm + p.channel_width_mm, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_SCAR);
    wall_point(&p, mid_phi, p.channel_z_mm - p.channel_width_mm, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_SCAR);
    /* just beyond the angular end of the core (within bz_mm along the wall): border zone; further: remote */
    wall_point(&p, p.scar_phi_to_deg, -35, 0.5, x);
    double r = hypot(x[0], x[1]);
    wall_point(&p, p.scar_phi_to_deg + 0.5 * p.bz_mm / r * 180 / M_PI, -35, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_BORDER);
    wall_point(&p, p.scar_phi_to_deg + 2.0 * p.bz_mm / r * 180 / M_PI, -35, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_LV_MYO);
    /* below the core's height range */
    wall_point(&p, mid_phi, p.scar_z_from_mm - 0.5 * p.bz_mm, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_BORDER);
    wall_point(&p, mid_phi, p.scar_z_from_mm - 2 * p.bz_mm, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_LV_MYO);
    /* no channel: the centre line is core */
    p.channel_width_mm = 0;
    wall_point(&p, mid_phi, p.channel_z_mm, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_SCAR);
    /* a subendocardial scar: core in the inner half, border zone outside it */
    p.scar_t_to = 0.5;
    wall_point(&p, mid_phi, -35, 0.25, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_SCAR);
    wall_point(&p, mid_phi, -35, 0.75, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_BORDER);
    /* the wrap-around of angles: a core from 300 to 400 deg holds phi = 10 deg */
    p = ct_phantom_params_default();
    p.scar_phi_from_deg = 300;
    p.scar_phi_to_deg = 400;
    wall_point(&p, 10, -35, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_SCAR);
    wall_point(&p, 200, -35, 0.5, x);
    cr_assert_eq(ct_phantom_label_at(&p, x), CT_PHANTOM_LV_MYO);
}

/* Whether, inside the core's height range, the border-zone voxels on one angular side of the core are
 * joined (6-connected) to those on the other side. */
static int bz_joined_across_core(const ct_phantom_params *p)
{
    ct_image *lab = NULL;
    cr_assert_eq(ct_phantom_rasterise(p, 1.0, NULL, 0, 1, &lab, NULL), CT_OK, "%s", ct_error_message());
    const int nx = lab->dims[0], ny = lab->dims[1], nz = lab->dims[2];
    size_t n = ct_image_n_voxels(lab);
    signed char *side = calloc(n, 1); /* 0 not in the mask, 1 before the core, 2 after it, 3 elsewhere */
    int *queue = malloc(n * sizeof *queue), head = 0, tail = 0;
    char *seen = calloc(n, 1);
    cr_assert(side && queue && seen);
    double span = p->scar_phi_to_deg - p->scar_phi_from_deg;
    for (int k = 0; k < nz; k++)
        for (int j = 0; j < ny; j++)
            for (int i = 0; i < nx; i++) {
                size_t v = (size_t)i + (size_t)nx * ((size_t)j + (size_t)ny * k);
                double x[3];
                for (int r = 0; r < 3; r++)
                    x[r] = lab->ijk_to_mm[r][0] * i + lab->ijk_to_mm[r][1] * j + lab->ijk_to_mm[r][2] * k +
                           lab->ijk_to_mm[r][3];
                if (lab->value[v] != CT_PHANTOM_BORDER || x[2] < p->scar_z_from_mm || x[2] > p->scar_z_to_mm)
                    continue;
                double d = fmod(atan2(x[1], x[0]) * 180 / M_PI - p->scar_phi_from_deg, 360);
                if (d < 0)
                    d += 360;
                side[v] = d > 270 ? 1 : d > span ? 2 : 3;
                if (side[v] == 1) {
                    seen[v] = 1;
                    queue[tail++] = (int)v;
                }
            }
    cr_assert_gt(tail, 0, "no border zone before the core");
    int joined = 0;
    while (head < tail && !joined) {
        int v = queue[head++];
        int i = v % nx, j = (v / nx) % ny, k = v / (nx * ny);
        int nb[6][3] = {{i - 1, j, k}, {i + 1, j, k}, {i, j - 1, k}, {i, j + 1, k}, {i, j, k - 1}, {i, j, k + 1}};
        for (int q = 0; q < 6; q++) {
            if (nb[q][0] < 0 || nb[q][0] >= nx || nb[q][1] < 0 || nb[q][1] >= ny || nb[q][2] < 0 || nb[q][2] >= nz)
                continue;
            size_t w = (size_t)nb[q][0] + (size_t)nx * ((size_t)nb[q][1] + (size_t)ny * nb[q][2]);
            if (!side[w] || seen[w])
                continue;
            if (side[w] == 2)
                joined = 1;
            seen[w] = 1;
            queue[tail++] = (int)w;
        }
    }
    free(side);
    free(queue);
    free(seen);
    ct_image_destroy(lab);
    return joined;
}

Test(phantom, channel_joins_the_border_zone_through_the_core)
{
    ct_phantom_params p = ct_phantom_params_default();
    cr_assert(bz_joined_across_core(&p), "with the channel the border zone should cross the core");
    p.channel_width_mm = 0;
    cr_assert(!bz_joined_across_core(&p), "without the channel the core should separate the border zone");
}

Test(phantom, lge_noise_is_deterministic)
{
    ct_phantom_params p = ct_phantom_params_default();
    ct_image *l1, *g1, *l2, *g2, *l3, *g3, *l0, *g0;
    cr_assert_eq(ct_phantom_rasterise(&p, 2.0, NULL, 8.0, 7, &l1, &g1), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_phantom_rasterise(&p, 2.0, NULL, 8.0, 7, &l2, &g2), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_phantom_rasterise(&p, 2.0, NULL, 8.0, 8, &l3, &g3), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_phantom_rasterise(&p, 2.0, NULL, 0.0, 7, &l0, &g0), CT_OK, "%s", ct_error_message());
    size_t n = ct_image_n_voxels(g1);
    cr_assert_eq(memcmp(g1->value, g2->value, n * sizeof(float)), 0, "same seed, different images");
    cr_assert_neq(memcmp(g1->value, g3->value, n * sizeof(float)), 0, "different seeds, same image");
    cr_assert_eq(memcmp(l1->value, l3->value, n * sizeof(float)), 0, "labels depend on the seed");
    /* without noise the intensities are the table's; with it the residual has about the right spread */
    double sum = 0, sum2 = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int l = (int)l0->value[i];
        double want = l == 0 ? 20 : l == 3 || l == 4 ? 180 : l == 1 || l == 2 ? 60 : l == 5 ? 360 : 170;
        cr_assert_float_eq(g0->value[i], want, 1e-6, "voxel %zu label %d", i, l);
        if (l != 0) { /* background residuals are clamped at 0 */
            double e = g1->value[i] - want;
            sum += e;
            sum2 += e * e;
            m++;
        }
    }
    double mean = sum / m, sd = sqrt(sum2 / m - mean * mean);
    cr_assert_lt(fabs(mean), 0.2, "noise mean %g", mean);
    cr_assert_lt(fabs(sd - 8.0), 0.2, "noise sd %g", sd);
    ct_image *all[8] = {l1, g1, l2, g2, l3, g3, l0, g0};
    for (int i = 0; i < 8; i++)
        ct_image_destroy(all[i]);
}

static void expect_refused(const ct_phantom_params *p, double voxel_mm, const double *rot, double noise,
                           const char *needle)
{
    ct_image *lab = (ct_image *)1, *lge = (ct_image *)1;
    ct_status st = ct_phantom_rasterise(p, voxel_mm, rot, noise, 1, &lab, &lge);
    cr_assert_eq(st, CT_ERR_CONFIG, "expected a refusal mentioning \"%s\", got %s: %s", needle, ct_status_name(st),
                 ct_error_message());
    cr_assert_null(lab);
    cr_assert_null(lge);
    cr_assert(strstr(ct_error_message(), needle), "message \"%s\" does not name \"%s\"", ct_error_message(), needle);
}

Test(phantom, bad_parameters_refused)
{
    ct_phantom_params d = ct_phantom_params_default(), p;
    expect_refused(&d, 0.0, NULL, 0, "voxel_mm");
    expect_refused(&d, -1.0, NULL, 0, "voxel_mm");
    expect_refused(&d, NAN, NULL, 0, "voxel_mm");
    expect_refused(&d, 1.0, NULL, -1, "noise_sd");
    expect_refused(&d, 1.0, NULL, NAN, "noise_sd");
    expect_refused(&d, 1e-4, NULL, 0, "2^30 voxels");
    double shear[9] = {1, 0.5, 0, 0, 1, 0, 0, 0, 1}, mirror[9] = {-1, 0, 0, 0, 1, 0, 0, 0, 1};
    expect_refused(&d, 1.0, shear, 0, "orthonormal");
    expect_refused(&d, 1.0, mirror, 0, "determinant");
    p = d, p.scar_z_from_mm = p.scar_z_to_mm;
    expect_refused(&p, 1.0, NULL, 0, "scar_z_from_mm");
    p = d, p.scar_phi_to_deg = p.scar_phi_from_deg;
    expect_refused(&p, 1.0, NULL, 0, "scar_phi_to_deg");
    p = d, p.scar_phi_to_deg = p.scar_phi_from_deg + 400;
    expect_refused(&p, 1.0, NULL, 0, "scar_phi_to_deg");
    p = d, p.scar_t_from = 0.6, p.scar_t_to = 0.4;
    expect_refused(&p, 1.0, NULL, 0, "scar_t_from");
    p = d, p.scar_t_to = 1.5;
    expect_refused(&p, 1.0, NULL, 0, "scar_t_to");
    p = d, p.bz_mm = -1;
    expect_refused(&p, 1.0, NULL, 0, "bz_mm");
    p = d, p.channel_z_mm = p.scar_z_to_mm;
    expect_refused(&p, 1.0, NULL, 0, "channel_z_mm");
    p = d, p.channel_width_mm = -2;
    expect_refused(&p, 1.0, NULL, 0, "channel_width_mm");
    p = d, p.scar_z_from_mm = 30, p.scar_z_to_mm = 40, p.channel_width_mm = 0;
    expect_refused(&p, 1.0, NULL, 0, "misses the LV wall");
    p = d, p.heart.lv.endo_short_mm = 40;
    expect_refused(&p, 1.0, NULL, 0, "lv.endo_short_mm");
    p = d, p.heart.lv.epi_long_mm = NAN;
    expect_refused(&p, 1.0, NULL, 0, "lv.epi_long_mm");
    p = d, p.heart.lv.base_z_mm = 70;
    expect_refused(&p, 1.0, NULL, 0, "base_z_mm");
    p = d, p.heart.rv_centre_x_mm = 0;
    expect_refused(&p, 1.0, NULL, 0, "RV cavity");
    p = d, p.heart.rv_wall_mm = 0;
    expect_refused(&p, 1.0, NULL, 0, "rv_wall_mm");
    /* without a scar its ranges are not looked at */
    p = d, p.has_scar = 0, p.scar_z_from_mm = p.scar_z_to_mm;
    cr_assert_eq(ct_phantom_check(&p), CT_OK, "%s", ct_error_message());
    double v[CT_PHANTOM_N_LABELS];
    cr_assert_eq(ct_phantom_volumes(&d, 0, v), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "step_mm"), "%s", ct_error_message());
}

/* A written image read back: same grid, same placement, the same values as rasterised in memory. */
static void expect_image_file(const char *path, const ct_image *want, const char *frame)
{
    ct_image *got = NULL;
    cr_assert_eq(ct_vtk_read_image(path, (size_t)1 << 32, &got), CT_OK, "%s", ct_error_message());
    for (int d = 0; d < 3; d++)
        cr_assert_eq(got->dims[d], want->dims[d], "%s: dims[%d]", path, d);
    if (frame)
        cr_assert_str_eq(got->frame, frame, "%s", path);
    /* placements compared in the RAS frame the phantom was made in */
    double sign[3] = {1, 1, 1};
    if (strcmp(got->frame, "LPS") == 0)
        sign[0] = sign[1] = -1;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            cr_assert_float_eq(sign[r] * got->ijk_to_mm[r][c], want->ijk_to_mm[r][c], 1e-3, "%s: ijk_to_mm[%d][%d]",
                               path, r, c);
    size_t n = ct_image_n_voxels(want), bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += got->value[i] != want->value[i];
    cr_assert_eq(bad, 0, "%s: %zu of %zu voxels differ", path, bad, n);
    ct_image_destroy(got);
}

Test(phantom, cli_writes_images_and_description, .timeout = 120)
{
    char *dir = ct_test_tmpdir("phantom");
    char args[4096], *out = NULL, path[4200];
    snprintf(args, sizeof args, "phantom --out %s/ph --voxel-mm 2 --rotate-deg 30,20,10 --seed 3", dir);
    int rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "cardiotwin %s -> %d:\n%s", args, rc, out ? out : "");
    cr_log_info("%s", out);
    free(out);
    /* the label map as written is the one rasterised here */
    ct_phantom_params p = ct_phantom_params_default();
    double rot[9];
    ct_phantom_rotation_from_deg(30, 20, 10, rot);
    ct_image *lab = NULL, *lge = NULL;
    cr_assert_eq(ct_phantom_rasterise(&p, 2.0, rot, 8.0, 3, &lab, &lge), CT_OK, "%s", ct_error_message());
    snprintf(path, sizeof path, "%s/ph/labels.nii.gz", dir);
    expect_image_file(path, lab, "RAS");
    size_t n = ct_image_n_voxels(lge);
    for (size_t i = 0; i < n; i++) /* written as unsigned 16-bit: rounded */
        lge->value[i] = fminf(65535.0f, roundf(lge->value[i]));
    snprintf(path, sizeof path, "%s/ph/lge.nii.gz", dir);
    expect_image_file(path, lge, "RAS");
    ct_image_destroy(lge);
    snprintf(path, sizeof path, "%s/ph/phantom.json", dir);
    char *text = ct_test_read(path);
    cr_assert(text, "%s missing", path);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert(root, "%s is not JSON", path);
    const cJSON *labels = cJSON_GetObjectItem(root, "labels"), *vol = cJSON_GetObjectItem(root, "volumes_mL");
    cr_assert_eq(cJSON_GetObjectItem(labels, "border_zone")->valueint, 6);
    cr_assert_eq(cJSON_GetObjectItem(labels, "lv_myocardium")->valueint, 1);
    const double *ref = default_volumes();
    double myo = cJSON_GetObjectItem(vol, "myocardium")->valuedouble;
    cr_assert_lt(fabs(myo - myo_of(ref) / 1000) / myo, 0.005, "myocardium %g mL", myo);
    const cJSON *grid = cJSON_GetObjectItem(root, "grid");
    cr_assert_float_eq(cJSON_GetObjectItem(grid, "voxel_mm")->valuedouble, 2.0, 1e-12);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(grid, "rotation")), 9);
    cJSON_Delete(root);

    /* MetaImage, no scar */
    snprintf(args, sizeof args, "phantom --out %s/ns --voxel-mm 2 --rotate-deg 30,20,10 --no-scar --format mha", dir);
    rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "cardiotwin %s -> %d:\n%s", args, rc, out ? out : "");
    free(out);
    p.has_scar = 0;
    ct_image_destroy(lab);
    cr_assert_eq(ct_phantom_rasterise(&p, 2.0, rot, 0, 1, &lab, NULL), CT_OK, "%s", ct_error_message());
    snprintf(path, sizeof path, "%s/ns/labels.mha", dir);
    expect_image_file(path, lab, NULL);
    ct_image_destroy(lab);

    /* usage errors exit 2 */
    rc = ct_test_cli("phantom --voxel-mm 1", &out);
    cr_assert_eq(rc, 2, "no --out: %d\n%s", rc, out ? out : "");
    free(out);
    snprintf(args, sizeof args, "phantom --out %s/x --rotate-deg 1,2", dir);
    rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 2, "bad --rotate-deg: %d\n%s", rc, out ? out : "");
    free(out);
    snprintf(args, sizeof args, "phantom --out %s/x --format png", dir);
    rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 2, "bad --format: %d\n%s", rc, out ? out : "");
    free(out);
    ct_test_rmtree(dir);
    free(dir);
}
