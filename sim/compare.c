/* compare.c — `pipecast-sim compare MEASURED.json PREDICTED.json`: lays a measured timeline
 * (`pipecast-exec train --trace`) beside a predicted one (`pipecast-sim run --trace`), op by op.
 *
 * Both files are Chrome traces written by common/trace.c: complete events ("ph":"X") named by
 * op kind (FWD, BWD, BWD_W, SEND, RECV, OPT), one pid per stage, ts and dur in microseconds,
 * args {"op": index in the stage's list, "mb", and for messages "peer", "xfer"}. Ops are paired
 * by (stage, op index); stages are the distinct pids in ascending order. Two traces of different
 * schedules (stage counts, op counts or op kinds differ) are an input error. Prints, per stage
 * and op kind, the count and the measured and predicted mean durations with their ratio
 * (measured / predicted) and totals, the iteration times (the latest end of any op), and the
 * --top ops with the largest absolute error. --format csv gives the same as two CSV blocks
 * separated by two blank lines. A RECV's duration includes its wait for the message, as in both
 * writers. The traces are read by sim/tracefile.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "schedule.h"
#include "tracefile.h"

/* ------------------------------------------------------------------------------------------ */
/* Comparing */

static bool same_schedule(const pc_trace_file *m, const pc_trace_file *p, const char *mpath, const char *ppath,
                          GError **error) {
  if (m->nstages != p->nstages) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "traces of different schedules: %s has %d stage%s, %s has %d", mpath,
                m->nstages, m->nstages == 1 ? "" : "s", ppath, p->nstages);
    return false;
  }
  for (int s = 0; s < m->nstages; s++) {
    int nm = m->first[s + 1] - m->first[s], np = p->first[s + 1] - p->first[s];
    if (nm != np) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "traces of different schedules: stage %d has %d ops in %s, %d in %s", s, nm,
                  mpath, np, ppath);
      return false;
    }
    for (int i = 0; i < nm; i++) {
      const pc_trace_file_op *a = &g_array_index(m->ops, pc_trace_file_op, m->first[s] + i);
      const pc_trace_file_op *b = &g_array_index(p->ops, pc_trace_file_op, p->first[s] + i);
      if (a->index != b->index || a->kind != b->kind || a->mb != b->mb) {
        g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                    "traces of different schedules: stage %d, op %d is %s(mb %d) in %s, "
                    "%s(mb %d) in %s", s, a->index, pc_op_kind_name((pc_op_kind)a->kind), a->mb,
                    mpath, pc_op_kind_name((pc_op_kind)b->kind), b->mb, ppath);
        return false;
      }
    }
  }
  return true;
}

typedef struct {
  int stage, index, kind, mb;
  double meas, pred; /* microseconds */
} pair;

static int cmp_err(const void *a, const void *b) {
  const pair *x = a, *y = b;
  double ex = fabs(x->meas - x->pred), ey = fabs(y->meas - y->pred);
  if (ex != ey) return ex < ey ? 1 : -1;
  if (x->stage != y->stage) return x->stage - y->stage;
  return x->index - y->index;
}

