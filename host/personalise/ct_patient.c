/* ct_patient.c — the personalisation pipeline: patient file -> personalised mesh + run configuration. */
#include "ct_patient.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ct_config.h"
#include "core/ct_files.h"
#include "core/ct_json.h"
#include "mesh/ct_mesh.h"
#include "../model/ct_model_desc.h"
#include "../image/ct_image.h"
#include "../image/ct_image_heart.h"
#include "../image/ct_surface_heart.h"
#include "../image/ct_surfaces_image.h"
#include "../io/ct_vtk.h"
#include "../mesh_io/ct_mesh_io.h"
#include "ct_aha.h"
#include "ct_coords.h"
#include "ct_fibres.h"
#include "ct_geometry.h"
#include "ct_tune_cv.h"

#define MAX_SITES 32

typedef struct pacing_site {
    char name[64];
    int aha_segment;          /* 0: use position_mm */
    double position_mm[3];
    double radius_mm, amplitude, start_ms, duration_ms, period_ms;
    long count;
} pacing_site;

typedef struct patient {
    const char *src;
    char description[512];
    /* geometry */
    char geometry[32];        /* biventricular, biventricular_small, lv_ellipsoid, file, image */
    double h_mm;
    ct_biv_params biv;        /* biventricular: from geometry.dimensions (checked while parsing) */
    ct_heart_dimensions dims;
    char mesh_path[1024], mesh_format[16];
    double unit_to_mm;        /* file: the mesh's unit; image: 0 = the header's, else overrides it */
    /* image */
    ct_image_labels labels;
    ct_image_heart_options image;
    char lge_path[1024];
    /* surfaces: the cavities' files (mesh_path holds the epicardium's) and the voxel size they are
     * voxelised at (0: min(h_mm / 2, 0.5)) */
    char endo_lv_path[1024], endo_rv_path[1024];
    double surfaces_voxel_mm;
    double max_image_gib;
    /* surface: the options, and the surface read, oriented and labelled by surface_mesh (owned) */
    ct_surface_heart_options surface;
    ct_trisurf surf;
    int32_t *surf_labels;
    char image_frame[4];      /* the label image's anatomical frame ("RAS", "LPS" or ""), set by image_mesh */
    /* body frame for the ECG electrodes (mesh coordinates): the patient file's "body_frame" */
    int has_body_frame;
    double body_superior[3], body_anterior[3];
    /* model: the "model" object copied through (drug block lives in its conductance_scales) */
    cJSON *model;             /* owned copy */
    const ct_model_desc *model_desc; /* its descriptor (a model with cell types), static */
    double endo_until, mid_until;
    ct_fibre_params fibres;
    /* infarct */
    int n_infarct_segments;
    int infarct_segments[17];
    double scar_t_from, scar_t_to, border_zone_mm;
    cJSON *border_zone;       /* owned copy of the "border_zone" object, or NULL */
    /* conduction */
    double sigma_l, sigma_t, cv_along, cv_across;
    double chi_per_mm, cm_uF_per_mm2;
    /* simulation */
    double dt_ms, end_time_ms, output_interval_ms;
    char mass[16];
    int n_sites;
    pacing_site sites[MAX_SITES];
} patient;

/* geometry.type "biventricular": geometry.dimensions (every key optional, the normal adult's by default;
 * a septum or free wall given alone sets both), checked and mapped onto p->biv. */
static ct_status parse_dimensions(const cJSON *g, patient *p)
{
    const char *src = p->src;
    p->dims = ct_heart_dimensions_default();
    const cJSON *d;
    CT_CHECK(ct_json_object(g, "dimensions", 0, src, "geometry", &d));
    if (d) {
        static const char *const dkeys[] = {"lv_edd_mm", "lv_length_mm", "septum_mm", "free_wall_mm", "apex_wall_mm",
                                            "rv_edd_mm", "rv_length_mm", "rv_wall_mm", NULL};
        CT_CHECK(ct_json_known_keys(d, dkeys, src, "geometry.dimensions"));
        double *const dst[] = {&p->dims.lv_edd_mm, &p->dims.lv_length_mm, &p->dims.septum_mm, &p->dims.free_wall_mm,
                               &p->dims.apex_wall_mm, &p->dims.rv_edd_mm, &p->dims.rv_length_mm, &p->dims.rv_wall_mm};
        /* types only here: ct_biv_params_from_dimensions checks the ranges */
        for (int k = 0; dkeys[k]; k++)
            CT_CHECK(ct_json_number(d, dkeys[k], 0, -1e9, 1e9, src, "geometry.dimensions", dst[k]));
        int has_septum = cJSON_HasObjectItem(d, "septum_mm"), has_free = cJSON_HasObjectItem(d, "free_wall_mm");
        if (has_septum && !has_free)
            p->dims.free_wall_mm = p->dims.septum_mm;
        else if (has_free && !has_septum)
            p->dims.septum_mm = p->dims.free_wall_mm;
    }
    if (ct_biv_params_from_dimensions(&p->dims, &p->biv) != CT_OK)
        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.%s", src, ct_error_message());
    return CT_OK;
}

/* geometry.units of the image and surface routes: *unit_to_mm (1e-3, 1, 10, 1000), or `dflt` when absent. */
static ct_status parse_units(const cJSON *g, const char *src, double dflt, const char *when_absent, double *unit_to_mm)
{
    const char *units = NULL;
    CT_CHECK(ct_json_string(g, "units", 0, src, "geometry", &units));
    *unit_to_mm = dflt;
    if (!units)
        return CT_OK;
    *unit_to_mm = strcmp(units, "um") == 0 ? 1e-3 : strcmp(units, "cm") == 0 ? 10.0 : strcmp(units, "mm") == 0 ? 1.0
                  : strcmp(units, "m") == 0 ? 1000.0 : -1;
    if (*unit_to_mm < 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.units \"%s\" is not known (expected mm, um, cm or m; %s)", src,
                            units, when_absent);
    return CT_OK;
}

/* geometry.base {point_mm, normal}: the valve plane given instead of found; *has = 1 when present. */
static ct_status parse_base(const cJSON *g, const char *src, double point_mm[3], double normal[3], int *has)
{
    const cJSON *base;
    CT_CHECK(ct_json_object(g, "base", 0, src, "geometry", &base));
    if (!base)
        return CT_OK;
    static const char *const bkeys[] = {"point_mm", "normal", NULL};
    CT_CHECK(ct_json_known_keys(base, bkeys, src, "geometry.base"));
    CT_CHECK(ct_json_vec(base, "point_mm", 1, 3, src, "geometry.base", point_mm));
    CT_CHECK(ct_json_vec(base, "normal", 1, 3, src, "geometry.base", normal));
    if (!(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2] > 0))
        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.base.normal must not be zero", src);
    *has = 1;
    return CT_OK;
}

/* geometry.type "image": the label image, its label map, the LGE image and the meshing options. */
static ct_status parse_image_geometry(const cJSON *g, patient *p)
{
    const char *src = p->src, *path = NULL;
    p->image = ct_image_heart_options_default();
    p->h_mm = 1.5;
    p->unit_to_mm = 0;
    p->max_image_gib = 8;
    CT_CHECK(ct_json_string(g, "path", 1, src, "geometry", &path));
    CT_CHECK(ct_path_relative_to(p->mesh_path, sizeof p->mesh_path, src, path));
    CT_CHECK(ct_json_number(g, "h_mm", 0, 0.2, 10.0, src, "geometry", &p->h_mm));
    CT_CHECK(ct_json_number(g, "max_memory_gib", 0, 1e-6, 1e4, src, "geometry", &p->max_image_gib));
    p->image.h_mm = p->h_mm;
    long it = p->image.smooth_iterations;
    CT_CHECK(ct_json_int(g, "smoothing_iterations", 0, 0, 500, src, "geometry", &it));
    p->image.smooth_iterations = (int)it;
    CT_CHECK(parse_units(g, src, 0.0, "leave it out to use the image header's", &p->unit_to_mm));
    const cJSON *labels;
    CT_CHECK(ct_json_object(g, "labels", 1, src, "geometry", &labels));
    const cJSON *item;
    cJSON_ArrayForEach(item, labels)
    {
        int cls = -1;
        for (int k = 1; k < CT_IMG_N_CLASSES; k++)
            if (strcmp(item->string, ct_image_class_name(k)) == 0)
                cls = k;
        if (cls < 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: geometry.labels.%s is not a tissue (expected lv_myocardium, "
                                "rv_myocardium, lv_blood, rv_blood, scar, border_zone)", src, item->string);
        int n = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : 1;
        if (n < 1 || n > CT_IMAGE_MAX_VALUES)
            return ct_error_set(CT_ERR_CONFIG, "%s: geometry.labels.%s: give 1 to %d label values", src, item->string,
                                CT_IMAGE_MAX_VALUES);
        for (int j = 0; j < n; j++) {
            const cJSON *v = cJSON_IsArray(item) ? cJSON_GetArrayItem(item, j) : item;
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
                v->valuedouble > 16777216)
                return ct_error_set(CT_ERR_CONFIG, "%s: geometry.labels.%s must be a whole number >= 0 or an array of them",
                                    src, item->string);
            for (int k = 1; k < CT_IMG_N_CLASSES; k++)
                for (int q = 0; q < p->labels.n[k]; q++)
                    if (p->labels.value[k][q] == v->valuedouble)
                        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.labels: label %g is given to both %s and %s",
                                            src, v->valuedouble, ct_image_class_name(k), item->string);
            p->labels.value[cls][p->labels.n[cls]++] = v->valuedouble;
        }
    }
    if (p->labels.n[CT_IMG_LV_MYOCARDIUM] == 0 || p->labels.n[CT_IMG_LV_BLOOD] == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.labels needs at least lv_myocardium and lv_blood", src);
    if ((p->labels.n[CT_IMG_RV_MYOCARDIUM] == 0) != (p->labels.n[CT_IMG_RV_BLOOD] == 0))
        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.labels: give both rv_myocardium and rv_blood, or neither", src);
    const cJSON *lge;
    CT_CHECK(ct_json_object(g, "lge", 0, src, "geometry", &lge));
    if (lge) {
        static const char *const lkeys[] = {"path", "method", "core_fraction", "grey_fraction", "core_sd", "grey_sd", NULL};
        CT_CHECK(ct_json_known_keys(lge, lkeys, src, "geometry.lge"));
        const char *lpath = NULL, *method = "fwhm";
        CT_CHECK(ct_json_string(lge, "path", 1, src, "geometry.lge", &lpath));
        CT_CHECK(ct_path_relative_to(p->lge_path, sizeof p->lge_path, src, lpath));
        CT_CHECK(ct_json_string(lge, "method", 0, src, "geometry.lge", &method));
        int m = strcmp(method, "fwhm") == 0 ? CT_LGE_FWHM : strcmp(method, "nsd") == 0 ? CT_LGE_NSD : -1;
        if (m < 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: geometry.lge.method \"%s\" (expected fwhm or nsd)", src, method);
        ct_lge_params *lp = &p->image.lge_params;
        *lp = ct_lge_params_default(m);
        CT_CHECK(ct_json_number(lge, "core_fraction", 0, 0.01, 1, src, "geometry.lge", &lp->core_fraction));
        CT_CHECK(ct_json_number(lge, "grey_fraction", 0, 0.01, 1, src, "geometry.lge", &lp->grey_fraction));
        CT_CHECK(ct_json_number(lge, "core_sd", 0, -10, 100, src, "geometry.lge", &lp->core_sd));
        CT_CHECK(ct_json_number(lge, "grey_sd", 0, -10, 100, src, "geometry.lge", &lp->grey_sd));
        if (m == CT_LGE_FWHM && !(lp->grey_fraction < lp->core_fraction))
            return ct_error_set(CT_ERR_CONFIG, "%s: geometry.lge: grey_fraction must be below core_fraction", src);
        if (m == CT_LGE_NSD && !(lp->grey_sd < lp->core_sd))
            return ct_error_set(CT_ERR_CONFIG, "%s: geometry.lge: grey_sd must be below core_sd", src);
    }
    CT_CHECK(parse_base(g, src, p->image.base_point_mm, p->image.base_normal, &p->image.has_base));
    return CT_OK;
}

