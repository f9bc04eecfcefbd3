/* ct_memory.c — see ct_memory.h. */
#define _GNU_SOURCE
#include "ct_memory.h"

#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* the value of "KEY:  N kB" in /proc/self/status, in bytes; 0 where absent */
static size_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kb = 0, len = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            if (sscanf(line + len + 1, "%zu", &kb) != 1)
                kb = 0;
            break;
        }
    fclose(f);
    return kb * 1024;
}

size_t ct_memory_resident_bytes(void) { return status_kb("VmRSS"); }
size_t ct_memory_peak_bytes(void) { return status_kb("VmHWM"); }

size_t ct_memory_release(void)
{
#ifdef __GLIBC__
    size_t before = ct_memory_resident_bytes();
    malloc_trim(0);
    size_t after = ct_memory_resident_bytes();
    return before > after ? before - after : 0;
#else
    return 0;
#endif
}
