/* ct_mesh_io.h — reading tetrahedral meshes from files (openCARP, VTK .vtu, Gmsh .msh), writing them
 * (openCARP, .vtu), and the topology checks a mesh from outside must pass before it is simulated.
 *
 * Every function returns a ct_status and, on failure, records a message (ct_error_message()) that
 * names the file, the line (text formats) or element, and what was expected. Nothing here exits.
 *
 * Files: ct_mesh_io.c (dispatch, post-read checks), ct_mesh_carp.c, ct_mesh_vtu.c, ct_mesh_gmsh.c,
 * ct_mesh_check.c (orientation and topology).
 */
#ifndef CT_MESH_IO_H
#define CT_MESH_IO_H

#include <stddef.h>

#include "mesh/ct_mesh.h"
#include "core/ct_status.h"

/* Reads a tetrahedral mesh into *out (NULL on failure); the caller owns *out and frees it with
 * ct_mesh_destroy().
 *
 * format: "carp"  openCARP PATH.pts / PATH.elem / PATH.lon and the surface files PATH.<surface>.surf;
 *                 PATH may be the base name or any of the three mesh files (see ct_mesh_read_carp for
 *                 the accepted dialect);
 *         "vtu"   VTK XML unstructured grid of linear tets (cell fields "fibre" and "tissue" if present),
 *                 optionally with labelled boundary triangles (see ct_mesh_read_vtu);
 *         "gmsh"  Gmsh .msh, versions 2 and 4, ASCII or binary (see ct_mesh_read_gmsh);
 *         "vtk"   legacy VTK: NOT supported (the build links VTK's XML reader only) -> CT_ERR_CONFIG;
 *         NULL    inferred: .vtu -> vtu, .msh -> gmsh, .vtk -> vtk, .pts/.elem/.lon or a base name
 *                 for which BASE.pts exists -> carp.
 * unit_to_mm: the file's length unit in mm; every coordinate is multiplied by it
 *             (1 for mm, 1e-3 for um — openCARP's convention —, 10 for cm). Must be finite and > 0.
 *
 * After parsing, the coordinates are checked (ct_mesh_check_coordinates: a NaN or infinite one names its
 * node), the mesh is oriented (ct_mesh_orient: negatively oriented tets are flipped, since openCARP and Gmsh
 * files may use either orientation; a warning line on stderr says how many of how many, so that a mesh
 * whose elements were re-oriented is known as such), then ct_mesh_validate() (which rejects
 * degenerate tets, bad fibres) and ct_mesh_check_topology() (unused nodes, disconnected pieces) must
 * pass, else the mesh is destroyed and the error returned.
 * Errors: CT_ERR_IO (missing/unreadable file), CT_ERR_PARSE (malformed contents), CT_ERR_MESH
 * (well-formed but unusable mesh), CT_ERR_CONFIG (unknown or unsupported format, bad unit). */
ct_status ct_mesh_read(const char *path, const char *format, double unit_to_mm, ct_mesh **out);

/* The format parsers on their own: they parse and range-check node indices, and (carp, vtu) check that
 * every boundary triangle is a tet face, but do not orient, validate or check topology (ct_mesh_read
 * does). Same ownership as ct_mesh_read.
 *
 * openCARP dialect accepted by ct_mesh_read_carp:
 *   .pts   line 1: node count N; then N lines "x y z" (finite numbers).
 *   .elem  line 1: element count E; then E lines "Tt n0 n1 n2 n3 [region]", 0-based node indices.
 *          Only Tt is supported: any other type (Tr, Qd, Hx, Py, Pr, Ln, ...) is an error naming the line.
 *          Region tags become tissue labels (enum ct_tissue) only if EVERY tag lies in 0..2; if any tag
 *          lies outside 0..2 the file uses another tagging scheme and all tags are ignored (all healthy).
 *          Beware: a file tagging LV=1, RV=2 therefore reads as border zone / scar.
 *   .lon   optional. Either old style, E lines of 3 numbers (fibre) or 6 (fibre + sheet, sheet
 *          ignored), or new style, line 1 is "1" or "2" (directions per element) then E lines of 3 or 6
 *          numbers. A first line holding one number is taken as that header. Fibres are normalised; a
 *          zero or non-finite fibre is an error naming the element. Missing .lon: fibres stay along x,
 *          no error.
 *   .surf  optional, the labelled boundary (mesh->tris, mesh->tri_label): BASE.endo_lv.surf,
 *          BASE.endo_rv.surf, BASE.epi.surf and BASE.base.surf, each one present read with its label
 *          (enum ct_surface); none present: no triangles. openCARP's surface format, an element file of
 *          triangles: an optional line 1 holding the triangle count alone, then lines "Tr n0 n1 n2 [tag]"
 *          of 0-based node indices (the region tag is ignored). With the count line the rules of .elem
 *          apply; without it every line up to the first blank one is a triangle. Another element type,
 *          a malformed line or an index out of range is CT_ERR_PARSE naming the file and line; a triangle
 *          whose corners are not those of one tet is CT_ERR_MESH naming the file and line.
 *   Lines may end in CR LF; blank lines are allowed only at the end of a file; anything else after the
 *   declared count (or fewer lines than declared) is an error naming the file and line. */
