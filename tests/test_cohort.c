/* test_cohort.c — `cardiotwin cohort` end to end: a small cohort (Mitchell-Schaeffer and TP06 slabs under
 * pacing and drug variations) gives one row per run with the metrics of its metrics.json; a drug block
 * multiplies the member's own scales and lengthens the APD; a bad cohort (unknown key, a variation that
 * does not apply, an invalid run configuration) is refused before anything runs; a failing run is a row
 * and the cohort goes on; and a cohort killed outright (SIGKILL of its process group) resumes without
 * redoing the runs it had finished, each run in results.csv exactly once; under mpiexec (where MPI is built
 * in) the ranks share the runs out.
 *
 * The slabs are 4 x 1 x 1 mm (81 nodes): each run takes a fraction of a second.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ct_test_util.h"

/* A slab paced at its x = 0 end; %s: the model object, %s: extra top-level keys. */
static const char *slab_fmt =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [4, 1, 1], \"dx_mm\": 0.5},\n"
    " \"model\": %s,\n"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.13342},\n"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 400,\n"
    " \"stimuli\": [{\"name\": \"S1\", \"box_min_mm\": [0, 0, 0], \"box_max_mm\": [0.5, 1, 1],\n"
    "               \"amplitude_uA_per_uF\": 60, \"duration_ms\": 1}]%s}\n";

static char *dir;

static void write_in(const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(ct_test_write(p, text), 0, "cannot write %s", p);
}

static void write_slab(const char *name, const char *model, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof text, slab_fmt, model, extra);
    write_in(name, text);
}

static char *read_in(const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return ct_test_read(p);
}

static int exists_in(const char *name)
{
    char p[1024];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0;
}

/* stat() of DIR/name, which must exist. */
static struct stat stat_in(const char *name)
{
    char p[1024];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(stat(p, &sb), 0, "%s missing", p);
    return sb;
}

/* Same inode and modification time: not rewritten. */
static int same_file(struct stat a, struct stat b)
{
    return a.st_ino == b.st_ino && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

static void setup(void)
{
    dir = ct_test_tmpdir("cohort");
    cr_assert(dir);
    write_slab("ms.json", "{\"name\": \"mitchell_schaeffer\"}", "");
    write_slab("tp06.json", "{\"name\": \"tp06\", \"cell_type\": \"epi\"}", ", \"ecg\": {\"interval_ms\": 1}");
    /* a run with an ECG draws ecg.png with Python; the picture is not what these tests check */
    setenv("CARDIOTWIN_PYTHON", "true", 1);
}

static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}

TestSuite(cohort, .init = setup, .fini = teardown);

/* Runs `cardiotwin cohort DIR/<cohort> --out DIR/<out> <options>`; returns the exit status. */
static int cohort(const char *cohort_name, const char *out_name, const char *options, char **output)
{
    char args[2048];
    snprintf(args, sizeof args, "cohort %s/%s --out %s/%s %s", dir, cohort_name, dir, out_name, options);
    return ct_test_cli(args, output);
}

/* ---- results.csv ------------------------------------------------------------------------------------------ */

#define MAX_ROWS 16
#define MAX_COLS 48

typedef struct table {
    int n_rows, n_cols;
    char *header[MAX_COLS];
    char *cell[MAX_ROWS][MAX_COLS];
    char *text;
} table;

/* Splits a CSV without quoted line breaks (quoted commas and "" are handled). */
static void parse_csv(char *text, table *t)
{
    memset(t, 0, sizeof *t);
    t->text = text;
    int row = -1;
    for (char *line = text; line && *line; row++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cr_assert(row < MAX_ROWS, "too many rows");
        int col = 0;
        char *p = line;
        for (;;) {
            cr_assert(col < MAX_COLS, "too many columns");
            char *start = p, *w = p;
            if (*p == '"') {
                start = w = ++p;
                while (*p && !(*p == '"' && p[1] != '"')) {
                    if (*p == '"')
                        p++;
                    *w++ = *p++;
                }
                if (*p == '"')
                    p++;
            } else {
                while (*p && *p != ',')
                    p++;
                w = p;
            }
            char end = *p;
            *w = '\0';
            if (row < 0)
                t->header[col] = start;
            else
                t->cell[row][col] = start;
            col++;
            if (end != ',')
                break;
            p++;
        }
        if (row < 0)
            t->n_cols = col;
        else
            cr_assert_eq(col, t->n_cols, "row %d has %d cells, the header %d", row, col, t->n_cols);
        line = nl ? nl + 1 : NULL;
    }
    t->n_rows = row;
}

