/* profile.c — `pipecast-exec profile`: per-layer forward, backward and optimizer seconds at
 * several microbatch sizes, written as the TSV profile that pipecast-sim reads.
 *
 * Run it with as many ranks as the pipeline will have (mpirun -n P): every rank times the whole
 * model at the same time, so the contention of a fully busy machine (shared caches, memory
 * bandwidth) is inside the numbers; rank 0 writes, for each layer, the median over ranks of each
 * rank's median over repetitions (on a shared machine a layer's time is a quiet floor plus
 * occasional bursts of other programs' work: the median keeps the floor), or with --stat min
 * the minimum over repetitions (the floor itself, for slow stretches that outlast several
 * repetitions). --samples writes every repetition's seconds as well, for statistics of one's
 * own over many runs (pipecast-sim run and sweep pool them, --profile repeated: the studies take
 * the median over all the samples they spread through a study, as they take a cell's median
 * iteration). Each
 * repetition runs the layers in the order a training pass does, with the same kernels
 * (common/runtime.h), timing each layer alone as the executor runs it: a layer's forward
 * includes the check of its output for NaNs, and the first layer that reads the input includes
 * getting the microbatch's (synthetic) data. --split also times the backward as the
 * zero-bubble schedules split it: input gradients, then weight gradients.
 *
 * With --partition each stage is timed alone, in a runtime that holds only its layers (a stage's
 * share of the caches, as in a pipeline): stage s by rank s % ranks, the ranks' stages at once;
 * with a multiple of the stage count, rank r times stage r % stages, as replica r / stages of the
 * pipeline would hold it (the layout of train --replicas). So a partition of more stages than
 * this machine has cores is profiled stage by stage as its stages would run on machines like
 * this one, all cores busy (experiments/study.sh profiles the 4- to 16-stage partitions of its
 * predicted lines this way). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "error.h"
#include "job.h"
#include "exec.h"
#include "timing.h"
#include "model.h"
#include "partition.h"
#include "runtime.h"

static double minimum(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++) m = MIN(m, v[i]);
  return m;
}

static bool reads_input(const pc_layer *l) {
  for (int k = 0; k < l->ninputs; k++)
    if (l->inputs[k] < 0) return true;
  return false;
}

/* "1,2,4" into a sorted array of distinct positive sizes. */
static int *parse_sizes(const char *text, int *count, GError **error) {
  gchar **items = g_strsplit(text, ",", -1);
  int n = (int)g_strv_length(items);
  int *v = g_new(int, (size_t)MAX(n, 1));
  bool ok = n > 0;
  for (int i = 0; ok && i < n; i++) {
    char *end;
    errno = 0;
    long x = strtol(g_strstrip(items[i]), &end, 10);
    ok = *items[i] && *end == '\0' && errno == 0 && x >= 1 && x <= 1 << 20;
    v[i] = (int)x;
    for (int j = 0; ok && j < i; j++) ok = v[j] < v[i];
  }
  g_strfreev(items);
  if (!ok) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--microbatch-sizes '%s': expected increasing positive integers like 1,2,4,8",
                text);
    g_free(v);
    return NULL;
  }
  *count = n;
  return v;
}

/* Received activations hold values like a real run's (small, both signs), not zeros. */
static void fill_received(pc_runtime *rt, const pc_model *m, const pc_partition *part, int stage,
                          size_t mb) {
  GArray *xfers = pc_partition_transfers(m, part);
  uint32_t state = 12345u;
  for (guint x = 0; x < xfers->len; x++) {
    const pc_xfer *xf = &g_array_index(xfers, pc_xfer, x);
    if (xf->dst != stage) continue;
    float *a = pc_runtime_xfer_act(rt, (int)x, 0);
    for (size_t i = 0; i < mb * (size_t)xf->bytes / sizeof(float); i++) {
      state = state * 1664525u + 1013904223u;
      a[i] = (float)(state >> 8) / 16777216.0f - 0.5f;
    }
  }
  g_array_unref(xfers);
}

