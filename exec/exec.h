/* exec.h — pipecast-exec's commands and the helpers they share (MPI-aware error reporting). */
#ifndef PC_EXEC_H
#define PC_EXEC_H

#include <glib.h>
#include <mpi.h>
#include <stdbool.h>

#include "files.h"
#include "model.h"
#include "partition.h"
#include "runtime.h"

#define PC_EXEC_PROG "pipecast-exec"

/* Each command runs on every rank with the same arguments and returns the process exit
 * status; the caller finalises MPI. */
int pc_cmd_train(int argc, char **argv);
int pc_cmd_profile(int argc, char **argv);
int pc_cmd_calibrate(int argc, char **argv);
int pc_cmd_grid(int argc, char **argv);

/* This process's rank and the world size. */
int pc_exec_rank(void);
int pc_exec_size(void);

/* Prints "pipecast-exec CMD: message" once (on rank 0) and returns the exit status for it (2;
 * 1 for a write that failed). Every rank calls it with the same error. */
int pc_exec_input_error(const char *cmd, GError *error);

/* A fatal error on one rank: prints "pipecast-exec: rank R: message" and ends the whole job
 * (MPI_Abort). */
G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void pc_exec_die(const char *fmt, ...);

/* Opens CMD's output FLAG PATH (common/files.h; stdout when PATH is NULL, and *out NULL). NULL,
 * with the message printed, when it cannot be opened. Not collective. */
FILE *pc_exec_output_open(const char *cmd, const char *flag, const char *path, pc_output **out);

/* Commits OUT (flushes stdout for NULL); false, with the message printed, when the file could
 * not be written whole (the path is then as it was). */
bool pc_exec_output_close(const char *cmd, pc_output *out);

/* Parses options; on error prints the message once and returns false. */
bool pc_exec_parse(GOptionContext *ctx, const char *cmd, int *argc, char ***argv);

/* The machine's memory shared by the ranks on it (0 when unknown): a stage that needs more is
 * refused up front, before any work, with the estimate. */
size_t pc_exec_memory_per_rank(void);


/* Peak resident memory of this process (VmHWM), in bytes; 0 when unknown. */
size_t pc_exec_peak_rss(void);

/* Progress while a stage computes (progress.c): PC_PROGRESS=thread (the default with several
 * ranks: a communication thread that reduces gradient buckets during the backward and, across
 * nodes, calls into MPI while a large send is in flight; and the calls between layers), layers
 * (only pc_progress_poke, a runtime's between-layers hook that makes one call into MPI) or off.
 * pc_progress_thread_level is the level to ask MPI_Init_thread for. pc_progress_start is
 * collective (it duplicates MPI_COMM_WORLD); false, with an input error, for another value of
 * PC_PROGRESS. pc_progress_stop is collective, before MPI_Finalize. */
int pc_progress_thread_level(void);
/* Before MPI_Init: between nodes (Open MPI's TCP transport) messages up to PC_TCP_EAGER_BYTES
 * go without waiting for the receiver; the user's own settings win. */
#define PC_TCP_EAGER_BYTES (4 << 20)
void pc_progress_configure(void);
bool pc_progress_start(GError **error);
void pc_progress_stop(void);
void pc_progress_poke(void *data);
/* Whether the communication thread runs (then gradients are reduced by bucket). */
bool pc_progress_threaded(void);
/* A send of at least PC_PROGRESS_SEND_BYTES was posted (+1) or completed (-1): across nodes the
 * thread calls into MPI while one is in flight. */
#define PC_PROGRESS_SEND_BYTES (64 << 10)
void pc_progress_sending(int delta);
/* Queues the all-reduce of BUF (N floats) over COMM, run by the thread in the order queued; a
 * wait longer than TIMEOUT seconds (> 0) ends the job naming STAGE. */
void pc_progress_reduce(float *buf, size_t n, MPI_Comm comm, double timeout, int stage);
/* Waits until every queued all-reduce has finished. */
void pc_progress_reduced(void);

/* Most repetitions of a profile: every one is kept in memory (and gathered on rank 0). */
#define PC_EXEC_MAX_REPS 1000

/* `train --profile-samples` and `grid`: times the layers of the N runtimes RTS (the rank's
 * chunks, the partition's stages STAGES), the run's own at its microbatch size MB, REPS times
 * each (after a warm-up repetition when WARM_UP; grid's runtimes have just run an iteration),
 * exactly as `profile --samples` does, and writes every rank's samples to PATH on rank 0
 * (profile's format; the header names the run). The runtimes' weights stay as they are (the
 * timed step has learning rate 0) but their optimizer state moves. Collective over
 * MPI_COMM_WORLD; false, with a message naming command CMD and its FLAG, when PATH could not be
 * written. */
bool pc_exec_profile_runtime(const char *cmd, const char *flag, const char *path,
                             pc_runtime *const *rts, const int *stages, int n,
                             const pc_model *m, const pc_partition *part, size_t mb, int reps,
                             bool warm_up);

#endif
