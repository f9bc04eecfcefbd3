/* main.c — the cardiotwin command line: subcommands over the library. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/backend.h"
#include "../kernels/models/ct_models.h"
#include "model/ct_cell.h"
#include "model/ct_model_desc.h"
#include "sim/ct_config.h"
#include "sim/ct_run.h"
#include "sim/ct_sim.h"
#include "mpi/ct_mpi.h"
#include "personalise/ct_patient.h"
#include "personalise/ct_tune_cv.h"
#include "study/ct_study.h"
#include "study/ct_cohort.h"
#include "study/ct_prescreen.h"
#include "core/ct_clock.h"
#include "core/ct_files.h"
#include "image/ct_phantom.h"
#include "io/ct_vtk.h"

#ifndef CT_VERSION
#define CT_VERSION "unknown"
#endif

/* Each command's synopsis and description: `cardiotwin help` lists them all, `cardiotwin COMMAND --help`
 * prints its own. */
static const struct {
    const char *name, *text;
} commands[] = {
    {"run", "  run CONFIG.json --out DIR [--backend auto|cpu|opencl|cuda] [--quiet]\n"
            "      [--checkpoint-every MS] [--checkpoint FILE] [--restart FILE] [--stop-at MS]\n"
            "        simulate the tissue described by CONFIG.json; writes DIR/vm.pvd (time series),\n"
            "        DIR/activation.vtu and DIR/metrics.json; with --checkpoint-every the whole state goes to\n"
            "        DIR/checkpoint.ctck (or FILE) every MS ms of simulated time, and --restart goes on from one\n"
            "        (also under mpirun, with the same rank count: there FILE is a manifest, and each rank's\n"
            "        piece lies beside it as FILE.sSTEP.pRANK); --stop-at ends the run at MS ms of simulated\n"
            "        time, as if interrupted there (a long run split into batch jobs of bounded length; status\n"
            "        \"stopped\"). SIGINT or SIGTERM ends it after the step in progress with the results so far\n"
            "        (status \"interrupted\", exit status 130 or 143). One run at a time per DIR (DIR/.lock)\n"},
    {"cell", "  cell [--model {models}] [--cell-type {cell_types}] [--bcl-ms 1000]\n"
             "       [--beats 20] [--dt-ms 0.01]\n"
             "        pace a single cell and print rest potential, peak, dV/dt max and APD90 of the last beat\n"},
    {"personalise", "  personalise PATIENT.json --out DIR [--quiet]\n"
                    "        build the patient's model: DIR/heart.vtu (fibres, coordinates, AHA segments, tissue, cell\n"
                    "        types), DIR/model.json (what run takes), DIR/personalise.json (summary)\n"},
    {"tune-cv", "  tune-cv [--model {models}] [--cell-type {cell_types}] --cv-m-per-s V\n"
                "          [--sigma-S-per-m 0.1334] [--dx-mm 0.25] [--dt-ms 0.01] [--chi-per-mm 140] [--cm-uF-per-mm2 0.01]\n"
                "          [--mass lumped|consistent] [--tolerance 0.01] [--max-iterations 8]\n"
                "        tune a conductivity so that a strand with this model and dx conducts at V m/s\n"},
    {"induce", "  induce INPUT.json --out DIR [--site NAME:x,y,z]... [--sites FILE] [--only NAME,NAME]\n"
               "         [--s1-count 6] [--s1-bcl-ms 600] [--extra 2] [--ci-start-ms 400] [--ci-step-ms 20]\n"
               "         [--ci-min-ms 180] [--observe-ms 1000] [--stim-radius-mm 3] [--stim-amplitude 60]\n"
               "         [--dt-ms DT] [--jobs N] [--no-baseline] [--backend B] [--quiet]\n"
               "        programmed electrical stimulation (S1 drive train, then S2, S3 at shortening coupling\n"
               "        intervals) from each site: is re-entry inducible? INPUT is a patient file (personalised\n"
               "        into DIR/model, sites: one per LV AHA segment and the RV apex) or a configuration.\n"
               "        Writes DIR/report.html, DIR/report.json, per-site results in DIR/induction/\n"},
    {"prescreen", "  prescreen CONFIG.json --out DIR [--site NAME:x,y,z]... [--sites FILE] [--top K] [the protocol\n"
                  "          options of induce]\n"
                  "        fast pre-screen of pacing sites (seconds): the induction protocol on an eikonal model with\n"
                  "        refractoriness on the mesh's edges, calibrated on cable runs of the configured model; writes\n"
                  "        DIR/prescreen.json, the sites ranked by how likely re-entry is, the first K (5) marked top\n"},
    {"ablate", "  ablate INPUT.json --lesion SPEC [--lesion SPEC]... --out DIR [the options of induce]\n"
               "        induction before and after lesions: SPEC is sphere:x,y,z,r  line:x1,y1,z1,x2,y2,z2,r\n"
               "        or box:x1,y1,z1,x2,y2,z2 (mm; non-conducting); the report says site by site whether\n"
               "        re-entry is still inducible\n"},
    {"plan", "  plan INPUT.json --out DIR [--max-rounds 3] [--prescreen-top K] [--lesion SPEC]... [the options of induce]\n"
             "        virtual ablation planning: induction from every site; for each induced re-entry its circuit\n"
             "        (cycle length, encircled obstacle, isthmus width, end points, entrance and exit, direction)\n"
             "        and a line lesion transecting the isthmus; re-test (DIR/round-K/) from the inducing sites and\n"
             "        those within 10 mm of a new lesion; repeat until none induces. --lesion: user lesions, kept.\n"
             "        --prescreen-top K: rank the sites with the pre-screen (see prescreen) and run the protocol\n"
             "        only from its top K; the report lists the sites screened out with their scores. Each\n"
             "        induced VT: Vm traces at the pacing and exit sites, monomorphic or polymorphic (cycle\n"
             "        length per cycle, phase-singularity drift); ERP per site before and after the lesions\n"},
    {"cohort", "  cohort COHORT.json --out DIR [--jobs N] [--backend B] [--quiet]\n"
               "        an in-silico trial: every member (configuration or patient) under every combination of\n"
               "        the variations (drug block, pacing, end time, dt), runs in parallel processes; writes\n"
               "        DIR/runs/<id>/, DIR/results.csv (one row per run) and DIR/cohort.json; a rerun of the same\n"
               "        command resumes, skipping the runs already completed\n"},
    {"phantom", "  phantom --out DIR [--voxel-mm 1.0] [--rotate-deg RX,RY,RZ] [--noise-sd 8] [--seed 1] [--no-scar]\n"
                "          [--no-channel] [--format nii.gz|nii|mha|vti]\n"
                "        rasterise an adult biventricular heart with an infarct (scar core, border zone, surviving\n"
                "        channel) on a voxel grid turned by RX, RY, RZ degrees about x, y, z: DIR/labels.<fmt>\n"
                "        (0 background, 1 LV / 2 RV myocardium, 3 LV / 4 RV blood, 5 scar, 6 border zone),\n"
                "        DIR/lge.<fmt> (a late-gadolinium-enhancement image) and DIR/phantom.json (parameters,\n"
                "        labels, reference volumes)\n"},
    {"help", "  help      this text\n"},
    {"version", "  version   the version\n"},
};

