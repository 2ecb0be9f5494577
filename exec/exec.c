/* exec.c — what every command of pipecast-exec shares (exec.h): the rank and size, input errors
 * and fatal ones, option parsing, the memory a rank may use and the process's peak. */
#include "exec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "job.h"

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

/* "pipecast-exec CMD: MESSAGE" on stderr. */
static void print_error(const char *cmd, const char *message) {
  char *prefix = g_strdup_printf(PC_EXEC_PROG " %s", cmd);
  pc_error_print(prefix, message);
  g_free(prefix);
}

int pc_exec_input_error(const char *cmd, GError *error) {
  if (pc_exec_rank() == 0) print_error(cmd, error->message);
  int status = pc_error_status(error);
  g_error_free(error);
  return status;
}

void pc_exec_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  char *prefix = g_strdup_printf(PC_EXEC_PROG ": rank %d", pc_exec_rank());
  pc_error_print(prefix, msg);
  g_free(prefix);
  fflush(stderr);
  g_free(msg);
  MPI_Abort(MPI_COMM_WORLD, 1);
  abort();
}

FILE *pc_exec_output_open(const char *cmd, const char *flag, const char *path,
                          pc_output **out) {
  *out = NULL;
  if (path == NULL) return stdout;
  GError *error = NULL;
  if ((*out = pc_output_open(flag, path, &error)) != NULL) return pc_output_stream(*out);
  print_error(cmd, error->message);
  g_error_free(error);
  return NULL;
}

bool pc_exec_output_close(const char *cmd, pc_output *out) {
  if (out == NULL) return fflush(stdout) == 0;
  GError *error = NULL;
  if (pc_output_commit(out, &error)) return true;
  print_error(cmd, error->message);
  g_error_free(error);
  return false;
}

bool pc_exec_parse(GOptionContext *ctx, const char *cmd, int *argc, char ***argv) {
  GError *error = NULL;
  pc_job_join_sets(argc, argv);
  if (g_option_context_parse(ctx, argc, argv, &error)) return true;
  if (pc_exec_rank() == 0) print_error(cmd, error->message);
  g_error_free(error);
  return false;
}

size_t pc_exec_memory_per_rank(void) {
  const char *local = g_getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  long ranks = local ? atol(local) : 1;
  return pc_job_machine_memory() / (size_t)MAX(ranks, 1);
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