static table *load_results(const char *out_name)
{
    char name[512];
    snprintf(name, sizeof name, "%s/results.csv", out_name);
    char *text = read_in(name);
    cr_assert(text, "no %s", name);
    table *t = malloc(sizeof *t);
    parse_csv(text, t);
    return t;
}

static void free_table(table *t)
{
    free(t->text);
    free(t);
}

static const char *cell(const table *t, int row, const char *column)
{
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->header[c], column) == 0)
            return t->cell[row][c];
    cr_assert_fail("results.csv has no column %s", column);
    return NULL;
}

static double number(const table *t, int row, const char *column)
{
    const char *v = cell(t, row, column);
    cr_assert(v[0], "row %d (%s): %s is empty", row, t->cell[row][0], column);
    return strtod(v, NULL);
}

/* ---- the tests --------------------------------------------------------------------------------------------- */

Test(cohort, rows_per_run_with_metrics_and_a_rerun_reuses_them, .timeout = 300)
{
    write_in("c.json", "{\"description\": \"two slabs at two rates\",\n"
                       " \"members\": [{\"config\": \"ms.json\"}, {\"config\": \"tp06.json\"}],\n"
                       " \"variations\": {\"pacing\": [\n"
                       "   {\"name\": \"slow\", \"period_ms\": 600, \"count\": 2, \"end_time_ms\": 1000},\n"
                       "   {\"name\": \"fast\", \"period_ms\": 400, \"count\": 2, \"end_time_ms\": 800}]}}\n");
    char *out = NULL;
    int rc = cohort("c.json", "out", "--jobs 2", &out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);

    table *t = load_results("out");
    cr_assert_eq(t->n_rows, 4);
    const char *ids[] = {"ms__fast", "ms__slow", "tp06__fast", "tp06__slow"}; /* run-id order */
    const char *header[] = {"run_id", "member", "pacing", "pacing_period_ms", "pacing_count", "status", "message",
                            "total_activation_time_ms"};
    for (int c = 0; c < 8; c++)
        cr_assert_str_eq(t->header[c], header[c]);
    for (int r = 0; r < 4; r++) {
        cr_assert_str_eq(t->cell[r][0], ids[r]);
        cr_assert_str_eq(cell(t, r, "status"), "completed", "%s: %s", ids[r], cell(t, r, "message"));
        cr_assert_str_eq(cell(t, r, "message"), "");
        cr_assert_str_eq(cell(t, r, "member"), r < 2 ? "ms" : "tp06");
        cr_assert_eq(number(t, r, "pacing_period_ms"), r % 2 ? 600 : 400);
        cr_assert_eq(number(t, r, "pacing_count"), 2);
        double tat = number(t, r, "total_activation_time_ms"), apd = number(t, r, "apd90_mean_ms");
        cr_assert(tat > 3 && tat < 20, "%s: total activation time %g ms", ids[r], tat);
        cr_assert(apd > 200 && apd < 350, "%s: APD90 %g ms", ids[r], apd);
        number(t, r, "apd90_sd_ms");
        number(t, r, "repolarisation_dispersion_ms");
        number(t, r, "max_rt_gradient_ms_per_mm");
        cr_assert(number(t, r, "wall_time_s") > 0);
        cr_assert(number(t, r, "node_steps_per_s") > 0);
        /* the ECG only where the configuration asks for one: an empty cell otherwise */
        cr_assert_eq(cell(t, r, "qrs_ms")[0] != '\0', r >= 2, "%s: qrs_ms \"%s\"", ids[r], cell(t, r, "qrs_ms"));
        char name[256];
        snprintf(name, sizeof name, "out/runs/%s/metrics.json", ids[r]);
        char *m = read_in(name);
        cr_assert(m && strstr(m, "\"config_hash\""), "%s has no cohort stamp", name);
        free(m);
        snprintf(name, sizeof name, "out/runs/%s/config.json", ids[r]);
        cr_assert(exists_in(name), "%s missing", name);
    }
    /* TP06 adapts to rate: the second beat is shorter at 400 ms than at 600 ms */
    cr_assert_eq(number(t, 2, "last_beat"), 2);
    cr_assert_eq(number(t, 3, "last_beat"), 2);
    double fast = number(t, 2, "last_beat_apd90_mean_ms"), slow = number(t, 3, "last_beat_apd90_mean_ms");
    cr_assert(fast + 10 < slow, "last-beat APD90 %g (400 ms) vs %g (600 ms)", fast, slow);
    free_table(t);
    char *summary = read_in("out/cohort.json");
    cr_assert(summary && strstr(summary, "\"runs\":\t4") && strstr(summary, "\"completed\":\t4") &&
                  strstr(summary, "\"failed\":\t0"),
              "%s", summary);
    free(summary);

    /* the same command again: nothing to do, nothing rewritten */
    struct stat before = stat_in("out/runs/tp06__slow/metrics.json");
    rc = cohort("c.json", "out", "--jobs 2", &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "4 runs, 4 already done"), "%s", out);
    free(out);
    cr_assert(same_file(before, stat_in("out/runs/tp06__slow/metrics.json")), "a finished run was redone");
}