static const char units_line[] = "units: mm, ms, mV, S/m, uA/uF (see README.md, 'Configuration reference')\n";

/* Writes a command's usage text with "{models}" replaced by every model's name and "{cell_types}" by the
 * default model's cell types, both as a usage line spells alternatives (a|b), from the model descriptors
 * (host/model/ct_model_desc.h), so that a new model shows up here without an edit. */
static void put_usage(FILE *f, const char *text)
{
    for (const char *p = text; *p;) {
        if (strncmp(p, "{models}", 8) == 0) {
            for (int id = 0; ct_model_by_id(id); id++)
                fprintf(f, "%s%s", id ? "|" : "", ct_model_by_id(id)->name);
            p += 8;
        } else if (strncmp(p, "{cell_types}", 12) == 0) {
            const ct_model_desc *d = ct_model_default();
            for (int k = 0; k < d->n_cell_types; k++)
                fprintf(f, "%s%s", k ? "|" : "", d->cell_types[k].name);
            p += 12;
        } else {
            fputc(*p++, f);
        }
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "cardiotwin %s — cardiac electrophysiology digital twin (monodomain, P1 FEM)\n"
            "\n"
            "usage: cardiotwin COMMAND [options]   (cardiotwin COMMAND --help: that command alone)\n"
            "\n"
            "commands:\n",
            CT_VERSION);
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        put_usage(f, commands[k].text);
    fprintf(f, "\n%s", units_line);
}

/* `cardiotwin COMMAND --help` (or -h anywhere among its arguments): that command's usage on stdout, exit 0.
 * Returns -1 when `cmd` is not a command or no help was asked for. */
static int command_help(const char *cmd, int argc, char **argv)
{
    int asked = 0;
    for (int i = 0; i < argc; i++)
        asked |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    for (size_t k = 0; asked && k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(cmd, commands[k].name) == 0) {
            fputs("usage:\n", stdout);
            put_usage(stdout, commands[k].text);
            printf("\n%s", units_line);
            return 0;
        }
    return -1;
}

static int fail(const char *what)
{
    fprintf(stderr, "cardiotwin: %s\n", what);
    return 1;
}

