/* test_checkpoint.c — checkpoint and restart: a run stopped part-way and restarted from its checkpoint ends
 * bit for bit where the uninterrupted run ends (Vm, activation, beat times, pseudo-ECG, frame list); a
 * truncated, corrupt or foreign checkpoint is refused with a message naming the file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/ct_checkpoint.h"
#include "sim/ct_config.h"
#include "sim/ct_sim.h"
#include "ct_test_util.h"

static const char *cfg_text =
    "{\"mesh\": {\"type\": \"box\", \"size_mm\": [6, 2, 1], \"dx_mm\": 0.5},"
    " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"
    " \"conductivity\": {\"sigma_l_S_per_m\": 0.1334, \"sigma_t_S_per_m\": 0.0176},"
    " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": %s,"
    " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"consistent\"},"
    " \"max_beats\": 2, \"ecg\": {\"interval_ms\": 1}, \"output\": {\"interval_ms\": 10},"
    " \"stimuli\": [{\"box_min_mm\": [0, 0, 0], \"box_max_mm\": [1, 2, 1], \"amplitude_uA_per_uF\": 60,"
    " \"duration_ms\": 2, \"period_ms\": 320, \"count\": 2}]}";

static char *dir;

static void setup(void)
{
    dir = ct_test_tmpdir("ckpt");
    cr_assert(dir);
}

static void teardown(void)
{
    ct_test_rmtree(dir);
    free(dir);
}

static void write_cfg(const char *name, const char *end_ms)
{
    char text[4096], p[512];
    snprintf(text, sizeof text, cfg_text, end_ms);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(ct_test_write(p, text), 0);
}

/* Runs DIR/cfg into DIR/out_name with the given options; returns the result (caller frees). */
static ct_status run(const char *cfg_name, const char *out_name, ct_run_options *o, ct_run_result *r)
{
    char cp[512], op[512];
    snprintf(cp, sizeof cp, "%s/%s", dir, cfg_name);
    snprintf(op, sizeof op, "%s/%s", dir, out_name);
    ct_config cfg;
    cr_assert_eq(ct_config_load(cp, &cfg), CT_OK, "%s", ct_error_message());
    ct_sim *sim;
    cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK, "%s", ct_error_message());
    o->out_dir = op;
    o->quiet = 1;
    ct_status st = ct_sim_run(sim, &ct_backend_cpu, o, r);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
    return st;
}

static void same_doubles(const double *a, const double *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(&a[i], &b[i], sizeof a[i]) == 0, "%s[%zu]: %.17g vs %.17g", what, i, a[i], b[i]);
}

static char *file_in(const char *sub)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    return ct_test_read(p);
}

Test(checkpoint, restart_equals_uninterrupted_bit_for_bit, .init = setup, .fini = teardown, .timeout = 300)
{
    write_cfg("c.json", "420");
    ct_run_options o = {0};
    ct_run_result whole, part, rest;
    cr_assert_eq(run("c.json", "whole", &o, &whole), CT_OK, "%s", ct_error_message());

    /* the same run "killed" at 351 ms, with a checkpoint every 40 ms (the last one at 320 ms, as the second
     * stimulus begins) */
    ct_run_options o2 = {.checkpoint_every_ms = 40, .max_steps = 7020};
    cr_assert_eq(run("c.json", "split", &o2, &part), CT_OK, "%s", ct_error_message());
    char ck[512];
    snprintf(ck, sizeof ck, "%s/split/checkpoint.ctck", dir);
    struct stat sb;
    cr_assert(stat(ck, &sb) == 0 && sb.st_size > 1000, "no checkpoint written");
    ct_run_options o3 = {.restart_path = ck};
    cr_assert_eq(run("c.json", "split", &o3, &rest), CT_OK, "%s", ct_error_message());

    size_t n = 0;
    {
        char p[512];
        snprintf(p, sizeof p, "%s/c.json", dir);
        ct_config cfg;
        ct_sim *sim;
        cr_assert_eq(ct_config_load(p, &cfg), CT_OK);
        cr_assert_eq(ct_sim_create(&cfg, &sim), CT_OK);
        n = sim->mesh->n_nodes;
        ct_sim_destroy(sim);
        ct_config_free(&cfg);
    }
    cr_assert_eq(rest.steps, whole.steps);
    same_doubles(whole.vm_final_mV, rest.vm_final_mV, n, "Vm");
    same_doubles(whole.activation_ms, rest.activation_ms, n, "activation");
    same_doubles(whole.beat_activation_ms, rest.beat_activation_ms, 2 * n, "beat activation");
    same_doubles(whole.beat_repolarisation_ms, rest.beat_repolarisation_ms, 2 * n, "beat repolarisation");
    cr_assert_eq(whole.cg_iterations_total, rest.cg_iterations_total);
    /* the first beat repolarised before the checkpoint, the second began after it: the restart carried the
     * beat tracking across */
    for (size_t i = 0; i < n; i++) {
        cr_assert(rest.beat_repolarisation_ms[i] > 200 && rest.beat_repolarisation_ms[i] < 320, "node %zu: beat 1 %g",
                  i, rest.beat_repolarisation_ms[i]);
        cr_assert(rest.beat_activation_ms[n + i] > 320, "node %zu: second beat %g", i, rest.beat_activation_ms[n + i]);
    }
    char *e1 = file_in("whole/ecg.csv"), *e2 = file_in("split/ecg.csv");
    cr_assert(e1 && e2 && strcmp(e1, e2) == 0, "the pseudo-ECG traces differ");
    free(e1);
    free(e2);
    char *p1 = file_in("whole/vm.pvd"), *p2 = file_in("split/vm.pvd");
    cr_assert(p1 && p2 && strcmp(p1, p2) == 0, "the frame lists differ:\n%s\n%s", p1, p2);
    free(p1);
    free(p2);
    ct_run_result_free(&whole);
    ct_run_result_free(&part);
    ct_run_result_free(&rest);
}

