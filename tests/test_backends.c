/* test_backends.c — one conformance suite for every compute backend: each case runs on every backend compiled
 * into this build (the CPU, and OpenCL / CUDA where CT_HAVE_OPENCL / CT_HAVE_CUDA) and is compared with the CPU
 * reference, so a new backend gets the whole suite by adding one line to CT_EACH_BACKEND below.
 *
 * Every case goes through the public table of kernels/backend.h only (create, step, download, state_size,
 * save_state, load_state, destroy); problems are built with the host helpers (ct_config_parse, ct_sim_create,
 * ct_sim_backend_problem), and the test drives the time loop itself, as host/sim/ct_run.c does. A backend whose
 * probe() fails is skipped with its reason (CI has no GPU: CUDA skips, OpenCL runs on PoCL on the CPU).
 * The test names read backend::case, e.g. opencl::crank_nicolson_consistent.
 *
 * It replaces the per-backend suites test_opencl.c and test_cuda.c and holds the union of their cases.
 *
 * Cases: both ionic models (TP06, Mitchell-Schaeffer); every diffusion path (explicit lumped, explicit
 * consistent, Crank-Nicolson and backward Euler with lumped and consistent mass) on a small slab, and the
 * N-version benchmark slab (explicit, consistent mass); several stimuli with their masks (overlapping, a sphere,
 * mask bit 31, amplitudes switched per run); per-node parameter sets (cell type bands and a border zone);
 * first activation and beat tracking (max_beats > 0, more beats than kept); a forced blow-up (bad node and
 * value as on the CPU); the implicit paths with the extrapolated CG start (the default) and Crank-Nicolson with
 * the previous start (x0 = V*), the extrapolated one taking under 0.9x its iterations; save_state / load_state
 * bit for bit on every diffusion path (the implicit ones carry the extrapolated start's last V*) and across a
 * whole beat; a
 * one-rank halo (the halo protocol of backend.h with no ghosts); the table's edges (initial state, one step,
 * fields a problem lacks, destroy(NULL)); backend selection, a bad device index and a problem of no nodes
 * (refused by the device backends). In the cpu suite the comparison cases run the reference once, with their
 * own checks (the wave travelled, the stimuli and parameter sets did what they should); the halo case compares
 * the CPU with a halo against the CPU without.
 *
 * Tolerances (double build), each stated with its reason at its definition: TOL_POINTWISE for the paths
 * without a reduction, TOL_CG for the paths that solve with CG, beat times as activation times, the blow-up
 * exactly (step, node) and to 1e-6 relative (value), state round trips bit for bit.
 * Run time (Release, two cores, CUDA skipped): about 50 s with OMP_NUM_THREADS=1 (15 s cpu, 36 s opencl); the
 * cpu backend's OpenMP barriers make it several times longer on a loaded machine. One backend context serves the
 * runs of a case (reset with load_state) where the problem is the same; PoCL caches its compiled kernels.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/backend.h"
#include "../kernels/models/ct_models.h"
#include "sim/ct_config.h"
#include "sim/ct_sim.h"

/* ---- the backends ------------------------------------------------------------------------------------ */

/* X(suite, ops, case, timeout_s) for every backend compiled in: the one place a backend #ifdef appears. */
#ifdef CT_HAVE_OPENCL
#define CT_ON_OPENCL(X, c, t) X(opencl, ct_backend_opencl, c, t)
#else
#define CT_ON_OPENCL(X, c, t)
#endif
#ifdef CT_HAVE_CUDA
#define CT_ON_CUDA(X, c, t) X(cuda, ct_backend_cuda, c, t)
#else
#define CT_ON_CUDA(X, c, t)
#endif
#define CT_EACH_BACKEND(X, c, t) X(cpu, ct_backend_cpu, c, t) CT_ON_OPENCL(X, c, t) CT_ON_CUDA(X, c, t)

static void require(const ct_backend_ops *be)
{
    if (be->probe() != CT_OK)
        cr_skip_test("%s backend unavailable: %s", be->name, ct_error_message());
}

#define CT_BACKEND_TEST(suite, ops, c, t)                                                                        \
    Test(suite, c, .timeout = t)                                                                               \
    {                                                                                                          \
        require(&ops);                                                                                         \
        case_##c(&ops);                                                                                        \
    }
/* Declares case `c`, a function of the backend under test, and one Criterion test per backend. */
#define BACKEND_CASE(c, timeout_s)                                                                             \
    static void case_##c(const ct_backend_ops *be);                                                            \
    CT_EACH_BACKEND(CT_BACKEND_TEST, c, timeout_s)                                                             \
    static void case_##c(const ct_backend_ops *be)

/* ---- tolerances against the CPU ----------------------------------------------------------------------- */

typedef struct tol {
    double vm_mV;  /* max |final Vm difference| */
    double act_ms; /* max |activation (and beat activation / repolarisation) time difference| */
    const char *name;
} tol;

/* TOL_POINTWISE, explicit lumped diffusion and the reaction: no reduction, every node's update reads its own row
 * in the same order on every backend; what may differ is the device's exp/log/pow (a few ulp each) and, on CUDA,
 * fused multiply-adds, amplified through the upstroke. Measured on PoCL 3.1 (double): at most 1.9e-13 mV and
 * 1.8e-15 ms; beat times 5.7e-14 ms.
 * TOL_CG, explicit consistent, Crank-Nicolson, backward Euler: dot products are summed in another order (OpenMP
 * chunks, work-group partial sums), so iterates differ by rounding, and where a residual sits at the stopping
 * tolerance one backend may take one iteration more, moving Vm by about cg_tolerance x |Vm| in that step.
 * Measured on PoCL (double): at most 8.7e-13 mV and 7.1e-15 ms, the same CG iteration counts.
 * Vm: 1e-6 mV, the bound of the former test_cuda.c (test_opencl.c had 1e-9 for PoCL). CUDA is built with
 * -fmad=false (CMakeLists.txt), as OpenCL has FP_CONTRACT OFF, so no multiply-add is fused where the CPU rounds
 * twice; what remains on CUDA is the device libm (exp, log, pow within 1-2 ulp of glibc's, amplified through
 * the upstroke as PoCL's is: expect 1e-12..1e-10 mV) and cuSPARSE's and the tree-shaped dot products' order
 * (as OpenCL's work-group sums). CUDA thus shares the OpenCL bounds; 1e-6 mV keeps four orders of margin for a
 * libm we have not yet measured on a GPU (bench/gpu_check.sh prints the measured differences).
 * Activation: 1e-3 ms, 1/20 of the smallest dt used here, so an activation one step early or late always fails,
 * while rounding passes with ten orders of margin (the former suites allowed 0.05 ms, two and a half steps). */
#ifdef CT_REAL_FLOAT
/* single precision: rounding is 1e-7 relative and the upstroke amplifies it (former test_opencl.c bounds) */
static const tol TOL_POINTWISE = {1.0, 0.1, "pointwise (float)"};
static const tol TOL_CG = {1.0, 0.1, "CG (float)"};
#else
static const tol TOL_POINTWISE = {1e-6, 1e-3, "pointwise: no reduction; device libm only"};
static const tol TOL_CG = {1e-6, 1e-3, "CG: dot products in another order, +-1 iteration at the tolerance"};
#endif
/* Blow-up value: the same arithmetic on a value past the bound, relative (rounding only). */
#define BLOWUP_REL_TOL 1e-6

/* ---- problems ---------------------------------------------------------------------------------------- */

