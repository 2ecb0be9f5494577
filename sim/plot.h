/* plot.h — figures of pipecast-sim drawn with gnuplot: the Gantt chart of one simulated
 * iteration (`run --gantt`) and the speedup curves of a sweep (`sweep`). Each writes a data file
 * and a gnuplot script into a fresh temporary directory, runs `gnuplot` (found on PATH) on it
 * and removes the directory. The output terminal follows the file's extension: .png (pngcairo,
 * or gd's png when cairo is missing), .pdf (pdfcairo), .svg. */
#ifndef PC_PLOT_H
#define PC_PLOT_H

#include <glib.h>
#include <stdbool.h>

#include "schedule.h"

/* Whether gnuplot is on PATH. */
bool pc_plot_available(void);

/* Checks that PATH ends in .png, .pdf or .svg and can be written (pc_output_check); false with
 * PC_ERROR_USAGE otherwise. */
bool pc_plot_check_path(const char *path, GError **error);

/* Gantt chart of SCHED's TIMELINE (timeline[s] parallel to sched->stages[s].ops) to PATH: one
 * row per stage, boxes coloured by op kind (FWD, BWD, OPT, and send/receive overheads; the wait
 * inside a RECV is left blank: a RECV is drawn as its last RECV_OVERHEAD seconds), microbatch
 * numbers on the compute boxes when there are few. OPT (the optimizer step's seconds per stage,
 * may be NULL) draws an OPT's span as the all-reduce's wait and then the step. TITLE goes on top. False with PC_ERROR_IO when gnuplot is
 * missing or fails (its messages quoted). */
bool pc_plot_gantt(const pc_schedule *sched, const pc_span *const *timeline,
                   double recv_overhead, const double *opt, const char *title,
                   const char *path, GError **error);

/* One point of a sweep figure. */
typedef struct {
  const char *schedule; /* panel */
  int stages;           /* line */
  int nmicro;           /* x */
  double speedup;       /* y */
  double ideal;         /* P M / (M + P - 1), drawn dashed */
} pc_plot_point;

/* Speedup against microbatch count (log2 x axis), one line per stage count and one panel per
 * schedule, with the ideal curves dashed, to each of the NOUT paths in OUTPUTS. POINTS must be
 * grouped by (schedule, stages), microbatches ascending within a group. */
bool pc_plot_sweep(const pc_plot_point *points, int npoints, const char *title,
                   const char *const *outputs, int nout, GError **error);

#endif
