/* test_faults.c — faults found by trying the cardiotwin command (issue 12), each checked where a user meets
 * it, through the binary: a run stopped by SIGINT or SIGTERM keeps its results and exits 130 or 143; two
 * runs into one folder cannot both write it, while the lock file of a dead run blocks nobody; --stop-at says
 * "stopped" and names the checkpoint; a restart into another folder lists only the frames that are there and
 * counts its steps one way; an inverted element is reported, a NaN coordinate named as the node it is; no
 * QT interval without repolarisation; a run says how big it is and when it will end; every command has
 * --help and every usage error exits 2. */
#define _DEFAULT_SOURCE /* flock, dirent */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mesh/ct_mesh.h"
#include "ct_test_util.h"
#include "mesh_io/ct_mesh_io.h"

/* A 4 x 1 x 1 mm Mitchell-Schaeffer strand (81 nodes) paced at x = 0, a frame every 5 ms; END_MS and the
 * ECG part are filled in. */
static const char *cfg_text =
    "{\"mesh\": %s,\n"
    " \"model\": {\"name\": \"mitchell_schaeffer\"},\n"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.13342},\n"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": %s,\n"
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": 50, "
    "\"duration_ms\": 1}],\n"
    " \"output\": {\"interval_ms\": 5}%s}\n";
static const char *box_mesh = "{\"type\": \"box\", \"size_mm\": [4, 1, 1], \"dx_mm\": 0.5}";

static char *dir;

static void setup(void)
{
    dir = ct_test_tmpdir("faults");
    cr_assert(dir);
}

static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}

TestSuite(faults, .init = setup, .fini = teardown);

static const char *in_dir(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_cfg(const char *name, const char *mesh, const char *end_ms, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof text, cfg_text, mesh, end_ms, extra);
    cr_assert_eq(ct_test_write(in_dir(name), text), 0);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* `cardiotwin ARGS` (words separated by single spaces, no quoting) in the background, stdout and stderr
 * into log; returns its pid. */
static pid_t start_cli(const char *args, const char *log)
{
    char buf[4096], *argv[32];
    snprintf(buf, sizeof buf, "%s", args);
    int n = 0;
    argv[n++] = (char *)CT_BINARY;
    for (char *w = strtok(buf, " "); w && n < 31; w = strtok(NULL, " "))
        argv[n++] = w;
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(CT_BINARY, argv);
        _exit(127);
    }
    return pid;
}

/* Waits (up to 300 s, not a timing assertion: a bound on a hang) until path exists. */
static void wait_for(const char *path, pid_t pid)
{
    for (int i = 0; i < 3000 && !exists(path); i++) {
        int status;
        cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "the run ended before %s appeared", path);
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    cr_assert(exists(path), "%s never appeared", path);
}

/* Names in folder d that contain `part`. */
static int count_named(const char *d, const char *part)
{
    DIR *dh = opendir(d);
    cr_assert_not_null(dh, "%s", d);
    int n = 0;
    for (struct dirent *e; (e = readdir(dh)) != NULL;)
        n += strstr(e->d_name, part) != NULL;
    closedir(dh);
    return n;
}

/* Every file vm.pvd in folder d lists is there. Returns how many it lists. */
static int pvd_frames_all_present(const char *d)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/vm.pvd", d);
    char *pvd = ct_test_read(p);
    cr_assert_not_null(pvd, "no %s", p);
    int n = 0;
    for (char *at = pvd; (at = strstr(at, "file=\"")) != NULL; n++) {
        at += 6;
        char name[256];
        size_t len = strcspn(at, "\"");
        snprintf(name, sizeof name, "%.*s", (int)len, at);
        snprintf(p, sizeof p, "%s/%s", d, name);
        cr_assert(exists(p), "vm.pvd lists %s, which is not in %s", name, d);
    }
    free(pvd);
    return n;
}

