/* ct_config.c — JSON configuration: parsing, defaults, range checks. */
#include "ct_config.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/backend.h"
#include "core/ct_files.h"
#include "core/ct_json.h"
#include "model/ct_model_desc.h"

_Static_assert(sizeof((ct_config *)0)->border_zone_scales >= CT_MODEL_MAX_SCALES * sizeof(double),
               "ct_config.border_zone_scales cannot hold every conductance scale of a model");
_Static_assert(sizeof((ct_config *)0)->model_params == CT_MODEL_NPARAM * sizeof(double),
               "ct_config.model_params is not one parameter set");

/* Reads the conductance scale factors of model d from obj (keys d->scale_names, each optional) into
 * scale[0 .. d->n_scales-1], which hold the values taken when a key is absent. */
static ct_status read_scales(const ct_model_desc *d, const cJSON *obj, const char *src, const char *where,
                             double *scale)
{
    CT_CHECK(ct_json_known_keys(obj, d->scale_names, src, where));
    for (int k = 0; k < d->n_scales; k++)
        CT_CHECK(ct_json_number(obj, d->scale_names[k], 0, d->scale_lo, d->scale_hi, src, where, &scale[k]));
    return CT_OK;
}

/* Reads the named parameters of model d from obj (keys d->params, each optional) into param[index], which
 * holds the value taken when a key is absent. */
static ct_status read_params(const ct_model_desc *d, const cJSON *obj, const char *src, const char *where,
                             double *param)
{
    const char *keys[CT_MODEL_NPARAM + 1];
    for (int k = 0; k < d->n_params; k++)
        keys[k] = d->params[k].name;
    keys[d->n_params] = NULL;
    CT_CHECK(ct_json_known_keys(obj, keys, src, where));
    for (int k = 0; k < d->n_params; k++)
        CT_CHECK(ct_json_number(obj, d->params[k].name, 0, d->params[k].lo, d->params[k].hi, src, where,
                                &param[d->params[k].index]));
    return CT_OK;
}

static ct_status parse_mesh(const cJSON *root, const char *src, ct_config *c)
{
    const cJSON *m;
    CT_CHECK(ct_json_object(root, "mesh", 1, src, "", &m));
    const char *type = NULL;
    CT_CHECK(ct_json_string(m, "type", 1, src, "mesh", &type));
    const char *renumber = "rcm";
    CT_CHECK(ct_json_string(m, "renumber", 0, src, "mesh", &renumber));
    if (strcmp(renumber, "rcm") == 0)
        c->renumber_rcm = 1;
    else if (strcmp(renumber, "none") == 0)
        c->renumber_rcm = 0;
    else
        return ct_error_set(CT_ERR_CONFIG, "%s: mesh.renumber \"%s\" is not known (expected rcm or none)", src,
                            renumber);
    if (strcmp(type, "file") == 0) {
        static const char *const fkeys[] = {"type", "path", "format", "units", "renumber", NULL};
        CT_CHECK(ct_json_known_keys(m, fkeys, src, "mesh"));
        const char *path = NULL, *format = "", *units = "mm";
        CT_CHECK(ct_json_string(m, "path", 1, src, "mesh", &path));
        CT_CHECK(ct_json_string(m, "format", 0, src, "mesh", &format));
        CT_CHECK(ct_json_string(m, "units", 0, src, "mesh", &units));
        if (strcmp(units, "mm") == 0)
            c->mesh_unit_to_mm = 1.0;
        else if (strcmp(units, "um") == 0)
            c->mesh_unit_to_mm = 1e-3;
        else if (strcmp(units, "cm") == 0)
            c->mesh_unit_to_mm = 10.0;
        else
            return ct_error_set(CT_ERR_CONFIG, "%s: mesh.units \"%s\" is not known (expected mm, um or cm)", src, units);
        if (*format && strcmp(format, "carp") != 0 && strcmp(format, "vtu") != 0 && strcmp(format, "vtk") != 0 &&
            strcmp(format, "gmsh") != 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: mesh.format \"%s\" is not known (expected carp, vtu, vtk or gmsh)",
                                src, format);
        snprintf(c->mesh_format, sizeof c->mesh_format, "%s", format);
        /* a relative path is relative to the configuration's folder */
        CT_CHECK(ct_path_relative_to(c->mesh_path, sizeof c->mesh_path, src, path));
        c->mesh_from_file = 1;
        return CT_OK;
    }
    static const char *const keys[] = {"type", "size_mm", "dx_mm", "fibre_direction", "renumber", "split", NULL};
    CT_CHECK(ct_json_known_keys(m, keys, src, "mesh"));
    if (strcmp(type, "box") != 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: mesh.type \"%s\" is not known (expected \"box\" or \"file\")", src,
                            type);
    const char *split = "mirrored";
    CT_CHECK(ct_json_string(m, "split", 0, src, "mesh", &split));
    if (strcmp(split, "mirrored") == 0)
        c->box_split = CT_BOX_SPLIT_MIRRORED;
    else if (strcmp(split, "kuhn") == 0)
        c->box_split = CT_BOX_SPLIT_KUHN;
    else
        return ct_error_set(CT_ERR_CONFIG, "%s: mesh.split \"%s\" is not known (expected mirrored or kuhn)", src,
                            split);
    CT_CHECK(ct_json_vec(m, "size_mm", 1, 3, src, "mesh", c->box_size_mm));
    for (int k = 0; k < 3; k++)
        if (!(c->box_size_mm[k] > 0) || c->box_size_mm[k] > 1e4)
            return ct_error_set(CT_ERR_CONFIG, "%s: mesh.size_mm[%d] = %g is out of range (0, 1e4]", src, k,
                                c->box_size_mm[k]);
    CT_CHECK(ct_json_number(m, "dx_mm", 1, 1e-3, 100.0, src, "mesh", &c->dx_mm));
    c->fibre_direction[0] = 1.0;
    c->fibre_direction[1] = c->fibre_direction[2] = 0.0;
    CT_CHECK(ct_json_vec(m, "fibre_direction", 0, 3, src, "mesh", c->fibre_direction));
    double n = sqrt(c->fibre_direction[0] * c->fibre_direction[0] + c->fibre_direction[1] * c->fibre_direction[1] +
                    c->fibre_direction[2] * c->fibre_direction[2]);
    if (!(n > 0))
        return ct_error_set(CT_ERR_CONFIG, "%s: mesh.fibre_direction must be a non-zero vector", src);
    return CT_OK;
}

