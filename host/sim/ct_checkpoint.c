/* ct_checkpoint.c — checkpoint files (format in ct_checkpoint.h). */
#include "ct_checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/ct_files.h"
#include "core/ct_hash.h"

static const char k_magic[8] = {'C', 'T', 'C', 'K', 'P', 'T', '0', '1'};

/* The fixed header, written field by field (no struct padding in the file). */
typedef struct header {
    char magic[8];
    uint32_t version;
    ct_checkpoint_id id;
    int64_t step;
    uint64_t state_bytes;
    int64_t cg_iterations_total;
    uint64_t n_frames, n_ecg_samples, n_ecg_leads;
} header;

ct_status ct_checkpoint_hash_file(const char *path, uint64_t *hash)
{
    char *data;
    size_t len;
    *hash = 0;
    CT_CHECK(ct_read_file(path, &data, &len));
    *hash = ct_fnv1a64(CT_FNV1A64_OFFSET, data, len);
    free(data);
    return CT_OK;
}

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static int put(buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q)
            return 0;
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
    return 1;
}

#define PUT(b, x) put((b), &(x), sizeof(x))

static int put_id(buf *b, const ct_checkpoint_id *id)
{
    return put(b, id->backend, sizeof id->backend) && PUT(b, id->n_nodes) && PUT(b, id->model) &&
           PUT(b, id->dt_ms) && PUT(b, id->config_hash) && PUT(b, id->ranks) && PUT(b, id->rank);
}

ct_status ct_checkpoint_write(const char *path, const ct_checkpoint *c)
{
    buf b = {0};
    uint32_t version = CT_CHECKPOINT_VERSION;
    int ok = put(&b, k_magic, sizeof k_magic) && PUT(&b, version) && put_id(&b, &c->id) && PUT(&b, c->step) &&
             PUT(&b, c->state_bytes) && PUT(&b, c->cg_iterations_total) && PUT(&b, c->n_frames) &&
             PUT(&b, c->n_ecg_samples) && PUT(&b, c->n_ecg_leads) && put(&b, c->state, c->state_bytes) &&
             put(&b, c->frame_times_ms, c->n_frames * sizeof(double)) &&
             put(&b, c->ecg_times_ms, c->n_ecg_samples * sizeof(double)) &&
             put(&b, c->ecg_values, c->n_ecg_samples * c->n_ecg_leads * sizeof(double));
    uint32_t crc = ok ? (uint32_t)crc32(0L, b.p, (uInt)0) : 0;
    for (size_t off = 0; ok && off < b.len;) { /* crc32 takes uInt lengths */
        size_t chunk = b.len - off > (1u << 30) ? (1u << 30) : b.len - off;
        crc = (uint32_t)crc32(crc, b.p + off, (uInt)chunk);
        off += chunk;
    }
    if (ok)
        ok = PUT(&b, crc);
    if (!ok) {
        free(b.p);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for a checkpoint of %zu bytes", path, b.len);
    }
    ct_status st = ct_write_file_atomic(path, b.p, b.len);
    free(b.p);
    return st;
}

typedef struct reader {
    const unsigned char *p;
    size_t len, off;
} reader;

static int get(reader *r, void *dst, size_t n)
{
    if (r->len - r->off < n)
        return 0;
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return 1;
}

#define GET(r, x) get((r), &(x), sizeof(x))

static double *get_doubles(reader *r, uint64_t n, int *ok)
{
    if (!*ok || n > (r->len - r->off) / sizeof(double)) {
        *ok = 0;
        return NULL;
    }
    double *a = malloc(n * sizeof *a + 1);
    if (!a || !get(r, a, n * sizeof *a)) {
        free(a);
        *ok = 0;
        return NULL;
    }
    return a;
}

void ct_checkpoint_free(ct_checkpoint *c)
{
    free(c->state);
    free(c->frame_times_ms);
    free(c->ecg_times_ms);
    free(c->ecg_values);
    memset(c, 0, sizeof *c);
}