/* geometry.type "surface": one closed myocardial surface (STL, PLY, OBJ, VTP), its units and the overrides of
 * the automatic labelling (ct_surface_heart.h). */
static ct_status parse_surface_geometry(const cJSON *g, patient *p)
{
    const char *src = p->src, *path = NULL;
    p->surface = ct_surface_heart_options_default();
    p->h_mm = 1.5;
    CT_CHECK(ct_json_string(g, "path", 1, src, "geometry", &path));
    CT_CHECK(ct_path_relative_to(p->mesh_path, sizeof p->mesh_path, src, path));
    CT_CHECK(ct_json_number(g, "h_mm", 0, 0.2, 10.0, src, "geometry", &p->h_mm));
    p->surface.h_mm = p->h_mm;
    CT_CHECK(parse_units(g, src, 1.0, "a surface file carries none: mm when left out", &p->unit_to_mm));
    const cJSON *flip = cJSON_GetObjectItemCaseSensitive(g, "flip_normals");
    if (flip) {
        if (!cJSON_IsBool(flip))
            return ct_error_set(CT_ERR_CONFIG, "%s: geometry.flip_normals must be true or false (leave it out to "
                                "orient the surface by its enclosed volume)", src);
        p->surface.flip = cJSON_IsTrue(flip) ? 1 : 0;
    }
    if (cJSON_HasObjectItem(g, "lv_cavity_point_mm")) {
        CT_CHECK(ct_json_vec(g, "lv_cavity_point_mm", 1, 3, src, "geometry", p->surface.lv_cavity_point_mm));
        p->surface.has_lv_point = 1;
    }
    CT_CHECK(parse_base(g, src, p->surface.base_point_mm, p->surface.base_normal, &p->surface.has_base));
    return CT_OK;
}

/* geometry.type "surfaces": closed surfaces of the epicardium and of the LV (and RV) cavity, each capped at
 * the valve plane, voxelised into a label map that goes through the image route (ct_surfaces_image.h). */
static ct_status parse_surfaces_geometry(const cJSON *g, patient *p)
{
    const char *src = p->src, *epi = NULL, *lv = NULL, *rv = NULL;
    p->image = ct_image_heart_options_default();
    p->h_mm = 1.5;
    p->max_image_gib = 8;
    CT_CHECK(ct_json_string(g, "epi", 1, src, "geometry", &epi));
    CT_CHECK(ct_json_string(g, "endo_lv", 1, src, "geometry", &lv));
    CT_CHECK(ct_json_string(g, "endo_rv", 0, src, "geometry", &rv));
    CT_CHECK(ct_path_relative_to(p->mesh_path, sizeof p->mesh_path, src, epi));
    CT_CHECK(ct_path_relative_to(p->endo_lv_path, sizeof p->endo_lv_path, src, lv));
    if (rv)
        CT_CHECK(ct_path_relative_to(p->endo_rv_path, sizeof p->endo_rv_path, src, rv));
    CT_CHECK(ct_json_number(g, "h_mm", 0, 0.2, 10.0, src, "geometry", &p->h_mm));
    p->image.h_mm = p->h_mm;
    p->surfaces_voxel_mm = 0;
    CT_CHECK(ct_json_number(g, "voxel_mm", 0, 0.05, 5.0, src, "geometry", &p->surfaces_voxel_mm));
    long it = p->image.smooth_iterations;
    CT_CHECK(ct_json_int(g, "smoothing_iterations", 0, 0, 500, src, "geometry", &it));
    p->image.smooth_iterations = (int)it;
    CT_CHECK(parse_units(g, src, 1.0, "surface files carry none: mm when left out", &p->unit_to_mm));
    CT_CHECK(parse_base(g, src, p->image.base_point_mm, p->image.base_normal, &p->image.has_base));
    return CT_OK;
}

static int image_has_scar(const patient *p)
{
    return p->labels.n[CT_IMG_SCAR] > 0 || p->labels.n[CT_IMG_BORDER_ZONE] > 0 || p->lge_path[0];
}

