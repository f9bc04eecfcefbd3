/* ct_dist.c — a simulation split across MPI ranks: partition, local problem, gathers, frames (ct_dist.h). */
#define _POSIX_C_SOURCE 200809L
#include "ct_dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_mpi.h"

#ifdef CT_HAVE_MPI

#include <limits.h>
#include <mpi.h>

#include "fem/ct_fem.h"
#include "core/ct_files.h"
#include "core/ct_hash.h"
#include "../io/ct_pvtu.h"
#include "../io/ct_vtk.h"
#include "ct_halo.h"
#include "ct_partition.h"

struct ct_dist {
    int rank, n_ranks;
    ct_partition *part;          /* owned */
    ct_halo_plan *plan;          /* owned */
    /* the local problem, owned */
    ct_csr *stiffness, *consistent_mass;
    double *lumped_mass_mm3;     /* n_local */
    uint8_t *node_param_set;     /* n_local */
    uint32_t *stim_mask;         /* n_local */
    /* gathers to rank 0 */
    int *owned_count, *owned_displ; /* n_ranks each (every rank), owned */
    int32_t *owned_gid;          /* rank 0: the owned global nodes of rank 0, then rank 1, ... (n_global); owned */
    /* this rank's piece of a Vm frame: the elements it keeps and their nodes, owned */
    size_t piece_n_nodes, piece_n_tets;
    int32_t *piece_node;         /* local node of each piece node */
    double *piece_xyz, *piece_fibre, *piece_vm;
    /* the labels of ct_output.h: node_id and cell_type per piece node, tissue and aha_segment per piece tet */
    double *piece_labels;
    int has_cell_type, has_tissue, has_aha;
    int32_t *piece_tets;
    uint64_t partition_hash;     /* FNV-1a of the owner array, for checkpoints */
    char summary[256];
};

int ct_dist_wanted(void)
{
    return ct_mpi_size() > 1;
}

int ct_dist_rank(const ct_dist *d)
{
    return d ? d->rank : 0;
}

size_t ct_dist_n_local(const ct_dist *d)
{
    return d ? d->part->n_local : 0;
}

const char *ct_dist_summary(const ct_dist *d)
{
    return d ? d->summary : "serial";
}

void ct_dist_destroy(ct_dist *d)
{
    if (!d)
        return;
    ct_halo_plan_destroy(d->plan);
    ct_partition_destroy(d->part);
    ct_csr_destroy(d->stiffness);
    ct_csr_destroy(d->consistent_mass);
    free(d->lumped_mass_mm3);
    free(d->node_param_set);
    free(d->stim_mask);
    free(d->owned_count);
    free(d->owned_displ);
    free(d->owned_gid);
    free(d->piece_node);
    free(d->piece_xyz);
    free(d->piece_fibre);
    free(d->piece_vm);
    free(d->piece_tets);
    free(d->piece_labels);
    free(d);
}

/* The local matrices and per-node arrays of d->part, from sim's global ones. */
static ct_status local_problem(ct_dist *d, const ct_sim *sim)
{
    const ct_partition *p = d->part;
    const ct_mesh *lm = p->mesh;
    size_t nl = p->n_local;
    d->lumped_mass_mm3 = malloc((nl + 1) * sizeof *d->lumped_mass_mm3);
    d->node_param_set = malloc(nl + 1);
    d->stim_mask = malloc((nl + 1) * sizeof *d->stim_mask);
    double *sigma = sim->sigma_scale ? malloc((lm->n_tets + 1) * sizeof *sigma) : NULL;
    if (!d->lumped_mass_mm3 || !d->node_param_set || !d->stim_mask || (sim->sigma_scale && !sigma)) {
        free(sigma);
        return ct_error_set(CT_ERR_NOMEM, "out of memory for the local problem of %zu nodes", nl);
    }
    for (size_t l = 0; l < nl; l++) {
        d->node_param_set[l] = sim->node_param_set[p->l2g[l]];
        d->stim_mask[l] = sim->stim_mask[p->l2g[l]];
    }
    for (size_t e = 0; sigma && e < lm->n_tets; e++)
        sigma[e] = sim->sigma_scale[p->tet_l2g[e]];
    ct_status st = ct_fem_assemble(lm, &sim->cfg->conductivity, sigma, &d->stiffness, d->lumped_mass_mm3,
                                   sim->consistent_mass ? &d->consistent_mass : NULL);
    free(sigma);
    return st;
}

