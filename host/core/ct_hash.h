/* ct_hash.h — the one non-cryptographic hash the project uses to recognise content: 64-bit FNV-1a.
 *
 * It identifies inputs (a configuration file behind a checkpoint, a cohort run's configuration and mesh, a
 * run's mesh partition); it guards against mix-ups, not against tampering. Chain calls to hash several
 * pieces: h = ct_fnv1a64(ct_fnv1a64(CT_FNV1A64_OFFSET, a, la), b, lb).
 */
#ifndef CT_HASH_H
#define CT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CT_FNV1A64_OFFSET 14695981039346656037ull /* the FNV-1a 64-bit offset basis */

static inline uint64_t ct_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *b = (const unsigned char *)data;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 1099511628211ull; /* the FNV 64-bit prime */
    }
    return h;
}

#endif /* CT_HASH_H */
