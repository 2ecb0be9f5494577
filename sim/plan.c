/* plan.c — `pipecast-sim plan`: the layouts of one job on R ranks, predicted and ranked.
 *
 * Searches replicas D (a divisor of R, at most the batch) x stages P = R / D (at most the layer
 * count) x schedule x microbatches M (dividing the replica's batch) with, per layout, the
 * partition `train` would run for it: auto:time from the profile (the exact time-balanced cut,
 * transfers priced), or auto:flops without one. Each layout is predicted (pc_predict; the
 * executor's rank d P + s holds replica d's stage s) with its ranks placed on the nodes both
 * ways mpirun can (--map-by slot: replica-major, node = rank / ranks-per-node; --map-by node:
 * ranks dealt in turn, so that a stage's replicas share nodes) where the two differ; one
 * whose largest stage needs more than --memory-per-rank (the runtime's own plan) is dropped. Its
 * communication share: what the same layout over shared memory would not take.
 * Prints the fastest --top layouts (table, or CSV with --format csv) and the `mpirun ... train`
 * command of the first.
 *
 * A cluster not at hand can be described by numbers: --link inter=25gbit,5us (and intra=...)
 * builds the net table from a rate and a latency instead of a calibrated --net file. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "job.h"
#include "predict.h"

typedef struct {
  char *sets, *schedules_s, *micro_s, *profile_stat, *net, *gemm, *format;
  char **profile, **links;
  int batch, ranks, rpn, top;
  gint64 memory;
  gboolean extrapolate;
  pc_cli_training training;
} plan_opts;

/* One layout predicted. */
typedef struct {
  int D, P, M;
  bool by_node; /* placed with --map-by node */
  pc_schedule_kind kind;
  double t, bubble, comm;
  double zb_costs[3]; /* the zero-bubble order's --zb-costs; 0: unit costs */
  size_t memory; /* largest stage */
  char *spec;
} plan_row;

static int cmp_rows(const void *a, const void *b) {
  const plan_row *x = a, *y = b;
  return (x->t > y->t) - (x->t < y->t);
}

/* "25gbit", "100mbit", "1.5gbit": bits per second; "5us", "0.5ms", "2e-6": seconds. */
static bool parse_unit(const char *text, const char *const *units, const double *scale,
                       int nunits, double *out) {
  char *end;
  errno = 0;
  double v = g_ascii_strtod(text, &end);
  if (end == text || errno || !isfinite(v) || v < 0) return false;
  for (int i = 0; i < nunits; i++)
    if (strcmp(end, units[i]) == 0) {
      *out = v * scale[i];
      return true;
    }
  return false;
}

/* --link LINK=RATE,LATENCY (repeatable): a net table of one row per link. */
static pc_net *links_net(char **links, GError **error) {
  static const char *const rate_units[] = {"kbit", "mbit", "gbit"};
  static const double rate_scale[] = {1e3, 1e6, 1e9};
  static const char *const lat_units[] = {"", "s", "ms", "us", "ns"};
  static const double lat_scale[] = {1, 1, 1e-3, 1e-6, 1e-9};
  GString *t = g_string_new("link\tbytes\tlatency_s\tseconds_per_byte\n");
  bool seen[2] = {false, false}, ok = true;
  for (char **l = links; ok && *l; l++) {
    gchar **kv = g_strsplit(*l, "=", 2); /* "" splits into none */
    gchar **rl = kv[0] && kv[1] ? g_strsplit(kv[1], ",", -1) : NULL;
    int which = !kv[0] ? -1 : strcmp(kv[0], "intra") == 0 ? 0 : strcmp(kv[0], "inter") == 0 ? 1 : -1;
    double rate = 0, lat = 0;
    ok = which >= 0 && rl && rl[0] && rl[1] && !rl[2] && !seen[which] &&
         parse_unit(rl[0], rate_units, rate_scale, 3, &rate) && rate > 0 &&
         parse_unit(rl[1], lat_units, lat_scale, 5, &lat);
    if (ok) {
      seen[which] = true;
      g_string_append_printf(t, "%s\t0\t%.9e\t%.9e\n", kv[0], lat, 8.0 / rate);
    } else {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "--link '%s': expected intra=RATE,LATENCY or inter=RATE,LATENCY (once each), "
                  "e.g. inter=25gbit,5us (rates in kbit, mbit or gbit; latencies in s, ms, us "
                  "or ns)", *l);
    }
    g_strfreev(rl);
    g_strfreev(kv);
  }
  pc_net *net = ok ? pc_net_parse(t->str, "--link", error) : NULL;
  g_string_free(t, TRUE);
  return net;
}

/* Most microbatches of the default search. */
#define PLAN_MAX_MICRO 256

