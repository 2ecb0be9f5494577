/* run.c — `pipecast-sim run`: predicts one training iteration of a model cut into a pipeline.
 *
 * Builds the partition (a spec, --stages N --by flops|params|time, the model's split markers, or
 * one stage), the transfers, the schedule (validated), the costs (profile, or analytic) and runs
 * the discrete-event engine; also simulates the one-stage runs it compares against. Prints the
 * iteration time, throughput, speedups (over one stage with the same microbatching and over one
 * stage with one microbatch), the ideal speedup, and per stage: compute, communication,
 * all-reduce and idle seconds, bubble fraction, peak in-flight microbatches and the executor's
 * memory plan (pc_runtime_bytes). --format csv prints the same as two CSV blocks; --trace writes
 * the Chrome trace and --gantt a gnuplot Gantt chart. With --replicas D the pipeline is one of D
 * data-parallel replicas whose stages all-reduce their gradients before the optimizer step.
 * --durations MEASURED.json replays a measured iteration of the same configuration
 * (`pipecast-exec train --trace`): every compute op takes the duration the trace recorded,
 * messages and overheads are modelled as usual, and the iteration time is the replay's; what
 * differs from the trace's own time is then the schedule and message model's error alone (the
 * CSV gets the trace's time as a last column, trace_iteration_s). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "predict.h"
#include "error.h"
#include "files.h"
#include "job.h"
#include "plot.h"
#include "trace.h"
#include "tracefile.h"

#define UNSET INT_MIN

typedef struct {
  char *sets, *partition, *by, *schedule, *net, *gemm, *trace, *gantt, *format;
  char *durations, *profile_stat, *map_by, *zb_costs;
  char **profile;
  int stages, batch, micro, replicas, rpn, chunks, eval_every, eval_samples;
  gboolean extrapolate;
  pc_cli_training training;
} run_opts;

static bool check(run_opts *o, GError **error) {
  const struct {
    const char *flag;
    int v;
  } pos[] = {{"--stages", o->stages}, {"--ranks-per-node", o->rpn},
             {"--eval-samples", o->eval_samples}};
  for (size_t i = 0; i < G_N_ELEMENTS(pos); i++)
    if (pos[i].v != UNSET && pos[i].v < 1) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s must be positive, got %d", pos[i].flag,
                  pos[i].v);
      return false;
    }
  if (o->batch == UNSET) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--batch B is required");
    return false;
  }
  if (o->format && strcmp(o->format, "table") != 0 && strcmp(o->format, "csv") != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--format '%s': expected table or csv",
                o->format);
    return false;
  }
  if (o->eval_every < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--eval-every must be at least 0, got %d",
                o->eval_every);
    return false;
  }
  if (o->eval_samples != UNSET && o->eval_every == 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--eval-samples %d goes with --eval-every K (when to evaluate)", o->eval_samples);
    return false;
  }
  if (o->eval_samples == UNSET) o->eval_samples = PC_SYNTHETIC_TEST_SIZE;
  if (o->gantt && !pc_plot_check_path(o->gantt, error)) return false;
  return o->trace == NULL || pc_output_check("--trace", o->trace, error);
}

/* One-stage baseline; NULL (and a note in *why) when it cannot be simulated. A schedule of
 * several chunks per rank has 1f1b's one-stage run as its baseline. */
static pc_prediction *baseline(pc_engine *e, const pc_model *m, pc_schedule_kind kind, int batch,
                               int micro, const pc_cost_config *cfg, char **why) {
  GError *error = NULL;
  pc_partition *one = pc_partition_whole(m);
  pc_cost_config c = *cfg;
  c.chunks = 0;
  pc_prediction *p =
      pc_predict(e, m, one, pc_predict_baseline_kind(kind), batch, micro, &c, &error);
  if (p == NULL) {
    *why = g_strdup(error->message);
    g_error_free(error);
  }
  pc_partition_free(one);
  return p;
}

static void print_speedup(const char *label, const char *what, const pc_prediction *base,
                          const char *why, double t) {
  if (base)
    printf("%-22s%.4f over %s (%.6g s)\n", label, base->makespan / t, what, base->makespan);
  else
    printf("%-22sn/a over %s: %s\n", label, what, why);
}

