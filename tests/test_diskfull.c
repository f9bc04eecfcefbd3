/* test_diskfull.c — a full disk while writing leaves the earlier files intact.
 *
 * A full disk is simulated in a forked child with setrlimit(RLIMIT_FSIZE, small) and SIGXFSZ ignored, so
 * that write() fails with EFBIG (instead of the signal killing the process) once a file would grow past
 * the limit. Each atomic writer (ct_write_file_atomic, the .vtu, .pvd and checkpoint writers) is made to
 * fail over an existing good file: it must return CT_ERR_IO with a message naming the file, leave the old
 * file byte for byte, and leave no PATH.tmp.* behind. End to end, `cardiotwin run` is rerun into the folder
 * of an earlier run with a limit that makes one of its output writes fail: it must exit non-zero (not by a
 * signal) naming the file it could not write, and leave every earlier file as it was. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/ct_checkpoint.h"
#include "core/ct_files.h"
#include "ct_test_util.h"
#include "io/ct_pvd.h"
#include "io/ct_vtk.h"

#define LIMIT_BYTES 4096 /* "disk space" left to a unit-level child */

static char *dir;

static void setup(void)
{
    dir = ct_test_tmpdir("diskfull");
    cr_assert(dir);
}

static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}

TestSuite(diskfull, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Makes every file this process (and what it execs) writes stop at limit_bytes: write() then fails with
 * EFBIG instead of SIGXFSZ killing the process. Only ever called in a forked child. */
static void disk_full_at(rlim_t limit_bytes)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {limit_bytes, limit_bytes};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        _exit(90);
}

/* Reads everything from fd into a NUL-terminated string (caller frees). */
static char *slurp_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert(buf);
    for (;;) {
        if (len + 1 >= cap) {
            buf = realloc(buf, cap *= 2);
            cr_assert(buf);
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    return buf;
}

/* Open file descriptors of this process (-1 if /proc is not there). */
static int count_open_fds(void)
{
    DIR *dp = opendir("/proc/self/fd");
    if (!dp)
        return -1;
    int n = 0;
    while (readdir(dp) != NULL)
        n++;
    closedir(dp);
    return n;
}

/* Runs body(arg) in a forked child whose files may not grow past limit_bytes and returns its ct_status;
 * the child's ct_error_message() comes back in msg. Fails the test if the child did not exit normally;
 * a body that leaves a file descriptor open comes back as CT_ERR_INTERNAL. */
static ct_status in_full_disk_child(rlim_t limit_bytes, ct_status (*body)(void *), void *arg, char *msg,
                                    size_t msg_len)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        disk_full_at(limit_bytes);
        int fds_before = count_open_fds();
        int st = (int)body(arg);
        int fds_after = count_open_fds();
        if (fds_after != fds_before)
            st = (int)ct_error_set(CT_ERR_INTERNAL, "%d file descriptors open after the write, %d before (%s)",
                                   fds_after, fds_before, ct_error_message());
        char line[2048];
        int n = snprintf(line, sizeof line, "%d\n%s", st, ct_error_message());
        ssize_t w = write(fds[1], line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
        _exit(w > 0 ? 0 : 91);
    }
    close(fds[1]);
    char *text = slurp_fd(fds[0]);
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer crashed or failed to report: %s %d",
              WIFSIGNALED(status) ? "killed by signal" : "exit status",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    char *nl = strchr(text, '\n');
    cr_assert(nl, "child report: %s", text);
    snprintf(msg, msg_len, "%s", nl + 1);
    ct_status st = (ct_status)atoi(text);
    free(text);
    return st;
}

/* Bytes of a whole file (caller frees), *len its size; NULL if it cannot be read. */
static unsigned char *file_bytes(const char *path, size_t *len)
{
    char *data = NULL;
    if (ct_read_file(path, &data, len) != CT_OK)
        return NULL;
    return (unsigned char *)data;
}

static void assert_same_file(const char *path, const unsigned char *want, size_t want_len)
{
    size_t len = 0;
    unsigned char *got = file_bytes(path, &len);
    cr_assert(got, "%s is gone after the failed write", path);
    cr_assert(len == want_len && memcmp(got, want, len) == 0,
              "%s changed after the failed write (%zu bytes, was %zu)", path, len, want_len);
    free(got);
}

/* Fails the test if any file in folder d has ".tmp." in its name. */
static void assert_no_temp_files(const char *d)
{
    DIR *dp = opendir(d);
    cr_assert(dp, "%s: %s", d, strerror(errno));
    struct dirent *e;
    while ((e = readdir(dp)) != NULL)
        cr_assert(!strstr(e->d_name, ".tmp."), "temp file %s/%s left behind", d, e->d_name);
    closedir(dp);
}

