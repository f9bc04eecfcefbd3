/* ct_cohort.c — running a cohort (ct_cohort.h): the `cardiotwin run` child processes (through ct_pool.h),
 * the MPI share-out, resuming, and results.csv / cohort.json from the per-run files. */
#define _POSIX_C_SOURCE 200809L
#include "ct_cohort.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kernels/backend.h"
#include "ct_cohort_plan.h"
#include "core/ct_files.h"
#include "ct_pool.h"
#include "io/ct_vtk.h"
#include "mpi/ct_mpi.h"
#include "core/ct_clock.h"

extern char **environ;

/* ---- MPI: which runs this process takes -------------------------------------------------------------------
 * Without MPI (not compiled in, or not launched by mpirun: host/mpi/ct_mpi.h) this process is the whole world.
 * Under MPI, run k of the id-sorted list belongs to rank k mod size; rank 0 personalises the patients before
 * the others load them and writes results.csv and cohort.json after every rank is done (the output folder
 * must be on a file system every rank sees). ct_mpi_agree() is a barrier that also shares a failure. */

typedef struct world {
    int rank, size, local_rank;
} world;

static void world_init(world *w)
{
    w->rank = ct_mpi_rank();
    w->size = ct_mpi_size();
    w->local_rank = ct_mpi_local_rank();
}

/* ---- one run's folder ------------------------------------------------------------------------------------ */

typedef struct cohort {
    const ct_cohort_options *o;
    ct_cohort_plan *plan;
    const ct_backend_ops *be;
    world w;
    const char *exe;            /* what each run's process executes */
    int jobs, threads, n_devices;
    char runs_dir[4096];
} cohort;

static ct_status run_file(const cohort *c, const ct_cohort_run_spec *r, const char *name, char *out, size_t len)
{
    char dir[4096];
    CT_CHECK(ct_path_join(dir, sizeof dir, c->runs_dir, r->id));
    return name ? ct_path_join(out, len, dir, name) : ct_path_join(out, len, c->runs_dir, r->id);
}

