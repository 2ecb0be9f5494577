/* embed.c — token embedding over a sequence of token ids (T) into (T, dim): GPT-2's wte, and
 * with position=1 its learned position embedding wpe added (held as the layer's bias). It reads
 * the model's input, the only layer that does, so the data hands it token ids. Its backward is
 * all weight gradient (it splits with nothing in the input half). */
#include "kernels.h"
#include "layer-private.h"

static const pc_attr_spec embed_attrs[] = {
  {"vocab", PC_ATTR_INT, offsetof(pc_embed_attrs, vocab), true, 0, 2},
  {"dim", PC_ATTR_INT, offsetof(pc_embed_attrs, dim), true, 0, 1},
  {"position", PC_ATTR_INT, offsetof(pc_embed_attrs, position), false, 1, 0},
  {"std", PC_ATTR_FLOAT, offsetof(pc_embed_attrs, std), false, 0.02, 0},
  {NULL, 0, 0, false, 0, 0},
};

static bool embed_infer(pc_layer *l, GError **error) {
  const pc_embed_attrs *a = PC_ATTRS(l, pc_embed_attrs);
  if (l->inputs[0] != -1 || l->in[0].ndim != 1) {
    char s[PC_SHAPE_STRLEN];
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
                "embed reads the model's input, a sequence of token ids (`input T`), got %s%s",
                pc_shape_format(&l->in[0], s, sizeof s),
                l->inputs[0] != -1 ? " from another layer" : "");
    return false;
  }
  if (a->vocab > (1 << 24)) {
    g_set_error(error, PC_ERROR, PC_ERROR_SHAPE,
                "embed: vocab is at most 16777216 (token ids travel as float32), got %lld",
                (long long)a->vocab);
    return false;
  }
  l->out = (pc_shape){.ndim = 2, .d = {l->in[0].d[0], a->dim, 0}};
  return true;
}

static size_t embed_seq(const pc_layer *l) { return (size_t)l->in[0].d[0]; }

static size_t embed_weights(const pc_layer *l) {
  const pc_embed_attrs *a = PC_ATTRS(l, pc_embed_attrs);
  return (size_t)a->vocab * (size_t)a->dim;
}

static int64_t embed_params(const pc_layer *l) {
  const pc_embed_attrs *a = PC_ATTRS(l, pc_embed_attrs);
  return (int64_t)embed_weights(l) + (a->position ? (int64_t)embed_seq(l) * a->dim : 0);
}

/* a row copied (and the position added); back: one or two scattered adds per element */
static double embed_fwd_flops(const pc_layer *l) { return pc_layer_out_elems(l); }
static double embed_bwd_flops(const pc_layer *l) {
  return (PC_ATTRS(l, pc_embed_attrs)->position ? 2.0 : 1.0) * pc_layer_out_elems(l);
}

static void embed_init(const pc_layer *l, float *w, float *b, float *buf, uint64_t seed) {
  (void)buf;
  const pc_embed_attrs *a = PC_ATTRS(l, pc_embed_attrs);
  pc_init_embed(w, embed_weights(l), (float)a->std, seed, l->name);
  if (b != NULL) {
    char *name = g_strconcat(l->name, ".position", NULL);
    pc_init_embed(b, embed_seq(l) * (size_t)a->dim, (float)a->std, seed, name);
    g_free(name);
  }
}

static void embed_forward(const pc_layer *l, pc_layer_io *io) {
  const pc_embed_attrs *a = PC_ATTRS(l, pc_embed_attrs);
  pc_embed_forward(io->out, io->in[0], io->w, io->b, io->n, embed_seq(l), (size_t)a->vocab,
                   (size_t)a->dim);
}

static void embed_backward(const pc_layer *l, pc_layer_io *io) {
  if (io->dw == NULL) return; /* no input gradient: the input is data */
  pc_embed_backward(io->dw, io->db, io->dout, io->in[0], io->n, embed_seq(l),
                    (size_t)PC_ATTRS(l, pc_embed_attrs)->dim);
}

const pc_layer_ops pc_layer_embed = {
  .name = "embed",
  .summary = "token (and position) embedding of the input's token ids: vocab=V dim=C "
             "[position=1] [std=0.02]",
  .ninputs = 1,
  .attrs_size = sizeof(pc_embed_attrs),
  .attrs = embed_attrs,
  .infer = embed_infer,
  .params = embed_params,
  .fwd_flops = embed_fwd_flops,
  .bwd_flops = embed_bwd_flops,
  .saved_bytes = pc_layer_saves_nothing, /* the token ids, which the input holds */
  .weight_count = embed_weights,
  .init = embed_init,
  .forward = embed_forward,
  .backward = embed_backward,
  .split = true,
};