Test(cohort, drug_block_multiplies_the_members_scales_and_prolongs_apd, .timeout = 300)
{
    write_slab("tp06_lqt.json", "{\"name\": \"tp06\", \"conductance_scales\": {\"G_Kr\": 0.5}}", "");
    write_in("c.json", "{\"members\": [{\"name\": \"slab\", \"config\": \"tp06_lqt.json\"}],\n"
                       " \"variations\": {\"drug\": [{\"name\": \"control\"},\n"
                       "   {\"name\": \"ikr_block\", \"conductance_scales\": {\"G_Kr\": 0.2, \"G_Ks\": 0.5}}],\n"
                       "   \"end_time_ms\": [700]}}\n");
    char *out = NULL;
    int rc = cohort("c.json", "out", "--jobs 2 --quiet", &out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    table *t = load_results("out");
    cr_assert_eq(t->n_rows, 2);
    cr_assert_str_eq(t->cell[0][0], "slab__control__t700ms");
    cr_assert_str_eq(t->cell[1][0], "slab__ikr_block__t700ms");
    cr_assert_str_eq(cell(t, 1, "drug"), "ikr_block");
    double control = number(t, 0, "apd90_mean_ms"), blocked = number(t, 1, "apd90_mean_ms");
    cr_assert(blocked > control + 20, "APD90 %g ms with the block, %g without", blocked, control);
    free_table(t);
    /* the run's own configuration: 0.5 (the member's) x 0.2 (the drug's) */
    char *c = read_in("out/runs/slab__ikr_block__t700ms/config.json");
    cr_assert(c && strstr(c, "\"G_Kr\":\t0.1") && strstr(c, "\"G_Ks\":\t0.5"), "%s", c);
    free(c);
}

static const char *patient_fmt =
    "{\"geometry\": {\"type\": \"lv_ellipsoid\", \"h_mm\": 3.0},"
    " \"conduction\": {\"sigma_l_S_per_m\": %s, \"sigma_t_S_per_m\": 0.2},"
    " \"pacing\": [{\"name\": \"lateral\", \"aha_segment\": 11, \"radius_mm\": 3}],"
    " \"simulation\": {\"dt_ms\": 0.05, \"end_time_ms\": 15, \"output_interval_ms\": 0}}";

Test(cohort, patients_are_personalised_once_and_redone_when_they_change, .timeout = 300)
{
    char text[2048];
    snprintf(text, sizeof text, patient_fmt, "0.5");
    write_in("lv.json", text);
    write_in("c.json", "{\"members\": [{\"patient\": \"lv.json\"}, {\"config\": \"tp06.json\"}],"
                       " \"variations\": {\"drug\": [{\"name\": \"control\"},"
                       " {\"name\": \"ikr\", \"conductance_scales\": {\"G_Kr\": 0.5}}], \"end_time_ms\": [15]}}");
    char *out = NULL;
    int rc = cohort("c.json", "out", "--jobs 2", &out);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    table *t = load_results("out");
    cr_assert_eq(t->n_rows, 4);
    cr_assert_str_eq(t->cell[0][0], "lv__control__t15ms");
    for (int r = 0; r < 4; r++)
        cr_assert_str_eq(cell(t, r, "status"), "completed", "%s: %s", t->cell[r][0], cell(t, r, "message"));
    free_table(t);
    /* the run's configuration is the personalised model's, its mesh named by an absolute path */
    char *c = read_in("out/runs/lv__ikr__t15ms/config.json");
    char heart[1024], *real = realpath(dir, NULL);
    snprintf(heart, sizeof heart, "\"path\":\t\"%s/out/models/lv/heart.vtu\"", real);
    free(real);
    cr_assert(c && strstr(c, heart) && strstr(c, "\"G_Kr\":\t0.5"), "%s", c);
    free(c);
    struct stat model = stat_in("out/models/lv/model.json");
    struct stat lv_run = stat_in("out/runs/lv__control__t15ms/metrics.json");
    struct stat slab_run = stat_in("out/runs/tp06__control__t15ms/metrics.json");

    /* again: not personalised again, nothing run */
    rc = cohort("c.json", "out", "--jobs 2", &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "member lv: already personalised") && strstr(out, "4 runs, 4 already done"), "%s", out);
    free(out);
    cr_assert(same_file(model, stat_in("out/models/lv/model.json")));

    /* a changed patient is personalised again and its runs redone; the slab's stay */
    snprintf(text, sizeof text, patient_fmt, "0.4");
    write_in("lv.json", text);
    rc = cohort("c.json", "out", "--jobs 2", &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "member lv: personalising") && strstr(out, "4 runs, 2 already done"), "%s", out);
    free(out);
    cr_assert(!same_file(lv_run, stat_in("out/runs/lv__control__t15ms/metrics.json")),
              "the changed patient's run was reused");
    cr_assert(same_file(slab_run, stat_in("out/runs/tp06__control__t15ms/metrics.json")), "the slab's run was redone");
}