/* This rank's piece of the Vm frames: the elements it keeps, renumbered over the nodes they use. */
static ct_status frame_piece(ct_dist *d, const ct_sim *sim)
{
    const ct_partition *p = d->part;
    const ct_mesh *lm = p->mesh;
    int32_t *map = malloc((p->n_local + 1) * sizeof *map);
    if (!map)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    for (size_t l = 0; l < p->n_local; l++)
        map[l] = -1;
    size_t nt = 0, nn = 0;
    for (size_t e = 0; e < lm->n_tets; e++)
        if (p->tet_kept[e]) {
            nt++;
            for (int a = 0; a < 4; a++)
                if (map[lm->tets[4 * e + a]] < 0)
                    map[lm->tets[4 * e + a]] = (int32_t)nn++;
        }
    d->piece_n_nodes = nn;
    d->piece_n_tets = nt;
    d->piece_node = malloc((nn + 1) * sizeof *d->piece_node);
    d->piece_xyz = malloc((3 * nn + 1) * sizeof *d->piece_xyz);
    d->piece_vm = malloc((nn + 1) * sizeof *d->piece_vm);
    d->piece_tets = malloc((4 * nt + 1) * sizeof *d->piece_tets);
    d->piece_fibre = malloc((3 * nt + 1) * sizeof *d->piece_fibre);
    d->piece_labels = malloc((2 * nn + 2 * nt + 1) * sizeof *d->piece_labels);
    if (!d->piece_node || !d->piece_xyz || !d->piece_vm || !d->piece_tets || !d->piece_fibre || !d->piece_labels) {
        free(map);
        return ct_error_set(CT_ERR_NOMEM, "out of memory for the frame piece");
    }
    for (size_t l = 0; l < p->n_local; l++)
        if (map[l] >= 0) {
            d->piece_node[map[l]] = (int32_t)l;
            memcpy(d->piece_xyz + 3 * (size_t)map[l], lm->xyz_mm + 3 * l, 3 * sizeof *d->piece_xyz);
        }
    size_t k = 0;
    for (size_t e = 0; e < lm->n_tets; e++)
        if (p->tet_kept[e]) {
            for (int a = 0; a < 4; a++)
                d->piece_tets[4 * k + a] = map[lm->tets[4 * e + a]];
            memcpy(d->piece_fibre + 3 * k, lm->fibre + 3 * e, 3 * sizeof *d->piece_fibre);
            k++;
        }
    free(map);
    /* labels by global node and element, as the serial files carry them (ct_output.c) */
    d->has_cell_type = sim->node_cell_type != NULL;
    d->has_tissue = sim->mesh->tissue != NULL;
    d->has_aha = sim->aha_segment != NULL;
    double *id = d->piece_labels, *type = id + nn, *tissue = type + nn, *aha = tissue + nt;
    for (size_t q = 0; q < nn; q++) {
        int32_t g = p->l2g[d->piece_node[q]];
        id[q] = sim->node_id ? sim->node_id[g] : g;
        type[q] = d->has_cell_type ? sim->node_cell_type[g] : 0;
    }
    k = 0;
    for (size_t e = 0; e < lm->n_tets; e++)
        if (p->tet_kept[e]) {
            int32_t g = p->tet_l2g[e];
            tissue[k] = d->has_tissue ? sim->mesh->tissue[g] : 0;
            aha[k] = d->has_aha ? sim->aha_segment[g] : 0;
            k++;
        }
    return CT_OK;
}

