/* fuzz-util.h — helpers shared by the libFuzzer targets of tests/fuzz: a NUL-terminated copy of
 * the input, the fixed models the targets read (models/, or PC_MODELS_DIR), and a private
 * temporary folder for the readers that take a path. Built with clang only (see meson.build). */
#ifndef PC_FUZZ_UTIL_H
#define PC_FUZZ_UTIL_H

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#ifndef PC_FUZZ_MODELS_DIR
#define PC_FUZZ_MODELS_DIR "models"
#endif
#ifndef PC_FUZZ_SOURCE_DIR
#define PC_FUZZ_SOURCE_DIR "tests/fuzz"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* Undefined behaviour stops the run (a crash to libFuzzer), except what ubsan.supp lists. */
const char *__ubsan_default_options(void) {
  return "halt_on_error=1:print_stacktrace=1:suppressions=" PC_FUZZ_SOURCE_DIR "/ubsan.supp";
}

/* The input as a C string (g_free it); a NUL byte in the input ends the string early. */
static inline char *pc_fuzz_cstr(const uint8_t *data, size_t size) {
  char *s = g_malloc(size + 1);
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* A model of models/ that must load (the targets abort otherwise: a broken harness). */
static inline pc_model *pc_fuzz_model(const char *file, const char *sets) {
  const char *dir = g_getenv("PC_MODELS_DIR");
  char *path = g_build_filename(dir ? dir : PC_FUZZ_MODELS_DIR, file, NULL);
  GError *error = NULL;
  pc_model *m = pc_model_load(path, sets, &error);
  if (m == NULL) {
    fprintf(stderr, "fuzz: cannot load %s: %s\n", path, error->message);
    abort();
  }
  g_free(path);
  return m;
}

/* A reader that fails must say why: NULL/false with no error is a bug. */
static inline void pc_fuzz_check_error(GError *error) {
  if (error == NULL) {
    fprintf(stderr, "fuzz: the reader failed without an error\n");
    abort();
  }
  if (error->message == NULL || error->message[0] == '\0') {
    fprintf(stderr, "fuzz: the reader failed with an empty message\n");
    abort();
  }
}

static char *pc_fuzz_dir;

static void pc_fuzz_rmtree(const char *path) {
  GDir *d = g_dir_open(path, 0, NULL);
  if (d) {
    const char *name;
    while ((name = g_dir_read_name(d))) {
      char *p = g_build_filename(path, name, NULL);
      pc_fuzz_rmtree(p);
      g_free(p);
    }
    g_dir_close(d);
  }
  g_remove(path);
}

static void pc_fuzz_cleanup(void) {
  if (pc_fuzz_dir) pc_fuzz_rmtree(pc_fuzz_dir);
  g_free(pc_fuzz_dir);
  pc_fuzz_dir = NULL;
}

/* A private folder under $TMPDIR (removed at exit). */
static inline const char *pc_fuzz_tmpdir(void) {
  if (pc_fuzz_dir == NULL) {
    GError *error = NULL;
    pc_fuzz_dir = g_dir_make_tmp("pipecast-fuzz-XXXXXX", &error);
    if (pc_fuzz_dir == NULL) {
      fprintf(stderr, "fuzz: %s\n", error->message);
      abort();
    }
    atexit(pc_fuzz_cleanup);
  }
  return pc_fuzz_dir;
}

/* Writes SIZE bytes to PATH (replacing it); aborts on failure. */
static inline void pc_fuzz_write(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    fprintf(stderr, "fuzz: cannot write %s\n", path);
    abort();
  }
}

#endif
