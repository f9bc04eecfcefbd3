/* backend_opencl.c — the OpenCL backend: the CPU reference (kernels/cpu/backend_cpu.c) on any
 * OpenCL 1.2 device, with the whole simulation state kept on the device.
 *
 * The kernels are kernels/opencl/monodomain.cl, compiled at create() from ct_opencl_source (the
 * models and kernels embedded at build time, see tools/embed_source.cmake). step() only enqueues
 * kernels; it reads back the CG scalars (partial sums, a few kB) when a CG runs and one int per
 * step: the blow-up flag, which is also the step's synchronisation point. The order of the kernels (the
 * step, CG, the halo protocol) is kernels/ct_step.c and kernels/ct_cg.c; this file supplies their device
 * primitives (ct_device_ops) as kernel launches.
 *
 * Device choice (probe and create agree): CT_OPENCL_DEVICE=k picks device k of the flat list of all
 * platforms' devices; otherwise the first available GPU that can run this build (under MPI the
 * (CT_LOCAL_RANK mod GPUs)-th), else the first available device of any type. A double-precision build needs cl_khr_fp64.
 *
 * With a halo (backend.h, MPI) a vector's ghosts are refreshed through the host: the boundary range of
 * the owned nodes (n_interior..n_owned-1, where every value to send lies) is read back in one blocking read,
 * the values to send are picked out, and the ghost range, contiguous at the end, is written in one call.
 * In CG the search direction's exchange is overlapped with the product's interior rows: ct_spmv over rows
 * 0..n_interior-1 is enqueued and flushed (ct_device_ops.flush) before the host waits for MPI, then
 * ct_spmv_dot does the rest.
 * The CG reductions run over the owned nodes only.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __APPLE__
#include <OpenCL/cl.h>
#else
#include <CL/cl.h>
#endif

#include "../backend.h"
#include "../ct_step.h"
#include "../models/ct_models.h"

extern const char ct_opencl_source[]; /* generated: ct_opencl_source.c */
extern const size_t ct_opencl_source_len;

#define OCL_MAX_DEVICES 64
#define OCL_WG 256            /* preferred work-group size, clamped per kernel by the device */
#define OCL_MAX_RED_GROUPS 1024 /* work-groups of a reduction kernel: bounds the partial sums read back */
#define OCL_MAX_NSUM 3        /* sums per work-group (ct_cg_init) */

/* ---- error reporting -------------------------------------------------------------------------- */

static const char *cl_err_name(cl_int e)
{
    switch (e) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_DEVICE_TYPE: return "CL_INVALID_DEVICE_TYPE";
    case CL_INVALID_PLATFORM: return "CL_INVALID_PLATFORM";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_CONTEXT: return "CL_INVALID_CONTEXT";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_PROGRAM: return "CL_INVALID_PROGRAM";
    case CL_INVALID_PROGRAM_EXECUTABLE: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL: return "CL_INVALID_KERNEL";
    case CL_INVALID_ARG_INDEX: return "CL_INVALID_ARG_INDEX";
    case CL_INVALID_ARG_VALUE: return "CL_INVALID_ARG_VALUE";
    case CL_INVALID_ARG_SIZE: return "CL_INVALID_ARG_SIZE";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_DIMENSION: return "CL_INVALID_WORK_DIMENSION";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_OFFSET: return "CL_INVALID_GLOBAL_OFFSET";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case CL_INVALID_OPERATION: return "CL_INVALID_OPERATION";
    case CL_INVALID_EVENT_WAIT_LIST: return "CL_INVALID_EVENT_WAIT_LIST";
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST: return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR (no ICD found)";
    default: return "unknown OpenCL error";
    }
}

/* Returns CT_ERR_BACKEND naming the failed call and the OpenCL code, if `err` is not CL_SUCCESS. */
#define OCL_TRY(err, what)                                                                                 \
    do {                                                                                                   \
        cl_int ocl_e_ = (err);                                                                             \
        if (ocl_e_ != CL_SUCCESS)                                                                          \
            return ct_error_set(CT_ERR_BACKEND, "opencl backend: %s failed: %s (%d)", (what),              \
                                cl_err_name(ocl_e_), (int)ocl_e_);                                         \
    } while (0)

/* ---- device choice ---------------------------------------------------------------------------- */

typedef struct ocl_device_choice {
    cl_platform_id platform;
    cl_device_id device;
    char name[256];
    int fp64;
    int is_cpu;     /* CL_DEVICE_TYPE_CPU: the host processor (PoCL's pthread device, for one) */
} ocl_device_choice;

static int device_has_fp64(cl_device_id d)
{
    size_t len = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &len) != CL_SUCCESS || len == 0)
        return 0;
    char *ext = malloc(len + 1);
    if (!ext)
        return 0;
    int has = clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, len, ext, NULL) == CL_SUCCESS;
    ext[len] = '\0';
    has = has && strstr(ext, "cl_khr_fp64") != NULL;
    free(ext);
    return has;
}

/* Why device d cannot run this build, or NULL if it can. */
static const char *device_unusable(cl_device_id d)
{
    cl_bool avail = CL_FALSE;
    if (clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof avail, &avail, NULL) != CL_SUCCESS || !avail)
        return "is not available";
    cl_bool compiler = CL_FALSE;
    if (clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL) != CL_SUCCESS ||
        !compiler)
        return "has no OpenCL C compiler";
#ifndef CT_REAL_FLOAT
    if (!device_has_fp64(d))
        return "lacks cl_khr_fp64 (this build is double precision; build with -DCT_REAL_FLOAT=ON to use it)";
#endif
    return NULL;
}

