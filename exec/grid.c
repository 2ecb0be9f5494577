/* grid.c — `pipecast-exec grid`: a grid of training runs measured side by side in one job.
 *
 * On a shared machine whose speed wanders over seconds (other virtual machines on the host),
 * runs measured one after another each see a different machine, and the difference between two
 * of them is as much the machine's as theirs. grid opens every cell of a list (a schedule,
 * microbatch count, replica count, partition and, where given, chunks and zero-bubble costs of
 * one model: each a `train` run with its own runtime, data and weights, as train builds it),
 * warms each up, then visits the cells in turn, --visits times: a visit runs the cell's next
 * --iters iterations, timed as train times them, and with --profile-reps times the cell's
 * layers in its own runtime at its microbatch size (train --profile-samples). Each round of
 * visits takes the cells in a new order (shuffled from the seed), so that no cell always follows
 * the same one. Every cell thus samples the same stretches of time, and so do the profiles the
 * simulator is fed from.
 *
 * A cell's iterations are those of a train run with the same options: with --profile-reps 0 its
 * losses are train's bit for bit (a profile's step has learning rate 0, but moves the momentum).
 * Every cell uses all the job's ranks (stages x replicas = ranks): one job per process layout.
 * The process holds every cell at once, so its peak memory is not a cell's: train measures that.
 *
 * Output in --out DIR, per cell NAME: NAME.times.csv (visit,iteration,seconds,warmup,loss,
 * visit_s,visit_other_cpu_s: visit 0 is the warm-up; the visit's wall seconds, and the CPU
 * seconds that other programs used meanwhile, from /proc/stat's 10 ms ticks: rank 0's machine
 * less every rank's CPU time, so meant for a job on one machine), NAME.json (the last iteration
 * as a Chrome trace) and, with --profile-reps, NAME.v<K>.samples.tsv (visit K's profile, profile
 * --samples's format); and summary.csv, a row per cell (its median iteration over the visits,
 * the timed iterations, the CPU share of other programs), as the table on stdout. Every cell of a layout is in memory at once: a grid that does not fit is
 * refused before any work (exit 2), naming the first cell that did not. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "error.h"
#include "files.h"
#include "job.h"
#include "exec.h"
#include "timing.h"
#include "stage.h"

/* One line of --cells. */
typedef struct {
  char *name, *schedule, *partition; /* partition NULL: automatic */
  char *zb_costs;                    /* zb-costs=F:B:W (NULL: none) */
  int micro, replicas, chunks, line; /* chunks=V (0: from the partition or the schedule) */
  train_opts o;
  stage_run r;
  GArray *rows; /* of grid_row */
} grid_cell;

typedef struct {
  int visit, iter;
  double seconds, loss, visit_s, other_s; /* the visit's wall seconds and others' CPU seconds */
} grid_row;

static bool parse_int(const char *text, int *v) {
  char *end;
  errno = 0;
  long x = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || errno != 0 || x < 1 || x > 1000000) return false;
  *v = (int)x;
  return true;
}

static void free_cell(gpointer data) {
  grid_cell *c = data;
  pc_stage_close(&c->r);
  g_free(c->name);
  g_free(c->schedule);
  g_free(c->partition);
  g_free(c->zb_costs);
  g_array_unref(c->rows);
  g_free(c);
}

static bool valid_name(const char *s) {
  for (const char *c = s; *c; c++)
    if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_' && *c != '.') return false;
  return *s != '\0' && *s != '.';
}

/* One KEY=VALUE option of cell C's line: chunks=V or zb-costs=F:B:W, train's flags. */
static bool cell_option(grid_cell *c, const char *field, const char *path, int line,
                        GError **error) {
  const char *eq = strchr(field, '=');
  size_t klen = (size_t)(eq - field);
  if (klen == 6 && strncmp(field, "chunks", 6) == 0 && c->chunks == 0) {
    if (parse_int(eq + 1, &c->chunks)) return true;
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--cells %s:%d: chunks='%s': expected a whole "
                "number from 1 to 1000000", path, line, eq + 1);
    return false;
  }
  if (klen == 8 && strncmp(field, "zb-costs", 8) == 0 && c->zb_costs == NULL) {
    c->zb_costs = g_strdup(eq + 1); /* checked where train checks --zb-costs */
    return true;
  }
  g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--cells %s:%d: option '%s': expected chunks=V "
              "or zb-costs=F:B:W, each at most once", path, line, field);
  return false;
}