static int cmd_run(int argc, char **argv)
{
    const char *config = NULL, *out = NULL, *backend_name = "auto", *ckpt_path = NULL, *restart = NULL;
    double ckpt_every_ms = 0, stop_at_ms = 0;
    int quiet = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--checkpoint-every") == 0 && i + 1 < argc) {
            char *end;
            ckpt_every_ms = strtod(argv[++i], &end);
            if (*end || !(ckpt_every_ms > 0) || ckpt_every_ms > 1e9) {
                fprintf(stderr, "cardiotwin run: --checkpoint-every needs a positive number of ms, not \"%s\"\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--stop-at") == 0 && i + 1 < argc) {
            char *end;
            stop_at_ms = strtod(argv[++i], &end);
            if (*end || !(stop_at_ms > 0) || stop_at_ms > 1e9) {
                fprintf(stderr, "cardiotwin run: --stop-at needs a positive number of ms, not \"%s\"\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc)
            ckpt_path = argv[++i];
        else if (strcmp(argv[i], "--restart") == 0 && i + 1 < argc)
            restart = argv[++i];
        else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
            backend_name = argv[++i];
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "cardiotwin run: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        } else if (!config)
            config = argv[i];
        else {
            fprintf(stderr, "cardiotwin run: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!config || !out) {
        fprintf(stderr, "usage: cardiotwin run CONFIG.json --out DIR [--backend auto|cpu|opencl|cuda] "
                        "[--checkpoint-every MS] [--checkpoint FILE] [--restart FILE] [--stop-at MS] [--quiet]\n"
                        "       (cardiotwin run --help)\n");
        return 2;
    }
    /* SIGINT, SIGTERM: the run ends after the step in progress and writes what it has (ct_run.h) */
    if (ct_run_install_stop_handlers() != 0)
        fprintf(stderr, "cardiotwin: warning: cannot catch SIGINT and SIGTERM; an interrupted run leaves no results\n");
    /* Under mpirun every rank does the same up to ct_sim_run; ct_mpi_agree (a no-op in a serial run) makes a
     * failure on any rank stop them all before the collective part begins. */
    const ct_backend_ops *be;
    char why[512];
    ct_status bst = ct_mpi_agree(ct_backend_select(backend_name, &be, why, sizeof why));
    if (bst != CT_OK) { /* an unknown name is a usage error; a known one missing here is not */
        fail(ct_error_message());
        return bst == CT_ERR_CONFIG ? 2 : 1;
    }
    ct_config cfg;
    ct_status lst = ct_config_load(config, &cfg);
    if (ct_mpi_agree(lst) != CT_OK) {
        if (lst == CT_OK)
            ct_config_free(&cfg);
        return fail(ct_error_message());
    }
    ct_sim *sim = NULL;
    lst = ct_sim_create_split(&cfg, &sim); /* under mpirun: each rank assembles only its share */
    if (ct_mpi_agree(lst) != CT_OK) {
        ct_sim_destroy(sim);
        ct_config_free(&cfg);
        return fail(ct_error_message());
    }
    if (!quiet) {
        fprintf(stderr, "cardiotwin: %s\n", why);
        if (ct_mpi_size() > 1) {
            char line[512];
            fprintf(stderr, "cardiotwin: %s\n", ct_mpi_describe(line, sizeof line));
        }
        fprintf(stderr, "cardiotwin: %s: %zu nodes, %zu tets, model %s, dt %g ms to %g ms (explicit limit %.3g ms)\n",
                config, sim->mesh->n_nodes, sim->mesh->n_tets, cfg.model_name, cfg.dt_ms, cfg.end_time_ms,
                sim->explicit_dt_limit_ms);
        const ct_setup_timing *t = &sim->setup_max; /* the slowest rank per phase (serially: this run) */
        fprintf(stderr, "cardiotwin: set-up %.3g s (read %.3g s, partition %.3g s, assemble %.3g s, problem %.3g s%s)\n",
                t->total_s, t->read_s, t->partition_s, t->assemble_s, t->problem_s,
                ct_mpi_size() > 1 ? "; the slowest rank per phase" : "");
    }
    ct_run_options opt = {.out_dir = out,
                          .quiet = quiet,
                          .checkpoint_every_ms = ckpt_every_ms,
                          .checkpoint_path = ckpt_path,
                          .restart_path = restart,
                          .max_steps = stop_at_ms > 0 ? (long)fmax(1.0, round(stop_at_ms / cfg.dt_ms)) : 0,
                          .consume = sim}; /* run once: the sim's matrices go once the backend has its copy */
    ct_run_result res;
    ct_status st = ct_sim_run(sim, be, &opt, &res);
    int rc = 0;
    if (st == CT_ERR_INTERRUPTED) {
        fail(ct_error_message());
        fprintf(stderr, "cardiotwin: results up to t = %g ms are in %s (status \"interrupted\")%s%s\n", res.t_end_ms, out,
                res.checkpoint_path[0] ? "; the last checkpoint is " : "", res.checkpoint_path);
        rc = 128 + (res.interrupted_by > 0 ? res.interrupted_by : SIGTERM); /* as the shell reports a signal */
    } else if (st != CT_OK) {
        rc = fail(ct_error_message());
        fprintf(stderr, "cardiotwin: results up to the failure are in %s\n", out);
    } else {
        for (int p = 0; p < cfg.n_probes; p++) {
            if (res.probe_activation_ms[p] >= 0)
                printf("%-12s activation %9.3f ms\n", cfg.probes[p].name, res.probe_activation_ms[p]);
            else
                printf("%-12s not activated\n", cfg.probes[p].name);
        }
        /* the steps this process took, which the wall time and the rate are of */
        printf("%ld steps", res.steps - res.first_step);
        if (res.first_step > 0)
            printf(" (restarted at step %ld, t = %g ms; now at step %ld)", res.first_step,
                   (double)res.first_step * cfg.dt_ms, res.steps);
        printf(" in %.2f s on %s: %.3g node-steps/s; results in %s\n", res.wall_s, res.backend, res.node_steps_per_s,
               out);
        if (res.stopped) {
            if (res.checkpoint_path[0])
                fprintf(stderr, "cardiotwin: stopped at t = %g ms of %g ms (status \"stopped\"); go on with --restart %s "
                        "(its state is at t = %g ms)\n", res.t_end_ms, cfg.end_time_ms, res.checkpoint_path,
                        res.checkpoint_t_ms);
            else
                fprintf(stderr, "cardiotwin: stopped at t = %g ms of %g ms (status \"stopped\"); no checkpoint was "
                        "written to go on from (--checkpoint-every MS)\n", res.t_end_ms, cfg.end_time_ms);
        }
        char csv[4096], png[4096];
        snprintf(csv, sizeof csv, "%s/ecg.csv", out);
        snprintf(png, sizeof png, "%s/ecg.png", out);
        FILE *f = cfg.ecg_interval_ms > 0 ? fopen(csv, "r") : NULL;
        if (f) { /* the 12 leads as a picture too; a missing matplotlib costs only the picture */
            fclose(f);
            if (ct_study_plot_ecg(csv, png) != CT_OK)
                fprintf(stderr, "cardiotwin: warning: %s not drawn: %s\n", png, ct_error_message());
        }
    }
    ct_run_result_free(&res);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
    return rc;
}

/* induce, ablate (1) and plan (2): the same options (ablate needs at least one --lesion; plan has --max-rounds). */
static int cmd_study(int argc, char **argv, int ablate)
{
    const char *cmd = ablate == 2 ? "plan" : ablate ? "ablate" : "induce";
    ct_study_options *o = malloc(sizeof *o);
    if (!o)
        return fail("out of memory");
    ct_study_options_defaults(o);
    ct_induce_protocol *p = &o->protocol;
    int rc = 0, max_rounds = 3, prescreen_top = -1; /* -1: --prescreen-top not given */
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        struct {
            const char *opt;
            double *d;
            int *n;
        } num[] = {{"--s1-count", NULL, &p->s1_count},
                   {"--s1-bcl-ms", &p->s1_bcl_ms, NULL},
                   {"--extra", NULL, &p->extra_stimuli},
                   {"--ci-start-ms", &p->ci_start_ms, NULL},
                   {"--ci-step-ms", &p->ci_step_ms, NULL},
                   {"--ci-min-ms", &p->ci_min_ms, NULL},
                   {"--observe-ms", &p->observe_ms, NULL},
                   {"--stim-radius-mm", &p->stim_radius_mm, NULL},
                   {"--stim-amplitude", &p->stim_amplitude_uA_per_uF, NULL},
                   {"--dt-ms", &p->dt_ms, NULL},
                   {"--jobs", NULL, &o->jobs},
                   {ablate == 2 ? "--max-rounds" : "(plan only)", NULL, &max_rounds},
                   {ablate == 2 ? "--prescreen-top" : "(plan only)", NULL, &prescreen_top}};
        int matched = 0;
        for (size_t k = 0; k < sizeof num / sizeof num[0] && !matched; k++) {
            if (strcmp(a, num[k].opt) != 0)
                continue;
            matched = 1;
            char *end;
            double x = v ? strtod(v, &end) : 0;
            if (!v || end == v || *end || !(x == x)) {
                fprintf(stderr, "cardiotwin %s: %s needs a number\n", cmd, a);
                rc = 2;
            } else if (num[k].d) {
                *num[k].d = x;
            } else if (x != (double)(int)x) {
                fprintf(stderr, "cardiotwin %s: %s needs a whole number\n", cmd, a);
                rc = 2;
            } else if (num[k].n == &prescreen_top && x < 1) { /* so that -1 stays "not given" */
                fprintf(stderr, "cardiotwin plan: --prescreen-top %d: K must be at least 1\n", (int)x);
                rc = 2;
            } else {
                *num[k].n = (int)x;
            }
            i++;
        }
        if (matched)
            continue;
        if (strcmp(a, "--out") == 0 && v) {
            o->out_dir = argv[++i];
        } else if (strcmp(a, "--backend") == 0 && v) {
            o->backend = argv[++i];
        } else if (strcmp(a, "--sites") == 0 && v) {
            o->sites_file = argv[++i];
        } else if (strcmp(a, "--only") == 0 && v) {
            o->only = argv[++i];
        } else if (strcmp(a, "--site") == 0 && v) {
            if (o->n_sites >= CT_STUDY_MAX_SITES || ct_study_parse_site(argv[++i], &o->sites[o->n_sites++]) != CT_OK) {
                fail(o->n_sites > CT_STUDY_MAX_SITES ? "too many --site options" : ct_error_message());
                rc = 2;
            }
        } else if (strcmp(a, "--lesion") == 0 && v) {
            if (o->n_lesions >= CT_CONFIG_MAX_LESIONS ||
                ct_lesion_parse_spec(argv[++i], &o->lesions[o->n_lesions++]) != CT_OK) {
                fail(o->n_lesions > CT_CONFIG_MAX_LESIONS ? "too many --lesion options" : ct_error_message());
                rc = 2;
            }
        } else if (strcmp(a, "--no-baseline") == 0) {
            o->baseline = 0;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "cardiotwin %s: unknown or incomplete option \"%s\"\n", cmd, a);
            rc = 2;
        } else if (!o->input) {
            o->input = a;
        } else {
            fprintf(stderr, "cardiotwin %s: unexpected argument \"%s\"\n", cmd, a);
            rc = 2;
        }
    }
    if (rc == 0 && (!o->input || !o->out_dir || (ablate == 1 && o->n_lesions == 0))) {
        fprintf(stderr, "usage: cardiotwin %s INPUT.json %s--out DIR [options]   (cardiotwin help)\n", cmd,
                ablate == 1 ? "--lesion SPEC " : "");
        rc = 2;
    }
    if (rc == 0 && !ablate && o->n_lesions > 0) {
        fprintf(stderr, "cardiotwin induce: --lesion belongs to cardiotwin ablate\n");
        rc = 2;
    }
    if (rc == 0 && ablate == 2 && (max_rounds < 1 || max_rounds > 20)) {
        fprintf(stderr, "cardiotwin plan: --max-rounds %d is outside [1, 20]\n", max_rounds);
        rc = 2;
    }
    if (ablate == 2) {
        o->plan_rounds = max_rounds;
        o->prescreen_top = prescreen_top > 0 ? prescreen_top : 0; /* -1 (not given): no pre-screen */
    }
    if (rc == 0 && ct_study_run(o) != CT_OK)
        rc = fail(ct_error_message());
    free(o);
    return rc;
}

/* prescreen: the induce protocol options, sites, --top K; see host/study/ct_prescreen.h. */
static int cmd_prescreen(int argc, char **argv)
{
    ct_study_options *o = malloc(sizeof *o); /* for its site list and protocol; owned here */
    if (!o)
        return fail("out of memory");
    ct_study_options_defaults(o);
    ct_induce_protocol *p = &o->protocol;
    int rc = 0, top_k = 5;
    for (int i = 0; i < argc && rc == 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        struct {
            const char *opt;
            double *d;
            int *n;
        } num[] = {{"--s1-count", NULL, &p->s1_count},        {"--s1-bcl-ms", &p->s1_bcl_ms, NULL},
                   {"--extra", NULL, &p->extra_stimuli},       {"--ci-start-ms", &p->ci_start_ms, NULL},
                   {"--ci-step-ms", &p->ci_step_ms, NULL},     {"--ci-min-ms", &p->ci_min_ms, NULL},
                   {"--observe-ms", &p->observe_ms, NULL},     {"--stim-radius-mm", &p->stim_radius_mm, NULL},
                   {"--stim-amplitude", &p->stim_amplitude_uA_per_uF, NULL},
                   {"--dt-ms", &p->dt_ms, NULL},               {"--top", NULL, &top_k}};
        int matched = 0;
        for (size_t k = 0; k < sizeof num / sizeof num[0] && !matched; k++) {
            if (strcmp(a, num[k].opt) != 0)
                continue;
            matched = 1;
            char *end;
            double x = v ? strtod(v, &end) : 0;
            if (!v || end == v || *end || !(x == x) || (!num[k].d && x != (double)(int)x)) {
                fprintf(stderr, "cardiotwin prescreen: %s needs a %s\n", a, num[k].d ? "number" : "whole number");
                rc = 2;
            } else if (num[k].d) {
                *num[k].d = x;
            } else {
                *num[k].n = (int)x;
            }
            i++;
        }
        if (matched)
            continue;
        if (strcmp(a, "--out") == 0 && v) {
            o->out_dir = argv[++i];
        } else if (strcmp(a, "--sites") == 0 && v) {
            o->sites_file = argv[++i];
        } else if (strcmp(a, "--site") == 0 && v) {
            if (o->n_sites >= CT_STUDY_MAX_SITES || ct_study_parse_site(argv[++i], &o->sites[o->n_sites++]) != CT_OK) {
                fail(o->n_sites > CT_STUDY_MAX_SITES ? "too many --site options" : ct_error_message());
                rc = 2;
            }
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (a[0] == '-' || o->input) {
            fprintf(stderr, "cardiotwin prescreen: unknown, incomplete or unexpected argument \"%s\"\n", a);
            rc = 2;
        } else {
            o->input = a;
        }
    }
    if (rc == 0 && (!o->input || !o->out_dir)) {
        fprintf(stderr, "usage: cardiotwin prescreen CONFIG.json --out DIR [options]   (cardiotwin help)\n");
        rc = 2;
    }
    ct_config cfg;
    int have_cfg = 0;
    ct_prescreen *ps = NULL;
    ct_prescreen_result *res = NULL;
    int n = 0;
    double t0 = ct_now_s();
    char path[4096];
    if (rc == 0 && ct_config_load(o->input, &cfg) != CT_OK)
        rc = fail(ct_error_message());
    have_cfg = rc == 0;
    ct_induce_site *sites = rc == 0 ? malloc(CT_STUDY_MAX_SITES * sizeof *sites) : NULL; /* owned here */
    if (rc == 0 && !sites)
        rc = fail("out of memory");
    if (rc == 0) { /* the sites file (default: sites.json beside the configuration), then the --site options */
        const char *file = o->sites_file;
        if (!file && o->n_sites == 0 && ct_path_relative_to(path, sizeof path, o->input, "sites.json") == CT_OK)
            file = path;
        if (file && ct_prescreen_load_sites(file, sites, CT_STUDY_MAX_SITES, &n) != CT_OK)
            rc = fail(ct_error_message());
        for (int k = 0; rc == 0 && k < o->n_sites; k++) {
            if (n >= CT_STUDY_MAX_SITES)
                rc = fail("too many sites");
            else
                sites[n++] = o->sites[k];
        }
        if (rc == 0 && n == 0)
            rc = fail("prescreen: no sites (--site NAME:x,y,z or --sites FILE)");
    }
    ct_prescreen_options popt = {.quiet = o->quiet};
    if (rc == 0 && ct_prescreen_create(&cfg, p, &popt, &ps) != CT_OK)
        rc = fail(ct_error_message());
    if (rc == 0 && !(res = calloc((size_t)n, sizeof *res)))
        rc = fail("out of memory");
    int n_failed = 0; /* a site that cannot run (beside scar, outside the mesh) fails alone: the rest are ranked */
    for (int k = 0; rc == 0 && k < n; k++) {
        if (ct_prescreen_site(ps, &sites[k], &res[k]) != CT_OK)
            n_failed++, fprintf(stderr, "  %s: FAILED: %s\n", sites[k].name, res[k].reason);
        else if (!o->quiet)
            fprintf(stderr, "  %s: %s (%s S%d at %g ms), persistence %.0f ms, %.2f s\n", sites[k].name,
                    res[k].inducible ? "RE-ENTRY predicted" : "no re-entry predicted",
                    res[k].inducible ? "by" : "shortest capturing", res[k].n_extra + 1,
                    res[k].n_extra ? res[k].coupling_ms[res[k].n_extra - 1] : 0, res[k].persistence_ms,
                    res[k].wall_s);
    }
    if (rc == 0) {
        ct_prescreen_rank(res, n);
        if (ct_mkdir_p(o->out_dir) != CT_OK || ct_path_join(path, sizeof path, o->out_dir, "prescreen.json") != CT_OK ||
            ct_prescreen_write_json(path, ps, res, n, top_k, ct_now_s() - t0) != CT_OK)
            rc = fail(ct_error_message());
        else
            printf("cardiotwin prescreen: %d sites in %.1f s; top %d: %s%s%s%s%s ...; wrote %s\n", n, ct_now_s() - t0,
                   top_k, res[0].name, n > 1 ? ", " : "", n > 1 ? res[1].name : "", n > 2 ? ", " : "",
                   n > 2 ? res[2].name : "", path);
        for (int k = 0; rc == 0 && n_failed && k < n; k++) /* failed sites are ranked last */
            if (res[k].failed)
                fprintf(stderr, "cardiotwin prescreen: site %s failed%s", res[k].name, --n_failed ? ", " : "\n");
        if (rc == 0 && res[n - 1].failed)
            rc = 1;
    }
    free(res);
    free(sites);
    ct_prescreen_destroy(ps);
    if (have_cfg)
        ct_config_free(&cfg);
    free(o);
    return rc;
}

static int cmd_cohort(int argc, char **argv)
{
    ct_cohort_options o = {.backend = "auto"}; /* each run: this binary's `run`, in a process of its own */
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--out") == 0 && v) {
            o.out_dir = argv[++i];
        } else if (strcmp(argv[i], "--backend") == 0 && v) {
            o.backend = argv[++i];
        } else if (strcmp(argv[i], "--jobs") == 0 && v) {
            char *end;
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 1024) {
                fprintf(stderr, "cardiotwin cohort: --jobs needs a whole number from 1 to 1024, not \"%s\"\n", v);
                return 2;
            }
            o.jobs = (int)n;
            i++;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o.quiet = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "cardiotwin cohort: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        } else if (!o.cohort_path) {
            o.cohort_path = argv[i];
        } else {
            fprintf(stderr, "cardiotwin cohort: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!o.cohort_path || !o.out_dir) {
        fprintf(stderr, "usage: cardiotwin cohort COHORT.json --out DIR [--jobs N] [--backend B] [--quiet]\n");
        return 2;
    }
    ct_cohort_summary s;
    if (ct_cohort_run(&o, &s) != CT_OK)
        return fail(ct_error_message());
    printf("%d run%s: %d completed (%d already done before), %d failed; results in %s/results.csv\n", s.n_runs,
           s.n_runs == 1 ? "" : "s", s.n_completed, s.n_reused, s.n_failed, o.out_dir);
    if (s.n_failed > 0) {
        fprintf(stderr, "cardiotwin: %d of %d runs failed (their rows in %s/results.csv say why)\n", s.n_failed,
                s.n_runs, o.out_dir);
        return 1;
    }
    return 0;
}

static int cmd_cell(int argc, char **argv)
{
    const char *model = "tp06", *cell_type = "epi";
    ct_cell_protocol proto = {.dt_ms = 0.01, .bcl_ms = 1000, .stim_amp_uA_per_uF = 52, .stim_duration_ms = 1,
                              .stim_start_ms = 0, .n_beats = 20};
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "cardiotwin cell: option \"%s\" needs a value\n", argv[i]);
            return 2;
        }
        char *end = NULL;
        if (strcmp(argv[i], "--model") == 0)
            model = v;
        else if (strcmp(argv[i], "--cell-type") == 0)
            cell_type = v;
        else if (strcmp(argv[i], "--bcl-ms") == 0)
            proto.bcl_ms = strtod(v, &end);
        else if (strcmp(argv[i], "--beats") == 0)
            proto.n_beats = (int)strtol(v, &end, 10);
        else if (strcmp(argv[i], "--dt-ms") == 0)
            proto.dt_ms = strtod(v, &end);
        else {
            fprintf(stderr, "cardiotwin cell: unknown option \"%s\"\n", argv[i]);
            return 2;
        }
        if (end && *end) {
            fprintf(stderr, "cardiotwin cell: %s: \"%s\" is not a number\n", argv[i], v);
            return 2;
        }
        i++;
    }
    ct_real param[CT_MODEL_NPARAM] = {0};
    int id;
    if (ct_cell_model_params(model, cell_type, &id, param) != CT_OK) {
        fprintf(stderr, "cardiotwin cell: %s\n", ct_error_message());
        return 2;
    }
    ct_cell_result res;
    if (ct_cell_pace(id, param, &proto, &res, NULL, 0) != CT_OK)
        return fail(ct_error_message());
    printf("rest_mV %.3f\npeak_mV %.3f\ndvdt_max_V_per_s %.1f\napd90_ms %.2f\n", res.rest_mV, res.peak_mV,
           res.dvdt_max_V_per_s, res.apd90_ms);
    return 0;
}

