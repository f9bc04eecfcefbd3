/* test_pool.c — the process pool of `induce` and `cohort` (host/study/ct_pool.h): every task runs once, in a child,
 * in a free slot, and reaches done() with its exit status; a failed prepare is a task's failure, a failed
 * done() stops the pool; the slot's device variable; SIGTERM to the parent reaches every running child; the
 * backend chosen in a child process is the one the direct choice gives, with the same messages. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "study/ct_pool.h"

#define MAX_TASKS 16

typedef struct record {
    int jobs;
    int fail_prepare;               /* this task's prepare fails; -1: none */
    int fail_done;                  /* done() of this task fails; -1: none */
    int sleep_s;                    /* each child sleeps this long (killed sooner by a forwarded signal) */
    int signal_parent;              /* the child of task 0 sends SIGTERM to the pool's process first */
    int running, max_running;       /* started and not yet done, as prepare and done see it */
    int slot_busy[MAX_TASKS];       /* the task in each slot, -1: free */
    int n_done[MAX_TASKS];          /* done() calls per task */
    int status[MAX_TASKS];          /* the wait status done() got */
    char launch_error[MAX_TASKS][256];
} record;

static ct_status prepare(void *vx, int task, int slot)
{
    record *r = vx;
    cr_assert(slot >= 0 && slot < r->jobs);
    cr_assert_eq(r->slot_busy[slot], -1, "task %d given slot %d, which task %d holds", task, slot, r->slot_busy[slot]);
    if (task == r->fail_prepare)
        return ct_error_set(CT_ERR_IO, "prepare of task %d fails", task);
    r->slot_busy[slot] = task;
    if (++r->running > r->max_running)
        r->max_running = r->running;
    return CT_OK;
}

static volatile sig_atomic_t g_caller_saw; /* set by caller_handler */
static void caller_handler(int sig) { g_caller_saw = sig; }

static int child(void *vx, int task, int slot)
{
    (void)slot;
    const record *r = vx;
    if (r->signal_parent && task == 0)
        kill(getppid(), SIGTERM);
    for (int s = 0; s < r->sleep_s; s++) {
        if (g_caller_saw) /* the caller's handler (the child starts with it) caught the forwarded signal */
            return 50 + g_caller_saw;
        sleep(1);
    }
    const char *dev = getenv("CT_TEST_DEVICE");
    return dev ? 100 + atoi(dev) : 10 + task;
}

static ct_status done(void *vx, int task, int slot, int wait_status, const char *launch_error)
{
    record *r = vx;
    r->n_done[task]++;
    r->status[task] = wait_status;
    if (launch_error) {
        snprintf(r->launch_error[task], sizeof r->launch_error[task], "%s", launch_error);
        if (r->slot_busy[slot] == task) { /* prepared, then not started */
            r->slot_busy[slot] = -1;
            r->running--;
        }
    } else {
        cr_assert_eq(r->slot_busy[slot], task, "task %d ended in slot %d, which holds task %d", task, slot,
                     r->slot_busy[slot]);
        r->slot_busy[slot] = -1;
        r->running--;
    }
    if (task == r->fail_done)
        return ct_error_set(CT_ERR_NUMERIC, "done of task %d fails", task);
    return CT_OK;
}

static record new_record(int jobs)
{
    record r;
    memset(&r, 0, sizeof r);
    r.jobs = jobs;
    r.fail_prepare = r.fail_done = -1;
    for (int k = 0; k < MAX_TASKS; k++)
        r.slot_busy[k] = -1;
    return r;
}

static const ct_pool_ops ops = {.prepare = prepare, .child = child, .done = done};