typedef struct problem {
    ct_config cfg;                       /* owned contents (ct_config_free) */
    ct_sim *sim;                         /* owned; borrows cfg, so a problem is never copied */
    ct_real params[6 * CT_MODEL_NPARAM]; /* pb.param_sets */
    uint8_t *node_set;                   /* owned: a test's own node parameter sets, or NULL (the sim's) */
    uint32_t *stim_mask;                 /* owned: a test's own stimulus masks, or NULL (the sim's) */
    ct_backend_problem pb;               /* borrows from sim, params, node_set, stim_mask */
    long steps;                          /* end_time_ms / dt_ms */
    double amp[CT_MAX_STIMULI];          /* amplitude of each stimulus, uA/uF (the configuration's) */
    int extra_bit;                       /* >= 0: stimulus bit of the test's own mask, active extra_on..off ms */
    double extra_on_ms, extra_off_ms;
} problem;

/* Parses a configuration; the caller may change p->cfg before problem_build. */
static void problem_parse(problem *p, const char *json, const char *label)
{
    memset(p, 0, sizeof *p);
    p->extra_bit = -1;
    cr_assert_eq(ct_config_parse(json, label, &p->cfg), CT_OK, "%s: %s", label, ct_error_message());
}

static void problem_build(problem *p, int max_beats)
{
    cr_assert_eq(ct_sim_create(&p->cfg, &p->sim), CT_OK, "%s: %s", p->cfg.source, ct_error_message());
    ct_sim_backend_problem(p->sim, max_beats, p->params, &p->pb);
    p->steps = lround(p->cfg.end_time_ms / p->cfg.dt_ms);
    for (int s = 0; s < p->cfg.n_stimuli; s++)
        p->amp[s] = p->cfg.stimuli[s].amplitude_uA_per_uF;
}

static void problem_free(problem *p)
{
    ct_sim_destroy(p->sim);
    ct_config_free(&p->cfg);
    free(p->node_set);
    free(p->stim_mask);
}

/* The stimuli active during the step starting at t_ms (as host/sim/ct_run.c), and the test's own bit. */
static uint32_t stim_active(const problem *p, double t_ms)
{
    uint32_t active = 0;
    for (int s = 0; s < p->cfg.n_stimuli; s++)
        if (ct_stimulus_active(&p->cfg.stimuli[s], t_ms))
            active |= 1u << s;
    if (p->extra_bit >= 0 && t_ms >= p->extra_on_ms && t_ms < p->extra_off_ms)
        active |= 1u << p->extra_bit;
    return active;
}

/* A TP06 (or other model, `model` a JSON object) slab of size_mm at dx_mm, stimulated at x = 0. */
static void slab_json(char *out, size_t len, const char *model, const char *size, double dx_mm, double dt_ms,
                      double end_ms, const char *method, const char *mass, double amp, const char *extra)
{
    snprintf(out, len,
             "{\"mesh\": {\"type\": \"box\", \"size_mm\": %s, \"dx_mm\": %g},"
             " \"model\": %s,"
             " \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
             " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": %g, \"end_time_ms\": %g,"
             " \"diffusion\": {\"method\": \"%s\", \"mass\": \"%s\", \"cg_tolerance\": 1e-8},"
             " \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,10,10], \"amplitude_uA_per_uF\": %g,"
             " \"duration_ms\": 2}]%s}",
             size, dx_mm, model, dt_ms, end_ms, method, mass, amp, extra ? extra : "");
}

static const char *const TP06 = "{\"name\": \"tp06\", \"cell_type\": \"epi\"}";
static const char *const MS = "{\"name\": \"mitchell_schaeffer\"}";

/* The small slab of most cases: 4 x 1 x 1 mm at dx 0.25 mm (425 nodes), dt 0.02 ms, 12 ms (600 steps): the wave
 * crosses it. CG stops at the configuration's default relative residual, 1e-8, unless a case says otherwise. */
static void small_slab(problem *p, const char *model, const char *method, const char *mass, double amp,
                       const char *label)
{
    char json[4096];
    slab_json(json, sizeof json, model, "[4, 1, 1]", 0.25, 0.02, 12.0, method, mass, amp, NULL);
    problem_parse(p, json, label);
}

/* The same for the CG paths, 8 ms (400 steps: each CG iteration costs a device round trip or two); the wave
 * covers more than half of the slab. */
static void small_slab_cg(problem *p, const char *method, const char *mass, const char *label)
{
    char json[4096];
    slab_json(json, sizeof json, TP06, "[4, 1, 1]", 0.25, 0.02, 8.0, method, mass, 50.0, NULL);
    problem_parse(p, json, label);
}

/* ---- runs -------------------------------------------------------------------------------------------- */

/* A backend context for one problem, with its initial state kept so that several runs can share it. */
typedef struct session {
    const ct_backend_ops *be;
    ct_backend_ctx *ctx;
    void *initial; /* owned, state_size bytes */
    size_t state_bytes;
} session;

static void session_open(session *s, const ct_backend_ops *be, const problem *p)
{
    s->be = be;
    s->ctx = NULL;
    cr_assert_eq(be->create(&p->pb, &s->ctx), CT_OK, "%s create (%s): %s", be->name, p->cfg.source,
                 ct_error_message());
    s->state_bytes = be->state_size(s->ctx);
    cr_assert_gt(s->state_bytes, 0, "%s: empty state", be->name);
    s->initial = malloc(s->state_bytes);
    cr_assert_not_null(s->initial);
    cr_assert_eq(be->save_state(s->ctx, s->initial), CT_OK, "%s save_state: %s", be->name, ct_error_message());
}

static void session_close(session *s)
{
    s->be->destroy(s->ctx);
    free(s->initial);
    s->ctx = NULL;
    s->initial = NULL;
}

typedef struct run {
    ct_status status;       /* of the last step taken */
    ct_step_report report;  /* of the last step taken */
    long steps;             /* steps completed without error */
    long cg_iterations;     /* total */
    double *vm, *act;       /* owned, n each */
    double *beat_act, *beat_rep, *beat_count; /* owned, max_beats*n, max_beats*n, n; NULL without beats */
} run;

static void run_free(run *r)
{
    free(r->vm);
    free(r->act);
    free(r->beat_act);
    free(r->beat_rep);
    free(r->beat_count);
    memset(r, 0, sizeof *r);
}

/* Steps [from, to) with the problem's stimuli and amplitudes `amp`; stops at the first error. */
static void run_steps(const session *s, const problem *p, const double *amp, long from, long to, run *r)
{
    r->status = CT_OK;
    for (long k = from; k < to; k++) {
        double t = (double)k * p->cfg.dt_ms;
        r->status = s->be->step(s->ctx, t, stim_active(p, t), amp, &r->report);
        r->cg_iterations += r->report.cg_iterations;
        if (r->status != CT_OK)
            return;
        r->steps++;
    }
}

