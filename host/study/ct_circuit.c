/* ct_circuit.c — circuit characterisation of a re-entry and the lesion proposal (method in ct_circuit.h). */
#include "ct_circuit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/ct_phase.h"

#define TWO_PI 6.283185307179586
#define PI_RAD 3.141592653589793

static const int tet_edges[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};

static double dist3(const double *a, const double *b)
{
    double d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
    return sqrt(d0 * d0 + d1 * d1 + d2 * d2);
}

static double dot3(const double *a, const double *b)
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double *a, const double *b, double *c)
{
    c[0] = a[1] * b[2] - a[2] * b[1];
    c[1] = a[2] * b[0] - a[0] * b[2];
    c[2] = a[0] * b[1] - a[1] * b[0];
}

static int uf_find(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* The unit eigenvector of the smallest eigenvalue of the symmetric 3x3 matrix c (Jacobi rotations). */
static void smallest_axis(const double c_in[3][3], double axis[3])
{
    double a[3][3], v[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    memcpy(a, c_in, sizeof a);
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = fabs(a[0][1]) + fabs(a[0][2]) + fabs(a[1][2]);
        if (off < 1e-14 * (fabs(a[0][0]) + fabs(a[1][1]) + fabs(a[2][2]) + 1e-300))
            break;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                if (fabs(a[p][q]) < 1e-300)
                    continue;
                double theta = 0.5 * (a[q][q] - a[p][p]) / a[p][q];
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double cs = 1.0 / sqrt(t * t + 1.0), sn = t * cs;
                for (int k = 0; k < 3; k++) { /* a = a * R */
                    double akp = a[k][p], akq = a[k][q];
                    a[k][p] = cs * akp - sn * akq;
                    a[k][q] = sn * akp + cs * akq;
                }
                for (int k = 0; k < 3; k++) { /* a = R^T a */
                    double apk = a[p][k], aqk = a[q][k];
                    a[p][k] = cs * apk - sn * aqk;
                    a[q][k] = sn * apk + cs * aqk;
                }
                for (int k = 0; k < 3; k++) {
                    double vkp = v[k][p], vkq = v[k][q];
                    v[k][p] = cs * vkp - sn * vkq;
                    v[k][q] = sn * vkp + cs * vkq;
                }
            }
    }
    int m = 0;
    for (int k = 1; k < 3; k++)
        if (a[k][k] < a[m][m])
            m = k;
    for (int k = 0; k < 3; k++)
        axis[k] = v[k][m];
    int big = 0; /* sign: the largest component positive */
    for (int k = 1; k < 3; k++)
        if (fabs(axis[k]) > fabs(axis[big]))
            big = k;
    if (axis[big] < 0)
        for (int k = 0; k < 3; k++)
            axis[k] = -axis[k];
}

static double wrap_pi(double x)
{
    while (x > PI_RAD)
        x -= TWO_PI;
    while (x <= -PI_RAD)
        x += TWO_PI;
    return x;
}

/* The rim of one obstacle: its centre, plane and the winding of the activation phase round it. */
typedef struct rim_fit {
    size_t n;                                   /* rim nodes with an activation time */
    double center[3], normal[3], u[3], v[3];
    double extent_mm;                           /* along the normal */
    double winding;
    int sectors_used;
} rim_fit;

