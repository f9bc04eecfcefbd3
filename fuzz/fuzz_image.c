/* fuzz_image.c — libFuzzer target for the label and LGE image readers (ct_vtk_read_image in
 * host/io/ct_vtk.cxx): NIfTI and MetaImage voxels through VTK with the placement from their headers,
 * NRRD parsed by our own reader (header, raw or gzip data).
 *
 * Input: the first byte picks the file name's extension (0 .nii, 1 .nii.gz, 2 .mha, 3 .nrrd, modulo 4),
 * the rest is the file. Images are limited to 64 MiB of memory (the reader refuses larger headers before
 * reading a voxel, so a huge declared size must come back as an error, not as an allocation).
 * An accepted image must keep ct_image.h's promises: each dimension >= 2, a non-singular placement of
 * finite numbers, every voxel finite. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "image/ct_image.h"
#include "io/ct_vtk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return -1;
    static const char *const names[4] = {"input.nii", "input.nii.gz", "input.mha", "input.nrrd"};
    const char *name = names[data[0] % 4];
    char path[512];
    strncpy(path, ct_fuzz_write(name, data + 1, size - 1), sizeof path - 1);
    path[sizeof path - 1] = '\0';
    ct_image *img = NULL;
    ct_status st = ct_vtk_read_image(path, (size_t)64 << 20, &img);
    ct_fuzz_check_status(st, path, "ct_vtk_read_image");
    if (st == CT_OK) {
        for (int d = 0; d < 3; d++)
            if (img->dims[d] < 2)
                abort();
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++)
                if (!isfinite(img->ijk_to_mm[r][c]))
                    abort();
        if (!(ct_image_voxel_volume_mm3(img) > 0))
            abort();
        size_t n = ct_image_n_voxels(img);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(img->value[i]))
                abort();
        double c[3] = {img->ijk_to_mm[0][3], img->ijk_to_mm[1][3], img->ijk_to_mm[2][3]};
        (void)ct_image_sample(img, c, 0);
    }
    ct_image_destroy(img);
    return 0;
}