static ct_status parse_model(const cJSON *root, const char *src, ct_config *c)
{
    const cJSON *m;
    CT_CHECK(ct_json_object(root, "model", 1, src, "", &m));
    const char *name = NULL;
    CT_CHECK(ct_json_string(m, "name", 1, src, "model", &name));
    snprintf(c->model_name, sizeof c->model_name, "%s", name);
    const ct_model_desc *d = ct_model_find(name);
    if (!d) {
        char names[256];
        ct_model_names(names, sizeof names, CT_MODEL_ALL, 0);
        return ct_error_set(CT_ERR_CONFIG, "%s: model.name \"%s\" is not known (expected %s)", src, name, names);
    }
    const char *keys[5];
    int n_keys = 0;
    keys[n_keys++] = "name";
    if (d->n_cell_types)
        keys[n_keys++] = "cell_type";
    if (d->n_scales)
        keys[n_keys++] = "conductance_scales";
    if (d->n_params)
        keys[n_keys++] = "parameters";
    keys[n_keys] = NULL;
    CT_CHECK(ct_json_known_keys(m, keys, src, "model"));
    c->model = d->id;
    int type = d->default_cell_type;
    if (d->n_cell_types) {
        const char *ct = d->cell_types[d->default_cell_type].name;
        CT_CHECK(ct_json_string(m, "cell_type", 0, src, "model", &ct));
        if (strcmp(ct, "from_mesh") == 0) {
            c->cell_type_from_mesh = 1; /* the defaults below; per node from the mesh's cell_type point field */
        } else if ((type = ct_model_cell_type_find(d, ct)) < 0) {
            char types[256];
            ct_model_cell_type_names(d, "from_mesh", types, sizeof types);
            return ct_error_set(CT_ERR_CONFIG, "%s: model.cell_type \"%s\" is not known (expected %s)", src, ct,
                                types);
        }
        snprintf(c->cell_type, sizeof c->cell_type, "%s",
                 c->cell_type_from_mesh ? "from_mesh" : d->cell_types[type].name);
    }
    ct_real p[CT_MODEL_NPARAM];
    d->default_params(p, type);
    double v[CT_MODEL_NPARAM];
    for (int k = 0; k < CT_MODEL_NPARAM; k++)
        v[k] = (double)p[k];
    const cJSON *sc = NULL, *pr = NULL;
    if (d->n_scales)
        CT_CHECK(ct_json_object(m, "conductance_scales", 0, src, "model", &sc));
    if (sc)
        CT_CHECK(read_scales(d, sc, src, "model.conductance_scales", v + d->scale_first));
    if (d->n_params)
        CT_CHECK(ct_json_object(m, "parameters", 0, src, "model", &pr));
    if (pr)
        CT_CHECK(read_params(d, pr, src, "model.parameters", v));
    for (int k = 0; k < CT_MODEL_NPARAM; k++)
        c->model_params[k] = (double)(ct_real)v[k]; /* as the kernels will hold it */
    return CT_OK;
}

