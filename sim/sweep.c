/* sweep.c — `pipecast-sim sweep`: predicts a model over a grid of (schedule, stage count,
 * microbatch count) at one minibatch size, the study of speedup against microbatches.
 *
 * For each valid configuration (the per-replica batch divisible by M, M no larger than it, no
 * more stages than layers) it cuts the model automatically (--by flops, params or time), runs
 * pc_predict, and writes one row of DIR/sweep.csv; then draws DIR/sweep.png and DIR/sweep.pdf
 * with gnuplot (speedup against M, log2 axis, one line per stage count, one panel per schedule,
 * ideal curves dashed). speedup = T(1 stage, same M) / T(P, M); speedup_vs_1mb = T(1 stage,
 * M = 1) / T(P, M); ideal = P M / (M + P - 1). A summary table goes to stdout, progress to stderr
 * only when stderr is a terminal. */
#include <errno.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "predict.h"
#include "error.h"
#include "files.h"
#include "job.h"
#include "plot.h"

#define UNSET INT_MIN

static void csv_num(FILE *f, double v) {
  if (isnan(v)) fprintf(f, ",");
  else fprintf(f, ",%.9g", v);
}

typedef struct {
  char *sets, *by, *schedules_s, *stages_s, *micro_s, *profile_stat, *net, *gemm, *outdir;
  char *zb_costs;
  pc_cli_training training;
  char *map_by;
  char **profile;
  int batch, replicas, rpn, chunks;
  gboolean extrapolate, no_plot;
} sweep_opts;

/* One sweep under way: what every point needs. */
typedef struct {
  const sweep_opts *o;
  pc_model *model;
  pc_cost_config cfg;
  pc_engine *engine;
  GArray *kinds, *stages, *micros, *points; /* points: pc_plot_point */
  FILE *csv;        /* csv_out's stream */
  pc_output *csv_out;
  char *csv_path;
} sweep;

/* The flags, then the lists and files they name: the checks before anything is written. */
static bool sweep_open(sweep *w, const char *model_path, GError **error) {
  const sweep_opts *o = w->o;
  if (o->batch == UNSET) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--batch B is required");
    return false;
  }
  if (o->rpn != UNSET && o->rpn < 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--ranks-per-node must be positive, got %d",
                o->rpn);
    return false;
  }
  int replicas = o->replicas == UNSET ? 1 : o->replicas;
  if (!pc_job_check_batch(o->batch, replicas, 1, error)) return false;
  pc_partition_by by;
  bool time;
  if (!pc_job_parse_by(o->by, &by, &time, error)) return false;
  if (time && (o->profile == NULL || o->profile[0] == NULL)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--by time needs measured layer times: give --profile FILE");
    return false;
  }
  if ((w->kinds = pc_cli_parse_schedules(o->schedules_s ? o->schedules_s : "gpipe,1f1b", error)) ==
          NULL ||
      (w->stages = pc_cli_parse_ints("--stages", o->stages_s ? o->stages_s : "1,2,4,8", error)) ==
          NULL ||
      (w->micros = pc_cli_parse_ints("--microbatches", o->micro_s ? o->micro_s : "1,2,4,8,16,32,64",
                              error)) == NULL)
    return false;
  w->cfg.extrapolate = o->extrapolate;
  w->cfg.replicas = replicas;
  w->cfg.ranks_per_node = o->rpn == UNSET ? 0 : o->rpn;
  if (o->chunks != UNSET && (o->chunks < 2 || o->chunks > PC_SCHEDULE_MAX_CHUNKS)) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--chunks must be 2 to %d, got %d",
                PC_SCHEDULE_MAX_CHUNKS, o->chunks);
    return false;
  }
  w->cfg.chunks = o->chunks == UNSET ? 0 : o->chunks;
  if (o->zb_costs && !pc_job_parse_zb_costs(o->zb_costs, PC_SCHEDULE_ZBH1, w->cfg.zb_costs, error))
    return false;
  if (!pc_cli_parse_map_by(o->map_by, &w->cfg.by_node, error) ||
      !pc_cli_apply_training(&o->training, &w->cfg, error))
    return false;
  if (!pc_cost_config_load(&w->cfg, (const char *const *)o->profile, o->profile_stat, o->net,
                           o->gemm, error))
    return false;
  w->model = pc_model_load(model_path, o->sets, error);
  if (w->model == NULL) return false;
  const char *outdir = o->outdir ? o->outdir : ".";
  if (g_mkdir_with_parents(outdir, 0777) != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "cannot make directory %s: %s", outdir,
                g_strerror(errno));
    return false;
  }
  w->csv_path = g_build_filename(outdir, "sweep.csv", NULL);
  for (int i = 0; !o->no_plot && i < 2; i++) {
    char *fig = g_build_filename(outdir, i ? "sweep.pdf" : "sweep.png", NULL);
    bool ok = pc_plot_check_path(fig, error);
    g_free(fig);
    if (!ok) return false;
  }
  if ((w->csv_out = pc_output_open(NULL, w->csv_path, error)) == NULL) return false;
  w->csv = pc_output_stream(w->csv_out);
  fprintf(w->csv, "model,schedule,stages,replicas,microbatches,batch,microbatch_size,"
                  "iteration_s,throughput,speedup,speedup_vs_1mb,ideal_speedup,bubble,"
                  "peak_memory_bytes,partition\n");
  w->engine = pc_engine_new();
  w->points = g_array_new(FALSE, FALSE, sizeof(pc_plot_point));
  return true;
}

