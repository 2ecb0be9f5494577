/* test-schedule.c — schedule generation (GPipe, 1F1B, skip transfers), editing and validation
 * (unmatched messages, FIFO order, deadlock, compute-op rules). */
#include <string.h>

#include <math.h>
#include <stdlib.h>

#include "sim-test-util.h"


/* ------------------------------------------------------------------------------------------ */

static void test_names(void) {
  g_assert_cmpint(pc_schedule_kind_from_name("gpipe"), ==, PC_SCHEDULE_GPIPE);
  g_assert_cmpint(pc_schedule_kind_from_name("GPipe"), ==, PC_SCHEDULE_GPIPE);
  g_assert_cmpint(pc_schedule_kind_from_name("1f1b"), ==, PC_SCHEDULE_1F1B);
  g_assert_cmpint(pc_schedule_kind_from_name("2f2b"), ==, -1);
  g_assert_cmpint(pc_schedule_kind_from_name(NULL), ==, -1);
  for (int k = 0; k < PC_SCHEDULE_KIND_COUNT; k++)
    g_assert_cmpint(pc_schedule_kind_from_name(pc_schedule_kind_name(k)), ==, k);
  g_assert_cmpstr(pc_schedule_kind_name(PC_SCHEDULE_KIND_COUNT), ==, "custom");
  g_assert_cmpstr(pc_op_kind_name(PC_OP_BWD_W), ==, "BWD_W");
  g_assert_cmpstr(pc_op_kind_name(PC_OP_RECV), ==, "RECV");

  char buf[96];
  pc_op recv = {.kind = PC_OP_RECV, .mb = 3, .peer = 0, .xfer = 0, .grad = false};
  g_assert_cmpstr(pc_op_format(&recv, buf, sizeof buf), ==, "RECV act mb 3 from stage 0");
  pc_op send = {.kind = PC_OP_SEND, .mb = 2, .peer = 1, .xfer = 0, .grad = true};
  g_assert_cmpstr(pc_op_format(&send, buf, sizeof buf), ==, "SEND grad mb 2 to stage 1");
  pc_op fwd = {.kind = PC_OP_FWD, .mb = 5, .chunk = 1};
  g_assert_cmpstr(pc_op_format(&fwd, buf, sizeof buf), ==, "FWD mb 5 chunk 1");
  pc_op opt = {.kind = PC_OP_OPT, .mb = -1};
  g_assert_cmpstr(pc_op_format(&opt, buf, sizeof buf), ==, "OPT");
  g_assert_cmpint(sizeof(pc_op), ==, 16);
}

/* Compact text of a stage's list: "R0 F0 S0 ..." (r/s for gradients). */
static char *stage_string(const pc_schedule *s, int stage) {
  GString *str = g_string_new(NULL);
  for (int i = 0; i < s->stages[stage].nops; i++) {
    const pc_op *op = &s->stages[stage].ops[i];
    char c = "FBWSRO"[op->kind];
    if (op->grad)
      c = (char)(c == 'S' ? 's' : 'r');
    if (op->kind == PC_OP_OPT)
      g_string_append_printf(str, "%sO", i ? " " : "");
    else
      g_string_append_printf(str, "%s%c%d", i ? " " : "", c, op->mb);
  }
  return g_string_free(str, FALSE);
}

static void assert_stage(const pc_schedule *s, int stage, const char *expect) {
  char *got = stage_string(s, stage);
  g_assert_cmpstr(got, ==, expect);
  g_free(got);
}

/* A chain of V virtual stages scheduled as KIND on P ranks of V / P chunks. */
static pc_schedule *chunk_schedule(pc_schedule_kind kind, int P, int M, int C) {
  int nx;
  pc_xfer *x = test_chain(P * C, &nx);
  GError *err = NULL;
  pc_schedule *s = pc_schedule_new_chunks(kind, P, M, C, NULL, x, nx, &err);
  g_assert_no_error(err);
  g_free(x);
  return s;
}