static cJSON *read_json(const char *path)
{
    char *text = NULL;
    if (ct_read_file(path, &text, NULL) != CT_OK)
        return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static const char *json_string(const cJSON *o, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* Whether the run's metrics.json is a completed result of exactly this configuration. */
static int run_is_current(const cohort *c, const ct_cohort_run_spec *r)
{
    char path[4096];
    if (run_file(c, r, "metrics.json", path, sizeof path) != CT_OK)
        return 0;
    cJSON *m = read_json(path);
    const char *status = json_string(m, "status");
    const char *hash = json_string(cJSON_GetObjectItemCaseSensitive(m, "cohort"), "config_hash");
    int ok = status && hash && strcmp(status, "completed") == 0 && strcmp(hash, r->hash) == 0;
    cJSON_Delete(m);
    return ok;
}

/* What went wrong, from the run's log: the first "cardiotwin: " line that is not a warning (the error
 * `cardiotwin run` printed), else the last line, else how the process ended. */
static void failure_message(const char *log_path, int wait_status, char *out, size_t len)
{
    char *log = NULL;
    out[0] = '\0';
    if (ct_read_file(log_path, &log, NULL) == CT_OK) {
        const char *last = NULL;
        size_t last_len = 0;
        for (char *line = log; *line;) {
            char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line) : strlen(line);
            if (strncmp(line, "cardiotwin: ", 12) == 0 && strncmp(line + 12, "warning", 7) != 0) {
                snprintf(out, len, "%.*s", (int)(n - 12), line + 12);
                break;
            }
            if (n > 0)
                last = line, last_len = n;
            line = nl ? nl + 1 : line + n;
        }
        if (!out[0] && last)
            snprintf(out, len, "%.*s", (int)last_len, last);
    }
    free(log);
    if (out[0])
        return;
    if (WIFSIGNALED(wait_status))
        snprintf(out, len, "the run's process was killed by signal %d", WTERMSIG(wait_status));
    else
        snprintf(out, len, "the run's process ended with exit status %d and no message",
                 WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1);
}

/* Mean, SD, count of the entries >= 0; and max - min of those of rep (repolarisation dispersion). */
static void beat_stats(const double *apd, const double *rep, size_t n, cJSON *out)
{
    double s = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (apd[i] >= 0) {
            k++;
            s += apd[i];
            s2 += apd[i] * apd[i];
        }
    for (size_t i = 0; rep && i < n; i++)
        if (rep[i] >= 0) {
            lo = fmin(lo, rep[i]);
            hi = fmax(hi, rep[i]);
        }
    cJSON_AddNumberToObject(out, "repolarised_nodes", (double)k);
    double mean = s / (double)k;
    cJSON_AddNumberToObject(out, "apd90_mean_ms", mean);
    cJSON_AddNumberToObject(out, "apd90_sd_ms", k > 1 ? sqrt(fmax(0, (s2 - s * mean) / (double)(k - 1))) : 0);
    if (hi >= lo)
        cJSON_AddNumberToObject(out, "repolarisation_dispersion_ms", hi - lo);
}

/* The last beat that repolarised anywhere (beats.vtu), as {beat, APD90 mean/SD, dispersion}; NULL if none.
 * metrics.json describes the first beat; under a pacing train the last one is the one nearest steady state. */
static cJSON *last_beat(const char *beats_vtu, long max_beats)
{
    ct_vtk_grid *g;
    if (ct_vtk_read_vtu(beats_vtu, &g) != CT_OK)
        return NULL;
    size_t n = ct_vtk_grid_n_points(g);
    cJSON *out = NULL;
    for (long b = max_beats; b >= 1 && !out; b--) {
        char name[64];
        const double *apd, *rep = NULL;
        int nc;
        snprintf(name, sizeof name, "apd90_ms_beat%ld", b);
        if (ct_vtk_grid_point_field(g, name, &apd, &nc) != CT_OK || nc != 1)
            continue;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            k += apd[i] >= 0;
        if (k == 0)
            continue;
        snprintf(name, sizeof name, "repolarisation_ms_beat%ld", b);
        if (ct_vtk_grid_point_field(g, name, &rep, &nc) != CT_OK || nc != 1)
            rep = NULL;
        out = cJSON_CreateObject();
        cJSON_AddNumberToObject(out, "beat", (double)b);
        beat_stats(apd, rep, n, out);
    }
    ct_vtk_grid_destroy(g);
    return out;
}

/* After the run's process ended: metrics.json gets the "cohort" stamp (id, member, hash of the run's
 * configuration, last beat), or, when the run wrote none, becomes a failed result saying why. Returns
 * whether the run completed. */
static int finish_run(const cohort *c, const ct_cohort_run_spec *r, int wait_status, const char *launch_error)
{
    char metrics[4096], log[4096], beats[4096];
    if (run_file(c, r, "metrics.json", metrics, sizeof metrics) != CT_OK ||
        run_file(c, r, "run.log", log, sizeof log) != CT_OK ||
        run_file(c, r, "beats.vtu", beats, sizeof beats) != CT_OK)
        return 0;
    cJSON *m = launch_error ? NULL : read_json(metrics);
    const char *status = json_string(m, "status");
    int exited_ok = !launch_error && WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
    int completed = exited_ok && status && strcmp(status, "completed") == 0;
    char msg[2048];
    if (!completed) {
        if (launch_error)
            snprintf(msg, sizeof msg, "%s", launch_error);
        else if (json_string(m, "error"))
            snprintf(msg, sizeof msg, "%s", json_string(m, "error"));
        else
            failure_message(log, wait_status, msg, sizeof msg);
        if (!cJSON_IsObject(m)) {
            cJSON_Delete(m);
            m = cJSON_CreateObject();
        }
        cJSON_DeleteItemFromObjectCaseSensitive(m, "status");
        cJSON_DeleteItemFromObjectCaseSensitive(m, "error");
        cJSON_AddStringToObject(m, "status", "failed");
        cJSON_AddStringToObject(m, "error", msg);
    }
    cJSON *stamp = cJSON_CreateObject();
    cJSON_AddStringToObject(stamp, "run_id", r->id);
    cJSON_AddStringToObject(stamp, "member", c->plan->members[r->member].name);
    cJSON_AddStringToObject(stamp, "config_hash", r->hash);
    cJSON_AddStringToObject(stamp, "cohort", c->plan->path);
    if (c->w.size > 1)
        cJSON_AddNumberToObject(stamp, "mpi_rank", c->w.rank);
    if (completed) {
        cJSON *lb = last_beat(beats, r->max_beats);
        if (lb)
            cJSON_AddItemToObject(stamp, "last_beat", lb);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(m, "cohort");
    cJSON_AddItemToObject(m, "cohort", stamp);
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    ct_status st = text ? ct_write_file_atomic(metrics, text, strlen(text)) : CT_ERR_NOMEM;
    cJSON_free(text);
    if (st != CT_OK && !c->o->quiet)
        fprintf(stderr, "cardiotwin: run %s: cannot record its result: %s\n", r->id, ct_error_message());
    if (!c->o->quiet && !completed)
        fprintf(stderr, "cardiotwin: run %s FAILED: %s\n", r->id, msg);
    return completed && st == CT_OK;
}

/* ---- child processes (ct_pool.h) ------------------------------------------------------------------------- */

/* The child's environment: this one, less MPI's launch variables (a run is a serial process of its own, not
 * a rank of this job; ct_mpi_launched()), with OMP_NUM_THREADS (unless set). The pool has already set the
 * device variable of a GPU backend for the child's slot (under MPI, CT_LOCAL_RANK spreads the ranks over the
 * GPUs: run_pool). Returns a calloc'd array of borrowed strings (NULL: out of memory). */
static char **child_env(const cohort *c, char *omp, size_t omp_len)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (strncmp(e, "OMPI_", 5) == 0 || strncmp(e, "PMIX_", 5) == 0 || strncmp(e, "PMI_", 4) == 0 ||
            strncmp(e, "CT_MPI=", 7) == 0)
            continue;
        env[k++] = environ[i];
    }
    if (!getenv("OMP_NUM_THREADS")) {
        snprintf(omp, omp_len, "OMP_NUM_THREADS=%d", c->threads);
        env[k++] = omp;
    }
    env[k] = NULL;
    return env;
}

