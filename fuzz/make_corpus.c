/* make_corpus.c — writes the mesh seeds of fuzz/corpus/: openCARP files from ct_mesh_box meshes with the
 * project's writer (ct_mesh_write_carp); .vtu with uncompressed raw appended data, written here because
 * ct_mesh_write_vtu always compresses and fuzz_vtu skips compressed files; .msh v2.2 and v4.1, ASCII and
 * binary, of a box meshed and written by Gmsh; and a few hand-written files in dialects the writers do not
 * produce. The JSON seeds of the config and patient targets are kept by hand.
 *
 *   fuzz_make_corpus OUT_DIR      writes OUT_DIR/carp/, OUT_DIR/vtu/, OUT_DIR/gmsh/ (the folders must exist)
 */
#define _POSIX_C_SOURCE 200809L
#include <gmshc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ct_files.h"
#include "mesh/ct_mesh.h"
#include "mesh_io/ct_mesh_io.h"

static const char *out_dir;

static const char *out_path(const char *sub, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, sub, name);
    return path;
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_make_corpus: %s: %s\n", what, ct_error_message());
    exit(1);
}

static void write_text(const char *sub, const char *name, const char *text)
{
    if (ct_write_file_atomic(out_path(sub, name), text, strlen(text)) != CT_OK)
        die(name);
}

/* A box of nx x 1 x 1 cells of 1 mm with varied fibres and all three tissue labels. */
static ct_mesh *labelled_box(double nx)
{
    const double size[3] = {nx, 1, 1}, fibre[3] = {1, 0, 0};
    ct_mesh *m;
    if (ct_mesh_box(size, 1.0, fibre, &m) != CT_OK)
        die("box");
    m->tissue = calloc(m->n_tets, sizeof *m->tissue);
    for (size_t e = 0; e < m->n_tets; e++) {
        m->tissue[e] = (int32_t)(e % 3);
        const double f[3] = {0.6, 0.8 * (e % 2 ? 1 : -1), 0};
        memcpy(m->fibre + 3 * e, f, sizeof f);
    }
    return m;
}

/* BASE.pts 0x1E BASE.elem [0x1E BASE.lon] as one fuzz input (the layout fuzz_carp.c splits). */
static void join_carp(const char *tmp_base, const char *name, int with_lon)
{
    static const char *const ext[] = {".pts", ".elem", ".lon"};
    FILE *out = fopen(out_path("carp", name), "wb");
    if (!out)
        die(name);
    for (int i = 0; i < (with_lon ? 3 : 2); i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s%s", tmp_base, ext[i]);
        char *text;
        size_t len;
        if (ct_read_file(path, &text, &len) != CT_OK)
            die(path);
        if (i)
            fputc(0x1E, out);
        fwrite(text, 1, len, out);
        free(text);
    }
    fclose(out);
    for (int i = 0; i < 3; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s%s", tmp_base, ext[i]);
        unlink(path);
    }
}

static void carp_seeds(void)
{
    char tmp_base[4096];
    snprintf(tmp_base, sizeof tmp_base, "%s/carp/tmp_mesh", out_dir);
    ct_mesh *m = labelled_box(1);
    if (ct_mesh_write_carp(tmp_base, m, 1.0) != CT_OK)
        die("carp");
    join_carp(tmp_base, "box1_mm", 1);
    ct_mesh_destroy(m);
    m = labelled_box(2);
    if (ct_mesh_write_carp(tmp_base, m, 1000.0) != CT_OK) /* openCARP's um */
        die("carp");
    join_carp(tmp_base, "box2_um_no_lon", 0);
    ct_mesh_destroy(m);
    /* Hand-written: CR LF, anatomical region tags (not tissue), old-style .lon with fibre + sheet. */
    write_text("carp", "two_tets_crlf",
               "5\r\n0 0 0\r\n1000 0 0\r\n0 1000 0\r\n0 0 1000\r\n1000 1000 1000\r\n\x1e"
               "2\r\nTt 0 1 3 2 7\r\nTt 1 2 3 4 11\r\n\x1e"
               "0 2 0 1 0 0\r\n0 0 0.5 0 1 0\r\n");
    write_text("carp", "two_tets_header2",
               "5\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n1 1 1\n\n\x1e"
               "2\nTt 0 1 2 3 2\nTt 1 2 3 4\n\x1e"
               "2\n1 0 0 0 1 0\n0 0 1 1 0 0\n\n");
}

