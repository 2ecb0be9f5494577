/* test-engine.c — the discrete-event engine: closed-form pipeline times (GPipe, 1F1B), bubble
 * fractions, hand-computed timelines with overheads, link FIFO and skip transfers, deadlock and
 * broken-schedule reports, determinism. */
#include <string.h>

#include "sim-test-util.h"

static const int Ps[] = {1, 2, 3, 4, 8};
static const int Ms[] = {1, 2, 5, 8, 16};

/* ------------------------------------------------------------------------------------------ */
/* Closed forms with uniform stages and free communication */

static void check_uniform(pc_schedule_kind kind, double F, double B) {
  pc_engine *e = pc_engine_new();
  pc_sim_uniform u = {.fwd = F, .bwd = B};
  pc_sim_costs costs;
  pc_sim_costs_uniform(&costs, &u);
  for (size_t a = 0; a < G_N_ELEMENTS(Ps); a++)
    for (size_t b = 0; b < G_N_ELEMENTS(Ms); b++) {
      int P = Ps[a], M = Ms[b];
      pc_schedule *s = test_chain_schedule(kind, P, M);
      GError *err = NULL;
      const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
      g_assert_no_error(err);
      g_assert_nonnull(res);
      /* exact: F and B are binary fractions */
      g_assert_cmpfloat(res->makespan, ==, (M + P - 1) * (F + B));
      g_assert_cmpint(res->nstages, ==, P);
      g_assert_cmpuint(res->nevents, ==, pc_schedule_total_ops(s));
      for (int r = 0; r < P; r++) {
        const pc_sim_stage *st = &res->stages[r];
        g_assert_cmpfloat(st->busy, ==, M * (F + B));
        g_assert_cmpfloat(st->comm, ==, 0.0);
        g_assert_cmpfloat_with_epsilon(st->bubble, (double)(P - 1) / (M + P - 1), 1e-12);
        g_assert_cmpint(st->peak_inflight, ==,
                        kind == PC_SCHEDULE_1F1B ? MIN(P - r, M) : M);
        /* spans are ordered and non-overlapping */
        for (int i = 0; i < s->stages[r].nops; i++) {
          g_assert_cmpfloat(res->timeline[r][i].start, <=, res->timeline[r][i].end);
          if (i > 0)
            g_assert_cmpfloat(res->timeline[r][i - 1].end, <=, res->timeline[r][i].start);
        }
      }
      /* the last stage's first FWD starts after P-1 forwards */
      int f = test_find(s, P - 1, PC_OP_FWD, 0, false, -1);
      g_assert_cmpfloat(res->timeline[P - 1][f].start, ==, (P - 1) * F);
      pc_schedule_free(s);
    }
  pc_engine_free(e);
}

static void test_gpipe_uniform(void) {
  check_uniform(PC_SCHEDULE_GPIPE, 1.0, 2.0);
  check_uniform(PC_SCHEDULE_GPIPE, 0.5, 1.25);
}

static void test_1f1b_uniform(void) {
  check_uniform(PC_SCHEDULE_1F1B, 1.0, 2.0);
  check_uniform(PC_SCHEDULE_1F1B, 0.5, 1.25);
  check_uniform(PC_SCHEDULE_1F1B, 1.0, 1.0);
}

/* ------------------------------------------------------------------------------------------ */
/* Hand-computed timelines */

static void assert_span(const pc_sim_result *res, int stage, int op, double start, double end) {
  g_assert_cmpfloat(res->timeline[stage][op].start, ==, start);
  g_assert_cmpfloat(res->timeline[stage][op].end, ==, end);
}

/* 2 stages, 2 microbatches, F = B = 1, send overhead 1/4, receive overhead 1/2, wire time 2:
 * the second activation queues behind the first on link 0->1, and so does the second
 * gradient on link 1->0. */