/* Rank R's share of the prediction: its chunks' layers, per-op seconds and rings summed. */
typedef struct {
  int layers, first, last; /* layer count; first layer of its first chunk, last of its last */
  double fwd, bwd, opt, ar_total;
  char *range;             /* "a..b" per chunk, joined by ", " */
} rank_view;

static rank_view view_rank(const pc_model *m, const pc_partition *part, const pc_prediction *p,
                           int r) {
  rank_view v = {0};
  GString *range = g_string_new(NULL);
  for (int c = 0; c < p->sched->nchunks; c++) {
    int s = pc_schedule_virtual(p->sched, r, c), a = part->first[s], b = part->first[s + 1];
    v.layers += b - a;
    if (c == 0) v.first = a;
    v.last = b - 1;
    v.fwd += p->costs->fwd[s];
    v.bwd += p->costs->bwd[s];
    v.opt += p->costs->opt[s];
    v.ar_total += p->costs->allreduce_total[s];
    g_string_append_printf(range, "%s%s..%s", c ? ", " : "", m->layers[a].name,
                           m->layers[b - 1].name);
  }
  v.range = g_string_free(range, FALSE);
  return v;
}

static void print_table(const pc_model *m, const pc_partition *part, const pc_prediction *p,
                        const pc_prediction *b1, const char *w1, const pc_prediction *b11,
                        const char *w11, const pc_prediction *rank1, const char *wr,
                        const char *sources) {
  char *spec = pc_partition_format(m, part);
  printf("model %s (%d layers), schedule %s, %d stage%s", m->name, m->nlayers,
         pc_schedule_kind_name(p->sched->kind), p->nstages, p->nstages == 1 ? "" : "s");
  if (p->sched->nchunks > 1) printf(" of %d chunks", p->sched->nchunks);
  if (p->replicas > 1) printf(" x %d replicas (%d ranks)", p->replicas, p->replicas * p->nstages);
  printf(", batch %d", p->batch);
  if (p->replicas > 1) printf(" (%d per replica)", p->batch / p->replicas);
  printf(" in %d microbatch%s of %d\n", p->nmicro, p->nmicro == 1 ? "" : "es", p->mb);
  printf("partition: %s\n%s", spec, sources);
  g_free(spec);
  if (p->costs->extrapolated)
    printf("note: microbatches of %d samples are outside the profile's measured range; its "
           "costs were extrapolated linearly\n", p->mb);
  double t = p->makespan;
  printf("\n%-22s%.6g s\n", "iteration time", t);
  printf("%-22s%.6g samples/s\n", "throughput", p->batch / t);
  char what[96];
  snprintf(what, sizeof what, "1 stage with %d microbatch%s", p->nmicro,
           p->nmicro == 1 ? "" : "es");
  print_speedup("speedup", what, b1, w1, t);
  print_speedup("", "1 stage with 1 microbatch", b11, w11, t);
  if (p->replicas > 1) print_speedup("", "1 rank (no replicas, 1 microbatch)", rank1, wr, t);
  printf("%-22s%.4f = P*M/(M+P-1)\n", "ideal speedup", pc_ideal_speedup(p->nstages, p->nmicro));
  printf("%-22s%.4f (mean over stages)\n", "bubble", pc_prediction_bubble(p));
  printf("%-22s%zu bytes (largest stage)\n", "peak memory", pc_prediction_peak_memory(p));
  printf("\n%5s  %6s  %11s  %11s  %11s  %11s  %11s  %11s  %7s  %8s  %14s  %s\n", "stage",
         "layers", "fwd_s", "bwd_s", "busy_s", "comm_s", "allreduce_s", "idle_s", "bubble",
         "inflight", "memory_bytes", "range");
  for (int s = 0; s < p->nstages; s++) {
    const pc_sim_stage *st = &p->stages[s];
    rank_view v = view_rank(m, part, p, s);
    printf("%5d  %6d  %11.6g  %11.6g  %11.6g  %11.6g  %11.6g  %11.6g  %7.4f  %8d  %14zu  %s\n",
           s, v.layers, v.fwd, v.bwd, st->busy, st->comm, st->reduce, st->idle, st->bubble,
           st->peak_inflight, p->memory[s], v.range);
    g_free(v.range);
  }
  if (p->replicas > 1)
    for (int s = 0; s < p->nstages; s++) {
      rank_view v = view_rank(m, part, p, s);
      printf("stage %d: gradient all-reduce %.6g s in buckets of %d MiB, adding %.6g s to the "
             "stage\n", s, v.ar_total, PC_BUCKET_BYTES >> 20, p->stages[s].reduce);
      g_free(v.range);
    }
}

