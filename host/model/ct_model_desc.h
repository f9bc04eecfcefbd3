/* ct_model_desc.h — the ionic models as the host knows them: one descriptor per model, in one table.
 *
 * The kernels (kernels/models/) compute a model; its descriptor says what the rest of the host needs to know
 * of it: its configuration name, its state variables, its named parameters with their allowed ranges, its
 * conductance scale factors, its cell types and how to fill its default parameter set. The configuration
 * (ct_config.c), personalisation (personalise/ct_patient.c), cohorts (ct_cohort_plan.c), the single-cell
 * driver (ct_cell.c) and the simulation set-up (ct_sim.c) read this table instead of naming any model.
 * Adding a model touches its kernel header (with the dispatch in kernels/models/ct_models.h) and its entry
 * in ct_model_desc.c only.
 *
 * Everything returned here is static, read-only storage owned by the table; nothing is allocated.
 */
#ifndef CT_MODEL_DESC_H
#define CT_MODEL_DESC_H

#include <stddef.h>

#include "../../kernels/models/ct_models.h"
#include "core/ct_status.h"

/* The most conductance scale factors a model may have (ct_config.border_zone_scales holds this many). */
#define CT_MODEL_MAX_SCALES 12

/* A parameter set by name: model.parameters and tissue.border_zone.parameters of a configuration. */
typedef struct ct_model_param_desc {
    const char *name; /* the key, with its unit ("tau_in_ms") */
    int index;        /* into the parameter set of CT_MODEL_NPARAM reals */
    double lo, hi;    /* allowed range, inclusive */
} ct_model_param_desc;

/* A cell type; its value (stored in the parameter set at cell_type_param) is its index in the table. */
typedef struct ct_model_cell_type_desc {
    const char *name;  /* as the configuration and the command line spell it ("mid") */
    const char *alias; /* another accepted spelling ("M"), or NULL */
} ct_model_cell_type_desc;

typedef struct ct_model_desc {
    int id;                                    /* enum ct_model_id, its index in the table */
    const char *name;                          /* model.name in a configuration ("tp06") */
    const char *label;                         /* for messages ("TP06") */
    const char *title;                         /* one line: what it is, after whom */
    int n_states;                              /* state variables besides Vm; = ct_model_nstate(id) */
    const char *const *state_names;            /* n_states names, in state order */
    int n_cell_types;                          /* 0: the model has no cell types */
    const ct_model_cell_type_desc *cell_types; /* n_cell_types, value k at index k */
    int default_cell_type;                     /* when none is named; 0 without cell types */
    int cell_type_param;                       /* parameter index holding the cell type, -1 without */
    int n_scales;                              /* conductance scale factors (model.conductance_scales); 0: none */
    const char *const *scale_names;            /* n_scales names and a NULL (a key list for ct_json_known_keys) */
    int scale_first;                           /* parameter index of scale_names[0]; the others follow in order */
    double scale_lo, scale_hi;                 /* allowed range of every scale factor */
    int n_params;                              /* named parameters (model.parameters); 0: none */
    const ct_model_param_desc *params;         /* n_params entries */
    /* Fills param[0 .. CT_MODEL_NPARAM-1] with the model's defaults for `cell_type` (a value of cell_types;
     * ignored by a model without cell types). */
    void (*default_params)(ct_real *param, int cell_type);
} ct_model_desc;

/* The descriptor of the model called `name` (model.name), or NULL if no model has that name. */
const ct_model_desc *ct_model_find(const char *name);

/* The descriptor of model `id` (enum ct_model_id), or NULL when id is not a model's. */
const ct_model_desc *ct_model_by_id(int id);

/* The model taken where a patient file or a command names none: TP06. */
const ct_model_desc *ct_model_default(void);

/* What models a list names (ct_model_names). */
enum ct_model_filter {
    CT_MODEL_ALL = 0,
    CT_MODEL_WITH_CELL_TYPES = 1, /* n_cell_types > 0 */
    CT_MODEL_WITH_SCALES = 2,     /* n_scales > 0 */
    CT_MODEL_WITH_PARAMS = 4      /* n_params > 0 */
};

/* Writes the names (or, with use_label, the labels) of the models that have every property in `filter`
 * into out, as a message lists them: "a", "a or b", "a, b or c". */
void ct_model_names(char *out, size_t len, unsigned filter, int use_label);

/* The value of the cell type spelt `name` (its name or alias) of model d, or -1 if d has none so spelt. */
int ct_model_cell_type_find(const ct_model_desc *d, const char *name);

/* Writes d's cell type names, and `extra` (NULL: none) last, as a message lists them: "endo, mid or epi". */
void ct_model_cell_type_names(const ct_model_desc *d, const char *extra, char *out, size_t len);

/* The "model" object of a configuration for model d, as JSON text: {"name": "tp06", "cell_type": "epi"}, the
 * cell type only for a model that has cell types and when cell_type is not NULL. Returns CT_ERR_CONFIG when
 * it does not fit in out. */
ct_status ct_model_json(const ct_model_desc *d, const char *cell_type, char *out, size_t len);

#endif /* CT_MODEL_DESC_H */
