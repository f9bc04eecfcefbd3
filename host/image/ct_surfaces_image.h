/* ct_surfaces_image.h — separate closed surfaces of the epicardium and of the cavities (as segmentation
 * pipelines export them, each closed by a cap at the valve plane) to a label image, so that they go on
 * through the image route (ct_image_heart.h) like a segmentation: the rules for the surface labels, the
 * base and the tissue are then the image route's.
 *
 * Labels: 1 myocardium (inside the epicardium, outside both cavities), 3 LV blood (inside endo_lv), 4 RV
 * blood (inside endo_rv), 0 elsewhere; each voxel by whether its centre lies inside the closed surface
 * (VTK's vtkPolyDataToImageStencil). Grid: axis-aligned, spacing voxel_mm, over the epicardium's bounding
 * box and 3 voxels of margin; frame "".
 * For the base to be found, the cavity surfaces must reach the epicardium's cap (where the segmentation
 * cut the heart at the valves); else the caller gives the base plane.
 */
#ifndef CT_SURFACES_IMAGE_H
#define CT_SURFACES_IMAGE_H

#include "../io/ct_vtk.h"
#include "ct_image.h"

/* epi and endo_lv required, endo_rv may be NULL; each closed and oriented (ct_surface_check). names[3] name
 * the three surfaces in messages. CT_ERR_CONFIG: a cavity mostly outside the epicardium (under 90 % of its
 * voxels inside), a grid over max_voxels. Caller owns *out. */
ct_status ct_surfaces_label_image(const ct_trisurf *epi, const ct_trisurf *endo_lv, const ct_trisurf *endo_rv,
                                  double voxel_mm, size_t max_voxels, const char *const names[3], ct_image **out);

#endif /* CT_SURFACES_IMAGE_H */
