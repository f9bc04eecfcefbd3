/* ct_checkpoint.c — checkpoint files (format in ct_checkpoint.h). */
#include "ct_checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/ct_files.h"
#include "core/ct_hash.h"

static const char k_magic[8] = {'C', 'T', 'C', 'K', 'P', 'T', '0', '1'};
static const char k_manifest_head[] = "cardiotwin split checkpoint, manifest format 1\n";

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

/* CRC-32 (zlib) continued over n more bytes, in chunks (crc32 takes uInt lengths). */
static uint32_t crc_more(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t off = 0; off < n;) {
        size_t chunk = n - off > (1u << 30) ? (1u << 30) : n - off;
        crc = (uint32_t)crc32(crc, p + off, (uInt)chunk);
        off += chunk;
    }
    return crc;
}

/* CRC-32 (zlib) of n bytes. */
static uint32_t crc_of(const unsigned char *p, size_t n) { return crc_more((uint32_t)crc32(0L, NULL, 0), p, n); }

ct_status ct_checkpoint_write(const char *path, const ct_checkpoint *c)
{
    return ct_checkpoint_write_crc(path, c, NULL, NULL);
}

ct_status ct_checkpoint_write_crc(const char *path, const ct_checkpoint *c, uint32_t *crc32_out, uint64_t *bytes_out)
{
    int piece = c->id.ranks > 1;
    uint32_t version = piece ? CT_CHECKPOINT_PIECE_VERSION : CT_CHECKPOINT_VERSION;
    if (piece && c->n_local > 0 && !c->local_gid)
        return ct_error_set(CT_ERR_INTERNAL, "%s: checkpoint piece without its global node numbers", path);
    /* The header goes into a small buffer; the arrays are written from where they are (issue 15: one copy of
     * the state fewer, and no doubling buffer, at the moment of a checkpoint). The CRC runs over the parts
     * in file order. */
    buf head = {0};
    int ok = put(&head, k_magic, sizeof k_magic) && PUT(&head, version) && put_id(&head, &c->id) &&
             PUT(&head, c->step) && PUT(&head, c->state_bytes) && PUT(&head, c->cg_iterations_total) &&
             PUT(&head, c->n_frames) && PUT(&head, c->n_ecg_samples) && PUT(&head, c->n_ecg_leads) &&
             (!piece || (PUT(&head, c->partition_hash) && PUT(&head, c->n_owned) && PUT(&head, c->n_local)));
    if (!ok) {
        free(head.p);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for a checkpoint header", path);
    }
    uint32_t crc = 0;
    ct_file_part parts[7] = {
        {head.p, head.len},
        {c->local_gid, piece ? c->n_local * sizeof *c->local_gid : 0},
        {c->state, c->state_bytes},
        {c->frame_times_ms, c->n_frames * sizeof(double)},
        {c->ecg_times_ms, c->n_ecg_samples * sizeof(double)},
        {c->ecg_values, c->n_ecg_samples * c->n_ecg_leads * sizeof(double)},
        {&crc, sizeof crc},
    };
    uint64_t bytes = 0;
    crc = (uint32_t)crc32(0L, NULL, 0);
    for (int k = 0; k < 6; k++) {
        crc = crc_more(crc, parts[k].data, parts[k].len);
        bytes += parts[k].len;
    }
    ct_status st = ct_write_file_atomic_parts(path, parts, 7);
    if (crc32_out)
        *crc32_out = crc;
    if (bytes_out)
        *bytes_out = bytes + sizeof crc;
    free(head.p);
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
    free(c->local_gid);
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
        ct_checkpoint_manifest m;
        if (expect && len >= sizeof k_manifest_head - 1 &&
            memcmp(data, k_manifest_head, sizeof k_manifest_head - 1) == 0 &&
            ct_checkpoint_manifest_read(path, &m) == CT_OK) { /* a split run's manifest */
            st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of a run on %u MPI rank(s); this run has %u: restart "
                              "with the rank count it was written with", path, m.ranks, expect->ranks);
            ct_checkpoint_manifest_free(&m);
        } else {
            st = ct_error_set(CT_ERR_PARSE, "%s: not a cardiotwin checkpoint (bad magic)", path);
        }
        goto done;
    }
    if (len < sizeof crc_stored + sizeof magic) {
        st = ct_error_set(CT_ERR_PARSE, "%s: truncated checkpoint", path);
        goto done;
    }
    memcpy(&crc_stored, data + len - sizeof crc_stored, sizeof crc_stored);
    uint32_t crc = crc_of((const unsigned char *)data, len - sizeof crc_stored);
    if (crc != crc_stored) {
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint is corrupt or truncated (CRC mismatch)", path);
        goto done;
    }
    r.len = len - sizeof crc_stored;
    c->crc32 = crc;
    if (GET(&r, version) && (version == CT_CHECKPOINT_OLD_VERSION || version == CT_CHECKPOINT_OLD_PIECE_VERSION)) {
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint format version %u, written by an older build whose backend "
                          "state lacks the last post-reaction Vm of the extrapolated CG start; this build reads "
                          "versions %u and %u: rerun from the start, or finish the run with the older build",
                          path, version, CT_CHECKPOINT_VERSION, CT_CHECKPOINT_PIECE_VERSION);
        goto done;
    }
    if (version != CT_CHECKPOINT_VERSION && version != CT_CHECKPOINT_PIECE_VERSION) {
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint format version %u; this build reads versions %u and %u", path,
                          version, CT_CHECKPOINT_VERSION, CT_CHECKPOINT_PIECE_VERSION);
        goto done;
    }
    ct_checkpoint_id *id = &c->id;
    int ok = get(&r, id->backend, sizeof id->backend) && GET(&r, id->n_nodes) && GET(&r, id->model) &&
             GET(&r, id->dt_ms) && GET(&r, id->config_hash) && GET(&r, id->ranks) && GET(&r, id->rank) &&
             GET(&r, c->step) && GET(&r, c->state_bytes) && GET(&r, c->cg_iterations_total) &&
             GET(&r, c->n_frames) && GET(&r, c->n_ecg_samples) && GET(&r, c->n_ecg_leads);
    id->backend[sizeof id->backend - 1] = '\0';
    if (ok && (version == CT_CHECKPOINT_PIECE_VERSION) != (id->ranks > 1)) {
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint format version %u of a run on %u MPI rank(s)%s", path, version,
                          id->ranks, id->ranks > 1 ? " (the single file of an older build: restart it with that build)"
                                                   : "");
        goto done;
    }
    if (ok && version == CT_CHECKPOINT_PIECE_VERSION) {
        ok = GET(&r, c->partition_hash) && GET(&r, c->n_owned) && GET(&r, c->n_local) && c->n_owned <= c->n_local &&
             c->n_local <= (r.len - r.off) / sizeof *c->local_gid;
        if (ok) {
            c->local_gid = malloc(c->n_local * sizeof *c->local_gid + 1);
            ok = c->local_gid && get(&r, c->local_gid, c->n_local * sizeof *c->local_gid);
        }
    }
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

