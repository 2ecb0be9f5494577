/* attention.c — causal multi-head self-attention over a (T, 3C) input holding each position's
 * query, key and value (GPT-2's c_attn output), H heads of C / H. Every product is one
 * cblas_sgemm on the strided rows as they lie; the probabilities (zero above the diagonal) are
 * kept for the backward. */
#include <cblas.h>
#include <math.h>

#include "kernels.h"
#include "vmath.h"

/* Softmax of row i over its first i + 1 entries; the rest set to 0. */
static void causal_softmax(float *s, size_t T) {
  for (size_t i = 0; i < T; i++) {
    float *r = s + i * T, maxv = pc_maxf(r, i + 1);
    for (size_t j = 0; j <= i; j++) r[j] = pc_expf(r[j] - maxv);
    float inv = 1.0f / pc_sumf(r, i + 1);
    for (size_t j = 0; j <= i; j++) r[j] *= inv;
    for (size_t j = i + 1; j < T; j++) r[j] = 0.0f;
  }
}

void pc_attention_forward(float *out, float *att, const float *qkv, size_t N, size_t T,
                          size_t C, size_t H) {
  // out: (N, T, C)  att: (N, H, T, T)  qkv: (N, T, 3C)
  size_t hs = C / H;
  float scale = 1.0f / sqrtf((float)hs);
  for (size_t n = 0; n < N; n++) {
    for (size_t h = 0; h < H; h++) {
      const float *q = qkv + n * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
      float *p = att + (n * H + h) * T * T;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)hs, scale, q,
                  (int)(3 * C), k, (int)(3 * C), 0.0f, p, (int)T);
      causal_softmax(p, T);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)hs, (int)T, 1.0f, p,
                  (int)T, v, (int)(3 * C), 0.0f, out + n * T * C + h * hs, (int)C);
    }
  }
}

void pc_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           float *scratch, size_t N, size_t T, size_t C, size_t H) {
  // dqkv: (N, T, 3C), accumulated  dout: (N, T, C)  qkv: (N, T, 3C)  att: (N, H, T, T)
  // scratch: (T, T)
  size_t hs = C / H;
  float scale = 1.0f / sqrtf((float)hs);
  int ld = (int)(3 * C);
  for (size_t n = 0; n < N; n++) {
    for (size_t h = 0; h < H; h++) {
      const float *q = qkv + n * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
      float *dq = dqkv + n * T * 3 * C + h * hs, *dk = dq + C, *dv = dq + 2 * C;
      const float *p = att + (n * H + h) * T * T, *dy = dout + n * T * C + h * hs;
      float *ds = scratch;
      // dP = dY V^T;  dV += P^T dY
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)hs, 1.0f, dy,
                  (int)C, v, ld, 0.0f, ds, (int)T);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)hs, (int)T, 1.0f, p,
                  (int)T, dy, (int)C, 1.0f, dv, ld);
      // dS = P (dP - rowsum(P dP)); 0 above the diagonal, where P is
      for (size_t i = 0; i < T; i++) {
        const float *pr = p + i * T;
        float *d = ds + i * T, dot = 0.0f;
        for (size_t j = 0; j <= i; j++) dot += pr[j] * d[j];
        for (size_t j = 0; j <= i; j++) d[j] = pr[j] * (d[j] - dot);
        for (size_t j = i + 1; j < T; j++) d[j] = 0.0f;
      }
      // dQ += scale dS K;  dK += scale dS^T Q
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)hs, (int)T, scale, ds,
                  (int)T, k, ld, 1.0f, dq, ld);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)hs, (int)T, scale, ds,
                  (int)T, q, ld, 1.0f, dk, ld);
    }
  }
}
