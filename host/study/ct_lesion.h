/* ct_lesion.h — ablation lesions: regions of the mesh made non-conducting.
 *
 * A lesion is a sphere (a point lesion), a line (a capsule of a given radius around a segment: a line of
 * point lesions, as a catheter drags) or a box. Elements whose centroid lies inside become scar with zero
 * conductivity, whatever the configuration's scar conductivity. Lengths in mm.
 * In a configuration: "lesions": [{"shape": "sphere", "center_mm": [x,y,z], "radius_mm": r},
 *                                 {"shape": "line", "from_mm": [..], "to_mm": [..], "radius_mm": r},
 *                                 {"shape": "box", "box_min_mm": [..], "box_max_mm": [..]}]   ("name" optional)
 * On the command line (`cardiotwin ablate --lesion SPEC`): "sphere:x,y,z,r", "line:x1,y1,z1,x2,y2,z2,r" or
 * "box:x1,y1,z1,x2,y2,z2".
 */
#ifndef CT_LESION_H
#define CT_LESION_H

#include <stddef.h>
#include <stdint.h>

#include "mesh/ct_mesh.h"
#include "core/ct_status.h"

enum ct_lesion_shape { CT_LESION_SPHERE = 0, CT_LESION_LINE = 1, CT_LESION_BOX = 2 };

typedef struct ct_lesion {
    char name[64];
    int shape;                 /* enum ct_lesion_shape */
    double a_mm[3], b_mm[3];   /* sphere: centre in a; line: from a to b; box: min corner a, max corner b */
    double radius_mm;          /* sphere and line */
} ct_lesion;

/* "sphere", "line", "box". */
const char *ct_lesion_shape_name(int shape);

/* Parses a command-line lesion SPEC (see above) into *out; the message names the spec on error. */
ct_status ct_lesion_parse_spec(const char *spec, ct_lesion *out);

/* Whether point p (mm) lies inside the lesion. */
int ct_lesion_contains(const ct_lesion *l, const double p_mm[3]);

/* What a lesion does to a mesh. */
typedef struct ct_lesion_effect {
    size_t n_elements;   /* elements whose centroid lies inside */
    double volume_mm3;   /* their volume */
    int transmural;      /* 1: touches both an endocardial and the epicardial surface, 0: not,
                            -1: unknown (the mesh has no labelled surfaces) */
} ct_lesion_effect;

/* Marks the elements inside any of the lesions: elem_in_lesion[e] = 1 (caller's n_tets array, others left
 * as they are) and fills effect[l] for each lesion (caller's array of n_lesions, may be NULL).
 * A lesion that contains no element centroid is an error naming it (it would silently do nothing). */
ct_status ct_lesions_mark(const ct_mesh *mesh, const ct_lesion *lesions, int n_lesions, uint8_t *elem_in_lesion,
                          ct_lesion_effect *effect);

#endif /* CT_LESION_H */