/* The cohort is refused with a message holding each needle, and nothing is run. */
static void expect_refusal(const char *cohort_json, const char *needle1, const char *needle2)
{
    write_in("bad.json", cohort_json);
    char *out = NULL;
    int rc = cohort("bad.json", "refused", "--quiet", &out);
    cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
    cr_assert(strstr(out, needle1) && (!needle2 || strstr(out, needle2)), "message lacks \"%s\"/\"%s\": %s",
              needle1, needle2 ? needle2 : "", out);
    cr_assert(!exists_in("refused/runs"), "a refused cohort started runs");
    free(out);
}

Test(cohort, bad_cohorts_are_refused_before_anything_runs, .timeout = 120)
{
    expect_refusal("{\"members\": [{\"config\": \"ms.json\"}], \"variatons\": {}}",
                   "bad.json: unknown key \"variatons\"", NULL);
    expect_refusal("{\"members\": [{\"config\": \"tp06.json\"}],"
                   " \"variations\": {\"drug\": [{\"name\": \"d\", \"scales\": {\"G_Kr\": 0.5}}]}}",
                   "bad.json: unknown key \"variations.drug[0].scales\"", NULL);
    expect_refusal("{\"members\": [{\"config\": \"tp06.json\", \"configuration\": \"ms.json\"}]}",
                   "unknown key \"members[0].configuration\"", NULL);
    /* G_Kr block on a Mitchell-Schaeffer member does not apply */
    expect_refusal("{\"members\": [{\"config\": \"tp06.json\"}, {\"config\": \"ms.json\"}],"
                   " \"variations\": {\"drug\": [{\"name\": \"control\"},"
                   " {\"name\": \"dofetilide\", \"conductance_scales\": {\"G_Kr\": 0.5}}]}}",
                   "variations.drug[1] (\"dofetilide\") does not apply to member \"ms\"", "mitchell_schaeffer");
    /* a conductance TP06 does not have, named with the run it would have made */
    expect_refusal("{\"members\": [{\"config\": \"tp06.json\"}],"
                   " \"variations\": {\"drug\": [{\"name\": \"x\", \"conductance_scales\": {\"G_Krr\": 0.5}}]}}",
                   "run tp06__x", "model.conductance_scales.G_Krr");
    /* a pacing that makes one run's configuration invalid stops them all */
    expect_refusal("{\"members\": [{\"config\": \"ms.json\"}],"
                   " \"variations\": {\"pacing\": [{\"period_ms\": 500, \"count\": 2},"
                   " {\"period_ms\": 0.5, \"count\": 3}]}}",
                   "run ms__bcl0.5x3", "period_ms (0.5) must be at least duration_ms");
    expect_refusal("{\"members\": [{\"config\": \"ms.json\"}], \"variations\": {\"dt_ms\": [0.05, -1]}}",
                   "variations.dt_ms[1] must be a number > 0", NULL);
    expect_refusal("{\"members\": [{\"config\": \"missing.json\"}]}", "bad.json: members[0]: ", "missing.json");
    expect_refusal("{\"members\": [{\"config\": \"ms.json\"}, {\"config\": \"ms.json\"}]}",
                   "member name \"ms\" is used twice", NULL);
    /* usage */
    char *out = NULL;
    cr_assert_eq(ct_test_cli("cohort", &out), 2);
    cr_assert(strstr(out, "usage: cardiotwin cohort"), "%s", out);
    free(out);
    cr_assert_eq(cohort("bad.json", "refused", "--jobs 0", &out), 2);
    cr_assert(strstr(out, "--jobs needs a whole number"), "%s", out);
    free(out);
}

