/* ct_tune_cv.h — conductivity tuning to a target conduction velocity (the method of openCARP's tuneCV,
 * Costa et al. 2013): simulate a strand with the patient's ionic model, dx and dt, measure the velocity
 * between two points away from the ends, scale sigma by (CV_target / CV_measured)^2, repeat. A strand that
 * does not conduct (coarse dx) has its sigma multiplied by 4 and counts as an iteration (CV 0 in the
 * history). The strand is integrated with Crank-Nicolson, stable for any sigma tried. */
#ifndef CT_TUNE_CV_H
#define CT_TUNE_CV_H

#include "core/ct_status.h"

#define CT_TUNE_CV_MAX_ITERATIONS 20

typedef struct ct_tune_cv_request {
    const char *model_json;      /* the "model" object of a configuration, as JSON text ({"name": "tp06", ...}) */
    double dx_mm, dt_ms;
    double chi_per_mm, cm_uF_per_mm2;
    int consistent_mass;         /* as the simulation will use */
    double sigma_initial_S_per_m;
    double cv_target_m_per_s;
    double rel_tolerance;        /* stop when |CV/target - 1| < this (e.g. 0.01) */
    int max_iterations;          /* <= CT_TUNE_CV_MAX_ITERATIONS */
} ct_tune_cv_request;

typedef struct ct_tune_cv_result {
    double sigma_S_per_m;        /* tuned conductivity */
    double cv_m_per_s;           /* velocity it gives */
    int iterations;              /* strand simulations run */
    double sigma_history[CT_TUNE_CV_MAX_ITERATIONS + 1];
    double cv_history[CT_TUNE_CV_MAX_ITERATIONS + 1];
} ct_tune_cv_result;

/* Velocity (m/s = mm/ms) of a plane wave along a strand of one element cross-section with conductivity
 * sigma; CT_ERR_NUMERIC if the strand does not conduct. */
ct_status ct_strand_cv(const ct_tune_cv_request *req, double sigma_S_per_m, double *cv_m_per_s);

/* Tunes sigma; CT_ERR_NUMERIC naming the last velocity if the tolerance is not reached. */
ct_status ct_tune_cv(const ct_tune_cv_request *req, ct_tune_cv_result *res);

#endif /* CT_TUNE_CV_H */
