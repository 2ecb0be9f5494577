/* gelu.c — GELU in GPT-2's tanh form (torch.nn.GELU(approximate='tanh')); keeps its input,
 * from which the backward takes the derivative. */
#include "kernels.h"
#include "layer-private.h"

static bool gelu_infer(pc_layer *l, GError **error) {
  (void)error;
  l->out = l->in[0];
  return true;
}

/* x^3, the polynomial, tanh, the products: about 8 operations an element forward, 14 back. */
static double gelu_fwd_flops(const pc_layer *l) { return 8.0 * pc_layer_out_elems(l); }
static double gelu_bwd_flops(const pc_layer *l) { return 14.0 * pc_layer_out_elems(l); }

static void gelu_forward(const pc_layer *l, pc_layer_io *io) {
  pc_gelu_forward(io->out, io->in[0], io->n * (size_t)pc_shape_numel(&l->out));
}

static void gelu_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  pc_gelu_backward(io->din[0], io->dout, io->in[0], io->n * (size_t)pc_shape_numel(&l->out));
}

const pc_layer_ops pc_layer_gelu = {
  .name = "gelu",
  .summary = "GELU, GPT-2's tanh approximation",
  .ninputs = 1,
  .infer = gelu_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = gelu_fwd_flops,
  .bwd_flops = gelu_bwd_flops,
  .saved_bytes = pc_layer_saves_nothing, /* its input, which the producer keeps */
  .forward = gelu_forward,
  .backward = gelu_backward,
};
