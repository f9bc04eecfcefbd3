/* ct_cohort.h — `cardiotwin cohort`: an in-silico trial, many runs of many models under many conditions.
 *
 * COHORT.json (README.md, "Cohorts (in-silico trials)") names members (simulation configurations, and
 * patient files that are personalised once into OUT/models/<name>/) and variations (drug block on TP06
 * conductances, pacing period and count, end time, time step). The runs are the cartesian product
 * members x drug x pacing x end time x dt. Each run is its member's configuration edited as JSON before
 * ct_config_parse, so every check of a configuration applies, and every run is checked before any starts.
 *
 * Output:
 *   OUT/runs/<id>/     config.json (the run's own configuration: `cardiotwin run` it to redo the run),
 *                      run.log, and what `cardiotwin run` writes (metrics.json, activation.vtu, beats.vtu,
 *                      ...). metrics.json gets a "cohort" object: run id, member, the hash of the run's
 *                      configuration, and the last beat's APD90 statistics (from beats.vtu)
 *   OUT/results.csv    one row per run, in run-id order, written at the end from the per-run files
 *   OUT/cohort.json    a summary: members, variations, counts, failed runs and their messages
 * Runs are child processes (`cardiotwin run`, up to `jobs` at once) and, when MPI is running
 * (host/mpi/ct_mpi.h: built with MPI, started by mpirun, ct_mpi_init called), are shared out over the ranks
 * (run k to rank k mod size; each rank runs its share in its own child processes).
 * A run whose metrics.json says "completed" and carries the hash of its current configuration is not run
 * again: an interrupted cohort (even one killed outright) resumes where it stopped.
 */
#ifndef CT_COHORT_H
#define CT_COHORT_H

#include "core/ct_status.h"

typedef struct ct_cohort_options {
    const char *cohort_path;    /* COHORT.json */
    const char *out_dir;
    const char *backend;        /* "auto", "cpu", "opencl", "cuda": checked here, then named to every run */
    int jobs;                   /* runs at once in this process; 0: one per two cores on the cpu backend, one
                                   per device on a GPU backend (one per rank under MPI) */
    int quiet;                  /* no progress lines on stderr */
    const char *cardiotwin_exe; /* the binary whose `run` command each child process executes; NULL: this
                                   process's own (/proc/self/exe) */
} ct_cohort_options;

typedef struct ct_cohort_summary {
    int n_runs;                 /* in the cohort */
    int n_completed;            /* with a completed result, reused or new */
    int n_failed;
    int n_reused;               /* already done before this invocation, not run again */
} ct_cohort_summary;

/* Checks the whole cohort (nothing runs if any member, variation or run configuration is wrong: the
 * message names the file and key), personalises patients, runs what is not done yet, and writes
 * results.csv and cohort.json. A failed run is recorded (its row says why) and the cohort goes on; the
 * summary counts it. Returns an error only when the cohort could not be carried out. */
ct_status ct_cohort_run(const ct_cohort_options *o, ct_cohort_summary *summary);

#endif /* CT_COHORT_H */
