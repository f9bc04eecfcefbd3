/* ct_pvtu.c — the .pvtu writer (ct_pvtu.h). */
#include "ct_pvtu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct_files.h"

static const char *type_name(int type)
{
    return type == CT_VTK_INT32 ? "Int32" : type == CT_VTK_INT8 ? "Int8" : "Float64";
}

/* Appends to xml[*len], which has room for all of it (the caller sized it). */
static void put(char *xml, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(xml + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

static void put_arrays(char *xml, size_t cap, size_t *len, const ct_vtk_field *f, int n)
{
    for (int k = 0; k < n; k++)
        put(xml, cap, len, "      <PDataArray type=\"%s\" Name=\"%s\" NumberOfComponents=\"%d\"/>\n",
            type_name(f[k].type), f[k].name, f[k].n_components);
}

ct_status ct_pvtu_write(const char *path, const char *piece_prefix, int n_pieces, const ct_vtk_field *point_fields,
                        int n_point_fields, const ct_vtk_field *cell_fields, int n_cell_fields)
{
    if (n_pieces < 1)
        return ct_error_set(CT_ERR_CONFIG, "%s: a .pvtu needs at least one piece (got %d)", path, n_pieces);
    size_t cap = 1024 + (size_t)n_pieces * (strlen(piece_prefix) + 32);
    for (int k = 0; k < n_point_fields + n_cell_fields; k++) {
        const ct_vtk_field *f = k < n_point_fields ? &point_fields[k] : &cell_fields[k - n_point_fields];
        if (!f->name || !f->name[0])
            return ct_error_set(CT_ERR_CONFIG, "%s: %s field %d has no name", path,
                                k < n_point_fields ? "point" : "cell", k < n_point_fields ? k : k - n_point_fields);
        cap += strlen(f->name) + 96;
    }
    char *xml = malloc(cap); /* owned here */
    if (!xml)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for a .pvtu", path);
    size_t len = 0;
    put(xml, cap, &len,
        "<?xml version=\"1.0\"?>\n"
        "<VTKFile type=\"PUnstructuredGrid\" version=\"0.1\" byte_order=\"LittleEndian\">\n"
        "  <PUnstructuredGrid GhostLevel=\"0\">\n");
    if (n_point_fields > 0)
        put(xml, cap, &len, "    <PPointData Scalars=\"%s\">\n", point_fields[0].name);
    else
        put(xml, cap, &len, "    <PPointData>\n");
    put_arrays(xml, cap, &len, point_fields, n_point_fields);
    put(xml, cap, &len, "    </PPointData>\n    <PCellData>\n");
    put_arrays(xml, cap, &len, cell_fields, n_cell_fields);
    put(xml, cap, &len,
        "    </PCellData>\n"
        "    <PPoints>\n"
        "      <PDataArray type=\"Float64\" NumberOfComponents=\"3\"/>\n"
        "    </PPoints>\n");
    for (int r = 0; r < n_pieces; r++)
        put(xml, cap, &len, "    <Piece Source=\"%s_p%04d.vtu\"/>\n", piece_prefix, r);
    put(xml, cap, &len, "  </PUnstructuredGrid>\n</VTKFile>\n");
    ct_status st = ct_write_file_atomic(path, xml, len);
    free(xml);
    return st;
}
