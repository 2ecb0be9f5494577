/* add.c — residual add kernels: out = a + b joins a residual block's two paths; backward passes
 * the gradient unchanged to both inputs, accumulating (they may be the same tensor). */
#include "kernels.h"

void pc_add_forward(float *out, const float *a, const float *b, size_t n) {
  // out, a, b: (n); out may alias a or b
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void pc_add_backward(float *da, float *db, const float *dout, size_t n) {
  // da, db: (n) or NULL  dout: (n)
  if (da != NULL) for (size_t i = 0; i < n; i++) da[i] += dout[i];
  if (db != NULL) for (size_t i = 0; i < n; i++) db[i] += dout[i];
}
