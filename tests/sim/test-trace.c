/* test-trace.c — Chrome trace JSON: the output parses as JSON (a small strict parser here, as
 * GLib has none), has one complete event per op with the documented fields, is identical for
 * identical timelines, and I/O errors are reported. */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "sim-test-util.h"
#include "trace.h"

/* ------------------------------------------------------------------------------------------ */
/* A strict JSON recogniser (RFC 8259 grammar, no semantic checks). */

typedef struct {
  const char *p;
  int nobjects;
} json;

static void ws(json *j) {
  while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')
    j->p++;
}

static bool value(json *j, int depth);

static bool string(json *j) {
  if (*j->p != '"')
    return false;
  j->p++;
  while (*j->p != '"') {
    unsigned char c = (unsigned char)*j->p;
    if (c == 0 || c < 0x20)
      return false;
    if (c == '\\') {
      j->p++;
      if (*j->p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (!g_ascii_isxdigit(j->p[i]))
            return false;
        j->p += 4;
      } else if (!strchr("\"\\/bfnrt", *j->p) || *j->p == 0) {
        return false;
      }
    }
    j->p++;
  }
  j->p++;
  return true;
}

static bool number(json *j) {
  const char *p = j->p;
  if (*p == '-')
    p++;
  if (*p == '0')
    p++;
  else if (*p >= '1' && *p <= '9')
    while (g_ascii_isdigit(*p))
      p++;
  else
    return false;
  if (*p == '.') {
    p++;
    if (!g_ascii_isdigit(*p))
      return false;
    while (g_ascii_isdigit(*p))
      p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    if (!g_ascii_isdigit(*p))
      return false;
    while (g_ascii_isdigit(*p))
      p++;
  }
  j->p = p;
  return true;
}

static bool literal(json *j, const char *word) {
  size_t n = strlen(word);
  if (strncmp(j->p, word, n) != 0)
    return false;
  j->p += n;
  return true;
}

static bool value(json *j, int depth) {
  if (depth > 64)
    return false;
  ws(j);
  switch (*j->p) {
  case '{':
    j->p++;
    j->nobjects++;
    ws(j);
    if (*j->p == '}') {
      j->p++;
      return true;
    }
    for (;;) {
      ws(j);
      if (!string(j))
        return false;
      ws(j);
      if (*j->p++ != ':')
        return false;
      if (!value(j, depth + 1))
        return false;
      ws(j);
      if (*j->p == '}') {
        j->p++;
        return true;
      }
      if (*j->p++ != ',')
        return false;
    }
  case '[':
    j->p++;
    ws(j);
    if (*j->p == ']') {
      j->p++;
      return true;
    }
    for (;;) {
      if (!value(j, depth + 1))
        return false;
      ws(j);
      if (*j->p == ']') {
        j->p++;
        return true;
      }
      if (*j->p++ != ',')
        return false;
    }
  case '"': return string(j);
  case 't': return literal(j, "true");
  case 'f': return literal(j, "false");
  case 'n': return literal(j, "null");
  default: return number(j);
  }
}

