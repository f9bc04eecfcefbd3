/* test_plan.c — virtual ablation planning: the circuit finder (encircled obstacle, direction, isthmus) on
 * synthetic activation maps, and `cardiotwin plan` on the ring example without a user lesion.
 *
 * Synthetic: a 20 x 20 x 1 mm box (dx 0.5 mm) with a non-conducting block, activation times that turn once
 * round the block per cycle (or a plane wave that passes it by); the narrowest gap, its width (within one
 * element), its ends and the circuit direction are known by construction.
 * Ring: meshes/reentry_ring/ring.json (40 x 40 mm sheet, 16 x 16 mm block) paced from "beside the patch"
 * with a short protocol (S1 x 3 at 500 ms, one S2 from 240 ms): the circuit found encircles the block; the
 * proposed lesion's isthmus segment runs from the block to the sheet's edge through conducting tissue
 * (every interior point outside the block and inside the sheet, both ends within one element of a
 * non-conducting boundary); the re-test is non-inducible. The ring test took 812 s on the two-core VM at a
 * load of about 10 (about 6 minutes of CPU time: two drive trains and five S2 trials on 13,000 nodes); the
 * others take under a second.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "mesh/ct_mesh.h"
#include "study/ct_circuit.h"
#include "study/ct_plan.h"
#include "ct_test_util.h"

#define TWO_PI 6.283185307179586

/* A 20 x 20 x 1 mm box; elements whose centroid lies in one of the n boxes [lo, hi] (x, y) do not conduct. */
static ct_mesh *box_with_blocks(const double (*lo)[2], const double (*hi)[2], int n, uint8_t **nc)
{
    ct_mesh *m;
    double size[3] = {20, 20, 1}, fibre[3] = {1, 0, 0};
    cr_assert_eq(ct_mesh_box(size, 0.5, fibre, &m), CT_OK, "%s", ct_error_message());
    *nc = calloc(m->n_tets, 1);
    for (size_t e = 0; e < m->n_tets; e++) {
        double c[3];
        ct_mesh_tet_centroid(m, e, c);
        for (int b = 0; b < n; b++)
            if (c[0] > lo[b][0] && c[0] < hi[b][0] && c[1] > lo[b][1] && c[1] < hi[b][1])
                (*nc)[e] = 1;
    }
    return m;
}

/* Activation times of a wave turning round (cx, cy): anticlockwise (sense +1) or clockwise (-1) seen from +z. */
static double *turning_wave(const ct_mesh *m, double cx, double cy, double cl_ms, int sense)
{
    double *t = malloc(m->n_nodes * sizeof *t);
    for (size_t i = 0; i < m->n_nodes; i++) {
        double a = atan2(m->xyz_mm[3 * i + 1] - cy, m->xyz_mm[3 * i] - cx); /* (-pi, pi] */
        t[i] = 1000.0 + sense * cl_ms * (a + TWO_PI / 2) / TWO_PI;
    }
    return t;
}

