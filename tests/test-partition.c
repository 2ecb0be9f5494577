/* test-partition.c — partitions: the spec notation and its round trip, exact balancing against
 * brute force, validation errors, and the tensors that cross stage boundaries. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "error.h"
#include "partition.h"
#include "test-util.h"

static pc_partition *parse_ok(const pc_model *m, const char *spec, int nstages) {
  GError *error = NULL;
  pc_partition *p = pc_partition_parse(m, spec, nstages, &error);
  g_assert_no_error(error);
  g_assert_true(pc_partition_validate(m, p, &error));
  return p;
}

static void assert_round_trip(const pc_model *m, const pc_partition *p) {
  char *spec = pc_partition_format(m, p);
  pc_partition *q = parse_ok(m, spec, 0);
  if (!pc_partition_equal(p, q)) g_error("round trip of '%s' changed the partition", spec);
  char *again = pc_partition_format(m, q);
  g_assert_cmpstr(spec, ==, again);
  g_free(again);
  g_free(spec);
  pc_partition_free(q);
}

static void test_round_trip(void) {
  const char *files[] = {"mlp32.model", "vgg16.model", "resnet50.model", "tiny-resnet.model"};
  for (size_t f = 0; f < G_N_ELEMENTS(files); f++) {
    pc_model *m = pc_test_load(files[f], NULL);
    for (int P = 1; P <= 8; P++) {
      const char *specs[] = {"auto:flops", "auto:params"};
      for (size_t s = 0; s < G_N_ELEMENTS(specs); s++) {
        pc_partition *p = parse_ok(m, specs[s], P);
        g_assert_cmpint(p->nstages, ==, P);
        assert_round_trip(m, p);
        pc_partition_free(p);
      }
    }
    pc_model_free(m);
  }
}

static void test_specs(void) {
  pc_model *m = pc_test_load("mlp32.model", NULL);
  pc_partition *p = parse_ok(m, "16,16,16,16", 0);
  g_assert_cmpint(p->nstages, ==, 4);
  g_assert_cmpint(p->first[1], ==, 16);
  g_assert_cmpstr(m->layers[p->first[1]].name, ==, "fc9");
  assert_round_trip(m, p);
  pc_partition *q = parse_ok(m, " fc1..relu8 |fc9 .. relu16| fc17..relu24 | fc25..loss ", 0);
  g_assert_true(pc_partition_equal(p, q));
  pc_partition_free(q);
  q = parse_ok(m, "..relu8 | fc9..relu16 | ..relu24 | fc25..", 0); /* open ends */
  g_assert_true(pc_partition_equal(p, q));
  pc_partition_free(q);
  pc_partition_free(p);
  p = parse_ok(m, "64", 0);
  g_assert_cmpint(p->nstages, ==, 1);
  pc_partition_free(p);
  pc_model_free(m);

  m = pc_test_load("resnet50.model", NULL);
  p = parse_ok(m, "conv1..layer2.1 | layer2.2..fc", 0); /* the notation of DESIGN.md */
  g_assert_cmpstr(m->layers[p->first[1] - 1].name, ==, "layer2.1.relu");
  g_assert_cmpstr(m->layers[p->first[1]].name, ==, "layer2.2.conv1");
  g_assert_cmpint(p->first[2], ==, m->nlayers);
  pc_partition_free(p);
  p = parse_ok(m, "..layer1 | layer2 | layer3 | layer4..", 0);
  g_assert_cmpint(p->nstages, ==, 4);
  g_assert_cmpstr(m->layers[p->first[3]].name, ==, "layer4.0.conv1");
  pc_partition_free(p);
  pc_model_free(m);

  m = pc_test_load("tiny-mlp.model", NULL);
  p = parse_ok(m, "split", 0);
  g_assert_cmpint(p->nstages, ==, 2);
  g_assert_cmpstr(m->layers[p->first[1]].name, ==, "fc3");
  pc_partition_free(p);
  pc_model_free(m);
}

typedef struct {
  const char *spec;
  int nstages;
  int code;
  const char *says;
} bad_spec;

