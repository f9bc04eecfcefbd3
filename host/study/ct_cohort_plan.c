/* ct_cohort_plan.c — COHORT.json read and checked, members loaded, runs expanded (ct_cohort_plan.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "ct_cohort_plan.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/ct_checkpoint.h"
#include "sim/ct_config.h"
#include "core/ct_files.h"
#include "core/ct_hash.h"
#include "core/ct_json.h"
#include "model/ct_model_desc.h"
#include "personalise/ct_patient.h"

/* ---- small helpers --------------------------------------------------------------------------------- */

/* A name that can be a folder name and part of a run id: [A-Za-z0-9._-], not starting with '.'. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CT_COHORT_NAME_LEN || s[0] == '.')
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '_' || *c == '-'))
            return 0;
    return 1;
}

/* The file name of path without its folder and without a ".json" ending. */
static void stem_of(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".json") == 0)
        n -= 5;
    snprintf(out, len, "%.*s", (int)n, base);
}

static ct_status load_json(const char *path, cJSON **root)
{
    char *text;
    CT_CHECK(ct_json_read_file(path, &text));
    ct_status st = ct_json_parse(text, path, root);
    free(text);
    return st;
}

/* obj[key] = v, replacing what was there. */
static ct_status set_number(cJSON *obj, const char *key, double v)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (!n)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    if (cJSON_HasObjectItem(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, n);
    else
        cJSON_AddItemToObject(obj, key, n);
    return CT_OK;
}

/* An array of numbers > 0 at spec.variations[key], into a new array *out (count *n; absent: 0). */
static ct_status read_numbers(const cJSON *var, const char *key, const char *src, double **out, int *n)
{
    *out = NULL;
    *n = 0;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(var, key);
    if (!arr)
        return CT_OK;
    int k = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || k == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: variations.%s must be a non-empty array of numbers", src, key);
    *out = calloc((size_t)k, sizeof **out);
    if (!*out)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < k; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || !(e->valuedouble > 0))
            return ct_error_set(CT_ERR_CONFIG, "%s: variations.%s[%d] must be a number > 0", src, key, i);
        for (int j = 0; j < i; j++)
            if ((*out)[j] == e->valuedouble)
                return ct_error_set(CT_ERR_CONFIG, "%s: variations.%s[%d] = %g is given twice", src, key, i,
                                    e->valuedouble);
        (*out)[i] = e->valuedouble;
    }
    *n = k;
    return CT_OK;
}

/* ---- reading COHORT.json ------------------------------------------------------------------------------ */

static ct_status read_member(ct_cohort_plan *p, const cJSON *o, int i, ct_cohort_member *m)
{
    const char *src = p->path;
    char where[48];
    snprintf(where, sizeof where, "members[%d]", i);
    if (!cJSON_IsObject(o))
        return ct_error_set(CT_ERR_CONFIG, "%s: %s must be an object", src, where);
    static const char *const keys[] = {"name", "config", "patient", NULL};
    CT_CHECK(ct_json_known_keys(o, keys, src, where));
    const char *config = NULL, *patient = NULL, *name = NULL;
    CT_CHECK(ct_json_string(o, "config", 0, src, where, &config));
    CT_CHECK(ct_json_string(o, "patient", 0, src, where, &patient));
    CT_CHECK(ct_json_string(o, "name", 0, src, where, &name));
    if (!config == !patient)
        return ct_error_set(CT_ERR_CONFIG, "%s: %s: give either \"config\" (a simulation configuration) or "
                            "\"patient\" (a patient file), not both or neither", src, where);
    m->is_patient = patient != NULL;
    CT_CHECK(ct_path_relative_to(m->source, sizeof m->source, src, m->is_patient ? patient : config));
    if (name)
        snprintf(m->name, sizeof m->name, "%s", name);
    else
        stem_of(m->source, m->name, sizeof m->name);
    if (!valid_name(m->name))
        return ct_error_set(CT_ERR_CONFIG,
                            "%s: %s: member name \"%s\" is not usable in a folder name (1-%d characters of "
                            "A-Z a-z 0-9 . _ -, not starting with '.'; set \"name\")",
                            src, where, m->name, CT_COHORT_NAME_LEN - 1);
    for (int j = 0; j < i; j++)
        if (strcmp(p->members[j].name, m->name) == 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: %s: member name \"%s\" is used twice (set \"name\")", src, where,
                                m->name);
    /* what the variations need to know of the member before anything is built */
    cJSON *root;
    ct_status st = load_json(m->source, &root);
    if (st != CT_OK) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ct_error_message());
        return ct_error_set(st, "%s: %s: %s", src, where, msg);
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *mname = cJSON_GetObjectItemCaseSensitive(model, "name");
    if (m->is_patient) {
        char *text = cJSON_PrintUnformatted(root);
        st = text ? ct_patient_check(text, m->source) : ct_error_set(CT_ERR_NOMEM, "out of memory");
        cJSON_free(text);
        snprintf(m->model_name, sizeof m->model_name, "%s",
                 cJSON_IsString(mname) ? mname->valuestring : ct_model_default()->name); /* as ct_patient's */
    } else {
        snprintf(m->model_name, sizeof m->model_name, "%s", cJSON_IsString(mname) ? mname->valuestring : "");
        m->config = root; /* kept: loaded again at expand for patients only */
        root = NULL;
    }
    cJSON_Delete(root);
    return st;
}