/* The columns of a sample: fwd, bwd, opt seconds, and with --split the backward's halves: the
 * input gradient (B) and the weight gradient (W). */
enum { COL_FWD, COL_BWD, COL_OPT, COL_B, COL_W, NCOLS };

/* Where one sample of size index si, repetition rep, layer l and column w lies in a rank's
 * samples. */
static size_t sample_at(int si, int rep, int l, int w, int reps, int L) {
  return (((size_t)si * (size_t)reps + (size_t)rep) * (size_t)L + (size_t)l) * NCOLS + (size_t)w;
}

/* Times STAGE's layers in RT (a runtime of that stage at microbatch MB; slot 0 is used) REPS
 * repetitions, after one that warms caches and pages up when WARM_UP, each after a barrier
 * (every rank runs as many): X[(rep * nlayers + layer) * NCOLS + column]. With SPLIT (RT from
 * a split layout) each repetition also runs the backward split, as zero-bubble schedules
 * run it: every layer's input gradient, then every layer's weight gradient. */
static void time_stage(pc_runtime *rt, const pc_model *m, const pc_partition *part, int stage,
                       size_t mb, int reps, bool warm_up, bool split, double *x0) {
  GError *error = NULL;
  int lo = part->first[stage], hi = part->first[stage + 1], data_layer = lo;
  int loss = pc_model_loss_layer(m);
  while (data_layer < hi - 1 && !reads_input(&m->layers[data_layer])) data_layer++;
  fill_received(rt, m, part, stage, mb);
  pc_dataset *ds = NULL;
  if ((loss >= lo && loss < hi) || pc_runtime_data(rt, 0) != NULL) {
    ds = pc_model_open_data(m, "synthetic", 1, true, &error);
    PC_ASSERT(ds != NULL);
  }
  /* the runtime's optimizer at learning rate 0: the weights stay as they are */
  pc_optim step = {.kind = pc_runtime_optim(rt), .momentum = 0.9, .beta1 = 0.9, .beta2 = 0.999,
                   .eps = 1e-8, .step = 1, .grad_scale = 1};
  for (int rep = warm_up ? -1 : 0; rep < reps; rep++) {
    double *x = x0 + (size_t)MAX(rep, 0) * (size_t)m->nlayers * NCOLS;
    MPI_Barrier(MPI_COMM_WORLD);
    /* The executor's FWD gets the microbatch's data first: its time goes to the layer that
     * reads the input. */
    double t = MPI_Wtime(), data_s = 0;
    if (ds != NULL) {
      pc_dataset_get(ds, (int64_t)(rep + 1) * (int64_t)mb, mb, pc_runtime_data(rt, 0),
                     pc_runtime_labels(rt, 0));
      data_s = MPI_Wtime() - t;
    }
    /* each layer with the call into MPI that the executor makes after it (progress.c) */
    for (int l = lo; l < hi; l++) {
      t = MPI_Wtime();
      pc_runtime_forward_layer(rt, l, 0, true);
      pc_progress_poke(NULL);
      x[l * NCOLS + COL_FWD] = MPI_Wtime() - t + (l == data_layer ? data_s : 0);
    }
    pc_runtime_backward_begin(rt, 0, 1.0f / (float)mb);
    for (int l = hi; l-- > lo;) {
      t = MPI_Wtime();
      pc_runtime_backward_layer(rt, l, 0);
      pc_progress_poke(NULL);
      x[l * NCOLS + COL_BWD] = MPI_Wtime() - t;
    }
    if (split) {
      pc_runtime_backward_begin(rt, 0, 1.0f / (float)mb);
      for (int l = hi; l-- > lo;) {
        t = MPI_Wtime();
        pc_runtime_backward_input_layer(rt, l, 0);
        pc_progress_poke(NULL);
        x[l * NCOLS + COL_B] = MPI_Wtime() - t;
      }
      for (int l = hi; l-- > lo;) {
        t = MPI_Wtime();
        bool weights = pc_runtime_backward_weights_layer(rt, l, 0);
        if (weights) pc_progress_poke(NULL);
        x[l * NCOLS + COL_W] = weights ? MPI_Wtime() - t : 0;
      }
    }
    for (int l = lo; l < hi; l++) {
      t = MPI_Wtime();
      pc_runtime_step_layer(rt, l, &step);
      pc_progress_poke(NULL);
      x[l * NCOLS + COL_OPT] = MPI_Wtime() - t;
    }
  }
  pc_dataset_free(ds);
}

