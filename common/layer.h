/* layer.h — the table of layer kinds.
 *
 * Each kind lives in one file under common/layers/ and exports one `const pc_layer_ops` that
 * says, in one place, everything both halves of pipecast need to know about it: the attributes
 * the model language accepts, the output shape, the parameter count, forward and backward FLOPs,
 * and the activation bytes kept for backward. The simulator's analytic costs and the executor's
 * kernels read this same table. Per-kind attributes sit behind `pc_layer.attrs` (a struct of the
 * kind's own), never in a union of every kind's fields.
 *
 * Shapes are per sample: (C) flat, (T, C) a sequence of T positions, (C, H, W) an image. Kinds
 * that work on rows (fc, layernorm, the loss) apply to each position of a sequence alike. */
#ifndef PC_LAYER_H
#define PC_LAYER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shape.h"

typedef enum {
  PC_LAYER_KIND_FC,
  PC_LAYER_KIND_CONV,
  PC_LAYER_KIND_MAXPOOL,
  PC_LAYER_KIND_AVGPOOL,
  PC_LAYER_KIND_GAP,
  PC_LAYER_KIND_BN,
  PC_LAYER_KIND_RELU,
  PC_LAYER_KIND_ADD,
  PC_LAYER_KIND_FLATTEN,
  PC_LAYER_KIND_SOFTMAX_XENT,
  PC_LAYER_KIND_GELU,
  PC_LAYER_KIND_LAYERNORM,
  PC_LAYER_KIND_EMBED,
  PC_LAYER_KIND_ATTENTION,
  PC_LAYER_KIND_COUNT
} pc_layer_kind;

#define PC_LAYER_MAX_INPUTS 2

typedef struct pc_layer {
  char *name;                         /* hierarchical, stable: "layer3.2.conv1" */
  pc_layer_kind kind;
  int index;                          /* position in file order (a topological order) */
  int ninputs;
  int inputs[PC_LAYER_MAX_INPUTS];    /* producing layer, or -1 for the model's input */
  pc_shape in[PC_LAYER_MAX_INPUTS];   /* shape of each input, per sample */
  pc_shape out;                       /* output shape, per sample */
  void *attrs;                        /* the kind's attribute struct (pc_fc_attrs, ...) */
  int tie;                            /* the layer whose weight this one uses too (an output
                                       * head tied to the embedding), or -1 */
  int line, column;                   /* where the model file defined it (1-based) */
} pc_layer;

/* An attribute as written in a model file: `conv out=64 k=3 stride=2`. */
typedef enum { PC_ATTR_INT, PC_ATTR_FLOAT } pc_attr_type;

typedef struct {
  const char *name;
  pc_attr_type type;
  size_t offset;   /* into the kind's attribute struct: int64_t for INT, double for FLOAT */
  bool required;
  double fallback; /* value when absent and not required */
  double min;      /* smallest legal value */
} pc_attr_spec;

/* The buffers of one microbatch of n samples as a layer's forward and backward see them. Shapes
 * are per layer: in[k] (n, in[k]), out (n, out). Gradients accumulate (+=): din[k] may be NULL
 * when nobody needs that gradient (the model's input). */
typedef struct {
  size_t n;                /* samples in the microbatch */
  bool train;              /* training mode (batch norm uses microbatch statistics) */
  const float *in[PC_LAYER_MAX_INPUTS];
  float *out;
  float *w, *b;            /* parameters: weights, then bias (or beta); NULL when absent */
  float *dw, *db;          /* their gradients */
  float *buf;              /* non-trained state (batch norm: running mean, then running var) */
  float *saved;            /* per-microbatch state kept from forward to backward */
  int32_t *isaved;         /* the same, integers (max pool argmax) */
  float *scratch;          /* temporary memory, contents not kept */
  const int32_t *labels;   /* (n) class labels, for the loss */
  float scale;             /* loss gradient scale: 1 / minibatch size */
                           /* labels: (n) for a flat loss, (n, T) over a sequence */
  float *din[PC_LAYER_MAX_INPUTS];
  const float *dout;
  double loss_sum;         /* loss: sum of the per-sample losses of this forward */
  double correct;          /* loss: samples whose argmax is the label (a sequence counts the
                              share of its positions that are) */
} pc_layer_io;