/* Appends one raw appended-data block (UInt64 byte count, then the bytes) and returns its offset. */
static size_t raw_block(FILE *blocks, size_t *at, const void *data, size_t n)
{
    size_t offset = *at;
    uint64_t n64 = n;
    fwrite(&n64, sizeof n64, 1, blocks);
    fwrite(data, 1, n, blocks);
    *at += sizeof n64 + n;
    return offset;
}

/* The mesh as .vtu with uncompressed raw appended data (ct_mesh_write_vtu always compresses; the vtu
 * target skips compressed files, see fuzz_vtu.c). Little-endian hosts only, as the header says. */
static void write_vtu_raw(const char *name, const ct_mesh *m)
{
    char *bytes = NULL;
    size_t n_bytes = 0, at = 0, off[6];
    FILE *blocks = open_memstream(&bytes, &n_bytes);
    int64_t *conn = malloc(4 * m->n_tets * sizeof *conn), *offsets = malloc(m->n_tets * sizeof *offsets);
    uint8_t *types = malloc(m->n_tets);
    double *tissue = malloc(m->n_tets * sizeof *tissue);
    for (size_t e = 0; e < m->n_tets; e++) {
        for (int a = 0; a < 4; a++)
            conn[4 * e + a] = m->tets[4 * e + a];
        offsets[e] = 4 * (int64_t)(e + 1);
        types[e] = 10; /* VTK_TETRA */
        tissue[e] = m->tissue ? m->tissue[e] : 0;
    }
    off[0] = raw_block(blocks, &at, m->xyz_mm, 3 * m->n_nodes * sizeof(double));
    off[1] = raw_block(blocks, &at, conn, 4 * m->n_tets * sizeof *conn);
    off[2] = raw_block(blocks, &at, offsets, m->n_tets * sizeof *offsets);
    off[3] = raw_block(blocks, &at, types, m->n_tets);
    off[4] = raw_block(blocks, &at, m->fibre, 3 * m->n_tets * sizeof(double));
    off[5] = raw_block(blocks, &at, tissue, m->n_tets * sizeof *tissue);
    fclose(blocks);
    FILE *f = fopen(out_path("vtu", name), "wb");
    if (!f)
        die(name);
    fprintf(f,
            "<?xml version=\"1.0\"?>\n"
            "<VTKFile type=\"UnstructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n"
            "<UnstructuredGrid>\n<Piece NumberOfPoints=\"%zu\" NumberOfCells=\"%zu\">\n"
            "<Points><DataArray type=\"Float64\" NumberOfComponents=\"3\" format=\"appended\" offset=\"%zu\"/></Points>\n"
            "<Cells><DataArray type=\"Int64\" Name=\"connectivity\" format=\"appended\" offset=\"%zu\"/>\n"
            "<DataArray type=\"Int64\" Name=\"offsets\" format=\"appended\" offset=\"%zu\"/>\n"
            "<DataArray type=\"UInt8\" Name=\"types\" format=\"appended\" offset=\"%zu\"/></Cells>\n"
            "<CellData><DataArray type=\"Float64\" Name=\"fibre\" NumberOfComponents=\"3\" format=\"appended\" offset=\"%zu\"/>\n"
            "<DataArray type=\"Float64\" Name=\"tissue\" format=\"appended\" offset=\"%zu\"/></CellData>\n"
            "</Piece>\n</UnstructuredGrid>\n<AppendedData encoding=\"raw\">\n_",
            m->n_nodes, m->n_tets, off[0], off[1], off[2], off[3], off[4], off[5]);
    fwrite(bytes, 1, n_bytes, f);
    fprintf(f, "\n</AppendedData>\n</VTKFile>\n");
    fclose(f);
    free(bytes);
    free(conn);
    free(offsets);
    free(types);
    free(tissue);
}