/* The microbatch counts of replica batch B/D: those of --microbatches that divide it, or the
 * powers of two that do, up to PLAN_MAX_MICRO. */
static bool micro_ok(const GArray *list, int per_replica, int M) {
  if (per_replica % M) return false;
  if (list == NULL) return (M & (M - 1)) == 0 && M <= PLAN_MAX_MICRO;
  for (guint i = 0; i < list->len; i++)
    if (g_array_index(list, int, i) == M) return true;
  return false;
}

/* Predicts one layout into ROW; false (with a reason in error) when it cannot run. Its
 * communication share is the part of the iteration that the same layout over the built-in
 * shared-memory link would not take. */
static bool plan_layout(pc_engine *e, const pc_model *m, pc_cost_config *cfg, int batch, int D,
                        int P, int M, pc_schedule_kind kind, plan_row *row, GError **error) {
  cfg->replicas = D;
  cfg->chunks = pc_schedule_default_chunks(kind);
  /* a zero-bubble order planned for the profiled halves of the backward */
  memset(cfg->zb_costs, 0, sizeof cfg->zb_costs);
  if (pc_schedule_zero_bubble(kind) && cfg->profile &&
      pc_profile_split(cfg->profile) &&
      !pc_costs_zb_ratio(m, cfg, (double)batch / D / M, cfg->zb_costs, error))
    return false;
  pc_job_request req = {.stages = P, .by = cfg->profile ? "time" : NULL, .replicas = D,
                        .schedule = pc_schedule_kind_name(kind), .chunks = cfg->chunks,
                        .times = pc_costs_layer_times, .times_ud = cfg};
  pc_job_source source;
  pc_partition *part = pc_job_partition(m, &req, batch / D / M, &source, error);
  pc_prediction *p = part ? pc_predict(e, m, part, kind, batch, M, cfg, error) : NULL;
  pc_cost_config local = *cfg;
  local.net = NULL;
  local.ranks_per_node = 0;
  pc_prediction *q = p ? pc_predict(e, m, part, kind, batch, M, &local, error) : NULL;
  if (q)
    *row = (plan_row){.D = D, .P = P, .M = M, .by_node = cfg->by_node, .kind = kind,
                      .t = p->makespan,
                      .bubble = pc_prediction_bubble(p),
                      .comm = fmax(0.0, 1.0 - q->makespan / p->makespan),
                      .memory = pc_prediction_peak_memory(p),
                      .zb_costs = {cfg->zb_costs[0], cfg->zb_costs[1], cfg->zb_costs[2]},
                      .spec = pc_partition_format(m, part)};
  pc_prediction_free(q);
  pc_prediction_free(p);
  pc_partition_free(part);
  return q != NULL;
}

/* Every layout: the rows that fit, fastest first. *dropped counts those that need more memory,
 * *skipped those that cannot be predicted (a microbatch size outside the profile, say), the first
 * reason in *why. */
static GArray *plan_search(const plan_opts *o, const pc_model *m, pc_cost_config *cfg,
                           const GArray *kinds, const GArray *micros, int *dropped, int *skipped,
                           GError **why) {
  GArray *rows = g_array_new(FALSE, FALSE, sizeof(plan_row));
  pc_engine *e = pc_engine_new();
  for (int D = 1; D <= o->ranks; D++) {
    int P = o->ranks / D;
    if (o->ranks % D || D > o->batch || o->batch % D || P > m->nlayers) continue;
    /* both placements where replicas and stages share nodes differently */
    int rpn = cfg->ranks_per_node;
    int places = rpn > 0 && D > 1 && P > 1 && o->ranks > rpn ? 2 : 1;
    for (int place = 0; place < places; place++) {
      for (guint k = 0; k < kinds->len; k++)
        for (int M = 1; M <= o->batch / D && (micros || M <= PLAN_MAX_MICRO); M++) {
          if (!micro_ok(micros, o->batch / D, M)) continue;
          pc_schedule_kind kind = (pc_schedule_kind)g_array_index(kinds, int, k);
          int C = pc_schedule_default_chunks(kind);
          if (P * C > m->nlayers || !pc_schedule_check_kind(kind, P, M, C, NULL))
            continue; /* the schedule's own rules */
          plan_row row;
          GError *err = NULL;
          cfg->by_node = place == 1;
          if (!plan_layout(e, m, cfg, o->batch, D, P, M, kind, &row, &err)) {
            (*skipped)++;
            if (*why == NULL) *why = err;
            else g_error_free(err);
          } else if (o->memory > 0 && row.memory > (size_t)o->memory) {
            (*dropped)++;
            g_free(row.spec);
          } else {
            g_array_append_val(rows, row);
          }
        }
    }
  }
  pc_engine_free(e);
  g_array_sort(rows, cmp_rows);
  return rows;
}

