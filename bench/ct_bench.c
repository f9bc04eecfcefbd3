/* ct_bench.c — the throughput benchmark: node-steps per second and achieved memory bandwidth of the
 * monodomain time loop, for every available backend, ionic model and mesh size.
 *
 *   ct_bench [--backend all|cpu|cuda|opencl] [--models tp06,mitchell_schaeffer] [--sizes 10000,100000,300000]
 *            [--steps N] [--json FILE] [--diffusion explicit|crank_nicolson|backward_euler] [--split on|off]
 *            [--lut] [--simd] [--cg-start extrapolate|previous]
 *
 * Each case is a generated box (dx 0.25 mm) with a stimulus at its x = 0 end, built as a JSON
 * configuration and run through ct_sim_create / ct_sim_run exactly as the cardiotwin binary does,
 * writing nothing. A short warm-up run precedes the timed run; the time is ct_sim_run's own
 * time-loop wall time (backend set-up excluded). See bench/README.md for how to read the numbers.
 *
 * Where the time goes (--split on, the default): each case runs a second time with the step timer on
 * (ct_step_timing, kernels/backend.h; the device waited for at each phase boundary) and reports the time of
 * the reaction, the diffusion (with CG iterations per step), the detection and the halo, each phase's
 * modelled bytes against the measured peak bandwidth, and for TP06 the transcendental calls per node-step
 * (counted by running the model's source, ct_bench_count.c) against the machine's measured exp() throughput.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../host/sim/ct_config.h"
#include "../host/sim/ct_sim.h"
#include "../kernels/backend.h"
#include "../kernels/ct_real.h"
#include "../kernels/models/ct_models.h"
#include "ct_bench_count.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BENCH_HAVE_AVX2_CALL 1
#endif

#define BENCH_DX_MM 0.25
#define BENCH_DT_MS 0.01          /* both models */
#define BENCH_WARMUP_STEPS 5
#define BENCH_STIM_MS 2.0         /* stimulus duration from t = 0 */
#define BENCH_STIM_UA_PER_UF 50.0 /* enough to excite both models within BENCH_STIM_MS */
#define BENCH_MAX_LIST 32
#define BENCH_MIN_NODES 8L
#define BENCH_MAX_NODES 2000000000L
#define BENCH_MAX_STEPS 100000000L

static const char *const all_backends[] = {"cpu", "cuda", "opencl"};

typedef struct bench_options {
    const char *backend;              /* "all" or one backend name */
    int models[BENCH_MAX_LIST];       /* enum ct_model_id */
    int n_models;
    long sizes[BENCH_MAX_LIST];       /* target node counts */
    int n_sizes;
    long steps;
    const char *json_path;            /* NULL: no JSON */
    int diffusion;                    /* enum ct_diffusion_method */
    int split;                        /* 1: a second, timed-phases run of each case */
    int ionic_lut, ionic_simd;        /* --lut, --simd: the configuration switches "ionic_lut", "ionic_simd" */
    int cg_start;                     /* --cg-start: enum ct_cg_start, "diffusion.cg_start" (implicit diffusion) */
} bench_options;

/* The modelled bytes of one node-step by phase (see bytes_per_node_step). */
enum { PH_REACT = 0, PH_DIFFUSE, PH_DETECT, PH_COUNT };

typedef struct bench_result {
    char backend[16];
    const char *model;                /* static */
    const char *precision;            /* static */
    int cells[3];                     /* box cells along x, y, z */
    size_t nodes;
    double nnz_per_row;
    long steps;
    double wall_s;
    double node_steps_per_s;
    double cg_iterations_per_step;
    double bytes_per_node_step;
    double gb_per_s;
    double peak_gb_per_s;             /* the backend's device peak, 0 if unknown */
    char peak_how[128];               /* where the peak comes from */
    size_t activated_nodes;           /* sanity: the stimulus really excited tissue */
    /* where the time goes: the second run, with the step timer on (--split) */
    int has_split;
    ct_step_timing timing;            /* summed over its steps */
    double split_wall_s;              /* its time-loop wall time */
    double phase_bytes[PH_COUNT];     /* modelled bytes per node-step of each phase */
    double transcendentals;           /* tp06: exp + log + pow calls per node-step (counted), 0 otherwise */
} bench_result;

/* The machine's exp() throughput, all OpenMP threads together (measure_exp). */
typedef struct bench_exp {
    double scalar_per_s;              /* libm's scalar exp (expf for float builds), calls/s */
    double vector_per_s;              /* libmvec's AVX2 vector exp, calls/s; 0 if not available */
    char vector_how[96];
    ct_bench_tcount tp06_rest, tp06_active; /* counted at Vm = -85 mV and 0 mV (epi) */
} bench_exp;

static const char *model_name(int model)
{
    return model == CT_MODEL_TP06 ? "tp06" : "mitchell_schaeffer";
}

static const char *diffusion_name(int d)
{
    return d == CT_DIFFUSION_EXPLICIT ? "explicit" : d == CT_DIFFUSION_CRANK_NICOLSON ? "crank_nicolson"
                                                                                       : "backward_euler";
}

static const char *precision_name(void)
{
    return sizeof(ct_real) == 4 ? "float" : "double";
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--backend all|cpu|cuda|opencl] [--models tp06,mitchell_schaeffer]\n"
            "          [--sizes 10000,100000,300000] [--steps N] [--json FILE]\n"
            "          [--diffusion explicit|crank_nicolson|backward_euler] [--split on|off] [--lut] [--simd]\n"
            "          [--cg-start extrapolate|previous]\n"
            "Times the monodomain time loop on generated slabs (dx %.2f mm, dt %.2f ms) and reports\n"
            "node-steps/s and an estimate of achieved memory bandwidth. Defaults: --backend all\n"
            "--models tp06,mitchell_schaeffer --sizes 10000,100000,300000 --steps 200 --diffusion explicit\n"
            "--split on (a second run of each case with the step timer on: where the time goes).\n"
            "--lut: the ionic model's voltage-only rates from a lookup table (\"ionic_lut\"); --simd: the CPU\n"
            "reaction as a SIMD loop (\"ionic_simd\"); both off by default (the exact, scalar reference).\n"
            "--cg-start: the first guess of the implicit diffusion's CG (\"diffusion.cg_start\"): extrapolate\n"
            "(default: V* + the last step's diffusion increment) or previous (V*, the post-reaction Vm).\n",
            prog, BENCH_DX_MM, BENCH_DT_MS);
}

