/* compare.c — `pipecast-sim compare MEASURED.json PREDICTED.json`: lays a measured timeline
 * (`pipecast-exec train --trace`) beside a predicted one (`pipecast-sim run --trace`), op by op.
 *
 * Both files are Chrome traces written by common/trace.c: complete events ("ph":"X") named by
 * op kind (FWD, BWD, BWD_W, SEND, RECV, OPT), one pid per stage, ts and dur in microseconds,
 * args {"op": index in the stage's list, "mb", and for messages "peer", "xfer"}. Ops are paired
 * by (stage, op index); stages are the distinct pids in ascending order. Two traces of different
 * schedules (stage counts, op counts or op kinds differ) are an input error. Prints, per stage
 * and op kind, the count and the measured and predicted mean durations with their ratio
 * (measured / predicted) and totals, the iteration times (the latest end of any op), and the
 * --top ops with the largest absolute error. --format csv gives the same as two CSV blocks
 * separated by two blank lines. A RECV's duration includes its wait for the message, as in both
 * writers. The JSON reader below is a small recursive-descent parser of the whole grammar
 * (objects, arrays, strings with escapes, numbers, true/false/null); it keeps only what the
 * comparison needs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "schedule.h"

/* ------------------------------------------------------------------------------------------ */
/* Reading a trace */

/* One op of a trace. */
typedef struct {
  int pid, index, kind, mb;
  double ts, dur; /* microseconds */
} trace_op;

/* A trace: its ops sorted by (pid, index), and the stages' ranges in it. */
typedef struct {
  GArray *ops;  /* trace_op */
  int nstages;
  int *first;   /* ops of stage s: [first[s], first[s + 1]) */
  double end;   /* latest ts + dur, microseconds */
} trace;

typedef struct {
  const char *path, *s, *p, *end;
  GError **error;
} json_in;

static bool fail(json_in *in, const char *what) {
  /* line and column of the current position */
  int line = 1, col = 1;
  for (const char *q = in->s; q < in->p && q < in->end; q++) {
    if (*q == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  g_set_error(in->error, PC_ERROR, PC_ERROR_FORMAT, "%s:%d:%d: not a Chrome trace: %s", in->path,
              line, col, what);
  return false;
}

static void skip_ws(json_in *in) {
  while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
    in->p++;
}

/* A string; its text (escapes decoded, \u kept only for ASCII) into out when not NULL. */
static bool read_string(json_in *in, GString *out) {
  if (in->p >= in->end || *in->p != '"') return fail(in, "expected a string");
  in->p++;
  if (out) g_string_truncate(out, 0);
  while (in->p < in->end && *in->p != '"') {
    char c = *in->p++;
    if ((unsigned char)c < 0x20) return fail(in, "control character in a string");
    if (c == '\\') {
      if (in->p >= in->end) break;
      char e = *in->p++;
      switch (e) {
      case '"': case '\\': case '/': break;
      case 'b': e = '\b'; break;
      case 'f': e = '\f'; break;
      case 'n': e = '\n'; break;
      case 'r': e = '\r'; break;
      case 't': e = '\t'; break;
      case 'u': {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
          if (in->p >= in->end || !g_ascii_isxdigit(*in->p)) return fail(in, "bad \\u escape");
          v = v * 16 + (unsigned)g_ascii_xdigit_value(*in->p++);
        }
        e = v < 0x80 ? (char)v : '?';
        break;
      }
      default:
        return fail(in, "bad escape in a string");
      }
      c = e;
    }
    if (out) g_string_append_c(out, c);
  }
  if (in->p >= in->end) return fail(in, "unterminated string");
  in->p++;
  return true;
}

static bool read_number(json_in *in, double *v) {
  const char *q = in->p;
  if (q < in->end && *q == '-') q++;
  if (q >= in->end || !g_ascii_isdigit(*q)) return fail(in, "expected a value");
  while (q < in->end && (g_ascii_isdigit(*q) || *q == '.' || *q == 'e' || *q == 'E' ||
                         *q == '+' || *q == '-'))
    q++;
  char buf[64];
  size_t n = (size_t)(q - in->p);
  if (n >= sizeof buf) return fail(in, "number too long");
  memcpy(buf, in->p, n);
  buf[n] = '\0';
  char *endp;
  double x = g_ascii_strtod(buf, &endp);
  if (*endp != '\0' || !isfinite(x)) return fail(in, "bad number");
  in->p = q;
  if (v) *v = x;
  return true;
}

static bool skip_value(json_in *in, int depth);

static bool literal(json_in *in, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0)
    return fail(in, "expected a value");
  in->p += n;
  return true;
}

