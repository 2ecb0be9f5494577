/* shared.c — the helpers the layer kinds share (layer-private.h): shape checks, the sliding
 * window's output, and the trivial costs. */
#include "layer-private.h"

bool pc_layer_need_image(pc_layer *l, GError **error) {
  if (l->in[0].ndim == 3) return true;
  char s[PC_SHAPE_STRLEN];
  g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
              "%s needs an image input (CxHxW), got %s",
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

bool pc_layer_need_rows(pc_layer *l, GError **error) {
  if (l->in[0].ndim <= 2) return true;
  char s[PC_SHAPE_STRLEN];
  g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
              "%s needs a flat input or a sequence (TxC), got %s (add `flatten` before it)",
              pc_layer_ops_of(l->kind)->name, pc_shape_format(&l->in[0], s, sizeof s));
  return false;
}

size_t pc_layer_row(const pc_layer *l) {
  return (size_t)l->in[0].d[l->in[0].ndim - 1];
}

size_t pc_layer_rows(const pc_layer *l) {
  return l->in[0].ndim == 2 ? (size_t)l->in[0].d[0] : 1;
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
