/* ct_mesh_gmsh.c — Gmsh .msh meshes (v2 and v4, ASCII and binary) through Gmsh's C API (gmshc.h).
 * Gmsh parses the file; this file turns its entities, physical groups and elements into a ct_mesh. Gmsh
 * runs in a child process of its own for every read (read_in_child), which also keeps its global state
 * out of this one, so reads from several threads need no lock. */
#define _POSIX_C_SOURCE 200809L
#include "ct_mesh_io.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmshc.h>

#include "core/ct_files.h"

enum { GMSH_TRIANGLE_3 = 2, GMSH_TETRA_4 = 4 };

/* Records "PATH: WHAT: <Gmsh's error messages>" and returns `code`. The messages come from Gmsh's logger
 * (started in ct_mesh_read_gmsh), which keeps every error of this read; its last error alone is often
 * just "Error loading 'FILE'". */
static ct_status gmsh_error(ct_status code, const char *path, const char *what)
{
    char text[1024] = "";
    size_t len = 0;
    int ierr = 0;
    char **log = NULL;
    size_t n_log = 0;
    gmshLoggerGet(&log, &n_log, &ierr);
    for (size_t i = 0; i < n_log; i++) {
        if (!ierr && log[i] && strncmp(log[i], "Error: ", 7) == 0 && len + 8 < sizeof text)
            len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", len ? "; " : "", log[i] + 7);
        gmshFree(log[i]);
    }
    gmshFree(log);
    if (len >= sizeof text)
        len = sizeof text - 1;
    if (len == 0) {
        char *msg = NULL;
        gmshLoggerGetLastError(&msg, &ierr);
        if (!ierr && msg)
            snprintf(text, sizeof text, "%s", strncmp(msg, "Error: ", 7) == 0 ? msg + 7 : msg);
        gmshFree(msg);
    }
    return ct_error_set(code, "%s: %s%s%s", path, what, *text ? ": " : "", text);
}

typedef struct node_key {
    size_t tag;
    size_t index;
} node_key;

static int cmp_node_key(const void *a, const void *b)
{
    size_t x = ((const node_key *)a)->tag, y = ((const node_key *)b)->tag;
    return (x > y) - (x < y);
}

/* Index of node `tag` in `keys` (sorted by tag), or SIZE_MAX. */
static size_t find_node(const node_key *keys, size_t n, size_t tag)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid].tag < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && keys[lo].tag == tag) ? keys[lo].index : SIZE_MAX;
}

/* Label of entity (dim, tag) from the names of its physical groups: 0 if none is recognised, -1 (error
 * recorded) on conflicting labels or a Gmsh failure. */
static int entity_label(const char *path, int dim, int tag)
{
    static const char *const surf_names[] = {"endo_lv", "endo_rv", "epi", "base"};
    static const int surf_labels[] = {CT_SURF_ENDO_LV, CT_SURF_ENDO_RV, CT_SURF_EPI, CT_SURF_BASE};
    static const char *const vol_names[] = {"healthy", "border_zone", "scar"};
    static const int vol_labels[] = {CT_TISSUE_HEALTHY, CT_TISSUE_BORDER_ZONE, CT_TISSUE_SCAR};
    const char *const *names = dim == 2 ? surf_names : vol_names;
    const int *labels = dim == 2 ? surf_labels : vol_labels;
    const int n_names = dim == 2 ? 4 : 3;

    int ierr = 0;
    int *groups = NULL;
    size_t n_groups = 0;
    gmshModelGetPhysicalGroupsForEntity(dim, tag, &groups, &n_groups, &ierr);
    if (ierr) {
        gmshFree(groups);
        gmsh_error(CT_ERR_PARSE, path, "cannot list physical groups");
        return -1;
    }
    /* Healthy is label 0, so "recognised" is tracked apart from the label value. */
    int label = 0, found = 0;
    char found_buf[64] = "";
    for (size_t g = 0; g < n_groups; g++) {
        char *name = NULL;
        gmshModelGetPhysicalName(dim, groups[g], &name, &ierr);
        if (ierr) {
            gmshFree(name);
            gmshFree(groups);
            gmsh_error(CT_ERR_PARSE, path, "cannot read a physical group name");
            return -1;
        }
        for (int k = 0; name && k < n_names; k++) {
            if (strcasecmp(name, names[k]) != 0)
                continue;
            if (found && label != labels[k]) {
                ct_error_set(CT_ERR_MESH, "%s: %s %d belongs to physical groups \"%s\" and \"%s\" of different "
                             "labels", path, dim == 2 ? "surface" : "volume", tag, found_buf, name);
                gmshFree(name);
                gmshFree(groups);
                return -1;
            }
            found = 1;
            label = labels[k];
            snprintf(found_buf, sizeof found_buf, "%s", name);
        }
        gmshFree(name);
    }
    gmshFree(groups);
    return found ? (dim == 2 ? label : label + 1) : 0; /* volumes: tissue + 1, so 0 means "unlabelled" */
}