/* The failure is an I/O error whose message names the file. */
static void assert_io_error_naming(ct_status st, const char *msg, const char *path)
{
    cr_assert_eq(st, CT_ERR_IO, "expected CT_ERR_IO, got %d: %s", st, msg);
    cr_assert(strstr(msg, path), "the message does not name %s: %s", path, msg);
}

/* Deterministic bytes that zlib cannot shrink much (xorshift64). */
static void fill_noise(double *x, size_t n, uint64_t seed)
{
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = (double)(s >> 11) * 0x1.0p-53 * 10.0;
    }
}

/* ---- unit level: each atomic writer over an existing good file -------------------------------- */

typedef struct raw_job {
    const char *path;
    const void *data;
    size_t len;
} raw_job;

static ct_status raw_write(void *arg)
{
    raw_job *j = arg;
    return ct_write_file_atomic(j->path, j->data, j->len);
}

Test(diskfull, write_file_atomic_keeps_the_old_file)
{
    char path[512], msg[2048];
    snprintf(path, sizeof path, "%s/result.json", dir);
    const char good[] = "{\"status\": \"completed\", \"the\": \"earlier result\"}\n";
    cr_assert_eq(ct_write_file_atomic(path, good, sizeof good - 1), CT_OK, "%s", ct_error_message());

    size_t big_len = 64 * 1024;
    char *big = malloc(big_len);
    cr_assert(big);
    memset(big, 'x', big_len);
    raw_job j = {path, big, big_len};
    ct_status st = in_full_disk_child(LIMIT_BYTES, raw_write, &j, msg, sizeof msg);
    cr_log_info("observed: %s", msg);
    assert_io_error_naming(st, msg, path);
    cr_assert(strstr(msg, strerror(EFBIG)), "the message does not say why: %s", msg);
    assert_same_file(path, (const unsigned char *)good, sizeof good - 1);
    assert_no_temp_files(dir);

    /* and a write that fits still works under the same limit */
    raw_job small = {path, "{}\n", 3};
    cr_assert_eq(in_full_disk_child(LIMIT_BYTES, raw_write, &small, msg, sizeof msg), CT_OK, "%s", msg);
    assert_same_file(path, (const unsigned char *)"{}\n", 3);
    free(big);
}

typedef struct vtu_job {
    const char *path;
    size_t n_points, n_tets;
    const double *xyz, *field;
    const int32_t *tets;
} vtu_job;

static ct_status vtu_write(void *arg)
{
    vtu_job *j = arg;
    ct_vtk_field f = {"Vm_mV", 1, j->field, CT_VTK_FLOAT64};
    return ct_vtk_write_vtu(j->path, j->n_points, j->xyz, j->n_tets, j->tets, &f, 1, NULL, 0);
}

Test(diskfull, vtu_writer_keeps_the_old_file)
{
    enum { n_points = 2000, n_tets = n_points / 4 };
    double *xyz = malloc(3 * n_points * sizeof *xyz), *vm = malloc(n_points * sizeof *vm);
    int32_t *tets = malloc(4 * n_tets * sizeof *tets);
    cr_assert(xyz && vm && tets);
    for (int i = 0; i < 4 * n_tets; i++)
        tets[i] = i;
    fill_noise(xyz, 3 * n_points, 1);
    fill_noise(vm, n_points, 2);
    char path[512], msg[2048];
    snprintf(path, sizeof path, "%s/vm_000000.vtu", dir);
    vtu_job good = {path, n_points, n_tets, xyz, vm, tets};
    cr_assert_eq(vtu_write(&good), CT_OK, "%s", ct_error_message());
    size_t good_len;
    unsigned char *good_bytes = file_bytes(path, &good_len);
    cr_assert(good_bytes && good_len > 4 * LIMIT_BYTES, "the good file (%zu bytes) must not fit the limit",
              good_len);

    double *vm2 = malloc(n_points * sizeof *vm2);
    cr_assert(vm2);
    fill_noise(vm2, n_points, 3);
    vtu_job next = {path, n_points, n_tets, xyz, vm2, tets};
    ct_status st = in_full_disk_child(LIMIT_BYTES, vtu_write, &next, msg, sizeof msg);
    cr_log_info("observed: %s", msg);
    assert_io_error_naming(st, msg, path);
    assert_same_file(path, good_bytes, good_len);
    assert_no_temp_files(dir);

    /* the old file still reads back as the good frame */
    ct_vtk_grid *g = NULL;
    cr_assert_eq(ct_vtk_read_vtu(path, &g), CT_OK, "%s", ct_error_message());
    const double *back;
    int nc;
    cr_assert_eq(ct_vtk_grid_point_field(g, "Vm_mV", &back, &nc), CT_OK, "%s", ct_error_message());
    cr_assert(memcmp(back, vm, n_points * sizeof *vm) == 0);
    ct_vtk_grid_destroy(g);
    free(good_bytes);
    free(xyz);
    free(vm);
    free(vm2);
    free(tets);
}

