/* ct_pvtu.h — writer of a ParaView parallel unstructured grid (.pvtu): the index of one frame written in
 * pieces, one .vtu per MPI rank (mpi/ct_dist.c writes the pieces with ct_vtk_write_vtu and this index).
 *
 * A .pvtu lists the arrays every piece holds (name, type, components; no data) and the pieces' file names;
 * ParaView opens it as one dataset. Hand-written XML in plain C, like the .pvd writer (ct_pvd.h).
 */
#ifndef CT_PVTU_H
#define CT_PVTU_H

#include "ct_vtk.h"

/* Writes PATH, a .pvtu whose pieces are "<piece_prefix>_pNNNN.vtu" (NNNN = 0000 .. n_pieces-1, relative to
 * PATH's folder), each holding the point arrays point_fields and cell arrays cell_fields (only their name,
 * n_components and type are read; data may be NULL). The first point array is the active scalar. Atomic
 * (ct_write_file_atomic): a reader never sees half a file. Returns CT_OK; CT_ERR_CONFIG for n_pieces < 1 or
 * a field without a name; CT_ERR_NOMEM; CT_ERR_IO naming the path. */
ct_status ct_pvtu_write(const char *path, const char *piece_prefix, int n_pieces, const ct_vtk_field *point_fields,
                        int n_point_fields, const ct_vtk_field *cell_fields, int n_cell_fields);

#endif /* CT_PVTU_H */
