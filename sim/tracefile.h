/* tracefile.h — reading the Chrome traces that common/trace.c writes (`pipecast-exec train
 * --trace`, `pipecast-sim run --trace`) back into ops: what `pipecast-sim compare` lays side by
 * side and `pipecast-sim run --durations` replays.
 *
 * A trace's ops are its complete events ("ph":"X") named by an op kind (FWD, BWD, BWD_W, SEND,
 * RECV, OPT), with pid (the stage), ts and dur (microseconds) and args.op (the index in the
 * stage's op list; args.mb when present); every other event and member is skipped. The JSON
 * reader is a small recursive-descent parser of the whole grammar (objects, arrays, strings with
 * escapes, numbers, true/false/null), nested at most 64 deep. Errors: PC_ERROR_IO when the file
 * cannot be read, PC_ERROR_FORMAT with "FILE:LINE:COLUMN: not a Chrome trace: what" for bad JSON,
 * an op event without pid, ts, dur or args.op, a pid, args.op or args.mb that is not a whole
 * number (pid and op from 0, mb from -1, up to INT_MAX), a negative dur or an infinite ts + dur;
 * "FILE: op I of pid P appears twice"; and a trace with no op events. */
#ifndef PC_TRACEFILE_H
#define PC_TRACEFILE_H

#include <glib.h>
#include <stdbool.h>

#include "schedule.h"

/* One op of a trace. */
typedef struct {
  int pid, index, kind, mb; /* kind: a pc_op_kind; mb -1 when the event has none */
  double ts, dur;           /* microseconds */
} pc_trace_file_op;

/* A trace: its ops sorted by (pid, index), and the stages' ranges in it. */
typedef struct {
  GArray *ops;  /* pc_trace_file_op */
  int nstages;  /* distinct pids, in ascending order */
  int *first;   /* ops of stage s: [first[s], first[s + 1]) */
  double end;   /* latest ts + dur, microseconds: the iteration's time */
} pc_trace_file;

/* Reads PATH into T, which need not be initialised (it is overwritten, not freed: clear a loaded
 * T before reusing it); on failure T is left empty. */
bool pc_trace_file_load(const char *path, pc_trace_file *t, GError **error);

/* The same from LEN bytes of TEXT (need not end in NUL); PATH is used in messages. */
bool pc_trace_file_parse(const char *text, size_t len, const char *path, pc_trace_file *t,
                         GError **error);

void pc_trace_file_clear(pc_trace_file *t);

/* True when T holds exactly the op lists of SCHED: as many stages, stage s with pid s, and in
 * each stage the same ops (index, kind, microbatch) in order; else PC_ERROR_FORMAT naming PATH
 * and the first difference ("FILE: not a trace of this schedule: stage 1 has 40 ops, the
 * schedule 42"). */
bool pc_trace_file_matches(const pc_trace_file *t, const pc_schedule *sched, const char *path,
                           GError **error);

#endif