static ct_status parse_conductivity(const cJSON *root, const char *src, ct_config *c)
{
    const cJSON *s;
    CT_CHECK(ct_json_object(root, "conductivity", 1, src, "", &s));
    static const char *const keys[] = {"sigma_l_S_per_m",  "sigma_t_S_per_m",  "sigma_il_S_per_m",
                                       "sigma_it_S_per_m", "sigma_el_S_per_m", "sigma_et_S_per_m", NULL};
    CT_CHECK(ct_json_known_keys(s, keys, src, "conductivity"));
    int bulk = cJSON_HasObjectItem(s, "sigma_l_S_per_m") || cJSON_HasObjectItem(s, "sigma_t_S_per_m");
    int bidomain = cJSON_HasObjectItem(s, "sigma_il_S_per_m") || cJSON_HasObjectItem(s, "sigma_el_S_per_m") ||
                   cJSON_HasObjectItem(s, "sigma_it_S_per_m") || cJSON_HasObjectItem(s, "sigma_et_S_per_m");
    if (bulk == bidomain)
        return ct_error_set(CT_ERR_CONFIG,
                            "%s: conductivity: give either sigma_l_S_per_m and sigma_t_S_per_m (monodomain) or "
                            "the four intra/extracellular sigma_il/it/el/et_S_per_m, not both or neither",
                            src);
    if (bulk) {
        CT_CHECK(ct_json_number(s, "sigma_l_S_per_m", 1, 0.0, 100.0, src, "conductivity", &c->conductivity.sigma_l_S_per_m));
        CT_CHECK(ct_json_number(s, "sigma_t_S_per_m", 1, 0.0, 100.0, src, "conductivity", &c->conductivity.sigma_t_S_per_m));
    } else {
        double il, it, el, et;
        CT_CHECK(ct_json_number(s, "sigma_il_S_per_m", 1, 1e-9, 100.0, src, "conductivity", &il));
        CT_CHECK(ct_json_number(s, "sigma_it_S_per_m", 1, 1e-9, 100.0, src, "conductivity", &it));
        CT_CHECK(ct_json_number(s, "sigma_el_S_per_m", 1, 1e-9, 100.0, src, "conductivity", &el));
        CT_CHECK(ct_json_number(s, "sigma_et_S_per_m", 1, 1e-9, 100.0, src, "conductivity", &et));
        c->ecg_sigma_il_S_per_m = il;
        c->ecg_sigma_it_S_per_m = it;
        /* Monodomain reduction: the harmonic mean sigma_i sigma_e / (sigma_i + sigma_e) per direction. */
        c->conductivity.sigma_l_S_per_m = il * el / (il + el);
        c->conductivity.sigma_t_S_per_m = it * et / (it + et);
    }
    return CT_OK;
}

ct_status ct_config_border_zone(const cJSON *bz, const char *src, const char *where, ct_config *c)
{
    char at[96];
    static const char *const bkeys[] = {"conductance_scales", "parameters", "sigma_scale", NULL};
    CT_CHECK(ct_json_known_keys(bz, bkeys, src, where));
    CT_CHECK(ct_json_number(bz, "sigma_scale", 0, 0.0, 10.0, src, where, &c->border_zone_sigma_scale));
    const ct_model_desc *d = ct_model_by_id(c->model);
    char names[256];
    const cJSON *sc;
    CT_CHECK(ct_json_object(bz, "conductance_scales", 0, src, where, &sc));
    if (sc) {
        snprintf(at, sizeof at, "%s.conductance_scales", where);
        if (!d || !d->n_scales) {
            ct_model_names(names, sizeof names, CT_MODEL_WITH_SCALES, 0);
            return ct_error_set(CT_ERR_CONFIG, "%s: %s needs model %s", src, at, names);
        }
        CT_CHECK(read_scales(d, sc, src, at, c->border_zone_scales));
    }
    const cJSON *pr;
    CT_CHECK(ct_json_object(bz, "parameters", 0, src, where, &pr));
    if (pr) {
        snprintf(at, sizeof at, "%s.parameters", where);
        if (!d || !d->n_params) {
            ct_model_names(names, sizeof names, CT_MODEL_WITH_PARAMS, 0);
            if (d && d->n_scales)
                return ct_error_set(CT_ERR_CONFIG, "%s: %s needs model %s (%s takes conductance_scales)", src, at,
                                    names, d->name);
            return ct_error_set(CT_ERR_CONFIG, "%s: %s needs model %s", src, at, names);
        }
        CT_CHECK(read_params(d, pr, src, at, c->border_zone_params));
    }
    return CT_OK;
}

