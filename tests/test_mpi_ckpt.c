/* test_mpi_ckpt.c — per-rank checkpoints and the reduced pseudo-ECG of a run split across MPI ranks.
 *
 * On the N-version slab (dx 0.5 mm, dt 0.05 ms, explicit diffusion with the consistent mass):
 * - a run on 2 and on 3 ranks stopped at 6 ms (checkpoints every 2 ms: the last at 6 ms) and restarted on
 *   the same rank count ends bit for bit as the uninterrupted run: the last Vm frame's pieces byte for byte,
 *   the activation maps and ecg.csv equal; each rank wrote one piece, rank 0 the manifest, and only the
 *   last checkpoint's pieces are left;
 * - bad input stops every rank with one message naming the file, never a hang (the test's timeout): another
 *   rank count (both counts named), a serial checkpoint given to 2 ranks, a missing piece, a corrupt piece
 *   (CRC), a piece of another checkpoint (the manifest's CRC for it), a corrupt manifest, and the manifest
 *   given to a serial run;
 * - the pseudo-ECG (ecg.csv) of 2 and 3 ranks, summed by a reduction of the ranks' partial sums, equals the
 *   serial one within 1e-9 of each lead's largest magnitude;
 * - without MPI: a piece (format version 2) and a manifest round-trip, and malformed manifests are refused
 *   with messages naming the file.
 *
 * Ranks run with OMP_NUM_THREADS=1 and Open MPI's yield-when-idle (3 ranks on 2 cores: oversubscribed).
 * Skipped where MPI was not compiled in.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ct_test_util.h"
#include "io/ct_vtk.h"
#include "sim/ct_checkpoint.h"

#if defined(CT_HAVE_MPI) && defined(CT_MPIEXEC)

static void mpi_env(void)
{
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_hwloc_base_binding_policy", "none", 1);
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
}

/* The N-version slab ending at end_ms, explicit diffusion, frames every frame_ms, the ECG every ecg_ms (0:
 * none), into dir/slab.json. */
static void write_config(const char *dir, double end_ms, double frame_ms, double ecg_ms, char *path, size_t len)
{
    char *text = ct_test_read(CT_SOURCE_DIR "/meshes/nversion_dx0.5_dt0.05.json");
    cr_assert_not_null(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    cJSON_ReplaceItemInObject(root, "end_time_ms", cJSON_CreateNumber(end_ms));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "interval_ms", frame_ms);
    cJSON_ReplaceItemInObject(root, "output", o);
    if (ecg_ms > 0) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "interval_ms", ecg_ms);
        cJSON_AddItemToObject(root, "ecg", e);
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    snprintf(path, len, "%s/slab.json", dir);
    cr_assert_eq(ct_test_write(path, out), 0);
    cJSON_free(out);
}

/* `cardiotwin run config --out dir --backend cpu --quiet EXTRA` on np ranks (0: without mpiexec). */
static int run(int np, const char *config, const char *dir, const char *extra, char **log)
{
    char cmd[8192];
    if (np == 0)
        snprintf(cmd, sizeof cmd, "%s run %s --out %s --backend cpu --quiet %s", CT_BINARY, config, dir, extra);
    else
        snprintf(cmd, sizeof cmd, "%s %s %d %s %s run %s --out %s --backend cpu --quiet %s", CT_MPIEXEC, CT_MPIEXEC_NP,
                 np, CT_MPIEXEC_PREFLAGS, CT_BINARY, config, dir, extra);
    return ct_test_shell(cmd, log);
}

static void same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = ct_test_read_bytes(a, &la), *y = ct_test_read_bytes(b, &lb);
    cr_assert(x && y, "cannot read %s or %s", a, b);
    cr_assert(la == lb && memcmp(x, y, la) == 0, "%s and %s differ (%zu and %zu bytes)", a, b, la, lb);
    free(x);
    free(y);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Stop at 6 ms and restart on np ranks vs the straight run on np ranks: bit for bit. */
