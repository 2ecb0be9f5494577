/* predict.c — one simulated configuration (pc_predict) that `pipecast-sim run` and `sweep`
 * share, and the replay of measured compute durations. See predict.h. */
#include "predict.h"

#include "error.h"
#include "job.h"
#include "runtime.h"

/* ------------------------------------------------------------------------------------------ */
/* One simulated configuration */

pc_schedule_kind pc_predict_baseline_kind(pc_schedule_kind kind) {
  return pc_schedule_default_chunks(kind) > 1 ? PC_SCHEDULE_1F1B : kind;
}

void pc_prediction_free(pc_prediction *p) {
  if (p == NULL) return;
  if (p->timeline)
    for (int s = 0; s < p->nstages; s++) g_free(p->timeline[s]);
  g_free(p->timeline);
  g_free(p->stages);
  g_free(p->memory);
  pc_stage_costs_free(p->costs);
  pc_schedule_free(p->sched);
  g_free(p);
}

/* Copies what the engine returned (valid until its next run) into P. */
static void take_result(pc_prediction *p, const pc_sim_result *res) {
  p->makespan = res->makespan;
  p->stages = g_memdup2(res->stages, sizeof(pc_sim_stage) * (size_t)p->nstages);
  p->timeline = g_new0(pc_span *, (size_t)p->nstages);
  for (int s = 0; s < p->nstages; s++)
    p->timeline[s] =
        g_memdup2(res->timeline[s], sizeof(pc_span) * (size_t)p->sched->stages[s].nops);
}

pc_prediction *pc_predict(pc_engine *engine, const pc_model *model, const pc_partition *part,
                          pc_schedule_kind kind, int batch, int nmicro,
                          const pc_cost_config *cfg, GError **error) {
  int D = cfg->replicas > 0 ? cfg->replicas : 1;
  if (cfg->replicas < 0 || !pc_job_check_batch(batch, D, nmicro, error)) {
    if (cfg->replicas < 0)
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--replicas must be positive, got %d",
                  cfg->replicas);
    return NULL;
  }
  if (!pc_job_check_size(part->nstages, nmicro, PC_PREDICT_BYTES_PER_OP, pc_job_machine_memory(),
                         error))
    return NULL;
  pc_prediction *p = g_new0(pc_prediction, 1);
  p->nmicro = nmicro;
  p->replicas = D;
  p->batch = batch;
  p->mb = batch / D / nmicro;
  /* the costs order the zero-bubble schedules (a sweep's or baseline's other kinds ignore them) */
  p->sched = pc_job_schedule(model, part, kind, nmicro, cfg->chunks,
                             pc_schedule_zero_bubble(kind) ? cfg->zb_costs : NULL, error);
  if (p->sched) {
    p->nstages = p->sched->nstages;
    GArray *xfers = pc_partition_transfers(model, part);
    p->costs = pc_stage_costs_new(model, part, xfers, p->mb, cfg, error);
    g_array_unref(xfers);
  }
  const pc_sim_result *res = NULL;
  if (p->costs) {
    pc_stage_costs_bind(p->costs, p->sched);
    res = pc_engine_run(engine, p->sched, &p->costs->costs, error);
  }
  if (res == NULL) {
    pc_prediction_free(p);
    return NULL;
  }
  take_result(p, res);
  p->memory = g_new0(size_t, (size_t)p->nstages);
  const pc_schedule *s = p->sched;
  int *peak = g_new(int, (size_t)s->nchunks);
  for (int r = 0; r < p->nstages; r++) { /* each chunk's runtime at its own high-water mark */
    pc_schedule_chunk_peaks(s, r, peak);
    /* a split backward keeps output gradients too; AdamW two moments per parameter */
    pc_runtime_layout layout = {.split = s->split_backward, .optim = cfg->optim};
    for (int c = 0; c < s->nchunks; c++)
      p->memory[r] += pc_runtime_bytes_layout(model, part, pc_schedule_virtual(s, r, c),
                                              (size_t)p->mb, peak[c], &layout);
    /* a tied weight's two ranks: the buffer its other gradient arrives in */
    size_t tied_floats;
    pc_model_tied(model, &tied_floats);
    if (r == p->costs->costs.tie_a || r == p->costs->costs.tie_b)
      p->memory[r] += sizeof(float) * tied_floats;
  }
  g_free(peak);
  return p;
}

