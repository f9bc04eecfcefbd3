/* ct_surface_heart.c — closed myocardial surface -> labelled tet mesh (see ct_surface_heart.h). */
#define _POSIX_C_SOURCE 200809L
#include "ct_surface_heart.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ct_vec3.h"
#include "../personalise/ct_geometry.h"
#include "core/ct_clock.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

ct_surface_heart_options ct_surface_heart_options_default(void)
{
    return (ct_surface_heart_options){.h_mm = 1.5, .flip = -1};
}

/* ---- geometry of one triangle ---- */

static const double *pt(const ct_trisurf *s, size_t t, int k)
{
    return s->xyz_mm + 3 * (size_t)s->tris[3 * t + k];
}

/* centroid, unit normal, area */
static double tri_geom(const ct_trisurf *s, size_t t, double c[3], double n[3])
{
    const double *a = pt(s, t, 0), *b = pt(s, t, 1), *d = pt(s, t, 2);
    double u[3], v[3];
    for (int k = 0; k < 3; k++) {
        c[k] = (a[k] + b[k] + d[k]) / 3.0;
        u[k] = b[k] - a[k];
        v[k] = d[k] - a[k];
    }
    ct_cross3(u, v, n);
    double l = sqrt(ct_dot3(n, n));
    for (int k = 0; k < 3; k++)
        n[k] = l > 0 ? n[k] / l : 0;
    return 0.5 * l;
}

static double signed_volume(const ct_trisurf *s)
{
    double v = 0;
    for (size_t t = 0; t < s->n_tris; t++) {
        double c[3];
        ct_cross3(pt(s, t, 1), pt(s, t, 2), c);
        v += ct_dot3(pt(s, t, 0), c) / 6.0;
    }
    return v;
}

static void flip_tri(ct_trisurf *s, size_t t)
{
    int32_t x = s->tris[3 * t + 1];
    s->tris[3 * t + 1] = s->tris[3 * t + 2];
    s->tris[3 * t + 2] = x;
}

/* ---- edges ---- */

typedef struct edge_rec {
    int32_t a, b;  /* a < b */
    int32_t tri;
    int8_t slot;   /* edge slot k of tri: from corner k to corner k+1 */
    int8_t fwd;    /* 1: the triangle runs a -> b */
} edge_rec;

static int edge_cmp(const void *x, const void *y)
{
    const edge_rec *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->b != q->b)
        return p->b < q->b ? -1 : 1;
    return p->tri < q->tri ? -1 : p->tri > q->tri;
}

/* Neighbour across each edge slot (nb[3t+k]) and whether it runs the edge the same way (same[3t+k]).
 * Refuses open and non-manifold edges, naming one. */
static ct_status adjacency(const ct_trisurf *s, const char *src, int32_t **nb_out, uint8_t **same_out)
{
    size_t n = s->n_tris;
    edge_rec *e = malloc(3 * n * sizeof *e + 1);
    int32_t *nb = malloc(3 * n * sizeof *nb + 1);
    uint8_t *same = malloc(3 * n + 1);
    if (!e || !nb || !same) {
        free(e);
        free(nb);
        free(same);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu triangles", src, n);
    }
    for (size_t t = 0; t < n; t++)
        for (int k = 0; k < 3; k++) {
            int32_t p = s->tris[3 * t + k], q = s->tris[3 * t + (k + 1) % 3];
            e[3 * t + k] = (edge_rec){.a = p < q ? p : q, .b = p < q ? q : p, .tri = (int32_t)t, .slot = (int8_t)k,
                                      .fwd = (int8_t)(p < q)};
        }
    qsort(e, 3 * n, sizeof *e, edge_cmp);
    size_t n_open = 0, n_nonman = 0, first_open = 0, first_nonman = 0;
    for (size_t i = 0; i < 3 * n;) {
        size_t j = i;
        while (j < 3 * n && e[j].a == e[i].a && e[j].b == e[i].b)
            j++;
        if (j - i == 1) {
            if (n_open++ == 0)
                first_open = i;
        } else if (j - i > 2) {
            if (n_nonman++ == 0)
                first_nonman = i;
        } else {
            nb[3 * (size_t)e[i].tri + e[i].slot] = e[i + 1].tri;
            nb[3 * (size_t)e[i + 1].tri + e[i + 1].slot] = e[i].tri;
            same[3 * (size_t)e[i].tri + e[i].slot] = same[3 * (size_t)e[i + 1].tri + e[i + 1].slot] =
                (uint8_t)(e[i].fwd == e[i + 1].fwd);
        }
        i = j;
    }
    ct_status st = CT_OK;
    if (n_nonman || n_open) {
        const edge_rec *r = n_nonman ? &e[first_nonman] : &e[first_open];
        const double *p = s->xyz_mm + 3 * (size_t)r->a, *q = s->xyz_mm + 3 * (size_t)r->b;
        size_t cnt = 0;
        while (n_nonman && first_nonman + cnt < 3 * n && e[first_nonman + cnt].a == r->a && e[first_nonman + cnt].b == r->b)
            cnt++;
        if (n_nonman)
            st = ct_error_set(CT_ERR_MESH, "%s: the surface is non-manifold: %zu edges are shared by more than two "
                              "triangles, e.g. the edge from (%.2f, %.2f, %.2f) to (%.2f, %.2f, %.2f) mm, shared by %zu "
                              "(a fin, or two surfaces touching)%s", src, n_nonman, p[0], p[1], p[2], q[0], q[1], q[2],
                              cnt, n_open ? "; it is also open" : "");
        else
            st = ct_error_set(CT_ERR_MESH, "%s: the surface is open: %zu edges belong to one triangle only, e.g. the "
                              "edge from (%.2f, %.2f, %.2f) to (%.2f, %.2f, %.2f) mm: close the holes (the myocardium "
                              "must be one closed surface, the base included)", src, n_open, p[0], p[1], p[2], q[0],
                              q[1], q[2]);
    }
    free(e);
    if (st != CT_OK) {
        free(nb);
        free(same);
        return st;
    }
    *nb_out = nb;
    *same_out = same;
    return CT_OK;
}