static ct_status parse_tissue(const cJSON *root, const char *src, ct_config *c)
{
    for (int k = 0; k < 12; k++)
        c->border_zone_scales[k] = 1.0;
    for (int k = 0; k < 16; k++)
        c->border_zone_params[k] = NAN;
    c->border_zone_sigma_scale = 1.0;
    c->scar_sigma_scale = 0.0;
    const cJSON *t;
    CT_CHECK(ct_json_object(root, "tissue", 0, src, "", &t));
    if (!t)
        return CT_OK;
    static const char *const keys[] = {"border_zone", "scar", NULL};
    CT_CHECK(ct_json_known_keys(t, keys, src, "tissue"));
    const cJSON *bz, *scar;
    CT_CHECK(ct_json_object(t, "border_zone", 0, src, "tissue", &bz));
    if (bz)
        CT_CHECK(ct_config_border_zone(bz, src, "tissue.border_zone", c));
    CT_CHECK(ct_json_object(t, "scar", 0, src, "tissue", &scar));
    if (scar) {
        static const char *const skeys[] = {"sigma_scale", NULL};
        CT_CHECK(ct_json_known_keys(scar, skeys, src, "tissue.scar"));
        CT_CHECK(ct_json_number(scar, "sigma_scale", 0, 0.0, 10.0, src, "tissue.scar", &c->scar_sigma_scale));
    }
    return CT_OK;
}

/* "ecg": sampling interval and the conductivities of the pseudo-ECG. The intracellular conductivities
 * default to the configuration's intracellular ones, else to its monodomain ones (an approximation). */
ct_status ct_config_body_frame(const cJSON *obj, const char *src, const char *where, double sup[3], double ant[3],
                               int *given)
{
    *given = 0;
    int has_s = cJSON_HasObjectItem(obj, "superior"), has_a = cJSON_HasObjectItem(obj, "anterior");
    if (!has_s && !has_a)
        return CT_OK;
    if (!has_s || !has_a)
        return ct_error_set(CT_ERR_CONFIG, "%s: %s.%s is missing: give both superior and anterior, or neither", src, where,
                            has_s ? "anterior" : "superior");
    double v[2][3];
    const char *const names[2] = {"superior", "anterior"};
    for (int k = 0; k < 2; k++) {
        CT_CHECK(ct_json_vec(obj, names[k], 1, 3, src, where, v[k]));
        double big = fmax(fabs(v[k][0]), fmax(fabs(v[k][1]), fabs(v[k][2]))); /* scaled: no overflow */
        if (!(big > 0))
            return ct_error_set(CT_ERR_CONFIG, "%s: %s.%s = [0, 0, 0]: a direction must not be zero", src, where,
                                names[k]);
        for (int d = 0; d < 3; d++)
            v[k][d] /= big;
        double n = sqrt(v[k][0] * v[k][0] + v[k][1] * v[k][1] + v[k][2] * v[k][2]);
        for (int d = 0; d < 3; d++)
            v[k][d] /= n;
    }
    double x[3] = {v[0][1] * v[1][2] - v[0][2] * v[1][1], v[0][2] * v[1][0] - v[0][0] * v[1][2],
                   v[0][0] * v[1][1] - v[0][1] * v[1][0]};
    if (!(sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]) >= 1e-3))
        return ct_error_set(CT_ERR_CONFIG, "%s: %s.anterior is parallel to %s.superior (they must span the body's "
                            "sagittal plane)", src, where, where);
    memcpy(sup, v[0], sizeof v[0]);
    memcpy(ant, v[1], sizeof v[1]);
    *given = 1;
    return CT_OK;
}

static ct_status parse_ecg(const cJSON *root, const char *src, ct_config *c)
{
    CT_CHECK(ct_json_int(root, "max_beats", 0, 0, 1000, src, "", &c->max_beats));
    c->ecg_interval_ms = 0;
    c->ecg_sigma_bath_S_per_m = 1.0;
    const cJSON *e;
    CT_CHECK(ct_json_object(root, "ecg", 0, src, "", &e));
    if (!e)
        return CT_OK;
    static const char *const keys[] = {"interval_ms",      "sigma_bath_S_per_m", "sigma_il_S_per_m",
                                       "sigma_it_S_per_m", "superior",           "anterior", NULL};
    CT_CHECK(ct_json_known_keys(e, keys, src, "ecg"));
    CT_CHECK(ct_config_body_frame(e, src, "ecg", c->ecg_superior, c->ecg_anterior, &c->ecg_has_body_frame));
    c->ecg_interval_ms = 1.0;
    CT_CHECK(ct_json_number(e, "interval_ms", 0, c->dt_ms, 1e6, src, "ecg", &c->ecg_interval_ms));
    CT_CHECK(ct_json_number(e, "sigma_bath_S_per_m", 0, 1e-6, 100, src, "ecg", &c->ecg_sigma_bath_S_per_m));
    CT_CHECK(ct_json_number(e, "sigma_il_S_per_m", 0, 1e-6, 100, src, "ecg", &c->ecg_sigma_il_S_per_m));
    CT_CHECK(ct_json_number(e, "sigma_it_S_per_m", 0, 1e-6, 100, src, "ecg", &c->ecg_sigma_it_S_per_m));
    return CT_OK;
}