static ct_status parse_patient(const cJSON *root, patient *p)
{
    const char *src = p->src;
    static const char *const keys[] = {"description", "geometry",    "model",      "cell_types",    "fibres",
                                       "infarct",     "border_zone", "conduction", "chi_per_mm",    "Cm_uF_per_mm2",
                                       "pacing",      "simulation",  "body_frame", NULL};
    CT_CHECK(ct_json_known_keys(root, keys, src, ""));
    const cJSON *bf;
    CT_CHECK(ct_json_object(root, "body_frame", 0, src, "", &bf));
    if (bf) { /* overrides the image header's frame */
        static const char *const bkeys[] = {"superior", "anterior", NULL};
        CT_CHECK(ct_json_known_keys(bf, bkeys, src, "body_frame"));
        CT_CHECK(ct_config_body_frame(bf, src, "body_frame", p->body_superior, p->body_anterior, &p->has_body_frame));
        if (!p->has_body_frame)
            return ct_error_set(CT_ERR_CONFIG, "%s: body_frame: give superior and anterior (directions in mesh "
                                "coordinates)", src);
    }
    const char *desc = "";
    CT_CHECK(ct_json_string(root, "description", 0, src, "", &desc));
    snprintf(p->description, sizeof p->description, "%s", desc);

    const cJSON *g;
    CT_CHECK(ct_json_object(root, "geometry", 1, src, "", &g));
    static const char *const gkeys[] = {"type", "h_mm", "path", "format", "units", "labels", "lge", "base",
                                        "smoothing_iterations", "max_memory_gib", "dimensions",
                                        "lv_cavity_point_mm", "flip_normals", "epi", "endo_lv", "endo_rv",
                                        "voxel_mm", NULL};
    CT_CHECK(ct_json_known_keys(g, gkeys, src, "geometry"));
    const char *type = NULL;
    CT_CHECK(ct_json_string(g, "type", 1, src, "geometry", &type));
    snprintf(p->geometry, sizeof p->geometry, "%s", type);
    p->h_mm = 1.5;
    p->unit_to_mm = 1.0;
    if (strcmp(type, "file") == 0) {
        const char *path = NULL, *format = "", *units = "mm";
        CT_CHECK(ct_json_string(g, "path", 1, src, "geometry", &path));
        CT_CHECK(ct_json_string(g, "format", 0, src, "geometry", &format));
        CT_CHECK(ct_json_string(g, "units", 0, src, "geometry", &units));
        p->unit_to_mm = strcmp(units, "um") == 0 ? 1e-3 : strcmp(units, "cm") == 0 ? 10.0 : strcmp(units, "mm") == 0 ? 1.0 : -1;
        if (p->unit_to_mm < 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: geometry.units \"%s\" is not known (expected mm, um or cm)", src, units);
        CT_CHECK(ct_path_relative_to(p->mesh_path, sizeof p->mesh_path, src, path));
        snprintf(p->mesh_format, sizeof p->mesh_format, "%s", format);
    } else if (strcmp(type, "biventricular") == 0 || strcmp(type, "biventricular_small") == 0 ||
               strcmp(type, "lv_ellipsoid") == 0) {
        CT_CHECK(ct_json_number(g, "h_mm", 0, 0.2, 5.0, src, "geometry", &p->h_mm));
        if (strcmp(type, "biventricular") == 0)
            CT_CHECK(parse_dimensions(g, p));
    } else if (strcmp(type, "image") == 0) {
        CT_CHECK(parse_image_geometry(g, p));
    } else if (strcmp(type, "surface") == 0) {
        CT_CHECK(parse_surface_geometry(g, p));
    } else if (strcmp(type, "surfaces") == 0) {
        CT_CHECK(parse_surfaces_geometry(g, p));
    } else {
        return ct_error_set(CT_ERR_CONFIG,
                            "%s: geometry.type \"%s\" is not known (expected biventricular, biventricular_small, "
                            "lv_ellipsoid, file, image, surface or surfaces)", src, type);
    }
    if (strcmp(type, "biventricular") != 0 && cJSON_HasObjectItem(g, "dimensions"))
        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.dimensions belongs to geometry.type \"biventricular\" (the "
                            "adult idealised heart; \"%s\" has fixed or measured dimensions)", src, type);
    if (strcmp(type, "image") != 0)
        for (const char *const *k = (const char *const[]){"labels", "lge", "max_memory_gib", NULL}; *k; k++)
            if (cJSON_HasObjectItem(g, *k))
                return ct_error_set(CT_ERR_CONFIG, "%s: geometry.%s belongs to geometry.type \"image\"", src, *k);
    if (strcmp(type, "image") != 0 && strcmp(type, "surfaces") != 0 && cJSON_HasObjectItem(g, "smoothing_iterations"))
        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.smoothing_iterations belongs to geometry.type \"image\" or "
                            "\"surfaces\"", src);
    if (strcmp(type, "surfaces") != 0)
        for (const char *const *k = (const char *const[]){"epi", "endo_lv", "endo_rv", "voxel_mm", NULL}; *k; k++)
            if (cJSON_HasObjectItem(g, *k))
                return ct_error_set(CT_ERR_CONFIG, "%s: geometry.%s belongs to geometry.type \"surfaces\"", src, *k);
    if (strcmp(type, "surface") != 0)
        for (const char *const *k = (const char *const[]){"lv_cavity_point_mm", "flip_normals", NULL}; *k; k++)
            if (cJSON_HasObjectItem(g, *k))
                return ct_error_set(CT_ERR_CONFIG, "%s: geometry.%s belongs to geometry.type \"surface\"", src, *k);
    if (strcmp(type, "image") != 0 && strcmp(type, "surface") != 0 && strcmp(type, "surfaces") != 0 &&
        cJSON_HasObjectItem(g, "base"))
        return ct_error_set(CT_ERR_CONFIG, "%s: geometry.base belongs to geometry.type \"image\", \"surface\" or "
                            "\"surfaces\"", src);

    const cJSON *m;
    CT_CHECK(ct_json_object(root, "model", 0, src, "", &m));
    /* personalisation gives every node a cell type (cell_types below): the model must have them */
    p->model_desc = ct_model_default();
    if (m) {
        /* the keys are checked before the name; until the name is known, against the default model's */
        const cJSON *jname = cJSON_GetObjectItemCaseSensitive(m, "name");
        const ct_model_desc *d = cJSON_IsString(jname) ? ct_model_find(jname->valuestring) : NULL;
        if (!d || !d->n_cell_types)
            d = ct_model_default();
        const char *mkeys[4];
        int n_keys = 0;
        mkeys[n_keys++] = "name";
        if (d->n_scales)
            mkeys[n_keys++] = "conductance_scales";
        if (d->n_params)
            mkeys[n_keys++] = "parameters";
        mkeys[n_keys] = NULL;
        CT_CHECK(ct_json_known_keys(m, mkeys, src, "model"));
        const char *name = d->name;
        CT_CHECK(ct_json_string(m, "name", 0, src, "model", &name));
        d = ct_model_find(name);
        if (!d || !d->n_cell_types) {
            char names[256];
            ct_model_names(names, sizeof names, CT_MODEL_WITH_CELL_TYPES, 0);
            return ct_error_set(CT_ERR_CONFIG, "%s: model.name \"%s\": personalisation supports %s", src, name, names);
        }
        p->model_desc = d;
        const cJSON *sc = NULL;
        if (d->n_scales)
            CT_CHECK(ct_json_object(m, "conductance_scales", 0, src, "model", &sc));
        if (sc) {
            CT_CHECK(ct_json_known_keys(sc, d->scale_names, src, "model.conductance_scales"));
            for (int k = 0; k < d->n_scales; k++) {
                double v = 1;
                CT_CHECK(ct_json_number(sc, d->scale_names[k], 0, d->scale_lo, d->scale_hi, src,
                                        "model.conductance_scales", &v));
            }
        }
        /* model.parameters (a model that has them) are checked with the run configuration */
    }
    char default_model[128];
    CT_CHECK(ct_model_json(p->model_desc, NULL, default_model, sizeof default_model));
    p->model = m ? cJSON_Duplicate(m, 1) : cJSON_Parse(default_model);

    const cJSON *ct;
    p->endo_until = 0.3;
    p->mid_until = 0.6;
    CT_CHECK(ct_json_object(root, "cell_types", 0, src, "", &ct));
    if (ct) {
        static const char *const ckeys[] = {"endo_until_transmural", "mid_until_transmural", NULL};
        CT_CHECK(ct_json_known_keys(ct, ckeys, src, "cell_types"));
        CT_CHECK(ct_json_number(ct, "endo_until_transmural", 0, 0, 1, src, "cell_types", &p->endo_until));
        CT_CHECK(ct_json_number(ct, "mid_until_transmural", 0, 0, 1, src, "cell_types", &p->mid_until));
        if (p->mid_until < p->endo_until)
            return ct_error_set(CT_ERR_CONFIG, "%s: cell_types: mid_until_transmural < endo_until_transmural", src);
    }

    p->fibres = ct_fibre_params_default();
    const cJSON *f;
    CT_CHECK(ct_json_object(root, "fibres", 0, src, "", &f));
    if (f) {
        static const char *const fkeys[] = {"helix_endo_deg", "helix_epi_deg", "sheet_endo_deg", "sheet_epi_deg", NULL};
        CT_CHECK(ct_json_known_keys(f, fkeys, src, "fibres"));
        CT_CHECK(ct_json_number(f, "helix_endo_deg", 0, -90, 90, src, "fibres", &p->fibres.alpha_endo_deg));
        CT_CHECK(ct_json_number(f, "helix_epi_deg", 0, -90, 90, src, "fibres", &p->fibres.alpha_epi_deg));
        CT_CHECK(ct_json_number(f, "sheet_endo_deg", 0, -90, 90, src, "fibres", &p->fibres.beta_endo_deg));
        CT_CHECK(ct_json_number(f, "sheet_epi_deg", 0, -90, 90, src, "fibres", &p->fibres.beta_epi_deg));
    }

    const cJSON *inf;
    CT_CHECK(ct_json_object(root, "infarct", 0, src, "", &inf));
    p->scar_t_from = 0.0;
    p->scar_t_to = 1.0;
    p->border_zone_mm = 2.0;
    if (inf) {
        static const char *const ikeys[] = {"aha_segments", "transmural_from", "transmural_to", "border_zone_mm", NULL};
        CT_CHECK(ct_json_known_keys(inf, ikeys, src, "infarct"));
        const cJSON *segs = cJSON_GetObjectItemCaseSensitive(inf, "aha_segments");
        if (!cJSON_IsArray(segs) || cJSON_GetArraySize(segs) < 1 || cJSON_GetArraySize(segs) > 17)
            return ct_error_set(CT_ERR_CONFIG, "%s: infarct.aha_segments must be an array of 1 to 17 segment numbers", src);
        for (int k = 0; k < cJSON_GetArraySize(segs); k++) {
            const cJSON *s = cJSON_GetArrayItem(segs, k);
            if (!cJSON_IsNumber(s) || s->valuedouble != floor(s->valuedouble) || s->valuedouble < 1 || s->valuedouble > 17)
                return ct_error_set(CT_ERR_CONFIG, "%s: infarct.aha_segments[%d] must be a segment number 1..17", src, k);
            p->infarct_segments[p->n_infarct_segments++] = (int)s->valuedouble;
        }
        CT_CHECK(ct_json_number(inf, "transmural_from", 0, 0, 1, src, "infarct", &p->scar_t_from));
        CT_CHECK(ct_json_number(inf, "transmural_to", 0, 0, 1, src, "infarct", &p->scar_t_to));
        CT_CHECK(ct_json_number(inf, "border_zone_mm", 0, 0, 50, src, "infarct", &p->border_zone_mm));
        if (p->scar_t_to <= p->scar_t_from)
            return ct_error_set(CT_ERR_CONFIG, "%s: infarct.transmural_to must exceed transmural_from", src);
    }
    if (p->n_infarct_segments && strcmp(p->geometry, "image") == 0 && image_has_scar(p))
        return ct_error_set(CT_ERR_CONFIG, "%s: the scar comes from the image (geometry.labels scar/border_zone or "
                            "geometry.lge): leave out \"infarct\", or leave the scar out of the image", src);
    const cJSON *bz = cJSON_GetObjectItemCaseSensitive(root, "border_zone");
    if (bz && !cJSON_IsObject(bz))
        return ct_error_set(CT_ERR_CONFIG, "%s: \"border_zone\" must be an object", src);
    if (bz) { /* copied into model.json's tissue.border_zone: checked here, so that errors name this file */
        ct_config check;
        memset(&check, 0, sizeof check);
        check.model = p->model_desc->id;
        CT_CHECK(ct_config_border_zone(bz, src, "border_zone", &check));
    }
    p->border_zone = bz ? cJSON_Duplicate(bz, 1)
                        : cJSON_Parse("{\"conductance_scales\": {\"G_Na\": 0.38, \"G_CaL\": 0.31, \"G_Kr\": 0.30, "
                                      "\"G_Ks\": 0.20}}");

    const cJSON *c;
    p->sigma_l = 0.13342;
    p->sigma_t = 0.017606;
    CT_CHECK(ct_json_object(root, "conduction", 0, src, "", &c));
    if (c) {
        static const char *const ckeys[] = {"sigma_l_S_per_m", "sigma_t_S_per_m", "cv_along_m_per_s", "cv_across_m_per_s",
                                            NULL};
        CT_CHECK(ct_json_known_keys(c, ckeys, src, "conduction"));
        CT_CHECK(ct_json_number(c, "sigma_l_S_per_m", 0, 1e-6, 100, src, "conduction", &p->sigma_l));
        CT_CHECK(ct_json_number(c, "sigma_t_S_per_m", 0, 1e-6, 100, src, "conduction", &p->sigma_t));
        CT_CHECK(ct_json_number(c, "cv_along_m_per_s", 0, 0.05, 5, src, "conduction", &p->cv_along));
        CT_CHECK(ct_json_number(c, "cv_across_m_per_s", 0, 0.05, 5, src, "conduction", &p->cv_across));
    }
    p->chi_per_mm = 140;
    p->cm_uF_per_mm2 = 0.01;
    CT_CHECK(ct_json_number(root, "chi_per_mm", 0, 1e-3, 1e5, src, "", &p->chi_per_mm));
    CT_CHECK(ct_json_number(root, "Cm_uF_per_mm2", 0, 1e-9, 1, src, "", &p->cm_uF_per_mm2));

    const cJSON *sim;
    p->dt_ms = 0.02;
    p->end_time_ms = 400;
    p->output_interval_ms = 5;
    snprintf(p->mass, sizeof p->mass, "lumped");
    CT_CHECK(ct_json_object(root, "simulation", 0, src, "", &sim));
    if (sim) {
        static const char *const skeys[] = {"dt_ms", "end_time_ms", "output_interval_ms", "mass", NULL};
        CT_CHECK(ct_json_known_keys(sim, skeys, src, "simulation"));
        CT_CHECK(ct_json_number(sim, "dt_ms", 0, 1e-4, 1, src, "simulation", &p->dt_ms));
        CT_CHECK(ct_json_number(sim, "end_time_ms", 0, 1, 1e6, src, "simulation", &p->end_time_ms));
        CT_CHECK(ct_json_number(sim, "output_interval_ms", 0, 0, 1e6, src, "simulation", &p->output_interval_ms));
        const char *mass = "lumped";
        CT_CHECK(ct_json_string(sim, "mass", 0, src, "simulation", &mass));
        if (strcmp(mass, "lumped") != 0 && strcmp(mass, "consistent") != 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: simulation.mass \"%s\" (expected lumped or consistent)", src, mass);
        snprintf(p->mass, sizeof p->mass, "%s", mass);
    }

    const cJSON *pacing = cJSON_GetObjectItemCaseSensitive(root, "pacing");
    if (!cJSON_IsArray(pacing) || cJSON_GetArraySize(pacing) < 1 || cJSON_GetArraySize(pacing) > MAX_SITES)
        return ct_error_set(CT_ERR_CONFIG, "%s: \"pacing\" must be an array of 1 to %d sites", src, MAX_SITES);
    static const char *const pkeys[] = {"name",     "aha_segment", "position_mm", "radius_mm", "amplitude_uA_per_uF",
                                        "start_ms", "duration_ms", "period_ms",   "count",     NULL};
    for (int k = 0; k < cJSON_GetArraySize(pacing); k++) {
        const cJSON *o;
        char where[32];
        CT_CHECK(ct_json_array_item(pacing, k, "pacing", pkeys, src, where, sizeof where, &o));
        pacing_site *s = &p->sites[k];
        const char *name = where;
        CT_CHECK(ct_json_string(o, "name", 0, src, where, &name));
        snprintf(s->name, sizeof s->name, "%s", name);
        long seg = 0;
        CT_CHECK(ct_json_int(o, "aha_segment", 0, 1, 17, src, where, &seg));
        s->aha_segment = (int)seg;
        int has_pos = cJSON_HasObjectItem(o, "position_mm");
        if (has_pos == (seg != 0))
            return ct_error_set(CT_ERR_CONFIG, "%s: %s: give either aha_segment or position_mm", src, where);
        if (has_pos)
            CT_CHECK(ct_json_vec(o, "position_mm", 1, 3, src, where, s->position_mm));
        s->radius_mm = 2.5;
        s->amplitude = 60;
        s->duration_ms = 2;
        s->count = 1;
        CT_CHECK(ct_json_number(o, "radius_mm", 0, 0.1, 50, src, where, &s->radius_mm));
        CT_CHECK(ct_json_number(o, "amplitude_uA_per_uF", 0, -1e4, 1e4, src, where, &s->amplitude));
        CT_CHECK(ct_json_number(o, "start_ms", 0, 0, 1e7, src, where, &s->start_ms));
        CT_CHECK(ct_json_number(o, "duration_ms", 0, 1e-3, 1e3, src, where, &s->duration_ms));
        CT_CHECK(ct_json_number(o, "period_ms", 0, 0, 1e7, src, where, &s->period_ms));
        CT_CHECK(ct_json_int(o, "count", 0, 1, 100000, src, where, &s->count));
        p->n_sites = k + 1;
    }
    return CT_OK;
}