/* ---- steps 1-3 ---- */

ct_status ct_surface_check(ct_trisurf *s, int flip, const char *src, ct_surface_heart_report *rep)
{
    rep->n_points = s->n_points;
    rep->n_tris = s->n_tris;
    if (s->n_tris < 4)
        return ct_error_set(CT_ERR_MESH, "%s: %zu triangles cannot close a volume", src, s->n_tris);
    for (size_t t = 0; t < s->n_tris; t++) {
        const int32_t *v = s->tris + 3 * t;
        for (int k = 0; k < 3; k++)
            if (v[k] < 0 || (size_t)v[k] >= s->n_points)
                return ct_error_set(CT_ERR_MESH, "%s: triangle %zu: point index %d outside [0, %zu)", src, t, (int)v[k],
                                    s->n_points);
        if (v[0] == v[1] || v[1] == v[2] || v[0] == v[2])
            return ct_error_set(CT_ERR_MESH, "%s: triangle %zu has a repeated corner (point %d)", src, t,
                                (int)(v[0] == v[1] || v[0] == v[2] ? v[0] : v[1]));
    }
    int32_t *nb = NULL, *queue = NULL;
    uint8_t *same = NULL;
    int8_t *orient = NULL;
    CT_CHECK(adjacency(s, src, &nb, &same));
    ct_status st = CT_OK;
    size_t n = s->n_tris;
    queue = malloc(n * sizeof *queue + 1);
    orient = calloc(n + 1, 1);
    if (!queue || !orient) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    /* orientation by propagation from triangle 0; the pieces counted on the way */
    size_t n_pieces = 0, n_minus = 0, piece0 = 0;
    for (size_t seed = 0; seed < n; seed++) {
        if (orient[seed])
            continue;
        size_t head = 0, tail = 0, size = 0;
        orient[seed] = 1;
        queue[tail++] = (int32_t)seed;
        while (head < tail) {
            int32_t t = queue[head++];
            size++;
            for (int k = 0; k < 3; k++) {
                int32_t u = nb[3 * (size_t)t + k];
                int8_t want = (int8_t)(same[3 * (size_t)t + k] ? -orient[t] : orient[t]);
                if (!orient[u]) {
                    orient[u] = want;
                    queue[tail++] = u;
                } else if (orient[u] != want) {
                    const double *p = pt(s, (size_t)t, k);
                    st = ct_error_set(CT_ERR_MESH, "%s: the surface cannot be oriented (a Moebius-like twist): triangles "
                                      "%d and %d near (%.2f, %.2f, %.2f) mm", src, (int)t, (int)u, p[0], p[1], p[2]);
                    goto done;
                }
            }
        }
        if (n_pieces++ == 0)
            piece0 = size;
    }
    if (n_pieces > 1) {
        st = ct_error_set(CT_ERR_MESH, "%s: the surface is in %zu separate pieces (the first of %zu of the %zu "
                          "triangles): the myocardium must be one closed surface", src, n_pieces, piece0, n);
        goto done;
    }
    for (size_t t = 0; t < n; t++)
        n_minus += orient[t] < 0;
    int8_t keep = n_minus * 2 > n ? -1 : 1; /* flip the minority */
    rep->n_reoriented = 0;
    for (size_t t = 0; t < n; t++)
        if (orient[t] != keep) {
            flip_tri(s, t);
            rep->n_reoriented++;
        }
    double v = signed_volume(s);
    rep->flipped = flip == 1 || (flip < 0 && v < 0);
    if (rep->flipped) {
        for (size_t t = 0; t < n; t++)
            flip_tri(s, t);
        v = -v;
    }
    if (!(v > 0)) {
        st = ct_error_set(CT_ERR_CONFIG, "%s: with geometry.flip_normals %s the surface faces inwards (enclosed volume "
                          "%.4g mL): leave flip_normals out to orient it by its volume", src,
                          flip == 1 ? "true" : "false", v / 1e3);
        goto done;
    }
    rep->enclosed_mm3 = v;
    if (v < 1e3 || v > 3e6)
        st = ct_error_set(CT_ERR_CONFIG, "%s: the surface encloses %.4g mL of myocardium, implausible for a heart (1 to "
                          "3000 mL): are its units right? (geometry.units: mm, cm, um or m; STL carries none, mm is "
                          "assumed)", src, v / 1e3);
done:
    free(nb);
    free(same);
    free(queue);
    free(orient);
    return st;
}

