/* ct_phantom.h — a parametric, human-sized biventricular heart with an infarct, rasterised onto a voxel
 * grid of any orientation: the test fixture and demo input of the image route (label map + LGE image ->
 * surfaces -> mesh -> twin). Pure C, no VTK; writing the images is the caller's (ct_vtk_write_image).
 *
 * Frame: world millimetres, "RAS"-like axes of the idealised heart of ct_geometry.h: long axis z, apex
 * at -z, base plane z = base_z_mm (tissue kept at z <= base), septum / RV on +x, anterior +y. The heart
 * is fixed in this frame; a rotated grid turns only the voxel axes, so phantoms rasterised in different
 * orientations describe the same heart and their twins are directly comparable.
 *
 * Geometry: exactly the construction of ct_geometry_biv (all ellipsoids axis-aligned),
 *   heart = (LV epi U RV epi) - {z > base_z}
 *   LV blood = inside LV endo,                       z <= base
 *   RV blood = inside RV endo, outside LV epi,       z <= base
 *   myocardium = the rest of the heart: inside LV epi -> LV myocardium, else RV myocardium.
 *
 * Infarct (LV myocardium only), in cylindrical coordinates about the z axis:
 *   phi(x) = atan2(y, x) in degrees (0 = septum +x, 90 = anterior +y, 180 = lateral -x, 270 = inferior);
 *   t(x)   = transmural fraction: the lambda in [0, 1] such that x lies on the ellipsoid whose semi-axes
 *            are interpolated linearly between the LV endocardium's (lambda 0) and epicardium's (lambda 1)
 *            (ct_phantom_wall_fraction; bisection);
 *   core   = phi in [phi_from, phi_to] (going counter-clockwise from phi_from; the span must be in
 *            (0, 360)), z in [z_from, z_to], t in [t_from, t_to];
 *   border zone (BZ) = LV myocardium that is not core, within bz_mm of the core measured along the wall:
 *            phi within bz_mm / r (radians, r = sqrt(x^2 + y^2)) of the angular range, z within bz_mm
 *            of the height range, over the whole wall thickness (any t);
 *   channel = the core points with |z - channel_z_mm| <= channel_width_mm / 2, over the core's whole
 *            angular range and thickness, relabelled border zone: a surviving isthmus through the scar
 *            that joins the border zone on both angular sides (the substrate of scar-related VT).
 *            channel_width_mm 0: no channel. The band must lie strictly inside (z_from, z_to).
 */
#ifndef CT_PHANTOM_H
#define CT_PHANTOM_H

#include <cjson/cJSON.h>

#include "core/ct_status.h"
#include "../personalise/ct_geometry.h"
#include "ct_image.h"

/* Labels of the label map (whole numbers in ct_image values; written as unsigned 8-bit). */
enum ct_phantom_label {
    CT_PHANTOM_BACKGROUND = 0,
    CT_PHANTOM_LV_MYO = 1,     /* LV myocardium (septum included), remote from the infarct */
    CT_PHANTOM_RV_MYO = 2,     /* RV free-wall myocardium */
    CT_PHANTOM_LV_BLOOD = 3,   /* LV blood pool */
    CT_PHANTOM_RV_BLOOD = 4,   /* RV blood pool */
    CT_PHANTOM_SCAR = 5,       /* dense scar (infarct core) */
    CT_PHANTOM_BORDER = 6,     /* border zone (and the surviving channel) */
    CT_PHANTOM_N_LABELS = 7
};

/* Snake-case name of a label ("lv_myocardium", ..., "border_zone"); NULL outside 0..6. */
const char *ct_phantom_label_name(int label);

/* Late-gadolinium-enhancement intensities (arbitrary units) before noise. */
#define CT_PHANTOM_LGE_BACKGROUND 20.0
#define CT_PHANTOM_LGE_BLOOD 180.0
#define CT_PHANTOM_LGE_REMOTE 60.0
#define CT_PHANTOM_LGE_BORDER 170.0
#define CT_PHANTOM_LGE_SCAR 360.0

typedef struct ct_phantom_params {
    ct_biv_params heart;              /* ellipsoids and base plane, mm (ct_geometry.h) */
    int has_scar;                     /* 0: no infarct (labels 5 and 6 absent) */
    double scar_phi_from_deg, scar_phi_to_deg; /* angular range of the core (counter-clockwise) */
    double scar_z_from_mm, scar_z_to_mm;       /* height range of the core */
    double scar_t_from, scar_t_to;             /* transmural range of the core, within [0, 1] */
    double bz_mm;                     /* border-zone margin around the core along the wall, >= 0 */
    double channel_width_mm;          /* surviving channel's height; 0: none */
    double channel_z_mm;              /* height of the channel's centre line */
} ct_phantom_params;

