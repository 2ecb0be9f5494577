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
#include "costs.h"
#include "error.h"
#include "plot.h"

#define UNSET INT_MIN

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* "1,2,4": positive integers, sorted, duplicates dropped. */
static GArray *parse_ints(const char *flag, const char *text, GError **error) {
  GArray *v = g_array_new(FALSE, FALSE, sizeof(int));
  gchar **items = g_strsplit(text, ",", -1);
  bool ok = items[0] != NULL;
  for (int i = 0; ok && items[i]; i++) {
    char *item = g_strstrip(items[i]), *end;
    long long x = g_ascii_strtoll(item, &end, 10);
    ok = *item && *end == '\0' && x >= 1 && x <= INT_MAX;
    int xi = (int)x;
    if (ok) g_array_append_val(v, xi);
  }
  g_strfreev(items);
  if (!ok) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "%s '%s': expected a comma-separated list of positive integers", flag, text);
    g_array_unref(v);
    return NULL;
  }
  g_array_sort(v, cmp_int);
  guint k = 0;
  for (guint i = 0; i < v->len; i++)
    if (k == 0 || g_array_index(v, int, i) != g_array_index(v, int, k - 1))
      g_array_index(v, int, k++) = g_array_index(v, int, i);
  g_array_set_size(v, k);
  return v;
}

/* "gpipe,1f1b": schedule kinds in the order given, duplicates dropped. */
static GArray *parse_schedules(const char *text, GError **error) {
  GArray *v = g_array_new(FALSE, FALSE, sizeof(int));
  gchar **items = g_strsplit(text, ",", -1);
  bool ok = items[0] != NULL;
  for (int i = 0; ok && items[i]; i++) {
    char *item = g_strstrip(items[i]);
    int k = pc_schedule_kind_from_name(item);
    if (k < 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "--schedule '%s': unknown schedule '%s' (expected gpipe or 1f1b)", text, item);
      ok = false;
      break;
    }
    bool dup = false;
    for (guint j = 0; j < v->len; j++) dup = dup || g_array_index(v, int, j) == k;
    if (!dup) g_array_append_val(v, k);
  }
  if (ok && v->len == 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--schedule '%s': no schedule named", text);
    ok = false;
  }
  g_strfreev(items);
  if (!ok) {
    g_array_unref(v);
    return NULL;
  }
  return v;
}

static void csv_num(FILE *f, double v) {
  if (isnan(v)) fprintf(f, ",");
  else fprintf(f, ",%.9g", v);
}