static int cmd_personalise(int argc, char **argv)
{
    const char *patient = NULL, *out = NULL;
    int quiet = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (argv[i][0] != '-' && !patient)
            patient = argv[i];
        else {
            fprintf(stderr, "cardiotwin personalise: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!patient || !out) {
        fprintf(stderr, "usage: cardiotwin personalise PATIENT.json --out DIR [--quiet]\n");
        return 2;
    }
    if (ct_personalise(patient, out, quiet) != CT_OK)
        return fail(ct_error_message());
    return 0;
}

static int cmd_tune_cv(int argc, char **argv)
{
    const char *model = "tp06", *cell_type = "epi", *mass = "lumped";
    ct_tune_cv_request req = {.dx_mm = 0.25, .dt_ms = 0.01, .chi_per_mm = 140, .cm_uF_per_mm2 = 0.01,
                              .sigma_initial_S_per_m = 0.13342, .cv_target_m_per_s = 0, .rel_tolerance = 0.01,
                              .max_iterations = 8};
    for (int i = 0; i < argc; i += 2) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "cardiotwin tune-cv: option \"%s\" needs a value\n", argv[i]);
            return 2;
        }
        char *end = NULL;
        if (strcmp(argv[i], "--model") == 0)
            model = v;
        else if (strcmp(argv[i], "--cell-type") == 0)
            cell_type = v;
        else if (strcmp(argv[i], "--mass") == 0)
            mass = v;
        else if (strcmp(argv[i], "--cv-m-per-s") == 0)
            req.cv_target_m_per_s = strtod(v, &end);
        else if (strcmp(argv[i], "--sigma-S-per-m") == 0)
            req.sigma_initial_S_per_m = strtod(v, &end);
        else if (strcmp(argv[i], "--dx-mm") == 0)
            req.dx_mm = strtod(v, &end);
        else if (strcmp(argv[i], "--dt-ms") == 0)
            req.dt_ms = strtod(v, &end);
        else if (strcmp(argv[i], "--chi-per-mm") == 0)
            req.chi_per_mm = strtod(v, &end);
        else if (strcmp(argv[i], "--cm-uF-per-mm2") == 0)
            req.cm_uF_per_mm2 = strtod(v, &end);
        else if (strcmp(argv[i], "--tolerance") == 0)
            req.rel_tolerance = strtod(v, &end);
        else if (strcmp(argv[i], "--max-iterations") == 0)
            req.max_iterations = (int)strtol(v, &end, 10);
        else {
            fprintf(stderr, "cardiotwin tune-cv: unknown option \"%s\"\n", argv[i]);
            return 2;
        }
        if (end && *end) {
            fprintf(stderr, "cardiotwin tune-cv: %s: \"%s\" is not a number\n", argv[i], v);
            return 2;
        }
    }
    if (strcmp(mass, "lumped") != 0 && strcmp(mass, "consistent") != 0) {
        fprintf(stderr, "cardiotwin tune-cv: --mass must be lumped or consistent\n");
        return 2;
    }
    if (!(req.cv_target_m_per_s > 0)) {
        fprintf(stderr, "usage: cardiotwin tune-cv --cv-m-per-s V [options]   (cardiotwin tune-cv --help)\n");
        return 2;
    }
    req.consistent_mass = strcmp(mass, "consistent") == 0;
    char model_json[256];
    const ct_model_desc *desc = ct_model_find(model);
    if (!desc) {
        char names[256];
        ct_model_names(names, sizeof names, CT_MODEL_ALL, 0);
        fprintf(stderr, "cardiotwin tune-cv: --model \"%s\" is not %s\n", model, names);
        return 2;
    }
    if (ct_model_json(desc, cell_type, model_json, sizeof model_json) != CT_OK)
        return fail(ct_error_message());
    req.model_json = model_json;
    ct_tune_cv_result res;
    ct_status st = ct_tune_cv(&req, &res);
    for (int k = 0; k < res.iterations; k++)
        printf("iteration %d: sigma %.6f S/m -> CV %.4f m/s\n", k + 1, res.sigma_history[k], res.cv_history[k]);
    if (st != CT_OK)
        return fail(ct_error_message());
    printf("sigma_S_per_m %.6f\ncv_m_per_s %.4f\n", res.sigma_S_per_m, res.cv_m_per_s);
    return 0;
}

