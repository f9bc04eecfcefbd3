/* ct_cv_map.h — conduction velocity per element from an activation-time field.
 *
 * Per tet, g = grad(t_act) (ms/mm) is the gradient of the P1 interpolant of the nodal activation times.
 * The local velocity vector is v = g / |g|^2 (mm/ms = m/s): it points along the propagation and its
 * length is 1/|g|. With the element's unit fibre f:
 *   speed  = |v| = 1/|g|
 *   along  = |v . f|              (component of the velocity along the fibre)
 *   across = |v - (v . f) f|      (component across it); along^2 + across^2 = speed^2.
 * (Not 1/|g . f|, which blows up for propagation across the fibre.)
 *
 * Invalid elements are set to NAN in all three outputs:
 *   - any node not activated (activation time < 0 or not finite);
 *   - speed above the cap (|g| tiny: breakthrough sites, collisions, simultaneously activated regions),
 *     CT_CV_MAX_SPEED_M_PER_S by default.
 */
#ifndef CT_CV_MAP_H
#define CT_CV_MAP_H

#include <stddef.h>

#include "mesh/ct_mesh.h"
#include "core/ct_status.h"

/* Default cap above which an element's speed is considered not physiological (m/s). */
#define CT_CV_MAX_SPEED_M_PER_S 10.0

/* act_ms: n_nodes activation times (ms), negative = not activated. speed_m_per_s (required),
 * along_m_per_s and across_m_per_s (each may be NULL): caller-owned arrays of n_tets.
 * Uses the default cap. Fails (CT_ERR_CONFIG) on NULL mesh/act/speed, CT_ERR_MESH on a degenerate tet. */
ct_status ct_cv_map(const ct_mesh *mesh, const double *act_ms, double *speed_m_per_s, double *along_m_per_s,
                    double *across_m_per_s);

/* Same with an explicit cap (m/s, > 0; INFINITY disables it). */
ct_status ct_cv_map_capped(const ct_mesh *mesh, const double *act_ms, double max_speed_m_per_s,
                           double *speed_m_per_s, double *along_m_per_s, double *across_m_per_s);

/* Angle within which a front counts as travelling along the fibre (or across it: within this of the
 * perpendicular), for ct_cv_directional. */
#define CT_CV_DIRECTION_TOLERANCE_DEG 30.0

/* Conduction velocity along and across the fibres as a reader of a CV means it: the speed of the fronts that
 * travel along the fibre, not a component of every front's velocity (a front crossing the fibres at 0.2 m/s
 * has a small component along them, which says nothing of the CV along them). From the speed and the along-
 * fibre component of ct_cv_map, per element (n_tets):
 *   along_speed[e]  = speed[e] where the direction is within max_angle_deg of the fibre, else NAN;
 *   across_speed[e] = speed[e] where it is within max_angle_deg of the perpendicular, else NAN.
 * Either output may be NULL, and along_speed may be the along_component array itself (in place).
 * CT_ERR_CONFIG on NULL inputs or an angle outside (0, 45] degrees. */
ct_status ct_cv_directional(const double *speed_m_per_s, const double *along_component_m_per_s, size_t n_tets,
                            double max_angle_deg, double *along_speed_m_per_s, double *across_speed_m_per_s);

/* Summary of the valid (finite) entries of a per-element map. Percentiles by linear interpolation
 * between order statistics (p-th percentile at rank p/100 * (n_valid - 1)); unweighted by volume. */
typedef struct ct_cv_summary {
    size_t n_valid;   /* finite entries */
    size_t n_invalid; /* NAN (or infinite) entries */
    double median;    /* NAN when n_valid == 0 */
    double p05;
    double p95;
    double mean;
} ct_cv_summary;

/* values: n entries (e.g. the speed map). Allocates a scratch copy; CT_ERR_NOMEM on failure. */
ct_status ct_cv_summarise(const double *values, size_t n, ct_cv_summary *out);

#endif /* CT_CV_MAP_H */
