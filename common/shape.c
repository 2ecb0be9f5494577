/* shape.c — per-sample tensor shapes. */
#include "shape.h"

#include <stdio.h>

int64_t pc_shape_numel(const pc_shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->ndim; i++) n *= s->d[i];
  return n;
}

bool pc_shape_equal(const pc_shape *a, const pc_shape *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->d[i] != b->d[i]) return false;
  return true;
}

char *pc_shape_format(const pc_shape *s, char *buf, size_t size) {
  size_t off = 0;
  buf[0] = '\0';
  for (int i = 0; i < s->ndim && off < size; i++) {
    int n = snprintf(buf + off, size - off, i ? "x%lld" : "%lld", (long long)s->d[i]);
    if (n < 0) break;
    off += (size_t)n;
  }
  return buf;
}
