/* ct_lge.h — scar and grey (border) zone from late-gadolinium-enhancement intensities, as they are
 * quantified clinically, by thresholds computed from the myocardium's own intensities:
 *
 *   full width at half maximum (CT_LGE_FWHM): peak = the 99.5th percentile of the myocardial intensities
 *     (the maximum, robust to a few noisy voxels); core >= core_fraction x peak (default 0.5, the half
 *     maximum of Amado et al. 2004 and Schmidt et al. 2007); grey zone >= grey_fraction x peak (default
 *     0.35) and below the core threshold;
 *   n standard deviations above remote myocardium (CT_LGE_NSD): remote mean and SD estimated robustly
 *     from all myocardial intensities, as their median and 1.4826 x the median absolute deviation (an
 *     automatic stand-in for the hand-drawn remote region; valid while scar is under half the
 *     myocardium); core >= mean + core_sd x SD (default 3), grey zone >= mean + grey_sd x SD (default 2).
 */
#ifndef CT_LGE_H
#define CT_LGE_H

#include <stddef.h>

#include "core/ct_status.h"

enum ct_lge_method { CT_LGE_NONE = 0, CT_LGE_FWHM, CT_LGE_NSD };

typedef struct ct_lge_params {
    int method;                          /* enum ct_lge_method */
    double core_fraction, grey_fraction; /* FWHM */
    double core_sd, grey_sd;             /* n-SD */
} ct_lge_params;

ct_lge_params ct_lge_params_default(int method);

typedef struct ct_lge_result {
    double peak, remote_mean, remote_sd; /* what the thresholds were computed from */
    double grey_threshold, core_threshold;
    size_t n_myocardial;                 /* intensities used */
} ct_lge_result;

/* Thresholds from the n intensities of the myocardium (the array is reordered). CT_ERR_CONFIG (naming
 * `src`) for fewer than 10 intensities, non-finite parameters, grey above core, or a flat image. */
ct_status ct_lge_thresholds(float *myocardial, size_t n, const ct_lge_params *p, const char *src,
                            ct_lge_result *out);

/* 0 healthy, 1 border (grey) zone, 2 scar core (enum ct_tissue) for one intensity. */
int ct_lge_classify(const ct_lge_result *r, double intensity);

#endif /* CT_LGE_H */