static ct_status parse_region(const cJSON *obj, const char *src, const char *where, ct_stimulus *s)
{
    int box = cJSON_HasObjectItem(obj, "box_min_mm") || cJSON_HasObjectItem(obj, "box_max_mm");
    int sphere = cJSON_HasObjectItem(obj, "center_mm") || cJSON_HasObjectItem(obj, "radius_mm");
    if (box == sphere)
        return ct_error_set(CT_ERR_CONFIG,
                            "%s: %s: give a box (box_min_mm, box_max_mm) or a sphere (center_mm, radius_mm)", src,
                            where);
    if (box) {
        s->shape = CT_REGION_BOX;
        CT_CHECK(ct_json_vec(obj, "box_min_mm", 1, 3, src, where, s->box_min_mm));
        CT_CHECK(ct_json_vec(obj, "box_max_mm", 1, 3, src, where, s->box_max_mm));
        for (int k = 0; k < 3; k++)
            if (s->box_max_mm[k] < s->box_min_mm[k])
                return ct_error_set(CT_ERR_CONFIG, "%s: %s: box_max_mm[%d] < box_min_mm[%d]", src, where, k, k);
    } else {
        s->shape = CT_REGION_SPHERE;
        CT_CHECK(ct_json_vec(obj, "center_mm", 1, 3, src, where, s->center_mm));
        CT_CHECK(ct_json_number(obj, "radius_mm", 1, 1e-6, 1e4, src, where, &s->radius_mm));
    }
    return CT_OK;
}

static ct_status parse_stimuli(const cJSON *root, const char *src, ct_config *c)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "stimuli");
    if (!arr)
        return ct_error_set(CT_ERR_CONFIG, "%s: missing required key \"stimuli\"", src);
    if (!cJSON_IsArray(arr))
        return ct_error_set(CT_ERR_CONFIG, "%s: \"stimuli\" must be an array", src);
    int n = cJSON_GetArraySize(arr);
    if (n > CT_CONFIG_MAX_STIMULI)
        return ct_error_set(CT_ERR_CONFIG, "%s: %d stimuli given; at most %d are supported", src, n,
                            CT_CONFIG_MAX_STIMULI);
    static const char *const keys[] = {"name",       "box_min_mm", "box_max_mm",  "center_mm", "radius_mm",
                                       "amplitude_uA_per_uF", "start_ms", "duration_ms", "period_ms", "count", NULL};
    for (int i = 0; i < n; i++) {
        const cJSON *o;
        char where[64];
        CT_CHECK(ct_json_array_item(arr, i, "stimuli", keys, src, where, sizeof where, &o));
        ct_stimulus *s = &c->stimuli[i];
        memset(s, 0, sizeof *s);
        const char *name = NULL;
        CT_CHECK(ct_json_string(o, "name", 0, src, where, &name));
        snprintf(s->name, sizeof s->name, "%s", name ? name : where);
        CT_CHECK(parse_region(o, src, where, s));
        CT_CHECK(ct_json_number(o, "amplitude_uA_per_uF", 1, -1e4, 1e4, src, where, &s->amplitude_uA_per_uF));
        CT_CHECK(ct_json_number(o, "start_ms", 0, 0.0, 1e7, src, where, &s->start_ms));
        CT_CHECK(ct_json_number(o, "duration_ms", 1, 1e-6, 1e7, src, where, &s->duration_ms));
        CT_CHECK(ct_json_number(o, "period_ms", 0, 0.0, 1e7, src, where, &s->period_ms));
        s->count = 1;
        CT_CHECK(ct_json_int(o, "count", 0, 1, 1000000, src, where, &s->count));
        if (s->count > 1 && s->period_ms < s->duration_ms)
            return ct_error_set(CT_ERR_CONFIG, "%s: %s: period_ms (%g) must be at least duration_ms (%g) when count > 1",
                                src, where, s->period_ms, s->duration_ms);
    }
    c->n_stimuli = n;
    return CT_OK;
}

/* "lesions" (ablation) and "tissue_regions" (labels painted on the mesh): arrays of shapes (ct_lesion.h);
 * a tissue region also names its "tissue": "healthy", "border_zone" or "scar" (tissue_out[i]). */