/* Parses a comma-separated list of positive integers in [lo, hi]; returns 0, or -1 with a message. */
static int parse_long_list(const char *opt, const char *text, long lo, long hi, long *out, int max, int *n)
{
    *n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno != 0 || (*end != ',' && *end != '\0') || v < lo || v > hi) {
            fprintf(stderr, "ct_bench: %s \"%s\": expected comma-separated integers in [%ld, %ld]\n", opt, text,
                    lo, hi);
            return -1;
        }
        if (*n >= max) {
            fprintf(stderr, "ct_bench: %s: at most %d values\n", opt, max);
            return -1;
        }
        out[(*n)++] = v;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

static int parse_models(const char *text, bench_options *o)
{
    char buf[512];
    if (strlen(text) >= sizeof buf) {
        fprintf(stderr, "ct_bench: --models: list too long\n");
        return -1;
    }
    strcpy(buf, text);
    o->n_models = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int m;
        if (strcmp(tok, "tp06") == 0)
            m = CT_MODEL_TP06;
        else if (strcmp(tok, "mitchell_schaeffer") == 0 || strcmp(tok, "ms") == 0)
            m = CT_MODEL_MITCHELL_SCHAEFFER;
        else {
            fprintf(stderr, "ct_bench: --models: unknown model \"%s\" (expected tp06 or mitchell_schaeffer)\n", tok);
            return -1;
        }
        if (o->n_models >= BENCH_MAX_LIST) {
            fprintf(stderr, "ct_bench: --models: at most %d values\n", BENCH_MAX_LIST);
            return -1;
        }
        o->models[o->n_models++] = m;
    }
    if (o->n_models == 0) {
        fprintf(stderr, "ct_bench: --models: empty list\n");
        return -1;
    }
    return 0;
}

/* Returns 0 to run, 1 after --help, -1 on a bad option (message printed). */
static int parse_args(int argc, char **argv, bench_options *o)
{
    o->backend = "all";
    o->models[0] = CT_MODEL_TP06;
    o->models[1] = CT_MODEL_MITCHELL_SCHAEFFER;
    o->n_models = 2;
    o->sizes[0] = 10000;
    o->sizes[1] = 100000;
    o->sizes[2] = 300000;
    o->n_sizes = 3;
    o->steps = 200;
    o->json_path = NULL;
    o->diffusion = CT_DIFFUSION_EXPLICIT;
    o->split = 1;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout, argv[0]);
            return 1;
        }
        if (strcmp(arg, "--lut") == 0 || strcmp(arg, "--simd") == 0) { /* switches without a value */
            *(arg[2] == 'l' ? &o->ionic_lut : &o->ionic_simd) = 1;
            continue;
        }
        /* Accept both "--opt value" and "--opt=value". */
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) == 0 && eq && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            val = eq + 1;
        } else if (strlen(arg) < sizeof name) {
            strcpy(name, arg);
        } else {
            fprintf(stderr, "ct_bench: unknown option \"%s\" (try --help)\n", arg);
            return -1;
        }
        int known = strcmp(name, "--backend") == 0 || strcmp(name, "--models") == 0 ||
                    strcmp(name, "--sizes") == 0 || strcmp(name, "--steps") == 0 || strcmp(name, "--json") == 0 ||
                    strcmp(name, "--diffusion") == 0 || strcmp(name, "--split") == 0 ||
                    strcmp(name, "--cg-start") == 0;
        if (!known) {
            fprintf(stderr, "ct_bench: unknown option \"%s\" (try --help)\n", arg);
            return -1;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ct_bench: option %s needs a value\n", name);
                return -1;
            }
            val = argv[++i];
        }
        if (strcmp(name, "--backend") == 0) {
            int ok = strcmp(val, "all") == 0;
            for (size_t b = 0; b < sizeof all_backends / sizeof *all_backends; b++)
                ok |= strcmp(val, all_backends[b]) == 0;
            if (!ok) {
                fprintf(stderr, "ct_bench: --backend \"%s\": expected all, cpu, cuda or opencl\n", val);
                return -1;
            }
            o->backend = val;
        } else if (strcmp(name, "--models") == 0) {
            if (parse_models(val, o) != 0)
                return -1;
        } else if (strcmp(name, "--sizes") == 0) {
            if (parse_long_list("--sizes", val, BENCH_MIN_NODES, BENCH_MAX_NODES, o->sizes, BENCH_MAX_LIST,
                                &o->n_sizes) != 0)
                return -1;
        } else if (strcmp(name, "--steps") == 0) {
            int n;
            if (parse_long_list("--steps", val, 1, BENCH_MAX_STEPS, &o->steps, 1, &n) != 0)
                return -1;
        } else if (strcmp(name, "--json") == 0) {
            if (val[0] == '\0') {
                fprintf(stderr, "ct_bench: --json needs a file name\n");
                return -1;
            }
            o->json_path = val;
        } else if (strcmp(name, "--cg-start") == 0) {
            if (strcmp(val, "extrapolate") == 0)
                o->cg_start = CT_CG_START_EXTRAPOLATE;
            else if (strcmp(val, "previous") == 0)
                o->cg_start = CT_CG_START_PREVIOUS;
            else {
                fprintf(stderr, "ct_bench: --cg-start \"%s\": expected extrapolate or previous\n", val);
                return -1;
            }
        } else if (strcmp(name, "--split") == 0) {
            if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0) {
                fprintf(stderr, "ct_bench: --split \"%s\": expected on or off\n", val);
                return -1;
            }
            o->split = strcmp(val, "on") == 0;
        } else { /* --diffusion */
            if (strcmp(val, "explicit") == 0)
                o->diffusion = CT_DIFFUSION_EXPLICIT;
            else if (strcmp(val, "crank_nicolson") == 0)
                o->diffusion = CT_DIFFUSION_CRANK_NICOLSON;
            else if (strcmp(val, "backward_euler") == 0)
                o->diffusion = CT_DIFFUSION_BACKWARD_EULER;
            else {
                fprintf(stderr, "ct_bench: --diffusion \"%s\": expected explicit, crank_nicolson or backward_euler\n",
                        val);
                return -1;
            }
        }
    }
    return 0;
}