/* One configuration: a row of sweep.csv and of the table, a point of the plot. 0 when done,
 * 1 when the batch rules, the layer count or the schedule's own rules (interleaved: 2 stages or
 * more, M a multiple of them) rule it out, -1 on error. --chunks applies to interleaved; the
 * one-stage baseline of a schedule of several chunks per rank is 1f1b's. */
static int sweep_point(sweep *w, pc_schedule_kind kind, int P, int M, const pc_partition *one,
                       double t11, GError **error) {
  const sweep_opts *o = w->o;
  pc_model *model = w->model;
  pc_cost_config cfg = w->cfg, base = w->cfg;
  cfg.chunks = kind == PC_SCHEDULE_INTERLEAVED && w->cfg.chunks > 0
                   ? w->cfg.chunks : pc_schedule_default_chunks(kind);
  base.chunks = 0;
  if (!pc_job_check_batch(o->batch, w->cfg.replicas, M, NULL) ||
      (int64_t)P * cfg.chunks > model->nlayers ||
      !pc_schedule_check_kind(kind, P, M, cfg.chunks, NULL))
    return 1;
  /* the batch rules held above; pc_predict builds and validates the op lists once */
  int mb = o->batch / w->cfg.replicas / M;
  pc_job_request req = {.stages = P, .by = o->by, .replicas = w->cfg.replicas,
                        .schedule = pc_schedule_kind_name(kind), .chunks = cfg.chunks,
                        .times = pc_costs_layer_times, .times_ud = &w->cfg};
  pc_job_source source;
  pc_partition *part = pc_job_partition(model, &req, mb, &source, error);
  pc_prediction *p = part ? pc_predict(w->engine, model, part, kind, o->batch, M, &cfg, error)
                          : NULL;
  pc_prediction *b1 =
      p ? pc_predict(w->engine, model, one, pc_predict_baseline_kind(kind), o->batch, M, &base,
                     error)
        : NULL;
  if (b1 == NULL) {
    pc_prediction_free(p);
    pc_partition_free(part);
    return -1;
  }
  double t = p->makespan, sp = b1->makespan / t, ideal = pc_ideal_speedup(P, M);
  char *spec = pc_partition_format(model, part);
  fprintf(w->csv, "%s,%s,%d,%d,%d,%d,%d,%.9g,%.9g,%.9g", model->name, pc_schedule_kind_name(kind),
          P, w->cfg.replicas, M, o->batch, mb, t, o->batch / t, sp);
  csv_num(w->csv, t11 / t);
  fprintf(w->csv, ",%.9g,%.9g,%zu,%s\n", ideal, pc_prediction_bubble(p),
          pc_prediction_peak_memory(p), spec);
  printf("%8s  %6d  %6d  %12.6g  %8.4f  %8.4f  %8.4f  %7.4f\n", pc_schedule_kind_name(kind), P,
         M, t, sp, t11 / t, ideal, pc_prediction_bubble(p));
  pc_plot_point pt = {.schedule = pc_schedule_kind_name(kind), .stages = P, .nmicro = M,
                      .speedup = sp, .ideal = ideal};
  g_array_append_val(w->points, pt);
  g_free(spec);
  pc_prediction_free(b1);
  pc_prediction_free(p);
  pc_partition_free(part);
  return 0;
}

