/* layernorm.c — layer normalisation over the last dimension (torch.nn.LayerNorm(D)): each row
 * of D values normalised by its own mean and (biased) variance, then scaled and shifted per
 * position of the row. The statistics are taken in double; each row keeps its mean and 1/std
 * for the backward. */
#include <math.h>

#include "kernels.h"

void pc_layernorm_forward(float *out, float *mean, float *invstd, const float *in,
                          const float *gamma, const float *beta, size_t rows, size_t D,
                          float eps) {
  // out, in: (rows, D)  mean, invstd: (rows)  gamma, beta: (D)
  for (size_t r = 0; r < rows; r++) {
    const float *x = in + r * D;
    float *y = out + r * D;
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < D; i++) s += x[i];
    float m = (float)(s / (double)D);
    for (size_t i = 0; i < D; i++) {
      double d = (double)x[i] - m;
      ss += d * d;
    }
    float is = (float)(1.0 / sqrt(ss / (double)D + eps));
    mean[r] = m;
    invstd[r] = is;
    for (size_t i = 0; i < D; i++) y[i] = (x[i] - m) * is * gamma[i] + beta[i];
  }
}

void pc_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *gamma, const float *mean,
                           const float *invstd, size_t rows, size_t D) {
  // din: (rows, D) or NULL  dgamma, dbeta: (D) or NULL  dout, in: (rows, D)
  // gamma: (D)  mean, invstd: (rows)
  for (size_t r = 0; r < rows; r++) {
    const float *x = in + r * D, *dy = dout + r * D;
    float m = mean[r], is = invstd[r];
    if (dgamma || dbeta)
      for (size_t i = 0; i < D; i++) {
        float xhat = (x[i] - m) * is;
        if (dgamma) dgamma[i] += dy[i] * xhat;
        if (dbeta) dbeta[i] += dy[i];
      }
    if (din == NULL) continue;
    /* dxhat = dy * gamma; din = is * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
    double s = 0.0, sx = 0.0;
    for (size_t i = 0; i < D; i++) {
      float g = dy[i] * gamma[i];
      s += g;
      sx += (double)g * ((x[i] - m) * is);
    }
    float ms = (float)(s / (double)D), msx = (float)(sx / (double)D);
    float *dx = din + r * D;
    for (size_t i = 0; i < D; i++) {
      float xhat = (x[i] - m) * is;
      dx[i] += is * (dy[i] * gamma[i] - ms - xhat * msx);
    }
  }
}