/* Mean edge length (mm) over the tets' six edges. */
static double mean_edge_mm(const ct_mesh *m)
{
    static const int edges[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
    double sum = 0;
    for (size_t e = 0; e < m->n_tets; e++)
        for (int k = 0; k < 6; k++) {
            const double *a = m->xyz_mm + 3 * (size_t)m->tets[4 * e + edges[k][0]];
            const double *b = m->xyz_mm + 3 * (size_t)m->tets[4 * e + edges[k][1]];
            sum += sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
        }
    return sum / (6.0 * (double)m->n_tets);
}

static double dist2(const double *a, const double *b)
{
    return (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]);
}

/* Labels scar (AHA segments x transmural range) and border zone (within border_zone_mm of scar). */
static ct_status label_infarct(const patient *p, ct_mesh *m, const ct_ventricular_coords *co, const int8_t *seg)
{
    if (p->n_infarct_segments == 0)
        return CT_OK;
    free(m->tissue);
    m->tissue = calloc(m->n_tets + 1, sizeof *m->tissue);
    double *cen = malloc(3 * m->n_tets * sizeof *cen + 1);
    size_t *scar = malloc(m->n_tets * sizeof *scar + 1);
    if (!m->tissue || !cen || !scar) {
        free(cen);
        free(scar);
        return ct_error_set(CT_ERR_NOMEM, "out of memory labelling the infarct");
    }
    size_t n_scar = 0;
    for (size_t e = 0; e < m->n_tets; e++) {
        ct_mesh_tet_centroid(m, e, cen + 3 * e);
        double t = 0;
        for (int a = 0; a < 4; a++)
            t += 0.25 * co->transmural[m->tets[4 * e + a]];
        int in = 0;
        for (int k = 0; k < p->n_infarct_segments; k++)
            in |= seg[e] == p->infarct_segments[k];
        if (in && t >= p->scar_t_from && t <= p->scar_t_to) {
            m->tissue[e] = CT_TISSUE_SCAR;
            scar[n_scar++] = e;
        }
    }
    double r2 = p->border_zone_mm * p->border_zone_mm;
    for (size_t e = 0; e < m->n_tets && n_scar; e++) {
        if (m->tissue[e] == CT_TISSUE_SCAR)
            continue;
        for (size_t k = 0; k < n_scar; k++)
            if (dist2(cen + 3 * e, cen + 3 * scar[k]) <= r2) {
                m->tissue[e] = CT_TISSUE_BORDER_ZONE;
                break;
            }
    }
    free(cen);
    free(scar);
    if (n_scar == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: the infarct (AHA segments and transmural range) contains no element",
                            p->src);
    return CT_OK;
}

/* The node nearest to the volume centroid of segment s (mid-wall when endo_only is 0, else the nearest
 * endocardial node, transmural < 0.1); -1 if the segment is empty. */
static long segment_node(const ct_mesh *m, const ct_ventricular_coords *co, const int8_t *seg, int s, int endo_only)
{
    double c[3] = {0, 0, 0}, vol = 0;
    for (size_t e = 0; e < m->n_tets; e++) {
        if (seg[e] != s)
            continue;
        double ce[3], v = ct_mesh_tet_volume(m, e);
        ct_mesh_tet_centroid(m, e, ce);
        for (int d = 0; d < 3; d++)
            c[d] += v * ce[d];
        vol += v;
    }
    if (vol <= 0)
        return -1;
    for (int d = 0; d < 3; d++)
        c[d] /= vol;
    long best = -1;
    double bd = INFINITY;
    for (size_t e = 0; e < m->n_tets; e++) {
        if (seg[e] != s)
            continue;
        for (int a = 0; a < 4; a++) {
            int32_t i = m->tets[4 * e + a];
            if (endo_only && co->transmural[i] > 0.1)
                continue;
            double d = dist2(m->xyz_mm + 3 * (size_t)i, c);
            if (d < bd) {
                bd = d;
                best = i;
            }
        }
    }
    return best;
}

