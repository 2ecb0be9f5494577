/* bn.c — batch normalisation per channel (over N, H, W; or over N for flat inputs).
 * Training uses the statistics of each microbatch and keeps the normalised input for backward;
 * evaluation uses the running statistics (updated with `momentum`, as PyTorch does). */
#include "kernels.h"
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

/* Runtime: gamma is the weight, beta the bias (PyTorch's names); the buffers are the running
 * mean and variance; each microbatch keeps its mean and 1/std for backward. */

static size_t bn_channels(const pc_layer *l) {
  return (size_t)l->in[0].d[0];
}

static size_t bn_hw(const pc_layer *l) {
  return (size_t)(pc_shape_numel(&l->in[0]) / l->in[0].d[0]);
}

static size_t bn_buffers(const pc_layer *l) {
  return 2 * bn_channels(l);
}

static size_t bn_saved_floats(const pc_layer *l, size_t n) {
  (void)n;
  return 2 * bn_channels(l);
}

static void bn_init(const pc_layer *l, float *w, float *b, float *buf, uint64_t seed) {
  (void)seed;
  size_t C = bn_channels(l);
  pc_init_bn(w, b, buf, buf + C, C);
}

static void bn_forward(const pc_layer *l, pc_layer_io *io) {
  const pc_bn_attrs *a = PC_ATTRS(l, pc_bn_attrs);
  size_t C = bn_channels(l);
  if (io->train)
    pc_bn_forward_train(io->out, io->saved, io->saved + C, io->buf, io->buf + C, io->in[0], io->w,
                        io->b, io->n, C, bn_hw(l), (float)a->momentum, (float)a->eps);
  else
    pc_bn_forward_eval(io->out, io->in[0], io->w, io->b, io->buf, io->buf + C, io->n, C, bn_hw(l),
                       (float)a->eps);
}

static void bn_backward(const pc_layer *l, pc_layer_io *io) {
  size_t C = bn_channels(l);
  pc_bn_backward(io->din[0], io->dw, io->db, io->dout, io->in[0], io->w, io->saved,
                 io->saved + C, io->n, C, bn_hw(l));
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
  .weight_count = bn_channels,
  .buffer_count = bn_buffers,
  .saved_floats = bn_saved_floats,
  .init = bn_init,
  .forward = bn_forward,
  .backward = bn_backward,
  .split = true, /* both halves take the same sums over the output gradient */
};
