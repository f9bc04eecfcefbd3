/* ct_mesh_carp.c — openCARP meshes: BASE.pts (nodes), BASE.elem (elements), BASE.lon (fibres) and the
 * labelled surfaces BASE.endo_lv.surf, BASE.endo_rv.surf, BASE.epi.surf, BASE.base.surf.
 * The accepted dialect is described in ct_mesh_io.h. Files are read whole, then parsed line by line so
 * that every error names the file and line. */
#define _POSIX_C_SOURCE 200809L
#include "ct_mesh_io.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ct_files.h"

/* The surface files BASE.<name>.surf, indexed by enum ct_surface. */
static const char *const surf_names[] = {[CT_SURF_ENDO_LV] = "endo_lv", [CT_SURF_ENDO_RV] = "endo_rv",
                                         [CT_SURF_EPI] = "epi", [CT_SURF_BASE] = "base"};

/* ---- reading a text file line by line ----------------------------------------------------------- */

typedef struct text_file {
    const char *path; /* for messages */
    char *data;       /* whole file, NUL-terminated, owned */
    char *cursor;     /* start of the next line */
    size_t line_no;   /* number of the line last returned (1-based) */
} text_file;

static ct_status text_open(text_file *tf, const char *path)
{
    memset(tf, 0, sizeof *tf);
    tf->path = path;
    char *buf;
    size_t len;
    CT_CHECK(ct_read_file(path, &buf, &len));
    if (memchr(buf, '\0', len) != NULL) {
        size_t at = (size_t)((char *)memchr(buf, '\0', len) - buf);
        size_t line = 1;
        for (size_t i = 0; i < at; i++)
            line += buf[i] == '\n';
        free(buf);
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: binary data (NUL byte) in a text file", path, line);
    }
    tf->data = tf->cursor = buf;
    return CT_OK;
}

static void text_close(text_file *tf)
{
    free(tf->data);
    tf->data = tf->cursor = NULL;
}

/* Next line (newline and CR stripped) or NULL at end of file. */
static char *text_next(text_file *tf)
{
    if (!tf->cursor || *tf->cursor == '\0')
        return NULL;
    char *line = tf->cursor;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        tf->cursor = nl + 1;
    } else {
        tf->cursor = line + strlen(line);
    }
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\r')
        line[n - 1] = '\0';
    tf->line_no++;
    return line;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* A token copied for an error message, shortened if long. */
static const char *token_for_message(const char *s, char *buf, size_t n)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t k = 0;
    while (s[k] && !isspace((unsigned char)s[k]) && k + 1 < n)
        k++;
    memcpy(buf, s, k);
    buf[k] = '\0';
    return buf;
}

/* Splits `line` in place into at most max_tokens whitespace-separated tokens; returns the count found
 * (max_tokens + 1 means "more than max_tokens"). */
static int split(char *line, char **tok, int max_tokens)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return n;
        if (n == max_tokens)
            return n + 1;
        tok[n++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static ct_status parse_double(const text_file *tf, const char *tok, const char *what, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (end == tok || *end != '\0')
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: '%s' is not a number (expected %s)", tf->path,
                            tf->line_no, tok, what);
    if (!isfinite(v))
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: '%s' is not a finite %s", tf->path, tf->line_no, tok,
                            what);
    *out = v;
    return CT_OK;
}

static ct_status parse_long(const text_file *tf, const char *tok, const char *what, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(tok, &end, 10);
    if (end == tok || *end != '\0')
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: '%s' is not an integer (expected %s)", tf->path,
                            tf->line_no, tok, what);
    if (errno == ERANGE)
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: %s '%s' is out of range", tf->path, tf->line_no, what,
                            tok);
    *out = v;
    return CT_OK;
}

/* Reads the count header (line 1) into *count, and into *alloc_count how many items to allocate: the
 * count, but no more than the rest of the file can hold at `min_line_bytes` per item, so that an absurd
 * count in a short file yields "file ends after ..." rather than a huge allocation. */
