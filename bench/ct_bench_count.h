/* ct_bench_count.h — the transcendental calls of one TP06 node-step, counted by running the model's source
 * with counting math functions (ct_bench_count.c), for ct_bench's compute-bound yardstick. */
#ifndef CT_BENCH_COUNT_H
#define CT_BENCH_COUNT_H

typedef struct ct_bench_tcount {
    long exp_calls, log_calls, pow_calls, sqrt_calls;
} ct_bench_tcount;

/* Counts the calls of one reference-path step (ct_tp06_step) of a node of cell_type (enum ct_tp06_cell_type)
 * in its initial state, held at vm_mV for dt_ms. Not thread-safe (static counters). */
void ct_bench_tp06_count(int cell_type, double vm_mV, double dt_ms, ct_bench_tcount *out);

#endif
