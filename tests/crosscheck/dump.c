/* dump.c — runs one training forward and backward of a whole model and writes every number a
 * reference implementation needs to check it, as one weights file (common/weights.h).
 *
 *   dump MODEL OUT.pcw [--set k=v,...] [--batch N] [--seed S] [--jitter]
 *
 * The model runs as a one-stage runtime on a microbatch of N samples of the synthetic data set,
 * forward in training mode, then backward with the loss gradient scale 1/N (the gradient of the
 * mean loss). The file holds, by name:
 *
 *   <tensor>              every parameter and buffer as it was BEFORE the forward (PyTorch's
 *                         state_dict names: "conv1.weight", "bn1.running_var")
 *   <buffer>.after        batch norm's running statistics after the forward updated them
 *   input                 (N, numel(input)) the microbatch
 *   labels                (N) its labels, as floats ((N, T) over a sequence)
 *   <layer>.out           (N, numel(out)) every layer's output (the loss's: per-sample losses)
 *   <tensor>.grad         every parameter's gradient after the backward (a tied weight's: the
 *                         sum of both layers', in both)
 *
 * and the meta lines `input` (the per-sample input shape, "3x8x8"), `batch`, `seed` and `loss_sum`
 * (the sum of the per-sample losses).
 * tests/crosscheck/crosscheck.py rebuilds the network in PyTorch from `pipecast-sim describe
 * --format csv`, loads these parameters and compares.
 *
 * Batch norm starts as the identity (gamma 1, beta 0, running mean 0, variance 1), which would let
 * a kernel that ignores gamma or the running statistics pass; --jitter moves them to
 * deterministic random values first (gamma in [0.5, 1.5], beta and the running mean in
 * [-0.5, 0.5], the running variance in [0.5, 1.5]). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "error.h"
#include "kernels.h"
#include "model.h"
#include "partition.h"
#include "runtime.h"
#include "weights.h"

/* ------------------------------------------------------------------------------------------ */
/* The tensors to write: names, data and counts that grow together. */

typedef struct {
  GPtrArray *names; /* char *, owned */
  GPtrArray *data;  /* float *, owned copies */
  GArray *counts;   /* size_t */
} tensor_list;

static void list_init(tensor_list *t) {
  t->names = g_ptr_array_new_with_free_func(g_free);
  t->data = g_ptr_array_new_with_free_func(g_free);
  t->counts = g_array_new(FALSE, FALSE, sizeof(size_t));
}

static void list_clear(tensor_list *t) {
  g_ptr_array_unref(t->names);
  g_ptr_array_unref(t->data);
  g_array_unref(t->counts);
}

/* Adds a copy of x (n floats) under the name made of `name` and `suffix`. */
static void list_add(tensor_list *t, const char *name, const char *suffix, const float *x,
                     size_t n) {
  g_ptr_array_add(t->names, g_strconcat(name, suffix, NULL));
  g_ptr_array_add(t->data, g_memdup2(x, n * sizeof(float)));
  g_array_append_val(t->counts, n);
}

/* ------------------------------------------------------------------------------------------ */

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The layer a tensor name ("<layer>.weight") belongs to. */
static const pc_layer *tensor_layer(const pc_model *m, const char *tensor) {
  char *layer = g_strdup(tensor);
  char *dot = strrchr(layer, '.');
  PC_ASSERT(dot != NULL);
  *dot = '\0';
  int i = pc_model_find(m, layer);
  g_free(layer);
  PC_ASSERT(i >= 0);
  return &m->layers[i];
}

/* Batch norm's gamma, beta and running statistics to deterministic values away from the
 * identity, from streams named by the seed and the tensor's name. */
static void jitter_bn(const pc_model *m, int n, const char **names, float **data,
                      const size_t *counts, uint64_t seed) {
  for (int k = 0; k < n; k++) {
    if (tensor_layer(m, names[k])->kind != PC_LAYER_KIND_BN) continue;
    bool centred_at_one = has_suffix(names[k], ".weight") || has_suffix(names[k], ".running_var");
    float lo = centred_at_one ? 0.5f : -0.5f;
    pc_fill_uniform(data[k], counts[k], lo, lo + 1.0f, pc_rng_key(seed, names[k]), 0);
  }
}

