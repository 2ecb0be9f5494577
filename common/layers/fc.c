/* fc.c — fully connected layer: out (N, OUT) = in (N, IN) · w^T + b; w is (OUT, IN). Over a
 * sequence (T, IN) it applies to every position: out (N, T, OUT) with the same w. A tied fc
 * (an output head) uses the model's embedding's weight, which pc_layer.tie names. */
#include "kernels.h"
#include "layer-private.h"

static const pc_attr_spec fc_attrs[] = {
  {"out", PC_ATTR_INT, offsetof(pc_fc_attrs, out), true, 0, 1},
  {"bias", PC_ATTR_INT, offsetof(pc_fc_attrs, bias), false, 1, 0},
  {"gain", PC_ATTR_FLOAT, offsetof(pc_fc_attrs, gain), false, G_SQRT2, 0},
  {"tied", PC_ATTR_INT, offsetof(pc_fc_attrs, tied), false, 0, 0},
  {NULL, 0, 0, false, 0, 0},
};

static bool fc_infer(pc_layer *l, GError **error) {
  if (!pc_layer_need_rows(l, error)) return false;
  l->out = l->in[0];
  l->out.d[l->out.ndim - 1] = PC_ATTRS(l, pc_fc_attrs)->out;
  return true;
}

static double fc_macs(const pc_layer *l) {
  return pc_layer_in_elems(l) * (double)PC_ATTRS(l, pc_fc_attrs)->out;
}

static int64_t fc_params(const pc_layer *l) {
  const pc_fc_attrs *a = PC_ATTRS(l, pc_fc_attrs);
  return (a->tied ? 0 : (int64_t)pc_layer_row(l) * a->out) + (a->bias ? a->out : 0);
}

static double fc_bias_flops(const pc_layer *l) {
  const pc_fc_attrs *a = PC_ATTRS(l, pc_fc_attrs);
  return a->bias ? (double)pc_layer_rows(l) * (double)a->out : 0.0;
}

static double fc_fwd_flops(const pc_layer *l) { return 2.0 * fc_macs(l) + fc_bias_flops(l); }

/* Input gradient and weight gradient each cost one GEMM the size of the forward one. */
static double fc_bwd_flops(const pc_layer *l) { return 4.0 * fc_macs(l) + fc_bias_flops(l); }

/* Keeps its input for the weight gradient. */
static int64_t fc_saved(const pc_layer *l) {
  return pc_shape_numel(&l->in[0]) * (int64_t)sizeof(float);
}

/* Runtime */

static size_t fc_weights(const pc_layer *l) {
  return pc_layer_row(l) * (size_t)PC_ATTRS(l, pc_fc_attrs)->out;
}

static void fc_init(const pc_layer *l, float *w, float *b, float *buf, uint64_t seed) {
  (void)buf;
  const pc_fc_attrs *a = PC_ATTRS(l, pc_fc_attrs);
  pc_init_fc(w, b, pc_layer_row(l), (size_t)a->out, (float)a->gain, seed, l->name);
  /* a tied weight: the runtime copies the embedding's over it */
}

static void fc_forward(const pc_layer *l, pc_layer_io *io) {
  pc_fc_forward(io->out, io->in[0], io->w, io->b, io->n * pc_layer_rows(l), pc_layer_row(l),
                (size_t)PC_ATTRS(l, pc_fc_attrs)->out);
}

static void fc_backward(const pc_layer *l, pc_layer_io *io) {
  pc_fc_backward(io->din[0], io->dw, io->db, io->dout, io->in[0], io->w, io->n * pc_layer_rows(l),
                 pc_layer_row(l), (size_t)PC_ATTRS(l, pc_fc_attrs)->out);
}

const pc_layer_ops pc_layer_fc = {
  .name = "fc",
  .summary = "fully connected, per position of a sequence: out=N [bias=1] [gain=1.414] [tied=0]",
  .ninputs = 1,
  .attrs_size = sizeof(pc_fc_attrs),
  .attrs = fc_attrs,
  .infer = fc_infer,
  .params = fc_params,
  .fwd_flops = fc_fwd_flops,
  .bwd_flops = fc_bwd_flops,
  .fwd_macs = fc_macs,
  .saved_bytes = fc_saved,
  .weight_count = fc_weights,
  .init = fc_init,
  .forward = fc_forward,
  .backward = fc_backward,
  .split = true,
};