static void test_overheads_and_link(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 2);
  pc_sim_uniform u = {.fwd = 1, .bwd = 1, .message = 2, .send_overhead = 0.25,
                      .recv_overhead = 0.5};
  pc_sim_costs costs;
  pc_sim_costs_uniform(&costs, &u);
  pc_engine *e = pc_engine_new();
  GError *err = NULL;
  const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  /* stage 0: F0 S0 F1 S1 r0 B0 r1 B1 O */
  assert_span(res, 0, 0, 0, 1);
  assert_span(res, 0, 1, 1, 1.25);   /* departs 1.25, arrives 3.25 */
  assert_span(res, 0, 2, 1.25, 2.25);
  assert_span(res, 0, 3, 2.25, 2.5); /* link busy until 3.25: arrives 5.25 */
  assert_span(res, 0, 4, 2.5, 10.5); /* gradient 0 arrives 10 */
  assert_span(res, 0, 5, 10.5, 11.5);
  assert_span(res, 0, 6, 11.5, 12.5); /* gradient 1 arrived 12 */
  assert_span(res, 0, 7, 12.5, 13.5);
  assert_span(res, 0, 8, 13.5, 13.5);
  /* stage 1: R0 F0 R1 F1 B0 s0 B1 s1 O */
  assert_span(res, 1, 0, 0, 3.75);
  assert_span(res, 1, 1, 3.75, 4.75);
  assert_span(res, 1, 2, 4.75, 5.75);
  assert_span(res, 1, 3, 5.75, 6.75);
  assert_span(res, 1, 4, 6.75, 7.75);
  assert_span(res, 1, 5, 7.75, 8.0); /* arrives 10 */
  assert_span(res, 1, 6, 8.0, 9.0);
  assert_span(res, 1, 7, 9.0, 9.25); /* waits for the link until 10: arrives 12 */
  assert_span(res, 1, 8, 9.25, 9.25);
  g_assert_cmpfloat(res->makespan, ==, 13.5);
  g_assert_cmpfloat(res->stages[0].busy, ==, 4);
  g_assert_cmpfloat(res->stages[0].comm, ==, 1.5);
  g_assert_cmpfloat(res->stages[0].idle, ==, 8);
  g_assert_cmpfloat(res->stages[1].finish, ==, 9.25);
  g_assert_cmpfloat(res->stages[1].idle, ==, 13.5 - 4 - 1.5);
  g_assert_cmpint(res->nlinks, ==, 2);
  g_assert_cmpint(res->links[0].src, ==, 0);
  g_assert_cmpint(res->links[0].dst, ==, 1);
  g_assert_cmpint(res->links[0].nmessages, ==, 2);
  g_assert_cmpfloat(res->links[0].busy, ==, 4);
  g_assert_cmpint(res->links[1].src, ==, 1);
  pc_engine_free(e);
  pc_schedule_free(s);
}

/* Wire time 10 for a transfer that skips a stage, 1 otherwise. */
static double skip_message(void *ud, const pc_xfer *x, bool grad) {
  (void)ud;
  (void)grad;
  return x->dst - x->src > 1 ? 10 : 1;
}

static double unit_compute(void *ud, int stage, const pc_op *op) {
  (void)ud;
  (void)stage;
  return op->kind == PC_OP_OPT ? 0 : 1;
}

static void test_skip(void) {
  const pc_xfer x[] = {{.src = 0, .dst = 1}, {.src = 1, .dst = 2}, {.src = 0, .dst = 2}};
  GError *err = NULL;
  pc_schedule *s = pc_schedule_new(PC_SCHEDULE_GPIPE, 3, 1, x, 3, &err);
  g_assert_no_error(err);
  pc_sim_costs costs = {.compute = unit_compute, .message = skip_message};
  pc_engine *e = pc_engine_new();
  const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  /* stage 2: R(x1) R(x2) F B s(x1) s(x2) O — the skip activation arrives at 1 + 10 */
  assert_span(res, 2, 0, 0, 4);
  assert_span(res, 2, 1, 4, 11);
  assert_span(res, 2, 2, 11, 12);
  assert_span(res, 2, 3, 12, 13);
  /* stage 1: R F S r B s O — gradient from 2 at 14 */
  assert_span(res, 1, 3, 3, 14);
  assert_span(res, 1, 4, 14, 15);
  /* stage 0: F S S r(x0) r(x2) B O — gradients at 16 (via 1) and 23 (skip) */
  assert_span(res, 0, 3, 1, 16);
  assert_span(res, 0, 4, 16, 23);
  assert_span(res, 0, 5, 23, 24);
  g_assert_cmpfloat(res->makespan, ==, 24);
  g_assert_cmpint(res->nlinks, ==, 6); /* both directions of 0-1, 1-2 and 0-2 */
  pc_engine_free(e);
  pc_schedule_free(s);
}