/* A run stopped by a signal mid-way: finishes the step, writes metrics.json ("interrupted"), the activation
 * map and a frame list of frames that exist, leaves no temporary file and no lock, exits 128 + signal. While
 * it runs, a second run into the same folder is refused, naming its pid. */
static void interrupt_run(int sig, int want_rc, int try_second)
{
    write_cfg("long.json", box_mesh, "1e6", "");
    char args[2048], log[1024];
    snprintf(args, sizeof args, "run %s --out %s --backend cpu", in_dir("long.json"), in_dir("out"));
    snprintf(log, sizeof log, "%s", in_dir("run.log"));
    pid_t pid = start_cli(args, log);
    wait_for(in_dir("out/vm_000003.vtu"), pid);
    if (try_second) {
        char *out = NULL;
        snprintf(args, sizeof args, "run %s --out %s --backend cpu --quiet", in_dir("long.json"), in_dir("out"));
        int rc = ct_test_cli(args, &out);
        char want[64];
        snprintf(want, sizeof want, "pid %ld", (long)pid);
        cr_assert_neq(rc, 0, "a second run into a folder in use succeeded: %s", out);
        cr_assert(out && strstr(out, "in use by another run") && strstr(out, want), "%s", out);
        free(out);
    }
    cr_assert_eq(kill(pid, sig), 0);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    char *text = ct_test_read(log);
    cr_assert(WIFEXITED(status), "killed by signal %d instead of stopping: %s", WIFSIGNALED(status) ? WTERMSIG(status) : 0,
              text);
    cr_assert_eq(WEXITSTATUS(status), want_rc, "exit status %d: %s", WEXITSTATUS(status), text);
    cr_assert(text && strstr(text, sig == SIGINT ? "interrupted by SIGINT" : "interrupted by SIGTERM"), "%s", text);
    free(text);
    char *m = ct_test_read(in_dir("out/metrics.json"));
    cr_assert(m && strstr(m, "\"status\":\t\"interrupted\""), "%s", m);
    cr_assert(strstr(m, "\"simulated_time_ms\""), "%s", m);
    free(m);
    cr_assert(exists(in_dir("out/activation.vtu")), "no activation map after the interruption");
    cr_assert_eq(count_named(in_dir("out"), ".tmp."), 0, "temporary files left behind");
    cr_assert(!exists(in_dir("out/.lock")), "the lock outlived the run");
    cr_assert_geq(pvd_frames_all_present(in_dir("out")), 4);
}

Test(faults, sigint_keeps_results_and_exits_130_and_a_second_run_is_refused, .timeout = 600)
{
    interrupt_run(SIGINT, 130, 1);
}

Test(faults, sigterm_keeps_results_and_exits_143, .timeout = 600)
{
    interrupt_run(SIGTERM, 143, 0);
}

/* The lock is an flock on DIR/.lock: while some process holds it a run is refused, naming the pid written
 * in it, and an earlier result stays; the file a dead process left behind blocks nobody. */
Test(faults, output_folder_lock)
{
    write_cfg("c.json", box_mesh, "10", "");
    mkdir(in_dir("out"), 0777);
    const char *earlier = "{\"sentinel\": true}\n";
    cr_assert_eq(ct_test_write(in_dir("out/metrics.json"), earlier), 0);
    int fd = open(in_dir("out/.lock"), O_RDWR | O_CREAT, 0666);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    cr_assert_eq(write(fd, "4242\n", 5), 5);
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "run %s --out %s --backend cpu --quiet", in_dir("c.json"), in_dir("out"));
    int rc = ct_test_cli(args, &out);
    cr_assert_neq(rc, 0, "ran into a locked folder: %s", out);
    cr_assert(out && strstr(out, "in use by another run (pid 4242"), "%s", out);
    free(out);
    char *m = ct_test_read(in_dir("out/metrics.json"));
    cr_assert(m && strcmp(m, earlier) == 0, "the refused run wrote metrics.json: %s", m);
    free(m);
    close(fd); /* the holder is gone; its file, with its pid, stays */
    cr_assert(exists(in_dir("out/.lock")));
    rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "a stale lock file blocked the run: %s", out);
    free(out);
    m = ct_test_read(in_dir("out/metrics.json"));
    cr_assert(m && strstr(m, "\"status\":\t\"completed\""), "%s", m);
    free(m);
    cr_assert(!exists(in_dir("out/.lock")));
}

