/* ct_coords.h — ventricular coordinates of every node, from Laplace solves (P1 FEM, unit isotropic
 * diffusivity, see ct_laplace.h) and the geometry of the labelled boundary (mesh->tris/tri_label).
 *
 * Conventions:
 *   long axis L   unit normal of the base plane (area-weighted mean of the CT_SURF_BASE triangles),
 *                 pointing from the apex to the base (away from the bulk of the tissue). The LV axis is
 *                 the line through the centroid of the LV endocardial nodes with direction L.
 *   apex          the epicardial node farthest from the base plane along -L.
 *   transmural t  Laplace: 0 on every endocardial node (LV and RV), 1 on epicardial nodes (nodes on
 *                 both take 0), zero flux through the base. In a BiV septum t stays low (both faces
 *                 are endocardium): the field does not distinguish LV from RV endocardium.
 *   apicobasal a  Laplace: 0 at the apex node, 1 on the base nodes (Bayer et al. 2012). A point
 *                 source, so a rises steeply near the apex and is not proportional to height.
 *   axial         geometric height: (x - apex).L / (base plane - apex).L, 0 at the apex, 1 on the
 *                 base plane (used for the AHA levels).
 *   geometric     angle g (deg, [0, 360)) of a point about the LV axis, in the plane perpendicular to L,
 *                 viewed from the apex looking to the base, increasing counterclockwise as the AHA
 *                 bull's-eye: anterior (top) -> septum (left) -> inferior -> lateral. The septal
 *                 reference s is the direction from the LV axis to the centroid of the RV endocardial
 *                 nodes (perpendicular to L); without an RV, options->septum_dir (default +x).
 *                 Anterior = L x s. g = 60 deg on s, 330 anterior, 150 inferior, 240 lateral (0 deg is
 *                 60 deg anterior of s: where an RV insertion 120 deg apart from the other would lie).
 *                 For the idealised meshes of ct_geometry.h (apex -z, base +z): s = +x, anterior = +y.
 *   RV insertions where the RV free wall meets the septum, as geometric angles (insertion_anterior_deg,
 *                 insertion_inferior_deg). Detection: each RV endocardial triangle is septal (outward
 *                 normal pointing away from the LV axis: the septal face of the RV cavity) or free wall
 *                 (see rv). The septal RV endocardium spans the arc between the insertions, so in each of
 *                 CT_COORDS_INSERTION_BINS bins of axial height covering the basal and mid thirds of
 *                 the AHA levels (ct_aha.h), the nodes of septal triangles give the two angular
 *                 extremes about the LV axis (signed angle from s: the anterior extreme on the L x s
 *                 side, the inferior one on the other); a bin counts when it holds >= 3 such nodes on
 *                 both sides of s. The insertions are the medians over the counted bins (at least 2).
 *                 Without an RV endocardium, or with fewer than 2 bins, they are assumed at the nominal
 *                 0 (anterior) and 120 (inferior) and insertions_detected is 0.
 *   rotational    the AHA angle (deg, [0, 360)): g mapped piecewise linearly so that the anterior
 *                 insertion is at 0, the inferior insertion at 120 and the septal arc between them (the
 *                 one containing s) fills [0, 120), the free-wall arc (inferior -> lateral -> anterior)
 *                 fills [120, 360). Each arc is stretched uniformly, so rotational 60 is the middle of the
 *                 septal arc, not necessarily s. With the nominal insertions rotational = g (septum 60,
 *                 inferior 150, lateral 240, anterior 330). ct_aha.h cuts this circle into the sectors.
 *   rv            1 in the RV free wall, 0 in the LV (septum included). Laplace: 0 on the LV endocardium
 *                 and on the septal part of the RV endocardium (its outward normal points away from
 *                 the LV axis), 1 on the free-wall part; rv = value > 0.5. All 0 without an RV.
 */
#ifndef CT_COORDS_H
#define CT_COORDS_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/ct_mesh.h"

typedef struct ct_ventricular_coords {
    size_t n_nodes;
    double *apicobasal;     /* n_nodes, [0, 1], owned */
    double *transmural;     /* n_nodes, [0, 1], owned */
    double *rotational_deg; /* n_nodes, [0, 360), owned */
    double *axial;          /* n_nodes, geometric height 0 (apex) .. 1 (base plane), owned */
    int8_t *rv;             /* n_nodes, 1 in the RV free wall, owned */
    /* The frame the coordinates were measured in (mm, unit vectors). */
    double axis_point_mm[3]; /* a point on the LV axis (centroid of the LV endocardial nodes) */
    double long_axis[3];     /* L: apex -> base */
    double septum_dir[3];    /* s: LV axis -> septum/RV, perpendicular to L */
    double anterior_dir[3];  /* L x s */
    /* RV insertions as geometric angles (see above): rotational_deg is 0 at the anterior one and 120 at
     * the inferior one. Nominal 0 and 120 when insertions_detected is 0. */
    double insertion_anterior_deg;
    double insertion_inferior_deg;
    int insertions_detected;  /* 1: measured on the RV endocardium; 0: assumed (no RV, or too few bins) */
    int insertion_bins;       /* axial bins the medians were taken over (0 when assumed) */
    size_t apex_node;
    double lv_cavity_tip_axial; /* axial height of the most apical LV endocardial node */
    int cg_iterations;          /* total over the solves */
} ct_ventricular_coords;

typedef struct ct_coords_options {
    double septum_dir[3]; /* septal reference used when the mesh has no RV endocardium */
    double rel_tol;       /* CG relative residual */
    int max_iter;         /* per solve; 0: 10 n_nodes + 1000 */
} ct_coords_options;

ct_coords_options ct_coords_options_default(void); /* septum +x, rel_tol 1e-10 */

/* Computes the coordinates. The mesh needs labelled boundary triangles with CT_SURF_ENDO_LV,
 * CT_SURF_EPI and CT_SURF_BASE (CT_SURF_ENDO_RV optional). `opt` may be NULL (defaults).
 * Caller owns *out (ct_ventricular_coords_destroy). */
ct_status ct_ventricular_coords_compute(const ct_mesh *mesh, const ct_coords_options *opt,
                                        ct_ventricular_coords **out);
void ct_ventricular_coords_destroy(ct_ventricular_coords *c);

/* Number of axial bins over the basal and mid thirds in which the RV insertions are measured. */
#define CT_COORDS_INSERTION_BINS 8

/* Geometric angle g (deg, [0, 360)) of any point about the LV axis in the frame of c. */
double ct_coords_geometric_deg(const ct_ventricular_coords *c, const double p_mm[3]);

/* The rotational (AHA) angle (deg, [0, 360)) of a geometric angle, by the insertions of c. */
double ct_coords_rotational_of_geometric(const ct_ventricular_coords *c, double geometric_deg);

/* Rotational (AHA) angle of any point: ct_coords_rotational_of_geometric(c, ct_coords_geometric_deg(c, p)).
 * rotational_deg[i] is this function at node i. */
double ct_coords_rotational_deg(const ct_ventricular_coords *c, const double p_mm[3]);

#endif /* CT_COORDS_H */
