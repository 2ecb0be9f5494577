/* fuzz-trace.c — libFuzzer target of the Chrome trace reader: pc_trace_file_parse
 * (sim/tracefile.c), which `pipecast-sim compare` and `run --durations` read measured traces
 * with. A trace that parses must be well formed (stages in ascending pid, ops of a stage in
 * ascending index, no negative duration); it is then checked against tiny-mlp's two-stage 1f1b
 * schedule, and one that fits is replayed in the engine (pc_prediction_replay). */
#include "predict.h"
#include "fuzz-util.h"
#include "tracefile.h"

static pc_model *model;
static pc_partition *part;
static pc_engine *engine;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  model = pc_fuzz_model("tiny-mlp.model", NULL);
  GError *error = NULL;
  part = pc_partition_parse(model, "split", 0, &error);
  if (part == NULL) abort();
  engine = pc_engine_new();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pc_trace_file t;
  GError *error = NULL;
  if (!pc_trace_file_parse((const char *)data, size, "fuzz.json", &t, &error)) {
    pc_fuzz_check_error(error);
    g_error_free(error);
    return 0;
  }
  if (error || t.nstages < 1 || t.first[0] != 0 || t.first[t.nstages] != (int)t.ops->len) abort();
  for (int s = 0; s < t.nstages; s++) {
    if (t.first[s + 1] <= t.first[s]) abort();
    for (int i = t.first[s]; i < t.first[s + 1]; i++) {
      const pc_trace_file_op *o = &g_array_index(t.ops, pc_trace_file_op, i);
      const pc_trace_file_op *first = &g_array_index(t.ops, pc_trace_file_op, t.first[s]);
      if (o->pid != first->pid || o->dur < 0 || o->index < 0 || o->mb < -1) abort();
      if (i > t.first[s] && o->index <= g_array_index(t.ops, pc_trace_file_op, i - 1).index)
        abort();
    }
    if (s > 0 && g_array_index(t.ops, pc_trace_file_op, t.first[s]).pid <=
                     g_array_index(t.ops, pc_trace_file_op, t.first[s - 1]).pid)
      abort();
  }
  pc_cost_config cfg = {0};
  pc_prediction *p = pc_predict(engine, model, part, PC_SCHEDULE_1F1B, 8, 2, &cfg, &error);
  if (p == NULL) abort();
  if (pc_trace_file_matches(&t, p->sched, "fuzz.json", &error)) {
    double **dur = g_new0(double *, (size_t)t.nstages);
    for (int s = 0; s < t.nstages; s++) {
      int n = t.first[s + 1] - t.first[s];
      dur[s] = g_new(double, (size_t)n);
      for (int i = 0; i < n; i++)
        dur[s][i] = g_array_index(t.ops, pc_trace_file_op, t.first[s] + i).dur * 1e-6;
    }
    if (pc_prediction_replay(engine, p, dur, &error)) {
      if (!(p->makespan >= 0)) abort();
    } else {
      pc_fuzz_check_error(error);
      g_clear_error(&error);
    }
    for (int s = 0; s < t.nstages; s++) g_free(dur[s]);
    g_free(dur);
  } else {
    pc_fuzz_check_error(error);
    g_clear_error(&error);
  }
  pc_prediction_free(p);
  pc_trace_file_clear(&t);
  return 0;
}