/* The manifest (ct_checkpoint.h): lines of text, the last "crc32 0x%08x" of every byte before it. */
ct_status ct_checkpoint_manifest_write(const char *path, const ct_checkpoint_manifest *m)
{
    buf b = {0};
    char line[512];
    int ok = put(&b, k_manifest_head, sizeof k_manifest_head - 1);
    int n = snprintf(line, sizeof line, "ranks %u\nstep %lld\nbackend %s\nconfig_hash 0x%016llx\n"
                     "partition_hash 0x%016llx\n", m->ranks, (long long)m->step, m->backend,
                     (unsigned long long)m->config_hash, (unsigned long long)m->partition_hash);
    ok = ok && n > 0 && (size_t)n < sizeof line && put(&b, line, (size_t)n);
    for (uint32_t r = 0; ok && r < m->ranks; r++) {
        if (strchr(m->piece[r], '\n') || !m->piece[r][0]) {
            free(b.p);
            return ct_error_set(CT_ERR_CONFIG, "%s: checkpoint piece name \"%s\" is empty or holds a newline", path,
                                m->piece[r]);
        }
        n = snprintf(line, sizeof line, "piece %u bytes %llu crc32 0x%08x name %s\n", r,
                     (unsigned long long)m->piece_bytes[r], m->piece_crc32[r], m->piece[r]);
        ok = n > 0 && (size_t)n < sizeof line && put(&b, line, (size_t)n);
    }
    if (ok) {
        n = snprintf(line, sizeof line, "crc32 0x%08x\n", crc_of(b.p, b.len));
        ok = put(&b, line, (size_t)n);
    }
    if (!ok) {
        free(b.p);
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for a checkpoint manifest", path);
    }
    ct_status st = ct_write_file_atomic(path, b.p, b.len);
    free(b.p);
    return st;
}

void ct_checkpoint_manifest_free(ct_checkpoint_manifest *m)
{
    free(m->piece);
    free(m->piece_bytes);
    free(m->piece_crc32);
    memset(m, 0, sizeof *m);
}