/* Appends the elements of `type` on entity (dim, tag) as 0-based indices (via keys) to *conn. */
static ct_status append_elements(const char *path, int type, int n_corners, int tag, const node_key *keys,
                                 size_t n_keys, int32_t **conn, size_t *n_elems, size_t *cap,
                                 int32_t **labels, int label)
{
    int ierr = 0;
    size_t *elem_tags = NULL, n_elem_tags = 0, *node_tags = NULL, n_node_tags = 0;
    gmshModelMeshGetElementsByType(type, &elem_tags, &n_elem_tags, &node_tags, &n_node_tags, tag, 0, 1, &ierr);
    if (ierr) {
        gmshFree(elem_tags);
        gmshFree(node_tags);
        return gmsh_error(CT_ERR_PARSE, path, "cannot read elements");
    }
    ct_status st = CT_OK;
    if (n_node_tags != (size_t)n_corners * n_elem_tags) {
        st = ct_error_set(CT_ERR_PARSE, "%s: entity %d: Gmsh returned %zu node tags for %zu elements", path, tag,
                          n_node_tags, n_elem_tags);
        goto done;
    }
    if (*n_elems + n_elem_tags > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *n_elems + n_elem_tags)
            c *= 2;
        int32_t *nc = realloc(*conn, c * n_corners * sizeof *nc);
        if (nc)
            *conn = nc;
        int32_t *nl = nc ? realloc(*labels, c * sizeof *nl) : NULL;
        if (nl)
            *labels = nl;
        if (!nc || !nl) {
            st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu elements", path, c);
            goto done;
        }
        *cap = c;
    }
    for (size_t e = 0; e < n_elem_tags; e++) {
        for (int a = 0; a < n_corners; a++) {
            size_t idx = find_node(keys, n_keys, node_tags[(size_t)n_corners * e + (size_t)a]);
            if (idx == SIZE_MAX) {
                st = ct_error_set(CT_ERR_MESH, "%s: element %zu refers to node %zu, which the file does not define",
                                  path, elem_tags[e], node_tags[(size_t)n_corners * e + (size_t)a]);
                goto done;
            }
            (*conn)[(*n_elems + e) * (size_t)n_corners + (size_t)a] = (int32_t)idx;
        }
        (*labels)[*n_elems + e] = label;
    }
    *n_elems += n_elem_tags;
done:
    gmshFree(elem_tags);
    gmshFree(node_tags);
    return st;
}