ct_status ct_checkpoint_read(const char *path, const ct_checkpoint_id *expect, ct_checkpoint *c)
{
    memset(c, 0, sizeof *c);
    char *data;
    size_t len;
    CT_CHECK(ct_read_file(path, &data, &len));
    reader r = {(const unsigned char *)data, len, 0};
    char magic[8];
    uint32_t version = 0, crc_stored = 0;
    ct_status st = CT_OK;
    if (!get(&r, magic, sizeof magic) || memcmp(magic, k_magic, sizeof magic) != 0) {
        st = ct_error_set(CT_ERR_PARSE, "%s: not a cardiotwin checkpoint (bad magic)", path);
        goto done;
    }
    if (len < sizeof crc_stored + sizeof magic) {
        st = ct_error_set(CT_ERR_PARSE, "%s: truncated checkpoint", path);
        goto done;
    }
    memcpy(&crc_stored, data + len - sizeof crc_stored, sizeof crc_stored);
    uint32_t crc = (uint32_t)crc32(0L, (const unsigned char *)data, 0);
    for (size_t off = 0; off < len - sizeof crc_stored;) {
        size_t chunk = len - sizeof crc_stored - off > (1u << 30) ? (1u << 30) : len - sizeof crc_stored - off;
        crc = (uint32_t)crc32(crc, (const unsigned char *)data + off, (uInt)chunk);
        off += chunk;
    }
    if (crc != crc_stored) {
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint is corrupt or truncated (CRC mismatch)", path);
        goto done;
    }
    r.len = len - sizeof crc_stored;
    if (!GET(&r, version) || version != CT_CHECKPOINT_VERSION) {
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint format version %u; this build reads version %u", path,
                          version, CT_CHECKPOINT_VERSION);
        goto done;
    }
    ct_checkpoint_id *id = &c->id;
    int ok = get(&r, id->backend, sizeof id->backend) && GET(&r, id->n_nodes) && GET(&r, id->model) &&
             GET(&r, id->dt_ms) && GET(&r, id->config_hash) && GET(&r, id->ranks) && GET(&r, id->rank) &&
             GET(&r, c->step) && GET(&r, c->state_bytes) && GET(&r, c->cg_iterations_total) &&
             GET(&r, c->n_frames) && GET(&r, c->n_ecg_samples) && GET(&r, c->n_ecg_leads);
    id->backend[sizeof id->backend - 1] = '\0';
    if (ok && c->state_bytes <= r.len - r.off) {
        c->state = malloc(c->state_bytes + 1);
        ok = c->state && get(&r, c->state, c->state_bytes);
    } else {
        ok = 0;
    }
    c->frame_times_ms = get_doubles(&r, c->n_frames, &ok);
    c->ecg_times_ms = get_doubles(&r, c->n_ecg_samples, &ok);
    if (ok && c->n_ecg_leads && c->n_ecg_samples > UINT64_MAX / c->n_ecg_leads)
        ok = 0;
    c->ecg_values = get_doubles(&r, c->n_ecg_samples * c->n_ecg_leads, &ok);
    if (!ok || r.off != r.len) {
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint sections do not add up to the file (corrupt)", path);
        goto done;
    }
    if (expect) {
        if (strcmp(id->backend, expect->backend) != 0)
            st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of the %s backend; this run uses %s", path, id->backend,
                              expect->backend);
        else if (id->n_nodes != expect->n_nodes)
            st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of a mesh of %llu nodes; this one has %llu", path,
                              (unsigned long long)id->n_nodes, (unsigned long long)expect->n_nodes);
        else if (id->config_hash != expect->config_hash)
            st = ct_error_set(CT_ERR_CONFIG,
                              "%s: checkpoint written for another configuration (the configuration file changed)",
                              path);
        else if (id->model != expect->model || id->dt_ms != expect->dt_ms)
            st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of another model or time step", path);
        else if (id->ranks != expect->ranks)
            st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of a run on %u MPI rank(s); this run has %u: restart "
                              "with the rank count it was written with", path, id->ranks, expect->ranks);
        else if (id->rank != expect->rank)
            st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of rank %u of %u; this is rank %u", path, id->rank,
                              id->ranks, expect->rank);
    }
done:
    free(data);
    if (st != CT_OK)
        ct_checkpoint_free(c);
    return st;
}