Test(circuit, finds_the_narrowest_gap_round_a_block)
{
    /* the block x 6..14, y 3..12: gaps 3 mm (below), 8 mm (above), 6 mm (left and right) */
    const double lo[1][2] = {{6, 3}}, hi[1][2] = {{14, 12}};
    uint8_t *nc;
    ct_mesh *m = box_with_blocks(lo, hi, 1, &nc);
    double *t = turning_wave(m, 10, 7.5, 200, +1);
    ct_circuit c;
    cr_assert_eq(ct_circuit_find(m, nc, t, 200, NULL, &c), CT_OK, "%s", ct_error_message());
    cr_assert(c.found, "%s", c.why);
    cr_assert_eq(c.n_obstacles, 1);
    cr_assert_eq(c.obstacle, 1);
    cr_assert(fabs(c.winding - 1.0) < 0.05, "winding %g cycles", c.winding);
    cr_assert_eq(c.direction, +1, "anticlockwise seen from +z");
    cr_assert(fabs(c.normal[2]) > 0.99, "plane normal (%g, %g, %g)", c.normal[0], c.normal[1], c.normal[2]);
    cr_assert(fabs(c.isthmus_width_mm - 3.0) <= 0.5 + 1e-9, "isthmus width %g mm, expected 3 within one element",
              c.isthmus_width_mm);
    cr_assert(fabs(c.isthmus_from_mm[1] - 3.0) <= 0.5 && fabs(c.isthmus_to_mm[1]) <= 0.5,
              "isthmus from y %g to y %g: expected the gap below the block", c.isthmus_from_mm[1], c.isthmus_to_mm[1]);
    cr_assert(c.isthmus_from_mm[0] >= 6 && c.isthmus_from_mm[0] <= 14, "x %g", c.isthmus_from_mm[0]);
    cr_assert_eq(c.isthmus_to_obstacle, 0, "to the outer boundary");
    /* the lesion: across the gap, one edge past both ends, transmural radius at least 1.5 edges */
    cr_assert_eq(c.lesion.shape, CT_LESION_LINE);
    cr_assert(c.lesion.radius_mm >= 1.5 * c.mean_edge_mm - 1e-9 && c.lesion.radius_mm >= 0.5);
    double ymax = fmax(c.lesion.a_mm[1], c.lesion.b_mm[1]), ymin = fmin(c.lesion.a_mm[1], c.lesion.b_mm[1]);
    cr_assert(ymax > 3.0 && ymin < 0.0, "the lesion spans y %g..%g, beyond the gap 0..3", ymin, ymax);
    cr_assert(fabs(c.lesion.a_mm[2] - 0.5) < 1e-6, "mid-wall z %g", c.lesion.a_mm[2]);
    cr_assert(c.lesion_volume_mm3 > 0);
    /* entrance upstream (left, x small) and exit downstream (right) for a wave running anticlockwise below */
    cr_assert(c.entrance_mm[0] < c.exit_mm[0], "entrance x %g, exit x %g", c.entrance_mm[0], c.exit_mm[0]);
    free(t);

    /* the same block, the wave turning the other way */
    t = turning_wave(m, 10, 7.5, 200, -1);
    cr_assert_eq(ct_circuit_find(m, nc, t, 200, NULL, &c), CT_OK, "%s", ct_error_message());
    cr_assert(c.found && c.direction == -1, "clockwise (winding %g)", c.winding);
    cr_assert(c.entrance_mm[0] > c.exit_mm[0], "entrance x %g, exit x %g", c.entrance_mm[0], c.exit_mm[0]);
    free(t);

    /* a plane wave passing the block by encircles nothing */
    t = malloc(m->n_nodes * sizeof *t);
    for (size_t i = 0; i < m->n_nodes; i++)
        t[i] = 1000.0 + m->xyz_mm[3 * i] / 0.5;
    cr_assert_eq(ct_circuit_find(m, nc, t, 200, NULL, &c), CT_OK, "%s", ct_error_message());
    cr_assert(!c.found, "a plane wave is no circuit (winding %g)", c.winding);
    cr_assert(strstr(c.why, "encircled"), "%s", c.why);
    free(t);
    free(nc);
    ct_mesh_destroy(m);
}

Test(circuit, the_gap_between_two_scars_is_the_isthmus)
{
    /* block A x 4..8, block B x 10..16 (both y 4..16): 2 mm between them, 4 mm to the edges */
    const double lo[2][2] = {{4, 4}, {10, 4}}, hi[2][2] = {{8, 16}, {16, 16}};
    uint8_t *nc;
    ct_mesh *m = box_with_blocks(lo, hi, 2, &nc);
    double *t = turning_wave(m, 6, 10, 150, +1);
    ct_circuit c;
    cr_assert_eq(ct_circuit_find(m, nc, t, 150, NULL, &c), CT_OK, "%s", ct_error_message());
    cr_assert(c.found, "%s", c.why);
    cr_assert_eq(c.n_obstacles, 2);
    cr_assert(fabs(c.obstacle_center_mm[0] - 6) < 0.6, "the encircled block is A (centre x %g)",
              c.obstacle_center_mm[0]);
    cr_assert_neq(c.isthmus_to_obstacle, 0, "the isthmus runs scar to scar");
    cr_assert(fabs(c.isthmus_width_mm - 2.0) <= 0.5 + 1e-9, "width %g mm, expected 2", c.isthmus_width_mm);
    cr_assert(fabs(c.isthmus_from_mm[0] - 8) <= 0.5 && fabs(c.isthmus_to_mm[0] - 10) <= 0.5, "from x %g to x %g",
              c.isthmus_from_mm[0], c.isthmus_to_mm[0]);
    free(t);
    free(nc);
    ct_mesh_destroy(m);
}

