/* plot.c — gnuplot figures of pipecast-sim: a Gantt chart of one iteration and the speedup
 * curves of a sweep. Writes data and script into a temporary directory and runs gnuplot there;
 * see plot.h. */
#include "plot.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "files.h"

bool pc_plot_available(void) {
  char *p = g_find_program_in_path("gnuplot");
  bool ok = p != NULL;
  g_free(p);
  return ok;
}

static const char *extension(const char *path) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  return dot && (!slash || dot > slash) ? dot + 1 : "";
}

bool pc_plot_check_path(const char *path, GError **error) {
  const char *ext = extension(path);
  if (g_ascii_strcasecmp(ext, "png") != 0 && g_ascii_strcasecmp(ext, "pdf") != 0 &&
      g_ascii_strcasecmp(ext, "svg") != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "'%s': the figure's name must end in .png, .pdf or .svg", path);
    return false;
  }
  return pc_output_check(NULL, path, error);
}

/* The name gnuplot writes the I-th of OUTPUTS under, in its temporary directory. */
static char *figure_name(const char *const *outputs, int i) {
  return g_strdup_printf("figure-%d.%s", i, extension(outputs[i]));
}

/* The `set terminal` and `set output` lines for PATH, W x H pixels (PDF: inches / 100). */
static void terminal(GString *s, const char *path, int w, int h) {
  const char *ext = extension(path);
  if (g_ascii_strcasecmp(ext, "pdf") == 0)
    g_string_append_printf(s, "set terminal pdfcairo size %g,%g font ',9'\n", w / 100.0,
                           h / 100.0);
  else if (g_ascii_strcasecmp(ext, "svg") == 0)
    g_string_append_printf(s, "set terminal svg size %d,%d\n", w, h);
  else
    g_string_append_printf(s,
                           "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) "
                           "{ set terminal pngcairo size %d,%d font ',10' } "
                           "else { set terminal png size %d,%d }\n", w, h, w, h);
  g_string_append_printf(s, "set output '%s'\n", path);
}

/* Writes DATA and SCRIPT into a temporary directory (SCRIPT refers to the data as 'data' and to
 * the figures by figure_name), runs gnuplot there, checks that every figure was written and
 * writes each to its output as every output is written (common/files.h). */
static bool run_gnuplot(const char *data, const char *script, const char *const *outputs,
                        int nout, GError **error) {
  char *gp = g_find_program_in_path("gnuplot");
  if (gp == NULL) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO,
                "gnuplot is not installed (not found on PATH): figures need it "
                "(Debian/Ubuntu: apt-get install gnuplot-nox)");
    return false;
  }
  GError *e = NULL;
  char *dir = g_dir_make_tmp("pipecast-plot-XXXXXX", &e);
  if (dir == NULL) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "cannot make a temporary directory: %s",
                e->message);
    g_error_free(e);
    g_free(gp);
    return false;
  }
  char *dpath = g_build_filename(dir, "data", NULL);
  char *spath = g_build_filename(dir, "plot.gp", NULL);
  /* the data is named relative to the temporary directory, the outputs are absolute */
  GString *full = g_string_new(NULL);
  g_string_append_printf(full, "cd '%s'\n%s", dir, script);
  bool ok = g_file_set_contents(dpath, data, -1, &e) &&
            g_file_set_contents(spath, full->str, -1, &e);
  g_string_free(full, TRUE);
  if (!ok) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "%s", e->message);
    g_error_free(e);
  }
  char *gerr = NULL;
  int status = 0;
  if (ok) {
    const char *argv[] = {gp, spath, NULL};
    if (ok)
      ok = g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                        &gerr, &status, &e);
    if (!ok) {
      g_set_error(error, PC_ERROR, PC_ERROR_IO, "cannot run gnuplot: %s", e->message);
      g_error_free(e);
    } else if (!g_spawn_check_wait_status(status, NULL)) {
      g_strchomp(gerr);
      g_set_error(error, PC_ERROR, PC_ERROR_IO, "gnuplot failed: %s",
                  gerr && *gerr ? gerr : "(no message)");
      ok = false;
    }
  }
  for (int i = 0; ok && i < nout; i++) {
    char *name = figure_name(outputs, i), *fig = g_build_filename(dir, name, NULL), *bytes = NULL;
    size_t len = 0;
    if (!pc_file_read(fig, PC_MAX_TABLE_BYTES, &bytes, &len, NULL) || len == 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_IO, "gnuplot did not write %s%s%s", outputs[i],
                  gerr && *gerr ? ": " : "", gerr ? gerr : "");
      ok = false;
    } else {
      ok = pc_output_write(NULL, outputs[i], bytes, len, error);
    }
    g_remove(fig);
    g_free(bytes);
    g_free(fig);
    g_free(name);
  }
  g_remove(dpath);
  g_remove(spath);
  g_rmdir(dir);
  g_free(gerr);
  g_free(dpath);
  g_free(spath);
  g_free(dir);
  g_free(gp);
  return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Gantt chart */

