/* cli.h — helpers shared by pipecast-sim's subcommands: option parsing, loading a model and its
 * partition from flags, and the exit status convention (2 for usage and input errors). */
#ifndef PC_CLI_H
#define PC_CLI_H

#include <glib.h>

#include "model.h"
#include "costs.h"
#include "partition.h"

#define PC_CLI_PROG "pipecast-sim"

/* Flags every model-reading subcommand takes. */
typedef struct {
  char *sets;      /* --set k=v,... */
  char *partition; /* --partition SPEC */
  int stages;      /* --stages N; PC_JOB_UNSET when not given */
  char *by;        /* --by flops|params */
} pc_cli_model_opts;

/* GOptionEntry rows for pc_cli_model_opts (terminated); sets o->stages to PC_JOB_UNSET. */
void pc_cli_model_entries(pc_cli_model_opts *o, GOptionEntry out[5]);

/* Adds --profile (repeatable), --profile-stat and --extrapolate to CTX's main options. */
void pc_cli_add_profile_entries(GOptionContext *ctx, char ***profile, char **stat,
                                gboolean *extrapolate);

/* Parses argv with ctx; on error prints "pipecast-sim CMD: message" and returns false. */
gboolean pc_cli_parse(GOptionContext *ctx, const char *cmd, int *argc, char ***argv);

/* Loads the model; makes the partition when flags (or split markers) ask for one, else sets
 * *part to NULL. False with a message in error. */
gboolean pc_cli_load(const pc_cli_model_opts *o, const char *path, pc_model **model,
                     pc_partition **part, GError **error);

/* FLAG's TEXT "1,2,4": positive integers, sorted, duplicates dropped; NULL with PC_ERROR_USAGE
 * naming the flag. */
GArray *pc_cli_parse_ints(const char *flag, const char *text, GError **error);

/* --schedule's TEXT "gpipe,1f1b": schedule kinds (int) in the order given, duplicates dropped;
 * NULL with PC_ERROR_USAGE. */
GArray *pc_cli_parse_schedules(const char *text, GError **error);

/* Prints "pipecast-sim CMD: message" on stderr and returns the exit status for the error. */
int pc_cli_fail(const char *cmd, GError *error);

/* --map-by TEXT: slot (each node filled in turn) or node (ranks dealt to the nodes in turn), as
 * mpirun's; *by_node tells which. False with PC_ERROR_USAGE otherwise. */
bool pc_cli_parse_map_by(const char *text, bool *by_node, GError **error);

/* The training flags that change a prediction, as pipecast-exec train takes them: --optimizer
 * (its state's memory, its step's cost) and --clip-grad-norm (a norm pass and the stages'
 * meeting before the step). */
typedef struct {
  char *optimizer;
  double clip;
} pc_cli_training;
void pc_cli_add_training_entries(GOptionContext *ctx, pc_cli_training *t);
/* Checks them and sets CFG's optim and clip; false with PC_ERROR_USAGE. Frees nothing. */
bool pc_cli_apply_training(const pc_cli_training *t, pc_cost_config *cfg, GError **error);

int pc_cmd_describe(int argc, char **argv);

/* `run`: predicts one iteration of a pipelined model (sim/run.c). */
int pc_cmd_run(int argc, char **argv);

/* `sweep`: predicts a grid of schedules, stage counts and microbatch counts (sim/sweep.c). */
int pc_cmd_sweep(int argc, char **argv);

/* `plan`: searches the layouts of a job on R ranks for the fastest (sim/plan.c). */
int pc_cmd_plan(int argc, char **argv);

/* `compare`: a measured trace against a predicted one, op by op (sim/compare.c). */
int pc_cmd_compare(int argc, char **argv);

#endif
