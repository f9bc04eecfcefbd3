/* test_phase.c — boundary triangles of tet meshes, phase by time-delay embedding, phase singularities
 * (synthetic spirals, counter-rotating pairs, plane waves, closed-surface charge balance, bad input). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/ct_mesh.h"
#include "metrics/ct_phase.h"

#define PI 3.14159265358979323846
#define V_STAR_MV (-40.0)

static ct_mesh *box(double sx, double sy, double sz, double dx)
{
    ct_mesh *m = NULL;
    const double size[3] = {sx, sy, sz}, fibre[3] = {1, 0, 0};
    cr_assert_eq(ct_mesh_box(size, dx, fibre, &m), CT_OK, "%s", ct_error_message());
    return m;
}

static int32_t *boundary(const ct_mesh *m, size_t *n)
{
    int32_t *tris = NULL;
    cr_assert_eq(ct_mesh_boundary_tris(m, &tris, n), CT_OK, "%s", ct_error_message());
    return tris;
}

/* (b - a) x (c - a): twice the area, along the triangle's normal. */
static void tri_normal(const ct_mesh *m, const int32_t *t, double n[3])
{
    const double *a = m->xyz_mm + 3 * t[0], *b = m->xyz_mm + 3 * t[1], *c = m->xyz_mm + 3 * t[2];
    double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, v[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    n[0] = u[1] * v[2] - u[2] * v[1];
    n[1] = u[2] * v[0] - u[0] * v[2];
    n[2] = u[0] * v[1] - u[1] * v[0];
}

/* The triangles whose unit normal has a z component of sign `side` (+1: top face of a sheet). Caller frees. */
static int32_t *facing_z(const ct_mesh *m, const int32_t *tris, size_t n, int side, size_t *n_out)
{
    int32_t *sel = malloc(3 * n * sizeof *sel);
    *n_out = 0;
    for (size_t t = 0; t < n; t++) {
        double nv[3];
        tri_normal(m, tris + 3 * t, nv);
        if (side * nv[2] > 0.99 * sqrt(nv[0] * nv[0] + nv[1] * nv[1] + nv[2] * nv[2])) {
            memcpy(sel + 3 * *n_out, tris + 3 * t, 3 * sizeof *sel);
            (*n_out)++;
        }
    }
    return sel;
}

/* Phase of a superposition of point vortices: angle = sum_k s_k atan2(y - y_k, x - x_k), fed through the
 * time-delay embedding (vm_now = v* + cos, vm_delayed = v* + sin) as a simulation would. Caller frees. */
static double *vortex_phase(const ct_mesh *m, int n_c, const double (*centre)[2], const int *sense)
{
    double *now = malloc(m->n_nodes * sizeof *now), *del = malloc(m->n_nodes * sizeof *del);
    double *ph = malloc(m->n_nodes * sizeof *ph);
    for (size_t i = 0; i < m->n_nodes; i++) {
        const double *p = m->xyz_mm + 3 * i;
        double a = 0.0;
        for (int k = 0; k < n_c; k++)
            a += sense[k] * atan2(p[1] - centre[k][1], p[0] - centre[k][0]);
        now[i] = V_STAR_MV + 30.0 * cos(a);
        del[i] = V_STAR_MV + 30.0 * sin(a);
    }
    ct_phase_from_vm(m->n_nodes, now, del, V_STAR_MV, ph);
    free(now), free(del);
    return ph;
}

/* ---- boundary triangles ---- */

Test(boundary_tris, box_count_area_and_outward_normals)
{
    const double L[3] = {4.0, 3.0, 2.0};
    ct_mesh *m = box(L[0], L[1], L[2], 1.0);
    size_t n;
    int32_t *tris = boundary(m, &n);
    cr_assert_eq(n, (size_t)(2 * (4 * 3 + 3 * 2 + 4 * 2) * 2), "got %zu triangles", n);
    double area = 0.0;
    for (size_t t = 0; t < n; t++) {
        const int32_t *v = tris + 3 * t;
        double nv[3];
        tri_normal(m, v, nv);
        double len = sqrt(nv[0] * nv[0] + nv[1] * nv[1] + nv[2] * nv[2]);
        area += 0.5 * len;
        /* The normal lies along one axis; all three nodes sit on the box face across it, and the normal
         * points out of the box through that face. */
        int ax = fabs(nv[0]) > fabs(nv[1]) ? (fabs(nv[0]) > fabs(nv[2]) ? 0 : 2) : (fabs(nv[1]) > fabs(nv[2]) ? 1 : 2);
        cr_assert_float_eq(fabs(nv[ax]), len, 1e-12, "triangle %zu not axis-aligned", t);
        double c = m->xyz_mm[3 * v[0] + ax];
        cr_assert(c == 0.0 || fabs(c - L[ax]) < 1e-12, "triangle %zu off the box faces", t);
        for (int k = 1; k < 3; k++)
            cr_assert_float_eq(m->xyz_mm[3 * v[k] + ax], c, 1e-12, "triangle %zu not planar on a face", t);
        double outward = c == 0.0 ? -1.0 : 1.0;
        cr_assert_gt(nv[ax] * outward, 0.0, "triangle %zu points inward (axis %d)", t, ax);
    }
    cr_assert_float_eq(area, 2.0 * (4 * 3 + 3 * 2 + 4 * 2), 1e-9, "area %g", area);

    /* Closed and consistently oriented: every directed edge a->b appears once, and b->a once. */
    for (size_t t = 0; t < n; t++)
        for (int k = 0; k < 3; k++) {
            int32_t a = tris[3 * t + k], b = tris[3 * t + (k + 1) % 3];
            int same = 0, rev = 0;
            for (size_t s = 0; s < n; s++)
                for (int j = 0; j < 3; j++) {
                    int32_t c = tris[3 * s + j], d = tris[3 * s + (j + 1) % 3];
                    same += c == a && d == b;
                    rev += c == b && d == a;
                }
            cr_assert(same == 1 && rev == 1, "edge %d->%d: %d same, %d reversed", a, b, same, rev);
        }
    free(tris);
    ct_mesh_destroy(m);
}

Test(boundary_tris, single_tet_either_orientation)
{
    for (int flip = 0; flip < 2; flip++) {
        ct_mesh *m = NULL;
        cr_assert_eq(ct_mesh_create(4, 1, &m), CT_OK);
        const double p[4][3] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
        memcpy(m->xyz_mm, p, sizeof p);
        const int32_t t[4] = {0, 1, 2, 3}, tf[4] = {0, 2, 1, 3}; /* tf: negatively oriented */
        memcpy(m->tets, flip ? tf : t, sizeof t);
        size_t n;
        int32_t *tris = boundary(m, &n);
        cr_assert_eq(n, 4);
        const double mid[3] = {0.25, 0.25, 0.25};
        for (size_t f = 0; f < n; f++) {
            double nv[3], d[3];
            tri_normal(m, tris + 3 * f, nv);
            for (int k = 0; k < 3; k++)
                d[k] = m->xyz_mm[3 * tris[3 * f] + k] - mid[k];
            cr_assert_gt(nv[0] * d[0] + nv[1] * d[1] + nv[2] * d[2], 0.0, "face %zu inward (flip %d)", f, flip);
        }
        free(tris);
        ct_mesh_destroy(m);
    }
}

Test(boundary_tris, bad_input)
{
    ct_mesh *m = box(1, 1, 1, 1);
    int32_t *tris = (int32_t *)1;
    size_t n = 7;
    cr_assert_eq(ct_mesh_boundary_tris(NULL, &tris, &n), CT_ERR_CONFIG);
    cr_assert_eq(ct_mesh_boundary_tris(m, NULL, &n), CT_ERR_CONFIG);
    m->tets[4 * 3 + 2] = (int32_t)m->n_nodes;
    cr_assert_eq(ct_mesh_boundary_tris(m, &tris, &n), CT_ERR_MESH);
    cr_assert(strstr(ct_error_message(), "tet 3"), "%s", ct_error_message());
    cr_assert_null(tris);
    cr_assert_eq(n, 0);
    ct_mesh_destroy(m);
}

/* ---- phase ---- */

Test(phase, from_vm_quadrants_and_range)
{
    const double now[6] = {-10, -40, -70, -40, -40, -70};
    const double del[6] = {-40, -10, -40, -70, -40, -40};
    const double want[6] = {0, PI / 2, PI, -PI / 2, 0, PI};
    double ph[6];
    ct_phase_from_vm(6, now, del, V_STAR_MV, ph);
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(ph[i], want[i], 1e-12, "node %d: %g", i, ph[i]);
    /* atan2(-0, -1) is -pi: reported as +pi, the range is (-pi, pi]. */
    const double now0 = -1.0, del0 = -0.0;
    ct_phase_from_vm(1, &now0, &del0, 0.0, ph);
    cr_assert_eq(ph[0], PI);
}

Test(phase, wrap)
{
    cr_assert_float_eq(ct_phase_wrap(3 * PI / 2), -PI / 2, 1e-12);
    cr_assert_float_eq(ct_phase_wrap(-3 * PI / 2), PI / 2, 1e-12);
    cr_assert_eq(ct_phase_wrap(-PI), PI);
    cr_assert_eq(ct_phase_wrap(PI), PI);
    cr_assert_float_eq(ct_phase_wrap(7 * 2 * PI + 0.25), 0.25, 1e-9);
    cr_assert_float_eq(ct_phase_wrap(-0.25), -0.25, 1e-15);
}

/* ---- singularities ---- */

/* Centres sit inside a triangle, off the grid lines and off the face diagonals of the 0.5 mm box mesh
 * (local coordinates 0.6, 0.3 in their cell). (10.3, 9.7) would lie exactly on a face diagonal. */
#define SHEET_DX 0.5
#define CX 10.3
#define CY 9.65

Test(singularities, one_spiral_on_the_top_face_has_the_chirality)
{
    ct_mesh *m = box(20, 20, 0.5, SHEET_DX);
    size_t n_all, n_top;
    int32_t *all = boundary(m, &n_all);
    int32_t *top = facing_z(m, all, n_all, +1, &n_top);
    cr_assert_eq(n_top, 2 * 40 * 40);
    const double c[1][2] = {{CX, CY}};
    for (int sense = 1; sense >= -1; sense -= 2) { /* sense -1: the mirrored spiral, angle -> -angle */
        double *ph = vortex_phase(m, 1, c, &sense);
        ct_phase_singularity ps[4];
        int n_found = -1;
        cr_assert_eq(ct_phase_singularities(m, top, n_top, ph, 2.0, ps, 4, &n_found), CT_OK, "%s",
                     ct_error_message());
        cr_assert_eq(n_found, 1, "sense %d: %d singularities", sense, n_found);
        cr_assert_eq(ps[0].charge, sense, "sense %d: charge %d", sense, ps[0].charge);
        cr_assert_eq(ps[0].n_triangles, 1);
        cr_assert_lt(fabs(ps[0].position_mm[0] - CX), 1.0);
        cr_assert_lt(fabs(ps[0].position_mm[1] - CY), 1.0);
        cr_assert_float_eq(ps[0].position_mm[2], 0.5, 1e-12);
        free(ph);
    }
    free(top), free(all);
    ct_mesh_destroy(m);
}

Test(singularities, one_spiral_on_a_closed_sheet_is_one_cluster_of_net_charge_zero)
{
    ct_mesh *m = box(20, 20, 0.5, SHEET_DX);
    size_t n;
    int32_t *tris = boundary(m, &n);
    const double c[1][2] = {{CX, CY}};
    const int sense = 1;
    double *ph = vortex_phase(m, 1, c, &sense);

    /* Radius 2 mm > sheet thickness: the top (+1) and bottom (-1, outward normal -z) piercings merge. */
    ct_phase_singularity ps[4];
    int n_found = -1;
    cr_assert_eq(ct_phase_singularities(m, tris, n, ph, 2.0, ps, 4, &n_found), CT_OK, "%s", ct_error_message());
    cr_assert_eq(n_found, 1, "%d singularities", n_found);
    cr_assert_eq(ps[0].n_triangles, 2);
    cr_assert_eq(ps[0].charge, 0);
    cr_assert_lt(fabs(ps[0].position_mm[0] - CX), 1.0);
    cr_assert_lt(fabs(ps[0].position_mm[1] - CY), 1.0);
    cr_assert_float_eq(ps[0].position_mm[2], 0.25, 1e-12);

    /* Radius 0.1 mm: kept apart, opposite charges, top at z = 0.5 and bottom at z = 0. */
    cr_assert_eq(ct_phase_singularities(m, tris, n, ph, 0.1, ps, 4, &n_found), CT_OK);
    cr_assert_eq(n_found, 2);
    cr_assert_eq(ps[0].charge + ps[1].charge, 0);
    for (int i = 0; i < 2; i++) {
        int want = ps[i].position_mm[2] > 0.25 ? 1 : -1;
        cr_assert_eq(ps[i].charge, want, "singularity %d at z %g: charge %d", i, ps[i].position_mm[2],
                     ps[i].charge);
    }
    free(ph), free(tris);
    ct_mesh_destroy(m);
}

Test(singularities, counter_rotating_pair)
{
    ct_mesh *m = box(20, 20, 0.5, SHEET_DX);
    size_t n_all, n_top;
    int32_t *all = boundary(m, &n_all);
    int32_t *top = facing_z(m, all, n_all, +1, &n_top);
    const double c[2][2] = {{CX - 4.0, CY}, {CX + 4.0, CY}}; /* 8 mm apart */
    const int sense[2] = {1, -1};
    double *ph = vortex_phase(m, 2, c, sense);

    ct_phase_singularity ps[4];
    int n_found = -1;
    cr_assert_eq(ct_phase_singularities(m, top, n_top, ph, 2.0, ps, 4, &n_found), CT_OK, "%s", ct_error_message());
    cr_assert_eq(n_found, 2, "%d singularities", n_found);
    cr_assert_eq(ps[0].charge, -ps[1].charge);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(abs(ps[i].charge), 1);
        int k = ps[i].position_mm[0] < CX ? 0 : 1;
        cr_assert_eq(ps[i].charge, sense[k], "singularity %d: charge %d", i, ps[i].charge);
        cr_assert_lt(fabs(ps[i].position_mm[0] - c[k][0]), 1.0);
        cr_assert_lt(fabs(ps[i].position_mm[1] - c[k][1]), 1.0);
    }

    /* The whole closed surface: two clusters (one per filament), each of net charge 0. */
    cr_assert_eq(ct_phase_singularities(m, all, n_all, ph, 2.0, ps, 4, &n_found), CT_OK);
    cr_assert_eq(n_found, 2);
    for (int i = 0; i < 2; i++)
        cr_assert(ps[i].charge == 0 && ps[i].n_triangles == 2, "cluster %d: charge %d, %d triangles", i,
                  ps[i].charge, ps[i].n_triangles);

    /* max_out smaller than the number found: *n_found is the total, the rest of out is untouched. */
    ps[1].n_triangles = -99;
    cr_assert_eq(ct_phase_singularities(m, all, n_all, ph, 0.1, ps, 1, &n_found), CT_OK);
    cr_assert_eq(n_found, 4);
    cr_assert_eq(ps[1].n_triangles, -99);
    cr_assert_eq(ct_phase_singularities(m, all, n_all, ph, 0.1, NULL, 0, &n_found), CT_OK);
    cr_assert_eq(n_found, 4);
    free(ph), free(top), free(all);
    ct_mesh_destroy(m);
}