/* --stop-at: "stopped" (not "completed", not 100%), naming the checkpoint; the restart into another folder
 * lists only frames that are there and reports the steps it took, in metrics and on stdout alike. */
Test(faults, stop_at_and_restart_into_another_folder, .timeout = 300)
{
    write_cfg("c.json", box_mesh, "30", "");
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "run %s --out %s --backend cpu --checkpoint-every 5 --stop-at 12", in_dir("c.json"),
             in_dir("a"));
    int rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "(100%)") == NULL, "a run stopped at 12 of 30 ms said 100%%: %s", out);
    cr_assert(strstr(out, "( 40%)"), "12 of 30 ms is 40%%: %s", out);
    char want[1200];
    snprintf(want, sizeof want, "--restart %s", in_dir("a/checkpoint.ctck"));
    cr_assert(strstr(out, "stopped at t = 12 ms") && strstr(out, want), "%s", out);
    free(out);
    char *m = ct_test_read(in_dir("a/metrics.json"));
    snprintf(want, sizeof want, "\"path\":\t\"%s\"", in_dir("a/checkpoint.ctck"));
    cr_assert(m && strstr(m, "\"status\":\t\"stopped\"") && strstr(m, want) && strstr(m, "\"t_ms\":\t10"), "%s", m);
    free(m);

    /* frames 0..2 (0, 5, 10 ms) stay in a/; b/ gets 3..6 (15..30 ms) and lists only those */
    snprintf(args, sizeof args, "run %s --out %s --backend cpu --restart %s", in_dir("c.json"), in_dir("b"),
             in_dir("a/checkpoint.ctck"));
    rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "400 steps (restarted at step 200"), "20 ms of 0.05 ms steps after the restart: %s", out);
    free(out);
    cr_assert_eq(pvd_frames_all_present(in_dir("b")), 4);
    m = ct_test_read(in_dir("b/metrics.json"));
    cr_assert(m && strstr(m, "\"status\":\t\"completed\"") && strstr(m, "\"steps\":\t600") &&
                  strstr(m, "\"steps_this_run\":\t400") && strstr(m, "\"restarted_at_step\":\t200"),
              "%s", m);
    free(m);
}

/* A .vtu mesh of the strand, with one element inverted or one coordinate NaN. */
static void write_mesh(const char *name, int invert, int nan_node)
{
    const double size[3] = {4, 1, 1}, fibre[3] = {1, 0, 0};
    ct_mesh *m = NULL;
    cr_assert_eq(ct_mesh_box(size, 0.5, fibre, &m), CT_OK, "%s", ct_error_message());
    if (invert) {
        int32_t *t = m->tets + 4 * 5;
        int32_t x = t[0];
        t[0] = t[1];
        t[1] = x;
    }
    if (nan_node >= 0)
        m->xyz_mm[3 * (size_t)nan_node + 1] = NAN;
    cr_assert_eq(ct_mesh_write_vtu(in_dir(name), m), CT_OK, "%s", ct_error_message());
    ct_mesh_destroy(m);
}

