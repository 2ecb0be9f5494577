/* main.c — pipecast-exec: the MPI executor of pipecast.
 *
 * Its subcommands (train, profile, calibrate) arrive with the kernel and executor work; until
 * then this front end reads the model and partition the same way pipecast-sim does, so that a
 * job script can be checked before it is launched. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "model.h"

static void usage(FILE *f) {
  fprintf(f, "usage: pipecast-exec check MODEL [--set K=V,...]\n"
             "  check   read MODEL and report its size (train, profile and calibrate: not yet)\n");
}

int main(int argc, char **argv) {
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  const char *sets = NULL;
  if (argc == 5 && strcmp(argv[3], "--set") == 0) sets = argv[4];
  if (argc < 3 || strcmp(argv[1], "check") != 0 || (argc != 3 && sets == NULL)) {
    usage(stderr);
    return PC_EXIT_INPUT;
  }
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  GError *error = NULL;
  pc_model *m = pc_model_load(argv[2], sets, &error);
  int status = 0;
  if (m == NULL) {
    if (rank == 0) fprintf(stderr, "pipecast-exec: %s\n", error->message);
    g_error_free(error);
    status = PC_EXIT_INPUT;
  } else if (rank == 0) {
    printf("%s: %d layers, %lld parameters\n", m->name, m->nlayers,
           (long long)pc_model_params(m));
  }
  pc_model_free(m);
  MPI_Finalize();
  return status;
}
