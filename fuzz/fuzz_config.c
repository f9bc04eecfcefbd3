/* fuzz_config.c — libFuzzer target for the simulation configuration (ct_config_parse).
 *
 * A configuration that parses is then used as `cardiotwin run` uses it: every stimulus is evaluated at
 * its edges, and a box mesh small enough to be quick (at most CT_FUZZ_MAX_BOX_NODES nodes) is built by
 * ct_sim_create, which validates the mesh (ct_mesh_validate), assembles the matrices, and checks the
 * stimuli, probes and explicit time step. Mesh files named by the input are not opened (the path could
 * be anything on this machine); the mesh readers have their own targets. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim/ct_config.h"
#include "sim/ct_sim.h"
#include "fuzz_util.h"

#define CT_FUZZ_SOURCE "fuzz_config.json"
#define CT_FUZZ_MAX_BOX_NODES 2000.0

/* Nodes of the box mesh ct_mesh_box would build (cells per side rounded, at least one). */
static double box_nodes(const ct_config *c)
{
    double n = 1.0;
    for (int k = 0; k < 3; k++) {
        double cells = round(c->box_size_mm[k] / c->dx_mm);
        n *= (cells < 1.0 ? 1.0 : cells) + 1.0;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = ct_fuzz_string(data, size);
    ct_config cfg;
    ct_status st = ct_config_parse(text, CT_FUZZ_SOURCE, &cfg);
    free(text);
    ct_fuzz_check_status(st, CT_FUZZ_SOURCE, "ct_config_parse");
    if (st != CT_OK)
        return 0;

    volatile int active = 0;
    for (int s = 0; s < cfg.n_stimuli; s++) {
        const ct_stimulus *stim = &cfg.stimuli[s];
        const double t[] = {0.0, stim->start_ms, stim->start_ms + stim->duration_ms,
                            stim->start_ms + stim->period_ms * (double)stim->count, cfg.end_time_ms};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            active += ct_stimulus_active(stim, t[i]);
    }
    (void)active;

    if (!cfg.mesh_from_file && box_nodes(&cfg) <= CT_FUZZ_MAX_BOX_NODES) {
        ct_sim *sim = NULL;
        st = ct_sim_create(&cfg, &sim);
        ct_fuzz_check_status(st, CT_FUZZ_SOURCE, "ct_sim_create");
        if (st == CT_OK)
            ct_fuzz_check_mesh(sim->mesh, "box mesh");
        ct_sim_destroy(sim);
    }
    ct_config_free(&cfg);
    return 0;
}