/* The next line of text at *at (NUL-terminated in place); NULL at the end. */
static char *next_line(char **at)
{
    if (!*at || !**at)
        return NULL;
    char *line = *at, *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *at = nl + 1;
    } else {
        *at = line + strlen(line);
    }
    return line;
}

ct_status ct_checkpoint_manifest_read(const char *path, ct_checkpoint_manifest *m)
{
    memset(m, 0, sizeof *m);
    char *data;
    size_t len;
    CT_CHECK(ct_read_file(path, &data, &len));
    ct_status st = CT_OK;
    if (len >= sizeof k_magic && memcmp(data, k_magic, sizeof k_magic) == 0) {
        /* a single checkpoint file: its header's rank count (the id's ranks, after magic, version, backend,
         * n_nodes, model, dt_ms, config_hash) */
        uint32_t ranks = 1;
        size_t at = sizeof k_magic + sizeof(uint32_t) + sizeof((ct_checkpoint_id *)0)->backend + sizeof(uint64_t) +
                    sizeof(uint32_t) + sizeof(double) + sizeof(uint64_t);
        if (len >= at + sizeof ranks)
            memcpy(&ranks, data + at, sizeof ranks);
        st = ct_error_set(CT_ERR_CONFIG, "%s: checkpoint of a run on %u MPI rank(s) (a single file%s), not the "
                          "manifest of a split run", path, ranks, ranks > 1 ? " of an older build" : "");
        goto done;
    }
    if (len < sizeof k_manifest_head - 1 || memcmp(data, k_manifest_head, sizeof k_manifest_head - 1) != 0) {
        st = ct_error_set(CT_ERR_PARSE, "%s: not a cardiotwin checkpoint manifest (bad first line)", path);
        goto done;
    }
    /* the last line: the CRC of everything before it */
    char *last = len >= 2 ? data + len - 2 : data;
    while (last > data && *last != '\n')
        last--;
    unsigned crc_stored = 0;
    if (last == data || sscanf(last + 1, "crc32 0x%8x", &crc_stored) != 1 ||
        crc_stored != crc_of((const unsigned char *)data, (size_t)(last + 1 - data))) {
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint manifest is corrupt or truncated (CRC mismatch)", path);
        goto done;
    }
    last[1] = '\0';
    char *at = data + sizeof k_manifest_head - 1, *line;
    unsigned ranks = 0;
    long long step = -1;
    unsigned long long ch = 0, ph = 0;
    int ok = (line = next_line(&at)) && sscanf(line, "ranks %u", &ranks) == 1 && ranks >= 1 && ranks < (1u << 24) &&
             (line = next_line(&at)) && sscanf(line, "step %lld", &step) == 1 && step >= 0 &&
             (line = next_line(&at)) && strncmp(line, "backend ", 8) == 0 && strlen(line + 8) < sizeof m->backend &&
             (strcpy(m->backend, line + 8), 1) && (line = next_line(&at)) &&
             sscanf(line, "config_hash 0x%llx", &ch) == 1 && (line = next_line(&at)) &&
             sscanf(line, "partition_hash 0x%llx", &ph) == 1;
    if (ok) {
        m->ranks = ranks;
        m->step = step;
        m->config_hash = ch;
        m->partition_hash = ph;
        m->piece = calloc(ranks, sizeof *m->piece);
        m->piece_bytes = calloc(ranks, sizeof *m->piece_bytes);
        m->piece_crc32 = calloc(ranks, sizeof *m->piece_crc32);
        if (!m->piece || !m->piece_bytes || !m->piece_crc32) {
            st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for a manifest of %u pieces", path, ranks);
            goto done;
        }
    }
    for (unsigned r = 0; ok && r < ranks; r++) {
        unsigned k = 0, crc = 0;
        unsigned long long bytes = 0;
        int name_at = 0;
        ok = (line = next_line(&at)) &&
             sscanf(line, "piece %u bytes %llu crc32 0x%8x name %n", &k, &bytes, &crc, &name_at) == 3 && k == r &&
             name_at > 0 && line[name_at] && strlen(line + name_at) < sizeof m->piece[r];
        if (ok) {
            strcpy(m->piece[r], line + name_at);
            m->piece_bytes[r] = bytes;
            m->piece_crc32[r] = crc;
        }
    }
    if (ok && next_line(&at))
        ok = 0;
    if (!ok)
        st = ct_error_set(CT_ERR_PARSE, "%s: checkpoint manifest does not hold the lines it should (corrupt)", path);
done:
    free(data);
    if (st != CT_OK)
        ct_checkpoint_manifest_free(m);
    return st;
}