/* Downloads every field into r (allocating it). */
static void download_all(const session *s, const problem *p, run *r)
{
    size_t n = p->pb.n_nodes, nb = (size_t)p->pb.max_beats * n;
    r->vm = malloc(n * sizeof *r->vm);
    r->act = malloc(n * sizeof *r->act);
    cr_assert(r->vm && r->act);
    cr_assert_eq(s->be->download(s->ctx, CT_FIELD_VM, r->vm), CT_OK, "%s: %s", s->be->name, ct_error_message());
    cr_assert_eq(s->be->download(s->ctx, CT_FIELD_ACTIVATION_MS, r->act), CT_OK, "%s: %s", s->be->name,
                 ct_error_message());
    if (nb == 0)
        return;
    r->beat_act = malloc(nb * sizeof *r->beat_act);
    r->beat_rep = malloc(nb * sizeof *r->beat_rep);
    r->beat_count = malloc(n * sizeof *r->beat_count);
    cr_assert(r->beat_act && r->beat_rep && r->beat_count);
    cr_assert_eq(s->be->download(s->ctx, CT_FIELD_BEAT_ACTIVATION_MS, r->beat_act), CT_OK, "%s: %s", s->be->name,
                 ct_error_message());
    cr_assert_eq(s->be->download(s->ctx, CT_FIELD_BEAT_REPOLARISATION_MS, r->beat_rep), CT_OK, "%s: %s",
                 s->be->name, ct_error_message());
    cr_assert_eq(s->be->download(s->ctx, CT_FIELD_BEAT_COUNT, r->beat_count), CT_OK, "%s: %s", s->be->name,
                 ct_error_message());
}

/* A whole run from the initial state (restored), with amplitudes amp (NULL: the configuration's). */
static void session_run(const session *s, const problem *p, const double *amp, run *r)
{
    memset(r, 0, sizeof *r);
    cr_assert_eq(s->be->load_state(s->ctx, s->initial), CT_OK, "%s load_state: %s", s->be->name,
                 ct_error_message());
    run_steps(s, p, amp ? amp : p->amp, 0, p->steps, r);
    download_all(s, p, r);
}

/* Same presence (>= 0 or -1) and at most `tol_ms` apart; returns the largest difference. */
static double compare_times(const char *label, const char *what, const double *ref, const double *got, size_t count,
                            double tol_ms, size_t *n_present)
{
    double worst = 0.0;
    size_t worst_at = 0, present = 0;
    for (size_t i = 0; i < count; i++) {
        cr_assert((ref[i] < 0) == (got[i] < 0), "%s: %s [%zu] is %g ms on the cpu, %g ms here", label, what, i,
                  ref[i], got[i]);
        if (ref[i] >= 0) {
            present++;
            if (fabs(ref[i] - got[i]) > worst) {
                worst = fabs(ref[i] - got[i]);
                worst_at = i;
            }
        }
    }
    cr_assert_leq(worst, tol_ms, "%s: %s differs from the cpu by %g ms at [%zu] (bound %g ms)", label, what, worst,
                  worst_at, tol_ms);
    if (n_present)
        *n_present = present;
    return worst;
}

/* Compares run `got` of backend be with the CPU's `ref` within t; prints the differences. */
static void compare_runs(const ct_backend_ops *be, const problem *p, const run *ref, const run *got, const tol *t,
                         const char *label)
{
    size_t n = p->pb.n_nodes, n_act = 0;
    cr_assert_eq(got->status, ref->status, "%s: %s returned %d, the cpu %d (%s)", label, be->name, got->status,
                 ref->status, ct_error_message());
    cr_assert_eq(got->steps, ref->steps, "%s: %s ran %ld steps, the cpu %ld", label, be->name, got->steps, ref->steps);
    double d_act = compare_times(label, "activation", ref->act, got->act, n, t->act_ms, &n_act);
    double d_vm = 0.0;
    size_t d_vm_at = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(isfinite(got->vm[i]), "%s: %s Vm at node %zu is %g", label, be->name, i, got->vm[i]);
        if (fabs(got->vm[i] - ref->vm[i]) > d_vm) {
            d_vm = fabs(got->vm[i] - ref->vm[i]);
            d_vm_at = i;
        }
    }
    double d_beat = 0.0;
    char beat_text[64] = "";
    if (ref->beat_count) {
        size_t nb = (size_t)p->pb.max_beats * n;
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(got->beat_count[i], ref->beat_count[i], "%s: node %zu counts %g beats here, %g on the cpu",
                         label, i, got->beat_count[i], ref->beat_count[i]);
        d_beat = fmax(compare_times(label, "beat activation", ref->beat_act, got->beat_act, nb, t->act_ms, NULL),
                      compare_times(label, "beat repolarisation", ref->beat_rep, got->beat_rep, nb, t->act_ms, NULL));
        snprintf(beat_text, sizeof beat_text, ", max |d beat time| %.3g ms", d_beat);
    }
    fprintf(stderr,
            "%s vs cpu, %s: %zu nodes (%zu activated), %ld steps: max |d activation| %.3g ms, max |d Vm| %.3g mV "
            "(node %zu)%s; CG iterations cpu %ld / %s %ld [tolerance %s: %g mV, %g ms]\n",
            be->name, label, n, n_act, ref->steps, d_act, d_vm, d_vm_at, beat_text, ref->cg_iterations, be->name,
            got->cg_iterations, t->name, t->vm_mV, t->act_ms);
    cr_assert_leq(d_vm, t->vm_mV, "%s: final Vm differs from the cpu by %g mV at node %zu (bound %g mV)", label, d_vm,
                  d_vm_at, t->vm_mV);
    if (ref->cg_iterations > 0) {
        cr_assert_gt(got->cg_iterations, 0, "%s: the cpu ran CG, %s did not", label, be->name);
        /* an iteration more or less where a residual sits at the tolerance */
        cr_assert_leq(labs(got->cg_iterations - ref->cg_iterations), ref->cg_iterations / 100 + 1,
                      "%s: CG iterations cpu %ld, %s %ld", label, ref->cg_iterations, be->name, got->cg_iterations);
    } else {
        cr_assert_eq(got->cg_iterations, 0, "%s: %s ran CG where the cpu did not", label, be->name);
    }
}

/* Runs p on the CPU and on be from rest and compares; asserts that the wave reached at least min_active_frac of
 * the nodes (so that the comparison means something). The CPU's run goes to *cpu_run if not NULL (caller frees). */
static void compare_case(const ct_backend_ops *be, problem *p, const tol *t, double min_active_frac, const char *label,
                         run *cpu_run)
{
    session sc, sb;
    run ref;
    session_open(&sc, &ct_backend_cpu, p);
    session_run(&sc, p, NULL, &ref);
    session_close(&sc);
    if (be != &ct_backend_cpu) { /* the cpu suite runs the case on the reference once, with its own checks */
        run got;
        session_open(&sb, be, p);
        session_run(&sb, p, NULL, &got);
        session_close(&sb);
        compare_runs(be, p, &ref, &got, t, label);
        run_free(&got);
    }
    size_t n = p->pb.n_nodes, n_act = 0;
    for (size_t i = 0; i < n; i++)
        n_act += ref.act[i] >= 0;
    cr_assert_geq((double)n_act, min_active_frac * (double)n, "%s: only %zu of %zu nodes activated", label, n_act, n);
    fprintf(stderr, "%s, %s: %zu of %zu nodes activated, %ld steps, %ld CG iterations on the cpu\n", be->name, label,
            n_act, n, ref.steps, ref.cg_iterations);
    if (cpu_run)
        *cpu_run = ref;
    else
        run_free(&ref);
}

/* ---- cases: models and diffusion paths ----------------------------------------------------------------- */

/* TP06 on the small slab, explicit diffusion with lumped mass (the fused SpMV + update; no CG). */
BACKEND_CASE(tp06_explicit_lumped, 300)
{
    problem p;
    small_slab(&p, TP06, "explicit", "lumped", 50.0, "tp06 explicit lumped");
    problem_build(&p, 0);
    compare_case(be, &p, &TOL_POINTWISE, 0.9, "tp06 explicit lumped", NULL);
    problem_free(&p);
}

