/* ct_image_heart.h — from a segmented label image (and optionally a late-gadolinium-enhancement image) to
 * a labelled tetrahedral mesh of the myocardium: the image route of `personalise`.
 *
 * Steps (ct_image_heart):
 *   1. every voxel's label value is mapped to a class (ct_image_labels); values the map does not name are
 *      background; a named value absent from the image, an image without myocardium or LV blood, or an LV
 *      blood pool in two separate pieces (both cavities labelled LV) are errors that list what was seen,
 *      and so is a myocardium of under 1 mL or over 3000 mL (wrong units);
 *   2. the boundary of the myocardium (LV, RV, scar and border-zone classes together) becomes a closed
 *      surface: VTK's discrete flying edges, windowed-sinc smoothing, quadric decimation to about h_mm;
 *   3. Gmsh remeshes that surface at h_mm and fills it with tets (ct_geometry_from_surface);
 *   4. each boundary triangle is labelled by what lies outside it: the classes sampled along its outward
 *      normal at 0.5, 1, 1.5 and 2 voxels from its centroid, the first that is not myocardium: LV blood
 *      -> endo_lv, RV blood -> endo_rv, background or outside the image -> epi; a triangle with only
 *      myocardium outside takes the most common label of its neighbours;
 *   5. the base (valve plane): a plane fitted (least squares, twice, dropping points beyond 3 voxels) to
 *      the faces between blood-pool voxels and background voxels, where the segmentation cuts the
 *      cavities open; normal pointing away from the myocardium's centroid; or given by the caller. The
 *      epi triangles within max(2 voxels, h_mm) below the plane whose normal is within 60 deg of the
 *      plane's become base;
 *   6. tissue per element (the rule): five samples — the centroid and the four points halfway from it to
 *      each corner — each the class of the voxel containing it; samples outside the myocardium do not
 *      vote; the most frequent of healthy / border zone / scar wins; a tie goes to the centroid's sample,
 *      then to the more severe class. With an LGE image, the classes of the myocardial samples come from
 *      the LGE intensity at the sample (nearest voxel of the LGE image, placed by its own header), by the
 *      thresholds of ct_lge.h, instead of from the scar and border-zone labels.
 */
#ifndef CT_IMAGE_HEART_H
#define CT_IMAGE_HEART_H

#include "mesh/ct_mesh.h"
#include "ct_image.h"
#include "ct_lge.h"

enum ct_image_class {
    CT_IMG_BACKGROUND = 0,
    CT_IMG_LV_MYOCARDIUM,
    CT_IMG_RV_MYOCARDIUM,
    CT_IMG_LV_BLOOD,
    CT_IMG_RV_BLOOD,
    CT_IMG_SCAR,
    CT_IMG_BORDER_ZONE,
    CT_IMG_N_CLASSES
};

/* The patient-file names of the classes ("background" is never named): "lv_myocardium", "rv_myocardium",
 * "lv_blood", "rv_blood", "scar", "border_zone". */
const char *ct_image_class_name(int cls);

#define CT_IMAGE_MAX_VALUES 8
typedef struct ct_image_labels {
    int n[CT_IMG_N_CLASSES];                         /* label values per class */
    double value[CT_IMG_N_CLASSES][CT_IMAGE_MAX_VALUES];
} ct_image_labels;

typedef struct ct_image_heart_options {
    double h_mm;             /* target element size */
    int smooth_iterations;   /* windowed-sinc passes (default 20) */
    double passband;         /* windowed-sinc pass band (default 0.05) */
    int has_base;            /* 1: use base_point_mm / base_normal instead of finding the plane */
    double base_point_mm[3], base_normal[3];
    const ct_image *lge;     /* NULL: tissue from the scar / border-zone labels */
    ct_lge_params lge_params;
} ct_image_heart_options;

ct_image_heart_options ct_image_heart_options_default(void);

typedef struct ct_image_heart_report {
    int n_values;                  /* distinct label values seen (at most 64 listed) */
    double values[64];
    size_t counts[64];
    double class_volume_mm3[CT_IMG_N_CLASSES]; /* from voxel counts */
    double base_point_mm[3], base_normal[3];
    int base_found;                /* 1: fitted, 0: given */
    size_t n_surface_tris;         /* the smoothed, decimated surface handed to Gmsh */
    size_t n_unresolved_tris;      /* boundary triangles labelled from their neighbours */
    double seconds_surface, seconds_mesh;
    ct_lge_result lge;             /* when an LGE image was used */
    double lge_core_mm3, lge_grey_mm3; /* LGE voxels of the myocardium above the thresholds */
} ct_image_heart_report;

/* Runs the steps above. `src` names the label image in messages. Caller owns *out (ct_mesh_destroy):
 * tets, labelled boundary triangles, tissue (NULL when every element is healthy). */
ct_status ct_image_heart(const ct_image *labels, const ct_image_labels *map, const ct_image_heart_options *opt,
                         const char *src, ct_mesh **out, ct_image_heart_report *rep);

#endif /* CT_IMAGE_HEART_H */