static ct_status read_drugs(ct_cohort_plan *p, const cJSON *var)
{
    const char *src = p->path;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(var, "drug");
    if (!arr)
        return CT_OK;
    int n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: variations.drug must be a non-empty array", src);
    p->drugs = calloc((size_t)n, sizeof *p->drugs);
    if (!p->drugs)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    static const char *const keys[] = {"name", "conductance_scales", NULL};
    for (int i = 0; i < n; i++) {
        const cJSON *o;
        char where[48];
        CT_CHECK(ct_json_array_item(arr, i, "variations.drug", keys, src, where, sizeof where, &o));
        const char *name = NULL;
        CT_CHECK(ct_json_string(o, "name", 1, src, where, &name));
        ct_cohort_drug *d = &p->drugs[i];
        snprintf(d->name, sizeof d->name, "%s", name);
        if (!valid_name(name))
            return ct_error_set(CT_ERR_CONFIG, "%s: %s.name \"%s\" is not usable in a run id (1-%d characters of "
                                "A-Z a-z 0-9 . _ -, not starting with '.')", src, where, name, CT_COHORT_NAME_LEN - 1);
        for (int j = 0; j < i; j++)
            if (strcmp(p->drugs[j].name, name) == 0)
                return ct_error_set(CT_ERR_CONFIG, "%s: %s.name \"%s\" is used twice", src, where, name);
        CT_CHECK(ct_json_object(o, "conductance_scales", 0, src, where, &d->scales));
        for (const cJSON *s = d->scales ? d->scales->child : NULL; s; s = s->next) {
            if (!cJSON_IsNumber(s) || !isfinite(s->valuedouble) || s->valuedouble < 0)
                return ct_error_set(CT_ERR_CONFIG, "%s: %s.conductance_scales.%s must be a number >= 0 (a factor "
                                    "on the member's own scale)", src, where, s->string);
            for (const cJSON *t = d->scales->child; t != s; t = t->next)
                if (strcmp(t->string, s->string) == 0)
                    return ct_error_set(CT_ERR_CONFIG, "%s: duplicate key \"%s.conductance_scales.%s\"", src, where,
                                        s->string);
        }
        if (d->scales && !d->scales->child)
            d->scales = NULL;
        p->n_drugs = i + 1;
    }
    return CT_OK;
}