typedef struct pvd_job {
    ct_pvd *pvd;
    int n_frames_after; /* what the child's collection holds after the failed add */
} pvd_job;

static ct_status pvd_add_one(void *arg)
{
    pvd_job *j = arg;
    ct_status st = ct_pvd_add(j->pvd, 1e6, "vm_999999.vtu");
    char keep[2048];
    snprintf(keep, sizeof keep, "%s", ct_error_message());
    if (st != CT_OK && ct_pvd_n_frames(j->pvd) != j->n_frames_after)
        return ct_error_set(CT_ERR_INTERNAL, "the failed add left %d frames in memory, not %d",
                            ct_pvd_n_frames(j->pvd), j->n_frames_after);
    ct_error_set(st, "%s", keep);
    return st;
}

Test(diskfull, pvd_writer_keeps_the_old_collection)
{
    char path[512], msg[2048];
    snprintf(path, sizeof path, "%s/vm.pvd", dir);
    ct_pvd *pvd = NULL;
    cr_assert_eq(ct_pvd_open(path, &pvd), CT_OK, "%s", ct_error_message());
    int n = 0;
    for (size_t len = 0; len <= LIMIT_BYTES + 1024; n++) { /* a collection larger than the limit */
        char name[64];
        snprintf(name, sizeof name, "vm_%06d.vtu", n);
        cr_assert_eq(ct_pvd_add(pvd, 5.0 * n, name), CT_OK, "%s", ct_error_message());
        struct stat sb;
        cr_assert_eq(stat(path, &sb), 0);
        len = (size_t)sb.st_size;
    }
    size_t good_len;
    unsigned char *good_bytes = file_bytes(path, &good_len);
    cr_assert(good_bytes);

    pvd_job j = {pvd, n};
    ct_status st = in_full_disk_child(LIMIT_BYTES, pvd_add_one, &j, msg, sizeof msg);
    cr_log_info("observed: %s", msg);
    assert_io_error_naming(st, msg, path);
    cr_assert(strstr(msg, strerror(EFBIG)), "the message does not say why: %s", msg);
    assert_same_file(path, good_bytes, good_len);
    assert_no_temp_files(dir);
    free(good_bytes);
    ct_pvd_destroy(pvd);
}

typedef struct ckpt_job {
    const char *path;
    const ct_checkpoint *c;
} ckpt_job;

static ct_status ckpt_write(void *arg)
{
    ckpt_job *j = arg;
    return ct_checkpoint_write(j->path, j->c);
}

Test(diskfull, checkpoint_writer_keeps_the_old_checkpoint)
{
    enum { state_doubles = 8192 }; /* 64 KiB of state */
    double *state = malloc(state_doubles * sizeof *state), frame_times[2] = {0, 5};
    cr_assert(state);
    fill_noise(state, state_doubles, 4);
    ct_checkpoint c = {.id = {.backend = "cpu", .n_nodes = 1024, .model = 1, .dt_ms = 0.05, .config_hash = 42,
                              .ranks = 1, .rank = 0},
                       .step = 100,
                       .state_bytes = state_doubles * sizeof *state,
                       .state = state,
                       .n_frames = 2,
                       .frame_times_ms = frame_times};
    char path[512], msg[2048];
    snprintf(path, sizeof path, "%s/checkpoint.ctck", dir);
    cr_assert_eq(ct_checkpoint_write(path, &c), CT_OK, "%s", ct_error_message());
    size_t good_len;
    unsigned char *good_bytes = file_bytes(path, &good_len);
    cr_assert(good_bytes);

    ct_checkpoint later = c; /* the run went on: a later step, another state */
    later.step = 200;
    double *state2 = malloc(state_doubles * sizeof *state2);
    cr_assert(state2);
    fill_noise(state2, state_doubles, 5);
    later.state = state2;
    ckpt_job j = {path, &later};
    ct_status st = in_full_disk_child(LIMIT_BYTES, ckpt_write, &j, msg, sizeof msg);
    cr_log_info("observed: %s", msg);
    assert_io_error_naming(st, msg, path);
    assert_same_file(path, good_bytes, good_len);
    assert_no_temp_files(dir);

    /* and the earlier checkpoint still restarts */
    ct_checkpoint back;
    cr_assert_eq(ct_checkpoint_read(path, &c.id, &back), CT_OK, "%s", ct_error_message());
    cr_assert_eq(back.step, 100);
    cr_assert(back.state_bytes == c.state_bytes && memcmp(back.state, state, c.state_bytes) == 0);
    ct_checkpoint_free(&back);
    free(good_bytes);
    free(state);
    free(state2);
}