/* Skips any value (depth-limited). */
/* The members of an object, in->p at its '{' (else `expected` is the error): for each, `member`
 * reads the value (in->p at it) by its key; NULL skips every value. `key` holds the key (NULL:
 * keys are not kept, only when `member` is NULL). */
typedef bool (*member_fn)(json_in *in, const char *key, void *ctx);

static bool read_object(json_in *in, GString *key, member_fn member, void *ctx, int depth,
                        const char *expected) {
  skip_ws(in);
  if (in->p >= in->end || *in->p != '{') return fail(in, expected);
  in->p++;
  skip_ws(in);
  if (in->p < in->end && *in->p == '}') {
    in->p++;
    return true;
  }
  for (;;) {
    skip_ws(in);
    if (!read_string(in, key)) return false;
    skip_ws(in);
    if (in->p >= in->end || *in->p != ':') return fail(in, "expected ':'");
    in->p++;
    skip_ws(in);
    if (!(member ? member(in, key->str, ctx) : skip_value(in, depth + 1))) return false;
    skip_ws(in);
    if (in->p < in->end && *in->p == ',') {
      in->p++;
      continue;
    }
    if (in->p < in->end && *in->p == '}') {
      in->p++;
      return true;
    }
    return fail(in, "expected ',' or '}'");
  }
}

/* The elements of an array, in->p at its '[': `element` reads each (NULL skips them); `expected`
 * is the error when an element is followed by neither ',' nor ']'. */
typedef bool (*element_fn)(json_in *in, void *ctx);

static bool read_array(json_in *in, element_fn element, void *ctx, int depth,
                       const char *expected) {
  in->p++;
  skip_ws(in);
  if (in->p < in->end && *in->p == ']') {
    in->p++;
    return true;
  }
  for (;;) {
    skip_ws(in);
    if (!(element ? element(in, ctx) : skip_value(in, depth + 1))) return false;
    skip_ws(in);
    if (in->p < in->end && *in->p == ',') {
      in->p++;
      continue;
    }
    if (in->p < in->end && *in->p == ']') {
      in->p++;
      return true;
    }
    return fail(in, expected);
  }
}

static bool skip_value(json_in *in, int depth) {
  if (depth > 64) return fail(in, "nested too deeply");
  skip_ws(in);
  if (in->p >= in->end) return fail(in, "unexpected end of file");
  char c = *in->p;
  if (c == '"') return read_string(in, NULL);
  if (c == 't') return literal(in, "true");
  if (c == 'f') return literal(in, "false");
  if (c == 'n') return literal(in, "null");
  if (c == '{') return read_object(in, NULL, NULL, NULL, depth, "expected '{'");
  if (c == '[') return read_array(in, NULL, NULL, depth, "expected ',' or ']'");
  return read_number(in, NULL);
}

/* Fields of one event that the comparison uses. */
typedef struct {
  GString *name, *ph, *key;
  double pid, ts, dur, op, mb;
  bool has_pid, has_ts, has_dur, has_op, has_mb;
} event;

/* A member of an event's "args": op and mb; the rest skipped. */
static bool args_member(json_in *in, const char *key, void *ctx) {
  event *ev = ctx;
  if (strcmp(key, "op") == 0) return (ev->has_op = read_number(in, &ev->op));
  if (strcmp(key, "mb") == 0) return (ev->has_mb = read_number(in, &ev->mb));
  return skip_value(in, 2);
}

