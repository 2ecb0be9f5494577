/* gap.c — global average pooling: (C, H, W) -> (C, 1, 1), as torchvision's avgpool in ResNet. */
#include "layer-private.h"

static bool gap_infer(pc_layer *l, GError **error) {
  if (!pc_layer_need_image(l, error)) return false;
  l->out = (pc_shape){.ndim = 3, .d = {l->in[0].d[0], 1, 1}};
  return true;
}

const pc_layer_ops pc_layer_gap = {
  .name = "gap",
  .summary = "global average pooling to Cx1x1",
  .ninputs = 1,
  .infer = gap_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = pc_layer_in_elems,
  .bwd_flops = pc_layer_in_elems,
  .saved_bytes = pc_layer_saves_nothing,
};
