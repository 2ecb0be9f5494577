/* pool.c — max and average pooling over KxK windows (stride defaults to K, zero padding).
 * Max pooling keeps the argmax of each output (int32) for backward; average pooling keeps
 * nothing. Both share the window geometry, so both kinds live in this one file. */
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
                pc_layer_ops_of(l->kind)->name, (long long)a->pad, (long long)a->k);
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
};
