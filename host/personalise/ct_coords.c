/* ct_coords.c — transmural, apicobasal, LV/RV Laplace fields, the geometric frame (long axis, apex,
 * septal reference) and the RV insertions of ventricular coordinates. Conventions in ct_coords.h. */
#include "ct_coords.h"
#include "core/ct_vec3.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ct_laplace.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

ct_coords_options ct_coords_options_default(void)
{
    return (ct_coords_options){.septum_dir = {1.0, 0.0, 0.0}, .rel_tol = 1e-10, .max_iter = 0};
}

void ct_ventricular_coords_destroy(ct_ventricular_coords *c)
{
    if (!c)
        return;
    free(c->apicobasal);
    free(c->transmural);
    free(c->rotational_deg);
    free(c->axial);
    free(c->rv);
    free(c);
}


static double normalise3(double v[3])
{
    double n = sqrt(ct_dot3(v, v));
    if (n > 0.0)
        for (int k = 0; k < 3; k++)
            v[k] /= n;
    return n;
}

double ct_coords_geometric_deg(const ct_ventricular_coords *c, const double p_mm[3])
{
    double d[3];
    for (int k = 0; k < 3; k++)
        d[k] = p_mm[k] - c->axis_point_mm[k];
    double ps = ct_dot3(d, c->septum_dir), pa = ct_dot3(d, c->anterior_dir);
    /* Viewed from the apex: screen up = anterior, screen left = septum. */
    double screen_deg = atan2(pa, -ps) * 180.0 / M_PI;
    double g = fmod(screen_deg - 120.0 + 720.0, 360.0);
    return g >= 360.0 ? 0.0 : g;
}

static double wrap360(double a)
{
    double r = fmod(a, 360.0);
    if (r < 0.0)
        r += 360.0;
    return r >= 360.0 ? 0.0 : r;
}

double ct_coords_rotational_of_geometric(const ct_ventricular_coords *c, double geometric_deg)
{
    double arc = wrap360(c->insertion_inferior_deg - c->insertion_anterior_deg); /* septal arc */
    double d = wrap360(geometric_deg - c->insertion_anterior_deg);
    if (!(arc > 0.0)) /* degenerate insertions: cannot happen for detected ones; keep g */
        return wrap360(geometric_deg);
    /* Nominal insertions (arc 120): both factors are exactly 1, so rotational = geometric. */
    double r = d < arc ? d * (120.0 / arc) : 120.0 + (d - arc) * (240.0 / (360.0 - arc));
    return r >= 360.0 ? 0.0 : r;
}