static bool event_member(json_in *in, const char *key, void *ctx) {
  event *ev = ctx;
  if (strcmp(key, "name") == 0) return read_string(in, ev->name);
  if (strcmp(key, "ph") == 0) return read_string(in, ev->ph);
  if (strcmp(key, "pid") == 0) return (ev->has_pid = read_number(in, &ev->pid));
  if (strcmp(key, "ts") == 0) return (ev->has_ts = read_number(in, &ev->ts));
  if (strcmp(key, "dur") == 0) return (ev->has_dur = read_number(in, &ev->dur));
  if (strcmp(key, "args") == 0) /* an "args" that is not an object is skipped */
    return in->p < in->end && *in->p == '{'
               ? read_object(in, ev->key, args_member, ev, 1, "expected '{'")
               : skip_value(in, 1);
  return skip_value(in, 1);
}

static bool read_event(json_in *in, event *ev) {
  g_string_truncate(ev->name, 0);
  g_string_truncate(ev->ph, 0);
  ev->has_pid = ev->has_ts = ev->has_dur = ev->has_op = ev->has_mb = false;
  return read_object(in, ev->key, event_member, ev, 0, "expected an event object");
}

static int kind_from_name(const char *name) {
  for (int k = 0; k < PC_OP_KIND_COUNT; k++)
    if (strcmp(name, pc_op_kind_name((pc_op_kind)k)) == 0) return k;
  return -1;
}

/* Loading a trace: the op events of "traceEvents"; every other member skipped. */
typedef struct {
  trace *t;
  event ev;
  bool found; /* a "traceEvents" member */
} loader;

static bool trace_event(json_in *in, void *ctx) {
  loader *ld = ctx;
  const event *ev = &ld->ev;
  const char *at = in->p;
  if (!read_event(in, &ld->ev)) return false;
  int kind = strcmp(ev->ph->str, "X") == 0 ? kind_from_name(ev->name->str) : -1;
  if (kind < 0) return true;
  if (!ev->has_pid || !ev->has_ts || !ev->has_dur || !ev->has_op) {
    in->p = at;
    return fail(in, "an op event without pid, ts, dur or args.op");
  }
  trace_op op = {(int)ev->pid, (int)ev->op, kind, ev->has_mb ? (int)ev->mb : -1, ev->ts, ev->dur};
  g_array_append_val(ld->t->ops, op);
  return true;
}

static bool top_member(json_in *in, const char *key, void *ctx) {
  loader *ld = ctx;
  if (strcmp(key, "traceEvents") != 0) return skip_value(in, 1);
  ld->found = true;
  if (in->p >= in->end || *in->p != '[') return fail(in, "traceEvents is not an array");
  return read_array(in, trace_event, ld, 1, "expected ',' or ']' in traceEvents");
}


static int cmp_op(const void *a, const void *b) {
  const trace_op *x = a, *y = b;
  if (x->pid != y->pid) return (x->pid > y->pid) - (x->pid < y->pid);
  return (x->index > y->index) - (x->index < y->index);
}

static void trace_free(trace *t) {
  if (t->ops) g_array_free(t->ops, TRUE);
  g_free(t->first);
  *t = (trace){0};
}

/* Reads PATH into T: every complete event with an op kind's name becomes an op. */
static bool trace_load(const char *path, trace *t, GError **error) {
  char *text = NULL;
  gsize len = 0;
  GError *err = NULL;
  if (!g_file_get_contents(path, &text, &len, &err)) {
    g_set_error(error, PC_ERROR, PC_ERROR_IO, "%s", err->message);
    g_error_free(err);
    return false;
  }
  json_in in = {path, text, text, text + len, error};
  *t = (trace){.ops = g_array_new(FALSE, FALSE, sizeof(trace_op))};
  loader ld = {t, {.name = g_string_new(NULL), .ph = g_string_new(NULL), .key = g_string_new(NULL)},
               false};
  bool ok = false;
  if (!read_object(&in, ld.ev.key, top_member, &ld, 0,
                   "expected a JSON object {\"traceEvents\":[...]}"))
    goto out;
  skip_ws(&in);
  if (in.p != in.end) {
    fail(&in, "text after the JSON object");
    goto out;
  }
  if (!ld.found || t->ops->len == 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: no op events (FWD, BWD, SEND, RECV, OPT) in the trace", path);
    goto out;
  }
  g_array_sort(t->ops, cmp_op);
  int n = (int)t->ops->len;
  t->first = g_new0(int, (size_t)n + 1);
  for (int i = 0; i < n; i++) {
    const trace_op *o = &g_array_index(t->ops, trace_op, i);
    if (i == 0 || o->pid != g_array_index(t->ops, trace_op, i - 1).pid)
      t->first[t->nstages++] = i;
    else if (o->index == g_array_index(t->ops, trace_op, i - 1).index) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: op %d of pid %d appears twice", path,
                  o->index, o->pid);
      goto out;
    }
    t->end = MAX(t->end, o->ts + o->dur);
  }
  t->first[t->nstages] = n;
  ok = true;
