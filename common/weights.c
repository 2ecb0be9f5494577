/* weights.c — reading and writing weights files; see weights.h for the format. */
#include "weights.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "files.h"

#define MAGIC "pipecast-weights 1"
#define MAX_META 64 /* meta lines a header may have */

_Static_assert(sizeof(float) == 4, "float32");

static bool little_endian(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

static void swap32(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t v;
    memcpy(&v, &x[i], 4);
    v = GUINT32_SWAP_LE_BE(v);
    memcpy(&x[i], &v, 4);
  }
}

static bool io_error(GError **error, int code, const char *path, const char *what) {
  g_set_error(error, PC_ERROR, code, "%s: %s: %s", path, what, g_strerror(errno));
  return false;
}

bool pc_weights_save(const char *path, const char *model, int n, const char *const *names,
                     float *const *data, const size_t *counts, const char *const *meta,
                     GError **error) {
  pc_output *out = pc_output_open(NULL, path, error);
  if (out == NULL) return false;
  FILE *f = pc_output_stream(out);
  bool ok = fprintf(f, MAGIC "\nmodel %s\n", model) > 0;
  for (int i = 0; meta && meta[i] && meta[i + 1]; i += 2)
    ok = ok && fprintf(f, "meta %s %s\n", meta[i], meta[i + 1]) > 0;
  ok = ok && fprintf(f, "tensors %d\n", n) > 0;
  for (int i = 0; ok && i < n; i++) ok = fprintf(f, "%s %zu\n", names[i], counts[i]) > 0;
  ok = ok && fputs("data\n", f) >= 0;
  for (int i = 0; ok && i < n; i++) {
    if (little_endian()) {
      ok = fwrite(data[i], sizeof(float), counts[i], f) == counts[i];
    } else {
      float *copy = g_memdup2(data[i], counts[i] * sizeof(float));
      swap32(copy, counts[i]);
      ok = fwrite(copy, sizeof(float), counts[i], f) == counts[i];
      g_free(copy);
    }
  }
  if (!ok) {
    io_error(error, PC_ERROR_WRITE, path, "writing failed");
    pc_output_discard(out);
    return false;
  }
  return pc_output_commit(out, error);
}

typedef struct {
  char *name;
  size_t count;
  size_t offset; /* floats from the start of the data */
} entry;

static bool format_error(GError **error, const char *path, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static bool format_error(GError **error, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, PC_ERROR, PC_ERROR_FORMAT, "%s: %s", path, msg);
  g_free(msg);
  return false;
}

/* Next header line into buf, without its newline; false at end of file or on a line too long. */
static bool read_line(FILE *f, char *buf, size_t size) {
  if (fgets(buf, (int)size, f) == NULL) return false;
  size_t len = strlen(buf);
  if (len == 0 || buf[len - 1] != '\n') return false;
  buf[len - 1] = '\0';
  return true;
}

/* The header up to its tensor count: the magic line, the model (MODEL's, when not NULL), at
 * most MAX_META meta lines into META, then `tensors N` into *NTENSORS. */
static bool read_header(FILE *f, const char *path, const char *model, GHashTable *meta,
                        long *ntensors, GError **error) {
  char line[1024];
  if (!read_line(f, line, sizeof line) || strcmp(line, MAGIC) != 0)
    return format_error(error, path, "not a pipecast weights file (it does not start with '"
                        MAGIC "')");
  if (!read_line(f, line, sizeof line) || strncmp(line, "model ", 6) != 0)
    return format_error(error, path, "line 2: expected 'model NAME'");
  if (model && strcmp(line + 6, model) != 0)
    return format_error(error, path, "holds weights of the model '%s', not '%s'", line + 6,
                        model);
  for (int lineno = 3;; lineno++) {
    if (lineno > 3 + MAX_META) return format_error(error, path, "more than %d meta lines", MAX_META);
    if (!read_line(f, line, sizeof line))
      return format_error(error, path, "line %d: truncated header", lineno);
    if (strncmp(line, "meta ", 5) == 0) {
      char *sp = strchr(line + 5, ' ');
      if (sp == NULL) return format_error(error, path, "line %d: expected 'meta KEY VALUE'", lineno);
      g_hash_table_insert(meta, g_strndup(line + 5, (gsize)(sp - line - 5)), g_strdup(sp + 1));
      continue;
    }
    char *end;
    errno = 0;
    if (strncmp(line, "tensors ", 8) == 0) *ntensors = strtol(line + 8, &end, 10);
    if (strncmp(line, "tensors ", 8) != 0 || *end || errno || *ntensors < 0 ||
        *ntensors > 1000000)
      return format_error(error, path, "line %d: expected 'tensors N'", lineno);
    return true;
  }
}

