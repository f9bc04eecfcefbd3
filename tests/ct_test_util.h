/* ct_test_util.h — helpers shared by the tests: scratch folders, running the CLI, reading files. */
#ifndef CT_TEST_UTIL_H
#define CT_TEST_UTIL_H

#include <stddef.h>

/* A fresh empty folder under /tmp (mkdtemp); returns a static-lifetime copy owned by the caller (free). */
char *ct_test_tmpdir(const char *tag);

/* Removes a scratch folder made by ct_test_tmpdir and everything in it (warns, does not fail, if it cannot). */
void ct_test_rmtree(const char *dir);

/* Runs `cardiotwin ARGS` (shell words), capturing stderr+stdout into *output (caller frees, may be NULL).
 * Returns the exit status. */
int ct_test_cli(const char *args, char **output);
/* The same for any shell command line (an MPI launcher in front of cardiotwin, ...). */
int ct_test_shell(const char *command, char **output);

/* Writes text to path; returns 0 on success. */
int ct_test_write(const char *path, const char *text);

/* Whole file as a string (caller frees), NULL if unreadable. */
char *ct_test_read(const char *path);
/* The same, with its length in bytes in *len (the file may hold NUL bytes). */
char *ct_test_read_bytes(const char *path, size_t *len);

struct ct_backend_ops;
/* Saves a backend's state mid-run (a TP06 slab with a stimulus and beat tracking), runs on, restores it
 * and runs the same steps again: returns 0 if every field (Vm, activation, beat times and counts) is the
 * same bit for bit, else 1 with a message in why (caller's buffer). */
int ct_test_state_roundtrip(const struct ct_backend_ops *be, char *why, size_t why_len);

#endif