static ct_status tune(const patient *p, double dx_mm, double sigma0, double cv, const char *what, double *sigma,
                      cJSON *summary, int quiet)
{
    /* the strand is of the model's default cell type (TP06: epicardial) */
    const ct_model_desc *d = p->model_desc;
    char model_json[128];
    CT_CHECK(ct_model_json(d, d->cell_types[d->default_cell_type].name, model_json, sizeof model_json));
    ct_tune_cv_request req = {.model_json = model_json, .dx_mm = dx_mm, .dt_ms = p->dt_ms, .chi_per_mm = p->chi_per_mm,
                              .cm_uF_per_mm2 = p->cm_uF_per_mm2, .consistent_mass = strcmp(p->mass, "consistent") == 0,
                              .sigma_initial_S_per_m = sigma0, .cv_target_m_per_s = cv, .rel_tolerance = 0.02,
                              .max_iterations = 10};
    ct_tune_cv_result res;
    ct_status st = ct_tune_cv(&req, &res);
    if (st != CT_OK)
        return ct_error_set(st, "%s: tuning %s: %s", p->src, what, ct_error_message());
    if (!quiet)
        fprintf(stderr, "personalise: %s: sigma %.5f S/m gives %.3f m/s (target %.3f) after %d strand runs at dx %.2f mm\n",
                what, res.sigma_S_per_m, res.cv_m_per_s, cv, res.iterations, dx_mm);
    cJSON *o = cJSON_AddObjectToObject(summary, what);
    cJSON_AddNumberToObject(o, "target_m_per_s", cv);
    cJSON_AddNumberToObject(o, "achieved_m_per_s", res.cv_m_per_s);
    cJSON_AddNumberToObject(o, "sigma_S_per_m", res.sigma_S_per_m);
    cJSON_AddNumberToObject(o, "iterations", res.iterations);
    *sigma = res.sigma_S_per_m;
    return CT_OK;
}

static ct_status write_json(const char *dir, const char *name, const cJSON *obj)
{
    char path[4096];
    CT_CHECK(ct_path_join(path, sizeof path, dir, name));
    char *text = cJSON_Print(obj);
    if (!text)
        return ct_error_set(CT_ERR_NOMEM, "out of memory writing %s", path);
    size_t len = strlen(text);
    ct_status st = ct_write_file_atomic(path, text, len);
    cJSON_free(text);
    return st;
}

/* The body frame (unit superior, anterior and left directions in mesh coordinates) of a scanner frame. */
static int body_frame(const char *frame, double sup[3], double ant[3], double left[3])
{
    int ras = strcmp(frame, "RAS") == 0, lps = strcmp(frame, "LPS") == 0;
    if (!ras && !lps)
        return 0;
    double s = ras ? 1 : -1; /* RAS: +y anterior, -x left; LPS: -y anterior, +x left */
    sup[0] = 0, sup[1] = 0, sup[2] = 1;
    ant[0] = 0, ant[1] = s, ant[2] = 0;
    left[0] = -s, left[1] = 0, left[2] = 0;
    return 1;
}

/* The body frame personalise uses, and where it came from: the patient file's "body_frame", else the image
 * header's anatomical frame (geometry.type "image" with a RAS or LPS header), else the ECG's default
 * (+z superior, +y anterior). Left = superior x anterior (anterior made orthogonal to superior first).
 * Returns 1 when the frame is known (patient file or image header), 0 when assumed. */
static int choose_body_frame(const patient *p, double sup[3], double ant[3], double left[3], const char **source)
{
    static char image_source[32];
    int known = 1;
    if (p->has_body_frame) {
        memcpy(sup, p->body_superior, 3 * sizeof *sup);
        memcpy(ant, p->body_anterior, 3 * sizeof *ant);
        *source = "patient file";
    } else if (body_frame(p->image_frame, sup, ant, left)) {
        snprintf(image_source, sizeof image_source, "image header %s", p->image_frame);
        *source = image_source;
    } else {
        sup[0] = 0, sup[1] = 0, sup[2] = 1;
        ant[0] = 0, ant[1] = 1, ant[2] = 0;
        *source = "assumed +z superior, +y anterior";
        known = 0;
    }
    double sa = sup[0] * ant[0] + sup[1] * ant[1] + sup[2] * ant[2];
    for (int d = 0; d < 3; d++)
        ant[d] -= sa * sup[d];
    double n = sqrt(ant[0] * ant[0] + ant[1] * ant[1] + ant[2] * ant[2]);
    for (int d = 0; d < 3; d++)
        ant[d] /= n; /* n > 0: ct_config_body_frame refused parallel directions */
    left[0] = sup[1] * ant[2] - sup[2] * ant[1];
    left[1] = sup[2] * ant[0] - sup[0] * ant[2];
    left[2] = sup[0] * ant[1] - sup[1] * ant[0];
    return known;
}

/* geometry.type "image": the label image (and LGE image) to a labelled mesh; what was found goes to
 * summary["image"]. */
/* The image route from a label image (and an LGE image or NULL) in memory: `what` names the image. The
 * caller keeps img and lge. */
static ct_status image_twin(patient *p, const ct_image *img, const ct_image *lge, const ct_image_labels *labels,
                            const char *what, int quiet, cJSON *summary, ct_mesh **out)
{
    const char *src = p->src;
    ct_status st = CT_OK;
    ct_image_heart_options opt = p->image;
    opt.lge = lge;
    ct_image_heart_report rep;
    if ((st = ct_image_heart(img, labels, &opt, what, out, &rep)) != CT_OK) {
        st = ct_error_set(st, "%s: geometry: %s", src, ct_error_message());
        goto done;
    }
    double myo_mm3 = ct_mesh_volume(*out);
    if (myo_mm3 < 1e3 || myo_mm3 > 3e6) {
        st = ct_error_set(CT_ERR_CONFIG, "%s: the myocardium meshed from %s holds %.4g mL, implausible for a heart (1 to "
                          "3000 mL): are the image's units right? (geometry.units overrides the header's)", src,
                          what, myo_mm3 / 1e3);
        goto done;
    }
    cJSON *ji = cJSON_AddObjectToObject(summary, "image");
    cJSON_AddStringToObject(ji, "path", what);
    cJSON_AddItemToObject(ji, "dims", cJSON_CreateIntArray(img->dims, 3));
    cJSON_AddNumberToObject(ji, "voxel_volume_mm3", ct_image_voxel_volume_mm3(img));
    cJSON_AddStringToObject(ji, "frame", img->frame);
    cJSON *seen = cJSON_AddArrayToObject(ji, "labels_seen");
    cJSON *unmapped = cJSON_AddArrayToObject(ji, "labels_not_mapped");
    for (int k = 0; k < rep.n_values; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "label", rep.values[k]);
        cJSON_AddNumberToObject(o, "voxels", (double)rep.counts[k]);
        cJSON_AddItemToArray(seen, o);
        int mapped = 0;
        for (int c = 1; c < CT_IMG_N_CLASSES; c++)
            for (int j = 0; j < labels->n[c]; j++)
                mapped |= labels->value[c][j] == rep.values[k];
        if (!mapped && rep.values[k] != 0) {
            /* a label the patient file does not name is background: say so, it may be a forgotten RV */
            cJSON_AddItemToArray(unmapped, cJSON_CreateNumber(rep.values[k]));
            if (!quiet)
                fprintf(stderr, "personalise: note: label %g of %s (%zu voxels, %.1f mL) is not in geometry.labels: "
                                "taken as background\n", rep.values[k], what, rep.counts[k],
                        (double)rep.counts[k] * ct_image_voxel_volume_mm3(img) / 1e3);
        }
    }
    cJSON *vol = cJSON_AddObjectToObject(ji, "voxel_volumes_mL");
    for (int k = 1; k < CT_IMG_N_CLASSES; k++)
        cJSON_AddNumberToObject(vol, ct_image_class_name(k), rep.class_volume_mm3[k] / 1e3);
    cJSON_AddNumberToObject(ji, "myocardium_mesh_mL", myo_mm3 / 1e3);
    cJSON *jb = cJSON_AddObjectToObject(ji, "base");
    cJSON_AddStringToObject(jb, "source", rep.base_found ? "found" : "given");
    cJSON_AddItemToObject(jb, "point_mm", cJSON_CreateDoubleArray(rep.base_point_mm, 3));
    cJSON_AddItemToObject(jb, "normal", cJSON_CreateDoubleArray(rep.base_normal, 3));
    cJSON_AddNumberToObject(ji, "surface_triangles", (double)rep.n_surface_tris);
    cJSON_AddNumberToObject(ji, "triangles_labelled_from_neighbours", (double)rep.n_unresolved_tris);
    cJSON_AddNumberToObject(ji, "seconds_surface", rep.seconds_surface);
    cJSON_AddNumberToObject(ji, "seconds_mesh", rep.seconds_mesh);
    snprintf(p->image_frame, sizeof p->image_frame, "%s", img->frame); /* personalise() takes the body frame */
    if (lge) {
        cJSON *jl = cJSON_AddObjectToObject(ji, "lge");
        cJSON_AddStringToObject(jl, "path", p->lge_path);
        cJSON_AddStringToObject(jl, "method", p->image.lge_params.method == CT_LGE_FWHM ? "fwhm" : "nsd");
        cJSON_AddNumberToObject(jl, "myocardial_voxels", (double)rep.lge.n_myocardial);
        cJSON_AddNumberToObject(jl, "peak", rep.lge.peak);
        cJSON_AddNumberToObject(jl, "remote_mean", rep.lge.remote_mean);
        cJSON_AddNumberToObject(jl, "remote_sd", rep.lge.remote_sd);
        cJSON_AddNumberToObject(jl, "grey_threshold", rep.lge.grey_threshold);
        cJSON_AddNumberToObject(jl, "core_threshold", rep.lge.core_threshold);
        cJSON_AddNumberToObject(jl, "core_mL", rep.lge_core_mm3 / 1e3);
        cJSON_AddNumberToObject(jl, "grey_zone_mL", rep.lge_grey_mm3 / 1e3);
    }
    if (!quiet)
        fprintf(stderr, "personalise: myocardium %.1f mL: surface %zu triangles in %.1f s, tets in %.1f s; base %s\n",
                myo_mm3 / 1e3, rep.n_surface_tris, rep.seconds_surface, rep.seconds_mesh,
                rep.base_found ? "found" : "given");
    if (!quiet && lge)
        fprintf(stderr, "personalise: LGE (%s): core >= %.1f, grey zone >= %.1f: core %.2f mL, grey zone %.2f mL of "
                        "voxels\n", p->image.lge_params.method == CT_LGE_FWHM ? "FWHM" : "n-SD", rep.lge.core_threshold,
                rep.lge.grey_threshold, rep.lge_core_mm3 / 1e3, rep.lge_grey_mm3 / 1e3);