static void csv_speedup(const pc_prediction *base, double t) {
  if (base) printf(",%.9g", base->makespan / t);
  else printf(",");
}

/* TRACE_S (not NULL with --durations): the replayed trace's iteration time, a last column. */
static void print_csv(const pc_model *m, const pc_partition *part, const pc_prediction *p,
                      const pc_prediction *b1, const pc_prediction *b11,
                      const pc_prediction *rank1, const double *trace_s, const double *eval_s) {
  double t = p->makespan;
  printf("model,schedule,stages,replicas,microbatches,batch,microbatch_size,iteration_s,"
         "throughput,speedup,speedup_vs_1mb,speedup_vs_1rank,ideal_speedup,bubble,"
         "peak_memory_bytes,extrapolated%s%s,partition\n", trace_s ? ",trace_iteration_s" : "",
         eval_s ? ",eval_s" : "");
  printf("%s,%s,%d,%d,%d,%d,%d,%.9g,%.9g", m->name, pc_schedule_kind_name(p->sched->kind),
         p->nstages, p->replicas, p->nmicro, p->batch, p->mb, t, p->batch / t);
  csv_speedup(b1, t);
  csv_speedup(b11, t);
  csv_speedup(p->replicas > 1 ? rank1 : b11, t);
  printf(",%.9g,%.9g,%zu,%d", pc_ideal_speedup(p->nstages, p->nmicro), pc_prediction_bubble(p),
         pc_prediction_peak_memory(p), p->costs->extrapolated ? 1 : 0);
  if (trace_s) printf(",%.9g", *trace_s);
  if (eval_s) printf(",%.9g", *eval_s);
  char *spec = pc_partition_format(m, part);
  printf(",%s\n", spec); /* layer names hold no commas */
  g_free(spec);
  printf("\n\nstage,first,last,layers,fwd_s,bwd_s,opt_s,allreduce_s,busy_s,comm_s,idle_s,"
         "bubble,peak_inflight,memory_bytes,allreduce_total_s\n");
  for (int s = 0; s < p->nstages; s++) {
    const pc_sim_stage *st = &p->stages[s];
    rank_view v = view_rank(m, part, p, s);
    printf("%d,%s,%s,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%zu,%.9g\n", s,
           m->layers[v.first].name, m->layers[v.last].name, v.layers, v.fwd, v.bwd, v.opt,
           st->reduce, st->busy, st->comm, st->idle, st->bubble, st->peak_inflight,
           p->memory[s], v.ar_total);
    g_free(v.range);
  }
}

/* Replays P with the compute durations of the measured trace PATH (--durations); *trace_s gets
 * the trace's own iteration time. */
static bool replay(pc_engine *e, pc_prediction *p, const char *path, double *trace_s,
                   GError **error) {
  pc_trace_file t = {0};
  if (!pc_trace_file_load(path, &t, error)) return false;
  bool ok = pc_trace_file_matches(&t, p->sched, path, error);
  double **dur = g_new0(double *, (size_t)t.nstages);
  for (int s = 0; ok && s < t.nstages; s++) {
    int n = t.first[s + 1] - t.first[s];
    dur[s] = g_new(double, (size_t)MAX(n, 1));
    for (int i = 0; i < n; i++)
      dur[s][i] = g_array_index(t.ops, pc_trace_file_op, t.first[s] + i).dur * 1e-6;
  }
  if (ok) ok = pc_prediction_replay(e, p, dur, error);
  *trace_s = t.end * 1e-6;
  for (int s = 0; s < t.nstages; s++) g_free(dur[s]);
  g_free(dur);
  pc_trace_file_clear(&t);
  return ok;
}