Test(checkpoint, bad_checkpoints_are_refused, .init = setup, .fini = teardown, .timeout = 120)
{
    write_cfg("c.json", "20");
    ct_run_options o = {.checkpoint_every_ms = 10};
    ct_run_result r;
    cr_assert_eq(run("c.json", "a", &o, &r), CT_OK, "%s", ct_error_message());
    ct_run_result_free(&r);
    char ck[512], bad[512];
    snprintf(ck, sizeof ck, "%s/a/checkpoint.ctck", dir);
    snprintf(bad, sizeof bad, "%s/bad.ctck", dir);
    char *data;
    size_t len;
    {
        FILE *f = fopen(ck, "rb");
        cr_assert(f);
        fseek(f, 0, SEEK_END);
        len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        data = malloc(len);
        cr_assert_eq(fread(data, 1, len, f), len);
        fclose(f);
    }
    struct {
        size_t keep;      /* bytes kept */
        long flip;        /* byte to flip, -1 none */
        const char *expect;
    } cases[] = {{len / 2, -1, "CRC"}, {len - 1, -1, "CRC"}, {4, -1, "magic"}, {len, (long)len / 3, "CRC"},
                 {len, 0, "magic"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *copy = malloc(len);
        memcpy(copy, data, len);
        if (cases[k].flip >= 0)
            copy[cases[k].flip] ^= 0x5a;
        FILE *f = fopen(bad, "wb");
        fwrite(copy, 1, cases[k].keep, f);
        fclose(f);
        free(copy);
        ct_run_options o2 = {.restart_path = bad};
        cr_assert_neq(run("c.json", "b", &o2, &r), CT_OK, "case %zu accepted", k);
        cr_assert(strstr(ct_error_message(), "bad.ctck") && strstr(ct_error_message(), cases[k].expect),
                  "case %zu: %s", k, ct_error_message());
        ct_run_result_free(&r);
    }
    free(data);
    /* a checkpoint of another configuration */
    write_cfg("c.json", "25");
    ct_run_options o3 = {.restart_path = ck};
    cr_assert_neq(run("c.json", "b", &o3, &r), CT_OK);
    cr_assert(strstr(ct_error_message(), "another configuration"), "%s", ct_error_message());
    ct_run_result_free(&r);
    /* and from the command line: a missing checkpoint and a bad --checkpoint-every */
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "run %s/c.json --out %s/c --restart %s/none.ctck --quiet", dir, dir, dir);
    cr_assert_eq(ct_test_cli(args, &out), 1, "%s", out);
    cr_assert(out && strstr(out, "none.ctck"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "run %s/c.json --out %s/c --checkpoint-every -5", dir, dir);
    cr_assert_eq(ct_test_cli(args, &out), 2, "%s", out);
    free(out);
}
