/* ct_mpi.c — MPI start-up, rank queries and the agreement helpers (see ct_mpi.h). */
#define _POSIX_C_SOURCE 200809L
#include "ct_mpi.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef CT_HAVE_MPI
#include <mpi.h>
#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h> /* MPIX_CUDA_AWARE_SUPPORT, MPIX_Query_cuda_support */
#endif
#endif

/* An integer from the environment, or -1 if unset or not a number. */
static long env_long(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return -1;
    char *end = NULL;
    long x = strtol(v, &end, 10);
    return (*end == '\0' && x >= 0) ? x : -1;
}

int ct_mpi_launched(void)
{
    const char *force = getenv("CT_MPI");
    if (force && strcmp(force, "1") == 0)
        return 1;
    return env_long("OMPI_COMM_WORLD_SIZE") >= 0 || env_long("PMI_SIZE") >= 0 || env_long("PMI_RANK") >= 0 ||
           env_long("PMIX_RANK") >= 0;
}

int ct_mpi_launched_size(void)
{
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        long v = env_long(names[k]);
        if (v > 0 && (k < 2 || ct_mpi_launched())) /* SLURM_NTASKS counts only under an MPI launch */
            return (int)v;
    }
    return 1;
}

int ct_mpi_launched_rank(void)
{
    const char *names[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        long v = env_long(names[k]);
        if (v >= 0)
            return (int)v;
    }
    return 0;
}

#ifdef CT_HAVE_MPI

static int g_started;             /* ct_mpi_init called MPI_Init */
static int g_rank, g_size = 1;    /* in MPI_COMM_WORLD */
static int g_local_rank, g_local_size = 1;
static int g_err_fd = -1;         /* the original stderr of a quietened rank */

/* Whether MPI is running (initialised and not finalised). */
static int running(void)
{
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

ct_status ct_mpi_init(int *argc, char ***argv)
{
    int already = 0;
    MPI_Initialized(&already);
    if (!already) {
        if (!ct_mpi_launched())
            return CT_OK;
        if (MPI_Init(argc, argv) != MPI_SUCCESS)
            return ct_error_set(CT_ERR_INTERNAL, "MPI_Init failed");
        g_started = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &g_local_rank);
        MPI_Comm_size(node, &g_local_size);
        MPI_Comm_free(&node);
    }
    if (g_size > 1 && !getenv("CT_LOCAL_RANK")) {
        char v[16];
        snprintf(v, sizeof v, "%d", g_local_rank);
        setenv("CT_LOCAL_RANK", v, 0);
    }
    return CT_OK;
}

void ct_mpi_quiet_other_ranks(void)
{
    if (!running() || g_rank == 0 || g_err_fd >= 0)
        return;
    fflush(stdout);
    fflush(stderr);
    int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd < 0)
        return;
    g_err_fd = dup(STDERR_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    close(null_fd);
}

void ct_mpi_finalize(void)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (g_started && !finalized)
        MPI_Finalize();
    g_started = 0;
}

int ct_mpi_rank(void) { return running() ? g_rank : 0; }
int ct_mpi_size(void) { return running() ? g_size : 1; }
int ct_mpi_local_rank(void) { return running() ? g_local_rank : 0; }
int ct_mpi_local_size(void) { return running() ? g_local_size : 1; }

ct_status ct_mpi_agree(ct_status st)
{
    if (!running() || g_size == 1)
        return st;
    int mine = st != CT_OK ? g_rank : g_size, first = g_size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == g_size)
        return CT_OK;
    struct {
        int status;
        char message[2000];
    } what;
    memset(&what, 0, sizeof what);
    if (g_rank == first) {
        what.status = (int)st;
        snprintf(what.message, sizeof what.message, "%s", ct_error_message());
    }
    MPI_Bcast(&what, (int)sizeof what, MPI_BYTE, first, MPI_COMM_WORLD);
    what.message[sizeof what.message - 1] = '\0';
    if (g_rank == first)
        return st;
    return ct_error_set((ct_status)what.status, "rank %d: %s", first, what.message);
}

void ct_mpi_abort(const char *message)
{
    char line[2300];
    int len = snprintf(line, sizeof line, "cardiotwin: rank %d: %s\n", ct_mpi_rank(), message);
    if (len > (int)sizeof line - 1)
        len = (int)sizeof line - 1;
    fflush(stderr);
    if (write(g_err_fd >= 0 ? g_err_fd : STDERR_FILENO, line, (size_t)len) < 0) {
        /* nowhere left to say it */
    }
    if (running())
        MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* Whether the library reports CUDA-awareness at run time: 1 yes, 0 no, -1 it cannot say. */
static int library_cuda_aware(const char **why)
{
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
    int yes = MPIX_Query_cuda_support();
    *why = yes ? "yes (built and enabled)" : "no (built in but disabled at run time)";
    return yes ? 1 : 0;
#elif defined(MPIX_CUDA_AWARE_SUPPORT)
    *why = "no (this MPI was built without it)";
    return 0;
#else
    *why = "unknown (no MPIX_Query_cuda_support): taken as no";
    return -1;
#endif
}

int ct_mpi_cuda_aware(void)
{
    const char *why, *off = getenv("CT_MPI_CUDA_AWARE");
    if (!running() || (off && strcmp(off, "0") == 0))
        return 0;
    return library_cuda_aware(&why) == 1;
}

const char *ct_mpi_describe(char *buf, size_t len)
{
    char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int lib_len = 0;
    MPI_Get_library_version(lib, &lib_len);
    char *eol = strpbrk(lib, ",\n");
    if (eol)
        *eol = '\0';
    const char *cuda;
    library_cuda_aware(&cuda);
    const char *off = getenv("CT_MPI_CUDA_AWARE");
    snprintf(buf, len, "MPI: %d ranks on %s; CUDA-aware: %s%s; a CUDA backend's halo goes %s", ct_mpi_size(),
             lib[0] ? lib : "unknown MPI", cuda, off && strcmp(off, "0") == 0 ? ", turned off by CT_MPI_CUDA_AWARE=0" : "",
             ct_mpi_cuda_aware() ? "device to device" : "through host memory");
    return buf;
}

#else /* no MPI: one process */

ct_status ct_mpi_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int n = ct_mpi_launched_size();
    if (n > 1)
        return ct_error_set(CT_ERR_CONFIG, "started as %d MPI ranks, but this cardiotwin was built without MPI (MPI and "
                                           "METIS were not found at configure time): it would run %d separate copies",
                            n, n);
    return CT_OK;
}

void ct_mpi_finalize(void) {}
void ct_mpi_quiet_other_ranks(void) {}
int ct_mpi_rank(void) { return 0; }
int ct_mpi_size(void) { return 1; }
int ct_mpi_local_rank(void) { return 0; }
int ct_mpi_local_size(void) { return 1; }
ct_status ct_mpi_agree(ct_status st) { return st; }

void ct_mpi_abort(const char *message)
{
    fprintf(stderr, "cardiotwin: %s\n", message);
    exit(1);
}

int ct_mpi_cuda_aware(void) { return 0; }

const char *ct_mpi_describe(char *buf, size_t len)
{
    snprintf(buf, len, "MPI: not compiled in (configure with MPI and METIS found, CT_ENABLE_MPI=ON)");
    return buf;
}

#endif
