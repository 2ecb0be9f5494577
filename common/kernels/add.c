/* add.c — residual add kernels: out = a + b joins a residual block's two paths; backward passes
 * the gradient unchanged to both inputs, accumulating (they may be the same tensor). Also the
 * plain accumulation y += x that gradients use everywhere.
 *
 * The loops go by blocks of 8 through small local copies: with a fixed trip count and the loads
 * done before the stores, the compiler vectorises them at -O2 even where the buffers may alias. */
#include <string.h>

#include "kernels.h"

#define BLOCK 8

void pc_add_forward(float *out, const float *a, const float *b, size_t n) {
  // out, a, b: (n); out may alias a or b
  size_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    float x[BLOCK], y[BLOCK];
    memcpy(x, a + i, sizeof x);
    memcpy(y, b + i, sizeof y);
    for (int k = 0; k < BLOCK; k++) x[k] += y[k];
    memcpy(out + i, x, sizeof x);
  }
  for (; i < n; i++) out[i] = a[i] + b[i];
}

void pc_accumulate(float *y, const float *x, size_t n) {
  // y, x: (n)
  size_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    float s[BLOCK], t[BLOCK];
    memcpy(s, y + i, sizeof s);
    memcpy(t, x + i, sizeof t);
    for (int k = 0; k < BLOCK; k++) s[k] += t[k];
    memcpy(y + i, s, sizeof s);
  }
  for (; i < n; i++) y[i] += x[i];
}

void pc_add_backward(float *da, float *db, const float *dout, size_t n) {
  // da, db: (n) or NULL  dout: (n)
  if (da != NULL) pc_accumulate(da, dout, n);
  if (db != NULL) pc_accumulate(db, dout, n);
}
