/* ct_pool.c — the pool of child processes of `induce` and `cohort`, and the choice of a backend in a child
 * process (ct_pool.h).
 *
 * Each child is found by waitid(WNOWAIT) and reaped only once its slot is marked free with SIGINT/SIGTERM
 * blocked: the signal handler, which kills every pid in the slot table, can then never signal a pid that has
 * been reaped (and might have been reused); a zombie ignores the signal. A slot's pid is likewise set with
 * the signals blocked around the fork, so a signal arriving at any moment reaches every child. Each child
 * leads a process group of its own, so that a Ctrl-C at the terminal reaches it once, through the pool. */
#define _POSIX_C_SOURCE 200809L
#include "ct_pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"

/* What the handler reads: the slot table of the running pool (0: free slot) and the signal that stopped it. */
static pid_t *volatile g_pids;
static volatile int g_n_slots;
static volatile sig_atomic_t g_stop_signal;
/* The handlers the pool replaced (SIGINT, SIGTERM), restored in the children and when the pool ends. */
static struct sigaction g_old_int, g_old_term;

static void forward_signal(int sig)
{
    int saved = errno;
    g_stop_signal = sig;
    pid_t *pids = g_pids;
    for (int s = 0; pids && s < g_n_slots; s++)
        if (pids[s] > 0)
            kill(pids[s], sig);
    /* a handler the caller had (e.g. ct_run_request_stop of ct_run.h) still learns of the signal */
    const struct sigaction *old = sig == SIGINT ? &g_old_int : &g_old_term;
    if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN)
        old->sa_handler(sig);
    errno = saved;
}

/* Installs forward_signal for SIGINT and SIGTERM, except where the signal is ignored (a job started in the
 * background keeps ignoring it, and so do its children). */
static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, NULL, &g_old_int);
    sigaction(SIGTERM, NULL, &g_old_term);
    if (g_old_int.sa_handler != SIG_IGN)
        sigaction(SIGINT, &sa, NULL);
    if (g_old_term.sa_handler != SIG_IGN)
        sigaction(SIGTERM, &sa, NULL);
}

static void restore_handlers(void)
{
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
}

/* In the child, before the task: the caller's handlers and signal mask, and the slot's device. */
static void child_setup(const ct_pool_options *opt, int slot, const sigset_t *mask)
{
    setpgid(0, 0);
    restore_handlers();
    sigprocmask(SIG_SETMASK, mask, NULL);
    if (opt->device_env && opt->n_devices > 1 && !getenv(opt->device_env)) {
        char dev[32];
        int first = opt->device_first % opt->n_devices;
        snprintf(dev, sizeof dev, "%d", (first + slot) % opt->n_devices);
        setenv(opt->device_env, dev, 1);
    }
}

