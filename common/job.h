/* job.h — the one place that turns what a user asked for into a checked job.
 *
 * Both programs describe a training job the same way: a model, a partition (a spec, or a stage
 * count and what to balance), a schedule, a batch cut into microbatches, data-parallel replicas
 * and, for the executor, the MPI ranks that must hold it. pc_job_resolve() applies every rule
 * once (the batch rules, the partition policy, the rank count) and returns the partition, the
 * validated op lists and the microbatch size, or one GError naming the problem.
 *
 * The partition policy, in order:
 *   1. a spec (--partition): used as written; an auto:* spec takes its stage count from --stages,
 *      else from the ranks (ranks / replicas);
 *   2. a stage count (--stages N): balanced by --by (flops, the default; params; time);
 *   3. the model's `split` markers, when it has them and the stage count the ranks give (if any)
 *      is markers + 1;
 *   4. otherwise the stage count the ranks give, balanced by --by; without ranks (the simulator)
 *      the whole model in one stage.
 * With chunks per rank (interleaved and zero-bubble-V schedules; --chunks C, default the
 * schedule's own), every stage count above counts ranks and the partition has C times as many
 * stages, the model chunks: a written spec has P x C ranges, chunk c of rank r being the range
 * pc_schedule_virtual gives.
 * Balancing by time (auto:time, --by time) needs measured layer times: the caller supplies them
 * through pc_job_request.times (the simulator reads them from a profile); common/ itself knows
 * nothing of profiles. */
#ifndef PC_JOB_H
#define PC_JOB_H

#include <glib.h>
#include <limits.h>
#include <stdbool.h>

#include "kernels.h"
#include "model.h"
#include "partition.h"
#include "schedule.h"

/* The per-layer times that balancing by time minimises, for microbatches of mb samples:
 * compute[i] (forward + backward of layer i), tensor[i] (moving layer i's output and its
 * gradient across a stage boundary) and *stage_fixed (the fixed cost of one stage). Each array
 * has model->nlayers entries. false and *error on failure (no profile, a profile that does not
 * fit the model). */
typedef bool (*pc_layer_times_fn)(void *ud, const pc_model *model, int mb, double *compute,
                                  double *tensor, double *stage_fixed, GError **error);

/* A count a front end's user did not give (front ends start their flags at it, so that an
 * explicit 0 is refused like any other count below 1). */
#define PC_JOB_UNSET INT_MIN

typedef struct {
  const char *partition; /* spec, or NULL */
  int stages;            /* --stages; 0 when not given */
  const char *by;        /* flops (NULL: the default), params or time */
  const char *schedule;  /* gpipe (NULL: the default), 1f1b, interleaved, zb-h1 or zb-v */
  int chunks;            /* model chunks per rank; 0: the schedule's own */
  const char *zb_costs;  /* --zb-costs F:B:W for a zero-bubble order; NULL: unit costs */
  int batch;             /* minibatch over all replicas */
  int micro;             /* microbatches per replica's minibatch; 0: 1 */
  int replicas;          /* data-parallel replicas; 0: 1 */
  int ranks;             /* MPI ranks that must hold the job; 0: none (the simulator) */
  pc_layer_times_fn times; /* NULL: balancing by time is refused */
  void *times_ud;
  double bytes_per_op;   /* memory the caller keeps per op of the op lists (0: none counted) */
  size_t memory;         /* memory the job may use; 0: no limit */
} pc_job_request;

/* Most ops the op lists of a job may hold (every count in them stays an int). */
#define PC_JOB_MAX_OPS (G_MAXINT / 4)

/* The memory this process may use, in bytes: the machine's physical memory, or less where an
 * address-space limit (ulimit -v) or its cgroup (memory.max) says so; 0 when unknown. */
size_t pc_job_machine_memory(void);

/* Refuses (PC_ERROR_USAGE, with the estimate) op lists of NSTAGES x MICRO microbatches that
 * would exceed PC_JOB_MAX_OPS, or need more than MEMORY (0: no limit) at BYTES_PER_OP. */