/* The pool's view of the runs to do: task t is run todo[t]. */
typedef struct run_pool_ctx {
    const cohort *c;
    const int *todo;
    int n_todo, n_done, n_completed, n_failed;
    int *log_fd;   /* per slot: the run's run.log, open from prepare to done; -1: none */
    double *t0;    /* per slot: when its run started */
} run_pool_ctx;

/* Before the fork of `cardiotwin run OUT/runs/<id>/config.json --out OUT/runs/<id> --quiet --backend B`: its
 * folder, config.json and run.log (which takes its output). A stale metrics.json (another configuration, or a
 * failure) goes first, so that what the folder holds afterwards is this run's. */
static ct_status run_prepare(void *vx, int task, int slot)
{
    run_pool_ctx *x = vx;
    const cohort *c = x->c;
    const ct_cohort_run_spec *r = &c->plan->runs[x->todo[task]];
    char dir[4096], config[4096], log[4096], metrics[4096];
    CT_CHECK(run_file(c, r, NULL, dir, sizeof dir));
    CT_CHECK(run_file(c, r, "config.json", config, sizeof config));
    CT_CHECK(run_file(c, r, "run.log", log, sizeof log));
    CT_CHECK(run_file(c, r, "metrics.json", metrics, sizeof metrics));
    CT_CHECK(ct_mkdir_p(dir));
    if (unlink(metrics) != 0 && errno != ENOENT)
        return ct_error_set(CT_ERR_IO, "%s: cannot remove the earlier result: %s", metrics, strerror(errno));
    CT_CHECK(ct_write_file_atomic(config, r->config_text, strlen(r->config_text)));
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot create: %s", log, strerror(errno));
    x->log_fd[slot] = fd;
    x->t0[slot] = ct_now_s();
    if (!c->o->quiet)
        fprintf(stderr, "cardiotwin: run %s started (%d of %d)\n", r->id, task + 1, x->n_todo);
    return CT_OK;
}

