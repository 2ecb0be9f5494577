/* flatten.c — (C, H, W) -> (C·H·W); a view, no arithmetic. */
#include <string.h>

#include "kernels.h"
#include "layer-private.h"

static bool flatten_infer(pc_layer *l, GError **error) {
  (void)error;
  l->out = (pc_shape){.ndim = 1, .d = {pc_shape_numel(&l->in[0]), 0, 0}};
  return true;
}

static double no_flops(const pc_layer *l) {
  (void)l;
  return 0.0;
}

/* A copy rather than a view: every layer owns its output buffer, which keeps the executor's
 * memory plan uniform; the cost is one pass over a tensor that is small by then. */
static void flatten_forward(const pc_layer *l, pc_layer_io *io) {
  memcpy(io->out, io->in[0], io->n * (size_t)pc_shape_numel(&l->out) * sizeof(float));
}

static void flatten_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  pc_accumulate(io->din[0], io->dout, io->n * (size_t)pc_shape_numel(&l->out));
}

const pc_layer_ops pc_layer_flatten = {
  .name = "flatten",
  .summary = "flatten CxHxW to C*H*W",
  .ninputs = 1,
  .infer = flatten_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = no_flops,
  .bwd_flops = no_flops,
  .saved_bytes = pc_layer_saves_nothing,
  .forward = flatten_forward,
  .backward = flatten_backward,
};