/* phantom: a synthetic label map and LGE image of a known heart, the input of the image route. */
static int cmd_phantom(int argc, char **argv)
{
    const char *out = NULL, *format = "nii.gz";
    double voxel_mm = 1.0, noise_sd = 8.0, rot_deg[3] = {0, 0, 0};
    long seed = 1;
    int no_scar = 0, no_channel = 0;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(argv[i], "--no-scar") == 0) {
            no_scar = 1;
            continue;
        }
        if (strcmp(argv[i], "--no-channel") == 0) {
            no_channel = 1;
            continue;
        }
        if (argv[i][0] != '-') {
            fprintf(stderr, "cardiotwin phantom: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "cardiotwin phantom: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--out") == 0)
            out = v;
        else if (strcmp(argv[i], "--format") == 0)
            format = v;
        else if (strcmp(argv[i], "--voxel-mm") == 0) {
            voxel_mm = strtod(v, &end);
            if (*end || !(voxel_mm > 0) || voxel_mm > 100) {
                fprintf(stderr, "cardiotwin phantom: --voxel-mm needs a number of mm in (0, 100], not \"%s\"\n", v);
                return 2;
            }
        } else if (strcmp(argv[i], "--noise-sd") == 0) {
            noise_sd = strtod(v, &end);
            if (*end || !(noise_sd >= 0) || noise_sd > 1e4) {
                fprintf(stderr, "cardiotwin phantom: --noise-sd needs a number >= 0, not \"%s\"\n", v);
                return 2;
            }
        } else if (strcmp(argv[i], "--seed") == 0) {
            seed = strtol(v, &end, 10);
            if (*end || end == v || seed < 0 || seed > 4294967295L) {
                fprintf(stderr, "cardiotwin phantom: --seed needs a whole number from 0 to 4294967295, not \"%s\"\n",
                        v);
                return 2;
            }
        } else if (strcmp(argv[i], "--rotate-deg") == 0) {
            int used = 0;
            if (sscanf(v, "%lf,%lf,%lf%n", &rot_deg[0], &rot_deg[1], &rot_deg[2], &used) != 3 || v[used] ||
                !isfinite(rot_deg[0]) || !isfinite(rot_deg[1]) || !isfinite(rot_deg[2])) {
                fprintf(stderr, "cardiotwin phantom: --rotate-deg needs three angles RX,RY,RZ in degrees, not \"%s\"\n",
                        v);
                return 2;
            }
        } else {
            fprintf(stderr, "cardiotwin phantom: unknown option \"%s\"\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (!out) {
        fprintf(stderr, "usage: cardiotwin phantom --out DIR [--voxel-mm 1.0] [--rotate-deg RX,RY,RZ] [--noise-sd 8] "
                        "[--seed 1] [--no-scar] [--no-channel] [--format nii.gz|nii|mha|vti]\n");
        return 2;
    }
    if (strcmp(format, "nii.gz") != 0 && strcmp(format, "nii") != 0 && strcmp(format, "mha") != 0 &&
        strcmp(format, "vti") != 0) {
        fprintf(stderr, "cardiotwin phantom: --format \"%s\" is not nii.gz, nii, mha or vti\n", format);
        return 2;
    }
    ct_phantom_params p = ct_phantom_params_default();
    if (no_scar)
        p.has_scar = 0;
    if (no_channel)
        p.channel_width_mm = 0;
    double rot[9];
    ct_phantom_rotation_from_deg(rot_deg[0], rot_deg[1], rot_deg[2], rot);
    ct_image *labels = NULL, *lge = NULL;
    double vol[CT_PHANTOM_N_LABELS];
    char path[4096], name[64];
    cJSON *root = NULL;
    char *text = NULL;
    ct_status st = ct_mkdir_p(out);
    if (st == CT_OK)
        st = ct_phantom_rasterise(&p, voxel_mm, rot, noise_sd, (unsigned)seed, &labels, &lge);
    snprintf(name, sizeof name, "labels.%s", format);
    if (st == CT_OK && (st = ct_path_join(path, sizeof path, out, name)) == CT_OK)
        st = ct_vtk_write_image(path, labels, 0);
    snprintf(name, sizeof name, "lge.%s", format);
    if (st == CT_OK && (st = ct_path_join(path, sizeof path, out, name)) == CT_OK)
        st = ct_vtk_write_image(path, lge, 1);
    if (st == CT_OK)
        st = ct_phantom_volumes(&p, 0.25, vol);
    if (st == CT_OK) {
        root = ct_phantom_to_json(&p, vol);
        cJSON *grid = root ? cJSON_AddObjectToObject(root, "grid") : NULL;
        cJSON *dims = grid ? cJSON_AddArrayToObject(grid, "dims") : NULL;
        cJSON *angles = grid ? cJSON_AddArrayToObject(grid, "rotation_deg_xyz") : NULL;
        cJSON *matrix = grid ? cJSON_AddArrayToObject(grid, "rotation") : NULL;
        int ok = dims && angles && matrix && cJSON_AddNumberToObject(grid, "voxel_mm", voxel_mm) &&
                 cJSON_AddStringToObject(grid, "frame", "RAS") &&
                 cJSON_AddNumberToObject(grid, "noise_sd", noise_sd) &&
                 cJSON_AddNumberToObject(grid, "seed", (double)seed) &&
                 cJSON_AddNumberToObject(root, "volume_quadrature_step_mm", 0.25);
        for (int d = 0; ok && d < 3; d++)
            ok = cJSON_AddItemToArray(dims, cJSON_CreateNumber(labels->dims[d])) &&
                 cJSON_AddItemToArray(angles, cJSON_CreateNumber(rot_deg[d]));
        for (int e = 0; ok && e < 9; e++)
            ok = cJSON_AddItemToArray(matrix, cJSON_CreateNumber(rot[e]));
        text = ok ? cJSON_Print(root) : NULL;
        if (!text)
            st = ct_error_set(CT_ERR_NOMEM, "phantom: out of memory describing %s/phantom.json", out);
    }
    if (st == CT_OK && (st = ct_path_join(path, sizeof path, out, "phantom.json")) == CT_OK)
        st = ct_write_file_atomic(path, text, strlen(text));
    if (st == CT_OK) {
        printf("phantom: %d x %d x %d voxels of %g mm in %s/ (labels.%s, lge.%s, phantom.json)\n", labels->dims[0],
               labels->dims[1], labels->dims[2], voxel_mm, out, format, format);
        for (int l = 1; l < CT_PHANTOM_N_LABELS; l++)
            printf("  %-14s %8.2f mL\n", ct_phantom_label_name(l), vol[l] / 1000.0);
        double myo = vol[CT_PHANTOM_LV_MYO] + vol[CT_PHANTOM_RV_MYO] + vol[CT_PHANTOM_SCAR] + vol[CT_PHANTOM_BORDER];
        printf("  %-14s %8.2f mL\n", "myocardium", myo / 1000.0);
    }
    if (text)
        cJSON_free(text);
    cJSON_Delete(root);
    ct_image_destroy(labels);
    ct_image_destroy(lge);
    return st == CT_OK ? 0 : fail(ct_error_message());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int hrc = command_help(cmd, argc - 2, argv + 2);
    if (hrc >= 0)
        return hrc;
    if ((strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) && argc > 2) { /* cardiotwin help COMMAND */
        char *h = "--help";
        if ((hrc = command_help(argv[2], 1, &h)) >= 0)
            return hrc;
        fprintf(stderr, "cardiotwin help: unknown command \"%s\"\n\n", argv[2]);
        usage(stderr);
        return 2;
    }
    /* the commands that use MPI ranks (mpirun -np N): run splits its mesh, cohort shares out its runs */
    if (strcmp(cmd, "run") == 0 || strcmp(cmd, "cohort") == 0) {
        if (ct_mpi_init(&argc, &argv) != CT_OK)
            return fail(ct_error_message());
        ct_mpi_quiet_other_ranks();
        int rc = strcmp(cmd, "run") == 0 ? cmd_run(argc - 2, argv + 2) : cmd_cohort(argc - 2, argv + 2);
        ct_mpi_finalize();
        return rc;
    }
    if (ct_mpi_launched_size() > 1 && strcmp(cmd, "version") != 0 && strcmp(cmd, "--version") != 0) {
        if (ct_mpi_launched_rank() == 0)
            fprintf(stderr, "cardiotwin %s: started as %d MPI ranks, but only `cardiotwin run` can be split across "
                            "ranks; run `%s` as one process\n", cmd, ct_mpi_launched_size(), cmd);
        return 2;
    }
    if (strcmp(argv[1], "induce") == 0)
        return cmd_study(argc - 2, argv + 2, 0);
    if (strcmp(argv[1], "ablate") == 0)
        return cmd_study(argc - 2, argv + 2, 1);
    if (strcmp(cmd, "prescreen") == 0)
        return cmd_prescreen(argc - 2, argv + 2);
    if (strcmp(argv[1], "plan") == 0)
        return cmd_study(argc - 2, argv + 2, 2);
    if (strcmp(cmd, "personalise") == 0)
        return cmd_personalise(argc - 2, argv + 2);
    if (strcmp(cmd, "tune-cv") == 0)
        return cmd_tune_cv(argc - 2, argv + 2);
    if (strcmp(cmd, "cell") == 0)
        return cmd_cell(argc - 2, argv + 2);
    if (strcmp(cmd, "phantom") == 0)
        return cmd_phantom(argc - 2, argv + 2);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("cardiotwin %s\n", CT_VERSION);
        return 0;
    }
    fprintf(stderr, "cardiotwin: unknown command \"%s\"\n\n", cmd);
    usage(stderr);
    return 2;
}
