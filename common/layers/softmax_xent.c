/* softmax_xent.c — softmax cross-entropy loss over class logits (C) with integer labels.
 * Output is the per-sample loss (1); it keeps the probabilities for backward. Its gradient is
 * scaled by 1/B for the whole minibatch B, so gradients summed over microbatches equal the
 * minibatch's gradient. */
#include "kernels.h"
#include "layer-private.h"

static bool xent_infer(pc_layer *l, GError **error) {
  if (!pc_layer_need_flat(l, error)) return false;
  if (l->in[0].d[0] < 2) {
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
                "softmax_xent needs at least 2 classes, got %lld", (long long)l->in[0].d[0]);
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
  return pc_shape_numel(&l->in[0]) * (int64_t)sizeof(float);
}

/* Runtime: the output holds the per-sample losses; `saved` the probabilities. */

static size_t xent_saved_floats(const pc_layer *l, size_t n) {
  return n * (size_t)l->in[0].d[0];
}

static void xent_forward(const pc_layer *l, pc_layer_io *io) {
  io->correct = pc_softmax_xent_forward(io->saved, io->out, io->in[0], io->labels, io->n,
                                        (size_t)l->in[0].d[0]);
  double sum = 0;
  for (size_t i = 0; i < io->n; i++) sum += io->out[i];
  io->loss_sum = sum;
}

static void xent_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  pc_softmax_xent_backward(io->din[0], io->saved, io->labels, io->n, (size_t)l->in[0].d[0],
                           io->scale);
}

const pc_layer_ops pc_layer_softmax_xent = {
  .name = "softmax_xent",
  .summary = "softmax cross-entropy loss (last layer)",
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
