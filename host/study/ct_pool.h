/* ct_pool.h — a pool of child processes: n tasks, at most `jobs` running at once, each in a forked child.
 *
 * Used by `induce` (ct_study.c: one child per pacing site) and `cohort` (ct_cohort.c: one `cardiotwin run`
 * per run). The children are forked without exec: the caller must not have initialised a device runtime
 * that does not survive fork (CUDA) before the pool runs; ct_pool_backend_select below chooses a backend
 * without doing so. For each task the pool, in this process, calls prepare (optional), forks, and in the child calls
 * child(); when the child has ended it calls done() with its wait status. A task whose prepare or fork
 * failed goes to done() with the reason instead, and the pool goes on with the next.
 *
 * Slots: a task runs in slot 0 .. jobs-1 (the one it was given is passed to every call); with device_env
 * set and more than one device, the child's environment gets device_env=(device_first + slot) % n_devices,
 * so that the slots spread over the GPUs, unless device_env is already set in this process's environment.
 *
 * Signals: while the pool runs, SIGINT and SIGTERM sent to this process are forwarded to every running
 * child (each child leads a process group of its own, so a Ctrl-C at the terminal reaches it once, this way)
 * and passed on to the handler this process had, if it had one (ct_run.h's stop request). No task starts
 * after one (one already prepared goes to done() with a launch_error); the running ones are waited for and
 * go to done() as usual; the pool returns CT_ERR_INTERRUPTED naming the signal. A signal this process
 * ignores stays ignored. The previous handlers are restored before the pool returns; the children start
 * with them, and with this process's signal mask. One pool runs at a time in a process.
 */
#ifndef CT_POOL_H
#define CT_POOL_H

#include <stddef.h>

#include "core/ct_status.h"

typedef struct ct_pool_ops {
    /* Optional. In this process, before task `task` is forked into slot `slot`; a failure (with its message
     * set) skips the fork and passes that message to done(). */
    ct_status (*prepare)(void *ctx, int task, int slot);
    /* In the child: does the task; the value returned is the child's exit status (the child never returns
     * into the caller's code: the pool ends it with _exit). */
    int (*child)(void *ctx, int task, int slot);
    /* In this process, once per task: wait_status is the child's (as waitpid gives it), or 0 with
     * launch_error set when prepare or fork failed. A failure returned here stops the pool from starting
     * further tasks; the running ones are waited for and the first such failure is what the pool returns. */
    ct_status (*done)(void *ctx, int task, int slot, int wait_status, const char *launch_error);
} ct_pool_ops;

typedef struct ct_pool_options {
    int jobs;               /* tasks at once, >= 1 */
    const char *device_env; /* e.g. "CUDA_VISIBLE_DEVICES", or NULL: the children's environment is this one's */
    int n_devices;          /* devices the slots share; <= 1: device_env is left alone */
    int device_first;       /* the device of slot 0 (e.g. an MPI rank's offset); taken modulo n_devices */
} ct_pool_options;

/* Runs tasks 0 .. n_tasks-1 as above, calling ops with ctx. Returns CT_OK when every task went to done() and
 * none of those calls failed; the first failure of done(), with its message; CT_ERR_INTERRUPTED when a signal
 * stopped the pool (the tasks not started then never reach done()); CT_ERR_IO when waiting for the children
 * failed (those still running are left running); CT_ERR_CONFIG for bad options; CT_ERR_NOMEM. */
ct_status ct_pool_run(int n_tasks, const ct_pool_options *opt, const ct_pool_ops *ops, void *ctx);

/* Chooses a backend as ct_backend_select (kernels/backend.h) does, with the same result, `why` line and error
 * messages, but probes it in a child process, so that this process opens no device driver: a process that
 * will fork workers through the pool (fork without exec) must hold no CUDA context when it forks, since a
 * CUDA context does not survive fork and every worker's CUDA call would fail. "cpu" is chosen here (it opens
 * nothing). The chosen backend is first initialised by whichever process creates a context with it. Extra
 * failure: CT_ERR_IO when the child cannot be started or ends without an answer. */
struct ct_backend_ops;
ct_status ct_pool_backend_select(const char *name, const struct ct_backend_ops **out, char *why, size_t why_len);

#endif /* CT_POOL_H */
