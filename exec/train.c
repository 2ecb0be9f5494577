/* train.c — `pipecast-exec train`: the iterations of one rank's stage (stage.c), the progress
 * lines, checkpoints, and what the run writes at its end (times, summary, trace, weights,
 * profile samples). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allreduce.h"
#include "checkpoint.h"
#include "data.h"
#include "error.h"
#include "files.h"
#include "exec.h"
#include "timing.h"
#include "job.h"
#include "model.h"
#include "partition.h"
#include "runtime.h"
#include "schedule.h"
#include "stage.h"
#include "trace.h"
#include "weights.h"

/* Iterations start..iters-1: each one's slowest stage time and loss, the progress lines, the
 * evaluations (EVALS[3 it ..]: loss, accuracy and seconds; NAN where none), the checkpoints.
 * false when a checkpoint could not be written on every stage. */
static bool train_loop(stage_run *r, int start, const pc_checkpoint_job *job, const char *run,
                       double *times, double *losses, double *evals) {
  const train_opts *o = r->o;
  GError *error = NULL;
  double window[2] = {0, 0};
  int window_iters = 0;
  for (int it = start; it < o->iters; it++) {
    double sums[2] = {0, 0};
    double slowest = times[it] = pc_stage_iterate(r, it, sums);
    losses[it] = sums[0] / o->batch;
    window[0] += sums[0];
    window[1] += sums[1];
    window_iters++;
    if (r->rank == 0 && ((it + 1) % o->print_every == 0 || it + 1 == o->iters)) {
      /* loss and accuracy: means over the iterations since the last line */
      double samples = (double)o->batch * window_iters;
      printf("iter %4d  loss %.4f  accuracy %.4f  time %.4f s\n", it + 1, window[0] / samples,
             window[1] / samples, slowest);
      fflush(stdout);
      window[0] = window[1] = 0;
      window_iters = 0;
    }
    evals[3 * it] = evals[3 * it + 1] = evals[3 * it + 2] = NAN;
    if (o->eval_every > 0 && ((it + 1) % o->eval_every == 0 || it + 1 == o->iters)) {
      double e[4];
      pc_stage_evaluate(r, e);
      if (r->rank == 0) {
        printf("eval %4d  loss %.4f  accuracy %.4f  time %.4f s  (%.0f test samples)\n", it + 1,
               e[0], e[1], e[3], e[2]);
        fflush(stdout);
        evals[3 * it] = e[0];
        evals[3 * it + 1] = e[1];
        evals[3 * it + 2] = e[3];
      }
    }
    bool due = o->checkpoint && (it + 1 == o->iters ||
                                 (o->checkpoint_every > 0 && (it + 1) % o->checkpoint_every == 0));
    if (due) { /* every rank learns whether every stage's checkpoint was written */
      int saved = pc_checkpoint_save(o->checkpoint, it + 1, job, run, r->rts, r->vstages, r->C,
                                     r->replica, &error),
          all_saved = 0;
      if (error) pc_error_print(PC_EXEC_PROG " train", error->message);
      g_clear_error(&error);
      MPI_Allreduce(&saved, &all_saved, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
      if (!all_saved) return false;
    }
  }
  return true;
}

/* The timed iterations' statistics (n = 0 when none was timed). */
typedef struct {
  int n;
  double median, mean, min;
} timing;

/* The timing summary and --times: 0, or 1 when the file could not be written. *t gets the
 * statistics on rank 0. */
static int train_report(const stage_run *r, int start, const double *times,
                        const double *losses, const double *evals, timing *t) {
  const train_opts *o = r->o;
  int status = 0;
  int timed0 = start + o->warmup, n = o->iters - timed0;
  *t = (timing){0};
  if (r->rank == 0 && n > 0) {
    double *sorted = g_memdup2(times + timed0, (size_t)n * sizeof(double)), sum = 0;
    double median = pc_median(sorted, n); /* sorts */
    for (int i = 0; i < n; i++) sum += sorted[i];
    *t = (timing){n, median, sum / n, sorted[0]};
    printf("time per iteration over %d iterations (after %d warm-up): median %.4f s, mean %.4f s, "
           "min %.4f s; %.1f samples/s\n", n, o->warmup, median, sum / n, sorted[0],
           o->batch / median);
    g_free(sorted);
  }
  if (r->rank == 0 && o->times) {
    GError *error = NULL;
    pc_output *out = pc_output_open("--times", o->times, &error);
    if (out) {
      FILE *f = pc_output_stream(out);
      bool ev = o->eval_every > 0;
      fprintf(f, "iteration,seconds,warmup,loss%s\n",
              ev ? ",eval_loss,eval_accuracy,eval_seconds" : "");
      for (int i = start; i < o->iters; i++) {
        fprintf(f, "%d,%.9f,%d,%.9g", i + 1, times[i], i < timed0, losses[i]);
        if (ev && !isnan(evals[3 * i]))
          fprintf(f, ",%.9g,%.9g,%.9f", evals[3 * i], evals[3 * i + 1], evals[3 * i + 2]);
        else if (ev)
          fprintf(f, ",,,");
        fputc('\n', f);
      }
    }
    if (out == NULL || !pc_output_commit(out, &error)) {
      pc_error_print(PC_EXEC_PROG " train", error->message);
      g_clear_error(&error);
      status = 1;
    }
  }
  return status;
}

/* Rank 0: --summary FILE, the run as JSON: its job, the timed iterations' statistics and each
 * stage's memory (MEM: process and accounted bytes per rank, from pc_stage_print_memory). */
static bool write_summary(const stage_run *r, const char *path, const timing *t,
                          const double *mem, GError **error) {
  const train_opts *o = r->o;
  char *spec = pc_partition_format(r->model, r->part);
  GString *s = g_string_new(NULL);
  /* names and specs are letters, digits, '_', '.', '|' and blanks: nothing to escape */
  g_string_append_printf(s, "{\"model\": \"%s\", \"schedule\": \"%s\", \"stages\": %d, "
                         "\"replicas\": %d, \"batch\": %d, \"microbatches\": %d, "
                         "\"microbatch_size\": %zu, \"partition\": \"%s\",\n",
                         r->model->name, pc_schedule_kind_name(r->sched->kind), r->P, r->D,
                         o->batch, o->micro, r->mb, spec);
  g_string_append_printf(s, " \"iterations\": %d, \"warmup\": %d, \"timed\": %d", o->iters,
                         o->warmup, t->n);
  if (t->n > 0)
    g_string_append_printf(s, ", \"median_s\": %.9g, \"mean_s\": %.9g, \"min_s\": %.9g, "
                           "\"samples_per_s\": %.9g", t->median, t->mean, t->min,
                           o->batch / t->median);
  g_string_append(s, ",\n \"memory\": [");
  for (int st = 0; st < r->P; st++)
    g_string_append_printf(s, "%s\n  {\"stage\": %d, \"process_bytes\": %.0f, "
                           "\"accounted_bytes\": %.0f}", st ? "," : "", st, mem[2 * st],
                           mem[2 * st + 1]);
  g_string_append(s, "\n ]}\n");
  bool ok = pc_output_write("--summary", path, s->str, s->len, error);
  g_string_free(s, TRUE);
  g_free(spec);
  return ok;
}

/* After the iterations: the memory lines, --summary, --trace, --save and --profile-samples. The
 * job's status: STATUS, or 1 where any rank failed to write. Collective. */
static int train_outputs(stage_run *r, const timing *t, int status) {
  const train_opts *o = r->o;
  GError *error = NULL;
  /* Memory: measured peak and as accounted, per stage, gathered on rank 0. */
  double *mem = pc_stage_print_memory(r, stdout);
  if (r->rank == 0 && o->summary && !write_summary(r, o->summary, t, mem, &error)) {
    pc_error_print(PC_EXEC_PROG " train", error->message);
    g_clear_error(&error);
    status = 1;
  }
  g_free(mem);
  if (o->trace && !pc_stage_write_trace(r, o->trace, &error)) {
    g_prefix_error(&error, "--trace ");
    pc_error_print(PC_EXEC_PROG " train", error->message);
    g_clear_error(&error);
    status = 1;
  }
  if (o->save && !pc_stage_save_weights(r, o->save, &error)) {
    g_prefix_error(&error, "--save ");
    pc_error_print(PC_EXEC_PROG " train", error->message);
    g_clear_error(&error);
    status = 1;
  }
  /* The run's own processes, runtimes and pages, after everything else: the profile of its ops
   * under the run's conditions (experiments/study.sh predicts each cell from these). */
  if (o->profile_samples &&
      !pc_exec_profile_runtime("train", "--profile-samples", o->profile_samples, r->rts,
                               r->vstages, r->C, r->model, r->part, r->mb, o->profile_reps,
                               true))
    status = 1;
  {
    int worst = status, any;
    MPI_Allreduce(&worst, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    status = any;
  }
  return status;
}

/* What a run starts from: its checkpoint identity, the checkpoint it resumed, its ID. */
typedef struct {
  char *spec, *config, *config_before, *optimizer;
  pc_checkpoint_job job;
  pc_checkpoint_info resumed;
  char run[PC_RUN_ID_LEN + 1];
} train_start;

static void start_clear(train_start *st) {
  g_free(st->spec);
  g_free(st->config);
  g_free(st->config_before);
  g_free(st->optimizer);
  g_free(st->resumed.optimizer);
}

/* After pc_stage_open (OPENED on this rank): --resume, the checkpoint folder's owner, the
 * run's header lines. Collective; false on every rank, the lowest failing rank's message
 * printed, when any of it failed. */
static bool start_run(stage_run *r, bool opened, train_start *st, GError **error) {
  const train_opts *o = r->o;
  st->spec = r->part ? pc_partition_format(r->model, r->part) : NULL;
  /* the model's parameters as they resolved (however --set wrote them), then the job */
  GString *params = g_string_new("params=");
  for (int i = 0; r->model && i < r->model->nparams; i++)
    g_string_append_printf(params, "%s%s=%s", i ? "," : "", r->model->params[i].name,
                           r->model->params[i].value);
  char *job = g_strdup_printf("partition=%s batch=%d microbatches=%d replicas=%d seed=%lld "
                              "data=%s", st->spec, o->batch, o->micro, o->replicas,
                              (long long)o->seed, o->data ? o->data : "synthetic");
  st->config = g_strdup_printf("%s %s", params->str, job);
  st->config_before = g_strdup_printf("%s set=%s", job, o->sets ? o->sets : "");
  g_string_free(params, TRUE);
  g_free(job);
  st->optimizer = pc_stage_optim_text(o);
  /* a file per stage of the partition: chunks are stages of their own */
  st->job = (pc_checkpoint_job){r->model ? r->model->name : NULL,
                                r->part ? r->part->nstages : r->P, st->config,
                                st->config_before, st->optimizer};
  bool ok = opened;
  if (ok && o->resume) {
    ok = pc_checkpoint_load(o->resume, &st->job, r->rts, r->vstages, r->C, &st->resumed, error);
    if (ok && st->resumed.iteration >= o->iters) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "--resume %s: the checkpoint is at iteration %d, --iters is %d: nothing to do",
                  o->resume, st->resumed.iteration, o->iters);
      ok = false;
    }
  }
  /* Stage 0 (or the failing rank) reports; the others learn of it collectively. */
  if (!pc_stage_all_ok("train", ok, error) ||
      !pc_stage_all_ok("train", pc_checkpoint_begin(o->checkpoint, o->resume, st->resumed.run,
                                                    o->checkpoint_replace, st->run, error),
                       error))
    return false;
  if (r->rank == 0) {
    printf("pipecast train %s: %d stage%s x %d replica%s, %s, batch %d = %d x %zu, %d iterations\n"
           "partition: %s\n", r->model->name, r->P, r->P > 1 ? "s" : "", r->D,
           r->D > 1 ? "s" : "", pc_schedule_kind_name(r->sched->kind), o->batch, o->micro * r->D,
           r->mb, o->iters, st->spec);
    if (r->data) printf("data: %s\n", pc_dataset_describe(r->data));
    if (st->resumed.iteration)
      printf("resumed from %s at iteration %d\n", o->resume, st->resumed.iteration);
    if (st->resumed.optimizer && strcmp(st->resumed.optimizer, st->optimizer) != 0)
      printf("note: the checkpoint was trained with %s; this run goes on with %s\n",
             st->resumed.optimizer, st->optimizer);
    fflush(stdout);
  }
  return true;
}