ct_status ct_pool_run(int n_tasks, const ct_pool_options *opt, const ct_pool_ops *ops, void *ctx)
{
    if (!opt || !ops || !ops->child || !ops->done || opt->jobs < 1 || n_tasks < 0 || opt->device_first < 0)
        return ct_error_set(CT_ERR_CONFIG, "ct_pool_run: jobs must be >= 1, child and done must be given");
    if (g_pids)
        return ct_error_set(CT_ERR_INTERNAL, "ct_pool_run: a pool is already running in this process");
    const int jobs = opt->jobs;
    pid_t *pids = calloc((size_t)jobs, sizeof *pids);
    int *task_of = calloc((size_t)jobs, sizeof *task_of);
    if (!pids || !task_of) {
        free(pids);
        free(task_of);
        return ct_error_set(CT_ERR_NOMEM, "out of memory for a pool of %d processes", jobs);
    }
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    g_stop_signal = 0;
    g_n_slots = jobs;
    g_pids = pids;
    install_handlers();

    ct_status st = CT_OK;     /* the first failure of done(), its message in first_msg */
    char first_msg[2048] = "";
    ct_status wait_st = CT_OK; /* waiting itself failed */
    int next = 0, running = 0, started = 0;
    while (wait_st == CT_OK && (running > 0 || (next < n_tasks && st == CT_OK && !g_stop_signal))) {
        /* fill the free slots */
        for (int s = 0; s < jobs && next < n_tasks && st == CT_OK && !g_stop_signal; s++) {
            if (pids[s])
                continue;
            int task = next++;
            const char *launch_error = NULL;
            char msg[2048];
            if (ops->prepare && ops->prepare(ctx, task, s) != CT_OK) {
                snprintf(msg, sizeof msg, "%s", ct_error_message());
                launch_error = msg;
            } else {
                fflush(NULL);
                sigprocmask(SIG_BLOCK, &block, &old_mask); /* until the slot holds the child's pid */
                pid_t pid = -1;
                int e = 0;
                if (!g_stop_signal) {
                    pid = fork();
                    if (pid == 0) {
                        child_setup(opt, s, &old_mask);
                        _exit(ops->child(ctx, task, s));
                    }
                    e = errno;
                    if (pid > 0) {
                        setpgid(pid, pid); /* as the child does: whichever runs first */
                        pids[s] = pid;
                        task_of[s] = task;
                        running++;
                        started++;
                    }
                }
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                if (pid < 0 && !g_stop_signal) {
                    snprintf(msg, sizeof msg, "cannot start a process: %s", strerror(e));
                    ct_error_set(CT_ERR_IO, "%s", msg);
                    launch_error = msg;
                } else if (pid < 0) { /* a signal came while it was prepared: done() releases what prepare took */
                    snprintf(msg, sizeof msg, "not started: stopped by signal %d", (int)g_stop_signal);
                    ct_error_set(CT_ERR_INTERRUPTED, "%s", msg);
                    launch_error = msg;
                }
            }
            if (launch_error) {
                ct_status d = ops->done(ctx, task, s, 0, launch_error);
                if (st == CT_OK && d != CT_OK) {
                    st = d;
                    snprintf(first_msg, sizeof first_msg, "%s", ct_error_message());
                }
            }
        }
        if (running == 0)
            continue;
        /* a child has ended: free its slot (signals blocked), then reap it */
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0) {
            if (errno == EINTR)
                continue;
            wait_st = ct_error_set(CT_ERR_IO, "waiting for the child processes: %s", strerror(errno));
            break;
        }
        int slot = -1;
        sigprocmask(SIG_BLOCK, &block, &old_mask);
        for (int s = 0; s < jobs; s++)
            if (pids[s] == info.si_pid) {
                slot = s;
                pids[s] = 0;
                running--;
            }
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        int status = 0;
        while (waitpid(info.si_pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (slot >= 0) { /* (else another child of this process's: reaped, not ours) */
            ct_status d = ops->done(ctx, task_of[slot], slot, status, NULL);
            if (st == CT_OK && d != CT_OK) {
                st = d;
                snprintf(first_msg, sizeof first_msg, "%s", ct_error_message());
            }
        }
    }

    restore_handlers();
    g_pids = NULL;
    g_n_slots = 0;
    free(pids);
    free(task_of);
    if (wait_st != CT_OK)
        return wait_st;
    if (g_stop_signal)
        return ct_error_set(CT_ERR_INTERRUPTED,
                            "stopped by signal %d (%s): %d of %d tasks had started (those running were sent the "
                            "signal), the others were not started",
                            (int)g_stop_signal, g_stop_signal == SIGINT ? "SIGINT" : "SIGTERM", started, n_tasks);
    return st == CT_OK ? CT_OK : ct_error_set(st, "%s", first_msg);
}

/* The child's answer on the pipe: "<status>\0<chosen backend>\0<why line or error message>". */
ct_status ct_pool_backend_select(const char *name, const ct_backend_ops **out, char *why, size_t why_len)
{
    *out = NULL;
    if (strcmp(name, "cpu") == 0)
        return ct_backend_select(name, out, why, why_len);
    int fd[2];
    if (pipe(fd) != 0)
        return ct_error_set(CT_ERR_IO, "choosing backend \"%s\": cannot make a pipe: %s", name, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fd[0]);
        close(fd[1]);
        return ct_error_set(CT_ERR_IO, "choosing backend \"%s\": cannot start a process: %s", name, strerror(e));
    }
    if (pid == 0) { /* the child: probe, answer, end without running the parent's exit handlers */
        close(fd[0]);
        const ct_backend_ops *be = NULL;
        char line[1024] = "", msg[4096];
        ct_status st = ct_backend_select(name, &be, line, sizeof line);
        int len = snprintf(msg, sizeof msg, "%d%c%s%c%s", (int)st, '\0', be ? be->name : "", '\0',
                           st == CT_OK ? line : ct_error_message());
        if (len >= (int)sizeof msg)
            len = (int)sizeof msg - 1;
        for (int done = 0; len > 0 && done < len;) {
            ssize_t w = write(fd[1], msg + done, (size_t)(len - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                _exit(1);
            done += (int)w;
        }
        _exit(0);
    }
    close(fd[1]);
    char buf[4096];
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd[0], buf + got, sizeof buf - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == sizeof buf - 1)
            break;
    }
    close(fd[0]);
    buf[got] = '\0';
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* parse the three fields */
    const char *chosen = memchr(buf, '\0', got) ? buf + strlen(buf) + 1 : NULL;
    const char *text = chosen && chosen < buf + got ? chosen + strlen(chosen) + 1 : NULL;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !text || text > buf + got)
        return ct_error_set(CT_ERR_IO, "choosing backend \"%s\": the probing process ended without an answer (%s %d)",
                            name, WIFSIGNALED(status) ? "signal" : "exit",
                            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    long st = strtol(buf, NULL, 10);
    if (st != CT_OK)
        return ct_error_set((ct_status)st, "%s", text);
    *out = ct_backend_find(chosen);
    if (!*out)
        return ct_error_set(CT_ERR_INTERNAL, "choosing backend \"%s\": the probe chose \"%s\", not in this build",
                            name, chosen);
    snprintf(why, why_len, "%s", text);
    return CT_OK;
}
