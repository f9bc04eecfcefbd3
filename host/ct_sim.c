/* ct_sim.c — from configuration to a simulation-ready model: mesh, matrices, stimuli, probes. */
#include "ct_sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ct_fem.h"
#include "ct_reorder.h"

void ct_sim_destroy(ct_sim *sim)
{
    if (!sim)
        return;
    ct_mesh_destroy(sim->mesh);
    ct_csr_destroy(sim->stiffness);
    ct_csr_destroy(sim->consistent_mass);
    free(sim->lumped_mass_mm3);
    free(sim->stim_mask);
    free(sim->probe_tet);
    free(sim->probe_bary);
    free(sim);
}

static int in_region(const ct_stimulus *s, const double *x)
{
    const double tol = 1e-9;
    if (s->shape == CT_REGION_BOX) {
        for (int k = 0; k < 3; k++)
            if (x[k] < s->box_min_mm[k] - tol || x[k] > s->box_max_mm[k] + tol)
                return 0;
        return 1;
    }
    double d2 = 0;
    for (int k = 0; k < 3; k++)
        d2 += (x[k] - s->center_mm[k]) * (x[k] - s->center_mm[k]);
    return d2 <= (s->radius_mm + tol) * (s->radius_mm + tol);
}

static ct_status build(const ct_config *cfg, ct_sim *sim)
{
    const char *src = cfg->source;
    ct_status st = ct_mesh_box(cfg->box_size_mm, cfg->dx_mm, cfg->fibre_direction, &sim->mesh);
    if (st != CT_OK)
        return ct_error_set(st, "%s: mesh: %s", src, ct_error_message());
    CT_CHECK(ct_mesh_validate(sim->mesh, "box mesh"));
    if (cfg->renumber_rcm)
        CT_CHECK(ct_mesh_reorder_rcm(sim->mesh, NULL));
    const ct_mesh *m = sim->mesh;
    size_t n = m->n_nodes;

    sim->lumped_mass_mm3 = malloc(n * sizeof *sim->lumped_mass_mm3);
    sim->stim_mask = calloc(n, sizeof *sim->stim_mask);
    sim->probe_tet = calloc((size_t)cfg->n_probes + 1, sizeof *sim->probe_tet);
    sim->probe_bary = calloc(4 * (size_t)cfg->n_probes + 1, sizeof *sim->probe_bary);
    if (!sim->lumped_mass_mm3 || !sim->stim_mask || !sim->probe_tet || !sim->probe_bary)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu nodes", src, n);
    CT_CHECK(ct_fem_assemble(m, &cfg->conductivity, NULL, &sim->stiffness, sim->lumped_mass_mm3,
                             cfg->consistent_mass ? &sim->consistent_mass : NULL));

    double rate = ct_fem_max_rate_bound(sim->stiffness, sim->lumped_mass_mm3);
    if (cfg->consistent_mass)
        rate *= 5.0; /* M_C >= M_L / 5, see ct_fem.h */
    sim->explicit_dt_limit_ms = rate > 0 ? 2.0 / rate : INFINITY;
    if (cfg->diffusion == CT_DIFFUSION_EXPLICIT && cfg->dt_ms >= sim->explicit_dt_limit_ms)
        return ct_error_set(CT_ERR_CONFIG,
                            "%s: dt_ms = %g is too large for explicit diffusion on this mesh: the largest safe "
                            "time step is %.4g ms (use a smaller dt_ms or diffusion.method \"crank_nicolson\")",
                            src, cfg->dt_ms, sim->explicit_dt_limit_ms);

    for (int s = 0; s < cfg->n_stimuli; s++) {
        size_t hits = 0;
        for (size_t i = 0; i < n; i++)
            if (in_region(&cfg->stimuli[s], m->xyz_mm + 3 * i)) {
                sim->stim_mask[i] |= 1u << s;
                hits++;
            }
        if (hits == 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: stimuli[%d] (\"%s\") covers no mesh node", src, s,
                                cfg->stimuli[s].name);
    }
    double lo[3], hi[3];
    ct_mesh_bounds(m, lo, hi);
    double tol_mm = 1e-6 * (hi[0] - lo[0] + hi[1] - lo[1] + hi[2] - lo[2]);
    for (int p = 0; p < cfg->n_probes; p++) {
        const double *x = cfg->probes[p].position_mm;
        if (ct_mesh_locate(m, x, tol_mm, &sim->probe_tet[p], sim->probe_bary + 4 * p) != CT_OK)
            return ct_error_set(CT_ERR_CONFIG,
                                "%s: probes[%d] (\"%s\") at (%g, %g, %g) mm lies outside the mesh (bounds %g..%g, "
                                "%g..%g, %g..%g mm)",
                                src, p, cfg->probes[p].name, x[0], x[1], x[2], lo[0], hi[0], lo[1], hi[1], lo[2],
                                hi[2]);
    }
    return CT_OK;
}

ct_status ct_sim_create(const ct_config *cfg, ct_sim **out)
{
    *out = NULL;
    ct_sim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    sim->cfg = cfg;
    ct_status st = build(cfg, sim);
    if (st != CT_OK) {
        ct_sim_destroy(sim);
        return st;
    }
    *out = sim;
    return CT_OK;
}