static ct_status read_count(text_file *tf, const char *what, size_t min_line_bytes, size_t *count,
                            size_t *alloc_count)
{
    char *line = text_next(tf);
    if (!line)
        return ct_error_set(CT_ERR_PARSE, "%s:1: file is empty; expected the number of %s", tf->path, what);
    char *tok[2];
    int n = split(line, tok, 1);
    if (n != 1)
        return ct_error_set(CT_ERR_PARSE, "%s:1: expected the number of %s alone on the first line, got %d "
                            "fields", tf->path, what, n);
    long long v;
    char expected[64];
    snprintf(expected, sizeof expected, "the number of %s", what);
    CT_CHECK(parse_long(tf, tok[0], expected, &v));
    if (v < 0 || v > INT32_MAX)
        return ct_error_set(CT_ERR_PARSE, "%s:1: number of %s %lld is out of range (0..%d)", tf->path,
                            what, v, INT32_MAX);
    size_t most = strlen(tf->cursor) / min_line_bytes + 1;
    *count = (size_t)v;
    *alloc_count = *count < most ? *count : most;
    return CT_OK;
}

/* The next data line; a missing line means the file is shorter than its header says. `what` is plural
 * ("nodes"), `one` singular ("node"). */
static ct_status data_line(text_file *tf, size_t index, size_t count, const char *what, const char *one,
                           char **line)
{
    *line = text_next(tf);
    if (!*line)
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: file ends after %zu of the %zu %s declared in line 1",
                            tf->path, tf->line_no + 1, index, count, what);
    if (is_blank(*line))
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: empty line; expected %s %zu (of %zu)", tf->path,
                            tf->line_no, one, index, count);
    return CT_OK;
}

/* After the declared items only blank lines may follow. */
static ct_status expect_end(text_file *tf, size_t count, const char *what, int header)
{
    char *line;
    while ((line = text_next(tf)) != NULL)
        if (!is_blank(line)) {
            char tok[48];
            return ct_error_set(CT_ERR_PARSE, "%s:%zu: unexpected content '%s' after the %zu %s%s", tf->path,
                                tf->line_no, token_for_message(line, tok, sizeof tok), count, what,
                                header ? " declared in line 1" : " (one per element)");
        }
    return CT_OK;
}

/* ---- the three files ----------------------------------------------------------------------------- */

static ct_status read_pts(const char *path, double unit_to_mm, size_t *n_nodes, double **xyz)
{
    text_file tf;
    CT_CHECK(text_open(&tf, path));
    size_t cap = 0;
    ct_status st = read_count(&tf, "nodes", 6 /* "0 0 0\n" */, n_nodes, &cap);
    double *x = NULL;
    if (st == CT_OK) {
        x = malloc((3 * cap + 1) * sizeof *x);
        if (!x)
            st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu nodes", path, *n_nodes);
    }
    for (size_t i = 0; st == CT_OK && i < *n_nodes; i++) {
        char *line, *tok[3];
        st = data_line(&tf, i, *n_nodes, "nodes", "node", &line);
        if (st == CT_OK && i >= cap) /* cannot happen: cap bounds the lines the file holds */
            st = ct_error_set(CT_ERR_INTERNAL, "%s:%zu: more lines than the file can hold", path, tf.line_no);
        if (st != CT_OK)
            break;
        int n = split(line, tok, 3);
        if (n != 3) {
            st = ct_error_set(CT_ERR_PARSE, "%s:%zu: expected 3 coordinates \"x y z\" for node %zu, got %s%d",
                              path, tf.line_no, i, n > 3 ? "more than " : "", n > 3 ? 3 : n);
            break;
        }
        for (int k = 0; k < 3 && st == CT_OK; k++) {
            double v = 0.0;
            st = parse_double(&tf, tok[k], "coordinate", &v);
            x[3 * i + k] = v * unit_to_mm;
        }
    }
    if (st == CT_OK)
        st = expect_end(&tf, *n_nodes, "nodes", 1);
    text_close(&tf);
    if (st != CT_OK) {
        free(x);
        return st;
    }
    *xyz = x;
    return CT_OK;
}