/* The body of the reader, with Gmsh initialised and the file opened. */
static ct_status read_model(const char *path, double unit_to_mm, ct_mesh **out)
{
    ct_status st = CT_OK;
    int ierr = 0;
    int *types = NULL, *dim_tags = NULL;
    size_t n_types = 0, n_dim_tags = 0;
    size_t *node_tags = NULL, n_node_tags = 0, n_coord = 0, n_param = 0;
    double *coord = NULL, *param = NULL;
    node_key *keys = NULL;
    int32_t *tets = NULL, *tet_label = NULL, *tris = NULL, *tri_label = NULL;
    size_t n_tets = 0, cap_tets = 0, n_tris = 0, cap_tris = 0;
    int any_tissue = 0;
    size_t *new_index = NULL;
    ct_mesh *m = NULL;

    /* Only linear tets among 3-D elements. */
    gmshModelMeshGetElementTypes(&types, &n_types, 3, -1, &ierr);
    if (ierr) {
        st = gmsh_error(CT_ERR_PARSE, path, "cannot list element types");
        goto done;
    }
    for (size_t i = 0; i < n_types; i++) {
        if (types[i] == GMSH_TETRA_4)
            continue;
        char *name = NULL;
        double *local = NULL;
        size_t n_local = 0;
        int dim = 0, order = 0, n_nodes = 0, n_primary = 0;
        gmshModelMeshGetElementProperties(types[i], &name, &dim, &order, &n_nodes, &local, &n_local, &n_primary,
                                          &ierr);
        st = ct_error_set(CT_ERR_MESH, "%s: contains 3-D elements of Gmsh type %d (%s, %d nodes); only linear "
                          "tetrahedra (type 4, 4 nodes) are supported", path, types[i],
                          (!ierr && name) ? name : "unknown", n_nodes);
        gmshFree(name);
        gmshFree(local);
        goto done;
    }

    /* All nodes, sorted by tag for lookup. */
    gmshModelMeshGetNodes(&node_tags, &n_node_tags, &coord, &n_coord, &param, &n_param, -1, -1, 0, 0, &ierr);
    if (ierr) {
        st = gmsh_error(CT_ERR_PARSE, path, "cannot read nodes");
        goto done;
    }
    if (n_coord != 3 * n_node_tags) {
        st = ct_error_set(CT_ERR_PARSE, "%s: Gmsh returned %zu coordinates for %zu nodes", path, n_coord,
                          n_node_tags);
        goto done;
    }
    keys = malloc((n_node_tags + 1) * sizeof *keys);
    if (!keys) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu nodes", path, n_node_tags);
        goto done;
    }
    for (size_t i = 0; i < n_node_tags; i++) {
        keys[i].tag = node_tags[i];
        keys[i].index = i;
    }
    qsort(keys, n_node_tags, sizeof *keys, cmp_node_key);
    for (size_t i = 1; i < n_node_tags; i++)
        if (keys[i].tag == keys[i - 1].tag) {
            st = ct_error_set(CT_ERR_PARSE, "%s: node tag %zu is defined twice", path, keys[i].tag);
            goto done;
        }

    /* Tets, volume by volume, with the tissue label of the volume's physical group. */
    gmshModelGetEntities(&dim_tags, &n_dim_tags, 3, &ierr);
    if (ierr) {
        st = gmsh_error(CT_ERR_PARSE, path, "cannot list volumes");
        goto done;
    }
    for (size_t v = 0; v < n_dim_tags / 2; v++) {
        int label = entity_label(path, 3, dim_tags[2 * v + 1]);
        if (label < 0) {
            st = CT_ERR_MESH;
            goto done;
        }
        if (label > 0)
            any_tissue = 1;
        st = append_elements(path, GMSH_TETRA_4, 4, dim_tags[2 * v + 1], keys, n_node_tags, &tets, &n_tets,
                             &cap_tets, &tet_label, label > 0 ? label - 1 : CT_TISSUE_HEALTHY);
        if (st != CT_OK)
            goto done;
    }
    gmshFree(dim_tags);
    dim_tags = NULL;
    if (n_tets == 0) {
        st = ct_error_set(CT_ERR_MESH, "%s: the file has no linear tetrahedra (Gmsh type 4)", path);
        goto done;
    }

    /* Labelled boundary triangles. */
    gmshModelGetEntities(&dim_tags, &n_dim_tags, 2, &ierr);
    if (ierr) {
        st = gmsh_error(CT_ERR_PARSE, path, "cannot list surfaces");
        goto done;
    }
    for (size_t s = 0; s < n_dim_tags / 2; s++) {
        int label = entity_label(path, 2, dim_tags[2 * s + 1]);
        if (label < 0) {
            st = CT_ERR_MESH;
            goto done;
        }
        if (label == 0)
            continue;
        st = append_elements(path, GMSH_TRIANGLE_3, 3, dim_tags[2 * s + 1], keys, n_node_tags, &tris, &n_tris,
                             &cap_tris, &tri_label, label);
        if (st != CT_OK)
            goto done;
    }

    /* Keep only the nodes of tets, in Gmsh's node order. */
    new_index = malloc((n_node_tags + 1) * sizeof *new_index);
    if (!new_index) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < n_node_tags; i++)
        new_index[i] = SIZE_MAX;
    for (size_t i = 0; i < 4 * n_tets; i++)
        new_index[tets[i]] = 0;
    size_t n_used = 0;
    for (size_t i = 0; i < n_node_tags; i++)
        if (new_index[i] == 0)
            new_index[i] = n_used++;
    if (n_used > INT32_MAX) {
        st = ct_error_set(CT_ERR_MESH, "%s: %zu nodes exceed the int32 index range", path, n_used);
        goto done;
    }
    for (size_t i = 0; i < 3 * n_tris; i++) {
        if (new_index[tris[i]] == SIZE_MAX) {
            st = ct_error_set(CT_ERR_MESH, "%s: labelled triangle %zu uses node %zu, which no tetrahedron uses", path,
                              i / 3, node_tags[tris[i]]);
            goto done;
        }
    }
    st = ct_mesh_create(n_used, n_tets, &m);
    if (st != CT_OK)
        goto done;
    for (size_t i = 0; i < n_node_tags; i++)
        if (new_index[i] != SIZE_MAX)
            for (int k = 0; k < 3; k++)
                m->xyz_mm[3 * new_index[i] + (size_t)k] = coord[3 * i + (size_t)k] * unit_to_mm;
    for (size_t i = 0; i < 4 * n_tets; i++)
        m->tets[i] = (int32_t)new_index[tets[i]];
    if (any_tissue) {
        m->tissue = tet_label;
        tet_label = NULL;
    }
    if (n_tris) {
        for (size_t i = 0; i < 3 * n_tris; i++)
            tris[i] = (int32_t)new_index[tris[i]];
        m->n_tris = n_tris;
        m->tris = tris;
        m->tri_label = tri_label;
        tris = tri_label = NULL;
    }
    *out = m;
    m = NULL;
