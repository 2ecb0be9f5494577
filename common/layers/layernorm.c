/* layernorm.c — layer normalisation over the last dimension of a sample (torch.nn.LayerNorm of
 * that size: each row normalised on its own, then a weight and a bias per position); keeps each
 * row's mean and 1/std. Its backward splits like batch norm's. */
#include "kernels.h"
#include "layer-private.h"

static const pc_attr_spec layernorm_attrs[] = {
  {"eps", PC_ATTR_FLOAT, offsetof(pc_layernorm_attrs, eps), false, 1e-5, 0},
  {NULL, 0, 0, false, 0, 0},
};

static bool layernorm_infer(pc_layer *l, GError **error) {
  if (!(PC_ATTRS(l, pc_layernorm_attrs)->eps > 0)) {
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE, "layernorm: eps must be positive, got %g",
                PC_ATTRS(l, pc_layernorm_attrs)->eps);
    return false;
  }
  l->out = l->in[0];
  return true;
}

/* D, the normalised (last) dimension; rows per sample. */
static size_t ln_dim(const pc_layer *l) { return (size_t)l->in[0].d[l->in[0].ndim - 1]; }
static size_t ln_rows(const pc_layer *l) {
  return (size_t)pc_shape_numel(&l->in[0]) / ln_dim(l);
}

static int64_t layernorm_params(const pc_layer *l) { return 2 * (int64_t)ln_dim(l); }
static size_t layernorm_weights(const pc_layer *l) { return ln_dim(l); }

/* mean, variance, normalise, scale and shift; back: two sums and the combination */
static double layernorm_fwd_flops(const pc_layer *l) { return 8.0 * pc_layer_in_elems(l); }
static double layernorm_bwd_flops(const pc_layer *l) { return 12.0 * pc_layer_in_elems(l); }

static int64_t layernorm_saved(const pc_layer *l) {
  return 2 * (int64_t)ln_rows(l) * (int64_t)sizeof(float);
}

static size_t layernorm_saved_floats(const pc_layer *l, size_t n) { return 2 * n * ln_rows(l); }

static void layernorm_init(const pc_layer *l, float *w, float *b, float *buf, uint64_t seed) {
  (void)seed;
  pc_init_bn(w, b, buf, NULL, ln_dim(l)); /* weight 1, bias 0 */
}

static void layernorm_forward(const pc_layer *l, pc_layer_io *io) {
  size_t rows = io->n * ln_rows(l);
  pc_layernorm_forward(io->out, io->saved, io->saved + rows, io->in[0], io->w, io->b, rows,
                       ln_dim(l), (float)PC_ATTRS(l, pc_layernorm_attrs)->eps);
}

static void layernorm_backward(const pc_layer *l, pc_layer_io *io) {
  size_t rows = io->n * ln_rows(l);
  pc_layernorm_backward(io->din[0], io->dw, io->db, io->dout, io->in[0], io->w, io->saved,
                        io->saved + rows, rows, ln_dim(l));
}

const pc_layer_ops pc_layer_layernorm = {
  .name = "layernorm",
  .summary = "layer normalisation over the last dimension: [eps=1e-5]",
  .ninputs = 1,
  .attrs_size = sizeof(pc_layernorm_attrs),
  .attrs = layernorm_attrs,
  .infer = layernorm_infer,
  .params = layernorm_params,
  .fwd_flops = layernorm_fwd_flops,
  .bwd_flops = layernorm_bwd_flops,
  .saved_bytes = layernorm_saved,
  .weight_count = layernorm_weights,
  .saved_floats = layernorm_saved_floats,
  .init = layernorm_init,
  .forward = layernorm_forward,
  .backward = layernorm_backward,
  .split = true, /* the weight half takes xhat again from the input and the row statistics */
};
