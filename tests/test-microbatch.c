/* test-microbatch.c — for models without batch norm, training with M microbatches equals
 * training with one microbatch of the same batch to 1e-5 relative: splitting a minibatch changes
 * only the order in which the gradient sums are taken. (With batch norm the statistics are per
 * microbatch, so the two are different computations, as in PyTorch.) Also: the runtime calls its
 * between-layers hook once after each layer of a forward, a backward and a step, and not at all
 * once it is cleared; the hook changes no result; the split backward's two halves give the whole
 * backward's gradients. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "data.h"
#include "runtime.h"
#include "test-util.h"

static void count_call(void *data) { (*(int *)data)++; }

/* Parameters after `iters` SGD steps of batch B split into M microbatches; with CALLS, the
 * between-layers hook counts into it. */
static float *train_hooked(const pc_model *m, size_t B, int M, int iters, size_t *count,
                           int *calls) {
  pc_partition *whole = pc_partition_from_counts(m, &m->nlayers, 1, NULL);
  size_t mb = B / (size_t)M;
  pc_runtime *rt = pc_runtime_new(m, whole, 0, mb, 1, 7, 0, NULL);
  g_assert_nonnull(rt);
  if (calls) pc_runtime_set_between_layers(rt, count_call, calls);
  pc_dataset *ds = pc_model_open_data(m, "synthetic", 7, true, NULL);
  g_assert_nonnull(ds);
  pc_optim sgd = {.kind = PC_OPTIM_SGD, .lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-4f,
                  .grad_scale = 1};
  for (int it = 0; it < iters; it++) {
    for (int j = 0; j < M; j++) {
      pc_dataset_get(ds, (int64_t)(it * B + (size_t)j * mb), mb, pc_runtime_data(rt, 0),
                     pc_runtime_labels(rt, 0));
      pc_runtime_forward(rt, 0, true);
      pc_runtime_backward(rt, 0, 1.0f / (float)B);
    }
    pc_runtime_step(rt, &sgd);
  }
  float *p = pc_runtime_params(rt, count);
  float *copy = g_memdup2(p, *count * sizeof(float));
  pc_dataset_free(ds);
  pc_runtime_free(rt);
  pc_partition_free(whole);
  return copy;
}

static float *train(const pc_model *m, size_t B, int M, int iters, size_t *count) {
  return train_hooked(m, B, M, iters, count, NULL);
}

/* The hook runs after every layer of every pass and step (3 iterations of 2 microbatches: 3 x
 * (2 x 2 + 1) passes over the layers), and the weights are the same bits as without it. */
static void check_hook(void) {
  pc_model *m = pc_test_load("tiny-mlp.model", NULL);
  int calls = 0;
  size_t n_plain, n_hooked;
  float *plain = train(m, 16, 2, 3, &n_plain);
  float *hooked = train_hooked(m, 16, 2, 3, &n_hooked, &calls);
  g_assert_cmpint(calls, ==, 3 * 5 * m->nlayers);
  g_assert_cmpuint(n_plain, ==, n_hooked);
  g_assert_cmpmem(plain, n_plain * sizeof(float), hooked, n_hooked * sizeof(float));
  /* cleared: no more calls */
  pc_partition *whole = pc_partition_from_counts(m, &m->nlayers, 1, NULL);
  pc_runtime *rt = pc_runtime_new(m, whole, 0, 4, 1, 7, 0, NULL);
  int after = 0;
  pc_runtime_set_between_layers(rt, count_call, &after);
  pc_runtime_set_between_layers(rt, NULL, NULL);
  pc_runtime_forward(rt, 0, false);
  g_assert_cmpint(after, ==, 0);
  pc_runtime_free(rt);
  pc_partition_free(whole);
  g_free(plain);
  g_free(hooked);
  pc_model_free(m);
}

/* The split backward (zero-bubble schedules): every kind's input half, then its weight half
 * (fc, conv and batch norm split; the others do all in the first), ends with the gradients of
 * the whole backward bit for bit, over two microbatches that accumulate. */