/* Who owns what, on rank 0, for the gathers; owned-node statistics for the summary. */
static ct_status gather_layout(ct_dist *d)
{
    const ct_partition *p = d->part;
    d->owned_count = calloc((size_t)d->n_ranks, sizeof *d->owned_count);
    d->owned_displ = calloc((size_t)d->n_ranks, sizeof *d->owned_displ);
    if (d->rank == 0)
        d->owned_gid = malloc((p->n_global + 1) * sizeof *d->owned_gid);
    int mine = (int)p->n_owned;
    ct_status st = CT_OK;
    if (!d->owned_count || !d->owned_displ || (d->rank == 0 && !d->owned_gid))
        st = ct_error_set(CT_ERR_NOMEM, "out of memory");
    CT_CHECK(ct_mpi_agree(st));
    MPI_Allgather(&mine, 1, MPI_INT, d->owned_count, 1, MPI_INT, MPI_COMM_WORLD);
    for (int r = 1; r < d->n_ranks; r++)
        d->owned_displ[r] = d->owned_displ[r - 1] + d->owned_count[r - 1];
    MPI_Gatherv(p->l2g, mine, MPI_INT32_T, d->owned_gid, d->owned_count, d->owned_displ, MPI_INT32_T, 0,
                MPI_COMM_WORLD);
    if (d->rank == 0) { /* every node owned exactly once: the invariant the gathers rely on */
        uint8_t *seen = calloc(p->n_global + 1, 1);
        if (!seen)
            st = ct_error_set(CT_ERR_NOMEM, "out of memory");
        for (size_t k = 0; st == CT_OK && k < p->n_global; k++) {
            int32_t g = d->owned_gid[k];
            if (g < 0 || (size_t)g >= p->n_global || seen[g]++)
                st = ct_error_set(CT_ERR_INTERNAL, "partition: global node %d is owned twice or out of range", (int)g);
        }
        free(seen);
    }
    CT_CHECK(ct_mpi_agree(st));
    long v[6] = {(long)p->n_owned, -(long)p->n_owned, (long)(p->n_local - p->n_owned),
                 -(long)(p->n_local - p->n_owned), p->n_neighbours, -(long)p->n_neighbours};
    long lo[6];
    MPI_Allreduce(v, lo, 6, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
    snprintf(d->summary, sizeof d->summary,
             "split across %d MPI ranks by METIS: %ld..%ld owned and %ld..%ld ghost nodes per rank, %ld..%ld neighbours",
             d->n_ranks, lo[0], -lo[1], lo[2], -lo[3], lo[4], -lo[5]);
    return CT_OK;
}

ct_status ct_dist_create(const ct_sim *sim, ct_dist **out)
{
    *out = NULL;
    ct_dist *d = calloc(1, sizeof *d);
    size_t n = sim->mesh->n_nodes;
    int32_t *owner = malloc((n + 1) * sizeof *owner);
    ct_status st = (d && owner) ? CT_OK : ct_error_set(CT_ERR_NOMEM, "out of memory for the partition");
    if (st == CT_OK && n > (size_t)INT_MAX)
        st = ct_error_set(CT_ERR_MESH, "%zu nodes are too many for one MPI message", n);
    st = ct_mpi_agree(st);
    if (st == CT_OK) {
        d->rank = ct_mpi_rank();
        d->n_ranks = ct_mpi_size();
        if (d->rank == 0) /* one partition for all: METIS runs once and the owners are broadcast */
            st = ct_partition_nodes(sim->stiffness, d->n_ranks, owner);
        st = ct_mpi_agree(st);
    }
    if (st == CT_OK) {
        MPI_Bcast(owner, (int)n, MPI_INT32_T, 0, MPI_COMM_WORLD);
        d->partition_hash = ct_fnv1a64(CT_FNV1A64_OFFSET, owner, n * sizeof *owner);
        st = ct_partition_build(sim->mesh, owner, d->n_ranks, d->rank, &d->part);
        if (st == CT_OK)
            st = local_problem(d, sim);
        if (st == CT_OK)
            st = frame_piece(d, sim);
        st = ct_mpi_agree(st);
    }
    free(owner);
    if (st == CT_OK)
        st = gather_layout(d);
    if (st == CT_OK)
        st = ct_mpi_agree(ct_halo_plan_create(d->part, &d->plan));
    if (st != CT_OK) {
        ct_dist_destroy(d);
        return st;
    }
    *out = d;
    return CT_OK;
}

void ct_dist_backend_problem(const ct_dist *d, const ct_sim *sim, int max_beats, ct_real *params,
                             ct_backend_problem *pb)
{
    ct_sim_backend_problem(sim, max_beats, params, pb);
    if (!d)
        return;
    pb->n_nodes = d->part->n_local;
    pb->node_param_set = d->node_param_set;
    pb->stiffness = d->stiffness;
    pb->lumped_mass_mm3 = d->lumped_mass_mm3;
    pb->consistent_mass = d->consistent_mass;
    pb->stim_mask = pb->stim_mask ? d->stim_mask : NULL;
    pb->halo = ct_halo_plan_halo(d->plan);
}

ct_status ct_dist_agree(const ct_dist *d, ct_status st)
{
    return d ? ct_mpi_agree(st) : st;
}

ct_status ct_dist_agree_step(const ct_dist *d, ct_status st, ct_step_report *rep)
{
    if (!d)
        return st;
    if (st != CT_OK && st != CT_ERR_NUMERIC)
        ct_mpi_abort(ct_error_message());
    struct {
        long key;
        int rank;
    } mine, first;
    /* a blow-up ranks by its global node (the serial run reports the lowest), other failures after them */
    mine.key = st == CT_OK ? LONG_MAX
               : rep->bad_node >= 0 && (size_t)rep->bad_node < d->part->n_local ? (long)d->part->l2g[rep->bad_node]
                                                                                 : LONG_MAX - 1;
    mine.rank = d->rank;
    MPI_Allreduce(&mine, &first, 1, MPI_LONG_INT, MPI_MINLOC, MPI_COMM_WORLD);
    if (first.key == LONG_MAX)
        return CT_OK;
    struct {
        double bad_value_mV;
        long bad_node;
        int status;
        char message[1024];
    } what;
    memset(&what, 0, sizeof what);
    if (d->rank == first.rank) {
        what.bad_value_mV = rep->bad_value_mV;
        what.bad_node = first.key == LONG_MAX - 1 ? -1 : first.key;
        what.status = (int)st;
        snprintf(what.message, sizeof what.message, "%s", ct_error_message());
    }
    MPI_Bcast(&what, (int)sizeof what, MPI_BYTE, first.rank, MPI_COMM_WORLD);
    what.message[sizeof what.message - 1] = '\0';
    rep->bad_node = what.bad_node;
    rep->bad_value_mV = what.bad_value_mV;
    return ct_error_set((ct_status)what.status, "%s", what.message);
}

/* The folder of `path` (with its trailing '/'; "" for a bare name) into dir, and its last component. */
static const char *split_path(const char *path, char *dir, size_t dir_len)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    if (n >= dir_len)
        n = dir_len - 1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return slash ? slash + 1 : path;
}

