/* conv.c — 2-D convolution: weights (OC, IC, K, K), square kernel, stride, zero padding. */
#include "kernels.h"
#include "layer-private.h"

static const pc_attr_spec conv_attrs[] = {
  {"out", PC_ATTR_INT, offsetof(pc_conv_attrs, out), true, 0, 1},
  {"k", PC_ATTR_INT, offsetof(pc_conv_attrs, k), true, 0, 1},
  {"stride", PC_ATTR_INT, offsetof(pc_conv_attrs, stride), false, 1, 1},
  {"pad", PC_ATTR_INT, offsetof(pc_conv_attrs, pad), false, 0, 0},
  {"bias", PC_ATTR_INT, offsetof(pc_conv_attrs, bias), false, 1, 0},
  {"gain", PC_ATTR_FLOAT, offsetof(pc_conv_attrs, gain), false, G_SQRT2, 0},
  {NULL, 0, 0, false, 0, 0},
};

static bool conv_infer(pc_layer *l, GError **error) {
  const pc_conv_attrs *a = PC_ATTRS(l, pc_conv_attrs);
  if (!pc_layer_need_image(l, error)) return false;
  if (!pc_layer_window_out(l, a->k, a->stride, a->pad, error)) return false;
  l->out.d[0] = a->out;
  return true;
}

static double conv_macs(const pc_layer *l) {
  const pc_conv_attrs *a = PC_ATTRS(l, pc_conv_attrs);
  return pc_layer_out_elems(l) * (double)(l->in[0].d[0] * a->k * a->k);
}

static int64_t conv_params(const pc_layer *l) {
  const pc_conv_attrs *a = PC_ATTRS(l, pc_conv_attrs);
  return a->out * l->in[0].d[0] * a->k * a->k + (a->bias ? a->out : 0);
}

static double conv_fwd_flops(const pc_layer *l) {
  const pc_conv_attrs *a = PC_ATTRS(l, pc_conv_attrs);
  return 2.0 * conv_macs(l) + (a->bias ? pc_layer_out_elems(l) : 0.0);
}

static double conv_bwd_flops(const pc_layer *l) {
  const pc_conv_attrs *a = PC_ATTRS(l, pc_conv_attrs);
  return 4.0 * conv_macs(l) + (a->bias ? pc_layer_out_elems(l) : 0.0);
}

/* Keeps its input for the weight gradient (im2col is recomputed in backward). */
static int64_t conv_saved(const pc_layer *l) {
  return pc_shape_numel(&l->in[0]) * (int64_t)sizeof(float);
}

/* Runtime */

#define CONV_ARGS(l)                                                                         \
  (size_t) l->in[0].d[0], (size_t)l->in[0].d[1], (size_t)l->in[0].d[2],                      \
      (size_t)PC_ATTRS(l, pc_conv_attrs)->out, (size_t)PC_ATTRS(l, pc_conv_attrs)->k,        \
      (size_t)PC_ATTRS(l, pc_conv_attrs)->stride, (size_t)PC_ATTRS(l, pc_conv_attrs)->pad

static size_t conv_weights(const pc_layer *l) {
  const pc_conv_attrs *a = PC_ATTRS(l, pc_conv_attrs);
  return (size_t)(a->out * l->in[0].d[0] * a->k * a->k);
}

static size_t conv_scratch(const pc_layer *l, size_t n) {
  return pc_conv_scratch_floats(n, CONV_ARGS(l));
}

static void conv_init(const pc_layer *l, float *w, float *b, float *buf, uint64_t seed) {
  (void)buf;
  const pc_conv_attrs *a = PC_ATTRS(l, pc_conv_attrs);
  pc_init_conv(w, b, (size_t)l->in[0].d[0], (size_t)a->out, (size_t)a->k, (float)a->gain, seed,
               l->name);
}

static void conv_forward(const pc_layer *l, pc_layer_io *io) {
  pc_conv_forward(io->out, io->in[0], io->w, io->b, io->scratch, io->n, CONV_ARGS(l));
}

static void conv_backward(const pc_layer *l, pc_layer_io *io) {
  pc_conv_backward(io->din[0], io->dw, io->db, io->dout, io->in[0], io->w, io->scratch, io->n,
                   CONV_ARGS(l));
}

const pc_layer_ops pc_layer_conv = {
  .name = "conv",
  .summary = "2-D convolution: out=C k=K [stride=1] [pad=0] [bias=1] [gain=1.414]",
  .ninputs = 1,
  .attrs_size = sizeof(pc_conv_attrs),
  .attrs = conv_attrs,
  .infer = conv_infer,
  .params = conv_params,
  .fwd_flops = conv_fwd_flops,
  .bwd_flops = conv_bwd_flops,
  .fwd_macs = conv_macs,
  .saved_bytes = conv_saved,
  .weight_count = conv_weights,
  .scratch_floats = conv_scratch,
  .init = conv_init,
  .forward = conv_forward,
  .backward = conv_backward,
  .split = true,
};