out:
  g_string_free(ld.ev.key, TRUE);
  g_string_free(ld.ev.name, TRUE);
  g_string_free(ld.ev.ph, TRUE);
  g_free(text);
  if (!ok) trace_free(t);
  return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Comparing */

static bool same_schedule(const trace *m, const trace *p, const char *mpath, const char *ppath,
                          GError **error) {
  if (m->nstages != p->nstages) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "traces of different schedules: %s has %d stage%s, %s has %d", mpath,
                m->nstages, m->nstages == 1 ? "" : "s", ppath, p->nstages);
    return false;
  }
  for (int s = 0; s < m->nstages; s++) {
    int nm = m->first[s + 1] - m->first[s], np = p->first[s + 1] - p->first[s];
    if (nm != np) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "traces of different schedules: stage %d has %d ops in %s, %d in %s", s, nm,
                  mpath, np, ppath);
      return false;
    }
    for (int i = 0; i < nm; i++) {
      const trace_op *a = &g_array_index(m->ops, trace_op, m->first[s] + i);
      const trace_op *b = &g_array_index(p->ops, trace_op, p->first[s] + i);
      if (a->index != b->index || a->kind != b->kind || a->mb != b->mb) {
        g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                    "traces of different schedules: stage %d, op %d is %s(mb %d) in %s, "
                    "%s(mb %d) in %s", s, a->index, pc_op_kind_name((pc_op_kind)a->kind), a->mb,
                    mpath, pc_op_kind_name((pc_op_kind)b->kind), b->mb, ppath);
        return false;
      }
    }
  }
  return true;
}

typedef struct {
  int stage, index, kind, mb;
  double meas, pred; /* microseconds */
} pair;

static int cmp_err(const void *a, const void *b) {
  const pair *x = a, *y = b;
  double ex = fabs(x->meas - x->pred), ey = fabs(y->meas - y->pred);
  if (ex != ey) return ex < ey ? 1 : -1;
  if (x->stage != y->stage) return x->stage - y->stage;
  return x->index - y->index;
}

