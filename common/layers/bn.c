/* bn.c — batch normalisation per channel (over N, H, W; or over N for flat inputs).
 * Training uses the statistics of each microbatch and keeps the normalised input for backward;
 * evaluation uses the running statistics (updated with `momentum`, as PyTorch does). */
#include "layer-private.h"

static const pc_attr_spec bn_attrs[] = {
  {"eps", PC_ATTR_FLOAT, offsetof(pc_bn_attrs, eps), false, 1e-5, 0},
  {"momentum", PC_ATTR_FLOAT, offsetof(pc_bn_attrs, momentum), false, 0.1, 0},
  {NULL, 0, 0, false, 0, 0},
};

static bool bn_infer(pc_layer *l, GError **error) {
  const pc_bn_attrs *a = PC_ATTRS(l, pc_bn_attrs);
  if (!(a->eps > 0)) {
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE, "bn: eps must be positive, got %g", a->eps);
    return false;
  }
  if (a->momentum > 1) {
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE, "bn: momentum must be in [0, 1], got %g",
                a->momentum);
    return false;
  }
  l->out = l->in[0];
  return true;
}

/* gamma and beta; the running mean and variance are buffers, not parameters. */
static int64_t bn_params(const pc_layer *l) {
  return 2 * l->in[0].d[0];
}

/* Mean, variance, normalise, scale and shift: about 5 operations per element. */
static double bn_fwd_flops(const pc_layer *l) {
  return 5.0 * pc_layer_in_elems(l);
}

static double bn_bwd_flops(const pc_layer *l) {
  return 8.0 * pc_layer_in_elems(l);
}

static int64_t bn_saved(const pc_layer *l) {
  return pc_shape_numel(&l->in[0]) * (int64_t)sizeof(float);
}

const pc_layer_ops pc_layer_bn = {
  .name = "bn",
  .summary = "batch normalisation: [eps=1e-5] [momentum=0.1]",
  .ninputs = 1,
  .attrs_size = sizeof(pc_bn_attrs),
  .attrs = bn_attrs,
  .infer = bn_infer,
  .params = bn_params,
  .fwd_flops = bn_fwd_flops,
  .bwd_flops = bn_bwd_flops,
  .saved_bytes = bn_saved,
};
