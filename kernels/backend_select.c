/* backend_select.c — the registry of compiled-in backends and the choice among them. */
#include <stdio.h>
#include <string.h>

#include "backend.h"

/* Preference order for "auto". */
static const ct_backend_ops *const registry[] = {
#ifdef CT_HAVE_CUDA
    &ct_backend_cuda,
#endif
#ifdef CT_HAVE_OPENCL
    &ct_backend_opencl,
#endif
    &ct_backend_cpu,
};
static const size_t n_registry = sizeof registry / sizeof registry[0];

static int compiled_in(const char *name)
{
    for (size_t k = 0; k < n_registry; k++)
        if (strcmp(registry[k]->name, name) == 0)
            return 1;
    return 0;
}

const ct_backend_ops *ct_backend_find(const char *name)
{
    for (size_t k = 0; k < n_registry; k++)
        if (strcmp(registry[k]->name, name) == 0)
            return registry[k];
    return NULL;
}

ct_status ct_backend_select(const char *name, const ct_backend_ops **out, char *why, size_t why_len)
{
    *out = NULL;
    if (strcmp(name, "auto") == 0) {
        char skipped[1024] = "";
        for (size_t k = 0; k < n_registry; k++) {
            int last = k + 1 == n_registry;
            if (registry[k]->probe() == CT_OK &&
                (last || !registry[k]->runs_on_host_cpu || !registry[k]->runs_on_host_cpu())) {
                snprintf(why, why_len, "backend auto: chose %s%s%s", registry[k]->name, skipped[0] ? "; " : "",
                         skipped);
                *out = registry[k];
                return CT_OK;
            }
            size_t used = strlen(skipped);
            snprintf(skipped + used, sizeof skipped - used, "%s%s unavailable (%s)", used ? "; " : "",
                     registry[k]->name, ct_error_message());
        }
        return ct_error_set(CT_ERR_BACKEND, "no backend can run here: %s", skipped);
    }
    for (size_t k = 0; k < n_registry; k++) {
        if (strcmp(registry[k]->name, name) != 0)
            continue;
        if (registry[k]->probe() != CT_OK)
            return ct_error_set(CT_ERR_BACKEND, "backend \"%s\" is not available: %s", name, ct_error_message());
        snprintf(why, why_len, "backend %s: requested", name);
        *out = registry[k];
        return CT_OK;
    }
    if (!compiled_in(name) && (strcmp(name, "cuda") == 0 || strcmp(name, "opencl") == 0))
        return ct_error_set(CT_ERR_BACKEND, "backend \"%s\" is not available: not compiled into this build", name);
    return ct_error_set(CT_ERR_CONFIG, "unknown backend \"%s\" (expected auto, cpu, opencl or cuda)", name);
}
