/* ct_run.h — the one time loop (ct_loop_run), its observers, and the stop request that ends it from outside.
 *
 * Every simulation in cardiotwin steps through ct_loop_run: `cardiotwin run` and `ct_bench` (ct_sim_run, whose
 * observers are the ECG, the Vm frames, the checkpoints, the progress lines and the stop request) and
 * `induce`/`ablate` (host/study/ct_induce.c, whose observer looks at Vm for capture, re-entry and the phase). The loop
 * steps the backend, stops every rank of a split run at a blow-up anywhere (ct_dist_agree_step) and reports it
 * with its time, node and position, and calls each observer after every so many steps, in the manner of
 * Cardioid's simulation loop and its sensors. An observer that wants the loop to end sets loop->stop.
 *
 * The stop request:
 * A signal handler may only set a flag: ct_run_request_stop() is async-signal-safe and does nothing else.
 * ct_sim_run looks at the flag after every step (split across MPI ranks: every CT_RUN_STOP_POLL_STEPS
 * steps, agreed by all ranks); once it is set the run finishes the step in progress, writes what a blow-up
 * writes (activation map, beats, ECG, metrics.json with status "interrupted"), removes its temporary files
 * and returns CT_ERR_INTERRUPTED with result->interrupted_by set to the signal. The flag stays set until
 * ct_run_clear_stop(), so a caller running several simulations (induce, cohort) stops at the next one too.
 */
#ifndef CT_RUN_H
#define CT_RUN_H

#include <signal.h>
#include <stdint.h>

#include "../kernels/backend.h"
#include "mesh/ct_mesh.h"

struct ct_dist;

typedef struct ct_loop ct_loop;

/* Called after a step once loop->step (the steps done; the time is loop->step * dt_ms) is a multiple of
 * every_steps; an error ends the loop with it. */
typedef struct ct_observer {
    long every_steps;                                        /* >= 1 */
    ct_status (*observe)(void *user, ct_loop *loop);
    void *user;                                              /* borrowed */
} ct_observer;

#define CT_LOOP_MAX_OBSERVERS 8

/* The state of a stepping simulation. Fill the inputs (zero the rest), add observers, then call ct_loop_run
 * as often as wanted: it continues from loop->step. Nothing here is owned. */
struct ct_loop {
    /* inputs */
    const ct_backend_ops *be;
    ct_backend_ctx *ctx;
    const struct ct_dist *dist;   /* NULL: serial */
    const ct_mesh *mesh;          /* the whole mesh, for the position of a blow-up (global node numbers) */
    double dt_ms, vm_bound_mV;
    /* the stimuli active during step `step` (from t = step * dt_ms): bit s carries amp_uA_per_uF[s] */
    uint32_t (*stimuli)(void *user, long step);
    void *stim_user;
    const double *amp_uA_per_uF;  /* CT_MAX_STIMULI */
    const char *who;              /* prefix of messages ("site AHA 1: "); NULL: none */
    /* state */
    long step;                    /* steps done */
    long end_step;                /* the step the running ct_loop_run goes to */
    long cg_iterations_total;
    int stop;                     /* set by an observer: ct_loop_run returns after this step */
    int n_observers;
    ct_observer observers[CT_LOOP_MAX_OBSERVERS];
};

/* Adds an observer (CT_ERR_INTERNAL past CT_LOOP_MAX_OBSERVERS or with every_steps < 1). */
ct_status ct_loop_observe(ct_loop *loop, ct_observer obs);

/* Steps until loop->step == end_step, or an observer sets loop->stop (cleared on entry). A blow-up returns
 * CT_ERR_NUMERIC with a message naming the time, step, node, position and bound; any failure leaves
 * loop->step at the steps completed. */
ct_status ct_loop_run(ct_loop *loop, long end_step);

/* Split runs agree on the stop flag every this many steps (one small collective each time). */
#define CT_RUN_STOP_POLL_STEPS 50

/* Asks the running (and any later) ct_sim_run to stop; `signo` (> 0) is reported. Async-signal-safe. */
void ct_run_request_stop(int signo);
/* The signal of the pending stop request, 0 if none. */
int ct_run_stop_requested(void);
void ct_run_clear_stop(void);

/* Installs ct_run_request_stop as the handler of SIGINT and SIGTERM (sigaction, SA_RESTART, and
 * SA_RESETHAND so that a second signal ends the process at once). For the command line, not the library's
 * own use. Returns 0, or -1 with errno set. */
int ct_run_install_stop_handlers(void);

#endif /* CT_RUN_H */
