/* fuzz-partition.c — libFuzzer target of the partition spec notation: pc_partition_parse
 * (common/partition.c) on fixed models. Input: one selector byte, then the spec (up to a NUL).
 * The selector picks the model (bits 0-1: mlp32, tiny-resnet, tiny-mlp, resnet50) and the
 * stage count asked for (bits 2-5: 0 to 15; 0 lets the spec decide). A parsed partition must
 * validate, print back in the spec syntax, and parse back to itself. */
#include "fuzz-util.h"
#include "partition.h"

static pc_model *models[4];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static const char *const files[4] = {"mlp32.model", "tiny-resnet.model", "tiny-mlp.model",
                                       "resnet50.model"};
  for (int i = 0; i < 4; i++) models[i] = pc_fuzz_model(files[i], NULL);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const pc_model *m = models[data[0] & 3];
  int nstages = (data[0] >> 2) & 15;
  char *spec = pc_fuzz_cstr(data + 1, size - 1);
  GError *error = NULL;
  pc_partition *p = pc_partition_parse(m, spec, nstages, &error);
  if (p == NULL) {
    pc_fuzz_check_error(error);
    g_error_free(error);
  } else {
    if (error || !pc_partition_validate(m, p, NULL)) abort();
    if (nstages > 0 && p->nstages != nstages) abort();
    char *back = pc_partition_format(m, p);
    pc_partition *q = pc_partition_parse(m, back, 0, NULL);
    if (q == NULL || !pc_partition_equal(p, q)) {
      fprintf(stderr, "fuzz: '%s' printed as '%s' does not parse back to itself\n", spec, back);
      abort();
    }
    GArray *xs = pc_partition_transfers(m, p);
    g_array_unref(xs);
    pc_partition_free(q);
    g_free(back);
    pc_partition_free(p);
  }
  g_free(spec);
  return 0;
}
