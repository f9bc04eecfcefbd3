/* fuzz_gmsh.c — libFuzzer target for Gmsh .msh files (ct_mesh_read, format "gmsh"; the file is parsed by
 * libgmsh through its C API in host/mesh_io/ct_mesh_gmsh.c).
 *
 * One more check than the other targets: Gmsh must never run the input as a .geo script. The seed
 * corpus/gmsh/regress_geo_script.msh is such a script, writing the file ct_fuzz_geo_ran beside itself
 * if it is run; that file appearing in the scratch folder is a finding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "mesh_io/ct_mesh_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    strncpy(path, ct_fuzz_write("input.msh", data, size), sizeof path - 1);
    path[sizeof path - 1] = '\0';
    ct_mesh *m = NULL;
    ct_status st = ct_mesh_read(path, "gmsh", 1.0, &m);
    ct_fuzz_check_status(st, path, "ct_mesh_read(gmsh)");
    if (st == CT_OK)
        ct_fuzz_check_mesh(m, path);
    ct_mesh_destroy(m);
    if (access(ct_fuzz_path("ct_fuzz_geo_ran"), F_OK) == 0) {
        fprintf(stderr, "ct_fuzz: FINDING in ct_mesh_read(gmsh): Gmsh ran the input as a .geo script\n");
        abort();
    }
    return 0;
}
