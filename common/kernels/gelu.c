/* gelu.c — GELU in GPT-2's tanh form:
 *   y = 0.5 x (1 + tanh(k (x + 0.044715 x^3))),   k = sqrt(2 / pi),
 * and its derivative from the saved input. */
#include <math.h>

#include "kernels.h"

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_C 0.044715f

void pc_gelu_forward(float *out, const float *in, size_t n) {
  // out, in: (n)
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + GELU_C * x * x * x)));
  }
}

void pc_gelu_backward(float *din, const float *dout, const float *in, size_t n) {
  // din, dout, in: (n)
  for (size_t i = 0; i < n; i++) {
    float x = in[i], t = tanhf(GELU_K * (x + GELU_C * x * x * x));
    float dt = GELU_K * (1.0f + 3.0f * GELU_C * x * x) * (1.0f - t * t);
    din[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * x * dt);
  }
}
