/* ct_model_desc.c — the table of ionic model descriptors (ct_model_desc.h): one entry per model, in
 * enum ct_model_id order. The names and ranges here are what a configuration may say; the indices come
 * from the model's kernel header, so the two cannot drift apart unnoticed (see the static asserts). */
#include "ct_model_desc.h"

#include <stdio.h>
#include <string.h>

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- ten Tusscher-Panfilov 2006 (kernels/models/tp06.h) ---------------------------------------------- */

static const char *const tp06_states[] = {"Xr1",     "Xr2",     "Xs",       "m",        "h",       "j",
                                          "d",       "f",       "f2",       "fCass",    "s",       "r",
                                          "Ca_i_mM", "R_prime", "Ca_SR_mM", "Ca_ss_mM", "Na_i_mM", "K_i_mM"};
_Static_assert(COUNT_OF(tp06_states) == CT_TP06_NSTATE, "a TP06 state without a name, or a name too many");

static const ct_model_cell_type_desc tp06_cell_types[] = {
    [CT_TP06_ENDO] = {"endo", NULL}, [CT_TP06_MCELL] = {"mid", "M"}, [CT_TP06_EPI] = {"epi", NULL}};

/* In parameter order from CT_TP06_P_GNA; NULL-terminated (a key list). */
static const char *const tp06_scales[] = {"G_Na",  "G_CaL", "G_to", "G_Kr",  "G_Ks",  "G_K1", "k_NaCa",
                                          "P_NaK", "G_pCa", "G_pK", "G_bNa", "G_bCa", NULL};
_Static_assert(COUNT_OF(tp06_scales) - 1 == CT_TP06_P_GBCA - CT_TP06_P_GNA + 1,
               "every TP06 scale factor from G_Na to G_bCa needs its name");
_Static_assert(COUNT_OF(tp06_scales) - 1 <= CT_MODEL_MAX_SCALES, "CT_MODEL_MAX_SCALES is too small");

static void tp06_defaults(ct_real *param, int cell_type) { ct_tp06_default_params(param, cell_type); }

/* ---- Mitchell-Schaeffer 2003 (kernels/models/mitchell_schaeffer.h) ----------------------------------- */

static const char *const ms_states[] = {"h"};
_Static_assert(COUNT_OF(ms_states) == CT_MS_NSTATE, "a Mitchell-Schaeffer state without a name");

static const ct_model_param_desc ms_params[] = {
    {"tau_in_ms", CT_MS_P_TAU_IN, 1e-3, 1e4},       {"tau_out_ms", CT_MS_P_TAU_OUT, 1e-3, 1e4},
    {"tau_open_ms", CT_MS_P_TAU_OPEN, 1e-3, 1e5},   {"tau_close_ms", CT_MS_P_TAU_CLOSE, 1e-3, 1e5},
    {"v_gate", CT_MS_P_V_GATE, 0.0, 1.0},           {"V_rest_mV", CT_MS_P_V_REST, -200.0, 200.0},
    {"V_amplitude_mV", CT_MS_P_V_AMP, 1.0, 300.0}};
_Static_assert(COUNT_OF(ms_params) == CT_MS_P_COUNT, "every Mitchell-Schaeffer parameter needs its name");

static void ms_defaults(ct_real *param, int cell_type)
{
    (void)cell_type;
    ct_ms_default_params(param);
}

/* ---- the table ------------------------------------------------------------------------------------------- */