static ct_status read_pacings(ct_cohort_plan *p, const cJSON *var)
{
    const char *src = p->path;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(var, "pacing");
    if (!arr)
        return CT_OK;
    int n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: variations.pacing must be a non-empty array", src);
    p->pacings = calloc((size_t)n, sizeof *p->pacings);
    if (!p->pacings)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    static const char *const keys[] = {"name", "period_ms", "count", "end_time_ms", NULL};
    for (int i = 0; i < n; i++) {
        const cJSON *o;
        char where[48];
        CT_CHECK(ct_json_array_item(arr, i, "variations.pacing", keys, src, where, sizeof where, &o));
        ct_cohort_pacing *pc = &p->pacings[i];
        CT_CHECK(ct_json_number(o, "period_ms", 1, 1e-3, 1e7, src, where, &pc->period_ms));
        CT_CHECK(ct_json_int(o, "count", 1, 1, 1000000, src, where, &pc->count));
        CT_CHECK(ct_json_number(o, "end_time_ms", 0, 1e-6, 1e7, src, where, &pc->end_time_ms));
        const char *name = NULL;
        CT_CHECK(ct_json_string(o, "name", 0, src, where, &name));
        if (name)
            snprintf(pc->name, sizeof pc->name, "%s", name);
        else
            snprintf(pc->name, sizeof pc->name, "bcl%gx%ld", pc->period_ms, pc->count);
        if (!valid_name(pc->name))
            return ct_error_set(CT_ERR_CONFIG, "%s: %s: name \"%s\" is not usable in a run id (1-%d characters of "
                                "A-Z a-z 0-9 . _ -, not starting with '.')", src, where, pc->name,
                                CT_COHORT_NAME_LEN - 1);
        for (int j = 0; j < i; j++)
            if (strcmp(p->pacings[j].name, pc->name) == 0)
                return ct_error_set(CT_ERR_CONFIG, "%s: %s: name \"%s\" is used twice (give each pacing a "
                                    "different \"name\")", src, where, pc->name);
        p->n_pacings = i + 1;
    }
    return CT_OK;
}

/* Whether every variation applies to member m; the message names the variation and the member. */
static ct_status check_applies(const ct_cohort_plan *p, const ct_cohort_member *m, int n_stimuli)
{
    const ct_model_desc *md = ct_model_find(m->model_name);
    for (int d = 0; d < p->n_drugs; d++)
        if (p->drugs[d].scales && !(md && md->n_scales)) {
            char labels[256];
            ct_model_names(labels, sizeof labels, CT_MODEL_WITH_SCALES, 1);
            return ct_error_set(CT_ERR_CONFIG,
                                "%s: variations.drug[%d] (\"%s\") does not apply to member \"%s\" (%s): its "
                                "conductance_scales are %s conductances and this member's model is %s",
                                p->path, d, p->drugs[d].name, m->name, m->source, labels,
                                m->model_name[0] ? m->model_name : "not named");
        }
    if (p->n_pacings > 0 && n_stimuli == 0)
        return ct_error_set(CT_ERR_CONFIG,
                            "%s: variations.pacing does not apply to member \"%s\" (%s): it has no stimuli to pace",
                            p->path, m->name, m->source);
    return CT_OK;
}

static int count_stimuli(const cJSON *config)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(config, "stimuli"));
}

