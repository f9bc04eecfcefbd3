/* test_tune_cv.c — conduction-velocity tuning reaches its target. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "personalise/ct_tune_cv.h"

/* The reference example (../shared/reference): from sigma_i 0.174, sigma_e 0.625 S/m (bulk 0.1361 S/m),
 * 0.6 m/s. Acceptance: within 1 % in at most 6 iterations. */
Test(tune_cv, reaches_0p6_m_per_s_within_1_percent, .timeout = 600)
{
    ct_tune_cv_request req = {
        .model_json = "{\"name\": \"tp06\", \"cell_type\": \"epi\"}",
        .dx_mm = 0.1, .dt_ms = 0.01, .chi_per_mm = 140, .cm_uF_per_mm2 = 0.01, .consistent_mass = 0,
        .sigma_initial_S_per_m = 0.174 * 0.625 / (0.174 + 0.625), .cv_target_m_per_s = 0.6,
        .rel_tolerance = 0.01, .max_iterations = 6};
    ct_tune_cv_result res;
    cr_assert_eq(ct_tune_cv(&req, &res), CT_OK, "%s", ct_error_message());
    for (int k = 0; k < res.iterations; k++)
        fprintf(stderr, "tune-cv iteration %d: sigma %.5f S/m -> CV %.4f m/s\n", k + 1, res.sigma_history[k],
                res.cv_history[k]);
    cr_assert_leq(res.iterations, 6);
    cr_assert_lt(fabs(res.cv_m_per_s / 0.6 - 1.0), 0.01, "CV %g m/s", res.cv_m_per_s);
    /* re-simulating the tuned value gives the same velocity */
    double cv;
    cr_assert_eq(ct_strand_cv(&req, res.sigma_S_per_m, &cv), CT_OK);
    cr_assert_float_eq(cv, res.cv_m_per_s, 1e-12);
}

/* From far away (4x too much conductivity, and too little) at a coarser dx the iteration still converges fast. */
Test(tune_cv, converges_from_far_starting_points, .timeout = 600)
{
    const double start[2] = {0.5, 0.03};
    for (int k = 0; k < 2; k++) {
        ct_tune_cv_request req = {
            .model_json = "{\"name\": \"tp06\", \"cell_type\": \"endo\"}",
            .dx_mm = 0.25, .dt_ms = 0.01, .chi_per_mm = 140, .cm_uF_per_mm2 = 0.01, .consistent_mass = 0,
            .sigma_initial_S_per_m = start[k], .cv_target_m_per_s = 0.6, .rel_tolerance = 0.01, .max_iterations = 6};
        ct_tune_cv_result res;
        cr_assert_eq(ct_tune_cv(&req, &res), CT_OK, "%s", ct_error_message());
        fprintf(stderr, "from sigma %.3f: %d iterations, sigma %.5f S/m, CV %.4f m/s (first CV %.4f)\n", start[k],
                res.iterations, res.sigma_S_per_m, res.cv_m_per_s, res.cv_history[0]);
        cr_assert_gt(res.iterations, 1, "the starting point was meant to be off target");
        cr_assert_lt(fabs(res.cv_m_per_s / 0.6 - 1.0), 0.01);
    }
}

Test(tune_cv, bad_requests_are_refused)
{
    ct_tune_cv_request req = {.model_json = "{\"name\": \"tp06\"}", .dx_mm = 0.2, .dt_ms = 0.01, .chi_per_mm = 140,
                              .cm_uF_per_mm2 = 0.01, .sigma_initial_S_per_m = 0.1, .cv_target_m_per_s = -1,
                              .rel_tolerance = 0.01, .max_iterations = 5};
    ct_tune_cv_result res;
    cr_assert_eq(ct_tune_cv(&req, &res), CT_ERR_CONFIG);
    req.cv_target_m_per_s = 0.5;
    req.model_json = "{\"name\": \"tp07\"}";
    cr_assert_eq(ct_tune_cv(&req, &res), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "tp07"), "%s", ct_error_message());
}
