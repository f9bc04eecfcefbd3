/* ct_sim.c — from configuration to a simulation-ready model: mesh, matrices, stimuli, probes, parameter sets,
 * and the problem a backend is created from (ct_sim_backend_problem). */
#include "ct_sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ct_clock.h"
#include "core/ct_memory.h"
#include "fem/ct_fem.h"
#include "mesh/ct_reorder.h"
#include "mpi/ct_dist.h"
#include "mpi/ct_mpi.h"
#include "io/ct_vtk.h"
#include "mesh_io/ct_mesh_io.h"
#include "model/ct_model_desc.h"
#include "../kernels/models/ct_models.h"

void ct_sim_destroy(ct_sim *sim)
{
    if (!sim)
        return;
    ct_dist_destroy(sim->dist);
    ct_mesh_destroy(sim->mesh);
    ct_csr_destroy(sim->stiffness);
    ct_csr_destroy(sim->consistent_mass);
    free(sim->lumped_mass_mm3);
    free(sim->stim_mask);
    free(sim->initial_vm_mV);
    free(sim->probe_tet);
    free(sim->probe_bary);
    free(sim->node_param_set);
    free(sim->sigma_scale);
    free(sim->node_id);
    free(sim->node_cell_type);
    free(sim->aha_segment);
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

/* The labels a .vtu mesh file may carry beyond what ct_mesh_read takes: the point field "cell_type" (0 endo,
 * 1 mid, 2 epi) and the cell field "aha_segment" (0..17), into sim->node_cell_type and sim->aha_segment for
 * the output files. With model.cell_type "from_mesh" the cell types are required and checked (they set the
 * model's parameters); otherwise a field that is not such labels is simply not carried. */
static ct_status read_vtu_labels(const ct_config *cfg, ct_sim *sim)
{
    const ct_mesh *m = sim->mesh;
    size_t len = strlen(cfg->mesh_path);
    int vtu = strcmp(cfg->mesh_format, "vtu") == 0 ||
              (!cfg->mesh_format[0] && len > 4 && strcasecmp(cfg->mesh_path + len - 4, ".vtu") == 0);
    if (!vtu && !cfg->cell_type_from_mesh)
        return CT_OK;
    ct_vtk_grid *g = NULL;
    CT_CHECK(ct_vtk_read_vtu(cfg->mesh_path, &g));
    const double *v;
    int nc;
    ct_status st = ct_vtk_grid_point_field(g, "cell_type", &v, &nc);
    if (st == CT_OK && (nc != 1 || ct_vtk_grid_n_points(g) != m->n_nodes))
        st = ct_error_set(CT_ERR_PARSE, "%s: point field cell_type must have one component per node", cfg->mesh_path);
    for (size_t i = 0; st == CT_OK && i < m->n_nodes; i++)
        if (!(v[i] == 0.0 || v[i] == 1.0 || v[i] == 2.0))
            st = ct_error_set(CT_ERR_PARSE, "%s: node %zu: cell_type %g is not 0 (endo), 1 (mid) or 2 (epi)",
                              cfg->mesh_path, i, v[i]);
    if (st == CT_OK && !(sim->node_cell_type = malloc(m->n_nodes + 1)))
        st = ct_error_set(CT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == CT_OK && i < m->n_nodes; i++)
        sim->node_cell_type[i] = (int8_t)v[i];
    if (st != CT_OK && (cfg->cell_type_from_mesh || st == CT_ERR_NOMEM)) {
        ct_vtk_grid_destroy(g);
        return st;
    }
    int ok = ct_vtk_grid_cell_field(g, "aha_segment", &v, &nc) == CT_OK && nc == 1 &&
             ct_vtk_grid_n_tets(g) == m->n_tets;
    for (size_t e = 0; ok && e < m->n_tets; e++)
        ok = v[e] == floor(v[e]) && v[e] >= 0 && v[e] <= 17;
    if (ok && !(sim->aha_segment = malloc(m->n_tets + 1))) {
        ct_vtk_grid_destroy(g);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    for (size_t e = 0; ok && e < m->n_tets; e++)
        sim->aha_segment[e] = (int8_t)v[e];
    ct_vtk_grid_destroy(g);
    ct_error_set(CT_OK, "%s", ""); /* clear the "no such field" message of a lookup above */
    return CT_OK;
}

/* Parameter sets (cell type x healthy/border zone) and each node's set. */
static ct_status build_param_sets(const ct_config *cfg, ct_sim *sim, const int8_t *node_type)
{
    const ct_mesh *m = sim->mesh;
    const ct_model_desc *d = ct_model_by_id(cfg->model);
    if (!d)
        return ct_error_set(CT_ERR_INTERNAL, "%s: model id %d is not a model's", cfg->source, cfg->model);
    int types = d->cell_type_param >= 0; /* a model with cell types: one set per type (0, 1, 2) */
    int base_type = types ? (int)cfg->model_params[d->cell_type_param] : 0;
    sim->n_param_sets = 6;
    for (int type = 0; type < 3; type++)
        for (int bz = 0; bz < 2; bz++) {
            double *p = sim->param_sets + (2 * type + bz) * CT_MODEL_NPARAM;
            memcpy(p, cfg->model_params, CT_MODEL_NPARAM * sizeof *p);
            if (types)
                p[d->cell_type_param] = type;
            for (int k = 0; bz && k < d->n_scales; k++)
                p[d->scale_first + k] *= cfg->border_zone_scales[k];
            for (int k = 0; bz && k < CT_MODEL_NPARAM; k++)
                if (!isnan(cfg->border_zone_params[k]))
                    p[k] = cfg->border_zone_params[k];
        }
    sim->node_param_set = malloc(m->n_nodes + 1);
    uint8_t *bz = calloc(m->n_nodes + 1, 1);
    if (!sim->node_param_set || !bz) {
        free(bz);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    if (m->tissue) /* a node touching a border-zone element is remodelled */
        for (size_t e = 0; e < m->n_tets; e++)
            if (m->tissue[e] == CT_TISSUE_BORDER_ZONE)
                for (int a = 0; a < 4; a++)
                    bz[m->tets[4 * e + a]] = 1;
    for (size_t i = 0; i < m->n_nodes; i++) {
        int type = node_type ? node_type[i] : base_type;
        sim->node_param_set[i] = (uint8_t)(2 * type + bz[i]);
    }
    free(bz);
    return CT_OK;
}

static ct_status load_mesh(const ct_config *cfg, ct_sim *sim)
{
    const char *src = cfg->source;
    ct_status st;
    if (cfg->mesh_from_file) {
        st = ct_mesh_read(cfg->mesh_path, cfg->mesh_format[0] ? cfg->mesh_format : NULL, cfg->mesh_unit_to_mm,
                          &sim->mesh);
        if (st != CT_OK)
            return ct_error_set(st, "%s: mesh: %s", src, ct_error_message());
        CT_CHECK(ct_mesh_validate(sim->mesh, cfg->mesh_path));
        CT_CHECK(read_vtu_labels(cfg, sim));
    } else {
        st = ct_mesh_box_split(cfg->box_size_mm, cfg->dx_mm, cfg->fibre_direction, cfg->box_split, &sim->mesh);
        if (st != CT_OK)
            return ct_error_set(st, "%s: mesh: %s", src, ct_error_message());
        st = ct_mesh_validate(sim->mesh, "box mesh");
        if (st != CT_OK) /* e.g. mesh.size_mm so thin against the other sides that the tets are flat */
            return ct_error_set(st, "%s: mesh: %s", src, ct_error_message());
        if (cfg->cell_type_from_mesh)
            return ct_error_set(CT_ERR_CONFIG, "%s: model.cell_type \"from_mesh\" needs a mesh file", src);
    }
    size_t n = sim->mesh->n_nodes;
    if (!(sim->node_id = malloc((n + 1) * sizeof *sim->node_id)))
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        sim->node_id[i] = (int32_t)i;
    if (cfg->renumber_rcm) { /* node i of the file becomes node perm[i]: the per-node labels follow it */
        int32_t *perm = NULL;
        CT_CHECK(ct_mesh_reorder_rcm(sim->mesh, &perm));
        int8_t *t = sim->node_cell_type ? malloc(n + 1) : NULL;
        if (sim->node_cell_type && !t) {
            free(perm);
            return ct_error_set(CT_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            sim->node_id[perm[i]] = (int32_t)i;
            if (t)
                t[perm[i]] = sim->node_cell_type[i];
        }
        if (t) {
            free(sim->node_cell_type);
            sim->node_cell_type = t;
        }
        free(perm);
    }
    return CT_OK;
}

/* Paints the configuration's tissue regions over the mesh's labels (in order). */
static ct_status paint_tissue_regions(const ct_config *cfg, ct_sim *sim)
{
    const char *src = cfg->source;
    ct_mesh *m = sim->mesh;
    if (cfg->n_tissue_regions == 0)
        return CT_OK;
    if (!m->tissue && !(m->tissue = calloc(m->n_tets + 1, sizeof *m->tissue)))
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
    for (int r = 0; r < cfg->n_tissue_regions; r++) {
        size_t hits = 0;
        for (size_t e = 0; e < m->n_tets; e++) {
            double c[3];
            ct_mesh_tet_centroid(m, e, c);
            if (ct_lesion_contains(&cfg->tissue_regions[r], c)) {
                m->tissue[e] = cfg->tissue_region_label[r];
                hits++;
            }
        }
        if (hits == 0)
            return ct_error_set(CT_ERR_CONFIG, "%s: tissue_regions[%d] (\"%s\") contains no element of the mesh",
                                src, r, cfg->tissue_regions[r].name);
    }
    return CT_OK;
}

/* The explicit time-step limit from the Gershgorin bound `rate` (1/ms) of M_L^-1 K, and the check of dt. */
static ct_status check_explicit_dt(const ct_config *cfg, ct_sim *sim, double rate)
{
    if (cfg->consistent_mass)
        rate *= 5.0; /* M_C >= M_L / 5, see ct_fem.h */
    sim->explicit_dt_limit_ms = rate > 0 ? 2.0 / rate : INFINITY;
    if (cfg->diffusion == CT_DIFFUSION_EXPLICIT && cfg->dt_ms >= sim->explicit_dt_limit_ms)
        return ct_error_set(CT_ERR_CONFIG,
                            "%s: dt_ms = %g is too large for explicit diffusion on this mesh: the largest safe "
                            "time step is %.4g ms (use a smaller dt_ms or diffusion.method \"crank_nicolson\")",
                            cfg->source, cfg->dt_ms, sim->explicit_dt_limit_ms);
    return CT_OK;
}

/* The set-up. split: the run will be split across MPI ranks, so the whole-problem matrices are not assembled
 * (ct_sim_create_split assembles each rank's share and checks the explicit time step). */
static ct_status build(const ct_config *cfg, ct_sim *sim, int split)
{
    const char *src = cfg->source;
    double t0 = ct_now_s();
    ct_status lst = load_mesh(cfg, sim);
    if (lst == CT_OK)
        lst = paint_tissue_regions(cfg, sim);
    double t1 = ct_now_s();
    sim->setup.read_s = t1 - t0;
    if (lst == CT_OK) /* load_mesh fails when "from_mesh" finds no cell types */
        lst = build_param_sets(cfg, sim, cfg->cell_type_from_mesh ? sim->node_cell_type : NULL);
    CT_CHECK(lst);
    const ct_mesh *m = sim->mesh;
    size_t n = m->n_nodes;

    sim->lumped_mass_mm3 = split ? NULL : malloc(n * sizeof *sim->lumped_mass_mm3);
    sim->stim_mask = calloc(n + 1, sizeof *sim->stim_mask);
    sim->probe_tet = calloc((size_t)cfg->n_probes + 1, sizeof *sim->probe_tet);
    sim->probe_bary = calloc(4 * (size_t)cfg->n_probes + 1, sizeof *sim->probe_bary);
    if ((!split && !sim->lumped_mass_mm3) || !sim->stim_mask || !sim->probe_tet || !sim->probe_bary)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu nodes", src, n);
    if (cfg->has_initial_vm) { /* "initial_vm_mV": the backend sets it after the model's initial state */
        if (!(sim->initial_vm_mV = malloc((n + 1) * sizeof *sim->initial_vm_mV)))
            return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu nodes", src, n);
        for (size_t i = 0; i < n; i++)
            sim->initial_vm_mV[i] = cfg->initial_vm_mV;
    }
    uint8_t *in_lesion = NULL; /* per element, owned here */
    if (cfg->n_lesions > 0) {
        in_lesion = calloc(m->n_tets + 1, 1);
        if (!in_lesion)
            return ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
        ct_status lst2 = ct_lesions_mark(m, cfg->lesions, cfg->n_lesions, in_lesion, sim->lesion_effect);
        if (lst2 == CT_OK && !m->tissue && !(sim->mesh->tissue = calloc(m->n_tets + 1, sizeof *m->tissue)))
            lst2 = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
        if (lst2 != CT_OK) {
            free(in_lesion);
            return ct_error_set(lst2, "%s: %s", src, ct_error_message());
        }
        for (size_t e = 0; e < m->n_tets; e++)
            if (in_lesion[e])
                sim->mesh->tissue[e] = CT_TISSUE_SCAR;
    }
    double *sigma_scale = NULL; /* per element, from the tissue labels */
    if (m->tissue) {
        sigma_scale = malloc(m->n_tets * sizeof *sigma_scale + 1);
        if (!sigma_scale) {
            free(in_lesion);
            return ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
        }
        for (size_t e = 0; e < m->n_tets; e++)
            sigma_scale[e] = m->tissue[e] == CT_TISSUE_SCAR          ? cfg->scar_sigma_scale
                             : m->tissue[e] == CT_TISSUE_BORDER_ZONE ? cfg->border_zone_sigma_scale
                                                                     : 1.0;
        for (size_t e = 0; in_lesion && e < m->n_tets; e++)
            if (in_lesion[e])
                sigma_scale[e] = 0.0; /* a lesion does not conduct, whatever scar does */
    }
    free(in_lesion);
    sim->sigma_scale = sigma_scale; /* kept: a partition assembles its own share with it (host/mpi/) */
    if (!split) {
        double t2 = ct_now_s();
        CT_CHECK(ct_fem_assemble(m, &cfg->conductivity, sigma_scale, &sim->stiffness, sim->lumped_mass_mm3,
                                 cfg->consistent_mass ? &sim->consistent_mass : NULL));
        double rate = ct_fem_max_rate_bound(sim->stiffness, sim->lumped_mass_mm3);
        sim->setup.assemble_s = ct_now_s() - t2;
        CT_CHECK(check_explicit_dt(cfg, sim, rate));
    }

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
    double t0 = ct_now_s();
    ct_sim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    sim->cfg = cfg;
    ct_status st = build(cfg, sim, 0);
    if (st != CT_OK) {
        ct_sim_destroy(sim);
        return st;
    }
    ct_setup_timing *t = &sim->setup;
    t->total_s = ct_now_s() - t0;
    t->problem_s = fmax(0.0, t->total_s - t->read_s - t->assemble_s);
    sim->setup_max = *t;
    *out = sim;
    return CT_OK;
}

/* A split run's whole-problem arrays that nothing needs once this rank's share is built (ct_sim.dist). */
static ct_status release_whole(ct_sim *sim)
{
    free(sim->node_param_set); /* the local problem has its own per-node arrays */
    free(sim->stim_mask);
    free(sim->sigma_scale);
    sim->node_param_set = NULL;
    sim->stim_mask = NULL;
    sim->sigma_scale = NULL;
    if (sim->initial_vm_mV) { /* uniform: a rank's backend reads its first n_local values */
        double *v = realloc(sim->initial_vm_mV, (ct_dist_n_local(sim->dist) + 1) * sizeof *v);
        if (!v)
            return ct_error_set(CT_ERR_NOMEM, "out of memory");
        sim->initial_vm_mV = v;
    }
    if (ct_dist_rank(sim->dist) == 0) /* rank 0 writes the whole-mesh results: it keeps the mesh and labels */
        return CT_OK;
    ct_mesh *m = sim->mesh; /* the coordinates stay (ct_sim.dist) */
    free(m->tets);
    free(m->fibre);
    free(m->tissue);
    free(m->tris);
    free(m->tri_label);
    m->tets = NULL;
    m->fibre = NULL;
    m->tissue = NULL;
    m->tris = NULL;
    m->tri_label = NULL;
    m->n_tris = 0;
    free(sim->node_id);
    free(sim->node_cell_type);
    free(sim->aha_segment);
    sim->node_id = NULL;
    sim->node_cell_type = NULL;
    sim->aha_segment = NULL;
    return CT_OK;
}

void ct_sim_release_matrices(ct_sim *sim)
{
    ct_csr_destroy(sim->stiffness);
    ct_csr_destroy(sim->consistent_mass);
    free(sim->lumped_mass_mm3);
    sim->stiffness = sim->consistent_mass = NULL;
    sim->lumped_mass_mm3 = NULL;
    ct_dist_release_matrices(sim->dist);
    sim->matrices_released = 1;
}

ct_status ct_sim_create_split(const ct_config *cfg, ct_sim **out)
{
    if (!ct_dist_wanted())
        return ct_sim_create(cfg, out);
    *out = NULL;
    double t0 = ct_now_s();
    ct_sim *sim = calloc(1, sizeof *sim);
    ct_status st = sim ? CT_OK : ct_error_set(CT_ERR_NOMEM, "out of memory");
    if (st == CT_OK) {
        sim->cfg = cfg;
        st = build(cfg, sim, 1);
    }
    st = ct_mpi_agree(st); /* a rank that cannot read the mesh stops every rank, with its message */
    double rate = 0.0;
    if (st == CT_OK) /* collective, agreed: partition, this rank's assembly and local problem, timed */
        st = ct_dist_create(sim, &sim->dist);
    if (st == CT_OK) /* the maximum over the ranks' owned rows: the serial bound exactly */
        st = ct_dist_max_rate_bound(sim->dist, &rate);
    if (st == CT_OK)
        st = check_explicit_dt(cfg, sim, rate); /* the same outcome on every rank */
    if (st == CT_OK)
        st = ct_mpi_agree(release_whole(sim));
    if (st != CT_OK) {
        ct_sim_destroy(sim); /* every rank is here (the statuses were agreed) */
        return st;
    }
    ct_memory_release(); /* the whole-mesh set-up arrays just freed: their pages back to the system */
    ct_setup_timing *t = &sim->setup;
    double part_s = 0.0, asm_s = 0.0;
    ct_dist_setup_times(sim->dist, &part_s, &asm_s);
    t->partition_s = part_s;
    t->assemble_s = asm_s;
    t->total_s = ct_now_s() - t0;
    /* parameter sets, stimuli and probes (build, after the read) plus the local per-node arrays and layouts */
    t->problem_s = fmax(0.0, t->total_s - t->read_s - part_s - asm_s);
    double mine[5] = {t->read_s, t->partition_s, t->assemble_s, t->problem_s, t->total_s}, most[5];
    ct_dist_max_doubles(sim->dist, mine, most, 5);
    sim->setup_max = (ct_setup_timing){most[0], most[1], most[2], most[3], most[4]};
    *out = sim;
    return CT_OK;
}

void ct_sim_backend_problem(const ct_sim *sim, int max_beats, ct_real *params, ct_backend_problem *pb)
{
    const ct_config *cfg = sim->cfg;
    for (int k = 0; k < sim->n_param_sets * CT_MODEL_NPARAM; k++)
        params[k] = (ct_real)sim->param_sets[k];
    *pb = (ct_backend_problem){
        .n_nodes = sim->mesh->n_nodes,
        .model = cfg->model,
        .n_param_sets = sim->n_param_sets,
        .param_sets = params,
        .node_param_set = sim->node_param_set,
        .stiffness = sim->stiffness,
        .lumped_mass_mm3 = sim->lumped_mass_mm3,
        .consistent_mass = sim->consistent_mass,
        .stim_mask = cfg->n_stimuli ? sim->stim_mask : NULL,
        .diffusion = cfg->diffusion,
        .dt_ms = cfg->dt_ms,
        .cg_rel_tolerance = cfg->cg_rel_tolerance,
        .cg_max_iterations = (int)cfg->cg_max_iterations,
        .activation_threshold_mV = cfg->activation_threshold_mV,
        .vm_bound_mV = cfg->vm_bound_mV,
        .max_beats = max_beats,
        .ionic_lut = cfg->ionic_lut,
        .ionic_simd = cfg->ionic_simd,
        .lumped_ionic = cfg->lumped_ionic,
        .cg_start = cfg->cg_start,
        .initial_vm_mV = sim->initial_vm_mV,
    };
}
