/* ct_run.c — the time loop: drive a backend step by step, stream output, report a blow-up, stop on request
 * (ct_run.h: SIGINT, SIGTERM) or at max_steps (--stop-at) as it would after a blow-up, say beforehand how
 * big the run is and, as it goes, when it will end.
 *
 * Split across MPI ranks (host/mpi/ct_dist.h) the same loop runs on every rank with its share of the mesh:
 * the step status is agreed after every step, final whole-mesh results are gathered to rank 0, which alone
 * post-processes and writes them, ECG samples are a reduction of per-rank partial sums, and each rank writes
 * its piece of the Vm frames and of the checkpoints.
 * Serial runs (dist == NULL) take exactly the path they always did. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../kernels/models/ct_models.h"
#include "ct_checkpoint.h"
#include "ct_output.h"
#include "ct_run.h"
#include "ct_sim.h"
#include "core/ct_files.h"
#include "core/ct_memory.h"
#include "metrics/ct_cv_map.h"
#include "mpi/ct_dist.h"
#include "mpi/ct_mpi.h"
#include "core/ct_clock.h"

/* The pending stop request: the signal number, 0 if none. Written by a signal handler, so nothing but a
 * volatile sig_atomic_t. */
static volatile sig_atomic_t g_stop_signal = 0;

void ct_run_request_stop(int signo) { g_stop_signal = signo > 0 ? signo : SIGTERM; }
int ct_run_stop_requested(void) { return (int)g_stop_signal; }
void ct_run_clear_stop(void) { g_stop_signal = 0; }

static void on_stop_signal(int signo) { ct_run_request_stop(signo); }

int ct_run_install_stop_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND; /* a second Ctrl-C: the default action, at once */
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    return 0;
}

/* A duration for people: "42 s", "3.5 min", "7.2 h", "12 days", "3.1e+04 years". */
static const char *human_duration(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, len, "unknown");
    else if (s < 90)
        snprintf(buf, len, "%.0f s", s);
    else if (s < 90 * 60)
        snprintf(buf, len, "%.1f min", s / 60);
    else if (s < 48 * 3600)
        snprintf(buf, len, "%.1f h", s / 3600);
    else if (s < 2 * 365.25 * 86400)
        snprintf(buf, len, "%.0f days", s / 86400);
    else
        snprintf(buf, len, "%.3g years", s / (365.25 * 86400));
    return buf;
}

