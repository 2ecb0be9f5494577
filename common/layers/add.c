/* add.c — residual add: out = a + b, the join of a `residual` block's main and skip paths. */
#include "kernels.h"
#include "layer-private.h"

static bool add_infer(pc_layer *l, GError **error) {
  if (!pc_shape_equal(&l->in[0], &l->in[1])) {
    char a[PC_SHAPE_STRLEN], b[PC_SHAPE_STRLEN];
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
                "residual add needs equal shapes, but the main path gives %s and the shortcut "
                "%s (add a projection in `shortcut { ... }`)",
                pc_shape_format(&l->in[0], a, sizeof a), pc_shape_format(&l->in[1], b, sizeof b));
    return false;
  }
  l->out = l->in[0];
  return true;
}

/* The gradient passes through unchanged to both inputs: no arithmetic. */
static double add_bwd_flops(const pc_layer *l) {
  (void)l;
  return 0.0;
}

static void add_forward(const pc_layer *l, pc_layer_io *io) {
  pc_add_forward(io->out, io->in[0], io->in[1], io->n * (size_t)pc_shape_numel(&l->out));
}

static void add_backward(const pc_layer *l, pc_layer_io *io) {
  pc_add_backward(io->din[0], io->din[1], io->dout, io->n * (size_t)pc_shape_numel(&l->out));
}

const pc_layer_ops pc_layer_add = {
  .name = "add",
  .summary = "residual add of two tensors (made by `residual`)",
  .ninputs = 2,
  .infer = add_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = pc_layer_out_elems,
  .bwd_flops = add_bwd_flops,
  .saved_bytes = pc_layer_saves_nothing,
  .forward = add_forward,
  .backward = add_backward,
};
