/* ct_phase.c — boundary triangles, phase by time-delay embedding, phase singularities (see ct_phase.h). */
#include "metrics/ct_phase.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/ct_vec3.h"

#define CT_PI 3.14159265358979323846

/* ---- boundary triangles ---- */

/* One face of one tet: its sorted node indices (the key), and the face in tet order. */
typedef struct face_rec {
    int32_t key[3];
    int32_t node[3]; /* oriented outward */
} face_rec;

static int cmp_face(const void *pa, const void *pb)
{
    const face_rec *a = pa, *b = pb;
    for (int k = 0; k < 3; k++)
        if (a->key[k] != b->key[k])
            return (a->key[k] > b->key[k]) - (a->key[k] < b->key[k]);
    return 0;
}

static void sort3(int32_t v[3])
{
    int32_t t;
    if (v[0] > v[1])
        t = v[0], v[0] = v[1], v[1] = t;
    if (v[1] > v[2])
        t = v[1], v[1] = v[2], v[2] = t;
    if (v[0] > v[1])
        t = v[0], v[0] = v[1], v[1] = t;
}

/* Orients face (a, b, c) of a tet whose 4th node is d so that its normal points away from d. */
static void orient_outward(const ct_mesh *m, int32_t f[3], int32_t d)
{
    const double *pa = m->xyz_mm + 3 * (size_t)f[0], *pb = m->xyz_mm + 3 * (size_t)f[1],
                 *pc = m->xyz_mm + 3 * (size_t)f[2], *pd = m->xyz_mm + 3 * (size_t)d;
    double ab[3], ac[3], ad[3], n[3];
    for (int k = 0; k < 3; k++) {
        ab[k] = pb[k] - pa[k];
        ac[k] = pc[k] - pa[k];
        ad[k] = pd[k] - pa[k];
    }
    ct_cross3(ab, ac, n);
    if (ct_dot3(n, ad) > 0.0) {
        int32_t t = f[1];
        f[1] = f[2];
        f[2] = t;
    }
}

ct_status ct_mesh_boundary_tris(const ct_mesh *m, int32_t **tris, size_t *n_tris)
{
    if (!m || !tris || !n_tris)
        return ct_error_set(CT_ERR_CONFIG, "ct_mesh_boundary_tris: NULL argument");
    *tris = NULL;
    *n_tris = 0;
    if (m->n_tets == 0)
        return CT_OK;
    if (m->n_tets > SIZE_MAX / (4 * sizeof(face_rec)))
        return ct_error_set(CT_ERR_NOMEM, "ct_mesh_boundary_tris: %zu tets is too many", m->n_tets);
    for (size_t e = 0; e < m->n_tets; e++)
        for (int a = 0; a < 4; a++) {
            int32_t v = m->tets[4 * e + a];
            if (v < 0 || (size_t)v >= m->n_nodes)
                return ct_error_set(CT_ERR_MESH, "ct_mesh_boundary_tris: tet %zu: node %d out of range (%zu nodes)",
                                    e, (int)v, m->n_nodes);
        }

    size_t n_faces = 4 * m->n_tets;
    face_rec *f = malloc(n_faces * sizeof *f);
    if (!f)
        return ct_error_set(CT_ERR_NOMEM, "ct_mesh_boundary_tris: out of memory (%zu faces)", n_faces);
    for (size_t e = 0; e < m->n_tets; e++) {
        const int32_t *t = m->tets + 4 * e;
        for (int opp = 0; opp < 4; opp++) { /* face opposite local node opp */
            face_rec *r = f + 4 * e + opp;
            for (int k = 0, j = 0; k < 4; k++)
                if (k != opp)
                    r->node[j++] = t[k];
            for (int k = 0; k < 3; k++)
                r->key[k] = r->node[k];
            sort3(r->key);
            orient_outward(m, r->node, t[opp]);
        }
    }
    qsort(f, n_faces, sizeof *f, cmp_face);

    /* A face whose key occurs once is on the boundary; compact those to the front. */
    size_t n_out = 0;
    for (size_t i = 0; i < n_faces;) {
        size_t j = i + 1;
        while (j < n_faces && cmp_face(f + i, f + j) == 0)
            j++;
        if (j - i == 1)
            f[n_out++] = f[i];
        i = j;
    }
    int32_t *out = NULL;
    if (n_out > 0) {
        out = malloc(3 * n_out * sizeof *out);
        if (!out) {
            free(f);
            return ct_error_set(CT_ERR_NOMEM, "ct_mesh_boundary_tris: out of memory (%zu triangles)", n_out);
        }
        for (size_t i = 0; i < n_out; i++)
            for (int k = 0; k < 3; k++)
                out[3 * i + k] = f[i].node[k];
    }
    free(f);
    *tris = out;
    *n_tris = n_out;
    return CT_OK;
}