static void test_bad_specs(void) {
  static const bad_spec bad[] = {
    {"fc1..relu8 | fc9..nope", 0, PC_ERROR_PARTITION, "no layer or scope is called 'nope'"},
    {"fc1..fc9 | fc5..loss", 0, PC_ERROR_PARTITION, "stages overlap or are out of order"},
    {"fc9..loss | fc1..relu8", 0, PC_ERROR_PARTITION, "stage 0 and are in no stage"},
    {"fc1..relu8 | fc20..loss", 0, PC_ERROR_PARTITION, "fc9..relu19 between stages 0 and 1"},
    {"fc1..relu8 | fc9..fc30", 0, PC_ERROR_PARTITION, "relu30..loss after the last stage"},
    {"fc9..fc1 | fc10..loss", 0, PC_ERROR_PARTITION, "runs backwards"},
    {"fc1..relu8 | | fc9..loss", 0, PC_ERROR_PARSE, "stage 1 is empty"},
    {"fc1..relu8 | .. | fc9..loss", 0, PC_ERROR_PARSE, "'..' needs a name"},
    {"16,16,16", 0, PC_ERROR_PARTITION, "add up to 48 layers, but the model has 64"},
    {"16,16,16,17", 0, PC_ERROR_PARTITION, "add up to 65"},
    {"0,64", 0, PC_ERROR_PARTITION, "stage 0 has 0 layers"},
    {"16,,48", 0, PC_ERROR_PARSE, "expected a layer count"},
    {"auto:flops", 65, PC_ERROR_PARTITION, "65 stages but only 64 layers"},
    {"auto:flops", 0, PC_ERROR_USAGE, "needs a stage count"},
    {"auto:time", 4, PC_ERROR_PARSE, "unknown automatic partitioning 'time'"},
    {"split", 0, PC_ERROR_PARTITION, "no `split` markers"},
    {"", 0, PC_ERROR_PARSE, "empty partition spec"},
    {"16,16,16,16", 2, PC_ERROR_USAGE, "has 4 stages, but 2 were asked for"},
  };
  pc_model *m = pc_test_load("mlp32.model", NULL);
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    GError *error = NULL;
    pc_partition *p = pc_partition_parse(m, bad[i].spec, bad[i].nstages, &error);
    g_assert_null(p);
    g_assert_nonnull(error);
    if (error->code != bad[i].code || strstr(error->message, bad[i].says) == NULL)
      g_error("spec '%s': got [%d] '%s', want [%d] '%s'", bad[i].spec, error->code,
              error->message, bad[i].code, bad[i].says);
    g_error_free(error);
  }
  pc_model_free(m);
}

/* Largest stage of every contiguous split, enumerated. */
static double brute_force(const double *cost, int n, int P, int start, double worst) {
  if (P == 1) {
    double s = 0;
    for (int i = start; i < n; i++) s += cost[i];
    return fmax(worst, s);
  }
  double best = INFINITY, s = 0;
  for (int end = start + 1; end <= n - (P - 1); end++) {
    s += cost[end - 1];
    best = fmin(best, brute_force(cost, n, P - 1, end, fmax(worst, s)));
  }
  return best;
}

static double largest_stage(const double *cost, const pc_partition *p) {
  double worst = 0;
  for (int s = 0; s < p->nstages; s++) {
    double sum = 0;
    for (int i = p->first[s]; i < p->first[s + 1]; i++) sum += cost[i];
    worst = fmax(worst, sum);
  }
  return worst;
}

static void test_balance_brute_force(void) {
  const char *files[] = {"tiny-mlp.model", "tiny-cnn.model", "tiny-resnet.model"};
  for (size_t f = 0; f < G_N_ELEMENTS(files); f++) {
    pc_model *m = pc_test_load(files[f], NULL);
    int n = MIN(m->nlayers, 16); /* brute force stays small */
    double *cost = g_new(double, (size_t)n);
    for (int by = 0; by < 2; by++) {
      for (int i = 0; i < n; i++)
        cost[i] = by ? (double)pc_layer_params(&m->layers[i])
                     : pc_layer_fwd_flops(&m->layers[i]) + pc_layer_bwd_flops(&m->layers[i]);
      for (int P = 1; P <= MIN(n, 5); P++) {
        pc_partition *p = pc_partition_balance(cost, n, P, NULL);
        g_assert_nonnull(p);
        g_assert_cmpint(p->first[0], ==, 0);
        g_assert_cmpint(p->first[P], ==, n);
        for (int s = 0; s < P; s++) g_assert_cmpint(p->first[s + 1], >, p->first[s]);
        g_assert_cmpfloat(largest_stage(cost, p), ==, brute_force(cost, n, P, 0, 0));
        pc_partition_free(p);
      }
    }
    g_free(cost);
    pc_model_free(m);
  }
  /* random weights too */
  GRand *rng = g_rand_new_with_seed(7);
  for (int trial = 0; trial < 200; trial++) {
    int n = g_rand_int_range(rng, 1, 13), P = g_rand_int_range(rng, 1, n + 1);
    double cost[12];
    for (int i = 0; i < n; i++) cost[i] = g_rand_int_range(rng, 0, 100);
    pc_partition *p = pc_partition_balance(cost, n, P, NULL);
    g_assert_cmpfloat(largest_stage(cost, p), ==, brute_force(cost, n, P, 0, 0));
    pc_partition_free(p);
  }
  g_rand_free(rng);
}

