/* files.h — the files a user names, read within a bound and written so that nothing is lost.
 *
 * Inputs: a regular file or a pipe (a FIFO, process substitution, standard input) is read up to
 * a bound; a FIFO no one writes to reads as empty instead of blocking; a device, a directory or
 * a socket is refused.
 *
 * Outputs: a regular file (or a path that does not exist yet) is written to a temporary file
 * beside it, which is checked, fsynced and renamed over it, and the folder is fsynced: a crash,
 * a full disk or a kill leaves the old file or the whole new one, never a mix. A symbolic link is
 * followed to its target, which is replaced. A character device (/dev/null, a terminal) and a
 * pipe the program was handed (/dev/stdout, /dev/fd/N: process substitution) are written
 * through, without the rename. A directory, a named FIFO (nothing may ever read it: the run
 * would block at its end), a block device or a socket is refused up front. pc_output_check runs
 * before any work, so a bad path costs no run. */
#ifndef PC_FILES_H
#define PC_FILES_H

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

/* Bounds of the readers. */
#define PC_MAX_MODEL_BYTES ((size_t)16 << 20) /* model files, --cells lists */
#define PC_MAX_TABLE_BYTES ((size_t)1 << 30)  /* profiles, samples, net and GEMM tables */
#define PC_MAX_TRACE_BYTES ((size_t)2 << 30)  /* Chrome traces */
#define PC_MAX_DATA_BYTES ((size_t)4 << 30)   /* data set files */

/* Reads PATH whole (NUL-terminated; *len without the NUL). PC_ERROR_IO naming PATH when it
 * cannot be opened or read, is not a regular file or a pipe, or holds more than MAX bytes. */
bool pc_file_read(const char *path, size_t max, char **text, size_t *len, GError **error);

/* Opens PATH, which must be a regular file (the weights reader seeks), for reading; *size gets
 * its size. NULL and PC_ERROR_IO otherwise. */
FILE *pc_file_open_regular(const char *path, size_t *size, GError **error);

/* Up-front check that FLAG's output PATH can be written (see above): not empty, not a directory,
 * named FIFO, block device or socket, in a folder that exists and is writable. PC_ERROR_USAGE naming
 * FLAG and PATH otherwise. FLAG may be NULL. */
bool pc_output_check(const char *flag, const char *path, GError **error);

/* Whether paths A and B name one file: the same file where both exist, else the same path once
 * made absolute and normalized. */
bool pc_path_same(const char *a, const char *b);

typedef struct pc_output pc_output;

/* Starts writing PATH (checked as pc_output_check does). NULL and an error naming FLAG. */
pc_output *pc_output_open(const char *flag, const char *path, GError **error);
FILE *pc_output_stream(pc_output *out);

/* Ends the output: flushes, checks every write, fsyncs, renames into place. false and
 * PC_ERROR_WRITE naming the file when any of it failed; the target is then left as it was.
 * Frees OUT either way. */
bool pc_output_commit(pc_output *out, GError **error);

/* Abandons the output: removes the temporary file, leaves the target as it was. NULL is fine. */
void pc_output_discard(pc_output *out);

/* pc_output_open, one write of LEN bytes of DATA, pc_output_commit. */
bool pc_output_write(const char *flag, const char *path, const void *data, size_t len,
                     GError **error);

/* fsyncs the folder DIR (after files were created or renamed in it); false and PC_ERROR_WRITE. */
bool pc_sync_dir(const char *dir, GError **error);

#endif
