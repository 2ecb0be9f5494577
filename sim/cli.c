/* cli.c — option and model loading helpers shared by pipecast-sim's subcommands. */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "job.h"

void pc_cli_model_entries(pc_cli_model_opts *o, GOptionEntry out[5]) {
  o->stages = PC_JOB_UNSET;
  GOptionEntry e[5] = {
    {"set", 0, 0, G_OPTION_ARG_STRING, &o->sets, "Override model parameters", "K=V,..."},
    {"partition", 'p', 0, G_OPTION_ARG_STRING, &o->partition,
     "Partition: 'a..b | c..d', '8,8,8,8', 'auto:flops', 'auto:params' or 'split'", "SPEC"},
    {"stages", 's', 0, G_OPTION_ARG_INT, &o->stages, "Stage count for automatic partitioning", "N"},
    {"by", 0, 0, G_OPTION_ARG_STRING, &o->by, "Balance by flops (default) or params", "WHAT"},
    G_OPTION_ENTRY_NULL,
  };
  memcpy(out, e, sizeof e);
}

gboolean pc_cli_parse(GOptionContext *ctx, const char *cmd, int *argc, char ***argv) {
  GError *error = NULL;
  pc_job_join_sets(argc, argv);
  if (!g_option_context_parse(ctx, argc, argv, &error)) {
    pc_cli_fail(cmd, error);
    return FALSE;
  }
  return TRUE;
}

int pc_cli_fail(const char *cmd, GError *error) {
  char *prefix = g_strdup_printf(PC_CLI_PROG " %s", cmd);
  pc_error_print(prefix, error->message);
  g_free(prefix);
  int status = pc_error_status(error);
  g_error_free(error);
  return status;
}

gboolean pc_cli_load(const pc_cli_model_opts *o, const char *path, pc_model **model,
                     pc_partition **part, GError **error) {
  *part = NULL;
  if (o->stages != PC_JOB_UNSET && o->stages < 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--stages must be positive, got %d", o->stages);
    return FALSE;
  }
  *model = pc_model_load(path, o->sets, error);
  if (*model == NULL) return FALSE;
  pc_job_request req = {.partition = o->partition, .by = o->by,
                        .stages = o->stages == PC_JOB_UNSET ? 0 : o->stages};
  pc_job_source source;
  *part = pc_job_partition(*model, &req, 1, &source, error);
  if (*part == NULL) {
    pc_model_free(*model);
    *model = NULL;
    return FALSE;
  }
  if (source == PC_JOB_WHOLE) { /* nothing asked for a partition */
    pc_partition_free(*part);
    *part = NULL;
  }
  return TRUE;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

GArray *pc_cli_parse_ints(const char *flag, const char *text, GError **error) {
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

GArray *pc_cli_parse_schedules(const char *text, GError **error) {
  GArray *v = g_array_new(FALSE, FALSE, sizeof(int));
  gchar **items = g_strsplit(text, ",", -1); /* "" splits into none: no schedule named */
  bool ok = true;
  for (int i = 0; ok && items[i]; i++) {
    char *item = g_strstrip(items[i]);
    int k = pc_schedule_kind_from_name(item);
    if (k < 0) {
      g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                  "--schedule '%s': unknown schedule '%s' (expected gpipe, 1f1b, interleaved, "
                  "zb-h1 or zb-v)", text, item);
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

void pc_cli_add_profile_entries(GOptionContext *ctx, char ***profile, char **stat,
                                gboolean *extrapolate) {
  GOptionEntry entries[] = {
    {"profile", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, profile,
     "Measured layer costs, or samples files pooled (repeat the flag)", "FILE"},
    {"profile-stat", 0, 0, G_OPTION_ARG_STRING, stat,
     "Statistic that pools samples files: median (default), mean or min", "STAT"},
    {"extrapolate", 0, 0, G_OPTION_ARG_NONE, extrapolate,
     "Extrapolate the profile linearly outside its measured microbatch sizes", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_option_context_add_main_entries(ctx, entries, NULL); /* GLib copies the entries */
}

void pc_cli_add_training_entries(GOptionContext *ctx, pc_cli_training *t) {
  GOptionEntry entries[] = {
    {"optimizer", 0, 0, G_OPTION_ARG_STRING, &t->optimizer,
     "sgd (default) or adamw: the optimizer's state in memory and its step's cost", "NAME"},
    {"clip-grad-norm", 0, 0, G_OPTION_ARG_DOUBLE, &t->clip,
     "Clipping by the global gradient norm, as train's (0: none): a pass over the gradients and "
     "the stages' meeting before the step", "X"},
    G_OPTION_ENTRY_NULL,
  };
  g_option_context_add_main_entries(ctx, entries, NULL);
}

bool pc_cli_apply_training(const pc_cli_training *t, pc_cost_config *cfg, GError **error) {
  if (!(t->clip >= 0 && isfinite(t->clip))) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "--clip-grad-norm must be a finite number above 0 (or 0: no clipping), got %g",
                t->clip);
    return false;
  }
  cfg->clip = t->clip > 0;
  return pc_job_parse_optimizer(t->optimizer, &cfg->optim, error);
}

bool pc_cli_parse_map_by(const char *text, bool *by_node, GError **error) {
  *by_node = text && strcmp(text, "node") == 0;
  if (text == NULL || *by_node || strcmp(text, "slot") == 0) return true;
  g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "--map-by '%s': expected slot or node (as "
              "mpirun's: each node filled in turn, or ranks dealt to the nodes in turn)", text);
  return false;
}