static void restart_bit_exact(int np)
{
    mpi_env();
    char tag[32];
    snprintf(tag, sizeof tag, "mpick_np%d", np);
    char *dir = ct_test_tmpdir(tag);
    char config[1024], whole[1100], split[1100], extra[1300], a[1300], b[1300];
    write_config(dir, 10.0, 5.0, 1.0, config, sizeof config);
    snprintf(whole, sizeof whole, "%s/whole", dir);
    snprintf(split, sizeof split, "%s/split", dir);
    char *log = NULL;
    int rc = run(np, config, whole, "", &log);
    cr_assert_eq(rc, 0, "np %d straight: exit %d\n%s", np, rc, log);
    free(log);
    rc = run(np, config, split, "--checkpoint-every 2 --stop-at 6", &log);
    cr_assert_eq(rc, 0, "np %d stopped: exit %d\n%s", np, rc, log);
    free(log);
    /* the manifest and one piece per rank of the last checkpoint (step 120); the earlier pieces are gone */
    snprintf(a, sizeof a, "%s/checkpoint.ctck", split);
    char *manifest = ct_test_read(a);
    cr_assert(manifest && strstr(manifest, "split checkpoint") && strstr(manifest, "step 120\n"), "%s",
              manifest ? manifest : "no manifest");
    free(manifest);
    for (int r = 0; r < np; r++) {
        snprintf(a, sizeof a, "%s/checkpoint.ctck.s120.p%04d", split, r);
        cr_assert(exists(a), "np %d: no piece %s", np, a);
        snprintf(a, sizeof a, "%s/checkpoint.ctck.s80.p%04d", split, r);
        cr_assert(!exists(a), "np %d: the earlier piece %s was left", np, a);
    }
    snprintf(extra, sizeof extra, "--restart %s/checkpoint.ctck", split);
    rc = run(np, config, split, extra, &log);
    cr_assert_eq(rc, 0, "np %d restart: exit %d\n%s", np, rc, log);
    free(log);
    for (int r = 0; r < np; r++) { /* Vm at 10 ms, every rank's piece, byte for byte */
        snprintf(a, sizeof a, "%s/vm_000002_p%04d.vtu", whole, r);
        snprintf(b, sizeof b, "%s/vm_000002_p%04d.vtu", split, r);
        same_file(a, b);
    }
    snprintf(a, sizeof a, "%s/ecg.csv", whole); /* rank 0's samples before the stop, the reduction's after */
    snprintf(b, sizeof b, "%s/ecg.csv", split);
    same_file(a, b);
    snprintf(a, sizeof a, "%s/activation.vtu", whole);
    snprintf(b, sizeof b, "%s/activation.vtu", split);
    ct_vtk_grid *ga = NULL, *gb = NULL;
    cr_assert_eq(ct_vtk_read_vtu(a, &ga), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_vtk_read_vtu(b, &gb), CT_OK, "%s", ct_error_message());
    const double *x, *y;
    int nc;
    cr_assert_eq(ct_vtk_grid_point_field(ga, "activation_time_ms", &x, &nc), CT_OK);
    cr_assert_eq(ct_vtk_grid_point_field(gb, "activation_time_ms", &y, &nc), CT_OK);
    size_t n = ct_vtk_grid_n_points(ga), act = 0;
    cr_assert_eq(n, ct_vtk_grid_n_points(gb));
    for (size_t i = 0; i < n; i++) {
        cr_assert(memcmp(&x[i], &y[i], sizeof x[i]) == 0, "np %d: node %zu activation %.17g vs %.17g", np, i, x[i],
                  y[i]);
        act += x[i] >= 0;
    }
    cr_assert_gt(act, 100, "np %d: only %zu nodes activated", np, act);
    fprintf(stderr, "mpi checkpoint, %d ranks: restarted at 6 ms, Vm at 10 ms and %zu activation times bit for bit\n",
            np, act);
    ct_vtk_grid_destroy(ga);
    ct_vtk_grid_destroy(gb);
    if (np == 2) { /* restarted into another folder, checkpointing there: the source's pieces are kept */
        char elsewhere[1100];
        snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", dir);
        snprintf(extra, sizeof extra, "--restart %s/checkpoint.ctck --checkpoint-every 2", split);
        rc = run(np, config, elsewhere, extra, &log);
        cr_assert_eq(rc, 0, "restart elsewhere: exit %d\n%s", rc, log);
        free(log);
        for (int r = 0; r < np; r++) {
            snprintf(a, sizeof a, "%s/checkpoint.ctck.s120.p%04d", split, r);
            cr_assert(exists(a), "the source checkpoint's piece %s was removed", a);
            snprintf(a, sizeof a, "%s/checkpoint.ctck.s200.p%04d", elsewhere, r);
            cr_assert(exists(a), "no piece %s", a);
            snprintf(a, sizeof a, "%s/checkpoint.ctck.s160.p%04d", elsewhere, r);
            cr_assert(!exists(a), "the earlier piece %s was left", a);
        }
    }
    ct_test_rmtree(dir);
    free(dir);
}

