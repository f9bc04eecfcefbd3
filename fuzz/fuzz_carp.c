/* fuzz_carp.c — libFuzzer target for openCARP meshes (ct_mesh_read, format "carp").
 *
 * The input holds the three files separated by the byte 0x1E (ASCII record separator):
 *   PTS 0x1E ELEM [0x1E LON]
 * Without a second separator there is no .lon file (fibres along x); without any, no .elem file.
 * They are written to input.pts / input.elem / input.lon in the scratch folder and read back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mesh_io/ct_mesh_io.h"

#define CT_FUZZ_CARP_SEPARATOR 0x1E

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[3] = {"input.pts", "input.elem", "input.lon"};
    size_t start = 0;
    for (int part = 0; part < 3; part++) {
        if (start > size) {
            ct_fuzz_remove(names[part]);
            continue;
        }
        const uint8_t *sep = part < 2 ? memchr(data + start, CT_FUZZ_CARP_SEPARATOR, size - start) : NULL;
        size_t end = sep ? (size_t)(sep - data) : size;
        ct_fuzz_write(names[part], data + start, end - start);
        start = sep ? end + 1 : size + 1;
    }
    char base[512];
    strncpy(base, ct_fuzz_path("input"), sizeof base - 1);
    base[sizeof base - 1] = '\0';

    ct_mesh *m = NULL;
    ct_status st = ct_mesh_read(base, "carp", 1.0, &m);
    ct_fuzz_check_status(st, base, "ct_mesh_read(carp)");
    if (st == CT_OK)
        ct_fuzz_check_mesh(m, base);
    ct_mesh_destroy(m);
    return 0;
}
