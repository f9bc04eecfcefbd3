/* test_induce.c — re-entry: detection, programmed stimulation, lesions, and the backend state snapshots
 * they rest on.
 *
 * The tissue is the Mitchell-Schaeffer model with a short action potential (tau_close 80 ms, APD about
 * 150 ms) and a slow conduction (about 0.3 m/s in the spiral sheet), so that re-entry fits in a small
 * sheet and a test runs in seconds:
 * - a spiral wave started by cross-field stimulation (S1 from the left edge, S2 over the lower half in
 *   the S1 wave's refractory tail) in a 50 x 50 mm sheet is re-entry with one phase singularity, near the
 *   end of the S2 wavefront, and a cycle length in the range of fast ventricular tachycardia; the S1
 *   plane wave alone is not re-entry;
 * - a 40 x 40 mm sheet around a non-conducting 16 x 16 mm block (a ring of tissue), with a patch of
 *   slower recovery (border zone, tau_close 130 ms) beside the pacing site: S1-S2 from that site blocks
 *   in the patch one way only and the S2 wave circles the block (re-entry); a line lesion from the block
 *   to the edge through the isthmus opposite abolishes it; paced from far from the patch it is not
 *   inducible.
 * Runs in about a minute on two cores.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/ct_config.h"
#include "study/ct_induce.h"
#include "study/ct_lesion.h"
#include "sim/ct_sim.h"
#include "ct_test_util.h"

static const char *ring_json =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [40, 40, 0.5], \"dx_mm\": 0.5},"
    " \"model\": {\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_close_ms\": 80}},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.1, \"sigma_t_S_per_m\": 0.1},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 100,"
    " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"},"
    " \"tissue\": {\"border_zone\": {\"parameters\": {\"tau_close_ms\": 130}}},"
    " \"tissue_regions\": ["
    "   {\"name\": \"block\", \"tissue\": \"scar\", \"shape\": \"box\", \"box_min_mm\": [12, 12, -1], \"box_max_mm\": [28, 28, 1]},"
    "   {\"name\": \"slow recovery\", \"tissue\": \"border_zone\", \"shape\": \"box\", \"box_min_mm\": [22, 0, -1],"
    "    \"box_max_mm\": [30, 12, 1]}],"
    " %s"
    " \"stimuli\": []}";

static const char *isthmus_lesion =
    "\"lesions\": [{\"name\": \"isthmus line\", \"shape\": \"line\", \"from_mm\": [-1, 20, 0.25],"
    " \"to_mm\": [13, 20, 0.25], \"radius_mm\": 1.0}],";

static void load(const char *fmt, const char *extra, ct_config *cfg)
{
    char json[4096];
    snprintf(json, sizeof json, fmt, extra);
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

static ct_induce_result run_site(const char *extra, double x, double y)
{
    ct_config cfg;
    load(ring_json, extra, &cfg);
    ct_induce_protocol p;
    ring_protocol(&p);
    ct_induce_site site = {.name = "test site", .position_mm = {x, y, 0.25}};
    ct_induce_result r;
    ct_status st = ct_induce_site_run(&cfg, &site, &p, &ct_backend_cpu, 1, &r);
    cr_assert_eq(st, CT_OK, "%s", ct_error_message());
    ct_config_free(&cfg);
    return r;
}

Test(induce, s1_s2_around_a_block_is_reentry, .timeout = 300)
{
    ct_induce_result r = run_site("", 18, 5);
    cr_assert(r.inducible, "S1-S2 beside the slow-recovery patch must induce re-entry around the block");
    cr_assert_eq(r.induced_by, 2);
    /* unidirectional block in the patch needs a coupling interval inside its refractory period (about 220 ms),
     * longer than that of the rest of the tissue */
    cr_assert(r.coupling_ms[0] >= 160 && r.coupling_ms[0] <= 260, "S2 coupling %g ms", r.coupling_ms[0]);
    /* one turn: about 112 mm of ring at ~0.4 m/s */
    cr_assert(r.cycle_length_ms > 200 && r.cycle_length_ms < 450, "cycle length %g ms", r.cycle_length_ms);
    cr_assert(r.trials >= 2, "the protocol shortened the coupling interval (%d trials)", r.trials);
}

