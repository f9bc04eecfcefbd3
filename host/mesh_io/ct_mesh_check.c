/* ct_mesh_check.c — coordinate check, orientation fix-up and topology checks (unused nodes, disconnected
 * pieces) of a mesh read from a file. */
#include "ct_mesh_io.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ct_status ct_mesh_check_coordinates(const ct_mesh *mesh, const char *source)
{
    for (size_t i = 0; i < 3 * mesh->n_nodes; i++)
        if (!isfinite(mesh->xyz_mm[i]))
            return ct_error_set(CT_ERR_MESH, "%s: node %zu: coordinate %c is %g (not a finite number)", source, i / 3,
                                "xyz"[i % 3], mesh->xyz_mm[i]);
    return CT_OK;
}

size_t ct_mesh_orient(ct_mesh *mesh)
{
    size_t flipped = 0;
    for (size_t e = 0; e < mesh->n_tets; e++) {
        int32_t *t = mesh->tets + 4 * e;
        int in_range = 1;
        for (int a = 0; a < 4; a++)
            if (t[a] < 0 || (size_t)t[a] >= mesh->n_nodes)
                in_range = 0;
        if (!in_range)
            continue;
        if (ct_mesh_tet_volume(mesh, e) < 0.0) {
            int32_t tmp = t[2];
            t[2] = t[3];
            t[3] = tmp;
            flipped++;
        }
    }
    return flipped;
}

ct_status ct_mesh_first_stray_tri(const ct_mesh *mesh, size_t *first)
{
    const size_t nn = mesh->n_nodes, ne = mesh->n_tets;
    *first = mesh->n_tris;
    if (mesh->n_tris == 0)
        return CT_OK;
    /* The tets around each node (compressed rows): start[v] .. start[v+1] in around[]. */
    size_t *start = calloc(nn + 2, sizeof *start);
    size_t *around = malloc((4 * ne + 1) * sizeof *around);
    if (!start || !around) {
        free(start);
        free(around);
        return ct_error_set(CT_ERR_NOMEM, "out of memory checking %zu boundary triangles", mesh->n_tris);
    }
    for (size_t i = 0; i < 4 * ne; i++)
        start[(size_t)mesh->tets[i] + 2]++;
    for (size_t v = 0; v < nn; v++)
        start[v + 2] += start[v + 1];
    for (size_t e = 0; e < ne; e++)
        for (int a = 0; a < 4; a++)
            around[start[(size_t)mesh->tets[4 * e + a] + 1]++] = e;
    for (size_t f = 0; f < mesh->n_tris; f++) {
        const int32_t *t = mesh->tris + 3 * f;
        int found = 0;
        if (t[0] != t[1] && t[1] != t[2] && t[0] != t[2])
            for (size_t k = start[t[0]]; k < start[t[0] + 1] && !found; k++) {
                const int32_t *q = mesh->tets + 4 * around[k];
                int has1 = 0, has2 = 0;
                for (int a = 0; a < 4; a++) {
                    has1 |= q[a] == t[1];
                    has2 |= q[a] == t[2];
                }
                found = has1 && has2;
            }
        if (!found) {
            *first = f;
            break;
        }
    }
    free(start);
    free(around);
    return CT_OK;
}

/* Union-find over nodes with path halving and union by size. */
static size_t uf_find(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static void uf_union(size_t *parent, size_t *size, size_t a, size_t b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a == b)
        return;
    if (size[a] < size[b]) {
        size_t t = a;
        a = b;
        b = t;
    }
    parent[b] = a;
    size[a] += size[b];
}

static int cmp_size_desc(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a < b) - (a > b);
}