Test(singularities, plane_wave_and_resting_tissue_have_none)
{
    ct_mesh *m = box(20, 20, 0.5, SHEET_DX);
    size_t n;
    int32_t *tris = boundary(m, &n);
    double *ph = malloc(m->n_nodes * sizeof *ph);
    for (size_t i = 0; i < m->n_nodes; i++) /* wavelength 4 mm: 5 full cycles across the sheet */
        ph[i] = ct_phase_wrap(2.0 * PI * m->xyz_mm[3 * i] / 4.0);
    ct_phase_singularity ps[4];
    int n_found = -1;
    cr_assert_eq(ct_phase_singularities(m, tris, n, ph, 2.0, ps, 4, &n_found), CT_OK, "%s", ct_error_message());
    cr_assert_eq(n_found, 0);
    for (size_t i = 0; i < m->n_nodes; i++)
        ph[i] = 0.0;
    cr_assert_eq(ct_phase_singularities(m, tris, n, ph, 2.0, ps, 4, &n_found), CT_OK);
    cr_assert_eq(n_found, 0);
    free(ph), free(tris);
    ct_mesh_destroy(m);
}

Test(singularities, triangle_charge_follows_node_order)
{
    ct_mesh *m = box(1, 1, 1, 1); /* nodes 0 (0,0,0), 1 (1,0,0), 2 (0,1,0) */
    double ph[8] = {0};
    ph[1] = 2 * PI / 3, ph[2] = -2 * PI / 3; /* phase increasing counter-clockwise seen from +z */
    const int32_t ccw[3] = {0, 1, 2}, cw[3] = {0, 2, 1};
    ct_phase_singularity ps[1];
    int n_found = -1;
    cr_assert_eq(ct_phase_singularities(m, ccw, 1, ph, 0.0, ps, 1, &n_found), CT_OK);
    cr_assert(n_found == 1 && ps[0].charge == 1 && ps[0].n_triangles == 1);
    cr_assert_float_eq(ps[0].position_mm[0], 1.0 / 3, 1e-12);
    cr_assert_float_eq(ps[0].position_mm[1], 1.0 / 3, 1e-12);
    cr_assert_eq(ct_phase_singularities(m, cw, 1, ph, 0.0, ps, 1, &n_found), CT_OK);
    cr_assert(n_found == 1 && ps[0].charge == -1);
    ph[2] = NAN; /* a non-finite phase: uncharged */
    cr_assert_eq(ct_phase_singularities(m, ccw, 1, ph, 0.0, ps, 1, &n_found), CT_OK);
    cr_assert_eq(n_found, 0);
    ct_mesh_destroy(m);
}

