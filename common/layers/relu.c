/* relu.c — rectified linear unit; keeps its output, whose sign gives the backward mask. */
#include "kernels.h"
#include "layer-private.h"

static bool relu_infer(pc_layer *l, GError **error) {
  (void)error;
  l->out = l->in[0];
  return true;
}

static int64_t relu_saved(const pc_layer *l) {
  return pc_shape_numel(&l->out) * (int64_t)sizeof(float);
}

static void relu_forward(const pc_layer *l, pc_layer_io *io) {
  pc_relu_forward(io->out, io->in[0], io->n * (size_t)pc_shape_numel(&l->out));
}

static void relu_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  pc_relu_backward(io->din[0], io->dout, io->out, io->n * (size_t)pc_shape_numel(&l->out));
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
  .forward = relu_forward,
  .backward = relu_backward,
};