static ct_status read_elem(const char *path, size_t n_nodes, size_t *n_tets, int32_t **tets_out,
                           int32_t **tissue_out)
{
    text_file tf;
    CT_CHECK(text_open(&tf, path));
    size_t cap = 0;
    ct_status st = read_count(&tf, "elements", 11 /* "Tt 0 0 0 0\n" */, n_tets, &cap);
    int32_t *tets = NULL, *tissue = NULL;
    if (st == CT_OK) {
        tets = malloc((4 * cap + 1) * sizeof *tets);
        tissue = malloc((cap + 1) * sizeof *tissue);
        if (!tets || !tissue)
            st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu elements", path, *n_tets);
    }
    int tags_are_tissue = 1;
    for (size_t e = 0; st == CT_OK && e < *n_tets; e++) {
        char *line, *tok[7];
        st = data_line(&tf, e, *n_tets, "elements", "element", &line);
        if (st == CT_OK && e >= cap) /* cannot happen: cap bounds the lines the file holds */
            st = ct_error_set(CT_ERR_INTERNAL, "%s:%zu: more lines than the file can hold", path, tf.line_no);
        if (st != CT_OK)
            break;
        int n = split(line, tok, 6);
        if (strcmp(tok[0], "Tt") != 0) {
            char buf[48];
            st = ct_error_set(CT_ERR_PARSE, "%s:%zu: element %zu has type '%s'; only linear tetrahedra "
                              "(Tt) are supported", path, tf.line_no, e,
                              token_for_message(tok[0], buf, sizeof buf));
            break;
        }
        if (n < 5 || n > 6) {
            st = ct_error_set(CT_ERR_PARSE, "%s:%zu: expected 4 node indices after Tt and an optional region "
                              "tag, got %s%d fields", path, tf.line_no, n > 6 ? "more than " : "",
                              (n > 6 ? 6 : n) - 1);
            break;
        }
        for (int a = 0; a < 4 && st == CT_OK; a++) {
            long long v;
            st = parse_long(&tf, tok[1 + a], "node index", &v);
            if (st == CT_OK && (v < 0 || (unsigned long long)v >= n_nodes))
                st = ct_error_set(CT_ERR_PARSE, "%s:%zu: element %zu: node index %lld out of range (0..%lld)",
                                  path, tf.line_no, e, v, (long long)n_nodes - 1);
            if (st == CT_OK)
                tets[4 * e + a] = (int32_t)v;
        }
        long long region = 0;
        if (st == CT_OK && n == 6)
            st = parse_long(&tf, tok[5], "region tag", &region);
        if (st != CT_OK)
            break;
        if (region < CT_TISSUE_HEALTHY || region > CT_TISSUE_SCAR)
            tags_are_tissue = 0;
        tissue[e] = (int32_t)(region >= INT32_MIN && region <= INT32_MAX ? region : 0);
    }
    if (st == CT_OK)
        st = expect_end(&tf, *n_tets, "elements", 1);
    text_close(&tf);
    if (st != CT_OK) {
        free(tets);
        free(tissue);
        return st;
    }
    if (!tags_are_tissue) {
        /* Region tags outside 0..2: another tagging scheme (e.g. anatomical regions); not tissue. */
        free(tissue);
        tissue = NULL;
    }
    *tets_out = tets;
    *tissue_out = tissue;
    return CT_OK;
}