Test(pool, every_task_runs_once_in_a_child_at_most_jobs_at_once)
{
    unsetenv("CT_TEST_DEVICE");
    record r = new_record(3);
    r.sleep_s = 1;
    ct_pool_options opt = {.jobs = 3};
    cr_assert_eq(ct_pool_run(7, &opt, &ops, &r), CT_OK, "%s", ct_error_message());
    for (int t = 0; t < 7; t++) {
        cr_assert_eq(r.n_done[t], 1, "task %d reached done() %d times", t, r.n_done[t]);
        cr_assert(WIFEXITED(r.status[t]) && WEXITSTATUS(r.status[t]) == 10 + t, "task %d: status %#x", t,
                  r.status[t]);
    }
    /* the pool fills every free slot before it waits */
    cr_assert_eq(r.max_running, 3);
    cr_assert_eq(r.running, 0);
    /* no task: nothing runs, nothing fails */
    record e = new_record(2);
    ct_pool_options two = {.jobs = 2};
    cr_assert_eq(ct_pool_run(0, &two, &ops, &e), CT_OK);
    ct_pool_options none = {.jobs = 0};
    cr_assert_eq(ct_pool_run(1, &none, &ops, &e), CT_ERR_CONFIG);
}

Test(pool, a_failed_prepare_is_that_tasks_failure_and_the_others_go_on)
{
    unsetenv("CT_TEST_DEVICE");
    record r = new_record(2);
    r.fail_prepare = 2;
    ct_pool_options opt = {.jobs = 2};
    cr_assert_eq(ct_pool_run(5, &opt, &ops, &r), CT_OK, "%s", ct_error_message());
    for (int t = 0; t < 5; t++)
        cr_assert_eq(r.n_done[t], 1, "task %d", t);
    cr_assert(strstr(r.launch_error[2], "prepare of task 2 fails"), "%s", r.launch_error[2]);
    cr_assert_eq(r.status[2], 0);
    cr_assert(WIFEXITED(r.status[4]) && WEXITSTATUS(r.status[4]) == 14);
}

Test(pool, a_failed_done_stops_new_tasks_and_is_returned)
{
    unsetenv("CT_TEST_DEVICE");
    record r = new_record(1);
    r.fail_done = 1;
    ct_pool_options opt = {.jobs = 1};
    cr_assert_eq(ct_pool_run(6, &opt, &ops, &r), CT_ERR_NUMERIC);
    cr_assert(strstr(ct_error_message(), "done of task 1 fails"), "%s", ct_error_message());
    cr_assert_eq(r.n_done[0], 1);
    cr_assert_eq(r.n_done[1], 1);
    for (int t = 2; t < 6; t++)
        cr_assert_eq(r.n_done[t], 0, "task %d started after a failed done()", t);
}

Test(pool, each_slot_gets_its_device_unless_one_is_set)
{
    unsetenv("CT_TEST_DEVICE");
    record r = new_record(2);
    r.sleep_s = 1; /* both slots busy at once */
    /* slot s: device (3 + s) % 2, i.e. slot 0 -> 1, slot 1 -> 0 */
    ct_pool_options opt = {.jobs = 2, .device_env = "CT_TEST_DEVICE", .n_devices = 2, .device_first = 3};
    cr_assert_eq(ct_pool_run(4, &opt, &ops, &r), CT_OK, "%s", ct_error_message());
    int seen[2] = {0, 0};
    for (int t = 0; t < 4; t++) {
        cr_assert(WIFEXITED(r.status[t]), "task %d", t);
        int dev = WEXITSTATUS(r.status[t]) - 100;
        cr_assert(dev == 0 || dev == 1, "task %d: device %d", t, dev);
        seen[dev]++;
    }
    cr_assert(seen[0] > 0 && seen[1] > 0, "the two slots share the two devices (%d, %d)", seen[0], seen[1]);
    cr_assert_null(getenv("CT_TEST_DEVICE"), "the parent's environment is left alone");
    /* one device: left alone */
    record one = new_record(2);
    ct_pool_options single = {.jobs = 2, .device_env = "CT_TEST_DEVICE", .n_devices = 1};
    cr_assert_eq(ct_pool_run(2, &single, &ops, &one), CT_OK);
    cr_assert_eq(WEXITSTATUS(one.status[0]), 10);
    /* set by the user: kept for every child */
    setenv("CT_TEST_DEVICE", "7", 1);
    record set = new_record(2);
    cr_assert_eq(ct_pool_run(3, &opt, &ops, &set), CT_OK);
    for (int t = 0; t < 3; t++)
        cr_assert_eq(WEXITSTATUS(set.status[t]), 107, "task %d", t);
    unsetenv("CT_TEST_DEVICE");
}

