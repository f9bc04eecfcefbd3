/* ct_files.h — small file-system helpers: output folders and atomic whole-file writes. */
#ifndef CT_FILES_H
#define CT_FILES_H

#include <stddef.h>

#include "ct_status.h"

/* Creates a directory and its parents (like mkdir -p); an existing directory is fine. */
ct_status ct_mkdir_p(const char *path);

/* Writes `len` bytes to PATH.tmp.<pid>, fsyncs, renames over PATH: readers see the old file or the new
 * one, never half of one; on failure the temporary file is removed and PATH is untouched. */
ct_status ct_write_file_atomic(const char *path, const void *data, size_t len);

/* The same for a file made of n_parts byte ranges written one after the other (borrowed; a part may have
 * len 0), so that a large file (a checkpoint's state) is not first copied into one buffer. */
typedef struct ct_file_part {
    const void *data;
    size_t len;
} ct_file_part;
ct_status ct_write_file_atomic_parts(const char *path, const ct_file_part *parts, size_t n_parts);

/* Writes / reads exactly `len` bytes to / from descriptor fd, going on after partial transfers and EINTR.
 * 1 on success; 0 on an error (errno set by write/read) or, reading, on end of file first. */
int ct_write_all(int fd, const void *data, size_t len);
int ct_read_all(int fd, void *data, size_t len);

/* Reads a whole regular file into a NUL-terminated buffer the caller frees; *len (may be NULL) gets its
 * size in bytes (the file may itself contain NUL bytes: callers that want text check). */
ct_status ct_read_file(const char *path, char **data, size_t *len);

/* A path named inside the file `base_file`: absolute paths stay as they are, relative ones are taken
 * relative to base_file's folder. CT_ERR_CONFIG if the result does not fit. */
ct_status ct_path_relative_to(char *out, size_t out_len, const char *base_file, const char *path);

/* path = dir + "/" + name, checked for truncation. */
ct_status ct_path_join(char *out, size_t out_len, const char *dir, const char *name);

#endif /* CT_FILES_H */
