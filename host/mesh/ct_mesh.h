/* ct_mesh.h — a tetrahedral mesh of the myocardium and the geometric queries on it.
 *
 * Lengths are in mm. Nodes are numbered local-then-ghost (a serial mesh has no ghosts), so a
 * partition of a mesh is itself a ct_mesh. Every array is owned by the mesh and freed by
 * ct_mesh_destroy().
 */
#ifndef CT_MESH_H
#define CT_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "core/ct_status.h"

typedef struct ct_mesh {
    size_t n_nodes;
    size_t n_tets;
    double *xyz_mm;     /* 3*n_nodes node coordinates (mm), owned */
    int32_t *tets;      /* 4*n_tets node indices, 0-based, positively oriented, owned */
    double *fibre;      /* 3*n_tets unit fibre direction per element, owned */
    int32_t *tissue;    /* n_tets element labels (enum ct_tissue), owned; NULL: all healthy */
    size_t n_tris;      /* labelled boundary triangles (from a mesher or a surface file) */
    int32_t *tris;      /* 3*n_tris node indices, owned; NULL when n_tris == 0 */
    int32_t *tri_label; /* n_tris surface labels (enum ct_surface), owned */
} ct_mesh;

/* Surface labels of boundary triangles. */
enum ct_surface { CT_SURF_NONE = 0, CT_SURF_ENDO_LV = 1, CT_SURF_ENDO_RV = 2, CT_SURF_EPI = 3, CT_SURF_BASE = 4 };

/* Element tissue labels. */
enum ct_tissue { CT_TISSUE_HEALTHY = 0, CT_TISSUE_BORDER_ZONE = 1, CT_TISSUE_SCAR = 2 };

/* Allocates an empty mesh of the given size (coordinates and tets zeroed, fibres along x).
 * The caller owns *out and frees it with ct_mesh_destroy(). */
ct_status ct_mesh_create(size_t n_nodes, size_t n_tets, ct_mesh **out);
void ct_mesh_destroy(ct_mesh *mesh);

/* How ct_mesh_box_split cuts each cube of a box into 6 tetrahedra (the Kuhn split around a main diagonal):
 *   CT_BOX_SPLIT_MIRRORED  the split mirrored from one cube to the next (the default): conforming, and no
 *                          diagonal direction preferred;
 *   CT_BOX_SPLIT_KUHN      every cube split the same way, around its (1,1,1) diagonal: waves along that
 *                          diagonal run fast on coarse meshes (meshes/README.md measures it). */
enum ct_box_split { CT_BOX_SPLIT_MIRRORED = 0, CT_BOX_SPLIT_KUHN = 1 };

/* A box [0,size_x]x[0,size_y]x[0,size_z] (mm) of hexahedra of edge dx_mm (each side rounded to a
 * whole number of cells), each hexahedron split into 6 tetrahedra around a main diagonal as `split`
 * (enum ct_box_split) says. All fibres point along fibre_dir (normalised here). */
ct_status ct_mesh_box_split(const double size_mm[3], double dx_mm, const double fibre_dir[3], int split,
                            ct_mesh **out);
/* The same with the default split, CT_BOX_SPLIT_MIRRORED. */
ct_status ct_mesh_box(const double size_mm[3], double dx_mm, const double fibre_dir[3], ct_mesh **out);

/* Signed volume (mm^3) of tet e: positive for the orientation the mesh keeps. */
double ct_mesh_tet_volume(const ct_mesh *mesh, size_t e);

/* Checks node indices in range, every tet of positive volume (relative tolerance), unit fibres.
 * `source` names the mesh in error messages (a file name or "box"). */
ct_status ct_mesh_validate(const ct_mesh *mesh, const char *source);

/* Finds the tet containing point p (mm) within a tolerance of `tol_mm`, and the barycentric
 * coordinates of p in it. Returns CT_ERR_CONFIG (no message set) if p lies outside the mesh. */
ct_status ct_mesh_locate(const ct_mesh *mesh, const double p_mm[3], double tol_mm, size_t *tet,
                         double bary[4]);

/* Centroid (mm) of tet e: the mean of its four nodes. */
void ct_mesh_tet_centroid(const ct_mesh *mesh, size_t e, double c_mm[3]);

/* Total volume (mm^3) and axis-aligned bounding box. */
double ct_mesh_volume(const ct_mesh *mesh);
void ct_mesh_bounds(const ct_mesh *mesh, double lo_mm[3], double hi_mm[3]);

#endif /* CT_MESH_H */