Test(induce, lesion_through_the_isthmus_abolishes_reentry, .timeout = 300)
{
    ct_induce_result r = run_site(isthmus_lesion, 18, 5);
    cr_assert(!r.inducible, "the lesion cuts the circuit: no re-entry (induced by S%d at %g ms)", r.induced_by,
              r.coupling_ms[0]);
    cr_assert_eq(r.n_extra, 1);
    /* S2 still captured down to short coupling intervals: the protocol ran through */
    cr_assert(r.coupling_ms[0] <= 200, "shortest capturing S2 %g ms", r.coupling_ms[0]);
}

Test(induce, site_far_from_the_patch_is_not_inducible, .timeout = 300)
{
    ct_induce_result r = run_site("", 5, 30);
    cr_assert(!r.inducible, "bidirectional conduction from this site collides: no re-entry");
}

Test(induce, site_in_the_block_fails_to_capture)
{
    ct_config cfg;
    load(ring_json, "", &cfg);
    ct_induce_protocol p;
    ring_protocol(&p);
    p.stim_radius_mm = 1.0;
    ct_induce_site site = {.name = "in the block", .position_mm = {20, 20, 0.25}};
    ct_induce_result r;
    cr_assert_neq(ct_induce_site_run(&cfg, &site, &p, &ct_backend_cpu, 1, &r), CT_OK);
    cr_assert(strstr(ct_error_message(), "did not capture"), "%s", ct_error_message());
    cr_assert(strstr(ct_error_message(), "in the block"), "%s", ct_error_message());
    ct_config_free(&cfg);
}

static const char *sheet_json =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [50, 50, 0.5], \"dx_mm\": 0.5},"
    " \"model\": {\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_close_ms\": 80}},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.05, \"sigma_t_S_per_m\": 0.05},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 100,"
    " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"},"
    " \"stimuli\": [{\"name\": \"S1 left edge\", \"box_min_mm\": [-1, -1, -1], \"box_max_mm\": [1, 51, 1],"
    "   \"amplitude_uA_per_uF\": 60, \"start_ms\": 0, \"duration_ms\": 2}%s]}";

static const char *cross_field_s2 = ", {\"name\": \"S2 lower half\", \"box_min_mm\": [-1, -1, -1],"
                                    " \"box_max_mm\": [51, 25, 1], \"amplitude_uA_per_uF\": 60, \"start_ms\": 240,"
                                    " \"duration_ms\": 2}";

Test(induce, cross_field_spiral_is_reentry_with_one_phase_singularity, .timeout = 300)
{
    ct_config cfg;
    load(sheet_json, cross_field_s2, &cfg);
    ct_induce_protocol p;
    ct_induce_protocol_defaults(&p);
    ct_induce_result r;
    cr_assert_eq(ct_reentry_observe(&cfg, &ct_backend_cpu, 242, &p, 1, &r), CT_OK, "%s", ct_error_message());
    cr_assert(r.inducible, "the spiral must outlast 1 s after S2");
    cr_assert_eq(r.n_ps, 1, "one phase singularity (the tip seen on both faces of the sheet), found %d", r.n_ps);
    /* the tip turns near where the S2 front ended: the middle of the sheet in y */
    cr_assert(r.ps[0].position_mm[1] > 15 && r.ps[0].position_mm[1] < 35, "tip at y = %g mm",
              r.ps[0].position_mm[1]);
    cr_assert(r.ps[0].position_mm[0] > 2 && r.ps[0].position_mm[0] < 48, "tip at x = %g mm",
              r.ps[0].position_mm[0]);
    /* fast VT / flutter range for a 150 ms action potential */
    cr_assert(r.cycle_length_ms > 120 && r.cycle_length_ms < 400, "cycle length %g ms", r.cycle_length_ms);
    ct_config_free(&cfg);
}

Test(induce, single_plane_wave_is_not_reentry, .timeout = 300)
{
    ct_config cfg;
    load(sheet_json, "", &cfg);
    ct_induce_protocol p;
    ct_induce_protocol_defaults(&p);
    ct_induce_result r;
    cr_assert_eq(ct_reentry_observe(&cfg, &ct_backend_cpu, 2, &p, 1, &r), CT_OK, "%s", ct_error_message());
    cr_assert(!r.inducible, "a plane wave leaves the sheet and the tissue rests");
    cr_assert_eq(r.n_ps, 0);
    /* it stopped early, once the tissue was at rest (the wave needs ~170 ms to cross, APD ~150 ms) */
    cr_assert(r.simulated_ms < 600, "simulated %g ms", r.simulated_ms);
    ct_config_free(&cfg);
}