Test(cohort, a_failing_run_is_a_row_and_the_others_go_on, .timeout = 120)
{
    /* dt 1 ms is past the explicit stability limit of this slab: that run fails when it starts */
    write_in("c.json", "{\"members\": [{\"config\": \"ms.json\"}], \"variations\": {\"dt_ms\": [0.05, 1]}}");
    char *out = NULL;
    int rc = cohort("c.json", "out", "--jobs 2 --quiet", &out);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "1 of 2 runs failed"), "%s", out);
    free(out);
    table *t = load_results("out");
    cr_assert_eq(t->n_rows, 2);
    cr_assert_str_eq(t->cell[0][0], "ms__dt0.05ms");
    cr_assert_str_eq(cell(t, 0, "status"), "completed");
    cr_assert_str_eq(t->cell[1][0], "ms__dt1ms");
    cr_assert_str_eq(cell(t, 1, "status"), "failed");
    cr_assert(strstr(cell(t, 1, "message"), "dt_ms = 1 is too large for explicit diffusion"), "%s",
              cell(t, 1, "message"));
    cr_assert_str_eq(cell(t, 1, "apd90_mean_ms"), "");
    free_table(t);
    char *summary = read_in("out/cohort.json");
    cr_assert(summary && strstr(summary, "\"failed\":\t1") && strstr(summary, "\"run_id\":\t\"ms__dt1ms\""), "%s",
              summary);
    free(summary);
}

/* ---- kill and resume ----------------------------------------------------------------------------------------- */

#define N_KILL_RUNS 8

/* Runs of out/runs/ whose metrics.json is a finished, stamped result; their stat() in st (may be NULL). */
static int finished_runs(const char *out_name, char names[][64], struct stat *st)
{
    char runs[1024];
    snprintf(runs, sizeof runs, "%s/%s/runs", dir, out_name);
    DIR *d = opendir(runs);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < N_KILL_RUNS) {
        if (e->d_name[0] == '.')
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s/metrics.json", runs, e->d_name);
        char *m = ct_test_read(p);
        if (m && strstr(m, "\"status\":\t\"completed\"") && strstr(m, "\"config_hash\"")) {
            if (names)
                snprintf(names[n], 64, "%.63s", e->d_name);
            if (st)
                stat(p, &st[n]);
            n++;
        }
        free(m);
    }
    closedir(d);
    return n;
}

