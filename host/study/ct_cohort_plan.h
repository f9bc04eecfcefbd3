/* ct_cohort_plan.h — what a cohort is made of (ct_cohort.h): COHORT.json read and checked, its members'
 * configurations loaded, and the runs expanded, each with its id, its own configuration (JSON text) and the
 * hash that says whether an earlier result is still current. Used by ct_cohort.c; nothing here runs a
 * simulation or writes a run folder.
 */
#ifndef CT_COHORT_PLAN_H
#define CT_COHORT_PLAN_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/ct_status.h"

#define CT_COHORT_NAME_LEN 64 /* member, drug and pacing names: [A-Za-z0-9._-], not starting with '.' */
#define CT_COHORT_ID_LEN 240  /* a run id is a folder name */
#define CT_COHORT_MAX_RUNS 100000

typedef struct ct_cohort_member {
    char name[CT_COHORT_NAME_LEN];
    char source[4096];         /* the configuration or patient file, resolved against the cohort file */
    int is_patient;
    char config_path[4096];    /* the configuration its runs start from (a patient's models/<name>/model.json) */
    char model_name[64];       /* model.name, "tp06" ... (as far as can be known before loading) */
    cJSON *config;             /* owned: the loaded configuration, mesh.path made absolute; NULL until expand */
    uint64_t mesh_hash;        /* FNV-1a of a mesh file's bytes; 0 for a generated box */
} ct_cohort_member;

typedef struct ct_cohort_drug {
    char name[CT_COHORT_NAME_LEN];
    const cJSON *scales;       /* borrowed from the plan's spec: factors on model.conductance_scales; NULL: none */
} ct_cohort_drug;

typedef struct ct_cohort_pacing {
    char name[CT_COHORT_NAME_LEN];
    double period_ms;
    long count;
    double end_time_ms;        /* > 0: this pacing's end time; 0: the member's (or the end_time_ms axis) */
} ct_cohort_pacing;

/* One run. Axis indices are -1 where the cohort has no such axis. */
typedef struct ct_cohort_run_spec {
    char id[CT_COHORT_ID_LEN];
    int member, drug, pacing, end_time, dt;
    char *config_text;         /* owned: the run's configuration, JSON */
    char hash[17];             /* hex FNV-1a 64 of config_text and the mesh file's hash */
    long max_beats;            /* of the run's configuration */
} ct_cohort_run_spec;

typedef struct ct_cohort_plan {
    char path[4096];           /* COHORT.json */
    cJSON *spec;               /* owned: its parsed text */
    int n_members;
    ct_cohort_member *members;
    int n_drugs;               /* 0: no drug axis */
    ct_cohort_drug *drugs;
    int n_pacings;
    ct_cohort_pacing *pacings;
    int n_end_times;
    double *end_times_ms;
    int n_dts;
    double *dts_ms;
    int n_runs;
    ct_cohort_run_spec *runs;  /* sorted by id (strcmp) */
} ct_cohort_plan;

/* Reads and checks COHORT.json and its members' files (patients with ct_patient_check), and that every
 * variation applies to every member; writes nothing. Caller owns *out (ct_cohort_plan_destroy). */
ct_status ct_cohort_plan_read(const char *cohort_path, ct_cohort_plan **out);

/* Personalises each patient member into OUT/models/<name>/, unless it was already personalised there from
 * the same patient file (same bytes). */
ct_status ct_cohort_plan_personalise(const ct_cohort_plan *p, const char *out_dir, int quiet);

/* Loads every member's configuration (a patient's from OUT/models/<name>/model.json) and builds every run:
 * its id, its configuration, its hash. Every run's configuration is parsed by ct_config_parse here, so a
 * variation that makes one invalid fails the whole cohort before anything runs. */
ct_status ct_cohort_plan_expand(ct_cohort_plan *p, const char *out_dir);

void ct_cohort_plan_destroy(ct_cohort_plan *p);

#endif /* CT_COHORT_PLAN_H */
