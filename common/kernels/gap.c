/* gap.c — global average pool kernels: (N, C, H, W) -> (N, C), the mean of each channel's plane
 * (ResNet's head before the classifier). */
#include "kernels.h"

void pc_gap_forward(float *out, const float *in, size_t N, size_t C, size_t HW) {
  // out: (N, C)  in: (N, C, HW)
  for (size_t nc = 0; nc < N * C; nc++) {
    const float *x = in + nc * HW;
    float s = 0.0f;
    for (size_t i = 0; i < HW; i++) s += x[i];
    out[nc] = s / (float)HW;
  }
}

void pc_gap_backward(float *din, const float *dout, size_t N, size_t C, size_t HW) {
  // din: (N, C, HW)  dout: (N, C)
  for (size_t nc = 0; nc < N * C; nc++) {
    float *dx = din + nc * HW;
    float g = dout[nc] / (float)HW;
    for (size_t i = 0; i < HW; i++) dx[i] += g;
  }
}