double ct_coords_rotational_deg(const ct_ventricular_coords *c, const double p_mm[3])
{
    return ct_coords_rotational_of_geometric(c, ct_coords_geometric_deg(c, p_mm));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* RV insertions (ct_coords.h): per axial bin over the basal and mid thirds, the angular extremes of the
 * nodes of septal RV endocardial triangles (side bit 0), signed from s (negative = anterior); medians
 * over the bins holding >= 3 such nodes on both sides of s. Leaves the nominal values when fewer than
 * 2 bins count. */
static void detect_insertions(const ct_mesh *mesh, const uint8_t *side, ct_ventricular_coords *c)
{
    enum { NB = CT_COORDS_INSERTION_BINS };
    double lo[NB], hi[NB], ant[NB], inf[NB];
    int n_ant[NB] = {0}, n_inf[NB] = {0}, nb = 0;
    for (int b = 0; b < NB; b++) {
        lo[b] = 0.0;
        hi[b] = 0.0;
    }
    double tip = c->lv_cavity_tip_axial;
    for (size_t i = 0; i < mesh->n_nodes; i++) {
        if (!(side[i] & 1u))
            continue;
        double u = (c->axial[i] - tip) / (1.0 - tip); /* 0 cavity tip .. 1 base, as ct_aha.h */
        int b = (int)floor((u - 1.0 / 3.0) / (2.0 / 3.0) * NB);
        if (b < 0 || u > 1.0 + 1e-9)
            continue;
        b = b >= NB ? NB - 1 : b;
        double phi = ct_coords_geometric_deg(c, mesh->xyz_mm + 3 * i) - 60.0; /* from s, + inferior */
        phi = phi > 180.0 ? phi - 360.0 : phi;
        if (phi < 0.0) {
            lo[b] = fmin(lo[b], phi);
            n_ant[b]++;
        } else {
            hi[b] = fmax(hi[b], phi);
            n_inf[b]++;
        }
    }
    for (int b = 0; b < NB; b++)
        if (n_ant[b] >= 3 && n_inf[b] >= 3) {
            ant[nb] = lo[b];
            inf[nb] = hi[b];
            nb++;
        }
    if (nb < 2)
        return;
    c->insertion_anterior_deg = wrap360(60.0 + median(ant, nb));
    c->insertion_inferior_deg = wrap360(60.0 + median(inf, nb));
    c->insertions_detected = 1;
    c->insertion_bins = nb;
}

/* Node flags by surface label: bit (1 << label). */
static ct_status surface_flags(const ct_mesh *mesh, uint8_t *flags)
{
    memset(flags, 0, mesh->n_nodes);
    for (size_t i = 0; i < mesh->n_tris; i++) {
        int32_t lab = mesh->tri_label[i];
        if (lab < 0 || lab > CT_SURF_BASE)
            return ct_error_set(CT_ERR_MESH, "coords: boundary triangle %zu has unknown label %d", i, (int)lab);
        for (int a = 0; a < 3; a++) {
            int32_t v = mesh->tris[3 * i + a];
            if (v < 0 || (size_t)v >= mesh->n_nodes)
                return ct_error_set(CT_ERR_MESH, "coords: boundary triangle %zu: node %d out of range", i, (int)v);
            flags[v] |= (uint8_t)(1u << lab);
        }
    }
    return CT_OK;
}

#define HAS(flags, lab) (((flags) >> (lab)) & 1u)

static void tri_normal(const ct_mesh *mesh, size_t i, double n[3], double c[3])
{
    const int32_t *t = mesh->tris + 3 * i;
    const double *x0 = mesh->xyz_mm + 3 * (size_t)t[0], *x1 = mesh->xyz_mm + 3 * (size_t)t[1],
                 *x2 = mesh->xyz_mm + 3 * (size_t)t[2];
    double d1[3], d2[3];
    for (int k = 0; k < 3; k++) {
        d1[k] = x1[k] - x0[k];
        d2[k] = x2[k] - x0[k];
        c[k] = (x0[k] + x1[k] + x2[k]) / 3.0;
    }
    ct_cross3(d1, d2, n); /* |n| = 2 area */
}

/* Node -> incident tets (CSR). */
typedef struct node_tets {
    size_t *start;
    int32_t *tet;
} node_tets;

static ct_status build_node_tets(const ct_mesh *mesh, node_tets *nt)
{
    nt->start = calloc(mesh->n_nodes + 1, sizeof *nt->start);
    nt->tet = malloc(4 * mesh->n_tets * sizeof *nt->tet + 1);
    if (!nt->start || !nt->tet)
        return ct_error_set(CT_ERR_NOMEM, "coords: out of memory for node adjacency");
    for (size_t i = 0; i < 4 * mesh->n_tets; i++)
        nt->start[mesh->tets[i] + 1]++;
    for (size_t v = 0; v < mesh->n_nodes; v++)
        nt->start[v + 1] += nt->start[v];
    size_t *fill = malloc(mesh->n_nodes * sizeof *fill + 1);
    if (!fill)
        return ct_error_set(CT_ERR_NOMEM, "coords: out of memory for node adjacency");
    memcpy(fill, nt->start, mesh->n_nodes * sizeof *fill);
    for (size_t e = 0; e < mesh->n_tets; e++)
        for (int a = 0; a < 4; a++)
            nt->tet[fill[mesh->tets[4 * e + a]]++] = (int32_t)e;
    free(fill);
    return CT_OK;
}

/* +1 if triangle i's normal (node order) points out of the tissue, -1 if in, 0 if no tet owns it. */
static int tri_outward_sign(const ct_mesh *mesh, const node_tets *nt, size_t i)
{
    const int32_t *t = mesh->tris + 3 * i;
    for (size_t p = nt->start[t[0]]; p < nt->start[t[0] + 1]; p++) {
        const int32_t *tet = mesh->tets + 4 * (size_t)nt->tet[p];
        int found = 0, opp = -1;
        for (int a = 0; a < 4; a++) {
            if (tet[a] == t[1] || tet[a] == t[2])
                found++;
            else if (tet[a] != t[0])
                opp = tet[a];
        }
        if (found == 2 && opp >= 0) {
            double n[3], c[3], d[3];
            tri_normal(mesh, i, n, c);
            for (int k = 0; k < 3; k++)
                d[k] = c[k] - mesh->xyz_mm[3 * (size_t)opp + k];
            return ct_dot3(n, d) >= 0.0 ? 1 : -1;
        }
    }
    return 0;
}

typedef struct work {
    ct_csr *k;
    uint8_t *flags, *fixed;
    node_tets nt;
} work;

static void work_free(work *w)
{
    ct_csr_destroy(w->k);
    free(w->flags);
    free(w->fixed);
    free(w->nt.start);
    free(w->nt.tet);
}

static ct_status compute(const ct_mesh *mesh, const ct_coords_options *opt, ct_ventricular_coords *c, work *w)
{
    size_t n = mesh->n_nodes;
    int max_iter = opt->max_iter > 0 ? opt->max_iter : (int)fmin(10.0 * (double)n + 1000.0, 1e9);
    w->flags = malloc(n + 1);
    w->fixed = malloc(n + 1);
    if (!w->flags || !w->fixed)
        return ct_error_set(CT_ERR_NOMEM, "coords: out of memory for %zu nodes", n);
    CT_CHECK(surface_flags(mesh, w->flags));
    size_t count[CT_SURF_BASE + 1] = {0};
    for (size_t i = 0; i < n; i++)
        for (int lab = 1; lab <= CT_SURF_BASE; lab++)
            count[lab] += HAS(w->flags[i], lab);
    if (!count[CT_SURF_ENDO_LV] || !count[CT_SURF_EPI] || !count[CT_SURF_BASE])
        return ct_error_set(CT_ERR_MESH, "coords: the mesh needs labelled LV endocardium, epicardium and base "
                            "triangles (nodes on them: %zu, %zu, %zu)", count[CT_SURF_ENDO_LV],
                            count[CT_SURF_EPI], count[CT_SURF_BASE]);
    int has_rv = count[CT_SURF_ENDO_RV] > 0;

    /* Base plane and long axis. */
    double nb[3] = {0, 0, 0}, cb[3] = {0, 0, 0}, area = 0.0, centroid[3] = {0, 0, 0};
    for (size_t i = 0; i < mesh->n_tris; i++) {
        if (mesh->tri_label[i] != CT_SURF_BASE)
            continue;
        double tn[3], tc[3];
        tri_normal(mesh, i, tn, tc);
        double s = (ct_dot3(tn, nb) < 0.0) ? -1.0 : 1.0; /* align signs: node order may vary */
        double a = 0.5 * sqrt(ct_dot3(tn, tn));
        for (int k = 0; k < 3; k++) {
            nb[k] += s * tn[k];
            cb[k] += a * tc[k];
        }
        area += a;
    }
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            centroid[k] += mesh->xyz_mm[3 * i + k] / (double)n;
    if (!(normalise3(nb) > 0.0) || !(area > 0.0))
        return ct_error_set(CT_ERR_MESH, "coords: the base triangles have zero area");
    for (int k = 0; k < 3; k++)
        cb[k] /= area;
    double to_base[3] = {cb[0] - centroid[0], cb[1] - centroid[1], cb[2] - centroid[2]};
    if (ct_dot3(to_base, nb) < 0.0)
        for (int k = 0; k < 3; k++)
            nb[k] = -nb[k];
    memcpy(c->long_axis, nb, sizeof nb);

    /* Apex: the epicardial node farthest below the base plane. */
    double h_min = INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!HAS(w->flags[i], CT_SURF_EPI))
            continue;
        double d[3] = {mesh->xyz_mm[3 * i] - cb[0], mesh->xyz_mm[3 * i + 1] - cb[1], mesh->xyz_mm[3 * i + 2] - cb[2]};
        double h = ct_dot3(d, nb);
        if (h < h_min) {
            h_min = h;
            c->apex_node = i;
        }
    }
    if (!(h_min < 0.0))
        return ct_error_set(CT_ERR_MESH, "coords: no epicardial node lies below the base plane");
    const double *apex = mesh->xyz_mm + 3 * c->apex_node;
    double height = -h_min;
    double tip = INFINITY;
    for (size_t i = 0; i < n; i++) {
        double d[3] = {mesh->xyz_mm[3 * i] - apex[0], mesh->xyz_mm[3 * i + 1] - apex[1], mesh->xyz_mm[3 * i + 2] - apex[2]};
        c->axial[i] = ct_dot3(d, nb) / height;
        if (HAS(w->flags[i], CT_SURF_ENDO_LV) && c->axial[i] < tip)
            tip = c->axial[i];
    }
    c->lv_cavity_tip_axial = tip;

    /* LV axis point and the septal reference. */
    double p0[3] = {0, 0, 0}, prv[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            if (HAS(w->flags[i], CT_SURF_ENDO_LV))
                p0[k] += mesh->xyz_mm[3 * i + k] / (double)count[CT_SURF_ENDO_LV];
            if (has_rv && HAS(w->flags[i], CT_SURF_ENDO_RV))
                prv[k] += mesh->xyz_mm[3 * i + k] / (double)count[CT_SURF_ENDO_RV];
        }
    memcpy(c->axis_point_mm, p0, sizeof p0);
    double s[3];
    for (int k = 0; k < 3; k++)
        s[k] = has_rv ? prv[k] - p0[k] : opt->septum_dir[k];
    double sl = ct_dot3(s, nb);
    for (int k = 0; k < 3; k++)
        s[k] -= sl * nb[k];
    if (!(normalise3(s) > 1e-9))
        return ct_error_set(CT_ERR_CONFIG, "coords: the septal reference direction is parallel to the long axis "
                            "(%s)", has_rv ? "RV centroid on the LV axis" : "options septum_dir");
    memcpy(c->septum_dir, s, sizeof s);
    ct_cross3(nb, s, c->anterior_dir);
    c->insertion_anterior_deg = 0.0; /* nominal until detected */
    c->insertion_inferior_deg = 120.0;
    c->insertions_detected = 0;
    c->insertion_bins = 0;

    CT_CHECK(ct_laplace_stiffness(mesh, &w->k));
    int it = 0;

    /* Transmural. */
    for (size_t i = 0; i < n; i++) {
        uint8_t f = w->flags[i];
        int endo = HAS(f, CT_SURF_ENDO_LV) || HAS(f, CT_SURF_ENDO_RV);
        w->fixed[i] = (uint8_t)(endo || HAS(f, CT_SURF_EPI));
        c->transmural[i] = endo ? 0.0 : (HAS(f, CT_SURF_EPI) ? 1.0 : 0.5);
    }
    CT_CHECK(ct_laplace_solve(w->k, w->fixed, c->transmural, opt->rel_tol, max_iter, "transmural", &it));
    c->cg_iterations += it;

    /* Apicobasal. */
    for (size_t i = 0; i < n; i++) {
        int base = HAS(w->flags[i], CT_SURF_BASE);
        w->fixed[i] = (uint8_t)(base || i == c->apex_node);
        c->apicobasal[i] = base ? 1.0 : (i == c->apex_node ? 0.0 : c->axial[i]);
    }
    CT_CHECK(ct_laplace_solve(w->k, w->fixed, c->apicobasal, opt->rel_tol, max_iter, "apicobasal", &it));
    c->cg_iterations += it;

    /* LV / RV. */
    memset(c->rv, 0, n);
    if (has_rv) {
        CT_CHECK(build_node_tets(mesh, &w->nt));
        /* bit 0: on a septal RV endo triangle, bit 1: on a free-wall one */
        uint8_t *side = calloc(n + 1, 1);
        double *v = malloc(n * sizeof *v + 1);
        if (!side || !v) {
            free(side);
            free(v);
            return ct_error_set(CT_ERR_NOMEM, "coords: out of memory for %zu nodes", n);
        }
        for (size_t i = 0; i < mesh->n_tris; i++) {
            if (mesh->tri_label[i] != CT_SURF_ENDO_RV)
                continue;
            int sign = tri_outward_sign(mesh, &w->nt, i);
            if (sign == 0) {
                free(side);
                free(v);
                return ct_error_set(CT_ERR_MESH, "coords: RV endocardial triangle %zu is not a face of any tet", i);
            }
            double tn[3], tc[3], r[3];
            tri_normal(mesh, i, tn, tc);
            for (int k = 0; k < 3; k++)
                r[k] = tc[k] - p0[k];
            double rl = ct_dot3(r, nb);
            for (int k = 0; k < 3; k++)
                r[k] -= rl * nb[k];
            int septal = sign * ct_dot3(tn, r) > 0.0;
            for (int a = 0; a < 3; a++)
                side[mesh->tris[3 * i + a]] |= (uint8_t)(septal ? 1u : 2u);
        }
        for (size_t i = 0; i < n; i++) {
            int lv = HAS(w->flags[i], CT_SURF_ENDO_LV);
            w->fixed[i] = (uint8_t)(lv || side[i]);
            v[i] = (lv || side[i] == 1) ? 0.0 : (side[i] == 2 ? 1.0 : 0.5);
        }
        detect_insertions(mesh, side, c);
        ct_status st = ct_laplace_solve(w->k, w->fixed, v, opt->rel_tol, max_iter, "lv-rv", &it);
        c->cg_iterations += it;
        if (st == CT_OK)
            for (size_t i = 0; i < n; i++)
                c->rv[i] = (int8_t)(v[i] > 0.5);
        free(side);
        free(v);
        CT_CHECK(st);
    }
    for (size_t i = 0; i < n; i++)
        c->rotational_deg[i] = ct_coords_rotational_deg(c, mesh->xyz_mm + 3 * i);
    return CT_OK;
}