ct_status ct_cohort_plan_read(const char *cohort_path, ct_cohort_plan **out)
{
    *out = NULL;
    ct_cohort_plan *p = calloc(1, sizeof *p);
    if (!p)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    snprintf(p->path, sizeof p->path, "%s", cohort_path);
    const char *src = p->path;
    ct_status st = load_json(src, &p->spec);
    static const char *const keys[] = {"description", "members", "variations", NULL};
    if (st == CT_OK)
        st = ct_json_known_keys(p->spec, keys, src, "");
    const cJSON *members = cJSON_GetObjectItemCaseSensitive(p->spec, "members");
    const char *description = NULL;
    if (st == CT_OK)
        st = ct_json_string(p->spec, "description", 0, src, "", &description);
    if (st == CT_OK && (!cJSON_IsArray(members) || cJSON_GetArraySize(members) == 0))
        st = ct_error_set(CT_ERR_CONFIG, "%s: %s", src,
                          members ? "\"members\" must be a non-empty array" : "missing required key \"members\"");
    int n = st == CT_OK ? cJSON_GetArraySize(members) : 0;
    if (st == CT_OK && !(p->members = calloc((size_t)n, sizeof *p->members)))
        st = ct_error_set(CT_ERR_NOMEM, "out of memory");
    for (int i = 0; st == CT_OK && i < n; i++) {
        st = read_member(p, cJSON_GetArrayItem(members, i), i, &p->members[i]);
        p->n_members = i + 1;
    }
    const cJSON *var = NULL;
    if (st == CT_OK)
        st = ct_json_object(p->spec, "variations", 0, src, "", &var);
    static const char *const vkeys[] = {"drug", "pacing", "end_time_ms", "dt_ms", NULL};
    if (st == CT_OK && var)
        st = ct_json_known_keys(var, vkeys, src, "variations");
    if (st == CT_OK && var)
        st = read_drugs(p, var);
    if (st == CT_OK && var)
        st = read_pacings(p, var);
    if (st == CT_OK && var)
        st = read_numbers(var, "end_time_ms", src, &p->end_times_ms, &p->n_end_times);
    if (st == CT_OK && var)
        st = read_numbers(var, "dt_ms", src, &p->dts_ms, &p->n_dts);
    for (int k = 0; st == CT_OK && k < p->n_pacings; k++)
        if (p->pacings[k].end_time_ms > 0 && p->n_end_times > 0)
            st = ct_error_set(CT_ERR_CONFIG,
                              "%s: variations.pacing[%d].end_time_ms and variations.end_time_ms both set the end "
                              "time: give one of them",
                              src, k);
    /* every variation must apply to every member (a patient paces from its "pacing" sites) */
    for (int i = 0; st == CT_OK && i < p->n_members; i++) {
        const ct_cohort_member *m = &p->members[i];
        st = check_applies(p, m, m->is_patient ? 1 : count_stimuli(m->config));
    }
    if (st == CT_OK) {
        double n_runs = (double)p->n_members * (p->n_drugs ? p->n_drugs : 1) * (p->n_pacings ? p->n_pacings : 1) *
                        (p->n_end_times ? p->n_end_times : 1) * (p->n_dts ? p->n_dts : 1);
        if (n_runs > CT_COHORT_MAX_RUNS)
            st = ct_error_set(CT_ERR_CONFIG, "%s: %.0f runs; at most %d are supported", src, n_runs,
                              CT_COHORT_MAX_RUNS);
    }
    if (st != CT_OK) {
        ct_cohort_plan_destroy(p);
        return st;
    }
    *out = p;
    return CT_OK;
}

/* ---- patients ------------------------------------------------------------------------------------------ */

static ct_status model_dir(const char *out_dir, const ct_cohort_member *m, char *dir, size_t len)
{
    char models[4096];
    CT_CHECK(ct_path_join(models, sizeof models, out_dir, "models"));
    return ct_path_join(dir, len, models, m->name);
}

/* The stamp left beside a personalised model: which patient file (and which bytes) it was made from. */
static ct_status patient_stamp(const ct_cohort_member *m, char **text)
{
    uint64_t h;
    CT_CHECK(ct_checkpoint_hash_file(m->source, &h));
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "patient", m->source);
    cJSON_AddStringToObject(o, "patient_fnv1a64", hex);
    *text = cJSON_Print(o);
    cJSON_Delete(o);
    return *text ? CT_OK : ct_error_set(CT_ERR_NOMEM, "out of memory");
}

