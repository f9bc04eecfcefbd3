/* ct_vtk.h — C interface to VTK: write and read XML unstructured grids (.vtu) of linear tetrahedra.
 *
 * The only code that talks to VTK is ct_vtk.cxx; everything else in cardiotwin sees this C API.
 * All functions return ct_status and record a message (ct_error_message()) naming the file at fault;
 * VTK's own error text is captured into that message rather than printed to stderr.
 */
#ifndef CT_VTK_H
#define CT_VTK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ct_status.h carries its own extern "C" guard; including it here is harmless either way. */
#include "../ct_status.h"

/* One named data array attached to points or cells. `data` is borrowed (the caller keeps it) and holds
 * n_items * n_components doubles, component-fastest: item i, component c at data[i*n_components + c]. */
typedef struct ct_vtk_field {
    const char *name;         /* non-empty, unique among the point (resp. cell) fields of one call */
    int n_components;         /* >= 1 */
    const double *data;
} ct_vtk_field;

/* Writes an unstructured grid of linear tetrahedra as XML .vtu (binary appended, zlib compressed).
 * Atomic: writes PATH.tmp.<pid>, fsyncs it, then rename()s it over PATH, so a reader (ParaView mid-run)
 * or a crash never sees a half file; on failure removes the temp file and leaves any earlier PATH intact.
 * Arguments are checked before any file is touched:
 *   bad tet index (outside [0, n_points))           -> CT_ERR_MESH, naming the tet and corner;
 *   NULL array, empty/duplicate name, n_components<1 -> CT_ERR_INTERNAL (a caller bug), naming the field.
 * Cannot create, write or rename the file           -> CT_ERR_IO, naming the path. */
ct_status ct_vtk_write_vtu(const char *path, size_t n_points, const double *xyz_mm /* 3*n_points */,
                           size_t n_tets, const int32_t *tets /* 4*n_tets, 0-based */,
                           const ct_vtk_field *point_fields, int n_point_fields,
                           const ct_vtk_field *cell_fields, int n_cell_fields);

/* A grid read from a .vtu: points, tet connectivity and every numeric point/cell array, copied to
 * doubles at read time. Opaque; owned by the caller; free with ct_vtk_grid_destroy. */
typedef struct ct_vtk_grid ct_vtk_grid;

/* Reads PATH into *out (set to NULL on failure).
 *   missing / unreadable file                         -> CT_ERR_IO;
 *   not an XML UnstructuredGrid file, corrupt data    -> CT_ERR_PARSE;
 *   a cell that is not VTK_TETRA, or > INT32_MAX points -> CT_ERR_MESH, naming the cell index and type. */
ct_status ct_vtk_read_vtu(const char *path, ct_vtk_grid **out);
void ct_vtk_grid_destroy(ct_vtk_grid *g); /* NULL is allowed */

size_t ct_vtk_grid_n_points(const ct_vtk_grid *g);
size_t ct_vtk_grid_n_tets(const ct_vtk_grid *g);
const double *ct_vtk_grid_points(const ct_vtk_grid *g); /* 3*n_points, owned by g */
const int32_t *ct_vtk_grid_tets(const ct_vtk_grid *g);  /* 4*n_tets, 0-based, owned by g */

/* A named point (resp. cell) array as doubles, n_items * n_components, owned by g and valid until
 * ct_vtk_grid_destroy. Returns CT_ERR_PARSE naming the file and field if there is no such array. */
ct_status ct_vtk_grid_point_field(const ct_vtk_grid *g, const char *name, const double **data,
                                  int *n_components);
ct_status ct_vtk_grid_cell_field(const ct_vtk_grid *g, const char *name, const double **data,
                                 int *n_components);

#ifdef __cplusplus
}
#endif

#endif /* CT_VTK_H */
