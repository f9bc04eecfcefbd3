/* ct_mesh_box.c — structured box meshes: hexahedra split into six tetrahedra each. */
#include "ct_mesh.h"

#include <math.h>

/* The six tets of the Kuhn split of a unit cube around the diagonal from corner 0 to corner 7,
 * corners numbered by bits (x=1, y=2, z=4). Used as is, every cube's long diagonal points along
 * (1,1,1) and a wave travelling that way runs measurably fast (N-version P8 about 2 ms early at
 * dx 0.5 mm); ct_mesh_box therefore mirrors it cube by cube (corner index XOR the cube's parity bits). */
static const int kuhn_tets[6][4] = {
    {0, 1, 3, 7}, {0, 1, 5, 7}, {0, 2, 3, 7}, {0, 2, 6, 7}, {0, 4, 5, 7}, {0, 4, 6, 7},
};

ct_status ct_mesh_box(const double size_mm[3], double dx_mm, const double fibre_dir[3], ct_mesh **out)
{
    return ct_mesh_box_split(size_mm, dx_mm, fibre_dir, CT_BOX_SPLIT_MIRRORED, out);
}

ct_status ct_mesh_box_split(const double size_mm[3], double dx_mm, const double fibre_dir[3], int split,
                            ct_mesh **out)
{
    *out = NULL;
    if (split != CT_BOX_SPLIT_MIRRORED && split != CT_BOX_SPLIT_KUHN)
        return ct_error_set(CT_ERR_CONFIG, "box mesh: unknown tet split %d", split);
    if (!(dx_mm > 0.0) || !isfinite(dx_mm))
        return ct_error_set(CT_ERR_CONFIG, "box mesh: dx_mm must be > 0 (got %g)", dx_mm);
    size_t nc[3];
    for (int k = 0; k < 3; k++) {
        if (!(size_mm[k] > 0.0) || !isfinite(size_mm[k]))
            return ct_error_set(CT_ERR_CONFIG, "box mesh: size_mm[%d] must be > 0 (got %g)", k, size_mm[k]);
        double cells = size_mm[k] / dx_mm;
        nc[k] = (size_t)llround(cells);
        if (nc[k] < 1)
            nc[k] = 1;
        if (nc[k] > 4096)
            return ct_error_set(CT_ERR_CONFIG, "box mesh: %zu cells along axis %d is too many", nc[k], k);
    }
    double fn = sqrt(fibre_dir[0] * fibre_dir[0] + fibre_dir[1] * fibre_dir[1] + fibre_dir[2] * fibre_dir[2]);
    if (!(fn > 0.0) || !isfinite(fn))
        return ct_error_set(CT_ERR_CONFIG, "box mesh: fibre direction must be a non-zero vector");

    size_t np[3] = {nc[0] + 1, nc[1] + 1, nc[2] + 1};
    if (np[0] * np[1] * np[2] > (size_t)INT32_MAX) /* node indices are int32 */
        return ct_error_set(CT_ERR_CONFIG, "box mesh: %zu x %zu x %zu nodes exceed the int32 index range; use a "
                            "larger dx_mm or a smaller size_mm", np[0], np[1], np[2]);
    ct_mesh *m;
    CT_CHECK(ct_mesh_create(np[0] * np[1] * np[2], 6 * nc[0] * nc[1] * nc[2], &m));
    for (size_t k = 0; k < np[2]; k++)
        for (size_t j = 0; j < np[1]; j++)
            for (size_t i = 0; i < np[0]; i++) {
                size_t n = i + np[0] * (j + np[1] * k);
                m->xyz_mm[3 * n + 0] = size_mm[0] * (double)i / (double)nc[0];
                m->xyz_mm[3 * n + 1] = size_mm[1] * (double)j / (double)nc[1];
                m->xyz_mm[3 * n + 2] = size_mm[2] * (double)k / (double)nc[2];
            }
    size_t e = 0;
    for (size_t k = 0; k < nc[2]; k++)
        for (size_t j = 0; j < nc[1]; j++)
            for (size_t i = 0; i < nc[0]; i++) {
                /* Mirror the split in every other cube along each axis: mirrored neighbours share
                 * their face diagonals (still conforming) and no diagonal direction is preferred. */
                int mirror = split == CT_BOX_SPLIT_KUHN ? 0 : (int)((i & 1) | (j & 1) << 1 | (k & 1) << 2);
                int32_t corner[8];
                for (int c = 0; c < 8; c++) {
                    size_t ii = i + (c & 1), jj = j + ((c >> 1) & 1), kk = k + ((c >> 2) & 1);
                    corner[c] = (int32_t)(ii + np[0] * (jj + np[1] * kk));
                }
                for (int t = 0; t < 6; t++, e++) {
                    int32_t *tet = m->tets + 4 * e;
                    for (int a = 0; a < 4; a++)
                        tet[a] = corner[kuhn_tets[t][a] ^ mirror];
                    if (ct_mesh_tet_volume(m, e) < 0.0) { /* keep every tet positively oriented */
                        int32_t s = tet[2];
                        tet[2] = tet[3];
                        tet[3] = s;
                    }
                    for (int a = 0; a < 3; a++)
                        m->fibre[3 * e + a] = fibre_dir[a] / fn;
                }
            }
    *out = m;
    return CT_OK;
}