/* Five 30-s tasks, two at once; task 0's child sends SIGTERM to the pool's process. With with_handler the
 * test has its own SIGTERM handler (as `cardiotwin run` has ct_run.h's): it hears of the signal and the
 * children, which start with it, end on their own; without, the children are killed by the signal. */
static void sigterm_case(int with_handler)
{
    unsetenv("CT_TEST_DEVICE");
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = with_handler ? caller_handler : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGTERM, &sa, &old), 0);
    g_caller_saw = 0;

    record r = new_record(2);
    r.sleep_s = 30;        /* ended by the forwarded signal long before */
    r.signal_parent = 1;
    ct_pool_options opt = {.jobs = 2};
    cr_assert_eq(ct_pool_run(5, &opt, &ops, &r), CT_ERR_INTERRUPTED, "%s", ct_error_message());
    cr_assert(strstr(ct_error_message(), "SIGTERM"), "%s", ct_error_message());
    /* task 0 was running; task 1 was running too, or was prepared when the signal came and not started, or
     * had not been picked yet */
    for (int t = 0; t < 2; t++) {
        if (t == 1 && r.n_done[1] == 0)
            continue;
        cr_assert_eq(r.n_done[t], 1, "task %d", t);
        if (t == 1 && r.launch_error[1][0])
            cr_assert(strstr(r.launch_error[1], "not started"), "%s", r.launch_error[1]);
        else if (with_handler)
            cr_assert(WIFEXITED(r.status[t]) && WEXITSTATUS(r.status[t]) == 50 + SIGTERM, "task %d: status %#x", t,
                      r.status[t]);
        else
            cr_assert(WIFSIGNALED(r.status[t]) && WTERMSIG(r.status[t]) == SIGTERM, "task %d: status %#x", t,
                      r.status[t]);
    }
    for (int t = 2; t < 5; t++)
        cr_assert_eq(r.n_done[t], 0, "task %d started after the signal", t);
    cr_assert_eq(r.running, 0);
    /* the caller's handler heard of it, and is back in place */
    cr_assert_eq(g_caller_saw, with_handler ? SIGTERM : 0);
    struct sigaction now;
    cr_assert_eq(sigaction(SIGTERM, &old, &now), 0);
    cr_assert(now.sa_handler == sa.sa_handler);
}

Test(pool, sigterm_kills_every_running_child_and_stops_the_pool) { sigterm_case(0); }

Test(pool, sigterm_reaches_the_callers_handler_in_the_pool_and_its_children) { sigterm_case(1); }

/* ct_pool_backend_select probes in a child (so that a process about to fork workers holds no CUDA context):
 * it must choose what ct_backend_select chooses here, say the same why, and refuse as it refuses. The child's
 * choice is asked first, so this process has probed nothing when it forks. */
Test(pool, backend_chosen_in_a_child_is_the_direct_choice)
{
    const ct_backend_ops *in_child = NULL, *direct = NULL;
    char why_child[512] = "", why_direct[512] = "";
    cr_assert_eq(ct_pool_backend_select("auto", &in_child, why_child, sizeof why_child), CT_OK, "%s",
                 ct_error_message());
    cr_assert_eq(ct_pool_backend_select("cpu", &direct, why_direct, sizeof why_direct), CT_OK, "%s",
                 ct_error_message());
    cr_assert_eq(direct, &ct_backend_cpu);
    ct_status st = ct_pool_backend_select("nonesuch", &direct, why_direct, sizeof why_direct);
    cr_assert_eq(st, CT_ERR_CONFIG, "an unknown name: %d (%s)", st, ct_error_message());
    cr_assert(strstr(ct_error_message(), "unknown backend \"nonesuch\""), "%s", ct_error_message());
    cr_assert_null(direct);
    cr_assert_eq(ct_backend_select("auto", &direct, why_direct, sizeof why_direct), CT_OK, "%s", ct_error_message());
    cr_assert_eq(in_child, direct, "child chose %s, direct choice %s", in_child->name, direct->name);
    cr_assert_str_eq(why_child, why_direct);
}
