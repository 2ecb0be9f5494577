/* relu.c — ReLU kernels. Backward reads the saved output (out > 0 exactly where in > 0), so the
 * layer keeps one tensor and the forward may run in place.
 *
 * Plain loops: the build's -O3 vectorises them (versioned on a run-time overlap check where
 * `out` may alias `in`). */
#include "kernels.h"

void pc_relu_forward(float *out, const float *in, size_t n) {
  // out, in: (n); may alias
  for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void pc_relu_backward(float *din, const float *dout, const float *out, size_t n) {
  // din, dout, out: (n)
  for (size_t i = 0; i < n; i++) {
    float g = dout[i]; /* loaded whatever the sign: a select, not a branch on random signs */
    din[i] += out[i] > 0.0f ? g : 0.0f;
  }
}