Test(induce, backend_state_roundtrip_cpu, .timeout = 120)
{
    char why[512];
    cr_assert_eq(ct_test_state_roundtrip(&ct_backend_cpu, why, sizeof why), 0, "%s", why);
}

Test(induce, protocol_ranges_are_checked)
{
    ct_induce_protocol p;
    ct_induce_protocol_defaults(&p);
    cr_assert_eq(ct_induce_protocol_check(&p), CT_OK, "%s", ct_error_message());
    p.ci_start_ms = 100; /* below ci_min_ms */
    cr_assert_neq(ct_induce_protocol_check(&p), CT_OK);
    cr_assert(strstr(ct_error_message(), "ci_start_ms"), "%s", ct_error_message());
    ct_induce_protocol_defaults(&p);
    p.extra_stimuli = 4;
    cr_assert_neq(ct_induce_protocol_check(&p), CT_OK);
    cr_assert(strstr(ct_error_message(), "extra_stimuli"), "%s", ct_error_message());
    ct_induce_protocol_defaults(&p);
    p.observe_ms = NAN;
    cr_assert_neq(ct_induce_protocol_check(&p), CT_OK);
}

Test(lesion, specs_parse_and_bad_ones_are_refused)
{
    ct_lesion l;
    cr_assert_eq(ct_lesion_parse_spec("sphere:1,2,3,4", &l), CT_OK, "%s", ct_error_message());
    cr_assert_eq(l.shape, CT_LESION_SPHERE);
    cr_assert_float_eq(l.radius_mm, 4.0, 1e-12);
    cr_assert_eq(ct_lesion_parse_spec("line:0,0,0,10,0,0,1.5", &l), CT_OK, "%s", ct_error_message());
    cr_assert(ct_lesion_contains(&l, (double[3]){5, 1.4, 0}));
    cr_assert(!ct_lesion_contains(&l, (double[3]){5, 1.6, 0}));
    cr_assert(ct_lesion_contains(&l, (double[3]){11.0, 0, 0}), "the capsule's round end");
    cr_assert(!ct_lesion_contains(&l, (double[3]){11.6, 0, 0}));
    cr_assert_eq(ct_lesion_parse_spec("box:0,0,0,1,1,1", &l), CT_OK, "%s", ct_error_message());
    static const char *bad[] = {"sphere:1,2,3",   "sphere:1,2,3,-1", "line:0,0,0,1,1,1", "cube:0,0,0,1",
                                "sphere:1,2,x,4", "box:1,1,1,0,0,0", "sphere",           "sphere:1,2,3,4,5",
                                "sphere:nan,0,0,1"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        cr_assert_neq(ct_lesion_parse_spec(bad[k], &l), CT_OK, "accepted %s", bad[k]);
        cr_assert(strstr(ct_error_message(), "lesion"), "%s", ct_error_message());
    }
}