static void print_rows(const plan_opts *o, const pc_model *m, const GArray *rows, bool csv) {
  int n = MIN((int)rows->len, o->top);
  if (csv)
    printf("rank,model,replicas,stages,microbatches,schedule,map_by,batch,iteration_s,"
           "throughput,bubble,comm_share,peak_memory_bytes,partition\n");
  else
    printf("%4s  %8s  %6s  %6s  %11s  %6s  %11s  %10s  %7s  %6s  %12s  %s\n", "rank",
           "replicas", "stages", "micro", "schedule", "map_by", "iteration_s", "samples/s",
           "bubble", "comm", "memory_MiB", "partition");
  for (int i = 0; i < n; i++) {
    const plan_row *r = &g_array_index(rows, plan_row, i);
    const char *kind = pc_schedule_kind_name(r->kind);
    if (csv)
      printf("%d,%s,%d,%d,%d,%s,%s,%d,%.9g,%.9g,%.6f,%.6f,%zu,%s\n", i + 1, m->name, r->D,
             r->P, r->M, kind, r->by_node ? "node" : "slot", o->batch, r->t, o->batch / r->t,
             r->bubble, r->comm, r->memory, r->spec);
    else
      printf("%4d  %8d  %6d  %6d  %11s  %6s  %11.6g  %10.4g  %7.4f  %5.1f%%  %12.1f  %s\n",
             i + 1, r->D, r->P, r->M, kind, r->by_node ? "node" : "slot", r->t,
             o->batch / r->t, r->bubble, 100 * r->comm, (double)r->memory / 1048576.0, r->spec);
  }
}

/* The command that runs row R. */
static void print_command(const plan_opts *o, const char *model_path, const plan_row *r) {
  char costs[96] = "", training[96] = "";
  if (r->zb_costs[0] > 0)
    snprintf(costs, sizeof costs, " --zb-costs %.3f:%.3f:%.3f", r->zb_costs[0], r->zb_costs[1],
             r->zb_costs[2]);
  const pc_cli_training *t = &o->training;
  int n = t->optimizer ? snprintf(training, sizeof training, " --optimizer %s", t->optimizer) : 0;
  if (t->clip > 0 && n >= 0 && (size_t)n < sizeof training)
    snprintf(training + n, sizeof training - (size_t)n, " --clip-grad-norm %.17g", t->clip);
  printf("\nrun the first:\n  mpirun -n %d%s%s pipecast-exec train %s%s%s%s --batch %d "
         "--replicas %d --stages %d -m %d --schedule %s%s%s --partition '%s'\n", o->ranks,
         o->rpn > 0 ? " --hostfile HOSTS" : "", r->by_node ? " --map-by node" : "", model_path,
         o->sets ? " --set '" : "",
         o->sets ? o->sets : "", o->sets ? "'" : "", o->batch, r->D, r->P, r->M,
         pc_schedule_kind_name(r->kind), costs, training, r->spec);
}

static bool plan_check(const plan_opts *o, GError **error) {
  const char *what = o->batch == PC_JOB_UNSET   ? "--batch B is required"
                     : o->ranks == PC_JOB_UNSET ? "--ranks R is required"
                     : o->ranks < 1 || o->ranks > 65536 ? "--ranks must be from 1 to 65536"
                     : o->batch < 1             ? "--batch must be positive"
                     : o->rpn != PC_JOB_UNSET && o->rpn < 1 ? "--ranks-per-node must be positive"
                     : o->top < 1               ? "--top must be positive"
                     : o->memory < 0            ? "--memory-per-rank must be positive"
                     : o->net && o->links       ? "give --net FILE or --link, not both"
                     : o->format && strcmp(o->format, "table") && strcmp(o->format, "csv")
                         ? "--format must be table or csv"
                         : NULL;
  if (what) g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s", what);
  return what == NULL;
}