/* --gantt FILE: the predicted (or replayed) timeline as a Gantt chart. */
static bool gantt(const pc_model *model, const pc_partition *part, const pc_prediction *p,
                  const char *path, GError **error) {
  char *spec = pc_partition_format(model, part);
  char reps[48] = "";
  if (p->replicas > 1) snprintf(reps, sizeof reps, " x %d replicas", p->replicas);
  char *title = g_strdup_printf("%s, %s, %d stages%s, %d microbatches of %d: %.6g s (%s)",
                                model->name, pc_schedule_kind_name(p->sched->kind), p->nstages,
                                reps, p->nmicro, p->mb, p->makespan, spec);
  double *opt = g_new(double, (size_t)p->nstages); /* a rank's step: all its chunks' */
  for (int r = 0; r < p->nstages; r++) {
    rank_view v = view_rank(model, part, p, r);
    opt[r] = v.opt;
    g_free(v.range);
  }
  bool ok = pc_plot_gantt(p->sched, (const pc_span *const *)p->timeline,
                          p->costs->costs.recv_overhead, opt, title, path, error);
  g_free(opt);
  g_free(title);
  g_free(spec);
  return ok;
}

/* Where the durations come from, one line each (and the replayed trace's, with --durations). */
static char *describe_sources(const run_opts *o, const pc_cost_config *cfg,
                              const pc_prediction *p, double trace_s) {
  char *sources = pc_cost_config_describe(cfg, (const char *const *)o->profile,
                                          o->profile_stat, o->net, o->gemm);
  if (!o->durations) return sources;
  char *s = g_strdup_printf("%scompute durations: replayed from %s (its iteration %.6g s; the "
                            "replay %+.1f%%)\n", sources, o->durations, trace_s,
                            trace_s > 0 ? 100.0 * (p->makespan - trace_s) / trace_s : 0.0);
  g_free(sources);
  return s;
}

static void run_opts_clear(run_opts *o) {
  char **s[] = {&o->sets, &o->partition, &o->by, &o->schedule, &o->profile_stat, &o->net,
                &o->gemm, &o->trace, &o->gantt, &o->format, &o->durations, &o->map_by,
                &o->zb_costs, &o->training.optimizer};
  for (size_t i = 0; i < G_N_ELEMENTS(s); i++) g_free(*s[i]);
  g_strfreev(o->profile);
}

