/* test_prescreen.c — the fast pre-screen of pacing sites (host/study/ct_prescreen.h) against geometry and
 * against what the monodomain protocol says (tests/test_induce.c asserts the monodomain results used here):
 * - on a uniform sheet the edge-graph eikonal from a corner is never earlier than distance / speed and at a
 *   far node off the mesh's axes and diagonals (the worst direction of an edge graph) late by less than 10 %;
 *   along the fibre and across it the times follow the two speeds;
 * - on the re-entry ring (meshes/reentry_ring/ring.json, the protocol of test_induce.c), with the calibration
 *   from cable runs of the configured model: the site beside the slow-recovery patch is predicted inducible by
 *   S2, with a coupling interval in the range the monodomain protocol finds, and ranked above the site left
 *   of the block and the far corner (36, 36) mm, which are predicted not inducible (the monodomain result for
 *   the corner is measured in meshes/reentry_ring/README.md); the isthmus lesion of test_induce.c abolishes it;
 * - a site with no conducting node (in the block, outside the mesh) is an error naming the site.
 * Runs in seconds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ct_config.h"
#include "study/ct_lesion.h"
#include "study/ct_prescreen.h"

static const char *sheet_json =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [40, 40, 0.5], \"dx_mm\": 0.5, \"fibre_direction\": [1, 0, 0]},"
    " \"model\": {\"name\": \"mitchell_schaeffer\"},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.1, \"sigma_t_S_per_m\": 0.1},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 100,"
    " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"}, %s \"stimuli\": []}";

static void load(const char *extra, ct_config *cfg)
{
    char json[4096];
    snprintf(json, sizeof json, sheet_json, extra);
    cr_assert_eq(ct_config_parse(json, "test", cfg), CT_OK, "%s", ct_error_message());
}

static void ring_protocol(ct_induce_protocol *p)
{
    ct_induce_protocol_defaults(p);
    p->s1_count = 3;
    p->s1_bcl_ms = 500;
    p->extra_stimuli = 1;
    p->ci_start_ms = 300;
    p->ci_step_ms = 20;
    p->ci_min_ms = 140;
    p->observe_ms = 800;
}

/* The node nearest x (mm). */
static size_t nearest(const ct_prescreen *ps, double x, double y, double z)
{
    const double *xyz = ct_prescreen_xyz_mm(ps);
    size_t best = 0;
    double bd = INFINITY;
    for (size_t i = 0; i < ct_prescreen_n_nodes(ps); i++) {
        double d = fabs(xyz[3 * i] - x) + fabs(xyz[3 * i + 1] - y) + fabs(xyz[3 * i + 2] - z);
        if (d < bd) {
            bd = d;
            best = i;
        }
    }
    return best;
}

static ct_prescreen *sheet(double v_l, double v_t)
{
    ct_config cfg;
    load("", &cfg);
    ct_induce_protocol p;
    ring_protocol(&p);
    ct_prescreen_options opt = {.quiet = 1, .cv_l_mm_per_ms = v_l, .cv_t_mm_per_ms = v_t, .apd90_ms = 100,
                                .refractory_ms = 120};
    ct_prescreen *ps = NULL;
    cr_assert_eq(ct_prescreen_create(&cfg, &p, &opt, &ps), CT_OK, "%s", ct_error_message());
    ct_config_free(&cfg);
    return ps;
}