/* ---- end to end: `cardiotwin run` into the folder of an earlier run --------------------------- */

static const char *run_cfg =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [4, 1, 1], \"dx_mm\": 0.5},\n"
    " \"model\": {\"name\": \"mitchell_schaeffer\"},\n"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.13342},\n"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 30,\n"
    " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": 50, "
    "\"duration_ms\": 1}],\n"
    " \"probes\": [{\"name\": \"far\", \"position_mm\": [4, 0.5, 0.5]}],\n"
    " \"output\": {\"interval_ms\": 5}}\n";

/* Runs `cardiotwin run DIR/c.json --out DIR/out --backend cpu --quiet` with files limited to limit_bytes
 * (RLIM_INFINITY: no limit); stdout and stderr come back in *output (caller frees). Returns the wait status. */
static int run_cli(rlim_t limit_bytes, char **output)
{
    char cfg[512], out[512];
    snprintf(cfg, sizeof cfg, "%s/c.json", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        if (limit_bytes != RLIM_INFINITY)
            disk_full_at(limit_bytes);
        execl(CT_BINARY, CT_BINARY, "run", cfg, "--out", out, "--backend", "cpu", "--quiet", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *output = slurp_fd(fds[0]);
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* The regular files of one folder, name and bytes. */
typedef struct snapshot {
    int n;
    char name[64][256];
    unsigned char *bytes[64];
    size_t len[64];
} snapshot;

static void snapshot_take(const char *d, snapshot *s)
{
    memset(s, 0, sizeof *s);
    DIR *dp = opendir(d);
    cr_assert(dp, "%s: %s", d, strerror(errno));
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        cr_assert_lt(s->n, 64);
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        snprintf(s->name[s->n], sizeof s->name[0], "%s", e->d_name);
        s->bytes[s->n] = file_bytes(p, &s->len[s->n]);
        cr_assert(s->bytes[s->n], "%s: %s", p, ct_error_message());
        s->n++;
    }
    closedir(dp);
}

static void snapshot_free(snapshot *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->bytes[i]);
}

/* Size of the named file in the snapshot, or 0. */
static size_t snapshot_len(const snapshot *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return s->len[i];
    return 0;
}

/* Writes the configuration and runs it once normally; the output folder's files come back in *s. */
static void first_run(snapshot *s)
{
    char p[512], *output = NULL;
    snprintf(p, sizeof p, "%s/c.json", dir);
    cr_assert_eq(ct_test_write(p, run_cfg), 0);
    int status = run_cli(RLIM_INFINITY, &output);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the first run failed: %s", output);
    free(output);
    snprintf(p, sizeof p, "%s/out", dir);
    snapshot_take(p, s);
    cr_assert(snapshot_len(s, "vm_000006.vtu") > 0 && snapshot_len(s, "activation.vtu") > 0 &&
                  snapshot_len(s, "metrics.json") > 0 && snapshot_len(s, "vm.pvd") > 0,
              "the first run did not write its files");
}

/* Reruns with files limited to limit_bytes; expects a clean failure (exit 1, no signal) whose output names
 * DIR/out/failing_file as not written, and no temp files. Returns the output (caller frees). */
static char *failing_rerun(rlim_t limit_bytes, const char *failing_file)
{
    char *output = NULL;
    int status = run_cli(limit_bytes, &output);
    cr_assert(!WIFSIGNALED(status), "cardiotwin was killed by signal %d: %s", WTERMSIG(status), output);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "the run with a full disk exited %d: %s",
              WEXITSTATUS(status), output);
    char want[1024];
    snprintf(want, sizeof want, "cardiotwin: %s/out/%s: cannot write", dir, failing_file);
    cr_assert(strstr(output, want), "no \"%s\" in the output: %s", want, output);
    cr_assert(strstr(output, strerror(EFBIG)), "the output does not say why: %s", output);
    char out_dir[512];
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    assert_no_temp_files(out_dir);
    return output;
}

