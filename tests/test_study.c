/* test_study.c — `cardiotwin induce` and `cardiotwin ablate` end to end: the command runs the protocol
 * from each site, stores each site's result, resumes without redoing finished sites, applies lesions,
 * writes report.json and the self-contained report.html (tools/ct_report.py); and bad usage is refused
 * with a clear message.
 *
 * The tissue is the ring of tests/test_induce.c (a 40 x 40 mm Mitchell-Schaeffer sheet around a
 * non-conducting block, with a slow-recovery patch beside the pacing site), with a one-trial protocol so
 * that the whole command runs in seconds.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_test_util.h"

static const char *ring_json =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [40, 40, 0.5], \"dx_mm\": 0.5},"
    " \"model\": {\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_close_ms\": 80}},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.1, \"sigma_t_S_per_m\": 0.1},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 200,"
    " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"},"
    " \"tissue\": {\"border_zone\": {\"parameters\": {\"tau_close_ms\": 130}}},"
    " \"tissue_regions\": ["
    "   {\"name\": \"block\", \"tissue\": \"scar\", \"shape\": \"box\", \"box_min_mm\": [12, 12, -1], \"box_max_mm\": [28, 28, 1]},"
    "   {\"name\": \"slow recovery\", \"tissue\": \"border_zone\", \"shape\": \"box\", \"box_min_mm\": [22, 0, -1],"
    "    \"box_max_mm\": [30, 12, 1]}],"
    " \"max_beats\": 1, \"ecg\": {\"interval_ms\": 1},"
    " \"stimuli\": [{\"name\": \"sinus\", \"center_mm\": [5, 5, 0.25], \"radius_mm\": 3, \"amplitude_uA_per_uF\": 60,"
    "   \"duration_ms\": 2}]}";

static const char *sites_json = "{\"sites\": [{\"name\": \"beside patch\", \"position_mm\": [18, 5, 0.25]},"
                                " {\"name\": \"far side\", \"position_mm\": [5, 30, 0.25]}]}";

/* S1 twice at 500 ms, then S2 at 220 ms only: one trial per site */
static const char *protocol = "--s1-count 2 --s1-bcl-ms 500 --extra 1 --ci-start-ms 220 --ci-min-ms 220 --observe-ms 700 "
                              "--jobs 2 --quiet";

static char *dir;

static void setup(void)
{
    dir = ct_test_tmpdir("study");
    cr_assert(dir);
    char p[512];
    snprintf(p, sizeof p, "%s/ring.json", dir);
    cr_assert_eq(ct_test_write(p, ring_json), 0);
    snprintf(p, sizeof p, "%s/sites.json", dir);
    cr_assert_eq(ct_test_write(p, sites_json), 0);
}

static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}

static char *read_in(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return ct_test_read(p);
}