static void fit_rim(const ct_mesh *m, const int *node_obst, int k, const double *t_ms, double cl_ms, rim_fit *f)
{
    memset(f, 0, sizeof *f);
    double c[3][3] = {{0}};
    for (size_t i = 0; i < m->n_nodes; i++)
        if (node_obst[i] == k && isfinite(t_ms[i])) {
            f->n++;
            for (int a = 0; a < 3; a++)
                f->center[a] += m->xyz_mm[3 * i + a];
        }
    if (f->n < 8)
        return;
    for (int a = 0; a < 3; a++)
        f->center[a] /= (double)f->n;
    for (size_t i = 0; i < m->n_nodes; i++)
        if (node_obst[i] == k && isfinite(t_ms[i]))
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    c[a][b] += (m->xyz_mm[3 * i + a] - f->center[a]) * (m->xyz_mm[3 * i + b] - f->center[b]);
    smallest_axis((const double(*)[3])c, f->normal);
    /* in-plane basis with u x v = normal */
    double e[3] = {1, 0, 0};
    if (fabs(f->normal[0]) > 0.9)
        e[0] = 0, e[1] = 1;
    cross3(f->normal, e, f->v);
    double lv = sqrt(dot3(f->v, f->v));
    for (int a = 0; a < 3; a++)
        f->v[a] /= lv;
    cross3(f->v, f->normal, f->u);
    double sx[CT_CIRCUIT_SECTORS] = {0}, sy[CT_CIRCUIT_SECTORS] = {0};
    int cnt[CT_CIRCUIT_SECTORS] = {0};
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (node_obst[i] != k || !isfinite(t_ms[i]))
            continue;
        double d[3];
        for (int a = 0; a < 3; a++)
            d[a] = m->xyz_mm[3 * i + a] - f->center[a];
        double h = dot3(d, f->normal);
        lo = h < lo ? h : lo;
        hi = h > hi ? h : hi;
        double th = atan2(dot3(d, f->v), dot3(d, f->u));
        int s = (int)floor((th + PI_RAD) / TWO_PI * CT_CIRCUIT_SECTORS);
        s = s < 0 ? 0 : s >= CT_CIRCUIT_SECTORS ? CT_CIRCUIT_SECTORS - 1 : s;
        double ph = TWO_PI * t_ms[i] / cl_ms;
        sx[s] += cos(ph);
        sy[s] += sin(ph);
        cnt[s]++;
    }
    f->extent_mm = hi - lo;
    double first = 0, prev = 0, total = 0;
    int have = 0;
    for (int s = 0; s < CT_CIRCUIT_SECTORS; s++) {
        if (!cnt[s])
            continue;
        double ph = atan2(sy[s], sx[s]);
        if (!have)
            first = ph;
        else
            total += wrap_pi(ph - prev);
        prev = ph;
        have++;
    }
    if (have >= 2)
        total += wrap_pi(first - prev);
    f->sectors_used = have;
    f->winding = total / TWO_PI;
}

static int sector_of(const rim_fit *f, const double *x)
{
    double d[3] = {x[0] - f->center[0], x[1] - f->center[1], x[2] - f->center[2]};
    double th = atan2(dot3(d, f->v), dot3(d, f->u));
    int s = (int)floor((th + PI_RAD) / TWO_PI * CT_CIRCUIT_SECTORS);
    return s < 0 ? 0 : s >= CT_CIRCUIT_SECTORS ? CT_CIRCUIT_SECTORS - 1 : s;
}

/* A binary heap of (distance, node) for Dijkstra. */
typedef struct heap {
    double *key;
    int32_t *node;
    size_t n;
} heap;

static void heap_push(heap *h, double k, int32_t v)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->key[p] <= k)
            break;
        h->key[i] = h->key[p];
        h->node[i] = h->node[p];
        i = p;
    }
    h->key[i] = k;
    h->node[i] = v;
}

static void heap_pop(heap *h, double *k, int32_t *v)
{
    *k = h->key[0];
    *v = h->node[0];
    double lk = h->key[--h->n];
    int32_t lv = h->node[h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->key[c + 1] < h->key[c])
            c++;
        if (h->key[c] >= lk)
            break;
        h->key[i] = h->key[c];
        h->node[i] = h->node[c];
        i = c;
    }
    h->key[i] = lk;
    h->node[i] = lv;
}

/* Per node, the mean slowness |grad t| (ms/mm) over its conducting elements whose four nodes have times
 * within a quarter cycle of each other (not across the wave's head-tail junction); NaN where none. */
