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

#include "ct_study.h"

#define CT_PLAN_SITE_RADIUS_MM 10.0   /* sites this near a new lesion are re-tested */

/* The plan's rounds (o->plan_rounds > 0). cfg: the untreated model; treated: cfg with the user's lesions
 * (o->lesions); before: round 0's site results (array of n_sites). Adds "plan" and "ablation" to report
 * (or "ablation": null when nothing was inducible). *n_lesions: lesions applied in the end (user + proposed),
 * *n_after: sites inducible at their last test. Errors: a round that could not run (the sites' own failures
 * are results, reported), too many lesions. */
ct_status ct_plan_run(const ct_study_options *o, const char *config_path, const ct_config *cfg,
                      const ct_config *treated, const ct_backend_ops *be, const ct_induce_site *sites, int n_sites,
                      int jobs, const cJSON *before, cJSON *report, int *n_lesions, int *n_after);

/* Distance (mm) from point p to a lesion's axis (a line's segment, a sphere's centre, a box's nearest point). */
double ct_plan_lesion_distance_mm(const ct_lesion *l, const double p_mm[3]);

#endif /* CT_PLAN_H */