/* Picks the device as the file comment says; on failure the message says why. */
static ct_status pick_device(ocl_device_choice *out)
{
    memset(out, 0, sizeof *out);
    cl_uint n_platforms = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &n_platforms);
    if (err != CL_SUCCESS || n_platforms == 0)
        return ct_error_set(CT_ERR_BACKEND, "no OpenCL platform: clGetPlatformIDs returned %d%s", (int)err,
                            err == CL_SUCCESS ? " and 0 platforms" : "");
    cl_platform_id platforms[16];
    if (n_platforms > 16)
        n_platforms = 16;
    OCL_TRY(clGetPlatformIDs(n_platforms, platforms, NULL), "clGetPlatformIDs");

    cl_device_id devices[OCL_MAX_DEVICES];
    cl_platform_id owner[OCL_MAX_DEVICES];
    cl_device_type types[OCL_MAX_DEVICES];
    cl_uint n_devices = 0;
    for (cl_uint p = 0; p < n_platforms && n_devices < OCL_MAX_DEVICES; p++) {
        cl_uint got = 0;
        err = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, OCL_MAX_DEVICES - n_devices, devices + n_devices, &got);
        if (err == CL_DEVICE_NOT_FOUND)
            continue;
        OCL_TRY(err, "clGetDeviceIDs");
        if (got > OCL_MAX_DEVICES - n_devices)
            got = OCL_MAX_DEVICES - n_devices;
        for (cl_uint k = 0; k < got; k++) {
            owner[n_devices + k] = platforms[p];
            if (clGetDeviceInfo(devices[n_devices + k], CL_DEVICE_TYPE, sizeof types[0], &types[n_devices + k], NULL) !=
                CL_SUCCESS)
                types[n_devices + k] = CL_DEVICE_TYPE_DEFAULT;
        }
        n_devices += got;
    }
    if (n_devices == 0)
        return ct_error_set(CT_ERR_BACKEND, "no OpenCL device: %u platform(s) found but none has a device",
                            (unsigned)n_platforms);

    long chosen = -1;
    const char *env = getenv("CT_OPENCL_DEVICE");
    if (env && *env) {
        char *end = NULL;
        long k = strtol(env, &end, 10);
        if (*end != '\0' || k < 0 || k >= (long)n_devices)
            return ct_error_set(CT_ERR_BACKEND, "CT_OPENCL_DEVICE=\"%s\": expected a device index 0..%u", env,
                                (unsigned)n_devices - 1);
        const char *why = device_unusable(devices[k]);
        if (why) {
            char name[256] = "?";
            clGetDeviceInfo(devices[k], CL_DEVICE_NAME, sizeof name, name, NULL);
            name[sizeof name - 1] = '\0';
            return ct_error_set(CT_ERR_BACKEND, "OpenCL device %ld (%s, from CT_OPENCL_DEVICE) %s", k, name, why);
        }
        chosen = k;
    } else {
        /* under MPI (CT_LOCAL_RANK, host/mpi/ct_mpi.h) the rank's turn among the usable GPUs: one GPU per rank */
        long skip = 0;
        const char *local = getenv("CT_LOCAL_RANK");
        if (local && *local) {
            char *end = NULL;
            long r = strtol(local, &end, 10);
            long n_gpus = 0;
            for (cl_uint k = 0; k < n_devices; k++)
                n_gpus += (types[k] & CL_DEVICE_TYPE_GPU) && !device_unusable(devices[k]);
            if (*end == '\0' && r >= 0 && n_gpus > 0)
                skip = r % n_gpus;
        }
        for (int pass = 0; pass < 2 && chosen < 0; pass++) /* GPUs first, then anything */
            for (cl_uint k = 0; k < n_devices && chosen < 0; k++)
                if ((pass == 1 || (types[k] & CL_DEVICE_TYPE_GPU)) && !device_unusable(devices[k]) &&
                    (pass == 1 || skip-- == 0))
                    chosen = (long)k;
        if (chosen < 0) {
            char name[256] = "?";
            clGetDeviceInfo(devices[0], CL_DEVICE_NAME, sizeof name, name, NULL);
            name[sizeof name - 1] = '\0';
            return ct_error_set(CT_ERR_BACKEND, "no usable OpenCL device among %u: device 0 (%s) %s%s",
                                (unsigned)n_devices, name, device_unusable(devices[0]),
                                n_devices > 1 ? ", and so do the others" : "");
        }
    }
    out->platform = owner[chosen];
    out->device = devices[chosen];
    OCL_TRY(clGetDeviceInfo(out->device, CL_DEVICE_NAME, sizeof out->name, out->name, NULL),
            "clGetDeviceInfo(CL_DEVICE_NAME)");
    out->name[sizeof out->name - 1] = '\0';
    out->fp64 = device_has_fp64(out->device);
    out->is_cpu = (types[chosen] & CL_DEVICE_TYPE_CPU) != 0;
    return CT_OK;
}

static ct_status ocl_probe(void)
{
    ocl_device_choice choice;
    return pick_device(&choice);
}

/* Whether the device probe() would pick is the host CPU; sets a message naming it. */
static int ocl_runs_on_host_cpu(void)
{
    ocl_device_choice choice;
    if (pick_device(&choice) != CT_OK || !choice.is_cpu)
        return 0;
    ct_error_set(CT_ERR_BACKEND, "its only usable device, \"%s\", is the host CPU, where the cpu backend is faster",
                 choice.name);
    return 1;
}

/* ---- context ---------------------------------------------------------------------------------- */

enum ocl_kernel_id {
    K_INIT,
    K_REACTION,
    K_EXPLICIT_LUMPED,
    K_SPMV,
    K_SPMV_DOT,
    K_CG_INIT,
    K_CG_UPDATE,
    K_CG_DIRECTION,
    K_RHS_EXPLICIT_CONSISTENT,
    K_CG_START_IMPLICIT,
    K_ADD_DETECT,
    K_DETECT,
    K_BEAT_INIT,
    K_COUNT
};

static const char *const kernel_names[K_COUNT] = {
    "ct_init",
    "ct_reaction",
    "ct_explicit_lumped",
    "ct_spmv",
    "ct_spmv_dot",
    "ct_cg_init",
    "ct_cg_update",
    "ct_cg_direction",
    "ct_rhs_explicit_consistent",
    "ct_cg_start_implicit",
    "ct_add_detect",
    "ct_detect_kernel",
    "ct_beat_init",
};

struct ct_backend_ctx {
    ct_step_core core;        /* the problem's scalars and the halo state (ct_step.h) */
    size_t acc_size;          /* bytes of the device's ct_acc: 8 with cl_khr_fp64, else 4 */
    char device_name[256];

    /* OpenCL objects, all owned and released by ocl_destroy */
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernel[K_COUNT];
    size_t local_size[K_COUNT]; /* work-group size per kernel (a power of two for the reductions) */
    size_t red_groups;          /* work-groups of the reduction kernels */

    /* device buffers, owned (NULL when the problem does not need them) */
    cl_mem params;            /* n_sets * CT_MODEL_NPARAM ct_real */
    cl_mem node_set;          /* n uchar (a 1-byte placeholder when all nodes use set 0) */
    cl_mem stim_mask;         /* n uint (a placeholder when there are no stimuli) */
    cl_mem amp;               /* CT_MAX_STIMULI ct_real, rewritten when the amplitudes change */
    cl_mem lut;               /* the ionic rate table (ct_step_core.lut), a placeholder when it has none */
    cl_mem y;                 /* nstate * n ionic state */
    cl_mem vm, vm_prev, tmp;  /* n ct_real each; vm and tmp swap in the explicit lumped step */
    cl_mem vstar_prev;        /* n ct_real, core.cg_extrapolate only (else NULL): the last step's post-reaction
                                 Vm (= vm at create); rotates with vm and tmp in ocl_cg_accept */
    cl_mem act;               /* n ct_acc activation times, ms (-1: not yet) */
    cl_mem row_ptr, col;      /* CSR pattern of K */
    cl_mem k_val, inv_mass;   /* K, 1/m (lumped) */
    cl_mem a_val, m_val;      /* CG matrix, consistent mass (CG paths only) */
    cl_mem mass_over_dt, inv_diag, r, z, p, q, b;
    cl_mem partial;           /* red_groups * OCL_MAX_NSUM ct_acc */
    cl_mem bad;               /* one int: lowest blown-up node, INT_MAX if none */
    /* beat tracking (backend.h); with max_beats == 0 all six are one 8-byte placeholder, beat_none */
    cl_mem beat_none;
    cl_mem beat_count, beat_phase; /* n int each */
    cl_mem v_rest, v_peak;    /* n ct_acc each, mV */
    cl_mem beat_act, beat_rep; /* max_beats * n ct_acc each, beat-major, ms (-1: none) */