static void vtu_seeds(void)
{
    ct_mesh *m = labelled_box(1);
    write_vtu_raw("box1_raw.vtu", m);
    ct_mesh_destroy(m);
    /* Hand-written ASCII: VTK's other encoding, a "fiber" spelling, Float32 points, Int32 connectivity. */
    write_text("vtu", "two_tets_ascii.vtu",
               "<?xml version=\"1.0\"?>\n"
               "<VTKFile type=\"UnstructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n"
               "  <UnstructuredGrid>\n"
               "    <Piece NumberOfPoints=\"5\" NumberOfCells=\"2\">\n"
               "      <Points>\n"
               "        <DataArray type=\"Float32\" NumberOfComponents=\"3\" format=\"ascii\">\n"
               "          0 0 0 1 0 0 0 1 0 0 0 1 1 1 1\n"
               "        </DataArray>\n"
               "      </Points>\n"
               "      <Cells>\n"
               "        <DataArray type=\"Int32\" Name=\"connectivity\" format=\"ascii\">0 1 2 3 1 2 3 4</DataArray>\n"
               "        <DataArray type=\"Int32\" Name=\"offsets\" format=\"ascii\">4 8</DataArray>\n"
               "        <DataArray type=\"UInt8\" Name=\"types\" format=\"ascii\">10 10</DataArray>\n"
               "      </Cells>\n"
               "      <CellData>\n"
               "        <DataArray type=\"Float64\" Name=\"fiber\" NumberOfComponents=\"3\" format=\"ascii\">"
               "1 0 0 0 2 0</DataArray>\n"
               "        <DataArray type=\"Float64\" Name=\"tissue\" format=\"ascii\">0 2</DataArray>\n"
               "      </CellData>\n"
               "    </Piece>\n"
               "  </UnstructuredGrid>\n"
               "</VTKFile>\n");
}

static void gmsh_seeds(void)
{
    int ierr = 0;
    gmshInitialize(0, NULL, 0, &ierr);
    gmshOptionSetNumber("General.Terminal", 0, &ierr);
    gmshModelAdd("box", &ierr);
    int vol = gmshModelOccAddBox(0, 0, 0, 1, 1, 1, -1, &ierr);
    gmshModelOccSynchronize(&ierr);
    int vtag[1] = {vol}, f1[1] = {1}, f2[1] = {2};
    gmshModelSetPhysicalName(3, gmshModelAddPhysicalGroup(3, vtag, 1, -1, &ierr), "scar", &ierr);
    gmshModelSetPhysicalName(2, gmshModelAddPhysicalGroup(2, f1, 1, -1, &ierr), "endo_lv", &ierr);
    gmshModelSetPhysicalName(2, gmshModelAddPhysicalGroup(2, f2, 1, -1, &ierr), "epi", &ierr);
    gmshOptionSetNumber("Mesh.MeshSizeMin", 1.0, &ierr); /* coarse: a few dozen tets keep the seeds small */
    gmshOptionSetNumber("Mesh.MeshSizeMax", 1.0, &ierr);
    gmshModelMeshGenerate(3, &ierr);
    if (ierr)
        die("gmsh meshing");
    const struct {
        const char *name;
        double version;
        int binary;
    } files[] = {{"box41.msh", 4.1, 0}, {"box41b.msh", 4.1, 1}, {"box22.msh", 2.2, 0}, {"box22b.msh", 2.2, 1}};
    for (int i = 0; i < 4; i++) {
        gmshOptionSetNumber("Mesh.MshFileVersion", files[i].version, &ierr);
        gmshOptionSetNumber("Mesh.Binary", files[i].binary, &ierr);
        gmshWrite(out_path("gmsh", files[i].name), &ierr);
        if (ierr)
            die(files[i].name);
    }
    gmshFinalize(&ierr);
    /* Hand-written: sparse node tags, a negatively oriented tet, a labelled triangle, unused node 99. */
    write_text("gmsh", "two_tets_v22.msh",
               "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n"
               "$PhysicalNames\n3\n2 7 \"endo_lv\"\n3 5 \"scar\"\n3 6 \"healthy\"\n$EndPhysicalNames\n"
               "$Nodes\n6\n10 0 0 0\n20 1 0 0\n30 0 1 0\n40 0 0 1\n50 1 1 1\n99 9 9 9\n$EndNodes\n"
               "$Elements\n3\n1 4 2 5 1 10 20 40 30\n2 4 2 6 2 20 30 40 50\n3 2 2 7 3 10 20 30\n$EndElements\n");
    write_text("gmsh", "two_tets_v41.msh",
               "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n"
               "$Nodes\n1 5 1 5\n3 1 0 5\n1\n2\n3\n4\n5\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n1 1 1\n$EndNodes\n"
               "$Elements\n1 2 1 2\n3 1 4 2\n1 1 2 3 4\n2 2 3 4 5\n$EndElements\n");
}