ct_status ct_ventricular_coords_compute(const ct_mesh *mesh, const ct_coords_options *opt,
                                        ct_ventricular_coords **out)
{
    *out = NULL;
    ct_coords_options def = ct_coords_options_default();
    if (!opt)
        opt = &def;
    if (!mesh->tris || !mesh->tri_label || mesh->n_tris == 0)
        return ct_error_set(CT_ERR_MESH, "coords: the mesh has no labelled boundary triangles");
    size_t n = mesh->n_nodes;
    ct_ventricular_coords *c = calloc(1, sizeof *c);
    if (!c)
        return ct_error_set(CT_ERR_NOMEM, "coords: out of memory");
    c->n_nodes = n;
    c->apicobasal = malloc(n * sizeof(double) + 1);
    c->transmural = malloc(n * sizeof(double) + 1);
    c->rotational_deg = malloc(n * sizeof(double) + 1);
    c->axial = malloc(n * sizeof(double) + 1);
    c->rv = malloc(n + 1);
    if (!c->apicobasal || !c->transmural || !c->rotational_deg || !c->axial || !c->rv) {
        ct_ventricular_coords_destroy(c);
        return ct_error_set(CT_ERR_NOMEM, "coords: out of memory for %zu nodes", n);
    }
    work w = {0};
    ct_status st = compute(mesh, opt, c, &w);
    work_free(&w);
    if (st != CT_OK) {
        ct_ventricular_coords_destroy(c);
        return st;
    }
    *out = c;
    return CT_OK;
}
