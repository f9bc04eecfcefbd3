/* ct_config.h — the simulation configuration, read from JSON.
 *
 * Units everywhere: length mm, time ms, potential mV, conductivity S/m, surface-to-volume ratio 1/mm,
 * capacitance uF/mm^2, current density uA/uF (= mV/ms, positive depolarises). Every key carries its
 * unit in its name. The README's configuration reference lists every key.
 */
#ifndef CT_CONFIG_H
#define CT_CONFIG_H

#include <stdint.h>

#include "fem/ct_fem.h"
#include "study/ct_lesion.h"
#include "core/ct_status.h"

#define CT_NAME_LEN 64
#define CT_CONFIG_MAX_STIMULI 32
#define CT_CONFIG_MAX_LESIONS 64

enum ct_region_shape { CT_REGION_BOX = 0, CT_REGION_SPHERE = 1 };

typedef struct ct_stimulus {
    char name[CT_NAME_LEN];
    int shape;                       /* enum ct_region_shape */
    double box_min_mm[3], box_max_mm[3];
    double center_mm[3], radius_mm;
    double amplitude_uA_per_uF;      /* positive depolarises */
    double start_ms, duration_ms;
    double period_ms;                /* 0: a single pulse */
    long count;                      /* number of pulses */
} ct_stimulus;

typedef struct ct_probe {
    char name[CT_NAME_LEN];
    double position_mm[3];
} ct_probe;

typedef struct ct_config {
    char source[512];                /* the file it was read from, for messages */
    /* mesh: a generated box, or a file (openCARP, VTK, Gmsh) */
    int mesh_from_file;              /* 0: box, 1: file */
    char mesh_path[1024];            /* resolved against the configuration's folder */
    char mesh_format[16];            /* "" (by extension), "carp", "vtu", "gmsh" */
    double mesh_unit_to_mm;          /* 1 (mm), 1e-3 (um), 10 (cm) */
    double box_size_mm[3];
    double dx_mm;
    double fibre_direction[3];
    int renumber_rcm;                /* 1: reverse Cuthill-McKee node renumbering (default) */
    int box_split;                   /* box: enum ct_box_split (ct_mesh.h), mesh.split "mirrored" (default) or "kuhn" */
    /* ionic model */
    int model;                       /* enum ct_model_id; its descriptor: ct_model_by_id (model/ct_model_desc.h) */
    char model_name[CT_NAME_LEN];
    char cell_type[CT_NAME_LEN];     /* a model with cell types: one of its cell types ("endo", "mid", "epi" of
                                        tp06) or "from_mesh" (point field cell_type); "" otherwise */
    int cell_type_from_mesh;
    double model_params[16];         /* CT_MODEL_NPARAM values, see kernels/models/ */
    /* tissue */
    ct_conductivity conductivity;
    /* element labels (enum ct_tissue) from the mesh: border zone remodelling and scar */
    double border_zone_scales[12];   /* multiply the model's conductance scales in border-zone nodes (descriptor order) */
    double border_zone_params[16];   /* a model with named parameters: border-zone values (NaN: as elsewhere) */
    double border_zone_sigma_scale;  /* conductivity factor of border-zone elements */
    double scar_sigma_scale;         /* conductivity factor of scar elements (0: non-conducting) */
    /* tissue labels painted over the mesh's (elements whose centroid lies inside, in order; ct_lesion.h
     * shapes), e.g. a border zone or a scar on a generated box */
    int n_tissue_regions;
    ct_lesion tissue_regions[CT_CONFIG_MAX_LESIONS];
    int tissue_region_label[CT_CONFIG_MAX_LESIONS]; /* enum ct_tissue */
    /* ablation lesions (ct_lesion.h): elements inside become non-conducting scar */
    int n_lesions;
    ct_lesion lesions[CT_CONFIG_MAX_LESIONS];
    /* time */
    double dt_ms, end_time_ms;
    int diffusion;                   /* enum ct_diffusion_method */
    int consistent_mass;             /* 1: consistent mass matrix, 0: lumped (diagonal) */
    int lumped_ionic;                /* "diffusion.ionic_mass": 1 "lumped": the reaction's increment (ionic current,
                                        stimulus) through the lumped mass in the implicit step; 0 "consistent"
                                        (default): through the consistent mass. Same thing with the lumped mass */
    int cg_start;                    /* "diffusion.cg_start" (enum ct_cg_start): CT_CG_START_EXTRAPOLATE "extrapolate"
                                        (default): the implicit CG starts from V* + the last step's diffusion
                                        increment; CT_CG_START_PREVIOUS "previous": from V* */
    double cg_rel_tolerance;
    long cg_max_iterations;
    double activation_threshold_mV;
    double vm_bound_mV;
    int has_initial_vm;              /* 1: "initial_vm_mV" given: every node starts at initial_vm_mV (its ionic state
                                        the model's); 0 (default): at the model's initial Vm */
    double initial_vm_mV;            /* within +-vm_bound_mV */
    int ionic_lut;                   /* "ionic_lut": 1: the ionic model's voltage-only rates from a lookup table over
                                        Vm (kernels/models/tp06.h); 0 (default): from their formulas */
    int ionic_simd;                  /* "ionic_simd": 1: the CPU backend's reaction as a SIMD loop; 0 (default) */
    int n_stimuli;
    ct_stimulus stimuli[CT_CONFIG_MAX_STIMULI];
    int n_probes;
    ct_probe *probes;                /* n_probes, owned; freed by ct_config_free */
    double output_interval_ms;       /* 0: no Vm time series */
    /* pseudo-ECG (12 leads, infinite homogeneous medium); interval 0: none */
    double ecg_interval_ms;
    double ecg_sigma_bath_S_per_m;
    double ecg_sigma_il_S_per_m, ecg_sigma_it_S_per_m; /* intracellular conductivities */
    int ecg_has_body_frame;          /* 1: ecg.superior and ecg.anterior given; 0: +z superior, +y anterior */
    double ecg_superior[3], ecg_anterior[3]; /* unit directions in mesh coordinates (metrics/ct_ecg.h) */
    /* per-beat activation / repolarisation tracking: at most this many beats (0: first activation only) */
    long max_beats;
} ct_config;