bool pc_predict_eval(pc_engine *engine, pc_prediction *p, int nmicro, double *seconds,
                     GError **error) {
  pc_schedule *eval = pc_schedule_new_forward(p->sched, nmicro, error);
  if (eval == NULL || !pc_schedule_validate(eval, error)) {
    pc_schedule_free(eval);
    return false;
  }
  pc_stage_costs_bind(p->costs, eval);
  const pc_sim_result *res = pc_engine_run(engine, eval, &p->costs->costs, error);
  if (res) *seconds = res->makespan;
  pc_stage_costs_bind(p->costs, p->sched);
  pc_schedule_free(eval);
  return res != NULL;
}

/* Replay: the op lists run again with given compute durations, messages as modelled. */
typedef struct {
  const pc_sim_costs *model; /* the prediction's costs: messages and overheads */
  const pc_schedule *sched;
  double *const *durations;
} replay_costs;

static double replay_compute(void *ud, int stage, const pc_op *op) {
  const replay_costs *rc = ud;
  return rc->durations[stage][op - rc->sched->stages[stage].ops];
}

static double replay_message(void *ud, const pc_xfer *x, bool grad) {
  const replay_costs *rc = ud;
  return rc->model->message ? rc->model->message(rc->model->ud, x, grad) : 0.0;
}

static int replay_node(void *ud, int rank) {
  const replay_costs *rc = ud;
  return rc->model->node(rc->model->ud, rank);
}

bool pc_prediction_replay(pc_engine *engine, pc_prediction *p, double *const *durations,
                          GError **error) {
  replay_costs rc = {&p->costs->costs, p->sched, durations};
  pc_sim_costs c = p->costs->costs;
  c.compute = replay_compute;
  c.message = replay_message;
  /* measured compute holds the hosts' work on messages; a measured OPT holds its all-reduce,
   * the tied weight's exchange and the clipping's meeting, the waits for the other ranks
   * included */
  c.message_cpu = NULL;
  c.reduce = NULL;
  c.tie_exchange = 0;
  c.opt_sync = 0;
  c.node = c.node ? replay_node : NULL;
  c.ud = &rc;
  const pc_sim_result *res = pc_engine_run(engine, p->sched, &c, error);
  if (res == NULL) return false;
  for (int s = 0; s < p->nstages; s++) {
    const pc_stage_ops *st = &p->sched->stages[s];
    for (int c = 0; c < p->sched->nchunks; c++) { /* the means per chunk; a rank's one OPT */
      double sum[PC_OP_KIND_COUNT] = {0};
      int n[PC_OP_KIND_COUNT] = {0};
      for (int i = 0; i < st->nops; i++) {
        pc_op_kind k = (pc_op_kind)st->ops[i].kind;
        if (k == PC_OP_SEND || k == PC_OP_RECV || st->ops[i].chunk != c) continue;
        sum[k] += durations[s][i];
        n[k]++;
      }
      int v = pc_schedule_virtual(p->sched, s, c);
      p->costs->fwd[v] = n[PC_OP_FWD] ? sum[PC_OP_FWD] / n[PC_OP_FWD] : 0.0;
      p->costs->bwd[v] = n[PC_OP_BWD] ? sum[PC_OP_BWD] / n[PC_OP_BWD] : 0.0;
      p->costs->opt[v] = n[PC_OP_OPT] ? sum[PC_OP_OPT] / n[PC_OP_OPT] : 0.0;
      p->costs->allreduce[v] = 0.0; /* a measured OPT holds its all-reduce */
    }
    g_free(p->timeline[s]);
  }
  g_free(p->timeline);
  g_free(p->stages);
  take_result(p, res);
  return true;
}

double pc_prediction_bubble(const pc_prediction *p) {
  double b = 0;
  for (int s = 0; s < p->nstages; s++) b += p->stages[s].bubble;
  return b / p->nstages;
}

size_t pc_prediction_peak_memory(const pc_prediction *p) {
  size_t m = 0;
  for (int s = 0; s < p->nstages; s++) m = MAX(m, p->memory[s]);
  return m;
}

double pc_ideal_speedup(int nstages, int nmicro) {
  return (double)nstages * nmicro / (nmicro + nstages - 1);
}