/* A spiral centred exactly on a shared triangle edge (a face diagonal of the box mesh): the phase
 * difference along that edge is +-pi, and it must be counted in one of the two triangles, not both. */
Test(singularities, spiral_centre_on_an_edge_is_counted_once)
{
    ct_mesh *m = box(20, 20, 0.5, SHEET_DX);
    size_t n_all, n_top;
    int32_t *all = boundary(m, &n_all);
    int32_t *top = facing_z(m, all, n_all, +1, &n_top);
    const double c[1][2] = {{10.3, 9.7}}; /* local (0.6, 0.4) in its cell: on the diagonal x + y = 1 */
    for (int sense = 1; sense >= -1; sense -= 2) {
        double *ph = vortex_phase(m, 1, c, &sense);
        ct_phase_singularity ps[4];
        int n_found = -1;
        cr_assert_eq(ct_phase_singularities(m, top, n_top, ph, 2.0, ps, 4, &n_found), CT_OK);
        cr_assert_eq(n_found, 1);
        cr_assert(ps[0].charge == sense && ps[0].n_triangles == 1, "sense %d: charge %d, %d triangles", sense,
                  ps[0].charge, ps[0].n_triangles);
        cr_assert_lt(fabs(ps[0].position_mm[0] - c[0][0]), 1.0);
        cr_assert_lt(fabs(ps[0].position_mm[1] - c[0][1]), 1.0);
        cr_assert_eq(ct_phase_singularities(m, all, n_all, ph, 2.0, ps, 4, &n_found), CT_OK);
        cr_assert(n_found == 1 && ps[0].charge == 0 && ps[0].n_triangles == 2);
        free(ph);
    }
    free(top), free(all);
    ct_mesh_destroy(m);
}