/* Reads and validates a configuration file; on failure the message names the file and key.
 * On success the caller frees the contents with ct_config_free(). */
ct_status ct_config_load(const char *path, ct_config *out);
/* The same from a JSON text; `source` names it in messages. */
ct_status ct_config_parse(const char *json_text, const char *source, ct_config *out);
void ct_config_free(ct_config *cfg);

struct cJSON;
/* Checks a border-zone object (keys conductance_scales and parameters, as the model has them (its descriptor),
 * sigma_scale) against c->model and fills c's border_zone_* fields; `where` names the object in messages
 * ("tissue.border_zone" in a configuration, "border_zone" in a patient file). */
ct_status ct_config_border_zone(const struct cJSON *bz, const char *src, const char *where, ct_config *c);

/* A body frame for the 12-lead ECG electrodes: the keys "superior" and "anterior" of obj, directions in mesh
 * coordinates, both or neither; each finite and non-zero, and the two not parallel (at least 0.001 rad
 * apart). *given says whether they were there; sup and ant receive them normalised (untouched when not
 * given). Messages name the key as "<where>.superior" ("ecg" in a configuration, "body_frame" in a patient
 * file). Other keys of obj are the caller's to check. */
ct_status ct_config_body_frame(const struct cJSON *obj, const char *src, const char *where, double sup[3],
                               double ant[3], int *given);

/* Whether stimulus s delivers current during the step starting at t_ms. */
int ct_stimulus_active(const ct_stimulus *s, double t_ms);

/* The configuration's stimuli delivering current during the step starting at t_ms: bit s for stimulus s. */
uint32_t ct_config_stimuli_active(const ct_config *cfg, double t_ms);

#endif /* CT_CONFIG_H */
