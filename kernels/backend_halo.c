/* backend_halo.c — the check every backend makes of the halo it is handed (backend.h ct_halo). */
#include "backend.h"

ct_status ct_halo_check(const ct_halo *h, size_t n_nodes, const char *backend)
{
    if (h->n_owned > n_nodes || h->n_interior > h->n_owned || !h->exchange_begin || !h->exchange_end || !h->sum ||
        (h->n_send && !h->send_idx))
        return ct_error_set(CT_ERR_INTERNAL, "%s backend: incomplete halo (%zu owned of %zu nodes)", backend,
                            h->n_owned, n_nodes);
    for (size_t k = 0; k < h->n_send; k++)
        if (h->send_idx[k] < (int32_t)h->n_interior || (size_t)h->send_idx[k] >= h->n_owned)
            return ct_error_set(CT_ERR_INTERNAL, "%s backend: halo sends node %d, not an owned boundary node", backend,
                                (int)h->send_idx[k]);
    return CT_OK;
}
