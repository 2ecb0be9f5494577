/* checkpoint.h — checkpoints of a pipelined run: every stage's weights, batch-norm statistics
 * and optimizer state (SGD's momentum or AdamW's moments), committed whole or not at all.
 *
 * Layout of DIR:
 *   DIR/iter-N-XXXXXX/stage-S.pcw  each stage's state after N iterations (weights format,
 *                                  a file per stage of the partition, chunks included;
 *                                  common/weights.h), in a folder made new for this checkpoint;
 *                                  the header's meta lines name the iteration, the run and the
 *                                  folder
 *   DIR/checkpoint                 "pipecast-checkpoint 1", then the lines "iteration N",
 *                                  "model NAME", "stages P", "config ...", "optimizer ...",
 *                                  "run ID" and "folder iter-N-XXXXXX"
 * Every stage file is written and fsynced in the new folder first; only then is DIR/checkpoint
 * replaced (a temporary file, fsynced and renamed): that rename is the commit. A kill at any
 * moment leaves the previous checkpoint whole. Older iter-* folders are removed after it.
 * A run has an ID, kept across resumes; a run never writes into a folder that holds another
 * run's checkpoint unless told to replace it. Checkpoints written before the run ID existed
 * (no run or folder line: DIR/iter-N/) are still read.
 * A run resumed from a checkpoint ends bit-identical to the run that was not interrupted. */
#ifndef PC_CHECKPOINT_H
#define PC_CHECKPOINT_H

#include <glib.h>
#include <stdbool.h>

#include "runtime.h"

#define PC_RUN_ID_LEN 16 /* hex digits */

/* What a checkpoint must match to be resumed, and what it records beside. */
typedef struct {
  const char *model;
  int nstages;
  const char *config;    /* everything the numbers depend on (parameters, partition, ...) */
  const char *config_before; /* as runs wrote it before the parameters (their --set as typed):
                              * their checkpoints resume too; NULL: none */
  const char *optimizer; /* the optimizer's settings: a resume with others is stated, not refused */
} pc_checkpoint_job;

/* Up front, before any work: DIR is a folder that can be written, or can be made in one. Not
 * collective. */
bool pc_checkpoint_check_dir(const char *dir, GError **error);

/* Collective. This run's ID into RUN: the resumed checkpoint's (RESUMED_RUN, when not empty),
 * else a new one. Then, with DIR: refuses (PC_ERROR_USAGE) a DIR that holds the checkpoint of
 * another run, unless REPLACE or unless DIR is RESUME_DIR itself. The same answer on every rank. */
bool pc_checkpoint_begin(const char *dir, const char *resume_dir, const char *resumed_run,
                         bool replace, char run[PC_RUN_ID_LEN + 1], GError **error);

/* Collective over MPI_COMM_WORLD: replica 0 of every rank writes a file per stage it holds (N
 * runtimes RTS of the partition's stages STAGES: a rank's chunks), rank 0 commits. False on every
 * rank (with the message on the failing rank's error) when any write failed; the previous
 * checkpoint is then still the committed one. */
bool pc_checkpoint_save(const char *dir, int iteration, const pc_checkpoint_job *job,
                        const char *run, pc_runtime *const *rts, const int *stages, int n,
                        int replica, GError **error);

/* What a loaded checkpoint says of itself. */
typedef struct {
  int iteration;
  char run[PC_RUN_ID_LEN + 1]; /* empty for a checkpoint written before run IDs */
  char *optimizer;             /* NULL when it does not record one; g_free() it */
} pc_checkpoint_info;

/* Reads the committed checkpoint of DIR into the N runtimes RTS of the partition's stages
 * STAGES (stage files are the partition's, so a rank's chunks may be dealt otherwise than when
 * it was written). Refuses (PC_ERROR_FORMAT) a checkpoint of another model, stage count or
 * config, naming the difference, and a stage file that does not belong to the committed
 * checkpoint; PC_ERROR_USAGE one of another optimizer's state; PC_ERROR_IO when it cannot be
 * read. Not collective. */
bool pc_checkpoint_load(const char *dir, const pc_checkpoint_job *job, pc_runtime *const *rts,
                        const int *stages, int n, pc_checkpoint_info *info, GError **error);

#endif