Test(circuit, no_obstacle_and_bad_input)
{
    ct_mesh *m;
    double size[3] = {5, 5, 1}, fibre[3] = {1, 0, 0};
    cr_assert_eq(ct_mesh_box(size, 0.5, fibre, &m), CT_OK);
    uint8_t *nc = calloc(m->n_tets, 1);
    double *t = turning_wave(m, 2.5, 2.5, 100, +1);
    ct_circuit c;
    cr_assert_eq(ct_circuit_find(m, nc, t, 100, NULL, &c), CT_OK);
    cr_assert(!c.found && strstr(c.why, "no non-conducting"), "%s", c.why);
    cr_assert_eq(ct_circuit_find(m, nc, t, -1, NULL, &c), CT_OK);
    cr_assert(!c.found && strstr(c.why, "cycle length"), "%s", c.why);
    cr_assert_neq(ct_circuit_find(m, NULL, t, 100, NULL, &c), CT_OK);
    free(t);
    free(nc);
    ct_mesh_destroy(m);
}

Test(plan, lesion_distance)
{
    ct_lesion l = {.shape = CT_LESION_LINE, .a_mm = {0, 0, 0}, .b_mm = {10, 0, 0}, .radius_mm = 1};
    double p[3] = {5, 3, 0}, q[3] = {-4, 3, 0};
    cr_assert_float_eq(ct_plan_lesion_distance_mm(&l, p), 3.0, 1e-12);
    cr_assert_float_eq(ct_plan_lesion_distance_mm(&l, q), 5.0, 1e-12);
}

static const cJSON *get(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *k = strtok(buf, "."); k && o; k = strtok(NULL, "."))
        o = (*k >= '0' && *k <= '9') ? cJSON_GetArrayItem(o, atoi(k)) : cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(o, "report.json has no %s", path);
    return o;
}

static void vec(const cJSON *o, const char *path, double v[3])
{
    const cJSON *a = get(o, path);
    for (int k = 0; k < 3; k++)
        v[k] = cJSON_GetArrayItem(a, k)->valuedouble;
}

static int in_block(const double p[3])
{
    return p[0] > 12 && p[0] < 28 && p[1] > 12 && p[1] < 28;
}

/* distance (mm, in the sheet's plane) from p to the block's outline and to the sheet's edge */
static double to_block(const double p[3])
{
    double dx = fmax(fmax(12 - p[0], p[0] - 28), 0), dy = fmax(fmax(12 - p[1], p[1] - 28), 0);
    if (in_block(p))
        return 0;
    return sqrt(dx * dx + dy * dy);
}

static double to_edge(const double p[3])
{
    return fmin(fmin(p[0], 40 - p[0]), fmin(p[1], 40 - p[1]));
}