/* Any phase field on a closed surface: the charges add up to 0. Phases are multiples of pi/2, so many
 * edges carry a difference of exactly pi. */
Test(singularities, charges_on_a_closed_surface_add_up_to_zero)
{
    ct_mesh *m = box(4, 3, 2, 0.5);
    size_t n;
    int32_t *tris = boundary(m, &n);
    double *ph = malloc(m->n_nodes * sizeof *ph);
    uint32_t seed = 12345u;
    for (size_t i = 0; i < m->n_nodes; i++) {
        seed = seed * 1664525u + 1013904223u;
        ph[i] = (double)((seed >> 16) % 4) * PI / 2 - PI / 2; /* -pi/2, 0, pi/2, pi */
    }
    ct_phase_singularity *ps = malloc(n * sizeof *ps);
    int n_found = -1;
    cr_assert_eq(ct_phase_singularities(m, tris, n, ph, 0.0, ps, (int)n, &n_found), CT_OK);
    cr_assert_gt(n_found, 10, "only %d charged triangles", n_found);
    int total = 0;
    for (int i = 0; i < n_found; i++) {
        cr_assert(abs(ps[i].charge) == 1 && ps[i].n_triangles == 1);
        total += ps[i].charge;
    }
    cr_assert_eq(total, 0);
    free(ps), free(ph), free(tris);
    ct_mesh_destroy(m);
}

