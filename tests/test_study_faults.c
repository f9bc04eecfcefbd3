/* test_study_faults.c — `cardiotwin induce` when a site's trial fails: the command exits non-zero, the site
 * is reported as failed with its reason (report.json, report.html, the console), not as "not inducible";
 * a rerun into the same folder runs the failed sites again and keeps the finished ones; a study whose
 * process was killed resumes.
 *
 * Failures are made two ways: a site outside the mesh (its simulation refuses to start: a configuration
 * error) and CARDIOTWIN_TEST_CRASH_SITE=NAME, which makes the process running site NAME kill itself
 * (host/study/ct_study.c; for tests only): with --jobs 2 that is a crashed worker, with --jobs 1 a killed
 * study. The tissue is the ring sheet of tests/test_study.c; its sites here are not inducible, so each
 * trial stops as soon as the tissue rests (seconds). One test, with no simulation, gives the study's error
 * (ct_study_failed_sites_error) a report whose failed-site entries lack members.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct_status.h"
#include "ct_test_util.h"
#include "study/ct_study.h"

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
    " \"stimuli\": [{\"name\": \"sinus\", \"center_mm\": [5, 5, 0.25], \"radius_mm\": 3, \"amplitude_uA_per_uF\": 60,"
    "   \"duration_ms\": 2}]}";

/* far side and crasher: not inducible (one trial each); outside: no node within the stimulus */
static const char *sites_json = "{\"sites\": [{\"name\": \"far side\", \"position_mm\": [5, 30, 0.25]},"
                                " {\"name\": \"outside\", \"position_mm\": [100, 100, 0.25]},"
                                " {\"name\": \"crasher\", \"position_mm\": [35, 35, 0.25]}]}";
static const char *two_sites_json = "{\"sites\": [{\"name\": \"far side\", \"position_mm\": [5, 30, 0.25]},"
                                    " {\"name\": \"crasher\", \"position_mm\": [35, 35, 0.25]}]}";

static const char *protocol = "--s1-count 2 --s1-bcl-ms 500 --extra 1 --ci-start-ms 220 --ci-min-ms 220 "
                              "--observe-ms 700 --no-baseline";

static char *dir;

static void setup(void)
{
    dir = ct_test_tmpdir("study_faults");
    cr_assert(dir);
    char p[512];
    snprintf(p, sizeof p, "%s/ring.json", dir);
    cr_assert_eq(ct_test_write(p, ring_json), 0);
    snprintf(p, sizeof p, "%s/sites.json", dir);
    cr_assert_eq(ct_test_write(p, sites_json), 0);
    snprintf(p, sizeof p, "%s/two.json", dir);
    cr_assert_eq(ct_test_write(p, two_sites_json), 0);
}

static void teardown(void)
{
    unsetenv("CARDIOTWIN_TEST_CRASH_SITE");
    unsetenv("OMP_NUM_THREADS");
    ct_test_rmtree(dir);
    free(dir);
}

static char *read_in(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return ct_test_read(p);
}

Test(study_faults, failed_sites_exit_nonzero_are_reported_and_rerun, .init = setup, .fini = teardown,
     .timeout = 600)
{
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "induce %s/ring.json --sites %s/sites.json --out %s/out %s --jobs 2", dir, dir, dir,
             protocol);
    setenv("CARDIOTWIN_TEST_CRASH_SITE", "crasher", 1);
    int rc = ct_test_cli(args, &out);
    unsetenv("CARDIOTWIN_TEST_CRASH_SITE");
    cr_assert_neq(rc, 0, "a failed site must make induce fail: %s", out);
    /* the console: each failure names the site and the reason; the summary does not call them not inducible */
    cr_assert(strstr(out, "outside") && strstr(out, "covers no mesh node"), "%s", out);
    cr_assert(strstr(out, "site crasher: its process ended abnormally (signal 9"), "%s", out);
    cr_assert(strstr(out, "re-entry inducible from 0 of 3 sites (2 trials FAILED: not counted)"), "%s", out);
    cr_assert(strstr(out, "far side             not inducible"), "%s", out);
    cr_assert(strstr(out, "outside              FAILED (") && strstr(out, "crasher              FAILED ("), "%s", out);
    cr_assert(strstr(out, "2 site trials failed"), "the error message lists the failures: %s", out);
    free(out);

    char *report = read_in("out/report.json");
    cr_assert(report, "the report is written even when sites failed");
    cr_assert(strstr(report, "\"failed\":\t2"), "%s", report);
    cr_assert(strstr(report, "\"status\":\t\"failed\""), "%s", report);
    cr_assert(strstr(report, "\"error\":\t\"configuration error\""), "the site outside: %s", report);
    free(report);
    char *site = read_in("out/induction/site-02.json");
    cr_assert(site && strstr(site, "\"status\":\t\"failed\"") && strstr(site, "\"inducible\":\tnull"),
              "a failed site is not \"not inducible\": %s", site);
    free(site);
    site = read_in("out/induction/site-03.json");
    cr_assert(site && strstr(site, "\"status\":\t\"failed\"") && strstr(site, "ended abnormally"), "%s", site);
    free(site);
    char *html = read_in("out/report.html");
    cr_assert(html, "no report.html");
    cr_assert(strstr(html, "FAILED: site outside") && strstr(html, "FAILED: site crasher"), "key findings");
    cr_assert(strstr(html, "2 more sites failed and were not counted: outside, crasher"), "the verdict");
    free(html);

    /* the rerun: the finished site is kept, both failed sites run again; the crash is gone now */
    rc = ct_test_cli(args, &out);
    cr_assert_neq(rc, 0, "outside still fails: %s", out);
    cr_assert(strstr(out, "site far side: already done"), "%s", out);
    cr_assert(strstr(out, "site outside failed in an earlier run: running it again"), "%s", out);
    cr_assert(strstr(out, "site crasher failed in an earlier run: running it again"), "%s", out);
    cr_assert(strstr(out, "crasher              not inducible"), "%s", out);
    cr_assert(strstr(out, "1 site trial failed"), "%s", out);
    free(out);
    site = read_in("out/induction/site-03.json");
    cr_assert(site && strstr(site, "\"status\":\t\"ok\"") && strstr(site, "\"inducible\":\tfalse"), "%s", site);
    free(site);
}

