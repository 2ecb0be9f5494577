/* gelu.c — GELU in GPT-2's tanh form:
 *   y = 0.5 x (1 + tanh(u)),   u = k (x + 0.044715 x^3),   k = sqrt(2 / pi),
 * and its derivative from the saved input, 0.5 (1 + t) + 0.5 x (1 - t^2) du/dx. tanh is
 * (1 - e) / (1 + e) with e = exp(-2 |u|) (vmath.h), so that the loops vectorize. */
#include "kernels.h"
#include "vmath.h"

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_C 0.044715f

static inline float gelu_tanh(float x) {
  float u = GELU_K * (x + GELU_C * x * x * x), e = pc_expf(-2.0f * fabsf(u));
  float t = (1.0f - e) / (1.0f + e);
  return u < 0.0f ? -t : t;
}

void pc_gelu_forward(float *out, const float *in, size_t n) {
  // out, in: (n)
  for (size_t i = 0; i < n; i++) out[i] = 0.5f * in[i] * (1.0f + gelu_tanh(in[i]));
}

void pc_gelu_backward(float *din, const float *dout, const float *in, size_t n) {
  // din, dout, in: (n)
  for (size_t i = 0; i < n; i++) {
    float x = in[i], t = gelu_tanh(x);
    float dt = GELU_K * (1.0f + 3.0f * GELU_C * x * x) * (1.0f - t * t);
    din[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * x * dt);
  }
}