/* The adult heart of geometry.type "biventricular" (ct_biv_params_default, ct_geometry.h: Lang et al. 2015,
 * ASE/EACVI chamber quantification) with a transmural anterolateral infarct crossed by a channel; the
 * infarct's values are listed in ct_phantom.c. */
ct_phantom_params ct_phantom_params_default(void);

/* Checks every parameter: CT_ERR_CONFIG naming the parameter and its value (NaN, an empty range, an
 * endocardium not inside its epicardium, an RV cavity that does not reach beyond the LV epicardium, a
 * channel outside the core, ...). */
ct_status ct_phantom_check(const ct_phantom_params *p);

/* The transmural fraction t of x (see above) in the LV wall of `lv`: 0 on the endocardium, 1 on the
 * epicardium, clamped to [0, 1] for points inside the cavity or outside the epicardium. */
double ct_phantom_wall_fraction(const ct_lv_params *lv, const double x_mm[3]);

/* The label (enum ct_phantom_label) at point x (world mm). p must have passed ct_phantom_check. */
int ct_phantom_label_at(const ct_phantom_params *p, const double x_mm[3]);

/* The axis-aligned box (world mm) holding the whole heart: lo[3], hi[3]. */
void ct_phantom_bounds(const ct_phantom_params *p, double lo_mm[3], double hi_mm[3]);

/* Rasterises the phantom by point sampling: each voxel takes ct_phantom_label_at at its centre.
 * Grid: voxel axes = the columns of `rotation` (3x3 row-major, a proper rotation; NULL = identity),
 * spacing voxel_mm, covering the heart's bounding box plus 4 voxels of margin on every side; frame "RAS".
 * *labels gets the label map; lge (may be NULL) gets an LGE image on the same grid: the intensities
 * CT_PHANTOM_LGE_* (blood for both pools, remote for LV and RV myocardium) plus Gaussian noise of standard
 * deviation noise_sd, clamped at 0. The noise comes from a counter-based generator (SplitMix64 of seed and
 * voxel index, Box-Muller): the same seed gives the same image bit for bit, whatever the thread count.
 * Caller owns *labels and *lge (ct_image_destroy); both NULL on failure.
 * CT_ERR_CONFIG: bad parameters (ct_phantom_check), voxel_mm not > 0, noise_sd < 0 or NaN, a rotation
 * that is not orthonormal with determinant +1, or a grid over 2^30 voxels. CT_ERR_NOMEM. */
ct_status ct_phantom_rasterise(const ct_phantom_params *p, double voxel_mm, const double rotation[9],
                               double noise_sd, unsigned seed, ct_image **labels, ct_image **lge);

/* Reference volume (mm^3) of each label 0..6 by midpoint quadrature of ct_phantom_label_at on an
 * axis-aligned grid of step step_mm over ct_phantom_bounds (label 0: the rest of that box). Step 0.25 mm
 * takes a few seconds. CT_ERR_CONFIG for bad parameters, step_mm not > 0, or over 2^34 sample points. */
ct_status ct_phantom_volumes(const ct_phantom_params *p, double step_mm, double out_mm3[CT_PHANTOM_N_LABELS]);

/* The rotation that turns about x by rx, then about y by ry, then about z by rz (degrees, right-handed,
 * fixed axes): R = Rz(rz) Ry(ry) Rx(rx), 3x3 row-major into r[9]. */
void ct_phantom_rotation_from_deg(double rx_deg, double ry_deg, double rz_deg, double r[9]);

/* A JSON description for phantom.json: {"parameters": {...every field, mm / deg...}, "labels":
 * {"background": 0, "lv_myocardium": 1, ...}, "volumes_mL": {"<label name>": V, ..., "myocardium": V of
 * labels 1, 2, 5, 6}} from the reference volumes volumes_mm3 (ct_phantom_volumes; label 0 omitted).
 * Caller owns the result (cJSON_Delete); NULL when out of memory. */
cJSON *ct_phantom_to_json(const ct_phantom_params *p, const double volumes_mm3[CT_PHANTOM_N_LABELS]);

#endif /* CT_PHANTOM_H */
