/* bn.c — batch norm kernels, per channel over (N, H, W), as nn.BatchNorm2d (and BatchNorm1d with
 * HW = 1).
 *
 * Training forward normalises with the microbatch's own statistics and saves per channel only
 * `mean` and `invstd`; backward recomputes xhat from the forward input, so the layer keeps its
 * input tensor plus 2*C floats rather than a second full-size tensor. Channel sums are taken in
 * double, in a fixed order. */
#include <math.h>

#include "kernels.h"

void pc_bn_forward_train(float *out, float *mean, float *invstd, float *running_mean,
                         float *running_var, const float *in, const float *gamma,
                         const float *beta, size_t N, size_t C, size_t HW, float momentum,
                         float eps) {
  // out, in: (N, C, HW)  mean, invstd, running_mean, running_var, gamma, beta: (C)
  size_t M = N * HW;
  for (size_t c = 0; c < C; c++) {
    double sum = 0.0;
    for (size_t n = 0; n < N; n++) {
      const float *x = in + (n * C + c) * HW;
      for (size_t i = 0; i < HW; i++) sum += x[i];
    }
    double mu = sum / (double)M;
    double sq = 0.0;
    for (size_t n = 0; n < N; n++) {
      const float *x = in + (n * C + c) * HW;
      for (size_t i = 0; i < HW; i++) {
        double d = x[i] - mu;
        sq += d * d;
      }
    }
    double var = sq / (double)M;
    float m = (float)mu, s = (float)(1.0 / sqrt(var + (double)eps));
    mean[c] = m;
    invstd[c] = s;
    float g = gamma[c], b = beta[c];
    for (size_t n = 0; n < N; n++) {
      const float *x = in + (n * C + c) * HW;
      float *o = out + (n * C + c) * HW;
      for (size_t i = 0; i < HW; i++) o[i] = g * ((x[i] - m) * s) + b;
    }
    double unbiased = M > 1 ? sq / (double)(M - 1) : var;
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * m;
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)unbiased;
  }
}

void pc_bn_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                        const float *running_mean, const float *running_var, size_t N, size_t C,
                        size_t HW, float eps) {
  // out, in: (N, C, HW)  gamma, beta, running_mean, running_var: (C)
  for (size_t c = 0; c < C; c++) {
    float m = running_mean[c], s = 1.0f / sqrtf(running_var[c] + eps);
    float g = gamma[c], b = beta[c];
    for (size_t n = 0; n < N; n++) {
      const float *x = in + (n * C + c) * HW;
      float *o = out + (n * C + c) * HW;
      for (size_t i = 0; i < HW; i++) o[i] = g * ((x[i] - m) * s) + b;
    }
  }
}

void pc_bn_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                    const float *gamma, const float *mean, const float *invstd, size_t N,
                    size_t C, size_t HW) {
  // din: (N, C, HW) or NULL  dgamma, dbeta: (C)  dout, in: (N, C, HW)  gamma, mean, invstd: (C)
  size_t M = N * HW;
  for (size_t c = 0; c < C; c++) {
    float m = mean[c], s = invstd[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (size_t n = 0; n < N; n++) {
      const float *x = in + (n * C + c) * HW;
      const float *dy = dout + (n * C + c) * HW;
      for (size_t i = 0; i < HW; i++) {
        sum_dy += dy[i];
        sum_dy_xhat += (double)dy[i] * (double)((x[i] - m) * s);
      }
    }
    if (dbeta) dbeta[c] += (float)sum_dy;
    if (dgamma) dgamma[c] += (float)sum_dy_xhat;
    if (din == NULL) continue;
    float k = gamma[c] * s;
    float mean_dy = (float)(sum_dy / (double)M), mean_dy_xhat = (float)(sum_dy_xhat / (double)M);
    for (size_t n = 0; n < N; n++) {
      const float *x = in + (n * C + c) * HW;
      const float *dy = dout + (n * C + c) * HW;
      float *dx = din + (n * C + c) * HW;
      for (size_t i = 0; i < HW; i++) {
        float xhat = (x[i] - m) * s;
        dx[i] += k * (dy[i] - mean_dy - xhat * mean_dy_xhat);
      }
    }
  }
}