int pc_cmd_run(int argc, char **argv) {
  run_opts o = {.stages = UNSET, .batch = UNSET, .micro = UNSET, .replicas = UNSET,
                .rpn = UNSET, .chunks = UNSET, .eval_samples = UNSET};
  GOptionEntry entries[] = {
    {"set", 0, 0, G_OPTION_ARG_STRING, &o.sets, "Override model parameters", "K=V,..."},
    {"partition", 'p', 0, G_OPTION_ARG_STRING, &o.partition,
     "Partition: 'a..b | c..d', '8,8,8,8', 'auto:flops', 'auto:params', 'auto:time' or 'split'",
     "SPEC"},
    {"stages", 's', 0, G_OPTION_ARG_INT, &o.stages, "Stage count for automatic partitioning", "N"},
    {"by", 0, 0, G_OPTION_ARG_STRING, &o.by,
     "Balance by flops (default), params or time (needs --profile)", "WHAT"},
    {"schedule", 0, 0, G_OPTION_ARG_STRING, &o.schedule,
     "gpipe (default, as pipecast-exec), 1f1b, interleaved, zb-h1 or zb-v", "KIND"},
    {"chunks", 0, 0, G_OPTION_ARG_INT, &o.chunks,
     "Model chunks per rank of an interleaved schedule (default 2; the partition has stages x "
     "chunks parts)", "V"},
    {"eval-every", 0, 0, G_OPTION_ARG_INT, &o.eval_every,
     "An evaluation every K iterations (train's): its seconds, and what it adds per iteration",
     "K"},
    {"eval-samples", 0, 0, G_OPTION_ARG_INT, &o.eval_samples,
     "Test samples an evaluation takes (default 10000, the synthetic test split's)", "N"},
    {"zb-costs", 0, 0, G_OPTION_ARG_STRING, &o.zb_costs,
     "Relative FWD:BWD:BWD_W durations that zb-h1 and zb-v plan their order for (1:1:1; as "
     "pipecast-exec train takes it)", "F:B:W"},
    {"batch", 'b', 0, G_OPTION_ARG_INT, &o.batch, "Minibatch size (required)", "B"},
    {"microbatches", 'm', 0, G_OPTION_ARG_INT, &o.micro,
     "Microbatches per minibatch (per replica), must divide it (default 1)", "M"},
    {"profile", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.profile,
     "Measured layer costs (pipecast-exec profile), or samples files pooled (repeat the flag); "
     "default: analytic", "FILE"},
    {"profile-stat", 0, 0, G_OPTION_ARG_STRING, &o.profile_stat,
     "Statistic that pools samples files: median (default), mean or min", "STAT"},
    {"extrapolate", 0, 0, G_OPTION_ARG_NONE, &o.extrapolate,
     "Extrapolate the profile linearly outside its measured microbatch sizes", NULL},
    {"net", 0, 0, G_OPTION_ARG_FILENAME, &o.net,
     "Network calibration (pipecast-exec calibrate); default: a shared-memory link", "FILE"},
    {"gemm", 0, 0, G_OPTION_ARG_FILENAME, &o.gemm, "GEMM rates for analytic costs", "FILE"},
    {"replicas", 'd', 0, G_OPTION_ARG_INT, &o.replicas,
     "Data-parallel replicas of the pipeline (default 1)", "D"},
    {"ranks-per-node", 0, 0, G_OPTION_ARG_INT, &o.rpn,
     "Ranks per node; links between nodes use the net file's 'inter' rows", "R"},
    {"map-by", 0, 0, G_OPTION_ARG_STRING, &o.map_by,
     "slot (default: each node filled in turn) or node (ranks dealt to the nodes in turn)",
     "HOW"},
    {"trace", 0, 0, G_OPTION_ARG_FILENAME, &o.trace, "Write the Chrome trace JSON", "FILE"},
    {"gantt", 0, 0, G_OPTION_ARG_FILENAME, &o.gantt, "Draw a Gantt chart (.png, .pdf, .svg)",
     "FILE"},
    {"format", 'f', 0, G_OPTION_ARG_STRING, &o.format, "table (default) or csv", "FORMAT"},
    {"durations", 0, 0, G_OPTION_ARG_FILENAME, &o.durations,
     "Replay a measured trace of this configuration: its compute durations, modelled messages",
     "MEASURED.json"},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL - predict one pipelined training iteration");
  g_option_context_add_main_entries(ctx, entries, NULL);
  pc_cli_add_training_entries(ctx, &o.training);
  int status = PC_EXIT_INPUT;
  pc_model *model = NULL;
  const pc_partition *part = NULL;
  pc_job *job = NULL;
  pc_engine *engine = NULL;
  pc_prediction *p = NULL, *b1 = NULL, *b11 = NULL, *rank1 = NULL;
  char *w1 = NULL, *w11 = NULL, *wr = NULL, *sources = NULL;
  pc_cost_config cfg = {0};
  GError *error = NULL;
  if (!pc_cli_parse(ctx, "run", &argc, &argv)) goto out;
  if (argc != 2) {
    fprintf(stderr, PC_CLI_PROG " run: expected one MODEL file, got %d arguments\n", argc - 1);
    goto out;
  }
  if (!check(&o, &error)) goto fail;
  cfg.extrapolate = o.extrapolate;
  cfg.replicas = o.replicas == UNSET ? 1 : o.replicas;
  cfg.ranks_per_node = o.rpn == UNSET ? 0 : o.rpn;
  if (!pc_cli_parse_map_by(o.map_by, &cfg.by_node, &error) ||
      !pc_cli_apply_training(&o.training, &cfg, &error))
    goto fail;
  if (o.chunks != UNSET && o.chunks < 1) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE, "--chunks must be 1 to %d, got %d",
                PC_SCHEDULE_MAX_CHUNKS, o.chunks);
    goto fail;
  }
  cfg.chunks = o.chunks == UNSET ? 0 : o.chunks;
  pc_job_request req = {.partition = o.partition, .stages = o.stages == UNSET ? 0 : o.stages,
                        .chunks = cfg.chunks,
                        .by = o.by, .schedule = o.schedule, .zb_costs = o.zb_costs,
                        .batch = o.batch,
                        .micro = o.micro == UNSET ? 1 : o.micro, .replicas = cfg.replicas,
                        .times = pc_costs_layer_times, .times_ud = &cfg,
                        .bytes_per_op = PC_PREDICT_BYTES_PER_OP,
                        .memory = pc_job_machine_memory()};
  /* the batch rules and flags before any file is read */
  if (!pc_job_check_batch(req.batch, req.replicas, req.micro, &error) ||
      !pc_cost_config_load(&cfg, (const char *const *)o.profile, o.profile_stat, o.net, o.gemm,
                           &error))
    goto fail;
  model = pc_model_load(argv[1], o.sets, &error);
  if (model == NULL) goto fail;
  job = pc_job_resolve(model, &req, &error);
  if (job == NULL) goto fail;
  pc_schedule_kind kind = job->kind;
  memcpy(cfg.zb_costs, job->sched->zb_costs, sizeof cfg.zb_costs);
  o.micro = job->micro;
  o.replicas = job->replicas;
  part = job->part;
  engine = pc_engine_new();
  p = pc_predict(engine, model, part, kind, o.batch, o.micro, &cfg, &error);
  if (p == NULL) goto fail;
  double trace_s = 0, eval_s = 0;
  if (o.durations && !replay(engine, p, o.durations, &trace_s, &error)) goto fail;
  /* as train: each replica its share, whole microbatches of the training's size */
  int eval_micro = 0;
  if (o.eval_every > 0 &&
      (eval_micro = pc_job_eval_micro(o.eval_samples, o.replicas, (size_t)p->mb,
                                      p->sched->nchunks, &error)) == 0)
    goto fail;
  if (eval_micro > 0 && !pc_predict_eval(engine, p, eval_micro, &eval_s, &error)) goto fail;
  b1 = baseline(engine, model, kind, o.batch, o.micro, &cfg, &w1);
  b11 = baseline(engine, model, kind, o.batch, 1, &cfg, &w11);
  if (o.replicas > 1) {
    pc_cost_config one = cfg;
    one.replicas = 1;
    rank1 = baseline(engine, model, kind, o.batch, 1, &one, &wr);
  }
  if (o.trace && !pc_trace_write(o.trace, o.durations ? "replayed" : "predicted", p->sched,
                                 (const pc_span *const *)p->timeline, &error)) {
    g_prefix_error(&error, "--trace ");
    goto fail;
  }
  if (o.gantt && !gantt(model, part, p, o.gantt, &error)) goto fail;
  sources = describe_sources(&o, &cfg, p, trace_s);
  if (o.format && strcmp(o.format, "csv") == 0)
    print_csv(model, part, p, b1, b11, rank1, o.durations ? &trace_s : NULL,
              eval_micro ? &eval_s : NULL);
  else print_table(model, part, p, b1, w1, b11, w11, rank1, wr, sources);
  if (eval_micro && !(o.format && strcmp(o.format, "csv") == 0))
    printf("\nevaluation            %g s (%d test samples in %d microbatch%s of %d per replica); "
           "every %d iterations +%g s per iteration\n", eval_s,
           eval_micro * p->mb * o.replicas, eval_micro, eval_micro == 1 ? "" : "es", p->mb,
           o.eval_every, eval_s / o.eval_every);
  status = fflush(stdout) == 0 ? 0 : 1;
  goto out;
fail:
  status = pc_cli_fail("run", error);
out:
  pc_prediction_free(p);
  pc_prediction_free(b1);
  pc_prediction_free(b11);
  pc_prediction_free(rank1);
  g_free(w1);
  g_free(w11);
  g_free(wr);
  g_free(sources);
  pc_engine_free(engine);
  pc_job_free(job);
  pc_model_free(model);
  pc_cost_config_clear(&cfg);
  g_option_context_free(ctx);
  run_opts_clear(&o);
  return status;
}