ct_status ct_cohort_plan_personalise(const ct_cohort_plan *p, const char *out_dir, int quiet)
{
    for (int i = 0; i < p->n_members; i++) {
        const ct_cohort_member *m = &p->members[i];
        if (!m->is_patient)
            continue;
        char dir[4096], stamp_path[4096], model_path[4096], *stamp = NULL, *old = NULL;
        CT_CHECK(model_dir(out_dir, m, dir, sizeof dir));
        CT_CHECK(ct_path_join(stamp_path, sizeof stamp_path, dir, "cohort_patient.json"));
        CT_CHECK(ct_path_join(model_path, sizeof model_path, dir, "model.json"));
        CT_CHECK(patient_stamp(m, &stamp));
        struct stat sb;
        int current = stat(model_path, &sb) == 0 && ct_read_file(stamp_path, &old, NULL) == CT_OK &&
                      strcmp(old, stamp) == 0;
        free(old);
        ct_status st = CT_OK;
        if (current) {
            if (!quiet)
                fprintf(stderr, "cardiotwin: member %s: already personalised in %s\n", m->name, dir);
        } else {
            if (!quiet)
                fprintf(stderr, "cardiotwin: member %s: personalising %s into %s\n", m->name, m->source, dir);
            st = ct_personalise(m->source, dir, quiet);
            if (st == CT_OK) /* after the model: a kill in between personalises again */
                st = ct_write_file_atomic(stamp_path, stamp, strlen(stamp));
        }
        cJSON_free(stamp);
        CT_CHECK(st);
    }
    return CT_OK;
}

/* ---- expanding the runs ---------------------------------------------------------------------------------- */

/* Loads a patient's personalised configuration; for every member, makes a file mesh's path absolute (so a
 * run's config.json runs from anywhere) and hashes the mesh file. */
static ct_status load_member(ct_cohort_plan *p, ct_cohort_member *m, const char *out_dir)
{
    if (m->is_patient) {
        char dir[4096];
        CT_CHECK(model_dir(out_dir, m, dir, sizeof dir));
        CT_CHECK(ct_path_join(m->config_path, sizeof m->config_path, dir, "model.json"));
        cJSON_Delete(m->config);
        m->config = NULL;
        CT_CHECK(load_json(m->config_path, &m->config));
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(m->config, "model");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(model, "name");
        snprintf(m->model_name, sizeof m->model_name, "%s", cJSON_IsString(name) ? name->valuestring : "");
        CT_CHECK(check_applies(p, m, count_stimuli(m->config)));
    } else {
        snprintf(m->config_path, sizeof m->config_path, "%s", m->source);
    }
    m->mesh_hash = 0;
    cJSON *mesh = cJSON_GetObjectItemCaseSensitive(m->config, "mesh");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(mesh, "type");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(mesh, "path");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "file") != 0 || !cJSON_IsString(path))
        return CT_OK; /* a box, or a mistake ct_config_parse names */
    char rel[4096], abs[PATH_MAX];
    CT_CHECK(ct_path_relative_to(rel, sizeof rel, m->config_path, path->valuestring));
    if (!realpath(rel, abs))
        return ct_error_set(CT_ERR_IO, "%s: mesh.path: %s: %s (member \"%s\" of %s)", m->config_path, rel,
                            strerror(errno), m->name, p->path);
    CT_CHECK(ct_checkpoint_hash_file(abs, &m->mesh_hash));
    cJSON *s = cJSON_CreateString(abs);
    if (!s)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    cJSON_ReplaceItemInObjectCaseSensitive(mesh, "path", s);
    return CT_OK;
}

static void make_id(const ct_cohort_plan *p, ct_cohort_run_spec *r)
{
    int k = snprintf(r->id, sizeof r->id, "%s", p->members[r->member].name);
    char label[96];
    for (int axis = 0; axis < 4; axis++) {
        label[0] = '\0';
        if (axis == 0 && r->drug >= 0)
            snprintf(label, sizeof label, "%s", p->drugs[r->drug].name);
        else if (axis == 1 && r->pacing >= 0)
            snprintf(label, sizeof label, "%s", p->pacings[r->pacing].name);
        else if (axis == 2 && r->end_time >= 0)
            snprintf(label, sizeof label, "t%gms", p->end_times_ms[r->end_time]);
        else if (axis == 3 && r->dt >= 0)
            snprintf(label, sizeof label, "dt%gms", p->dts_ms[r->dt]);
        if (label[0] && k >= 0 && (size_t)k < sizeof r->id)
            k += snprintf(r->id + k, sizeof r->id - (size_t)k, "__%s", label);
    }
}

