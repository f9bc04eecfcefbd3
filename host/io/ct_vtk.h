/* ct_vtk.h — C interface to VTK: write and read XML unstructured grids (.vtu) of linear tetrahedra
 * (optionally with boundary triangles).
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
#include "core/ct_status.h"

/* How a field is stored in the file: 64-bit floats (the default), or whole numbers as Int32 or Int8 (ids
 * and labels: half or an eighth of the bytes). */
enum ct_vtk_type { CT_VTK_FLOAT64 = 0, CT_VTK_INT32 = 1, CT_VTK_INT8 = 2 };

/* One named data array attached to points or cells. `data` is borrowed (the caller keeps it) and holds
 * n_items * n_components doubles, component-fastest: item i, component c at data[i*n_components + c]. */
typedef struct ct_vtk_field {
    const char *name;         /* non-empty, unique among the point (resp. cell) fields of one call */
    int n_components;         /* >= 1 */
    const double *data;
    int type;                 /* enum ct_vtk_type; 0 (left out of an initialiser): Float64. For the integer
                                 types every value must be a whole number in the type's range */
} ct_vtk_field;

/* Writes an unstructured grid of linear tetrahedra as XML .vtu (binary appended, zlib compressed).
 * Atomic: writes PATH.tmp.<pid>, fsyncs it, then rename()s it over PATH, so a reader (ParaView mid-run)
 * or a crash never sees a half file; on failure removes the temp file and leaves any earlier PATH intact.
 * Arguments are checked before any file is touched:
 *   bad tet index (outside [0, n_points))           -> CT_ERR_MESH, naming the tet and corner;
 *   NULL array, empty/duplicate name, n_components<1, unknown type, or a value an integer type cannot hold
 *                                                    -> CT_ERR_INTERNAL (a caller bug), naming the field.
 * Cannot create, write or rename the file           -> CT_ERR_IO, naming the path. */
ct_status ct_vtk_write_vtu(const char *path, size_t n_points, const double *xyz_mm /* 3*n_points */,
                           size_t n_tets, const int32_t *tets /* 4*n_tets, 0-based */,
                           const ct_vtk_field *point_fields, int n_point_fields,
                           const ct_vtk_field *cell_fields, int n_cell_fields);

/* As ct_vtk_write_vtu, with n_tris triangles (3*n_tris point indices, 0-based; VTK_TRIANGLE cells, e.g.
 * labelled boundary faces) after the tets: cells 0..n_tets-1 are the tets, n_tets..n_tets+n_tris-1 the
 * triangles, and each cell field holds n_tets + n_tris items in that order. A bad triangle index is
 * CT_ERR_MESH naming the triangle and corner. n_tris = 0 writes what ct_vtk_write_vtu writes. */
ct_status ct_vtk_write_vtu_tris(const char *path, size_t n_points, const double *xyz_mm, size_t n_tets,
                                const int32_t *tets, size_t n_tris, const int32_t *tris,
                                const ct_vtk_field *point_fields, int n_point_fields,
                                const ct_vtk_field *cell_fields, int n_cell_fields);

/* A grid read from a .vtu: points, tet and triangle connectivity and every numeric point/cell array, copied
 * to doubles at read time. Opaque; owned by the caller; free with ct_vtk_grid_destroy. */
typedef struct ct_vtk_grid ct_vtk_grid;

/* Reads PATH into *out (set to NULL on failure).
 *   missing / unreadable file                         -> CT_ERR_IO;
 *   not an XML UnstructuredGrid file, corrupt data, or a point/cell array without one tuple per point/cell
 *                                                     -> CT_ERR_PARSE;
 *   a cell that is neither VTK_TETRA nor VTK_TRIANGLE, or > INT32_MAX points
 *                                                     -> CT_ERR_MESH, naming the cell index and type.
 * Tets and triangles may come in any order; each keeps its order among its own kind. */
ct_status ct_vtk_read_vtu(const char *path, ct_vtk_grid **out);
void ct_vtk_grid_destroy(ct_vtk_grid *g); /* NULL is allowed */

size_t ct_vtk_grid_n_points(const ct_vtk_grid *g);
size_t ct_vtk_grid_n_tets(const ct_vtk_grid *g);
const double *ct_vtk_grid_points(const ct_vtk_grid *g); /* 3*n_points, owned by g */
const int32_t *ct_vtk_grid_tets(const ct_vtk_grid *g);  /* 4*n_tets, 0-based, owned by g */
size_t ct_vtk_grid_n_tris(const ct_vtk_grid *g);        /* VTK_TRIANGLE cells; 0 in a tets-only file */
const int32_t *ct_vtk_grid_tris(const ct_vtk_grid *g);  /* 3*n_tris, 0-based, owned by g */
size_t ct_vtk_grid_tri_cell(const ct_vtk_grid *g, size_t t); /* cell index in the file of triangle t < n_tris */

/* A named point (resp. cell) array as doubles, n_items * n_components, owned by g and valid until
 * ct_vtk_grid_destroy. Returns CT_ERR_PARSE naming the file and field if there is no such array.
 * A cell array's items are the tets alone (n_tets, in order); its triangles' values: ct_vtk_grid_tri_field. */