Test(faults, inverted_element_is_reported_and_nan_coordinate_named)
{
    char mesh[1200], args[2048], *out = NULL;
    write_mesh("inv.vtu", 1, -1);
    snprintf(mesh, sizeof mesh, "{\"type\": \"file\", \"path\": \"inv.vtu\"}");
    write_cfg("inv.json", mesh, "5", "");
    snprintf(args, sizeof args, "run %s --out %s --backend cpu --quiet", in_dir("inv.json"), in_dir("inv"));
    int rc = ct_test_cli(args, &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "warning") && strstr(out, "1 of 192 elements were inverted"), "%s", out);
    free(out);

    write_mesh("nan.vtu", 0, 7);
    snprintf(mesh, sizeof mesh, "{\"type\": \"file\", \"path\": \"nan.vtu\"}");
    write_cfg("nan.json", mesh, "5", "");
    snprintf(args, sizeof args, "run %s --out %s --backend cpu --quiet", in_dir("nan.json"), in_dir("nan"));
    rc = ct_test_cli(args, &out);
    cr_assert_neq(rc, 0, "%s", out);
    cr_assert(strstr(out, "node 7: coordinate y is nan") && !strstr(out, "degenerate"), "%s", out);
    free(out);
}

/* 150 ms of a Mitchell-Schaeffer strand (APD90 about 250 ms): nothing repolarised, so there is no QT. */
Test(faults, no_qt_interval_before_repolarisation, .timeout = 300)
{
    write_cfg("e.json", box_mesh, "150", ", \"ecg\": {\"interval_ms\": 1}");
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "run %s --out %s --backend cpu --quiet", in_dir("e.json"), in_dir("e"));
    cr_assert_eq(ct_test_cli(args, &out), 0, "%s", out);
    free(out);
    char *m = ct_test_read(in_dir("e/metrics.json"));
    cr_assert(m && strstr(m, "\"qrs_ms\":\t") && strstr(m, "\"qt_ms\":\tnull"), "%s", m);
    free(m);
}

/* Before stepping, the run's size (steps, nodes, output); on the progress lines, an estimate of the end. */
Test(faults, run_says_its_size_and_eta)
{
    write_cfg("c.json", box_mesh, "20", "");
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "run %s --out %s --backend cpu", in_dir("c.json"), in_dir("o"));
    cr_assert_eq(ct_test_cli(args, &out), 0, "%s", out);
    char *size = strstr(out, "this run: 400 steps"), *first = strstr(out, "t = ");
    cr_assert(size && strstr(size, "x 81 nodes") && strstr(size, "output about") && strstr(size, "5 Vm frames"),
              "%s", out);
    cr_assert(first && size < strstr(out, "(100%)"), "the size comes before the stepping: %s", out);
    cr_assert(strstr(out, "(100%)") && strstr(strstr(out, "( 10%)"), "ETA"), "%s", out);
    free(out);
}

/* `cardiotwin COMMAND --help` prints that command's usage and exits 0; usage errors exit 2. */
Test(faults, help_for_every_command_and_usage_errors_exit_2)
{
    static const char *cmds[] = {"run", "cell", "personalise", "tune-cv", "induce", "ablate", "cohort", "phantom"};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        char args[256], want[64], *out = NULL;
        snprintf(args, sizeof args, "%s --help", cmds[k]);
        cr_assert_eq(ct_test_cli(args, &out), 0, "%s: %s", args, out);
        snprintf(want, sizeof want, "  %s ", cmds[k]);
        cr_assert(out && strstr(out, want) && !strstr(out, "commands:"), "%s: not that command's usage alone: %s", args,
                  out);
        free(out);
    }
    write_cfg("c.json", box_mesh, "5", "");
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "run %s --out %s --backend frobnicator", in_dir("c.json"), in_dir("o"));
    cr_assert_eq(ct_test_cli(args, &out), 2, "%s", out);
    cr_assert(strstr(out, "unknown backend \"frobnicator\""), "%s", out);
    free(out);
    cr_assert_eq(ct_test_cli("run --stop-at soon", NULL), 2);
    cr_assert_eq(ct_test_cli("induce x.json --out o --site nowhere", NULL), 2);
    cr_assert_eq(ct_test_cli("tune-cv --model tp06", NULL), 2);
    cr_assert_eq(ct_test_cli("help frobnicate", NULL), 2);
}