/* ---- a grid of triangle centroids for nearest-triangle queries ---- */

typedef struct tri_grid {
    double lo[3], cell;
    int dims[3];
    size_t *start; /* per cell, into idx (CSR) */
    int32_t *idx;
    const double *cen, *nrm; /* 3 per triangle */
} tri_grid;

static ct_status grid_build(tri_grid *g, const double *cen, const double *nrm, size_t n, double cell)
{
    memset(g, 0, sizeof *g);
    g->cen = cen;
    g->nrm = nrm;
    double hi[3];
    for (int k = 0; k < 3; k++)
        g->lo[k] = hi[k] = n ? cen[k] : 0;
    for (size_t t = 0; t < n; t++)
        for (int k = 0; k < 3; k++) {
            g->lo[k] = fmin(g->lo[k], cen[3 * t + k]);
            hi[k] = fmax(hi[k], cen[3 * t + k]);
        }
    double ext = fmax(hi[0] - g->lo[0], fmax(hi[1] - g->lo[1], hi[2] - g->lo[2]));
    g->cell = fmax(cell, ext / 200.0 + 1e-9);
    size_t nc = 1;
    for (int k = 0; k < 3; k++) {
        g->dims[k] = (int)((hi[k] - g->lo[k]) / g->cell) + 1;
        nc *= (size_t)g->dims[k];
    }
    g->start = calloc(nc + 1, sizeof *g->start);
    g->idx = malloc(n * sizeof *g->idx + 1);
    if (!g->start || !g->idx)
        return ct_error_set(CT_ERR_NOMEM, "out of memory for a grid of %zu cells", nc);
    size_t *cellof = malloc(n * sizeof *cellof + 1);
    if (!cellof)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    for (size_t t = 0; t < n; t++) {
        size_t c = 0;
        for (int k = 2; k >= 0; k--) {
            int i = (int)((cen[3 * t + k] - g->lo[k]) / g->cell);
            i = i < 0 ? 0 : i >= g->dims[k] ? g->dims[k] - 1 : i;
            c = c * (size_t)g->dims[k] + (size_t)i;
        }
        cellof[t] = c;
        g->start[c + 1]++;
    }
    for (size_t c = 0; c < nc; c++)
        g->start[c + 1] += g->start[c];
    size_t *fill = malloc(nc * sizeof *fill + 1);
    if (!fill) {
        free(cellof);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    memcpy(fill, g->start, nc * sizeof *fill);
    for (size_t t = 0; t < n; t++)
        g->idx[fill[cellof[t]]++] = (int32_t)t;
    free(fill);
    free(cellof);
    return CT_OK;
}

static void grid_free(tri_grid *g)
{
    free(g->start);
    free(g->idx);
}

/* The nearest triangle to p whose normal makes less than 90 deg with nrm (NULL: any) and for which
 * accept(ctx, t) (NULL: all); -1 if none. */
static int32_t grid_nearest(const tri_grid *g, const double p[3], const double *nrm,
                            int (*accept)(const void *, int32_t), const void *ctx)
{
    int c0[3];
    for (int k = 0; k < 3; k++) {
        int i = (int)floor((p[k] - g->lo[k]) / g->cell);
        c0[k] = i < 0 ? 0 : i >= g->dims[k] ? g->dims[k] - 1 : i;
    }
    /* distance from p to the grid box, so that rings start counting where the grid does */
    double off = 0;
    for (int k = 0; k < 3; k++) {
        double hi = g->lo[k] + g->dims[k] * g->cell;
        double d = p[k] < g->lo[k] ? g->lo[k] - p[k] : p[k] > hi ? p[k] - hi : 0;
        off += d * d;
    }
    off = sqrt(off);
    int rmax = g->dims[0] + g->dims[1] + g->dims[2];
    int32_t best = -1;
    double bd = INFINITY;
    for (int r = 0; r <= rmax; r++) {
        if (best >= 0 && (r - 1) * g->cell + off > sqrt(bd))
            break;
        for (int a = c0[0] - r; a <= c0[0] + r; a++)
            for (int b = c0[1] - r; b <= c0[1] + r; b++)
                for (int c = c0[2] - r; c <= c0[2] + r; c++) {
                    if (a < 0 || b < 0 || c < 0 || a >= g->dims[0] || b >= g->dims[1] || c >= g->dims[2])
                        continue;
                    if (abs(a - c0[0]) != r && abs(b - c0[1]) != r && abs(c - c0[2]) != r)
                        continue; /* inner cells: seen in an earlier ring */
                    size_t cell = (size_t)a + (size_t)g->dims[0] * ((size_t)b + (size_t)g->dims[1] * (size_t)c);
                    for (size_t q = g->start[cell]; q < g->start[cell + 1]; q++) {
                        int32_t t = g->idx[q];
                        if (nrm && ct_dot3(nrm, g->nrm + 3 * (size_t)t) <= 0)
                            continue;
                        if (accept && !accept(ctx, t))
                            continue;
                        const double *x = g->cen + 3 * (size_t)t;
                        double d = (x[0] - p[0]) * (x[0] - p[0]) + (x[1] - p[1]) * (x[1] - p[1]) +
                                   (x[2] - p[2]) * (x[2] - p[2]);
                        if (d < bd) {
                            bd = d;
                            best = t;
                        }
                    }
                }
    }
    return best;
}

/* ---- steps 4-5 ---- */

typedef struct label_ctx {
    const int32_t *labels;
    const uint8_t *big;
    const int32_t *piece;
} label_ctx;

static int in_big_piece(const void *ctx, int32_t t)
{
    const label_ctx *c = ctx;
    return c->labels[t] == CT_SURF_BASE || c->big[c->piece[t]];
}

/* Grows base triangles (in_base = 1) into their neighbours near the plane with a normal near the plane's. */
static void complete_rim(const ct_trisurf *s, const int32_t *nb, const double *cen, const double *nrm,
                         const double p[3], const double n[3], double depth, double cos_max, uint8_t *in_base)
{
    for (int pass = 0; pass < 3; pass++) {
        int grew = 0;
        for (size_t t = 0; t < s->n_tris; t++) {
            if (!in_base[t])
                continue;
            for (int k = 0; k < 3; k++) {
                int32_t u = nb[3 * t + k];
                if (in_base[u])
                    continue;
                double d[3] = {cen[3 * (size_t)u] - p[0], cen[3 * (size_t)u + 1] - p[1], cen[3 * (size_t)u + 2] - p[2]};
                double h = ct_dot3(d, n);
                if (h > -depth && h < depth && ct_dot3(nrm + 3 * (size_t)u, n) > cos_max) {
                    in_base[u] = 2;
                    grew = 1;
                }
            }
        }
        for (size_t t = 0; t < s->n_tris; t++)
            in_base[t] = in_base[t] ? 1 : 0;
        if (!grew)
            break;
    }
}

/* Pieces (connected across edges) of the triangles not in `cut`, with at least min_area. */
typedef struct plane_cand {
    double p[3], n[3], area;
} plane_cand;

static int cand_cmp(const void *x, const void *y)
{
    const plane_cand *a = x, *b = y;
    return a->area > b->area ? -1 : a->area < b->area;
}

static int count_big_pieces(size_t n, const int32_t *nb, const uint8_t *cut, const double *area, double min_area,
                            int32_t *queue, int32_t *mark)
{
    int count = 0;
    for (size_t t = 0; t < n; t++)
        mark[t] = 0;
    for (size_t seed = 0; seed < n; seed++) {
        if (cut[seed] || mark[seed])
            continue;
        size_t head = 0, tail = 0;
        double a = 0;
        mark[seed] = 1;
        queue[tail++] = (int32_t)seed;
        while (head < tail) {
            int32_t t = queue[head++];
            a += area[t];
            for (int k = 0; k < 3; k++) {
                int32_t u = nb[3 * (size_t)t + k];
                if (!cut[u] && !mark[u]) {
                    mark[u] = 1;
                    queue[tail++] = u;
                }
            }
        }
        count += a >= min_area;
    }
    return count;
}

ct_status ct_surface_label(const ct_trisurf *s, const ct_surface_heart_options *opt, const char *src,
                           int32_t *labels, ct_surface_heart_report *rep)
{
    size_t n = s->n_tris;
    int32_t *nb = NULL, *queue = NULL, *region = NULL, *piece = NULL;
    uint8_t *same = NULL, *in_base = NULL, *big = NULL;
    double *cen = NULL, *nrm = NULL, *area = NULL, *piece_area = NULL, *piece_low = NULL;
    plane_cand *cand = NULL;
    tri_grid grid = {0};
    CT_CHECK(adjacency(s, src, &nb, &same));
    ct_status st = CT_OK;
    cen = malloc(3 * n * sizeof *cen + 1);
    nrm = malloc(3 * n * sizeof *nrm + 1);
    area = malloc(n * sizeof *area + 1);
    queue = malloc(n * sizeof *queue + 1);
    region = malloc(n * sizeof *region + 1);
    piece = malloc(n * sizeof *piece + 1);
    in_base = calloc(n + 1, 1);
    if (!cen || !nrm || !area || !queue || !region || !piece || !in_base) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    double total = 0, centroid[3] = {0, 0, 0}, edge = 0;
    for (size_t t = 0; t < n; t++) {
        area[t] = tri_geom(s, t, cen + 3 * t, nrm + 3 * t);
        total += area[t];
        for (int k = 0; k < 3; k++) {
            centroid[k] += area[t] * cen[3 * t + k];
            const double *a = pt(s, t, k), *b = pt(s, t, (k + 1) % 3);
            edge += sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
        }
    }
    edge /= 3.0 * (double)n;
    for (int k = 0; k < 3; k++)
        centroid[k] /= total;
    double lo[3], hi[3];
    for (int k = 0; k < 3; k++)
        lo[k] = hi[k] = s->xyz_mm[k];
    for (size_t i = 0; i < s->n_points; i++)
        for (int k = 0; k < 3; k++) {
            lo[k] = fmin(lo[k], s->xyz_mm[3 * i + k]);
            hi[k] = fmax(hi[k], s->xyz_mm[3 * i + k]);
        }
    double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                       (hi[2] - lo[2]) * (hi[2] - lo[2]));

    /* step 4: the base */
    double bp[3], bn[3];
    if (opt->has_base) {
        double l = sqrt(ct_dot3(opt->base_normal, opt->base_normal));
        for (int k = 0; k < 3; k++) {
            bp[k] = opt->base_point_mm[k];
            bn[k] = opt->base_normal[k] / l;
        }
        double tol = fmax(edge, 1.0);
        for (size_t t = 0; t < n; t++) {
            double d[3] = {cen[3 * t] - bp[0], cen[3 * t + 1] - bp[1], cen[3 * t + 2] - bp[2]};
            in_base[t] = fabs(ct_dot3(d, bn)) < tol && ct_dot3(nrm + 3 * t, bn) > cos(20 * M_PI / 180);
        }
        rep->base_found = 0;
    } else {
        /* candidate planes through a sample of triangles, each refined twice to the area-weighted mean normal
         * and centroid of the triangles it supports (normal within 25 deg, centroid within tol of the plane);
         * by decreasing area, the first whose support (rim completed) cuts the rest of the surface into two
         * or more pieces over 1 % of the area each: a flat patch of the epicardium leaves it in one piece */
        const double cos25 = cos(25 * M_PI / 180), tol = fmax(edge, 0.01 * diag);
        size_t step = n / 400 > 1 ? n / 400 : 1, n_cand = 0;
        cand = malloc((n / step + 2) * sizeof *cand);
        if (!cand) {
            st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
            goto done;
        }
        for (size_t c = 0; c < n; c += step) {
            plane_cand *q = &cand[n_cand++];
            memcpy(q->p, cen + 3 * c, sizeof q->p);
            memcpy(q->n, nrm + 3 * c, sizeof q->n);
            q->area = 0;
            for (int iter = 0; iter < 3; iter++) {
                double P[3] = {0, 0, 0}, N[3] = {0, 0, 0}, a = 0;
                for (size_t t = 0; t < n; t++) {
                    const double *x = cen + 3 * t;
                    double d[3] = {x[0] - q->p[0], x[1] - q->p[1], x[2] - q->p[2]};
                    if (ct_dot3(nrm + 3 * t, q->n) > cos25 && fabs(ct_dot3(d, q->n)) < tol) {
                        a += area[t];
                        for (int k = 0; k < 3; k++) {
                            P[k] += area[t] * x[k];
                            N[k] += area[t] * nrm[3 * t + k];
                        }
                    }
                }
                double l = sqrt(ct_dot3(N, N));
                if (!(a > 0) || !(l > 0))
                    break;
                for (int k = 0; k < 3; k++) {
                    q->p[k] = P[k] / a;
                    q->n[k] = N[k] / l;
                }
                q->area = a;
            }
        }
        qsort(cand, n_cand, sizeof *cand, cand_cmp);
        int found = 0, tried = 0;
        double big_area = n_cand ? cand[0].area : 0;
        for (size_t c = 0; c < n_cand && tried < 20 && !found; c++) {
            const plane_cand *q = &cand[c];
            if (q->area < 0.01 * total)
                break;
            int dup = 0;
            for (size_t e = 0; e < c && !dup; e++) {
                double d[3] = {q->p[0] - cand[e].p[0], q->p[1] - cand[e].p[1], q->p[2] - cand[e].p[2]};
                dup = ct_dot3(q->n, cand[e].n) > cos(10 * M_PI / 180) && fabs(ct_dot3(d, cand[e].n)) < tol;
            }
            if (dup)
                continue;
            tried++;
            for (size_t t = 0; t < n; t++) {
                double d[3] = {cen[3 * t] - q->p[0], cen[3 * t + 1] - q->p[1], cen[3 * t + 2] - q->p[2]};
                in_base[t] = ct_dot3(nrm + 3 * t, q->n) > cos25 && fabs(ct_dot3(d, q->n)) < tol;
            }
            complete_rim(s, nb, cen, nrm, q->p, q->n, edge, 0.5, in_base);
            if (count_big_pieces(n, nb, in_base, area, 0.01 * total, queue, region) >= 2) {
                found = 1;
                big_area = q->area;
                memcpy(bp, q->p, sizeof bp);
                memcpy(bn, q->n, sizeof bn);
            }
        }
        if (!found)
            big_area = fmin(big_area, 0.0099 * total); /* refused below */
        if (big_area < 0.01 * total) {
            st = ct_error_set(CT_ERR_CONFIG, "%s: cannot find the base: the largest flat region holds %.2g %% of the "
                              "surface's area (%.0f of %.0f mm^2): is the surface cut flat at the base? Give geometry.base "
                              "{\"point_mm\": [x, y, z], \"normal\": [nx, ny, nz]} (normal from apex to base)", src,
                              100 * big_area / total, big_area, total);
            goto done;
        }
        rep->base_found = 1;
    }
    complete_rim(s, nb, cen, nrm, bp, bn, edge, 0.5, in_base);
    memcpy(rep->base_point_mm, bp, sizeof bp);
    memcpy(rep->base_normal, bn, sizeof bn);
    double base_area = 0;
    for (size_t t = 0; t < n; t++)
        base_area += in_base[t] ? area[t] : 0;
    if (base_area == 0) {
        st = ct_error_set(CT_ERR_CONFIG, "%s: no triangle lies on the base plane (point %.1f %.1f %.1f mm, normal %.2f "
                          "%.2f %.2f): check geometry.base", src, bp[0], bp[1], bp[2], bn[0], bn[1], bn[2]);
        goto done;
    }
    /* the apex: the point farthest below the base plane */
    double low = INFINITY;
    for (size_t i = 0; i < s->n_points; i++) {
        const double *x = s->xyz_mm + 3 * i;
        double d[3] = {x[0] - bp[0], x[1] - bp[1], x[2] - bp[2]}, h = ct_dot3(d, bn);
        if (h < low) {
            low = h;
            memcpy(rep->apex_mm, x, sizeof rep->apex_mm);
        }
    }

    /* step 5: the pieces left when the base is taken away */
    int32_t n_pieces = 0;
    for (size_t t = 0; t < n; t++)
        piece[t] = -1;
    for (size_t seed = 0; seed < n; seed++) {
        if (in_base[seed] || piece[seed] >= 0)
            continue;
        size_t head = 0, tail = 0;
        piece[seed] = n_pieces;
        queue[tail++] = (int32_t)seed;
        while (head < tail) {
            int32_t t = queue[head++];
            for (int k = 0; k < 3; k++) {
                int32_t u = nb[3 * (size_t)t + k];
                if (!in_base[u] && piece[u] < 0) {
                    piece[u] = n_pieces;
                    queue[tail++] = u;
                }
            }
        }
        n_pieces++;
    }
    piece_area = calloc((size_t)n_pieces + 1, sizeof *piece_area);
    piece_low = malloc(((size_t)n_pieces + 1) * sizeof *piece_low);
    big = calloc((size_t)n_pieces + 1, 1);
    if (!piece_area || !piece_low || !big) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    int32_t epi = -1;
    double far = -1;
    for (int32_t q = 0; q < n_pieces; q++)
        piece_low[q] = INFINITY;
    for (size_t t = 0; t < n; t++) {
        if (piece[t] < 0)
            continue;
        piece_area[piece[t]] += area[t];
        double d[3] = {cen[3 * t] - centroid[0], cen[3 * t + 1] - centroid[1], cen[3 * t + 2] - centroid[2]};
        if (ct_dot3(d, d) > far) {
            far = ct_dot3(d, d);
            epi = piece[t];
        }
        for (int k = 0; k < 3; k++) {
            const double *x = pt(s, t, k);
            double e[3] = {x[0] - bp[0], x[1] - bp[1], x[2] - bp[2]};
            piece_low[piece[t]] = fmin(piece_low[piece[t]], ct_dot3(e, bn));
        }
    }
    if (epi < 0) {
        st = ct_error_set(CT_ERR_CONFIG, "%s: the base found covers the whole surface: give geometry.base", src);
        goto done;
    }
    int32_t cav[8];
    int n_cav = 0;
    rep->n_small_pieces = 0;
    for (int32_t q = 0; q < n_pieces; q++) {
        big[q] = q == epi || piece_area[q] >= 0.01 * total;
        if (q != epi && big[q]) {
            if (n_cav < 8)
                cav[n_cav] = q;
            n_cav++;
        }
        rep->n_small_pieces += !big[q];
    }
    rep->n_cavities = n_cav;
    if (n_cav == 0) {
        st = ct_error_set(CT_ERR_CONFIG, "%s: no cavity opens onto the base (the base found, at %.1f %.1f %.1f mm with "
                          "normal %.2f %.2f %.2f, does not separate the endocardium from the epicardium): give "
                          "geometry.base {\"point_mm\", \"normal\"}", src, bp[0], bp[1], bp[2], bn[0], bn[1], bn[2]);
        goto done;
    }
    if (n_cav > 2) {
        st = ct_error_set(CT_ERR_CONFIG, "%s: %d cavities open onto the base (at %.1f %.1f %.1f mm, normal %.2f %.2f "
                          "%.2f), expected the LV and the RV: give geometry.base {\"point_mm\", \"normal\"}", src, n_cav,
                          bp[0], bp[1], bp[2], bn[0], bn[1], bn[2]);
        goto done;
    }
    int32_t lv = cav[0];
    if (n_cav == 2 && piece_low[cav[1]] < piece_low[cav[0]])
        lv = cav[1];
    rep->lv_from_point = 0;
    for (size_t t = 0; t < n; t++)
        labels[t] = in_base[t] ? CT_SURF_BASE : piece[t] == epi ? CT_SURF_EPI : piece[t] == lv ? CT_SURF_ENDO_LV
                  : big[piece[t]] ? CT_SURF_ENDO_RV : CT_SURF_NONE;
    if ((st = grid_build(&grid, cen, nrm, n, 2 * edge)) != CT_OK)
        goto done;
    if (opt->has_lv_point) {
        label_ctx ctx = {labels, big, piece};
        int32_t t = grid_nearest(&grid, opt->lv_cavity_point_mm, NULL, in_big_piece, &ctx);
        while (t >= 0 && (labels[t] != CT_SURF_ENDO_LV && labels[t] != CT_SURF_ENDO_RV)) {
            /* the nearest large-piece triangle is not endocardial: look among the cavities only */
            t = -1;
            double bd = INFINITY;
            for (size_t u = 0; u < n; u++)
                if (labels[u] == CT_SURF_ENDO_LV || labels[u] == CT_SURF_ENDO_RV) {
                    const double *x = cen + 3 * u, *p = opt->lv_cavity_point_mm;
                    double d = (x[0] - p[0]) * (x[0] - p[0]) + (x[1] - p[1]) * (x[1] - p[1]) + (x[2] - p[2]) * (x[2] - p[2]);
                    if (d < bd) {
                        bd = d;
                        t = (int32_t)u;
                    }
                }
        }
        if (t >= 0 && labels[t] == CT_SURF_ENDO_RV)
            for (size_t u = 0; u < n; u++)
                labels[u] = labels[u] == CT_SURF_ENDO_RV ? CT_SURF_ENDO_LV
                          : labels[u] == CT_SURF_ENDO_LV ? CT_SURF_ENDO_RV : labels[u];
        rep->lv_from_point = 1;
    }
    /* small pieces: the label of the nearest triangle of a large piece or of the base */
    if (rep->n_small_pieces) {
        label_ctx ctx = {labels, big, piece};
        for (size_t t = 0; t < n; t++)
            if (labels[t] == CT_SURF_NONE) {
                int32_t u = grid_nearest(&grid, cen + 3 * t, NULL, in_big_piece, &ctx);
                labels[t] = u >= 0 ? labels[u] : CT_SURF_EPI;
            }
    }
    memset(rep->area_mm2, 0, sizeof rep->area_mm2);
    for (size_t t = 0; t < n; t++)
        rep->area_mm2[labels[t]] += area[t];
done:
    grid_free(&grid);
    free(nb);
    free(same);
    free(cen);
    free(nrm);
    free(area);
    free(queue);
    free(region);
    free(piece);
    free(in_base);
    free(big);
    free(piece_area);
    free(piece_low);
    free(cand);
    return st;
}