done:
    ct_mesh_destroy(m);
    gmshFree(types);
    gmshFree(dim_tags);
    gmshFree(node_tags);
    gmshFree(coord);
    gmshFree(param);
    free(keys);
    free(tets);
    free(tet_label);
    free(tris);
    free(tri_label);
    free(new_index);
    return st;
}

/* Set when the build has a sanitizer runtime (tools/sanitize.sh), NULL otherwise. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* Reads the file with Gmsh into *out, in the calling process. */
static ct_status read_with_gmsh(const char *path, double unit_to_mm, ct_mesh **out)
{
    int ierr = 0;
    char *argv[] = {"cardiotwin", NULL};
    gmshInitialize(1, argv, 0, &ierr);
    if (ierr)
        return gmsh_error(CT_ERR_BACKEND, path, "cannot initialise Gmsh");
    gmshOptionSetNumber("General.Terminal", 0, &ierr); /* errors come back through ierr, not stdout */
    gmshOptionSetNumber("General.AbortOnError", 2, &ierr);
    gmshLoggerStart(&ierr);
    gmshOpen(path, &ierr);
    ct_status st = ierr ? gmsh_error(CT_ERR_PARSE, path, "Gmsh cannot read the file") : read_model(path, unit_to_mm, out);
    gmshLoggerStop(&ierr);
    gmshFinalize(&ierr);
    return st;
}

/* What the child sends back through the pipe: this header, then the error message (msg_bytes) or the
 * mesh's arrays in the order of ct_mesh. */