static void node_slowness(const ct_mesh *m, const uint8_t *nc, const double *t, double cl, double *slow, int *cnt)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        slow[i] = 0, cnt[i] = 0;
    for (size_t e = 0; e < m->n_tets; e++) {
        if (nc[e])
            continue;
        const int32_t *v = m->tets + 4 * e;
        double tt[4];
        int ok = 1;
        for (int a = 0; a < 4; a++) {
            tt[a] = t[v[a]];
            ok &= isfinite(tt[a]);
        }
        if (!ok)
            continue;
        /* an element across the junction of this cycle's wave and the last one's (the front at the end of
         * the observation) has a time jump of about a cycle: its gradient says nothing of the conduction */
        double lo = tt[0], hi = tt[0];
        for (int a = 1; a < 4; a++) {
            lo = tt[a] < lo ? tt[a] : lo;
            hi = tt[a] > hi ? tt[a] : hi;
        }
        if (hi - lo > 0.25 * cl)
            continue;
        double d[3][3], r[3];
        for (int a = 0; a < 3; a++) {
            for (int k = 0; k < 3; k++)
                d[a][k] = m->xyz_mm[3 * (size_t)v[a + 1] + k] - m->xyz_mm[3 * (size_t)v[0] + k];
            r[a] = tt[a + 1] - tt[0];
        }
        double det = d[0][0] * (d[1][1] * d[2][2] - d[1][2] * d[2][1]) - d[0][1] * (d[1][0] * d[2][2] - d[1][2] * d[2][0]) +
                     d[0][2] * (d[1][0] * d[2][1] - d[1][1] * d[2][0]);
        if (fabs(det) < 1e-300)
            continue;
        double g[3]; /* Cramer: d g = r */
        for (int c = 0; c < 3; c++) {
            double mm[3][3];
            memcpy(mm, d, sizeof mm);
            for (int a = 0; a < 3; a++)
                mm[a][c] = r[a];
            g[c] = (mm[0][0] * (mm[1][1] * mm[2][2] - mm[1][2] * mm[2][1]) -
                    mm[0][1] * (mm[1][0] * mm[2][2] - mm[1][2] * mm[2][0]) +
                    mm[0][2] * (mm[1][0] * mm[2][1] - mm[1][1] * mm[2][0])) / det;
        }
        double s = sqrt(dot3(g, g));
        for (int a = 0; a < 4; a++) {
            slow[v[a]] += s;
            cnt[v[a]]++;
        }
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        slow[i] = cnt[i] ? slow[i] / cnt[i] : NAN;
}

