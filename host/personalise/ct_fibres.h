/* ct_fibres.h — rule-based myocardial fibres, a simplified LDRB (Bayer et al. 2012, Ann Biomed Eng
 * 40:2243).
 *
 * Per element, from the P1 gradients of the transmural t and apicobasal a fields (ct_coords.h):
 *   e_t = grad t / |grad t|                   (endo -> epi)
 *   e_l = grad a - (grad a . e_t) e_t, unit   (apex -> base, in the wall's tangent plane)
 *   e_c = e_l x e_t                           (circumferential)
 *   f   = cos(alpha) e_c + sin(alpha) e_l     (e_c rotated about e_t by alpha: the helix angle)
 *   s   = cos(beta) e_t + sin(beta) (e_t x f) (e_t rotated about f by beta: the sheet, which is the
 *                                              third column of Bayer's orient(Q, alpha, beta))
 * with alpha(t) = alpha_endo + (alpha_epi - alpha_endo) t and likewise beta, t the element mean.
 * Positive alpha is a right-handed helix about the apex -> base axis (viewed from the epicardium
 * with the base up, the fibre runs from lower left to upper right); defaults alpha +60 endo, -60
 * epi, beta -65 endo, +25 epi (Bayer's values).
 * Simplifications, stated: one transmural field covers LV and RV (0 on both endocardia), so the RV
 * follows the same rules and the septum, bounded by endocardium on both faces, gets endocardial-like
 * angles on both sides instead of Bayer's LV-to-RV transition; no bislerp between separate LV, RV
 * and epicardial frames; no separate outflow-tract rules.
 * Where a gradient vanishes (|grad t| or the tangential part of grad a below 1e-9 of the typical size)
 * the geometric fallback is the radial direction from the LV axis for e_t, and the long axis for e_l.
 */
#ifndef CT_FIBRES_H
#define CT_FIBRES_H

#include "ct_coords.h"
#include "mesh/ct_mesh.h"

typedef struct ct_fibre_params {
    double alpha_endo_deg, alpha_epi_deg; /* helix angle */
    double beta_endo_deg, beta_epi_deg;   /* sheet (transverse) angle */
} ct_fibre_params;

ct_fibre_params ct_fibre_params_default(void); /* +60, -60, -65, +25 */

/* Writes unit fibres into mesh->fibre and, when sheet is not NULL, unit sheet vectors (3*n_tets,
 * caller-owned). `params` may be NULL (defaults). `n_fallback` (may be NULL) receives the number of
 * elements that needed a geometric fallback. */
ct_status ct_fibres_compute(ct_mesh *mesh, const ct_ventricular_coords *coords, const ct_fibre_params *params,
                            double *sheet, size_t *n_fallback);

/* The local frame (e_c, e_l, e_t) of element e as defined above; returns 1 if a fallback was used. */
int ct_fibres_frame(const ct_mesh *mesh, const ct_ventricular_coords *coords, size_t e, double e_c[3],
                    double e_l[3], double e_t[3]);

#endif /* CT_FIBRES_H */
