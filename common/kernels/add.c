/* add.c — residual add kernels: out = a + b joins a residual block's two paths; backward passes
 * the gradient unchanged to both inputs, accumulating (they may be the same tensor). Also the
 * plain accumulation y += x that gradients use everywhere.
 *
 * Plain loops: the build's -O3 vectorises them (versioned on a run-time overlap check). */
#include "kernels.h"

void pc_add_forward(float *out, const float *a, const float *b, size_t n) {
  // out, a, b: (n); out may alias a or b
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void pc_accumulate(float *y, const float *x, size_t n) {
  // y, x: (n)
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void pc_tie_sum(float *a, float *b, size_t n) {
  // a, b: (n)
  for (size_t i = 0; i < n; i++) a[i] = b[i] = a[i] + b[i];
}

void pc_add_backward(float *da, float *db, const float *dout, size_t n) {
  // da, db: (n) or NULL  dout: (n)
  if (da != NULL) pc_accumulate(da, dout, n);
  if (db != NULL) pc_accumulate(db, dout, n);
}
