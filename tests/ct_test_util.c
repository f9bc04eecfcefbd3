/* ct_test_util.c — scratch folders, CLI runs and file helpers for the Criterion tests. */
#define _GNU_SOURCE
#include "ct_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../kernels/backend.h"
#include "../kernels/models/ct_models.h"
#include "sim/ct_config.h"
#include "sim/ct_sim.h"

char *ct_test_tmpdir(const char *tag)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/ct_test_%s_XXXXXX", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void ct_test_rmtree(const char *dir)
{
    if (!dir || strncmp(dir, "/tmp/ct_test_", 13) != 0) /* only ever our own scratch folders */
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

int ct_test_cli(const char *args, char **output)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s", CT_BINARY, args);
    return ct_test_shell(cmd, output);
}

int ct_test_shell(const char *command, char **output)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s 2>&1", command);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (len + 1 >= cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
            } else {
                buf = b;
            }
        }
    }
    if (buf)
        buf[len] = '\0';
    int status = pclose(p);
    if (output)
        *output = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int ct_test_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

char *ct_test_read_bytes(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

char *ct_test_read(const char *path)
{
    size_t len;
    return ct_test_read_bytes(path, &len);
}

/* Runs `steps` steps from step `from` with stimulus 0 on during its first 2 ms. */
static ct_status run_steps(const ct_backend_ops *be, ct_backend_ctx *ctx, const ct_config *cfg, long from, long steps)
{
    double amp[CT_MAX_STIMULI] = {60.0};
    for (long s = from; s < from + steps; s++) {
        double t = (double)s * cfg->dt_ms;
        ct_step_report rep;
        ct_status st = be->step(ctx, t, ct_stimulus_active(&cfg->stimuli[0], t) ? 1u : 0u, amp, &rep);
        if (st != CT_OK)
            return st;
    }
    return CT_OK;
}

static ct_status download_all(const ct_backend_ops *be, ct_backend_ctx *ctx, size_t n, int beats, double *out)
{
    ct_status st = be->download(ctx, CT_FIELD_VM, out);
    if (st == CT_OK)
        st = be->download(ctx, CT_FIELD_ACTIVATION_MS, out + n);
    if (st == CT_OK)
        st = be->download(ctx, CT_FIELD_BEAT_COUNT, out + 2 * n);
    if (st == CT_OK)
        st = be->download(ctx, CT_FIELD_BEAT_ACTIVATION_MS, out + 3 * n);
    if (st == CT_OK)
        st = be->download(ctx, CT_FIELD_BEAT_REPOLARISATION_MS, out + (3 + (size_t)beats) * n);
    return st;
}

int ct_test_state_roundtrip(const ct_backend_ops *be, char *why, size_t why_len)
{
    static const char *json =
        "{\"mesh\": {\"type\": \"box\", \"size_mm\": [6, 2, 1], \"dx_mm\": 0.5},"
        " \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},"
        " \"conductivity\": {\"sigma_l_S_per_m\": 0.1334, \"sigma_t_S_per_m\": 0.0176},"
        " \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 400,"
        " \"diffusion\": {\"method\": \"explicit\", \"mass\": \"lumped\"},"
        " \"stimuli\": [{\"box_min_mm\": [0, 0, 0], \"box_max_mm\": [1, 2, 1], \"amplitude_uA_per_uF\": 60,"
        " \"duration_ms\": 2, \"start_ms\": 0}]}";
    ct_config cfg;
    ct_sim *sim = NULL;
    ct_backend_ctx *ctx = NULL;
    void *blob = NULL;
    double *a = NULL, *b = NULL;
    int rc = 1;
    const int beats = 2;
    snprintf(why, why_len, "setup failed");
    if (ct_config_parse(json, "roundtrip", &cfg) != CT_OK)
        return snprintf(why, why_len, "config: %s", ct_error_message()), 1;
    if (ct_sim_create(&cfg, &sim) != CT_OK) {
        snprintf(why, why_len, "sim: %s", ct_error_message());
        goto done;
    }
    ct_real params[6 * CT_MODEL_NPARAM];
    ct_backend_problem pb;
    ct_sim_backend_problem(sim, beats, params, &pb);
    if (be->create(&pb, &ctx) != CT_OK) {
        snprintf(why, why_len, "create: %s", ct_error_message());
        goto done;
    }
    size_t n = sim->mesh->n_nodes, fields = (3 + 2 * (size_t)beats) * n;
    size_t bytes = be->state_size(ctx);
    blob = malloc(bytes);
    a = malloc(fields * sizeof *a);
    b = malloc(fields * sizeof *b);
    /* 30 ms (upstroke and spread), save, 330 ms more (repolarisation: beat times), then again from the save */
    if (!blob || !a || !b || run_steps(be, ctx, &cfg, 0, 600) != CT_OK || be->save_state(ctx, blob) != CT_OK ||
        run_steps(be, ctx, &cfg, 600, 6600) != CT_OK || download_all(be, ctx, n, beats, a) != CT_OK ||
        be->load_state(ctx, blob) != CT_OK || run_steps(be, ctx, &cfg, 600, 6600) != CT_OK ||
        download_all(be, ctx, n, beats, b) != CT_OK) {
        snprintf(why, why_len, "run: %s", ct_error_message());
        goto done;
    }
    rc = 0;
    for (size_t i = 0; i < fields && rc == 0; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) {
            snprintf(why, why_len, "field value %zu differs after restore: %.17g vs %.17g", i, a[i], b[i]);
            rc = 1;
        }
    /* and the run did something: every node activated and repolarised once */
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!(a[n + i] >= 0) || a[2 * n + i] != 1.0) {
            snprintf(why, why_len, "node %zu: activation %g ms, %g beats (expected one full beat)", i, a[n + i],
                     a[2 * n + i]);
            rc = 1;
        }
done:
    free(blob);
    free(a);
    free(b);
    if (ctx)
        be->destroy(ctx);
    ct_sim_destroy(sim);
    ct_config_free(&cfg);
    return rc;
}
