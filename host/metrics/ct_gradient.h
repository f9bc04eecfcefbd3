/* ct_gradient.h — steepness of a nodal time field (repolarisation times): the largest element gradient and
 * the tissue volume where it exceeds a threshold, a marker of arrhythmic substrate. */
#ifndef CT_GRADIENT_H
#define CT_GRADIENT_H

#include "mesh/ct_mesh.h"
#include "core/ct_status.h"

typedef struct ct_gradient_stats {
    double max_ms_per_mm;       /* largest |grad t| over elements with every node valid; NAN if none */
    double volume_above_mm3;    /* volume of those elements with |grad t| > threshold */
    double volume_valid_mm3;    /* volume of the elements that entered the statistics */
} ct_gradient_stats;

/* t_ms per node; entries < 0 mean "undefined" and exclude their elements. */
ct_status ct_gradient_stats_compute(const ct_mesh *mesh, const double *t_ms, double threshold_ms_per_mm,
                                    ct_gradient_stats *out);

#endif /* CT_GRADIENT_H */
