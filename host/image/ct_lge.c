/* ct_lge.c — LGE thresholds (ct_lge.h). */
#include "ct_lge.h"

#include <math.h>
#include <stdlib.h>

ct_lge_params ct_lge_params_default(int method)
{
    return (ct_lge_params){.method = method, .core_fraction = 0.5, .grey_fraction = 0.35, .core_sd = 3.0,
                           .grey_sd = 2.0};
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of a sorted array, nearest rank. */
static double quantile(const float *sorted, size_t n, double q)
{
    size_t i = (size_t)floor(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

ct_status ct_lge_thresholds(float *v, size_t n, const ct_lge_params *p, const char *src, ct_lge_result *out)
{
    if (n < 10)
        return ct_error_set(CT_ERR_CONFIG, "%s: only %zu LGE voxels fall on the myocardium: is the LGE image placed "
                            "over the label image (same grid or a header that registers it)?", src, n);
    if (p->method == CT_LGE_FWHM) {
        if (!(p->core_fraction > 0 && p->core_fraction <= 1 && p->grey_fraction > 0 && p->grey_fraction < p->core_fraction))
            return ct_error_set(CT_ERR_CONFIG, "%s: LGE FWHM needs 0 < grey_fraction (%g) < core_fraction (%g) <= 1", src,
                                p->grey_fraction, p->core_fraction);
    } else if (p->method == CT_LGE_NSD) {
        if (!(isfinite(p->core_sd) && isfinite(p->grey_sd) && p->grey_sd < p->core_sd))
            return ct_error_set(CT_ERR_CONFIG, "%s: LGE n-SD needs grey_sd (%g) < core_sd (%g)", src, p->grey_sd,
                                p->core_sd);
    } else {
        return ct_error_set(CT_ERR_INTERNAL, "%s: LGE method %d", src, p->method);
    }
    qsort(v, n, sizeof *v, cmp_float);
    ct_lge_result r = {.n_myocardial = n};
    r.peak = quantile(v, n, 0.995);
    double median = quantile(v, n, 0.5);
    float *dev = malloc(n * sizeof *dev);
    if (!dev)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu LGE intensities", src, n);
    for (size_t i = 0; i < n; i++)
        dev[i] = (float)fabs(v[i] - median);
    qsort(dev, n, sizeof *dev, cmp_float);
    double mad = quantile(dev, n, 0.5);
    free(dev);
    r.remote_mean = median;
    r.remote_sd = 1.4826 * mad;
    if (p->method == CT_LGE_FWHM) {
        if (!(r.peak > v[0]))
            return ct_error_set(CT_ERR_CONFIG, "%s: the myocardium's LGE intensities are all equal (%g): no enhancement "
                                "to threshold", src, r.peak);
        r.core_threshold = p->core_fraction * r.peak;
        r.grey_threshold = p->grey_fraction * r.peak;
    } else {
        if (!(r.remote_sd > 0))
            return ct_error_set(CT_ERR_CONFIG, "%s: the remote myocardium's LGE intensities do not vary (SD 0): the "
                                "n-SD method needs a noisy image", src);
        r.core_threshold = r.remote_mean + p->core_sd * r.remote_sd;
        r.grey_threshold = r.remote_mean + p->grey_sd * r.remote_sd;
    }
    *out = r;
    return CT_OK;
}

int ct_lge_classify(const ct_lge_result *r, double x)
{
    return x >= r->core_threshold ? 2 : x >= r->grey_threshold ? 1 : 0;
}