static double one(void *ud, const pc_xfer *x, bool grad) {
  (void)ud, (void)x, (void)grad;
  return 1;
}

static double half(void *ud, const pc_xfer *x, bool grad) {
  (void)ud, (void)x, (void)grad;
  return 0.5;
}

/* A message's work on the hosts holds the sender at its SEND and the receiver at the end of its
 * RECV: 2 stages, 1 microbatch, ops 1, wire 1, work 0.5. Stage 0: F 0..1, S 1..1.5 (on the
 * wire 1.5..2.5); stage 1: R 0..3, F 3..4, B 4..5, S 5..5.5 (wire 5.5..6.5); stage 0: R 1.5..7,
 * B 7..8. Without the work: 6. */
static void test_message_cpu(void) {
  const pc_xfer x[] = {{.src = 0, .dst = 1}};
  GError *err = NULL;
  pc_schedule *s = pc_schedule_new(PC_SCHEDULE_GPIPE, 2, 1, x, 1, &err);
  g_assert_no_error(err);
  pc_sim_costs costs = {.compute = unit_compute, .message = one, .message_cpu = half};
  pc_engine *e = pc_engine_new();
  const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  assert_span(res, 0, 1, 1, 1.5);
  assert_span(res, 1, 0, 0, 3);
  assert_span(res, 1, 3, 5, 5.5);
  assert_span(res, 0, 2, 1.5, 7);
  g_assert_cmpfloat(res->makespan, ==, 8);
  g_assert_cmpfloat(res->stages[0].comm, ==, 1);
  costs.message_cpu = NULL;
  res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  g_assert_cmpfloat(res->makespan, ==, 6);
  pc_engine_free(e);
  pc_schedule_free(s);
}

static int own_node(void *ud, int rank) {
  (void)ud;
  return rank;
}

static int one_node(void *ud, int rank) {
  (void)ud;
  (void)rank;
  return 0;
}

/* The same pipeline with each rank on its own node: messages that leave or enter a node at once
 * queue at its port. Node 2's way in: the skip activation (2..12) holds up x1's (12..13); node
 * 2's way out: x1's gradient (15..16), then the skip gradient (16..26); node 0's way in: that
 * one holds up x0's gradient (26..27). All on one node: as without nodes. */
static void test_node_ports(void) {
  const pc_xfer x[] = {{.src = 0, .dst = 1}, {.src = 1, .dst = 2}, {.src = 0, .dst = 2}};
  GError *err = NULL;
  pc_schedule *s = pc_schedule_new(PC_SCHEDULE_GPIPE, 3, 1, x, 3, &err);
  g_assert_no_error(err);
  pc_sim_costs costs = {.compute = unit_compute, .message = skip_message, .node = own_node};
  pc_engine *e = pc_engine_new();
  const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  assert_span(res, 2, 0, 0, 13);
  assert_span(res, 2, 1, 13, 13);
  assert_span(res, 1, 3, 3, 16);
  assert_span(res, 0, 3, 1, 27);
  assert_span(res, 0, 4, 27, 27);
  g_assert_cmpfloat(res->makespan, ==, 28);
  costs.node = one_node;
  res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  g_assert_cmpfloat(res->makespan, ==, 24);
  pc_engine_free(e);
  pc_schedule_free(s);
}

static double all_one(void *ud, int stage, const pc_op *op) {
  (void)ud, (void)stage, (void)op;
  return 1;
}

static double two(void *ud, const pc_xfer *x, bool grad) {
  (void)ud, (void)x, (void)grad;
  return 2;
}

static const pc_sim_reduce *two_rings(void *ud, int stage) {
  (void)stage;
  return ud;
}