int pc_cmd_compare(int argc, char **argv) {
  char *format = NULL;
  int top = 10;
  GOptionEntry entries[] = {
    {"top", 'n', 0, G_OPTION_ARG_INT, &top, "Ops with the largest absolute error to list (10)", "N"},
    {"format", 'f', 0, G_OPTION_ARG_STRING, &format, "table (default) or csv", "FORMAT"},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx =
      g_option_context_new("MEASURED.json PREDICTED.json - compare two traces op by op");
  g_option_context_add_main_entries(ctx, entries, NULL);
  int status = PC_EXIT_INPUT;
  GError *error = NULL;
  pc_trace_file m = {0}, p = {0};
  if (!pc_cli_parse(ctx, "compare", &argc, &argv)) goto out;
  if (argc != 3) {
    fprintf(stderr, PC_CLI_PROG " compare: expected MEASURED.json PREDICTED.json, got %d "
                    "argument%s\n", argc - 1, argc == 2 ? "" : "s");
    goto out;
  }
  bool csv = false;
  if (format && !(csv = strcmp(format, "csv") == 0) && strcmp(format, "table") != 0) {
    char *what = g_strdup_printf("--format '%s': expected table or csv", format);
    pc_error_print(PC_CLI_PROG " compare", what);
    g_free(what);
    goto out;
  }
  if (top < 0) {
    fprintf(stderr, PC_CLI_PROG " compare: --top must be at least 0, got %d\n", top);
    goto out;
  }
  if (!pc_trace_file_load(argv[1], &m, &error) || !pc_trace_file_load(argv[2], &p, &error) ||
      !same_schedule(&m, &p, argv[1], argv[2], &error)) {
    status = pc_cli_fail("compare", error);
    goto out;
  }
  int n = (int)m.ops->len, P = m.nstages;
  pair *pairs = g_new(pair, (size_t)n);
  for (int i = 0; i < n; i++) {
    const pc_trace_file_op *a = &g_array_index(m.ops, pc_trace_file_op, i), *b = &g_array_index(p.ops, pc_trace_file_op, i);
    int s = 0;
    while (m.first[s + 1] <= i) s++;
    pairs[i] = (pair){s, a->index, a->kind, a->mb, a->dur, b->dur};
  }
  /* per stage and kind: count, sums */
  if (csv) {
    printf("stage,op,count,measured_mean_s,predicted_mean_s,ratio,measured_total_s,"
           "predicted_total_s\n");
  } else {
    printf("measured:  %s (%d stage%s, %d ops, iteration %.6f s)\n", argv[1], P,
           P == 1 ? "" : "s", n, m.end * 1e-6);
    printf("predicted: %s (iteration %.6f s, %+.1f%%)\n\n", argv[2], p.end * 1e-6,
           m.end > 0 ? 100.0 * (p.end - m.end) / m.end : 0.0);
    printf("%5s  %-5s  %5s  %14s  %14s  %7s  %14s  %14s\n", "stage", "op", "count",
           "measured_mean", "predicted_mean", "ratio", "measured_total", "predicted_total");
  }
  for (int s = 0; s < P; s++)
    for (int k = 0; k < PC_OP_KIND_COUNT; k++) {
      int count = 0;
      double sm = 0, sp = 0;
      for (int i = m.first[s]; i < m.first[s + 1]; i++)
        if (pairs[i].kind == k) {
          count++;
          sm += pairs[i].meas;
          sp += pairs[i].pred;
        }
      if (count == 0) continue;
      const char *name = pc_op_kind_name((pc_op_kind)k);
      double ratio = sp > 0 ? sm / sp : NAN;
      if (csv) {
        printf("%d,%s,%d,%.9g,%.9g,", s, name, count, sm / count * 1e-6, sp / count * 1e-6);
        if (isfinite(ratio)) printf("%.6g", ratio);
        printf(",%.9g,%.9g\n", sm * 1e-6, sp * 1e-6);
      } else {
        char r[32];
        if (isfinite(ratio)) snprintf(r, sizeof r, "%.3f", ratio);
        else snprintf(r, sizeof r, "n/a");
        printf("%5d  %-5s  %5d  %12.1fus  %12.1fus  %7s  %12.6f s  %12.6f s\n", s, name, count,
               sm / count, sp / count, r, sm * 1e-6, sp * 1e-6);
      }
    }
  qsort(pairs, (size_t)n, sizeof(pair), cmp_err);
  int shown = MIN(top, n);
  if (csv) {
    printf("\n\nstage,index,op,mb,measured_s,predicted_s,error_s\n");
  } else {
    printf("\nratio = measured / predicted mean. The %d op%s with the largest absolute error "
           "(predicted - measured):\n", shown, shown == 1 ? "" : "s");
    printf("%5s  %5s  %-5s  %4s  %14s  %14s  %14s\n", "stage", "index", "op", "mb", "measured",
           "predicted", "error");
  }
  for (int i = 0; i < shown; i++) {
    const pair *q = &pairs[i];
    const char *name = pc_op_kind_name((pc_op_kind)q->kind);
    if (csv)
      printf("%d,%d,%s,%d,%.9g,%.9g,%.9g\n", q->stage, q->index, name, q->mb, q->meas * 1e-6,
             q->pred * 1e-6, (q->pred - q->meas) * 1e-6);
    else
      printf("%5d  %5d  %-5s  %4d  %12.1fus  %12.1fus  %+12.1fus\n", q->stage, q->index, name,
             q->mb, q->meas, q->pred, q->pred - q->meas);
  }
  g_free(pairs);
  status = 0;
out:
  pc_trace_file_clear(&m);
  pc_trace_file_clear(&p);
  g_option_context_free(ctx);
  g_free(format);
  return status;
}
