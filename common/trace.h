/* trace.h — Chrome trace JSON (the "Trace Event Format", opens in Perfetto and chrome://tracing)
 * for per-stage timelines, written alike by pipecast-exec (measured) and pipecast-sim
 * (predicted) so that the two can be laid side by side.
 *
 * Each op becomes one complete event ("ph":"X"): name = the op kind ("FWD", "BWD", "BWD_W",
 * "SEND", "RECV", "OPT"), cat "compute" or "comm", pid = tid = pid_base + stage, ts and dur in
 * microseconds (three decimals), args {"op": index in the stage's list, "mb", and for messages
 * "peer", "xfer", "grad"; "chunk" when not 0}. Each stage is named by a metadata event
 * ("<label> stage N") and sorted by pid. The file is one JSON object
 * {"traceEvents":[...],"displayTimeUnit":"ms"}. Output is locale-independent and a pure
 * function of the calls made, so equal timelines give byte-identical files.
 *
 * Two timelines (say measured and predicted) go into one file with two pc_trace_timeline calls
 * using different pid_base values. */
#ifndef PC_TRACE_H
#define PC_TRACE_H

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

#include "schedule.h"

/* An open trace being written. */
typedef struct pc_trace pc_trace;

/* Starts a trace on OUT (not closed by pc_trace_close; the caller keeps it). */
pc_trace *pc_trace_new(FILE *out);

/* Starts a trace in a new file at PATH, written as every output is (common/files.h). NULL and
 * an error when it cannot be created. */
pc_trace *pc_trace_open(const char *path, GError **error);

/* Names process PID "NAME" (metadata events process_name, thread_name, process_sort_index). */
void pc_trace_name(pc_trace *tr, int pid, const char *name);

/* One op of a stage: OP, its INDEX in the stage's list, START and END in seconds; written with
 * pid = tid = PID. */
void pc_trace_op(pc_trace *tr, int pid, int index, const pc_op *op, double start, double end);

/* Every op of SCHED with its span in TIMELINE (timeline[s] parallel to sched->stages[s].ops):
 * stage s gets pid pid_base + s, named "LABEL stage s". */
void pc_trace_timeline(pc_trace *tr, int pid_base, const char *label, const pc_schedule *sched,
                       const pc_span *const *timeline);

/* Ends the JSON, flushes, commits the file if pc_trace_open opened it, and frees TR. false with
 * PC_ERROR_WRITE when a write failed (a file of pc_trace_open is then left as it was). */
bool pc_trace_close(pc_trace *tr, GError **error);

/* One timeline to a new file: open, pc_trace_timeline(tr, 0, label, ...), close. */
bool pc_trace_write(const char *path, const char *label, const pc_schedule *sched,
                    const pc_span *const *timeline, GError **error);

#endif