ct_status ct_mesh_check_topology(const ct_mesh *mesh, const char *source)
{
    const size_t nn = mesh->n_nodes, ne = mesh->n_tets;
    for (size_t e = 0; e < ne; e++)
        for (int a = 0; a < 4; a++) {
            int32_t v = mesh->tets[4 * e + a];
            if (v < 0 || (size_t)v >= nn)
                return ct_error_set(CT_ERR_MESH, "%s: element %zu: node index %d out of range (0..%zu)",
                                    source, e, (int)v, nn ? nn - 1 : 0);
        }
    if (mesh->tissue)
        for (size_t e = 0; e < ne; e++)
            if (mesh->tissue[e] < CT_TISSUE_HEALTHY || mesh->tissue[e] > CT_TISSUE_SCAR)
                return ct_error_set(CT_ERR_MESH, "%s: element %zu: tissue label %d is not 0 (healthy), "
                                    "1 (border zone) or 2 (scar)", source, e, (int)mesh->tissue[e]);
    for (size_t f = 0; f < mesh->n_tris; f++) {
        for (int a = 0; a < 3; a++) {
            int32_t v = mesh->tris[3 * f + a];
            if (v < 0 || (size_t)v >= nn)
                return ct_error_set(CT_ERR_MESH, "%s: boundary triangle %zu: node index %d out of range "
                                    "(0..%zu)", source, f, (int)v, nn ? nn - 1 : 0);
        }
        if (mesh->tri_label && (mesh->tri_label[f] < CT_SURF_NONE || mesh->tri_label[f] > CT_SURF_BASE))
            return ct_error_set(CT_ERR_MESH, "%s: boundary triangle %zu: surface label %d is not in 0..4",
                                source, f, (int)mesh->tri_label[f]);
    }

    /* Unused nodes. */
    unsigned char *used = calloc(nn + 1, 1);
    if (!used)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory checking %zu nodes", source, nn);
    for (size_t i = 0; i < 4 * ne; i++)
        used[mesh->tets[i]] = 1;
    size_t n_unused = 0, first_unused = 0;
    for (size_t i = nn; i-- > 0;)
        if (!used[i]) {
            n_unused++;
            first_unused = i;
        }
    free(used);
    if (n_unused)
        return ct_error_set(CT_ERR_MESH, "%s: %zu of %zu nodes are used by no element (first: node %zu)",
                            source, n_unused, nn, first_unused);

    /* Connected pieces: tets sharing a node are connected (the FEM couples them). */
    size_t *parent = malloc((nn + 1) * sizeof *parent);
    size_t *size = malloc((nn + 1) * sizeof *size);
    if (!parent || !size) {
        free(parent);
        free(size);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory checking connectivity", source);
    }
    for (size_t i = 0; i < nn; i++) {
        parent[i] = i;
        size[i] = 1;
    }
    for (size_t e = 0; e < ne; e++) {
        const int32_t *t = mesh->tets + 4 * e;
        for (int a = 1; a < 4; a++)
            uf_union(parent, size, (size_t)t[0], (size_t)t[a]);
    }
    size_t n_pieces = 0;
    for (size_t i = 0; i < nn; i++)
        if (uf_find(parent, i) == i)
            n_pieces++;
    ct_status st = CT_OK;
    if (n_pieces > 1) {
        /* Element count per piece, keyed by root. Reuse `size` as the per-root element count. */
        for (size_t i = 0; i < nn; i++)
            size[i] = 0;
        for (size_t e = 0; e < ne; e++)
            size[uf_find(parent, (size_t)mesh->tets[4 * e])]++;
        size_t k = 0;
        for (size_t i = 0; i < nn; i++)
            if (parent[i] == i)
                size[k++] = size[i]; /* k <= i: compaction in place is safe */
        qsort(size, k, sizeof *size, cmp_size_desc);
        char list[256] = "";
        size_t len = 0;
        for (size_t p = 0; p < k && p < 8; p++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%zu", p ? ", " : "", size[p]);
        st = ct_error_set(CT_ERR_MESH, "%s: mesh falls into %zu disconnected pieces of %s%s elements; "
                          "expected one connected piece", source, n_pieces, list, k > 8 ? ", ..." : "");
    }
    free(parent);
    free(size);
    return st;
}
