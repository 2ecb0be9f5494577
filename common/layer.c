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

/* ------------------------------------------------------------------------------------------ */
/* Helpers shared by the kinds (layer-private.h). */

#include "layer-private.h"

bool pc_layer_need_image(pc_layer *l, GError **error) {
  if (l->in[0].ndim == 3) return true;
  char s[PC_SHAPE_STRLEN];
  g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
              "%s needs an image input (CxHxW), got the flat tensor %s", 
              pc_layer_ops_of(l->kind)->name, pc_shape_format(&l->in[0], s, sizeof s));
  return false;
}

bool pc_layer_need_flat(pc_layer *l, GError **error) {
  if (l->in[0].ndim == 1) return true;
  char s[PC_SHAPE_STRLEN];
  g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
              "%s needs a flat input, got %s (add `flatten` before it)",
              pc_layer_ops_of(l->kind)->name, pc_shape_format(&l->in[0], s, sizeof s));
  return false;
}

bool pc_layer_window_out(pc_layer *l, int64_t k, int64_t stride, int64_t pad, GError **error) {
  const pc_shape *in = &l->in[0];
  int64_t oh = (in->d[1] + 2 * pad - k) / stride + 1;
  int64_t ow = (in->d[2] + 2 * pad - k) / stride + 1;
  if (in->d[1] + 2 * pad < k || in->d[2] + 2 * pad < k || oh < 1 || ow < 1) {
    char s[PC_SHAPE_STRLEN];
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
                "%s with kernel %lld and padding %lld does not fit the input %s",
                pc_layer_ops_of(l->kind)->name, (long long)k, (long long)pad,
                pc_shape_format(in, s, sizeof s));
    return false;
  }
  l->out.ndim = 3;
  l->out.d[1] = oh;
  l->out.d[2] = ow;
  return true;
}

int64_t pc_layer_zero_params(const pc_layer *l) {
  (void)l;
  return 0;
}

int64_t pc_layer_saves_nothing(const pc_layer *l) {
  (void)l;
  return 0;
}

double pc_layer_out_elems(const pc_layer *l) {
  return (double)pc_shape_numel(&l->out);
}

double pc_layer_in_elems(const pc_layer *l) {
  return (double)pc_shape_numel(&l->in[0]);
}