/* Reads a seed back as its fuzz target does (carp: split at 0x1E into BASE.pts/.elem/.lon); every seed
 * must be a valid mesh, so that the fuzzers start from inputs that reach the end of the reader. */
static void check_seed(const char *sub, const char *name, const char *format)
{
    char *data;
    size_t len;
    if (ct_read_file(out_path(sub, name), &data, &len) != CT_OK)
        die(name);
    char path[4096];
    snprintf(path, sizeof path, "%s/seed_check", out_dir);
    if (strcmp(format, "carp") == 0) {
        static const char *const ext[] = {".pts", ".elem", ".lon"};
        char *part = data, *end = data + len;
        for (int i = 0; i < 3; i++) {
            char file[4200];
            snprintf(file, sizeof file, "%s%s", path, ext[i]);
            unlink(file);
            if (part > end)
                continue;
            char *sep = i < 2 ? memchr(part, 0x1E, (size_t)(end - part)) : NULL;
            char *stop = sep ? sep : end;
            if (ct_write_file_atomic(file, part, (size_t)(stop - part)) != CT_OK)
                die(file);
            part = stop + 1;
        }
    } else if (ct_write_file_atomic(path, data, len) != CT_OK) {
        die(path);
    }
    free(data);
    ct_mesh *m;
    if (ct_mesh_read(path, format, 1.0, &m) != CT_OK)
        die(name);
    printf("seed %s/%s: %zu nodes, %zu tets, %zu labelled triangles%s\n", sub, name, m->n_nodes, m->n_tets,
           m->n_tris, m->tissue ? ", tissue labels" : "");
    ct_mesh_destroy(m);
    static const char *const all[] = {"", ".pts", ".elem", ".lon"};
    for (int i = 0; i < 4; i++) {
        char file[4200];
        snprintf(file, sizeof file, "%s%s", path, all[i]);
        unlink(file);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_corpus OUT_DIR (with OUT_DIR/carp, vtu, gmsh existing)\n");
        return 2;
    }
    out_dir = argv[1];
    carp_seeds();
    vtu_seeds();
    gmsh_seeds();
    static const char *const carp[] = {"box1_mm", "box2_um_no_lon", "two_tets_crlf", "two_tets_header2"};
    static const char *const vtu[] = {"box1_raw.vtu", "two_tets_ascii.vtu"};
    static const char *const gmsh[] = {"box41.msh", "box41b.msh", "box22.msh", "box22b.msh", "two_tets_v22.msh",
                                       "two_tets_v41.msh"};
    for (size_t i = 0; i < sizeof carp / sizeof *carp; i++)
        check_seed("carp", carp[i], "carp");
    for (size_t i = 0; i < sizeof vtu / sizeof *vtu; i++)
        check_seed("vtu", vtu[i], "vtu");
    for (size_t i = 0; i < sizeof gmsh / sizeof *gmsh; i++)
        check_seed("gmsh", gmsh[i], "gmsh");
    return 0;
}
