/* test_mpi_halo.c — the partition (host/mpi/ct_partition.h) and the halo (host/mpi/ct_halo.h) under mpiexec.
 *
 * An MPI program, not a Criterion test (Criterion forks each test; MPI does not survive that), registered
 * with CTest as `mpiexec -n 2` and `-n 3`. On a box mesh with a fibre at an angle, it checks that:
 *   - the METIS partition gives every node exactly one owner and no rank is empty;
 *   - local numbering is owned first in global order, then ghosts grouped by owner rank in global order;
 *   - each local mesh holds exactly the elements touching its owned nodes, and every element is kept (for
 *     output pieces) by exactly one rank;
 *   - K, the lumped mass and the consistent mass assembled on the local mesh equal the global matrices in
 *     every owned row (ghost rows are incomplete by design);
 *   - the halo exchange delivers every ghost its owner's value, and the halo sum gives the same bits on
 *     every rank.
 * Any failure prints "rank R: file:line: what" and aborts the job (exit status non-zero).
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fem/ct_csr.h"
#include "fem/ct_fem.h"
#include "mesh/ct_mesh.h"
#include "mpi/ct_halo.h"
#include "mpi/ct_partition.h"

static int g_rank;

#define CHECK(cond, ...)                                                                                           \
    do {                                                                                                           \
        if (!(cond)) {                                                                                             \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", g_rank, __FILE__, __LINE__, #cond);             \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fprintf(stderr, "\n");                                                                                 \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                                          \
        }                                                                                                          \
    } while (0)

#define CHECK_OK(call) CHECK((call) == CT_OK, "%s", ct_error_message())

/* A value that says which global node it came from. */
static double tag(int32_t g)
{
    return 1000.0 + 0.5 * (double)g;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    const double box[3] = {6.0, 3.0, 2.0}, fibre[3] = {1.0, 0.4, 0.2};
    ct_mesh *mesh = NULL;
    CHECK_OK(ct_mesh_box(box, 0.5, fibre, &mesh));
    size_t n = mesh->n_nodes, ne = mesh->n_tets;
    const ct_conductivity cond = {.sigma_l_S_per_m = 0.17, .sigma_t_S_per_m = 0.019, .chi_per_mm = 140,
                                  .cm_uF_per_mm2 = 0.01};
    ct_csr *k_global = NULL, *m_global = NULL;
    double *ml_global = malloc(n * sizeof *ml_global);
    CHECK_OK(ct_fem_assemble(mesh, &cond, NULL, &k_global, ml_global, &m_global));

    /* partition on rank 0, broadcast */
    int32_t *owner = malloc(n * sizeof *owner);
    if (g_rank == 0)
        CHECK_OK(ct_partition_nodes(k_global, size, owner));
    MPI_Bcast(owner, (int)n, MPI_INT32_T, 0, MPI_COMM_WORLD);
    long *owned_per_rank = calloc((size_t)size, sizeof *owned_per_rank);
    for (size_t i = 0; i < n; i++) {
        CHECK(owner[i] >= 0 && owner[i] < size, "node %zu owner %d", i, (int)owner[i]);
        owned_per_rank[owner[i]]++;
    }
    for (int r = 0; r < size; r++)
        CHECK(owned_per_rank[r] > 0, "rank %d owns no node", r);

    ct_partition *p = NULL;
    CHECK_OK(ct_partition_build(mesh, owner, size, g_rank, &p));
    CHECK(p->n_owned == (size_t)owned_per_rank[g_rank], "%zu owned, expected %ld", p->n_owned, owned_per_rank[g_rank]);

    /* numbering */
    for (size_t l = 0; l < p->n_local; l++) {
        int32_t g = p->l2g[l];
        CHECK(g >= 0 && (size_t)g < n, "local %zu -> global %d", l, (int)g);
        if (l < p->n_owned) {
            CHECK(owner[g] == g_rank, "owned local %zu is global %d of rank %d", l, (int)g, (int)owner[g]);
            CHECK(l == 0 || l == p->n_interior || p->l2g[l - 1] < g, "owned nodes out of global order at %zu", l);
        } else {
            CHECK(owner[g] != g_rank, "ghost %zu is owned here", l);
            if (l > p->n_owned) {
                int32_t h = p->l2g[l - 1];
                CHECK(owner[h] < owner[g] || (owner[h] == owner[g] && h < g), "ghosts out of order at %zu", l);
            }
        }
    }
    /* every node owned exactly once over the ranks */
    int *count = calloc(n, sizeof *count);
    for (size_t l = 0; l < p->n_owned; l++)
        count[p->l2g[l]]++;
    MPI_Allreduce(MPI_IN_PLACE, count, (int)n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    for (size_t i = 0; i < n; i++)
        CHECK(count[i] == 1, "global node %zu owned %d times", i, count[i]);

    /* local elements: those touching an owned node; each element kept by one rank */
    size_t touching = 0;
    for (size_t e = 0; e < ne; e++) {
        int t = 0;
        for (int a = 0; a < 4; a++)
            t |= owner[mesh->tets[4 * e + a]] == g_rank;
        touching += (size_t)t;
    }
    CHECK(p->mesh->n_tets == touching, "%zu local elements, %zu touch an owned node", p->mesh->n_tets, touching);
    int *kept = calloc(ne, sizeof *kept);
    for (size_t e = 0; e < p->mesh->n_tets; e++) {
        int32_t g = p->tet_l2g[e];
        for (int a = 0; a < 4; a++)
            CHECK(p->l2g[p->mesh->tets[4 * e + a]] == mesh->tets[4 * (size_t)g + a], "local element %zu corner %d", e, a);
        kept[g] += p->tet_kept[e];
    }
    MPI_Allreduce(MPI_IN_PLACE, kept, (int)ne, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    for (size_t e = 0; e < ne; e++)
        CHECK(kept[e] == 1, "element %zu kept by %d ranks", e, kept[e]);

    /* local assembly: owned rows equal the global rows */
    ct_csr *k_local = NULL, *m_local = NULL;
    double *ml_local = malloc((p->n_local + 1) * sizeof *ml_local);
    CHECK_OK(ct_fem_assemble(p->mesh, &cond, NULL, &k_local, ml_local, &m_local));
    double worst = 0.0;
    for (size_t l = 0; l < p->n_owned; l++) {
        size_t g = (size_t)p->l2g[l];
        CHECK(k_local->row_ptr[l + 1] - k_local->row_ptr[l] == k_global->row_ptr[g + 1] - k_global->row_ptr[g],
              "row %zu (global %zu) has another pattern", l, g);
        worst = fmax(worst, fabs(ml_local[l] - ml_global[g]) / ml_global[g]);
        for (int32_t k = k_local->row_ptr[l]; k < k_local->row_ptr[l + 1]; k++) {
            long at = ct_csr_find(k_global, g, (size_t)p->l2g[k_local->col[k]]);
            CHECK(at >= 0, "local entry (%zu, %d) is not in the global pattern", l, (int)k_local->col[k]);
            double scale = fabs(k_global->val[k_global->row_ptr[g]]) + 1e-300;
            worst = fmax(worst, fabs(k_local->val[k] - k_global->val[at]) / scale);
            double mscale = fabs(m_global->val[k_global->row_ptr[g]]) + 1e-300;
            worst = fmax(worst, fabs(m_local->val[k] - m_global->val[at]) / mscale);
        }
    }
    CHECK(worst <= 1e-12, "owned rows differ from the global matrices by %.3e (relative)", worst);

    /* interior rows read owned nodes only; every boundary row reads a ghost (so the split is not trivially
     * "all boundary") */
    CHECK(p->n_interior <= p->n_owned, "%zu interior of %zu owned", p->n_interior, p->n_owned);
    for (size_t l = 0; l < p->n_owned; l++) {
        int reads_ghost = 0;
        for (int32_t k = k_local->row_ptr[l]; k < k_local->row_ptr[l + 1]; k++)
            reads_ghost |= (size_t)k_local->col[k] >= p->n_owned;
        CHECK(reads_ghost == (l >= p->n_interior), "owned row %zu (%s) %s a ghost", l,
              l < p->n_interior ? "interior" : "boundary", reads_ghost ? "reads" : "does not read");
    }

    /* halo exchange: each ghost receives its owner's value */
    ct_halo_plan *plan = NULL;
    CHECK_OK(ct_halo_plan_create(p, &plan));
    const ct_halo *h = ct_halo_plan_halo(plan);
    CHECK(h->n_owned == p->n_owned && h->n_interior == p->n_interior, "halo n_owned / n_interior");
    double *send = malloc((h->n_send + 1) * sizeof *send);
    double *ghost = malloc((p->n_local - p->n_owned + 1) * sizeof *ghost);
    for (int round = 0; round < 3; round++) { /* repeated: requests are reused */
        for (size_t k = 0; k < h->n_send; k++) {
            CHECK(h->send_idx[k] >= (int32_t)p->n_interior && (size_t)h->send_idx[k] < p->n_owned,
                  "send %zu (local %d) is not an owned boundary node", k, (int)h->send_idx[k]);
            send[k] = tag(p->l2g[h->send_idx[k]]) + round;
        }
        for (size_t g = 0; g < p->n_local - p->n_owned; g++)
            ghost[g] = -1.0;
        CHECK_OK(h->exchange_begin(h->user, send, ghost));
        CHECK_OK(h->exchange_end(h->user));
        for (size_t g = 0; g < p->n_local - p->n_owned; g++)
            CHECK(ghost[g] == tag(p->l2g[p->n_owned + g]) + round, "ghost %zu (global %d) got %g", g,
                  (int)p->l2g[p->n_owned + g], ghost[g]);
    }
    /* halo sum: the same bits everywhere, and the right total */
    double v[3] = {0.1 * (g_rank + 1), 1.0 / (g_rank + 3.0), (double)p->n_owned};
    CHECK_OK(h->sum(h->user, v, 3));
    double *all = malloc(3 * (size_t)size * sizeof *all);
    MPI_Allgather(v, 3, MPI_DOUBLE, all, 3, MPI_DOUBLE, MPI_COMM_WORLD);
    for (int r = 0; r < size; r++)
        CHECK(memcmp(all + 3 * r, v, sizeof v) == 0, "rank %d's sum differs from this rank's", r);
    CHECK(v[2] == (double)n, "sum of owned counts %g, nodes %zu", v[2], n);

    if (g_rank == 0)
        printf("partition and halo: %d ranks, %zu nodes, %zu elements; rank 0: %zu owned (%zu interior), %zu ghosts, %d neighbours, "
               "%zu sent; owned rows match the global matrices to %.1e\n",
               size, n, ne, p->n_owned, p->n_interior, p->n_local - p->n_owned, p->n_neighbours, h->n_send, worst);
    free(all);
    free(send);
    free(ghost);
    ct_halo_plan_destroy(plan);
    ct_csr_destroy(k_local);
    ct_csr_destroy(m_local);
    free(ml_local);
    free(kept);
    free(count);
    ct_partition_destroy(p);
    free(owned_per_rank);
    free(owner);
    ct_csr_destroy(k_global);
    ct_csr_destroy(m_global);
    free(ml_global);
    ct_mesh_destroy(mesh);
    MPI_Finalize();
    return 0;
}