static ct_status parse_shapes(const cJSON *root, const char *key, const char *src, ct_lesion *out, int *tissue_out,
                              int *n_out)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!arr)
        return CT_OK;
    if (!cJSON_IsArray(arr))
        return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\" must be an array", src, key);
    int n = cJSON_GetArraySize(arr);
    if (n > CT_CONFIG_MAX_LESIONS)
        return ct_error_set(CT_ERR_CONFIG, "%s: %d %s given; at most %d are supported", src, n, key,
                            CT_CONFIG_MAX_LESIONS);
    static const char *const lesion_keys[] = {"name",  "shape",      "center_mm",  "radius_mm", "from_mm",
                                              "to_mm", "box_min_mm", "box_max_mm", NULL};
    static const char *const region_keys[] = {"name",  "shape",      "center_mm",  "radius_mm", "from_mm",
                                              "to_mm", "box_min_mm", "box_max_mm", "tissue",    NULL};
    const char *const *keys = tissue_out ? region_keys : lesion_keys;
    for (int i = 0; i < n; i++) {
        const cJSON *o;
        char where[64];
        CT_CHECK(ct_json_array_item(arr, i, key, keys, src, where, sizeof where, &o));
        if (tissue_out) {
            const char *tissue = NULL;
            CT_CHECK(ct_json_string(o, "tissue", 1, src, where, &tissue));
            if (strcmp(tissue, "healthy") == 0)
                tissue_out[i] = CT_TISSUE_HEALTHY;
            else if (strcmp(tissue, "border_zone") == 0)
                tissue_out[i] = CT_TISSUE_BORDER_ZONE;
            else if (strcmp(tissue, "scar") == 0)
                tissue_out[i] = CT_TISSUE_SCAR;
            else
                return ct_error_set(CT_ERR_CONFIG,
                                    "%s: %s.tissue: \"%s\" is not \"healthy\", \"border_zone\" or \"scar\"", src,
                                    where, tissue);
        }
        ct_lesion *l = &out[i];
        memset(l, 0, sizeof *l);
        const char *name = NULL, *shape = NULL;
        CT_CHECK(ct_json_string(o, "name", 0, src, where, &name));
        snprintf(l->name, sizeof l->name, "%s", name ? name : where);
        CT_CHECK(ct_json_string(o, "shape", 1, src, where, &shape));
        const char *const *need;
        static const char *const sphere_keys[] = {"center_mm", "radius_mm", NULL};
        static const char *const line_keys[] = {"from_mm", "to_mm", "radius_mm", NULL};
        static const char *const box_keys[] = {"box_min_mm", "box_max_mm", NULL};
        if (strcmp(shape, "sphere") == 0)
            l->shape = CT_LESION_SPHERE, need = sphere_keys;
        else if (strcmp(shape, "line") == 0)
            l->shape = CT_LESION_LINE, need = line_keys;
        else if (strcmp(shape, "box") == 0)
            l->shape = CT_LESION_BOX, need = box_keys;
        else
            return ct_error_set(CT_ERR_CONFIG, "%s: %s.shape: \"%s\" is not \"sphere\", \"line\" or \"box\"", src,
                                where, shape);
        for (int k = 0; keys[k]; k++) { /* keys of another shape are mistakes, not ignored */
            int wanted = strcmp(keys[k], "name") == 0 || strcmp(keys[k], "shape") == 0 || strcmp(keys[k], "tissue") == 0;
            for (int j = 0; need[j]; j++)
                wanted |= strcmp(keys[k], need[j]) == 0;
            if (!wanted && cJSON_HasObjectItem(o, keys[k]))
                return ct_error_set(CT_ERR_CONFIG, "%s: %s: key \"%s\" does not apply to a %s lesion", src, where,
                                    keys[k], shape);
        }
        if (l->shape == CT_LESION_SPHERE) {
            CT_CHECK(ct_json_vec(o, "center_mm", 1, 3, src, where, l->a_mm));
        } else if (l->shape == CT_LESION_LINE) {
            CT_CHECK(ct_json_vec(o, "from_mm", 1, 3, src, where, l->a_mm));
            CT_CHECK(ct_json_vec(o, "to_mm", 1, 3, src, where, l->b_mm));
        } else {
            CT_CHECK(ct_json_vec(o, "box_min_mm", 1, 3, src, where, l->a_mm));
            CT_CHECK(ct_json_vec(o, "box_max_mm", 1, 3, src, where, l->b_mm));
            for (int k = 0; k < 3; k++)
                if (l->b_mm[k] < l->a_mm[k])
                    return ct_error_set(CT_ERR_CONFIG, "%s: %s: box_max_mm[%d] < box_min_mm[%d]", src, where, k, k);
        }
        if (l->shape != CT_LESION_BOX)
            CT_CHECK(ct_json_number(o, "radius_mm", 1, 1e-6, 1e4, src, where, &l->radius_mm));
        *n_out = i + 1;
    }
    return CT_OK;
}

static ct_status parse_probes(const cJSON *root, const char *src, ct_config *c)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "probes");
    if (!arr)
        return CT_OK;
    if (!cJSON_IsArray(arr))
        return ct_error_set(CT_ERR_CONFIG, "%s: \"probes\" must be an array", src);
    int n = cJSON_GetArraySize(arr);
    c->probes = calloc((size_t)n + 1, sizeof *c->probes);
    if (!c->probes)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for probes", src);
    static const char *const keys[] = {"name", "position_mm", NULL};
    for (int i = 0; i < n; i++) {
        const cJSON *o;
        char where[64];
        CT_CHECK(ct_json_array_item(arr, i, "probes", keys, src, where, sizeof where, &o));
        const char *name = NULL;
        CT_CHECK(ct_json_string(o, "name", 1, src, where, &name));
        snprintf(c->probes[i].name, sizeof c->probes[i].name, "%s", name);
        CT_CHECK(ct_json_vec(o, "position_mm", 1, 3, src, where, c->probes[i].position_mm));
        c->n_probes = i + 1;
    }
    return CT_OK;
}