/* 2 stages on their own nodes, 1 microbatch, ops and messages 1 and 2: stage 1's rings (ready
 * 0 and 0.5 after its BWD began at 4, lengths 3 and 1, BWD 0.5 longer) take node 1's ports at
 * 4..7; its gradient (sent at 5.5) leaves once they are free (7..9), and holds ring 1 up
 * (9..10); stage 0's BWD starts at 9, its rings run 9..12 and 12..13, and each OPT waits for
 * its own. Without ports the rings and the gradient pass each other: 12.5. */
static void test_reduce_ports(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 1);
  pc_sim_reduce red = {.n = 2, .ready = (double[]){0, 0.5}, .wire = (double[]){3, 1},
                       .stretch = 0.5, .ports = true};
  pc_sim_costs costs = {.compute = all_one, .message = two, .node = own_node,
                        .reduce = two_rings, .ud = &red};
  pc_engine *e = pc_engine_new();
  GError *err = NULL;
  const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  assert_span(res, 1, 2, 4, 5.5);  /* BWD, stretched */
  assert_span(res, 1, 4, 5.5, 11); /* OPT, waiting for the rings until 10 */
  assert_span(res, 0, 2, 1, 9);    /* RECV of the gradient */
  assert_span(res, 0, 3, 9, 10.5);
  assert_span(res, 0, 4, 10.5, 14);
  g_assert_cmpfloat(res->makespan, ==, 14);
  g_assert_cmpfloat(res->stages[0].reduce, ==, 0.5 + 2.5);
  g_assert_cmpfloat(res->stages[1].reduce, ==, 0.5 + 4.5);
  g_assert_cmpfloat(res->stages[0].busy, ==, 3);
  g_assert_cmpfloat(res->stages[0].idle, ==, 14 - 3 - 3);
  red.ports = false;
  res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  assert_span(res, 1, 4, 5.5, 9);
  assert_span(res, 0, 4, 9, 12.5);
  g_assert_cmpfloat(res->makespan, ==, 12.5);
  /* a bad ring length names the op */
  red.wire = (double[]){3, -1};
  g_assert_null(pc_engine_run(e, s, &costs, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_assert_nonnull(strstr(err->message, "all-reduce ring 1"));
  g_clear_error(&err);
  pc_engine_free(e);
  pc_schedule_free(s);
}

/* The newer schedules at equal stage times, messages free (binary fractions: exact):
 *   interleaved 1F1B, ops of one chunk F and B: (M v + P - 1)(F + B), the bubble (P - 1)/(v M)
 *     of the work, Megatron-LM's relation (a stage's F and B are v times the chunk's);
 *   zb-h1 at F = B = W: 3 M F + (P - 1) F, the paper's (P - 1)(F + B - W) bubble, where
 *     M = P (and on 2 stages), less than 1F1B's 3 (M + P - 1) F everywhere; zb-v (chunk ops
 *     half as long) at least the work and, from 4 stages, less than zb-h1. */
static void test_new_kinds_closed_form(void) {
  pc_engine *e = pc_engine_new();
  const double F = 0.25, B = 0.5;
  for (int P = 2; P <= 8; P *= 2)
    for (int v = 2; v <= 4; v++)
      for (int M = P; M <= 4 * P; M += P) {
        pc_sim_uniform u = {.fwd = F, .bwd = B};
        pc_sim_costs costs;
        pc_sim_costs_uniform(&costs, &u);
        int nx;
        pc_xfer *x = test_chain(P * v, &nx);
        GError *err = NULL;
        pc_schedule *s = pc_schedule_new_chunks(PC_SCHEDULE_INTERLEAVED, P, M, v, NULL, x, nx, &err);
        g_assert_no_error(err);
        const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
        g_assert_no_error(err);
        g_assert_cmpfloat(res->makespan, ==, (M * v + P - 1) * (F + B));
        double work = M * v * (F + B);
        g_assert_cmpfloat_with_epsilon((res->makespan - work) / work, (P - 1.0) / (v * M), 1e-12);
        pc_schedule_free(s);
        g_free(x);
      }
  for (int P = 2; P <= 16; P *= 2)
    for (int M = P; M <= 4 * P; M += P) {
      pc_sim_uniform u = {.fwd = F, .bwd = F, .bwd_w = F};
      pc_sim_costs costs;
      pc_sim_costs_uniform(&costs, &u);
      pc_schedule *s = test_chain_schedule(PC_SCHEDULE_ZBH1, P, M);
      GError *err = NULL;
      const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
      g_assert_no_error(err);
      double zbh1 = res->makespan;
      if (g_test_verbose())
        g_test_message("zb-h1 P %d M %d: %g F (paper %d, 1f1b %d)", P, M, zbh1 / F,
                       3 * M + P - 1, 3 * (M + P - 1));
      if (M == P || P == 2) g_assert_cmpfloat(zbh1, ==, (3 * M + P - 1) * F);
      g_assert_cmpfloat(zbh1, <, 3 * (M + P - 1) * F);
      pc_schedule_free(s);
      pc_schedule *z = test_chain_schedule(PC_SCHEDULE_ZBV, P, M);
      u.fwd = u.bwd = u.bwd_w = F / 2; /* a chunk is half a stage */
      res = pc_engine_run(e, z, &costs, &err);
      g_assert_no_error(err);
      if (g_test_verbose())
        g_test_message("zb-v P %d M %d: %g F (work %d)", P, M, res->makespan / F, 3 * M);
      g_assert_cmpfloat(res->makespan, >=, 3 * M * F);
      g_assert_cmpfloat(res->makespan, <, 3 * (M + P - 1) * F);
      if (P >= 4) g_assert_cmpfloat(res->makespan, <, zbh1); /* the V beats H1 */
      pc_schedule_free(z);
    }
  pc_engine_free(e);
}

/* Clipping's meeting (costs.opt_sync): every stage's OPT starts once the last stage reaches its
 * own, plus the reduction; the reduction counts as communication, the wait as idle. */
static void test_opt_sync(void) {
  pc_engine *e = pc_engine_new();
  pc_sim_uniform u = {.fwd = 1, .bwd = 2, .opt = 0.5, .message = 0.25};
  pc_sim_costs costs;
  pc_sim_costs_uniform(&costs, &u);
  for (int P = 1; P <= 4; P++) {
    pc_schedule *s = test_chain_schedule(PC_SCHEDULE_1F1B, P, 3);
    GError *err = NULL;
    costs.opt_sync = 0;
    const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
    g_assert_no_error(err);
    double ready = 0, before[4], comm[4];
    for (int r = 0; r < P; r++) {
      int i = s->stages[r].nops - 1; /* the OPT */
      ready = MAX(ready, res->timeline[r][i].start);
      before[r] = res->timeline[r][i].start;
      comm[r] = res->stages[r].comm;
    }
    costs.opt_sync = 0.125;
    res = pc_engine_run(e, s, &costs, &err);
    g_assert_no_error(err);
    g_assert_cmpfloat(res->makespan, ==, ready + 0.125 + 0.5);
    for (int r = 0; r < P; r++) {
      const pc_span *opt = &res->timeline[r][s->stages[r].nops - 1];
      g_assert_cmpfloat(opt->start, ==, before[r]); /* it reached the meeting there */
      g_assert_cmpfloat(opt->end, ==, ready + 0.125 + 0.5);
      g_assert_cmpfloat(res->stages[r].comm, ==, comm[r] + 0.125);
      g_assert_cmpfloat_with_epsilon(res->stages[r].busy + res->stages[r].comm +
                                         res->stages[r].reduce + res->stages[r].idle,
                                     res->makespan, 1e-12);
    }
    pc_schedule_free(s);
  }
  pc_engine_free(e);
}

/* A tied weight held by the first and the last stage (costs.tie_*): their OPTs start once both
 * reached theirs, plus the exchange; with clipping too, the norms' meeting follows. The other
 * stages do not wait for it, and the exchange counts once as communication. */
static void test_tie_exchange(void) {
  pc_engine *e = pc_engine_new();
  pc_sim_uniform u = {.fwd = 1, .bwd = 2, .opt = 0.5, .message = 0.25};
  pc_sim_costs costs;
  pc_sim_costs_uniform(&costs, &u);
  for (int P = 2; P <= 4; P++) {
    for (int sync = 0; sync < 2; sync++) {
      pc_schedule *s = test_chain_schedule(PC_SCHEDULE_1F1B, P, 3);
      GError *err = NULL;
      costs.opt_sync = sync ? 0.125 : 0;
      costs.tie_exchange = 0;
      const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
      g_assert_no_error(err);
      double before[4], comm[4], end[4];
      for (int r = 0; r < P; r++) {
        before[r] = res->timeline[r][s->stages[r].nops - 1].start;
        end[r] = res->timeline[r][s->stages[r].nops - 1].end;
        comm[r] = res->stages[r].comm;
      }
      costs.tie_exchange = 0.75;
      costs.tie_a = 0;
      costs.tie_b = P - 1;
      res = pc_engine_run(e, s, &costs, &err);
      g_assert_no_error(err);
      double met = MAX(before[0], before[P - 1]) + 0.75, last = met;
      for (int r = 1; r < P - 1; r++) last = MAX(last, before[r]);
      for (int r = 0; r < P; r++) {
        const pc_span *opt = &res->timeline[r][s->stages[r].nops - 1];
        bool tied = r == 0 || r == P - 1;
        g_assert_cmpfloat(opt->start, ==, before[r]);
        if (!sync) /* the pair steps after the exchange; the others as before */
          g_assert_cmpfloat(opt->end, ==, tied ? met + 0.5 : end[r]);
        else /* everyone meets the pair after its exchange */
          g_assert_cmpfloat(opt->end, ==, last + 0.125 + 0.5);
        g_assert_cmpfloat(res->stages[r].comm, ==, comm[r] + (tied ? 0.75 : 0));
        g_assert_cmpfloat_with_epsilon(res->stages[r].busy + res->stages[r].comm +
                                           res->stages[r].reduce + res->stages[r].idle,
                                       res->makespan, 1e-12);
      }
      pc_schedule_free(s);
    }
  }
  costs.tie_exchange = 0;
  pc_engine_free(e);
}

/* A zero-bubble order planned for the op costs it runs at (F:B:W = 1.5:2:1, a backward's input
 * half longer than a forward, its weight half shorter) runs them at least the work M (F + B + W)
 * and, once microbatches outnumber stages twice, faster than the unit-cost order and than 1F1B
 * with the same backward whole, (M + P - 1)(F + B + W). */
static void test_zb_costed_order(void) {
  pc_engine *e = pc_engine_new();
  const double cost[3] = {1.5, 2, 1};
  pc_sim_uniform u = {.fwd = cost[0], .bwd = cost[1], .bwd_w = cost[2]};
  pc_sim_costs costs;
  pc_sim_costs_uniform(&costs, &u);
  for (int P = 2; P <= 8; P *= 2)
    for (int M = P; M <= 4 * P; M += P) {
      int nx;
      pc_xfer *x = test_chain(P, &nx);
      GError *err = NULL;
      double t[2];
      for (int k = 0; k < 2; k++) {
        pc_schedule *s =
            pc_schedule_new_chunks(PC_SCHEDULE_ZBH1, P, M, 1, k ? cost : NULL, x, nx, &err);
        g_assert_no_error(err);
        const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
        g_assert_no_error(err);
        t[k] = res->makespan;
        pc_schedule_free(s);
      }
      double work = M * (cost[0] + cost[1] + cost[2]);
      if (g_test_verbose())
        g_test_message("zb-h1 P %d M %d: unit order %g, costed %g, work %g", P, M, t[0], t[1],
                       work);
      g_assert_cmpfloat(t[1], >=, work);
      if (M >= 2 * P) {
        g_assert_cmpfloat(t[1], <, t[0]);
        g_assert_cmpfloat(t[1], <, (M + P - 1) * (cost[0] + cost[1] + cost[2]));
      }
      g_free(x);
    }
  pc_engine_free(e);
}

/* ------------------------------------------------------------------------------------------ */
/* Broken schedules */

/* A broken schedule never reaches the engine: pc_schedule_validate, which every builder of op
 * lists calls (pc_job_schedule), refuses it with a message naming the ops. */
static void expect_failure(const pc_schedule *s, const char *expect_exact,
                           const char *expect_part) {
  GError *err = NULL;
  g_assert_false(pc_schedule_validate(s, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_SCHEDULE);
  if (g_test_verbose())
    g_test_message("%s", err->message);
  if (expect_exact)
    g_assert_cmpstr(err->message, ==, expect_exact);
  if (expect_part && !strstr(err->message, expect_part))
    g_error("expected '%s' in: %s", expect_part, err->message);
  g_clear_error(&err);
}

static void test_deadlock_missing_send(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 3, 4);
  /* (without the SEND of mb 1, mb 2 would take its place in FIFO order: a mismatch) */
  pc_schedule_remove_op(s, 0, test_find(s, 0, PC_OP_SEND, 3, false, 0));
  expect_failure(s, "stage 1 op 9 RECV act mb 3 from stage 0: has no matching SEND", NULL);
  pc_schedule_free(s);
}

static void test_deadlock_cycle(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_1F1B, 2, 1);
  int send = test_find(s, 0, PC_OP_SEND, 0, false, 0);
  int recv = test_find(s, 0, PC_OP_RECV, 0, true, 0);
  pc_op tmp = s->stages[0].ops[send];
  pc_schedule_set_op(s, 0, send, s->stages[0].ops[recv]);
  pc_schedule_set_op(s, 0, recv, tmp);
  expect_failure(s,
                 "deadlock: stage 0 waits at op 1 RECV grad mb 0 from stage 1; "
                 "stage 1 waits at op 0 RECV act mb 0 from stage 0",
                 NULL);
  pc_schedule_free(s);
}

