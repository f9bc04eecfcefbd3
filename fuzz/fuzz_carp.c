/* fuzz_carp.c — libFuzzer target for openCARP meshes (ct_mesh_read, format "carp").
 *
 * The input holds the files separated by the byte 0x1E (ASCII record separator):
 *   PTS 0x1E ELEM [0x1E LON [0x1E ENDO_LV [0x1E ENDO_RV [0x1E EPI [0x1E BASE]]]]]
 * Without a second separator there is no .lon file (fibres along x); without any, no .elem file. The
 * last four are the surface files input.endo_lv.surf ... input.base.surf; one that is missing or empty
 * is not written. They are written to input.pts / input.elem / input.lon / input.NAME.surf in the
 * scratch folder and read back; an accepted mesh's triangles must all be tet faces. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mesh_io/ct_mesh_io.h"

#define CT_FUZZ_CARP_SEPARATOR 0x1E

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[7] = {"input.pts",          "input.elem",         "input.lon",
                                         "input.endo_lv.surf", "input.endo_rv.surf", "input.epi.surf",
                                         "input.base.surf"};
    size_t start = 0;
    for (int part = 0; part < 7; part++) {
        if (start > size) {
            ct_fuzz_remove(names[part]);
            continue;
        }
        const uint8_t *sep = part < 6 ? memchr(data + start, CT_FUZZ_CARP_SEPARATOR, size - start) : NULL;
        size_t end = sep ? (size_t)(sep - data) : size;
        if (part >= 3 && end == start)
            ct_fuzz_remove(names[part]);
        else
            ct_fuzz_write(names[part], data + start, end - start);
        start = sep ? end + 1 : size + 1;
    }
    char base[512];
    strncpy(base, ct_fuzz_path("input"), sizeof base - 1);
    base[sizeof base - 1] = '\0';

    ct_mesh *m = NULL;
    ct_status st = ct_mesh_read(base, "carp", 1.0, &m);
    ct_fuzz_check_status(st, base, "ct_mesh_read(carp)");
    if (st == CT_OK) {
        ct_fuzz_check_mesh(m, base);
        size_t stray;
        if (ct_mesh_first_stray_tri(m, &stray) != CT_OK || stray != m->n_tris) {
            fprintf(stderr, "fuzz_carp: %s: an accepted surface triangle is not a tet face\n", base);
            abort();
        }
    }
    ct_mesh_destroy(m);
    return 0;
}