/* Explicit diffusion with consistent mass: a CG on M_C every step. */
BACKEND_CASE(tp06_explicit_consistent, 300)
{
    problem p;
    small_slab_cg(&p, "explicit", "consistent", "tp06 explicit consistent");
    problem_build(&p, 0);
    compare_case(be, &p, &TOL_CG, 0.5, "tp06 explicit consistent", NULL);
    problem_free(&p);
}

BACKEND_CASE(crank_nicolson_lumped, 300)
{
    problem p;
    small_slab_cg(&p, "crank_nicolson", "lumped", "crank_nicolson lumped");
    p.cfg.cg_rel_tolerance = 1e-10; /* as the former OpenCL suite: many iterations per step */
    problem_build(&p, 0);
    compare_case(be, &p, &TOL_CG, 0.5, "crank_nicolson lumped", NULL);
    problem_free(&p);
}

BACKEND_CASE(crank_nicolson_consistent, 300)
{
    problem p;
    small_slab_cg(&p, "crank_nicolson", "consistent", "crank_nicolson consistent");
    problem_build(&p, 0);
    compare_case(be, &p, &TOL_CG, 0.5, "crank_nicolson consistent", NULL);
    problem_free(&p);
}

/* The implicit cases above run with the default CG start, extrapolated (diffusion.cg_start "extrapolate": x0 =
 * V* + the last step's diffusion increment, backend.h ct_cg_start); these run Crank-Nicolson with the previous
 * start, x0 = V*, against the CPU, and on every backend the extrapolated start takes fewer iterations on this
 * moving front (the backend's own count: the tolerance case above holds it to the CPU's): 0.82x measured at this
 * slab's dt of 0.02 ms with the consistent ionic mass, so under 0.9x is asked here; test_cg_start asks under 0.8x
 * at dt 0.01 ms (0.75x). lumped_ionic: the same with diffusion.ionic_mass "lumped", whose one-pass start also takes
 * M vm_prev and the reaction's increment through the lumped mass (ct_cg_start_implicit_row). */
static void previous_and_extrapolated_start(const ct_backend_ops *be, int lumped_ionic)
{
    char label_prev[96], label_ex[96];
    const char *ionic = lumped_ionic ? "lumped ionic" : "consistent ionic";
    snprintf(label_prev, sizeof label_prev, "crank_nicolson consistent, %s, previous start", ionic);
    snprintf(label_ex, sizeof label_ex, "crank_nicolson consistent, %s, extrapolated start", ionic);
    problem p, q;
    small_slab_cg(&p, "crank_nicolson", "consistent", label_prev);
    p.cfg.cg_start = CT_CG_START_PREVIOUS;
    p.cfg.lumped_ionic = lumped_ionic;
    problem_build(&p, 0);
    run cpu_prev;
    compare_case(be, &p, &TOL_CG, 0.5, label_prev, &cpu_prev);
    small_slab_cg(&q, "crank_nicolson", "consistent", label_ex);
    cr_assert_eq(q.cfg.cg_start, CT_CG_START_EXTRAPOLATE, "the default start is not the extrapolated one");
    q.cfg.lumped_ionic = lumped_ionic;
    problem_build(&q, 0);
    session s;
    run got;
    session_open(&s, be, &q);
    session_run(&s, &q, NULL, &got);
    session_close(&s);
    double ratio = (double)got.cg_iterations / (double)cpu_prev.cg_iterations;
    fprintf(stderr, "%s, %s: CG iterations %ld from V* (cpu), %ld extrapolated (%s): %.3fx\n", be->name, ionic,
            cpu_prev.cg_iterations, got.cg_iterations, be->name, ratio);
    cr_expect_lt(ratio, 0.9, "%s, %s: the extrapolated start took %ld iterations, the previous %ld (%.3fx)",
                 be->name, ionic, got.cg_iterations, cpu_prev.cg_iterations, ratio);
    run_free(&got);
    run_free(&cpu_prev);
    problem_free(&q);
    problem_free(&p);
}

BACKEND_CASE(crank_nicolson_consistent_previous_start, 300)
{
    previous_and_extrapolated_start(be, 0);
}

BACKEND_CASE(crank_nicolson_lumped_ionic_previous_start, 300)
{
    previous_and_extrapolated_start(be, 1);
}

/* Crank-Nicolson, consistent mass, the reaction's increment through the lumped mass (diffusion.ionic_mass
 * "lumped": the one-pass start also takes M vm_prev, ct_cg_start_implicit_row; extrapolated by default). */
BACKEND_CASE(crank_nicolson_lumped_ionic, 300)
{
    problem p;
    small_slab_cg(&p, "crank_nicolson", "consistent", "crank_nicolson consistent, lumped ionic");
    p.cfg.lumped_ionic = 1;
    problem_build(&p, 0);
    compare_case(be, &p, &TOL_CG, 0.5, "crank_nicolson consistent, lumped ionic", NULL);
    problem_free(&p);
}

BACKEND_CASE(backward_euler_lumped, 300)
{
    problem p;
    small_slab_cg(&p, "backward_euler", "lumped", "backward_euler lumped");
    problem_build(&p, 0);
    compare_case(be, &p, &TOL_CG, 0.5, "backward_euler lumped", NULL);
    problem_free(&p);
}

/* Backward Euler with consistent mass. */
BACKEND_CASE(backward_euler_consistent, 300)
{
    problem p;
    small_slab_cg(&p, "backward_euler", "consistent", "backward_euler consistent");
    problem_build(&p, 0);
    compare_case(be, &p, &TOL_CG, 0.5, "backward_euler consistent", NULL);
    problem_free(&p);
}

/* The N-version benchmark slab (Niederer et al. 2011): 20 x 7 x 3 mm at dx 0.5 mm (4305 nodes), dt 0.05 ms,
 * explicit with consistent mass, the first 25 ms of its 70 (the wave has covered a fifth of the slab): the largest
 * problem, whose reductions run over many work-groups. */
BACKEND_CASE(nversion_explicit_consistent, 600)
{
    problem p;
    memset(&p, 0, sizeof p);
    p.extra_bit = -1;
    cr_assert_eq(ct_config_load(CT_SOURCE_DIR "/meshes/nversion_dx0.5_dt0.05.json", &p.cfg), CT_OK, "%s",
                 ct_error_message());
    cr_assert(p.cfg.consistent_mass && p.cfg.diffusion == CT_DIFFUSION_EXPLICIT);
    p.cfg.end_time_ms = 25.0;
    problem_build(&p, 0);
    compare_case(be, &p, &TOL_CG, 0.2, "N-version dx 0.5 mm, 25 ms", NULL);
    problem_free(&p);
}

/* Mitchell-Schaeffer (isotropic) on the small slab at dt 0.02 ms, 14 ms, explicit lumped (the CG paths are
 * model-independent), and again with Crank-Nicolson and consistent mass. */
BACKEND_CASE(mitchell_schaeffer, 300)
{
    char json[4096];
    const char *methods[2][2] = {{"explicit", "lumped"}, {"crank_nicolson", "consistent"}};
    for (int m = 0; m < 2; m++) {
        problem p;
        char label[128];
        snprintf(label, sizeof label, "mitchell_schaeffer %s %s", methods[m][0], methods[m][1]);
        slab_json(json, sizeof json, MS, "[4, 1, 1]", 0.25, 0.02, 14.0, methods[m][0], methods[m][1], 50.0, NULL);
        problem_parse(&p, json, label);
        p.cfg.conductivity.sigma_t_S_per_m = p.cfg.conductivity.sigma_l_S_per_m; /* isotropic, as before */
        problem_build(&p, 0);
        compare_case(be, &p, m == 0 ? &TOL_POINTWISE : &TOL_CG, 0.9, label, NULL);
        problem_free(&p);
    }
}

