/* ct_phantom.c — the parametric biventricular heart of ct_phantom.h: labels by implicit ellipsoids and
 * cylindrical infarct coordinates, rasterisation onto a (rotated) voxel grid with an LGE image, and
 * reference volumes by midpoint quadrature. */
#include "ct_phantom.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define RAD_TO_DEG (180.0 / M_PI)
#define MARGIN_VOXELS 4

/* Adult dimensions after Lang et al. 2015 (J Am Soc Echocardiogr 28:1-39, ASE/EACVI recommendations for
 * cardiac chamber quantification): LV end-diastolic diameter ~48 mm (endo short semi-axis 24), wall
 * ~10 mm at the equator (epi 34; the upper end of normal, 6-10 mm) and ~8 mm at the apex, LV length
 * base-to-apex ~86 mm (epi apex at -68, base at +18). This gives an LV cavity of ~104 mL and an LV
 * wall of ~125 mL (~131 g), both inside the normal adult ranges there (LVEDV 62-150 mL men / 46-106 mL
 * women; LV mass 88-224 g / 67-162 g).
 * RV: a flattened shell centred 26 mm to the septal (+x) side, epi semi-axes 32 x 44 x 60 mm, 4 mm wall
 * (normal RV free wall < 5 mm); its cavity reaches x = 54 mm (beyond the LV epicardium at 34), wraps the
 * septum as a crescent that meets the LV epicardium about +-74 deg from +x (the insertions) and ends at
 * z = -56, above the LV apex (-68). RV cavity ~104 mL, RV free wall ~43 mL (a smaller RV, 24 / 30 x 40 x
 * 58, gave a 71 mL cavity, at the bottom of the normal RV end-diastolic volumes).
 * Infarct: a transmural anterolateral scar (phi 100..200 deg, well away from the RV insertions),
 * mid-ventricular to apical (z -45..-5), 3 mm border zone, crossed by a 6 mm channel at z = -25. */
ct_phantom_params ct_phantom_params_default(void)
{
    ct_phantom_params p = {0};
    p.heart = ct_biv_params_default(); /* the adult heart of geometry.type "biventricular" (ct_geometry.h) */
    p.has_scar = 1;
    p.scar_phi_from_deg = 100.0;
    p.scar_phi_to_deg = 200.0;
    p.scar_z_from_mm = -45.0;
    p.scar_z_to_mm = -5.0;
    p.scar_t_from = 0.0;
    p.scar_t_to = 1.0;
    p.bz_mm = 3.0;
    p.channel_width_mm = 6.0;
    p.channel_z_mm = -25.0;
    return p;
}

const char *ct_phantom_label_name(int label)
{
    static const char *const names[CT_PHANTOM_N_LABELS] = {
        "background", "lv_myocardium", "rv_myocardium", "lv_blood_pool", "rv_blood_pool", "scar_core",
        "border_zone"};
    return label >= 0 && label < CT_PHANTOM_N_LABELS ? names[label] : NULL;
}

/* ---- parameters ---- */

