/* softmax_xent.c — softmax cross-entropy loss over class logits (C) with integer labels, or over
 * a sequence's logits (T, C) with a label at every position (a language model's loss: the mean
 * over the T positions). Output is the per-sample loss (1); it keeps the probabilities for
 * backward. Its gradient is scaled by 1/B for the whole minibatch B (and 1/T over a sequence),
 * so gradients summed over microbatches equal the gradient of the minibatch's mean loss. */
#include "kernels.h"
#include "layer-private.h"

static bool xent_infer(pc_layer *l, GError **error) {
  if (!pc_layer_need_rows(l, error)) return false;
  if (pc_layer_row(l) < 2) {
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
                "softmax_xent needs at least 2 classes, got %zu", pc_layer_row(l));
    return false;
  }
  l->out = (pc_shape){.ndim = 1, .d = {1, 0, 0}};
  return true;
}

/* max, exp, sum, divide, log: about 4 operations per class. */
static double xent_fwd_flops(const pc_layer *l) {
  return 4.0 * pc_layer_in_elems(l);
}

static int64_t xent_saved(const pc_layer *l) {
  size_t T = pc_layer_rows(l);
  return (pc_shape_numel(&l->in[0]) + (T > 1 ? (int64_t)T : 0)) * (int64_t)sizeof(float);
}

/* Runtime: the output holds the per-sample losses; `saved` the probabilities, then over a
 * sequence each position's loss. */

static size_t xent_saved_floats(const pc_layer *l, size_t n) {
  size_t T = pc_layer_rows(l);
  return n * T * pc_layer_row(l) + (T > 1 ? n * T : 0);
}

static void xent_forward(const pc_layer *l, pc_layer_io *io) {
  size_t T = pc_layer_rows(l), C = pc_layer_row(l);
  float *losses = T > 1 ? io->saved + io->n * T * C : io->out;
  size_t correct = pc_softmax_xent_forward(io->saved, losses, io->in[0], io->labels, io->n * T, C);
  double sum = 0;
  for (size_t i = 0; i < io->n; i++) {
    if (T > 1) { /* the sample's mean over its positions */
      double s = 0;
      for (size_t t = 0; t < T; t++) s += losses[i * T + t];
      io->out[i] = (float)(s / (double)T);
    }
    sum += io->out[i];
  }
  io->loss_sum = sum;
  io->correct = (double)correct / (double)T;
}

static void xent_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  size_t T = pc_layer_rows(l);
  pc_softmax_xent_backward(io->din[0], io->saved, io->labels, io->n * T, pc_layer_row(l),
                           io->scale / (float)T);
}

const pc_layer_ops pc_layer_softmax_xent = {
  .name = "softmax_xent",
  .summary = "softmax cross-entropy loss (last layer), per position of a sequence",
  .ninputs = 1,
  .infer = xent_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = xent_fwd_flops,
  .bwd_flops = pc_layer_in_elems,
  .saved_bytes = xent_saved,
  .saved_floats = xent_saved_floats,
  .forward = xent_forward,
  .backward = xent_backward,
};