/* ---- phase ---- */

double ct_phase_wrap(double d_rad)
{
    double w = remainder(d_rad, 2.0 * CT_PI); /* [-pi, pi] */
    return w <= -CT_PI ? w + 2.0 * CT_PI : w;
}

void ct_phase_from_vm(size_t n_nodes, const double *vm_now_mV, const double *vm_delayed_mV, double v_star_mV,
                      double *phase_rad)
{
    for (size_t i = 0; i < n_nodes; i++) {
        double th = atan2(vm_delayed_mV[i] - v_star_mV, vm_now_mV[i] - v_star_mV); /* [-pi, pi] */
        phase_rad[i] = th <= -CT_PI ? th + 2.0 * CT_PI : th;
    }
}

/* Phase difference (rad) along edge i -> j, wrapped: into (-pi, pi] taken from the lower node index, so
 * that d(i, j) == -d(j, i) exactly, also for a difference of exactly pi (a singularity on an edge). */
static double edge_diff(int32_t i, int32_t j, const double *phase_rad)
{
    return i < j ? ct_phase_wrap(phase_rad[j] - phase_rad[i]) : -ct_phase_wrap(phase_rad[i] - phase_rad[j]);
}

/* Topological charge of triangle v (-1, 0 or +1); 0 if a phase is not finite. */
static int tri_charge(const int32_t v[3], const double *phase_rad)
{
    if (!isfinite(phase_rad[v[0]]) || !isfinite(phase_rad[v[1]]) || !isfinite(phase_rad[v[2]]))
        return 0;
    double s = edge_diff(v[0], v[1], phase_rad) + edge_diff(v[1], v[2], phase_rad) + edge_diff(v[2], v[0], phase_rad);
    return (int)lround(s / (2.0 * CT_PI)); /* s is -2 pi, 0 or 2 pi up to rounding */
}

/* ---- singularities ---- */

typedef struct charged_tri {
    double c_mm[3]; /* centroid */
    int charge;
    size_t order; /* index among the charged triangles, in input order */
} charged_tri;

static int cmp_charged_x(const void *pa, const void *pb)
{
    const charged_tri *a = pa, *b = pb;
    if (a->c_mm[0] != b->c_mm[0])
        return (a->c_mm[0] > b->c_mm[0]) - (a->c_mm[0] < b->c_mm[0]);
    return (a->order > b->order) - (a->order < b->order);
}

