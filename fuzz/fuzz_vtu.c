/* fuzz_vtu.c — libFuzzer target for VTK XML unstructured grids (ct_mesh_read, format "vtu"; the file is
 * parsed by VTK through host/io/ct_vtk.cxx and turned into a mesh by host/mesh_io/ct_mesh_vtu.c).
 *
 * Compressed files (any input containing "compressor", the attribute that turns compression on) are
 * skipped: VTK 9.1 allocates whatever size a compressed block header declares, with new[]
 * (vtkXMLDataParser::ReadBlock), so a corrupt header asks for up to 2^64 bytes. In a normal build that
 * throws std::bad_alloc, which ct_vtk.cxx turns into an error naming the file; under ASan the allocation
 * aborts the process, so every such input would be reported as a finding in VTK, not in our code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mesh_io/ct_mesh_io.h"

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
    if (contains(data, size, "compressor"))
        return -1; /* not added to the corpus */
    char path[512];
    strncpy(path, ct_fuzz_write("input.vtu", data, size), sizeof path - 1);
    path[sizeof path - 1] = '\0';
    ct_mesh *m = NULL;
    ct_status st = ct_mesh_read(path, "vtu", 1.0, &m);
    ct_fuzz_check_status(st, path, "ct_mesh_read(vtu)");
    if (st == CT_OK) {
        ct_fuzz_check_mesh(m, path);
        size_t stray;
        if (ct_mesh_first_stray_tri(m, &stray) != CT_OK || stray != m->n_tris) {
            fprintf(stderr, "fuzz_vtu: %s: an accepted triangle cell is not a tet face\n", path);
            abort();
        }
        for (size_t t = 0; t < m->n_tris; t++)
            if (m->tri_label[t] < CT_SURF_ENDO_LV || m->tri_label[t] > CT_SURF_BASE) {
                fprintf(stderr, "fuzz_vtu: %s: an accepted triangle has label %d\n", path, (int)m->tri_label[t]);
                abort();
            }
    }
    ct_mesh_destroy(m);
    return 0;
}
