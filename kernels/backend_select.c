/* backend_select.c — the registry of compiled-in backends and the choice among them. */
#include <stdio.h>
#include <string.h>

#include "backend.h"

ct_status ct_backend_select(const char *name, const ct_backend_ops **out, char *why, size_t why_len)
{
    *out = NULL;
    if (strcmp(name, "auto") == 0) {
        /* CUDA and OpenCL are not built yet: the CPU is the only candidate. */
        snprintf(why, why_len, "backend auto: chose cpu (no GPU backend compiled into this build)");
        *out = &ct_backend_cpu;
        return CT_OK;
    }
    if (strcmp(name, "cpu") == 0) {
        snprintf(why, why_len, "backend cpu: requested");
        *out = &ct_backend_cpu;
        return CT_OK;
    }
    if (strcmp(name, "cuda") == 0 || strcmp(name, "opencl") == 0)
        return ct_error_set(CT_ERR_BACKEND, "backend \"%s\" is not available: not compiled into this build",
                            name);
    return ct_error_set(CT_ERR_CONFIG, "unknown backend \"%s\" (expected auto, cpu, opencl or cuda)", name);
}
