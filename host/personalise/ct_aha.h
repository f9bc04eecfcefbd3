/* ct_aha.h — AHA 17-segment labels (Cerqueira et al. 2002) of the elements of a ventricular mesh,
 * from the ventricular coordinates (ct_coords.h) at each element's centroid.
 *
 * Levels, by the geometric height `axial` (0 apex .. 1 base plane) at the centroid:
 *   apex cap (17)   axial <= the height of the tip of the LV cavity (the most apical LV endocardial
 *                   node): the myocardium beyond the end of the cavity;
 *   the rest, cavity tip to base, in thirds of its length: apical (13-16), mid (7-12), basal (1-6).
 * Sectors, by the rotational angle (ct_coords.h): the AHA circle on which the anterior RV insertion is
 * at 0 and the inferior one at 120, the septal arc between the two insertions (as measured on the mesh,
 * whatever its width) stretched uniformly onto [0, 120) and the free-wall arc onto [120, 360). So the
 * insertions are the boundaries 1|2, 7|8 (anterior) and 3|4, 9|10 (inferior), and basal/mid segments
 * span 60 deg of the AHA circle each: septal 2, 3, 8, 9 each half the measured septal arc, free-wall
 * 1, 4, 5, 6 and 7, 10, 11, 12 each a quarter of the rest. Without detected insertions (no RV) the
 * circle is the geometric angle, 0 at 60 deg anterior of the septal reference.
 *   basal/mid, 60 deg each: [300,360) anterior 1/7, [0,60) anteroseptal 2/8, [60,120) inferoseptal
 *   3/9, [120,180) inferior 4/10, [180,240) inferolateral 5/11, [240,300) anterolateral 6/12;
 *   apical, 90 deg each centred on the middle of the septal arc: [15,105) septal 14, [105,195)
 *   inferior 15, [195,285) lateral 16, [285,15) anterior 13.
 * Elements in the RV free wall (mean nodal rv > 0.5) get 0.
 */
#ifndef CT_AHA_H
#define CT_AHA_H

#include <stdint.h>

#include "ct_coords.h"
#include "mesh/ct_mesh.h"

/* The segment (1..17, 0 for RV) of an LV point from its axial height, rotational angle and the
 * height of the LV cavity tip. */
int ct_aha_segment_of(double axial, double rotational_deg, double cavity_tip_axial);

/* Fills segment[e] (n_tets entries, caller-owned) for every element. */
ct_status ct_aha_segments(const ct_mesh *mesh, const ct_ventricular_coords *coords, int8_t *segment);

#endif /* CT_AHA_H */
