/* ct_prescreen.h — a fast pre-screen of pacing sites: which sites is re-entry likely to be inducible from?
 * Ranks candidate sites in seconds, so that only the top ones need the monodomain protocol (ct_induce.h).
 *
 * Design: a discrete-event "reaction-eikonal" cellular automaton on the mesh's edge graph. Justification:
 * what decides inducibility in the protocol is (1) where an extra-stimulus meets tissue that has not yet
 * recovered (unidirectional block, set by the refractory period of each tissue and the activation times of
 * the previous beat) and (2) whether the blocked wave finds a path back whose travel time exceeds the
 * refractory period (a circuit). Both need only arrival times and per-node recovery, not the membrane
 * equations, so the wave is modelled as fronts travelling along mesh edges:
 * - edge time: the edge e (mm) inside a conducting element with unit fibre f takes
 *   t = sqrt((e.f)^2 / v_l^2 + |e - (e.f) f|^2 / v_t^2) ms; an edge shared by several elements takes the
 *   fastest. Non-conducting elements (scar with zero conductivity, lesions: the set-up's own labels,
 *   ct_sim_create) contribute no edges;
 * - per node: the action potential duration APD and the refractory period R of its ionic parameter set
 *   (healthy / border zone, x cell type: ct_sim.h param sets), with APD restitution: each beat's APD follows
 *   from the diastolic interval before it, and the node is excitable again R - APD(drive) after it ends
 *   (re-entry runs at cycle lengths far shorter than the drive train's, where a constant R stops it); a
 *   front entering a node that recovered only a short diastolic interval ago travels slower, by the
 *   conduction-velocity restitution of the node's tissue;
 * - events (time, node) in a priority queue (Dijkstra-like, O(E log E) per wave): an arriving front
 *   excites a node that has recovered (t >= last activation + R) and sends fronts along all its edges; a
 *   front reaching a refractory node dies there. A stimulus at time t excites the recovered conducting
 *   nodes within stim_radius_mm of the site.
 * The protocol is the same as ct_induce.h (S1 train, S2.. with shortening coupling intervals, capture:
 * max(5, 1 %) of the conducting nodes farther than 2 mm beyond the stimulus sphere activated by it within
 * capture_window_ms; re-entry: some node still excited, t < activation + APD, observe_ms after the last
 * stimulus).
 * Calibration (ct_prescreen_create), per ionic parameter set used by the mesh, on a cable of the
 * configuration's own model, tissue parameters, conductivity, time step and mesh spacing (the mean edge
 * length), with the CPU-or-given backend: v_l from the activation times of the last S1 beat of a drive
 * train (s1_count beats at s1_bcl_ms) along a fibre-aligned cable; v_t = v_l sqrt(sigma_t / sigma_l)
 * (exact for a homogeneous monodomain); APD90 of that beat; R = the site's capture threshold measured by
 * the protocol itself (ct_induce_site_run on the cable, S2 every 5 ms: the midpoint between the longest
 * failing and the shortest capturing coupling interval); the APD restitution from S1-S2 runs at coupling
 * intervals R + 5 .. R + 160 ms (DI and APD90 at the cable's middle, CV of the S2 wave). The speed of an element whose conductivity is
 * scaled by s (scar with s > 0) is v sqrt(s).
 * Limitations: no wavefront curvature, source-sink mismatch or electrotonic effects (a front passes any
 * channel one node wide); APD and CV depend on the last diastolic interval only; on a structured tet mesh the edge graph overestimates travel times
 * by up to about 8 % off the mesh's axes and diagonals (tests/test_prescreen.c measures it).
 * Units: ms, mm, mm/ms (= m/s), mV.
 */
#ifndef CT_PRESCREEN_H
#define CT_PRESCREEN_H

#include <stddef.h>

#include "ct_induce.h"

/* One ionic parameter set's calibration (ct_sim.h: set = 2 * cell type + border zone). */
typedef struct ct_prescreen_tissue {
    int used;                /* 1: some node of the mesh has this set */
    double cv_l_mm_per_ms;   /* along the fibre, at sigma scale 1 (border zone: its own sigma scale) */
    double cv_t_mm_per_ms;   /* across */
    double apd90_ms;         /* of the last drive-train beat */
    double refractory_ms;    /* R at the drive cycle length: the shortest capturing S2 coupling interval; after a
                                beat of APD a a node is excitable again a + (refractory_ms - apd90_ms) after its
                                activation */
    int n_restitution;       /* points of the APD restitution (S1-S2 on the cable); 0: APD constant */
    double restitution_di_ms[8], restitution_apd_ms[8]; /* diastolic interval -> APD90 of the beat it precedes,
                                                           DI ascending; interpolated linearly, clamped */
    double restitution_cv_factor[8]; /* the same DI -> conduction velocity / cv_l_mm_per_ms of that beat */
} ct_prescreen_tissue;