/* --cells FILE: "NAME SCHEDULE MICROBATCHES REPLICAS [KEY=VALUE ...] PARTITION" per line, the
 * partition the rest of the line (no partition holds a '='), the options train's --chunks and
 * --zb-costs (chunks=V, zb-costs=F:B:W); '#' comments and blank lines ignored; PARTITION '-' is
 * automatic (ranks / replicas stages, balanced by flops). */
static GPtrArray *read_cells(const char *path, GError **error) {
  char *text = NULL;
  size_t len = 0;
  if (!pc_file_read(path, PC_MAX_MODEL_BYTES, &text, &len, error)) {
    g_prefix_error(error, "--cells: ");
    return NULL;
  }
  const char *nul = memchr(text, '\0', len);
  if (nul) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--cells %s: not a text file (a NUL byte at "
                "offset %td)", path, nul - text);
    g_free(text);
    return NULL;
  }
  GPtrArray *cells = g_ptr_array_new_with_free_func(free_cell);
  gchar **lines = g_strsplit(text, "\n", -1);
  g_free(text);
  bool ok = true;
  for (int i = 0; ok && lines[i]; i++) {
    char *hash = strchr(lines[i], '#');
    if (hash) *hash = '\0';
    /* four fields, the options, then the partition: the rest of the line (it may hold blanks) */
    const char *f[5], *opt[3]; /* two options at most: one more is refused */
    int n = 0, nopt = 0;
    char *p = g_strstrip(lines[i]);
    while (*p && n < 5) {
      size_t w = strcspn(p, " \t");
      bool is_opt = n == 4 && memchr(p, '=', w) != NULL;
      if (is_opt && nopt == (int)G_N_ELEMENTS(opt)) break;
      if (is_opt) opt[nopt++] = p;
      else f[n++] = p;
      if (n == 5) break;
      p += w;
      if (*p) *p++ = '\0';
      p += strspn(p, " \t");
    }
    if (n > 0) {
      grid_cell *c = g_new0(grid_cell, 1);
      c->r.stage_comm = c->r.pipe_comm = MPI_COMM_NULL;
      c->line = i + 1;
      c->rows = g_array_new(FALSE, FALSE, sizeof(grid_row));
      g_ptr_array_add(cells, c);
      if (nopt == (int)G_N_ELEMENTS(opt)) {
        g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--cells %s:%d: more than two options "
                    "(chunks=V, zb-costs=F:B:W)", path, i + 1);
        ok = false;
      } else if (n != 5) {
        g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                    "--cells %s:%d: expected NAME SCHEDULE MICROBATCHES REPLICAS [chunks=V] "
                    "[zb-costs=F:B:W] PARTITION, got %d field%s", path, i + 1, n, n == 1 ? "" : "s");
        ok = false;
      } else if (strchr(f[4], '=')) {
        g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--cells %s:%d: partition '%s': the options "
                    "(chunks=V, zb-costs=F:B:W) go before the partition", path, i + 1, f[4]);
        ok = false;
      } else if (!valid_name(f[0])) {
        g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                    "--cells %s:%d: name '%s' must be letters, digits, '-', '_' and '.' (not "
                    "first)", path, i + 1, f[0]);
        ok = false;
      } else if (!parse_int(f[2], &c->micro) || !parse_int(f[3], &c->replicas)) {
        g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                    "--cells %s:%d: microbatches and replicas must be whole numbers from 1 to "
                    "1000000, got '%s' and '%s'", path, i + 1, f[2], f[3]);
        ok = false;
      } else {
        for (int k = 0; ok && k < nopt; k++) ok = cell_option(c, opt[k], path, i + 1, error);
        if (!ok) continue;
        c->name = g_strdup(f[0]);
        c->schedule = g_strdup(f[1]);
        c->partition = strcmp(f[4], "-") == 0 ? NULL : g_strdup(f[4]);
        for (guint j = 0; ok && j + 1 < cells->len; j++)
          if (strcmp(((grid_cell *)cells->pdata[j])->name, c->name) == 0) {
            g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--cells %s:%d: cell '%s' again (line %d)",
                        path, i + 1, c->name, ((grid_cell *)cells->pdata[j])->line);
            ok = false;
          }
      }
    }
  }
  g_strfreev(lines);
  if (ok && cells->len == 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--cells %s: no cell in it", path);
    ok = false;
  }
  if (!ok) {
    g_ptr_array_unref(cells);
    return NULL;
  }
  return cells;
}

