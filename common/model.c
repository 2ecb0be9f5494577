/* model.c — queries over a parsed model (the parser is parse.c). */
#include "model.h"

#include <string.h>

#include "error.h"

void pc_model_free(pc_model *model) {
  if (model == NULL) return;
  for (int i = 0; i < model->nlayers; i++) {
    g_free(model->layers[i].name);
    g_free(model->layers[i].attrs);
  }
  for (int i = 0; i < model->nparams; i++) {
    g_free(model->params[i].name);
    g_free(model->params[i].value);
  }
  g_free(model->params);
  g_free(model->layers);
  if (model->index) g_hash_table_unref(model->index);
  g_free(model->splits);
  g_free(model->name);
  g_free(model->path);
  g_free(model);
}

int pc_model_find(const pc_model *model, const char *name) {
  if (model->index) return GPOINTER_TO_INT(g_hash_table_lookup(model->index, name)) - 1;
  for (int i = 0; i < model->nlayers; i++)
    if (strcmp(model->layers[i].name, name) == 0) return i;
  return -1;
}

bool pc_model_lookup_range(const pc_model *model, const char *name, int *first, int *last) {
  int i = pc_model_find(model, name);
  if (i >= 0) {
    *first = *last = i;
    return true;
  }
  size_t n = strlen(name);
  *first = *last = -1;
  for (i = 0; i < model->nlayers; i++) {
    const char *ln = model->layers[i].name;
    if (strncmp(ln, name, n) == 0 && ln[n] == '.') {
      if (*first < 0) *first = i;
      *last = i;
    }
  }
  return *first >= 0;
}

int64_t pc_model_params(const pc_model *model) {
  int64_t n = 0;
  for (int i = 0; i < model->nlayers; i++) n += pc_layer_params(&model->layers[i]);
  return n;
}

int pc_model_grad_buckets(const pc_model *model, int first, int last, int *starts) {
  int n = 0;
  int64_t bytes = 0;
  for (int i = last; i-- > first;) {
    int64_t b = 4 * pc_layer_held_params(&model->layers[i]);
    bytes += b;
    if (bytes > 0 && (bytes >= PC_BUCKET_BYTES || i == first)) {
      starts[n++] = i;
      bytes = 0;
    }
  }
  if (n > 0) starts[n - 1] = first; /* layers below the last bucket without parameters join it */
  return n;
}

double pc_model_fwd_flops(const pc_model *model) {
  double f = 0;
  for (int i = 0; i < model->nlayers; i++) f += pc_layer_fwd_flops(&model->layers[i]);
  return f;
}

int pc_model_loss_layer(const pc_model *model) {
  int last = model->nlayers - 1;
  return last >= 0 && model->layers[last].kind == PC_LAYER_KIND_SOFTMAX_XENT ? last : -1;
}

int64_t pc_model_positions(const pc_model *model) {
  int loss = pc_model_loss_layer(model);
  const pc_layer *l = loss >= 0 ? &model->layers[loss] : NULL;
  return l && l->in[0].ndim == 2 ? l->in[0].d[0] : 1;
}

int pc_model_embed(const pc_model *model) {
  for (int i = 0; i < model->nlayers; i++)
    if (model->layers[i].kind == PC_LAYER_KIND_EMBED) return i;
  return -1;
}

int pc_model_tied(const pc_model *model, size_t *floats) {
  for (int i = 0; i < model->nlayers; i++) {
    const pc_layer *l = &model->layers[i];
    if (l->tie < 0) continue;
    if (floats) *floats = pc_layer_ops_of(l->kind)->weight_count(l);
    return i;
  }
  if (floats) *floats = 0;
  return -1;
}

pc_dataset *pc_model_open_data(const pc_model *model, const char *spec, uint64_t seed,
                               bool train, GError **error) {
  int loss = pc_model_loss_layer(model), embed = pc_model_embed(model);
  PC_ASSERT(loss >= 0);
  const pc_shape *logits = &model->layers[loss].in[0];
  int64_t classes = logits->d[logits->ndim - 1];
  if (embed < 0) return pc_dataset_open(spec, &model->input, classes, seed, train, error);
  const pc_embed_attrs *e = model->layers[embed].attrs;
  int64_t T = model->input.d[0];
  if (pc_model_positions(model) != T || classes != e->vocab) {
    char s[PC_SHAPE_STRLEN];
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE,
                "%s: token data gives the next token at each of the %lld positions, in the "
                "vocabulary of %lld; the loss '%s' takes %s", model->path, (long long)T,
                (long long)e->vocab, model->layers[loss].name,
                pc_shape_format(logits, s, sizeof s));
    return NULL;
  }
  return pc_dataset_open_tokens(spec, T, classes, seed, train, error);
}