/* In the child: stdin from /dev/null, stdout and stderr into run.log, and exec. */
static int run_child(void *vx, int task, int slot)
{
    run_pool_ctx *x = vx;
    const cohort *c = x->c;
    const ct_cohort_run_spec *r = &c->plan->runs[x->todo[task]];
    char dir[4096], config[4096], omp[64];
    if (run_file(c, r, NULL, dir, sizeof dir) != CT_OK || run_file(c, r, "config.json", config, sizeof config) != CT_OK)
        return 127;
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0)
        dup2(null_fd, 0);
    dup2(x->log_fd[slot], 1);
    dup2(x->log_fd[slot], 2);
    char **env = child_env(c, omp, sizeof omp);
    const char *argv[] = {c->exe, "run", config, "--out", dir, "--quiet", "--backend", c->be->name, NULL};
    if (env)
        execve(argv[0], (char *const *)argv, env);
    dprintf(2, "cardiotwin: cannot execute %s: %s\n", argv[0], env ? strerror(errno) : "out of memory");
    return 127;
}

/* After the run's process ended, or could not be started. */
static ct_status run_done(void *vx, int task, int slot, int wait_status, const char *launch_error)
{
    run_pool_ctx *x = vx;
    const cohort *c = x->c;
    const ct_cohort_run_spec *r = &c->plan->runs[x->todo[task]];
    if (x->log_fd[slot] >= 0) {
        close(x->log_fd[slot]);
        x->log_fd[slot] = -1;
    }
    char msg[2048];
    if (launch_error) /* recorded as this run's failure; the others go on */
        snprintf(msg, sizeof msg, "could not start: %s", launch_error);
    int ok = finish_run(c, r, wait_status, launch_error ? msg : NULL);
    ok ? x->n_completed++ : x->n_failed++;
    x->n_done++;
    if (!c->o->quiet && ok)
        fprintf(stderr, "cardiotwin: run %s completed in %.1f s (%d of %d done)\n", r->id, ct_now_s() - x->t0[slot],
                x->n_done, x->n_todo);
    return CT_OK;
}