ct_status ct_dist_checkpoint_write(const ct_dist *d, ct_status st, const char *path, ct_checkpoint *c, char *piece,
                                   size_t piece_len)
{
    if (!d)
        return st;
    const ct_partition *p = d->part;
    char dir[4096], name[256], here[4096];
    const char *base = split_path(path, dir, sizeof dir);
    int len = snprintf(name, sizeof name, "%s.s%lld.p%04d", base, (long long)c->step, d->rank);
    if (st == CT_OK && (len < 0 || (size_t)len >= sizeof name ||
                        (size_t)snprintf(here, sizeof here, "%s%s", dir, name) >= sizeof here))
        st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint path too long for its pieces' names", path);
    uint32_t crc = 0;
    uint64_t bytes = 0;
    if (st == CT_OK) {
        c->id.rank = (uint32_t)d->rank;
        c->partition_hash = d->partition_hash;
        c->n_owned = p->n_owned;
        c->n_local = p->n_local;
        c->local_gid = p->l2g; /* borrowed */
        st = ct_checkpoint_write_crc(here, c, &crc, &bytes);
        c->local_gid = NULL;
    }
    CT_CHECK(ct_mpi_agree(st)); /* every piece is on disk before the manifest names it */
    uint64_t mine[2] = {crc, bytes}, *all = NULL;
    ct_checkpoint_manifest m;
    memset(&m, 0, sizeof m);
    if (d->rank == 0) {
        all = malloc(2 * (size_t)d->n_ranks * sizeof *all);
        m.piece = calloc((size_t)d->n_ranks, sizeof *m.piece);
        m.piece_bytes = calloc((size_t)d->n_ranks, sizeof *m.piece_bytes);
        m.piece_crc32 = calloc((size_t)d->n_ranks, sizeof *m.piece_crc32);
        if (!all || !m.piece || !m.piece_bytes || !m.piece_crc32)
            st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for the manifest of %d pieces", path, d->n_ranks);
    }
    st = ct_mpi_agree(st);
    if (st == CT_OK)
        MPI_Gather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (st == CT_OK && d->rank == 0) {
        m.ranks = (uint32_t)d->n_ranks;
        m.step = c->step;
        memcpy(m.backend, c->id.backend, sizeof m.backend);
        m.config_hash = c->id.config_hash;
        m.partition_hash = d->partition_hash;
        for (int r = 0; r < d->n_ranks; r++) { /* every rank names its piece the same way */
            snprintf(m.piece[r], sizeof m.piece[r], "%s.s%lld.p%04d", base, (long long)c->step, r);
            m.piece_crc32[r] = (uint32_t)all[2 * r];
            m.piece_bytes[r] = all[2 * r + 1];
        }
        st = ct_checkpoint_manifest_write(path, &m);
    }
    free(all);
    ct_checkpoint_manifest_free(&m);
    CT_CHECK(ct_mpi_agree(st));
    /* the new checkpoint is whole: the previous one's piece goes (a failure to remove it only leaves litter) */
    if (piece[0] && strcmp(piece, here) != 0)
        (void)remove(piece);
    snprintf(piece, piece_len, "%s", here);
    return CT_OK;
}