static int dump(const char *path, const char *out, const char *sets, size_t N, uint64_t seed,
                bool jitter, GError **error) {
  int status = 1;
  pc_model *m = pc_model_load(path, sets, error);
  pc_partition *part = NULL;
  pc_runtime *rt = NULL;
  pc_dataset *data = NULL;
  tensor_list list;
  list_init(&list);
  if (m == NULL) goto out;
  int loss = pc_model_loss_layer(m);
  if (loss < 0) {
    g_set_error(error, PC_ERROR, PC_ERROR_USAGE, "%s: the model has no softmax_xent loss", path);
    goto out;
  }
  part = pc_partition_from_counts(m, &m->nlayers, 1, error);
  if (part == NULL) goto out;
  rt = pc_runtime_new(m, part, 0, N, 1, seed, 0, error);
  if (rt == NULL) goto out;
  data = pc_model_open_data(m, "synthetic", seed, true, error);
  if (data == NULL) goto out;
  float *x = pc_runtime_data(rt, 0);
  int32_t *labels = pc_runtime_labels(rt, 0);
  pc_dataset_get(data, 0, N, x, labels);

  /* The state before the forward. */
  int nt = pc_runtime_tensors(rt, false, NULL, NULL, NULL);
  const char **names = g_new(const char *, (size_t)nt);
  float **tdata = g_new(float *, (size_t)nt);
  size_t *counts = g_new(size_t, (size_t)nt);
  pc_runtime_tensors(rt, false, names, tdata, counts);
  if (jitter) jitter_bn(m, nt, names, tdata, counts, seed);
  for (int k = 0; k < nt; k++) list_add(&list, names[k], "", tdata[k], counts[k]);
  size_t in_numel = (size_t)pc_shape_numel(&m->input);
  list_add(&list, "input", "", x, N * in_numel);
  size_t nl = N * (size_t)pc_model_positions(m);
  float *flabels = g_new(float, nl);
  for (size_t i = 0; i < nl; i++) flabels[i] = (float)labels[i];
  list_add(&list, "labels", "", flabels, nl);
  g_free(flabels);

  pc_runtime_forward(rt, 0, true);
  pc_runtime_backward(rt, 0, 1.0f / (float)N);
  pc_runtime_tie_grads(rt);

  for (int i = 0; i < m->nlayers; i++)
    list_add(&list, m->layers[i].name, ".out", pc_runtime_layer_output(rt, i, 0),
             N * (size_t)pc_shape_numel(&m->layers[i].out));
  /* Parameters and their gradients are two blocks of one layout: a parameter tensor's gradient
   * sits at the same offset in the gradient block. Buffers live elsewhere. */
  size_t np, ng;
  float *params = pc_runtime_params(rt, &np);
  float *grads = pc_runtime_grads(rt, &ng);
  PC_ASSERT(np == ng);
  size_t covered = 0;
  for (int k = 0; k < nt; k++) {
    if (params && tdata[k] >= params && tdata[k] < params + np) {
      size_t off = (size_t)(tdata[k] - params);
      PC_ASSERT(off + counts[k] <= np);
      list_add(&list, names[k], ".grad", grads + off, counts[k]);
      covered += counts[k];
    } else {
      PC_ASSERT(has_suffix(names[k], ".running_mean") || has_suffix(names[k], ".running_var"));
      list_add(&list, names[k], ".after", tdata[k], counts[k]);
    }
  }
  PC_ASSERT(covered == np);

  char shape_s[PC_SHAPE_STRLEN], batch_s[32], seed_s[32], loss_s[64];
  pc_shape_format(&m->input, shape_s, sizeof shape_s);
  snprintf(batch_s, sizeof batch_s, "%zu", N);
  snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed);
  snprintf(loss_s, sizeof loss_s, "%.17g", pc_runtime_loss_sum(rt, 0));
  const char *meta[] = {"input", shape_s, "batch",    batch_s,
                        "seed",  seed_s,  "loss_sum", loss_s, NULL};
  if (pc_weights_save(out, m->name, (int)list.names->len, (const char *const *)list.names->pdata,
                      (float *const *)list.data->pdata, (const size_t *)(void *)list.counts->data,
                      meta, error))
    status = 0;
  g_free(names);
  g_free(tdata);
  g_free(counts);
out:
  list_clear(&list);
  pc_dataset_free(data);
  pc_runtime_free(rt);
  pc_partition_free(part);
  pc_model_free(m);
  return status;
}

int main(int argc, char **argv) {
  char *sets = NULL;
  gint64 batch = 4, seed = 1;
  gboolean jitter = FALSE;
  GOptionEntry entries[] = {
    {"set", 's', 0, G_OPTION_ARG_STRING, &sets, "override model parameters", "K=V,..."},
    {"batch", 'b', 0, G_OPTION_ARG_INT64, &batch, "samples in the microbatch (4)", "N"},
    {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the weights and the data (1)", "S"},
    {"jitter", 0, 0, G_OPTION_ARG_NONE, &jitter, "move batch norm away from the identity", NULL},
    G_OPTION_ENTRY_NULL,
  };
  GOptionContext *ctx = g_option_context_new("MODEL OUT.pcw - dump one forward and backward");
  g_option_context_add_main_entries(ctx, entries, NULL);
  GError *error = NULL;
  int status = 2;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "dump: %s\n", error->message);
  } else if (argc != 3) {
    fprintf(stderr, "dump: expected MODEL and OUT.pcw, got %d arguments\n", argc - 1);
  } else if (batch < 1 || seed < 0) {
    fprintf(stderr, "dump: --batch must be positive and --seed not negative\n");
  } else {
    status = dump(argv[1], argv[2], sets, (size_t)batch, (uint64_t)seed, jitter, &error);
    if (status) fprintf(stderr, "dump: %s\n", error ? error->message : "failed");
  }
  g_clear_error(&error);
  g_option_context_free(ctx);
  g_free(sets);
  return status;
}