/* Every file of `before` is still there byte for byte, except `replaced` (NULL: none); no new files. */
static void assert_folder_unchanged(const snapshot *before, const char *replaced)
{
    char out_dir[512];
    snprintf(out_dir, sizeof out_dir, "%s/out", dir);
    snapshot after;
    snapshot_take(out_dir, &after);
    cr_assert_eq(after.n, before->n, "the folder had %d files, now %d", before->n, after.n);
    for (int i = 0; i < before->n; i++) {
        if (replaced && strcmp(before->name[i], replaced) == 0)
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", out_dir, before->name[i]);
        assert_same_file(p, before->bytes[i], before->len[i]);
    }
    snapshot_free(&after);
}

/* Largest (resp. smallest) size among the Vm frames vm_*.vtu. */
static size_t frame_size(const snapshot *s, int largest)
{
    size_t best = 0;
    for (int i = 0; i < s->n; i++)
        if (strncmp(s->name[i], "vm_", 3) == 0 && strstr(s->name[i], ".vtu") &&
            (best == 0 || (largest ? s->len[i] > best : s->len[i] < best)))
            best = s->len[i];
    return best;
}

/* The disk fills at the first Vm frame: the run stops there; the earlier frames, activation map and
 * metrics stay as the first run left them. vm.pvd is, by design, restarted as an empty collection when the
 * run begins (before the disk is full): it must be a complete file. */
Test(diskfull, cli_run_failing_at_the_first_frame_keeps_earlier_files, .timeout = 120)
{
    snapshot before;
    first_run(&before);
    size_t limit = frame_size(&before, 0) / 2;
    cr_assert_gt(limit, 512, "the frames (%zu bytes) are too small for this test", frame_size(&before, 0));
    char *output = failing_rerun(limit, "vm_000000.vtu");
    cr_log_info("observed: %s", output);
    free(output);
    assert_folder_unchanged(&before, "vm.pvd");
    char p[512];
    snprintf(p, sizeof p, "%s/out/vm.pvd", dir);
    char *pvd = ct_test_read(p);
    cr_assert(pvd && strncmp(pvd, "<?xml", 5) == 0 && strstr(pvd, "</VTKFile>\n") &&
                  !strstr(pvd, "<DataSet"),
              "vm.pvd is not a complete, empty collection: %s", pvd);
    free(pvd);
    snapshot_free(&before);
}

/* The disk fills mid-run: the resting first frame (uniform Vm, so it compresses best) fits, the next
 * frame does not. vm.pvd then lists the one frame this run wrote; every other file is as before. */
Test(diskfull, cli_run_failing_mid_run_keeps_earlier_files, .timeout = 120)
{
    snapshot before;
    first_run(&before);
    size_t first = snapshot_len(&before, "vm_000000.vtu"), next = 0;
    for (int i = 0; i < before.n; i++)
        if (strncmp(before.name[i], "vm_", 3) == 0 && strstr(before.name[i], ".vtu") &&
            strcmp(before.name[i], "vm_000000.vtu") != 0 && (next == 0 || before.len[i] < next))
            next = before.len[i];
    cr_assert_gt(next, first + 64, "the resting frame (%zu bytes) must be smaller than the others (%zu)", first,
                 next);
    char *output = failing_rerun((first + next) / 2, "vm_000001.vtu");
    cr_log_info("observed: %s", output);
    free(output);
    assert_folder_unchanged(&before, "vm.pvd");
    char p[512];
    snprintf(p, sizeof p, "%s/out/vm.pvd", dir);
    char *pvd = ct_test_read(p);
    cr_assert(pvd && strstr(pvd, "file=\"vm_000000.vtu\"") && !strstr(pvd, "vm_000001.vtu") &&
                  strstr(pvd, "</VTKFile>\n"),
              "vm.pvd should list the one frame written: %s", pvd);
    free(pvd);
    snapshot_free(&before);
}

/* The disk fills after every frame fits but the activation map (larger: three more cell fields) does not:
 * the frames and vm.pvd are rewritten with the same bytes (a deterministic rerun), metrics.json is not
 * reached, and so every earlier file is byte for byte as before. */
Test(diskfull, cli_run_failing_at_the_activation_map_keeps_earlier_files, .timeout = 120)
{
    snapshot before;
    first_run(&before);
    size_t frames = frame_size(&before, 1), activation = snapshot_len(&before, "activation.vtu");
    cr_assert_gt(activation, frames + 256, "activation.vtu (%zu bytes) must be larger than every frame (%zu)",
                 activation, frames);
    char *output = failing_rerun((frames + activation) / 2, "activation.vtu");
    cr_log_info("observed: %s", output);
    free(output);
    assert_folder_unchanged(&before, NULL);
    snapshot_free(&before);
}