/* An optional true/false key of the top level into *out (left as it is when absent). */
static ct_status read_switch(const cJSON *root, const char *key, const char *src, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it)
        return CT_OK;
    if (!cJSON_IsBool(it))
        return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\" must be true or false", src, key);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return CT_OK;
}

static ct_status parse_numerics(const cJSON *root, const char *src, ct_config *c)
{
    CT_CHECK(ct_json_number(root, "chi_per_mm", 1, 1e-6, 1e5, src, "", &c->conductivity.chi_per_mm));
    CT_CHECK(ct_json_number(root, "Cm_uF_per_mm2", 1, 1e-9, 1.0, src, "", &c->conductivity.cm_uF_per_mm2));
    CT_CHECK(ct_json_number(root, "dt_ms", 1, 1e-6, 10.0, src, "", &c->dt_ms));
    CT_CHECK(ct_json_number(root, "end_time_ms", 1, 1e-6, 1e7, src, "", &c->end_time_ms));
    c->activation_threshold_mV = 0.0;
    CT_CHECK(ct_json_number(root, "activation_threshold_mV", 0, -150.0, 150.0, src, "", &c->activation_threshold_mV));
    c->vm_bound_mV = 200.0;
    CT_CHECK(ct_json_number(root, "vm_bound_mV", 0, 50.0, 1e4, src, "", &c->vm_bound_mV));
    c->has_initial_vm = cJSON_HasObjectItem(root, "initial_vm_mV");
    c->initial_vm_mV = 0.0;
    CT_CHECK(ct_json_number(root, "initial_vm_mV", 0, -c->vm_bound_mV, c->vm_bound_mV, src, "", &c->initial_vm_mV));
    c->ionic_lut = 0; /* the exact rates are the reference */
    CT_CHECK(read_switch(root, "ionic_lut", src, &c->ionic_lut));
    c->ionic_simd = 0;
    CT_CHECK(read_switch(root, "ionic_simd", src, &c->ionic_simd));

    c->diffusion = CT_DIFFUSION_EXPLICIT;
    c->cg_rel_tolerance = 1e-8;
    c->cg_max_iterations = 1000;
    const cJSON *d;
    CT_CHECK(ct_json_object(root, "diffusion", 0, src, "", &d));
    if (d) {
        static const char *const keys[] = {"method", "mass", "cg_tolerance", "cg_max_iterations", "ionic_mass",
                                           "cg_start", NULL};
        CT_CHECK(ct_json_known_keys(d, keys, src, "diffusion"));
        const char *method = "explicit";
        CT_CHECK(ct_json_string(d, "method", 0, src, "diffusion", &method));
        if (strcmp(method, "explicit") == 0)
            c->diffusion = CT_DIFFUSION_EXPLICIT;
        else if (strcmp(method, "crank_nicolson") == 0)
            c->diffusion = CT_DIFFUSION_CRANK_NICOLSON;
        else if (strcmp(method, "backward_euler") == 0)
            c->diffusion = CT_DIFFUSION_BACKWARD_EULER;
        else
            return ct_error_set(CT_ERR_CONFIG,
                                "%s: diffusion.method \"%s\" is not known (expected explicit, crank_nicolson or "
                                "backward_euler)",
                                src, method);
        const char *mass = "lumped";
        CT_CHECK(ct_json_string(d, "mass", 0, src, "diffusion", &mass));
        if (strcmp(mass, "lumped") == 0)
            c->consistent_mass = 0;
        else if (strcmp(mass, "consistent") == 0)
            c->consistent_mass = 1;
        else
            return ct_error_set(CT_ERR_CONFIG, "%s: diffusion.mass \"%s\" is not known (expected lumped or consistent)",
                                src, mass);
        const char *ionic_mass = "consistent";
        CT_CHECK(ct_json_string(d, "ionic_mass", 0, src, "diffusion", &ionic_mass));
        if (strcmp(ionic_mass, "consistent") == 0)
            c->lumped_ionic = 0;
        else if (strcmp(ionic_mass, "lumped") == 0)
            c->lumped_ionic = 1;
        else
            return ct_error_set(CT_ERR_CONFIG,
                                "%s: diffusion.ionic_mass \"%s\" is not known (expected consistent or lumped)", src,
                                ionic_mass);
        if (c->lumped_ionic && c->consistent_mass && c->diffusion == CT_DIFFUSION_EXPLICIT)
            return ct_error_set(CT_ERR_CONFIG,
                                "%s: diffusion.ionic_mass \"lumped\" with the consistent mass needs diffusion.method "
                                "crank_nicolson or backward_euler",
                                src);
        const char *cg_start = "extrapolate";
        CT_CHECK(ct_json_string(d, "cg_start", 0, src, "diffusion", &cg_start));
        if (strcmp(cg_start, "extrapolate") == 0)
            c->cg_start = CT_CG_START_EXTRAPOLATE;
        else if (strcmp(cg_start, "previous") == 0)
            c->cg_start = CT_CG_START_PREVIOUS;
        else
            return ct_error_set(CT_ERR_CONFIG,
                                "%s: diffusion.cg_start \"%s\" is not known (expected extrapolate or previous)", src,
                                cg_start);
        CT_CHECK(ct_json_number(d, "cg_tolerance", 0, 1e-15, 1e-2, src, "diffusion", &c->cg_rel_tolerance));
        CT_CHECK(ct_json_int(d, "cg_max_iterations", 0, 1, 100000, src, "diffusion", &c->cg_max_iterations));
    }
    const cJSON *o;
    CT_CHECK(ct_json_object(root, "output", 0, src, "", &o));
    c->output_interval_ms = 0.0;
    if (o) {
        static const char *const keys[] = {"interval_ms", NULL};
        CT_CHECK(ct_json_known_keys(o, keys, src, "output"));
        CT_CHECK(ct_json_number(o, "interval_ms", 0, 0.0, 1e7, src, "output", &c->output_interval_ms));
        if (c->output_interval_ms > 0 && c->output_interval_ms < c->dt_ms)
            return ct_error_set(CT_ERR_CONFIG, "%s: output.interval_ms (%g) is shorter than dt_ms (%g)", src,
                                c->output_interval_ms, c->dt_ms);
    }
    return CT_OK;
}