static ct_status read_lon(const char *path, size_t n_tets, double *fibre)
{
    text_file tf;
    CT_CHECK(text_open(&tf, path));
    ct_status st = CT_OK;
    int per_line = 0; /* 3 or 6 numbers per element line; 0 = not known yet */
    int header = 0;
    /* A first line with one field is the "1"/"2" header of newer openCARP; with 3 or 6 it is data. */
    char *first = tf.data;
    size_t first_len = strcspn(first, "\n");
    char save = first[first_len];
    first[first_len] = '\0';
    char copy[256];
    snprintf(copy, sizeof copy, "%s", first);
    first[first_len] = save;
    char *tok[7];
    if (split(copy, tok, 6) == 1) {
        char *line = text_next(&tf);
        split(line, tok, 1);
        long long dirs = 1;
        st = parse_long(&tf, tok[0], "number of fibre directions per element (1 or 2)", &dirs);
        if (st == CT_OK && dirs != 1 && dirs != 2)
            st = ct_error_set(CT_ERR_PARSE, "%s:1: header says %lld directions per element; expected 1 (fibre) "
                              "or 2 (fibre and sheet)", path, dirs);
        per_line = st == CT_OK ? (int)(3 * dirs) : 0;
        header = 1;
    }
    for (size_t e = 0; st == CT_OK && e < n_tets; e++) {
        char *line = text_next(&tf);
        if (!line || is_blank(line)) {
            st = ct_error_set(CT_ERR_PARSE, "%s:%zu: %s after %zu fibres; the mesh has %zu elements", path,
                              tf.line_no + (line ? 0 : 1), line ? "empty line" : "file ends", e, n_tets);
            break;
        }
        int n = split(line, tok, 6);
        if (per_line == 0 && (n == 3 || n == 6))
            per_line = n;
        if (n != per_line) {
            st = ct_error_set(CT_ERR_PARSE, "%s:%zu: expected %d numbers (%s) for element %zu, got %s%d", path,
                              tf.line_no, per_line ? per_line : 3,
                              per_line == 6 ? "fibre and sheet" : "fibre x y z", e, n > 6 ? "more than " : "",
                              n > 6 ? 6 : n);
            break;
        }
        double f[3];
        for (int k = 0; k < 3 && st == CT_OK; k++)
            st = parse_double(&tf, tok[k], "fibre component", &f[k]);
        for (int k = 3; k < per_line && st == CT_OK; k++) {
            double sheet;
            st = parse_double(&tf, tok[k], "sheet component", &sheet);
        }
        if (st != CT_OK)
            break;
        double len = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
        if (!(len > 0.0) || !isfinite(len)) {
            st = ct_error_set(CT_ERR_PARSE, "%s:%zu: element %zu has a zero fibre vector", path, tf.line_no, e);
            break;
        }
        for (int k = 0; k < 3; k++)
            fibre[3 * e + k] = f[k] / len;
    }
    if (st == CT_OK)
        st = expect_end(&tf, n_tets, "fibres", header);
    text_close(&tf);
    return st;
}

/* Triangles read from the .surf files, each with its label and the file line it came from. */
typedef struct tri_list {
    int32_t *tris, *label;
    size_t *line;
    size_t n, cap;
} tri_list;

static void tri_list_free(tri_list *L)
{
    free(L->tris);
    free(L->label);
    free(L->line);
    memset(L, 0, sizeof *L);
}

static int tri_list_push(tri_list *L, const int32_t t[3], int32_t label, size_t line)
{
    if (L->n == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 256;
        int32_t *tr = realloc(L->tris, 3 * cap * sizeof *tr);
        if (tr)
            L->tris = tr;
        int32_t *lb = realloc(L->label, cap * sizeof *lb);
        if (lb)
            L->label = lb;
        size_t *ln = realloc(L->line, cap * sizeof *ln);
        if (ln)
            L->line = ln;
        if (!tr || !lb || !ln)
            return 0;
        L->cap = cap;
    }
    memcpy(L->tris + 3 * L->n, t, 3 * sizeof *t);
    L->label[L->n] = label;
    L->line[L->n] = line;
    L->n++;
    return 1;
}

