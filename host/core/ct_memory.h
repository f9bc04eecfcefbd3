/* ct_memory.h — give memory the process has freed back to the operating system.
 *
 * glibc's malloc keeps freed blocks of its heap (brk) mapped for reuse; only the top of the heap is returned
 * by itself. After a phase that allocated much and freed most of it (set-up's whole-mesh arrays on every
 * MPI rank, the time loop's state before rank 0's post-processing), the pages stay resident and count in
 * the process's peak memory although nothing uses them. ct_memory_release asks the allocator to return
 * every whole free page (glibc: malloc_trim(0), which since 2.8 also releases free pages inside the heap);
 * elsewhere it does nothing. It frees nothing the program holds and cannot fail. */
#ifndef CT_MEMORY_H
#define CT_MEMORY_H

#include <stddef.h>

/* Returns the bytes the process's resident set fell by (0 where it did not or cannot be read). */
size_t ct_memory_release(void);

/* The process's resident set (VmRSS) and peak (VmHWM) in bytes from /proc/self/status; 0 where unknown. */
size_t ct_memory_resident_bytes(void);
size_t ct_memory_peak_bytes(void);

#endif