ct_status ct_circuit_find(const ct_mesh *m, const uint8_t *nc, const double *t_ms, double cl_ms,
                          const int8_t *aha_segment, ct_circuit *out)
{
    memset(out, 0, sizeof *out);
    out->cycle_length_ms = cl_ms;
    if (!m || !nc || !t_ms || !out)
        return ct_error_set(CT_ERR_CONFIG, "ct_circuit_find: NULL argument");
    if (!(cl_ms > 0)) {
        snprintf(out->why, sizeof out->why, "the cycle length could not be measured");
        return CT_OK;
    }
    size_t nn = m->n_nodes, ne = m->n_tets;
    int *parent = malloc(ne * sizeof *parent + 1), *first = malloc(nn * sizeof *first + 1);
    int *comp = malloc(ne * sizeof *comp + 1), *node_obst = malloc(nn * sizeof *node_obst + 1);
    uint8_t *cond = calloc(nn + 1, 1), *target = calloc(nn + 1, 1);
    int32_t *xadj = calloc(nn + 1, sizeof *xadj), *adj = NULL, *pred = malloc(nn * sizeof *pred + 1);
    int32_t *origin = malloc(nn * sizeof *origin + 1), *tris = NULL;
    double *dist = malloc(nn * sizeof *dist + 1), *slow = malloc(nn * sizeof *slow + 1);
    int *scnt = malloc(nn * sizeof *scnt + 1);
    uint8_t *lmask = calloc(ne + 1, 1);
    heap h = {0};
    size_t n_tris = 0;
    ct_status st = CT_OK;
    if (!parent || !first || !comp || !node_obst || !cond || !target || !xadj || !pred || !origin || !dist ||
        !slow || !scnt || !lmask) {
        st = ct_error_set(CT_ERR_NOMEM, "circuit: out of memory for %zu nodes", nn);
        goto done;
    }
    /* obstacles: non-conducting elements joined through shared nodes */
    double edge_sum = 0;
    size_t edge_n = 0;
    for (size_t i = 0; i < nn; i++)
        first[i] = -1;
    for (size_t e = 0; e < ne; e++)
        parent[e] = (int)e;
    for (size_t e = 0; e < ne; e++) {
        const int32_t *v = m->tets + 4 * e;
        for (int a = 0; a < 6; a++) {
            edge_sum += dist3(m->xyz_mm + 3 * (size_t)v[tet_edges[a][0]], m->xyz_mm + 3 * (size_t)v[tet_edges[a][1]]);
            edge_n++;
        }
        if (!nc[e]) {
            for (int a = 0; a < 4; a++)
                cond[v[a]] = 1;
            continue;
        }
        for (int a = 0; a < 4; a++) {
            if (first[v[a]] < 0)
                first[v[a]] = (int)e;
            else
                parent[uf_find(parent, (int)e)] = uf_find(parent, first[v[a]]);
        }
    }
    out->mean_edge_mm = edge_n ? edge_sum / (double)edge_n : 0;
    int k_obst = 0;
    for (size_t e = 0; e < ne; e++)
        comp[e] = 0;
    for (size_t e = 0; e < ne; e++)
        if (nc[e] && uf_find(parent, (int)e) == (int)e)
            comp[e] = ++k_obst;
    for (size_t e = 0; e < ne; e++)
        if (nc[e])
            comp[e] = comp[uf_find(parent, (int)e)];
    out->n_obstacles = k_obst;
    /* the rim: conducting nodes touching an obstacle (-1: touching two, a closed gap) */
    for (size_t i = 0; i < nn; i++)
        node_obst[i] = 0;
    for (size_t e = 0; e < ne; e++) {
        if (!nc[e])
            continue;
        for (int a = 0; a < 4; a++) {
            int32_t v = m->tets[4 * e + a];
            if (!cond[v])
                continue;
            node_obst[v] = node_obst[v] == 0 || node_obst[v] == comp[e] ? comp[e] : -1;
        }
    }
    if (k_obst == 0) {
        snprintf(out->why, sizeof out->why, "the mesh has no non-conducting region for a circuit to encircle");
        goto done;
    }
    /* the encircled obstacle: the largest winding of the activation phase */
    rim_fit best = {0}, f;
    double best_w = 0;
    for (int k = 1; k <= k_obst; k++) {
        fit_rim(m, node_obst, k, t_ms, cl_ms, &f);
        if (f.sectors_used >= CT_CIRCUIT_SECTORS / 3 && fabs(f.winding) > fabs(best_w)) {
            best = f;
            best_w = f.winding;
            out->obstacle = k;
        }
    }
    if (out->obstacle == 0 || fabs(best_w) < 0.5) {
        snprintf(out->why, sizeof out->why,
                 "no obstacle is encircled (largest activation winding %.2f cycles of %d obstacle%s): a "
                 "functional re-entry",
                 best_w, k_obst, k_obst == 1 ? "" : "s");
        out->obstacle = 0;
        goto done;
    }
    out->winding = best_w;
    out->direction = best_w > 0 ? 1 : -1;
    memcpy(out->normal, best.normal, sizeof out->normal);
    memcpy(out->obstacle_center_mm, best.center, sizeof best.center);
    out->wall_mm = best.extent_mm;
    for (size_t e = 0; e < ne; e++)
        if (nc[e] && comp[e] == out->obstacle) {
            out->obstacle_elements++;
            out->obstacle_volume_mm3 += ct_mesh_tet_volume(m, e);
        }

    /* the other boundaries: other obstacles' rims, and the outer boundary the circuit does not run along */
    for (size_t i = 0; i < nn; i++)
        target[i] = node_obst[i] != 0 && node_obst[i] != out->obstacle;
    int labelled_base = 0;
    for (size_t t = 0; t < m->n_tris; t++)
        labelled_base |= m->tri_label && m->tri_label[t] == CT_SURF_BASE;
    if (labelled_base) {
        for (size_t t = 0; t < m->n_tris; t++)
            if (m->tri_label[t] == CT_SURF_BASE)
                for (int a = 0; a < 3; a++)
                    target[m->tris[3 * t + a]] |= cond[m->tris[3 * t + a]];
    } else {
        if ((st = ct_mesh_boundary_tris(m, &tris, &n_tris)) != CT_OK)
            goto done;
        for (size_t t = 0; t < n_tris; t++) {
            const int32_t *v = tris + 3 * t;
            if (!cond[v[0]] || !cond[v[1]] || !cond[v[2]])
                continue;
            double a[3], b[3], nrm[3];
            for (int k = 0; k < 3; k++) {
                a[k] = m->xyz_mm[3 * (size_t)v[1] + k] - m->xyz_mm[3 * (size_t)v[0] + k];
                b[k] = m->xyz_mm[3 * (size_t)v[2] + k] - m->xyz_mm[3 * (size_t)v[0] + k];
            }
            cross3(a, b, nrm);
            double ln = sqrt(dot3(nrm, nrm));
            if (ln > 0 && fabs(dot3(nrm, out->normal)) / ln < 0.7071)
                for (int k = 0; k < 3; k++)
                    target[v[k]] = 1;
        }
    }
    for (size_t i = 0; i < nn; i++)
        if (node_obst[i] == out->obstacle)
            target[i] = 0;

    /* the conducting graph: edges of conducting elements (duplicates kept: harmless for Dijkstra) */
    for (size_t e = 0; e < ne; e++)
        if (!nc[e])
            for (int a = 0; a < 6; a++) {
                xadj[m->tets[4 * e + tet_edges[a][0]] + 1]++;
                xadj[m->tets[4 * e + tet_edges[a][1]] + 1]++;
            }
    for (size_t i = 0; i < nn; i++)
        xadj[i + 1] += xadj[i];
    adj = malloc((size_t)xadj[nn] * sizeof *adj + 1);
    int32_t *fill = malloc(nn * sizeof *fill + 1);
    h.key = malloc(((size_t)xadj[nn] + nn) * sizeof *h.key + 1);
    h.node = malloc(((size_t)xadj[nn] + nn) * sizeof *h.node + 1);
    if (!adj || !fill || !h.key || !h.node) {
        free(fill);
        st = ct_error_set(CT_ERR_NOMEM, "circuit: out of memory for the conducting graph");
        goto done;
    }
    memcpy(fill, xadj, nn * sizeof *fill);
    for (size_t e = 0; e < ne; e++)
        if (!nc[e])
            for (int a = 0; a < 6; a++) {
                int32_t p = m->tets[4 * e + tet_edges[a][0]], q = m->tets[4 * e + tet_edges[a][1]];
                adj[fill[p]++] = q;
                adj[fill[q]++] = p;
            }
    free(fill);
    for (size_t i = 0; i < nn; i++) {
        dist[i] = INFINITY;
        pred[i] = -1;
        origin[i] = -1;
        if (target[i]) {
            dist[i] = 0;
            origin[i] = (int32_t)i;
            heap_push(&h, 0, (int32_t)i);
        }
    }
    while (h.n) {
        double d;
        int32_t v;
        heap_pop(&h, &d, &v);
        if (d > dist[v])
            continue;
        for (int32_t j = xadj[v]; j < xadj[v + 1]; j++) {
            int32_t w = adj[j];
            double nd = d + dist3(m->xyz_mm + 3 * (size_t)v, m->xyz_mm + 3 * (size_t)w);
            if (nd < dist[w]) {
                dist[w] = nd;
                pred[w] = v;
                origin[w] = origin[v];
                heap_push(&h, nd, w);
            }
        }
    }
    double dmin = INFINITY;
    for (size_t i = 0; i < nn; i++)
        if (node_obst[i] == out->obstacle && dist[i] < dmin)
            dmin = dist[i];
    if (!isfinite(dmin)) {
        snprintf(out->why, sizeof out->why,
                 "obstacle %d is encircled but no other non-conducting boundary can be reached through tissue",
                 out->obstacle);
        goto done;
    }
    /* ties within one edge: the slowest gap */
    node_slowness(m, nc, t_ms, cl_ms, slow, scnt);
    double tol = out->mean_edge_mm, best_slow = -1;
    int32_t pick = -1;
    for (size_t i = 0; i < nn; i++) {
        if (node_obst[i] != out->obstacle || dist[i] > dmin + tol)
            continue;
        out->n_ties++;
        double s = 0;
        int k = 0;
        for (int32_t v = (int32_t)i; v >= 0; v = pred[v])
            if (isfinite(slow[v]))
                s += slow[v], k++;
        s = k ? s / k : 0;
        if (pick < 0 || s > best_slow * (1 + 1e-9)) {
            best_slow = s;
            pick = (int32_t)i;
        }
    }
    int32_t far = origin[pick];
    memcpy(out->isthmus_from_mm, m->xyz_mm + 3 * (size_t)pick, sizeof out->isthmus_from_mm);
    memcpy(out->isthmus_to_mm, m->xyz_mm + 3 * (size_t)far, sizeof out->isthmus_to_mm);
    out->isthmus_to_obstacle = node_obst[far] > 0 ? node_obst[far] : 0;
    out->isthmus_width_mm = dist3(out->isthmus_from_mm, out->isthmus_to_mm);
    out->isthmus_cv_m_per_s = best_slow > 0 ? 1.0 / best_slow : NAN;

    /* the channel: neighbouring sectors whose gaps are as narrow and point the same way */
    double dir[3];
    for (int k = 0; k < 3; k++)
        dir[k] = (out->isthmus_to_mm[k] - out->isthmus_from_mm[k]) / (out->isthmus_width_mm + 1e-300);
    int32_t sec_node[CT_CIRCUIT_SECTORS];
    for (int s = 0; s < CT_CIRCUIT_SECTORS; s++)
        sec_node[s] = -1;
    for (size_t i = 0; i < nn; i++) {
        if (node_obst[i] != out->obstacle || !isfinite(dist[i]) || dist[i] > dmin + tol)
            continue;
        double g[3], lg = 0;
        for (int k = 0; k < 3; k++) {
            g[k] = m->xyz_mm[3 * (size_t)origin[i] + k] - m->xyz_mm[3 * i + k];
            lg += g[k] * g[k];
        }
        if (lg <= 0 || dot3(g, dir) / sqrt(lg) < 0.866)
            continue;
        int s = sector_of(&best, m->xyz_mm + 3 * i);
        if (sec_node[s] < 0 || dist[i] < dist[sec_node[s]])
            sec_node[s] = (int32_t)i;
    }
    int s0 = sector_of(&best, out->isthmus_from_mm);
    sec_node[s0] = pick;
    int up = s0, down = s0, step = out->direction; /* the wave runs towards +step sectors */
    for (int n = 0; n < CT_CIRCUIT_SECTORS / 2; n++) {
        int s = (down + step + CT_CIRCUIT_SECTORS) % CT_CIRCUIT_SECTORS;
        if (sec_node[s] < 0)
            break;
        down = s;
    }
    for (int n = 0; n < CT_CIRCUIT_SECTORS / 2; n++) {
        int s = (up - step + CT_CIRCUIT_SECTORS) % CT_CIRCUIT_SECTORS;
        if (sec_node[s] < 0 || s == down)
            break;
        up = s;
    }
    for (int k = 0; k < 3; k++) {
        out->entrance_mm[k] = 0.5 * (m->xyz_mm[3 * (size_t)sec_node[up] + k] +
                                     m->xyz_mm[3 * (size_t)origin[sec_node[up]] + k]);
        out->exit_mm[k] = 0.5 * (m->xyz_mm[3 * (size_t)sec_node[down] + k] +
                                 m->xyz_mm[3 * (size_t)origin[sec_node[down]] + k]);
    }
    if (aha_segment) {
        double mid[3], bd = INFINITY;
        for (int k = 0; k < 3; k++)
            mid[k] = 0.5 * (out->isthmus_from_mm[k] + out->isthmus_to_mm[k]);
        for (size_t e = 0; e < ne; e++) {
            if (aha_segment[e] <= 0)
                continue;
            double c[3];
            ct_mesh_tet_centroid(m, e, c);
            double d = dist3(c, mid);
            if (d < bd) {
                bd = d;
                out->aha_segment = aha_segment[e];
            }
        }
    }

    /* the lesion: end point to end point at mid-wall, one edge into both non-conducting sides */
    ct_lesion *l = &out->lesion;
    snprintf(l->name, sizeof l->name, "isthmus");
    l->shape = CT_LESION_LINE;
    double off_a = dot3(out->obstacle_center_mm, out->normal) - dot3(out->isthmus_from_mm, out->normal);
    double off_b = dot3(out->obstacle_center_mm, out->normal) - dot3(out->isthmus_to_mm, out->normal);
    for (int k = 0; k < 3; k++) {
        l->a_mm[k] = out->isthmus_from_mm[k] + off_a * out->normal[k] - tol * dir[k];
        l->b_mm[k] = out->isthmus_to_mm[k] + off_b * out->normal[k] + tol * dir[k];
    }
    l->radius_mm = 1.5 * out->mean_edge_mm;
    if (0.5 * out->wall_mm > l->radius_mm)
        l->radius_mm = 0.5 * out->wall_mm;
    ct_lesion_effect ef;
    if ((st = ct_lesions_mark(m, l, 1, lmask, &ef)) != CT_OK)
        goto done;
    out->lesion_volume_mm3 = ef.volume_mm3;
    out->lesion_transmural = ef.transmural;
    out->found = 1;
done:
    free(parent);
    free(first);
    free(comp);
    free(node_obst);
    free(cond);
    free(target);
    free(xadj);
    free(adj);
    free(pred);
    free(origin);
    free(tris);
    free(dist);
    free(slow);
    free(scnt);
    free(lmask);
    free(h.key);
    free(h.node);
    return st;
}