/* One "Tr n0 n1 n2 [tag]" line (the tag, openCARP's region, is ignored) of a .surf file. */
static ct_status parse_surf_line(const text_file *tf, char *line, size_t n_nodes, int32_t t[3])
{
    char *tok[6];
    int n = split(line, tok, 5);
    if (n == 0 || strcmp(tok[0], "Tr") != 0) {
        char buf[48];
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: element type '%s'; a surface file holds triangles \"Tr n0 n1 "
                            "n2\" (0-based node indices)", tf->path, tf->line_no,
                            n ? token_for_message(tok[0], buf, sizeof buf) : "");
    }
    if (n < 4 || n > 5)
        return ct_error_set(CT_ERR_PARSE, "%s:%zu: expected 3 node indices after Tr and an optional region tag, got "
                            "%s%d fields", tf->path, tf->line_no, n > 5 ? "more than " : "", (n > 5 ? 5 : n) - 1);
    for (int a = 0; a < 3; a++) {
        long long v;
        CT_CHECK(parse_long(tf, tok[1 + a], "node index", &v));
        if (v < 0 || (unsigned long long)v >= n_nodes)
            return ct_error_set(CT_ERR_PARSE, "%s:%zu: node index %lld out of range (0..%lld)", tf->path,
                                tf->line_no, v, (long long)n_nodes - 1);
        t[a] = (int32_t)v;
    }
    if (n == 5) {
        long long tag;
        CT_CHECK(parse_long(tf, tok[4], "region tag", &tag));
    }
    return CT_OK;
}

/* BASE.<name>.surf: an optional first line holding the triangle count alone, then one "Tr" line per
 * triangle; without the count line, every line up to the end (trailing blank lines allowed). */
static ct_status read_surf(const char *path, size_t n_nodes, int32_t label, tri_list *L)
{
    text_file tf;
    CT_CHECK(text_open(&tf, path));
    char *first = tf.data;
    size_t first_len = strcspn(first, "\n");
    char copy[256];
    snprintf(copy, sizeof copy, "%.*s", (int)(first_len < sizeof copy - 1 ? first_len : sizeof copy - 1), first);
    char *tok[2];
    ct_status st = CT_OK;
    if (split(copy, tok, 1) == 1) {
        size_t count = 0, cap = 0;
        st = read_count(&tf, "triangles", 9 /* "Tr 0 0 0\n" */, &count, &cap);
        for (size_t i = 0; st == CT_OK && i < count; i++) {
            char *line;
            int32_t t[3];
            st = data_line(&tf, i, count, "triangles", "triangle", &line);
            if (st == CT_OK)
                st = parse_surf_line(&tf, line, n_nodes, t);
            if (st == CT_OK && !tri_list_push(L, t, label, tf.line_no))
                st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu triangles", path, L->n);
        }
        if (st == CT_OK)
            st = expect_end(&tf, count, "triangles", 1);
    } else {
        char *line;
        while (st == CT_OK && (line = text_next(&tf)) != NULL) {
            if (is_blank(line)) {
                st = expect_end(&tf, L->n, "triangles", 1);
                if (st != CT_OK) /* the message's "declared in line 1" does not apply: say it plainly */
                    st = ct_error_set(CT_ERR_PARSE, "%s:%zu: content after an empty line (a surface file without "
                                      "a count line ends at its first empty line)", path, tf.line_no);
                break;
            }
            int32_t t[3];
            st = parse_surf_line(&tf, line, n_nodes, t);
            if (st == CT_OK && !tri_list_push(L, t, label, tf.line_no))
                st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu triangles", path, L->n);
        }
    }
    text_close(&tf);
    return st;
}

/* Every BASE.<name>.surf beside the mesh into m->tris / m->tri_label; each triangle must be a tet face. */
static ct_status read_surfs(const char *base, ct_mesh *m)
{
    tri_list L = {0};
    ct_status st = CT_OK;
    char path[4200];
    for (int32_t label = CT_SURF_ENDO_LV; label <= CT_SURF_BASE && st == CT_OK; label++) {
        snprintf(path, sizeof path, "%s.%s.surf", base, surf_names[label]);
        struct stat sb;
        if (stat(path, &sb) == 0 || errno != ENOENT)
            st = read_surf(path, m->n_nodes, label, &L);
    }
    if (st == CT_OK && L.n > 0) {
        m->tris = L.tris;
        m->tri_label = L.label;
        m->n_tris = L.n;
        L.tris = L.label = NULL;
        size_t bad;
        st = ct_mesh_first_stray_tri(m, &bad);
        if (st == CT_OK && bad < m->n_tris) {
            const int32_t *t = m->tris + 3 * bad;
            st = ct_error_set(CT_ERR_MESH, "%s.%s.surf:%zu: triangle %d %d %d is not a face of any tetrahedron of "
                              "%s.elem", base, surf_names[m->tri_label[bad]], L.line[bad], (int)t[0], (int)t[1],
                              (int)t[2], base);
        }
    }
    tri_list_free(&L);
    return st;
}

