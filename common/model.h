/* model.h — a model: a DAG of layers in a file order that is a topological order.
 *
 * Models are written in the pipecast model language (models/README.md) and read by
 * pc_model_load(). Each layer reads the output of earlier layers (or the model's input); all but
 * residual adds read exactly one. Parameters of the file can be overridden from the command line
 * (`--set width=2048,classes=1000`). */
#ifndef PC_MODEL_H
#define PC_MODEL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "data.h"
#include "layer.h"

typedef struct {
  char *name;     /* the parameter's name */
  char *value;    /* its value after overrides, as text ("1024", "3x32x32", "0.5") */
  bool overridden;
} pc_model_param;

typedef struct {
  char *name;          /* from the file name: "resnet50" */
  char *path;          /* file it was read from, or "<string>" */
  pc_shape input;      /* per-sample input shape */
  int nlayers;
  pc_layer *layers;    /* (nlayers), file order */
  int nsplits;         /* `split` markers in the file */
  int *splits;         /* (nsplits) index of the first layer after each marker */
  int nparams;
  pc_model_param *params;
  GHashTable *index;   /* layer name -> its index + 1, made by the parser (NULL: searched) */
} pc_model;

/* Reads a model file. `sets` is a comma-separated list of name=value overrides (or NULL); a name
 * the file does not declare is an error. Errors name file:line:column and what was expected. */
pc_model *pc_model_load(const char *path, const char *sets, GError **error);

/* The same from text in memory; `filename` is used in messages. */
pc_model *pc_model_parse(const char *text, const char *filename, const char *sets,
                         GError **error);

void pc_model_free(pc_model *model);

/* Index of the layer named NAME, or -1. */
int pc_model_find(const pc_model *model, const char *name);

/* The layers a name stands for: a layer, or a scope ("layer2", "layer2.1") meaning every layer
 * whose name starts with "NAME.". Scopes are contiguous in file order by construction. False if
 * nothing is called so. */
bool pc_model_lookup_range(const pc_model *model, const char *name, int *first, int *last);

/* Totals over the whole model, per sample. */
int64_t pc_model_params(const pc_model *model);
double pc_model_fwd_flops(const pc_model *model);

/* Gradient buckets of data parallelism, as the executor all-reduces them during the backward
 * (PyTorch DDP's buckets): layers [first, last) taken from the last one down, a bucket closing
 * once it holds at least PC_BUCKET_BYTES of gradients (or at layer first). Writes to STARTS (at
 * least last - first entries) the first layer of each bucket, in the order they close, and
 * returns the count; bucket k holds layers [starts[k], k ? starts[k - 1] : last). Layers without
 * parameters join the bucket of the next layer down; a range without parameters has none. */
#define PC_BUCKET_BYTES (25 << 20)
int pc_model_grad_buckets(const pc_model *model, int first, int last, int *starts);

/* Index of the loss layer (the last layer, a softmax_xent), or -1 when the model has none. */
int pc_model_loss_layer(const pc_model *model);

/* Labels per sample of the loss (1, or T over a sequence); 1 without a loss. */
int64_t pc_model_positions(const pc_model *model);

/* Index of the embed layer (whose input are token ids), or -1. */
int pc_model_embed(const pc_model *model);

/* The layer whose weight is the embedding's (pc_layer.tie; a model has at most one), or -1;
 * FLOATS (may be NULL) gets the weight's size, 0 without one. */
int pc_model_tied(const pc_model *model, size_t *floats);

/* The data set SPEC names for the model (which has a loss): pc_dataset_open for its input and
 * classes, or pc_dataset_open_tokens for a model of token ids, whose loss must then predict the
 * next token at every position. */
pc_dataset *pc_model_open_data(const pc_model *model, const char *spec, uint64_t seed,
                               bool train, GError **error);

#endif
