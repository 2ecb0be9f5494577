/* main.c — pipecast-exec: the MPI executor. One rank per pipeline stage (times the replicas of
 * data parallelism); without mpirun it runs as one process (MPI singleton start).
 * Commands: train, grid, profile, calibrate. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "exec.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PC_EXEC_PROG " COMMAND [OPTIONS] MODEL\n"
          "       mpirun -n P " PC_EXEC_PROG " train MODEL --stages P ...\n"
          "\n"
          "commands:\n"
          "  train       train MODEL, pipelined over the MPI ranks (one process without mpirun)\n"
          "  grid        measure several training runs of MODEL side by side, interleaved\n"
          "  profile     per-layer forward/backward seconds at several microbatch sizes (TSV)\n"
          "  calibrate   MPI ping-pong as a piecewise alpha-beta table; sgemm rates (TSV)\n"
          "\n"
          "'" PC_EXEC_PROG " COMMAND --help' shows a command's options.\n"
          "\n"
          "environment:\n"
          "  PC_PROGRESS=thread|layers|off   on several ranks: a communication thread (the\n"
          "                     default: gradient buckets reduced during the backward, large\n"
          "                     sends kept moving across nodes) and a call into MPI between a\n"
          "                     stage's layers; layers: only the calls; off: neither\n"
          "  OMPI_MCA_btl_tcp_eager_limit   unless given, 4 MiB (with the rendezvous and send\n"
          "                     sizes): messages between nodes go without waiting for the\n"
          "                     receiver\n");
}

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  bool progress; /* calls into MPI between layers on several ranks (progress.c) */
} commands[] = {
  {"train", pc_cmd_train, true},
  {"grid", pc_cmd_grid, true},
  {"profile", pc_cmd_profile, true},
  {"calibrate", pc_cmd_calibrate, false},
};

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? PC_EXIT_INPUT : 0;
  }
  for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
    if (strcmp(argv[1], commands[i].name) != 0) continue;
    int provided;
    pc_progress_configure();
    MPI_Init_thread(&argc, &argv, pc_progress_thread_level(), &provided);
    GError *error = NULL;
    int status;
    /* help is printed whatever the environment says */
    bool help = false;
    for (int j = 2; j < argc; j++)
      help = help || strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0 ||
             strcmp(argv[j], "-?") == 0 || strncmp(argv[j], "--help-", 7) == 0;
    if (commands[i].progress && !help && !pc_progress_start(&error)) {
      status = pc_exec_input_error(argv[1], error);
    } else {
      status = commands[i].run(argc - 1, argv + 1);
      pc_progress_stop();
    }
    MPI_Finalize();
    return status;
  }
  char *what = g_strdup_printf("unknown command '%s'", argv[1]);
  pc_error_print(PC_EXEC_PROG, what);
  g_free(what);
  usage(stderr);
  return PC_EXIT_INPUT;
}