Test(mpi_ckpt, restart_bit_exact_np2, .timeout = 300)
{
    restart_bit_exact(2);
}

Test(mpi_ckpt, restart_bit_exact_np3, .timeout = 300)
{
    restart_bit_exact(3);
}

/* A restart that must fail: non-zero exit, and the log names `what` (and `also`, if given). */
static void refused(int np, const char *config, const char *out, const char *ck, const char *what, const char *also)
{
    char extra[1200];
    snprintf(extra, sizeof extra, "--restart %s", ck);
    char *log = NULL;
    int rc = run(np, config, out, extra, &log);
    cr_assert_neq(rc, 0, "np %d restart from %s should fail\n%s", np, ck, log ? log : "");
    cr_assert(log && strstr(log, what) && (!also || strstr(log, also)), "np %d: the message names \"%s\"%s%s:\n%s",
              np, what, also ? " and " : "", also ? also : "", log ? log : "");
    fprintf(stderr, "refused (np %d): %s", np, strstr(log, "cardiotwin") ? strstr(log, "cardiotwin") : log);
    free(log);
}

static void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *data = ct_test_read_bytes(from, &n);
    cr_assert_not_null(data, "cannot read %s", from);
    FILE *f = fopen(to, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    free(data);
}

Test(mpi_ckpt, bad_checkpoints_stop_every_rank, .timeout = 300)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpick_bad");
    char config[1024], out[1100], ck[1200], piece[1300], keep[1300], other[1300], more_serial[1400];
    write_config(dir, 4.0, 0, 0, config, sizeof config);
    snprintf(out, sizeof out, "%s/out", dir);
    char *log = NULL;
    int rc = run(2, config, out, "--checkpoint-every 1 --stop-at 2", &log);
    cr_assert_eq(rc, 0, "%s", log);
    free(log);
    snprintf(ck, sizeof ck, "%s/checkpoint.ctck", out);
    snprintf(piece, sizeof piece, "%s/checkpoint.ctck.s40.p0001", out);
    snprintf(keep, sizeof keep, "%s/kept_piece", dir);
    cr_assert(exists(piece), "no piece %s", piece);
    copy_file(piece, keep);
    /* a piece of another checkpoint: rank 1's piece at 1 ms, from a second run */
    snprintf(other, sizeof other, "%s/other", dir);
    rc = run(2, config, other, "--checkpoint-every 1 --stop-at 1", &log);
    cr_assert_eq(rc, 0, "%s", log);
    free(log);
    snprintf(other, sizeof other, "%s/other/checkpoint.ctck.s20.p0001", dir);

    char serial_ck[1200];
    snprintf(serial_ck, sizeof serial_ck, "%s/serial.ctck", dir);
    snprintf(more_serial, sizeof more_serial, "--checkpoint-every 1 --stop-at 1 --checkpoint %s", serial_ck);
    char serial_out[1200];
    snprintf(serial_out, sizeof serial_out, "%s/serial_out", dir);
    rc = run(0, config, serial_out, more_serial, &log);
    cr_assert_eq(rc, 0, "%s", log);
    free(log);
    refused(2, config, out, serial_ck, "checkpoint of a run on 1 MPI rank(s)", "this run has 2");
    refused(3, config, out, ck, "checkpoint of a run on 2 MPI rank(s); this run has 3", ck);
    refused(0, config, out, ck, "checkpoint of a run on 2 MPI rank(s); this run has 1", ck);
    remove(piece); /* rank 1's piece is missing */
    refused(2, config, out, ck, piece, "rank 1");
    copy_file(keep, piece); /* rank 1's piece corrupt: one byte in its state changed */
    {
        size_t n = 0;
        char *data = ct_test_read_bytes(piece, &n);
        data[n / 2] ^= 0x40;
        FILE *f = fopen(piece, "wb");
        fwrite(data, 1, n, f);
        fclose(f);
        free(data);
    }
    refused(2, config, out, ck, piece, "CRC mismatch");
    copy_file(other, piece); /* a whole piece, of another checkpoint */
    refused(2, config, out, ck, piece, "does not match the manifest");
    copy_file(keep, piece);
    char *manifest = ct_test_read(ck); /* the manifest edited: its own CRC no longer holds */
    cr_assert_not_null(manifest);
    char *s = strstr(manifest, "step 40");
    cr_assert_not_null(s, "%s", manifest);
    s[5] = '8';
    cr_assert_eq(ct_test_write(ck, manifest), 0);
    refused(2, config, out, ck, ck, "manifest is corrupt");
    s[5] = '4';
    cr_assert_eq(ct_test_write(ck, manifest), 0);
    free(manifest);
    /* repaired, it restarts */
    char more[1300];
    snprintf(more, sizeof more, "--restart %s", ck);
    rc = run(2, config, out, more, &log);
    cr_assert_eq(rc, 0, "the repaired checkpoint restarts:\n%s", log);
    free(log);
    ct_test_rmtree(dir);
    free(dir);
}

