/* main.c — pipecast-sim: the command line of the simulator.
 * Subcommands: describe (model and partition tables), run (predict one iteration), sweep
 * (predict a grid of configurations), compare (measured against predicted trace). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "error.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PC_CLI_PROG " COMMAND [OPTIONS] MODEL\n"
          "\n"
          "commands:\n"
          "  describe   per-layer and per-stage table of a model and a partition\n"
          "  run        predict one pipelined training iteration (times, speedup, memory)\n"
          "  sweep      predict a grid of schedules x stages x microbatches (CSV, figures)\n"
          "  plan       the fastest layouts of a job on R ranks, and the command to run the first\n"
          "  compare    a measured trace against a predicted one, op by op\n"
          "\n"
          "'" PC_CLI_PROG " COMMAND --help' shows a command's options.\n");
}

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
} commands[] = {
  {"describe", pc_cmd_describe},
  {"run", pc_cmd_run},
  {"sweep", pc_cmd_sweep},
  {"plan", pc_cmd_plan},
  {"compare", pc_cmd_compare},
};

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return PC_EXIT_INPUT;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  char *what = g_strdup_printf("unknown command '%s'", argv[1]);
  pc_error_print(PC_CLI_PROG, what);
  g_free(what);
  usage(stderr);
  return PC_EXIT_INPUT;
}