typedef struct {
  const char *name;                 /* the keyword in the model language */
  const char *summary;              /* one line for docs and --help */
  int ninputs;                      /* 1, or 2 for add */
  size_t attrs_size;                /* sizeof the kind's attribute struct (0: none) */
  const pc_attr_spec *attrs;        /* terminated by an entry with name == NULL */
  /* Fills l->out from l->in and l->attrs; false with PC_ERROR_SHAPE and a message saying what
   * was expected when the input does not fit. */
  bool (*infer)(pc_layer *l, GError **error);
  int64_t (*params)(const pc_layer *l);      /* trainable parameters */
  double (*fwd_flops)(const pc_layer *l);    /* per sample; a multiply-add counts 2 */
  double (*bwd_flops)(const pc_layer *l);    /* per sample, input and weight gradients */
  double (*fwd_macs)(const pc_layer *l);     /* per sample multiply-adds of fc/conv; NULL: 0 */
  int64_t (*saved_bytes)(const pc_layer *l); /* per sample, activations kept for backward */

  /* Runtime (the executor): sizes for a microbatch of n samples, initialisation, kernels. Any
   * size function may be NULL for 0. The layer's output buffer always exists; `saved` is what
   * the kind keeps beyond its inputs and output. */
  size_t (*weight_count)(const pc_layer *l);                 /* the rest of params() is bias */
  size_t (*buffer_count)(const pc_layer *l);                 /* non-trained state */
  size_t (*saved_floats)(const pc_layer *l, size_t n);
  size_t (*saved_ints)(const pc_layer *l, size_t n);
  size_t (*scratch_floats)(const pc_layer *l, size_t n);
  /* Deterministic initial parameters and buffers from a seed and the layer's name. */
  void (*init)(const pc_layer *l, float *w, float *b, float *buf, uint64_t seed);
  void (*forward)(const pc_layer *l, pc_layer_io *io);
  void (*backward)(const pc_layer *l, pc_layer_io *io);
  /* The backward splits (zero-bubble schedules): with dw and db NULL it computes the input
   * gradient alone, with every din NULL the weight gradients alone, each bit for bit as the
   * whole backward would. Kinds without it compute their parameters' gradients with the input
   * gradient. */
  bool split;
} pc_layer_ops;

/* Attribute structs, one per kind that has attributes. */
/* gain: weights drawn uniform in +-gain*sqrt(3/fan_in) (default sqrt(2), He et al.). */
typedef struct { int64_t out, k, stride, pad, bias; double gain; } pc_conv_attrs;
typedef struct { int64_t k, stride, pad; } pc_pool_attrs;   /* stride 0: same as k */
typedef struct { double eps, momentum; } pc_bn_attrs;
typedef struct { double eps; } pc_layernorm_attrs;
/* tied: the weight is the model's embedding's (an output head: out = vocab, input = dim). */
typedef struct { int64_t out, bias, tied; double gain; } pc_fc_attrs;
/* std: weights drawn normal with this deviation; position: a learned embedding of the T
 * positions added (GPT-2's wpe), held as the layer's bias. */
typedef struct { int64_t vocab, dim, position; double std; } pc_embed_attrs;
typedef struct { int64_t heads; } pc_attention_attrs;

extern const pc_layer_ops pc_layer_fc;
extern const pc_layer_ops pc_layer_conv;
extern const pc_layer_ops pc_layer_maxpool;
extern const pc_layer_ops pc_layer_avgpool;
extern const pc_layer_ops pc_layer_gap;
extern const pc_layer_ops pc_layer_bn;
extern const pc_layer_ops pc_layer_relu;
extern const pc_layer_ops pc_layer_add;
extern const pc_layer_ops pc_layer_flatten;
extern const pc_layer_ops pc_layer_softmax_xent;
extern const pc_layer_ops pc_layer_gelu;
extern const pc_layer_ops pc_layer_layernorm;
extern const pc_layer_ops pc_layer_embed;
extern const pc_layer_ops pc_layer_attention;

/* The table, indexed by pc_layer_kind. */
extern const pc_layer_ops *const pc_layer_table[PC_LAYER_KIND_COUNT];

static inline const pc_layer_ops *pc_layer_ops_of(pc_layer_kind kind) {
  return pc_layer_table[kind];
}

/* The kind whose keyword is NAME, or -1. */
int pc_layer_kind_from_name(const char *name);

/* Convenience wrappers over the table. */
int64_t pc_layer_params(const pc_layer *l);   /* a tied weight counts at its owner only */
/* Parameters a runtime holding the layer keeps: a tied layer keeps its own copy of the weight,
 * stepped alike with the summed gradient. */
int64_t pc_layer_held_params(const pc_layer *l);
double pc_layer_fwd_flops(const pc_layer *l);
double pc_layer_bwd_flops(const pc_layer *l);
int64_t pc_layer_saved_bytes(const pc_layer *l);
double pc_layer_fwd_macs(const pc_layer *l);
/* Bytes of the layer's output tensor per sample (float32). */
int64_t pc_layer_out_bytes(const pc_layer *l);

#endif