Test(cohort, killed_outright_then_resumed_without_redoing_finished_runs, .timeout = 300)
{
    write_in("c.json", "{\"members\": [{\"config\": \"ms.json\"}],"
                       " \"variations\": {\"end_time_ms\": [300, 320, 340, 360, 380, 400, 420, 440]}}");
    char cohort_path[1024], out_path[1024];
    snprintf(cohort_path, sizeof cohort_path, "%s/c.json", dir);
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) { /* the cohort and its runs in a process group of their own */
        setpgid(0, 0);
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(CT_BINARY, CT_BINARY, "cohort", cohort_path, "--out", out_path, "--jobs", "2", "--quiet", (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    /* wait until at least one run has finished, then kill the whole group at once */
    struct timespec pause = {0, 2000000};
    double waited = 0;
    while (finished_runs("out", NULL, NULL) == 0 && waited < 120) {
        nanosleep(&pause, NULL);
        waited += 0.002;
        int status;
        cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "the cohort ended before it could be killed");
    }
    cr_assert_eq(kill(-pid, SIGKILL), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    struct timespec settle = {0, 100000000}; /* the killed runs' processes are gone too */
    nanosleep(&settle, NULL);

    char done[N_KILL_RUNS][64];
    struct stat before[N_KILL_RUNS];
    int n_done = finished_runs("out", done, before);
    cr_assert(n_done >= 1 && n_done < N_KILL_RUNS, "%d of %d runs finished before the kill", n_done, N_KILL_RUNS);
    cr_assert(!exists_in("out/results.csv"), "results.csv is written only at the end");

    /* the same command again finishes the rest */
    char *out = NULL;
    int rc = cohort("c.json", "out", "--jobs 2", &out);
    cr_assert_eq(rc, 0, "%s", out);
    char expect[128];
    snprintf(expect, sizeof expect, "%d runs, %d already done", N_KILL_RUNS, n_done);
    cr_assert(strstr(out, expect), "expected \"%s\": %s", expect, out);
    free(out);

    /* finished runs were not redone */
    for (int k = 0; k < n_done; k++) {
        char name[128];
        snprintf(name, sizeof name, "out/runs/%.63s/metrics.json", done[k]);
        cr_assert(same_file(before[k], stat_in(name)), "run %s was redone", done[k]);
    }
    /* every run exactly once, in id order, all completed */
    table *t = load_results("out");
    cr_assert_eq(t->n_rows, N_KILL_RUNS);
    for (int r = 0; r < N_KILL_RUNS; r++) {
        char id[64];
        snprintf(id, sizeof id, "ms__t%dms", 300 + 20 * r);
        cr_assert_str_eq(t->cell[r][0], id);
        cr_assert_str_eq(cell(t, r, "status"), "completed", "%s: %s", id, cell(t, r, "message"));
        cr_assert_eq(number(t, r, "end_time_ms"), 300 + 20 * r);
    }
    free_table(t);
    char *summary = read_in("out/cohort.json");
    char reused[64];
    snprintf(reused, sizeof reused, "\"reused\":\t%d", n_done);
    cr_assert(summary && strstr(summary, reused) && strstr(summary, "\"completed\":\t8"), "%s", summary);
    free(summary);
}

/* ---- MPI ---------------------------------------------------------------------------------------------------- */

#if defined(CT_HAVE_MPI) && defined(CT_MPIEXEC)
/* Two ranks run two runs each; each run is a serial process of its own (one that took itself for a rank of
 * the cohort's job would hang or fail). */
Test(cohort, mpi_ranks_share_the_runs, .timeout = 300)
{
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1); /* where the tests run as root */
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    write_in("c.json", "{\"members\": [{\"config\": \"ms.json\"}, {\"config\": \"tp06.json\"}],"
                       " \"variations\": {\"end_time_ms\": [300, 400]}}");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2 %s %s cohort %s/c.json --out %s/out --quiet", CT_MPIEXEC, CT_MPIEXEC_NP,
             CT_MPIEXEC_PREFLAGS, CT_BINARY, dir, dir);
    char *log = NULL;
    int rc = ct_test_shell(cmd, &log);
    cr_assert_eq(rc, 0, "%s\n%s", cmd, log ? log : "");
    free(log);
    table *t = load_results("out");
    cr_assert_eq(t->n_rows, 4);
    int ran_on[2] = {0, 0};
    for (int r = 0; r < 4; r++) {
        cr_assert_str_eq(cell(t, r, "status"), "completed", "%s: %s", t->cell[r][0], cell(t, r, "message"));
        char name[256];
        snprintf(name, sizeof name, "out/runs/%s/metrics.json", t->cell[r][0]);
        char *m = read_in(name);
        const char *rank = m ? strstr(m, "\"mpi_rank\":\t") : NULL;
        cr_assert(rank, "%s: no mpi_rank in %s", name, m);
        ran_on[atoi(rank + 12) == 1]++;
        free(m);
    }
    cr_assert(ran_on[0] == 2 && ran_on[1] == 2, "runs per rank: %d and %d", ran_on[0], ran_on[1]);
    free_table(t);
    char *summary = read_in("out/cohort.json");
    cr_assert(summary && strstr(summary, "\"mpi_ranks\":\t2") && strstr(summary, "\"completed\":\t4"), "%s", summary);
    free(summary);
}
#endif