/* true if TEXT is exactly one JSON value (with surrounding whitespace); counts objects. */
static bool json_valid(const char *text, int *nobjects) {
  json j = {.p = text};
  if (!value(&j, 0))
    return false;
  ws(&j);
  *nobjects = j.nobjects;
  return *j.p == 0;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* ------------------------------------------------------------------------------------------ */

static void test_json_checker(void) {
  int n;
  g_assert_true(json_valid("{\"a\":[1,2.5,-3e2,true,null,\"x\\\"y\"],\"b\":{}}", &n));
  g_assert_cmpint(n, ==, 2);
  g_assert_false(json_valid("{\"a\":[1,2,]}", &n));
  g_assert_false(json_valid("{\"a\":1,}", &n));
  g_assert_false(json_valid("{\"a\":01}", &n));
  g_assert_false(json_valid("{\"a\":1}}", &n));
  g_assert_false(json_valid("{\"a\":[1}", &n));
  g_assert_false(json_valid("{\"a\":\"x\ny\"}", &n));
}

/* Writes the simulated 1F1B timeline of 3 stages x 4 microbatches to memory. */
static char *trace_text(const pc_schedule *s, size_t *len) {
  pc_sim_uniform u = {.fwd = 1e-3, .bwd = 2e-3, .message = 1e-4, .send_overhead = 1e-5,
                      .recv_overhead = 2e-5};
  pc_sim_costs costs;
  pc_sim_costs_uniform(&costs, &u);
  pc_engine *e = pc_engine_new();
  GError *err = NULL;
  const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  g_assert_nonnull(f);
  pc_trace *tr = pc_trace_new(f);
  pc_trace_timeline(tr, 0, "sim \"predicted\"", s, res->timeline);
  g_assert_true(pc_trace_close(tr, &err));
  g_assert_no_error(err);
  fclose(f);
  pc_engine_free(e);
  return buf;
}

static void test_trace_json(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_1F1B, 3, 4);
  size_t len;
  char *text = trace_text(s, &len);
  g_assert_cmpuint(strlen(text), ==, len);
  int nobj = 0;
  g_assert_true(json_valid(text, &nobj));
  int nops = (int)pc_schedule_total_ops(s);
  int nmeta = 3 * s->nstages;
  /* top object + per event: the event and its args */
  g_assert_cmpint(nobj, ==, 1 + 2 * (nops + nmeta));
  g_assert_cmpint(count(text, "\"ph\":\"X\""), ==, nops);
  g_assert_cmpint(count(text, "\"ph\":\"M\""), ==, nmeta);
  g_assert_true(g_str_has_prefix(text, "{\"traceEvents\":["));
  g_assert_true(g_str_has_suffix(text, "],\"displayTimeUnit\":\"ms\"}\n"));
  /* op names and per-kind counts */
  int nfwd = 3 * 4, nmsg = 2 * 2 * 4; /* 2 transfers, both directions, 4 microbatches */
  g_assert_cmpint(count(text, "{\"name\":\"FWD\",\"cat\":\"compute\",\"ph\":\"X\""), ==, nfwd);
  g_assert_cmpint(count(text, "{\"name\":\"BWD\","), ==, nfwd);
  g_assert_cmpint(count(text, "{\"name\":\"SEND\",\"cat\":\"comm\""), ==, nmsg);
  g_assert_cmpint(count(text, "{\"name\":\"RECV\","), ==, nmsg);
  g_assert_cmpint(count(text, "{\"name\":\"OPT\","), ==, 3);
  /* the first op, exactly: FWD of mb 0 on stage 0 from 0 for 1 ms */
  g_assert_nonnull(strstr(text, "{\"name\":\"FWD\",\"cat\":\"compute\",\"ph\":\"X\",\"pid\":0,"
                                "\"tid\":0,\"ts\":0.000,\"dur\":1000.000,"
                                "\"args\":{\"op\":0,\"mb\":0}}"));
  /* a message with its peer and transfer: stage 0 sends mb 0 at 1 ms for 10 us */
  g_assert_nonnull(strstr(text, "{\"name\":\"SEND\",\"cat\":\"comm\",\"ph\":\"X\",\"pid\":0,"
                                "\"tid\":0,\"ts\":1000.000,\"dur\":10.000,\"args\":{\"op\":1,"
                                "\"mb\":0,\"peer\":1,\"xfer\":0,\"grad\":false}}"));
  /* the label is escaped */
  g_assert_nonnull(strstr(text, "\"args\":{\"name\":\"sim \\\"predicted\\\" stage 2\"}"));
  /* the same timeline gives the same bytes */
  size_t len2;
  char *again = trace_text(s, &len2);
  g_assert_cmpuint(len, ==, len2);
  g_assert_true(memcmp(text, again, len) == 0);
  free(again);
  free(text);
  pc_schedule_free(s);
}

static void test_trace_file(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 2);
  pc_span *spans[2];
  for (int r = 0; r < 2; r++) {
    spans[r] = g_new(pc_span, s->stages[r].nops);
    for (int i = 0; i < s->stages[r].nops; i++)
      spans[r][i] = (pc_span){i * 0.5, i * 0.5 + 0.25};
  }
  GError *err = NULL;
  char *dir = g_dir_make_tmp("pc-trace-XXXXXX", &err);
  g_assert_no_error(err);
  char *path = g_build_filename(dir, "t.json", NULL);
  g_assert_true(pc_trace_write(path, "exec", s, (const pc_span *const *)spans, &err));
  g_assert_no_error(err);
  char *text;
  g_assert_true(g_file_get_contents(path, &text, NULL, &err));
  int nobj;
  g_assert_true(json_valid(text, &nobj));
  g_assert_cmpint(count(text, "\"ph\":\"X\""), ==, (int)pc_schedule_total_ops(s));
  g_assert_nonnull(strstr(text, "\"pid\":1,\"tid\":1,\"ts\":500000.000,\"dur\":250000.000"));
  g_free(text);
  g_remove(path);
  g_rmdir(dir);
  /* a path in a missing folder */
  char *bad = g_build_filename(dir, "missing", "t.json", NULL);
  g_assert_false(pc_trace_write(bad, "exec", s, (const pc_span *const *)spans, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  g_free(bad);
  g_free(path);
  g_free(dir);
  for (int r = 0; r < 2; r++)
    g_free(spans[r]);
  pc_schedule_free(s);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/trace/json-checker", test_json_checker);
  g_test_add_func("/trace/json", test_trace_json);
  g_test_add_func("/trace/file", test_trace_file);
  return g_test_run();
}
