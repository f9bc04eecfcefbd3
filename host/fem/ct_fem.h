/* ct_fem.h — P1 finite-element matrices of the monodomain diffusion operator on tetrahedra.
 *
 * Assembles, for conductivity tensor sigma_e = sigma_t I + (sigma_l - sigma_t) f f^T per element
 * (transversely isotropic about the fibre f), the diffusivity D_e = sigma_e / (chi Cm) in mm^2/ms:
 *   K_ij = sum_e  |T_e| grad(phi_i) . D_e grad(phi_j)      (mm^3 * mm^2/ms / mm^2 = mm^3/ms)
 *   m_i  = sum_e  |T_e| / 4                                (lumped mass, mm^3)
 * so that dVm/dt = -M^-1 K Vm is the diffusion part of the monodomain equation.
 */
#ifndef CT_FEM_H
#define CT_FEM_H

#include "ct_csr.h"
#include "mesh/ct_mesh.h"

typedef struct ct_conductivity {
    double sigma_l_S_per_m;   /* along the fibre, monodomain (bulk) value */
    double sigma_t_S_per_m;   /* across the fibre (transversely isotropic) */
    double chi_per_mm;        /* surface-to-volume ratio */
    double cm_uF_per_mm2;     /* membrane capacitance */
} ct_conductivity;

/* Diffusivity (mm^2/ms) of a conductivity (S/m): sigma / (chi Cm). */
double ct_fem_diffusivity(double sigma_S_per_m, double chi_per_mm, double cm_uF_per_mm2);

/* Assembles K (caller owns *stiffness, ct_csr_destroy), the lumped mass (caller-provided array of
 * n_nodes) and, if `consistent_mass` is not NULL, the consistent mass matrix
 *   M_ij = sum_e |T_e| (1 + delta_ij) / 20     (mm^3, same pattern as K; caller owns it).
 * `sigma_scale` (n_tets, may be NULL) multiplies both conductivities per element (0 makes an element
 * non-conducting). */
ct_status ct_fem_assemble(const ct_mesh *mesh, const ct_conductivity *cond, const double *sigma_scale,
                          ct_csr **stiffness, double *lumped_mass_mm3, ct_csr **consistent_mass);

/* Upper bound of the largest eigenvalue (1/ms) of M_L^-1 K with the lumped mass (Gershgorin on the rows):
 * forward Euler diffusion is stable for dt < 2 / bound. With the consistent mass M_C >= M_L / 5
 * (element by element), so 5 times this bound holds for M_C^-1 K. */
double ct_fem_max_rate_bound(const ct_csr *stiffness, const double *lumped_mass_mm3);
/* The same over rows 0..n_rows-1 only (a rank's owned rows, the complete ones: host/mpi/ct_partition.h). */
double ct_fem_max_rate_bound_rows(const ct_csr *stiffness, const double *lumped_mass_mm3, size_t n_rows);

#endif /* CT_FEM_H */