/* Compute ops only, with their chunks: "F0.1" is the forward of mb 0, chunk 1. */
static char *compute_string(const pc_schedule *s, int stage) {
  GString *str = g_string_new(NULL);
  for (int i = 0; i < s->stages[stage].nops; i++) {
    const pc_op *op = &s->stages[stage].ops[i];
    if (op->kind == PC_OP_SEND || op->kind == PC_OP_RECV || op->kind == PC_OP_OPT) continue;
    g_string_append_printf(str, "%s%c%d", str->len ? " " : "", "FBW"[op->kind], op->mb);
    if (s->nchunks > 1) g_string_append_printf(str, ".%d", op->chunk);
  }
  return g_string_free(str, FALSE);
}

static void assert_compute(const pc_schedule *s, int stage, const char *expect) {
  char *got = compute_string(s, stage);
  if (g_test_verbose()) g_test_message("stage %d: %s", stage, got);
  g_assert_cmpstr(got, ==, expect);
  g_free(got);
}

/* Megatron-LM's order: groups of P microbatches chunk by chunk; rank 1 of 2 warms up with
 * (2 - 1 - 1) 2 + (2 - 1) 2 = 2 forwards, rank 0 with 4. */
static void test_interleaved_ops(void) {
  pc_schedule *s = chunk_schedule(PC_SCHEDULE_INTERLEAVED, 2, 4, 2);
  g_assert_cmpint(s->nchunks, ==, 2);
  g_assert_false(s->split_backward);
  assert_compute(s, 0, "F0.0 F1.0 F0.1 F1.1 F2.0 B0.1 F3.0 B1.1 F2.1 B0.0 F3.1 B1.0 B2.1 B3.1 "
                       "B2.0 B3.0");
  assert_compute(s, 1, "F0.0 F1.0 F0.1 B0.1 F1.1 B1.1 F2.0 B0.0 F3.0 B1.0 F2.1 B2.1 F3.1 B3.1 "
                       "B2.0 B3.0");
  /* rank 1's chunk 0 (virtual stage 1) sends to rank 0's chunk 1 (virtual stage 2) */
  int i = test_find(s, 1, PC_OP_SEND, 0, false, 1);
  g_assert_cmpint(s->stages[1].ops[i].peer, ==, 0);
  g_assert_cmpint(s->stages[1].ops[i].chunk, ==, 0);
  GError *err = NULL;
  g_assert_true(pc_schedule_validate(s, &err));
  g_assert_no_error(err);
  pc_schedule_free(s);
}

/* ZB-H1 on 3 ranks: each BWD sends its gradient back before the weight gradient runs; the
 * last rank defers its weight gradients while it may hold 1F1B's first-rank peak (3). */
static void test_zbh1_ops(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_ZBH1, 3, 4);
  g_assert_true(s->split_backward);
  assert_compute(s, 0, "F0 F1 F2 B0 W0 B1 F3 B2 W1 W2 B3 W3");
  assert_compute(s, 1, "F0 F1 F2 B0 W0 B1 W1 B2 F3 W2 B3 W3");
  assert_compute(s, 2, "F0 B0 F1 B1 F2 B2 W0 W1 F3 B3 W2 W3");
  for (int r = 0; r < 3; r++) g_assert_cmpint(s->stages[r].peak_inflight, ==, 3);
  GError *err = NULL;
  g_assert_true(pc_schedule_validate(s, &err));
  g_assert_no_error(err);
  pc_schedule_free(s);
}

/* ZB-V on 2 ranks: rank 0 holds virtual stages 0 and 3, rank 1 stages 1 and 2. */
static void test_zbv_ops(void) {
  pc_schedule *s = chunk_schedule(PC_SCHEDULE_ZBV, 2, 4, 2);
  g_assert_true(s->vshape);
  g_assert_cmpint(pc_schedule_rank_of(s, 3), ==, 0);
  g_assert_cmpint(pc_schedule_chunk_of(s, 3), ==, 1);
  g_assert_cmpint(pc_schedule_virtual(s, 1, 1), ==, 2);
  assert_compute(s, 0, "F0.0 F1.0 F0.1 B0.1 F1.1 B1.1 B0.0 W0.0 B1.0 W0.1 F2.0 W1.0 W1.1 F2.1 "
                       "B2.1 F3.0 W2.1 B2.0 W2.0 F3.1 B3.1 W3.1 B3.0 W3.0");
  assert_compute(s, 1, "F0.0 F0.1 F1.0 F1.1 B0.1 B0.0 B1.1 B1.0 W0.0 W0.1 W1.0 F2.0 F2.1 W1.1 "
                       "B2.1 B2.0 F3.0 F3.1 W2.0 W2.1 B3.1 B3.0 W3.0 W3.1");
  for (int r = 0; r < 2; r++) g_assert_cmpint(s->stages[r].peak_inflight, <=, 4);
  GError *err = NULL;
  g_assert_true(pc_schedule_validate(s, &err));
  g_assert_no_error(err);
  pc_schedule_free(s);
}

