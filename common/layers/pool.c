/* pool.c — max and average pooling over KxK windows (stride defaults to K, zero padding).
 * Max pooling keeps the argmax of each output (int32) for backward; average pooling keeps
 * nothing. Both share the window geometry, so both kinds live in this one file. */
#include "kernels.h"
#include "layer-private.h"

static const pc_attr_spec pool_attrs[] = {
  {"k", PC_ATTR_INT, offsetof(pc_pool_attrs, k), true, 0, 1},
  {"stride", PC_ATTR_INT, offsetof(pc_pool_attrs, stride), false, 0, 0},
  {"pad", PC_ATTR_INT, offsetof(pc_pool_attrs, pad), false, 0, 0},
  {NULL, 0, 0, false, 0, 0},
};

static bool pool_infer(pc_layer *l, GError **error) {
  pc_pool_attrs *a = l->attrs;
  if (a->stride == 0) a->stride = a->k;
  if (!pc_layer_need_image(l, error)) return false;
  if (a->pad * 2 > a->k) {
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE, "%s: padding %lld is more than half the kernel %lld",
                l->kind == PC_LAYER_KIND_MAXPOOL ? "maxpool" : "avgpool", (long long)a->pad,
                (long long)a->k);
    return false;
  }
  if (!pc_layer_window_out(l, a->k, a->stride, a->pad, error)) return false;
  l->out.d[0] = l->in[0].d[0];
  return true;
}

/* One comparison or addition per window element. */
static double pool_fwd_flops(const pc_layer *l) {
  const pc_pool_attrs *a = PC_ATTRS(l, pc_pool_attrs);
  return pc_layer_out_elems(l) * (double)(a->k * a->k);
}

static double maxpool_bwd_flops(const pc_layer *l) {
  return pc_layer_out_elems(l);
}

static double avgpool_bwd_flops(const pc_layer *l) {
  return pool_fwd_flops(l);
}

static int64_t maxpool_saved(const pc_layer *l) {
  return pc_shape_numel(&l->out) * (int64_t)sizeof(int32_t);
}

/* Runtime */

#define POOL_ARGS(l)                                                                         \
  (size_t) l->in[0].d[0], (size_t)l->in[0].d[1], (size_t)l->in[0].d[2],                      \
      (size_t)PC_ATTRS(l, pc_pool_attrs)->k, (size_t)PC_ATTRS(l, pc_pool_attrs)->stride,      \
      (size_t)PC_ATTRS(l, pc_pool_attrs)->pad

static size_t maxpool_ints(const pc_layer *l, size_t n) {
  return n * (size_t)pc_shape_numel(&l->out);
}

static void maxpool_forward(const pc_layer *l, pc_layer_io *io) {
  pc_maxpool_forward(io->out, io->isaved, io->in[0], io->n, POOL_ARGS(l));
}

static void maxpool_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  pc_maxpool_backward(io->din[0], io->dout, io->isaved, io->n, (size_t)l->in[0].d[0],
                      (size_t)l->in[0].d[1], (size_t)l->in[0].d[2], (size_t)l->out.d[1],
                      (size_t)l->out.d[2]);
}

static void avgpool_forward(const pc_layer *l, pc_layer_io *io) {
  pc_avgpool_forward(io->out, io->in[0], io->n, POOL_ARGS(l));
}

static void avgpool_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  pc_avgpool_backward(io->din[0], io->dout, io->n, POOL_ARGS(l));
}

const pc_layer_ops pc_layer_maxpool = {
  .name = "maxpool",
  .summary = "max pooling: k=K [stride=K] [pad=0]",
  .ninputs = 1,
  .attrs_size = sizeof(pc_pool_attrs),
  .attrs = pool_attrs,
  .infer = pool_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = pool_fwd_flops,
  .bwd_flops = maxpool_bwd_flops,
  .saved_bytes = maxpool_saved,
  .saved_ints = maxpool_ints,
  .forward = maxpool_forward,
  .backward = maxpool_backward,
};

const pc_layer_ops pc_layer_avgpool = {
  .name = "avgpool",
  .summary = "average pooling (padding counted): k=K [stride=K] [pad=0]",
  .ninputs = 1,
  .attrs_size = sizeof(pc_pool_attrs),
  .attrs = pool_attrs,
  .infer = pool_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = pool_fwd_flops,
  .bwd_flops = avgpool_bwd_flops,
  .saved_bytes = pc_layer_saves_nothing,
  .forward = avgpool_forward,
  .backward = avgpool_backward,
};