/* This rank's checks of the manifest m (at path) and of its piece c (at here) against this run. */
static ct_status check_piece(const ct_dist *d, const char *path, const ct_checkpoint_manifest *m, const char *here,
                             const ct_checkpoint *c)
{
    const ct_partition *p = d->part;
    int r = d->rank;
    if (c->crc32 != m->piece_crc32[r] || (int64_t)c->step != m->step)
        return ct_error_set(CT_ERR_CONFIG, "%s: piece of rank %d does not match the manifest %s (CRC 0x%08x, step "
                            "%lld; the manifest says 0x%08x, step %lld): a piece of another checkpoint", here, r, path,
                            c->crc32, (long long)c->step, m->piece_crc32[r], (long long)m->step);
    if (c->partition_hash != d->partition_hash || c->n_owned != p->n_owned || c->n_local != p->n_local ||
        memcmp(c->local_gid, p->l2g, p->n_local * sizeof *p->l2g) != 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: checkpoint piece of another partition of the mesh (rank %d: %llu owned "
                            "of %llu local nodes; this run's rank has %zu of %zu: another METIS build?)", here, r,
                            (unsigned long long)c->n_owned, (unsigned long long)c->n_local, p->n_owned, p->n_local);
    return CT_OK;
}

ct_status ct_dist_checkpoint_read(const ct_dist *d, const char *path, const ct_checkpoint_id *expect,
                                  ct_checkpoint *c, char *piece, size_t piece_len)
{
    memset(c, 0, sizeof *c);
    if (!d)
        return ct_error_set(CT_ERR_INTERNAL, "ct_dist_checkpoint_read without a split run");
    ct_checkpoint_manifest m;
    ct_status st = ct_checkpoint_manifest_read(path, &m);
    if (st == CT_ERR_CONFIG) { /* a single checkpoint file: say this run's rank count too */
        char why[2048];
        snprintf(why, sizeof why, "%s", ct_error_message());
        st = ct_error_set(st, "%s; this run has %d: restart with the rank count it was written with", why, d->n_ranks);
    } else if (st == CT_OK && m.ranks != (uint32_t)d->n_ranks)
        st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of a run on %u MPI rank(s); this run has %d: restart with "
                          "the rank count it was written with", path, m.ranks, d->n_ranks);
    else if (st == CT_OK && strncmp(m.backend, expect->backend, sizeof m.backend) != 0)
        st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of the %s backend; this run uses %s", path, m.backend,
                          expect->backend);
    else if (st == CT_OK && m.config_hash != expect->config_hash)
        st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint written for another configuration (the configuration file "
                          "changed)", path);
    else if (st == CT_OK && m.partition_hash != d->partition_hash)
        st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of another partition of the mesh (METIS gave other owners: "
                          "another METIS build?)", path);
    char dir[4096], here[4096] = "";
    split_path(path, dir, sizeof dir);
    if (st == CT_OK && (size_t)snprintf(here, sizeof here, "%s%s", dir, m.piece[d->rank]) >= sizeof here)
        st = ct_error_set(CT_ERR_CONFIG, "%s: path of piece %d too long", path, d->rank);
    st = ct_mpi_agree(st); /* the manifest is the same file for all: its fault is everyone's */
    if (st == CT_OK) {
        ct_checkpoint_id want = *expect;
        want.ranks = (uint32_t)d->n_ranks;
        want.rank = (uint32_t)d->rank;
        st = ct_checkpoint_read(here, &want, c);
        if (st == CT_OK)
            st = check_piece(d, path, &m, here, c);
        if (st != CT_OK)
            ct_checkpoint_free(c);
    }
    ct_checkpoint_manifest_free(&m);
    st = ct_mpi_agree(st); /* a missing or corrupt piece stops every rank, with its message */
    if (st != CT_OK) {
        ct_checkpoint_free(c);
        return st;
    }
    snprintf(piece, piece_len, "%s", here);
    return CT_OK;
}

