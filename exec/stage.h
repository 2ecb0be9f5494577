/* stage.h — one rank's share of a pipeline-parallel training run, as `train` runs it (train.c)
 * and as `grid` runs many of them side by side in one job (grid.c).
 *
 * A run is opened from its options (the model, partition and schedule, identical on every rank;
 * then this rank's stage's runtime and data), iterated, and closed. Ranks are laid out
 * replica-major: rank = replica * P + stage. */
#ifndef PC_STAGE_H
#define PC_STAGE_H

#include <float.h>
#include <glib.h>
#include <mpi.h>
#include <stdbool.h>

#include "data.h"
#include "model.h"
#include "partition.h"
#include "runtime.h"
#include "schedule.h"
#include "trace.h"

/* A real flag that was not given (no value a user would give). */
#define PC_EXEC_UNSET_REAL DBL_MAX

typedef struct {
  char *sets, *partition, *by, *schedule, *data, *save, *load, *times, *trace, *summary;
  char *checkpoint, *resume, *profile_samples, *zb_costs;
  char *optimizer, *lr_schedule; /* sgd (NULL too) or adamw; constant (NULL too) or cosine */
  int stages, batch, micro, iters, warmup, replicas, print_every, checkpoint_every, profile_reps;
  int chunks; /* model chunks per rank (interleaved); PC_JOB_UNSET: the schedule's own */
  gboolean checkpoint_replace;
  double lr, timeout;
  double momentum, weight_decay;  /* PC_EXEC_UNSET_REAL: the optimizer's default */
  double beta1, beta2, eps, clip; /* AdamW's; clip: the global gradient norm's bound, 0: none */
  int warmup_iters;               /* the learning rate's linear warm-up */
  int eval_every;                 /* evaluate every K iterations and after the last; 0: never */
  int eval_samples;               /* test samples an evaluation takes at most; 0: the split */
  gint64 seed;
} train_opts;

/* Everything one rank needs while it runs its op list. */
typedef struct {
  const train_opts *o;
  pc_model *model;
  pc_partition *part;
  pc_schedule *sched;
  pc_runtime *rt;            /* the runtime of chunk 0, the rank's only one without chunks */
  pc_runtime **rts;          /* (C) one per model chunk the rank holds (interleaved) */
  int *slots;                /* (C) microbatches in flight in each chunk */
  int *vstages;              /* (C) the partition's stage of each chunk */
  bool *reads_data, *has_loss; /* (C) the chunk holds the first layer / the loss */
  pc_dataset *data;
  pc_dataset *eval_data;     /* the test split (with --eval-every, on ranks that read data) */
  pc_schedule *eval;         /* its forward-only op lists (pc_schedule_new_forward) */
  int rank, stage, replica, P, D, C;
  size_t mb;                 /* samples per microbatch */
  const pc_stage_ops *ops;   /* this stage's list */
  MPI_Request *req;          /* per op: its send or receive */
  int *post_after;           /* per RECV op: index of the op after which it may be posted */
  int nchan;                 /* channels (2 per transfer: activation, gradient) */
  int *chan_off, *chan_recvs; /* each channel's RECV ops in list order: [chan_off[c], [c + 1]) */
  int *chan_next;            /* per channel, the next of them to post this iteration */
  MPI_Comm stage_comm;       /* this stage's replicas */
  MPI_Comm pipe_comm;        /* this replica's stages (global-norm clipping) */
  pc_optim_kind optim;
  pc_span *spans;            /* per op, last iteration */
  int *sending, nsending;    /* large SEND ops in flight (their indices) */
  int last_bwd;              /* index of the stage's last BWD op */
  int nbuckets;              /* gradient buckets reduced during it (0: at OPT) */
  int *bucket_start;         /* (nbuckets) first layer of each, in the order they are made */
  float *tie_buf;            /* the other rank's gradient of a tied weight (NULL: none comes) */
} stage_run;

/* Checks O's numbers and output paths, loads MODEL_PATH and builds the partition and schedule
 * (every rank the same; errors are input errors), then this rank's stage: its runtime (refused
 * when it would need more than MEMORY bytes; 0: no limit), its data and, with --load, its
 * weights. R starts zeroed but for r->stage_comm and r->pipe_comm = MPI_COMM_NULL. On failure
 * R holds what was built; pc_stage_close frees it. Collective only for the communicators: every
 * rank calls it and agrees on the outcome afterwards (pc_stage_all_ok). */
bool pc_stage_open(stage_run *r, const train_opts *o, const char *model_path, size_t memory,
                   GError **error);

/* Any rank's error ends every rank the same way: collective agreement; the lowest failing rank
 * prints its message as "pipecast-exec CMD: message"; the others stay quiet. */
bool pc_stage_all_ok(const char *cmd, bool ok, GError **error);

/* The optimizer's options (--optimizer, --lr and its schedule, --momentum, AdamW's, --weight-decay,
 * --clip-grad-norm), as train and grid take them, into O. */
void pc_stage_add_optim_entries(GOptionContext *ctx, train_opts *o);

/* Those options' values from FROM into TO (the strings shared, not copied). */
void pc_stage_copy_optim(train_opts *to, const train_opts *from);

/* Those options in range, names known, each flag with the optimizer it sets (--warmup-iters
 * within O->iters). */
bool pc_stage_check_optim(const train_opts *o, GError **error);

/* Their defaults, in a train_opts initializer. */
#define PC_STAGE_OPTIM_DEFAULTS                                                                  \
  .lr = 0.01, .momentum = PC_EXEC_UNSET_REAL, .weight_decay = PC_EXEC_UNSET_REAL, .beta1 = 0.9, \
  .beta2 = 0.999, .eps = 1e-8

/* The step of iteration ITER (from 0): O's optimizer with its learning rate scheduled. */
pc_optim pc_stage_optim(const train_opts *o, int iter);

/* O's optimizer settings as a checkpoint records them. g_free() it. */
char *pc_stage_optim_text(const train_opts *o);

/* An evaluation on the test split: the forward-only lists through the pipeline (no activations
 * kept, batch norm with its running statistics), every replica its share. Rank 0 gets the mean
 * loss, the accuracy, the samples and the seconds. Collective. */
void pc_stage_evaluate(stage_run *r, double result[4]);

/* One iteration, ITER (from 0; it picks the data), between a barrier and the reduction of the
 * ranks' seconds: returns the slowest rank's seconds on rank 0 (its own elsewhere) and adds the
 * loss sum and correct count of all ranks to SUMS on rank 0. Fatal errors end the job. */
double pc_stage_iterate(stage_run *r, int iter, double sums[2]);

/* Rank 0 prints, per stage, the peak memory of the process and as the runtime accounts it
 * ("stage S: peak memory X MiB measured (process), Y MiB accounted (runtime)") to F and returns
 * those bytes, two per rank (g_free() them); NULL on the other ranks. Collective. */
double *pc_stage_print_memory(stage_run *r, FILE *f);

/* Rank 0 writes the last iteration as a Chrome trace (each stage of replica 0 sends its spans).
 * Collective; false, with a message in ERROR on rank 0, when the file could not be written. */
bool pc_stage_write_trace(stage_run *r, const char *path, GError **error);

void pc_stage_close(stage_run *r);

/* The whole model's weights into one weights file at PATH, gathered on rank 0 (replica 0's
 * stages). Collective. */
bool pc_stage_save_weights(stage_run *r, const char *path, GError **error);

#endif
