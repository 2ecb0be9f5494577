/* fuzz-weights.c — libFuzzer target of the weights file reader: pc_weights_load
 * (common/weights.c). The input is written to a file and read four ways: asking for no tensor
 * (the header and the size check alone, with the meta lines), then into a runtime of tiny-mlp
 * (width=4, input=4, classes=2; the model of the seed files) for its weights, exact and not, and
 * for its weights and momentum buffers (a checkpoint's stage file), exact. */
#include "fuzz-util.h"
#include "partition.h"
#include "runtime.h"
#include "weights.h"

#define SETS "width=4,input=4,classes=2"

static pc_model *model;
static pc_partition *part;
static pc_runtime *rt;
static char *path;

typedef struct {
  int n;
  const char **names;
  float **data;
  size_t *counts;
} tensors;

static tensors weights, with_momentum;

static void tensors_get(tensors *t, bool optimizer) {
  t->n = pc_runtime_tensors(rt, optimizer, NULL, NULL, NULL);
  t->names = g_new(const char *, (size_t)t->n);
  t->data = g_new(float *, (size_t)t->n);
  t->counts = g_new(size_t, (size_t)t->n);
  pc_runtime_tensors(rt, optimizer, t->names, t->data, t->counts);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  model = pc_fuzz_model("tiny-mlp.model", SETS);
  int counts[1] = {model->nlayers};
  GError *error = NULL;
  part = pc_partition_from_counts(model, counts, 1, &error);
  rt = part ? pc_runtime_new(model, part, 0, 1, 1, 1, 0, &error) : NULL;
  if (rt == NULL) {
    fprintf(stderr, "fuzz: %s\n", error->message);
    abort();
  }
  tensors_get(&weights, false);
  tensors_get(&with_momentum, true);
  path = g_build_filename(pc_fuzz_tmpdir(), "w.pcw", NULL);
  return 0;
}

static void load(const tensors *t, bool exact, bool meta) {
  GError *error = NULL;
  GHashTable *m = NULL;
  const char *name = t ? model->name : NULL;
  bool ok = t ? pc_weights_load(path, name, t->n, t->names, t->data, t->counts, exact,
                                meta ? &m : NULL, &error)
              : pc_weights_load(path, NULL, 0, NULL, NULL, NULL, exact, meta ? &m : NULL,
                                &error);
  if (ok) {
    if (error || (meta && m == NULL)) abort();
    if (m) g_hash_table_unref(m);
  } else {
    pc_fuzz_check_error(error);
    if (m) abort();
    g_error_free(error);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pc_fuzz_write(path, data, size);
  load(NULL, false, true);
  load(&weights, false, false);
  load(&weights, true, true);
  load(&with_momentum, true, true);
  return 0;
}