static void expect_kind_error(pc_schedule_kind kind, int P, int M, int C, const char *part) {
  int nx;
  pc_xfer *x = test_chain(P * C, &nx);
  GError *err = NULL;
  g_assert_null(pc_schedule_new_chunks(kind, P, M, C, NULL, x, nx, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  if (!strstr(err->message, part)) g_error("expected '%s' in: %s", part, err->message);
  g_clear_error(&err);
  g_free(x);
}

static void test_new_kinds_bad(void) {
  expect_kind_error(PC_SCHEDULE_INTERLEAVED, 4, 6, 2, "needs a multiple of the stages");
  expect_kind_error(PC_SCHEDULE_INTERLEAVED, 1, 4, 2, "it needs 2 or more");
  expect_kind_error(PC_SCHEDULE_INTERLEAVED, 2, 4, 1, "it needs 2 to 64");
  expect_kind_error(PC_SCHEDULE_ZBV, 2, 4, 3, "zb-v: 3 chunks per rank; it has 2");
  expect_kind_error(PC_SCHEDULE_ZBH1, 2, 4, 2, "zb-h1: 2 chunks per rank; it has 1");
  expect_kind_error(PC_SCHEDULE_1F1B, 2, 4, 2, "1f1b: 2 chunks per rank");
}

/* Every new schedule over P <= 64, M <= 256 and, interleaved, v <= 8 chunks passes
 * pc_schedule_validate: messages matched, no deadlock, compute rules. The sizes: all of P and
 * v, and M at 1..8 and around the multiples of P that matter (P - 1 .. P + 1, 2P, 255, 256);
 * PC_SCHEDULE_TEST_ALL=1 tries every M. Each rank's peak in flight is at most 1F1B's on its
 * first rank: min(P, M) (zb-h1), 2P chunk activations (zb-v). */
static bool m_wanted(int P, int M) {
  if (g_getenv("PC_SCHEDULE_TEST_ALL")) return true;
  return M <= 8 || abs(M - P) <= 1 || M == 2 * P || M >= 255;
}

static void test_new_kinds_valid(void) {
  GError *err = NULL;
  int64_t n = 0;
  for (int P = 1; P <= 64; P++)
    for (int M = 1; M <= 256; M++) {
      if (!m_wanted(P, M)) continue;
      pc_schedule *s = chunk_schedule(PC_SCHEDULE_ZBH1, P, M, 1);
      if (!pc_schedule_validate(s, &err)) g_error("zb-h1 P %d M %d: %s", P, M, err->message);
      for (int r = 0; r < P; r++) g_assert_cmpint(s->stages[r].peak_inflight, <=, MIN(P, M));
      pc_schedule_free(s);
      s = chunk_schedule(PC_SCHEDULE_ZBV, P, M, 2);
      if (!pc_schedule_validate(s, &err)) g_error("zb-v P %d M %d: %s", P, M, err->message);
      for (int r = 0; r < P; r++) g_assert_cmpint(s->stages[r].peak_inflight, <=, 2 * P);
      pc_schedule_free(s);
      n += 2;
      for (int C = 2; C <= 8 && P > 1 && M % P == 0; C++) {
        s = chunk_schedule(PC_SCHEDULE_INTERLEAVED, P, M, C);
        if (!pc_schedule_validate(s, &err))
          g_error("interleaved P %d M %d v %d: %s", P, M, C, err->message);
        pc_schedule_free(s);
        n++;
      }
    }
  if (g_test_verbose()) g_test_message("%" G_GINT64_FORMAT " schedules validated", n);
}

/* Zero-bubble orders planned for op costs: 1:1:1 is the unit order; other costs give other
 * orders, each valid and within the activation cap; costs out of range, or for another kind,
 * are refused. */
static void test_zb_costs(void) {
  static const double costs[][3] = {{1, 1, 1}, {1.5, 2, 1}, {1, 3, 0.2}, {0.5, 1, 2}, {3, 1, 1}};
  GError *err = NULL;
  int differ = 0;
  for (int P = 1; P <= 12; P++)
    for (int M = 1; M <= 24; M++)
      for (int kind = PC_SCHEDULE_ZBH1; kind <= PC_SCHEDULE_ZBV; kind++) {
        int C = kind == PC_SCHEDULE_ZBV ? 2 : 1, nx = 0;
        pc_xfer *x = test_chain(P * C, &nx);
        pc_schedule *unit = pc_schedule_new_chunks(kind, P, M, C, NULL, x, nx, &err);
        g_assert_no_error(err);
        for (size_t k = 0; k < G_N_ELEMENTS(costs); k++) {
          pc_schedule *s = pc_schedule_new_chunks(kind, P, M, C, costs[k], x, nx, &err);
          g_assert_no_error(err);
          if (!pc_schedule_validate(s, &err))
            g_error("%s P %d M %d costs %g:%g:%g: %s", pc_schedule_kind_name(kind), P, M,
                    costs[k][0], costs[k][1], costs[k][2], err->message);
          g_assert_cmpfloat(s->zb_costs[1], ==, costs[k][1]);
          bool same = true;
          for (int r = 0; r < P; r++) {
            g_assert_cmpint(s->stages[r].peak_inflight, <=,
                            kind == PC_SCHEDULE_ZBV ? 2 * P : MIN(P, M));
            char *a = compute_string(s, r), *b = compute_string(unit, r);
            same = same && strcmp(a, b) == 0;
            g_free(a);
            g_free(b);
          }
          if (k == 0) g_assert_true(same);
          else differ += !same;
          pc_schedule_free(s);
        }
        pc_schedule_free(unit);
        g_free(x);
      }
  g_assert_cmpint(differ, >, 0);
  int nx;
  pc_xfer *x = test_chain(2, &nx);
  static const double bad[][3] = {{0, 1, 1}, {1, -1, 1}, {1, 1, 1e4}, {1, NAN, 1}};
  for (size_t k = 0; k < G_N_ELEMENTS(bad); k++) {
    g_assert_null(pc_schedule_new_chunks(PC_SCHEDULE_ZBH1, 2, 4, 1, bad[k], x, nx, &err));
    g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
    g_assert_nonnull(strstr(err->message, "expected three numbers from 0.001 to 1000"));
    g_clear_error(&err);
  }
  g_assert_null(pc_schedule_new_chunks(PC_SCHEDULE_1F1B, 2, 4, 1, costs[1], x, nx, &err));
  g_assert_nonnull(strstr(err->message, "op costs order only the zero-bubble schedules"));
  g_clear_error(&err);
  g_free(x);
}

/* Evaluation's forward-only lists on every training layout: valid (matched, no deadlock), a
 * microbatch through a rank's chunks before the next; a BWD or OPT in one is refused. */
static void test_forward_only(void) {
  GError *err = NULL;
  for (int kind = 0; kind < PC_SCHEDULE_KIND_COUNT; kind++)
    for (int P = 1; P <= 8; P++)
      for (int M = 1; M <= 16; M++) {
        int C = pc_schedule_default_chunks(kind);
        if (!pc_schedule_check_kind(kind, P, M, C, NULL)) continue;
        pc_schedule *t = chunk_schedule(kind, P, M, C);
        pc_schedule *f = pc_schedule_new_forward(t, 2 * M + 1, &err);
        g_assert_no_error(err);
        g_assert_true(f->forward_only);
        if (!pc_schedule_validate(f, &err))
          g_error("%s P %d M %d: %s", pc_schedule_kind_name(kind), P, M, err->message);
        for (int r = 0; r < P; r++) {
          int fwd = 0;
          for (int i = 0; i < f->stages[r].nops; i++) fwd += f->stages[r].ops[i].kind == PC_OP_FWD;
          g_assert_cmpint(fwd, ==, (2 * M + 1) * C);
        }
        pc_schedule_free(f);
        pc_schedule_free(t);
      }
  pc_schedule *t = chunk_schedule(PC_SCHEDULE_ZBV, 2, 2, 2);
  pc_schedule *f = pc_schedule_new_forward(t, 2, &err);
  assert_compute(f, 0, "F0.0 F0.1 F1.0 F1.1");
  assert_compute(f, 1, "F0.0 F0.1 F1.0 F1.1");
  pc_schedule_append_op(f, 1, (pc_op){.kind = PC_OP_OPT, .mb = -1, .xfer = -1, .peer = -1});
  g_assert_false(pc_schedule_validate(f, &err));
  g_assert_nonnull(strstr(err->message, "OPT: in a forward-only list"));
  g_clear_error(&err);
  g_assert_null(pc_schedule_new_forward(t, 0, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  pc_schedule_free(f);
  pc_schedule_free(t);
}

static void test_gpipe_ops(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 3, 3);
  g_assert_cmpint(s->kind, ==, PC_SCHEDULE_GPIPE);
  assert_stage(s, 0, "F0 S0 F1 S1 F2 S2 r0 B0 r1 B1 r2 B2 O");
  assert_stage(s, 1, "R0 F0 S0 R1 F1 S1 R2 F2 S2 r0 B0 s0 r1 B1 s1 r2 B2 s2 O");
  assert_stage(s, 2, "R0 F0 R1 F1 R2 F2 B0 s0 B1 s1 B2 s2 O");
  /* peers and transfers of the middle stage */
  const pc_op *ops = s->stages[1].ops;
  g_assert_cmpint(ops[0].peer, ==, 0);
  g_assert_cmpint(ops[0].xfer, ==, 0);
  g_assert_cmpint(ops[2].peer, ==, 2);
  g_assert_cmpint(ops[2].xfer, ==, 1);
  g_assert_cmpint(ops[9].peer, ==, 2);
  g_assert_cmpint(ops[11].peer, ==, 0);
  g_assert_cmpint(ops[11].xfer, ==, 0);
  for (int r = 0; r < 3; r++)
    g_assert_cmpint(s->stages[r].peak_inflight, ==, 3);
  g_assert_cmpuint(pc_schedule_total_ops(s), ==, 13 + 19 + 13);
  GError *err = NULL;
  g_assert_true(pc_schedule_validate(s, &err));
  g_assert_no_error(err);
  pc_schedule_free(s);
}

static void test_1f1b_ops(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_1F1B, 3, 4);
  assert_stage(s, 0, "F0 S0 F1 S1 F2 S2 r0 B0 F3 S3 r1 B1 r2 B2 r3 B3 O");
  assert_stage(s, 1, "R0 F0 S0 R1 F1 S1 r0 B0 s0 R2 F2 S2 r1 B1 s1 R3 F3 S3 r2 B2 s2 r3 B3 s3 O");
  assert_stage(s, 2, "R0 F0 B0 s0 R1 F1 B1 s1 R2 F2 B2 s2 R3 F3 B3 s3 O");
  GError *err = NULL;
  g_assert_true(pc_schedule_validate(s, &err));
  g_assert_no_error(err);
  pc_schedule_free(s);
}

static void test_1f1b_peak(void) {
  const int Ps[] = {1, 2, 3, 4, 8}, Ms[] = {1, 2, 3, 5, 8, 16};
  for (size_t a = 0; a < G_N_ELEMENTS(Ps); a++)
    for (size_t b = 0; b < G_N_ELEMENTS(Ms); b++) {
      int P = Ps[a], M = Ms[b];
      pc_schedule *s = test_chain_schedule(PC_SCHEDULE_1F1B, P, M);
      pc_schedule *g = test_chain_schedule(PC_SCHEDULE_GPIPE, P, M);
      for (int r = 0; r < P; r++) {
        g_assert_cmpint(s->stages[r].peak_inflight, ==, MIN(P - r, M));
        g_assert_cmpint(g->stages[r].peak_inflight, ==, M);
        g_assert_cmpint(s->stages[r].nops, ==, g->stages[r].nops);
      }
      GError *err = NULL;
      g_assert_true(pc_schedule_validate(s, &err));
      g_assert_no_error(err);
      g_assert_true(pc_schedule_validate(g, &err));
      g_assert_no_error(err);
      pc_schedule_free(s);
      pc_schedule_free(g);
    }
}

static void test_skip(void) {
  /* 0 -> 1, 1 -> 2 and a skip 0 -> 2 (a residual cut in the middle). */
  const pc_xfer x[] = {{.tensor = 3, .src = 0, .dst = 1, .bytes = 64},
                       {.tensor = 5, .src = 1, .dst = 2, .bytes = 64},
                       {.tensor = 3, .src = 0, .dst = 2, .bytes = 64}};
  for (int k = 0; k < PC_SCHEDULE_KIND_COUNT; k++) {
    if (pc_schedule_default_chunks(k) > 1) continue; /* a chain of chunks: interleaved/ops */
    GError *err = NULL;
    pc_schedule *s = pc_schedule_new(k, 3, 2, x, 3, &err);
    g_assert_no_error(err);
    /* stage 2 receives both activations (transfer-list order) before each FWD */
    int f = test_find(s, 2, PC_OP_FWD, 1, false, -1);
    g_assert_cmpint(s->stages[2].ops[f - 2].kind, ==, PC_OP_RECV);
    g_assert_cmpint(s->stages[2].ops[f - 2].xfer, ==, 1);
    g_assert_cmpint(s->stages[2].ops[f - 2].peer, ==, 1);
    g_assert_cmpint(s->stages[2].ops[f - 1].xfer, ==, 2);
    g_assert_cmpint(s->stages[2].ops[f - 1].peer, ==, 0);
    g_assert_cmpint(s->stages[2].ops[f - 1].mb, ==, 1);
    /* stage 0 sends to 1 and 2 after FWD, receives both gradients before BWD */
    f = test_find(s, 0, PC_OP_FWD, 0, false, -1);
    g_assert_cmpint(s->stages[0].ops[f + 1].peer, ==, 1);
    g_assert_cmpint(s->stages[0].ops[f + 2].peer, ==, 2);
    int b = test_find(s, 0, PC_OP_BWD, 1, false, -1);
    g_assert_true(s->stages[0].ops[b - 1].grad && s->stages[0].ops[b - 1].peer == 2);
    g_assert_true(s->stages[0].ops[b - 2].grad && s->stages[0].ops[b - 2].peer == 1);
    /* stage 2 sends both gradients back after BWD */
    b = test_find(s, 2, PC_OP_BWD, 0, false, -1);
    g_assert_cmpint(s->stages[2].ops[b + 1].peer, ==, 1);
    g_assert_cmpint(s->stages[2].ops[b + 2].peer, ==, 0);
    g_assert_true(s->stages[2].ops[b + 2].grad);
    g_assert_true(pc_schedule_validate(s, &err));
    g_assert_no_error(err);
    pc_schedule_free(s);
  }
}

static void test_bad_params(void) {
  const pc_xfer ok = {.src = 0, .dst = 1};
  const pc_xfer back = {.src = 1, .dst = 1};
  const pc_xfer far = {.src = 0, .dst = 4};
  struct {
    int kind, P, M, nx;
    const pc_xfer *x;
  } cases[] = {
    {PC_SCHEDULE_GPIPE, 0, 4, 0, NULL}, {PC_SCHEDULE_GPIPE, 2, 0, 1, &ok},
    {PC_SCHEDULE_1F1B, 2, 4, 1, &back}, {PC_SCHEDULE_1F1B, 4, 4, 1, &far},
    {PC_SCHEDULE_KIND_COUNT, 2, 4, 1, &ok}, {-1, 2, 4, 1, &ok},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    GError *err = NULL;
    pc_schedule *s = pc_schedule_new(cases[i].kind, cases[i].P, cases[i].M, cases[i].x,
                                     cases[i].nx, &err);
    g_assert_null(s);
    g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
    g_clear_error(&err);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Validation of broken schedules */

static void expect_invalid(const pc_schedule *s, const char *part1, const char *part2) {
  GError *err = NULL;
  g_assert_false(pc_schedule_validate(s, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_SCHEDULE);
  if (g_test_verbose())
    g_test_message("%s", err->message);
  g_assert_nonnull(strstr(err->message, part1));
  if (part2)
    g_assert_nonnull(strstr(err->message, part2));
  g_error_free(err);
}

static void test_unmatched_recv(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 3, 4);
  pc_schedule_remove_op(s, 0, test_find(s, 0, PC_OP_SEND, 1, false, 0));
  int at = test_find(s, 1, PC_OP_RECV, 1, false, 0);
  char *expect = g_strdup_printf("stage 1 op %d RECV act mb 1 from stage 0: has no matching SEND",
                                 at);
  expect_invalid(s, expect, NULL);
  g_free(expect);
  pc_schedule_free(s);
}

static void test_unreceived_send(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_1F1B, 3, 4);
  pc_schedule_remove_op(s, 0, test_find(s, 0, PC_OP_RECV, 2, true, 0));
  expect_invalid(s, "stage 1 op", "SEND grad mb 2 to stage 0: is never received");
  pc_schedule_free(s);
}

static void test_fifo(void) {
  /* Stage 1 of 2 runs the forward of mb 1 before that of mb 0: each RECV still precedes its
   * FWD, but stage 0 sends mb 0 first. */
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 2);
  pc_op r0 = s->stages[1].ops[0], f0 = s->stages[1].ops[1];
  pc_op r1 = s->stages[1].ops[2], f1 = s->stages[1].ops[3];
  g_assert_true(r0.kind == PC_OP_RECV && f1.kind == PC_OP_FWD && f1.mb == 1);
  pc_schedule_set_op(s, 1, 0, r1);
  pc_schedule_set_op(s, 1, 1, f1);
  pc_schedule_set_op(s, 1, 2, r0);
  pc_schedule_set_op(s, 1, 3, f0);
  expect_invalid(s, "stage 1 op 0 RECV act mb 1 from stage 0: out of FIFO order", "mb 0");
  pc_schedule_free(s);
}

static void test_deadlock(void) {
  /* Stage 0 waits for the gradient before sending the activation that produces it. */
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 1);
  int send = test_find(s, 0, PC_OP_SEND, 0, false, 0);
  int recv = test_find(s, 0, PC_OP_RECV, 0, true, 0);
  g_assert_cmpint(send + 1, ==, recv);
  pc_op tmp = s->stages[0].ops[send];
  pc_schedule_set_op(s, 0, send, s->stages[0].ops[recv]);
  pc_schedule_set_op(s, 0, recv, tmp);
  expect_invalid(s,
                 "deadlock: stage 0 waits at op 1 RECV grad mb 0 from stage 1; "
                 "stage 1 waits at op 0 RECV act mb 0 from stage 0",
                 NULL);
  pc_schedule_free(s);
}

static void test_compute_rules(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_1F1B, 2, 3);
  pc_schedule *t = pc_schedule_copy(s);
  pc_schedule_remove_op(t, 1, test_find(t, 1, PC_OP_BWD, 2, false, -1));
  expect_invalid(t, "stage 1 has no BWD of mb 2", NULL);
  pc_schedule_free(t);

  t = pc_schedule_copy(s);
  pc_schedule_insert_op(t, 0, 0, (pc_op){.kind = PC_OP_OPT, .mb = -1, .xfer = -1, .peer = -1});
  expect_invalid(t, "stage 0 op 13 OPT: second OPT (first at op 0)", NULL);
  pc_schedule_remove_op(t, 0, t->stages[0].nops - 1);
  expect_invalid(t, "stage 0 op 0 OPT: is not the last op", NULL);
  pc_schedule_free(t);

  t = pc_schedule_copy(s);
  int f = test_find(t, 0, PC_OP_FWD, 1, false, -1);
  pc_schedule_insert_op(t, 0, f + 1, t->stages[0].ops[f]);
  g_assert_cmpint(t->stages[0].peak_inflight, ==, s->stages[0].peak_inflight + 1);
  expect_invalid(t, "FWD mb 1: runs twice", NULL);
  pc_schedule_free(t);

  t = pc_schedule_copy(s);
  pc_op bad = t->stages[0].ops[test_find(t, 0, PC_OP_SEND, 0, false, 0)];
  bad.peer = 0;
  pc_schedule_set_op(t, 0, 1, bad);
  expect_invalid(t, "stage 0 op 1 SEND act mb 0 to stage 0", "goes from stage 0 to stage 1");
  pc_schedule_free(t);

  /* the copy was independent: the original still validates */
  GError *err = NULL;
  g_assert_true(pc_schedule_validate(s, &err));
  g_assert_no_error(err);
  pc_schedule_free(s);
}

