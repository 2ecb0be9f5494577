/* relu.c — ReLU kernels. Backward reads the saved output (out > 0 exactly where in > 0), so the
 * layer keeps one tensor and the forward may run in place.
 *
 * The loops go by blocks of 8 through a small local copy: with a fixed trip count and the loads
 * done before the stores, the compiler vectorises them at -O2 even though `out` may alias `in`. */
#include <string.h>

#include "kernels.h"

#define BLOCK 8

void pc_relu_forward(float *out, const float *in, size_t n) {
  // out, in: (n); may alias
  size_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    float x[BLOCK];
    memcpy(x, in + i, sizeof x);
    for (int k = 0; k < BLOCK; k++) x[k] = x[k] > 0.0f ? x[k] : 0.0f;
    memcpy(out + i, x, sizeof x);
  }
  for (; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void pc_relu_backward(float *din, const float *dout, const float *out, size_t n) {
  // din, dout, out: (n)
  size_t i = 0;
  for (; i + BLOCK <= n; i += BLOCK) {
    float d[BLOCK], g[BLOCK], o[BLOCK];
    memcpy(d, din + i, sizeof d);
    memcpy(g, dout + i, sizeof g);
    memcpy(o, out + i, sizeof o);
    for (int k = 0; k < BLOCK; k++) d[k] += o[k] > 0.0f ? g[k] : 0.0f;
    memcpy(din + i, d, sizeof d);
  }
  for (; i < n; i++) din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}