/* The run's configuration: the member's, with the run's variations written into it. */
static ct_status build_config(const ct_cohort_plan *p, ct_cohort_run_spec *r, cJSON **out)
{
    const ct_cohort_member *m = &p->members[r->member];
    cJSON *c = cJSON_Duplicate(m->config, 1);
    if (!c)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    ct_status st = CT_OK;
    if (r->drug >= 0 && p->drugs[r->drug].scales) {
        /* drug block multiplies the member's own scales (remodelling stays, the drug acts on top) */
        cJSON *model = cJSON_GetObjectItemCaseSensitive(c, "model");
        cJSON *sc = cJSON_GetObjectItemCaseSensitive(model, "conductance_scales");
        if (!sc && cJSON_IsObject(model))
            sc = cJSON_AddObjectToObject(model, "conductance_scales");
        for (const cJSON *f = p->drugs[r->drug].scales->child; st == CT_OK && f && cJSON_IsObject(sc); f = f->next) {
            const cJSON *own = cJSON_GetObjectItemCaseSensitive(sc, f->string);
            double base = cJSON_IsNumber(own) ? own->valuedouble : 1.0;
            st = set_number(sc, f->string, base * f->valuedouble);
        }
    }
    if (st == CT_OK && r->pacing >= 0) {
        const ct_cohort_pacing *pc = &p->pacings[r->pacing];
        cJSON *stim;
        cJSON_ArrayForEach(stim, cJSON_GetObjectItemCaseSensitive(c, "stimuli"))
        {
            if (st == CT_OK && cJSON_IsObject(stim))
                st = set_number(stim, "period_ms", pc->period_ms);
            if (st == CT_OK && cJSON_IsObject(stim))
                st = set_number(stim, "count", (double)pc->count);
        }
        if (st == CT_OK && pc->end_time_ms > 0)
            st = set_number(c, "end_time_ms", pc->end_time_ms);
    }
    if (st == CT_OK && r->end_time >= 0)
        st = set_number(c, "end_time_ms", p->end_times_ms[r->end_time]);
    if (st == CT_OK && r->dt >= 0)
        st = set_number(c, "dt_ms", p->dts_ms[r->dt]);
    /* track every beat the stimuli deliver (at least one), for the APD90 of the first and the last beat */
    long pulses = 0;
    const cJSON *stim;
    cJSON_ArrayForEach(stim, cJSON_GetObjectItemCaseSensitive(c, "stimuli"))
    {
        const cJSON *count = cJSON_GetObjectItemCaseSensitive(stim, "count");
        int valid = cJSON_IsNumber(count) && count->valuedouble >= 1 && count->valuedouble <= 1e6;
        pulses += valid ? (long)count->valuedouble : 1;
    }
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(c, "max_beats");
    long beats = cJSON_IsNumber(mb) && mb->valuedouble >= 0 && mb->valuedouble <= 1000 ? (long)mb->valuedouble : 0;
    if (pulses > beats)
        beats = pulses < 1000 ? pulses : 1000;
    if (beats < 1)
        beats = 1;
    r->max_beats = beats;
    if (st == CT_OK && (!cJSON_IsNumber(mb) || mb->valuedouble < (double)beats))
        st = set_number(c, "max_beats", (double)beats);
    if (st != CT_OK) {
        cJSON_Delete(c);
        return st;
    }
    *out = c;
    return CT_OK;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const ct_cohort_run_spec *)a)->id, ((const ct_cohort_run_spec *)b)->id);
}

/* What the run varies, for messages: "member slab, drug dofetilide, pacing bcl500x3". */
static void describe(const ct_cohort_plan *p, const ct_cohort_run_spec *r, char *out, size_t len)
{
    int k = snprintf(out, len, "member %s", p->members[r->member].name);
    if (r->drug >= 0 && k > 0 && (size_t)k < len)
        k += snprintf(out + k, len - (size_t)k, ", drug %s", p->drugs[r->drug].name);
    if (r->pacing >= 0 && k > 0 && (size_t)k < len)
        k += snprintf(out + k, len - (size_t)k, ", pacing %s", p->pacings[r->pacing].name);
    if (r->end_time >= 0 && k > 0 && (size_t)k < len)
        k += snprintf(out + k, len - (size_t)k, ", end_time_ms %g", p->end_times_ms[r->end_time]);
    if (r->dt >= 0 && k > 0 && (size_t)k < len)
        snprintf(out + k, len - (size_t)k, ", dt_ms %g", p->dts_ms[r->dt]);
}