int pc_cmd_sweep(int argc, char **argv) {
  char *sets = NULL, *by = NULL, *schedules_s = NULL, *stages_s = NULL, *micro_s = NULL,
       *profile = NULL, *net = NULL, *gemm = NULL, *outdir = NULL;
  int batch = UNSET, replicas = UNSET, rpn = UNSET;
  gboolean extrapolate = FALSE, no_plot = FALSE;
  GOptionEntry entries[] = {
    {"set", 0, 0, G_OPTION_ARG_STRING, &sets, "Override model parameters", "K=V,..."},
    {"stages", 's', 0, G_OPTION_ARG_STRING, &stages_s, "Stage counts (default 1,2,4,8)",
     "N,..."},
    {"by", 0, 0, G_OPTION_ARG_STRING, &by,
     "Partition by flops (default), params or time (needs --profile)", "WHAT"},
    {"schedule", 0, 0, G_OPTION_ARG_STRING, &schedules_s, "Schedules (default gpipe,1f1b)",
     "KIND,..."},
    {"batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Minibatch size (required)", "B"},
    {"microbatches", 'm', 0, G_OPTION_ARG_STRING, &micro_s,
     "Microbatch counts (default 1,2,4,...,64)", "M,..."},
    {"profile", 0, 0, G_OPTION_ARG_FILENAME, &profile, "Measured layer costs", "FILE"},
    {"extrapolate", 0, 0, G_OPTION_ARG_NONE, &extrapolate,
     "Extrapolate the profile linearly outside its measured microbatch sizes", NULL},
    {"net", 0, 0, G_OPTION_ARG_FILENAME, &net, "Network calibration", "FILE"},
    {"gemm", 0, 0, G_OPTION_ARG_FILENAME, &gemm, "GEMM rates for analytic costs", "FILE"},
    {"replicas", 'd', 0, G_OPTION_ARG_INT, &replicas, "Data-parallel replicas (default 1)", "D"},
    {"ranks-per-node", 0, 0, G_OPTION_ARG_INT, &rpn, "Ranks per node", "R"},
    {"out", 'o', 0, G_OPTION_ARG_FILENAME, &outdir,
     "Directory for sweep.csv, sweep.png, sweep.pdf (default .)", "DIR"},
    {"no-plot", 0, 0, G_OPTION_ARG_NONE, &no_plot, "Write sweep.csv only", NULL},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL - predict a grid of pipeline configurations");
  g_option_context_add_main_entries(ctx, entries, NULL);
  int status = PC_EXIT_INPUT;
  pc_model *model = NULL;
  pc_engine *engine = NULL;
  GArray *kinds = NULL, *stages = NULL, *micros = NULL, *points = NULL;
  GPtrArray *strings = g_ptr_array_new_with_free_func(g_free);
  char *csv_path = NULL;
  FILE *csv = NULL;
  pc_cost_config cfg = {0};
  GError *error = NULL;
  if (!pc_cli_parse(ctx, "sweep", &argc, &argv)) goto out;
  if (argc != 2) {
    fprintf(stderr, PC_CLI_PROG " sweep: expected one MODEL file, got %d arguments\n", argc - 1);
    goto out;
  }
  if (batch == UNSET) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE, "--batch B is required");
    goto fail;
  }
  {
    const char *flag = batch < 1 ? "--batch" : replicas != UNSET && replicas < 1 ? "--replicas"
                       : rpn != UNSET && rpn < 1 ? "--ranks-per-node" : NULL;
    if (flag) {
      g_set_error(&error, PC_ERROR, PC_ERROR_USAGE, "%s must be positive, got %d", flag,
                  batch < 1 ? batch : replicas != UNSET && replicas < 1 ? replicas : rpn);
      goto fail;
    }
  }
  if (replicas == UNSET) replicas = 1;
  if (batch % replicas != 0) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE, "--batch %d is not divisible by --replicas %d",
                batch, replicas);
    goto fail;
  }
  if (by && strcmp(by, "flops") != 0 && strcmp(by, "params") != 0 && strcmp(by, "time") != 0) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE, "--by '%s': expected flops, params or time",
                by);
    goto fail;
  }
  if (by && strcmp(by, "time") == 0 && profile == NULL) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE,
                "--by time needs measured layer times: give --profile FILE");
    goto fail;
  }
  if ((kinds = parse_schedules(schedules_s ? schedules_s : "gpipe,1f1b", &error)) == NULL ||
      (stages = parse_ints("--stages", stages_s ? stages_s : "1,2,4,8", &error)) == NULL ||
      (micros = parse_ints("--microbatches", micro_s ? micro_s : "1,2,4,8,16,32,64", &error)) ==
          NULL)
    goto fail;
  cfg.extrapolate = extrapolate;
  cfg.replicas = replicas;
  cfg.ranks_per_node = rpn == UNSET ? 0 : rpn;
  if (!pc_cost_config_load(&cfg, profile, net, gemm, &error)) goto fail;
  model = pc_model_load(argv[1], sets, &error);
  if (model == NULL) goto fail;
  if (outdir == NULL) outdir = g_strdup(".");
  if (g_mkdir_with_parents(outdir, 0777) != 0) {
    g_set_error(&error, PC_ERROR, PC_ERROR_IO, "cannot make directory %s: %s", outdir,
                g_strerror(errno));
    goto fail;
  }
  csv_path = g_build_filename(outdir, "sweep.csv", NULL);
  csv = fopen(csv_path, "w");
  if (csv == NULL) {
    g_set_error(&error, PC_ERROR, PC_ERROR_IO, "cannot write %s: %s", csv_path,
                g_strerror(errno));
    goto fail;
  }
  fprintf(csv, "model,schedule,stages,replicas,microbatches,batch,microbatch_size,iteration_s,"
               "throughput,speedup,speedup_vs_1mb,ideal_speedup,bubble,peak_memory_bytes,"
               "partition\n");
  bool tty = isatty(fileno(stderr));
  int per = batch / replicas, total = 0, done = 0, skipped = 0;
  for (guint k = 0; k < kinds->len; k++)
    for (guint s = 0; s < stages->len; s++)
      for (guint m = 0; m < micros->len; m++) total++;
  engine = pc_engine_new();
  points = g_array_new(FALSE, FALSE, sizeof(pc_plot_point));
  printf("model %s, batch %d%s\n%8s  %6s  %6s  %12s  %8s  %8s  %8s  %7s\n", model->name, batch,
         replicas > 1 ? " over replicas" : "", "schedule", "stages", "micro", "iteration_s",
         "speedup", "vs_1mb", "ideal", "bubble");
  for (guint k = 0; k < kinds->len; k++) {
    pc_schedule_kind kind = (pc_schedule_kind)g_array_index(kinds, int, k);
    int n = model->nlayers;
    pc_partition *one = pc_partition_from_counts(model, &n, 1, &error);
    PC_ASSERT(one != NULL);
    GError *e11 = NULL;
    pc_prediction *b11 = pc_predict(engine, model, one, kind, batch, 1, &cfg, &e11);
    double t11 = b11 ? b11->makespan : NAN;
    if (e11) {
      fprintf(stderr, PC_CLI_PROG " sweep: note: no speedup_vs_1mb: %s\n", e11->message);
      g_clear_error(&e11);
    }
    pc_prediction_free(b11);
    for (guint s = 0; s < stages->len; s++) {
      int P = g_array_index(stages, int, s);
      for (guint m = 0; m < micros->len; m++) {
        int M = g_array_index(micros, int, m);
        done++;
        if (tty) fprintf(stderr, "\r%s %d stages %d microbatches (%d/%d)   ",
                         pc_schedule_kind_name(kind), P, M, done, total);
        if (M > per || per % M != 0 || P > model->nlayers) {
          skipped++;
          continue;
        }
        int mb = per / M;
        pc_partition *part = pc_costs_make_partition(model, NULL, P, by, &cfg, mb, &error);
        pc_prediction *p = part ? pc_predict(engine, model, part, kind, batch, M, &cfg, &error)
                                : NULL;
        pc_prediction *b1 = p ? pc_predict(engine, model, one, kind, batch, M, &cfg, &error)
                              : NULL;
        if (b1 == NULL) {
          pc_prediction_free(p);
          pc_partition_free(part);
          pc_partition_free(one);
          if (tty) fprintf(stderr, "\n");
          goto fail;
        }
        double t = p->makespan, sp = b1->makespan / t, ideal = pc_ideal_speedup(P, M);
        char *spec = pc_partition_format(model, part);
        fprintf(csv, "%s,%s,%d,%d,%d,%d,%d,%.9g,%.9g,%.9g", model->name,
                pc_schedule_kind_name(kind), P, replicas, M, batch, mb, t, batch / t, sp);
        csv_num(csv, t11 / t);
        fprintf(csv, ",%.9g,%.9g,%zu,%s\n", ideal, pc_prediction_bubble(p),
                pc_prediction_peak_memory(p), spec);
        printf("%8s  %6d  %6d  %12.6g  %8.4f  %8.4f  %8.4f  %7.4f\n",
               pc_schedule_kind_name(kind), P, M, t, sp, t11 / t, ideal,
               pc_prediction_bubble(p));
        pc_plot_point pt = {.schedule = pc_schedule_kind_name(kind), .stages = P, .nmicro = M,
                            .speedup = sp, .ideal = ideal};
        g_array_append_val(points, pt);
        g_free(spec);
        pc_prediction_free(b1);
        pc_prediction_free(p);
        pc_partition_free(part);
      }
    }
    pc_partition_free(one);
  }
  if (tty) fprintf(stderr, "\n");
  if (fclose(csv) != 0) {
    csv = NULL;
    g_set_error(&error, PC_ERROR, PC_ERROR_IO, "cannot write %s", csv_path);
    goto fail;
  }
  csv = NULL;
  printf("%d configurations simulated, %d skipped (M must divide the batch of %d; at most %d "
         "stages)\nwrote %s\n", (int)points->len, skipped, per, model->nlayers, csv_path);
  if (!no_plot && points->len) {
    if (!pc_plot_available()) {
      fprintf(stderr, PC_CLI_PROG " sweep: gnuplot is not on PATH: no sweep.png or sweep.pdf\n");
    } else {
      char *png = g_build_filename(outdir, "sweep.png", NULL);
      char *pdf = g_build_filename(outdir, "sweep.pdf", NULL);
      g_ptr_array_add(strings, png);
      g_ptr_array_add(strings, pdf);
      const char *outs[] = {png, pdf};
      char *title = g_strdup_printf("%s, batch %d%s: predicted speedup (dashed: ideal)",
                                    model->name, batch, replicas > 1 ? " (all replicas)" : "");
      g_ptr_array_add(strings, title);
      if (!pc_plot_sweep((const pc_plot_point *)(void *)points->data, (int)points->len, title,
                         outs, 2, &error))
        goto fail;
      printf("wrote %s\nwrote %s\n", png, pdf);
    }
  }
  status = fflush(stdout) == 0 ? 0 : 1;
  goto out;
fail:
  status = pc_cli_fail("sweep", error);
out:
  if (csv) fclose(csv);
  g_free(csv_path);
  if (kinds) g_array_unref(kinds);
  if (stages) g_array_unref(stages);
  if (micros) g_array_unref(micros);
  if (points) g_array_unref(points);
  g_ptr_array_unref(strings);
  pc_engine_free(engine);
  pc_model_free(model);
  pc_cost_config_clear(&cfg);
  g_option_context_free(ctx);
  g_free(sets);
  g_free(by);
  g_free(schedules_s);
  g_free(stages_s);
  g_free(micro_s);
  g_free(profile);
  g_free(net);
  g_free(gemm);
  g_free(outdir);
  return status;
}