done:
    if (st != CT_OK) {
        ct_mesh_destroy(*out);
        *out = NULL;
    }
    return st;
}

static ct_status image_mesh(patient *p, int quiet, cJSON *summary, ct_mesh **out)
{
    const char *src = p->src;
    size_t max_bytes = (size_t)(p->max_image_gib * 1073741824.0);
    ct_image *img = NULL, *lge = NULL;
    ct_status st = ct_vtk_read_image(p->mesh_path, max_bytes, &img);
    if (st == CT_OK && p->lge_path[0])
        st = ct_vtk_read_image(p->lge_path, max_bytes, &lge);
    if (st != CT_OK)
        return ct_error_set(st, "%s: geometry: %s", src, ct_error_message());
    if (p->unit_to_mm > 0) /* the patient file's unit overrides the header's */
        for (ct_image *im = img; im; im = im == img ? lge : NULL)
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 4; c++)
                    im->ijk_to_mm[r][c] *= p->unit_to_mm;
    if (lge && img->frame[0] && lge->frame[0] && ct_image_set_frame(lge, img->frame) != CT_OK) {
        st = ct_error_set(CT_ERR_CONFIG, "%s: the LGE image %s is in the %s frame, the label image %s in %s", src,
                          p->lge_path, lge->frame, p->mesh_path, img->frame);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "personalise: image %s: %d x %d x %d voxels of %.3g mm^3%s%s\n", p->mesh_path, img->dims[0],
                img->dims[1], img->dims[2], ct_image_voxel_volume_mm3(img), img->frame[0] ? ", frame " : "", img->frame);
    st = image_twin(p, img, lge, &p->labels, p->mesh_path, quiet, summary, out);
done:
    ct_image_destroy(img);
    ct_image_destroy(lge);
    return st;
}

/* geometry.type "surfaces": the three files to surfaces (mm, checked closed and oriented), voxelised into a
 * label map, then the image route. */
static ct_status surfaces_mesh(patient *p, int quiet, cJSON *summary, ct_mesh **out)
{
    const char *src = p->src;
    const char *paths[3] = {p->mesh_path, p->endo_lv_path, p->endo_rv_path[0] ? p->endo_rv_path : NULL};
    ct_trisurf s[3];
    memset(s, 0, sizeof s);
    ct_image *img = NULL;
    ct_status st = CT_OK;
    cJSON *js = cJSON_AddObjectToObject(summary, "surfaces");
    static const char *const keys[3] = {"epi", "endo_lv", "endo_rv"};
    for (int k = 0; k < 3 && st == CT_OK; k++) {
        if (!paths[k])
            continue;
        if ((st = ct_vtk_read_surface(paths[k], &s[k])) != CT_OK)
            break;
        for (size_t i = 0; i < 3 * s[k].n_points; i++)
            s[k].xyz_mm[i] *= p->unit_to_mm;
        ct_surface_heart_report rep;
        memset(&rep, 0, sizeof rep);
        if ((st = ct_surface_check(&s[k], -1, paths[k], &rep)) != CT_OK)
            break;
        cJSON *o = cJSON_AddObjectToObject(js, keys[k]);
        cJSON_AddStringToObject(o, "path", paths[k]);
        cJSON_AddNumberToObject(o, "triangles", (double)s[k].n_tris);
        cJSON_AddNumberToObject(o, "enclosed_mL", rep.enclosed_mm3 / 1e3);
    }
    double voxel = p->surfaces_voxel_mm > 0 ? p->surfaces_voxel_mm : fmin(0.5 * p->h_mm, 0.5);
    const char *names[3] = {paths[0], paths[1], paths[2] ? paths[2] : "(no RV)"};
    if (st == CT_OK)
        st = ct_surfaces_label_image(&s[0], &s[1], paths[2] ? &s[2] : NULL, voxel,
                                     (size_t)(p->max_image_gib * 1073741824.0 / 6.0), names, &img);
    if (st != CT_OK) {
        st = ct_error_set(st, "%s: geometry: %s", src, ct_error_message());
        goto done;
    }
    cJSON_AddNumberToObject(js, "voxel_mm", voxel);
    if (!quiet)
        fprintf(stderr, "personalise: surfaces voxelised at %.2f mm: %d x %d x %d voxels\n", voxel, img->dims[0],
                img->dims[1], img->dims[2]);
    ct_image_labels labels;
    memset(&labels, 0, sizeof labels);
    labels.n[CT_IMG_LV_MYOCARDIUM] = 1, labels.value[CT_IMG_LV_MYOCARDIUM][0] = 1;
    labels.n[CT_IMG_LV_BLOOD] = 1, labels.value[CT_IMG_LV_BLOOD][0] = 3;
    if (paths[2])
        labels.n[CT_IMG_RV_BLOOD] = 1, labels.value[CT_IMG_RV_BLOOD][0] = 4;
    st = image_twin(p, img, NULL, &labels, p->mesh_path, quiet, summary, out);
done:
    for (int k = 0; k < 3; k++)
        ct_trisurf_free(&s[k]);
    ct_image_destroy(img);
    return st;
}

/* geometry.type "surface": the surface file to a labelled mesh. The oriented, labelled surface stays in p for
 * personalise() to write as surface_labels.vtp; what was found goes to summary["surface"]. */
static ct_status surface_mesh(patient *p, int quiet, cJSON *summary, ct_mesh **out)
{
    const char *src = p->src;
    ct_status st = ct_vtk_read_surface(p->mesh_path, &p->surf);
    if (st != CT_OK)
        return ct_error_set(st, "%s: geometry: %s", src, ct_error_message());
    for (size_t i = 0; i < 3 * p->surf.n_points; i++)
        p->surf.xyz_mm[i] *= p->unit_to_mm;
    ct_surface_heart_report rep;
    if ((st = ct_surface_heart(&p->surf, &p->surface, p->mesh_path, &p->surf_labels, out, &rep)) != CT_OK)
        return ct_error_set(st, "%s: geometry: %s", src, ct_error_message());
    double myo_mm3 = ct_mesh_volume(*out);
    cJSON *js = cJSON_AddObjectToObject(summary, "surface");
    cJSON_AddStringToObject(js, "path", p->mesh_path);
    cJSON_AddNumberToObject(js, "unit_mm", p->unit_to_mm);
    cJSON_AddNumberToObject(js, "points", (double)rep.n_points);
    cJSON_AddNumberToObject(js, "triangles", (double)rep.n_tris);
    cJSON_AddNumberToObject(js, "triangles_reoriented", (double)rep.n_reoriented);
    cJSON_AddBoolToObject(js, "flipped", rep.flipped);
    cJSON_AddNumberToObject(js, "enclosed_mL", rep.enclosed_mm3 / 1e3);
    cJSON_AddNumberToObject(js, "myocardium_mesh_mL", myo_mm3 / 1e3);
    cJSON *jb = cJSON_AddObjectToObject(js, "base");
    cJSON_AddStringToObject(jb, "source", rep.base_found ? "found" : "given");
    cJSON_AddItemToObject(jb, "point_mm", cJSON_CreateDoubleArray(rep.base_point_mm, 3));
    cJSON_AddItemToObject(jb, "normal", cJSON_CreateDoubleArray(rep.base_normal, 3));
    cJSON_AddItemToObject(js, "apex_mm", cJSON_CreateDoubleArray(rep.apex_mm, 3));
    cJSON_AddNumberToObject(js, "cavities", rep.n_cavities);
    cJSON_AddStringToObject(js, "lv_cavity", rep.lv_from_point ? "given point" : "reaches nearer the apex");
    cJSON_AddNumberToObject(js, "small_pieces", (double)rep.n_small_pieces);
    cJSON *ja = cJSON_AddObjectToObject(js, "area_mm2");
    static const char *const names[5] = {"none", "endo_lv", "endo_rv", "epi", "base"};
    for (int k = 1; k < 5; k++)
        cJSON_AddNumberToObject(ja, names[k], rep.area_mm2[k]);
    cJSON_AddStringToObject(js, "labelled_surface", "surface_labels.vtp");
    cJSON_AddNumberToObject(js, "seconds_mesh", rep.seconds_mesh);
    if (!quiet)
        fprintf(stderr, "personalise: surface %s: %zu triangles%s%s, %.1f mL; base %s, %d cavit%s; tets in %.1f s\n",
                p->mesh_path, rep.n_tris, rep.flipped ? ", flipped to face outwards" : "",
                rep.n_reoriented ? ", some reoriented" : "", myo_mm3 / 1e3, rep.base_found ? "found" : "given",
                rep.n_cavities, rep.n_cavities == 1 ? "y" : "ies", rep.seconds_mesh);
    return CT_OK;
}