Test(lesion, makes_elements_non_conducting)
{
    /* a 10 x 2 x 1 mm bar cut in the middle by a box lesion: the far end never activates */
    static const char *fmt =
        "{\"mesh\": {\"type\": \"box\", \"size_mm\": [10, 2, 1], \"dx_mm\": 0.5},"
        " \"model\": {\"name\": \"mitchell_schaeffer\"},"
        " \"conductivity\": {\"sigma_l_S_per_m\": 0.1, \"sigma_t_S_per_m\": 0.1},"
        " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 60,"
        " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"}, %s"
        " \"stimuli\": [{\"box_min_mm\": [0, 0, 0], \"box_max_mm\": [1, 2, 1], \"amplitude_uA_per_uF\": 60,"
        " \"duration_ms\": 2}]}";
    for (int cut = 0; cut < 2; cut++) {
        ct_config cfg;
        load(fmt, cut ? "\"lesions\": [{\"shape\": \"box\", \"box_min_mm\": [4.9, -1, -1], \"box_max_mm\": [5.6, 3, 2]}],"
                      : "",
             &cfg);
        ct_sim *sim;
        cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
        if (cut) {
            cr_assert(sim->lesion_effect[0].n_elements > 0);
            cr_assert_float_eq(sim->lesion_effect[0].volume_mm3, 0.5 * 2 * 1, 1e-9, "one layer of cubes");
            cr_assert_eq(sim->lesion_effect[0].transmural, -1, "a box has no labelled surfaces");
        }
        ct_run_options ro = {.quiet = 1};
        ct_run_result r;
        cr_assert_eq(ct_sim_run(sim, &ct_backend_cpu, &ro, &r), CT_OK, "%s", ct_error_message());
        size_t far = 0, far_active = 0;
        for (size_t i = 0; i < sim->mesh->n_nodes; i++)
            if (sim->mesh->xyz_mm[3 * i] > 7.0) {
                far++;
                far_active += r.activation_ms[i] >= 0;
            }
        if (cut)
            cr_assert_eq(far_active, 0, "%zu of %zu nodes beyond the lesion activated", far_active, far);
        else
            cr_assert_eq(far_active, far, "without the lesion the whole bar activates");
        ct_run_result_free(&r);
        ct_sim_destroy(sim);
        ct_config_free(&cfg);
    }
}

Test(lesion, config_errors_name_the_lesion)
{
    static const char *fmt =
        "{\"mesh\": {\"type\": \"box\", \"size_mm\": [4, 2, 1], \"dx_mm\": 0.5}, \"model\": {\"name\": \"tp06\"},"
        " \"conductivity\": {\"sigma_l_S_per_m\": 0.1, \"sigma_t_S_per_m\": 0.1}, \"chi_per_mm\": 140,"
        " \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.02, \"end_time_ms\": 1,"
        " %s \"stimuli\": []}";
    struct {
        const char *lesions, *expect;
    } cases[] = {
        {"\"lesions\": [{\"shape\": \"cube\", \"center_mm\": [1, 1, 1], \"radius_mm\": 1}],", "lesions[0].shape"},
        {"\"lesions\": [{\"shape\": \"sphere\", \"center_mm\": [1, 1, 1]}],", "radius_mm"},
        {"\"lesions\": [{\"shape\": \"sphere\", \"center_mm\": [1, 1, 1], \"radius_mm\": 1, \"to_mm\": [0, 0, 0]}],",
         "does not apply"},
        {"\"lesions\": [{\"shape\": \"line\", \"from_mm\": [1, 1, 1], \"radius_mm\": 1}],", "to_mm"},
        {"\"lesions\": {\"shape\": \"sphere\"},", "must be an array"},
        {"\"tissue_regions\": [{\"shape\": \"sphere\", \"center_mm\": [1, 1, 1], \"radius_mm\": 1}],", "tissue"},
        {"\"tissue_regions\": [{\"tissue\": \"fat\", \"shape\": \"sphere\", \"center_mm\": [1, 1, 1], \"radius_mm\": 1}],",
         "fat"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char json[2048];
        snprintf(json, sizeof json, fmt, cases[k].lesions);
        ct_config cfg;
        cr_assert_neq(ct_config_parse(json, "lesion.json", &cfg), CT_OK, "accepted: %s", cases[k].lesions);
        cr_assert(strstr(ct_error_message(), cases[k].expect) && strstr(ct_error_message(), "lesion.json"),
                  "message \"%s\" should name %s", ct_error_message(), cases[k].expect);
    }
    /* a lesion outside the mesh is refused when the model is built, by name */
    char json[2048];
    snprintf(json, sizeof json, fmt,
             "\"lesions\": [{\"name\": \"far away\", \"shape\": \"sphere\", \"center_mm\": [100, 1, 1], \"radius_mm\": 1}],");
    ct_config cfg;
    cr_assert_eq(ct_config_parse(json, "lesion.json", &cfg), CT_OK, "%s", ct_error_message());
    ct_sim *sim;
    cr_assert_neq(ct_sim_create(&cfg, &sim), CT_OK);
    cr_assert(strstr(ct_error_message(), "far away") && strstr(ct_error_message(), "no element"), "%s",
              ct_error_message());
    ct_config_free(&cfg);
}
