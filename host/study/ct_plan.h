/* ct_plan.h — `cardiotwin plan`: virtual ablation planning. From the circuits of the re-entries that a
 * study induced (ct_circuit.h), propose the lesion that transects each isthmus, apply it, re-test, repeat.
 *
 * Round 0 is the study's induction from every site (OUT/induction/). While some site induces re-entry and
 * fewer than max_rounds rounds have run: the circuit of every inducing site's latest result gives a line
 * lesion (coinciding proposals, both ends within two radii of an earlier one's, are kept once); round K
 * (OUT/round-K/) re-runs the protocol, with the user's lesions and every lesion proposed so far, from each
 * site that induced in its latest run and each site within 10 mm of a new lesion. It stops when no site
 * induces, when no new lesion can be proposed (a circuit around no obstacle, or the same lesion again), or
 * after max_rounds. Each round is an ordinary study phase (ct_study_run_sites: child processes, resumable
 * site-NN.json files keyed by the lesions, failed sites reported). The user's own lesions (--lesion) are
 * applied from round 1 on, with the proposed ones; round 0 is the untreated model.
 * report.json gains "plan" (rounds, circuits, proposed lesions, outcome) and "ablation" (all lesions, each
 * site before and at its last re-test), so the maps draw the lesions.
 */
#ifndef CT_PLAN_H
#define CT_PLAN_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "ct_study.h"

#define CT_PLAN_SITE_RADIUS_MM 10.0   /* sites this near a new lesion are re-tested */

/* The plan's rounds (o->plan_rounds > 0). cfg: the untreated model; treated: cfg with the user's lesions
 * (o->lesions); surface: the study's (borrowed; ct_study_run_sites); before: round 0's site results (array of
 * n_sites). Adds "plan" and "ablation" to report
 * (or "ablation": null when nothing was inducible). *n_lesions: lesions applied in the end (user + proposed),
 * *n_after: sites inducible at their last test. Errors: a round that could not run (the sites' own failures
 * are results, reported), too many lesions. */
ct_status ct_plan_run(const ct_study_options *o, const char *config_path, const ct_config *cfg,
                      const ct_config *treated, const ct_backend_ops *be, const struct ct_study_surface *surface,
                      const ct_induce_site *sites, int n_sites, int jobs, const cJSON *before, cJSON *report,
                      int *n_lesions, int *n_after);

/* ---- the pre-screen before the plan (--prescreen-top K) ---- */

/* Ranks sites[0..*n_sites) with the pre-screen (ct_prescreen.h: the untreated cfg, protocol p, calibrated on the
 * CPU backend so that no device is opened before the site workers fork) and keeps the top_k of the ranking in
 * sites[] (in their given order; *n_sites becomes the number kept). A site the pre-screen cannot run (e.g. its
 * sphere holds no conducting node) is kept too, so that the full protocol reports its failure. Adds
 * "prescreen" to report (top_k, wall time, every site's rank, score, prediction and whether it was run or
 * screened out) and writes out_dir/prescreen.json. Errors: the pre-screen model cannot be built, out of memory. */
ct_status ct_plan_prescreen(const ct_config *cfg, const ct_induce_protocol *p, int top_k, const char *out_dir,
                            int quiet, ct_induce_site *sites, int *n_sites, cJSON *report);

/* ---- an induced VT: monomorphic or polymorphic ---- */

#define CT_VT_CL_TOLERANCE 0.05  /* monomorphic: every cycle length within 5 % of their mean */
#define CT_VT_PS_DRIFT_MM 5.0    /* ... and the per-cycle mean PS position moves less than this (mm) */
#define CT_VT_MAX_CYCLES 64

typedef struct ct_vt_class {
    int verdict;                  /* 1 monomorphic, 2 polymorphic, 0 not classified (too few cycles) */
    int point;                    /* the trace whose cycle lengths were measured (the exit site if traced) */
    int n_cycles;                 /* cycle lengths measured */
    double cl_ms[CT_VT_MAX_CYCLES];
    int n_transient;              /* intervals left out as the initiation (0-2), before cl_ms */
    double transient_cl_ms[2];
    double cl_mean_ms, cl_sd_ms;  /* -1 when n_cycles == 0 */
    double cl_max_deviation;      /* max |CL - mean| / mean (fraction) */
    int ps_windows;               /* one-cycle windows with a phase singularity (no cycle: 100 ms windows) */
    double ps_drift_mm;           /* the largest distance of a window's mean PS position from their mean; -1: < 2 */
    char why[200];
} ct_vt_class;

/* Classifies an induced VT from its traces (ct_induce.h): activations (upward crossings of threshold_mV) at
 * trace `point` after the last stimulus; its cycle lengths, less the initiation (transient_cl_ms: the first
 * interval, the extra-stimulus's own beat, when 3 or more intervals were measured, and the first re-entrant
 * turn too when 4 or more were); monomorphic when at least 2 remain, each within CT_VT_CL_TOLERANCE of their
 * mean, and the phase singularities' mean position per cycle (from one activation of the point to the next,
 * over the cycles kept) drifts by less than CT_VT_PS_DRIFT_MM (no PS on the surface: the cycle lengths
 * decide). With no cycle at the point (fewer than 2 activations) the VT is not classified, and ps_drift_mm is
 * that of 100 ms windows from the last stimulus. */
void ct_vt_classify(const ct_induce_traces *t, int point, double threshold_mV, ct_vt_class *out);

/* The classification, the traces and the PS trajectory as a site's result file carries them in "vt" (owned by
 * the caller): {classification, why, cl_at, cl_ms, cl_mean_ms, cl_sd_ms, cl_max_deviation_percent,
 * ps_drift_mm, traces {t0_ms, sample_ms, stimuli [{name, t_ms}], points [{label, position_mm, node_mm,
 * vm_mV}]}, ps_trajectory [{t_ms, n_ps, positions_mm}]}; Vm rounded to 0.01 mV. */
cJSON *ct_vt_json(const ct_induce_traces *t, const ct_vt_class *c);

/* Distance (mm) from point p to a lesion's axis (a line's segment, a sphere's centre, a box's nearest point). */
double ct_plan_lesion_distance_mm(const ct_lesion *l, const double p_mm[3]);

struct ct_mesh;

/* The local activation time (LAT, ms) of an induced VT's own cycle, as an electro-anatomical (CARTO-like) map
 * shows it ("early meets late"): the nodes whose last activation lies in the last cycle window
 * [end_ms - cycle_length_ms, end_ms] get lat_ms = last activation - the earliest last activation in that
 * window (0 = earliest, at most cycle_length_ms); NaN elsewhere: not activated in that cycle, or
 * non-conducting (every element round the node has nc[e] != 0; nc NULL: every element conducts).
 * last_activation_ms: per node (NaN: none), as the induction's observer receives it (ct_induce.h).
 * lat_ms: m->n_nodes values, the caller's. *n_valued: nodes with a value; *span_ms: the latest LAT (the
 * earliest is 0; 0 when no node has a value). A cycle length that is not > 0 (none measured) gives no value
 * anywhere (*n_valued 0), not an error. CT_ERR_NOMEM only. */
ct_status ct_vt_lat(const struct ct_mesh *m, const uint8_t *nc, const double *last_activation_ms, double end_ms,
                    double cycle_length_ms, double *lat_ms, size_t *n_valued, double *span_ms);

#endif /* CT_PLAN_H */