static ct_status run_pipeline(patient *p, int quiet, cJSON *summary, ct_mesh **mesh_out,
                              ct_ventricular_coords **co_out, int8_t **seg_out, double **sheet_out)
{
    const char *src = p->src;
    ct_mesh *m = NULL;
    ct_status st;
    if (strcmp(p->geometry, "image") == 0) {
        CT_CHECK(image_mesh(p, quiet, summary, &m));
        st = CT_OK;
    } else if (strcmp(p->geometry, "surface") == 0) {
        CT_CHECK(surface_mesh(p, quiet, summary, &m));
        st = CT_OK;
    } else if (strcmp(p->geometry, "surfaces") == 0) {
        CT_CHECK(surfaces_mesh(p, quiet, summary, &m));
        st = CT_OK;
    } else if (strcmp(p->geometry, "file") == 0) {
        st = ct_mesh_read(p->mesh_path, p->mesh_format[0] ? p->mesh_format : NULL, p->unit_to_mm, &m);
    } else if (strcmp(p->geometry, "lv_ellipsoid") == 0) {
        ct_lv_params lp = ct_lv_params_default();
        st = ct_geometry_lv(&lp, p->h_mm, &m);
    } else if (strcmp(p->geometry, "biventricular_small") == 0) {
        ct_biv_params bp = ct_biv_params_small();
        st = ct_geometry_biv(&bp, p->h_mm, &m);
    } else {
        st = ct_geometry_biv(&p->biv, p->h_mm, &m);
        cJSON *jd = cJSON_AddObjectToObject(summary, "dimensions_mm");
        cJSON *je = cJSON_AddObjectToObject(summary, "ellipsoids_mm");
        const ct_heart_dimensions *d = &p->dims;
        const ct_biv_params *b = &p->biv;
        const struct {
            cJSON *to;
            const char *key;
            double v;
        } out[] = {{jd, "lv_edd", d->lv_edd_mm}, {jd, "lv_length", d->lv_length_mm}, {jd, "septum", d->septum_mm},
                   {jd, "free_wall", d->free_wall_mm}, {jd, "apex_wall", d->apex_wall_mm}, {jd, "rv_edd", d->rv_edd_mm},
                   {jd, "rv_length", d->rv_length_mm}, {jd, "rv_wall", d->rv_wall_mm},
                   {je, "lv_endo_short", b->lv.endo_short_mm}, {je, "lv_endo_long", b->lv.endo_long_mm},
                   {je, "lv_epi_short", b->lv.epi_short_mm}, {je, "lv_epi_long", b->lv.epi_long_mm},
                   {je, "base_z", b->lv.base_z_mm}, {je, "rv_centre_x", b->rv_centre_x_mm},
                   {je, "rv_epi_x", b->rv_epi_x_mm}, {je, "rv_epi_y", b->rv_epi_y_mm}, {je, "rv_epi_z", b->rv_epi_z_mm},
                   {je, "rv_wall", b->rv_wall_mm}};
        for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
            if (out[i].to)
                cJSON_AddNumberToObject(out[i].to, out[i].key, out[i].v);
    }
    if (st != CT_OK)
        return ct_error_set(st, "%s: geometry: %s", src, ct_error_message());
    *mesh_out = m;
    if (m->n_tris == 0)
        return ct_error_set(CT_ERR_MESH, "%s: the mesh has no labelled surfaces (endo_lv, epi, base) to compute "
                                         "ventricular coordinates from", src);
    if (!quiet)
        fprintf(stderr, "personalise: mesh %zu nodes, %zu tets\n", m->n_nodes, m->n_tets);
    CT_CHECK(ct_ventricular_coords_compute(m, NULL, co_out));
    *seg_out = malloc(m->n_tets + 1);
    *sheet_out = malloc(3 * m->n_tets * sizeof **sheet_out + 1);
    if (!*seg_out || !*sheet_out)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    CT_CHECK(ct_aha_segments(m, *co_out, *seg_out));
    CT_CHECK(ct_fibres_compute(m, *co_out, &p->fibres, *sheet_out, NULL));
    return label_infarct(p, m, *co_out, *seg_out);
}