static const ct_model_desc models[] = {
    [CT_MODEL_TP06] = {.id = CT_MODEL_TP06,
                       .name = "tp06",
                       .label = "TP06",
                       .title = "ten Tusscher-Panfilov 2006 human ventricular myocyte",
                       .n_states = CT_TP06_NSTATE,
                       .state_names = tp06_states,
                       .n_cell_types = COUNT_OF(tp06_cell_types),
                       .cell_types = tp06_cell_types,
                       .default_cell_type = CT_TP06_EPI,
                       .cell_type_param = CT_TP06_P_CELLTYPE,
                       .n_scales = COUNT_OF(tp06_scales) - 1,
                       .scale_names = tp06_scales,
                       .scale_first = CT_TP06_P_GNA,
                       .scale_lo = 0.0,
                       .scale_hi = 100.0,
                       .default_params = tp06_defaults},
    [CT_MODEL_MITCHELL_SCHAEFFER] = {.id = CT_MODEL_MITCHELL_SCHAEFFER,
                                     .name = "mitchell_schaeffer",
                                     .label = "Mitchell-Schaeffer",
                                     .title = "Mitchell-Schaeffer 2003 two-current model",
                                     .n_states = CT_MS_NSTATE,
                                     .state_names = ms_states,
                                     .cell_type_param = -1,
                                     .n_params = COUNT_OF(ms_params),
                                     .params = ms_params,
                                     .default_params = ms_defaults},
};
_Static_assert(COUNT_OF(models) == CT_MODEL_COUNT, "every model of enum ct_model_id needs a descriptor");

const ct_model_desc *ct_model_by_id(int id) { return id >= 0 && id < CT_MODEL_COUNT ? &models[id] : NULL; }

const ct_model_desc *ct_model_default(void) { return &models[CT_MODEL_TP06]; }

const ct_model_desc *ct_model_find(const char *name)
{
    for (int k = 0; name && k < CT_MODEL_COUNT; k++)
        if (strcmp(models[k].name, name) == 0)
            return &models[k];
    return NULL;
}

/* Appends item i of n to out as a list reads: "a", "a or b", "a, b or c". */
static void list_add(char *out, size_t len, int i, int n, const char *item)
{
    size_t used = strlen(out);
    if (used < len)
        snprintf(out + used, len - used, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", item);
}

static int matches(const ct_model_desc *d, unsigned filter)
{
    return (!(filter & CT_MODEL_WITH_CELL_TYPES) || d->n_cell_types > 0) &&
           (!(filter & CT_MODEL_WITH_SCALES) || d->n_scales > 0) && (!(filter & CT_MODEL_WITH_PARAMS) || d->n_params > 0);
}

void ct_model_names(char *out, size_t len, unsigned filter, int use_label)
{
    if (len == 0)
        return;
    out[0] = '\0';
    int n = 0, i = 0;
    for (int k = 0; k < CT_MODEL_COUNT; k++)
        n += matches(&models[k], filter);
    for (int k = 0; k < CT_MODEL_COUNT; k++)
        if (matches(&models[k], filter))
            list_add(out, len, i++, n, use_label ? models[k].label : models[k].name);
}

int ct_model_cell_type_find(const ct_model_desc *d, const char *name)
{
    for (int k = 0; d && name && k < d->n_cell_types; k++)
        if (strcmp(d->cell_types[k].name, name) == 0 || (d->cell_types[k].alias && strcmp(d->cell_types[k].alias, name) == 0))
            return k;
    return -1;
}

void ct_model_cell_type_names(const ct_model_desc *d, const char *extra, char *out, size_t len)
{
    if (len == 0)
        return;
    out[0] = '\0';
    int n = d->n_cell_types + (extra != NULL);
    for (int k = 0; k < d->n_cell_types; k++)
        list_add(out, len, k, n, d->cell_types[k].name);
    if (extra)
        list_add(out, len, n - 1, n, extra);
}

ct_status ct_model_json(const ct_model_desc *d, const char *cell_type, char *out, size_t len)
{
    int n = d->n_cell_types > 0 && cell_type
                ? snprintf(out, len, "{\"name\": \"%s\", \"cell_type\": \"%s\"}", d->name, cell_type)
                : snprintf(out, len, "{\"name\": \"%s\"}", d->name);
    if (n < 0 || (size_t)n >= len)
        return ct_error_set(CT_ERR_CONFIG, "model %s, cell type \"%s\": the model description does not fit in %zu bytes",
                            d->name, cell_type ? cell_type : "", len);
    return CT_OK;
}
