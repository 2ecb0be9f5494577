/* gap.c — global average pooling: (C, H, W) -> (C, 1, 1), as torchvision's avgpool in ResNet. */
#include "kernels.h"
#include "layer-private.h"

static bool gap_infer(pc_layer *l, GError **error) {
  if (!pc_layer_need_image(l, error)) return false;
  l->out = (pc_shape){.ndim = 3, .d = {l->in[0].d[0], 1, 1}};
  return true;
}

static void gap_forward(const pc_layer *l, pc_layer_io *io) {
  pc_gap_forward(io->out, io->in[0], io->n, (size_t)l->in[0].d[0],
                 (size_t)(l->in[0].d[1] * l->in[0].d[2]));
}

static void gap_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  pc_gap_backward(io->din[0], io->dout, io->n, (size_t)l->in[0].d[0],
                  (size_t)(l->in[0].d[1] * l->in[0].d[2]));
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
  .forward = gap_forward,
  .backward = gap_backward,
};
