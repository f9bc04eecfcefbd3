/* ct_ecg.h — pseudo-ECG in an infinite homogeneous volume conductor, as a linear map of nodal Vm.
 *
 * Formula (bath conductivity sigma_b, intracellular tensor sigma_i, r = |x - x0|, gradients w.r.t. the
 * tissue point x):
 *   phi(x0, t) = -1/(4 pi sigma_b) * integral_tissue (sigma_i grad Vm) . grad_x(1/r) dV
 *              = +1/(4 pi sigma_b) * integral_tissue (sigma_i grad Vm) . (x - x0) / r^3 dV
 * (written with grad_x0(1/r) = -grad_x(1/r) this is the "+" form of Gima & Rudy). Sign check: a front
 * moving towards the electrode has grad Vm pointing away from it, so phi > 0: a wavefront approaching an
 * electrode gives a positive deflection.
 * Units: sigma in S/m (only the ratio sigma_i / sigma_b enters), grad Vm in mV/mm, (x - x0)/r^3 in 1/mm^2,
 * dV in mm^3: phi in mV.
 *
 * Discretisation: grad Vm is constant per P1 tet; (x - x0)/r^3 is evaluated at the element centroid
 * (one-point quadrature, relative error O((h/r)^2): fine for electrodes a few element sizes away from
 * the tissue; electrodes must lie outside it). sigma_i,e = sigma_it I + (sigma_il - sigma_it) f f^T with
 * the element fibre f. Per electrode, w_e = |T_e| sigma_i,e (x_c - x0)/r^3 / (4 pi sigma_b), and
 *   phi = sum_e w_e . grad Vm_e = sum_e sum_k (w_e . grad phi_k) Vm_k = sum_i c_i Vm_i,
 * so each electrode holds one nodal weight vector c (n_nodes) built once at create time: sampling costs
 * one dot product of length n_nodes per electrode. sum_i c_i = 0, so a uniform Vm gives phi = 0.
 *
 * 12-lead placement (idealised, not a torso): body frame S = superior (default +z), A = anterior (default +y,
 * made orthogonal to S), L = patient's left = S x A, in mesh coordinates. Centre c = the centre of the mesh's
 * bounding box in that frame (or the caller's), heart radius R = half that box's diagonal: rotating the mesh
 * and the frame together moves every electrode with them (with the default frame the box is the mesh's
 * axis-aligned bounding box). Limb electrodes at limb_distance_radii*R
 * (default 10) in the frontal plane (L, -S) at angle theta from L towards inferior (-S): RA -150 deg,
 * LA -30 deg, LL +90 deg (Einthoven triangle). Precordial V1..V6 at chest_distance_radii*R (default 2)
 * in the transverse plane (A, L) through c at angles from A towards L: -30, -6, 18, 42, 66, 90 deg
 * (V6 straight to the left).
 * Leads: I = LA-RA, II = LL-RA, III = LL-LA, aVR = RA-(LA+LL)/2, aVL = LA-(RA+LL)/2, aVF = LL-(RA+LA)/2,
 * WCT = (RA+LA+LL)/3, Vk = phi(Vk) - WCT.
 */
#ifndef CT_ECG_H
#define CT_ECG_H

#include <stddef.h>

#include "mesh/ct_mesh.h"
#include "core/ct_status.h"

typedef struct ct_ecg_conductivity {
    double sigma_il_S_per_m; /* intracellular, along the fibre */
    double sigma_it_S_per_m; /* intracellular, across the fibre */
    double sigma_b_S_per_m;  /* bath (volume conductor); 0 = default 1.0 S/m */
} ct_ecg_conductivity;

/* Zero-initialised fields take their defaults (documented above). */
typedef struct ct_ecg_placement {
    int use_centre;              /* 0: bounding-box centre; 1: centre_mm below */
    double centre_mm[3];
    double superior[3];          /* zero vector: +z (ct_config's "ecg.superior" is checked before it gets here) */
    double anterior[3];          /* zero vector: +y; must not be parallel to superior */
    double limb_distance_radii;  /* 0: 10 */
    double chest_distance_radii; /* 0: 2 */
} ct_ecg_placement;

typedef struct ct_ecg ct_ecg;

enum { CT_ECG_N_LEADS_12 = 12, CT_ECG_N_ELECTRODES_12 = 9 };

/* 12-lead ECG from 9 electrodes (RA, LA, LL, V1..V6). placement may be NULL (all defaults).
 * The caller owns *out (ct_ecg_destroy). The mesh is only read during create. */
ct_status ct_ecg_create(const ct_mesh *mesh, const ct_ecg_conductivity *cond, const ct_ecg_placement *placement,
                        ct_ecg **out);

/* The same electrodes (placed from `whole`'s bounding box) with weights for the first n_keep nodes of `part`
 * only, summed over part's elements: a rank of a split run (mpi/ct_dist.h) passes its local mesh and its
 * owned node count, and its ct_ecg_potentials are its share of the whole mesh's (every element around an
 * owned node is in the local mesh). n_nodes of the result is n_keep. part == whole, n_keep == n_nodes is
 * ct_ecg_create. */
