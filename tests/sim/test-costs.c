/* test-costs.c — the simulator's cost models (sim/costs.h): the profile, net and GEMM-rate
 * readers on good files and on each kind of bad one, interpolation and extrapolation values
 * computed by hand, the ring all-reduce formula, link choice by node placement, stage costs,
 * auto:time against brute force over every partition, and pc_predict's checks. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "../test-util.h"
#include "predict.h"
#include "error.h"
#include "job.h"
#include "runtime.h"

/* ------------------------------------------------------------------------------------------ */
/* Profile */

static const char *tiny_model =
  "input 4\n"
  "fc fc1 out=8\n"
  "relu relu1\n"
  "fc fc2 out=3\n"
  "softmax_xent loss\n";

/* fc1 at mb 2 and 6; the others at mb 2, 4, 6 or a single size. */
static const char *good_profile =
  "# model test\n"
  "# overhead_s 0.25\n"
  "layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\n"
  "fc1\tfc\t6\t3.0\t5.0\t0.5\n"
  "fc1\tfc\t2\t1.0\t3.0\t1.5\n"
  "relu1\trelu\t2\t0.5\t0.5\t0\n"
  "relu1\trelu\t4\t1.0\t1.0\t0\n"
  "relu1\trelu\t6\t2.0\t2.0\t0\n"
  "fc2\tfc\t4\t2.0\t4.0\t0.25\n"
  "\n"
  "loss\tsoftmax_xent\t2\t0.125\t0.125\t0\n"
  "loss\tsoftmax_xent\t6\t0.125\t0.125\t0\n";

static pc_profile *profile_ok(const char *text) {
  GError *err = NULL;
  pc_profile *p = pc_profile_parse(text, "p.tsv", &err);
  g_assert_no_error(err);
  g_assert_nonnull(p);
  return p;
}

static void test_profile_good(void) {
  pc_profile *p = profile_ok(good_profile);
  pc_model *m = pc_test_model(tiny_model);
  GError *err = NULL;
  g_assert_true(pc_profile_check(p, m, &err));
  g_assert_no_error(err);
  g_assert_cmpstr(pc_profile_model(p), ==, "test");
  g_assert_cmpfloat(pc_profile_overhead(p), ==, 0.25);
  double f, b, o;
  bool ex = false;
  /* measured sizes exactly */
  g_assert_true(pc_profile_layer(p, "fc1", 2, false, &f, &b, &o, &ex, &err));
  g_assert_cmpfloat(f, ==, 1.0);
  g_assert_cmpfloat(b, ==, 3.0);
  g_assert_cmpfloat(o, ==, 1.0); /* mean of 0.5 and 1.5 */
  /* between: fwd 1 + (3 - 1) (3 - 2) / (6 - 2) = 1.5; bwd 3 + 2 / 4 = 3.5 */
  g_assert_true(pc_profile_layer(p, "fc1", 3, false, &f, &b, NULL, &ex, &err));
  g_assert_cmpfloat(f, ==, 1.5);
  g_assert_cmpfloat(b, ==, 3.5);
  g_assert_true(pc_profile_layer(p, "fc1", 5, false, &f, &b, NULL, &ex, &err));
  g_assert_cmpfloat(f, ==, 2.5);
  g_assert_cmpfloat(b, ==, 4.5);
  /* three sizes: 5 is between 4 and 6 -> 1.5 */
  g_assert_true(pc_profile_layer(p, "relu1", 5, false, &f, &b, NULL, &ex, &err));
  g_assert_cmpfloat(f, ==, 1.5);
  g_assert_true(pc_profile_layer(p, "relu1", 3, false, &f, NULL, NULL, &ex, &err));
  g_assert_cmpfloat(f, ==, 0.75);
  g_assert_false(ex);
  g_assert_no_error(err);
  pc_model_free(m);
  pc_profile_free(p);
}