static size_t uf_find(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

typedef struct cluster {
    double sum_mm[3];
    int charge;
    int n;
    size_t first; /* smallest input order among its triangles */
} cluster;

static int cmp_cluster(const void *pa, const void *pb)
{
    const cluster *a = pa, *b = pb;
    if (a->n != b->n)
        return (a->n < b->n) - (a->n > b->n); /* more triangles first */
    return (a->first > b->first) - (a->first < b->first);
}

ct_status ct_phase_singularities(const ct_mesh *m, const int32_t *tris, size_t n_tris, const double *phase_rad,
                                 double cluster_radius_mm, ct_phase_singularity *out, int max_out, int *n_found)
{
    if (n_found)
        *n_found = 0;
    if (!m || (!tris && n_tris > 0) || !phase_rad || !n_found || (!out && max_out > 0))
        return ct_error_set(CT_ERR_CONFIG, "ct_phase_singularities: NULL argument");
    if (!(cluster_radius_mm >= 0.0) || !isfinite(cluster_radius_mm))
        return ct_error_set(CT_ERR_CONFIG, "ct_phase_singularities: cluster radius must be >= 0 mm (got %g)",
                            cluster_radius_mm);
    if (max_out < 0)
        return ct_error_set(CT_ERR_CONFIG, "ct_phase_singularities: max_out must be >= 0 (got %d)", max_out);
    for (size_t t = 0; t < n_tris; t++)
        for (int k = 0; k < 3; k++) {
            int32_t v = tris[3 * t + k];
            if (v < 0 || (size_t)v >= m->n_nodes)
                return ct_error_set(CT_ERR_CONFIG,
                                    "ct_phase_singularities: triangle %zu: node %d out of range (%zu nodes)", t,
                                    (int)v, m->n_nodes);
        }

    /* Charged triangles and their centroids. */
    size_t n_ch = 0;
    for (size_t t = 0; t < n_tris; t++) {
        const int32_t *v = tris + 3 * t;
        if (tri_charge(v, phase_rad) != 0)
            n_ch++;
    }
    if (n_ch == 0)
        return CT_OK;
    charged_tri *ct = malloc(n_ch * sizeof *ct);
    size_t *parent = malloc(n_ch * sizeof *parent);
    cluster *cl = malloc(n_ch * sizeof *cl);
    if (!ct || !parent || !cl) {
        free(ct), free(parent), free(cl);
        return ct_error_set(CT_ERR_NOMEM, "ct_phase_singularities: out of memory (%zu charged triangles)", n_ch);
    }
    n_ch = 0;
    for (size_t t = 0; t < n_tris; t++) {
        const int32_t *v = tris + 3 * t;
        int q = tri_charge(v, phase_rad);
        if (q == 0)
            continue;
        charged_tri *c = ct + n_ch;
        for (int d = 0; d < 3; d++)
            c->c_mm[d] = (m->xyz_mm[3 * (size_t)v[0] + d] + m->xyz_mm[3 * (size_t)v[1] + d] +
                          m->xyz_mm[3 * (size_t)v[2] + d]) / 3.0;
        c->charge = q;
        c->order = n_ch++;
    }

    /* Single linkage: sweep along x, joining every pair within the radius. */
    qsort(ct, n_ch, sizeof *ct, cmp_charged_x);
    for (size_t i = 0; i < n_ch; i++)
        parent[i] = i;
    const double r2 = cluster_radius_mm * cluster_radius_mm;
    for (size_t i = 0; i < n_ch; i++)
        for (size_t j = i + 1; j < n_ch && ct[j].c_mm[0] - ct[i].c_mm[0] <= cluster_radius_mm; j++) {
            double d[3] = {ct[j].c_mm[0] - ct[i].c_mm[0], ct[j].c_mm[1] - ct[i].c_mm[1],
                           ct[j].c_mm[2] - ct[i].c_mm[2]};
            if (ct_dot3(d, d) <= r2) {
                size_t a = uf_find(parent, i), b = uf_find(parent, j);
                if (a != b)
                    parent[a < b ? b : a] = a < b ? a : b;
            }
        }

    /* Accumulate each cluster at its root, then compact and sort. */
    for (size_t i = 0; i < n_ch; i++)
        cl[i] = (cluster){.first = SIZE_MAX};
    for (size_t i = 0; i < n_ch; i++) {
        cluster *c = cl + uf_find(parent, i);
        for (int d = 0; d < 3; d++)
            c->sum_mm[d] += ct[i].c_mm[d];
        c->charge += ct[i].charge;
        c->n++;
        if (ct[i].order < c->first)
            c->first = ct[i].order;
    }
    size_t n_cl = 0;
    for (size_t i = 0; i < n_ch; i++)
        if (cl[i].n > 0)
            cl[n_cl++] = cl[i];
    qsort(cl, n_cl, sizeof *cl, cmp_cluster);
    for (size_t i = 0; i < n_cl && i < (size_t)max_out; i++) {
        for (int d = 0; d < 3; d++)
            out[i].position_mm[d] = cl[i].sum_mm[d] / cl[i].n;
        out[i].charge = cl[i].charge;
        out[i].n_triangles = cl[i].n;
    }
    *n_found = n_cl > INT_MAX ? INT_MAX : (int)n_cl;
    free(ct), free(parent), free(cl);
    return CT_OK;
}
