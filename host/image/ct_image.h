/* ct_image.h — a 3-D image on a voxel grid placed in the scanner frame (mm), and the queries the
 * personalisation pipeline makes of it. Plain C: the readers and writers live in host/io/ct_vtk.cxx
 * (ct_vtk.h), the label-map pipeline in host/image/ct_image_heart.c.
 *
 * Geometry: voxel (i, j, k), 0-based, has its centre at  x_mm = ijk_to_mm[r][0] i + ijk_to_mm[r][1] j +
 * ijk_to_mm[r][2] k + ijk_to_mm[r][3]  (r = 0, 1, 2): the columns of the 3x3 part are the voxel axes
 * scaled by the spacing (they need not be orthogonal), the last column is the centre of voxel (0,0,0).
 * The frame is the file's own world frame: "RAS" (NIfTI: +x right, +y anterior, +z superior) or "LPS"
 * (DICOM, ITK's MetaImage and NRRD "left-posterior-superior": +x left, +y posterior, +z superior), or
 * "" when the file says nothing about anatomy (VTK .vti, NRRD without "space").
 * Values: one float per voxel, i fastest (index i + dims[0] (j + dims[1] k)); labels are whole numbers
 * (exact in float up to 2^24).
 */
#ifndef CT_IMAGE_H
#define CT_IMAGE_H

#include <stddef.h>

#include "core/ct_status.h"

typedef struct ct_image {
    int dims[3];              /* voxels along i, j, k; each >= 1 */
    double ijk_to_mm[3][4];   /* voxel index -> scanner frame (mm), see above */
    char frame[4];            /* "RAS", "LPS" or "" */
    float *value;             /* dims[0]*dims[1]*dims[2] voxel values, owned */
} ct_image;

/* Allocates an image of the given size and placement, values zero. Caller owns *out
 * (ct_image_destroy). CT_ERR_CONFIG for a dimension < 1 or a singular placement, CT_ERR_NOMEM. */
ct_status ct_image_create(const int dims[3], const double ijk_to_mm[3][4], ct_image **out);
void ct_image_destroy(ct_image *img); /* NULL is allowed */

/* Number of voxels. */
size_t ct_image_n_voxels(const ct_image *img);

/* Volume of one voxel (mm^3): |det| of the 3x3 part. */
double ct_image_voxel_volume_mm3(const ct_image *img);

/* The continuous voxel index of a point: the inverse of ijk_to_mm. */
void ct_image_mm_to_ijk(const ct_image *img, const double p_mm[3], double ijk[3]);

/* The value of the voxel whose centre is nearest to p (mm); `outside` beyond the grid. */
float ct_image_sample(const ct_image *img, const double p_mm[3], float outside);

/* A placement from spacing (mm), a rotation (3x3, row-major, columns = voxel axes' directions) and the
 * centre of voxel (0,0,0) (mm). NULL rotation: identity. */
void ct_image_placement(const double spacing_mm[3], const double rotation[9], const double origin_mm[3],
                        double ijk_to_mm[3][4]);

/* Re-expresses the placement in another anatomical frame ("RAS" <-> "LPS": x and y change sign).
 * CT_ERR_CONFIG if either frame is unknown (""), unless they are equal. */
ct_status ct_image_set_frame(ct_image *img, const char *frame);

#endif /* CT_IMAGE_H */
