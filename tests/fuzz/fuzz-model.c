/* fuzz-model.c — libFuzzer target of the model language: pc_model_parse (common/parse.c and
 * common/lexer.c). The input is the model text up to its first NUL byte; what follows that NUL
 * (when there is one) is the --set override string, up to the next NUL. A parsed model is
 * walked the way the simulator walks it (sizes, FLOPs, names, split markers). */
#include "fuzz-util.h"
#include "layer.h"
#include "partition.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = pc_fuzz_cstr(data, size);
  size_t len = strlen(text);
  const char *sets = len < size ? text + len + 1 : NULL;
  GError *error = NULL;
  pc_model *m = pc_model_parse(text, "fuzz.model", sets, &error);
  if (m == NULL) {
    pc_fuzz_check_error(error);
    g_error_free(error);
  } else {
    if (error || m->nlayers < 1) abort();
    volatile double sink = (double)pc_model_params(m) + pc_model_fwd_flops(m);
    for (int i = 0; i < m->nlayers; i++) {
      const pc_layer *l = &m->layers[i];
      sink += (double)pc_layer_params(l) + pc_layer_fwd_flops(l) + pc_layer_bwd_flops(l) +
              (double)pc_layer_saved_bytes(l) + (double)pc_layer_out_bytes(l);
      if (pc_model_find(m, l->name) != i) abort();
      int first, last;
      if (!pc_model_lookup_range(m, l->name, &first, &last) || first != i || last != i) abort();
    }
    (void)sink;
    pc_model_loss_layer(m);
    if (m->nsplits) {
      pc_partition *p = pc_partition_parse(m, "split", 0, &error);
      if (p == NULL) {
        pc_fuzz_check_error(error);
        g_clear_error(&error);
      }
      pc_partition_free(p);
    }
    pc_model_free(m);
  }
  g_free(text);
  return 0;
}