/* ---- stimuli and parameter sets --------------------------------------------------------------------- */

/* Three stimuli of the configuration (two overlapping boxes whose currents add where both cover a node, and a
 * sphere at the far end, starting later), and one mask of the test's own on bit 31 (the highest) over a band in
 * the middle; then, on the same two contexts, only the far sphere and bit 31 (amplitudes of the others 0). */
BACKEND_CASE(stimuli_masks, 300)
{
    char json[4096];
    const char *extra =
        ", \"stimuli\": ["
        "{\"name\": \"near\", \"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": 30,"
        " \"duration_ms\": 2},"
        "{\"name\": \"near_overlap\", \"box_min_mm\": [0,0,0], \"box_max_mm\": [0.75,0.5,1],"
        " \"amplitude_uA_per_uF\": 25, \"start_ms\": 0.5, \"duration_ms\": 1},"
        "{\"name\": \"far\", \"center_mm\": [4,1,1], \"radius_mm\": 0.6, \"amplitude_uA_per_uF\": 60,"
        " \"start_ms\": 4, \"duration_ms\": 1.5}]";
    /* the slab's own stimulus list is replaced by the later "stimuli" key: build the text without it */
    snprintf(json, sizeof json,
             "{\"mesh\": {\"type\": \"box\", \"size_mm\": [4, 1, 1], \"dx_mm\": 0.25},"
             " \"model\": %s, \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},"
             " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.02, \"end_time_ms\": 10%s}",
             TP06, extra);
    problem p;
    problem_parse(&p, json, "stimuli_masks");
    cr_assert_eq(p.cfg.n_stimuli, 3);
    problem_build(&p, 0);
    size_t n = p.pb.n_nodes, n31 = 0, n_overlap = 0;
    p.stim_mask = malloc(n * sizeof *p.stim_mask);
    cr_assert_not_null(p.stim_mask);
    for (size_t i = 0; i < n; i++) {
        const double *x = p.sim->mesh->xyz_mm + 3 * i;
        p.stim_mask[i] = p.sim->stim_mask[i];
        if (x[0] >= 1.75 && x[0] <= 2.0) {
            p.stim_mask[i] |= 1u << 31;
            n31++;
        }
        n_overlap += (p.stim_mask[i] & 3u) == 3u;
    }
    cr_assert_gt(n31, 0);
    cr_assert_gt(n_overlap, 0, "the two near stimuli should overlap");
    p.pb.stim_mask = p.stim_mask;
    p.extra_bit = 31;
    p.extra_on_ms = 7.0;
    p.extra_off_ms = 8.0;
    p.amp[31] = 60.0;

    double far_only[CT_MAX_STIMULI] = {0};
    far_only[2] = p.amp[2];
    far_only[31] = p.amp[31];
    session sc, sb;
    run ref[2], got[2];
    session_open(&sc, &ct_backend_cpu, &p);
    session_run(&sc, &p, NULL, &ref[0]);
    session_run(&sc, &p, far_only, &ref[1]);
    session_close(&sc);
    session_open(&sb, be, &p);
    session_run(&sb, &p, NULL, &got[0]);
    session_run(&sb, &p, far_only, &got[1]);
    session_close(&sb);
    compare_runs(be, &p, &ref[0], &got[0], &TOL_POINTWISE, "three stimuli + bit 31");
    compare_runs(be, &p, &ref[1], &got[1], &TOL_POINTWISE, "far sphere + bit 31 only");
    /* the stimuli did what they should: with all on, the near corner activates during its pulse (0 to 2 ms);
     * with the far sphere and bit 31 only, the far corner activates during the sphere's pulse (4 to 5.5 ms) and
     * the near corner later or never */
    size_t near = 0, far = 0;
    for (size_t i = 0; i < n; i++) {
        const double *x = p.sim->mesh->xyz_mm + 3 * i;
        if (x[0] == 0.0 && x[1] == 0.0 && x[2] == 0.0)
            near = i;
        if (x[0] == 4.0 && x[1] == 1.0 && x[2] == 1.0)
            far = i;
    }
    cr_assert(ref[0].act[near] >= 0 && ref[0].act[near] < 2.0, "near corner activated at %g ms", ref[0].act[near]);
    cr_assert(ref[1].act[far] >= 4.0 && ref[1].act[far] < 5.0, "far corner activated at %g ms", ref[1].act[far]);
    cr_assert(ref[1].act[near] < 0 || ref[1].act[near] > ref[1].act[far], "near %g ms, far %g ms", ref[1].act[near],
              ref[1].act[far]);
    for (int k = 0; k < 2; k++) {
        run_free(&ref[k]);
        run_free(&got[k]);
    }
    problem_free(&p);
}

/* Node parameter sets: TP06 endo, mid and epi (the sim's sets 0, 2, 4) in thirds along x, and a border zone in a
 * sphere (set 5: epi with I_Na, I_CaL, I_Kr, I_Ks scaled by 0.38, 0.31, 0.30, 0.20, written into the problem's
 * parameters directly). Run 20 ms so that the cell types' notch and plateau differ. */
BACKEND_CASE(node_parameter_sets, 300)
{
    char json[4096];
    slab_json(json, sizeof json, TP06, "[4, 1, 1]", 0.25, 0.02, 20.0, "explicit", "lumped", 50.0, NULL);
    problem p;
    problem_parse(&p, json, "node_parameter_sets");
    problem_build(&p, 0);
    cr_assert_eq(p.pb.n_param_sets, 6);
    ct_real *bz = p.params + 5 * CT_MODEL_NPARAM;
    cr_assert_eq(bz[CT_TP06_P_CELLTYPE], 2, "set 5 is the epicardial border zone");
    bz[CT_TP06_P_GNA] *= (ct_real)0.38;
    bz[CT_TP06_P_GCAL] *= (ct_real)0.31;
    bz[CT_TP06_P_GKR] *= (ct_real)0.30;
    bz[CT_TP06_P_GKS] *= (ct_real)0.20;
    size_t n = p.pb.n_nodes, per_set[6] = {0};
    p.node_set = malloc(n);
    cr_assert_not_null(p.node_set);
    for (size_t i = 0; i < n; i++) {
        const double *x = p.sim->mesh->xyz_mm + 3 * i;
        int type = x[0] < 4.0 / 3 ? 0 : x[0] < 8.0 / 3 ? 1 : 2; /* endo, mid, epi */
        double r2 = (x[0] - 3.25) * (x[0] - 3.25) + (x[1] - 0.5) * (x[1] - 0.5) + (x[2] - 0.5) * (x[2] - 0.5);
        p.node_set[i] = (uint8_t)(r2 <= 0.36 ? 5 : 2 * type);
        per_set[p.node_set[i]]++;
    }
    cr_assert(per_set[0] && per_set[2] && per_set[4] && per_set[5], "nodes per set: %zu %zu %zu %zu %zu %zu",
              per_set[0], per_set[1], per_set[2], per_set[3], per_set[4], per_set[5]);
    p.pb.node_param_set = p.node_set;
    run with, without;
    compare_case(be, &p, &TOL_POINTWISE, 0.9, "node parameter sets", &with);

    /* the sets matter: the same run with every node on set 0 ends elsewhere (checked on the cpu) */
    session s;
    p.pb.node_param_set = NULL;
    session_open(&s, &ct_backend_cpu, &p);
    session_run(&s, &p, NULL, &without);
    session_close(&s);
    double most = 0.0;
    for (size_t i = 0; i < n; i++)
        most = fmax(most, fabs(with.vm[i] - without.vm[i]));
    cr_assert_gt(most, 1.0, "parameter sets changed Vm by %g mV only", most);
    run_free(&with);
    run_free(&without);
    problem_free(&p);
}