/* ecg.csv into rows of 13 numbers (time, 12 leads); returns the row count. */
static size_t read_ecg(const char *dir, double **rows)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/ecg.csv", dir);
    char *text = ct_test_read(path);
    cr_assert_not_null(text, "no %s", path);
    size_t n = 0, cap = 64;
    *rows = malloc(cap * 13 * sizeof **rows);
    char *line = strchr(text, '\n');
    while (line && line[1]) {
        line++;
        if (n == cap)
            *rows = realloc(*rows, (cap *= 2) * 13 * sizeof **rows);
        char *p = line;
        for (int k = 0; k < 13; k++) {
            (*rows)[n * 13 + k] = strtod(p, &p);
            if (*p == ',')
                p++;
        }
        n++;
        line = strchr(line, '\n');
    }
    free(text);
    return n;
}

Test(mpi_ckpt, ecg_by_reduction_equals_serial, .timeout = 300)
{
    mpi_env();
    char *dir = ct_test_tmpdir("mpick_ecg");
    char config[1024], serial[1100], par[1100];
    write_config(dir, 20.0, 0, 1.0, config, sizeof config);
    snprintf(serial, sizeof serial, "%s/serial", dir);
    char *log = NULL;
    int rc = run(0, config, serial, "", &log);
    cr_assert_eq(rc, 0, "%s", log);
    free(log);
    double *want = NULL;
    size_t n = read_ecg(serial, &want);
    cr_assert_geq(n, 20, "only %zu ECG samples", n);
    double scale[13] = {0};
    for (size_t s = 0; s < n; s++)
        for (int k = 1; k < 13; k++)
            scale[k] = fmax(scale[k], fabs(want[s * 13 + k]));
    for (int k = 1; k < 13; k++)
        cr_assert_gt(scale[k], 0.0, "lead %d is flat", k);
    for (int np = 2; np <= 3; np++) {
        snprintf(par, sizeof par, "%s/np%d", dir, np);
        rc = run(np, config, par, "", &log);
        cr_assert_eq(rc, 0, "%s", log);
        free(log);
        double *got = NULL;
        cr_assert_eq(read_ecg(par, &got), n);
        double worst = 0.0;
        for (size_t s = 0; s < n; s++) {
            cr_assert_eq(got[s * 13], want[s * 13], "np %d: sample %zu at %g ms, serial %g", np, s, got[s * 13],
                         want[s * 13]);
            for (int k = 1; k < 13; k++)
                worst = fmax(worst, fabs(got[s * 13 + k] - want[s * 13 + k]) / scale[k]);
        }
        fprintf(stderr, "mpi ECG, %d ranks: %zu samples x 12 leads, max |d| / max |lead| = %.3e\n", np, n, worst);
        cr_assert_leq(worst, 1e-9, "np %d: ECG differs by %.3e of a lead's largest magnitude", np, worst);
        free(got);
    }
    free(want);
    ct_test_rmtree(dir);
    free(dir);
}

#endif

/* A piece (ranks > 1: format version 2 with the node numbers) and its manifest round-trip; what the reader
 * refuses. No MPI needed. */