static void test_profile_extrapolate(void) {
  pc_profile *p = profile_ok(good_profile);
  GError *err = NULL;
  double f, b;
  bool ex = false;
  /* outside the range: an error that names the layer and the range */
  g_assert_false(pc_profile_layer(p, "fc1", 8, false, &f, &b, NULL, &ex, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_assert_nonnull(strstr(err->message, "'fc1'"));
  g_assert_nonnull(strstr(err->message, "2 to 6"));
  g_assert_nonnull(strstr(err->message, "--extrapolate"));
  g_clear_error(&err);
  g_assert_false(ex);
  /* the line through (2, 1) and (6, 3) at 8: 4; at 1: 0.5 */
  g_assert_true(pc_profile_layer(p, "fc1", 8, true, &f, &b, NULL, &ex, &err));
  g_assert_cmpfloat(f, ==, 4.0);
  g_assert_cmpfloat(b, ==, 6.0);
  g_assert_true(ex);
  g_assert_true(pc_profile_layer(p, "fc1", 1, true, &f, &b, NULL, NULL, &err));
  g_assert_cmpfloat(f, ==, 0.5);
  g_assert_cmpfloat(b, ==, 2.5);
  /* from the two nearest sizes: relu1 (4, 1) and (6, 2) at 8: 3 */
  g_assert_true(pc_profile_layer(p, "relu1", 8, true, &f, NULL, NULL, NULL, &err));
  g_assert_cmpfloat(f, ==, 3.0);
  /* one size only: through the origin, fc2 2 s at 4 -> 4 s at 8 */
  g_assert_true(pc_profile_layer(p, "fc2", 8, true, &f, &b, NULL, NULL, &err));
  g_assert_cmpfloat(f, ==, 4.0);
  g_assert_cmpfloat(b, ==, 8.0);
  /* clamped at zero: a line falling below the origin */
  pc_profile *q = profile_ok("layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\n"
                             "x\tfc\t2\t1\t1\t0\nx\tfc\t4\t4\t4\t0\n");
  g_assert_true(pc_profile_layer(q, "x", 1, true, &f, NULL, NULL, NULL, &err));
  g_assert_cmpfloat(f, ==, 0.0);
  g_assert_no_error(err);
  pc_profile_free(q);
  pc_profile_free(p);
}

typedef struct {
  const char *text;
  const char *fragment; /* of the message */
} bad_case;

static void check_bad_profile(const bad_case *c) {
  GError *err = NULL;
  pc_profile *p = pc_profile_parse(c->text, "p.tsv", &err);
  g_assert_null(p);
  g_assert_error(err, PC_ERROR, PC_ERROR_FORMAT);
  if (!strstr(err->message, c->fragment))
    g_error("message '%s' lacks '%s'", err->message, c->fragment);
  g_clear_error(&err);
}

#define HDR "layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\n"

static void test_profile_bad(void) {
  static const bad_case cases[] = {
    {"layer\tkind\tmb\tfwd\tbwd_s\topt_s\nfc1\tfc\t1\t1\t1\t1\n", "p.tsv:1: bad header"},
    {"# only comments\n", "no header line"},
    {"", "no header line"},
    {"# c\n" HDR, "p.tsv: no rows"},
    {HDR "fc1\tfc\t1\t-1\t1\t1\n", "p.tsv:2: fwd_s is -1"},
    {HDR "fc1\tfc\t1\t1\tnan\t1\n", "p.tsv:2: bwd_s is nan"},
    {HDR "fc1\tfc\t1\t1\t1\tinf\n", "p.tsv:2: opt_s is inf"},
    {HDR "fc1\tfc\t1\t1\t1\t1\nfc1\tfc\t1\t2\t2\t2\n", "p.tsv:3: duplicate row for layer 'fc1'"},
    {HDR "fc1\tfc\tfour\t1\t1\t1\n", "p.tsv:2: mb: expected a number, got 'four'"},
    {HDR "fc1\tfc\t0\t1\t1\t1\n", "p.tsv:2: mb is 0"},
    {HDR "fc1\tfc\t1\t1\t1\n", "p.tsv:2: expected 6 fields, got 5"},
    {HDR "fc1\tfc\t1\t1\t1\t1\nfc1\trelu\t2\t1\t1\t1\n", "p.tsv:3: layer 'fc1' is relu here"},
    {"# overhead_s -3\n" HDR "fc1\tfc\t1\t1\t1\t1\n", "p.tsv:1: overhead_s is -3"},
    {"# c\n# optimizer lamb\n" HDR "fc1\tfc\t1\t1\t1\t1\n",
     "p.tsv:2: optimizer 'lamb': expected sgd or adamw"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) check_bad_profile(&cases[i]);
}

/* Profiles with the backward's halves (profile --split): read, interpolated as the other
 * columns, a split schedule's BWD and BWD_W from them; without them, the FLOP share. */
static void test_profile_split(void) {
  static const char *text =
    "# overhead_s 0.25\n"
    "layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\tbwd_b_s\tbwd_w_s\n"
    "fc1\tfc\t2\t1\t3\t0\t1\t2\n"
    "fc1\tfc\t6\t3\t5\t0\t3\t3\n"
    "relu1\trelu\t2\t1\t1\t0\t1\t0\n"
    "fc2\tfc\t2\t2\t4\t0\t2.5\t1.5\n"
    "loss\tsoftmax_xent\t2\t1\t1\t0\t1\t0\n";
  pc_profile *p = profile_ok(text);
  g_assert_true(pc_profile_split(p));
  GError *err = NULL;
  double b, w;
  /* between mb 2 and 6 at 4: b 1 + 2 / 2 = 2, w 2 + 1 / 2 = 2.5 */
  g_assert_true(pc_profile_layer_split(p, "fc1", 4, false, &b, &w, &err));
  g_assert_cmpfloat(b, ==, 2);
  g_assert_cmpfloat(w, ==, 2.5);
  g_assert_false(pc_profile_layer_split(p, "fc2", 4, false, &b, &w, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  g_assert_true(pc_profile_layer_split(p, "fc2", 4, true, &b, &w, &err)); /* through 0 */
  g_assert_cmpfloat(b, ==, 5);
  g_assert_cmpfloat(w, ==, 3);

  pc_model *m = pc_test_model(tiny_model);
  int counts[] = {2, 2};
  pc_partition *part = pc_partition_from_counts(m, counts, 2, &err);
  GArray *x = pc_partition_transfers(m, part);
  pc_schedule *zb = pc_schedule_new(PC_SCHEDULE_ZBH1, 2, 2, (const pc_xfer *)(void *)x->data,
                                    (int)x->len, &err);
  g_assert_no_error(err);
  pc_cost_config cfg = {.profile = p};
  pc_stage_costs *sc = pc_stage_costs_new(m, part, x, 2, &cfg, &err);
  g_assert_no_error(err);
  pc_stage_costs_bind(sc, zb);
  pc_op bwd = {.kind = PC_OP_BWD, .peer = -1, .xfer = -1}, bw = bwd;
  bw.kind = PC_OP_BWD_W;
  /* stage 0: fc1 and relu1 at mb 2: B 1 + 1 + overhead, W 2; whole 3 + 1 + overhead */
  g_assert_cmpfloat(sc->costs.compute(sc->costs.ud, 0, &bwd), ==, 0.25 + 2);
  g_assert_cmpfloat(sc->costs.compute(sc->costs.ud, 0, &bw), ==, 2);
  g_assert_cmpfloat(sc->bwd[0], ==, 0.25 + 4);
  g_assert_cmpfloat(sc->costs.compute(sc->costs.ud, 1, &bw), ==, 1.5);
  pc_stage_costs_free(sc);
  /* the same rows without the halves: fc's weight gradient is the forward's share of its
   * backward FLOPs (a half) */
  pc_profile *q = profile_ok("layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\n"
                             "fc1\tfc\t2\t1\t3\t0\nrelu1\trelu\t2\t1\t1\t0\n"
                             "fc2\tfc\t2\t2\t4\t0\nloss\tsoftmax_xent\t2\t1\t1\t0\n");
  g_assert_false(pc_profile_split(q));
  cfg.profile = q;
  sc = pc_stage_costs_new(m, part, x, 2, &cfg, &err);
  g_assert_no_error(err);
  pc_stage_costs_bind(sc, zb);
  g_assert_cmpfloat(sc->costs.compute(sc->costs.ud, 0, &bw), ==,
                    3 * (pc_layer_fwd_flops(&m->layers[0]) / pc_layer_bwd_flops(&m->layers[0])));
  g_assert_cmpfloat(sc->costs.compute(sc->costs.ud, 0, &bwd) + sc->costs.compute(sc->costs.ud, 0, &bw),
                    ==, sc->bwd[0]);
  pc_stage_costs_free(sc);
  pc_profile_free(q);
  pc_schedule_free(zb);
  g_array_unref(x);
  pc_partition_free(part);
  pc_model_free(m);
  pc_profile_free(p);

  /* bad files: a half of the two columns, a bad number in them */
  static const bad_case bad[] = {
    {"layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\tbwd_b_s\nfc1\tfc\t1\t1\t1\t1\t1\n",
     "bad header 'layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\tbwd_b_s': expected"},
    {"layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\tbwd_b_s\tbwd_w_s\nfc1\tfc\t1\t1\t1\t1\t1\t-2\n",
     "p.tsv:2: bwd_w_s is -2"},
    {"layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\tbwd_b_s\tbwd_w_s\nfc1\tfc\t1\t1\t1\t1\n",
     "p.tsv:2: expected 8 fields, got 6"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) check_bad_profile(&bad[i]);
}

static void test_profile_model_mismatch(void) {
  pc_model *m = pc_test_model(tiny_model);
  GError *err = NULL;
  /* a layer of the model is missing */
  pc_profile *p = profile_ok(HDR "fc1\tfc\t1\t1\t1\t1\nrelu1\trelu\t1\t1\t1\t1\n"
                                 "loss\tsoftmax_xent\t1\t1\t1\t1\n");
  g_assert_false(pc_profile_check(p, m, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_FORMAT);
  g_assert_nonnull(strstr(err->message, "no rows for layer 'fc2'"));
  g_clear_error(&err);
  pc_profile_free(p);
  /* a row names a layer the model lacks */
  p = profile_ok(HDR "fc1\tfc\t1\t1\t1\t1\nrelu1\trelu\t1\t1\t1\t1\nfc2\tfc\t1\t1\t1\t1\n"
                     "loss\tsoftmax_xent\t1\t1\t1\t1\nfc9\tfc\t1\t1\t1\t1\n");
  g_assert_false(pc_profile_check(p, m, &err));
  g_assert_nonnull(strstr(err->message, "p.tsv:6: layer 'fc9' is not in model"));
  g_clear_error(&err);
  pc_profile_free(p);
  /* a layer of another kind */
  p = profile_ok(HDR "fc1\tfc\t1\t1\t1\t1\nrelu1\tbn\t1\t1\t1\t1\nfc2\tfc\t1\t1\t1\t1\n"
                     "loss\tsoftmax_xent\t1\t1\t1\t1\n");
  g_assert_false(pc_profile_check(p, m, &err));
  g_assert_nonnull(strstr(err->message, "p.tsv:3: layer 'relu1' is bn in the profile but relu"));
  g_clear_error(&err);
  pc_profile_free(p);
  /* a file that does not exist */
  g_assert_null(pc_profile_load("/nonexistent/p.tsv", &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_IO);
  g_clear_error(&err);
  pc_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Net */

#define NHDR "link\tbytes\tlatency_s\tseconds_per_byte\n"

static const char *good_net =
  "# send_overhead_s 0.125\n"
  "# recv_overhead_s 0.25\n"
  NHDR
  "intra\t0\t1\t0.5\n"
  "intra\t100\t2\t0.25\n"
  "inter\t0\t10\t1\n";

static void test_net_good(void) {
  GError *err = NULL;
  pc_net *n = pc_net_parse(good_net, "n.tsv", &err);
  g_assert_no_error(err);
  g_assert_cmpfloat(n->send_overhead, ==, 0.125);
  g_assert_cmpfloat(n->recv_overhead, ==, 0.25);
  g_assert_true(pc_net_has(n, PC_LINK_INTRA));
  g_assert_true(pc_net_has(n, PC_LINK_INTER));
  /* the piece with the largest bytes <= B */
  g_assert_cmpfloat(pc_net_time(n, PC_LINK_INTRA, 10), ==, 1 + 10 * 0.5);
  g_assert_cmpfloat(pc_net_time(n, PC_LINK_INTRA, 99), ==, 1 + 99 * 0.5);
  g_assert_cmpfloat(pc_net_time(n, PC_LINK_INTRA, 100), ==, 2 + 100 * 0.25);
  g_assert_cmpfloat(pc_net_time(n, PC_LINK_INTRA, 1000), ==, 2 + 1000 * 0.25);
  g_assert_cmpfloat(pc_net_time(n, PC_LINK_INTER, 8), ==, 10 + 8);
  pc_net_free(n);
  /* without inter */
  n = pc_net_parse(NHDR "intra\t0\t1\t1\n", "n.tsv", &err);
  g_assert_no_error(err);
  g_assert_false(pc_net_has(n, PC_LINK_INTER));
  g_assert_false(n->intra_builtin);
  pc_net_free(n);
  /* inter only (calibrated with one rank per node): intra is the built-in shared memory link */
  n = pc_net_parse(NHDR "inter\t0\t10\t1\n", "n.tsv", &err);
  g_assert_no_error(err);
  g_assert_true(n->intra_builtin && pc_net_has(n, PC_LINK_INTRA));
  pc_net *d = pc_net_default();
  g_assert_cmpfloat(pc_net_time(n, PC_LINK_INTRA, 1000), ==, pc_net_time(d, PC_LINK_INTRA, 1000));
  g_assert_cmpfloat(pc_net_time(n, PC_LINK_INTER, 8), ==, 10 + 8);
  pc_net_free(d);
  pc_net_free(n);
}

static void test_net_bad(void) {
  static const bad_case cases[] = {
    {NHDR, "n.tsv: no rows"},
    {"# x\n", "no header line"},
    {"link\tbytes\tlatency\tseconds_per_byte\nintra\t0\t1\t1\n", "n.tsv:1: bad header"},
    {NHDR "intra\t100\t1\t1\nintra\t50\t1\t1\n", "n.tsv:3: message sizes of link intra must increase"},
    {NHDR "intra\t100\t1\t1\nintra\t100\t1\t1\n", "n.tsv:3: message sizes"},
    {NHDR "intra\t0\t-1\t1\n", "n.tsv:2: latency_s is -1"},
    {NHDR "intra\t0\t1\tNaN\n", "n.tsv:2: seconds_per_byte is NaN"},
    {NHDR "wifi\t0\t1\t1\n", "n.tsv:2: unknown link 'wifi'"},
    {"# send_overhead_s x\n" NHDR "intra\t0\t1\t1\n", "n.tsv:1: send_overhead_s: expected a number"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    GError *err = NULL;
    pc_net *n = pc_net_parse(cases[i].text, "n.tsv", &err);
    g_assert_null(n);
    g_assert_error(err, PC_ERROR, PC_ERROR_FORMAT);
    if (!strstr(err->message, cases[i].fragment))
      g_error("message '%s' lacks '%s'", err->message, cases[i].fragment);
    g_clear_error(&err);
  }
}

/* The executor's ring: (D - 1) * (2 k latency + c (rs + ag)), c = bytes / D in k messages of at
 * most 1 MiB, the latency of the row for one message; without measured ring rates, ag is the
 * row's seconds_per_byte and rs the slower of it and 4 GB/s. */
static void test_allreduce_formula(void) {
  GError *err = NULL;
  pc_net *n = pc_net_parse(NHDR "intra\t0\t1e-6\t1e-9\nintra\t200000\t4e-6\t5e-10\n", "n.tsv",
                           &err);
  g_assert_no_error(err);
  g_assert_cmpfloat(pc_net_allreduce(n, PC_LINK_INTRA, 1e6, 1), ==, 0.0);
  /* D = 2: a chunk of 500000 B in one message, second row: 2 * 4e-6 + 5e5 * (5e-10 + 5e-10) */
  g_assert_cmpfloat_with_epsilon(pc_net_allreduce(n, PC_LINK_INTRA, 1e6, 2), 8e-6 + 5e-4, 1e-15);
  /* D = 8: chunks of 125000 B, first row: 7 * (2e-6 + 125000 * 2e-9) */
  g_assert_cmpfloat_with_epsilon(pc_net_allreduce(n, PC_LINK_INTRA, 1e6, 8), 7 * (2e-6 + 2.5e-4),
                                 1e-15);
  /* D = 2, chunks of 4 MiB: 4 messages each way, each paying the latency */
  g_assert_cmpfloat_with_epsilon(pc_net_allreduce(n, PC_LINK_INTRA, 8388608, 2),
                                 8 * 4e-6 + 4194304 * 1e-9, 1e-15);
  /* large D: the bandwidth term tends to 2 * bytes * spb, latency grows linearly */
  double t = pc_net_allreduce(n, PC_LINK_INTRA, 1e9, 1000);
  g_assert_cmpfloat_with_epsilon(t, 2.0 * 999 / 1000 * 1e9 * 5e-10 + 2 * 999 * 4e-6, 1e-12);
  pc_net_free(n);
  /* measured ring rates replace the link's */
  n = pc_net_parse("# ring_reduce_seconds_per_byte 1e-9\n# ring_gather_seconds_per_byte 3e-10\n" NHDR
                   "intra\t0\t4e-6\t5e-10\n", "n.tsv", &err);
  g_assert_no_error(err);
  g_assert_cmpfloat_with_epsilon(pc_net_allreduce(n, PC_LINK_INTRA, 1e6, 2),
                                 8e-6 + 5e5 * 1.3e-9, 1e-15);
  g_assert_cmpfloat_with_epsilon(pc_net_allreduce(n, PC_LINK_INTRA, 3e6, 3),
                                 2 * (8e-6 + 1e6 * 1.3e-9), 1e-15);
  pc_net_free(n);
  /* the default link: 0.5 us, 5 GB/s, a sum at 4 GB/s: D = 4, chunks of 1e6 B */
  n = pc_net_default();
  g_assert_cmpfloat_with_epsilon(pc_net_allreduce(n, PC_LINK_INTRA, 4e6, 4),
                                 3 * (1e-6 + 1e6 * (2.5e-10 + 2e-10)), 1e-15);
  g_assert_cmpfloat_with_epsilon(pc_net_time(n, PC_LINK_INTRA, 5e3), 0.5e-6 + 1e-6, 1e-18);
  pc_net_free(n);
}

/* ------------------------------------------------------------------------------------------ */
/* GEMM rates */

static void test_gemm(void) {
  /* default curve: about 60 GFLOP/s large, about 35 at m = 8, n = k = 1024 */
  double big = pc_gemm_rate(NULL, 4096, 4096, 4096), small = pc_gemm_rate(NULL, 8, 1024, 1024);
  g_assert_cmpfloat(big, >, 59e9);
  g_assert_cmpfloat(big, <=, 60e9);
  g_assert_cmpfloat(small, >, 33e9);
  g_assert_cmpfloat(small, <, 37e9);
  g_assert_cmpfloat(pc_gemm_rate(NULL, 1, 1024, 1024), <, small);
  GError *err = NULL;
  pc_gemm *g = pc_gemm_parse("# measured\nm\tn\tk\tgflops\n8\t1024\t1024\t40\n"
                             "1024\t1024\t1024\t70\n64\t1024\t1024\t55\n", "g.tsv", &err);
  g_assert_no_error(err);
  g_assert_cmpint(g->n, ==, 3);
  /* nearest in log distance */
  g_assert_cmpfloat(pc_gemm_rate(g, 8, 1024, 1024), ==, 40e9);
  g_assert_cmpfloat(pc_gemm_rate(g, 4, 1024, 1024), ==, 40e9);
  g_assert_cmpfloat(pc_gemm_rate(g, 48, 1024, 1024), ==, 55e9);  /* log 48/64 < log 48/8 */
  g_assert_cmpfloat(pc_gemm_rate(g, 512, 1024, 1024), ==, 70e9);
  g_assert_cmpfloat(pc_gemm_rate(g, 4096, 4096, 4096), ==, 70e9);
  pc_gemm_free(g);
  static const bad_case cases[] = {
    {"m\tn\tk\n8\t8\t8\n", "g.tsv:1: bad header"},
    {"m\tn\tk\tgflops\n", "g.tsv: no rows"},
    {"m\tn\tk\tgflops\n8\t8\t8\t0\n", "g.tsv:2: gflops is 0"},
    {"m\tn\tk\tgflops\n8\t8\t8\t-5\n", "g.tsv:2: gflops is -5"},
    {"m\tn\tk\tgflops\n8\tx\t8\t5\n", "g.tsv:2: n: expected a number"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_assert_null(pc_gemm_parse(cases[i].text, "g.tsv", &err));
    g_assert_error(err, PC_ERROR, PC_ERROR_FORMAT);
    if (!strstr(err->message, cases[i].fragment))
      g_error("message '%s' lacks '%s'", err->message, cases[i].fragment);
    g_clear_error(&err);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Stage costs */

static void test_stage_costs(void) {
  pc_model *m = pc_test_model(tiny_model);
  pc_profile *p = profile_ok(good_profile);
  GError *err = NULL;
  pc_net *n = pc_net_parse(good_net, "n.tsv", &err);
  g_assert_no_error(err);
  int counts[] = {2, 2};
  pc_partition *part = pc_partition_from_counts(m, counts, 2, &err);
  g_assert_no_error(err);
  GArray *x = pc_partition_transfers(m, part);
  g_assert_cmpuint(x->len, ==, 1);
  pc_cost_config cfg = {.profile = p, .net = n};
  pc_stage_costs *sc = pc_stage_costs_new(m, part, x, 4, &cfg, &err);
  g_assert_no_error(err);
  /* at mb 4: fc1 2/4, relu1 1/1, fc2 2/4, loss 0.125/0.125; overhead 0.25 per op */
  g_assert_cmpfloat(sc->fwd[0], ==, 0.25 + 2 + 1);
  g_assert_cmpfloat(sc->bwd[0], ==, 0.25 + 4 + 1);
  g_assert_cmpfloat(sc->fwd[1], ==, 0.25 + 2 + 0.125);
  g_assert_cmpfloat(sc->opt[0], ==, 0.25 + 1.0 + 0);
  g_assert_cmpfloat(sc->opt[1], ==, 0.25 + 0.25 + 0);
  g_assert_cmpfloat(sc->allreduce[0], ==, 0.0);
  /* relu1's output: 8 floats per sample, 4 samples = 128 bytes -> second piece */
  g_assert_cmpfloat(sc->message[0], ==, 2 + 128 * 0.25);
  g_assert_cmpfloat(sc->costs.send_overhead, ==, 0.125);
  g_assert_cmpfloat(sc->costs.recv_overhead, ==, 0.25);
  pc_op fwd = {.kind = PC_OP_FWD, .mb = 0, .peer = -1, .xfer = -1};
  g_assert_cmpfloat(sc->costs.compute(sc->costs.ud, 1, &fwd), ==, sc->fwd[1]);
  /* found by (tensor, src, dst) without xfer_base */
  pc_xfer copy = g_array_index(x, pc_xfer, 0);
  g_assert_cmpfloat(sc->costs.message(sc->costs.ud, &copy, true), ==, sc->message[0]);
  pc_stage_costs_free(sc);
  /* a net file of one rank per node: the transfer between the two stages crosses nodes */
  pc_net *inter_only = pc_net_parse(NHDR "inter\t0\t10\t1\n", "n.tsv", &err);
  g_assert_no_error(err);
  pc_cost_config one_per_node = {.profile = p, .net = inter_only};
  sc = pc_stage_costs_new(m, part, x, 4, &one_per_node, &err);
  g_assert_no_error(err);
  g_assert_cmpint(sc->xfer_link[0], ==, PC_LINK_INTER);
  g_assert_cmpfloat(sc->message[0], ==, 10 + 128 * 1);
  pc_stage_costs_free(sc);
  pc_net_free(inter_only);
  /* outside the profile's range */
  g_assert_null(pc_stage_costs_new(m, part, x, 7, &cfg, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  cfg.extrapolate = true;
  sc = pc_stage_costs_new(m, part, x, 7, &cfg, &err);
  g_assert_no_error(err);
  g_assert_true(sc->extrapolated);
  pc_stage_costs_free(sc);

  /* placement: P = 2, D = 2. Ranks-per-node 2: each replica on its node, transfers intra,
   * all-reduce across nodes: inter. Ranks-per-node 1: everything inter. */
  cfg.extrapolate = false;
  cfg.replicas = 2;
  cfg.ranks_per_node = 2;
  sc = pc_stage_costs_new(m, part, x, 4, &cfg, &err);
  g_assert_no_error(err);
  g_assert_cmpint(sc->xfer_link[0], ==, PC_LINK_INTRA);
  g_assert_cmpint(sc->ar_link[0], ==, PC_LINK_INTER);
  /* fc1: (4*8+8) params * 4 bytes = 160 bytes; D = 2: 160 * 1 + 2 * 10 over inter */
  g_assert_cmpfloat(sc->grad_bytes[0], ==, 160.0);
  g_assert_cmpfloat(sc->allreduce[0], ==, 160.0 * 1 + 2 * 10);
  pc_stage_costs_free(sc);
  cfg.ranks_per_node = 1;
  sc = pc_stage_costs_new(m, part, x, 4, &cfg, &err);
  g_assert_cmpint(sc->xfer_link[0], ==, PC_LINK_INTER);
  g_assert_cmpfloat(sc->message[0], ==, 10 + 128 * 1.0);
  pc_stage_costs_free(sc);
  cfg.ranks_per_node = 4; /* all four ranks on one node */
  sc = pc_stage_costs_new(m, part, x, 4, &cfg, &err);
  g_assert_cmpint(sc->ar_link[0], ==, PC_LINK_INTRA);
  /* 160 bytes / 2 = 80 -> first piece: 160 * 0.5 + 2 * 1 */
  g_assert_cmpfloat(sc->allreduce[0], ==, 160 * 0.5 + 2 * 1);
  pc_stage_costs_free(sc);

  g_array_unref(x);
  pc_partition_free(part);
  pc_net_free(n);
  pc_profile_free(p);
  pc_model_free(m);
}

/* The optimizer and clipping: a step profiled for SGD scaled by the floats streamed (AdamW 8
 * against 6, clipping 1 more), none for the profile's own optimizer; with clipping the ranks'
 * OPTs meet for a reduction of ceil(log2 P) rounds of a double per layer. */
static void test_optimizer_costs(void) {
  pc_model *m = pc_test_model(tiny_model);
  pc_profile *p = profile_ok(good_profile);
  GError *err = NULL;
  pc_net *n = pc_net_parse(good_net, "n.tsv", &err);
  int counts[] = {2, 2};
  pc_partition *part = pc_partition_from_counts(m, counts, 2, &err);
  GArray *x = pc_partition_transfers(m, part);
  pc_schedule *s = pc_schedule_new(PC_SCHEDULE_1F1B, 2, 2, (const pc_xfer *)(void *)x->data,
                                   (int)x->len, &err);
  g_assert_no_error(err);
  /* stage 0's opt_s: fc1 mean 1.0, relu1 0; overhead 0.25 */
  const struct { pc_optim_kind optim; bool clip; double opt0, sync; } want[] = {
    {PC_OPTIM_SGD, false, 0.25 + 1.0, 0},
    {PC_OPTIM_ADAMW, false, 0.25 + 8.0 / 6.0, 0},
    /* 4 layers: 32 bytes, the first intra piece (1 + 32 * 0.5) and both overheads, one round */
    {PC_OPTIM_SGD, true, 0.25 + 7.0 / 6.0, 1 + 32 * 0.5 + 0.125 + 0.25},
  };
  for (size_t k = 0; k < G_N_ELEMENTS(want); k++) {
    pc_cost_config cfg = {.profile = p, .net = n, .optim = want[k].optim, .clip = want[k].clip};
    pc_stage_costs *sc = pc_stage_costs_new(m, part, x, 4, &cfg, &err);
    g_assert_no_error(err);
    pc_stage_costs_bind(sc, s);
    g_assert_cmpfloat_with_epsilon(sc->opt[0], want[k].opt0, 1e-12);
    g_assert_cmpfloat(sc->costs.opt_sync, ==, want[k].sync);
    pc_stage_costs_free(sc);
  }
  /* a profile of AdamW's step, for AdamW: as measured */
  char *text = g_strconcat("# optimizer adamw\n", good_profile, NULL);
  pc_profile *pa = profile_ok(text);
  g_assert_cmpint(pc_profile_optimizer(pa), ==, PC_OPTIM_ADAMW);
  pc_cost_config cfg = {.profile = pa, .optim = PC_OPTIM_ADAMW};
  pc_stage_costs *sc = pc_stage_costs_new(m, part, x, 4, &cfg, &err);
  g_assert_cmpfloat(sc->opt[0], ==, 0.25 + 1.0);
  pc_stage_costs_free(sc);
  pc_profile_free(pa);
  g_free(text);
  pc_schedule_free(s);
  g_array_unref(x);
  pc_partition_free(part);
  pc_net_free(n);
  pc_profile_free(p);
  pc_model_free(m);
}

/* Analytic costs: fc as GEMMs at the curve's rate, positive and growing with the microbatch. */
static void test_analytic(void) {
  pc_model *m = pc_test_load("mlp32.model", NULL);
  int L = m->nlayers;
  double *f = g_new(double, L), *b = g_new(double, L), *o = g_new(double, L), ov;
  double *f2 = g_new(double, L), *b2 = g_new(double, L);
  pc_cost_config cfg = {0};
  GError *err = NULL;
  g_assert_true(pc_costs_layers(m, &cfg, 8, f, b, o, &ov, NULL, &err));
  g_assert_true(pc_costs_layers(m, &cfg, 64, f2, b2, o, &ov, NULL, &err));
  g_assert_no_error(err);
  g_assert_cmpfloat(ov, ==, PC_COSTS_DEFAULT_OVERHEAD);
  /* fc2: 8 samples of its forward FLOPs (2 * 1024 * 1024 and the bias) at the rate of
   * (8, 1024, 1024) */
  int fc2 = pc_model_find(m, "fc2");
  double flops = pc_layer_fwd_flops(&m->layers[fc2]);
  g_assert_cmpfloat(flops, >=, 2.0 * 1024 * 1024);
  g_assert_cmpfloat(flops, <=, 2.0 * 1024 * 1025);
  g_assert_cmpfloat_with_epsilon(f[fc2], 8 * flops / pc_gemm_rate(NULL, 8, 1024, 1024), 1e-12);
  /* relu2: reads and writes 8 * 1024 floats at 10 GB/s */
  int relu2 = pc_model_find(m, "relu2");
  g_assert_cmpfloat_with_epsilon(f[relu2], 4.0 * 8 * 2048 / 10e9, 1e-15);
  /* the optimizer: 24 bytes per parameter */
  g_assert_cmpfloat_with_epsilon(o[fc2], 24.0 * (1024 * 1024 + 1024) / 10e9, 1e-12);
  for (int i = 0; i < L; i++) {
    g_assert_cmpfloat(f[i], >, 0);
    g_assert_cmpfloat(b[i], >, 0);
    g_assert_cmpfloat(f2[i], >, f[i]);
    g_assert_cmpfloat(b2[i], >, b[i]);
  }
  g_free(f);
  g_free(b);
  g_free(o);
  g_free(f2);
  g_free(b2);
  pc_model_free(m);
}

/* Gradient buckets: mlp32 at width 4096 (fc layers of 64 MiB each: a bucket each, but the small
 * last one, which joins the one below), reduced
 * bucket by bucket during the last backward. The step waits for at least the first layer's
 * bucket (made last) and for less than all of them; at width 64 (one bucket) the whole ring. */
static void test_buckets(void) {
  pc_model *m = pc_test_load("mlp32.model", "width=4096");
  int starts[128];
  int n = pc_model_grad_buckets(m, 0, m->nlayers, starts);
  int fcs = 0;
  for (int i = 0; i < m->nlayers; i++) fcs += pc_layer_params(&m->layers[i]) > 0;
  g_assert_cmpint(n, ==, fcs - 1);
  for (int k = 0; k < n; k++) {
    int top = k ? starts[k - 1] : m->nlayers;
    g_assert_cmpint(starts[k], <, top);
    int64_t params = 0;
    for (int i = starts[k]; i < top; i++) params += pc_layer_params(&m->layers[i]);
    g_assert_cmpint(4 * params, >=, k + 1 < n ? PC_BUCKET_BYTES : 1);
  }
  g_assert_cmpint(starts[n - 1], ==, 0);
  /* a range without parameters has no bucket */
  int relu = pc_model_find(m, "relu1");
  g_assert_cmpint(pc_model_grad_buckets(m, relu, relu + 1, starts), ==, 0);

  GError *err = NULL;
  pc_net *net = pc_net_parse(NHDR "intra\t0\t1e-5\t1e-9\n", "n.tsv", &err);
  g_assert_no_error(err);
  pc_partition *part = pc_partition_parse(m, "auto:flops", 1, &err);
  g_assert_no_error(err);
  GArray *x = pc_partition_transfers(m, part);
  pc_cost_config cfg = {.replicas = 2, .net = net};
  pc_stage_costs *sc = pc_stage_costs_new(m, part, x, 8, &cfg, &err);
  g_assert_no_error(err);
  double whole = pc_net_allreduce(net, PC_LINK_INTRA, sc->grad_bytes[0], 2);
  double first = pc_net_allreduce(net, PC_LINK_INTRA,
                                  4.0 * (double)pc_layer_params(&m->layers[0]), 2);
  g_assert_cmpfloat(sc->allreduce_total[0], >=, whole);
  g_assert_cmpfloat(sc->allreduce[0], >=, first * (1 - 1e-12));
  g_assert_cmpfloat(sc->allreduce[0], <, sc->allreduce_total[0]);
  double free_overlap = sc->allreduce[0];
  pc_stage_costs_free(sc);
  /* a ring beside the backward at half speed, the backward at half its rate: the all-reduce
   * costs the iteration more, and at most as if the two ran one after the other */
  pc_net *shared = pc_net_parse("# overlap_ring_slowdown 2\n# overlap_compute_share 0.5\n" NHDR
                                "intra\t0\t1e-5\t1e-9\n", "n.tsv", &err);
  g_assert_no_error(err);
  cfg.net = shared;
  sc = pc_stage_costs_new(m, part, x, 8, &cfg, &err);
  g_assert_no_error(err);
  g_assert_cmpfloat(sc->allreduce[0], >, free_overlap);
  g_assert_cmpfloat(sc->allreduce[0], <=, sc->allreduce_total[0] * (1 + 1e-12));
  pc_stage_costs_free(sc);
  cfg.net = net;
  pc_net_free(shared);
  g_array_unref(x);
  pc_partition_free(part);
  pc_model_free(m);

  m = pc_test_load("mlp32.model", "width=64");
  g_assert_cmpint(pc_model_grad_buckets(m, 0, m->nlayers, starts), ==, 1);
  part = pc_partition_parse(m, "auto:flops", 1, &err);
  x = pc_partition_transfers(m, part);
  sc = pc_stage_costs_new(m, part, x, 8, &cfg, &err);
  g_assert_no_error(err);
  g_assert_cmpfloat_with_epsilon(sc->allreduce[0], sc->allreduce_total[0], 1e-12);
  pc_stage_costs_free(sc);
  g_array_unref(x);
  pc_partition_free(part);
  pc_model_free(m);
  pc_net_free(net);
}

/* A message's work on the hosts: between nodes only, half of what the ring took from the
 * computation beside it per byte to each end (1 - 0.5 of a ring twice as slow at 3e-9). */
static void test_net_cpu(void) {
  GError *err = NULL;
  pc_net *within = pc_net_parse("# ring_gather_seconds_per_byte 3e-9\n"
                                "# overlap_compute_share 0.5\n" NHDR "intra\t0\t1e-5\t1e-9\n",
                                "n.tsv", &err);
  g_assert_no_error(err);
  g_assert_cmpfloat(pc_net_cpu(within, PC_LINK_INTER, 1e6), ==, 0); /* no inter rows */
  pc_net_free(within);
  pc_net *across = pc_net_parse("# ring_gather_seconds_per_byte 3e-9\n# overlap_ring_slowdown 2\n"
                                "# overlap_compute_share 0.5\n" NHDR "inter\t0\t1e-5\t1e-8\n",
                                "n.tsv", &err);
  g_assert_no_error(err);
  g_assert_cmpfloat_with_epsilon(pc_net_cpu(across, PC_LINK_INTER, 1e6), 1.5e-3, 1e-15);
  g_assert_cmpfloat(pc_net_cpu(across, PC_LINK_INTRA, 1e6), ==, 0);
  pc_net_free(across);
  across = pc_net_parse(NHDR "inter\t0\t1e-5\t1e-8\n", "n.tsv", &err); /* no share recorded */
  g_assert_no_error(err);
  g_assert_cmpfloat(pc_net_cpu(across, PC_LINK_INTER, 1e6), ==, 0);
  pc_net_free(across);
}

/* ------------------------------------------------------------------------------------------ */
/* auto:time against brute force */

/* Stage times of PART computed from the partition's own transfer list. */
static double brute_bottleneck(const pc_model *m, const pc_partition *part, const double *compute,
                               const double *tensor, double fixed) {
  GArray *x = pc_partition_transfers(m, part);
  double worst = 0;
  for (int s = 0; s < part->nstages; s++) {
    double t = fixed;
    for (int i = part->first[s]; i < part->first[s + 1]; i++) t += compute[i];
    for (guint k = 0; k < x->len; k++) {
      const pc_xfer *xf = &g_array_index(x, pc_xfer, k);
      if (xf->dst == s) t += tensor[xf->tensor];
      if (xf->src == s) {
        bool first = true; /* each tensor sent counts once */
        for (guint j = 0; j < k; j++)
          first = first && !(g_array_index(x, pc_xfer, j).src == s &&
                             g_array_index(x, pc_xfer, j).tensor == xf->tensor);
        if (first) t += tensor[xf->tensor];
      }
    }
    worst = MAX(worst, t);
  }
  g_array_unref(x);
  return worst;
}

/* Every partition of L layers into S stages: cuts c[1..S-1]. */
static double brute_force(const pc_model *m, int S, const double *compute, const double *tensor,
                          double fixed, int64_t *count) {
  int L = m->nlayers;
  pc_partition part = {.nstages = S, .first = g_new0(int, S + 1)};
  for (int s = 0; s <= S; s++) part.first[s] = s < S ? s : L;
  double best = INFINITY;
  for (;;) {
    best = MIN(best, brute_bottleneck(m, &part, compute, tensor, fixed));
    (*count)++;
    /* next combination of cuts 0 < first[1] < ... < first[S-1] < L */
    int s = S - 1;
    while (s >= 1 && part.first[s] == L - (S - s)) s--;
    if (s < 1) break;
    part.first[s]++;
    for (int t = s + 1; t < S; t++) part.first[t] = part.first[t - 1] + 1;
  }
  g_free(part.first);
  return best;
}

static void check_min_time(const char *model_file) {
  pc_model *m = pc_test_load(model_file, NULL);
  int L = m->nlayers;
  GRand *r = g_rand_new_with_seed(42);
  double *compute = g_new(double, L), *tensor = g_new(double, L);
  for (int trial = 0; trial < 4; trial++) {
    for (int i = 0; i < L; i++) {
      compute[i] = g_rand_double_range(r, 0.1, 3.0);
      /* communication from free to as costly as compute */
      tensor[i] = trial == 0 ? 0 : g_rand_double_range(r, 0, trial * 0.8);
    }
    for (int S = 1; S <= MIN(L, 5); S++) {
      GError *err = NULL;
      double dp;
      pc_partition *p = pc_partition_min_time(m, compute, tensor, 0.5, S, &dp, &err);
      g_assert_no_error(err);
      g_assert_true(pc_partition_validate(m, p, &err));
      int64_t count = 0;
      double bf = brute_force(m, S, compute, tensor, 0.5, &count);
      g_assert_cmpfloat_with_epsilon(dp, bf, 1e-9);
      /* the partition returned achieves it, measured the brute-force way */
      g_assert_cmpfloat_with_epsilon(brute_bottleneck(m, p, compute, tensor, 0.5), bf, 1e-9);
      g_assert_cmpint(count, >, 0);
      pc_partition_free(p);
    }
  }
  GError *err = NULL;
  g_assert_null(pc_partition_min_time(m, compute, tensor, 0, L + 1, NULL, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_PARTITION);
  g_clear_error(&err);
  g_free(compute);
  g_free(tensor);
  g_rand_free(r);
  pc_model_free(m);
}

static void test_min_time_mlp(void) { check_min_time("tiny-mlp.model"); }
/* cuts inside residual blocks: skip tensors cross stages */
static void test_min_time_resnet(void) { check_min_time("tiny-resnet.model"); }

/* Communication changes the answer: with a costly tensor between two layers, the cut avoids it. */
static void test_min_time_avoids_costly_cut(void) {
  pc_model *m = pc_test_model("input 4\nfc a out=4\nfc b out=4\nfc c out=4\nfc d out=4\n");
  double compute[] = {1, 1, 1, 1};
  double cheap[] = {0, 0, 0, 0}, costly[] = {0, 5, 0, 0}; /* b's output */
  GError *err = NULL;
  double bn;
  pc_partition *p = pc_partition_min_time(m, compute, cheap, 0, 2, &bn, &err);
  g_assert_cmpint(p->first[1], ==, 2);
  g_assert_cmpfloat(bn, ==, 2);
  pc_partition_free(p);
  p = pc_partition_min_time(m, compute, costly, 0, 2, &bn, &err);
  g_assert_no_error(err);
  g_assert_cmpint(p->first[1], !=, 2);
  g_assert_cmpfloat(bn, ==, 3);
  pc_partition_free(p);
  pc_model_free(m);
}

/* Samples files pooled into a profile: each (layer, mb) over every sample of every file, by the
 * statistic asked for; the errors name the file and line. */
static void test_profile_samples(void) {
  char *dir = g_dir_make_tmp("pc-samples-XXXXXX", NULL);
  g_assert_nonnull(dir);
  char *a = g_build_filename(dir, "a.tsv", NULL), *b = g_build_filename(dir, "b.tsv", NULL);
  char *bad = g_build_filename(dir, "bad.tsv", NULL);
#define SHDR "layer\tkind\tmb\trank\trep\tfwd_s\tbwd_s\topt_s\n"
  g_assert_true(g_file_set_contents(a, "# model test\n# overhead_s 0.5\n" SHDR
                                    "fc1\tfc\t2\t0\t0\t1\t10\t0\n"
                                    "fc1\tfc\t2\t0\t1\t2\t20\t0\n"
                                    "fc1\tfc\t4\t1\t0\t8\t8\t1\n", -1, NULL));
  g_assert_true(g_file_set_contents(b, SHDR "fc1\tfc\t2\t1\t0\t6\t60\t0\n", -1, NULL));
  g_assert_true(g_file_set_contents(bad, SHDR "fc1\tconv\t2\t0\t0\t1\t1\t0\n", -1, NULL));
  bool is = false;
  g_assert_true(pc_profile_is_samples(a, &is, NULL) && is);
  const char *both[] = {a, b};
  /* fwd at mb 2: samples 1, 2 and 6: median 2, mean 3, min 1 */
  const struct {
    pc_profile_stat stat;
    double fwd, bwd;
  } want[] = {{PC_PROFILE_MEDIAN, 2, 20}, {PC_PROFILE_MEAN, 3, 30}, {PC_PROFILE_MIN, 1, 10}};
  for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
    GError *err = NULL;
    pc_profile *p = pc_profile_load_samples(both, 2, want[i].stat, &err);
    g_assert_no_error(err);
    double f, bw;
    g_assert_true(pc_profile_layer(p, "fc1", 2, false, &f, &bw, NULL, NULL, &err));
    g_assert_cmpfloat(f, ==, want[i].fwd);
    g_assert_cmpfloat(bw, ==, want[i].bwd);
    g_assert_true(pc_profile_layer(p, "fc1", 4, false, &f, NULL, NULL, NULL, &err));
    g_assert_cmpfloat(f, ==, 8);
    g_assert_cmpstr(pc_profile_model(p), ==, "test");
    g_assert_cmpfloat(pc_profile_overhead(p), ==, 0.5);
    pc_profile_free(p);
  }
  GError *err = NULL;
  const char *clash[] = {a, bad};
  g_assert_null(pc_profile_load_samples(clash, 2, PC_PROFILE_MEDIAN, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_FORMAT);
  g_assert_nonnull(strstr(err->message, "bad.tsv:2: layer 'fc1' is conv here but fc in"));
  g_clear_error(&err);
  /* split samples pool with split samples only; the halves pool as the other columns */
  char *split = g_build_filename(dir, "split.tsv", NULL);
  g_assert_true(g_file_set_contents(split, "layer\tkind\tmb\trank\trep\tfwd_s\tbwd_s\topt_s\t"
                                    "bwd_b_s\tbwd_w_s\nfc1\tfc\t2\t0\t0\t1\t3\t0\t2\t1\n"
                                    "fc1\tfc\t2\t0\t1\t1\t3\t0\t4\t5\n", -1, NULL));
  const char *halves[] = {split, a};
  g_assert_null(pc_profile_load_samples(halves, 2, PC_PROFILE_MEDIAN, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_FORMAT);
  g_assert_nonnull(strstr(err->message, "a.tsv:4: lacks the columns bwd_b_s and bwd_w_s"));
  g_clear_error(&err);
  pc_profile *ps = pc_profile_load_samples(halves, 1, PC_PROFILE_MEAN, &err);
  g_assert_no_error(err);
  double hb, hw;
  g_assert_true(pc_profile_split(ps));
  g_assert_true(pc_profile_layer_split(ps, "fc1", 2, false, &hb, &hw, &err));
  g_assert_cmpfloat(hb, ==, 3);
  g_assert_cmpfloat(hw, ==, 3);
  pc_profile_free(ps);
  g_remove(split);
  g_free(split);
  pc_profile_stat s;
  g_assert_false(pc_profile_stat_from_name("mode", &s, &err));
  g_assert_nonnull(strstr(err->message, "--profile-stat 'mode'"));
  g_clear_error(&err);
  /* a profile is not a samples file, and the loader says which flag pools them */
  g_assert_true(g_file_set_contents(bad, good_profile, -1, NULL));
  g_assert_true(pc_profile_is_samples(bad, &is, NULL) && !is);
  g_assert_false(pc_profile_is_samples("/nonexistent/s.tsv", &is, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_IO);
  g_clear_error(&err);
  pc_cost_config cfg = {0};
  const char *mixed[] = {a, bad, NULL};
  g_assert_false(pc_cost_config_load(&cfg, mixed, NULL, NULL, NULL, &err));
  g_assert_nonnull(strstr(err->message, "only samples files"));
  g_clear_error(&err);
  const char *one[] = {bad, NULL};
  g_assert_false(pc_cost_config_load(&cfg, one, "min", NULL, NULL, &err));
  g_assert_nonnull(strstr(err->message, "--profile-stat goes with samples files"));
  g_clear_error(&err);
  g_assert_true(pc_cost_config_load(&cfg, one, NULL, NULL, NULL, &err));
  pc_cost_config_clear(&cfg);
#undef SHDR
  for (const char *const *f = (const char *const[]){a, b, bad, NULL}; *f; f++) g_remove(*f);
  g_rmdir(dir);
  g_free(a);
  g_free(b);
  g_free(bad);
  g_free(dir);
}

/* The resolver's partition with the simulator's layer times: spec, stages, by. */
static pc_partition *time_partition(const pc_model *m, const char *spec, int stages,
                                    const char *by, pc_cost_config *cfg, int ranks,
                                    pc_job_source *source, GError **err) {
  pc_job_request req = {.partition = spec, .stages = stages, .by = by, .ranks = ranks,
                        .times = pc_costs_layer_times, .times_ud = cfg};
  return pc_job_partition(m, &req, 4, source, err);
}

/* auto:time from a profile needs a profile, and uses it; the resolver's policy */
static void test_partition_time_cfg(void) {
  pc_model *m = pc_test_model(tiny_model);
  pc_cost_config cfg = {0};
  pc_job_source src;
  GError *err = NULL;
  g_assert_null(time_partition(m, "auto:time", 2, NULL, &cfg, 0, &src, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_assert_nonnull(strstr(err->message, "--profile"));
  g_clear_error(&err);
  g_assert_null(time_partition(m, NULL, 2, "weight", &cfg, 0, &src, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  /* --by with a spec is refused; auto:time without a stage count or ranks too */
  g_assert_null(time_partition(m, "1,3", 0, "flops", &cfg, 0, &src, &err));
  g_assert_nonnull(strstr(err->message, "--by goes with --stages"));
  g_clear_error(&err);
  g_assert_null(time_partition(m, "auto:time", 0, NULL, &cfg, 0, &src, &err));
  g_assert_nonnull(strstr(err->message, "needs a stage count"));
  g_clear_error(&err);
  pc_profile *p = profile_ok(good_profile);
  cfg.profile = p;
  pc_partition *a = time_partition(m, "auto:time", 2, NULL, &cfg, 0, &src, &err);
  g_assert_cmpint(src, ==, PC_JOB_FROM_SPEC);
  pc_partition *b = time_partition(m, NULL, 2, "time", &cfg, 0, &src, &err);
  g_assert_cmpint(src, ==, PC_JOB_FROM_STAGES);
  g_assert_no_error(err);
  g_assert_true(pc_partition_equal(a, b));
  /* at mb 4: fc1 + relu1 = 6 + 2 against fc2 + loss = 6 + 0.25; cutting after fc1 gives 8.25 */
  g_assert_cmpint(a->first[1], ==, 2);
  pc_partition_free(a);
  pc_partition_free(b);
  /* auto:time on 2 ranks takes its stage count from them */
  a = time_partition(m, "auto:time", 0, NULL, &cfg, 2, &src, &err);
  g_assert_no_error(err);
  g_assert_cmpint(a->nstages, ==, 2);
  pc_partition_free(a);
  /* no spec, no stages, no split markers: one stage without ranks, the ranks' count with */
  a = time_partition(m, NULL, 0, NULL, &cfg, 0, &src, &err);
  g_assert_cmpint(a->nstages, ==, 1);
  g_assert_cmpint(src, ==, PC_JOB_WHOLE);
  pc_partition_free(a);
  a = time_partition(m, NULL, 0, NULL, &cfg, 2, &src, &err);
  g_assert_cmpint(a->nstages, ==, 2);
  g_assert_cmpint(src, ==, PC_JOB_FROM_RANKS);
  pc_partition_free(a);
  pc_profile_free(p);
  pc_model_free(m);
}

/* The split markers: used without a stage count when no ranks are given or the ranks give
 * markers + 1 stages; --stages or another rank count balances instead. */
static void test_job_markers(void) {
  pc_model *m = pc_test_load("tiny-mlp.model", NULL);
  g_assert_cmpint(m->nsplits, >, 0);
  pc_job_source src;
  GError *err = NULL;
  int n = m->nsplits + 1;
  const struct {
    int stages, ranks;
    pc_job_source want;
    int nstages;
  } cases[] = {
    {0, 0, PC_JOB_FROM_MARKERS, n}, {0, n, PC_JOB_FROM_MARKERS, n},
    {0, 1, PC_JOB_FROM_RANKS, 1},   {n, 0, PC_JOB_FROM_STAGES, n},
  };
  pc_partition *split = pc_partition_parse(m, "split", 0, &err);
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    pc_partition *p = time_partition(m, NULL, cases[i].stages, NULL, NULL, cases[i].ranks, &src,
                                     &err);
    g_assert_no_error(err);
    g_assert_cmpint(src, ==, cases[i].want);
    g_assert_cmpint(p->nstages, ==, cases[i].nstages);
    if (cases[i].want == PC_JOB_FROM_MARKERS) g_assert_true(pc_partition_equal(p, split));
    pc_partition_free(p);
  }
  pc_partition_free(split);
  pc_model_free(m);
}

/* The batch rules and the rank count, each refused with its own message. */
static void test_job_rules(void) {
  pc_model *m = pc_test_load("tiny-mlp.model", NULL);
  const struct {
    int batch, micro, replicas, ranks;
    const char *spec, *message;
  } bad[] = {
    {0, 1, 1, 0, NULL, "--batch must be positive, got 0"},
    {8, -1, 1, 0, NULL, "--microbatches must be positive, got -1"},
    {8, 1, 3, 0, NULL, "--batch 8 is not divisible by --replicas 3"},
    {8, 16, 1, 0, NULL, "--microbatches 16 is more than the 8 samples of a minibatch"},
    {8, 3, 1, 0, NULL, "the minibatch of 8 samples is not divisible by --microbatches 3"},
    {8, 3, 2, 0, NULL, "the minibatch of 4 samples per replica is not divisible by"},
    {8, 1, 2, 3, NULL, "3 ranks cannot hold 2 replicas"},
    {8, 1, 1, 2, "2,2,2,2", "the partition has 4 stages, so the job needs 4 ranks, but it has 2"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    GError *err = NULL;
    pc_job_request req = {.partition = bad[i].spec, .batch = bad[i].batch, .micro = bad[i].micro,
                          .replicas = bad[i].replicas, .ranks = bad[i].ranks};
    g_assert_null(pc_job_resolve(m, &req, &err));
    g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
    if (!strstr(err->message, bad[i].message)) g_error("case %zu: %s", i, err->message);
    g_clear_error(&err);
  }
  GError *err = NULL;
  pc_job_request ok = {.partition = "split", .schedule = "1f1b", .batch = 8, .micro = 2,
                       .replicas = 2, .ranks = 2 * (m->nsplits + 1)};
  pc_job *job = pc_job_resolve(m, &ok, &err);
  g_assert_no_error(err);
  g_assert_cmpint(job->mb, ==, 2);
  g_assert_cmpint(job->nstages, ==, m->nsplits + 1);
  g_assert_cmpint(job->sched->kind, ==, PC_SCHEDULE_1F1B);
  g_assert_cmpint(job->sched->nmicro, ==, 2);
  pc_job_free(job);
  pc_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* pc_predict */

static void test_predict(void) {
  pc_model *m = pc_test_load("tiny-mlp.model", NULL);
  GError *err = NULL;
  pc_partition *part = pc_partition_parse(m, "split", 0, &err);
  pc_engine *e = pc_engine_new();
  pc_cost_config cfg = {0};
  pc_prediction *p = pc_predict(e, m, part, PC_SCHEDULE_1F1B, 16, 4, &cfg, &err);
  g_assert_no_error(err);
  g_assert_cmpint(p->mb, ==, 4);
  g_assert_cmpfloat(p->makespan, >, 0);
  for (int s = 0; s < p->nstages; s++) {
    g_assert_cmpuint(p->memory[s], ==,
                     pc_runtime_bytes(m, part, s, 4, p->stages[s].peak_inflight));
    g_assert_cmpfloat(p->stages[s].finish, <=, p->makespan);
  }
  /* deterministic */
  pc_prediction *q = pc_predict(e, m, part, PC_SCHEDULE_1F1B, 16, 4, &cfg, &err);
  g_assert_cmpfloat(p->makespan, ==, q->makespan);
  pc_prediction_free(q);
  /* replicas: the per-replica batch, and the all-reduce lengthens the iteration */
  cfg.replicas = 4;
  q = pc_predict(e, m, part, PC_SCHEDULE_1F1B, 64, 4, &cfg, &err);
  g_assert_no_error(err);
  g_assert_cmpint(q->mb, ==, 4);
  g_assert_cmpfloat(q->makespan, >, p->makespan);
  g_assert_cmpfloat(q->costs->allreduce[0], >, 0);
  pc_prediction_free(q);
  pc_prediction_free(p);
  /* bad batches */
  cfg.replicas = 1;
  g_assert_null(pc_predict(e, m, part, PC_SCHEDULE_1F1B, 10, 4, &cfg, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  g_assert_null(pc_predict(e, m, part, PC_SCHEDULE_1F1B, 2, 4, &cfg, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  g_assert_null(pc_predict(e, m, part, PC_SCHEDULE_1F1B, 0, 1, &cfg, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  g_assert_cmpfloat(pc_ideal_speedup(4, 8), ==, 32.0 / 11);
  pc_engine_free(e);
  pc_partition_free(part);
  pc_model_free(m);
}

/* pc_prediction_replay: the op lists run again with given compute durations */
static void test_replay(void) {
  pc_model *m = pc_test_load("tiny-mlp.model", NULL);
  GError *err = NULL;
  pc_partition *part = pc_partition_parse(m, "split", 0, &err);
  g_assert_no_error(err);
  pc_engine *e = pc_engine_new();
  pc_cost_config cfg = {.replicas = 2};
  pc_prediction *p = pc_predict(e, m, part, PC_SCHEDULE_1F1B, 32, 4, &cfg, &err);
  g_assert_no_error(err);
  g_assert_cmpint(p->nstages, >, 1);
  g_assert_cmpfloat(p->costs->allreduce[0], >, 0);
  const pc_schedule *sc = p->sched;
  double **dur = g_new0(double *, (size_t)p->nstages);
  for (int s = 0; s < p->nstages; s++) {
    dur[s] = g_new0(double, (size_t)sc->stages[s].nops);
    for (int i = 0; i < sc->stages[s].nops; i++) {
      const pc_op *op = &sc->stages[s].ops[i];
      dur[s][i] = op->kind == PC_OP_FWD   ? p->costs->fwd[s]
                  : op->kind == PC_OP_BWD ? p->costs->bwd[s]
                  : op->kind == PC_OP_OPT ? p->costs->opt[s] + p->costs->allreduce[s]
                                          : -1.0; /* not read: messages are modelled */
    }
  }
  /* the model's own durations replay to the same timeline (up to the send overhead that the
   * all-reduce's tail may hide) */
  double makespan = p->makespan, opt0 = p->costs->opt[0] + p->costs->allreduce[0];
  double so = p->costs->costs.send_overhead;
  pc_span last = p->timeline[1][sc->stages[1].nops - 1];
  g_assert_true(pc_prediction_replay(e, p, dur, &err));
  g_assert_no_error(err);
  g_assert_cmpfloat_with_epsilon(p->makespan, makespan, so + 1e-15);
  g_assert_cmpfloat_with_epsilon(p->timeline[1][sc->stages[1].nops - 1].end, last.end,
                                 so + 1e-15);
  g_assert_cmpfloat(p->costs->opt[0], ==, opt0); /* a measured OPT holds its all-reduce */
  g_assert_cmpfloat(p->costs->allreduce[0], ==, 0);
  /* one op longer by X: the iteration is longer by at most X, and not shorter */
  int first_fwd = 0;
  while (sc->stages[0].ops[first_fwd].kind != PC_OP_FWD) first_fwd++;
  dur[0][first_fwd] += 1e-3;
  g_assert_true(pc_prediction_replay(e, p, dur, &err));
  g_assert_cmpfloat(p->makespan, >, makespan);
  g_assert_cmpfloat(p->makespan, <=, makespan + 1e-3 * (1 + 1e-12));
  g_assert_cmpfloat(p->timeline[0][first_fwd].end - p->timeline[0][first_fwd].start, >=,
                    p->costs->fwd[0]);
  /* a negative duration: an error, and the prediction is left as it was */
  double before = p->makespan;
  dur[1][sc->stages[1].nops - 1] = -1.0;
  g_assert_false(pc_prediction_replay(e, p, dur, &err));
  g_assert_error(err, PC_ERROR, PC_ERROR_USAGE);
  g_clear_error(&err);
  g_assert_cmpfloat(p->makespan, ==, before);
  for (int s = 0; s < p->nstages; s++) g_free(dur[s]);
  g_free(dur);
  pc_prediction_free(p);
  pc_engine_free(e);
  pc_partition_free(part);
  pc_model_free(m);
}

/* With chunks on ranks a node each, a message crosses nodes as the ranks holding its two chunks
 * do: interleaved's every boundary does, ZB-V's middle one (rank 1 passing to itself) does not. */
static void test_chunk_links(void) {
  GError *err = NULL;
  pc_model *m = pc_test_model("input 4\nfc a out=4\nfc b out=4\nfc c out=4\nfc d out=4\n"
                              "softmax_xent loss\n");
  int counts[] = {1, 1, 1, 2};
  pc_partition *part = pc_partition_from_counts(m, counts, 4, &err);
  g_assert_no_error(err);
  GArray *x = pc_partition_transfers(m, part);
  g_assert_cmpint(x->len, ==, 3);
  char *text = g_strconcat("# overlap_compute_share 0.5\n", good_net, NULL);
  pc_net *net = pc_net_parse(text, "n.tsv", &err);
  g_free(text);
  g_assert_no_error(err);
  pc_cost_config cfg = {.net = net, .ranks_per_node = 1};
  const pc_schedule_kind kinds[] = {PC_SCHEDULE_INTERLEAVED, PC_SCHEDULE_ZBV};
  for (int k = 0; k < 2; k++) {
    pc_schedule *s = pc_schedule_new_chunks(kinds[k], 2, 4, 2, NULL,
                                            (const pc_xfer *)(void *)x->data, (int)x->len, &err);
    g_assert_no_error(err);
    pc_stage_costs *sc = pc_stage_costs_new(m, part, x, 1, &cfg, &err);
    g_assert_no_error(err);
    pc_stage_costs_bind(sc, s);
    for (int t = 0; t < 3; t++) {
      bool middle_on_one_rank = kinds[k] == PC_SCHEDULE_ZBV && t == 1;
      g_assert_cmpint(sc->xfer_link[t], ==, middle_on_one_rank ? PC_LINK_INTRA : PC_LINK_INTER);
      g_assert_cmpfloat(sc->message[t], ==,
                        pc_net_time(net, sc->xfer_link[t], (double)sc->xfers[t].bytes));
      /* the hosts' work goes with the link: none for the message a rank passes to itself */
      double cpu = pc_net_cpu(net, PC_LINK_INTER, (double)sc->xfers[t].bytes);
      g_assert_cmpfloat(cpu, >, 0);
      g_assert_cmpfloat(sc->message_cpu[t], ==, middle_on_one_rank ? 0 : cpu);
    }
    pc_stage_costs_free(sc);
    pc_schedule_free(s);
  }
  pc_net_free(net);
  g_array_unref(x);
  pc_partition_free(part);
  pc_model_free(m);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/costs/profile/good", test_profile_good);
  g_test_add_func("/costs/profile/extrapolate", test_profile_extrapolate);
  g_test_add_func("/costs/profile/bad", test_profile_bad);
  g_test_add_func("/costs/profile/model-mismatch", test_profile_model_mismatch);
  g_test_add_func("/costs/profile/samples", test_profile_samples);
  g_test_add_func("/costs/profile/split", test_profile_split);
  g_test_add_func("/costs/net/good", test_net_good);
  g_test_add_func("/costs/net/bad", test_net_bad);
  g_test_add_func("/costs/net/allreduce", test_allreduce_formula);
  g_test_add_func("/costs/net/message-cpu", test_net_cpu);
  g_test_add_func("/costs/gemm", test_gemm);
  g_test_add_func("/costs/stage", test_stage_costs);
  g_test_add_func("/costs/chunk-links", test_chunk_links);
  g_test_add_func("/costs/optimizer", test_optimizer_costs);
  g_test_add_func("/costs/analytic", test_analytic);
  g_test_add_func("/costs/buckets", test_buckets);
  g_test_add_func("/costs/auto-time/brute-force-mlp", test_min_time_mlp);
  g_test_add_func("/costs/auto-time/brute-force-resnet", test_min_time_resnet);
  g_test_add_func("/costs/auto-time/costly-cut", test_min_time_avoids_costly_cut);
  g_test_add_func("/costs/auto-time/config", test_partition_time_cfg);
  g_test_add_func("/job/markers", test_job_markers);
  g_test_add_func("/job/rules", test_job_rules);
  g_test_add_func("/costs/predict", test_predict);
  g_test_add_func("/costs/replay", test_replay);
  return g_test_run();
}