static void write_header(FILE *f, const pc_model *m, const pc_partition *part, bool partitioned,
                         bool chunks, int ranks, int reps, const char *over,
                         pc_optim_kind optim) {
  fprintf(f, "# pipecast profile v1\n# model %s\n# ranks %d (all busy while measuring)\n"
             "# reps %d (%s)\n# overhead_s 0\n# optimizer %s\n", m->name, ranks, reps, over,
          optim == PC_OPTIM_ADAMW ? "adamw" : "sgd");
  if (partitioned && chunks) {
    char *text = pc_partition_format(m, part);
    fprintf(f, "# partition %s (each rank held its stages at once and timed them in turn: the "
               "chunks of an interleaved or V schedule)\n", text);
    g_free(text);
  } else if (partitioned) {
    char *text = pc_partition_format(m, part);
    fprintf(f, "# partition %s (each stage timed alone%s)\n", text,
            part->nstages > ranks    ? "; rank r timed stages r, r + ranks, ..."
            : part->nstages < ranks ? "; rank r timed stage r % stages, the replicas at once"
                                    : " on its rank");
    g_free(text);
  }
  for (int i = 0; i < m->nparams; i++)
    fprintf(f, "# param %s=%s\n", m->params[i].name, m->params[i].value);
}

/* Gathers on rank 0 every rank's SAMPLES (sample_at order) and TIMED flags (the layers it
 * timed), and writes there the header and a row per layer and size to F, each column the median
 * over the ranks that timed the layer of each one's median (or minimum, USE_MIN) over its
 * repetitions, and the header and a row per layer, size, rank and repetition to SF (after its
 * comments); either may be NULL. SPLIT adds the columns of the backward's halves. Collective
 * over MPI_COMM_WORLD. */
