/* exec.c — what every command of pipecast-exec shares (exec.h): the rank and size, input errors
 * and fatal ones, option parsing, the memory a rank may use and the process's peak. */
#include "exec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

int pc_exec_rank(void) {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int pc_exec_size(void) {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

int pc_exec_input_error(const char *cmd, GError *error) {
  if (pc_exec_rank() == 0) fprintf(stderr, PC_EXEC_PROG " %s: %s\n", cmd, error->message);
  g_error_free(error);
  return PC_EXIT_INPUT;
}

void pc_exec_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fprintf(stderr, PC_EXEC_PROG ": rank %d: %s\n", pc_exec_rank(), msg);
  fflush(stderr);
  g_free(msg);
  MPI_Abort(MPI_COMM_WORLD, 1);
  abort();
}

bool pc_exec_parse(GOptionContext *ctx, const char *cmd, int *argc, char ***argv) {
  GError *error = NULL;
  if (g_option_context_parse(ctx, argc, argv, &error)) return true;
  if (pc_exec_rank() == 0) fprintf(stderr, PC_EXEC_PROG " %s: %s\n", cmd, error->message);
  g_error_free(error);
  return false;
}

size_t pc_exec_memory_per_rank(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  const char *local = g_getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  long ranks = local ? atol(local) : 1;
  if (pages <= 0 || page <= 0) return 0;
  return (size_t)pages * (size_t)page / (size_t)MAX(ranks, 1);
}

size_t pc_exec_peak_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) return 0;
  char line[256];
  size_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %zu kB", &kb) == 1) break;
  fclose(f);
  return kb * 1024;
}