Test(mpi_ckpt, piece_and_manifest_round_trip)
{
    char *dir = ct_test_tmpdir("mpick_unit");
    char piece[1200], manifest[1200], serial[1200];
    snprintf(piece, sizeof piece, "%s/ck.ctck.s5.p0001", dir);
    snprintf(manifest, sizeof manifest, "%s/ck.ctck", dir);
    snprintf(serial, sizeof serial, "%s/serial.ctck", dir);
    unsigned char state[100];
    for (int k = 0; k < 100; k++)
        state[k] = (unsigned char)(7 * k + 1);
    int32_t gid[5] = {4, 9, 2, 11, 0};
    ct_checkpoint c;
    memset(&c, 0, sizeof c);
    snprintf(c.id.backend, sizeof c.id.backend, "cpu");
    c.id.n_nodes = 12;
    c.id.dt_ms = 0.05;
    c.id.config_hash = 0x1234;
    c.id.ranks = 2;
    c.id.rank = 1;
    c.step = 5;
    c.state_bytes = sizeof state;
    c.state = state;
    c.partition_hash = 0xabcdef;
    c.n_owned = 3;
    c.n_local = 5;
    c.local_gid = gid;
    uint32_t crc = 0;
    uint64_t bytes = 0;
    cr_assert_eq(ct_checkpoint_write_crc(piece, &c, &crc, &bytes), CT_OK, "%s", ct_error_message());
    ct_checkpoint back;
    cr_assert_eq(ct_checkpoint_read(piece, &c.id, &back), CT_OK, "%s", ct_error_message());
    cr_assert_eq(back.crc32, crc);
    cr_assert(back.n_owned == 3 && back.n_local == 5 && back.partition_hash == 0xabcdef && back.step == 5);
    cr_assert_eq(memcmp(back.local_gid, gid, sizeof gid), 0);
    cr_assert(back.state_bytes == sizeof state && memcmp(back.state, state, sizeof state) == 0);
    ct_checkpoint_free(&back);
    ct_checkpoint_id other = c.id;
    other.rank = 0; /* rank 0 given rank 1's piece */
    cr_assert_eq(ct_checkpoint_read(piece, &other, &back), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "rank 1 of 2; this is rank 0"), "%s", ct_error_message());

    ct_checkpoint_manifest m = {.ranks = 2, .step = 5, .config_hash = 0x1234, .partition_hash = 0xabcdef};
    snprintf(m.backend, sizeof m.backend, "cpu");
    char names[2][256] = {"ck.ctck.s5.p0000", "ck.ctck.s5.p0001"};
    uint64_t sizes[2] = {bytes, bytes};
    uint32_t crcs[2] = {0xdeadbeef, crc};
    m.piece = names;
    m.piece_bytes = sizes;
    m.piece_crc32 = crcs;
    cr_assert_eq(ct_checkpoint_manifest_write(manifest, &m), CT_OK, "%s", ct_error_message());
    ct_checkpoint_manifest r;
    cr_assert_eq(ct_checkpoint_manifest_read(manifest, &r), CT_OK, "%s", ct_error_message());
    cr_assert(r.ranks == 2 && r.step == 5 && r.config_hash == 0x1234 && r.partition_hash == 0xabcdef);
    cr_assert_str_eq(r.backend, "cpu");
    for (int k = 0; k < 2; k++) {
        cr_assert_str_eq(r.piece[k], names[k]);
        cr_assert(r.piece_bytes[k] == sizes[k] && r.piece_crc32[k] == crcs[k]);
    }
    ct_checkpoint_manifest_free(&r);
    /* a serial run given the manifest: the rank counts */
    ct_checkpoint_id one = c.id;
    one.ranks = 1;
    one.rank = 0;
    cr_assert_eq(ct_checkpoint_read(manifest, &one, &back), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), manifest) && strstr(ct_error_message(), "2 MPI rank(s); this run has 1"),
              "%s", ct_error_message());
    /* every prefix of the manifest (a truncated write) and one changed byte are refused, naming the file */
    char *text = ct_test_read(manifest);
    size_t len = strlen(text);
    for (size_t cut = 0; cut < len; cut += 7) {
        char *part = strndup(text, cut);
        cr_assert_eq(ct_test_write(manifest, part), 0);
        free(part);
        cr_assert_neq(ct_checkpoint_manifest_read(manifest, &r), CT_OK, "a manifest cut at %zu bytes", cut);
        cr_assert(strstr(ct_error_message(), manifest), "%s", ct_error_message());
    }
    text[len / 2] = text[len / 2] == '1' ? '2' : '1';
    cr_assert_eq(ct_test_write(manifest, text), 0);
    cr_assert_eq(ct_checkpoint_manifest_read(manifest, &r), CT_ERR_PARSE);
    cr_assert(strstr(ct_error_message(), "CRC mismatch"), "%s", ct_error_message());
    free(text);
    /* a serial checkpoint given as a manifest; a piece name with a newline is not written */
    c.id.ranks = 1;
    c.id.rank = 0;
    cr_assert_eq(ct_checkpoint_write(serial, &c), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_checkpoint_manifest_read(serial, &r), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "1 MPI rank(s)"), "%s", ct_error_message());
    snprintf(names[1], sizeof names[1], "bad\nname");
    cr_assert_eq(ct_checkpoint_manifest_write(manifest, &m), CT_ERR_CONFIG);
    ct_test_rmtree(dir);
    free(dir);
}