/* Runs the runs listed in todo (indices into plan->runs), up to c->jobs at once. */
static ct_status run_pool(const cohort *c, const int *todo, int n_todo, int *n_completed, int *n_failed)
{
    run_pool_ctx x = {.c = c, .todo = todo, .n_todo = n_todo};
    x.log_fd = malloc((size_t)c->jobs * sizeof *x.log_fd);
    x.t0 = calloc((size_t)c->jobs, sizeof *x.t0);
    if (!x.log_fd || !x.t0) {
        free(x.log_fd);
        free(x.t0);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    for (int s = 0; s < c->jobs; s++)
        x.log_fd[s] = -1;
    ct_pool_options opt = {.jobs = c->jobs, .device_env = c->be->device_env, .n_devices = c->n_devices,
                           .device_first = c->w.local_rank * c->jobs};
    ct_pool_ops ops = {.prepare = run_prepare, .child = run_child, .done = run_done};
    ct_status st = ct_pool_run(n_todo, &opt, &ops, &x);
    *n_completed += x.n_completed;
    *n_failed += x.n_failed;
    free(x.log_fd);
    free(x.t0);
    return st;
}

/* ---- results.csv and cohort.json ------------------------------------------------------------------------- */

/* Metric columns: where each is found in metrics.json (a key path of up to three keys). */
static const struct {
    const char *column;
    const char *path[3];
} metric_columns[] = {
    {"total_activation_time_ms", {"activation", "total_activation_time_ms"}},
    {"activated_fraction", {"activation", "activated_fraction"}},
    {"cv_median_m_per_s", {"conduction_velocity", "speed", "median_m_per_s"}},
    {"apd90_mean_ms", {"beat1", "apd90_mean_ms"}},
    {"apd90_sd_ms", {"beat1", "apd90_sd_ms"}},
    {"repolarisation_dispersion_ms", {"beat1", "repolarisation_dispersion_ms"}},
    {"max_rt_gradient_ms_per_mm", {"beat1", "max_repolarisation_gradient_ms_per_mm"}},
    {"qrs_ms", {"ecg", "qrs_ms"}},
    {"qt_ms", {"ecg", "qt_ms"}},
    {"last_beat", {"cohort", "last_beat", "beat"}},
    {"last_beat_apd90_mean_ms", {"cohort", "last_beat", "apd90_mean_ms"}},
    {"last_beat_apd90_sd_ms", {"cohort", "last_beat", "apd90_sd_ms"}},
    {"last_beat_repolarisation_dispersion_ms", {"cohort", "last_beat", "repolarisation_dispersion_ms"}},
    {"wall_time_s", {"wall_time_s"}},
    {"node_steps_per_s", {"node_steps_per_s"}},
};

/* A growing text buffer. */
typedef struct buffer {
    char *s;
    size_t len, cap;
    int failed;
} buffer;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(buffer *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
}

/* A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
static void put_field(buffer *t, const char *v)
{
    if (!strpbrk(v, ",\"\r\n")) {
        put(t, ",%s", v);
        return;
    }
    put(t, ",\"");
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            put(t, "\"\"");
        else
            put(t, "%c", *p);
    }
    put(t, "\"");
}

static void put_number(buffer *t, const cJSON *v)
{
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
        put(t, ",%.10g", v->valuedouble);
    else
        put(t, ",");
}

static ct_status write_results(const cohort *c, int *n_completed, int *n_failed, cJSON *failed_runs)
{
    const ct_cohort_plan *p = c->plan;
    buffer t = {0};
    put(&t, "run_id,member");
    if (p->n_drugs)
        put(&t, ",drug");
    if (p->n_pacings)
        put(&t, ",pacing,pacing_period_ms,pacing_count");
    if (p->n_end_times)
        put(&t, ",end_time_ms");
    if (p->n_dts)
        put(&t, ",dt_ms");
    put(&t, ",status,message");
    for (size_t k = 0; k < sizeof metric_columns / sizeof metric_columns[0]; k++)
        put(&t, ",%s", metric_columns[k].column);
    put(&t, "\n");
    *n_completed = *n_failed = 0;
    for (int i = 0; i < p->n_runs; i++) {
        const ct_cohort_run_spec *r = &p->runs[i];
        char path[4096];
        cJSON *m = run_file(c, r, "metrics.json", path, sizeof path) == CT_OK ? read_json(path) : NULL;
        const char *status = json_string(m, "status");
        const char *hash = json_string(cJSON_GetObjectItemCaseSensitive(m, "cohort"), "config_hash");
        int current = status && hash && strcmp(hash, r->hash) == 0;
        int completed = current && strcmp(status, "completed") == 0;
        const char *msg = !current ? "no result of this run's configuration (not run yet, or interrupted)"
                                   : completed ? "" : json_string(m, "error") ? json_string(m, "error") : "failed";
        put(&t, "%s", r->id);
        put_field(&t, p->members[r->member].name);
        if (r->drug >= 0)
            put_field(&t, p->drugs[r->drug].name);
        if (r->pacing >= 0) {
            put_field(&t, p->pacings[r->pacing].name);
            put(&t, ",%.10g,%ld", p->pacings[r->pacing].period_ms, p->pacings[r->pacing].count);
        }
        if (r->end_time >= 0)
            put(&t, ",%.10g", p->end_times_ms[r->end_time]);
        if (r->dt >= 0)
            put(&t, ",%.10g", p->dts_ms[r->dt]);
        put(&t, ",%s", completed ? "completed" : "failed");
        put_field(&t, msg);
        for (size_t k = 0; k < sizeof metric_columns / sizeof metric_columns[0]; k++) {
            const cJSON *v = completed ? m : NULL;
            for (int d = 0; d < 3 && metric_columns[k].path[d] && v; d++)
                v = cJSON_GetObjectItemCaseSensitive(v, metric_columns[k].path[d]);
            put_number(&t, v);
        }
        put(&t, "\n");
        if (completed) {
            (*n_completed)++;
        } else {
            (*n_failed)++;
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "run_id", r->id);
            cJSON_AddStringToObject(f, "message", msg);
            cJSON_AddItemToArray(failed_runs, f);
        }
        cJSON_Delete(m);
    }
    char path[4096];
    ct_status st = t.failed ? ct_error_set(CT_ERR_NOMEM, "out of memory for results.csv")
                            : ct_path_join(path, sizeof path, c->o->out_dir, "results.csv");
    if (st == CT_OK)
        st = ct_write_file_atomic(path, t.s, t.len);
    free(t.s);
    return st;
}

static ct_status write_summary(const cohort *c, const ct_cohort_summary *s, cJSON *failed_runs, double wall_s)
{
    const ct_cohort_plan *p = c->plan;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "cardiotwin-cohort-1");
    cJSON_AddStringToObject(j, "cohort", p->path);
    const char *description = json_string(p->spec, "description");
    if (description)
        cJSON_AddStringToObject(j, "description", description);
    cJSON_AddStringToObject(j, "backend", c->be->name);
    cJSON_AddNumberToObject(j, "jobs", c->jobs);
    cJSON_AddNumberToObject(j, "mpi_ranks", c->w.size);
    cJSON_AddNumberToObject(j, "runs", s->n_runs);
    cJSON_AddNumberToObject(j, "completed", s->n_completed);
    cJSON_AddNumberToObject(j, "failed", s->n_failed);
    cJSON_AddNumberToObject(j, "reused", s->n_reused);
    cJSON_AddNumberToObject(j, "wall_time_s", wall_s);
    cJSON_AddStringToObject(j, "results", "results.csv");
    cJSON *members = cJSON_AddArrayToObject(j, "members");
    for (int i = 0; i < p->n_members; i++) {
        const ct_cohort_member *m = &p->members[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", m->name);
        cJSON_AddStringToObject(o, "kind", m->is_patient ? "patient" : "config");
        cJSON_AddStringToObject(o, "source", m->source);
        cJSON_AddStringToObject(o, "config", m->config_path);
        cJSON_AddStringToObject(o, "model", m->model_name);
        cJSON_AddItemToArray(members, o);
    }
    const cJSON *var = cJSON_GetObjectItemCaseSensitive(p->spec, "variations");
    cJSON_AddItemToObject(j, "variations", var ? cJSON_Duplicate(var, 1) : cJSON_CreateObject());
    cJSON_AddItemToObject(j, "failed_runs", cJSON_Duplicate(failed_runs, 1));
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    char path[4096];
    ct_status st = text ? ct_path_join(path, sizeof path, c->o->out_dir, "cohort.json")
                        : ct_error_set(CT_ERR_NOMEM, "out of memory for cohort.json");
    if (st == CT_OK)
        st = ct_write_file_atomic(path, text, strlen(text));
    cJSON_free(text);
    return st;
}

/* ---- the cohort ------------------------------------------------------------------------------------------ */

static void choose_jobs(cohort *c)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    c->n_devices = 1;
    if (c->be->device_count && c->be->device_env && !getenv(c->be->device_env)) {
        int n = c->be->device_count();
        c->n_devices = n > 0 ? n : 1;
    }
    if (c->o->jobs > 0)
        c->jobs = c->o->jobs;
    else if (c->w.size > 1)
        c->jobs = 1; /* under MPI: one run per rank at a time; start as many ranks as runs should share */
    else if (strcmp(c->be->name, "cpu") == 0)
        c->jobs = (int)(cores / 2 > 0 ? cores / 2 : 1);
    else
        c->jobs = c->n_devices;
    c->threads = (int)(cores / c->jobs > 0 ? cores / c->jobs : 1);
}

