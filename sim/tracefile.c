/* tracefile.c — a measured or predicted Chrome trace read back into ops (see tracefile.h). */
#include "tracefile.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "files.h"

/* ------------------------------------------------------------------------------------------ */
/* JSON */

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
  pc_trace_file *t;
  event ev;
  bool found; /* a "traceEvents" member */
} loader;

/* V is a whole number from LO to INT_MAX (so that it converts to int exactly). */
static bool whole(double v, int lo) {
  return v >= lo && v <= INT_MAX && v == floor(v);
}

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
  if (!whole(ev->pid, 0) || !whole(ev->op, 0) || (ev->has_mb && !whole(ev->mb, -1))) {
    in->p = at;
    return fail(in, "an op event whose pid, args.op or args.mb is not a whole number in range");
  }
  if (ev->dur < 0) {
    in->p = at;
    return fail(in, "an op event with a negative dur");
  }
  if (!isfinite(ev->ts + ev->dur)) {
    in->p = at;
    return fail(in, "an op event that ends past the largest number (ts + dur)");
  }
  pc_trace_file_op op = {(int)ev->pid, (int)ev->op, kind, ev->has_mb ? (int)ev->mb : -1, ev->ts,
                         ev->dur};
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
  const pc_trace_file_op *x = a, *y = b;
  if (x->pid != y->pid) return (x->pid > y->pid) - (x->pid < y->pid);
  return (x->index > y->index) - (x->index < y->index);
}

void pc_trace_file_clear(pc_trace_file *t) {
  if (t->ops) g_array_free(t->ops, TRUE);
  g_free(t->first);
  *t = (pc_trace_file){0};
}

bool pc_trace_file_load(const char *path, pc_trace_file *t, GError **error) {
  char *text = NULL;
  size_t len = 0;
  *t = (pc_trace_file){0};
  if (!pc_file_read(path, PC_MAX_TRACE_BYTES, &text, &len, error)) return false;
  bool ok = pc_trace_file_parse(text, len, path, t, error);
  g_free(text);
  return ok;
}

bool pc_trace_file_parse(const char *text, size_t len, const char *path, pc_trace_file *t,
                         GError **error) {
  json_in in = {path, text, text, text + len, error};
  *t = (pc_trace_file){.ops = g_array_new(FALSE, FALSE, sizeof(pc_trace_file_op))};
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
    const pc_trace_file_op *o = &g_array_index(t->ops, pc_trace_file_op, i);
    if (i == 0 || o->pid != g_array_index(t->ops, pc_trace_file_op, i - 1).pid)
      t->first[t->nstages++] = i;
    else if (o->index == g_array_index(t->ops, pc_trace_file_op, i - 1).index) {
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
  if (!ok) pc_trace_file_clear(t);
  return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Against a schedule */

bool pc_trace_file_matches(const pc_trace_file *t, const pc_schedule *sched, const char *path,
                           GError **error) {
  if (t->nstages != sched->nstages) {
    g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                "%s: not a trace of this schedule: %d stage%s, the schedule %d", path,
                t->nstages, t->nstages == 1 ? "" : "s", sched->nstages);
    return false;
  }
  for (int s = 0; s < t->nstages; s++) {
    const pc_stage_ops *st = &sched->stages[s];
    int n = t->first[s + 1] - t->first[s];
    int pid = g_array_index(t->ops, pc_trace_file_op, t->first[s]).pid;
    if (pid != s) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s: not a trace of this schedule: its stage %d has pid %d (stages are pids 0 "
                  "to %d)", path, s, pid, sched->nstages - 1);
      return false;
    }
    if (n != st->nops) {
      g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                  "%s: not a trace of this schedule: stage %d has %d ops, the schedule %d", path,
                  s, n, st->nops);
      return false;
    }
    for (int i = 0; i < n; i++) {
      const pc_trace_file_op *o = &g_array_index(t->ops, pc_trace_file_op, t->first[s] + i);
      const pc_op *op = &st->ops[i];
      int mb = op->kind == PC_OP_OPT ? -1 : op->mb;
      if (o->index != i || o->kind != op->kind || (o->mb != -1 && mb != -1 && o->mb != mb)) {
        char buf[96], mb_text[32] = "";
        if (o->mb >= 0) snprintf(mb_text, sizeof mb_text, " mb %d", o->mb);
        g_set_error(error, PC_ERROR, PC_ERROR_FORMAT,
                    "%s: not a trace of this schedule: stage %d, op %d is %s%s in the trace, %s "
                    "in the schedule", path, s, o->index, pc_op_kind_name((pc_op_kind)o->kind),
                    mb_text, pc_op_format(op, buf, sizeof buf));
        return false;
      }
    }
  }
  return true;
}