/* Every configuration of the grid; false on the first error. */
static bool sweep_grid(sweep *w, int *skipped, GError **error) {
  bool tty = isatty(fileno(stderr));
  int total = (int)(w->kinds->len * w->stages->len * w->micros->len), done = 0;
  pc_partition *one = pc_partition_whole(w->model);
  bool ok = true;
  for (guint k = 0; ok && k < w->kinds->len; k++) {
    pc_schedule_kind kind = (pc_schedule_kind)g_array_index(w->kinds, int, k);
    GError *e11 = NULL;
    pc_cost_config base = w->cfg;
    base.chunks = 0;
    pc_prediction *b11 = pc_predict(w->engine, w->model, one, pc_predict_baseline_kind(kind),
                                    w->o->batch, 1, &base, &e11);
    double t11 = b11 ? b11->makespan : NAN;
    if (e11) {
      fprintf(stderr, PC_CLI_PROG " sweep: note: no speedup_vs_1mb: %s\n", e11->message);
      g_clear_error(&e11);
    }
    pc_prediction_free(b11);
    for (guint s = 0; ok && s < w->stages->len; s++)
      for (guint m = 0; ok && m < w->micros->len; m++) {
        int P = g_array_index(w->stages, int, s), M = g_array_index(w->micros, int, m);
        if (tty)
          fprintf(stderr, "\r%s %d stages %d microbatches (%d/%d)   ",
                  pc_schedule_kind_name(kind), P, M, ++done, total);
        int r = sweep_point(w, kind, P, M, one, t11, error);
        ok = r >= 0;
        *skipped += r == 1;
      }
  }
  if (tty) fprintf(stderr, "\n");
  pc_partition_free(one);
  return ok;
}

/* sweep.png and sweep.pdf, where gnuplot is installed. */
static bool sweep_plot(sweep *w, GError **error) {
  if (!pc_plot_available()) {
    fprintf(stderr, PC_CLI_PROG " sweep: gnuplot is not on PATH: no sweep.png or sweep.pdf\n");
    return true;
  }
  const char *outdir = w->o->outdir ? w->o->outdir : ".";
  char *png = g_build_filename(outdir, "sweep.png", NULL);
  char *pdf = g_build_filename(outdir, "sweep.pdf", NULL);
  const char *outs[] = {png, pdf};
  char *title = g_strdup_printf("%s, batch %d%s: predicted speedup (dashed: ideal)",
                                w->model->name, w->o->batch,
                                w->cfg.replicas > 1 ? " (all replicas)" : "");
  bool ok = pc_plot_sweep((const pc_plot_point *)(void *)w->points->data, (int)w->points->len,
                          title, outs, 2, error);
  if (ok) printf("wrote %s\nwrote %s\n", png, pdf);
  g_free(png);
  g_free(pdf);
  g_free(title);
  return ok;
}

static void sweep_clear(sweep *w) {
  pc_output_discard(w->csv_out);
  g_free(w->csv_path);
  if (w->kinds) g_array_unref(w->kinds);
  if (w->stages) g_array_unref(w->stages);
  if (w->micros) g_array_unref(w->micros);
  if (w->points) g_array_unref(w->points);
  pc_engine_free(w->engine);
  pc_model_free(w->model);
  pc_cost_config_clear(&w->cfg);
}

static void sweep_opts_clear(sweep_opts *o) {
  char **s[] = {&o->sets, &o->by, &o->schedules_s, &o->stages_s, &o->micro_s,
                &o->profile_stat, &o->net, &o->gemm, &o->outdir, &o->map_by, &o->zb_costs,
                &o->training.optimizer};
  for (size_t i = 0; i < G_N_ELEMENTS(s); i++) g_free(*s[i]);
  g_strfreev(o->profile);
}