ct_status ct_ecg_create_part(const ct_mesh *whole, const ct_mesh *part, size_t n_keep,
                             const ct_ecg_conductivity *cond, const ct_ecg_placement *placement, ct_ecg **out);

/* Unipolar potentials at n_electrodes caller-given points (xyz_mm, 3*n): one "lead" per electrode,
 * named E0, E1, ... */
ct_status ct_ecg_create_unipolar(const ct_mesh *mesh, const ct_ecg_conductivity *cond, size_t n_electrodes,
                                 const double *xyz_mm, ct_ecg **out);

void ct_ecg_destroy(ct_ecg *ecg);

/* Appends one row: every lead at time t_ms from the nodal vm_mV (n_nodes of the mesh given at create).
 * CT_ERR_NOMEM if the row store cannot grow. */
ct_status ct_ecg_sample(ct_ecg *ecg, const double *vm_mV, double t_ms);

/* ct_ecg_sample in two halves: the electrodes' potentials phi_mV[n_electrodes] from vm_mV (n_nodes), and
 * one row appended from given potentials (the lead algebra). A split run reduces the first over ranks. */
void ct_ecg_potentials(const ct_ecg *ecg, const double *vm_mV, double *phi_mV);
ct_status ct_ecg_append(ct_ecg *ecg, const double *phi_mV, double t_ms);

size_t ct_ecg_n_leads(const ct_ecg *ecg);
size_t ct_ecg_n_electrodes(const ct_ecg *ecg);
size_t ct_ecg_n_samples(const ct_ecg *ecg);
/* Replaces the samples taken so far with n given ones (times_ms[n]; values n * n_leads, sample-major): a
 * run restarted from a checkpoint carries on the trace it had. */
ct_status ct_ecg_set_samples(ct_ecg *ecg, size_t n, const double *times_ms, const double *values);
const char *ct_ecg_lead_name(const ct_ecg *ecg, size_t lead); /* static or owned by ecg */
/* Value (mV) of lead `lead` at sample `s`; time (ms) of sample s. */
double ct_ecg_value(const ct_ecg *ecg, size_t s, size_t lead);
double ct_ecg_time(const ct_ecg *ecg, size_t s);
/* Electrode position (mm) and its nodal weights (n_nodes, mV per mV; owned by ecg). */
void ct_ecg_electrode_position(const ct_ecg *ecg, size_t electrode, double xyz_mm[3]);
const double *ct_ecg_electrode_weights(const ct_ecg *ecg, size_t electrode);

/* CSV: header "time_ms,<lead names>" (12-lead: time_ms,I,II,III,aVR,aVL,aVF,V1,...,V6), one row per
 * sample, the leads to 17 significant digits (they read back exactly), written atomically
 * (ct_write_file_atomic). */
ct_status ct_ecg_write_csv(const ct_ecg *ecg, const char *path);

/* Interval detection on the RMS over leads, rms(t) = sqrt(mean_l lead_l(t)^2), with slope
 * s(t) = |d rms/dt| (central differences):
 *   QRS onset  = first sample with s >= qrs_slope_fraction * max s (max over all samples);
 *   QRS offset = last sample in [onset, onset + qrs_max_ms] with s >= that threshold;
 *   T wave     = max of rms after offset + t_min_gap_ms; accepted if >= t_min_fraction * max rms in QRS;
 *   T end      = tangent method: the steepest descending slope of rms after the T peak, extended down to
 *                the baseline (rms at QRS onset);  QT = T end - QRS onset. The T wave counts only if it ended
 *                within the recording: rms fell at least halfway from the T peak to the baseline and T end
 *                is not after the last sample; else T peak, T end and QT are NAN (a run that ends before
 *                the tissue repolarises has no QT).
 * Zero fields take defaults: qrs_slope_fraction 0.1, qrs_max_ms 200, t_min_gap_ms 10, t_min_fraction 0.02. */
typedef struct ct_ecg_interval_params {
    double qrs_slope_fraction;
    double qrs_max_ms;
    double t_min_gap_ms;
    double t_min_fraction;
} ct_ecg_interval_params;

typedef struct ct_ecg_intervals {
    double qrs_onset_ms;  /* NAN if not found */
    double qrs_offset_ms;
    double qrs_ms;        /* offset - onset */
    double t_peak_ms;     /* NAN when no T wave was found */
    double t_end_ms;
    double qt_ms;
} ct_ecg_intervals;

/* On the RMS over all leads of the recorded samples (params may be NULL). CT_ERR_CONFIG with fewer
 * than 3 samples. */
ct_status ct_ecg_intervals_compute(const ct_ecg *ecg, const ct_ecg_interval_params *params, ct_ecg_intervals *out);

/* Same on any non-negative envelope signal y(t) (n samples, t increasing). */
ct_status ct_ecg_intervals_from_signal(const double *t_ms, const double *y, size_t n,
                                       const ct_ecg_interval_params *params, ct_ecg_intervals *out);

#endif /* CT_ECG_H */
