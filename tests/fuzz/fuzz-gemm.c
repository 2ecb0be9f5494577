/* fuzz-gemm.c — libFuzzer target of the GEMM rate TSV reader: pc_gemm_parse (sim/costfiles.c). A
 * table that parses gives a positive rate for a few shapes, as the analytic costs ask. */
#include "costfiles.h"
#include "fuzz-util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = pc_fuzz_cstr(data, size);
  GError *error = NULL;
  pc_gemm *g = pc_gemm_parse(text, "fuzz.tsv", &error);
  if (g == NULL) {
    pc_fuzz_check_error(error);
    g_error_free(error);
    g_free(text);
    return 0;
  }
  if (error || g->n < 1) abort();
  static const double shapes[][3] = {{1, 1, 1}, {8, 1024, 1024}, {1e9, 3, 7}, {0, 0, 0}};
  for (size_t i = 0; i < G_N_ELEMENTS(shapes); i++) {
    double r = pc_gemm_rate(g, shapes[i][0], shapes[i][1], shapes[i][2]);
    if (!(r > 0)) abort();
  }
  pc_gemm_free(g);
  g_free(text);
  return 0;
}