Test(prescreen, graph_eikonal_on_a_uniform_sheet)
{
    const double v = 0.5; /* mm/ms */
    ct_prescreen *ps = sheet(v, v);
    size_t n = ct_prescreen_n_nodes(ps);
    const double *xyz = ct_prescreen_xyz_mm(ps);
    double *act = malloc(n * sizeof *act);
    ct_induce_site corner = {.name = "corner", .position_mm = {0, 0, 0}};
    cr_assert_eq(ct_prescreen_activation(ps, &corner, 0.1, act), CT_OK, "%s", ct_error_message());
    double worst = 1;
    for (size_t i = 0; i < n; i++) {
        double d = sqrt(xyz[3 * i] * xyz[3 * i] + xyz[3 * i + 1] * xyz[3 * i + 1] + xyz[3 * i + 2] * xyz[3 * i + 2]);
        cr_assert(act[i] >= 0, "node %zu at (%g, %g, %g) mm never activated", i, xyz[3 * i], xyz[3 * i + 1],
                  xyz[3 * i + 2]);
        cr_assert(act[i] >= d / v - 1e-9, "node %zu: %g ms, earlier than distance / speed %g ms", i, act[i], d / v);
        if (d > 20 && act[i] * v / d > worst)
            worst = act[i] * v / d;
    }
    /* a far node at 26.6 degrees from the axis: between the axis and the diagonal, where edge paths zigzag */
    size_t far = nearest(ps, 40, 20, 0);
    double exact = sqrt(40.0 * 40 + 20 * 20) / v;
    double over = act[far] / exact - 1;
    cr_log_info("graph eikonal: far node (40, 20) mm %.2f ms vs distance/speed %.2f ms (+%.1f %%); worst over "
                "nodes > 20 mm away +%.1f %%",
                act[far], exact, 100 * over, 100 * (worst - 1));
    cr_assert(over >= 0 && over < 0.10, "far node overestimate %.1f %%", 100 * over);
    /* along an axis and the diagonal of the mesh the edges lie on the straight line: exact */
    size_t ax = nearest(ps, 40, 0, 0);
    cr_assert(fabs(act[ax] - 40 / v) < 1e-6, "along x: %g ms, expected %g", act[ax], 40 / v);
    free(act);
    ct_prescreen_destroy(ps);
}

Test(prescreen, anisotropic_speeds_along_and_across_the_fibre)
{
    ct_prescreen *ps = sheet(0.8, 0.4); /* fibres along x */
    size_t n = ct_prescreen_n_nodes(ps);
    double *act = malloc(n * sizeof *act);
    ct_induce_site corner = {.name = "corner", .position_mm = {0, 0, 0}};
    cr_assert_eq(ct_prescreen_activation(ps, &corner, 0.1, act), CT_OK, "%s", ct_error_message());
    size_t along = nearest(ps, 40, 0, 0), across = nearest(ps, 0, 40, 0);
    cr_assert(fabs(act[along] - 40 / 0.8) < 1e-6, "along the fibre %g ms, expected 50", act[along]);
    cr_assert(fabs(act[across] - 40 / 0.4) < 1e-6, "across the fibre %g ms, expected 100", act[across]);
    free(act);
    ct_prescreen_destroy(ps);
}

static ct_prescreen *ring(const char *lesion_spec)
{
    ct_config cfg;
    cr_assert_eq(ct_config_load(CT_SOURCE_DIR "/meshes/reentry_ring/ring.json", &cfg), CT_OK, "%s",
                 ct_error_message());
    if (lesion_spec) {
        cr_assert_eq(ct_lesion_parse_spec(lesion_spec, &cfg.lesions[cfg.n_lesions]), CT_OK, "%s",
                     ct_error_message());
        cfg.n_lesions++;
    }
    ct_induce_protocol p;
    ring_protocol(&p);
    ct_prescreen_options opt = {.quiet = 1};
    ct_prescreen *ps = NULL;
    cr_assert_eq(ct_prescreen_create(&cfg, &p, &opt, &ps), CT_OK, "%s", ct_error_message());
    ct_config_free(&cfg);
    return ps;
}