typedef struct ct_prescreen_options {
    const ct_backend_ops *backend; /* for the calibration runs; NULL: ct_backend_cpu */
    int quiet;                     /* no progress lines on stderr */
    /* All four > 0: no calibration; every tissue takes these (tests, or values measured elsewhere). */
    double cv_l_mm_per_ms, cv_t_mm_per_ms, apd90_ms, refractory_ms;
} ct_prescreen_options;

/* What the pre-screen predicts for one site (the fields mean what ct_induce_result's do). */
typedef struct ct_prescreen_result {
    char name[64];
    double position_mm[3];
    int inducible;                           /* predicted: re-entry induced */
    int induced_by;                          /* 2: S2, 3: S3, 4: S4; 0: not inducible */
    int n_extra;                             /* extra-stimuli in the inducing (or last capturing) sequence */
    double coupling_ms[CT_INDUCE_MAX_EXTRA]; /* their coupling intervals */
    double erp_ms[CT_INDUCE_MAX_EXTRA];      /* longest failing coupling interval; -1: none failed / not tried */
    double window_ms;                        /* inducible: width of the range of coupling intervals that induce
                                                (ci_step_ms per inducing interval); 0 otherwise */
    double persistence_ms;                   /* longest activity after the last stimulus of any trial, capped at
                                                observe_ms */
    double cycle_length_ms;                  /* inducible: median over nodes of the interval between their last
                                                two activations; -1 otherwise */
    double score;                            /* ranking: higher is more likely inducible (window, persistence) */
    int trials;
    double wall_s;
    int failed;                              /* 1: the site could not be run (ct_prescreen_site returned an error:
                                                no conducting node at the site, S1 does not capture, ...); the
                                                other fields but name and position are then meaningless */
    char reason[256];                        /* failed: why, the error message naming the site */
} ct_prescreen_result;

/* The pre-screen model of one configuration: edge graph, per-node refractoriness, calibration. Opaque. */
typedef struct ct_prescreen ct_prescreen;

/* Builds the model of `cfg` (its mesh, tissue labels and lesions as ct_sim_create resolves them) for the
 * protocol `p`, calibrating each parameter set unless `opt` gives the values. The caller owns *out and frees
 * it with ct_prescreen_destroy(). `opt` may be NULL (defaults). */
ct_status ct_prescreen_create(const ct_config *cfg, const ct_induce_protocol *p, const ct_prescreen_options *opt,
                              ct_prescreen **out);
void ct_prescreen_destroy(ct_prescreen *ps);

/* The calibration of parameter set `set` (0..5); NULL when out of range. */
const ct_prescreen_tissue *ct_prescreen_tissue_of(const ct_prescreen *ps, int set);
size_t ct_prescreen_n_nodes(const ct_prescreen *ps);
/* Node coordinates (mm), 3 per node, borrowed from the model. */
const double *ct_prescreen_xyz_mm(const ct_prescreen *ps);

/* One wave from a stimulus sphere at t = 0 in resting tissue: each node's activation time (ms, -1 where
 * never reached). act_ms: n_nodes, caller-allocated. Error (naming the site) if the sphere holds no
 * conducting node. */
ct_status ct_prescreen_activation(const ct_prescreen *ps, const ct_induce_site *site, double radius_mm,
                                  double *act_ms);

/* Runs the protocol from one site. Error (naming the site) when the site's sphere holds no conducting node
 * or S1 does not capture (a site beside scar on a patient's heart); out->failed and out->reason then say so,
 * with out->name and out->position_mm set, so that a caller can rank the other sites and report this one. */
ct_status ct_prescreen_site(const ct_prescreen *ps, const ct_induce_site *site, ct_prescreen_result *out);

/* Sorts results by score, highest first (stable for equal scores: input order); failed sites last. */
void ct_prescreen_rank(ct_prescreen_result *r, int n);

/* Reads a sites file ({"sites": [{"name", "position_mm"}]}, as cardiotwin induce) into sites[0..max-1],
 * appending after *n. */
ct_status ct_prescreen_load_sites(const char *path, ct_induce_site *sites, int max, int *n);

/* Writes path (temporary name, fsync, rename) with the protocol, the calibration and the ranked results
 * (rank order as given), the first top_k that did not fail marked "top"; a failed site is written with
 * "failed": true and its "reason" (never as predicted not inducible), and counted in "n_failed". */
ct_status ct_prescreen_write_json(const char *path, const ct_prescreen *ps, const ct_prescreen_result *r, int n,
                                  int top_k, double total_wall_s);

#endif /* CT_PRESCREEN_H */
