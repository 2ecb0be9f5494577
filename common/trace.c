/* trace.c — Chrome trace JSON writer for per-stage op timelines (see trace.h). */
#include "trace.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "files.h"

struct pc_trace {
  FILE *out;
  pc_output *file; /* opened by pc_trace_open; NULL for a caller's stream */
  bool first;      /* no event written yet (no comma needed) */
};

static void begin(pc_trace *tr) {
  fputs("{\"traceEvents\":[", tr->out);
  tr->first = true;
}

pc_trace *pc_trace_new(FILE *out) {
  PC_ASSERT(out != NULL);
  pc_trace *tr = g_new0(pc_trace, 1);
  tr->out = out;
  begin(tr);
  return tr;
}

pc_trace *pc_trace_open(const char *path, GError **error) {
  pc_output *file = pc_output_open(NULL, path, error);
  if (file == NULL) return NULL;
  pc_trace *tr = pc_trace_new(pc_output_stream(file));
  tr->file = file;
  return tr;
}

/* Starts a new array element. */
static void sep(pc_trace *tr) {
  fputs(tr->first ? "\n" : ",\n", tr->out);
  tr->first = false;
}

static void put_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

void pc_trace_name(pc_trace *tr, int pid, const char *name) {
  sep(tr);
  fprintf(tr->out, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
          pid, pid);
  put_json_string(tr->out, name);
  fputs("}},\n", tr->out);
  fprintf(tr->out, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
          pid, pid);
  put_json_string(tr->out, "ops");
  fputs("}},\n", tr->out);
  fprintf(tr->out,
          "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
          "\"args\":{\"sort_index\":%d}}",
          pid, pid, pid);
}

void pc_trace_op(pc_trace *tr, int pid, int index, const pc_op *op, double start, double end) {
  char ts[G_ASCII_DTOSTR_BUF_SIZE], dur[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(ts, sizeof ts, "%.3f", start * 1e6);
  g_ascii_formatd(dur, sizeof dur, "%.3f", (end - start) * 1e6);
  bool comm = op->kind == PC_OP_SEND || op->kind == PC_OP_RECV;
  sep(tr);
  fprintf(tr->out,
          "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%s,"
          "\"dur\":%s,\"args\":{\"op\":%d,\"mb\":%d",
          pc_op_kind_name((pc_op_kind)op->kind), comm ? "comm" : "compute", pid, pid, ts, dur,
          index, (int)op->mb);
  if (comm)
    fprintf(tr->out, ",\"peer\":%d,\"xfer\":%d,\"grad\":%s", (int)op->peer, (int)op->xfer,
            op->grad ? "true" : "false");
  if (op->chunk != 0)
    fprintf(tr->out, ",\"chunk\":%d", (int)op->chunk);
  fputs("}}", tr->out);
}

void pc_trace_timeline(pc_trace *tr, int pid_base, const char *label, const pc_schedule *sched,
                       const pc_span *const *timeline) {
  for (int s = 0; s < sched->nstages; s++) {
    char *name = g_strdup_printf("%s stage %d", label ? label : "pipecast", s);
    pc_trace_name(tr, pid_base + s, name);
    g_free(name);
  }
  for (int s = 0; s < sched->nstages; s++)
    for (int i = 0; i < sched->stages[s].nops; i++)
      pc_trace_op(tr, pid_base + s, i, &sched->stages[s].ops[i], timeline[s][i].start,
                  timeline[s][i].end);
}

bool pc_trace_close(pc_trace *tr, GError **error) {
  fputs("\n],\"displayTimeUnit\":\"ms\"}\n", tr->out);
  bool ok;
  if (tr->file) {
    ok = pc_output_commit(tr->file, error);
  } else {
    ok = fflush(tr->out) == 0 && !ferror(tr->out);
    if (!ok)
      g_set_error(error, PC_ERROR, PC_ERROR_WRITE, "writing the trace: %s", g_strerror(errno));
  }
  g_free(tr);
  return ok;
}

bool pc_trace_write(const char *path, const char *label, const pc_schedule *sched,
                    const pc_span *const *timeline, GError **error) {
  pc_trace *tr = pc_trace_open(path, error);
  if (tr == NULL)
    return false;
  pc_trace_timeline(tr, 0, label, sched, timeline);
  return pc_trace_close(tr, error);
}