    /* host mirrors, owned */
    ct_real amp_host[CT_MAX_STIMULI];
    int amp_valid;
    unsigned char *partial_host; /* red_groups * OCL_MAX_NSUM * acc_size bytes */

    /* MPI halo (ct_step.h holds its state), owned */
    double *send_buf, *ghost_buf; /* halo.n_send and n - n_owned */
    ct_real *stage;           /* n: a vector's owned values, then its ghost values */
};

static void release_mem(cl_mem *m)
{
    if (*m)
        clReleaseMemObject(*m);
    *m = NULL;
}

static void ocl_destroy(ct_backend_ctx *c)
{
    if (!c)
        return;
    (void)ct_step_vm_halo_end(&c->core); /* MPI must be done with send_buf and ghost_buf before they are freed */
    if (c->queue)
        clFinish(c->queue);
    cl_mem *mems[] = {&c->params, &c->node_set, &c->stim_mask, &c->amp,  &c->y,     &c->vm,   &c->vm_prev, &c->vstar_prev,
                      &c->tmp,    &c->act,      &c->row_ptr,   &c->col,  &c->k_val, &c->inv_mass, &c->a_val,
                      &c->m_val,  &c->mass_over_dt, &c->inv_diag, &c->r, &c->z,     &c->p,    &c->q,
                      &c->b,      &c->partial,  &c->bad,   &c->beat_none, &c->beat_count, &c->beat_phase,
                      &c->v_rest, &c->v_peak,   &c->beat_act, &c->beat_rep, &c->lut};
    for (size_t k = 0; k < sizeof mems / sizeof mems[0]; k++)
        release_mem(mems[k]);
    for (int k = 0; k < K_COUNT; k++)
        if (c->kernel[k])
            clReleaseKernel(c->kernel[k]);
    if (c->program)
        clReleaseProgram(c->program);
    if (c->queue)
        clReleaseCommandQueue(c->queue);
    if (c->context)
        clReleaseContext(c->context);
    free(c->partial_host);
    free(c->send_buf);
    free(c->ghost_buf);
    free(c->stage);
    ct_step_core_free(&c->core);
    free(c);
}

static ct_status make_buffer(ct_backend_ctx *c, cl_mem *out, size_t bytes, const void *host, const char *what)
{
    cl_int err = CL_SUCCESS;
    if (bytes == 0)
        bytes = 8; /* OpenCL refuses empty buffers; a placeholder keeps kernel arguments valid */
    *out = clCreateBuffer(c->context, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes, (void *)host,
                          &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return ct_error_set(CT_ERR_BACKEND, "opencl backend: clCreateBuffer(%s, %zu bytes) failed: %s (%d)", what,
                            bytes, cl_err_name(err), (int)err);
    }
    return CT_OK;
}

/* Sets the arguments of kernel k from a format: 'i' int, 'u' uint32_t, 'r' ct_real (passed as double),
 * 'a' ct_acc (passed as double), 'm' cl_mem, 'l' local memory of size_t bytes. */
static ct_status set_args(ct_backend_ctx *c, int k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl_int err = CL_SUCCESS;
    cl_uint idx = 0;
    for (const char *f = fmt; *f && err == CL_SUCCESS; f++, idx++) {
        switch (*f) {
        case 'i': {
            cl_int v = va_arg(ap, int);
            err = clSetKernelArg(c->kernel[k], idx, sizeof v, &v);
            break;
        }
        case 'u': {
            cl_uint v = va_arg(ap, uint32_t);
            err = clSetKernelArg(c->kernel[k], idx, sizeof v, &v);
            break;
        }
        case 'r': {
            ct_real v = (ct_real)va_arg(ap, double);
            err = clSetKernelArg(c->kernel[k], idx, sizeof v, &v);
            break;
        }
        case 'a': {
            double v = va_arg(ap, double);
            float vf = (float)v;
            err = c->acc_size == sizeof v ? clSetKernelArg(c->kernel[k], idx, sizeof v, &v)
                                          : clSetKernelArg(c->kernel[k], idx, sizeof vf, &vf);
            break;
        }
        case 'm': {
            cl_mem v = va_arg(ap, cl_mem);
            err = clSetKernelArg(c->kernel[k], idx, sizeof v, &v);
            break;
        }
        case 'l':
            err = clSetKernelArg(c->kernel[k], idx, va_arg(ap, size_t), NULL);
            break;
        default:
            va_end(ap);
            return ct_error_set(CT_ERR_INTERNAL, "opencl backend: bad argument format '%c'", *f);
        }
    }
    va_end(ap);
    if (err != CL_SUCCESS)
        return ct_error_set(CT_ERR_BACKEND, "opencl backend: clSetKernelArg(%s, %u) failed: %s (%d)", kernel_names[k],
                            (unsigned)idx - 1, cl_err_name(err), (int)err);
    return CT_OK;
}