bool pc_job_check_size(int nstages, int micro, double bytes_per_op, size_t memory,
                       GError **error);

/* Where the partition came from (the policy's rule). */
typedef enum {
  PC_JOB_FROM_SPEC,
  PC_JOB_FROM_STAGES,
  PC_JOB_FROM_MARKERS,
  PC_JOB_FROM_RANKS,
  PC_JOB_WHOLE, /* no spec, no stage count, no markers, no ranks: one stage */
} pc_job_source;

typedef struct {
  pc_partition *part;
  pc_job_source source;
  pc_schedule *sched; /* validated op lists */
  pc_schedule_kind kind;
  int nstages;        /* ranks of one replica's pipeline (part has nstages x nchunks stages) */
  int nchunks, replicas, micro, batch;
  int mb; /* samples per microbatch */
} pc_job;

/* The checked job, or NULL and a PC_ERROR_USAGE / _PARSE / _PARTITION / _SCHEDULE error. A job
 * whose op lists would exceed PC_JOB_MAX_OPS, or need more than req->memory at
 * req->bytes_per_op, is refused before they are built, with the estimate. */
pc_job *pc_job_resolve(const pc_model *model, const pc_job_request *req, GError **error);
void pc_job_free(pc_job *job);

/* The partition alone (rules 1 to 4 above, no batch or schedule): describe and profile. mb is
 * the microbatch size that balancing by time uses. */
pc_partition *pc_job_partition(const pc_model *model, const pc_job_request *req, int mb,
                               pc_job_source *source, GError **error);

/* The batch rules: batch, microbatches and replicas positive, the batch divisible by the
 * replicas, each replica's minibatch by the microbatches (no more microbatches than samples). */
bool pc_job_check_batch(int batch, int replicas, int micro, GError **error);

/* --by: flops (NULL too), params or time; *time tells time apart (it has no pc_partition_by). */
bool pc_job_parse_by(const char *by, pc_partition_by *out, bool *time, GError **error);

/* --schedule: gpipe (NULL too), 1f1b, interleaved, zb-h1 or zb-v. */
bool pc_job_parse_schedule(const char *name, pc_schedule_kind *out, GError **error);

/* The chunks per rank of REQ: --chunks, else its schedule's own; 0 with the error when the
 * schedule is unknown or --chunks is out of range. */
int pc_job_chunks(const pc_job_request *req, GError **error);

/* --optimizer: sgd (NULL too) or adamw. */
bool pc_job_parse_optimizer(const char *name, pc_optim_kind *kind, GError **error);

/* Every --set of the command line joined into one (--set a=1 --set b=2 reads as --set a=1,b=2;
 * a parameter given twice is then refused as within one --set). Call it before parsing ARGV. */
void pc_job_join_sets(int *argc, char ***argv);

/* The microbatches of an evaluation (train --eval-every) of SAMPLES test samples: each of
 * REPLICAS replicas its share in whole microbatches of MB; 0 with PC_ERROR_USAGE when that makes
 * none, or more than the op lists of NCHUNKS chunks per rank may hold. */
int pc_job_eval_micro(int64_t samples, int replicas, size_t mb, int nchunks, GError **error);

/* --zb-costs "F:B:W" (':' or ',' between them) into COSTS; NULL TEXT leaves them 0 (unit
 * costs). KIND must be a zero-bubble schedule (pc_schedule_check_zb_costs). */
bool pc_job_parse_zb_costs(const char *text, pc_schedule_kind kind, double costs[3],
                           GError **error);

/* The validated op lists of KIND for PART (its stages NCHUNKS per rank; 0: the kind's own)
 * with nmicro microbatches (at most PC_JOB_MAX_OPS); ZB_COSTS for a zero-bubble order (NULL or
 * zeros: unit costs). */
pc_schedule *pc_job_schedule(const pc_model *model, const pc_partition *part,
                             pc_schedule_kind kind, int nmicro, int nchunks,
                             const double *zb_costs, GError **error);

#endif
