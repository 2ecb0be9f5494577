/* predict.h — one simulated configuration: the op lists, their costs and the engine's
 * timeline of one iteration (pc_predict), and the same op lists replayed with measured compute
 * durations (pc_prediction_replay). */
#ifndef PC_PREDICT_H
#define PC_PREDICT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "costs.h"
#include "engine.h"

/* ------------------------------------------------------------------------------------------ */
/* One simulated configuration */

/* The prediction of one iteration of one configuration, self-contained (copies of what the
 * engine returned, plus costs and memory). */
typedef struct {
  int nstages, nmicro, replicas;
  int batch;             /* global minibatch */
  int mb;                /* samples per microbatch: batch / (replicas * nmicro) */
  double makespan;       /* iteration seconds, all-reduce included */
  pc_sim_stage *stages;  /* (nstages) engine statistics; busy includes the all-reduce */
  size_t *memory;        /* (nstages) the runtimes' bytes (pc_runtime_bytes_layout) */
  pc_stage_costs *costs; /* owned */
  pc_schedule *sched;    /* owned */
  pc_span **timeline;    /* (nstages) owned copies, parallel to sched's op lists */
} pc_prediction;

/* Memory a prediction holds per op, an upper bound (the op, its span, the engine's state, the
 * baselines beside it): a prediction that would need more than the machine has is refused. */
#define PC_PREDICT_BYTES_PER_OP 96.0

/* Builds the schedule (validated), the costs and runs the engine for PART of MODEL.
 * Errors: batch < 1, nmicro < 1, replicas < 1, batch not divisible by replicas * nmicro
 * (PC_ERROR_USAGE), and those of the costs, the schedule and the engine. */
pc_prediction *pc_predict(pc_engine *engine, const pc_model *model, const pc_partition *part,
                          pc_schedule_kind kind, int batch, int nmicro,
                          const pc_cost_config *cfg, GError **error);
void pc_prediction_free(pc_prediction *p);

/* Seconds of an evaluation after P's iterations (train --eval-every): the forward-only lists of
 * NMICRO microbatches on P's ranks (pc_schedule_new_forward), each FWD at P's forward cost. */
bool pc_predict_eval(pc_engine *engine, pc_prediction *p, int nmicro, double *seconds,
                     GError **error);

/* The schedule of KIND's one-stage baselines: KIND, or 1f1b where KIND holds several chunks per
 * rank (one rank runs its chunks one after the other). */
pc_schedule_kind pc_predict_baseline_kind(pc_schedule_kind kind);

/* Runs P's op lists again on ENGINE with the compute ops (FWD, BWD, BWD_W, OPT) taking
 * DURATIONS[s][i] seconds (op i of stage s; other ops' entries are not read) and messages and
 * overheads as P's costs model them: a measured iteration replayed (`pipecast-sim run
 * --durations`), so that what the schedule and message model alone get wrong shows apart from
 * the compute costs. Replaces P's timeline, statistics and makespan, and its per-stage costs by
 * the means of the durations (the all-reduce, which a measured OPT holds, by 0; the tied
 * weight's exchange and the clipping's meeting, which it holds too, are not modelled).
 * Errors: those of pc_engine_run (a negative or NaN duration is PC_ERROR_USAGE). */
bool pc_prediction_replay(pc_engine *engine, pc_prediction *p, double *const *durations,
                          GError **error);

/* Mean bubble fraction over the stages, and the largest memory of a stage. */
double pc_prediction_bubble(const pc_prediction *p);
size_t pc_prediction_peak_memory(const pc_prediction *p);

/* Ideal pipeline speedup P * M / (M + P - 1). */
double pc_ideal_speedup(int nstages, int nmicro);

#endif
