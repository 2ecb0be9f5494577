/* cli.c — option and model loading helpers shared by pipecast-sim's subcommands. */
#include "cli.h"

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