int pc_cmd_compare(int argc, char **argv) {
  char *format = NULL;
  int top = 10;
  GOptionEntry entries[] = {
    {"top", 'n', 0, G_OPTION_ARG_INT, &top, "Ops with the largest absolute error to list (10)", "N"},
    {"format", 'f', 0, G_OPTION_ARG_STRING, &format, "table (default) or csv", "FORMAT"},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx =
      g_option_context_new("MEASURED.json PREDICTED.json - compare two traces op by op");
  g_option_context_add_main_entries(ctx, entries, NULL);
  int status = PC_EXIT_INPUT;
  GError *error = NULL;
  trace m = {0}, p = {0};
  if (!pc_cli_parse(ctx, "compare", &argc, &argv)) goto out;
  if (argc != 3) {
    fprintf(stderr, PC_CLI_PROG " compare: expected MEASURED.json PREDICTED.json, got %d "
                    "argument%s\n", argc - 1, argc == 2 ? "" : "s");
    goto out;
  }
  bool csv = false;
  if (format && !(csv = strcmp(format, "csv") == 0) && strcmp(format, "table") != 0) {
    fprintf(stderr, PC_CLI_PROG " compare: --format '%s': expected table or csv\n", format);
    goto out;
  }
  if (top < 0) {
    fprintf(stderr, PC_CLI_PROG " compare: --top must be at least 0, got %d\n", top);
    goto out;
  }
  if (!trace_load(argv[1], &m, &error) || !trace_load(argv[2], &p, &error) ||
      !same_schedule(&m, &p, argv[1], argv[2], &error)) {
    status = pc_cli_fail("compare", error);
    goto out;
  }
  int n = (int)m.ops->len, P = m.nstages;
  pair *pairs = g_new(pair, (size_t)n);
  for (int i = 0; i < n; i++) {
    const trace_op *a = &g_array_index(m.ops, trace_op, i), *b = &g_array_index(p.ops, trace_op, i);
    int s = 0;
    while (m.first[s + 1] <= i) s++;
    pairs[i] = (pair){s, a->index, a->kind, a->mb, a->dur, b->dur};
  }
  /* per stage and kind: count, sums */
  if (csv) {
    printf("stage,op,count,measured_mean_s,predicted_mean_s,ratio,measured_total_s,"
           "predicted_total_s\n");
  } else {
    printf("measured:  %s (%d stage%s, %d ops, iteration %.6f s)\n", argv[1], P,
           P == 1 ? "" : "s", n, m.end * 1e-6);
    printf("predicted: %s (iteration %.6f s, %+.1f%%)\n\n", argv[2], p.end * 1e-6,
           m.end > 0 ? 100.0 * (p.end - m.end) / m.end : 0.0);
    printf("%5s  %-5s  %5s  %14s  %14s  %7s  %14s  %14s\n", "stage", "op", "count",
           "measured_mean", "predicted_mean", "ratio", "measured_total", "predicted_total");
  }
  for (int s = 0; s < P; s++)
    for (int k = 0; k < PC_OP_KIND_COUNT; k++) {
      int count = 0;
      double sm = 0, sp = 0;
      for (int i = m.first[s]; i < m.first[s + 1]; i++)
        if (pairs[i].kind == k) {
          count++;
          sm += pairs[i].meas;
          sp += pairs[i].pred;
        }
      if (count == 0) continue;
      const char *name = pc_op_kind_name((pc_op_kind)k);
      double ratio = sp > 0 ? sm / sp : NAN;
      if (csv) {
        printf("%d,%s,%d,%.9g,%.9g,", s, name, count, sm / count * 1e-6, sp / count * 1e-6);
        if (isfinite(ratio)) printf("%.6g", ratio);
        printf(",%.9g,%.9g\n", sm * 1e-6, sp * 1e-6);
      } else {
        char r[32];
        if (isfinite(ratio)) snprintf(r, sizeof r, "%.3f", ratio);
        else snprintf(r, sizeof r, "n/a");
        printf("%5d  %-5s  %5d  %12.1fus  %12.1fus  %7s  %12.6f s  %12.6f s\n", s, name, count,
               sm / count, sp / count, r, sm * 1e-6, sp * 1e-6);
      }
    }
  qsort(pairs, (size_t)n, sizeof(pair), cmp_err);
  int shown = MIN(top, n);
  if (csv) {
    printf("\n\nstage,index,op,mb,measured_s,predicted_s,error_s\n");
  } else {
    printf("\nratio = measured / predicted mean. The %d op%s with the largest absolute error "
           "(predicted - measured):\n", shown, shown == 1 ? "" : "s");
    printf("%5s  %5s  %-5s  %4s  %14s  %14s  %14s\n", "stage", "index", "op", "mb", "measured",
           "predicted", "error");
  }
  for (int i = 0; i < shown; i++) {
    const pair *q = &pairs[i];
    const char *name = pc_op_kind_name((pc_op_kind)q->kind);
    if (csv)
      printf("%d,%d,%s,%d,%.9g,%.9g,%.9g\n", q->stage, q->index, name, q->mb, q->meas * 1e-6,
             q->pred * 1e-6, (q->pred - q->meas) * 1e-6);
    else
      printf("%5d  %5d  %-5s  %4d  %12.1fus  %12.1fus  %+12.1fus\n", q->stage, q->index, name,
             q->mb, q->meas, q->pred, q->pred - q->meas);
  }
  g_free(pairs);
  status = 0;
out:
  trace_free(&m);
  trace_free(&p);
  g_option_context_free(ctx);
  g_free(format);
  return status;
}