ct_status ct_phantom_check(const ct_phantom_params *p)
{
    if (!p)
        return ct_error_set(CT_ERR_INTERNAL, "phantom: NULL parameters");
    const ct_lv_params *lv = &p->heart.lv;
    const ct_biv_params *h = &p->heart;
    struct {
        const char *name;
        double v;
    } all[] = {{"lv.endo_short_mm", lv->endo_short_mm}, {"lv.endo_long_mm", lv->endo_long_mm},
               {"lv.epi_short_mm", lv->epi_short_mm},   {"lv.epi_long_mm", lv->epi_long_mm},
               {"lv.base_z_mm", lv->base_z_mm},         {"rv_centre_x_mm", h->rv_centre_x_mm},
               {"rv_centre_z_mm", h->rv_centre_z_mm},   {"rv_epi_x_mm", h->rv_epi_x_mm},
               {"rv_epi_y_mm", h->rv_epi_y_mm},         {"rv_epi_z_mm", h->rv_epi_z_mm},
               {"rv_wall_mm", h->rv_wall_mm},           {"scar_phi_from_deg", p->scar_phi_from_deg},
               {"scar_phi_to_deg", p->scar_phi_to_deg}, {"scar_z_from_mm", p->scar_z_from_mm},
               {"scar_z_to_mm", p->scar_z_to_mm},       {"scar_t_from", p->scar_t_from},
               {"scar_t_to", p->scar_t_to},             {"bz_mm", p->bz_mm},
               {"channel_width_mm", p->channel_width_mm}, {"channel_z_mm", p->channel_z_mm}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!isfinite(all[i].v))
            return ct_error_set(CT_ERR_CONFIG, "phantom: %s = %g is not a finite number", all[i].name, all[i].v);
    if (!(lv->endo_short_mm > 0 && lv->epi_short_mm > lv->endo_short_mm))
        return ct_error_set(CT_ERR_CONFIG, "phantom: need 0 < lv.endo_short_mm (%g) < lv.epi_short_mm (%g)",
                            lv->endo_short_mm, lv->epi_short_mm);
    if (!(lv->endo_long_mm > 0 && lv->epi_long_mm > lv->endo_long_mm))
        return ct_error_set(CT_ERR_CONFIG, "phantom: need 0 < lv.endo_long_mm (%g) < lv.epi_long_mm (%g)",
                            lv->endo_long_mm, lv->epi_long_mm);
    if (!(lv->base_z_mm > -lv->endo_long_mm && lv->base_z_mm < lv->endo_long_mm))
        return ct_error_set(CT_ERR_CONFIG, "phantom: lv.base_z_mm = %g must cut the LV cavity (|z| < %g mm)",
                            lv->base_z_mm, lv->endo_long_mm);
    double w = h->rv_wall_mm;
    if (!(w > 0 && h->rv_epi_x_mm > w && h->rv_epi_y_mm > w && h->rv_epi_z_mm > w))
        return ct_error_set(CT_ERR_CONFIG, "phantom: rv_wall_mm = %g must be > 0 and below every RV semi-axis "
                            "(rv_epi_x_mm %g, rv_epi_y_mm %g, rv_epi_z_mm %g)", w, h->rv_epi_x_mm, h->rv_epi_y_mm,
                            h->rv_epi_z_mm);
    if (!(h->rv_centre_x_mm + h->rv_epi_x_mm - w > lv->epi_short_mm))
        return ct_error_set(CT_ERR_CONFIG, "phantom: the RV cavity (rv_centre_x_mm + rv_epi_x_mm - rv_wall_mm = "
                            "%g mm) must extend beyond the LV epicardium (lv.epi_short_mm = %g mm)",
                            h->rv_centre_x_mm + h->rv_epi_x_mm - w, lv->epi_short_mm);
    if (!p->has_scar)
        return CT_OK;
    double span = p->scar_phi_to_deg - p->scar_phi_from_deg;
    if (!(span > 0 && span < 360))
        return ct_error_set(CT_ERR_CONFIG, "phantom: scar_phi_to_deg - scar_phi_from_deg = %g - %g must be in "
                            "(0, 360) degrees", p->scar_phi_to_deg, p->scar_phi_from_deg);
    if (!(p->scar_z_from_mm < p->scar_z_to_mm))
        return ct_error_set(CT_ERR_CONFIG, "phantom: scar_z_from_mm = %g must be below scar_z_to_mm = %g",
                            p->scar_z_from_mm, p->scar_z_to_mm);
    if (!(p->scar_z_from_mm < lv->base_z_mm && p->scar_z_to_mm > -lv->epi_long_mm))
        return ct_error_set(CT_ERR_CONFIG, "phantom: the scar's height range [%g, %g] mm (scar_z_from_mm, "
                            "scar_z_to_mm) misses the LV wall (z from %g to %g mm)", p->scar_z_from_mm,
                            p->scar_z_to_mm, -lv->epi_long_mm, lv->base_z_mm);
    if (!(p->scar_t_from >= 0 && p->scar_t_from < p->scar_t_to && p->scar_t_to <= 1))
        return ct_error_set(CT_ERR_CONFIG, "phantom: need 0 <= scar_t_from (%g) < scar_t_to (%g) <= 1",
                            p->scar_t_from, p->scar_t_to);
    if (!(p->bz_mm >= 0))
        return ct_error_set(CT_ERR_CONFIG, "phantom: bz_mm = %g must be >= 0", p->bz_mm);
    if (!(p->channel_width_mm >= 0))
        return ct_error_set(CT_ERR_CONFIG, "phantom: channel_width_mm = %g must be >= 0 (0: no channel)",
                            p->channel_width_mm);
    if (p->channel_width_mm > 0) {
        double lo = p->channel_z_mm - 0.5 * p->channel_width_mm, hi = p->channel_z_mm + 0.5 * p->channel_width_mm;
        if (!(lo > p->scar_z_from_mm && hi < p->scar_z_to_mm))
            return ct_error_set(CT_ERR_CONFIG, "phantom: the channel (channel_z_mm = %g, channel_width_mm = %g: "
                                "z from %g to %g mm) must lie strictly inside the scar's height range (%g, %g)",
                                p->channel_z_mm, p->channel_width_mm, lo, hi, p->scar_z_from_mm, p->scar_z_to_mm);
    }
    return CT_OK;
}

