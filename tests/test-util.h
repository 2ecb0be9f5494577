/* test-util.h — helpers for the unit tests: parse a model from a string, find models/. */
#ifndef PC_TEST_UTIL_H
#define PC_TEST_UTIL_H

#include <glib.h>
#include <stdlib.h>

#include "model.h"

/* Directory of the model files (PC_MODELS_DIR, set by meson; else ../models from the source). */
static inline char *pc_test_model_path(const char *name) {
  const char *dir = g_getenv("PC_MODELS_DIR");
  return g_build_filename(dir ? dir : "models", name, NULL);
}

/* Parses text that must be valid. */
static inline pc_model *pc_test_model(const char *text) {
  GError *error = NULL;
  pc_model *m = pc_model_parse(text, "test.model", NULL, &error);
  g_assert_no_error(error);
  g_assert_nonnull(m);
  return m;
}

static inline pc_model *pc_test_load(const char *name, const char *sets) {
  char *path = pc_test_model_path(name);
  GError *error = NULL;
  pc_model *m = pc_model_load(path, sets, &error);
  g_assert_no_error(error);
  g_free(path);
  return m;
}

#endif
