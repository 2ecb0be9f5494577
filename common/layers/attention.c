/* attention.c — causal multi-head self-attention: a (T, 3C) input of queries, keys and values
 * (an fc of 3C before it, GPT-2's c_attn) to (T, C), heads=H of C / H each. No parameters; it
 * keeps the attention probabilities, H·T·T per sample. */
#include "kernels.h"
#include "layer-private.h"

static const pc_attr_spec attention_attrs[] = {
  {"heads", PC_ATTR_INT, offsetof(pc_attention_attrs, heads), true, 0, 1},
  {NULL, 0, 0, false, 0, 0},
};

static bool attention_infer(pc_layer *l, GError **error) {
  int64_t H = PC_ATTRS(l, pc_attention_attrs)->heads;
  char s[PC_SHAPE_STRLEN];
  if (l->in[0].ndim != 2 || l->in[0].d[1] % (3 * H) != 0) {
    int64_t D = l->in[0].ndim == 2 ? l->in[0].d[1] : 0;
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
                "attention needs a sequence TxD with D = 3 x heads x head size (%lld heads), "
                "got %s%s", (long long)H, pc_shape_format(&l->in[0], s, sizeof s),
                D > 0 && D % 3 == 0 ? ": the width of q, k and v is not a multiple of the heads"
                                    : "");
    return false;
  }
  l->out = (pc_shape){.ndim = 2, .d = {l->in[0].d[0], l->in[0].d[1] / 3, 0}};
  return true;
}

static double seq(const pc_layer *l) { return (double)l->in[0].d[0]; }
static double heads(const pc_layer *l) { return (double)PC_ATTRS(l, pc_attention_attrs)->heads; }

/* The scores the kernel computes (blocks of rows against the positions up to each block's
 * last), per head: forward q k^T and att v; backward four products; about 5 and 4 operations
 * per score beside them. */
static double scores(const pc_layer *l) {
  return heads(l) * (double)pc_attention_scores((size_t)seq(l));
}
static double head_size(const pc_layer *l) { return (double)l->out.d[1] / heads(l); }
static double attention_fwd_flops(const pc_layer *l) {
  return (4.0 * head_size(l) + 5.0) * scores(l);
}
static double attention_bwd_flops(const pc_layer *l) {
  return (8.0 * head_size(l) + 4.0) * scores(l);
}

static int64_t attention_saved(const pc_layer *l) {
  return (int64_t)(heads(l) * seq(l) * seq(l)) * (int64_t)sizeof(float);
}

static size_t attention_saved_floats(const pc_layer *l, size_t n) {
  return n * (size_t)(heads(l) * seq(l) * seq(l));
}

static size_t attention_scratch(const pc_layer *l, size_t n) {
  (void)n;
  return (size_t)(seq(l) * seq(l));
}

static void attention_forward(const pc_layer *l, pc_layer_io *io) {
  pc_attention_forward(io->out, io->saved, io->in[0], io->n, (size_t)l->out.d[0],
                       (size_t)l->out.d[1], (size_t)heads(l));
}

static void attention_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->din[0] == NULL) return;
  pc_attention_backward(io->din[0], io->dout, io->in[0], io->saved, io->scratch, io->n,
                        (size_t)l->out.d[0], (size_t)l->out.d[1], (size_t)heads(l));
}

const pc_layer_ops pc_layer_attention = {
  .name = "attention",
  .summary = "causal multi-head self-attention of a TxD input of queries, keys and values "
             "(D = 3C) into TxC: heads=H",
  .ninputs = 1,
  .attrs_size = sizeof(pc_attention_attrs),
  .attrs = attention_attrs,
  .infer = attention_infer,
  .params = pc_layer_zero_params,
  .fwd_flops = attention_fwd_flops,
  .bwd_flops = attention_bwd_flops,
  .saved_bytes = attention_saved,
  .saved_floats = attention_saved_floats,
  .scratch_floats = attention_scratch,
  .forward = attention_forward,
  .backward = attention_backward,
};