static const struct {
  const char *name;
  unsigned rgb;
} gantt_colors[] = {
  {"FWD", 0x4477aa}, {"BWD", 0xee8833}, {"BWD_W", 0xccbb44}, {"send/recv", 0x777777},
  {"OPT", 0xaa3377}, {"all-reduce", 0x228833},
};

static void box(GString *d, int stage, double a, double b, double k, unsigned rgb, int mb) {
  if (b <= a) return;
  g_string_append_printf(d, "%d %.9g %.9g %u \"", stage, a * k, b * k, rgb);
  if (mb >= 0) g_string_append_printf(d, "%d", mb);
  g_string_append(d, "\"\n");
}

bool pc_plot_gantt(const pc_schedule *sched, const pc_span *const *timeline,
                   double recv_overhead, const double *opt, const char *title,
                   const char *path, GError **error) {
  if (!pc_plot_check_path(path, error)) return false;
  double end = 0;
  int ncompute = 0;
  for (int s = 0; s < sched->nstages; s++)
    for (int i = 0; i < sched->stages[s].nops; i++) {
      end = MAX(end, timeline[s][i].end);
      if (sched->stages[s].ops[i].kind == PC_OP_FWD || sched->stages[s].ops[i].kind == PC_OP_BWD)
        ncompute++;
    }
  double k = 1;
  const char *unit = "s";
  if (end < 10e-3) {
    k = 1e6;
    unit = "us";
  } else if (end < 10) {
    k = 1e3;
    unit = "ms";
  }
  bool labels = ncompute <= 160;
  GString *d = g_string_new("# stage start end rgb label\n");
  for (int s = 0; s < sched->nstages; s++)
    for (int i = 0; i < sched->stages[s].nops; i++) {
      const pc_op *op = &sched->stages[s].ops[i];
      double a = timeline[s][i].start, b = timeline[s][i].end;
      switch ((pc_op_kind)op->kind) {
      case PC_OP_FWD: box(d, s, a, b, k, gantt_colors[0].rgb, labels ? op->mb : -1); break;
      case PC_OP_BWD: box(d, s, a, b, k, gantt_colors[1].rgb, labels ? op->mb : -1); break;
      case PC_OP_BWD_W: box(d, s, a, b, k, gantt_colors[2].rgb, -1); break;
      case PC_OP_SEND: box(d, s, a, b, k, gantt_colors[3].rgb, -1); break;
      case PC_OP_RECV: box(d, s, MAX(a, b - recv_overhead), b, k, gantt_colors[3].rgb, -1); break;
      case PC_OP_OPT: {
        double o = opt ? MIN(opt[s], b - a) : b - a; /* the rest waited for the all-reduce */
        box(d, s, a, b - o, k, gantt_colors[5].rgb, -1);
        box(d, s, b - o, b, k, gantt_colors[4].rgb, -1);
        break;
      }
      default: break;
      }
    }
  const char *outs[] = {path};
  char *out = figure_name(outs, 0);
  int h = 120 + 40 * MIN(sched->nstages, 40);
  GString *s = g_string_new(NULL);
  terminal(s, out, 1200, h);
  char *t = g_strescape(title ? title : "", NULL);
  g_string_append_printf(s,
                         "set title \"%s\" noenhanced\n"
                         "set xlabel 'time (%s)'\nset ylabel 'stage'\n"
                         "set yrange [%g:-0.6]\nset ytics 1\nset xrange [0:%.9g]\n"
                         "set key outside right top\nset style fill solid 1.0 noborder\n"
                         "set grid xtics\n",
                         t, unit, sched->nstages - 0.4, end * k * 1.001);
  g_free(t);
  g_string_append(s, "plot 'data' using (($2+$3)/2):1:2:3:($1-0.4):($1+0.4):4 "
                     "with boxxyerror lc rgb variable notitle");
  if (labels)
    g_string_append(s, ", 'data' using (($2+$3)/2):1:5 with labels font ',8' tc rgb 'white' "
                       "notitle");
  for (size_t c = 0; c < G_N_ELEMENTS(gantt_colors); c++)
    g_string_append_printf(s, ", NaN with boxes lc rgb '#%06x' title '%s' noenhanced", gantt_colors[c].rgb,
                           gantt_colors[c].name);
  g_string_append(s, "\n");
  bool ok = run_gnuplot(d->str, s->str, outs, 1, error);
  g_string_free(d, TRUE);
  g_string_free(s, TRUE);
  g_free(out);
  return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Sweep figure */

static const unsigned palette[] = {0x332288, 0x117733, 0x44aa99, 0x88ccee, 0xddcc77, 0xcc6677,
                                   0xaa4499, 0x882255, 0x000000, 0x999933};

bool pc_plot_sweep(const pc_plot_point *pts, int n, const char *title,
                   const char *const *outputs, int nout, GError **error) {
  for (int i = 0; i < nout; i++)
    if (!pc_plot_check_path(outputs[i], error)) return false;
  /* blocks (gnuplot `index`): one per (schedule, stages) */
  GString *d = g_string_new(NULL);
  GPtrArray *scheds = g_ptr_array_new();
  GArray *block_sched = g_array_new(FALSE, FALSE, sizeof(int));
  GArray *block_stages = g_array_new(FALSE, FALSE, sizeof(int));
  int nblocks = 0, maxm = 1;
  for (int i = 0; i < n; i++) {
    bool fresh = i == 0 || strcmp(pts[i].schedule, pts[i - 1].schedule) != 0 ||
                 pts[i].stages != pts[i - 1].stages;
    if (fresh) {
      if (i) g_string_append(d, "\n\n");
      g_string_append_printf(d, "# %s %d stages: microbatches speedup ideal\n", pts[i].schedule,
                             pts[i].stages);
      int sc = -1;
      for (guint k = 0; k < scheds->len; k++)
        if (strcmp(g_ptr_array_index(scheds, k), pts[i].schedule) == 0) sc = (int)k;
      if (sc < 0) {
        g_ptr_array_add(scheds, (gpointer)pts[i].schedule);
        sc = (int)scheds->len - 1;
      }
      g_array_append_val(block_sched, sc);
      g_array_append_val(block_stages, pts[i].stages);
      nblocks++;
    }
    maxm = MAX(maxm, pts[i].nmicro);
    g_string_append_printf(d, "%d %.9g %.9g\n", pts[i].nmicro, pts[i].speedup, pts[i].ideal);
  }
  GString *s = g_string_new(NULL);
  bool ok = true;
  for (int o = 0; o < nout && ok; o++) {
    char *out = figure_name(outputs, o);
    int ns = MAX((int)scheds->len, 1);
    terminal(s, out, 560 * ns + 80, 480);
    g_free(out);
    char *t = g_strescape(title ? title : "", NULL);
    g_string_append_printf(s,
                           "set multiplot layout 1,%d title \"%s\" noenhanced\n"
                           "set logscale x 2\nset xrange [0.8:%g]\nset yrange [0:*]\n"
                           "set xlabel 'microbatches'\nset ylabel 'speedup over one stage'\n"
                           "set key top left\nset grid\n",
                           ns, t, maxm * 1.25);
    g_free(t);
    for (guint sc = 0; sc < scheds->len; sc++) {
      g_string_append_printf(s, "set title '%s'\nplot ", (const char *)g_ptr_array_index(scheds, sc));
      bool first = true;
      for (int b = 0; b < nblocks; b++) {
        if (g_array_index(block_sched, int, b) != (int)sc) continue;
        /* the same colour for a stage count in every panel */
        int P = g_array_index(block_stages, int, b), rank = 0;
        for (int c = 0; c < nblocks; c++) {
          int Q = g_array_index(block_stages, int, c);
          bool earlier = false;
          for (int e = 0; e < c; e++) earlier = earlier || g_array_index(block_stages, int, e) == Q;
          if (Q < P && !earlier) rank++;
        }
        unsigned lc = palette[rank % G_N_ELEMENTS(palette)];
        g_string_append_printf(s,
                               "%s'data' index %d using 1:2 with linespoints lc rgb '#%06x' pt 7 "
                               "title '%d stage%s', 'data' index %d using 1:3 with lines "
                               "lc rgb '#%06x' dt 2 notitle",
                               first ? "" : ", ", b, lc, g_array_index(block_stages, int, b),
                               g_array_index(block_stages, int, b) == 1 ? "" : "s", b, lc);
        first = false;
      }
      g_string_append(s, "\n");
    }
    g_string_append(s, "unset multiplot\nset output\n");
  }
  ok = run_gnuplot(d->str, s->str, outputs, nout, error);
  g_string_free(d, TRUE);
  g_string_free(s, TRUE);
  g_ptr_array_unref(scheds);
  g_array_unref(block_sched);
  g_array_unref(block_stages);
  return ok;
}