Test(study, ablate_reports_reentry_abolished_and_resumes, .init = setup, .fini = teardown, .timeout = 600)
{
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "ablate %s/ring.json --out %s/out --lesion line:-1,20,0.25,13,20,0.25,1 %s", dir, dir,
             protocol);
    int rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "ablate failed: %s", out);
    cr_assert(strstr(out, "re-entry inducible from 1 of 2 sites before ablation, 0 after"), "%s", out);
    cr_assert(strstr(out, "beside patch         inducible (cycle length ") &&
                  strstr(out, " ms) -> not inducible after ablation"),
              "the console names the inducing site and its VT cycle length: %s", out);
    free(out);

    char *report = read_in("out/report.json");
    cr_assert(report, "no report.json");
    cr_assert(strstr(report, "\"inducible_sites\":\t1") && strstr(report, "\"inducible_sites_after_ablation\":\t0"),
              "%s", report);
    cr_assert(strstr(report, "\"induced_by\":\t\"S2\""), "the inducing extra-stimulus is named");
    cr_assert(strstr(report, "\"transmural\":\tnull"), "a box has no labelled surfaces: transmurality unknown");
    cr_assert(strstr(report, "\"qrs_ms\""), "the baseline beat's ECG intervals are in the report");
    cr_assert(strstr(report, "\"inducing_sites\":\t[{") && strstr(report, "\"failed\":\t0"), "%s", report);
    cr_assert(strstr(report, "\"lesion_volume_mm3\":\t1"), "the lesion's volume (about 14 mm3) is counted apart "
              "from the scar's: %s", report);
    free(report);
    char *site = read_in("out/induction/site-01.json");
    cr_assert(site && strstr(site, "\"inducible\":\ttrue") && strstr(site, "\"cycle_length_ms\":\t"), "%s", site);
    cr_assert(!strstr(site, "\"cycle_length_ms\":\tnull"), "a cycle length was measured: %s", site);
    free(site);
    site = read_in("out/ablated/site-01.json");
    cr_assert(site && strstr(site, "\"inducible\":\tfalse"), "%s", site);
    free(site);

    char *html = read_in("out/report.html");
    cr_assert(html, "no report.html");
    cr_assert(strstr(html, "beside patch") && strstr(html, "far side"), "the sites are in the report");
    cr_assert(!strstr(html, "src=\"http"), "the report is self-contained");
    cr_assert(strstr(html, "Re-entry inducible from 1 of 2 sites: beside patch."), "the verdict names the site");
    cr_assert(strstr(html, "From beside patch: re-entry induced by S2 (coupling S2 220 ms); VT cycle length "),
              "the key findings give the VT cycle length");
    cr_assert(strstr(html, "plan view of the tissue") && !strstr(html, "(base up)"),
              "a sheet is drawn in plan view, not as a heart");
    cr_assert(strstr(html, "Ablation lesions (not in the scar"),
              "the volumes separate scar and lesion");
    free(html);
    static const char *pictures[] = {"out/ecg.png", "out/activation.png", "out/apd90.png", "out/baseline/ecg.csv"};
    for (size_t k = 0; k < sizeof pictures / sizeof pictures[0]; k++) {
        char p[512];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, pictures[k]);
        cr_assert(stat(p, &sb) == 0 && sb.st_size > 1000, "%s missing or empty", pictures[k]);
    }

    /* the same command again: every site is already done, nothing is simulated again */
    rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "re-entry inducible from 1 of 2 sites before ablation, 0 after"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "ablate %s/ring.json --out %s/out --lesion line:-1,20,0.25,13,20,0.25,1 %s", dir, dir,
             "--s1-count 2 --s1-bcl-ms 500 --extra 1 --ci-start-ms 220 --ci-min-ms 220 --observe-ms 700 --jobs 2");
    rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "site beside patch: already done"), "finished sites are not run again: %s", out);
    free(out);
}

Test(study, bad_usage_is_refused, .init = setup, .fini = teardown)
{
    struct {
        const char *args, *needle;
        int rc;
    } cases[] = {
        {"ablate %s/ring.json --out %s/o", "--lesion", 2},
        {"induce %s/ring.json --out %s/o --lesion sphere:1,1,0,2", "belongs to cardiotwin ablate", 2},
        {"ablate %s/ring.json --out %s/o --lesion sphere:1,1", "sphere needs 4 numbers", 2}, /* a malformed option: usage */
        {"ablate %s/ring.json --out %s/o --lesion sphere:100,100,0,1 --sites %s/sites.json", "contains no element", 1},
        {"induce %s/ring.json --out %s/o --site nowhere", "NAME:x,y,z", 2},
        {"induce %s/ring.json --out %s/o --sites %s/sites.json --only nobody", "no pacing site", 1},
        {"induce %s/ring.json --out %s/o --sites %s/sites.json --extra 7", "extra_stimuli", 1},
        {"induce %s/ring.json --out %s/o --sites %s/sites.json --s1-count x", "needs a number", 2},
        {"induce %s/ring.json --out %s/o --sites %s/ring.json", "unknown key", 1},
        {"induce %s/missing.json --out %s/o", "missing.json", 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char args[2048], *out = NULL;
        snprintf(args, sizeof args, cases[k].args, dir, dir, dir);
        int rc = ct_test_cli(args, &out);
        cr_assert_eq(rc, cases[k].rc, "%s: exit %d, expected %d: %s", args, rc, cases[k].rc, out);
        cr_assert(out && strstr(out, cases[k].needle), "%s: output does not mention \"%s\": %s", args,
                  cases[k].needle, out);
        free(out);
    }
}