/* Enqueues kernel k over `global` work-items in work-groups of its local size. */
static ct_status enqueue(ct_backend_ctx *c, int k, size_t global)
{
    size_t local = c->local_size[k];
    cl_int err = clEnqueueNDRangeKernel(c->queue, c->kernel[k], 1, NULL, &global, &local, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return ct_error_set(CT_ERR_BACKEND, "opencl backend: clEnqueueNDRangeKernel(%s, %zu x %zu) failed: %s (%d)",
                            kernel_names[k], global / local, local, cl_err_name(err), (int)err);
    return CT_OK;
}

/* Enqueues node kernel k over nodes first..end-1 (its work-item k takes node first + k). */
static ct_status launch_nodes(ct_backend_ctx *c, int k, size_t first, size_t end)
{
    size_t local = c->local_size[k];
    return end <= first ? CT_OK : enqueue(c, k, (end - first + local - 1) / local * local);
}

/* Enqueues kernel k: one work-item per node, or red_groups work-groups for a reduction kernel. */
static ct_status launch(ct_backend_ctx *c, int k)
{
    if (k == K_SPMV_DOT || k == K_CG_INIT || k == K_CG_UPDATE || k == K_CG_START_IMPLICIT)
        return enqueue(c, k, c->red_groups * c->local_size[k]);
    return launch_nodes(c, k, 0, c->core.n);
}

/* Sets the 7 beat-tracking arguments (CT_BEAT_PARAMS of monodomain.cl) of kernel k from argument index idx. */
static ct_status set_beat_args(ct_backend_ctx *c, int k, cl_uint idx)
{
    cl_int mb = c->core.max_beats;
    OCL_TRY(clSetKernelArg(c->kernel[k], idx, sizeof mb, &mb), "clSetKernelArg(max_beats)");
    cl_mem *mems[] = {&c->beat_count, &c->beat_phase, &c->v_rest, &c->v_peak, &c->beat_act, &c->beat_rep};
    for (cl_uint a = 0; a < 6; a++) {
        cl_mem m = c->core.max_beats > 0 ? *mems[a] : c->beat_none;
        OCL_TRY(clSetKernelArg(c->kernel[k], idx + 1 + a, sizeof m, &m), "clSetKernelArg(beat buffer)");
    }
    return CT_OK;
}

/* Blocking read of the `nsum` partial sums of every work-group of the last reduction; sums[k] gets their total,
 * added in double in group order. */
static ct_status read_sums(ct_backend_ctx *c, int nsum, double *sums)
{
    size_t count = c->red_groups * (size_t)nsum;
    OCL_TRY(clEnqueueReadBuffer(c->queue, c->partial, CL_TRUE, 0, count * c->acc_size, c->partial_host, 0, NULL,
                                NULL),
            "clEnqueueReadBuffer(CG partial sums)");
    for (int k = 0; k < nsum; k++)
        sums[k] = 0.0;
    for (size_t g = 0; g < c->red_groups; g++)
        for (int k = 0; k < nsum; k++) {
            size_t at = g * (size_t)nsum + (size_t)k;
            sums[k] += c->acc_size == sizeof(double) ? ((const double *)(const void *)c->partial_host)[at]
                                                     : (double)((const float *)(const void *)c->partial_host)[at];
        }
    return CT_OK;
}

/* Largest power of two <= x (x >= 1). */
static size_t pow2_floor(size_t x)
{
    size_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

/* Context, queue, program and kernels on the chosen device. */
static ct_status build_program(ct_backend_ctx *c, const ocl_device_choice *dev)
{
    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform, 0};
    c->context = clCreateContext(props, 1, &dev->device, NULL, NULL, &err);
    OCL_TRY(err, "clCreateContext");
    c->queue = clCreateCommandQueue(c->context, dev->device, 0, &err);
    OCL_TRY(err, "clCreateCommandQueue");

    /* The prelude keeps a*b+c as two roundings, as in the C reference (no fused multiply-add). */
    static const char prelude[] = "#pragma OPENCL FP_CONTRACT OFF\n";
    const char *sources[2] = {prelude, ct_opencl_source};
    size_t lengths[2] = {sizeof prelude - 1, ct_opencl_source_len};
    c->program = clCreateProgramWithSource(c->context, 2, sources, lengths, &err);
    OCL_TRY(err, "clCreateProgramWithSource");
    char options[128];
    snprintf(options, sizeof options, "%s%s", dev->fp64 ? "-DCT_HAVE_FP64 " : "",
#ifdef CT_REAL_FLOAT
             "-DCT_REAL_FLOAT"
#else
             ""
#endif
    );
    err = clBuildProgram(c->program, 1, &dev->device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[2048] = "";
        size_t full = 0;
        clGetProgramBuildInfo(c->program, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &full);
        char *whole = full ? malloc(full + 1) : NULL; /* owned here, freed below */
        if (whole && clGetProgramBuildInfo(c->program, dev->device, CL_PROGRAM_BUILD_LOG, full, whole, NULL) ==
                         CL_SUCCESS) {
            whole[full] = '\0';
            snprintf(log, sizeof log, "%s", whole); /* the first 2047 characters */
        }
        free(whole);
        log[sizeof log - 1] = '\0';
        return ct_error_set(CT_ERR_BACKEND,
                            "opencl backend: clBuildProgram(options \"%s\") on %s failed: %s (%d); build log:\n%s",
                            options, dev->name, cl_err_name(err), (int)err, log);
    }

    size_t dev_max = 1;
    OCL_TRY(clGetDeviceInfo(dev->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof dev_max, &dev_max, NULL),
            "clGetDeviceInfo(CL_DEVICE_MAX_WORK_GROUP_SIZE)");
    size_t red_local = OCL_WG;
    for (int k = 0; k < K_COUNT; k++) {
        c->kernel[k] = clCreateKernel(c->program, kernel_names[k], &err);
        if (err != CL_SUCCESS)
            return ct_error_set(CT_ERR_BACKEND, "opencl backend: clCreateKernel(%s) failed: %s (%d)", kernel_names[k],
                                cl_err_name(err), (int)err);
        size_t kmax = dev_max;
        OCL_TRY(clGetKernelWorkGroupInfo(c->kernel[k], dev->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax,
                                         NULL),
                "clGetKernelWorkGroupInfo(CL_KERNEL_WORK_GROUP_SIZE)");
        size_t local = OCL_WG;
        if (local > kmax)
            local = kmax;
        if (local > dev_max)
            local = dev_max;
        c->local_size[k] = local > 0 ? local : 1;
        if ((k == K_SPMV_DOT || k == K_CG_INIT || k == K_CG_UPDATE || k == K_CG_START_IMPLICIT) &&
            c->local_size[k] < red_local)
            red_local = c->local_size[k];
    }
    red_local = pow2_floor(red_local);
    c->local_size[K_SPMV_DOT] = c->local_size[K_CG_INIT] = c->local_size[K_CG_UPDATE] = red_local;
    c->local_size[K_CG_START_IMPLICIT] = red_local;
    size_t groups = (c->core.n + red_local - 1) / red_local;
    c->red_groups = groups < OCL_MAX_RED_GROUPS ? groups : OCL_MAX_RED_GROUPS;
    if (c->red_groups == 0)
        c->red_groups = 1;
    return CT_OK;
}

/* Uploads the problem: the arrays of ct_diffusion_arrays_build, the CSR pattern, parameters and stimuli. */
static ct_status upload(ct_backend_ctx *c, const ct_backend_problem *pb)
{
    const ct_step_core *s = &c->core;
    size_t n = s->n, nnz = pb->stiffness->nnz, R = sizeof(ct_real);
    CT_CHECK(make_buffer(c, &c->params, (size_t)pb->n_param_sets * CT_MODEL_NPARAM * R, pb->param_sets, "params"));
    CT_CHECK(make_buffer(c, &c->node_set, s->use_node_set ? n : 1, s->use_node_set ? pb->node_param_set : NULL,
                         "node_set"));
    CT_CHECK(make_buffer(c, &c->stim_mask, s->has_stim ? n * sizeof(uint32_t) : 4, s->has_stim ? pb->stim_mask : NULL,
                         "stim_mask"));
    CT_CHECK(make_buffer(c, &c->amp, CT_MAX_STIMULI * R, NULL, "amp"));
    CT_CHECK(make_buffer(c, &c->lut, s->lut_len * R, s->lut, "ionic lookup table"));
    CT_CHECK(make_buffer(c, &c->y, (size_t)s->nstate * n * R, NULL, "y"));
    CT_CHECK(make_buffer(c, &c->vm, n * R, NULL, "vm"));
    CT_CHECK(make_buffer(c, &c->vm_prev, n * R, NULL, "vm_prev"));
    CT_CHECK(make_buffer(c, &c->tmp, n * R, NULL, "tmp"));
    CT_CHECK(make_buffer(c, &c->act, n * c->acc_size, NULL, "activation"));
    CT_CHECK(make_buffer(c, &c->row_ptr, (n + 1) * sizeof(int32_t), pb->stiffness->row_ptr, "row_ptr"));
    CT_CHECK(make_buffer(c, &c->col, nnz * sizeof(int32_t), pb->stiffness->col, "col"));
    CT_CHECK(make_buffer(c, &c->beat_none, 8, NULL, "beat placeholder"));
    if (s->max_beats > 0) {
        size_t nb = (size_t)s->max_beats * n;
        CT_CHECK(make_buffer(c, &c->beat_count, n * sizeof(cl_int), NULL, "beat count"));
        CT_CHECK(make_buffer(c, &c->beat_phase, n * sizeof(cl_int), NULL, "beat phase"));
        CT_CHECK(make_buffer(c, &c->v_rest, n * c->acc_size, NULL, "v_rest"));
        CT_CHECK(make_buffer(c, &c->v_peak, n * c->acc_size, NULL, "v_peak"));
        CT_CHECK(make_buffer(c, &c->beat_act, nb * c->acc_size, NULL, "beat activation"));
        CT_CHECK(make_buffer(c, &c->beat_rep, nb * c->acc_size, NULL, "beat repolarisation"));
    }
    int bad_init = INT_MAX;
    CT_CHECK(make_buffer(c, &c->bad, sizeof bad_init, &bad_init, "bad"));
    c->partial_host = malloc(c->red_groups * OCL_MAX_NSUM * c->acc_size);
    if (!c->partial_host)
        return ct_error_set(CT_ERR_NOMEM, "opencl backend: out of memory");
    CT_CHECK(make_buffer(c, &c->partial, c->red_groups * OCL_MAX_NSUM * c->acc_size, NULL, "partial"));

    ct_diffusion_arrays h; /* host arrays, freed below */
    CT_CHECK(ct_diffusion_arrays_build(s, pb, &h));
    ct_status st = make_buffer(c, &c->k_val, nnz * R, h.k_val, "k_val");
    if (st == CT_OK)
        st = make_buffer(c, &c->inv_mass, n * R, h.inv_mass, "inv_mass");
    if (st == CT_OK && s->use_cg) {
        st = make_buffer(c, &c->a_val, nnz * R, h.a_val, "a_val");
        if (st == CT_OK && h.m_val)
            st = make_buffer(c, &c->m_val, nnz * R, h.m_val, "m_val");
        if (st == CT_OK)
            st = make_buffer(c, &c->mass_over_dt, n * R, h.mass_over_dt, "mass_over_dt");
        if (st == CT_OK)
            st = make_buffer(c, &c->inv_diag, n * R, h.inv_diag, "inv_diag");
        cl_mem *work[] = {&c->r, &c->z, &c->p, &c->q, &c->b};
        for (int k = 0; k < 5 && st == CT_OK; k++)
            st = make_buffer(c, work[k], n * R, NULL, "CG work vector");
    }
    ct_diffusion_arrays_free(&h);
    return st;
}

/* The halo's host buffers (backend.h), if pb has a halo. */
static ct_status alloc_halo(ct_backend_ctx *c)
{
    const ct_step_core *s = &c->core;
    if (!s->has_halo)
        return CT_OK;
    c->send_buf = malloc((s->halo.n_send + 1) * sizeof *c->send_buf);
    c->ghost_buf = malloc((s->n - s->n_owned + 1) * sizeof *c->ghost_buf);
    c->stage = malloc((s->n + 1) * sizeof *c->stage);
    if (!c->send_buf || !c->ghost_buf || !c->stage)
        return ct_error_set(CT_ERR_NOMEM, "opencl backend: out of memory for the halo");
    return CT_OK;
}

static const ct_device_ops ocl_device_ops;

/* vm <- the given initial Vm (n values, mV), rounded to ct_real; blocking, after ct_init in the queue. */
static ct_status upload_initial_vm(ct_backend_ctx *c, const double *vm_mV)
{
    size_t n = c->core.n;
    ct_real *h = malloc(n * sizeof *h); /* owned here, freed below */
    if (!h)
        return ct_error_set(CT_ERR_NOMEM, "opencl backend: out of memory for the initial Vm");
    for (size_t i = 0; i < n; i++)
        h[i] = (ct_real)vm_mV[i];
    cl_int err = clEnqueueWriteBuffer(c->queue, c->vm, CL_TRUE, 0, n * sizeof *h, h, 0, NULL, NULL);
    free(h);
    OCL_TRY(err, "clEnqueueWriteBuffer(initial Vm)");
    return CT_OK;
}

static ct_status ocl_create_in(ct_backend_ctx *c, const ct_backend_problem *pb)
{
    CT_CHECK(ct_step_core_init(&c->core, pb, "opencl", &ocl_device_ops, c));
    CT_CHECK(alloc_halo(c));
    ocl_device_choice dev;
    CT_CHECK(pick_device(&dev));
    snprintf(c->device_name, sizeof c->device_name, "%s", dev.name);
    c->acc_size = dev.fp64 ? sizeof(double) : sizeof(float);
    CT_CHECK(build_program(c, &dev));
    CT_CHECK(upload(c, pb));
    const ct_step_core *s = &c->core;
    CT_CHECK(set_args(c, K_INIT, "iimmmmmi", s->model, (int)s->n, c->y, c->vm, c->act, c->params, c->node_set,
                      s->use_node_set));
    CT_CHECK(launch(c, K_INIT));
    if (pb->initial_vm_mV) /* the given Vm replaces the model's; its ionic state stays */
        CT_CHECK(upload_initial_vm(c, pb->initial_vm_mV));
    if (s->max_beats > 0) {
        CT_CHECK(set_args(c, K_BEAT_INIT, "im", (int)s->n, c->vm));
        CT_CHECK(set_beat_args(c, K_BEAT_INIT, 2));
        CT_CHECK(launch(c, K_BEAT_INIT));
    }
    if (s->cg_extrapolate) { /* no guess yet: the first step's vm_prev equals vm, so its start is V* */
        CT_CHECK(make_buffer(c, &c->vstar_prev, s->n * sizeof(ct_real), NULL, "vstar_prev"));
        OCL_TRY(clEnqueueCopyBuffer(c->queue, c->vm, c->vstar_prev, 0, 0, s->n * sizeof(ct_real), 0, NULL, NULL),
                "clEnqueueCopyBuffer(vstar_prev)");
    }
    OCL_TRY(clFinish(c->queue), "clFinish(ct_init)");
    return CT_OK;
}

static ct_status ocl_create(const ct_backend_problem *pb, ct_backend_ctx **out)
{
    *out = NULL;
    if (pb->n_nodes == 0 || pb->n_nodes > (size_t)INT_MAX / 2 || pb->stiffness->nnz > (size_t)INT_MAX)
        return ct_error_set(CT_ERR_BACKEND, "opencl backend: %zu nodes / %zu nonzeros is outside the int32 indexing",
                            pb->n_nodes, pb->stiffness->nnz);
    ct_backend_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ct_error_set(CT_ERR_NOMEM, "opencl backend: out of memory");
    ct_status st = ocl_create_in(c, pb);
    if (st != CT_OK) {
        ocl_destroy(c);
        return st;
    }
    *out = c;
    return CT_OK;
}

/* ---- device primitives (ct_step.h) ------------------------------------------------------------ */

static cl_mem vec(ct_backend_ctx *c, int id)
{
    switch (id) {
    case CT_VEC_VM: return c->vm;
    case CT_VEC_TMP: return c->tmp;
    case CT_VEC_Q: return c->q;
    default: return c->p;
    }
}

static ct_status ocl_react(void *dev, size_t r0, size_t r1, uint32_t active, const ct_real *amp, ct_real dt)
{
    ct_backend_ctx *c = dev;
    const ct_step_core *s = &c->core;
    if (active && (!c->amp_valid || memcmp(amp, c->amp_host, sizeof c->amp_host) != 0)) {
        /* the stimulus amplitudes: rewritten only when they change (usually once per run) */
        memcpy(c->amp_host, amp, sizeof c->amp_host);
        OCL_TRY(clEnqueueWriteBuffer(c->queue, c->amp, CL_TRUE, 0, sizeof c->amp_host, c->amp_host, 0, NULL, NULL),
                "clEnqueueWriteBuffer(stimulus amplitudes)");
        c->amp_valid = 1;
    }
    CT_CHECK(set_args(c, K_REACTION, "iiiimmmmmimumrmi", s->model, (int)s->n, (int)r0, (int)r1, c->y, c->vm,
                      c->vm_prev, c->params, c->node_set, s->use_node_set, c->stim_mask, active, c->amp, (double)dt,
                      c->lut, s->lut != NULL));
    return launch_nodes(c, K_REACTION, r0, r1);
}

static ct_status ocl_spmv(void *dev, int mat, int x, int y, size_t r0, size_t r1)
{
    ct_backend_ctx *c = dev;
    cl_mem val = mat == CT_MAT_K ? c->k_val : mat == CT_MAT_M ? c->m_val : c->a_val;
    CT_CHECK(set_args(c, K_SPMV, "iimmmmm", (int)r0, (int)r1, c->row_ptr, c->col, val, vec(c, x), vec(c, y)));
    return launch_nodes(c, K_SPMV, r0, r1);
}

static ct_status ocl_explicit_lumped(void *dev, ct_real dt, double t_ms, int *detected)
{
    ct_backend_ctx *c = dev;
    const ct_step_core *s = &c->core;
    CT_CHECK(set_args(c, K_EXPLICIT_LUMPED, "immmmmrmmmaaaam", (int)s->n, c->row_ptr, c->col, c->k_val, c->vm,
                      c->inv_mass, (double)dt, c->tmp, c->vm_prev, c->act, t_ms, s->dt_ms, s->threshold_mV, s->bound_mV,
                      c->bad));
    CT_CHECK(set_beat_args(c, K_EXPLICIT_LUMPED, 15));
    CT_CHECK(launch(c, K_EXPLICIT_LUMPED));
    cl_mem swap = c->vm;
    c->vm = c->tmp;
    c->tmp = swap;
    *detected = 1;
    return CT_OK;
}

static ct_status ocl_rhs_explicit(void *dev, ct_real dt)
{
    ct_backend_ctx *c = dev;
    CT_CHECK(set_args(c, K_RHS_EXPLICIT_CONSISTENT, "irmmmm", (int)c->core.n, (double)dt, c->q, c->inv_diag, c->b,
                      c->tmp));
    return launch(c, K_RHS_EXPLICIT_CONSISTENT);
}

static ct_status ocl_add_tmp(void *dev, double t_ms, int *detected)
{
    ct_backend_ctx *c = dev;
    const ct_step_core *s = &c->core;
    CT_CHECK(set_args(c, K_ADD_DETECT, "immmmaaaam", (int)s->n, c->vm, c->tmp, c->vm_prev, c->act, t_ms, s->dt_ms,
                      s->threshold_mV, s->bound_mV, c->bad));
    CT_CHECK(set_beat_args(c, K_ADD_DETECT, 10));
    CT_CHECK(launch(c, K_ADD_DETECT));
    *detected = 1;
    return CT_OK;
}

/* Detection at every node (a ghost's result is never used: the driver reports owned nodes only). */
static ct_status ocl_detect(void *dev, double t_ms)
{
    ct_backend_ctx *c = dev;
    const ct_step_core *s = &c->core;
    CT_CHECK(set_args(c, K_DETECT, "immmaaaam", (int)s->n, c->vm, c->vm_prev, c->act, t_ms, s->dt_ms, s->threshold_mV,
                      s->bound_mV, c->bad));
    CT_CHECK(set_beat_args(c, K_DETECT, 9));
    return launch(c, K_DETECT);
}

/* The one read of every step: the blow-up flag (blocking, so the step is complete on return). */
static ct_status ocl_blown_up(void *dev, long *node, double *vm_mV)
{
    ct_backend_ctx *c = dev;
    cl_int bad = INT_MAX;
    OCL_TRY(clEnqueueReadBuffer(c->queue, c->bad, CL_TRUE, 0, sizeof bad, &bad, 0, NULL, NULL),
            "clEnqueueReadBuffer(blow-up flag)");
    *node = -1;
    if (bad == INT_MAX)
        return CT_OK;
    ct_real v = 0;
    OCL_TRY(clEnqueueReadBuffer(c->queue, c->vm, CL_TRUE, (size_t)bad * sizeof v, sizeof v, &v, 0, NULL, NULL),
            "clEnqueueReadBuffer(blown-up Vm)");
    cl_int reset = INT_MAX;
    OCL_TRY(clEnqueueWriteBuffer(c->queue, c->bad, CL_TRUE, 0, sizeof reset, &reset, 0, NULL, NULL),
            "clEnqueueWriteBuffer(blow-up flag)");
    *node = (long)bad;
    *vm_mV = (double)v;
    return CT_OK;
}

static ct_status ocl_cg_start(void *dev, double sums[3])
{
    ct_backend_ctx *c = dev;
    size_t red_bytes = c->local_size[K_CG_INIT] * OCL_MAX_NSUM * c->acc_size;
    CT_CHECK(set_args(c, K_CG_INIT, "immmmmmml", (int)c->core.n_owned, c->b, c->q, c->inv_diag, c->r, c->z, c->p,
                      c->partial, red_bytes));
    CT_CHECK(launch(c, K_CG_INIT));
    return read_sums(c, 3, sums);
}

static ct_status ocl_cg_start_implicit(void *dev, ct_real dt, ct_real one_minus_theta, double sums[3])
{
    ct_backend_ctx *c = dev;
    size_t red_bytes = c->local_size[K_CG_START_IMPLICIT] * OCL_MAX_NSUM * c->acc_size;
    int ex = c->core.cg_extrapolate;
    cl_mem m_val = c->core.consistent ? c->m_val : c->k_val; /* not read without consistent mass */
    cl_mem vsp = ex ? c->vstar_prev : c->vm;                 /* not read without the extrapolation */
    CT_CHECK(set_args(c, K_CG_START_IMPLICIT, "iiiirrmmmmmmmmmmmmmmml", (int)c->core.n_owned, c->core.consistent,
                      c->core.lumped_ionic, ex,
                      (double)dt, (double)one_minus_theta, c->row_ptr, c->col, c->k_val, m_val, c->a_val,
                      c->mass_over_dt, c->vm, c->vm_prev, vsp, c->inv_diag, c->tmp, c->r, c->z, c->p, c->partial,
                      red_bytes));
    CT_CHECK(launch(c, K_CG_START_IMPLICIT));
    return read_sums(c, 3, sums);
}

/* The extrapolated start's end (ct_step.h cg_accept) by rotating buffers (every kernel takes its buffers as
 * arguments at launch): vstar_prev <- vm (V*), vm <- tmp (the solution), the old vstar_prev becomes tmp. */
static ct_status ocl_cg_accept(void *dev)
{
    ct_backend_ctx *c = dev;
    cl_mem old_vsp = c->vstar_prev;
    c->vstar_prev = c->vm;
    c->vm = c->tmp;
    c->tmp = old_vsp;
    return CT_OK;
}

static ct_status ocl_cg_product(void *dev, size_t r0, double *pq)
{
    ct_backend_ctx *c = dev;
    size_t red_bytes = c->local_size[K_SPMV_DOT] * OCL_MAX_NSUM * c->acc_size;
    CT_CHECK(set_args(c, K_SPMV_DOT, "iimmmmmml", (int)c->core.n_owned, (int)r0, c->row_ptr, c->col, c->a_val, c->p,
                      c->q, c->partial, red_bytes));
    CT_CHECK(launch(c, K_SPMV_DOT));
    return read_sums(c, 1, pq);
}

static ct_status ocl_cg_update(void *dev, int x, double alpha, double sums[2])
{
    ct_backend_ctx *c = dev;
    size_t red_bytes = c->local_size[K_CG_UPDATE] * OCL_MAX_NSUM * c->acc_size;
    CT_CHECK(set_args(c, K_CG_UPDATE, "irmmmmmmml", (int)c->core.n_owned, alpha, vec(c, x), c->p, c->q, c->inv_diag,
                      c->r, c->z, c->partial, red_bytes));
    CT_CHECK(launch(c, K_CG_UPDATE));
    return read_sums(c, 2, sums);
}

static ct_status ocl_cg_direction(void *dev, double beta)
{
    ct_backend_ctx *c = dev;
    CT_CHECK(set_args(c, K_CG_DIRECTION, "irmm", (int)c->core.n_owned, beta, c->z, c->p));
    return launch_nodes(c, K_CG_DIRECTION, 0, c->core.n_owned);
}

/* Reads device vector x's boundary range (n_interior..n_owned-1, where every value to send lies) in one
 * blocking read and picks out the values to send. */
static ct_status ocl_halo_pack(void *dev, int xid, const double **send, double **ghost)
{
    ct_backend_ctx *c = dev;
    const ct_step_core *s = &c->core;
    size_t R = sizeof(ct_real), nb = s->n_owned - s->n_interior;
    if (nb > 0)
        OCL_TRY(clEnqueueReadBuffer(c->queue, vec(c, xid), CL_TRUE, s->n_interior * R, nb * R,
                                    c->stage + s->n_interior, 0, NULL, NULL),
                "clEnqueueReadBuffer(halo send values)");
    for (size_t k = 0; k < s->halo.n_send; k++)
        c->send_buf[k] = (double)c->stage[s->send_idx[k]];
    *send = c->send_buf;
    *ghost = c->ghost_buf;
    return CT_OK;
}

/* Writes the ghost range of device vector x, contiguous at the end, in one call. */
static ct_status ocl_halo_unpack(void *dev, int xid)
{
    ct_backend_ctx *c = dev;
    const ct_step_core *s = &c->core;
    size_t R = sizeof(ct_real), n_ghost = s->n - s->n_owned;
    for (size_t g = 0; g < n_ghost; g++)
        c->stage[s->n_owned + g] = (ct_real)c->ghost_buf[g];
    if (n_ghost > 0)
        OCL_TRY(clEnqueueWriteBuffer(c->queue, vec(c, xid), CL_TRUE, s->n_owned * R, n_ghost * R,
                                     c->stage + s->n_owned, 0, NULL, NULL),
                "clEnqueueWriteBuffer(halo ghost values)");
    return CT_OK;
}

static ct_status ocl_flush(void *dev)
{
    ct_backend_ctx *c = dev;
    OCL_TRY(clFlush(c->queue), "clFlush");
    return CT_OK;
}

static ct_status ocl_finish(void *dev) /* the step timer's phase boundary (ct_step_timing) */
{
    ct_backend_ctx *c = dev;
    OCL_TRY(clFinish(c->queue), "clFinish");
    return CT_OK;
}

static const ct_device_ops ocl_device_ops = {
    .react = ocl_react,
    .spmv = ocl_spmv,
    .explicit_lumped = ocl_explicit_lumped,
    .rhs_explicit = ocl_rhs_explicit,
    .add_tmp = ocl_add_tmp,
    .detect = ocl_detect,
    .blown_up = ocl_blown_up,
    .cg_start = ocl_cg_start,
    .cg_product = ocl_cg_product,
    .cg_update = ocl_cg_update,
    .cg_direction = ocl_cg_direction,
    .halo_pack = ocl_halo_pack,
    .halo_unpack = ocl_halo_unpack,
    .flush = ocl_flush,
    .finish = ocl_finish,
    .cg_start_implicit = ocl_cg_start_implicit,
    .cg_accept = ocl_cg_accept,
};

/* ---- the backend ------------------------------------------------------------------------------ */

static ct_status ocl_step(ct_backend_ctx *c, double t_ms, uint32_t stim_active, const double *stim_amp,
                          ct_step_report *rep)
{
    return ct_step_run(&c->core, t_ms, stim_active, stim_amp, rep);
}

static ct_status ocl_download(ct_backend_ctx *c, enum ct_field field, double *host)
{
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    size_t n = c->core.n;
    size_t elem;
    cl_mem src;
    if (c->core.max_beats <= 0 && (field == CT_FIELD_BEAT_ACTIVATION_MS || field == CT_FIELD_BEAT_REPOLARISATION_MS ||
                              field == CT_FIELD_BEAT_COUNT))
        return ct_error_set(CT_ERR_INTERNAL, "opencl backend: field %d needs max_beats > 0", (int)field);
    if (field == CT_FIELD_BEAT_COUNT) {
        cl_int *counts = malloc(n * sizeof *counts); /* owned here, freed below */
        if (!counts)
            return ct_error_set(CT_ERR_NOMEM, "opencl backend: out of memory for a download of %zu values", n);
        cl_int err = clEnqueueReadBuffer(c->queue, c->beat_count, CL_TRUE, 0, n * sizeof *counts, counts, 0, NULL,
                                         NULL);
        if (err == CL_SUCCESS)
            for (size_t i = 0; i < n; i++)
                host[i] = (double)counts[i];
        free(counts);
        OCL_TRY(err, "clEnqueueReadBuffer(beat count)");
        return CT_OK;
    }
    if (field == CT_FIELD_VM) {
        elem = sizeof(ct_real);
        src = c->vm;
    } else if (field == CT_FIELD_ACTIVATION_MS) {
        elem = c->acc_size;
        src = c->act;
    } else if (field == CT_FIELD_BEAT_ACTIVATION_MS || field == CT_FIELD_BEAT_REPOLARISATION_MS) {
        elem = c->acc_size;
        src = field == CT_FIELD_BEAT_ACTIVATION_MS ? c->beat_act : c->beat_rep;
        n *= (size_t)c->core.max_beats;
    } else {
        return ct_error_set(CT_ERR_INTERNAL, "opencl backend: unknown field %d", (int)field);
    }
    if (elem == sizeof(double)) { /* straight into the caller's array */
        OCL_TRY(clEnqueueReadBuffer(c->queue, src, CL_TRUE, 0, n * elem, host, 0, NULL, NULL),
                "clEnqueueReadBuffer(download)");
        return CT_OK;
    }
    float *stage = malloc(n * sizeof *stage); /* owned here, freed below */
    if (!stage)
        return ct_error_set(CT_ERR_NOMEM, "opencl backend: out of memory for a download of %zu values", n);
    cl_int err = clEnqueueReadBuffer(c->queue, src, CL_TRUE, 0, n * elem, stage, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        for (size_t i = 0; i < n; i++)
            host[i] = (double)stage[i];
    free(stage);
    OCL_TRY(err, "clEnqueueReadBuffer(download)");
    return CT_OK;
}

/* The dynamic state as (buffer, bytes) segments, in the order of the state blob (backend.h). */
static int ocl_state_segments(ct_backend_ctx *c, cl_mem *mem, size_t *bytes)
{
    size_t n = c->core.n, nb = (size_t)c->core.max_beats * n;
    int k = 0;
    mem[k] = c->y, bytes[k++] = (size_t)c->core.nstate * n * sizeof(ct_real);
    mem[k] = c->vm, bytes[k++] = n * sizeof(ct_real);
    mem[k] = c->vm_prev, bytes[k++] = n * sizeof(ct_real);
    mem[k] = c->act, bytes[k++] = n * c->acc_size;
    if (c->vstar_prev)
        mem[k] = c->vstar_prev, bytes[k++] = n * sizeof(ct_real);
    if (c->core.max_beats > 0) {
        mem[k] = c->beat_count, bytes[k++] = n * sizeof(cl_int);
        mem[k] = c->beat_phase, bytes[k++] = n * sizeof(cl_int);
        mem[k] = c->v_rest, bytes[k++] = n * c->acc_size;
        mem[k] = c->v_peak, bytes[k++] = n * c->acc_size;
        mem[k] = c->beat_act, bytes[k++] = nb * c->acc_size;
        mem[k] = c->beat_rep, bytes[k++] = nb * c->acc_size;
    }
    return k;
}

static size_t ocl_state_size(ct_backend_ctx *c)
{
    cl_mem mem[11];
    size_t bytes[11], total = 0;
    int k = ocl_state_segments(c, mem, bytes);
    for (int s = 0; s < k; s++)
        total += bytes[s];
    return total;
}

static ct_status ocl_save_state(ct_backend_ctx *c, void *buf)
{
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    cl_mem mem[11];
    size_t bytes[11], off = 0;
    int k = ocl_state_segments(c, mem, bytes);
    for (int s = 0; s < k; off += bytes[s], s++)
        OCL_TRY(clEnqueueReadBuffer(c->queue, mem[s], CL_TRUE, 0, bytes[s], (char *)buf + off, 0, NULL, NULL),
                "clEnqueueReadBuffer(state)");
    return CT_OK;
}

static ct_status ocl_load_state(ct_backend_ctx *c, const void *buf)
{
    CT_CHECK(ct_step_vm_halo_end(&c->core));
    cl_mem mem[11];
    size_t bytes[11], off = 0;
    int k = ocl_state_segments(c, mem, bytes);
    for (int s = 0; s < k; off += bytes[s], s++)
        OCL_TRY(clEnqueueWriteBuffer(c->queue, mem[s], CL_TRUE, 0, bytes[s], (const char *)buf + off, 0, NULL,
                                     NULL),
                "clEnqueueWriteBuffer(state)");
    return CT_OK;
}

const ct_backend_ops ct_backend_opencl = {
    .name = "opencl",
    .probe = ocl_probe,
    .runs_on_host_cpu = ocl_runs_on_host_cpu,
    .create = ocl_create,
    .destroy = ocl_destroy,
    .step = ocl_step,
    .download = ocl_download,
    .state_size = ocl_state_size,
    .save_state = ocl_save_state,
    .load_state = ocl_load_state,
};