ct_status ct_vtk_grid_point_field(const ct_vtk_grid *g, const char *name, const double **data,
                                  int *n_components);
ct_status ct_vtk_grid_cell_field(const ct_vtk_grid *g, const char *name, const double **data,
                                 int *n_components);
/* The triangles' values (n_tris * n_components) of the named cell array; CT_ERR_PARSE if the file has no
 * triangles or no such array. */
ct_status ct_vtk_grid_tri_field(const ct_vtk_grid *g, const char *name, const double **data,
                                int *n_components);


/* ---- images (host/image/ct_image.h) ---- */
struct ct_image;

/* Reads a 3-D image: NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd), NRRD (.nrrd, .nhdr) or VTK image
 * data (.vti), chosen by the extension, into *out (NULL on failure; caller owns it, ct_image_destroy).
 * Placement (ct_image.h) from the header: NIfTI sform when its code is > 0, else qform, else pixdim
 * alone (frame "RAS"); MetaImage Offset/Position/Origin and TransformMatrix/Orientation/Rotation
 * (frame "LPS", or as AnatomicalOrientation says); NRRD "space origin" and "space directions"
 * (frame from "space"); .vti Origin, Spacing and Direction (frame "").
 * Before any voxel is read, the header's size is checked: not 3-D (a 2-D image, or a fourth dimension
 * above 1), more than one component per voxel, or more bytes than max_bytes (voxels x (4 + the
 * file's own bytes per voxel)) are refused with CT_ERR_CONFIG naming the file and the memory needed.
 * Missing or unreadable file: CT_ERR_IO; a header VTK cannot parse, an unknown extension or data that
 * cannot be read: CT_ERR_PARSE / CT_ERR_CONFIG, naming the file. */
ct_status ct_vtk_read_image(const char *path, size_t max_bytes, struct ct_image **out);

/* Writes img as NIfTI-1 (.nii or .nii.gz) with its placement as both qform and sform (codes 1, scanner
 * frame; the 3x3 part must be a rotation times positive spacings: otherwise CT_ERR_CONFIG), or as
 * MetaImage (.mha, with TransformMatrix and Offset) or .vti (with Direction), by extension.
 * type: 0 unsigned 8-bit, 1 unsigned 16-bit, 2 float 32 (values are rounded and clamped to the type).
 * Atomic like ct_vtk_write_vtu. */
ct_status ct_vtk_write_image(const char *path, const struct ct_image *img, int type);

/* A closed triangulated surface (mm): points and triangles, owned by the caller (free()). */
typedef struct ct_trisurf {
    size_t n_points, n_tris;
    double *xyz_mm;  /* 3*n_points */
    int32_t *tris;   /* 3*n_tris, 0-based */
} ct_trisurf;
void ct_trisurf_free(ct_trisurf *s); /* frees the arrays, zeroes the struct; NULL allowed */

/* The boundary of the voxels where mask != 0 (dims as an image, i fastest), as a closed surface in the
 * frame of ijk_to_mm: VTK's discrete flying edges on the mask padded by one empty voxel, then
 * windowed-sinc smoothing (smooth_iterations passes, pass band `passband`; 0 iterations: none), then
 * quadric decimation to about target_edge_mm (0: none). `what` names the image in messages.
 * CT_ERR_MESH if the mask is empty or the surface is empty. */
ct_status ct_vtk_mask_surface(const unsigned char *mask, const int dims[3], const double ijk_to_mm[3][4],
                              int smooth_iterations, double passband, double target_edge_mm, const char *what,
                              ct_trisurf *out);

/* Reads a triangulated surface (mm as stored: the caller scales other units) from STL (ASCII or binary),
 * PLY, OBJ or VTK XML polydata (.vtp), chosen by the extension, into *out (zeroed on failure; the caller
 * frees it with ct_trisurf_free). Polygons are split into triangles (lines and vertices dropped),
 * coincident points merged exactly and triangles collapsed by the merge dropped; nothing else is checked
 * (closedness, orientation: ct_surface_heart.h). Missing or unreadable file: CT_ERR_IO; unknown extension:
 * CT_ERR_CONFIG; a file VTK cannot parse, without triangles or with a non-finite coordinate: CT_ERR_PARSE;
 * every message names the file. */
ct_status ct_vtk_read_surface(const char *path, ct_trisurf *out);

/* Writes s as VTK XML polydata (.vtp, appended binary, zlib), with the cell field "label" (int32) when
 * labels (n_tris values) is not NULL. Atomic like ct_vtk_write_vtu; a bad triangle index: CT_ERR_MESH. */
ct_status ct_vtk_write_surface_vtp(const char *path, const ct_trisurf *s, const int32_t *labels);

/* Voxelises a closed surface (mm): mask[v] = 1 for the voxels of the image grid (dims, ijk_to_mm, whose
 * 3x3 part must be diagonal: an axis-aligned grid) whose centres lie inside it, 0 elsewhere (VTK's
 * vtkPolyDataToImageStencil). `what` names the surface in messages. */
ct_status ct_vtk_surface_mask(const ct_trisurf *s, const int dims[3], const double ijk_to_mm[3][4], const char *what,
                              unsigned char *mask);

#ifdef __cplusplus
}
#endif

#endif /* CT_VTK_H */
