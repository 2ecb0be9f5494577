/* progress.c — calls into MPI between a stage's layers, so that its messages move while it
 * computes.
 *
 * A pipeline stage posts MPI_Isend for a microbatch's activations, then computes the next one.
 * Whether the bytes move meanwhile depends on the MPI library: Open MPI's shared-memory transport
 * copies a large message in one go when the kernel lets one process read another's memory (CMA),
 * but without it (a kernel or container without CMA; TCP between nodes) a message above the
 * eager limit moves in fragments, each step only while sender or receiver is inside an MPI
 * call. A sender in a long run of matrix products then holds its neighbour idle. Measured here
 * with Open MPI's single copy turned off (OMPI_MCA_btl_vader_single_copy_mechanism=none), MLP-32
 * on 2 stages, gpipe with 16 microbatches, took 1.29 and 1.32 s an iteration (one stage: 1.47 s)
 * against 0.80 and 0.76 s with a call between layers (with CMA: 0.82 and 0.69 s either way;
 * experiments/bench-progress.sh). The call is an MPI_Iprobe on a communicator of the executor's
 * own, on which nothing is ever sent: it only drives the progress engine, for every request of
 * the process, and costs about a microsecond. */
#include <string.h>

#include "error.h"
#include "exec.h"

static MPI_Comm progress_comm = MPI_COMM_NULL;

void pc_progress_poke(void *data) {
  (void)data;
  int flag = 0;
  if (progress_comm != MPI_COMM_NULL)
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, progress_comm, &flag, MPI_STATUS_IGNORE);
}

bool pc_progress_start(GError **error) {
  const char *env = g_getenv("PC_PROGRESS");
  if (env != NULL && strcmp(env, "layers") != 0 && strcmp(env, "off") != 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "PC_PROGRESS must be 'layers' (the default: a call into MPI between layers) or "
                "'off', got '%s'", env);
    return false;
  }
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1 && (env == NULL || strcmp(env, "layers") == 0))
    MPI_Comm_dup(MPI_COMM_WORLD, &progress_comm);
  return true;
}

void pc_progress_stop(void) {
  if (progress_comm != MPI_COMM_NULL) MPI_Comm_free(&progress_comm);
}
