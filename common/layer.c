/* layer.c — the table of layer kinds, indexed by pc_layer_kind, and wrappers over it. */
#include "layer.h"

#include <string.h>

const pc_layer_ops *const pc_layer_table[PC_LAYER_KIND_COUNT] = {
  [PC_LAYER_KIND_FC] = &pc_layer_fc,
  [PC_LAYER_KIND_CONV] = &pc_layer_conv,
  [PC_LAYER_KIND_MAXPOOL] = &pc_layer_maxpool,
  [PC_LAYER_KIND_AVGPOOL] = &pc_layer_avgpool,
  [PC_LAYER_KIND_GAP] = &pc_layer_gap,
  [PC_LAYER_KIND_BN] = &pc_layer_bn,
  [PC_LAYER_KIND_RELU] = &pc_layer_relu,
  [PC_LAYER_KIND_ADD] = &pc_layer_add,
  [PC_LAYER_KIND_FLATTEN] = &pc_layer_flatten,
  [PC_LAYER_KIND_SOFTMAX_XENT] = &pc_layer_softmax_xent,
  [PC_LAYER_KIND_GELU] = &pc_layer_gelu,
  [PC_LAYER_KIND_LAYERNORM] = &pc_layer_layernorm,
  [PC_LAYER_KIND_EMBED] = &pc_layer_embed,
  [PC_LAYER_KIND_ATTENTION] = &pc_layer_attention,
};
_Static_assert(sizeof pc_layer_table / sizeof pc_layer_table[0] == PC_LAYER_KIND_COUNT,
               "one entry per layer kind");

int pc_layer_kind_from_name(const char *name) {
  for (int k = 0; k < PC_LAYER_KIND_COUNT; k++)
    if (strcmp(pc_layer_table[k]->name, name) == 0) return k;
  return -1;
}

int64_t pc_layer_params(const pc_layer *l) {
  const pc_layer_ops *ops = pc_layer_ops_of(l->kind);
  return ops->params ? ops->params(l) : 0;
}

int64_t pc_layer_held_params(const pc_layer *l) {
  const pc_layer_ops *ops = pc_layer_ops_of(l->kind);
  return pc_layer_params(l) + (l->tie >= 0 ? (int64_t)ops->weight_count(l) : 0);
}

double pc_layer_fwd_flops(const pc_layer *l) {
  return pc_layer_ops_of(l->kind)->fwd_flops(l);
}

double pc_layer_bwd_flops(const pc_layer *l) {
  return pc_layer_ops_of(l->kind)->bwd_flops(l);
}

double pc_layer_fwd_macs(const pc_layer *l) {
  const pc_layer_ops *ops = pc_layer_ops_of(l->kind);
  return ops->fwd_macs ? ops->fwd_macs(l) : 0.0;
}

int64_t pc_layer_saved_bytes(const pc_layer *l) {
  return pc_layer_ops_of(l->kind)->saved_bytes(l);
}

int64_t pc_layer_out_bytes(const pc_layer *l) {
  return pc_shape_numel(&l->out) * (int64_t)sizeof(float);
}