/* ---- public entry points ------------------------------------------------------------------------- */

/* BASE from BASE, BASE.pts, BASE.elem or BASE.lon. */
static ct_status carp_base(const char *path, char *base, size_t n)
{
    if (snprintf(base, n, "%s", path) >= (int)n)
        return ct_error_set(CT_ERR_IO, "%s: path too long", path);
    static const char *const ext[] = {".pts", ".elem", ".lon"};
    size_t len = strlen(base);
    for (int i = 0; i < 3; i++) {
        size_t el = strlen(ext[i]);
        if (len > el && strcmp(base + len - el, ext[i]) == 0) {
            base[len - el] = '\0';
            break;
        }
    }
    return CT_OK;
}

ct_status ct_mesh_read_carp(const char *path, double unit_to_mm, ct_mesh **out)
{
    *out = NULL;
    char base[4096], pts[4200], elem[4200], lon[4200];
    CT_CHECK(carp_base(path, base, sizeof base));
    snprintf(pts, sizeof pts, "%s.pts", base);
    snprintf(elem, sizeof elem, "%s.elem", base);
    snprintf(lon, sizeof lon, "%s.lon", base);

    size_t n_nodes = 0, n_tets = 0;
    double *xyz = NULL;
    int32_t *tets = NULL, *tissue = NULL;
    CT_CHECK(read_pts(pts, unit_to_mm, &n_nodes, &xyz));
    ct_status st = read_elem(elem, n_nodes, &n_tets, &tets, &tissue);
    if (st != CT_OK) {
        free(xyz);
        return st;
    }
    ct_mesh *m = calloc(1, sizeof *m);
    double *fibre = malloc((3 * n_tets + 1) * sizeof *fibre);
    if (!m || !fibre) {
        free(m);
        free(fibre);
        free(xyz);
        free(tets);
        free(tissue);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory", path);
    }
    m->n_nodes = n_nodes;
    m->n_tets = n_tets;
    m->xyz_mm = xyz;
    m->tets = tets;
    m->tissue = tissue;
    m->fibre = fibre;
    for (size_t e = 0; e < n_tets; e++) {
        fibre[3 * e] = 1.0;
        fibre[3 * e + 1] = fibre[3 * e + 2] = 0.0;
    }
    struct stat sb;
    if (stat(lon, &sb) == 0 || errno != ENOENT) {
        st = read_lon(lon, n_tets, fibre);
        if (st != CT_OK) {
            ct_mesh_destroy(m);
            return st;
        }
    }
    st = read_surfs(base, m);
    if (st != CT_OK) {
        ct_mesh_destroy(m);
        return st;
    }
    *out = m;
    return CT_OK;
}

/* ---- writing ------------------------------------------------------------------------------------- */

typedef struct text_buf {
    char *data;
    size_t len, cap;
    int failed;
} text_buf;