ct_status ct_config_parse(const char *text, const char *source, ct_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->source, sizeof c->source, "%s", source);
    cJSON *root;
    CT_CHECK(ct_json_parse(text, source, &root));
    static const char *const keys[] = {"description", "mesh",  "model",       "conductivity",           "chi_per_mm",
                                       "Cm_uF_per_mm2", "dt_ms", "end_time_ms", "activation_threshold_mV", "vm_bound_mV",
                                       "diffusion",   "stimuli", "probes",    "output",  "tissue",  "ecg",
                                       "max_beats",   "lesions", "tissue_regions", "ionic_lut", "ionic_simd", "initial_vm_mV",
                                       NULL};
    ct_status st = ct_json_known_keys(root, keys, source, "");
    if (st == CT_OK)
        st = parse_mesh(root, source, c);
    if (st == CT_OK)
        st = parse_model(root, source, c);
    if (st == CT_OK)
        st = parse_conductivity(root, source, c);
    if (st == CT_OK)
        st = parse_tissue(root, source, c);
    if (st == CT_OK)
        st = parse_numerics(root, source, c);
    if (st == CT_OK)
        st = parse_ecg(root, source, c);
    if (st == CT_OK && c->ecg_sigma_il_S_per_m == 0) {
        c->ecg_sigma_il_S_per_m = c->conductivity.sigma_l_S_per_m;
        c->ecg_sigma_it_S_per_m = c->conductivity.sigma_t_S_per_m;
    }
    if (st == CT_OK)
        st = parse_stimuli(root, source, c);
    if (st == CT_OK)
        st = parse_probes(root, source, c);
    if (st == CT_OK)
        st = parse_shapes(root, "lesions", source, c->lesions, NULL, &c->n_lesions);
    if (st == CT_OK)
        st = parse_shapes(root, "tissue_regions", source, c->tissue_regions, c->tissue_region_label,
                          &c->n_tissue_regions);
    cJSON_Delete(root);
    if (st != CT_OK)
        ct_config_free(c);
    return st;
}

ct_status ct_config_load(const char *path, ct_config *out)
{
    memset(out, 0, sizeof *out);
    char *text;
    CT_CHECK(ct_json_read_file(path, &text));
    ct_status st = ct_config_parse(text, path, out);
    free(text);
    return st;
}

void ct_config_free(ct_config *cfg)
{
    free(cfg->probes);
    cfg->probes = NULL;
    cfg->n_probes = 0;
}

int ct_stimulus_active(const ct_stimulus *s, double t_ms)
{
    /* Half a microsecond of slack so that a pulse of duration k*dt covers exactly k steps. */
    const double eps = 5e-7;
    if (t_ms + eps < s->start_ms)
        return 0;
    double since = t_ms - s->start_ms;
    /* The pulse number stays a double: with a tiny period it exceeds the range of long. */
    double k = s->period_ms > 0 ? floor((since + eps) / s->period_ms) : 0.0;
    if (k >= (double)s->count)
        return 0;
    double in_pulse = since - k * s->period_ms;
    return in_pulse + eps < s->duration_ms;
}

uint32_t ct_config_stimuli_active(const ct_config *cfg, double t_ms)
{
    uint32_t active = 0;
    for (int s = 0; s < cfg->n_stimuli; s++)
        if (ct_stimulus_active(&cfg->stimuli[s], t_ms))
            active |= 1u << s;
    return active;
}