/* ---- activation and beats --------------------------------------------------------------------------------- */

/* A bar of 2 x 0.5 x 0.5 mm at dx 0.5 mm (20 nodes) and dt 0.1 ms: beat tracking needs hundreds of ms, and the
 * step count, not the node count, sets the cost. Mitchell-Schaeffer with a short action potential and recovery. */
static const char *const MS_SHORT =
    "{\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_close_ms\": 30, \"tau_open_ms\": 30}}";
static void beat_bar(problem *p, const char *model, double end_ms, const char *label)
{
    char json[4096];
    slab_json(json, sizeof json, model, "[2, 0.5, 0.5]", 0.5, 0.1, end_ms, "explicit", "lumped", 60.0, NULL);
    problem_parse(p, json, label);
}

/* Beat tracking (max_beats 2) over three beats of Mitchell-Schaeffer (tau_close and tau_open 30 ms: an APD90 of
 * about 50 ms), paced every 120 ms, 330 ms. Every node counts three beats and keeps the times of the first two;
 * beat times within the activation bound (repolarisation crosses slowly, so a Vm rounding difference stays as
 * small in ms). Then TP06, one beat (an epicardial APD90 of about 300 ms) in 330 ms. */
BACKEND_CASE(beats, 300)
{
    problem p;
    beat_bar(&p, MS_SHORT, 330.0, "beats ms");
    p.cfg.stimuli[0].period_ms = 120.0;
    p.cfg.stimuli[0].count = 3;
    problem_build(&p, 2);
    run r;
    compare_case(be, &p, &TOL_POINTWISE, 1.0, "beats mitchell_schaeffer (3 beats, 2 kept)", &r);
    size_t n = p.pb.n_nodes;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(r.beat_count[i], 3.0, "node %zu: %g beats", i, r.beat_count[i]);
        for (int b = 0; b < 2; b++)
            cr_assert(r.beat_rep[b * n + i] > r.beat_act[b * n + i] && r.beat_act[b * n + i] >= 120.0 * b,
                      "node %zu beat %d: %g .. %g ms", i, b, r.beat_act[b * n + i], r.beat_rep[b * n + i]);
        cr_assert_eq(r.act[i], r.beat_act[i], "node %zu: first activation %g, beat 0 %g", i, r.act[i], r.beat_act[i]);
    }
    run_free(&r);
    problem_free(&p);

    beat_bar(&p, TP06, 330.0, "beats tp06");
    problem_build(&p, 1);
    compare_case(be, &p, &TOL_POINTWISE, 1.0, "beats tp06 (1 beat)", &r);
    for (size_t i = 0; i < p.pb.n_nodes; i++)
        cr_assert(r.beat_count[i] == 1.0 && r.beat_rep[i] > r.beat_act[i] + 200.0, "tp06 node %zu: %g beats, %g .. %g ms",
                  i, r.beat_count[i], r.beat_act[i], r.beat_rep[i]);
    run_free(&r);
    problem_free(&p);
}

/* ---- blow-up ------------------------------------------------------------------------------------------- */

/* A huge stimulus (5000 uA/uF) drives Vm past the bound within a few steps: the backend returns CT_ERR_NUMERIC
 * at the same step as the CPU, reporting the same (lowest) bad node and its value, and a message naming it. */
BACKEND_CASE(blow_up, 300)
{
    const char *models[2] = {TP06, MS};
    for (int m = 0; m < 2; m++) {
        char json[4096];
        slab_json(json, sizeof json, models[m], "[5, 1.5, 1]", 0.25, 0.02, 5.0, "explicit", "lumped", 5000.0, NULL);
        problem p;
        problem_parse(&p, json, m == 0 ? "blow_up tp06" : "blow_up ms");
        problem_build(&p, 0);
        session sc, sb;
        run ref, got;
        memset(&ref, 0, sizeof ref);
        memset(&got, 0, sizeof got);
        session_open(&sc, &ct_backend_cpu, &p);
        cr_assert_eq(sc.be->load_state(sc.ctx, sc.initial), CT_OK);
        run_steps(&sc, &p, p.amp, 0, p.steps, &ref);
        session_close(&sc);
        session_open(&sb, be, &p);
        run_steps(&sb, &p, p.amp, 0, p.steps, &got);
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ct_error_message());
        session_close(&sb);
        cr_assert_eq(ref.status, CT_ERR_NUMERIC, "the cpu did not blow up");
        cr_assert_eq(got.status, CT_ERR_NUMERIC, "%s did not blow up (status %d)", be->name, got.status);
        fprintf(stderr, "%s blow-up (%s): step %ld, node %ld, Vm %g mV (cpu: step %ld, node %ld, %g mV): %s\n",
                be->name, p.cfg.source, got.steps + 1, got.report.bad_node, got.report.bad_value_mV, ref.steps + 1,
                ref.report.bad_node, ref.report.bad_value_mV, msg);
        cr_assert_lt(ref.steps, 20, "the blow-up should come within a few steps, came after %ld", ref.steps);
        cr_assert_eq(got.steps, ref.steps, "blew up at step %ld, the cpu at step %ld", got.steps + 1, ref.steps + 1);
        cr_assert_eq(got.report.bad_node, ref.report.bad_node, "bad node %ld, the cpu's %ld", got.report.bad_node,
                     ref.report.bad_node);
        double a = got.report.bad_value_mV, b = ref.report.bad_value_mV;
        cr_assert(!(fabs(a) <= p.cfg.vm_bound_mV), "reported Vm %g mV is within the bound", a);
        cr_assert((isnan(a) && isnan(b)) || fabs(a - b) <= BLOWUP_REL_TOL * fabs(b), "bad value %.17g, the cpu's %.17g",
                  a, b);
        char node[32];
        snprintf(node, sizeof node, "node %ld", got.report.bad_node);
        cr_assert(strstr(msg, node), "the message does not name %s: %s", node, msg);
        problem_free(&p);
    }
}

/* ---- state save and restore ----------------------------------------------------------------------------- */

/* Runs `first` steps, saves, runs `then` more and downloads everything (a), restores, runs the same steps again
 * (b): a and b must be equal bit for bit. The save falls inside a stimulus where the problem has one there. */