static void test_hand_built(void) {
  /* Two stages built op by op; then broken by moving the SEND after the RECV of the gradient. */
  const pc_xfer x = {.src = 0, .dst = 1, .bytes = 8};
  GError *err = NULL;
  pc_schedule *s = pc_schedule_new_empty(2, 1, &x, 1, &err);
  g_assert_no_error(err);
  g_assert_cmpint(s->kind, ==, PC_SCHEDULE_KIND_COUNT);
  const pc_op ops0[] = {{.kind = PC_OP_FWD, .mb = 0},
                        {.kind = PC_OP_SEND, .mb = 0, .peer = 1, .xfer = 0},
                        {.kind = PC_OP_RECV, .mb = 0, .peer = 1, .xfer = 0, .grad = true},
                        {.kind = PC_OP_BWD, .mb = 0},
                        {.kind = PC_OP_OPT, .mb = -1}};
  const pc_op ops1[] = {{.kind = PC_OP_RECV, .mb = 0, .peer = 0, .xfer = 0},
                        {.kind = PC_OP_FWD, .mb = 0},
                        {.kind = PC_OP_BWD, .mb = 0},
                        {.kind = PC_OP_SEND, .mb = 0, .peer = 0, .xfer = 0, .grad = true},
                        {.kind = PC_OP_OPT, .mb = -1}};
  for (size_t i = 0; i < G_N_ELEMENTS(ops0); i++)
    pc_schedule_append_op(s, 0, ops0[i]);
  for (size_t i = 0; i < G_N_ELEMENTS(ops1); i++)
    pc_schedule_append_op(s, 1, ops1[i]);
  g_assert_cmpint(s->stages[0].peak_inflight, ==, 1);
  g_assert_true(pc_schedule_validate(s, &err));
  g_assert_no_error(err);
  pc_schedule_remove_op(s, 1, 3);
  pc_schedule_insert_op(s, 1, 0, ops1[3]);
  expect_invalid(s, "stage 1 op 0 SEND grad mb 0 to stage 0: comes before the BWD", NULL);
  pc_schedule_free(s);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/schedule/names", test_names);
  g_test_add_func("/schedule/interleaved/ops", test_interleaved_ops);
  g_test_add_func("/schedule/zb-h1/ops", test_zbh1_ops);
  g_test_add_func("/schedule/zb-v/ops", test_zbv_ops);
  g_test_add_func("/schedule/new-kinds/bad-params", test_new_kinds_bad);
  g_test_add_func("/schedule/new-kinds/valid", test_new_kinds_valid);
  g_test_add_func("/schedule/zb-costs", test_zb_costs);
  g_test_add_func("/schedule/forward-only", test_forward_only);
  g_test_add_func("/schedule/gpipe/ops", test_gpipe_ops);
  g_test_add_func("/schedule/1f1b/ops", test_1f1b_ops);
  g_test_add_func("/schedule/1f1b/peak", test_1f1b_peak);
  g_test_add_func("/schedule/skip", test_skip);
  g_test_add_func("/schedule/bad-params", test_bad_params);
  g_test_add_func("/schedule/validate/unmatched-recv", test_unmatched_recv);
  g_test_add_func("/schedule/validate/unreceived-send", test_unreceived_send);
  g_test_add_func("/schedule/validate/fifo", test_fifo);
  g_test_add_func("/schedule/validate/deadlock", test_deadlock);
  g_test_add_func("/schedule/validate/compute", test_compute_rules);
  g_test_add_func("/schedule/validate/hand-built", test_hand_built);
  return g_test_run();
}
