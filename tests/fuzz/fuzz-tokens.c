/* fuzz-tokens.c — libFuzzer target of the token file reader: pc_dataset_open_tokens
 * (common/data.c). The input is written to a file and opened as "tokens:FILE" (its last tenth of
 * windows the test split) and "tokens:FILE,FILE", at windows of 8 tokens under a vocabulary of
 * 50 and of 1 token under 65536. A file that opens must give windows whose every id lies below
 * the vocabulary, whose labels are the inputs shifted by one, and whose splits share the file's
 * windows; one that does not must say why. */
#include "data.h"
#include "error.h"
#include "fuzz-util.h"

static char *path, *one, *two;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  path = g_build_filename(pc_fuzz_tmpdir(), "t.bin", NULL);
  one = g_strdup_printf("tokens:%s", path);
  two = g_strdup_printf("tokens:%s,%s", path, path);
  return 0;
}

static void check(const pc_dataset *d, int64_t T, int64_t vocab) {
  int64_t n = pc_dataset_size(d);
  if (n < 1 || pc_dataset_numel(d) != T || pc_dataset_positions(d) != T ||
      pc_dataset_classes(d) != vocab) {
    fprintf(stderr, "fuzz: %s: sizes do not fit T %ld, vocabulary %ld\n", pc_dataset_describe(d),
            (long)T, (long)vocab);
    abort();
  }
  float *x = g_new(float, (size_t)T);
  int32_t *y = g_new(int32_t, (size_t)T);
  for (int64_t s = 0; s < n && s < 64; s++) {
    pc_dataset_get(d, s, 1, x, y);
    for (int64_t k = 0; k < T; k++) {
      bool in_range = x[k] >= 0 && x[k] < (float)vocab && y[k] >= 0 && y[k] < vocab;
      if (!in_range || (k + 1 < T && (float)y[k] != x[k + 1])) {
        fprintf(stderr, "fuzz: window %ld position %ld: input %g, label %d\n", (long)s, (long)k,
                x[k], y[k]);
        abort();
      }
    }
  }
  g_free(x), g_free(y);
}

static void open_both(const char *spec, int64_t T, int64_t vocab, bool split) {
  GError *error = NULL;
  pc_dataset *tr = pc_dataset_open_tokens(spec, T, vocab, 0, true, &error);
  if (tr == NULL) {
    pc_fuzz_check_error(error);
    g_clear_error(&error);
    return;
  }
  pc_dataset *te = pc_dataset_open_tokens(spec, T, vocab, 0, false, &error);
  if (te == NULL) pc_fuzz_check_error(error);
  g_clear_error(&error);
  check(tr, T, vocab);
  if (te) check(te, T, vocab);
  if (te && !split && pc_dataset_size(tr) != pc_dataset_size(te)) {
    fprintf(stderr, "fuzz: the same file as both splits: %ld and %ld windows\n",
            (long)pc_dataset_size(tr), (long)pc_dataset_size(te));
    abort();
  }
  pc_dataset_free(tr), pc_dataset_free(te);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_file_set_contents(path, (const char *)data, (gssize)size, NULL)) abort();
  open_both(one, 8, 50, true);
  open_both(two, 8, 50, false);
  open_both(one, 1, 65536, true);
  return 0;
}
