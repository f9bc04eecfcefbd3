/* ct_tune_cv.c — strand simulations for conduction-velocity tuning. */
#include "ct_tune_cv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/ct_config.h"
#include "sim/ct_sim.h"

/* Strand: 15 mm long, one element across; velocity measured between x = 5 and x = 10 mm. */
#define STRAND_LENGTH_MM 15.0
#define PROBE_A_MM 5.0
#define PROBE_B_MM 10.0

ct_status ct_strand_cv(const ct_tune_cv_request *req, double sigma, double *cv)
{
    char text[4096];
    int len = snprintf(text, sizeof text,
                       "{\"mesh\": {\"type\": \"box\", \"size_mm\": [%.17g, %.17g, %.17g], \"dx_mm\": %.17g},"
                       " \"model\": %s,"
                       " \"conductivity\": {\"sigma_l_S_per_m\": %.17g, \"sigma_t_S_per_m\": %.17g},"
                       " \"chi_per_mm\": %.17g, \"Cm_uF_per_mm2\": %.17g, \"dt_ms\": %.17g, \"end_time_ms\": 100,"
                       " \"diffusion\": {\"method\": \"%s\", \"mass\": \"%s\"},"
                       " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [1,100,100],"
                       " \"amplitude_uA_per_uF\": 60, \"duration_ms\": 2}],"
                       " \"probes\": [{\"name\": \"a\", \"position_mm\": [%g,0,0]}, {\"name\": \"b\", \"position_mm\": [%g,0,0]}]}",
                       STRAND_LENGTH_MM, req->dx_mm, req->dx_mm, req->dx_mm, req->model_json, sigma, sigma,
                       req->chi_per_mm, req->cm_uF_per_mm2, req->dt_ms,
                       "crank_nicolson", /* stable for any sigma the iteration tries */
                       req->consistent_mass ? "consistent" : "lumped", PROBE_A_MM, PROBE_B_MM);
    if (len < 0 || len >= (int)sizeof text)
        return ct_error_set(CT_ERR_CONFIG, "tune-cv: model description too long");
    ct_config cfg;
    CT_CHECK(ct_config_parse(text, "tune-cv strand", &cfg));
    ct_sim *sim = NULL;
    ct_status st = ct_sim_create(&cfg, &sim);
    ct_run_result r;
    memset(&r, 0, sizeof r);
    if (st == CT_OK) {
        ct_run_options opt = {.out_dir = NULL, .quiet = 1};
        st = ct_sim_run(sim, &ct_backend_cpu, &opt, &r);
    }
    if (st == CT_OK) {
        double ta = r.probe_activation_ms[0], tb = r.probe_activation_ms[1];
        if (!(ta > 0 && tb > ta))
            st = ct_error_set(CT_ERR_NUMERIC, "tune-cv: the strand does not conduct at sigma = %g S/m", sigma);
        else
            *cv = (PROBE_B_MM - PROBE_A_MM) / (tb - ta);
    }
    ct_run_result_free(&r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
    return st;
}

ct_status ct_tune_cv(const ct_tune_cv_request *req, ct_tune_cv_result *res)
{
    memset(res, 0, sizeof *res);
    if (!(req->cv_target_m_per_s > 0.01 && req->cv_target_m_per_s < 10))
        return ct_error_set(CT_ERR_CONFIG, "tune-cv: target velocity %g m/s out of range (0.01, 10)", req->cv_target_m_per_s);
    if (!(req->sigma_initial_S_per_m > 0))
        return ct_error_set(CT_ERR_CONFIG, "tune-cv: initial conductivity must be > 0 S/m");
    if (req->max_iterations < 1 || req->max_iterations > CT_TUNE_CV_MAX_ITERATIONS)
        return ct_error_set(CT_ERR_CONFIG, "tune-cv: max iterations must be 1..%d", CT_TUNE_CV_MAX_ITERATIONS);
    double sigma = req->sigma_initial_S_per_m, cv = 0;
    for (int it = 0; it < req->max_iterations; it++) {
        ct_status st = ct_strand_cv(req, sigma, &cv);
        if (st == CT_ERR_NUMERIC && it + 1 < req->max_iterations) {
            /* a coarse strand may not conduct at all at a physiological sigma: raise it and try again */
            res->sigma_history[it] = sigma;
            res->cv_history[it] = 0.0;
            res->iterations = it + 1;
            sigma *= 4.0;
            continue;
        }
        CT_CHECK(st);
        res->sigma_history[it] = sigma;
        res->cv_history[it] = cv;
        res->iterations = it + 1;
        res->sigma_S_per_m = sigma;
        res->cv_m_per_s = cv;
        if (fabs(cv / req->cv_target_m_per_s - 1.0) < req->rel_tolerance)
            return CT_OK;
        double ratio = req->cv_target_m_per_s / cv;
        sigma *= ratio * ratio; /* CV ~ sqrt(sigma) */
    }
    return ct_error_set(CT_ERR_NUMERIC, "tune-cv: %d iterations reached %g m/s at sigma %g S/m, target %g m/s",
                        res->iterations, cv, sigma, req->cv_target_m_per_s);
}
