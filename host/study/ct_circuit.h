/* ct_circuit.h — the circuit of an induced re-entry, its isthmus, and the lesion that would transect it.
 *
 * Input: the mesh, which elements do not conduct (scar and lesions: the sim's sigma_scale == 0), and the
 * activation times of one full cycle at the end of the observation (per node, its last activation; NaN
 * where a node did not activate in the last half of the observation), with the cycle length.
 *
 * The encircled obstacle. The non-conducting elements are grouped into obstacles (connected through shared
 * nodes). Around each obstacle, the conducting nodes that touch it (its rim) are sorted by angle about the
 * obstacle's centre in the rim's best-fit plane (normal: the rim's direction of least extent, signed so that
 * its largest component is positive) into 36 sectors; the activation phase 2 pi t / CL of each sector (a
 * circular mean) is followed once round. Its winding, in cycles, is +-1 for a wave circling the obstacle and
 * about 0 for one passing it by. The encircled obstacle is the one with the largest |winding| (at least
 * 0.5); the sign says the direction: + anticlockwise, - clockwise, seen from the +normal side (a plan view
 * of a sheet from +z).
 *
 * The isthmus: the narrowest conducting gap between the encircled obstacle and another non-conducting
 * boundary: another obstacle, or the mesh's outer boundary where it is not a face the circuit runs along
 * (a mesh with labelled surfaces: the base, i.e. the valve plane; otherwise the boundary faces whose normal
 * is within 45 degrees of the circuit's plane, i.e. the rim of a sheet or slab, not its two faces). A
 * multi-source Dijkstra over the edges of conducting elements, from those boundaries, gives each rim node
 * its distance through conducting tissue. Gaps within one mean edge length of the narrowest one tie (on a
 * sheet around a centred block all four sides tie); among them the one the circuit crosses slowest is
 * chosen: the lowest mean conduction velocity along the gap's path, from the gradient of the cycle's
 * activation times per element (a gap where the wave is slow is where a re-entry's excitable gap is
 * shortest and where the circuit is most often mapped as its critical isthmus; picking it makes the choice
 * deterministic and physiological, while any tied gap transects the circuit equally well).
 * Width: the straight distance between the gap's two end points (rim node, boundary node). The channel:
 * the run of sectors next to the chosen one whose gaps are as narrow (within one edge) and point the same
 * way (within 30 degrees); entrance and exit: the midpoints of the gaps at its upstream and downstream ends
 * along the circuit's direction.
 *
 * The lesion: a line from end point to end point, moved to the mid-plane of the rim (mid-wall) and
 * extended by one mean edge length into both non-conducting sides, of radius max(1.5 x mean edge length,
 * half the wall thickness = half the rim's extent along the normal) so that it is transmural in 3D.
 * Lengths in mm, times in ms.
 */
#ifndef CT_CIRCUIT_H
#define CT_CIRCUIT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "ct_lesion.h"
#include "mesh/ct_mesh.h"

#define CT_CIRCUIT_SECTORS 36

typedef struct ct_circuit {
    int found;                      /* 1: an encircled obstacle and an isthmus were found; 0: see why */
    char why[160];                  /* when found == 0: the reason */
    double cycle_length_ms;
    int n_obstacles;                /* non-conducting components */
    int obstacle;                   /* the encircled one, 1..n_obstacles */
    size_t obstacle_elements;
    double obstacle_volume_mm3;
    double obstacle_center_mm[3];   /* centroid of its rim */
    double normal[3];               /* the circuit's plane normal (unit) */
    double winding;                 /* cycles of activation phase once round the obstacle */
    int direction;                  /* +1 anticlockwise, -1 clockwise seen from +normal */
    double isthmus_width_mm;
    double isthmus_from_mm[3];      /* on the encircled obstacle */
    double isthmus_to_mm[3];        /* on the other boundary */
    int isthmus_to_obstacle;        /* 0: the outer boundary, else the obstacle's number */
    double isthmus_cv_m_per_s;      /* mean conduction velocity along the gap (mm/ms = m/s) */
    int n_ties;                     /* rim nodes whose gap tied with the narrowest */
    double entrance_mm[3], exit_mm[3];
    int aha_segment;                /* at the isthmus midpoint; 0: the mesh has no segments */
    double mean_edge_mm, wall_mm;
    ct_lesion lesion;               /* the proposed line lesion (name "isthmus") */
    double lesion_volume_mm3;       /* elements whose centroid it holds (ct_lesions_mark) */
    int lesion_transmural;          /* as ct_lesion_effect */
} ct_circuit;

/* Characterises the circuit. non_conducting: n_tets flags (1: scar or lesion); last_activation_ms: n_nodes
 * (NaN: none in the cycle); aha_segment: n_tets or NULL. A re-entry that encircles no obstacle (a rotor in
 * open tissue) is not an error: out->found = 0 and out->why says so. Errors: bad arguments, out of memory. */
ct_status ct_circuit_find(const ct_mesh *mesh, const uint8_t *non_conducting, const double *last_activation_ms,
                          double cycle_length_ms, const int8_t *aha_segment, ct_circuit *out);

/* The circuit as report.json and site-NN.json carry it (owned by the caller). */
cJSON *ct_circuit_json(const ct_circuit *c);
/* Reads back the proposed lesion of a circuit's JSON: 1 when it has one. */
int ct_circuit_json_lesion(const cJSON *circuit, ct_lesion *out);

#endif /* CT_CIRCUIT_H */