static void test_unreceived(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 4);
  pc_schedule_remove_op(s, 1, test_find(s, 1, PC_OP_RECV, 3, false, 0));
  int send = test_find(s, 0, PC_OP_SEND, 3, false, 0);
  char *expect = g_strdup_printf("stage 0 op %d SEND act mb 3 to stage 1: is never received",
                                 send);
  expect_failure(s, expect, NULL);
  g_free(expect);
  pc_schedule_free(s);
}

static void test_fifo_mismatch(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 2);
  pc_op r0 = s->stages[1].ops[0], f0 = s->stages[1].ops[1];
  pc_op r1 = s->stages[1].ops[2], f1 = s->stages[1].ops[3];
  pc_schedule_set_op(s, 1, 0, r1);
  pc_schedule_set_op(s, 1, 1, f1);
  pc_schedule_set_op(s, 1, 2, r0);
  pc_schedule_set_op(s, 1, 3, f0);
  expect_failure(s, NULL, "stage 1 op 0 RECV act mb 1 from stage 0: out of FIFO order");
  pc_schedule_free(s);
}

static void test_bad_ops(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 2);
  pc_op op = s->stages[0].ops[1];
  g_assert_cmpint(op.kind, ==, PC_OP_SEND);
  op.xfer = 7;
  pc_schedule_set_op(s, 0, 1, op);
  expect_failure(s, NULL, "stage 0 op 1 SEND act mb 0 to stage 1: transfer 7 out of range");
  op.xfer = 0;
  op.peer = 0;
  pc_schedule_set_op(s, 0, 1, op);
  expect_failure(s, NULL, "goes from stage 0 to stage 1");
  pc_schedule_free(s);
}