/* Box cells for about `target` nodes, (nx+1)(ny+1)(nz+1): a slab with ny = 3 nz and nx about 4 ny,
 * nx then adjusted so the node count is as close to the target as the cross-section allows. */
static void box_for_target(long target, int cells[3])
{
    int nz = (int)lround(cbrt((double)target / 36.0));
    if (nz < 1)
        nz = 1;
    int ny = 3 * nz;
    double cross = (double)(ny + 1) * (double)(nz + 1);
    long nx = lround((double)target / cross) - 1;
    if (nx < 1)
        nx = 1;
    if (nx > 4096) /* the box mesher's limit per axis */
        nx = 4096;
    cells[0] = (int)nx;
    cells[1] = ny;
    cells[2] = nz;
}

/* The configuration of one case as JSON text, as a user would write it; returns 0, or -1 if it does not fit. */
static int build_config_json(int model, const int cells[3], long steps, int diffusion, char *buf, size_t len)
{
    double L[3];
    for (int k = 0; k < 3; k++)
        L[k] = cells[k] * BENCH_DX_MM;
    /* Long enough that max_steps, not end_time, stops the run. */
    double end_time_ms = (double)(steps + BENCH_WARMUP_STEPS + 10) * BENCH_DT_MS;
    const char *model_json = model == CT_MODEL_TP06 ? "{\"name\": \"tp06\", \"cell_type\": \"epi\"}"
                                                    : "{\"name\": \"mitchell_schaeffer\"}";
    int w = snprintf(buf, len,
                     "{\n"
                     "  \"description\": \"ct_bench case\",\n"
                     "  \"mesh\": {\"type\": \"box\", \"size_mm\": [%.17g, %.17g, %.17g], \"dx_mm\": %.17g,\n"
                     "           \"fibre_direction\": [1, 0, 0]},\n"
                     "  \"model\": %s,\n"
                     "  \"conductivity\": {\"sigma_l_S_per_m\": 0.13342, \"sigma_t_S_per_m\": 0.017606},\n"
                     "  \"chi_per_mm\": 140,\n"
                     "  \"Cm_uF_per_mm2\": 0.01,\n"
                     "  \"dt_ms\": %.17g,\n"
                     "  \"end_time_ms\": %.17g,\n"
                     "  \"diffusion\": {\"method\": \"%s\", \"mass\": \"lumped\"},\n"
                     "  \"activation_threshold_mV\": 0,\n"
                     "  \"stimuli\": [{\"name\": \"S1\", \"box_min_mm\": [0, 0, 0], \"box_max_mm\": [%.17g, %.17g, %.17g],\n"
                     "                \"amplitude_uA_per_uF\": %.17g, \"start_ms\": 0, \"duration_ms\": %.17g}]\n"
                     "}\n",
                     L[0], L[1], L[2], BENCH_DX_MM, model_json, BENCH_DT_MS, end_time_ms, diffusion_name(diffusion),
                     2.0 * BENCH_DX_MM, L[1], L[2], BENCH_STIM_UA_PER_UF, BENCH_STIM_MS);
    return (w > 0 && (size_t)w < len) ? 0 : -1;
}

/* Bytes moved per node-step, a model of the CPU backend's loops (kernels/cpu/backend_cpu.c) counting each
 * array touched once per pass over it, with perfect cache reuse of the SpMV's x and no write-allocate
 * traffic (so it is a lower bound; a write that misses costs read + write on most CPUs). R = sizeof(ct_real),
 * k = nnz per row of K (15 for the Kuhn-split box interior, fewer at the boundary).
 *   reaction:   Vm read, Vm_prev write, Vm write, ionic state nstate*(read + write), stimulus mask (4 B)
 *               = 3R + 2 nstate R + 4
 *   explicit diffusion, one SpMV fused with the update:
 *               row_ptr (4 B) + k*(value R + column 4 B) + x (Vm) R + 1/mass R + result write R
 *               = 4 + k(R + 4) + 3R
 *   activation: Vm_prev read, Vm read, activation time read (8 B; written once per node, ignored)
 *               = 2R + 8
 *   implicit diffusion instead (lumped mass, Jacobi-preconditioned CG):
 *               right-hand side: SpMV with K (4 + k(R+4) + 2R) + b = m/dt Vm - q (4R);
 *               CG set-up: SpMV with A (4 + k(R+4) + 2R) + r, z, p from b, q, diag (6R) + 3 dots (5R);
 *               each CG iteration: SpMV (4 + k(R+4) + 2R) + p.q (2R) + x, r updates, z (8R)
 *               + r.z, r.r (4R) + p update (3R) = 4 + k(R+4) + 19R. */
static double bytes_per_node_step(int nstate, double k, int diffusion, double cg_iterations_per_step,
                                  double phase[PH_COUNT])
{
    const double R = (double)sizeof(ct_real);
    const double idx = 4.0; /* int32 row pointer, column index, uint32 stimulus mask */
    const double spmv = idx + k * (R + idx) + 2.0 * R;
    double reaction = 3.0 * R + 2.0 * nstate * R + idx;
    double activation = 2.0 * R + 8.0;
    double diffusion_bytes;
    if (diffusion == CT_DIFFUSION_EXPLICIT)
        diffusion_bytes = idx + k * (R + idx) + 3.0 * R;
    else
        diffusion_bytes = (spmv + 4.0 * R) + (spmv + 11.0 * R) + cg_iterations_per_step * (spmv + 17.0 * R);
    phase[PH_REACT] = reaction;
    phase[PH_DIFFUSE] = diffusion_bytes;
    phase[PH_DETECT] = activation;
    return reaction + diffusion_bytes + activation;
}

/* First "model name" line of /proc/cpuinfo, or "unknown". */
static void cpu_model_name(char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *p = strchr(line, ':');
        if (!p)
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, "\n");
        snprintf(out, len, "%.*s", (int)n, p);
        break;
    }
    fclose(f);
}