/* ---- labels ---- */

static inline double ell(double a, double c, double rho2, double z)
{
    return rho2 / (a * a) + z * z / (c * c);
}

double ct_phantom_wall_fraction(const ct_lv_params *lv, const double x[3])
{
    double rho2 = x[0] * x[0] + x[1] * x[1], z = x[2];
    double da = lv->epi_short_mm - lv->endo_short_mm, dc = lv->epi_long_mm - lv->endo_long_mm;
    if (ell(lv->endo_short_mm, lv->endo_long_mm, rho2, z) <= 1.0)
        return 0.0;
    if (ell(lv->epi_short_mm, lv->epi_long_mm, rho2, z) >= 1.0)
        return 1.0;
    /* f(l) = ell(a(l), c(l)) - 1 falls monotonically from > 0 at l = 0 to < 0 at l = 1 */
    double lo = 0.0, hi = 1.0;
    for (int it = 0; it < 48; it++) {
        double mid = 0.5 * (lo + hi);
        if (ell(lv->endo_short_mm + mid * da, lv->endo_long_mm + mid * dc, rho2, z) > 1.0)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* A point of the LV myocardium: remote, scar core or border zone. */
static int infarct_label(const ct_phantom_params *p, const double x[3], double rho2)
{
    double z = x[2], bz = p->bz_mm;
    if (z < p->scar_z_from_mm - bz || z > p->scar_z_to_mm + bz)
        return CT_PHANTOM_LV_MYO;
    double r = sqrt(rho2);
    double span = p->scar_phi_to_deg - p->scar_phi_from_deg;
    double margin_deg = r > 0 ? bz / r * RAD_TO_DEG : 360.0; /* on the axis every angle is within reach */
    double d = fmod(atan2(x[1], x[0]) * RAD_TO_DEG - p->scar_phi_from_deg, 360.0);
    if (d < 0)
        d += 360.0;
    int in_phi = d <= span;
    if (!(in_phi || d <= span + margin_deg || d >= 360.0 - margin_deg))
        return CT_PHANTOM_LV_MYO;
    if (!in_phi || z < p->scar_z_from_mm || z > p->scar_z_to_mm)
        return CT_PHANTOM_BORDER; /* within bz_mm of the core along the wall */
    /* Inside the core's footprint on the wall: the whole thickness is core or border zone. Every point of
     * the LV myocardium has t in [0, 1], so the bisection is needed only for a partial-thickness core. */
    if (p->scar_t_from > 0 || p->scar_t_to < 1) {
        double t = ct_phantom_wall_fraction(&p->heart.lv, x);
        if (t < p->scar_t_from || t > p->scar_t_to)
            return CT_PHANTOM_BORDER;
    }
    if (p->channel_width_mm > 0 && fabs(z - p->channel_z_mm) <= 0.5 * p->channel_width_mm)
        return CT_PHANTOM_BORDER; /* the surviving channel */
    return CT_PHANTOM_SCAR;
}

int ct_phantom_label_at(const ct_phantom_params *p, const double x[3])
{
    const ct_lv_params *lv = &p->heart.lv;
    double z = x[2];
    if (z > lv->base_z_mm)
        return CT_PHANTOM_BACKGROUND;
    double rho2 = x[0] * x[0] + x[1] * x[1];
    if (ell(lv->epi_short_mm, lv->epi_long_mm, rho2, z) < 1.0) {
        if (ell(lv->endo_short_mm, lv->endo_long_mm, rho2, z) < 1.0)
            return CT_PHANTOM_LV_BLOOD;
        return p->has_scar ? infarct_label(p, x, rho2) : CT_PHANTOM_LV_MYO;
    }
    const ct_biv_params *h = &p->heart;
    double dx = x[0] - h->rv_centre_x_mm, y = x[1], dz = z - h->rv_centre_z_mm, w = h->rv_wall_mm;
    double ax = h->rv_epi_x_mm, ay = h->rv_epi_y_mm, az = h->rv_epi_z_mm;
    if (dx * dx / ((ax - w) * (ax - w)) + y * y / ((ay - w) * (ay - w)) + dz * dz / ((az - w) * (az - w)) < 1.0)
        return CT_PHANTOM_RV_BLOOD;
    if (dx * dx / (ax * ax) + y * y / (ay * ay) + dz * dz / (az * az) < 1.0)
        return CT_PHANTOM_RV_MYO;
    return CT_PHANTOM_BACKGROUND;
}

void ct_phantom_bounds(const ct_phantom_params *p, double lo[3], double hi[3])
{
    const ct_biv_params *h = &p->heart;
    const ct_lv_params *lv = &h->lv;
    lo[0] = fmin(-lv->epi_short_mm, h->rv_centre_x_mm - h->rv_epi_x_mm);
    hi[0] = fmax(lv->epi_short_mm, h->rv_centre_x_mm + h->rv_epi_x_mm);
    hi[1] = fmax(lv->epi_short_mm, h->rv_epi_y_mm);
    lo[1] = -hi[1];
    lo[2] = fmin(-lv->epi_long_mm, h->rv_centre_z_mm - h->rv_epi_z_mm);
    hi[2] = fmin(lv->base_z_mm, fmax(lv->epi_long_mm, h->rv_centre_z_mm + h->rv_epi_z_mm));
}

/* ---- rasterisation ---- */

void ct_phantom_rotation_from_deg(double rx_deg, double ry_deg, double rz_deg, double r[9])
{
    double a = rx_deg / RAD_TO_DEG, b = ry_deg / RAD_TO_DEG, c = rz_deg / RAD_TO_DEG;
    double ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b), cc = cos(c), sc = sin(c);
    /* Rz(c) Ry(b) Rx(a) */
    r[0] = cc * cb;
    r[1] = cc * sb * sa - sc * ca;
    r[2] = cc * sb * ca + sc * sa;
    r[3] = sc * cb;
    r[4] = sc * sb * sa + cc * ca;
    r[5] = sc * sb * ca - cc * sa;
    r[6] = -sb;
    r[7] = cb * sa;
    r[8] = cb * ca;
}

static ct_status check_rotation(const double r[9])
{
    for (int i = 0; i < 9; i++)
        if (!isfinite(r[i]))
            return ct_error_set(CT_ERR_CONFIG, "phantom: rotation[%d] = %g is not a finite number", i, r[i]);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double dot = r[a] * r[b] + r[3 + a] * r[3 + b] + r[6 + a] * r[6 + b];
            if (fabs(dot - (a == b)) > 1e-6)
                return ct_error_set(CT_ERR_CONFIG, "phantom: rotation is not orthonormal (columns %d and %d: dot "
                                    "product %g)", a, b, dot);
        }
    double det = r[0] * (r[4] * r[8] - r[5] * r[7]) - r[1] * (r[3] * r[8] - r[5] * r[6]) +
                 r[2] * (r[3] * r[7] - r[4] * r[6]);
    if (det < 0)
        return ct_error_set(CT_ERR_CONFIG, "phantom: rotation has determinant %g (a reflection, not a rotation)",
                            det);
    return CT_OK;
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* A standard normal deviate for voxel n of the stream `seed` (Box-Muller on two counter-based uniforms). */
static double gauss(unsigned seed, uint64_t n)
{
    uint64_t key = splitmix64((uint64_t)seed ^ 0xD1B54A32D192ED03ull);
    double u1 = ((double)(splitmix64(key + 2 * n) >> 11) + 1.0) / 9007199254740992.0; /* (0, 1] */
    double u2 = (double)(splitmix64(key + 2 * n + 1) >> 11) / 9007199254740992.0;     /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double lge_of(int label)
{
    switch (label) {
    case CT_PHANTOM_LV_BLOOD:
    case CT_PHANTOM_RV_BLOOD:
        return CT_PHANTOM_LGE_BLOOD;
    case CT_PHANTOM_LV_MYO:
    case CT_PHANTOM_RV_MYO:
        return CT_PHANTOM_LGE_REMOTE;
    case CT_PHANTOM_SCAR:
        return CT_PHANTOM_LGE_SCAR;
    case CT_PHANTOM_BORDER:
        return CT_PHANTOM_LGE_BORDER;
    default:
        return CT_PHANTOM_LGE_BACKGROUND;
    }
}

ct_status ct_phantom_rasterise(const ct_phantom_params *p, double voxel_mm, const double rotation[9],
                               double noise_sd, unsigned seed, ct_image **labels, ct_image **lge)
{
    static const double identity[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    *labels = NULL;
    if (lge)
        *lge = NULL;
    CT_CHECK(ct_phantom_check(p));
    if (!(voxel_mm > 0) || !isfinite(voxel_mm))
        return ct_error_set(CT_ERR_CONFIG, "phantom: voxel_mm = %g must be a finite number > 0", voxel_mm);
    if (!(noise_sd >= 0) || !isfinite(noise_sd))
        return ct_error_set(CT_ERR_CONFIG, "phantom: noise_sd = %g must be a finite number >= 0", noise_sd);
    if (!rotation)
        rotation = identity;
    CT_CHECK(check_rotation(rotation));

    /* the heart's box projected on each voxel axis, plus the margin */
    double lo[3], hi[3], pmin[3], pmax[3];
    ct_phantom_bounds(p, lo, hi);
    int dims[3];
    double n_total = 1;
    for (int c = 0; c < 3; c++) {
        pmin[c] = INFINITY;
        pmax[c] = -INFINITY;
        for (int corner = 0; corner < 8; corner++) {
            double q = 0;
            for (int r = 0; r < 3; r++)
                q += rotation[3 * r + c] * ((corner >> r) & 1 ? hi[r] : lo[r]);
            pmin[c] = fmin(pmin[c], q);
            pmax[c] = fmax(pmax[c], q);
        }
        double n = ceil((pmax[c] - pmin[c]) / voxel_mm) + 1 + 2 * MARGIN_VOXELS;
        n_total *= n;
        if (n > 1 << 30 || n_total > (double)(1 << 30))
            return ct_error_set(CT_ERR_CONFIG, "phantom: voxel_mm = %g gives a grid over 2^30 voxels (the heart "
                                "spans %.0f mm along voxel axis %d)", voxel_mm, pmax[c] - pmin[c], c);
        dims[c] = (int)n;
    }
    double origin[3] = {0, 0, 0}, spacing[3] = {voxel_mm, voxel_mm, voxel_mm};
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            origin[r] += rotation[3 * r + c] * (pmin[c] - MARGIN_VOXELS * voxel_mm);
    double a[3][4];
    ct_image_placement(spacing, rotation, origin, a);

    ct_image *lab = NULL, *img = NULL;
    CT_CHECK(ct_image_create(dims, (const double(*)[4])a, &lab));
    if (lge) {
        ct_status st = ct_image_create(dims, (const double(*)[4])a, &img);
        if (st != CT_OK) {
            ct_image_destroy(lab);
            return st;
        }
        memcpy(img->frame, "RAS", 4);
    }
    memcpy(lab->frame, "RAS", 4);

    const int nx = dims[0], ny = dims[1], nz = dims[2];
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < nz; k++)
        for (int j = 0; j < ny; j++)
            for (int i = 0; i < nx; i++) {
                double x[3];
                for (int r = 0; r < 3; r++)
                    x[r] = a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3];
                int l = ct_phantom_label_at(p, x);
                size_t n = (size_t)i + (size_t)nx * ((size_t)j + (size_t)ny * (size_t)k);
                lab->value[n] = (float)l;
                if (img) {
                    double v = lge_of(l) + (noise_sd > 0 ? noise_sd * gauss(seed, n) : 0.0);
                    img->value[n] = (float)fmax(0.0, v);
                }
            }
    *labels = lab;
    if (lge)
        *lge = img;
    return CT_OK;
}

/* ---- reference volumes ---- */

ct_status ct_phantom_volumes(const ct_phantom_params *p, double step_mm, double out_mm3[CT_PHANTOM_N_LABELS])
{
    for (int l = 0; l < CT_PHANTOM_N_LABELS; l++)
        out_mm3[l] = 0;
    CT_CHECK(ct_phantom_check(p));
    if (!(step_mm > 0) || !isfinite(step_mm))
        return ct_error_set(CT_ERR_CONFIG, "phantom: quadrature step_mm = %g must be a finite number > 0", step_mm);
    double lo[3], hi[3];
    ct_phantom_bounds(p, lo, hi);
    double n[3];
    for (int d = 0; d < 3; d++)
        n[d] = fmax(1.0, ceil((hi[d] - lo[d]) / step_mm));
    if (n[0] * n[1] * n[2] > 17179869184.0 || n[0] > 1 << 30 || n[1] > 1 << 30 || n[2] > 1 << 30)
        return ct_error_set(CT_ERR_CONFIG, "phantom: quadrature step_mm = %g needs over 2^34 sample points", step_mm);
    const int nx = (int)n[0], ny = (int)n[1], nz = (int)n[2];
    long long *counts = calloc((size_t)nz * CT_PHANTOM_N_LABELS, sizeof *counts);
    if (!counts)
        return ct_error_set(CT_ERR_NOMEM, "phantom: out of memory for the quadrature counts");
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < nz; k++) {
        long long *ck = counts + (size_t)k * CT_PHANTOM_N_LABELS;
        double x[3];
        x[2] = lo[2] + (k + 0.5) * step_mm;
        for (int j = 0; j < ny; j++) {
            x[1] = lo[1] + (j + 0.5) * step_mm;
            for (int i = 0; i < nx; i++) {
                x[0] = lo[0] + (i + 0.5) * step_mm;
                ck[ct_phantom_label_at(p, x)]++;
            }
        }
    }
    double cell = step_mm * step_mm * step_mm;
    for (int k = 0; k < nz; k++)
        for (int l = 0; l < CT_PHANTOM_N_LABELS; l++)
            out_mm3[l] += (double)counts[(size_t)k * CT_PHANTOM_N_LABELS + l] * cell;
    free(counts);
    return CT_OK;
}