static ct_status personalise(patient *p, const char *out_dir, int quiet)
{
    const char *src = p->src;
    ct_mesh *m = NULL;
    ct_ventricular_coords *co = NULL;
    int8_t *seg = NULL;
    double *sheet = NULL, *pf = NULL, *cf = NULL;
    cJSON *summary = cJSON_CreateObject(), *model = NULL, *sites = NULL;
    ct_status st = run_pipeline(p, quiet, summary, &m, &co, &seg, &sheet);
    if (st != CT_OK)
        goto done;
    size_t n = m->n_nodes, ne = m->n_tets;

    /* conductivities, tuned on a strand at the mesh's own resolution */
    double h = mean_edge_mm(m), sigma_l = p->sigma_l, sigma_t = p->sigma_t;
    if (p->cv_along > 0 && (st = tune(p, h, p->sigma_l, p->cv_along, "along_fibres", &sigma_l, summary, quiet)) != CT_OK)
        goto done;
    if (p->cv_across > 0 &&
        (st = tune(p, h, p->sigma_t, p->cv_across, "across_fibres", &sigma_t, summary, quiet)) != CT_OK)
        goto done;

    /* heart.vtu: point fields, then cell fields */
    pf = malloc(5 * n * sizeof *pf + 1);
    cf = malloc(2 * ne * sizeof *cf + 1);
    if (!pf || !cf) {
        st = ct_error_set(CT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        double t = co->transmural[i];
        pf[i] = co->apicobasal[i];
        pf[n + i] = t;
        pf[2 * n + i] = co->rotational_deg[i];
        pf[3 * n + i] = co->rv[i];
        pf[4 * n + i] = t < p->endo_until ? 0 : t < p->mid_until ? 1 : 2;
    }
    for (size_t e = 0; e < ne; e++) {
        cf[e] = m->tissue ? m->tissue[e] : 0;
        cf[ne + e] = seg[e];
    }
    ct_vtk_field points[5] = {{"apicobasal", 1, pf, CT_VTK_FLOAT64},
                              {"transmural", 1, pf + n, CT_VTK_FLOAT64},
                              {"rotational_deg", 1, pf + 2 * n, CT_VTK_FLOAT64},
                              {"rv", 1, pf + 3 * n, CT_VTK_FLOAT64},
                              {"cell_type", 1, pf + 4 * n, CT_VTK_FLOAT64}};
    ct_vtk_field cells[4] = {{"fibre", 3, m->fibre, CT_VTK_FLOAT64}, {"sheet", 3, sheet, CT_VTK_FLOAT64},
                             {"tissue", 1, cf, CT_VTK_FLOAT64}, {"aha_segment", 1, cf + ne, CT_VTK_FLOAT64}};
    if ((st = ct_mkdir_p(out_dir)) != CT_OK)
        goto done;
    char path[4096];
    if ((st = ct_path_join(path, sizeof path, out_dir, "heart.vtu")) != CT_OK ||
        (st = ct_vtk_write_vtu(path, n, m->xyz_mm, ne, m->tets, points, 5, cells, 4)) != CT_OK)
        goto done;
    /* the surface route: the input surface as labelled, for the user to check (geometry.base,
     * lv_cavity_point_mm and flip_normals override each choice) */
    if (p->surf_labels && ((st = ct_path_join(path, sizeof path, out_dir, "surface_labels.vtp")) != CT_OK ||
                           (st = ct_vtk_write_surface_vtp(path, &p->surf, p->surf_labels)) != CT_OK))
        goto done;

    /* model.json: the run configuration */
    model = cJSON_CreateObject();
    char desc[700];
    snprintf(desc, sizeof desc, "personalised from %s: %s", src, p->description);
    cJSON_AddStringToObject(model, "description", desc);
    cJSON *jm = cJSON_AddObjectToObject(model, "mesh");
    cJSON_AddStringToObject(jm, "type", "file");
    cJSON_AddStringToObject(jm, "path", "heart.vtu");
    cJSON *jmodel = cJSON_Duplicate(p->model, 1);
    cJSON_DeleteItemFromObject(jmodel, "name");
    cJSON_AddStringToObject(jmodel, "name", p->model_desc->name);
    cJSON_AddStringToObject(jmodel, "cell_type", "from_mesh");
    cJSON_AddItemToObject(model, "model", jmodel);
    cJSON *jc = cJSON_AddObjectToObject(model, "conductivity");
    cJSON_AddNumberToObject(jc, "sigma_l_S_per_m", sigma_l);
    cJSON_AddNumberToObject(jc, "sigma_t_S_per_m", sigma_t);
    cJSON_AddNumberToObject(model, "chi_per_mm", p->chi_per_mm);
    cJSON_AddNumberToObject(model, "Cm_uF_per_mm2", p->cm_uF_per_mm2);
    cJSON_AddNumberToObject(model, "dt_ms", p->dt_ms);
    cJSON_AddNumberToObject(model, "end_time_ms", p->end_time_ms);
    cJSON *jd = cJSON_AddObjectToObject(model, "diffusion");
    /* Crank-Nicolson: irregular patient meshes have small elements that would force a tiny explicit dt */
    cJSON_AddStringToObject(jd, "method", "crank_nicolson");
    cJSON_AddStringToObject(jd, "mass", p->mass);
    cJSON *jt = cJSON_AddObjectToObject(model, "tissue");
    cJSON_AddItemToObject(jt, "border_zone", cJSON_Duplicate(p->border_zone, 1));
    cJSON *jscar = cJSON_AddObjectToObject(jt, "scar");
    cJSON_AddNumberToObject(jscar, "sigma_scale", 0);
    cJSON *jstim = cJSON_AddArrayToObject(model, "stimuli");
    for (int k = 0; k < p->n_sites; k++) {
        const pacing_site *s = &p->sites[k];
        double pos[3] = {s->position_mm[0], s->position_mm[1], s->position_mm[2]};
        if (s->aha_segment) {
            long node = segment_node(m, co, seg, s->aha_segment, 1);
            if (node < 0)
                node = segment_node(m, co, seg, s->aha_segment, 0);
            if (node < 0) {
                st = ct_error_set(CT_ERR_CONFIG, "%s: pacing[%d]: AHA segment %d has no element in this mesh", src, k,
                                  s->aha_segment);
                goto done;
            }
            memcpy(pos, m->xyz_mm + 3 * (size_t)node, sizeof pos);
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s->name);
        cJSON_AddItemToObject(o, "center_mm", cJSON_CreateDoubleArray(pos, 3));
        cJSON_AddNumberToObject(o, "radius_mm", s->radius_mm);
        cJSON_AddNumberToObject(o, "amplitude_uA_per_uF", s->amplitude);
        cJSON_AddNumberToObject(o, "start_ms", s->start_ms);
        cJSON_AddNumberToObject(o, "duration_ms", s->duration_ms);
        cJSON_AddNumberToObject(o, "period_ms", s->period_ms);
        cJSON_AddNumberToObject(o, "count", (double)s->count);
        cJSON_AddItemToArray(jstim, o);
    }
    cJSON *jprobes = cJSON_AddArrayToObject(model, "probes");
    cJSON *jsegs = cJSON_AddArrayToObject(summary, "aha_segments");
    double vol_tissue[3] = {0, 0, 0};
    for (size_t e = 0; e < ne; e++)
        vol_tissue[m->tissue ? m->tissue[e] : 0] += ct_mesh_tet_volume(m, e);
    for (int s = 1; s <= 17; s++) {
        double v = 0, vscar = 0;
        for (size_t e = 0; e < ne; e++)
            if (seg[e] == s) {
                double ve = ct_mesh_tet_volume(m, e);
                v += ve;
                if (m->tissue && m->tissue[e] == CT_TISSUE_SCAR)
                    vscar += ve;
            }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "segment", s);
        cJSON_AddNumberToObject(o, "volume_mm3", v);
        cJSON_AddNumberToObject(o, "scar_volume_mm3", vscar);
        cJSON_AddItemToArray(jsegs, o);
        long node = segment_node(m, co, seg, s, 0);
        if (node >= 0) {
            char name[16];
            snprintf(name, sizeof name, "AHA%d", s);
            cJSON *pr = cJSON_CreateObject();
            cJSON_AddStringToObject(pr, "name", name);
            cJSON_AddItemToObject(pr, "position_mm", cJSON_CreateDoubleArray(m->xyz_mm + 3 * (size_t)node, 3));
            cJSON_AddItemToArray(jprobes, pr);
        }
    }
    /* sites.json: the default sites of programmed stimulation (`cardiotwin induce`): the endocardial node
     * nearest the centroid of each LV AHA segment, and the RV apex (the most apical RV endocardial node) */
    sites = cJSON_CreateObject();
    cJSON *jsites = cJSON_AddArrayToObject(sites, "sites");
    for (int s = 1; s <= 17; s++) {
        long node = segment_node(m, co, seg, s, 1);
        if (node < 0)
            continue;
        char name[16];
        snprintf(name, sizeof name, "AHA %d", s);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", name);
        cJSON_AddItemToObject(o, "position_mm", cJSON_CreateDoubleArray(m->xyz_mm + 3 * (size_t)node, 3));
        cJSON_AddItemToArray(jsites, o);
    }
    {
        long apex = -1;
        for (size_t i = 0; i < n; i++)
            if (co->rv[i] && co->transmural[i] <= 0.1 && (apex < 0 || co->axial[i] < co->axial[apex]))
                apex = (long)i;
        if (apex >= 0) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", "RV apex");
            cJSON_AddItemToObject(o, "position_mm", cJSON_CreateDoubleArray(m->xyz_mm + 3 * (size_t)apex, 3));
            cJSON_AddItemToArray(jsites, o);
        }
    }
    /* a 12-lead pseudo-ECG sampled every ms, its electrodes placed in the body frame, and APD90 /
     * repolarisation of the first beats */
    cJSON *jecg = cJSON_AddObjectToObject(model, "ecg");
    cJSON_AddNumberToObject(jecg, "interval_ms", 1.0);
    {
        double sup[3], ant[3], left[3];
        const char *frame_source;
        if (choose_body_frame(p, sup, ant, left, &frame_source)) {
            cJSON_AddItemToObject(jecg, "superior", cJSON_CreateDoubleArray(sup, 3));
            cJSON_AddItemToObject(jecg, "anterior", cJSON_CreateDoubleArray(ant, 3));
        }
        cJSON *jf = cJSON_AddObjectToObject(summary, "body_frame");
        cJSON_AddStringToObject(jf, "source", frame_source);
        cJSON_AddItemToObject(jf, "superior", cJSON_CreateDoubleArray(sup, 3));
        cJSON_AddItemToObject(jf, "anterior", cJSON_CreateDoubleArray(ant, 3));
        cJSON_AddItemToObject(jf, "left", cJSON_CreateDoubleArray(left, 3));
    }
    cJSON_AddNumberToObject(model, "max_beats", 4);
    cJSON *jo = cJSON_AddObjectToObject(model, "output");
    cJSON_AddNumberToObject(jo, "interval_ms", p->output_interval_ms);

    cJSON_AddStringToObject(summary, "patient", src);
    cJSON_AddNumberToObject(summary, "n_nodes", (double)n);
    cJSON_AddNumberToObject(summary, "n_tets", (double)ne);
    cJSON_AddNumberToObject(summary, "mean_edge_mm", h);
    {
        cJSON *ji = cJSON_AddObjectToObject(summary, "rv_insertions");
        cJSON_AddStringToObject(ji, "source", co->insertions_detected ? "detected" : "assumed 120 deg apart (no RV, or too few levels to measure)");
        cJSON_AddNumberToObject(ji, "anterior_deg", co->insertion_anterior_deg);
        cJSON_AddNumberToObject(ji, "inferior_deg", co->insertion_inferior_deg);
    }
    cJSON_AddNumberToObject(summary, "volume_healthy_mm3", vol_tissue[0]);
    cJSON_AddNumberToObject(summary, "volume_border_zone_mm3", vol_tissue[1]);
    cJSON_AddNumberToObject(summary, "volume_scar_mm3", vol_tissue[2]);
    if ((st = write_json(out_dir, "model.json", model)) != CT_OK)
        goto done;
    if ((st = write_json(out_dir, "sites.json", sites)) != CT_OK)
        goto done;
    st = write_json(out_dir, "personalise.json", summary);
    if (st == CT_OK && !quiet)
        fprintf(stderr, "personalise: scar %.0f mm^3, border zone %.0f mm^3 of %.0f mm^3; wrote %s/heart.vtu, "
                        "model.json, sites.json, personalise.json\n",
                vol_tissue[2], vol_tissue[1], vol_tissue[0] + vol_tissue[1] + vol_tissue[2], out_dir);
done:
    cJSON_Delete(model);
    cJSON_Delete(sites);
    cJSON_Delete(summary);
    free(pf);
    free(cf);
    free(seg);
    free(sheet);
    ct_ventricular_coords_destroy(co);
    ct_mesh_destroy(m);
    return st;
}

/* Parses the patient file's text into *p; the caller frees it with patient_free, whatever the result. */
static ct_status patient_load(const char *text, const char *source, patient *p)
{
    memset(p, 0, sizeof *p);
    p->src = source;
    cJSON *root = NULL;
    CT_CHECK(ct_json_parse(text, source, &root));
    ct_status st = parse_patient(root, p);
    cJSON_Delete(root);
    return st;
}

static void patient_free(patient *p)
{
    ct_trisurf_free(&p->surf);
    free(p->surf_labels);
    cJSON_Delete(p->model);
    cJSON_Delete(p->border_zone);
}

ct_status ct_patient_check(const char *json_text, const char *source)
{
    patient p;
    ct_status st = patient_load(json_text, source, &p);
    patient_free(&p);
    return st;
}

ct_status ct_personalise(const char *patient_path, const char *out_dir, int quiet)
{
    char *text;
    CT_CHECK(ct_json_read_file(patient_path, &text));
    patient p;
    ct_status st = patient_load(text, patient_path, &p);
    free(text);
    if (st == CT_OK)
        st = personalise(&p, out_dir, quiet);
    patient_free(&p);
    return st;
}