/* ---- step 6 ---- */

static ct_status transfer_labels(ct_mesh *m, const ct_trisurf *s, const int32_t *labels, const char *src)
{
    size_t n = s->n_tris;
    double *cen = malloc(3 * n * sizeof *cen + 1), *nrm = malloc(3 * n * sizeof *nrm + 1), edge = 0;
    tri_grid grid = {0};
    ct_status st = CT_OK;
    if (!cen || !nrm) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    for (size_t t = 0; t < n; t++) {
        tri_geom(s, t, cen + 3 * t, nrm + 3 * t);
        const double *a = pt(s, t, 0), *b = pt(s, t, 1);
        edge += sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
    }
    if ((st = grid_build(&grid, cen, nrm, n, 2 * edge / (double)n)) != CT_OK)
        goto done;
    size_t count[5] = {0};
    ct_trisurf ms = {.n_points = m->n_nodes, .n_tris = m->n_tris, .xyz_mm = m->xyz_mm, .tris = m->tris};
    for (size_t t = 0; t < m->n_tris; t++) {
        double c[3], nv[3];
        tri_geom(&ms, t, c, nv);
        int32_t u = grid_nearest(&grid, c, nv, NULL, NULL);
        if (u < 0)
            u = grid_nearest(&grid, c, NULL, NULL, NULL);
        m->tri_label[t] = u >= 0 ? labels[u] : CT_SURF_EPI;
        count[m->tri_label[t]]++;
    }
    if (count[CT_SURF_ENDO_LV] == 0 || count[CT_SURF_EPI] == 0 || count[CT_SURF_BASE] == 0)
        st = ct_error_set(CT_ERR_MESH, "%s: the meshed surface has %zu LV endocardial, %zu epicardial and %zu base "
                          "triangles: each must be present", src, count[CT_SURF_ENDO_LV], count[CT_SURF_EPI],
                          count[CT_SURF_BASE]);
done:
    grid_free(&grid);
    free(cen);
    free(nrm);
    return st;
}

ct_status ct_surface_heart(ct_trisurf *s, const ct_surface_heart_options *opt, const char *src,
                           int32_t **labels_out, ct_mesh **out, ct_surface_heart_report *rep)
{
    *labels_out = NULL;
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    CT_CHECK(ct_surface_check(s, opt->flip, src, rep));
    int32_t *labels = malloc(s->n_tris * sizeof *labels + 1);
    if (!labels)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
    ct_mesh *m = NULL;
    ct_status st = ct_surface_label(s, opt, src, labels, rep);
    double t0 = ct_now_s();
    if (st == CT_OK)
        st = ct_geometry_from_surface(s, opt->h_mm, src, &m);
    rep->seconds_mesh = ct_now_s() - t0;
    if (st == CT_OK)
        st = transfer_labels(m, s, labels, src);
    if (st != CT_OK) {
        free(labels);
        ct_mesh_destroy(m);
        return st;
    }
    *labels_out = labels;
    *out = m;
    return CT_OK;
}