typedef struct child_header {
    int32_t status;
    uint32_t has_tissue;
    uint64_t msg_bytes, n_nodes, n_tets, n_tris;
} child_header;

/* The child's side: the result of read_with_gmsh into fd. 1 if all of it was written. */
static int send_result(int fd, ct_status st, const ct_mesh *m)
{
    child_header h = {.status = (int32_t)st};
    const char *msg = st != CT_OK ? ct_error_message() : "";
    h.msg_bytes = strlen(msg);
    if (st == CT_OK) {
        h.n_nodes = m->n_nodes;
        h.n_tets = m->n_tets;
        h.n_tris = m->n_tris;
        h.has_tissue = m->tissue != NULL;
    }
    int ok = ct_write_all(fd, &h, sizeof h) && ct_write_all(fd, msg, h.msg_bytes);
    if (ok && st == CT_OK)
        ok = ct_write_all(fd, m->xyz_mm, 3 * m->n_nodes * sizeof *m->xyz_mm) &&
             ct_write_all(fd, m->tets, 4 * m->n_tets * sizeof *m->tets) &&
             ct_write_all(fd, m->fibre, 3 * m->n_tets * sizeof *m->fibre) &&
             (!m->tissue || ct_write_all(fd, m->tissue, m->n_tets * sizeof *m->tissue)) &&
             (!m->n_tris || (ct_write_all(fd, m->tris, 3 * m->n_tris * sizeof *m->tris) &&
                             ct_write_all(fd, m->tri_label, m->n_tris * sizeof *m->tri_label)));
    return ok;
}

/* The parent's side: the child's result from fd, into *out or an error. No count may exceed the file's
 * size in bytes (max_count): every node, element and triangle takes at least a byte of it. */
static ct_status receive_result(int fd, const char *path, size_t max_count, ct_mesh **out)
{
    child_header h;
    if (!ct_read_all(fd, &h, sizeof h))
        return ct_error_set(CT_ERR_PARSE, "%s: malformed .msh file: Gmsh ended without an answer", path);
    if (h.status != CT_OK) {
        char msg[1024];
        size_t keep = h.msg_bytes < sizeof msg - 1 ? (size_t)h.msg_bytes : sizeof msg - 1;
        if (!ct_read_all(fd, msg, keep))
            keep = 0;
        msg[keep] = '\0';
        return ct_error_set(h.status > 0 && h.status <= CT_ERR_INTERNAL ? (ct_status)h.status : CT_ERR_PARSE, "%s",
                            keep ? msg : "Gmsh failed reading the file");
    }
    if (h.msg_bytes != 0 || h.n_nodes > max_count || h.n_tets > max_count || h.n_tris > max_count)
        return ct_error_set(CT_ERR_INTERNAL, "%s: inconsistent answer from the Gmsh reading process", path);
    ct_mesh *m = NULL;
    CT_CHECK(ct_mesh_create((size_t)h.n_nodes, (size_t)h.n_tets, &m));
    int ok = ct_read_all(fd, m->xyz_mm, 3 * m->n_nodes * sizeof *m->xyz_mm) &&
             ct_read_all(fd, m->tets, 4 * m->n_tets * sizeof *m->tets) &&
             ct_read_all(fd, m->fibre, 3 * m->n_tets * sizeof *m->fibre);
    if (ok && h.has_tissue)
        ok = (m->tissue = malloc(m->n_tets * sizeof *m->tissue + 1)) != NULL &&
             ct_read_all(fd, m->tissue, m->n_tets * sizeof *m->tissue);
    if (ok && h.n_tris) {
        m->n_tris = (size_t)h.n_tris;
        ok = (m->tris = malloc(3 * m->n_tris * sizeof *m->tris)) != NULL &&
             (m->tri_label = malloc(m->n_tris * sizeof *m->tri_label)) != NULL &&
             ct_read_all(fd, m->tris, 3 * m->n_tris * sizeof *m->tris) &&
             ct_read_all(fd, m->tri_label, m->n_tris * sizeof *m->tri_label);
    }
    if (!ok) {
        ct_mesh_destroy(m);
        return ct_error_set(CT_ERR_PARSE, "%s: the Gmsh reading process ended part way (or out of memory)", path);
    }
    *out = m;
    return CT_OK;
}