int pc_cmd_train(int argc, char **argv) {
  train_opts o = {.stages = PC_JOB_UNSET, .chunks = PC_JOB_UNSET, .batch = 32, .micro = 1, .iters = 10, .warmup = INT_MIN, .replicas = 1,
                  .print_every = 1, PC_STAGE_OPTIM_DEFAULTS, .seed = 1, .profile_reps = 5};
  GOptionEntry entries[] = {
    {"set", 0, 0, G_OPTION_ARG_STRING, &o.sets, "Override model parameters", "K=V,..."},
    {"partition", 'p', 0, G_OPTION_ARG_STRING, &o.partition, "Partition spec (see models/README.md)", "SPEC"},
    {"stages", 's', 0, G_OPTION_ARG_INT, &o.stages, "Stages for automatic partitioning (default: ranks / replicas)", "P"},
    {"by", 0, 0, G_OPTION_ARG_STRING, &o.by, "Balance stages by flops (default) or params", "WHAT"},
    {"schedule", 0, 0, G_OPTION_ARG_STRING, &o.schedule,
     "gpipe (default), 1f1b, interleaved, zb-h1 or zb-v", "NAME"},
    {"chunks", 0, 0, G_OPTION_ARG_INT, &o.chunks,
     "Model chunks per rank of the interleaved schedule (default 2; the partition has stages x "
     "chunks parts)", "V"},
    {"zb-costs", 0, 0, G_OPTION_ARG_STRING, &o.zb_costs,
     "Relative FWD:BWD:BWD_W durations that zb-h1 and zb-v plan their order for (1:1:1; give "
     "pipecast-sim the same)", "F:B:W"},
    {"batch", 'b', 0, G_OPTION_ARG_INT, &o.batch, "Minibatch size, all replicas together (32)", "B"},
    {"microbatches", 'm', 0, G_OPTION_ARG_INT, &o.micro, "Microbatches per minibatch of a replica (1)", "M"},
    {"iters", 'n', 0, G_OPTION_ARG_INT, &o.iters, "Iterations (10)", "N"},
    {"warmup", 0, 0, G_OPTION_ARG_INT, &o.warmup, "Iterations left out of the timings (1; 0 with --iters 1)", "W"},
    {"replicas", 0, 0, G_OPTION_ARG_INT, &o.replicas, "Data-parallel copies of the pipeline (1)", "D"},
    {"eval-every", 0, 0, G_OPTION_ARG_INT, &o.eval_every,
     "Evaluate on the test split every K iterations and after the last (0: never)", "K"},
    {"eval-samples", 0, 0, G_OPTION_ARG_INT, &o.eval_samples,
     "Test samples an evaluation takes at most (default: the whole split)", "N"},
    {"seed", 0, 0, G_OPTION_ARG_INT64, &o.seed, "Seed of the weights and synthetic data (1)", "S"},
    {"data", 0, 0, G_OPTION_ARG_STRING, &o.data,
     "synthetic (default), cifar10:DIR, mnist:DIR; for a model of token ids synthetic or "
     "tokens:TRAIN.bin[,TEST.bin]", "SPEC"},
    {"save", 0, 0, G_OPTION_ARG_FILENAME, &o.save, "Write the trained weights to FILE", "FILE"},
    {"load", 0, 0, G_OPTION_ARG_FILENAME, &o.load, "Start from the weights in FILE", "FILE"},
    {"times", 0, 0, G_OPTION_ARG_FILENAME, &o.times, "Write per-iteration seconds as CSV", "FILE"},
    {"summary", 0, 0, G_OPTION_ARG_FILENAME, &o.summary, "Write the run's summary (job, times, memory per stage) as JSON", "FILE"},
    {"trace", 0, 0, G_OPTION_ARG_FILENAME, &o.trace, "Write the last iteration as a Chrome trace", "FILE"},
    {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &o.timeout, "End the job when a wait lasts S seconds", "S"},
    {"print-every", 0, 0, G_OPTION_ARG_INT, &o.print_every, "Print every K-th iteration (1)", "K"},
    {"checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &o.checkpoint, "Checkpoint into DIR (at the end, and every --checkpoint-every)", "DIR"},
    {"checkpoint-every", 0, 0, G_OPTION_ARG_INT, &o.checkpoint_every, "Checkpoint every K iterations", "K"},
    {"checkpoint-replace", 0, 0, G_OPTION_ARG_NONE, &o.checkpoint_replace,
     "Let --checkpoint replace another run's checkpoint in DIR", NULL},
    {"resume", 0, 0, G_OPTION_ARG_FILENAME, &o.resume, "Continue from the checkpoint in DIR", "DIR"},
    {"profile-samples", 0, 0, G_OPTION_ARG_FILENAME, &o.profile_samples,
     "After the run, its processes time their stages' layers (profile --samples's format)", "FILE"},
    {"profile-reps", 0, 0, G_OPTION_ARG_INT, &o.profile_reps, "Repetitions of --profile-samples (5)", "R"},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL - train MODEL with pipeline parallelism");
  g_option_context_add_main_entries(ctx, entries, NULL);
  pc_stage_add_optim_entries(ctx, &o);
  stage_run r = {.o = &o, .stage_comm = MPI_COMM_NULL, .pipe_comm = MPI_COMM_NULL};
  GError *error = NULL;
  int status = PC_EXIT_INPUT;
  double *times = NULL, *losses = NULL, *evals = NULL;
  if (!pc_exec_parse(ctx, "train", &argc, &argv)) goto out;
  if (argc != 2) {
    if (pc_exec_rank() == 0)
      fprintf(stderr, PC_EXEC_PROG " train: expected one MODEL file, got %d arguments\n", argc - 1);
    goto out;
  }
  if (o.warmup == INT_MIN) o.warmup = o.iters > 1 ? 1 : 0;
  bool ok = pc_stage_open(&r, &o, argv[1], pc_exec_memory_per_rank(), &error);
  train_start st = {0};
  ok = start_run(&r, ok, &st, &error);
  int start = st.resumed.iteration;
  if (ok) {
    times = g_new0(double, (size_t)o.iters);
    losses = g_new0(double, (size_t)o.iters);
    evals = g_new0(double, 3 * (size_t)o.iters);
    ok = train_loop(&r, start, &st.job, st.run, times, losses, evals);
    status = ok ? 0 : 1;
  }
  start_clear(&st);
  if (!ok) goto out;
  timing t;
  status = train_report(&r, start, times, losses, evals, &t);
  status = train_outputs(&r, &t, status);
out:
  g_free(times);
  g_free(losses);
  g_free(evals);
  pc_stage_close(&r);
  g_option_context_free(ctx);
  g_free(o.sets); g_free(o.partition); g_free(o.by); g_free(o.schedule); g_free(o.data);
  g_free(o.save); g_free(o.load); g_free(o.times); g_free(o.trace); g_free(o.summary);
  g_free(o.checkpoint); g_free(o.resume); g_free(o.profile_samples); g_free(o.zb_costs);
  g_free(o.optimizer); g_free(o.lr_schedule);
  return status;
}
