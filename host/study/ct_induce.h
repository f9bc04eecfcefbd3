/* ct_induce.h — programmed electrical stimulation of one pacing site: can re-entry be induced from it?
 *
 * The protocol, as in a clinical EP study: a drive train S1 (s1_count beats every s1_bcl_ms) from the
 * site, then extra-stimuli S2, S3, ... from the same site, each at a coupling interval (after the
 * previous stimulus) that starts at ci_start_ms and shortens by ci_step_ms until the extra-stimulus fails
 * to capture (its effective refractory period, ERP: the longest coupling interval that fails) or reaches
 * ci_min_ms. The next extra-stimulus is then added behind the previous one at its shortest capturing
 * interval. After every capturing extra-stimulus the tissue is watched: re-entry is declared when some
 * tissue is still excited (Vm above the activation threshold) observe_ms after that last stimulus; a
 * trial ends early, with no re-entry, as soon as all tissue is at rest again.
 *
 * Capture: at least max(5, 1 % of the nodes outside the stimulated zone) nodes, farther than 2 mm from the
 * stimulus sphere, activate (upward crossing of the threshold) within capture_window_ms of the stimulus.
 * Re-entry cycle length: per node, the mean interval between activations in the second half of the
 * observation; the median over nodes. Phase singularities: phase by time-delay embedding (tau =
 * phase_delay_ms, V* = phase_v_star_mV) at the end of the observation, topological charge on the boundary
 * triangles of the mesh, clustered within 3 mm (metrics/ct_phase.h).
 *
 * Each trial restarts from a snapshot of the backend's state (backend.h state_size/save_state/load_state)
 * taken behind the previous stimulus, so the drive train is simulated once per site.
 * Units: ms, mm, mV, uA/uF.
 */
#ifndef CT_INDUCE_H
#define CT_INDUCE_H

#include "../kernels/backend.h"
#include "sim/ct_config.h"
#include "metrics/ct_phase.h"

#define CT_INDUCE_MAX_EXTRA 3
#define CT_INDUCE_MAX_PS 16

typedef struct ct_induce_protocol {
    int s1_count;                     /* drive-train beats (default 6) */
    double s1_bcl_ms;                 /* drive-train cycle length (600) */
    int extra_stimuli;                /* S2 .. S(1 + extra_stimuli), 1..CT_INDUCE_MAX_EXTRA (2) */
    double ci_start_ms;               /* first coupling interval of each extra-stimulus (400) */
    double ci_step_ms;                /* shortening step (20) */
    double ci_min_ms;                 /* shortest coupling interval tried (180) */
    double observe_ms;                /* re-entry: excitation persists this long after the last stimulus (1000) */
    double capture_window_ms;         /* capture: propagation away from the site within this time (60) */
    double stim_radius_mm;            /* stimulus sphere (3) */
    double stim_amplitude_uA_per_uF;  /* (60; about twice the diastolic threshold of TP06 tissue) */
    double stim_duration_ms;          /* (2) */
    double dt_ms;                     /* time step; 0: the configuration's */
    double sample_ms;                 /* Vm is looked at this often for activity (1) */
    double phase_delay_ms;            /* time-delay embedding (20) */
    double phase_v_star_mV;           /* (-40) */
} ct_induce_protocol;

void ct_induce_protocol_defaults(ct_induce_protocol *p);
/* Checks ranges; the message names the offending field. */
ct_status ct_induce_protocol_check(const ct_induce_protocol *p);

typedef struct ct_induce_site {
    char name[64];
    double position_mm[3];
} ct_induce_site;

typedef struct ct_induce_result {
    int inducible;                        /* 1: re-entry induced */
    int induced_by;                       /* 2: S2, 3: S3, 4: S4; 0: not inducible */
    int n_extra;                          /* extra-stimuli in the inducing (or last capturing) sequence */
    double coupling_ms[CT_INDUCE_MAX_EXTRA]; /* their coupling intervals */
    double erp_ms[CT_INDUCE_MAX_EXTRA];   /* per extra-stimulus: the longest coupling interval that failed to
                                             capture; -1: it captured down to ci_min_ms, or was not tried */
    double cycle_length_ms;               /* of the re-entry, -1 if none or not measurable */
    int n_ps;                             /* phase singularities at the end of the observation (<= CT_INDUCE_MAX_PS) */
    ct_phase_singularity ps[CT_INDUCE_MAX_PS];
    double erp_fail_ms[CT_INDUCE_MAX_EXTRA];    /* per extra-stimulus: the coupling interval on the ci_step_ms grid
                                                   where capture first failed; -1: none failed (or not tried) */
    double erp_capture_ms[CT_INDUCE_MAX_EXTRA]; /* the shortest coupling interval on that grid that captured (the one
                                                   before erp_fail_ms); -1: none captured */
    int erp_refined;                      /* 1: erp_ms was bisected between those two (ct_induce_extras) */
    int trials;                           /* extra-stimulus runs made (ERP bisection's capture-only runs included) */
    double simulated_ms;                  /* total simulated time, all trials */
    double wall_s;
} ct_induce_result;

/* Runs the protocol from one site on `backend`. `base` is the simulation configuration (mesh, model,
 * tissue, lesions); its stimuli, probes and outputs are replaced by the site's. Progress lines on stderr
 * unless quiet. Errors: the site stimulates no node, S1 does not capture, a blow-up (with time and place). */