/* Times one backend on one built sim; fills *res. The failure message is in ct_error_message(). */
static ct_status run_case(const ct_sim *sim, const ct_backend_ops *be, int model, const int cells[3], long steps,
                          int diffusion, int split, bench_result *res)
{
    memset(res, 0, sizeof *res);
    snprintf(res->backend, sizeof res->backend, "%s", be->name);
    res->model = model_name(model);
    res->precision = precision_name();
    memcpy(res->cells, cells, sizeof res->cells);
    res->nodes = sim->mesh->n_nodes;
    res->nnz_per_row = (double)sim->stiffness->nnz / (double)sim->stiffness->n;

    ct_run_options opt = {.out_dir = NULL, .quiet = 1, .max_steps = BENCH_WARMUP_STEPS};
    ct_run_result r;
    ct_status st = ct_sim_run(sim, be, &opt, &r); /* warm-up: page in, spin up threads and clocks */
    ct_run_result_free(&r);
    if (st != CT_OK)
        return st;

    opt.max_steps = steps;
    st = ct_sim_run(sim, be, &opt, &r);
    if (st != CT_OK) {
        ct_run_result_free(&r);
        return st;
    }
    if (r.steps != steps) {
        long got = r.steps;
        ct_run_result_free(&r);
        return ct_error_set(CT_ERR_INTERNAL, "ran %ld steps, expected %ld", got, steps);
    }
    res->steps = r.steps;
    res->wall_s = r.wall_s;
    res->node_steps_per_s = r.wall_s > 0 ? (double)res->nodes * (double)r.steps / r.wall_s : 0.0;
    res->cg_iterations_per_step = (double)r.cg_iterations_total / (double)r.steps;
    res->bytes_per_node_step = bytes_per_node_step(ct_model_nstate(model), res->nnz_per_row, diffusion,
                                                   res->cg_iterations_per_step, res->phase_bytes);
    res->gb_per_s = res->bytes_per_node_step * res->node_steps_per_s * 1e-9;
    for (size_t i = 0; i < res->nodes; i++)
        res->activated_nodes += r.activation_ms[i] >= 0.0;
    long cg_total = r.cg_iterations_total;
    ct_run_result_free(&r);
    if (!split)
        return CT_OK;

    /* The same run again with the step timer on: where the time goes. */
    memset(&res->timing, 0, sizeof res->timing);
    opt.timing = &res->timing;
    st = ct_sim_run(sim, be, &opt, &r);
    if (st == CT_OK && (res->timing.steps != steps || res->timing.cg_iterations != r.cg_iterations_total ||
                        r.cg_iterations_total != cg_total))
        st = ct_error_set(CT_ERR_INTERNAL, "the timed run took %ld steps and %ld CG iterations (the timer saw %ld "
                                           "and %ld; the untimed run %ld)",
                          r.steps, r.cg_iterations_total, res->timing.steps, res->timing.cg_iterations, cg_total);
    res->split_wall_s = r.wall_s;
    res->has_split = st == CT_OK;
    ct_run_result_free(&r);
    return st;
}

/* ---- exp() throughput: the yardstick of the compute-bound ionic model -------------------------------- */

#define BENCH_EXP_N 1024     /* arguments per thread, in L1 */
#define BENCH_EXP_MIN_S 0.25 /* each measurement runs at least this long */

/* Arguments in [-8, 0.5): the range of TP06's exponents (rates and Rush-Larsen factors). */
static void exp_args(ct_real *x)
{
    for (int i = 0; i < BENCH_EXP_N; i++)
        x[i] = (ct_real)(-8.0 + 8.5 * (double)i / BENCH_EXP_N);
}

/* reps passes of scalar exp over every thread's arguments; returns the wall time, s (sink defeats dead code). */
static double time_exp_scalar(long reps, double *sink)
{
    double t0 = omp_get_wtime(), total = 0.0;
#pragma omp parallel reduction(+ : total)
    {
        ct_real x[BENCH_EXP_N];
        exp_args(x);
        ct_real acc = 0;
        for (long r = 0; r < reps; r++) {
            ct_real shift = (ct_real)(r & 7) * (ct_real)1e-3; /* a new argument each pass: nothing to hoist */
            for (int i = 0; i < BENCH_EXP_N; i++)
                acc += CT_EXP(x[i] - shift);
        }
        total += (double)acc;
    }
    *sink += total;
    return omp_get_wtime() - t0;
}

#ifdef BENCH_HAVE_AVX2_CALL
#ifdef CT_REAL_FLOAT
#define BENCH_VEXP_NAME "_ZGVdN8v_expf" /* glibc's vector ABI name: AVX2, 8 floats */
#define BENCH_VEXP_LANES 8
typedef __m256 (*bench_vexp_fn)(__m256);
#else
#define BENCH_VEXP_NAME "_ZGVdN4v_exp" /* glibc's vector ABI name: AVX2, 4 doubles */
#define BENCH_VEXP_LANES 4
typedef __m256d (*bench_vexp_fn)(__m256d);
#endif

__attribute__((target("avx2"))) static double time_exp_vector(bench_vexp_fn f, long reps, double *sink)
{
    double t0 = omp_get_wtime(), total = 0.0;
#pragma omp parallel reduction(+ : total)
    {
        ct_real x[BENCH_EXP_N], out[BENCH_VEXP_LANES];
        exp_args(x);
#ifdef CT_REAL_FLOAT
        __m256 acc = _mm256_setzero_ps();
        for (long r = 0; r < reps; r++) {
            __m256 shift = _mm256_set1_ps((float)(r & 7) * 1e-3f);
            for (int i = 0; i < BENCH_EXP_N; i += BENCH_VEXP_LANES)
                acc = _mm256_add_ps(acc, f(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift)));
        }
        _mm256_storeu_ps(out, acc);
#else
        __m256d acc = _mm256_setzero_pd();
        for (long r = 0; r < reps; r++) {
            __m256d shift = _mm256_set1_pd((double)(r & 7) * 1e-3);
            for (int i = 0; i < BENCH_EXP_N; i += BENCH_VEXP_LANES)
                acc = _mm256_add_pd(acc, f(_mm256_sub_pd(_mm256_loadu_pd(x + i), shift)));
        }
        _mm256_storeu_pd(out, acc);
#endif
        for (int k = 0; k < BENCH_VEXP_LANES; k++)
            total += (double)out[k];
    }
    *sink += total;
    return omp_get_wtime() - t0;
}
#endif