ct_status ct_mesh_read_carp(const char *path, double unit_to_mm, ct_mesh **out);
/* VTK .vtu: VTK_TETRA cells are the mesh. VTK_TRIANGLE cells, in any place among them, are the labelled
 * boundary (mesh->tris, in file order), labelled by the integer cell field "surface" (or, if there is none,
 * "surface_label"): 1 endo_lv, 2 endo_rv, 3 epi, 4 base (enum ct_surface); its values on tets are ignored
 * (write 0). Other cell fields ("fibre", "fiber", "tissue") are read on the tets only; their values on
 * triangles are ignored. Triangles without a label field, a label outside 1..4 (CT_ERR_PARSE), or a
 * triangle whose corners are not those of one tet (CT_ERR_MESH) are errors naming the cell's index in the
 * file; any other cell type is CT_ERR_MESH naming the cell and its type. Triangles need not cover the
 * whole boundary. */
ct_status ct_mesh_read_vtu(const char *path, double unit_to_mm, ct_mesh **out);
/* Gmsh, through its C API (libgmsh). The file must be named *.msh and begin with $MeshFormat, else
 * CT_ERR_CONFIG / CT_ERR_PARSE: Gmsh would read it by its extension or as a .geo script, which can run
 * shell commands. Gmsh reads the file in a child process (fork) that sends the mesh back through a pipe,
 * since Gmsh 4.8 corrupts its heap on some malformed files: a crash there is CT_ERR_PARSE, and the
 * caller's memory is never touched by Gmsh. Linear tetrahedra (type 4) of all
 * volumes are read; any other 3-D element (second-order tets, hexahedra, prisms, pyramids) is an error.
 * Only nodes used by a tet are kept (Gmsh files also carry nodes of points and curves), renumbered in
 * Gmsh's node order.
 * Physical groups, names matched case-insensitively:
 *   surfaces "endo_lv", "endo_rv", "epi", "base" -> their 3-node triangles become mesh->tris with the
 *            matching enum ct_surface label; triangles of other or unnamed groups are dropped;
 *   volumes  "healthy", "border_zone", "scar" -> tissue labels of their tets; other tets are healthy.
 * An entity in two recognised groups of different labels is an error. Gmsh is global state and not
 * thread-safe: each call initialises Gmsh, reads and finalises it under a process-wide mutex, so do
 * not call this while other code in the process holds Gmsh initialised. */
ct_status ct_mesh_read_gmsh(const char *path, double unit_to_mm, ct_mesh **out);

/* Writes BASE.pts, BASE.elem and BASE.lon, each atomically (ct_write_file_atomic). Coordinates are
 * multiplied by mm_to_unit (1000 for openCARP's um) and printed with %.17g, so that with mm_to_unit = 1
 * a round trip is exact; fibres likewise (%.17g). .elem carries the tissue label as region tag (0 when
 * mesh->tissue is NULL); .lon starts with the header line "1" (one direction per element).
 * Boundary triangles go to BASE.<surface>.surf (endo_lv, endo_rv, epi, base: the format ct_mesh_read_carp
 * reads, with the count line), one file per label the mesh has; triangles labelled 0 are not written, and
 * a .surf of a label the mesh lacks is removed, so that reading BASE back gives this mesh. */
ct_status ct_mesh_write_carp(const char *base_path, const ct_mesh *mesh, double mm_to_unit);

/* Writes the mesh as .vtu (coordinates in mm) with cell fields "fibre" (3 components) and "tissue"
 * (1 component, enum ct_tissue as a double). Atomic. With boundary triangles (n_tris > 0), they follow the
 * tets as VTK_TRIANGLE cells with the Int32 cell field "surface" (their label; 0 on tets), and carry fibre
 * 0 0 0 and tissue 0: the form ct_mesh_read_vtu reads back. */
ct_status ct_mesh_write_vtu(const char *path, const ct_mesh *mesh);

/* Flips every tet of negative signed volume (swapping its last two nodes) and returns how many were
 * flipped. Tets with an out-of-range node index are left alone (ct_mesh_validate reports them). */
size_t ct_mesh_orient(ct_mesh *mesh);

/* Every node coordinate must be finite: CT_ERR_MESH naming the first node that is not, its axis and value
 * (ct_mesh_read runs this before anything that computes with coordinates, so that a NaN is reported as
 * the node it is, not as a degenerate element). */
ct_status ct_mesh_check_coordinates(const ct_mesh *mesh, const char *source);

/* Sets *first to the index of the first boundary triangle (mesh->tris) whose three corners are not the
 * corners of one tet (in any order; a triangle with a repeated node is never a face), or to mesh->n_tris
 * when every triangle is a tet face. Every tet and triangle node index must be in range (the readers check
 * that first). Returns CT_OK, or CT_ERR_NOMEM; the caller names the triangle in its file's terms.
 * O(n_tets + n_tris x tets per node). */
ct_status ct_mesh_first_stray_tri(const ct_mesh *mesh, size_t *first);

/* Topology checks beyond ct_mesh_validate (run that first):
 *   node index of a tet or triangle out of range, tissue or surface label out of its enum -> CT_ERR_MESH;
 *   nodes used by no tet  -> CT_ERR_MESH naming the first such node and the count;
 *   more than one piece (tets connected through shared nodes) -> CT_ERR_MESH naming the number of
 *   pieces and their sizes in elements (largest first, the first 8 listed).
 * `source` names the mesh in messages (a file name or "box"). */
ct_status ct_mesh_check_topology(const ct_mesh *mesh, const char *source);

#endif /* CT_MESH_IO_H */
