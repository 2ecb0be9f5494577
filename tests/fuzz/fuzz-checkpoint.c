/* fuzz-checkpoint.c — libFuzzer target of the checkpoint reader: pc_checkpoint_load
 * (exec/checkpoint.c), which reads DIR/checkpoint and then the stage file of the folder it
 * names (DIR/iter-N/stage-S.pcw for a checkpoint without a run ID). The input is
 * written as DIR/checkpoint; DIR also holds valid stage files for iterations 0 to 3 of the run
 * the seeds come from (tiny-mlp, width=4, input=4, classes=2, one stage), so an input that
 * passes the checks goes on to load one. Not collective: no MPI call is made. */
#include "checkpoint.h"
#include "fuzz-util.h"
#include "partition.h"
#include "runtime.h"
#include "weights.h"

#define SETS "width=4,input=4,classes=2"
/* The `config` line that `pipecast-exec train MODEL --set SETS --batch 4` writes. */
#define CONFIG "partition=fc1..loss batch=4 microbatches=1 replicas=1 seed=1 data=synthetic " \
               "set=" SETS

static pc_model *model;
static pc_partition *part;
static pc_runtime *rt;
static char *dir, *path;

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
  dir = g_strdup(pc_fuzz_tmpdir());
  path = g_build_filename(dir, "checkpoint", NULL);
  int n = pc_runtime_tensors(rt, true, NULL, NULL, NULL);
  const char **names = g_new(const char *, (size_t)n);
  float **data = g_new(float *, (size_t)n);
  size_t *sizes = g_new(size_t, (size_t)n);
  pc_runtime_tensors(rt, true, names, data, sizes);
  for (int it = 0; it < 4; it++) {
    char *sub = g_strdup_printf("%s/iter-%d", dir, it), *file = g_strdup_printf("%s/stage-0.pcw", sub);
    char *num = g_strdup_printf("%d", it);
    const char *meta[] = {"iteration", num, NULL};
    if (g_mkdir_with_parents(sub, 0755) != 0 ||
        !pc_weights_save(file, model->name, n, names, data, sizes, meta, &error)) {
      fprintf(stderr, "fuzz: cannot write %s\n", file);
      abort();
    }
    g_free(num);
    g_free(file);
    g_free(sub);
  }
  g_free(names);
  g_free(data);
  g_free(sizes);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pc_fuzz_write(path, data, size);
  GError *error = NULL;
  pc_checkpoint_job job = {model->name, 1, CONFIG, NULL, "lr=0.01 momentum=0.9 weight_decay=0"};
  pc_checkpoint_info info = {.iteration = -1};
  if (pc_checkpoint_load(dir, &job, &rt, (const int[]){0}, 1, &info, &error)) {
    if (error || info.iteration < 0 || info.iteration > 3) abort();
    g_free(info.optimizer);
  } else {
    pc_fuzz_check_error(error);
    g_error_free(error);
  }
  return 0;
}