static double negative_compute(void *ud, int stage, const pc_op *op) {
  (void)ud;
  return stage == 1 && op->kind == PC_OP_BWD ? -1.0 : 1.0;
}

static void test_bad_costs(void) {
  pc_schedule *s = test_chain_schedule(PC_SCHEDULE_GPIPE, 2, 2);
  pc_sim_costs costs = {.compute = negative_compute};
  pc_engine *e = pc_engine_new();
  GError *err = NULL;
  g_assert_null(pc_engine_run(e, s, &costs, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_assert_nonnull(strstr(err->message, "stage 1 op 4 BWD mb 0: compute time -1"));
  g_clear_error(&err);
  pc_engine_free(e);
  pc_schedule_free(s);
}

/* ------------------------------------------------------------------------------------------ */
/* Determinism */

static double varied_compute(void *ud, int stage, const pc_op *op) {
  (void)ud;
  double base = op->kind == PC_OP_FWD ? 1e-3 : op->kind == PC_OP_BWD ? 2.1e-3 : 3e-4;
  return base * (1.0 + 0.1 * ((stage * 7 + op->mb * 3) % 5));
}

static double varied_message(void *ud, const pc_xfer *x, bool grad) {
  (void)ud;
  return 1.7e-4 * (1 + x->src % 3) + (grad ? 3.3e-5 : 0);
}

static const pc_sim_result *run_varied(pc_engine *e, const pc_schedule *s) {
  pc_sim_costs costs = {.compute = varied_compute, .message = varied_message,
                        .send_overhead = 1.3e-5, .recv_overhead = 2.9e-5};
  GError *err = NULL;
  const pc_sim_result *res = pc_engine_run(e, s, &costs, &err);
  g_assert_no_error(err);
  return res;
}

static void test_determinism(void) {
  for (int k = 0; k < PC_SCHEDULE_KIND_COUNT; k++) {
    pc_schedule *s = test_chain_schedule(k, 16, 32);
    pc_schedule *other = test_chain_schedule(PC_SCHEDULE_GPIPE, 5, 7);
    pc_engine *e1 = pc_engine_new(), *e2 = pc_engine_new();
    const pc_sim_result *a = run_varied(e1, s);
    /* keep a copy of run 1; run 2 on another engine; run 3 on the first after another job */
    double makespan = a->makespan;
    uint64_t nevents = a->nevents;
    pc_sim_stage *stats = g_memdup2(a->stages, sizeof(pc_sim_stage) * 16);
    pc_span **tl = g_new(pc_span *, 16);
    for (int r = 0; r < 16; r++)
      tl[r] = g_memdup2(a->timeline[r], sizeof(pc_span) * (size_t)s->stages[r].nops);
    g_assert_cmpfloat(makespan, >, 0);
    const pc_sim_result *b = run_varied(e2, s);
    run_varied(e1, other);
    const pc_sim_result *c = run_varied(e1, s);
    const pc_sim_result *runs[] = {b, c};
    for (int j = 0; j < 2; j++) {
      g_assert_true(memcmp(&runs[j]->makespan, &makespan, sizeof makespan) == 0);
      g_assert_cmpuint(runs[j]->nevents, ==, nevents);
      g_assert_true(memcmp(runs[j]->stages, stats, sizeof(pc_sim_stage) * 16) == 0);
      for (int r = 0; r < 16; r++)
        g_assert_true(memcmp(runs[j]->timeline[r], tl[r],
                             sizeof(pc_span) * (size_t)s->stages[r].nops) == 0);
    }
    for (int r = 0; r < 16; r++)
      g_free(tl[r]);
    g_free(tl);
    g_free(stats);
    pc_engine_free(e1);
    pc_engine_free(e2);
    pc_schedule_free(s);
    pc_schedule_free(other);
  }
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/engine/gpipe/uniform", test_gpipe_uniform);
  g_test_add_func("/engine/1f1b/uniform", test_1f1b_uniform);
  g_test_add_func("/engine/overheads-and-link", test_overheads_and_link);
  g_test_add_func("/engine/skip", test_skip);
  g_test_add_func("/engine/message-cpu", test_message_cpu);
  g_test_add_func("/engine/node-ports", test_node_ports);
  g_test_add_func("/engine/reduce-ports", test_reduce_ports);
  g_test_add_func("/engine/new-kinds-closed-form", test_new_kinds_closed_form);
  g_test_add_func("/engine/zb-costed-order", test_zb_costed_order);
  g_test_add_func("/engine/opt-sync", test_opt_sync);
  g_test_add_func("/engine/tie-exchange", test_tie_exchange);
  g_test_add_func("/engine/deadlock/missing-send", test_deadlock_missing_send);
  g_test_add_func("/engine/deadlock/cycle", test_deadlock_cycle);
  g_test_add_func("/engine/broken/unreceived", test_unreceived);
  g_test_add_func("/engine/broken/fifo", test_fifo_mismatch);
  g_test_add_func("/engine/broken/ops", test_bad_ops);
  g_test_add_func("/engine/broken/costs", test_bad_costs);
  g_test_add_func("/engine/determinism", test_determinism);
  return g_test_run();
}