ct_status ct_induce_site_run(const ct_config *base, const ct_induce_site *site, const ct_induce_protocol *p,
                             const ct_backend_ops *backend, int quiet, ct_induce_result *out);

/* Called once when a site's re-entry is declared (ct_induce_site_run_observed), before the site's simulation
 * is freed: sim (the site's model: mesh, sigma_scale), the last activation time of every node in the second
 * half of the observation (ms; NaN where none: one full cycle at the end of the observation when the cycle
 * is shorter than half of it; borrowed for the call), the time the observation ended and the result so far
 * (cycle length, phase singularities). An error it returns becomes the site's. */
struct ct_sim;
typedef ct_status (*ct_induce_reentry_observer)(void *user, const struct ct_sim *sim, const double *last_activation_ms,
                                                double end_ms, const ct_induce_result *r);

/* ct_induce_site_run with an observer of the induced re-entry (obs NULL: the same as ct_induce_site_run). */
ct_status ct_induce_site_run_observed(const ct_config *base, const ct_induce_site *site, const ct_induce_protocol *p,
                                      const ct_backend_ops *backend, int quiet, ct_induce_result *out,
                                      ct_induce_reentry_observer obs, void *obs_user);

/* Vm traces and phase-singularity (PS) frames of an induced re-entry (ct_induce_site_run_ex). Once re-entry
 * is declared (and after the observer was told), the inducing sequence is replayed from the state just before
 * the last S1 (a snapshot; the same steps, so the same solution) while Vm is recorded every sample_ms at the
 * node nearest each point: [0] the pacing site (added by the run), then any points the observer added
 * (e.g. the circuit's exit site: it is known only once the re-entry has been seen). After the last stimulus,
 * every ps_interval_ms, the phase singularities on the boundary triangles (as in ct_induce.h) make one frame
 * of the PS trajectory. Costs one more trial (from the last S1 to the end of the observation). */
#define CT_INDUCE_MAX_TRACES 4
#define CT_INDUCE_MAX_FRAMES 256
#define CT_INDUCE_FRAME_PS 4
typedef struct ct_induce_traces {
    int n_points;                                 /* points traced; the observer may add up to the maximum */
    char label[CT_INDUCE_MAX_TRACES][32];
    double want_mm[CT_INDUCE_MAX_TRACES][3];      /* the point asked for (mm) */
    long node[CT_INDUCE_MAX_TRACES];              /* out: the nearest node */
    double node_mm[CT_INDUCE_MAX_TRACES][3];      /* out: its position (mm) */
    double t0_ms, sample_ms;                      /* out: time of sample 0 and the sampling interval (ms) */
    int n_samples;                                /* out: samples per point (0: nothing recorded) */
    double *vm_mV;                                /* out, owned (ct_induce_traces_free): n_points rows of n_samples */
    int n_stimuli;                                /* out: the last S1, then S2, S3, ... */
    char stimulus_name[1 + CT_INDUCE_MAX_EXTRA][16];
    double stimulus_ms[1 + CT_INDUCE_MAX_EXTRA];
    double ps_interval_ms;                        /* in: between PS frames (0: 10 ms; stretched to fit the frames) */
    int n_frames;                                 /* out: PS frames after the last stimulus */
    double frame_ms[CT_INDUCE_MAX_FRAMES];
    int frame_n_ps[CT_INDUCE_MAX_FRAMES];         /* PS found in the frame (the largest CT_INDUCE_FRAME_PS kept) */
    ct_phase_singularity frame_ps[CT_INDUCE_MAX_FRAMES][CT_INDUCE_FRAME_PS];
} ct_induce_traces;

/* Frees what a run put in t (its vm_mV) and clears the outputs; t itself is the caller's. */
void ct_induce_traces_free(ct_induce_traces *t);

/* What ct_induce_site_run_ex does besides the protocol. Zero-initialised: nothing (ct_induce_site_run). */
typedef struct ct_induce_extras {
    ct_induce_reentry_observer obs;    /* told of the induced re-entry, or NULL */
    void *obs_user;
    ct_induce_traces *traces;          /* the re-entry's traces are recorded here (replay), or NULL */
    double erp_resolution_ms;          /* > 0: where capture first fails, the ERP is bisected between the
                                          failing and the last capturing coupling interval down to this
                                          resolution with capture-only trials (capture_window_ms each);
                                          erp_ms is then the longest failing interval found */
} ct_induce_extras;

/* ct_induce_site_run with extras (x NULL: the same as ct_induce_site_run). */
ct_status ct_induce_site_run_ex(const ct_config *base, const ct_induce_site *site, const ct_induce_protocol *p,
                                const ct_backend_ops *backend, int quiet, ct_induce_result *out,
                                const ct_induce_extras *x);

/* The re-entry detector alone, on a configuration's own stimuli (e.g. a cross-field S1-S2): runs `cfg`
 * until last_stimulus_ms, then watches up to observe_ms more (p: observe_ms, sample_ms, phase_*; the rest
 * unused), stopping early once all tissue is at rest. out->inducible says whether excitation persisted;
 * cycle length and phase singularities as for a site. */
ct_status ct_reentry_observe(const ct_config *cfg, const ct_backend_ops *backend, double last_stimulus_ms,
                             const ct_induce_protocol *p, int quiet, ct_induce_result *out);

#endif /* CT_INDUCE_H */