Test(prescreen, ring_site_beside_the_patch_is_inducible_and_ranked_first, .timeout = 300)
{
    ct_prescreen *ps = ring(NULL);
    const ct_prescreen_tissue *h = ct_prescreen_tissue_of(ps, 0), *bz = ct_prescreen_tissue_of(ps, 1);
    cr_assert(h->used && bz->used);
    cr_log_info("calibration: healthy CV %.3f m/s APD90 %.1f ms R %.1f ms; border zone CV %.3f m/s APD90 %.1f ms "
                "R %.1f ms",
                h->cv_l_mm_per_ms, h->apd90_ms, h->refractory_ms, bz->cv_l_mm_per_ms, bz->apd90_ms,
                bz->refractory_ms);
    /* the slow-recovery patch recovers later than the rest (tau_close 130 vs 80 ms): that is the substrate */
    cr_assert(bz->refractory_ms > h->refractory_ms + 30, "R %g (border zone) vs %g ms", bz->refractory_ms,
              h->refractory_ms);
    cr_assert(h->cv_l_mm_per_ms > 0.2 && h->cv_l_mm_per_ms < 0.8, "CV %g m/s", h->cv_l_mm_per_ms);
    ct_induce_site sites[3] = {{.name = "left of the block", .position_mm = {5, 30, 0.25}},
                               {.name = "beside the patch", .position_mm = {18, 5, 0.25}},
                               {.name = "x36 y36", .position_mm = {36, 36, 0.25}}};
    ct_prescreen_result r[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ct_prescreen_site(ps, &sites[i], &r[i]), CT_OK, "%s", ct_error_message());
    cr_log_info("beside the patch: inducible %d by S%d at %g ms, window %g ms, cycle %g ms, %.3f s; left of the "
                "block: inducible %d, persistence %g ms, %.3f s",
                r[1].inducible, r[1].induced_by, r[1].coupling_ms[0], r[1].window_ms, r[1].cycle_length_ms,
                r[1].wall_s, r[0].inducible, r[0].persistence_ms, r[0].wall_s);
    /* the monodomain protocol (test_induce.c): re-entry by S2 at 160..260 ms beside the patch, none from the left */
    cr_assert(r[1].inducible, "beside the patch must be predicted inducible");
    cr_assert_eq(r[1].induced_by, 2);
    cr_assert(r[1].coupling_ms[0] >= 160 && r[1].coupling_ms[0] <= 260, "S2 coupling %g ms", r[1].coupling_ms[0]);
    cr_assert(r[1].cycle_length_ms > 200 && r[1].cycle_length_ms < 450, "cycle length %g ms", r[1].cycle_length_ms);
    cr_assert(!r[0].inducible, "left of the block must be predicted not inducible (S2 at %g ms)", r[0].coupling_ms[0]);
    /* the far corner: the monodomain protocol finds no re-entry (S2 300 .. 140 ms; meshes/reentry_ring/README.md),
     * and only the conduction-velocity restitution keeps the pre-screen from predicting one */
    cr_assert(!r[2].inducible, "x36 y36 must be predicted not inducible (S2 at %g ms)", r[2].coupling_ms[0]);
    ct_prescreen_rank(r, 3);
    cr_assert_str_eq(r[0].name, "beside the patch");
    ct_prescreen_destroy(ps);
}

Test(prescreen, isthmus_lesion_abolishes_the_predicted_reentry, .timeout = 300)
{
    ct_prescreen *ps = ring("line:-1,20,0.25,13,20,0.25,1");
    ct_induce_site site = {.name = "beside the patch", .position_mm = {18, 5, 0.25}};
    ct_prescreen_result r;
    cr_assert_eq(ct_prescreen_site(ps, &site, &r), CT_OK, "%s", ct_error_message());
    cr_assert(!r.inducible, "the lesion cuts the circuit (induced by S%d at %g ms)", r.induced_by, r.coupling_ms[0]);
    cr_assert(r.n_extra == 1 && r.coupling_ms[0] <= 200, "S2 captured down to %g ms", r.coupling_ms[0]);
    ct_prescreen_destroy(ps);
}

Test(prescreen, site_without_conducting_tissue_is_an_error_naming_it)
{
    ct_config cfg;
    load("\"tissue_regions\": [{\"name\": \"block\", \"tissue\": \"scar\", \"shape\": \"box\","
         " \"box_min_mm\": [12, 12, -1], \"box_max_mm\": [28, 28, 1]}],",
         &cfg);
    ct_induce_protocol p;
    ring_protocol(&p);
    p.stim_radius_mm = 1.0;
    ct_prescreen_options opt = {.quiet = 1, .cv_l_mm_per_ms = 0.5, .cv_t_mm_per_ms = 0.5, .apd90_ms = 100,
                                .refractory_ms = 120};
    ct_prescreen *ps = NULL;
    cr_assert_eq(ct_prescreen_create(&cfg, &p, &opt, &ps), CT_OK, "%s", ct_error_message());
    ct_config_free(&cfg);
    ct_prescreen_result r;
    ct_induce_site in_block = {.name = "in the block", .position_mm = {20, 20, 0.25}};
    cr_assert_eq(ct_prescreen_site(ps, &in_block, &r), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "in the block") && strstr(ct_error_message(), "no conducting node"), "%s",
              ct_error_message());
    ct_induce_site outside = {.name = "outside", .position_mm = {100, 100, 0}};
    cr_assert_eq(ct_prescreen_site(ps, &outside, &r), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "site outside"), "%s", ct_error_message());
    /* a sound site on the same sheet runs */
    ct_induce_site ok = {.name = "corner", .position_mm = {2, 2, 0.25}};
    cr_assert_eq(ct_prescreen_site(ps, &ok, &r), CT_OK, "%s", ct_error_message());
    ct_prescreen_destroy(ps);
}