/* Calls per second of f (0: scalar) over all threads: reps doubled until a pass lasts BENCH_EXP_MIN_S. */
static double exp_rate(void *vector_fn, double *sink)
{
    for (long reps = 16;; reps *= 2) {
        double t;
#ifdef BENCH_HAVE_AVX2_CALL
        t = vector_fn ? time_exp_vector((bench_vexp_fn)vector_fn, reps, sink) : time_exp_scalar(reps, sink);
#else
        (void)vector_fn;
        t = time_exp_scalar(reps, sink);
#endif
        if (t >= BENCH_EXP_MIN_S || reps > (1L << 40))
            return t > 0 ? (double)omp_get_max_threads() * BENCH_EXP_N * (double)reps / t : 0.0;
    }
}

/* Measures the scalar and (where glibc's libmvec and AVX2 are there) the vector exp throughput, and counts
 * TP06's transcendental calls per node-step. */
static void measure_exp(bench_exp *e)
{
    memset(e, 0, sizeof *e);
    double sink = 0.0;
    e->scalar_per_s = exp_rate(NULL, &sink);
    snprintf(e->vector_how, sizeof e->vector_how, "not available");
#ifdef BENCH_HAVE_AVX2_CALL
    __builtin_cpu_init();
    void *lib = __builtin_cpu_supports("avx2") ? dlopen("libmvec.so.1", RTLD_NOW | RTLD_LOCAL) : NULL;
    void *f = lib ? dlsym(lib, BENCH_VEXP_NAME) : NULL;
    if (f) {
        e->vector_per_s = exp_rate(f, &sink);
        snprintf(e->vector_how, sizeof e->vector_how, "libmvec %s (AVX2, %d lanes)", BENCH_VEXP_NAME,
                 BENCH_VEXP_LANES);
    }
    if (lib)
        dlclose(lib);
#endif
    if (sink == 12345.678) /* never: keeps the sums alive */
        printf("%g\n", sink);
    ct_bench_tp06_count(CT_TP06_EPI, -85.0, BENCH_DT_MS, &e->tp06_rest);
    ct_bench_tp06_count(CT_TP06_EPI, 0.0, BENCH_DT_MS, &e->tp06_active);
}

static void print_header(void)
{
    printf("%-8s %-19s %-9s %9s %6s %9s %13s %8s %11s %7s\n", "backend", "model", "precision", "nodes", "steps",
           "wall s", "node-steps/s", "GB/s", "B/node-step", "% peak");
}

static void print_row(const bench_result *r)
{
    char pct[16] = "n/a";
    if (r->peak_gb_per_s > 0)
        snprintf(pct, sizeof pct, "%.1f", 100.0 * r->gb_per_s / r->peak_gb_per_s);
    printf("%-8s %-19s %-9s %9zu %6ld %9.3f %13.4g %8.2f %11.0f %7s\n", r->backend, r->model, r->precision, r->nodes,
           r->steps, r->wall_s, r->node_steps_per_s, r->gb_per_s, r->bytes_per_node_step, pct);
    fflush(stdout);
}

/* Achieved GB/s of phase ph of r (its modelled bytes over its timed seconds); the detection fused into the
 * diffusion (CPU explicit lumped) moves its bytes there. */
static double phase_gb_per_s(const bench_result *r, int ph)
{
    const ct_step_timing *t = &r->timing;
    double sec = ph == PH_REACT ? t->react_s : ph == PH_DIFFUSE ? t->diffuse_s : t->detect_s;
    double fused = t->steps > 0 ? (double)t->detect_fused / (double)t->steps : 0.0;
    double bytes = r->phase_bytes[ph];
    if (ph == PH_DIFFUSE)
        bytes += fused * r->phase_bytes[PH_DETECT];
    if (ph == PH_DETECT)
        bytes *= 1.0 - fused;
    return sec > 0 ? bytes * (double)r->nodes * (double)t->steps / sec * 1e-9 : 0.0;
}

/* Fraction of the machine's exp() throughput the reaction achieves (tp06: its counted transcendental calls
 * per node-step at the reaction's node-step rate); 0 when not applicable. */
static double exp_fraction(const bench_result *r, double exp_per_s)
{
    if (r->transcendentals <= 0 || exp_per_s <= 0 || r->timing.react_s <= 0)
        return 0.0;
    return r->transcendentals * (double)r->nodes * (double)r->timing.steps / r->timing.react_s / exp_per_s;
}

static void print_split_header(void)
{
    printf("%-8s %-19s %9s %8s %6s %8s %6s %7s %8s %6s %8s %6s %6s %6s %7s %7s %7s %7s\n", "backend", "model",
           "nodes", "react", "%", "diffuse", "%", "CG/step", "detect", "%", "halo", "%", "sum%", "R GB/s", "R %pk",
           "D GB/s", "D %pk", "exp %");
}

/* One row of the split: ms per step of each phase, its share of the timed run's loop time, the phases'
 * sum as a share of that loop time, achieved GB/s and % of peak of the reaction and the diffusion, and for
 * TP06 the % of the scalar (vector) exp() throughput. */
