/* flatten.c — (C, H, W) -> (C·H·W); a view, no arithmetic. */
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

const pc_layer_ops pc_layer_flatten = {
  .name = "flatten",
  .summary = "flatten CxHxW to C*H*W",
  .ninputs = 1,
  .infer = flatten_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = no_flops,
  .bwd_flops = no_flops,
  .saved_bytes = pc_layer_saves_nothing,
};