static void buf_printf(text_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void buf_printf(text_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->data && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? 2 * b->cap : 1 << 16;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
}

static ct_status buf_write(text_buf *b, const char *path)
{
    ct_status st = b->failed ? ct_error_set(CT_ERR_NOMEM, "%s: out of memory formatting the file", path)
                             : ct_write_file_atomic(path, b->data ? b->data : "", b->len);
    free(b->data);
    memset(b, 0, sizeof *b);
    return st;
}

ct_status ct_mesh_write_carp(const char *base_path, const ct_mesh *mesh, double mm_to_unit)
{
    if (!(mm_to_unit > 0.0) || !isfinite(mm_to_unit))
        return ct_error_set(CT_ERR_CONFIG, "%s: mm_to_unit must be finite and > 0 (got %g)", base_path,
                            mm_to_unit);
    char path[4200];
    if (snprintf(path, sizeof path, "%s.elem", base_path) >= (int)sizeof path)
        return ct_error_set(CT_ERR_IO, "%s: path too long", base_path);
    for (size_t e = 0; e < 4 * mesh->n_tets; e++)
        if (mesh->tets[e] < 0 || (size_t)mesh->tets[e] >= mesh->n_nodes)
            return ct_error_set(CT_ERR_MESH, "%s: element %zu: node index %d out of range (0..%zu)", base_path,
                                e / 4, (int)mesh->tets[e], mesh->n_nodes - 1);
    for (size_t k = 0; mesh->tris && k < 3 * mesh->n_tris; k++)
        if (mesh->tris[k] < 0 || (size_t)mesh->tris[k] >= mesh->n_nodes)
            return ct_error_set(CT_ERR_MESH, "%s: boundary triangle %zu: node index %d out of range (0..%zu)",
                                base_path, k / 3, (int)mesh->tris[k], mesh->n_nodes - 1);

    text_buf b = {0};
    buf_printf(&b, "%zu\n", mesh->n_nodes);
    for (size_t i = 0; i < mesh->n_nodes; i++)
        buf_printf(&b, "%.17g %.17g %.17g\n", mesh->xyz_mm[3 * i] * mm_to_unit,
                   mesh->xyz_mm[3 * i + 1] * mm_to_unit, mesh->xyz_mm[3 * i + 2] * mm_to_unit);
    snprintf(path, sizeof path, "%s.pts", base_path);
    CT_CHECK(buf_write(&b, path));

    buf_printf(&b, "%zu\n", mesh->n_tets);
    for (size_t e = 0; e < mesh->n_tets; e++) {
        const int32_t *t = mesh->tets + 4 * e;
        buf_printf(&b, "Tt %d %d %d %d %d\n", (int)t[0], (int)t[1], (int)t[2], (int)t[3],
                   mesh->tissue ? (int)mesh->tissue[e] : 0);
    }
    snprintf(path, sizeof path, "%s.elem", base_path);
    CT_CHECK(buf_write(&b, path));

    buf_printf(&b, "1\n");
    for (size_t e = 0; e < mesh->n_tets; e++)
        buf_printf(&b, "%.17g %.17g %.17g\n", mesh->fibre[3 * e], mesh->fibre[3 * e + 1], mesh->fibre[3 * e + 2]);
    snprintf(path, sizeof path, "%s.lon", base_path);
    CT_CHECK(buf_write(&b, path));

    /* One .surf per label present; a stale one of a label the mesh lacks is removed, so that reading
     * BASE back gives this mesh. */
    const size_t nt = mesh->tris && mesh->tri_label ? mesh->n_tris : 0;
    for (int32_t label = CT_SURF_ENDO_LV; label <= CT_SURF_BASE; label++) {
        snprintf(path, sizeof path, "%s.%s.surf", base_path, surf_names[label]);
        size_t count = 0;
        for (size_t t = 0; t < nt; t++)
            count += mesh->tri_label[t] == label;
        if (count == 0) {
            if (unlink(path) != 0 && errno != ENOENT)
                return ct_error_set(CT_ERR_IO, "%s: cannot remove the stale surface file: %s", path, strerror(errno));
            continue;
        }
        buf_printf(&b, "%zu\n", count);
        for (size_t t = 0; t < nt; t++)
            if (mesh->tri_label[t] == label)
                buf_printf(&b, "Tr %d %d %d\n", (int)mesh->tris[3 * t], (int)mesh->tris[3 * t + 1],
                           (int)mesh->tris[3 * t + 2]);
        CT_CHECK(buf_write(&b, path));
    }
    return CT_OK;
}