static void print_split_row(const bench_result *r, const bench_exp *e)
{
    const ct_step_timing *t = &r->timing;
    double steps = (double)t->steps, loop = r->split_wall_s > 0 ? r->split_wall_s : 1.0;
    double sum = t->react_s + t->diffuse_s + t->detect_s + t->halo_s;
    char rpk[16] = "n/a", dpk[16] = "n/a", ex[32] = "n/a";
    double rg = phase_gb_per_s(r, PH_REACT), dg = phase_gb_per_s(r, PH_DIFFUSE);
    if (r->peak_gb_per_s > 0) {
        snprintf(rpk, sizeof rpk, "%.1f", 100.0 * rg / r->peak_gb_per_s);
        snprintf(dpk, sizeof dpk, "%.1f", 100.0 * dg / r->peak_gb_per_s);
    }
    if (r->transcendentals > 0 && e->scalar_per_s > 0) {
        if (e->vector_per_s > 0)
            snprintf(ex, sizeof ex, "%.0f(%.0f)", 100.0 * exp_fraction(r, e->scalar_per_s),
                     100.0 * exp_fraction(r, e->vector_per_s));
        else
            snprintf(ex, sizeof ex, "%.0f", 100.0 * exp_fraction(r, e->scalar_per_s));
    }
    printf("%-8s %-19s %9zu %8.3f %6.1f %8.3f %6.1f %7.1f %8.3f %6.1f %8.3f %6.1f %6.1f %7.2f %7s %7.2f %7s %7s\n",
           r->backend, r->model, r->nodes, 1e3 * t->react_s / steps, 100.0 * t->react_s / loop,
           1e3 * t->diffuse_s / steps, 100.0 * t->diffuse_s / loop, (double)t->cg_iterations / steps,
           1e3 * t->detect_s / steps, 100.0 * t->detect_s / loop, 1e3 * t->halo_s / steps, 100.0 * t->halo_s / loop,
           100.0 * sum / loop, rg, rpk, dg, dpk, ex);
}