/* Busy CPU time of the whole machine from /proc/stat, in seconds (-1 when unknown). */
static double machine_busy_s(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (f == NULL) return -1;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n != 8) return -1;
  /* user nice system (idle iowait) irq softirq steal */
  return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double cpu_time_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Runs N iterations of cell C (its iterations from *next on), appending rows of visit V. */
static void run_visit(grid_cell *c, int v, int n, int *next) {
  /* every rank's CPU time over the same stretch as the machine's: between two barriers */
  MPI_Barrier(MPI_COMM_WORLD);
  double busy0 = c->r.rank == 0 ? machine_busy_s() : 0, cpu0 = cpu_time_s(), t0 = MPI_Wtime();
  guint first = c->rows->len;
  for (int k = 0; k < n; k++, (*next)++) {
    double sums[2] = {0, 0};
    grid_row row = {v, *next + 1, pc_stage_iterate(&c->r, *next, sums), 0, 0, 0};
    row.loss = sums[0] / c->o.batch;
    g_array_append_val(c->rows, row);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double mine = cpu_time_s() - cpu0, ours = 0;
  MPI_Reduce(&mine, &ours, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  if (c->r.rank == 0) {
    double busy = machine_busy_s(), wall = MPI_Wtime() - t0;
    for (guint i = first; i < c->rows->len; i++) {
      grid_row *w = &g_array_index(c->rows, grid_row, i);
      w->visit_s = wall;
      w->other_s = busy0 < 0 || busy < 0 ? 0 : busy - busy0 - ours;
    }
  }
}

/* Ends an output of grid: commits OUT, or prints why not. */
static bool grid_commit(pc_output *out, GError *error) {
  bool ok = out && pc_output_commit(out, &error);
  if (!ok) pc_error_print(PC_EXEC_PROG " grid", error->message);
  g_clear_error(&error);
  return ok;
}

static bool write_times(const grid_cell *c, const char *dir) {
  char *path = g_strdup_printf("%s/%s.times.csv", dir, c->name);
  GError *error = NULL;
  pc_output *out = pc_output_open(NULL, path, &error);
  if (out) {
    FILE *f = pc_output_stream(out);
    fprintf(f, "visit,iteration,seconds,warmup,loss,visit_s,visit_other_cpu_s\n");
    for (guint i = 0; i < c->rows->len; i++) {
      const grid_row *w = &g_array_index(c->rows, grid_row, i);
      fprintf(f, "%d,%d,%.9f,%d,%.9g,%.6f,%.3f\n", w->visit, w->iter, w->seconds, w->visit == 0,
              w->loss, w->visit_s, w->other_s);
    }
  }
  g_free(path);
  return grid_commit(out, error);
}

/* The share of the machine's CPU time that other programs used during cell C's timed visits, in %
 * (their CPU seconds over the visits' wall seconds times the cores; rank 0). */
static double other_share(const grid_cell *c) {
  double other = 0, wall = 0;
  for (guint i = 0; i < c->rows->len; i++) {
    const grid_row *w = &g_array_index(c->rows, grid_row, i);
    bool first_of_visit = i == 0 || g_array_index(c->rows, grid_row, i - 1).visit != w->visit;
    if (first_of_visit && w->visit > 0) other += w->other_s, wall += w->visit_s;
  }
  return wall > 0 ? 100 * MAX(other, 0.0) / (wall * (double)sysconf(_SC_NPROCESSORS_ONLN)) : 0;
}

/* The median of cell C's timed iterations (rank 0). */
static double cell_median(const grid_cell *c, int *n) {
  double *v = g_new(double, MAX(c->rows->len, 1));
  *n = 0;
  for (guint i = 0; i < c->rows->len; i++) {
    const grid_row *w = &g_array_index(c->rows, grid_row, i);
    if (w->visit > 0) v[(*n)++] = w->seconds;
  }
  double m = *n ? pc_median(v, *n) : 0;
  g_free(v);
  return m;
}

/* DIR/summary.csv: a row per cell, what the table on stdout says. */
static bool write_summary(GPtrArray *cells, const char *dir) {
  char *path = g_build_filename(dir, "summary.csv", NULL);
  GError *error = NULL;
  pc_output *out = pc_output_open(NULL, path, &error);
  if (out) {
    FILE *f = pc_output_stream(out);
    fprintf(f, "cell,schedule,microbatches,replicas,partition,median_s,timed,other_cpu_pct\n");
    for (guint i = 0; i < cells->len; i++) {
      grid_cell *c = cells->pdata[i];
      int n;
      double med = cell_median(c, &n);
      char *spec = pc_partition_format(c->r.model, c->r.part); /* names hold no commas */
      fprintf(f, "%s,%s,%d,%d,%s,%.9g,%d,%.1f\n", c->name, c->schedule, c->micro, c->replicas,
              spec, med, n, other_share(c));
      g_free(spec);
    }
  }
  g_free(path);
  return grid_commit(out, error);
}

/* The warm-up of every cell, then VISITS rounds that visit every cell in an order shuffled
 * from SEED (the same on every rank), each visit ITERS iterations, and after each visit its
 * --profile-reps samples. false when a samples file could not be written. */
static bool run_visits(GPtrArray *cells, const char *out, int visits, int iters, int warmup,
                       int reps, gint64 seed) {
  bool ok = true;
  int *next = g_new0(int, cells->len);
  int n = (int)cells->len;
  for (int i = 0; i < n; i++) run_visit(cells->pdata[i], 0, warmup, &next[i]);
  int *order = g_new(int, cells->len);
  for (int i = 0; i < n; i++) order[i] = i;
  GRand *rng = g_rand_new_with_seed((guint32)seed); /* the same order on every rank */
  for (int v = 1; v <= visits; v++) {
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
      int j = g_rand_int_range(rng, 0, i + 1), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (int k = 0; k < n; k++) {
      grid_cell *c = cells->pdata[order[k]];
      run_visit(c, v, iters, &next[order[k]]);
      if (reps > 0) {
        char *path = g_strdup_printf("%s/%s.v%d.samples.tsv", out, c->name, v);
        if (!pc_exec_profile_runtime("grid", "--out", path, c->r.rts, c->r.vstages, c->r.C,
                                     c->r.model, c->r.part, c->r.mb, reps, false))
          ok = false;
        g_free(path);
      }
    }
    if (pc_exec_rank() == 0) {
      printf("visit %d of %d done\n", v, visits);
      fflush(stdout);
    }
  }
  g_free(next);
  g_free(order);
  g_rand_free(rng);
  return ok;
}

int pc_cmd_grid(int argc, char **argv) {
  char *sets = NULL, *cells_path = NULL, *out = NULL;
  int batch = 32, visits = 3, iters = 1, warmup = 1, reps = 0;
  gint64 seed = 1;
  train_opts optim = {PC_STAGE_OPTIM_DEFAULTS}; /* every cell's optimizer */
  GOptionEntry entries[] = {
    {"cells", 'c', 0, G_OPTION_ARG_FILENAME, &cells_path,
     "The cells: 'NAME SCHEDULE MICROBATCHES REPLICAS [chunks=V] [zb-costs=F:B:W] PARTITION' per "
     "line ('-': automatic)", "FILE"},
    {"out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write each cell's files into DIR (made if missing)", "DIR"},
    {"set", 0, 0, G_OPTION_ARG_STRING, &sets, "Override model parameters", "K=V,..."},
    {"batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Minibatch size, all replicas together (32)", "B"},
    {"visits", 0, 0, G_OPTION_ARG_INT, &visits, "Visits to every cell, in turn (3)", "V"},
    {"iters", 'n', 0, G_OPTION_ARG_INT, &iters, "Timed iterations per visit (1)", "N"},
    {"warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "Iterations of each cell before the visits (1)", "W"},
    {"profile-reps", 0, 0, G_OPTION_ARG_INT, &reps,
     "After each visit, time the cell's layers R times in its runtime (0: no profile)", "R"},
    {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the weights and synthetic data (1)", "S"},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL - measure training runs side by side, interleaved");
  g_option_context_add_main_entries(ctx, entries, NULL);
  pc_stage_add_optim_entries(ctx, &optim);
  int status = PC_EXIT_INPUT;
  GError *error = NULL;
  GPtrArray *cells = NULL;
  if (!pc_exec_parse(ctx, "grid", &argc, &argv)) goto out;
  if (argc != 2) {
    if (pc_exec_rank() == 0)
      fprintf(stderr, PC_EXEC_PROG " grid: expected one MODEL file, got %d arguments\n", argc - 1);
    goto out;
  }
  if (cells_path == NULL || out == NULL) {
    if (pc_exec_rank() == 0) fprintf(stderr, PC_EXEC_PROG " grid: --cells and --out are needed\n");
    goto out;
  }
  if (visits < 1 || iters < 1 || warmup < 0 || (gint64)visits * iters + warmup > 1000000 ||
      reps < 0 || reps > PC_EXEC_MAX_REPS) {
    if (pc_exec_rank() == 0)
      fprintf(stderr, PC_EXEC_PROG " grid: need --visits >= 1, --iters >= 1, --warmup >= 0, "
              "--visits x --iters + --warmup <= 1000000 and 0 <= --profile-reps <= %d\n",
              PC_EXEC_MAX_REPS);
    goto out;
  }
  optim.iters = warmup + visits * iters;
  if (!pc_stage_all_ok("grid", pc_stage_check_optim(&optim, &error), &error)) goto out;
  cells = read_cells(cells_path, &error);
  if (!pc_stage_all_ok("grid", cells != NULL, &error)) goto out;
  /* --out: a writable folder, made on rank 0 when its parent exists */
  int out_ok = 1;
  if (pc_exec_rank() == 0) {
    if (!g_file_test(out, G_FILE_TEST_EXISTS)) g_mkdir(out, 0777);
    out_ok = g_file_test(out, G_FILE_TEST_IS_DIR) && access(out, W_OK) == 0;
    if (!out_ok)
      fprintf(stderr, PC_EXEC_PROG " grid: --out %s: not a writable folder, nor one that can be "
              "made\n", out);
  }
  MPI_Bcast(&out_ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (!out_ok) goto out;
  /* Open and warm up every cell, one after the other, within the memory left by the others. */
  size_t budget = pc_exec_memory_per_rank(), used = 0;
  for (guint i = 0; i < cells->len; i++) {
    grid_cell *c = cells->pdata[i];
    c->o = (train_opts){.stages = PC_JOB_UNSET, .sets = sets, .schedule = c->schedule,
                        .partition = c->partition, .chunks = c->chunks ? c->chunks : PC_JOB_UNSET, .zb_costs = c->zb_costs,
                        .batch = batch, .micro = c->micro, .replicas = c->replicas,
                        .iters = warmup + visits * iters, .warmup = warmup, .print_every = 1,
                        .profile_reps = 1, .seed = seed};
    pc_stage_copy_optim(&c->o, &optim);
    size_t left = budget == 0 ? 0 : budget > used ? budget - used : 1;
    bool ok = pc_stage_open(&c->r, &c->o, argv[1], left, &error);
    if (!ok) g_prefix_error(&error, "cell %s (--cells %s:%d): ", c->name, cells_path, c->line);
    if (!pc_stage_all_ok("grid", ok, &error)) goto out;
    for (int k = 0; k < c->r.C; k++)
      used += pc_runtime_param_bytes(c->r.rts[k]) + pc_runtime_activation_bytes(c->r.rts[k]);
  }
  status = 0;
  if (!run_visits(cells, out, visits, iters, warmup, reps, seed)) status = 1;
  int n = (int)cells->len;
  if (pc_exec_rank() == 0)
    printf("%-24s %10s %5s %10s\n", "cell", "median_s", "n", "other_cpu");
  for (int i = 0; i < n; i++) {
    grid_cell *c = cells->pdata[i];
    char *path = g_strdup_printf("%s/%s.json", out, c->name);
    if (!pc_stage_write_trace(&c->r, path, &error)) {
      pc_error_print(PC_EXEC_PROG " grid", error->message);
      g_clear_error(&error);
      status = 1;
    }
    g_free(path);
    if (pc_exec_rank() == 0) {
      if (!write_times(c, out)) status = 1;
      int m;
      double med = cell_median(c, &m);
      printf("%-24s %10.4f %5d %9.0f%%\n", c->name, med, m, other_share(c));
    }
  }
  if (pc_exec_rank() == 0 && !write_summary(cells, out)) status = 1;
  {
    int worst = status, any;
    MPI_Allreduce(&worst, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    status = any;
  }
out:
  if (cells) g_ptr_array_unref(cells);
  g_option_context_free(ctx);
  g_free(sets); g_free(cells_path); g_free(out);
  g_free(optim.optimizer); g_free(optim.lr_schedule);
  return status;
}