/* A size for people: "812 B", "61 kB", "1.2 GB", ... (powers of 1000). */
static const char *human_bytes(double b, char *buf, size_t len)
{
    static const char *unit[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (b >= 999.5 && u < 6) {
        b /= 1000;
        u++;
    }
    snprintf(buf, len, u == 0 ? "%.0f %s" : "%.3g %s", b, unit[u]);
    return buf;
}

void ct_run_result_free(ct_run_result *r)
{
    free(r->activation_ms);
    free(r->probe_activation_ms);
    free(r->vm_final_mV);
    free(r->beat_activation_ms);
    free(r->beat_repolarisation_ms);
    free(r->cv_speed);
    free(r->cv_along);
    free(r->cv_across);
    memset(r, 0, sizeof *r);
}

/* Activation time at a probe: linear interpolation of the nodal times of its element; -1 unless every
 * node that carries weight has activated. */
static double probe_value(const ct_sim *sim, int p, const double *act)
{
    const int32_t *t = sim->mesh->tets + 4 * sim->probe_tet[p];
    const double *w = sim->probe_bary + 4 * p;
    double v = 0.0;
    for (int a = 0; a < 4; a++) {
        if (w[a] <= 1e-9)
            continue;
        if (act[t[a]] < 0)
            return -1.0;
        v += w[a] * act[t[a]];
    }
    double wsum = 0.0;
    for (int a = 0; a < 4; a++)
        if (w[a] > 1e-9)
            wsum += w[a];
    return v / wsum;
}

static ct_status setup_backend(const ct_sim *sim, const ct_dist *dist, const ct_backend_ops *be, int max_beats,
                               ct_step_timing *timing, ct_backend_ctx **ctx)
{
    ct_real params[6 * CT_MODEL_NPARAM];
    ct_backend_problem pb;
    ct_dist_backend_problem(dist, sim, max_beats, params, &pb); /* the serial problem when dist == NULL */
    pb.timing = timing;
    return ct_dist_agree(dist, be->create(&pb, ctx));
}

/* A whole-mesh field (per_node blocks of n values, as the backend's beat fields): straight from the backend,
 * or, split across ranks, this rank's share (into `local`) gathered by global node to `global` on rank 0. */
static ct_status fetch(const ct_backend_ops *be, ct_backend_ctx *ctx, const ct_dist *dist, double *local,
                       enum ct_field field, int per_node, double *global)
{
    if (!dist)
        return be->download(ctx, field, global);
    return ct_dist_gather(dist, be->download(ctx, field, local), local, per_node, global);
}

/* One Vm frame: the whole mesh (serial) or this rank's piece plus rank 0's .pvtu (split). */
static ct_status write_frame(const ct_backend_ops *be, ct_backend_ctx *ctx, const ct_dist *dist, double *local,
                             ct_output *out, double t_ms, double *vm)
{
    if (!dist) {
        CT_CHECK(be->download(ctx, CT_FIELD_VM, vm));
        return ct_output_frame(out, t_ms, vm);
    }
    return ct_dist_frame(dist, out, t_ms, be->download(ctx, CT_FIELD_VM, local), local);
}

/* The whole state after `step` steps, into path (atomically). Split across MPI ranks (dist): every rank
 * writes its own piece and rank 0 the manifest at path (ct_dist_checkpoint_write; `piece` holds this rank's
 * previous piece, removed once the new checkpoint is whole, and gets the new one); the status is agreed. */
static ct_status write_checkpoint(const char *path, const ct_checkpoint_id *id, const ct_backend_ops *be,
                                  ct_backend_ctx *ctx, const ct_dist *dist, long step, const ct_run_result *r,
                                  const ct_output *out, long every, double dt_ms, const ct_ecg *ecg, char *piece,
                                  size_t piece_len)
{
    ct_checkpoint c;
    memset(&c, 0, sizeof c);
    c.id = *id;
    c.step = step;
    c.cg_iterations_total = r->cg_iterations_total;
    c.n_frames = out && every > 0 ? (uint64_t)out->n_frames : 0;
    size_t ns = ecg ? ct_ecg_n_samples(ecg) : 0, nl = ecg ? ct_ecg_n_leads(ecg) : 0; /* split: rank 0's */
    c.n_ecg_samples = ns;
    c.n_ecg_leads = nl;
    c.state_bytes = be->state_size(ctx);
    c.state = malloc(c.state_bytes + 1); /* this rank's backend state */
    c.frame_times_ms = malloc((c.n_frames + 1) * sizeof *c.frame_times_ms);
    c.ecg_times_ms = malloc((ns + 1) * sizeof *c.ecg_times_ms);
    c.ecg_values = malloc((ns * nl + 1) * sizeof *c.ecg_values);
    ct_status st = CT_OK;
    if (!c.state || !c.frame_times_ms || !c.ecg_times_ms || !c.ecg_values)
        st = ct_error_set(CT_ERR_NOMEM, "out of memory for a checkpoint");
    if (st == CT_OK)
        st = be->save_state(ctx, c.state);
    if (st == CT_OK) {
        for (uint64_t k = 0; k < c.n_frames; k++) /* frame k was written at step k * every */
            c.frame_times_ms[k] = (double)((long)k * every) * dt_ms;
        for (size_t s = 0; s < ns; s++) {
            c.ecg_times_ms[s] = ct_ecg_time(ecg, s);
            for (size_t l = 0; l < nl; l++)
                c.ecg_values[s * nl + l] = ct_ecg_value(ecg, s, l);
        }
    }
    if (dist)
        st = ct_dist_checkpoint_write(dist, st, path, &c, piece, piece_len);
    else if (st == CT_OK)
        st = ct_checkpoint_write(path, &c);
    ct_checkpoint_free(&c);
    return st;
}

/* Restores the run from the checkpoint at path: the backend state (split: every rank reads the manifest at
 * path and its own piece, ct_dist_checkpoint_read; `piece` gets that piece's path), the ECG samples (rank
 * 0's), the frames already written and the step reached (*step0). The status is agreed. */
static ct_status restart_from(const char *path, const ct_checkpoint_id *id, const ct_backend_ops *be,
                              ct_backend_ctx *ctx, const ct_dist *dist, long n_steps, ct_output *out, long every,
                              ct_ecg *ecg, long *step0, ct_run_result *r, char *piece, size_t piece_len)
{
    int root = ct_dist_rank(dist) == 0;
    size_t own_bytes = be->state_size(ctx);
    ct_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ct_status st = dist ? ct_dist_checkpoint_read(dist, path, id, &ck, piece, piece_len)
                        : ct_checkpoint_read(path, id, &ck);
    if (st == CT_OK && (ck.step < 0 || ck.step > n_steps || (ecg && root && ck.n_ecg_leads != ct_ecg_n_leads(ecg)) ||
                        ck.state_bytes != own_bytes || ck.n_frames > (uint64_t)INT_MAX))
        st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint does not fit this run (state size, step, frames or ECG "
                          "leads)", dist ? piece : path);
    if (st == CT_OK && ecg && root)
        st = ct_ecg_set_samples(ecg, ck.n_ecg_samples, ck.ecg_times_ms, ck.ecg_values);
    if (st == CT_OK)
        st = be->load_state(ctx, ck.state);
    st = ct_dist_agree(dist, st);
    if (st == CT_OK && out && every > 0)
        st = ct_dist_agree(dist, ct_output_resume_frames(out, (int)ck.n_frames, ck.frame_times_ms,
                                                          !dist ? "vtu" : root ? "pvtu" : NULL));
    if (st == CT_OK) {
        *step0 = (long)ck.step;
        r->cg_iterations_total = ck.cg_iterations_total;
    }
    ct_checkpoint_free(&ck);
    return st;
}

/* Before stepping: how big the run is (steps, nodes, the output it will write), on stderr, so that a run of
 * 1e11 steps is seen for what it is before it starts. A frame's size is that of the first frame when it was
 * just written, else estimated from the mesh. */
static void print_run_size(const ct_sim *sim, const ct_backend_ops *be, ct_backend_ctx *ctx, const ct_output *out,
                           long step0, long n_steps, long full_steps, long every, long ckpt_every, long ecg_every)
{
    const ct_config *cfg = sim->cfg;
    size_t n = sim->mesh->n_nodes, ne = sim->mesh->n_tets;
    long steps = n_steps - step0;
    double frame_bytes = (double)n * (3 * 8 + 8 + 4 + 1) + (double)ne * (4 * 8 + 8 + 1 + 3 * 8 + 2) + 4096;
    char path[4096];
    struct stat sb;
    if (out && every > 0 && step0 == 0 && ct_path_join(path, sizeof path, out->dir, "vm_000000.vtu") == CT_OK &&
        stat(path, &sb) == 0 && sb.st_size > 0)
        frame_bytes = (double)sb.st_size;
    double frames = out && every > 0 ? (double)(n_steps / every - step0 / every + (step0 == 0)) : 0; /* with t = 0 */
    double ckpt_bytes = ckpt_every > 0 && be->state_size ? (double)be->state_size(ctx) : 0;
    ckpt_bytes *= ct_mpi_size(); /* split: a piece per rank, each about as large as this rank's */
    double bytes = frames * frame_bytes;
    if (out) /* activation.vtu, beats.vtu, ecg.csv, metrics.json */
        bytes += 2 * frame_bytes + (ecg_every > 0 ? (double)(n_steps / ecg_every) * 13 * 16 : 0) + 4096;
    bytes += ckpt_bytes; /* one checkpoint, rewritten */
    char b1[32], b2[32], b3[32];
    fprintf(stderr, "  this run: %ld steps (t = %g to %g ms of %g ms, dt %g ms) x %zu nodes = %.3g node-steps; "
            "output about %s", steps, (double)step0 * cfg->dt_ms, (double)n_steps * cfg->dt_ms,
            (double)full_steps * cfg->dt_ms, cfg->dt_ms, n, (double)steps * (double)n,
            human_bytes(bytes, b1, sizeof b1));
    if (frames > 0)
        fprintf(stderr, " (%.0f Vm frames of %s", frames, human_bytes(frame_bytes, b2, sizeof b2));
    if (ckpt_bytes > 0)
        fprintf(stderr, "%s checkpoint %s", frames > 0 ? "," : " (", human_bytes(ckpt_bytes, b3, sizeof b3));
    fprintf(stderr, "%s\n", frames > 0 || ckpt_bytes > 0 ? ")" : "");
}

/* The configuration's stimuli active during step `step` (the loop's stimulus source of `cardiotwin run`). */
static uint32_t config_stimuli(void *user, long step)
{
    const ct_config *cfg = user;
    return ct_config_stimuli_active(cfg, (double)step * cfg->dt_ms);
}

enum { CKPT_PIECE_LEN = 4096 };

/* What the observers of ct_sim_run share (all borrowed from it). */
typedef struct run_watch {
    const ct_backend_ops *be;
    ct_backend_ctx *ctx;
    const ct_dist *dist;
    double *local;
    ct_output *out;
    ct_ecg *ecg;
    ct_run_result *r;
    const char *ckpt_path;
    const ct_checkpoint_id *ckpt_id;
    char *ckpt_piece;    /* split: this rank's latest checkpoint piece ("" none), CKPT_PIECE_LEN bytes */
    long frame_every, step0, full_steps, n_steps, progress_every;
    int root;
    double t0_s, last_line_s;
    int lines;
    int interrupted_by;  /* the stop request's signal, once the loop was stopped by it */
    int failed;          /* an observer failed: its error is the run's */
} run_watch;

/* One pseudo-ECG sample at t_ms: from the whole Vm (serial, into vm), or split, a reduction of the ranks'
 * partial sums over their owned nodes (ct_dist_ecg_sample; Vm stays on its rank). */
static ct_status sample_ecg(const ct_backend_ops *be, ct_backend_ctx *ctx, const ct_dist *dist, double *local,
                            ct_ecg *ecg, double t_ms, double *vm)
{
    double *into = dist ? local : vm;
    return ct_dist_ecg_sample(dist, be->download(ctx, CT_FIELD_VM, into), ecg, into, t_ms);
}

static ct_status observe_ecg(void *user, ct_loop *L)
{
    run_watch *w = user;
    ct_status st = sample_ecg(w->be, w->ctx, w->dist, w->local, w->ecg, (double)L->step * L->dt_ms, w->r->vm_final_mV);
    w->failed = st != CT_OK;
    return st;
}

static ct_status observe_frame(void *user, ct_loop *L)
{
    run_watch *w = user;
    ct_status st = write_frame(w->be, w->ctx, w->dist, w->local, w->out, (double)L->step * L->dt_ms, w->r->vm_final_mV);
    w->failed = st != CT_OK;
    return st;
}

static ct_status observe_checkpoint(void *user, ct_loop *L)
{
    run_watch *w = user;
    w->r->cg_iterations_total = L->cg_iterations_total; /* the checkpoint carries the count so far */
    ct_status st = write_checkpoint(w->ckpt_path, w->ckpt_id, w->be, w->ctx, w->dist, L->step, w->r, w->out,
                                    w->frame_every, L->dt_ms, w->ecg, w->ckpt_piece, CKPT_PIECE_LEN);
    if (st != CT_OK) {
        w->failed = 1;
        return st;
    }
    snprintf(w->r->checkpoint_path, sizeof w->r->checkpoint_path, "%s", w->ckpt_path);
    w->r->checkpoint_t_ms = (double)L->step * L->dt_ms;
    return CT_OK;
}

/* A line every tenth of the way, and also every so often by the clock (the first line soon), so that a long
 * run says early on when it will end. */
static ct_status observe_progress(void *user, ct_loop *L)
{
    run_watch *w = user;
    double now = ct_now_s();
    if (L->step % w->progress_every == 0 || now - w->last_line_s >= (w->lines ? 30.0 : 2.0)) {
        char spent[32], left[32];
        double rate = (double)(L->step - w->step0) / fmax(now - w->t0_s, 1e-9); /* steps per second */
        fprintf(stderr, "  t = %8.2f ms  (%3.0f%%)  %s elapsed, ETA %s\n", (double)L->step * L->dt_ms,
                100.0 * (double)L->step / (double)w->full_steps, human_duration(now - w->t0_s, spent, sizeof spent),
                human_duration((double)(w->n_steps - L->step) / rate, left, sizeof left));
        w->last_line_s = now;
        w->lines++;
    }
    return CT_OK;
}

/* The stop request (ct_run.h): the loop ends after this step unless it was the last; a split run's ranks
 * agree on it (every CT_RUN_STOP_POLL_STEPS steps). */
static ct_status observe_stop_request(void *user, ct_loop *L)
{
    run_watch *w = user;
    if (L->step >= L->end_step || (!w->dist && !g_stop_signal))
        return CT_OK;
    int sig = (int)g_stop_signal;
    ct_status sst = ct_dist_agree(w->dist, sig ? ct_error_set(CT_ERR_INTERRUPTED, "stop signal %d", sig) : CT_OK);
    if (sst != CT_OK) {
        const char *at = strstr(ct_error_message(), "stop signal ");
        w->interrupted_by = sig ? sig : at ? atoi(at + 12) : SIGTERM;
        L->stop = 1;
    }
    return CT_OK;
}

ct_status ct_loop_observe(ct_loop *loop, ct_observer obs)
{
    if (loop->n_observers >= CT_LOOP_MAX_OBSERVERS || obs.every_steps < 1 || !obs.observe)
        return ct_error_set(CT_ERR_INTERNAL, "time loop: observer %d not accepted (at most %d, every >= 1 step)",
                            loop->n_observers, CT_LOOP_MAX_OBSERVERS);
    loop->observers[loop->n_observers++] = obs;
    return CT_OK;
}

ct_status ct_loop_run(ct_loop *L, long end_step)
{
    const char *who = L->who ? L->who : "";
    L->stop = 0;
    L->end_step = end_step;
    while (L->step < end_step && !L->stop) {
        double t = (double)L->step * L->dt_ms;
        uint32_t active = L->stimuli ? L->stimuli(L->stim_user, L->step) : 0u;
        ct_step_report rep = {.bad_node = -1};
        ct_status st = L->be->step(L->ctx, t, active, L->amp_uA_per_uF, &rep);
        st = ct_dist_agree_step(L->dist, st, &rep); /* split: a blow-up anywhere stops every rank (global node) */
        L->cg_iterations_total += rep.cg_iterations;
        if (st != CT_OK) {
            if (rep.bad_node >= 0) {
                const double *x = L->mesh->xyz_mm + 3 * (size_t)rep.bad_node;
                return ct_error_set(st,
                                    "%ssimulation blew up at t = %.4g ms (step %ld): Vm = %g mV at node %ld, "
                                    "position (%g, %g, %g) mm; past |Vm| <= %g mV",
                                    who, t + L->dt_ms, L->step + 1, rep.bad_value_mV, rep.bad_node, x[0], x[1], x[2],
                                    L->vm_bound_mV);
            }
            return ct_error_set(st, "%sstep %ld at t = %.4g ms failed: %s", who, L->step + 1, t, ct_error_message());
        }
        L->step++;
        for (int k = 0; k < L->n_observers; k++)
            if (L->step % L->observers[k].every_steps == 0)
                CT_CHECK(L->observers[k].observe(L->observers[k].user, L));
    }
    return CT_OK;
}

ct_status ct_sim_run(const ct_sim *sim, const ct_backend_ops *be, const ct_run_options *opt, ct_run_result *r)
{
    const ct_config *cfg = sim->cfg;
    const ct_mesh *m = sim->mesh;
    size_t n = m->n_nodes;
    memset(r, 0, sizeof *r);
    r->backend = be->name;
    if (sim->matrices_released)
        return ct_error_set(CT_ERR_INTERNAL, "%s: this sim was run once with its matrices released "
                            "(ct_run_options.consume); create it again to run it again", cfg->source);
    if (opt->consume && opt->consume != sim)
        return ct_error_set(CT_ERR_INTERNAL, "ct_run_options.consume is not the sim given to ct_sim_run");
    ct_run_options o = *opt;
    if (o.max_beats == 0)
        o.max_beats = (int)cfg->max_beats;
    opt = &o;
    r->activation_ms = malloc(n * sizeof *r->activation_ms);
    r->vm_final_mV = malloc(n * sizeof *r->vm_final_mV);
    r->probe_activation_ms = malloc(((size_t)cfg->n_probes + 1) * sizeof *r->probe_activation_ms);
    if (opt->max_beats < 0) {
        ct_run_result_free(r);
        return ct_error_set(CT_ERR_CONFIG, "max_beats = %d is negative", opt->max_beats);
    }
    if (opt->max_beats > 0) {
        r->max_beats = opt->max_beats;
        r->beat_activation_ms = malloc((size_t)opt->max_beats * n * sizeof *r->beat_activation_ms);
        r->beat_repolarisation_ms = malloc((size_t)opt->max_beats * n * sizeof *r->beat_repolarisation_ms);
    }
    if (!r->activation_ms || !r->vm_final_mV || !r->probe_activation_ms ||
        (opt->max_beats > 0 && (!r->beat_activation_ms || !r->beat_repolarisation_ms))) {
        ct_run_result_free(r);
        return ct_error_set(CT_ERR_NOMEM, "out of memory for results");
    }
    for (int p = 0; p < cfg->n_probes; p++)
        r->probe_activation_ms[p] = -1.0;

    ct_output *out = NULL;
    ct_backend_ctx *ctx = NULL;
    ct_ecg *ecg = NULL;
    ct_status st = CT_OK;
    char msg[2048] = "";
    /* this rank's share of a run split across MPI ranks (the sim's, from ct_sim_create_split, or made here
     * from a whole sim); NULL: serial */
    ct_dist *own_dist = NULL;
    const ct_dist *dist = sim->dist;
    double *local = NULL; /* split: one field of this rank's nodes (max(1, max_beats) blocks) */
    int root = 1;         /* this process post-processes and writes the whole-mesh results */
    if (dist || ct_dist_wanted()) {
        if (!dist && (st = ct_dist_create(sim, &own_dist)) != CT_OK)
            goto done;
        if (!dist)
            dist = own_dist;
        root = ct_dist_rank(dist) == 0;
        size_t blocks = opt->max_beats > 0 ? (size_t)opt->max_beats : 1;
        local = malloc((blocks * ct_dist_n_local(dist) + 1) * sizeof *local);
        if ((st = ct_dist_agree(dist, local ? CT_OK : ct_error_set(CT_ERR_NOMEM, "out of memory"))) != CT_OK)
            goto done;
        if (root && !opt->quiet)
            fprintf(stderr, "  %s\n", ct_dist_summary(dist));
    }
    if (opt->out_dir && (st = ct_dist_agree(dist, ct_output_open(opt->out_dir, sim, &out))) != CT_OK)
        goto done;
    /* one run per folder: two writing the same frames would interleave them (a split run: rank 0 holds it) */
    if (out && (st = ct_dist_agree(dist, root ? ct_output_lock(out) : CT_OK)) != CT_OK)
        goto done;
    if ((st = setup_backend(sim, dist, be, opt->max_beats, opt->timing, &ctx)) != CT_OK)
        goto done;
    if (opt->consume) { /* the backend holds its copy (own_dist, made here from a whole sim, keeps its own) */
        ct_sim_release_matrices(opt->consume);
        ct_memory_release();
    }

    long ecg_every = cfg->ecg_interval_ms > 0 ? lround(cfg->ecg_interval_ms / cfg->dt_ms) : 0;
    if (ecg_every > 0) {
        ct_ecg_conductivity ec = {.sigma_il_S_per_m = cfg->ecg_sigma_il_S_per_m,
                                  .sigma_it_S_per_m = cfg->ecg_sigma_it_S_per_m,
                                  .sigma_b_S_per_m = cfg->ecg_sigma_bath_S_per_m};
        ct_ecg_placement place = {0}; /* zero directions: +z superior, +y anterior */
        if (cfg->ecg_has_body_frame) {
            memcpy(place.superior, cfg->ecg_superior, sizeof place.superior);
            memcpy(place.anterior, cfg->ecg_anterior, sizeof place.anterior);
        }
        if ((st = ct_dist_ecg_create(dist, m, &ec, &place, &ecg)) != CT_OK ||
            (st = sample_ecg(be, ctx, dist, local, ecg, 0.0, r->vm_final_mV)) != CT_OK)
            goto done;
    }
    long full_steps = (long)ceil(cfg->end_time_ms / cfg->dt_ms - 1e-9); /* to end_time_ms */
    long n_steps = full_steps; /* where this run ends: sooner with max_steps (--stop-at) */
    if (opt->max_steps > 0 && opt->max_steps < n_steps)
        n_steps = opt->max_steps;
    long every = cfg->output_interval_ms > 0 ? lround(cfg->output_interval_ms / cfg->dt_ms) : 0;
    long step0 = 0; /* > 0 when restarted from a checkpoint */
    long ckpt_every = opt->checkpoint_every_ms > 0 ? lround(opt->checkpoint_every_ms / cfg->dt_ms) : 0;
    if (ckpt_every < 1 && opt->checkpoint_every_ms > 0)
        ckpt_every = 1;
    char ckpt_path[4096] = "";
    char ckpt_piece[CKPT_PIECE_LEN] = ""; /* split: this rank's latest checkpoint piece */
    ct_checkpoint_id ckpt_id;
    memset(&ckpt_id, 0, sizeof ckpt_id);
    if (opt->restart_path || ckpt_every > 0) {
        snprintf(ckpt_id.backend, sizeof ckpt_id.backend, "%s", be->name);
        ckpt_id.n_nodes = n;
        ckpt_id.model = (uint32_t)cfg->model;
        ckpt_id.dt_ms = cfg->dt_ms;
        ckpt_id.ranks = (uint32_t)ct_mpi_size(); /* split runs: a piece per rank and a manifest */
        if ((st = ct_dist_agree(dist, ct_checkpoint_hash_file(cfg->source, &ckpt_id.config_hash))) != CT_OK)
            goto done;
        if (!be->state_size || !be->save_state || !be->load_state) {
            st = ct_error_set(CT_ERR_BACKEND, "the %s backend cannot save its state for checkpoints", be->name);
            goto done;
        }
        if (opt->checkpoint_path)
            snprintf(ckpt_path, sizeof ckpt_path, "%s", opt->checkpoint_path);
        else if (ckpt_every > 0 && (!opt->out_dir ||
                                    (st = ct_path_join(ckpt_path, sizeof ckpt_path, opt->out_dir, "checkpoint.ctck")) !=
                                        CT_OK)) {
            if (st == CT_OK)
                st = ct_error_set(CT_ERR_CONFIG, "checkpoints need an output folder or a checkpoint path");
            goto done;
        }
    }
    if (opt->restart_path) {
        if ((st = restart_from(opt->restart_path, &ckpt_id, be, ctx, dist, n_steps, out, every, ecg, &step0, r,
                               ckpt_piece, sizeof ckpt_piece)) !=
            CT_OK)
            goto done;
        if (strcmp(opt->restart_path, ckpt_path) != 0) /* another checkpoint's piece: not this run's to remove */
            ckpt_piece[0] = '\0';
        r->first_step = step0;
        if (!opt->quiet && root)
            fprintf(stderr, "  restarted from %s at t = %g ms (step %ld)\n", opt->restart_path,
                    (double)step0 * cfg->dt_ms, step0);
        if (!opt->quiet && root && out && out->n_frames_missing > 0)
            fprintf(stderr, "  %d of the %d frames before the restart are not in %s; vm.pvd lists the %d that are\n",
                    out->n_frames_missing, out->n_frames, out->dir, out->n_frames - out->n_frames_missing);
    } else if (out && every > 0) {
        if ((st = write_frame(be, ctx, dist, local, out, 0.0, r->vm_final_mV)) != CT_OK)
            goto done;
    }
    double amp[CT_MAX_STIMULI] = {0};
    for (int s = 0; s < cfg->n_stimuli; s++)
        amp[s] = cfg->stimuli[s].amplitude_uA_per_uF;
    if (!opt->quiet && root)
        print_run_size(sim, be, ctx, out, step0, n_steps, full_steps, every, ckpt_every, ecg_every);
    if ((st = ct_dist_agree(dist, CT_OK)) != CT_OK) /* split: the ranks start the clock together */
        goto done;
    run_watch w = {.be = be, .ctx = ctx, .dist = dist, .local = local, .out = out, .ecg = ecg,
                   .r = r, .ckpt_path = ckpt_path, .ckpt_id = &ckpt_id, .ckpt_piece = ckpt_piece,
                   .frame_every = every, .root = root,
                   .step0 = step0, .full_steps = full_steps, .n_steps = n_steps,
                   .progress_every = n_steps >= 10 ? n_steps / 10 : 1};
    ct_loop loop = {.be = be, .ctx = ctx, .dist = dist, .mesh = m, .dt_ms = cfg->dt_ms,
                    .vm_bound_mV = cfg->vm_bound_mV, .stimuli = config_stimuli, .stim_user = (void *)cfg,
                    .amp_uA_per_uF = amp, .step = step0, .cg_iterations_total = r->cg_iterations_total};
    if (ecg_every > 0)
        st = ct_loop_observe(&loop, (ct_observer){ecg_every, observe_ecg, &w});
    if (st == CT_OK && out && every > 0)
        st = ct_loop_observe(&loop, (ct_observer){every, observe_frame, &w});
    if (st == CT_OK && ckpt_every > 0)
        st = ct_loop_observe(&loop, (ct_observer){ckpt_every, observe_checkpoint, &w});
    if (st == CT_OK && !opt->quiet && root)
        st = ct_loop_observe(&loop, (ct_observer){1, observe_progress, &w});
    /* a stop request (ct_run.h): split runs agree on it every so many steps */
    if (st == CT_OK)
        st = ct_loop_observe(&loop, (ct_observer){dist ? CT_RUN_STOP_POLL_STEPS : 1, observe_stop_request, &w});
    if (st != CT_OK)
        goto done;
    w.t0_s = w.last_line_s = ct_now_s();
    st = ct_loop_run(&loop, n_steps);
    long step = loop.step;
    r->cg_iterations_total = loop.cg_iterations_total;
    if (st == CT_OK && w.interrupted_by) {
        r->interrupted_by = w.interrupted_by;
        st = CT_ERR_INTERRUPTED;
        ct_error_set(st, "interrupted by %s at t = %.6g ms (step %ld of %ld)",
                     r->interrupted_by == SIGINT ? "SIGINT" : r->interrupted_by == SIGTERM ? "SIGTERM" : "a signal",
                     (double)step * cfg->dt_ms, step, n_steps);
    }
    if (st != CT_OK)
        snprintf(msg, sizeof msg, "%s", ct_error_message());
    if (w.failed) /* an observer's own failure (writing a frame, a checkpoint): nothing more is written */
        goto done;
    r->wall_s = ct_now_s() - w.t0_s;
    r->steps = step;
    r->t_end_ms = (double)step * cfg->dt_ms;
    if (st == CT_OK && step < full_steps) { /* max_steps (--stop-at): not the end of the simulation */
        r->stopped = 1;
        int len = snprintf(msg, sizeof msg, "stopped at t = %.6g ms (step %ld) before the end at %.6g ms; ",
                           r->t_end_ms, step, cfg->end_time_ms);
        if (r->checkpoint_path[0])
            snprintf(msg + len, sizeof msg - (size_t)len, "the last checkpoint, at t = %.6g ms, is %.1800s (--restart it)",
                     r->checkpoint_t_ms, r->checkpoint_path);
        else
            snprintf(msg + len, sizeof msg - (size_t)len, "no checkpoint was written (--checkpoint-every MS)");
    }
    r->node_steps_per_s = r->wall_s > 0 ? (double)n * (double)(step - step0) / r->wall_s : 0.0;
    {
        ct_status dst = fetch(be, ctx, dist, local, CT_FIELD_ACTIVATION_MS, 1, r->activation_ms);
        if (dst == CT_OK)
            dst = fetch(be, ctx, dist, local, CT_FIELD_VM, 1, r->vm_final_mV);
        if (dst == CT_OK && r->max_beats > 0)
            dst = fetch(be, ctx, dist, local, CT_FIELD_BEAT_ACTIVATION_MS, r->max_beats, r->beat_activation_ms);
        if (dst == CT_OK && r->max_beats > 0)
            dst = fetch(be, ctx, dist, local, CT_FIELD_BEAT_REPOLARISATION_MS, r->max_beats, r->beat_repolarisation_ms);
        if (dst != CT_OK) {
            st = dst;
            goto done;
        }
    }
    /* Issue 15: everything the time-loop state was kept for is now in r (gathered to rank 0), in ecg (host
     * side) or in the checkpoints already written, so every rank releases that state here, before rank 0's
     * whole-mesh post-processing, instead of at `done`: rank 0's peak is then not the loop's state plus the
     * post-processing's. Ownership: this function made ctx and local and frees them here (set to NULL so that
     * `done` does not free them again); own_dist (a whole sim run under mpirun) is also this function's, but is
     * kept to `done`, its halo plan's communicator being freed collectively; sim->dist (ct_sim_create_split)
     * belongs to the sim and is freed by ct_sim_destroy. No rank makes another collective call after this
     * point, so a failure below stays rank 0's alone, reported by it as before. */
    be->destroy(ctx);
    ctx = NULL;
    free(local);
    local = NULL;
    ct_memory_release(); /* the loop's pages back to the system before the post-processing allocates */
    if (!root) /* split: the whole-mesh results are on rank 0, which post-processes and writes them */
        goto done;
    for (int p = 0; p < cfg->n_probes; p++)
        r->probe_activation_ms[p] = probe_value(sim, p, r->activation_ms);
    r->cv_speed = malloc(m->n_tets * sizeof *r->cv_speed + 1);
    r->cv_along = malloc(m->n_tets * sizeof *r->cv_along + 1);
    r->cv_across = malloc(m->n_tets * sizeof *r->cv_across + 1);
    if (!r->cv_speed || !r->cv_along || !r->cv_across) {
        st = ct_error_set(CT_ERR_NOMEM, "out of memory for the conduction-velocity map");
        goto done;
    }
    {
        /* along / across: the speed of the fronts travelling along / across the fibres (ct_cv_map.h), not the
         * components of every front's velocity */
        ct_status cst = ct_cv_map(m, r->activation_ms, r->cv_speed, r->cv_along, r->cv_across);
        if (cst == CT_OK)
            cst = ct_cv_directional(r->cv_speed, r->cv_along, m->n_tets, CT_CV_DIRECTION_TOLERANCE_DEG, r->cv_along,
                                    r->cv_across);
        if (cst != CT_OK && st == CT_OK) {
            st = cst;
            goto done;
        }
    }
    if (ecg && ct_ecg_n_samples(ecg) > 2) {
        r->has_ecg = ct_ecg_intervals_compute(ecg, NULL, &r->ecg) == CT_OK;
        if (out) {
            char path[4096];
            ct_status est = ct_path_join(path, sizeof path, out->dir, "ecg.csv");
            if (est == CT_OK)
                est = ct_ecg_write_csv(ecg, path);
            if (est != CT_OK && st == CT_OK) {
                st = est;
                goto done;
            }
        }
    }
    if (out) {
        /* Keep what was computed, even after a blow-up: the activation map so far and the metrics. */
        ct_status wst = ct_output_activation(out, r->activation_ms, r->cv_speed, r->cv_along, r->cv_across);
        if (wst == CT_OK && r->max_beats > 0)
            wst = ct_output_beats(out, r);
        if (wst == CT_OK)
            wst = ct_output_metrics(out, r, st, msg);
        if (st == CT_OK)
            st = wst;
        else
            ct_error_set(st, "%s", msg);
    }

done:
    if (st == CT_ERR_INTERRUPTED && out) /* the run writes nothing more: what was cut short goes */
        ct_output_remove_temporaries(out);
    ct_ecg_destroy(ecg);
    if (ctx)
        be->destroy(ctx);
    ct_output_close(out);
    ct_dist_destroy(own_dist);
    free(local);
    return st;
}
