/* checkpoint.h — checkpoints of a pipelined run: every stage's weights, batch-norm statistics
 * and SGD momentum, written so that a crash at any moment leaves the previous checkpoint intact.
 *
 * Layout of DIR:
 *   DIR/iter-N/stage-S.pcw   each stage's state after N iterations (weights format, common/weights.h)
 *   DIR/checkpoint           "pipecast-checkpoint 1", then "iteration N", "model NAME",
 *                            "stages P" and "config ..." lines; written to a temporary file and
 *                            renamed into place only after every stage file is complete: the
 *                            rename is the commit. Older iter-* folders are removed after it.
 * A run resumed from a checkpoint ends bit-identical to the run that was not interrupted. */
#ifndef PC_CHECKPOINT_H
#define PC_CHECKPOINT_H

#include <glib.h>
#include <stdbool.h>

#include "runtime.h"

/* Collective over MPI_COMM_WORLD: replica 0 of every stage writes its file, rank 0 commits.
 * `config` must describe everything the numbers depend on (model, partition, batch, ...).
 * False on every rank (with the message on the failing rank's error) when any write failed. */
bool pc_checkpoint_save(const char *dir, int iteration, const char *model, int nstages,
                        const char *config, pc_runtime *rt, int stage, int replica,
                        GError **error);

/* Reads the committed checkpoint of DIR into this stage's runtime and sets *iteration. Refuses
 * (PC_ERROR_FORMAT) a checkpoint of another model, stage count or config, naming the difference;
 * PC_ERROR_IO when it cannot be read. Not collective. */
bool pc_checkpoint_load(const char *dir, const char *model, int nstages, const char *config,
                        pc_runtime *rt, int stage, int *iteration, GError **error);

#endif