static ct_status expand_run(ct_cohort_plan *p, ct_cohort_run_spec *r)
{
    make_id(p, r);
    char what[512];
    describe(p, r, what, sizeof what);
    if (strlen(r->id) + 1 >= sizeof r->id)
        return ct_error_set(CT_ERR_CONFIG, "%s: the run id of (%s) is longer than %d characters: use shorter names",
                            p->path, what, CT_COHORT_ID_LEN - 2);
    cJSON *c = NULL;
    CT_CHECK(build_config(p, r, &c));
    r->config_text = cJSON_Print(c);
    cJSON_Delete(c);
    if (!r->config_text)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    const ct_cohort_member *m = &p->members[r->member];
    uint64_t h = ct_fnv1a64(CT_FNV1A64_OFFSET, r->config_text, strlen(r->config_text));
    h = ct_fnv1a64(h, &m->mesh_hash, sizeof m->mesh_hash);
    snprintf(r->hash, sizeof r->hash, "%016llx", (unsigned long long)h);
    /* every check a configuration gets, now, before any run starts */
    ct_config cfg;
    if (ct_config_parse(r->config_text, m->config_path, &cfg) != CT_OK) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", ct_error_message());
        return ct_error_set(CT_ERR_CONFIG, "%s: run %s (%s): %s", p->path, r->id, what, msg);
    }
    ct_config_free(&cfg);
    return CT_OK;
}

ct_status ct_cohort_plan_expand(ct_cohort_plan *p, const char *out_dir)
{
    for (int i = 0; i < p->n_members; i++)
        CT_CHECK(load_member(p, &p->members[i], out_dir));
    int nd = p->n_drugs ? p->n_drugs : 1, np = p->n_pacings ? p->n_pacings : 1;
    int ne = p->n_end_times ? p->n_end_times : 1, nt = p->n_dts ? p->n_dts : 1;
    int total = p->n_members * nd * np * ne * nt;
    p->runs = calloc((size_t)total, sizeof *p->runs);
    if (!p->runs)
        return ct_error_set(CT_ERR_NOMEM, "out of memory for %d runs", total);
    for (int m = 0; m < p->n_members; m++)
        for (int d = 0; d < nd; d++)
            for (int pc = 0; pc < np; pc++)
                for (int e = 0; e < ne; e++)
                    for (int t = 0; t < nt; t++) {
                        ct_cohort_run_spec *r = &p->runs[p->n_runs++];
                        *r = (ct_cohort_run_spec){.member = m,
                                                  .drug = p->n_drugs ? d : -1,
                                                  .pacing = p->n_pacings ? pc : -1,
                                                  .end_time = p->n_end_times ? e : -1,
                                                  .dt = p->n_dts ? t : -1};
                        CT_CHECK(expand_run(p, r));
                    }
    qsort(p->runs, (size_t)p->n_runs, sizeof *p->runs, by_id);
    for (int k = 1; k < p->n_runs; k++)
        if (strcmp(p->runs[k - 1].id, p->runs[k].id) == 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: two runs have the same id \"%s\": rename a member or variation",
                                p->path, p->runs[k].id);
    return CT_OK;
}

void ct_cohort_plan_destroy(ct_cohort_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_members; i++)
        cJSON_Delete(p->members[i].config);
    for (int k = 0; k < p->n_runs; k++)
        cJSON_free(p->runs[k].config_text);
    free(p->members);
    free(p->drugs);
    free(p->pacings);
    free(p->end_times_ms);
    free(p->dts_ms);
    free(p->runs);
    cJSON_Delete(p->spec);
    free(p);
}