Test(singularities, bad_input)
{
    ct_mesh *m = box(1, 1, 1, 1);
    double ph[8] = {0};
    const int32_t tris[6] = {0, 1, 2, 1, 2, 8}; /* node 8 of 8: out of range */
    ct_phase_singularity ps[2];
    int n_found = -1;
    cr_assert_eq(ct_phase_singularities(m, tris, 2, ph, 1.0, ps, 2, &n_found), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "triangle 1"), "%s", ct_error_message());
    cr_assert_eq(n_found, 0);
    const int32_t neg[3] = {0, -1, 2};
    cr_assert_eq(ct_phase_singularities(m, neg, 1, ph, 1.0, ps, 2, &n_found), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "triangle 0"), "%s", ct_error_message());
    cr_assert_eq(ct_phase_singularities(NULL, tris, 1, ph, 1.0, ps, 2, &n_found), CT_ERR_CONFIG);
    cr_assert_eq(ct_phase_singularities(m, tris, 1, NULL, 1.0, ps, 2, &n_found), CT_ERR_CONFIG);
    cr_assert_eq(ct_phase_singularities(m, tris, 1, ph, 1.0, NULL, 2, &n_found), CT_ERR_CONFIG);
    cr_assert_eq(ct_phase_singularities(m, tris, 1, ph, 1.0, ps, 2, NULL), CT_ERR_CONFIG);
    cr_assert_eq(ct_phase_singularities(m, tris, 1, ph, -1.0, ps, 2, &n_found), CT_ERR_CONFIG);
    cr_assert_eq(ct_phase_singularities(m, tris, 1, ph, NAN, ps, 2, &n_found), CT_ERR_CONFIG);
    cr_assert_eq(ct_phase_singularities(m, tris, 1, ph, 1.0, ps, -1, &n_found), CT_ERR_CONFIG);
    ct_mesh_destroy(m);
}
