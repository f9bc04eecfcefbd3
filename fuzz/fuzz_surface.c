/* fuzz_surface.c — libFuzzer target for the surface readers (ct_vtk_read_surface in host/io/ct_vtk.cxx):
 * STL (ASCII or binary, told apart by the content), PLY, OBJ and VTK XML polydata (.vtp) through VTK, then
 * the checks of a closed surface that the surface route of `personalise` runs first (ct_surface_check in
 * host/image/ct_surface_heart.c: indices, edges shared by exactly two triangles, one piece, orientation,
 * enclosed volume).
 *
 * Input: the first byte picks the file name's extension (0 .stl, 1 .ply, 2 .obj, 3 .vtp, modulo 4), the rest
 * is the file. An accepted surface must keep ct_vtk.h's promises: at least one triangle, every index in
 * [0, n_points), no triangle with a repeated corner, every coordinate finite. ct_surface_check may refuse
 * it (most fuzzed surfaces are open), but with a message naming the source, and must not crash.
 *
 * Compressed .vtp files (a .vtp input containing "compressor") are skipped, as in fuzz_vtu.c: VTK 9.1
 * allocates whatever size a compressed block header declares (vtkXMLDataParser::ReadBlock), which aborts
 * under ASan instead of throwing std::bad_alloc as in a normal build. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "image/ct_surface_heart.h"
#include "io/ct_vtk.h"

static int contains(const uint8_t *data, size_t size, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(data + i, word, n) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return -1;
    static const char *const names[4] = {"input.stl", "input.ply", "input.obj", "input.vtp"};
    const char *name = names[data[0] % 4];
    if (data[0] % 4 == 3 && contains(data + 1, size - 1, "compressor"))
        return -1; /* not added to the corpus */
    char path[512];
    strncpy(path, ct_fuzz_write(name, data + 1, size - 1), sizeof path - 1);
    path[sizeof path - 1] = '\0';
    ct_trisurf s;
    ct_status st = ct_vtk_read_surface(path, &s);
    ct_fuzz_check_status(st, path, "ct_vtk_read_surface");
    if (st != CT_OK) {
        if (s.n_points || s.n_tris || s.xyz_mm || s.tris)
            abort(); /* promised zeroed on failure */
        return 0;
    }
    if (s.n_tris == 0 || !s.tris || !s.xyz_mm)
        abort();
    for (size_t t = 0; t < s.n_tris; t++) {
        const int32_t *v = s.tris + 3 * t;
        for (int k = 0; k < 3; k++)
            if (v[k] < 0 || (size_t)v[k] >= s.n_points)
                abort();
        if (v[0] == v[1] || v[1] == v[2] || v[0] == v[2])
            abort();
    }
    for (size_t i = 0; i < 3 * s.n_points; i++)
        if (!isfinite(s.xyz_mm[i]))
            abort();
    ct_surface_heart_report rep;
    memset(&rep, 0, sizeof rep);
    st = ct_surface_check(&s, -1, path, &rep);
    ct_fuzz_check_status(st, path, "ct_surface_check");
    if (st == CT_OK && !(rep.enclosed_mm3 >= 1e3 && rep.enclosed_mm3 <= 3e6))
        abort(); /* accepted, so the enclosed volume is in 1..3000 mL */
    ct_trisurf_free(&s);
    return 0;
}