/* Gmsh 4.8's .msh readers corrupt its heap on some malformed files: fuzzing found double and invalid frees
 * in gmshFinalize, and corruption that shows only later, in other code. So Gmsh never runs in this process:
 * a child (fork) reads the file and sends the mesh back through a pipe. If the child crashes, fails or
 * sends a short answer, the file is refused with an error; this process's memory is never touched. */
static ct_status read_in_child(const char *path, double unit_to_mm, size_t max_count, ct_mesh **out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot open a pipe to read the file with Gmsh: %s", path, strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return ct_error_set(CT_ERR_IO, "%s: cannot start a process to read the file with Gmsh: %s", path,
                            strerror(err));
    }
    if (pid == 0) {
        close(fds[0]);
        static const int deadly[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGPIPE};
        for (size_t i = 0; i < sizeof deadly / sizeof deadly[0]; i++)
            signal(deadly[i], SIG_DFL); /* die by the signal, whatever handlers the parent installed */
        if (__sanitizer_set_death_callback)
            __sanitizer_set_death_callback(NULL); /* a report here must not run the parent's (libFuzzer's) */
        ct_mesh *m = NULL;
        ct_status st = read_with_gmsh(path, unit_to_mm, &m);
        int sent = send_result(fds[1], st, m);
        ct_mesh_destroy(m);
        close(fds[1]);
        _exit(sent ? 0 : 3);
    }
    close(fds[1]);
    ct_status st = receive_result(fds[0], path, max_count, out);
    char sink[4096]; /* the rest, if any, so that the child never blocks on a full pipe */
    for (;;) {
        ssize_t r = read(fds[0], sink, sizeof sink);
        if (r == 0 || (r < 0 && errno != EINTR))
            break;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            ct_mesh_destroy(*out);
            *out = NULL;
            return ct_error_set(CT_ERR_IO, "%s: lost the process reading the file with Gmsh: %s", path,
                                strerror(errno));
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return st;
    ct_mesh_destroy(*out);
    *out = NULL;
    if (WIFSIGNALED(status))
        return ct_error_set(CT_ERR_PARSE, "%s: malformed .msh file: Gmsh crashed reading it (signal %d, %s)", path,
                            WTERMSIG(status), strsignal(WTERMSIG(status)));
    return ct_error_set(CT_ERR_PARSE, "%s: malformed .msh file: Gmsh failed reading it (exit status %d)", path,
                        WEXITSTATUS(status));
}

ct_status ct_mesh_read_gmsh(const char *path, double unit_to_mm, ct_mesh **out)
{
    *out = NULL;
    /* Check the file ourselves: Gmsh's message for a missing file is vague. */
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ct_error_set(CT_ERR_IO, "%s: is not a regular file", path);
    /* gmshOpen picks its reader by the file's extension, then by its first line, and reads anything else
     * as a .geo script, a language that runs shell commands (SystemCall) and writes files: only a file
     * named *.msh whose first line is $MeshFormat (MSH 2 and 4) may reach it. */
    size_t path_len = strlen(path);
    if (path_len < 4 || strcasecmp(path + path_len - 4, ".msh") != 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: Gmsh meshes are read from files named *.msh (Gmsh chooses how to "
                            "read a file by its extension, and runs .geo and other scripts)", path);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char header[12] = "";
    size_t got = fread(header, 1, 11, probe);
    fclose(probe);
    if (got != 11 || memcmp(header, "$MeshFormat", 11) != 0)
        return ct_error_set(CT_ERR_PARSE, "%s:1: not a Gmsh mesh: the file must begin with $MeshFormat "
                            "(MSH 2 or 4)", path);
    return read_in_child(path, unit_to_mm, (size_t)sb.st_size, out);
}