static void test_auto_mlp32(void) {
  pc_model *m = pc_test_load("mlp32.model", NULL);
  pc_partition *p = parse_ok(m, "auto:flops", 4);
  /* 31 equal hidden layers plus a small last one: 8 fc layers in each of the first 3 stages */
  for (int s = 0; s < 3; s++) {
    int fcs = 0;
    for (int i = p->first[s]; i < p->first[s + 1]; i++) fcs += m->layers[i].kind == PC_LAYER_KIND_FC;
    g_assert_cmpint(fcs, ==, 8);
  }
  pc_partition_free(p);
  pc_model_free(m);
}

static void test_transfers(void) {
  pc_model *m = pc_test_load("tiny-resnet.model", NULL);
  /* Cut inside block1, after its first conv: the skip tensor (the stem's relu) crosses too. */
  pc_partition *p = parse_ok(m, "conv1..block1.conv1 | block1.bn1..", 0);
  GArray *xs = pc_partition_transfers(m, p);
  g_assert_cmpint(xs->len, ==, 2);
  const pc_xfer *a = &g_array_index(xs, pc_xfer, 0), *b = &g_array_index(xs, pc_xfer, 1);
  g_assert_cmpstr(m->layers[a->tensor].name, ==, "relu");
  g_assert_cmpint(a->bytes, ==, 8 * 8 * 8 * 4);
  g_assert_cmpstr(m->layers[b->tensor].name, ==, "block1.conv1");
  g_assert_cmpint(b->bytes, ==, 16 * 4 * 4 * 4);
  g_array_unref(xs);
  pc_partition_free(p);

  /* Three stages with the skip tensor jumping from stage 0 straight to stage 2. */
  p = parse_ok(m, "..block1.conv1 | block1.bn1..block1.bn2 | block1.downsample..", 0);
  xs = pc_partition_transfers(m, p);
  bool skip = false;
  for (guint i = 0; i < xs->len; i++) {
    const pc_xfer *x = &g_array_index(xs, pc_xfer, i);
    g_assert_cmpint(x->dst, >, x->src);
    if (x->src == 0 && x->dst == 2) {
      g_assert_cmpstr(m->layers[x->tensor].name, ==, "relu");
      skip = true;
    }
  }
  g_assert_true(skip);
  g_assert_cmpint(xs->len, ==, 3); /* relu 0->2, block1.conv1 0->1, block1.bn2 1->2 */
  g_array_unref(xs);
  pc_partition_free(p);

  /* Between blocks only the block's output crosses. */
  p = parse_ok(m, "..block1 | block2..", 0);
  xs = pc_partition_transfers(m, p);
  g_assert_cmpint(xs->len, ==, 1);
  g_assert_cmpstr(m->layers[g_array_index(xs, pc_xfer, 0).tensor].name, ==, "block1.relu");
  g_array_unref(xs);
  pc_partition_free(p);
  pc_model_free(m);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/partition/round-trip", test_round_trip);
  g_test_add_func("/partition/specs", test_specs);
  g_test_add_func("/partition/bad-specs", test_bad_specs);
  g_test_add_func("/partition/balance/brute-force", test_balance_brute_force);
  g_test_add_func("/partition/balance/mlp32", test_auto_mlp32);
  g_test_add_func("/partition/transfers", test_transfers);
  return g_test_run();
}