/* Writes the results to `path` via path.tmp and rename(); returns 0, or -1 with a message printed. */
static int write_json(const char *path, const char *machine, const char *host, int threads, const char *date,
                      const bench_options *o, const bench_exp *e, const bench_result *res, int n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *runs = root ? cJSON_AddArrayToObject(root, "runs") : NULL;
    int ok = runs != NULL;
    ok = ok && cJSON_AddStringToObject(root, "tool", "ct_bench");
    ok = ok && cJSON_AddStringToObject(root, "version", CT_VERSION);
    ok = ok && cJSON_AddStringToObject(root, "machine", machine);
    ok = ok && cJSON_AddStringToObject(root, "host", host);
    ok = ok && cJSON_AddNumberToObject(root, "threads", threads);
    ok = ok && cJSON_AddStringToObject(root, "date", date);
    ok = ok && cJSON_AddStringToObject(root, "precision", precision_name());
    ok = ok && cJSON_AddStringToObject(root, "diffusion", diffusion_name(o->diffusion));
    ok = ok && cJSON_AddStringToObject(root, "cg_start", o->cg_start == CT_CG_START_PREVIOUS ? "previous"
                                                                                           : "extrapolate");
    ok = ok && cJSON_AddNumberToObject(root, "dx_mm", BENCH_DX_MM);
    ok = ok && cJSON_AddNumberToObject(root, "dt_ms", BENCH_DT_MS);
    if (o->split) {
        cJSON *ej = cJSON_AddObjectToObject(root, "exp_throughput");
        ok = ok && ej && cJSON_AddNumberToObject(ej, "scalar_calls_per_s", e->scalar_per_s);
        ok = ok && cJSON_AddNumberToObject(ej, "vector_calls_per_s", e->vector_per_s);
        ok = ok && cJSON_AddStringToObject(ej, "vector_source", e->vector_how);
        cJSON *cj = ok ? cJSON_AddObjectToObject(root, "tp06_calls_per_node_step_rest") : NULL;
        ok = ok && cj && cJSON_AddNumberToObject(cj, "exp", (double)e->tp06_rest.exp_calls);
        ok = ok && cJSON_AddNumberToObject(cj, "log", (double)e->tp06_rest.log_calls);
        ok = ok && cJSON_AddNumberToObject(cj, "pow", (double)e->tp06_rest.pow_calls);
        ok = ok && cJSON_AddNumberToObject(cj, "sqrt", (double)e->tp06_rest.sqrt_calls);
        cJSON *aj = ok ? cJSON_AddObjectToObject(root, "tp06_calls_per_node_step_depolarised") : NULL;
        ok = ok && aj && cJSON_AddNumberToObject(aj, "exp", (double)e->tp06_active.exp_calls);
        ok = ok && cJSON_AddNumberToObject(aj, "log", (double)e->tp06_active.log_calls);
        ok = ok && cJSON_AddNumberToObject(aj, "pow", (double)e->tp06_active.pow_calls);
        ok = ok && cJSON_AddNumberToObject(aj, "sqrt", (double)e->tp06_active.sqrt_calls);
    }
    for (int i = 0; ok && i < n; i++) {
        const bench_result *r = &res[i];
        cJSON *o_run = cJSON_CreateObject();
        ok = o_run && cJSON_AddItemToArray(runs, o_run);
        if (!ok) {
            cJSON_Delete(o_run);
            break;
        }
        cJSON *cells = cJSON_CreateIntArray(r->cells, 3);
        ok = cells && cJSON_AddItemToObject(o_run, "box_cells", cells);
        if (!ok) {
            cJSON_Delete(cells);
            break;
        }
        ok = ok && cJSON_AddStringToObject(o_run, "backend", r->backend);
        ok = ok && cJSON_AddStringToObject(o_run, "model", r->model);
        ok = ok && cJSON_AddStringToObject(o_run, "precision", r->precision);
        ok = ok && cJSON_AddNumberToObject(o_run, "nodes", (double)r->nodes);
        ok = ok && cJSON_AddNumberToObject(o_run, "nnz_per_row", r->nnz_per_row);
        ok = ok && cJSON_AddNumberToObject(o_run, "steps", (double)r->steps);
        ok = ok && cJSON_AddNumberToObject(o_run, "wall_s", r->wall_s);
        ok = ok && cJSON_AddNumberToObject(o_run, "node_steps_per_s", r->node_steps_per_s);
        ok = ok && cJSON_AddNumberToObject(o_run, "cg_iterations_per_step", r->cg_iterations_per_step);
        ok = ok && cJSON_AddNumberToObject(o_run, "bytes_per_node_step", r->bytes_per_node_step);
        ok = ok && cJSON_AddNumberToObject(o_run, "peak_GB_per_s", r->peak_gb_per_s);
        ok = ok && cJSON_AddStringToObject(o_run, "peak_source", r->peak_how);
        ok = ok && cJSON_AddNumberToObject(o_run, "fraction_of_peak",
                                           r->peak_gb_per_s > 0 ? r->gb_per_s / r->peak_gb_per_s : 0.0);
        ok = ok && cJSON_AddNumberToObject(o_run, "GB_per_s", r->gb_per_s);
        ok = ok && cJSON_AddNumberToObject(o_run, "activated_nodes", (double)r->activated_nodes);
        if (!ok || !r->has_split)
            continue;
        const ct_step_timing *t = &r->timing;
        cJSON *sp = cJSON_AddObjectToObject(o_run, "split");
        ok = sp != NULL;
        ok = ok && cJSON_AddNumberToObject(sp, "loop_wall_s", r->split_wall_s);
        ok = ok && cJSON_AddNumberToObject(sp, "steps", (double)t->steps);
        ok = ok && cJSON_AddNumberToObject(sp, "step_total_s", t->total_s);
        ok = ok && cJSON_AddNumberToObject(sp, "react_s", t->react_s);
        ok = ok && cJSON_AddNumberToObject(sp, "diffuse_s", t->diffuse_s);
        ok = ok && cJSON_AddNumberToObject(sp, "detect_s", t->detect_s);
        ok = ok && cJSON_AddNumberToObject(sp, "halo_s", t->halo_s);
        ok = ok && cJSON_AddNumberToObject(sp, "cg_iterations", (double)t->cg_iterations);
        ok = ok && cJSON_AddNumberToObject(sp, "detect_fused_steps", (double)t->detect_fused);
        ok = ok && cJSON_AddNumberToObject(sp, "react_bytes_per_node_step", r->phase_bytes[PH_REACT]);
        ok = ok && cJSON_AddNumberToObject(sp, "diffuse_bytes_per_node_step", r->phase_bytes[PH_DIFFUSE]);
        ok = ok && cJSON_AddNumberToObject(sp, "detect_bytes_per_node_step", r->phase_bytes[PH_DETECT]);
        ok = ok && cJSON_AddNumberToObject(sp, "react_GB_per_s", phase_gb_per_s(r, PH_REACT));
        ok = ok && cJSON_AddNumberToObject(sp, "diffuse_GB_per_s", phase_gb_per_s(r, PH_DIFFUSE));
        ok = ok && cJSON_AddNumberToObject(sp, "detect_GB_per_s", phase_gb_per_s(r, PH_DETECT));
        double pk = r->peak_gb_per_s;
        ok = ok && cJSON_AddNumberToObject(sp, "react_fraction_of_peak", pk > 0 ? phase_gb_per_s(r, PH_REACT) / pk : 0);
        ok = ok && cJSON_AddNumberToObject(sp, "diffuse_fraction_of_peak",
                                           pk > 0 ? phase_gb_per_s(r, PH_DIFFUSE) / pk : 0);
        ok = ok && cJSON_AddNumberToObject(sp, "transcendentals_per_node_step", r->transcendentals);
        ok = ok && cJSON_AddNumberToObject(sp, "fraction_of_scalar_exp_throughput", exp_fraction(r, e->scalar_per_s));
        ok = ok && cJSON_AddNumberToObject(sp, "fraction_of_vector_exp_throughput", exp_fraction(r, e->vector_per_s));
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "ct_bench: out of memory building the JSON results\n");
        return -1;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(text);
        fprintf(stderr, "ct_bench: out of memory\n");
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int rc = 0;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "ct_bench: cannot write %s: %s\n", tmp, strerror(errno));
        rc = -1;
    } else {
        size_t len = strlen(text);
        int werr = fwrite(text, 1, len, f) != len || fputc('\n', f) == EOF;
        int cerr = fclose(f) != 0;
        if (werr || cerr) {
            fprintf(stderr, "ct_bench: writing %s failed: %s\n", tmp, strerror(errno));
            remove(tmp);
            rc = -1;
        } else if (rename(tmp, path) != 0) {
            fprintf(stderr, "ct_bench: cannot rename %s to %s: %s\n", tmp, path, strerror(errno));
            remove(tmp);
            rc = -1;
        }
    }
    free(tmp);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    bench_options o;
    int pa = parse_args(argc, argv, &o);
    if (pa != 0)
        return pa > 0 ? 0 : 2;

    /* Which backends run: each requested one is selected and probed; under "all" the unavailable are skipped. */
    const ct_backend_ops *backends[sizeof all_backends / sizeof *all_backends];
    int n_backends = 0;
    int want_all = strcmp(o.backend, "all") == 0;
    for (size_t b = 0; b < sizeof all_backends / sizeof *all_backends; b++) {
        if (!want_all && strcmp(o.backend, all_backends[b]) != 0)
            continue;
        const ct_backend_ops *be = NULL;
        char why[256];
        ct_status st = ct_backend_select(all_backends[b], &be, why, sizeof why);
        if (st == CT_OK && be->probe)
            st = be->probe();
        if (st != CT_OK) {
            if (!want_all) {
                fprintf(stderr, "ct_bench: backend %s: %s\n", all_backends[b], ct_error_message());
                return 1;
            }
            printf("skipping backend %s: %s\n", all_backends[b], ct_error_message());
            continue;
        }
        backends[n_backends++] = be;
    }
    if (n_backends == 0) {
        fprintf(stderr, "ct_bench: no backend available\n");
        return 1;
    }

    char machine[256], host[256] = "unknown", date[64] = "unknown";
    cpu_model_name(machine, sizeof machine);
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm_utc;
    if (gmtime_r(&now, &tm_utc))
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
    int threads = omp_get_max_threads();

    printf("ct_bench %s: machine \"%s\" (host %s), %d OpenMP thread%s, %s\n", CT_VERSION, machine, host, threads,
           threads == 1 ? "" : "s", date);
    printf("precision %s, diffusion %s (lumped mass), dx %.2f mm, dt %.2f ms, %ld timed steps after %d warm-up\n",
           precision_name(), diffusion_name(o.diffusion), BENCH_DX_MM, BENCH_DT_MS, o.steps, BENCH_WARMUP_STEPS);
    printf("ionic rates %s, CPU reaction %s%s\n", o.ionic_lut ? "from a lookup table (--lut)" : "exact",
           o.ionic_simd ? "SIMD (--simd)" : "scalar",
           o.diffusion == CT_DIFFUSION_EXPLICIT ? ""
           : o.cg_start == CT_CG_START_PREVIOUS ? ", CG start V* (--cg-start previous)"
                                                : ", CG start extrapolated");
    printf("GB/s = modelled bytes per node-step (B/node-step column) x node-steps/s; compare with STREAM triad.\n\n");

    /* Each backend's device peak bandwidth, once: the yardstick of the "% peak" column. */
    double peak[8] = {0};
    char peak_how[8][128];
    for (int b = 0; b < n_backends && b < 8; b++) {
        snprintf(peak_how[b], sizeof peak_how[b], "unknown");
        if (backends[b]->peak_bandwidth_GB_per_s)
            peak[b] = backends[b]->peak_bandwidth_GB_per_s(peak_how[b], sizeof peak_how[b]);
        /* A device that is the host CPU (PoCL) streams from the same memory: the CPU's measured peak. */
        if (peak[b] <= 0 && backends[b]->runs_on_host_cpu && backends[b]->runs_on_host_cpu() &&
            ct_backend_cpu.peak_bandwidth_GB_per_s) {
            char how[128];
            peak[b] = ct_backend_cpu.peak_bandwidth_GB_per_s(how, sizeof how);
            snprintf(peak_how[b], sizeof peak_how[b], "the host CPU's: %.100s", how);
        }
        printf("peak bandwidth of %s: %s%.1f GB/s (%s)\n", backends[b]->name, peak[b] > 0 ? "" : "unknown, ",
               peak[b], peak_how[b]);
    }
    printf("\n");

    /* The compute yardstick of the ionic model: exp() throughput and TP06's calls per node-step. */
    bench_exp ex;
    memset(&ex, 0, sizeof ex);
    if (o.split) {
        measure_exp(&ex);
        printf("exp() throughput, %d thread%s: scalar %.3g calls/s; vector %.3g calls/s (%s)\n", threads,
               threads == 1 ? "" : "s", ex.scalar_per_s, ex.vector_per_s, ex.vector_how);
        printf("tp06 calls per node-step (counted, epi): at rest %ld exp + %ld log + %ld pow (+%ld sqrt); "
               "depolarised %ld exp + %ld log + %ld pow (+%ld sqrt)\n\n",
               ex.tp06_rest.exp_calls, ex.tp06_rest.log_calls, ex.tp06_rest.pow_calls, ex.tp06_rest.sqrt_calls,
               ex.tp06_active.exp_calls, ex.tp06_active.log_calls, ex.tp06_active.pow_calls,
               ex.tp06_active.sqrt_calls);
    }

    int n_runs = n_backends * o.n_models * o.n_sizes;
    bench_result *results = calloc((size_t)n_runs, sizeof *results);
    if (!results) {
        fprintf(stderr, "ct_bench: out of memory\n");
        return 1;
    }
    int n_done = 0, rc = 0;
    print_header();
    for (int mi = 0; mi < o.n_models && rc == 0; mi++) {
        for (int si = 0; si < o.n_sizes && rc == 0; si++) {
            int model = o.models[mi];
            int cells[3];
            box_for_target(o.sizes[si], cells);
            char json[4096];
            if (build_config_json(model, cells, o.steps, o.diffusion, json, sizeof json) != 0) {
                fprintf(stderr, "ct_bench: internal error: configuration text too long\n");
                rc = 1;
                break;
            }
            char source[96];
            snprintf(source, sizeof source, "<ct_bench %s %ld nodes>", model_name(model), o.sizes[si]);
            ct_config cfg;
            ct_status st = ct_config_parse(json, source, &cfg);
            if (st != CT_OK) {
                fprintf(stderr, "ct_bench: %s: %s\n", source, ct_error_message());
                rc = 1;
                break;
            }
            cfg.ionic_lut = o.ionic_lut;
            cfg.ionic_simd = o.ionic_simd;
            cfg.cg_start = o.cg_start;
            ct_sim *sim = NULL;
            st = ct_sim_create(&cfg, &sim);
            if (st != CT_OK) {
                fprintf(stderr, "ct_bench: %s: %s\n", source, ct_error_message());
                ct_config_free(&cfg);
                rc = 1;
                break;
            }
            for (int b = 0; b < n_backends; b++) {
                bench_result *res = &results[n_done];
                st = run_case(sim, backends[b], model, cells, o.steps, o.diffusion, o.split, res);
                if (st != CT_OK) {
                    fprintf(stderr, "ct_bench: %s on backend %s failed (%s): %s\n", source, backends[b]->name,
                            ct_status_name(st), ct_error_message());
                    rc = 1;
                    break;
                }
                if (b < 8) {
                    res->peak_gb_per_s = peak[b];
                    snprintf(res->peak_how, sizeof res->peak_how, "%s", peak_how[b]);
                }
                if (model == CT_MODEL_TP06) /* at rest: the stimulus excites only the x = 0 end */
                    res->transcendentals = (double)(ex.tp06_rest.exp_calls + ex.tp06_rest.log_calls +
                                                    ex.tp06_rest.pow_calls);
                print_row(res);
                if (res->activated_nodes == 0 && (double)o.steps * BENCH_DT_MS >= BENCH_STIM_MS + 1.0)
                    printf("  note: no node activated in %g ms (the stimulus did not excite)\n",
                           (double)o.steps * BENCH_DT_MS);
                n_done++;
            }
            ct_sim_destroy(sim);
            ct_config_free(&cfg);
        }
    }
    if (o.split && n_done > 0) {
        printf("\nWhere the time goes (a second run with the step timer on): ms per step and %% of that run's loop\n"
               "time per phase; sum%% = the phases over the loop; R/D = reaction/diffusion achieved GB/s and %% of\n"
               "peak (modelled bytes); exp %% = tp06 transcendental calls/s over the scalar (vector) exp() rate.\n");
        print_split_header();
        for (int i = 0; i < n_done; i++)
            if (results[i].has_split)
                print_split_row(&results[i], &ex);
    }
    if (rc == 0 && o.json_path) {
        if (write_json(o.json_path, machine, host, threads, date, &o, &ex, results, n_done) != 0)
            rc = 1;
        else
            printf("\nwrote %s\n", o.json_path);
    }
    free(results);
    return rc;
}