int pc_cmd_plan(int argc, char **argv) {
  plan_opts o = {.batch = PC_JOB_UNSET, .ranks = PC_JOB_UNSET, .rpn = PC_JOB_UNSET, .top = 10};
  GOptionEntry entries[] = {
    {"set", 0, 0, G_OPTION_ARG_STRING, &o.sets, "Override model parameters", "K=V,..."},
    {"ranks", 'r', 0, G_OPTION_ARG_INT, &o.ranks, "MPI ranks of the job (required)", "R"},
    {"batch", 'b', 0, G_OPTION_ARG_INT, &o.batch, "Minibatch size over all replicas (required)",
     "B"},
    {"ranks-per-node", 0, 0, G_OPTION_ARG_INT, &o.rpn, "Ranks per node", "K"},
    {"memory-per-rank", 0, 0, G_OPTION_ARG_INT64, &o.memory,
     "Drop layouts whose largest stage needs more bytes", "BYTES"},
    {"schedule", 0, 0, G_OPTION_ARG_STRING, &o.schedules_s,
     "Schedules (default gpipe,1f1b; also interleaved, zb-h1, zb-v)", "KIND,..."},
    {"microbatches", 'm', 0, G_OPTION_ARG_STRING, &o.micro_s,
     "Microbatch counts (default: the powers of two up to 256 dividing a replica's batch)",
     "M,..."},
    {"net", 0, 0, G_OPTION_ARG_FILENAME, &o.net, "Network calibration", "FILE"},
    {"link", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.links,
     "A link by numbers instead of --net: inter=25gbit,5us (repeat for intra)", "LINK=RATE,LAT"},
    {"gemm", 0, 0, G_OPTION_ARG_FILENAME, &o.gemm, "GEMM rates for analytic costs", "FILE"},
    {"top", 0, 0, G_OPTION_ARG_INT, &o.top, "Layouts printed (default 10)", "N"},
    {"format", 'f', 0, G_OPTION_ARG_STRING, &o.format, "table (default) or csv", "FORMAT"},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL - the fastest layouts of a job on R ranks");
  g_option_context_add_main_entries(ctx, entries, NULL);
  pc_cli_add_profile_entries(ctx, &o.profile, &o.profile_stat, &o.extrapolate);
  pc_cli_add_training_entries(ctx, &o.training);
  int status = PC_EXIT_INPUT, dropped = 0, skipped = 0;
  GError *error = NULL, *why = NULL;
  pc_model *m = NULL;
  pc_cost_config cfg = {0};
  GArray *kinds = NULL, *micros = NULL, *rows = NULL;
  if (!pc_cli_parse(ctx, "plan", &argc, &argv)) goto out;
  if (argc != 2) {
    fprintf(stderr, PC_CLI_PROG " plan: expected one MODEL file, got %d arguments\n", argc - 1);
    goto out;
  }
  cfg.extrapolate = o.extrapolate;
  cfg.ranks_per_node = o.rpn == PC_JOB_UNSET ? 0 : o.rpn;
  if (!plan_check(&o, &error) || !pc_cli_apply_training(&o.training, &cfg, &error) ||
      (kinds = pc_cli_parse_schedules(o.schedules_s ? o.schedules_s : "gpipe,1f1b", &error)) ==
          NULL ||
      (o.micro_s && (micros = pc_cli_parse_ints("--microbatches", o.micro_s, &error)) == NULL) ||
      !pc_cost_config_load(&cfg, (const char *const *)o.profile, o.profile_stat, o.net, o.gemm,
                           &error) ||
      (o.links && (cfg.net = links_net(o.links, &error)) == NULL) ||
      (m = pc_model_load(argv[1], o.sets, &error)) == NULL)
    goto fail;
  rows = plan_search(&o, m, &cfg, kinds, micros, &dropped, &skipped, &why);
  if (rows->len == 0) {
    g_set_error(&error, PC_ERROR, PC_ERROR_USAGE,
                "no layout of %d ranks %s (%d dropped for memory, %d not predicted%s%s)",
                o.ranks, o.memory > 0 ? "fits in --memory-per-rank" : "can be predicted",
                dropped, skipped, why ? ": " : "", why ? why->message : "");
    goto fail;
  }
  bool csv = o.format && strcmp(o.format, "csv") == 0;
  if (!csv) {
    printf("model %s, batch %d on %d ranks: %u layouts predicted, %d dropped for memory\n",
           m->name, o.batch, o.ranks, rows->len + (guint)dropped, dropped);
    if (skipped)
      printf("%d not predicted, e.g.: %s\n", skipped, why->message);
  }
  print_rows(&o, m, rows, csv);
  if (!csv) print_command(&o, argv[1], &g_array_index(rows, plan_row, 0));
  status = fflush(stdout) == 0 ? 0 : 1;
  goto out;
fail:
  status = pc_cli_fail("plan", error);
out:
  if (why) g_error_free(why);
  if (rows)
    for (guint i = 0; i < rows->len; i++) g_free(g_array_index(rows, plan_row, i).spec);
  if (rows) g_array_unref(rows);
  if (kinds) g_array_unref(kinds);
  if (micros) g_array_unref(micros);
  pc_model_free(m);
  pc_cost_config_clear(&cfg);
  g_option_context_free(ctx);
  char **strs[] = {&o.sets, &o.schedules_s, &o.micro_s, &o.profile_stat, &o.net, &o.gemm,
                   &o.format, &o.training.optimizer};
  for (size_t i = 0; i < G_N_ELEMENTS(strs); i++) g_free(*strs[i]);
  g_strfreev(o.profile);
  g_strfreev(o.links);
  return status;
}