Test(plan, ring_circuit_isthmus_lesion_and_retest, .timeout = 900)
{
    char *dir = ct_test_tmpdir("plan"), args[2048], path[4096];
    snprintf(args, sizeof args,
             "plan %s/meshes/reentry_ring/ring.json --out %s --only \"beside the patch\" --s1-count 3 "
             "--s1-bcl-ms 500 --extra 1 --ci-start-ms 240 --ci-min-ms 200 --observe-ms 800 --jobs 1 --no-baseline",
             CT_SOURCE_DIR, dir);
    char *out = NULL;
    int rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "cardiotwin plan failed (%d):\n%s", rc, out);
    free(out);
    snprintf(path, sizeof path, "%s/report.json", dir);
    char *text = ct_test_read(path);
    cr_assert(text, "no %s", path);
    cJSON *r = cJSON_Parse(text);
    free(text);
    cr_assert(r);
    const cJSON *c = get(r, "plan.rounds.0.circuits.0");
    cr_assert(cJSON_IsTrue(get(c, "found")), "no circuit: %s", cJSON_Print(c));
    /* the circuit encircles the block (its rim's centre is the block's centre) */
    double ctr[3], a[3], b[3];
    vec(c, "encircled_obstacle.center_mm", ctr);
    cr_assert(fabs(ctr[0] - 20) < 1 && fabs(ctr[1] - 20) < 1, "encircled obstacle centred at (%g, %g)", ctr[0], ctr[1]);
    cr_assert(fabs(fabs(get(c, "winding_cycles")->valuedouble) - 1) < 0.2);
    double cl = get(c, "cycle_length_ms")->valuedouble;
    cr_assert(cl > 200 && cl < 450, "cycle length %g ms", cl);
    /* the isthmus: from the block to the sheet's edge through conducting tissue */
    vec(c, "isthmus.from_mm", a);
    vec(c, "isthmus.to_mm", b);
    double h = get(c, "mean_edge_mm")->valuedouble;
    cr_assert(to_block(a) <= h, "isthmus start (%g, %g) is %g mm from the block", a[0], a[1], to_block(a));
    cr_assert(to_edge(b) <= h, "isthmus end (%g, %g) is %g mm from the edge", b[0], b[1], to_edge(b));
    for (int k = 1; k < 100; k++) {
        double s = k / 100.0, p[3];
        for (int d = 0; d < 3; d++)
            p[d] = a[d] + s * (b[d] - a[d]);
        cr_assert(!in_block(p) && to_edge(p) >= 0, "isthmus point (%g, %g) leaves the tissue", p[0], p[1]);
    }
    double w = get(c, "isthmus.width_mm")->valuedouble;
    cr_assert(fabs(w - 12) <= h, "width %g mm: the gaps round the block are 12 mm", w);
    /* the proposed lesion: that segment, extended into the block and past the edge */
    const cJSON *pl = get(r, "plan.proposed_lesions.0");
    ct_lesion l;
    cr_assert_eq(ct_lesion_parse_spec(get(pl, "spec")->valuestring, &l), CT_OK);
    cr_assert(ct_plan_lesion_distance_mm(&l, a) < 0.01 + 0.5 && ct_plan_lesion_distance_mm(&l, b) < 0.01 + 0.5,
              "the lesion runs through the isthmus's ends");
    cr_assert(in_block(l.a_mm) || to_edge(l.a_mm) < 0, "lesion start (%g, %g) is inside a non-conducting side",
              l.a_mm[0], l.a_mm[1]);
    cr_assert(in_block(l.b_mm) || to_edge(l.b_mm) < 0, "lesion end (%g, %g) is past the sheet's edge", l.b_mm[0],
              l.b_mm[1]);
    cr_assert(get(pl, "volume_mL")->valuedouble > 0);
    /* the re-test: not inducible any more */
    cr_assert_eq(get(r, "summary.inducible_sites")->valueint, 1);
    cr_assert_eq(get(r, "summary.inducible_sites_after_ablation")->valueint, 0);
    cr_assert(strncmp(get(r, "plan.outcome")->valuestring, "non-inducible", 13) == 0, "outcome: %s",
              get(r, "plan.outcome")->valuestring);
    cr_assert_eq(get(r, "plan.rounds_run")->valueint, 1);
    cJSON_Delete(r);
    ct_test_rmtree(dir);
    free(dir);
}

Test(plan, bad_options_are_refused)
{
    char *out = NULL;
    int rc = ct_test_cli("plan " CT_SOURCE_DIR "/meshes/reentry_ring/ring.json --out /tmp/x --max-rounds 0", &out);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "--max-rounds"), "%s", out);
    free(out);
    rc = ct_test_cli("induce " CT_SOURCE_DIR "/meshes/reentry_ring/ring.json --out /tmp/x --max-rounds 2", &out);
    cr_assert_eq(rc, 2, "induce has no --max-rounds: %s", out);
    free(out);
}