static void roundtrip(const ct_backend_ops *be, const problem *p, long first, long then, const char *label)
{
    session s;
    run before, a, b;
    memset(&before, 0, sizeof before);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    session_open(&s, be, p);
    void *blob = malloc(s.state_bytes);
    cr_assert_not_null(blob);
    run_steps(&s, p, p->amp, 0, first, &before);
    cr_assert_eq(before.status, CT_OK, "%s: %s", label, ct_error_message());
    cr_assert_eq(be->save_state(s.ctx, blob), CT_OK, "%s: %s", label, ct_error_message());
    cr_assert_eq(be->state_size(s.ctx), s.state_bytes, "%s: the state size changed", label);
    run_steps(&s, p, p->amp, first, first + then, &a);
    cr_assert_eq(a.status, CT_OK, "%s: %s", label, ct_error_message());
    download_all(&s, p, &a);
    cr_assert_eq(be->load_state(s.ctx, blob), CT_OK, "%s: %s", label, ct_error_message());
    run_steps(&s, p, p->amp, first, first + then, &b);
    cr_assert_eq(b.status, CT_OK, "%s: %s", label, ct_error_message());
    download_all(&s, p, &b);
    size_t n = p->pb.n_nodes, nb = (size_t)p->pb.max_beats * n, n_act = 0;
    cr_assert_eq(memcmp(a.vm, b.vm, n * sizeof *a.vm), 0, "%s: Vm differs after the restore", label);
    cr_assert_eq(memcmp(a.act, b.act, n * sizeof *a.act), 0, "%s: activation differs after the restore", label);
    if (nb) {
        cr_assert_eq(memcmp(a.beat_act, b.beat_act, nb * sizeof *a.beat_act), 0, "%s: beat activation", label);
        cr_assert_eq(memcmp(a.beat_rep, b.beat_rep, nb * sizeof *a.beat_rep), 0, "%s: beat repolarisation", label);
        cr_assert_eq(memcmp(a.beat_count, b.beat_count, n * sizeof *a.beat_count), 0, "%s: beat count", label);
    }
    cr_assert_eq(a.cg_iterations, b.cg_iterations, "%s: CG iterations %ld, after the restore %ld", label,
                 a.cg_iterations, b.cg_iterations);
    size_t n_beats = 0;
    for (size_t i = 0; i < n; i++) {
        n_act += a.act[i] >= 0;
        n_beats += nb && a.beat_count[i] >= 1.0;
    }
    cr_assert_gt(n_act, 0, "%s: nothing activated: the round trip proves little", label);
    fprintf(stderr,
            "%s %s: state of %zu bytes, saved after %ld steps, %ld more steps: bit for bit (%zu activated, %zu "
            "repolarised)\n",
            be->name, label, s.state_bytes, first, then, n_act, n_beats);
    free(blob);
    run_free(&a);
    run_free(&b);
    session_close(&s);
}

/* Every diffusion path and both models: saved at step 50 (1 ms, inside the stimulus), 200 steps more. Then a
 * whole beat with beat tracking (the beat bar, Mitchell-Schaeffer): saved at 1 ms, 100 ms more, by which every
 * node has repolarised, so the tracking state (resting minimum, peak, phase) crosses the save. */
BACKEND_CASE(state_save_restore_bit_for_bit, 300)
{
    const struct {
        const char *model, *method, *mass;
    } variants[] = {
        {TP06, "explicit", "lumped"},       {TP06, "explicit", "consistent"}, {TP06, "crank_nicolson", "consistent"},
        {TP06, "backward_euler", "lumped"}, {MS, "crank_nicolson", "lumped"}, {TP06, "crank_nicolson", "lumped"},
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char label[128];
        snprintf(label, sizeof label, "roundtrip %s %s %s", variants[v].model == TP06 ? "tp06" : "ms",
                 variants[v].method, variants[v].mass);
        problem p;
        small_slab(&p, variants[v].model, variants[v].method, variants[v].mass, 50.0, label);
        problem_build(&p, 2);
        roundtrip(be, &p, 50, 200, label);
        problem_free(&p);
    }
    problem p;
    beat_bar(&p, MS_SHORT, 110.0, "roundtrip beat");
    problem_build(&p, 2);
    roundtrip(be, &p, 10, 1000, "roundtrip ms beat");
    run r;
    session s;
    session_open(&s, be, &p);
    session_run(&s, &p, NULL, &r);
    session_close(&s);
    for (size_t i = 0; i < p.pb.n_nodes; i++)
        cr_assert_eq(r.beat_count[i], 1.0, "node %zu: %g beats: the round trip did not cover a whole beat", i,
                     r.beat_count[i]);
    run_free(&r);
    problem_free(&p);
}

/* ---- halo ---------------------------------------------------------------------------------------------- */

/* The halo protocol of backend.h on one rank: every node owned, none a ghost, the second half "boundary" nodes
 * (n_interior = n/2) of which a few are sent; the exchange moves nothing and sum() leaves its values. The run
 * must match the CPU without a halo (CG tolerance: the backend may split its products and sums otherwise),
 * every exchange begun must be ended, and none may be in flight after download, save_state or load_state. */
typedef struct halo_log {
    long begun, ended, sums;
    int in_flight;
    size_t n_send;
} halo_log;

static ct_status halo_begin(void *user, const double *send_values, double *ghost_values)
{
    halo_log *h = user;
    (void)ghost_values;
    for (size_t k = 0; k < h->n_send; k++)
        if (!isfinite(send_values[k]))
            return ct_error_set(CT_ERR_INTERNAL, "halo: send value %zu is %g", k, send_values[k]);
    if (h->in_flight)
        return ct_error_set(CT_ERR_INTERNAL, "halo: exchange begun twice");
    h->in_flight = 1;
    h->begun++;
    return CT_OK;
}

static ct_status halo_end(void *user)
{
    halo_log *h = user;
    if (!h->in_flight)
        return ct_error_set(CT_ERR_INTERNAL, "halo: exchange ended but not begun");
    h->in_flight = 0;
    h->ended++;
    return CT_OK;
}

static ct_status halo_sum(void *user, double *values, int count)
{
    (void)values;
    (void)count;
    ((halo_log *)user)->sums++;
    return CT_OK;
}

BACKEND_CASE(halo_one_rank, 300)
{
    const char *methods[2][2] = {{"explicit", "lumped"}, {"crank_nicolson", "consistent"}};
    for (int m = 0; m < 2; m++) {
        char label[128];
        snprintf(label, sizeof label, "one-rank halo, %s %s", methods[m][0], methods[m][1]);
        problem p;
        small_slab_cg(&p, methods[m][0], methods[m][1], label);
        p.cfg.end_time_ms = 6.0;
        problem_build(&p, 1);
        size_t n = p.pb.n_nodes;
        int32_t send[4] = {(int32_t)(n / 2), (int32_t)(n / 2 + 1), (int32_t)(n - 2), (int32_t)(n - 1)};
        halo_log log = {.n_send = 4};
        ct_halo h = {.n_owned = n, .n_interior = n / 2, .n_send = 4, .send_idx = send, .exchange_begin = halo_begin,
                     .exchange_end = halo_end, .sum = halo_sum, .device_memory_ok = 0, .user = &log};

        session sc, sb;
        run ref, got;
        session_open(&sc, &ct_backend_cpu, &p);
        session_run(&sc, &p, NULL, &ref);
        session_close(&sc);
        p.pb.halo = &h;
        session_open(&sb, be, &p);
        cr_assert_eq(log.in_flight, 0, "%s: exchange in flight after save_state", label);
        session_run(&sb, &p, NULL, &got);
        cr_assert_eq(log.in_flight, 0, "%s: exchange in flight after download", label);
        cr_assert_geq(log.begun, p.steps, "%s: %ld exchanges in %ld steps", label, log.begun, p.steps);
        if (m == 1)
            cr_assert_gt(log.sums, 0, "%s: CG never summed over the ranks", label);
        /* a step leaves the exchange in flight; load_state must end it */
        ct_step_report rep;
        cr_assert_eq(be->step(sb.ctx, 0.0, 0u, p.amp, &rep), CT_OK, "%s", ct_error_message());
        cr_assert_eq(be->load_state(sb.ctx, sb.initial), CT_OK, "%s", ct_error_message());
        cr_assert_eq(log.in_flight, 0, "%s: exchange in flight after load_state", label);
        cr_assert_eq(be->step(sb.ctx, 0.0, 0u, p.amp, &rep), CT_OK, "%s", ct_error_message());
        session_close(&sb);
        cr_assert_eq(log.in_flight, 0, "%s: exchange in flight after destroy", label);
        cr_assert_eq(log.begun, log.ended);
        compare_runs(be, &p, &ref, &got, m == 0 ? &TOL_POINTWISE : &TOL_CG, label);
        run_free(&ref);
        run_free(&got);
        problem_free(&p);
    }
}

