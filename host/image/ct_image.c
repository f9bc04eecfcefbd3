/* ct_image.c — the voxel grid type of ct_image.h: allocation, placement and sampling. */
#include "ct_image.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static double det3(const double a[3][4])
{
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
}

ct_status ct_image_create(const int dims[3], const double ijk_to_mm[3][4], ct_image **out)
{
    *out = NULL;
    for (int d = 0; d < 3; d++)
        if (dims[d] < 1)
            return ct_error_set(CT_ERR_CONFIG, "image: dimension %d is %d voxels (must be >= 1)", d, dims[d]);
    double det = det3(ijk_to_mm);
    if (!(fabs(det) > 0) || !isfinite(det))
        return ct_error_set(CT_ERR_CONFIG, "image: the voxel axes are singular or not finite (determinant %g)", det);
    size_t n = (size_t)dims[0] * (size_t)dims[1] * (size_t)dims[2];
    if (n > SIZE_MAX / sizeof(float))
        return ct_error_set(CT_ERR_NOMEM, "image: %d x %d x %d voxels cannot be addressed", dims[0], dims[1], dims[2]);
    ct_image *img = calloc(1, sizeof *img);
    if (!img)
        return ct_error_set(CT_ERR_NOMEM, "image: out of memory");
    img->value = calloc(n, sizeof *img->value);
    if (!img->value) {
        free(img);
        return ct_error_set(CT_ERR_NOMEM, "image: out of memory for %zu voxels (%.1f GiB)", n,
                            (double)n * sizeof(float) / 1073741824.0);
    }
    memcpy(img->dims, dims, sizeof img->dims);
    memcpy(img->ijk_to_mm, ijk_to_mm, sizeof img->ijk_to_mm);
    *out = img;
    return CT_OK;
}

void ct_image_destroy(ct_image *img)
{
    if (!img)
        return;
    free(img->value);
    free(img);
}

size_t ct_image_n_voxels(const ct_image *img)
{
    return (size_t)img->dims[0] * (size_t)img->dims[1] * (size_t)img->dims[2];
}

double ct_image_voxel_volume_mm3(const ct_image *img)
{
    return fabs(det3(img->ijk_to_mm));
}

void ct_image_mm_to_ijk(const ct_image *img, const double p_mm[3], double ijk[3])
{
    const double(*a)[4] = img->ijk_to_mm;
    double d[3] = {p_mm[0] - a[0][3], p_mm[1] - a[1][3], p_mm[2] - a[2][3]};
    double det = det3(a);
    /* Cramer's rule: column c replaced by d */
    for (int c = 0; c < 3; c++) {
        double m[3][4];
        memcpy(m, a, sizeof m);
        for (int r = 0; r < 3; r++)
            m[r][c] = d[r];
        ijk[c] = det3(m) / det;
    }
}

float ct_image_sample(const ct_image *img, const double p_mm[3], float outside)
{
    double ijk[3];
    ct_image_mm_to_ijk(img, p_mm, ijk);
    long idx[3];
    for (int d = 0; d < 3; d++) {
        double r = floor(ijk[d] + 0.5);
        if (!(r >= 0 && r < img->dims[d]))
            return outside;
        idx[d] = (long)r;
    }
    return img->value[(size_t)idx[0] + (size_t)img->dims[0] * ((size_t)idx[1] + (size_t)img->dims[1] * (size_t)idx[2])];
}

void ct_image_placement(const double spacing_mm[3], const double rotation[9], const double origin_mm[3],
                        double ijk_to_mm[3][4])
{
    static const double identity[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    if (!rotation)
        rotation = identity;
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++)
            ijk_to_mm[r][c] = rotation[3 * r + c] * spacing_mm[c];
        ijk_to_mm[r][3] = origin_mm[r];
    }
}

ct_status ct_image_set_frame(ct_image *img, const char *frame)
{
    if (strcmp(img->frame, frame) == 0)
        return CT_OK;
    int known = (strcmp(frame, "RAS") == 0 || strcmp(frame, "LPS") == 0) &&
                (strcmp(img->frame, "RAS") == 0 || strcmp(img->frame, "LPS") == 0);
    if (!known)
        return ct_error_set(CT_ERR_CONFIG, "image: cannot convert from frame \"%s\" to \"%s\"", img->frame, frame);
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 4; c++)
            img->ijk_to_mm[r][c] = -img->ijk_to_mm[r][c];
    snprintf(img->frame, sizeof img->frame, "%s", frame);
    return CT_OK;
}