/* ---- description ---- */

cJSON *ct_phantom_to_json(const ct_phantom_params *p, const double vol[CT_PHANTOM_N_LABELS])
{
    cJSON *root = cJSON_CreateObject();
    cJSON *par = cJSON_AddObjectToObject(root, "parameters");
    cJSON *lab = cJSON_AddObjectToObject(root, "labels");
    cJSON *v = cJSON_AddObjectToObject(root, "volumes_mL");
    if (!par || !lab || !v) {
        cJSON_Delete(root);
        return NULL;
    }
    const ct_biv_params *h = &p->heart;
    struct {
        const char *name;
        double v;
    } num[] = {{"lv_endo_short_mm", h->lv.endo_short_mm}, {"lv_endo_long_mm", h->lv.endo_long_mm},
               {"lv_epi_short_mm", h->lv.epi_short_mm},   {"lv_epi_long_mm", h->lv.epi_long_mm},
               {"base_z_mm", h->lv.base_z_mm},            {"rv_centre_x_mm", h->rv_centre_x_mm},
               {"rv_centre_z_mm", h->rv_centre_z_mm},     {"rv_epi_x_mm", h->rv_epi_x_mm},
               {"rv_epi_y_mm", h->rv_epi_y_mm},           {"rv_epi_z_mm", h->rv_epi_z_mm},
               {"rv_wall_mm", h->rv_wall_mm},             {"scar_phi_from_deg", p->scar_phi_from_deg},
               {"scar_phi_to_deg", p->scar_phi_to_deg},   {"scar_z_from_mm", p->scar_z_from_mm},
               {"scar_z_to_mm", p->scar_z_to_mm},         {"scar_t_from", p->scar_t_from},
               {"scar_t_to", p->scar_t_to},               {"bz_mm", p->bz_mm},
               {"channel_width_mm", p->channel_width_mm}, {"channel_z_mm", p->channel_z_mm}};
    int ok = cJSON_AddBoolToObject(par, "has_scar", p->has_scar != 0) != NULL;
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        ok = ok && cJSON_AddNumberToObject(par, num[i].name, num[i].v);
    for (int l = 0; l < CT_PHANTOM_N_LABELS; l++)
        ok = ok && cJSON_AddNumberToObject(lab, ct_phantom_label_name(l), l);
    for (int l = 1; l < CT_PHANTOM_N_LABELS; l++)
        ok = ok && cJSON_AddNumberToObject(v, ct_phantom_label_name(l), vol[l] / 1000.0);
    double myo = vol[CT_PHANTOM_LV_MYO] + vol[CT_PHANTOM_RV_MYO] + vol[CT_PHANTOM_SCAR] + vol[CT_PHANTOM_BORDER];
    ok = ok && cJSON_AddNumberToObject(v, "myocardium", myo / 1000.0);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