Test(study_faults, killed_study_resumes_with_finished_sites_kept, .init = setup, .fini = teardown, .timeout = 600)
{
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "induce %s/ring.json --sites %s/two.json --out %s/out %s --jobs 1", dir, dir, dir,
             protocol);
    /* one process: the crash of the second site kills the whole study after the first was stored (one
     * OpenMP thread: threads that spin-wait crawl on a busy two-core machine) */
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("CARDIOTWIN_TEST_CRASH_SITE", "crasher", 1);
    int rc = ct_test_cli(args, &out);
    unsetenv("CARDIOTWIN_TEST_CRASH_SITE");
    cr_assert_neq(rc, 0, "%s", out);
    free(out);
    char *site = read_in("out/induction/site-01.json");
    cr_assert(site && strstr(site, "\"status\":\t\"ok\""), "the first site was stored before the kill: %s", site);
    free(site);
    char *report = read_in("out/report.json");
    cr_assert_null(report, "a killed study has written no report");

    rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "the resumed study completes: %s", out);
    cr_assert(strstr(out, "site far side: already done"), "%s", out);
    cr_assert(strstr(out, "re-entry inducible from 0 of 2 sites\n"), "%s", out);
    free(out);
}

/* The error made from a report whose failed_sites entries lack members (cJSON leaves a member out when memory
 * runs short): no NULL is read; the missing members are named, the present ones kept, the first entry's code
 * used when it names one. Fast: no simulation. */
Test(study_faults, failed_sites_error_with_missing_members)
{
    cJSON *report = cJSON_Parse("{\"summary\": {\"failed_sites\": ["
                                " {\"phase\": \"induction\", \"error\": \"configuration error\"},"
                                " {\"name\": \"apex\", \"message\": 7},"
                                " {}]}}");
    cr_assert(report);
    ct_status st = ct_study_failed_sites_error(report, NULL);
    const char *msg = ct_error_message();
    cr_assert_eq(st, CT_ERR_CONFIG, "the first failure's code: %d (%s)", st, msg);
    cr_assert(strstr(msg, "3 site trials failed"), "%s", msg);
    cr_assert(strstr(msg, "[(unnamed site), induction: no message]"), "%s", msg);
    cr_assert(strstr(msg, "[apex, (unknown phase): no message]"), "%s", msg);
    cr_assert(strstr(msg, "[(unnamed site), (unknown phase): no message]"), "%s", msg);
    cJSON_Delete(report);

    report = cJSON_Parse("{\"summary\": {\"failed_sites\": [{\"name\": \"a\", \"error\": 3}]}}");
    cr_assert_eq(ct_study_failed_sites_error(report, "out"), CT_ERR_INTERNAL, "an error that is not a name");
    cJSON_Delete(report);
    report = cJSON_Parse("{}");
    cr_assert_eq(ct_study_failed_sites_error(report, "out"), CT_ERR_INTERNAL, "no summary at all");
    cr_assert(strstr(ct_error_message(), "0 site trials failed"), "%s", ct_error_message());
    cJSON_Delete(report);
}