int pc_cmd_sweep(int argc, char **argv) {
  sweep_opts o = {.batch = UNSET, .replicas = UNSET, .rpn = UNSET, .chunks = UNSET};
  GOptionEntry entries[] = {
    {"set", 0, 0, G_OPTION_ARG_STRING, &o.sets, "Override model parameters", "K=V,..."},
    {"stages", 's', 0, G_OPTION_ARG_STRING, &o.stages_s, "Stage counts (default 1,2,4,8)",
     "N,..."},
    {"by", 0, 0, G_OPTION_ARG_STRING, &o.by,
     "Partition by flops (default), params or time (needs --profile)", "WHAT"},
    {"schedule", 0, 0, G_OPTION_ARG_STRING, &o.schedules_s,
     "Schedules (default gpipe,1f1b; also interleaved, zb-h1, zb-v)", "KIND,..."},
    {"chunks", 0, 0, G_OPTION_ARG_INT, &o.chunks,
     "Model chunks per rank of the interleaved schedule (default 2)", "V"},
    {"zb-costs", 0, 0, G_OPTION_ARG_STRING, &o.zb_costs,
     "Relative FWD:BWD:BWD_W durations that zb-h1 and zb-v plan their order for (1:1:1)",
     "F:B:W"},
    {"batch", 'b', 0, G_OPTION_ARG_INT, &o.batch, "Minibatch size (required)", "B"},
    {"microbatches", 'm', 0, G_OPTION_ARG_STRING, &o.micro_s,
     "Microbatch counts (default 1,2,4,...,64)", "M,..."},
    {"net", 0, 0, G_OPTION_ARG_FILENAME, &o.net, "Network calibration", "FILE"},
    {"gemm", 0, 0, G_OPTION_ARG_FILENAME, &o.gemm, "GEMM rates for analytic costs", "FILE"},
    {"replicas", 'd', 0, G_OPTION_ARG_INT, &o.replicas, "Data-parallel replicas (default 1)",
     "D"},
    {"ranks-per-node", 0, 0, G_OPTION_ARG_INT, &o.rpn, "Ranks per node", "R"},
    {"map-by", 0, 0, G_OPTION_ARG_STRING, &o.map_by,
     "slot (default: each node filled in turn) or node (ranks dealt to the nodes in turn)",
     "HOW"},
    {"out", 'o', 0, G_OPTION_ARG_FILENAME, &o.outdir,
     "Directory for sweep.csv, sweep.png, sweep.pdf (default .)", "DIR"},
    {"no-plot", 0, 0, G_OPTION_ARG_NONE, &o.no_plot, "Write sweep.csv only", NULL},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL - predict a grid of pipeline configurations");
  g_option_context_add_main_entries(ctx, entries, NULL);
  pc_cli_add_profile_entries(ctx, &o.profile, &o.profile_stat, &o.extrapolate);
  pc_cli_add_training_entries(ctx, &o.training);
  int status = PC_EXIT_INPUT, skipped = 0;
  sweep w = {.o = &o};
  GError *error = NULL;
  if (!pc_cli_parse(ctx, "sweep", &argc, &argv)) goto out;
  if (argc != 2) {
    fprintf(stderr, PC_CLI_PROG " sweep: expected one MODEL file, got %d arguments\n", argc - 1);
    goto out;
  }
  if (!sweep_open(&w, argv[1], &error)) goto fail;
  printf("model %s, batch %d%s\n%8s  %6s  %6s  %12s  %8s  %8s  %8s  %7s\n", w.model->name,
         o.batch, w.cfg.replicas > 1 ? " over replicas" : "", "schedule", "stages", "micro",
         "iteration_s", "speedup", "vs_1mb", "ideal", "bubble");
  if (!sweep_grid(&w, &skipped, &error)) goto fail;
  w.csv = NULL;
  if (!pc_output_commit(g_steal_pointer(&w.csv_out), &error)) goto fail;
  printf("%d configurations simulated, %d skipped (M must divide the batch of %d; at most %d "
         "stages)\nwrote %s\n", (int)w.points->len, skipped, o.batch / w.cfg.replicas,
         w.model->nlayers, w.csv_path);
  if (!o.no_plot && w.points->len && !sweep_plot(&w, &error)) goto fail;
  status = fflush(stdout) == 0 ? 0 : 1;
  goto out;
fail:
  status = pc_cli_fail("sweep", error);
out:
  sweep_clear(&w);
  g_option_context_free(ctx);
  sweep_opts_clear(&o);
  return status;
}