bool pc_weights_load(const char *path, const char *model, int n, const char *const *names,
                     float *const *data, const size_t *counts, bool exact, GHashTable **meta_out,
                     GError **error) {
  size_t file_size;
  FILE *f = pc_file_open_regular(path, &file_size, error);
  if (f == NULL) return false;
  char line[1024];
  bool ok = true;
  GHashTable *index = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, NULL);
  GHashTable *meta = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  entry *entries = NULL;
  long ntensors = 0;
  if (!read_header(f, path, model, meta, &ntensors, error)) {
    ok = false;
    goto out;
  }
  entries = g_new0(entry, (size_t)ntensors);
  size_t offset = 0;
  for (long i = 0; i < ntensors; i++) {
    char *sp;
    unsigned long long c = 0;
    if (!read_line(f, line, sizeof line) || (sp = strrchr(line, ' ')) == NULL ||
        sscanf(sp + 1, "%llu", &c) != 1 || c > ((size_t)1 << 40)) {
      ok = format_error(error, path, "tensor %ld of %ld: expected 'NAME COUNT'", i + 1, ntensors);
      goto out;
    }
    entries[i] = (entry){.name = g_strndup(line, (gsize)(sp - line)), .count = (size_t)c,
                         .offset = offset};
    offset += (size_t)c;
    if (!g_hash_table_insert(index, entries[i].name, &entries[i])) {
      ok = format_error(error, path, "tensor '%s' appears twice", entries[i].name);
      goto out;
    }
  }
  if (!read_line(f, line, sizeof line) || strcmp(line, "data") != 0) {
    ok = format_error(error, path, "expected the line 'data' after the tensor list");
    goto out;
  }
  long data_start = ftell(f);
  long size = (long)file_size;
  if (data_start < 0 || (size_t)(size - data_start) != offset * sizeof(float)) {
    ok = format_error(error, path, "%s: the header lists %zu floats (%zu bytes) but the file has "
                      "%ld bytes of data", (size_t)(size - data_start) < offset * sizeof(float)
                                               ? "truncated" : "trailing bytes",
                      offset, offset * sizeof(float), size - data_start);
    goto out;
  }
  for (int i = 0; i < n; i++) {
    const entry *e = g_hash_table_lookup(index, names[i]);
    if (e == NULL) {
      ok = format_error(error, path, "has no tensor '%s' (is it for another model or stage?)",
                        names[i]);
      goto out;
    }
    if (e->count != counts[i]) {
      ok = format_error(error, path, "tensor '%s' has %zu values, the model has %zu", names[i],
                        e->count, counts[i]);
      goto out;
    }
  }
  if (exact && ntensors != n) {
    for (long i = 0; i < ntensors; i++) {
      bool wanted = false;
      for (int j = 0; j < n && !wanted; j++) wanted = strcmp(entries[i].name, names[j]) == 0;
      if (!wanted) {
        ok = format_error(error, path, "holds tensor '%s', which the model does not have",
                          entries[i].name);
        goto out;
      }
    }
  }
  for (int i = 0; i < n; i++) {
    const entry *e = g_hash_table_lookup(index, names[i]);
    if (fseek(f, data_start + (long)(e->offset * sizeof(float)), SEEK_SET) != 0 ||
        fread(data[i], sizeof(float), e->count, f) != e->count) {
      ok = io_error(error, PC_ERROR_IO, path, "read failed");
      goto out;
    }
    if (!little_endian()) swap32(data[i], e->count);
  }
out:
  if (ok && meta_out) *meta_out = g_hash_table_ref(meta);
  g_hash_table_unref(meta);
  g_hash_table_unref(index);
  for (long i = 0; entries && i < ntensors; i++) g_free(entries[i].name);
  g_free(entries);
  fclose(f);
  return ok;
}
