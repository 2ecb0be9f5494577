/* relu.c — rectified linear unit; keeps its output, whose sign gives the backward mask. */
#include "layer-private.h"

static bool relu_infer(pc_layer *l, GError **error) {
  (void)error;
  l->out = l->in[0];
  return true;
}

static int64_t relu_saved(const pc_layer *l) {
  return pc_shape_numel(&l->out) * (int64_t)sizeof(float);
}

const pc_layer_ops pc_layer_relu = {
  .name = "relu",
  .summary = "rectified linear unit",
  .ninputs = 1,
  .infer = relu_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = pc_layer_out_elems,
  .bwd_flops = pc_layer_out_elems,
  .saved_bytes = relu_saved,
};