ct_status ct_cohort_run(const ct_cohort_options *o, ct_cohort_summary *summary)
{
    double t0 = ct_now_s();
    ct_cohort_summary sum = {0};
    if (summary)
        *summary = sum;
    if (!o->cohort_path || !o->out_dir)
        return ct_error_set(CT_ERR_INTERNAL, "ct_cohort_run: a cohort file and an output folder are needed");
    cohort c = {.o = o, .exe = o->cardiotwin_exe ? o->cardiotwin_exe : "/proc/self/exe"};
    world_init(&c.w);
    char why[512];
    CT_CHECK(ct_mpi_agree(ct_backend_select(o->backend ? o->backend : "auto", &c.be, why, sizeof why)));
    int quiet = o->quiet || c.w.rank != 0;
    if (!quiet)
        fprintf(stderr, "cardiotwin: %s\n", why);

    /* everything is checked before anything runs; patients are personalised once (by rank 0) */
    ct_status st = ct_cohort_plan_read(o->cohort_path, &c.plan);
    int has_patients = 0;
    for (int i = 0; st == CT_OK && i < c.plan->n_members; i++)
        has_patients |= c.plan->members[i].is_patient;
    if (st == CT_OK && has_patients && c.w.rank == 0)
        st = ct_cohort_plan_personalise(c.plan, o->out_dir, quiet);
    st = ct_mpi_agree(st);
    if (st == CT_OK)
        st = ct_cohort_plan_expand(c.plan, o->out_dir);
    if (st == CT_OK)
        st = ct_path_join(c.runs_dir, sizeof c.runs_dir, o->out_dir, "runs");
    if (st == CT_OK)
        st = ct_mkdir_p(c.runs_dir);
    st = ct_mpi_agree(st);
    if (st != CT_OK) {
        ct_cohort_plan_destroy(c.plan);
        return st;
    }
    choose_jobs(&c);
    sum.n_runs = c.plan->n_runs;

    /* this process's share, less what is already done */
    int *todo = calloc((size_t)c.plan->n_runs + 1, sizeof *todo);
    if (!todo) {
        ct_cohort_plan_destroy(c.plan);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    int n_todo = 0, reused = 0, completed = 0, failed = 0;
    for (int k = 0; k < c.plan->n_runs; k++) {
        if (k % c.w.size != c.w.rank && c.w.rank != 0)
            continue;
        int current = run_is_current(&c, &c.plan->runs[k]);
        reused += current; /* rank 0 counts every rank's, before any starts */
        if (!current && k % c.w.size == c.w.rank)
            todo[n_todo++] = k;
    }
    st = ct_mpi_agree(CT_OK);
    if (!quiet) {
        fprintf(stderr, "cardiotwin: cohort %s: %d run%s, %d already done; %d at once%s\n", o->cohort_path,
                c.plan->n_runs, c.plan->n_runs == 1 ? "" : "s", reused, c.jobs,
                c.w.size > 1 ? " per MPI rank" : "");
    }
    if (st == CT_OK)
        st = run_pool(&c, todo, n_todo, &completed, &failed);
    free(todo);
    sum.n_reused = reused;
    st = ct_mpi_agree(st);

    /* rank 0 gathers every run's result */
    if (st == CT_OK && c.w.rank == 0) {
        cJSON *failed_runs = cJSON_CreateArray();
        st = write_results(&c, &sum.n_completed, &sum.n_failed, failed_runs);
        if (st == CT_OK)
            st = write_summary(&c, &sum, failed_runs, ct_now_s() - t0);
        cJSON_Delete(failed_runs);
    }
    st = ct_mpi_agree(st);
    ct_cohort_plan_destroy(c.plan);
    if (summary)
        *summary = sum;
    return st;
}