/* ---- the table's edges ---------------------------------------------------------------------------------- */

/* Initial state (TP06 rest, -85.23 mV; no activation), one stimulated step against the CPU, fields a problem
 * without beats does not have, an unknown field, and destroy(NULL). */
BACKEND_CASE(create_download_step_destroy, 120)
{
    problem p;
    small_slab(&p, TP06, "explicit", "lumped", 50.0, "table");
    problem_build(&p, 0);
    size_t n = p.pb.n_nodes;
    double *vm = malloc(n * sizeof *vm), *act = malloc(n * sizeof *act), *vm_cpu = malloc(n * sizeof *vm_cpu);
    cr_assert(vm && act && vm_cpu);
    ct_backend_ctx *ctx = NULL, *cpu = NULL;
    cr_assert_eq(be->create(&p.pb, &ctx), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.create(&p.pb, &cpu), CT_OK, "%s", ct_error_message());
    cr_assert_eq(be->download(ctx, CT_FIELD_VM, vm), CT_OK, "%s", ct_error_message());
    cr_assert_eq(be->download(ctx, CT_FIELD_ACTIVATION_MS, act), CT_OK, "%s", ct_error_message());
    for (size_t i = 0; i < n; i++) {
        cr_assert_float_eq(vm[i], -85.23, 1e-5, "initial Vm at node %zu is %g", i, vm[i]);
        cr_assert_eq(act[i], -1.0, "initial activation at node %zu is %g", i, act[i]);
    }
    ct_step_report rb, rc;
    cr_assert_eq(be->step(ctx, 0.0, 1u, p.amp, &rb), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.step(cpu, 0.0, 1u, p.amp, &rc), CT_OK, "%s", ct_error_message());
    cr_assert_eq(rb.bad_node, -1);
    cr_assert_eq(rb.cg_iterations, 0);
    cr_assert_eq(be->download(ctx, CT_FIELD_VM, vm), CT_OK, "%s", ct_error_message());
    cr_assert_eq(ct_backend_cpu.download(cpu, CT_FIELD_VM, vm_cpu), CT_OK, "%s", ct_error_message());
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_float_eq(vm[i], vm_cpu[i], 1e-9 + 1e-6 * fabs(vm_cpu[i]), "after one step, node %zu: %s %.17g, cpu %.17g",
                           i, be->name, vm[i], vm_cpu[i]);
        moved += vm[i] > -85.0;
    }
    cr_assert_gt(moved, 0, "the stimulus moved no node");
    cr_assert_eq(be->download(ctx, CT_FIELD_BEAT_COUNT, vm), CT_ERR_INTERNAL, "beat field without max_beats");
    cr_assert_eq(be->download(ctx, CT_FIELD_BEAT_ACTIVATION_MS, vm), CT_ERR_INTERNAL, "beat field without max_beats");
    cr_assert_eq(be->download(ctx, (enum ct_field)7, vm), CT_ERR_INTERNAL, "unknown field");
    be->destroy(ctx);
    ct_backend_cpu.destroy(cpu);
    be->destroy(NULL);
    free(vm);
    free(act);
    free(vm_cpu);
    problem_free(&p);
}

/* Selection by name gives this backend; "auto" chooses one and says why; a backend whose only device is the host
 * CPU is passed over by auto, saying so. */
BACKEND_CASE(backend_select, 120)
{
    const ct_backend_ops *got = NULL;
    char why[2048] = "";
    cr_assert_eq(ct_backend_select(be->name, &got, why, sizeof why), CT_OK, "%s", ct_error_message());
    cr_assert_eq(got, be);
    cr_assert_str_eq(got->name, be->name);
    got = NULL;
    why[0] = '\0';
    cr_assert_eq(ct_backend_select("auto", &got, why, sizeof why), CT_OK, "%s", ct_error_message());
    cr_assert_not_null(got);
    fprintf(stderr, "%s\n", why);
    cr_assert(strstr(why, "auto") && strstr(why, got->name), "auto chose %s but says \"%s\"", got->name, why);
    if (be != &ct_backend_cpu && be->runs_on_host_cpu && be->runs_on_host_cpu()) {
        cr_assert_neq(got, be, "auto chose %s on the host CPU over the cpu backend", be->name);
        cr_assert(strstr(why, be->name) && strstr(why, "host CPU"), "%s", why);
    }
}

/* The variable that points a backend at a device: the table's device_env; the OpenCL table does not name its
 * variable (yet), which backend_opencl.c reads as CT_OPENCL_DEVICE. NULL: the backend has no device to pick. */
static const char *device_variable(const ct_backend_ops *be)
{
    if (be->device_env)
        return be->device_env;
    if (strcmp(be->name, "opencl") == 0)
        return "CT_OPENCL_DEVICE";
    return NULL;
}

/* A device index out of range is refused by probe() with a message naming the variable. */
BACKEND_CASE(bad_device_index_is_refused, 120)
{
    const char *var = device_variable(be);
    if (!var)
        cr_skip_test("%s backend: no device to choose", be->name);
    setenv(var, "9999", 1);
    ct_status st = be->probe();
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ct_error_message());
    unsetenv(var);
    cr_assert_eq(st, CT_ERR_BACKEND, "%s=9999: probe returned %d", var, st);
    cr_assert(strstr(msg, var), "message does not name %s: %s", var, msg);
}

/* A problem of no nodes is refused at create (CT_ERR_BACKEND, nothing allocated): a device backend would
 * otherwise launch empty grids and ask cuSPARSE / OpenCL for zero-sized buffers. The cpu backend has no
 * device to guard and is not held to it. */
BACKEND_CASE(zero_nodes_are_refused, 120)
{
    if (be == &ct_backend_cpu)
        cr_skip_test("cpu backend: an empty problem is a loop of no iterations");
    int32_t row_ptr[1] = {0}, col[1] = {0};
    double val[1] = {0.0}, mass[1] = {1.0};
    ct_csr k = {.n = 0, .nnz = 0, .row_ptr = row_ptr, .col = col, .val = val};
    ct_real params[CT_MODEL_NPARAM] = {0}; /* never read: the refusal comes first */
    ct_backend_problem pb = {.n_nodes = 0, .model = CT_MODEL_MITCHELL_SCHAEFFER, .n_param_sets = 1,
                             .param_sets = params, .stiffness = &k, .lumped_mass_mm3 = mass,
                             .diffusion = CT_DIFFUSION_EXPLICIT, .dt_ms = 0.05, .cg_rel_tolerance = 1e-8,
                             .cg_max_iterations = 100, .activation_threshold_mV = -40.0, .vm_bound_mV = 500.0};
    ct_backend_ctx *ctx = (ct_backend_ctx *)&k; /* must come back NULL */
    ct_status st = be->create(&pb, &ctx);
    cr_assert_eq(st, CT_ERR_BACKEND, "%s: create of 0 nodes returned %d (%s)", be->name, st, ct_error_message());
    cr_assert_null(ctx, "%s: a refused create must leave no context", be->name);
}
