/* ct_surface_heart.h — from one closed triangulated surface of the myocardium (STL, PLY, OBJ or VTP, as many
 * segmentation pipelines hand it over) to a labelled tetrahedral mesh: the surface route of `personalise`.
 *
 * The surface is the boundary of a biventricular (or LV-only) myocardium cut at the base: one closed piece
 * made of the epicardium, the flat base ring (the truncation) and the endocardial cups of the LV and the RV,
 * which open onto the base ring through its inner loops. Nothing in the file is trusted but the points and
 * the triangles: no labels, no orientation.
 *
 * Steps (ct_surface_heart):
 *   1. checks (ct_surface_check): indices in range, no triangle with a repeated corner; every edge shared by
 *      exactly two triangles (an edge of one triangle: "open"; of three or more: "non-manifold"; the message
 *      names the file, the count and one offending edge's end points in mm); one connected piece;
 *   2. orientation: made consistent by propagation across the edges from triangle 0 (the minority of
 *      triangles that disagree with their neighbours is flipped; a surface that cannot be oriented, a Moebius
 *      strip, is refused), then all triangles flipped if the enclosed (signed) volume is negative, so that
 *      normals face outwards (the caller may force or forbid that flip);
 *   3. units: the enclosed volume (the myocardium, since the cavities open at the base lie outside the
 *      surface) must be 1 to 3000 mL: a surface in cm read as mm holds 1000 times too little;
 *   4. the base: the flat truncation. Candidate planes go through a sample of about 400 triangles; each is
 *      refined twice to the area-weighted mean normal and centroid of the triangles it supports (normal within
 *      25 deg of the plane's, centroid within tol = max(mean edge, 1 % of the diagonal) of it). By decreasing
 *      supported area (at most 20 distinct planes tried), the base is the first whose support, its rim
 *      completed (neighbours within one mean edge of the plane whose normal is within 60 deg of it), cuts the
 *      rest of the surface into two or more pieces of over 1 % of the area each: a flat patch of the
 *      epicardium (a large RV flank) leaves the surface in one piece, the truncation separates the cavities
 *      from the epicardium. Its normal (outward) points from the apex to the base. No such plane, or none over
 *      1 % of the area: refused, naming geometry.base. Or given by the caller as a point and a normal (apex to
 *      base): the triangles within max(mean edge, 1 mm) of that plane whose normal is within 20 deg of it, rim
 *      completed as above;
 *   5. the rest falls apart, at the base's loops, into connected pieces: the epicardium is the piece of the
 *      triangle farthest from the surface's centroid; every other piece over 1 % of the area is a cavity
 *      (one or two: more is refused); the LV cavity is the one that reaches nearer the apex (the lowest point
 *      along the base normal), or the one whose triangle is nearest a point the caller gives inside the LV
 *      cavity; the other is the RV (its septal side included, as ct_geometry_biv labels it). Pieces under 1 %
 *      of the area (slivers of the base's rim) take the label of the nearest triangle of a large piece;
 *   6. Gmsh remeshes the oriented surface at h_mm and fills it with tets (ct_geometry_from_surface); each
 *      boundary triangle of the mesh takes the label of the nearest (centroid) input triangle that faces the
 *      same way (normals at less than 90 deg).
 */
#ifndef CT_SURFACE_HEART_H
#define CT_SURFACE_HEART_H

#include "mesh/ct_mesh.h"
#include "../io/ct_vtk.h"

typedef struct ct_surface_heart_options {
    double h_mm;            /* target element size (default 1.5) */
    int flip;               /* -1: by the enclosed volume (default); 0: keep the file's orientation; 1: flip it */
    int has_base;           /* 1: base_point_mm / base_normal (apex to base) instead of the largest flat region */
    double base_point_mm[3], base_normal[3];
    int has_lv_point;       /* 1: the LV is the cavity nearest lv_cavity_point_mm (a point inside the LV cavity) */
    double lv_cavity_point_mm[3];
} ct_surface_heart_options;

ct_surface_heart_options ct_surface_heart_options_default(void);

typedef struct ct_surface_heart_report {
    size_t n_points, n_tris;        /* of the input surface */
    size_t n_reoriented;            /* triangles flipped to agree with their neighbours */
    int flipped;                    /* 1: every triangle flipped to face outwards */
    double enclosed_mm3;            /* volume inside the (oriented) input surface */
    double base_point_mm[3], base_normal[3];
    int base_found;                 /* 1: found, 0: given */
    double apex_mm[3];              /* the input point farthest below the base plane */
    int n_cavities;                 /* cavities opening onto the base (1 or 2) */
    int lv_from_point;              /* 1: LV chosen by lv_cavity_point_mm */
    size_t n_small_pieces;          /* pieces under 1 % of the area, labelled from their nearest neighbours */
    double area_mm2[5];             /* input surface area per label (enum ct_surface) */
    double seconds_mesh;
} ct_surface_heart_report;

/* Steps 1-3 on s, in place (triangles flipped as needed). `src` names the surface in messages:
 *   bad index, repeated corner, open, non-manifold, in several pieces, not orientable -> CT_ERR_MESH;
 *   enclosed volume outside 1..3000 mL, or inwards-facing after a forced flip choice  -> CT_ERR_CONFIG. */
ct_status ct_surface_check(ct_trisurf *s, int flip, const char *src, ct_surface_heart_report *rep);

/* Steps 4-5 on a surface that passed ct_surface_check: labels[t] (n_tris, caller's) gets enum ct_surface.
 * Failures (no flat base, no cavity, more than two cavities): CT_ERR_CONFIG naming src and the override. */
ct_status ct_surface_label(const ct_trisurf *s, const ct_surface_heart_options *opt, const char *src,
                           int32_t *labels, ct_surface_heart_report *rep);

/* All the steps. s is oriented in place; *labels_out (n_tris of s, malloc'd, caller frees) holds its labels
 * and *out (ct_mesh_destroy) the labelled tet mesh. Both NULL on failure. */
ct_status ct_surface_heart(ct_trisurf *s, const ct_surface_heart_options *opt, const char *src,
                           int32_t **labels_out, ct_mesh **out, ct_surface_heart_report *rep);

#endif /* CT_SURFACE_HEART_H */
