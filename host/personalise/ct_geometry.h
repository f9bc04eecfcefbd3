/* ct_geometry.h — idealised ventricular geometries meshed with Gmsh (OpenCASCADE kernel, C API).
 *
 * Lengths in mm. The long axis is z, the apex points to -z and the base is the plane z = base_z_mm
 * (tissue kept below it). The returned meshes hold 4-node tets (positively oriented, nodes numbered
 * 0..n-1 compactly), fibres along x (placeholders; see ct_fibres.h) and the boundary triangles of the
 * tet mesh, oriented outwards and labelled with enum ct_surface by the surface of the model they lie
 * on (classified geometrically per triangle: base = all three nodes on the base plane; otherwise the
 * nearest of the model's ellipsoids at the centroid, to first order |f| / |grad f|).
 *
 * Gmsh keeps global state: these functions initialise and finalise it themselves (its terminal output
 * switched off), so they must not run concurrently with each other or with other Gmsh users, and
 * must not be called while the caller holds an initialised Gmsh session.
 */
#ifndef CT_GEOMETRY_H
#define CT_GEOMETRY_H

#include "ct_mesh.h"
#include "io/ct_vtk.h"

/* Truncated ellipsoidal LV of the Land et al. 2015 mechanics benchmark: the shell between the
 * ellipsoids x^2/r_s^2 + y^2/r_s^2 + z^2/r_l^2 = 1 of the endocardium and of the epicardium, cut at
 * z = base_z_mm. Defaults (ct_lv_params_default): endo r_s 7, r_l 17; epi r_s 10, r_l 20; base z 5.
 * Wall 3 mm thick at the equator and at the apex. */
typedef struct ct_lv_params {
    double endo_short_mm, endo_long_mm; /* semi-axes of the endocardium: x,y and z */
    double epi_short_mm, epi_long_mm;   /* semi-axes of the epicardium */
    double base_z_mm;                   /* base plane; tissue kept at z <= base_z_mm */
} ct_lv_params;

ct_lv_params ct_lv_params_default(void);

/* Meshes the LV with target element size h_mm (Gmsh's Mesh.MeshSizeMax). Labels: CT_SURF_ENDO_LV,
 * CT_SURF_EPI, CT_SURF_BASE. Caller owns *out (ct_mesh_destroy). */
ct_status ct_geometry_lv(const ct_lv_params *p, double h_mm, ct_mesh **out);

/* Idealised biventricular geometry. Construction (all ellipsoids axis-aligned):
 *   body   = (LV epi  U  RV epi)  -  LV endo  -  (RV endo - LV epi)  -  {z > base_z}
 * The LV is ct_lv_params (centred at the origin). The RV is a flattened ellipsoidal shell centred at
 * (rv_centre_x_mm, 0, rv_centre_z_mm) on the +x side: epi semi-axes (rv_epi_x, rv_epi_y, rv_epi_z),
 * endo semi-axes each rv_wall_mm smaller. Subtracting the LV epi from the RV cavity before cutting
 * keeps the whole LV wall, so the septum is the LV wall between the two cavities (3 mm with the
 * defaults) and the RV cavity is a crescent wrapped around the septal (+x) side of the LV.
 * Defaults (ct_biv_params_default): RV centre x 10, z 0; RV epi semi-axes 13 (x), 17 (y), 16 (z);
 * RV wall 3. With these the RV cavity meets the LV epicardium about +-75 deg from +x (the RV
 * insertions) at the equator and the RV is shorter than the LV (RV endo tip at z = -13, LV apex -20).
 * Septum direction (LV axis -> RV) = +x; anterior = +y (see ct_coords.h). */
typedef struct ct_biv_params {
    ct_lv_params lv;
    double rv_centre_x_mm, rv_centre_z_mm;
    double rv_epi_x_mm, rv_epi_y_mm, rv_epi_z_mm;
    double rv_wall_mm;
} ct_biv_params;

ct_biv_params ct_biv_params_default(void);

/* Meshes the BiV with target element size h_mm. Labels: CT_SURF_ENDO_LV, CT_SURF_ENDO_RV (RV free
 * wall and the septal LV epicardium facing the RV cavity), CT_SURF_EPI, CT_SURF_BASE. Caller owns
 * *out (ct_mesh_destroy). */
ct_status ct_geometry_biv(const ct_biv_params *p, double h_mm, ct_mesh **out);

/* Tets inside a closed, manifold, outward- or inward-facing triangulated surface (mm): Gmsh splits it
 * into patches at 40 deg creases, remeshes each at h_mm and fills the volume (Delaunay, optimised).
 * The boundary triangles of the result are oriented outwards and unlabelled (CT_SURF_NONE): the caller
 * labels them. `name` names the input in messages. Same Gmsh caveats as above. Caller owns *out. */
ct_status ct_geometry_from_surface(const ct_trisurf *surf, double h_mm, const char *name, ct_mesh **out);

/* Analytic volume (mm^3) of the solid ellipsoid x^2/a^2 + y^2/a^2 + z^2/c^2 <= 1 below the plane z =
 * z_top (clamped to [-c, c]): pi a^2 [z - z^3 / (3 c^2)] from -c to z_top. The LV wall volume is
 * the epicardial value minus the endocardial one. */
double ct_geometry_truncated_ellipsoid_volume(double a_mm, double c_mm, double z_top_mm);

#endif /* CT_GEOMETRY_H */
