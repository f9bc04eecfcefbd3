/* ct_study.h — `cardiotwin induce` and `cardiotwin ablate`: programmed stimulation from many sites, before
 * and after planned lesions, and the risk report.
 *
 * Input: a patient file (personalised first, into OUT/model/) or a simulation configuration. Sites: the
 * patient's default ones (OUT/model/sites.json: one per LV AHA segment and the RV apex), a sites file, or
 * --site options. Each site is an independent run (ct_induce.h); up to `jobs` run at once in child
 * processes. Every finished site is kept in OUT/<phase>/site-NN.json at once, so a rerun of the same
 * command skips the sites already done (same protocol, model and lesions) — an interrupted study resumes.
 * Faults: a site whose trial fails (its simulation errs, its process crashes or is killed) is stored and
 * reported as "failed" with the reason (never as not inducible), is run again by a rerun, and makes
 * ct_study_run return an error naming every failed site once the report is written. For tests only,
 * CARDIOTWIN_TEST_CRASH_SITE=NAME makes the process that runs site NAME kill itself (SIGKILL) before its
 * simulation: a crashed worker with jobs > 1, a killed study with jobs 1.
 * Output:
 *   OUT/baseline/        the configuration's own run (activation, APD, ECG; see ct_output.h)
 *   OUT/induction/       per-site results before ablation;  OUT/ablated/ the same with the lesions
 *   OUT/report.json      everything the report shows;  OUT/surface.json the surface maps it draws
 *   OUT/report.html      the self-contained risk report, with ecg.png, activation.png, apd90.png
 *                        (drawn by tools/ct_report.py with matplotlib)
 */
#ifndef CT_STUDY_H
#define CT_STUDY_H

#include "ct_induce.h"
#include "ct_lesion.h"

#define CT_STUDY_MAX_SITES 64

typedef struct ct_study_options {
    const char *input;                /* patient or configuration JSON */
    const char *out_dir;
    const char *backend;              /* "auto", "cpu", "opencl", "cuda" */
    ct_induce_protocol protocol;
    const char *sites_file;           /* NULL: the personalised model's sites.json (or the config's folder's) */
    int n_sites;                      /* sites given on the command line (added to the file's) */
    ct_induce_site sites[CT_STUDY_MAX_SITES];
    const char *only;                 /* NULL, or a comma-separated list of site names to keep */
    int jobs;                         /* sites at once (child processes); 0: one per two cores, at most 8 */
    int n_lesions;                    /* > 0: ablate: induction before and after these lesions */
    ct_lesion lesions[CT_CONFIG_MAX_LESIONS];
    int baseline;                     /* 1: run the configuration's own stimuli first (ECG, maps) */
    int plan_rounds;                  /* > 0: `cardiotwin plan`: propose lesions and re-test, at most this many
                                         rounds (ct_plan.h); the lesions above are the user's, kept */
    int prescreen_top;                /* > 0 (plan): rank the sites with the pre-screen, run only the top K
                                         (ct_plan_prescreen) */
    int quiet;
} ct_study_options;

void ct_study_options_defaults(ct_study_options *o);

/* Runs the whole study. A failed site is reported in its place (and in the report); the study goes on.
 * Returns an error when nothing useful could be done (bad input, no site), the report could not be made, or
 * (after writing the report) some site's trial failed: then the first failure's code, and a message that
 * names each failed site, its phase and its reason. */
ct_status ct_study_run(const ct_study_options *o);

/* The error ct_study_run returns when sites failed, from the report's summary.failed_sites: the first failure's
 * code (CT_ERR_INTERNAL where its "error" is missing or unknown) and a message naming each failed site, its
 * phase and reason; a member missing from an entry is named as missing, never read through NULL. */
struct cJSON;
ct_status ct_study_failed_sites_error(const struct cJSON *report, const char *out_dir);

/* One phase of a study: runs every site of sites[0..n_sites) whose result in dir (site-NN.json, NN its index
 * here) is not current for cfg (its lesions) and o's protocol, up to `jobs` at once (child processes when
 * jobs > 1). surface (borrowed): the study's (ct_study_report.h), made from cfg's mesh; an induced VT's
 * activation map lists its values at those nodes. A site's failure is stored as its result; errors: dir cannot
 * be made, a worker cannot start. */
struct ct_study_surface;
ct_status ct_study_run_sites(const ct_study_options *o, const char *config_path, const ct_config *cfg,
                             const ct_backend_ops *be, const struct ct_study_surface *surface,
                             const ct_induce_site *sites, int n_sites, const char *dir, int jobs);

/* The resolution of the ERP bisection of a study's sites (ct_induce_extras): ci_step_ms / 8 (ms; the
 * bisection stops at one time step in any case). */
double ct_study_erp_resolution_ms(const ct_induce_protocol *p);

/* Parses "NAME:x,y,z" (mm) into a site. */
ct_status ct_study_parse_site(const char *spec, ct_induce_site *out);

/* Draws a pseudo-ECG CSV as a PNG with tools/ct_report.py (python3 + matplotlib). */
ct_status ct_study_plot_ecg(const char *csv_path, const char *png_path);

#endif /* CT_STUDY_H */
