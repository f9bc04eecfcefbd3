/* ct_halo.c — ghost exchange and rank-ordered global sums over MPI (ct_halo.h). */
#include "ct_halo.h"

#ifdef CT_HAVE_MPI

#include <mpi.h>
#include <stdlib.h>

#include "ct_mpi.h"

#define HALO_TAG 7301

struct ct_halo_plan {
    const ct_partition *part; /* borrowed */
    MPI_Comm comm;            /* a duplicate of MPI_COMM_WORLD, owned */
    int n_ranks;
    MPI_Request *requests;    /* 2 * n_neighbours, owned */
    int in_flight;            /* between exchange_begin and exchange_end */
    double *gathered;         /* n_ranks * CT_HALO_MAX_SUM, owned */
    ct_halo halo;             /* what backends take; send_idx borrowed from the partition */
};

static ct_status plan_exchange_begin(void *user, const double *send_values, double *ghost_values)
{
    ct_halo_plan *h = user;
    const ct_partition *p = h->part;
    int nn = p->n_neighbours;
    if (h->in_flight)
        return ct_error_set(CT_ERR_INTERNAL, "halo exchange begun twice on rank %d", p->rank);
    for (int k = 0; k < nn; k++)
        MPI_Irecv(ghost_values + p->recv_start[k], (int)(p->recv_start[k + 1] - p->recv_start[k]), MPI_DOUBLE,
                  p->neighbour[k], HALO_TAG, h->comm, &h->requests[k]);
    for (int k = 0; k < nn; k++)
        MPI_Isend(send_values + p->send_start[k], (int)(p->send_start[k + 1] - p->send_start[k]), MPI_DOUBLE,
                  p->neighbour[k], HALO_TAG, h->comm, &h->requests[nn + k]);
    h->in_flight = 1;
    return CT_OK;
}

static ct_status plan_exchange_end(void *user)
{
    ct_halo_plan *h = user;
    const ct_partition *p = h->part;
    if (!h->in_flight)
        return ct_error_set(CT_ERR_INTERNAL, "halo exchange ended without a begin on rank %d", p->rank);
    h->in_flight = 0;
    if (MPI_Waitall(2 * p->n_neighbours, h->requests, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
        return ct_error_set(CT_ERR_INTERNAL, "halo exchange: MPI_Waitall failed on rank %d", p->rank);
    return CT_OK;
}

static ct_status plan_sum(void *user, double *values, int count)
{
    ct_halo_plan *h = user;
    if (count < 0 || count > CT_HALO_MAX_SUM)
        return ct_error_set(CT_ERR_INTERNAL, "halo sum of %d values (at most %d)", count, CT_HALO_MAX_SUM);
    if (MPI_Allgather(values, count, MPI_DOUBLE, h->gathered, count, MPI_DOUBLE, h->comm) != MPI_SUCCESS)
        return ct_error_set(CT_ERR_INTERNAL, "halo sum: MPI_Allgather failed");
    for (int k = 0; k < count; k++) {
        double s = 0.0;
        for (int r = 0; r < h->n_ranks; r++)
            s += h->gathered[(size_t)r * (size_t)count + (size_t)k];
        values[k] = s;
    }
    return CT_OK;
}

ct_status ct_halo_plan_create(const ct_partition *p, ct_halo_plan **out)
{
    *out = NULL;
    ct_halo_plan *h = calloc(1, sizeof *h);
    if (!h)
        return ct_error_set(CT_ERR_NOMEM, "halo: out of memory");
    h->part = p;
    h->comm = MPI_COMM_NULL;
    MPI_Comm_size(MPI_COMM_WORLD, &h->n_ranks);
    h->requests = malloc((2 * (size_t)p->n_neighbours + 1) * sizeof *h->requests);
    h->gathered = malloc((size_t)h->n_ranks * CT_HALO_MAX_SUM * sizeof *h->gathered);
    /* collective: every rank duplicates, even one that ran out of memory above */
    int dup = MPI_Comm_dup(MPI_COMM_WORLD, &h->comm);
    if (!h->requests || !h->gathered || dup != MPI_SUCCESS) {
        ct_halo_plan_destroy(h);
        return ct_error_set(dup != MPI_SUCCESS ? CT_ERR_INTERNAL : CT_ERR_NOMEM, "halo: %s",
                            dup != MPI_SUCCESS ? "MPI_Comm_dup failed" : "out of memory");
    }
    h->halo = (ct_halo){
        .n_owned = p->n_owned,
        .n_interior = p->n_interior,
        .n_send = p->send_start[p->n_neighbours],
        .send_idx = p->send_idx,
        .exchange_begin = plan_exchange_begin,
        .exchange_end = plan_exchange_end,
        .sum = plan_sum,
        .device_memory_ok = ct_mpi_cuda_aware(),
        .user = h,
    };
    *out = h;
    return CT_OK;
}

void ct_halo_plan_destroy(ct_halo_plan *h)
{
    if (!h)
        return;
    if (h->comm != MPI_COMM_NULL)
        MPI_Comm_free(&h->comm);
    free(h->requests);
    free(h->gathered);
    free(h);
}

const ct_halo *ct_halo_plan_halo(const ct_halo_plan *h)
{
    return &h->halo;
}

#else
typedef int ct_halo_needs_mpi; /* the file is empty without MPI */
#endif /* CT_HAVE_MPI */