static void write_rows(FILE *f, FILE *sf, const pc_model *m, int nsizes, const int *sizes,
                       int reps, const double *samples, const int *timed, bool use_min,
                       bool split) {
  int rank = pc_exec_rank(), size = pc_exec_size(), L = m->nlayers, W = split ? NCOLS : 3;
  size_t count = (size_t)nsizes * (size_t)reps * (size_t)L * NCOLS;
  double *all = rank == 0 ? g_new(double, count * (size_t)size) : NULL;
  int *timed_all = rank == 0 ? g_new(int, (size_t)L * (size_t)size) : NULL;
  MPI_Gather(samples, (int)count, MPI_DOUBLE, all, (int)count, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Gather(timed, L, MPI_INT, timed_all, L, MPI_INT, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    const char *halves = split ? "\tbwd_b_s\tbwd_w_s\n" : "\n";
    if (f) fprintf(f, "layer\tkind\tmb\tfwd_s\tbwd_s\topt_s%s", halves);
    if (sf) fprintf(sf, "layer\tkind\tmb\trank\trep\tfwd_s\tbwd_s\topt_s%s", halves);
    double across[size], reps_of[reps];
    for (int l = 0; l < L; l++) {
      const char *name = m->layers[l].name, *kind = pc_layer_ops_of(m->layers[l].kind)->name;
      for (int si = 0; si < nsizes; si++) {
        double v[NCOLS];
        for (int w = 0; w < W; w++) {
          int n = 0;
          for (int r = 0; r < size; r++) {
            if (!timed_all[(size_t)r * L + l]) continue;
            for (int rep = 0; rep < reps; rep++)
              reps_of[rep] = all[(size_t)r * count + sample_at(si, rep, l, w, reps, L)];
            across[n++] = use_min ? minimum(reps_of, reps) : pc_median(reps_of, reps);
          }
          PC_ASSERT(n > 0); /* every layer is timed by some rank */
          v[w] = pc_median(across, n);
        }
        if (f) {
          fprintf(f, "%s\t%s\t%d", name, kind, sizes[si]);
          for (int w = 0; w < W; w++) fprintf(f, "\t%.9e", v[w]);
          fputc('\n', f);
        }
        for (int r = 0; sf && r < size; r++)
          for (int rep = 0; timed_all[(size_t)r * L + l] && rep < reps; rep++) {
            const double *x = all + (size_t)r * count + sample_at(si, rep, l, 0, reps, L);
            fprintf(sf, "%s\t%s\t%d\t%d\t%d", name, kind, sizes[si], r, rep);
            for (int w = 0; w < W; w++) fprintf(sf, "\t%.9e", x[w]);
            fputc('\n', sf);
          }
      }
    }
  }
  g_free(all);
  g_free(timed_all);
}

/* Opens FLAG PATH for writing on rank 0 (when PATH is not NULL), and tells every rank whether
 * that worked. */
static bool open_out(const char *cmd, const char *flag, const char *path, FILE **f,
                     pc_output **out) {
  *out = NULL;
  if (pc_exec_rank() == 0 && path) *f = pc_exec_output_open(cmd, flag, path, out);
  int opened = pc_exec_rank() != 0 || path == NULL || *f != NULL;
  MPI_Bcast(&opened, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return opened;
}

bool pc_exec_profile_runtime(const char *cmd, const char *flag, const char *path,
                             pc_runtime *const *rts, const int *stages, int n,
                             const pc_model *m, const pc_partition *part, size_t mb, int reps,
                             bool warm_up) {
  FILE *sf = NULL;
  pc_output *out = NULL;
  if (!open_out(cmd, flag, path, &sf, &out)) return false;
  int L = m->nlayers, size = (int)mb;
  double *samples = g_new0(double, (size_t)reps * (size_t)L * NCOLS);
  int *timed = g_new0(int, (size_t)L);
  for (int k = 0; k < n; k++) { /* every rank holds as many: the barriers pair */
    time_stage(rts[k], m, part, stages[k], mb, reps, warm_up, false, samples);
    for (int l = part->first[stages[k]]; l < part->first[stages[k] + 1]; l++) timed[l] = 1;
  }
  if (pc_exec_rank() == 0) {
    char *what = g_strdup_printf("every one of them, a row each; timed by pipecast-exec %s "
                                 "%s its iterations, in its processes and runtimes", cmd,
                                 strcmp(cmd, "train") == 0 ? "after" : "between");
    write_header(sf, m, part, part->nstages > 1, n > 1, pc_exec_size(), reps, what,
                 pc_runtime_optim(rts[0]));
    g_free(what);
  }
  write_rows(NULL, sf, m, 1, &size, reps, samples, timed, false, false);
  g_free(samples);
  g_free(timed);
  return pc_exec_output_close(cmd, out);
}

/* Every rank checks every stage that a rank will hold at every size (the same answer on all
 * ranks, so all end the same way): a size too large for the machine is refused up front. */
static bool check_memory(const pc_model *m, const pc_partition *part, const int *sizes,
                         int nsizes, const pc_runtime_layout *layout, GError **error) {
  size_t avail = pc_exec_memory_per_rank();
  for (int k = 0; avail && k < part->nstages; k++)
    for (int si = 0; si < nsizes; si++) {
      size_t need = pc_runtime_bytes_layout(m, part, k, (size_t)sizes[si], 1, layout);
      if (need <= avail) continue;
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "--microbatch-sizes: stage %d at microbatch %d needs %.2f GiB, more than the "
                  "%.2f GiB available to a rank", k, sizes[si], need / 1073741824.0,
                  avail / 1073741824.0);
      return false;
    }
  return true;
}

/* The repetitions go in passes over the sizes (each pass a warm-up, then its share of them), so
 * that a slow spell of the machine costs one repetition of several sizes, which the median drops,
 * not every repetition of one size. Pass P of N takes repetitions [first, end). */
enum { PASSES = 3 };
static int passes(int reps) { return MIN(reps, PASSES); }
static int pass_first(int p, int reps) { return p * reps / passes(reps); }

/* --chunks: the rank's stages r, r + ranks, ... (VSHAPE: r and 2 ranks - 1 - r) held at once,
 * as an interleaved (zb-v) schedule's rank holds its chunks, and timed in turn within each
 * repetition (their weights share the caches as in the run). Every rank holds the same count
 * (checked). */
static void time_chunks(const pc_model *m, const pc_partition *part, const int *sizes,
                        int nsizes, int reps, bool vshape, const pc_runtime_layout *layout,
                        double *samples, int *timed) {
  int rank = pc_exec_rank(), size = pc_exec_size(), L = m->nlayers, C = part->nstages / size;
  pc_schedule place = {.nstages = size, .nchunks = C, .vshape = vshape};
  pc_runtime **rts = g_new(pc_runtime *, (size_t)C);
  double *spare = g_new(double, (size_t)L * NCOLS);
  for (int p = 0; p < passes(reps); p++)
    for (int si = 0; si < nsizes; si++) {
      int first = pass_first(p, reps), end = pass_first(p + 1, reps);
      for (int c = 0; c < C; c++) {
        GError *error = NULL;
        rts[c] = pc_runtime_new_layout(m, part, pc_schedule_virtual(&place, rank, c),
                                       (size_t)sizes[si], 1, 1, 0, layout, &error);
        PC_ASSERT(rts[c] != NULL);
      }
      for (int rep = first - 1; rep < end; rep++) /* a warm-up, then the pass's repetitions */
        for (int c = 0; c < C; c++)
          time_stage(rts[c], m, part, pc_schedule_virtual(&place, rank, c), (size_t)sizes[si],
                     1, false, layout->split,
                     rep < first ? spare : samples + sample_at(si, rep, 0, 0, reps, L));
      for (int c = 0; c < C; c++) {
        int v = pc_schedule_virtual(&place, rank, c);
        pc_runtime_free(rts[c]);
        for (int l = part->first[v]; l < part->first[v + 1]; l++) timed[l] = 1;
      }
    }
  g_free(spare);
  g_free(rts);
}

/* This rank's stages at every size into SAMPLES (sample_at's layout); timed[l] = 1 for each
 * layer it timed. Without a partition (staged false) every rank times the whole model. */
static void time_all(const pc_model *m, const pc_partition *part, bool staged, const int *sizes,
                     int nsizes, int reps, const pc_runtime_layout *layout, double *samples,
                     int *timed) {
  int rank = pc_exec_rank(), size = pc_exec_size(), L = m->nlayers;
  int turns = staged ? (part->nstages + size - 1) / size : 1;
  for (int p = 0; p < passes(reps); p++)
    for (int si = 0; si < nsizes; si++)
      for (int turn = 0; turn < turns; turn++) {
        int stage = !staged ? 0 : size > part->nstages ? rank % part->nstages : turn * size + rank;
        int first = pass_first(p, reps), n = pass_first(p + 1, reps) - first;
        if (stage < part->nstages) {
          /* a runtime of the stage alone: only its layers' weights (its share of the caches) */
          GError *error = NULL;
          pc_runtime *rt =
              pc_runtime_new_layout(m, part, stage, (size_t)sizes[si], 1, 1, 0, layout, &error);
          PC_ASSERT(rt != NULL);
          time_stage(rt, m, part, stage, (size_t)sizes[si], n, true, layout->split,
                     samples + sample_at(si, first, 0, 0, reps, L));
          pc_runtime_free(rt);
          for (int l = part->first[stage]; l < part->first[stage + 1]; l++) timed[l] = 1;
        } else
          for (int rep = -1; rep < n; rep++) MPI_Barrier(MPI_COMM_WORLD); /* no stage this turn */
      }
}

/* --partition SPEC: an auto:* spec takes its stage count from the ranks. */
static pc_partition *profile_partition(const pc_model *m, const char *spec, GError **error) {
  pc_job_request req = {.partition = spec, .ranks = pc_exec_size()};
  pc_job_source source;
  return pc_job_partition(m, &req, 1, &source, error);
}

int pc_cmd_profile(int argc, char **argv) {
  char *sets = NULL, *sizes_text = NULL, *out = NULL, *spec = NULL, *samples_out = NULL;
  int reps = 5;
  gboolean chunks = FALSE, vshape = FALSE, split = FALSE;
  char *stat = NULL, *optimizer = NULL;
  GOptionEntry entries[] = {
    {"set", 0, 0, G_OPTION_ARG_STRING, &sets, "Override model parameters", "K=V,..."},
    {"microbatch-sizes", 0, 0, G_OPTION_ARG_STRING, &sizes_text,
     "Microbatch sizes to measure (1,2,4,8,16,32)", "LIST"},
    {"reps", 'r', 0, G_OPTION_ARG_INT, &reps, "Timed repetitions per size (5)", "R"},
    {"stat", 0, 0, G_OPTION_ARG_STRING, &stat,
     "Statistic over repetitions: median (default) or min", "median|min"},
    {"partition", 'p', 0, G_OPTION_ARG_STRING, &spec,
     "Time each stage of this partition alone (rank r: stages r, r + ranks, ...)", "SPEC"},
    {"out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Write the profile here (default: stdout)", "FILE"},
    {"samples", 0, 0, G_OPTION_ARG_FILENAME, &samples_out,
     "Also write every repetition's seconds here (one row per layer, size, rank and repetition)",
     "FILE"},
    {"chunks", 0, 0, G_OPTION_ARG_NONE, &chunks,
     "With --partition: each rank holds its stages r, r + ranks, ... at once and times them in "
     "turn, as an interleaved schedule's rank holds its chunks", NULL},
    {"vshape", 0, 0, G_OPTION_ARG_NONE, &vshape,
     "With --chunks: rank r holds stages r and 2 ranks - 1 - r, as zb-v places them", NULL},
    {"optimizer", 0, 0, G_OPTION_ARG_STRING, &optimizer,
     "The optimizer whose step opt_s times: sgd (default) or adamw", "NAME"},
    {"split", 0, 0, G_OPTION_ARG_NONE, &split,
     "Also time the backward split into input and weight gradients (columns bwd_b_s, bwd_w_s), "
     "as zb-h1 and zb-v run it", NULL},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL - per-layer costs for the simulator");
  g_option_context_add_main_entries(ctx, entries, NULL);
  int status = PC_EXIT_INPUT, nsizes = 0, *sizes = NULL;
  GError *error = NULL;
  pc_model *m = NULL;
  pc_partition *part = NULL;
  FILE *f = NULL, *sf = NULL;
  pc_output *fo = NULL, *sfo = NULL;
  if (!pc_exec_parse(ctx, "profile", &argc, &argv)) goto done;
  if (argc != 2) {
    if (pc_exec_rank() == 0) fprintf(stderr, PC_EXEC_PROG " profile: expected one MODEL file\n");
    goto done;
  }
  if (reps < 1 || reps > PC_EXEC_MAX_REPS) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE, "--reps must be 1 to %d, got %d",
                PC_EXEC_MAX_REPS, reps);
    status = pc_exec_input_error("profile", error);
    goto done;
  }
  bool use_min = stat && strcmp(stat, "min") == 0;
  if (stat && !use_min && strcmp(stat, "median") != 0) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE, "--stat '%s': expected median or min", stat);
    status = pc_exec_input_error("profile", error);
    goto done;
  }
  sizes = parse_sizes(sizes_text ? sizes_text : "1,2,4,8,16,32", &nsizes, &error);
  if (sizes == NULL || (m = pc_model_load(argv[1], sets, &error)) == NULL ||
      (part = spec ? profile_partition(m, spec, &error) : pc_partition_whole(m)) == NULL) {
    status = pc_exec_input_error("profile", error);
    goto done;
  }
  int rank = pc_exec_rank(), size = pc_exec_size();
  if (spec && part->nstages < size && size % part->nstages) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE,
                "--partition '%s' has %d stage%s: run it with at most one rank per stage "
                "(mpirun -n %d or fewer) or with replicas of the pipeline (a multiple of %d "
                "ranks), not %d",
                spec, part->nstages, part->nstages == 1 ? "" : "s", part->nstages,
                part->nstages, size);
    status = pc_exec_input_error("profile", error);
    goto done;
  }
  if (vshape && (!chunks || part->nstages != 2 * size)) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE,
                "--vshape goes with --chunks and a --partition of two stages per rank (%d)",
                2 * size);
    status = pc_exec_input_error("profile", error);
    goto done;
  }
  if (chunks && (!spec || part->nstages % size || part->nstages < 2 * size)) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE,
                "--chunks needs a --partition of a multiple of the %d ranks' stages, two or more "
                "each (it has %d)", size, spec ? part->nstages : 0);
    status = pc_exec_input_error("profile", error);
    goto done;
  }
  pc_runtime_layout layout = {.split = split};
  if (!pc_job_parse_optimizer(optimizer, &layout.optim, &error) ||
      !check_memory(m, part, sizes, nsizes, &layout, &error)) {
    status = pc_exec_input_error("profile", error);
    goto done;
  }
  /* Without a partition every rank times the whole model; with one, each stage is timed alone
   * (its layers in a runtime of their own: its share of the caches), stage s by rank s % ranks
   * in turn s / ranks, all ranks busy at once; each layer's row comes from one rank. */
  if (!open_out("profile", "--out", out, &f, &fo) ||
      !open_out("profile", "--samples", samples_out, &sf, &sfo)) goto done;
  if (rank == 0 && f == NULL) f = stdout;
  int L = m->nlayers;
  int *timed = g_new0(int, (size_t)L); /* the layers this rank timed */
  /* every repetition's seconds of this rank in sample_at's layout (0 for the layers of other
   * stages) */
  size_t count = (size_t)nsizes * (size_t)reps * (size_t)L * NCOLS;
  double *samples = g_new0(double, count);
  if (chunks) time_chunks(m, part, sizes, nsizes, reps, vshape, &layout, samples, timed);
  else time_all(m, part, spec != NULL, sizes, nsizes, reps, &layout, samples, timed);
  if (rank == 0) {
    char *over = g_strdup_printf("%s, in %d pass%s over the sizes",
                                 use_min ? "minimum over them" : "median over them", passes(reps),
                                 passes(reps) == 1 ? "" : "es");
    write_header(f, m, part, spec != NULL, chunks, size, reps, over, layout.optim);
    g_free(over);
    if (sf)
      write_header(sf, m, part, spec != NULL, chunks, size, reps, "every one of them, a row each",
                   layout.optim);
  }
  write_rows(f, sf, m, nsizes, sizes, reps, samples, timed, use_min, split);
  bool closed = pc_exec_output_close("profile", g_steal_pointer(&fo));
  closed = pc_exec_output_close("profile", g_steal_pointer(&sfo)) && closed;
  status = closed ? 0 : 1;
  g_free(samples);
  g_free(timed);
done:
  pc_output_discard(fo);
  pc_output_discard(sfo);
  g_free(sizes);
  pc_partition_free(part);
  pc_model_free(m);
  g_option_context_free(ctx);
  g_free(sets);
  g_free(sizes_text);
  g_free(spec);
  g_free(stat);
  g_free(optimizer);
  g_free(out);
  g_free(samples_out);
  return status;
}