cJSON *ct_circuit_json(const ct_circuit *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "found", c->found);
    if (!c->found) {
        cJSON_AddStringToObject(j, "reason", c->why);
        return j;
    }
    cJSON_AddNumberToObject(j, "cycle_length_ms", c->cycle_length_ms);
    cJSON *o = cJSON_AddObjectToObject(j, "encircled_obstacle");
    cJSON_AddNumberToObject(o, "index", c->obstacle);
    cJSON_AddNumberToObject(o, "of", c->n_obstacles);
    cJSON_AddNumberToObject(o, "elements", (double)c->obstacle_elements);
    cJSON_AddNumberToObject(o, "volume_mm3", c->obstacle_volume_mm3);
    cJSON_AddItemToObject(o, "center_mm", cJSON_CreateDoubleArray(c->obstacle_center_mm, 3));
    cJSON_AddNumberToObject(j, "winding_cycles", c->winding);
    cJSON_AddStringToObject(j, "direction", c->direction > 0 ? "anticlockwise" : "clockwise");
    cJSON_AddItemToObject(j, "viewed_from", cJSON_CreateDoubleArray(c->normal, 3));
    cJSON *i = cJSON_AddObjectToObject(j, "isthmus");
    cJSON_AddNumberToObject(i, "width_mm", c->isthmus_width_mm);
    cJSON_AddItemToObject(i, "from_mm", cJSON_CreateDoubleArray(c->isthmus_from_mm, 3));
    cJSON_AddItemToObject(i, "to_mm", cJSON_CreateDoubleArray(c->isthmus_to_mm, 3));
    cJSON_AddStringToObject(i, "to", c->isthmus_to_obstacle ? "another obstacle" : "the outer boundary");
    if (isfinite(c->isthmus_cv_m_per_s))
        cJSON_AddNumberToObject(i, "cv_m_per_s", c->isthmus_cv_m_per_s);
    else
        cJSON_AddNullToObject(i, "cv_m_per_s");
    cJSON_AddNumberToObject(i, "tied_gaps", c->n_ties);
    cJSON_AddItemToObject(i, "entrance_mm", cJSON_CreateDoubleArray(c->entrance_mm, 3));
    cJSON_AddItemToObject(i, "exit_mm", cJSON_CreateDoubleArray(c->exit_mm, 3));
    if (c->aha_segment > 0)
        cJSON_AddNumberToObject(i, "aha_segment", c->aha_segment);
    else
        cJSON_AddNullToObject(i, "aha_segment");
    cJSON *l = cJSON_AddObjectToObject(j, "lesion");
    char spec[256];
    const ct_lesion *le = &c->lesion;
    snprintf(spec, sizeof spec, "line:%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f", le->a_mm[0], le->a_mm[1], le->a_mm[2],
             le->b_mm[0], le->b_mm[1], le->b_mm[2], le->radius_mm);
    cJSON_AddStringToObject(l, "spec", spec);
    cJSON_AddNumberToObject(l, "volume_mL", c->lesion_volume_mm3 * 1e-3);
    if (c->lesion_transmural < 0)
        cJSON_AddNullToObject(l, "transmural");
    else
        cJSON_AddBoolToObject(l, "transmural", c->lesion_transmural);
    cJSON_AddNumberToObject(j, "mean_edge_mm", c->mean_edge_mm);
    return j;
}

int ct_circuit_json_lesion(const cJSON *circuit, ct_lesion *out)
{
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(circuit, "lesion"), "spec");
    return cJSON_IsString(spec) && ct_lesion_parse_spec(spec->valuestring, out) == CT_OK;
}