static void check_split(const char *file) {
  pc_model *m = pc_test_load(file, NULL);
  pc_partition *whole = pc_partition_from_counts(m, &m->nlayers, 1, NULL);
  pc_runtime *rt = pc_runtime_new(m, whole, 0, 4, 2, 7, 0, NULL);
  pc_runtime *rs = pc_runtime_new_layout(m, whole, 0, 4, 2, 7, 0,
                                         &(pc_runtime_layout){.split = true}, NULL);
  pc_dataset *ds = pc_model_open_data(m, "synthetic", 7, true, NULL);
  for (int slot = 0; slot < 2; slot++)
    for (int k = 0; k < 2; k++) {
      pc_runtime *r = k ? rs : rt;
      pc_dataset_get(ds, 4 * slot, 4, pc_runtime_data(r, slot), pc_runtime_labels(r, slot));
      pc_runtime_forward(r, slot, true);
    }
  pc_runtime_backward(rt, 0, 0.125f);
  pc_runtime_backward(rt, 1, 0.125f);
  pc_runtime_backward_input(rs, 0, 0.125f);
  pc_runtime_backward_input(rs, 1, 0.125f);
  pc_runtime_backward_weights(rs, 0); /* the weight halves later, in microbatch order */
  pc_runtime_backward_weights(rs, 1);
  size_t n1, n2;
  float *g1 = pc_runtime_grads(rt, &n1), *g2 = pc_runtime_grads(rs, &n2);
  g_assert_cmpuint(n1, ==, n2);
  g_assert_cmpmem(g1, n1 * sizeof(float), g2, n2 * sizeof(float));
  double sum = 0;
  for (size_t i = 0; i < n1; i++) sum += fabs(g1[i]);
  g_assert_cmpfloat(sum, >, 0);
  pc_dataset_free(ds);
  pc_runtime_free(rt);
  pc_runtime_free(rs);
  pc_partition_free(whole);
  pc_model_free(m);
}

static void check_split_models(void) {
  check_split("tiny-mlp.model");
  check_split("tiny-cnn.model");
  check_split("tiny-resnet.model");
}

/* A small CNN without batch norm: conv, pools, residual, fc. */
static const char cnn[] = "input 3x8x8\n"
                          "conv c1 out=8 k=3 pad=1\nrelu r1\nmaxpool p1 k=2\n"
                          "residual add { conv c2 out=8 k=3 pad=1\nrelu r2\nconv c3 out=8 k=1 }\n"
                          "avgpool p2 k=2\nflatten f\nfc fc out=4\nsoftmax_xent loss\n";

static void check(gconstpointer data) {
  const char *file = data;
  pc_model *m = strcmp(file, "cnn") == 0 ? pc_test_model(cnn) : pc_test_load(file, NULL);
  size_t n1, n4, B = 32;
  float *one = train(m, B, 1, 4, &n1);
  g_assert_cmpuint(n1, >, 0);
  for (int M = 2; M <= 8; M *= 2) {
    float *many = train(m, B, M, 4, &n4);
    g_assert_cmpuint(n1, ==, n4);
    double worst = 0, scale = 0, moved = 0;
    for (size_t i = 0; i < n1; i++) scale = fmax(scale, fabs(one[i]));
    for (size_t i = 0; i < n1; i++) worst = fmax(worst, fabs(many[i] - one[i]) / scale);
    /* the test is not vacuous: M microbatches are a different order of sums, not the same bits */
    for (size_t i = 0; i < n1; i++) moved += many[i] != one[i];
    if (g_test_verbose())
      g_printerr("%s: M=%d: worst relative difference %.3g, %.0f of %zu parameters differ in "
                 "their last bits\n", file, M, worst, moved, n1);
    g_assert_cmpfloat(worst, <=, 1e-5);
    g_free(many);
  }
  /* and training moved the weights: the comparison is between trained models */
  float *untrained = train(m, B, 1, 0, &n4);
  double change = 0;
  for (size_t i = 0; i < n1; i++) change = fmax(change, fabs(untrained[i] - one[i]));
  g_assert_cmpfloat(change, >, 1e-3);
  g_free(untrained);
  g_free(one);
  pc_model_free(m);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_data_func("/microbatch/tiny-mlp", "tiny-mlp.model", check);
  g_test_add_data_func("/microbatch/cnn", "cnn", check);
  g_test_add_func("/microbatch/between-layers-hook", check_hook);
  g_test_add_func("/microbatch/split-backward", check_split_models);
  return g_test_run();
}