ct_status ct_dist_ecg_create(const ct_dist *d, const ct_mesh *whole, const ct_ecg_conductivity *cond,
                             const ct_ecg_placement *place, ct_ecg **out)
{
    if (!d)
        return ct_ecg_create(whole, cond, place, out);
    return ct_mpi_agree(ct_ecg_create_part(whole, d->part->mesh, d->part->n_owned, cond, place, out));
}

ct_status ct_dist_ecg_sample(const ct_dist *d, ct_status st, ct_ecg *ecg, const double *local_vm, double t_ms)
{
    if (!d)
        return st == CT_OK ? ct_ecg_sample(ecg, local_vm, t_ms) : st;
    CT_CHECK(ct_mpi_agree(st));
    double phi[CT_ECG_N_ELECTRODES_12 + 8], sum[CT_ECG_N_ELECTRODES_12 + 8];
    size_t ne = ct_ecg_n_electrodes(ecg);
    if (ne > sizeof phi / sizeof *phi)
        return ct_error_set(CT_ERR_INTERNAL, "split pseudo-ECG of %zu electrodes", ne); /* the same on every rank */
    ct_ecg_potentials(ecg, local_vm, phi); /* over the owned nodes only */
    MPI_Reduce(phi, sum, (int)ne, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    return ct_mpi_agree(d->rank == 0 ? ct_ecg_append(ecg, sum, t_ms) : CT_OK);
}

ct_status ct_dist_gather(const ct_dist *d, ct_status st, const double *local, int per_node, double *global)
{
    if (!d)
        return st;
    const ct_partition *p = d->part;
    size_t no = p->n_owned, nl = p->n_local, ng = p->n_global;
    if (st == CT_OK && (per_node < 1 || (size_t)per_node * ng > (size_t)INT_MAX))
        st = ct_error_set(CT_ERR_INTERNAL, "gather of %d values per node over %zu nodes", per_node, ng);
    double *send = st == CT_OK ? malloc(((size_t)per_node * no + 1) * sizeof *send) : NULL;
    double *recv = st == CT_OK && d->rank == 0 ? malloc(((size_t)per_node * ng + 1) * sizeof *recv) : NULL;
    int *count = malloc((size_t)d->n_ranks * sizeof *count), *displ = malloc((size_t)d->n_ranks * sizeof *displ);
    if (st == CT_OK && (!send || (d->rank == 0 && !recv) || !count || !displ))
        st = ct_error_set(CT_ERR_NOMEM, "out of memory gathering %zu values", (size_t)per_node * ng);
    st = ct_mpi_agree(st);
    if (st == CT_OK) {
        /* rank r sends its owned values block by block; rank 0 receives them rank after rank */
        for (int b = 0; b < per_node; b++)
            memcpy(send + (size_t)b * no, local + (size_t)b * nl, no * sizeof *send);
        for (int r = 0; r < d->n_ranks; r++) {
            count[r] = per_node * d->owned_count[r];
            displ[r] = per_node * d->owned_displ[r];
        }
        MPI_Gatherv(send, per_node * (int)no, MPI_DOUBLE, recv, count, displ, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (d->rank == 0)
            for (int r = 0; r < d->n_ranks; r++)
                for (int b = 0; b < per_node; b++)
                    for (int k = 0; k < d->owned_count[r]; k++) {
                        size_t g = (size_t)d->owned_gid[d->owned_displ[r] + k];
                        global[(size_t)b * ng + g] = recv[displ[r] + (size_t)b * (size_t)d->owned_count[r] + (size_t)k];
                    }
    }
    free(send);
    free(recv);
    free(count);
    free(displ);
    return st;
}

/* vm_NNNNNN.pvtu of frame `frame`, written atomically into dir (io/ct_pvtu.h): the arrays every piece holds
 * (as ct_dist_frame writes them), and the n_ranks pieces vm_NNNNNN_pRRRR.vtu. */
static ct_status write_pvtu(const ct_dist *d, const char *dir, int frame, int n_ranks)
{
    ct_vtk_field points[3] = {{"Vm_mV", 1, NULL, CT_VTK_FLOAT64}, {"node_id", 1, NULL, CT_VTK_INT32}};
    ct_vtk_field cells[3] = {{"fibre", 3, NULL, CT_VTK_FLOAT64}};
    int np = 2, nc = 1;
    if (d->has_cell_type)
        points[np++] = (ct_vtk_field){"cell_type", 1, NULL, CT_VTK_INT8};
    if (d->has_tissue)
        cells[nc++] = (ct_vtk_field){"tissue", 1, NULL, CT_VTK_INT8};
    if (d->has_aha)
        cells[nc++] = (ct_vtk_field){"aha_segment", 1, NULL, CT_VTK_INT8};
    char prefix[32], name[64], path[4096];
    snprintf(prefix, sizeof prefix, "vm_%06d", frame);
    snprintf(name, sizeof name, "%s.pvtu", prefix);
    CT_CHECK(ct_path_join(path, sizeof path, dir, name));
    return ct_pvtu_write(path, prefix, n_ranks, points, np, cells, nc);
}

ct_status ct_dist_frame(const ct_dist *d, ct_output *out, double t_ms, ct_status st, const double *local_vm)
{
    if (!d)
        return st;
    int frame = out->n_frames;
    if (st == CT_OK) {
        for (size_t k = 0; k < d->piece_n_nodes; k++)
            d->piece_vm[k] = local_vm[d->piece_node[k]];
        char name[64], path[4096];
        snprintf(name, sizeof name, "vm_%06d_p%04d.vtu", frame, d->rank);
        size_t nn = d->piece_n_nodes, nt = d->piece_n_tets;
        ct_vtk_field points[3] = {{"Vm_mV", 1, d->piece_vm, CT_VTK_FLOAT64},
                                  {"node_id", 1, d->piece_labels, CT_VTK_INT32},
                                  {"cell_type", 1, d->piece_labels + nn, CT_VTK_INT8}};
        ct_vtk_field cells[3] = {{"fibre", 3, d->piece_fibre, CT_VTK_FLOAT64}};
        int nc = 1;
        if (d->has_tissue)
            cells[nc++] = (ct_vtk_field){"tissue", 1, d->piece_labels + 2 * nn, CT_VTK_INT8};
        if (d->has_aha)
            cells[nc++] = (ct_vtk_field){"aha_segment", 1, d->piece_labels + 2 * nn + nt, CT_VTK_INT8};
        st = ct_path_join(path, sizeof path, out->dir, name);
        if (st == CT_OK)
            st = ct_vtk_write_vtu(path, nn, d->piece_xyz, nt, d->piece_tets, points, d->has_cell_type ? 3 : 2, cells,
                                  nc);
    }
    CT_CHECK(ct_mpi_agree(st)); /* every piece is on disk before the .pvtu names it */
    if (d->rank == 0) {
        st = write_pvtu(d, out->dir, frame, d->n_ranks);
        if (st == CT_OK && !out->pvd) {
            char path[4096];
            st = ct_path_join(path, sizeof path, out->dir, "vm.pvd");
            if (st == CT_OK)
                st = ct_pvd_open(path, &out->pvd);
        }
        if (st == CT_OK) {
            char name[64];
            snprintf(name, sizeof name, "vm_%06d.pvtu", frame);
            st = ct_pvd_add(out->pvd, t_ms, name);
        }
    }
    CT_CHECK(ct_mpi_agree(st));
    out->n_frames++;
    return CT_OK;
}

#else /* no MPI: every run is serial */

int ct_dist_wanted(void) { return 0; }

ct_status ct_dist_create(const ct_sim *sim, ct_dist **out)
{
    (void)sim;
    *out = NULL;
    return ct_error_set(CT_ERR_INTERNAL, "this cardiotwin was built without MPI");
}

void ct_dist_destroy(ct_dist *d) { (void)d; }
int ct_dist_rank(const ct_dist *d) { (void)d; return 0; }
size_t ct_dist_n_local(const ct_dist *d) { (void)d; return 0; }
const char *ct_dist_summary(const ct_dist *d) { (void)d; return "serial"; }

void ct_dist_backend_problem(const ct_dist *d, const ct_sim *sim, int max_beats, ct_real *params,
                             ct_backend_problem *pb)
{
    (void)d;
    ct_sim_backend_problem(sim, max_beats, params, pb);
}

ct_status ct_dist_agree(const ct_dist *d, ct_status st) { (void)d; return st; }
ct_status ct_dist_agree_step(const ct_dist *d, ct_status st, ct_step_report *rep) { (void)d; (void)rep; return st; }

ct_status ct_dist_gather(const ct_dist *d, ct_status st, const double *local, int per_node, double *global)
{
    (void)d;
    (void)local;
    (void)per_node;
    (void)global;
    return st;
}

ct_status ct_dist_checkpoint_write(const ct_dist *d, ct_status st, const char *path, ct_checkpoint *c, char *piece,
                                   size_t piece_len)
{
    (void)d;
    (void)path;
    (void)c;
    (void)piece;
    (void)piece_len;
    return st;
}

ct_status ct_dist_checkpoint_read(const ct_dist *d, const char *path, const ct_checkpoint_id *expect,
                                  ct_checkpoint *c, char *piece, size_t piece_len)
{
    (void)d;
    (void)path;
    (void)expect;
    (void)piece;
    (void)piece_len;
    memset(c, 0, sizeof *c);
    return ct_error_set(CT_ERR_INTERNAL, "this cardiotwin was built without MPI");
}

ct_status ct_dist_ecg_create(const ct_dist *d, const ct_mesh *whole, const ct_ecg_conductivity *cond,
                             const ct_ecg_placement *place, ct_ecg **out)
{
    (void)d;
    return ct_ecg_create(whole, cond, place, out);
}

ct_status ct_dist_ecg_sample(const ct_dist *d, ct_status st, ct_ecg *ecg, const double *local_vm, double t_ms)
{
    (void)d;
    return st == CT_OK ? ct_ecg_sample(ecg, local_vm, t_ms) : st;
}

ct_status ct_dist_frame(const ct_dist *d, ct_output *out, double t_ms, ct_status st, const double *local_vm)
{
    (void)d;
    (void)out;
    (void)t_ms;
    (void)local_vm;
    return st;
}

#endif
