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

#include "mesh/ct_mesh.h"
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
 * keeps the whole LV wall, so the septum is the LV wall between the two cavities (as thick as the LV
 * free wall: one LV wall thickness at the equator) and the RV cavity is a crescent wrapped around the
 * septal (+x) side of the LV.
 * Septum direction (LV axis -> RV) = +x; anterior = +y (see ct_coords.h). */
typedef struct ct_biv_params {
    ct_lv_params lv;
    double rv_centre_x_mm, rv_centre_z_mm;
    double rv_epi_x_mm, rv_epi_y_mm, rv_epi_z_mm;
    double rv_wall_mm;
} ct_biv_params;

/* The normal adult heart: ct_biv_params_from_dimensions(ct_heart_dimensions_default()). LV endo 24 / 60,
 * epi 34 / 68, base z 18; RV centre x 26, z 0; RV epi semi-axes 32 (x), 44 (y), 60 (z); RV wall 4:
 * the same heart as ct_phantom_params_default (image/ct_phantom.h). The RV cavity meets the LV
 * epicardium about +-74 deg from +x (the insertions) and ends at z = -56, above the LV apex (-68). */
ct_biv_params ct_biv_params_default(void);

/* The small (rabbit-sized, 16 mm) BiV that was the default before the adult heart: the LV of
 * ct_lv_params_default (endo 7 / 17, epi 10 / 20, base z 5; septum 3 mm), RV centre x 10, z 0; RV epi
 * semi-axes 13 (x), 17 (y), 16 (z); RV wall 3. Its RV cavity meets the LV epicardium about +-75 deg
 * from +x and ends at z = -13, above the LV apex (-20). Patient files: geometry.type
 * "biventricular_small". Quick to mesh; the tests use it. */
ct_biv_params ct_biv_params_small(void);

/* A heart's measured end-diastolic dimensions (mm) for the idealised BiV. Mapping onto ct_biv_params
 * (ct_biv_params_from_dimensions):
 *   LV wall      W = (septum_mm + free_wall_mm) / 2: this geometry has one LV wall thickness at the
 *                equator (the septum is the LV wall), so the two may differ by at most 2 mm (more is
 *                refused; a septum much thicker than the free wall cannot be expressed here);
 *   LV endo short semi-axis = lv_edd_mm / 2;   LV epi short semi-axis R = lv_edd_mm / 2 + W;
 *   LV endo long semi-axis  c = (lv_length_mm - apex_wall_mm) / 1.3, base_z = 0.3 c (the base plane
 *                cuts the cavity 30 % of its long semi-axis above the equator, as in the Land et al.
 *                benchmark LV, 5 / 17), epi long semi-axis = c + apex_wall_mm; so lv_length_mm =
 *                base_z + epi long semi-axis (base plane to epicardial apex);
 *   RV           centre x = R 26/34, epi y semi-axis = R 44/34 (the adult reference heart's RV placement
 *                and crescent width, scaled with the LV), epi x semi-axis such that the cavity reaches
 *                x = R + rv_edd_mm, epi z semi-axis = rv_length_mm - base_z + rv_wall_mm (the RV cavity
 *                ends rv_length_mm below the base), wall rv_wall_mm; centre z 0.
 * Defaults (ct_heart_dimensions_default): a normal adult, after Lang et al. 2015 (J Am Soc
 * Echocardiogr 28:1-39); each value and its source is listed in ct_geometry.c. */
typedef struct ct_heart_dimensions {
    double lv_edd_mm;    /* LV end-diastolic internal diameter at the equator (endocardium to endocardium) */
    double lv_length_mm; /* LV long axis: base plane to epicardial apex */
    double septum_mm;    /* interventricular septum thickness at the equator */
    double free_wall_mm; /* LV free (posterolateral) wall thickness at the equator */
    double apex_wall_mm; /* LV wall thickness at the apex */
    double rv_edd_mm;    /* RV end-diastolic cavity width at the equator, septum (LV epicardium) to RV free-wall
                          * endocardium along the septal-lateral (x) axis */
    double rv_length_mm; /* RV cavity length: base plane to RV endocardial apex */
    double rv_wall_mm;   /* RV free-wall thickness */
} ct_heart_dimensions;

ct_heart_dimensions ct_heart_dimensions_default(void);

/* Checks d and maps it onto *out (above). CT_ERR_CONFIG naming the key ("dimensions.lv_edd_mm = 120 mm
 * ...") for a value that is not finite or outside the plausible human range (lv_edd 30-90, lv_length
 * 50-130, septum and free_wall 4-30, apex_wall 2-20, rv_edd 5-60, rv_length 40-120, rv_wall 1-15 mm),
 * a septum and free wall more than 2 mm apart, an LV cavity wider than long, an RV that reaches below
 * the LV apex (rv_length_mm + rv_wall_mm > lv_length_mm), or an RV cavity too short to reach the base
 * plane from the equator (rv_length_mm <= 2 base_z). *out is unchanged on failure. */
ct_status ct_biv_params_from_dimensions(const ct_heart_dimensions *d, ct_biv_params *out);

/* Meshes the BiV (p NULL: ct_biv_params_default, the adult heart) with target element size h_mm.
 * Labels: CT_SURF_ENDO_LV, CT_SURF_ENDO_RV (RV free wall and the septal LV epicardium facing the RV
 * cavity), CT_SURF_EPI, CT_SURF_BASE. Caller owns *out (ct_mesh_destroy). */
ct_status ct_geometry_biv(const ct_biv_params *p, double h_mm, ct_mesh **out);

/* Tets inside a closed, manifold, outward- or inward-facing triangulated surface (mm): Gmsh splits it
 * into patches at 40 deg creases, remeshes each at h_mm and fills the volume (Delaunay, optimised); if
 * Gmsh refuses to reparametrise a patch, the surface is filled as it is (ct_geometry_fill_surface).
 * The boundary triangles of the result are oriented outwards and unlabelled (CT_SURF_NONE): the caller
 * labels them. `name` names the input in messages. Same Gmsh caveats as above. Caller owns *out. */
ct_status ct_geometry_from_surface(const ct_trisurf *surf, double h_mm, const char *name, ct_mesh **out);

/* The fallback ct_geometry_from_surface takes when Gmsh cannot reparametrise a patch of the surface: the
 * surface's own triangles (no remeshing) bound a volume that Gmsh fills with tets of size h_mm inside. */
ct_status ct_geometry_fill_surface(const ct_trisurf *surf, double h_mm, const char *name, ct_mesh **out);

/* Analytic volume (mm^3) of the solid ellipsoid x^2/a^2 + y^2/a^2 + z^2/c^2 <= 1 below the plane z =
 * z_top (clamped to [-c, c]): pi a^2 [z - z^3 / (3 c^2)] from -c to z_top. The LV wall volume is
 * the epicardial value minus the endocardial one. */
double ct_geometry_truncated_ellipsoid_volume(double a_mm, double c_mm, double z_top_mm);

#endif /* CT_GEOMETRY_H */
