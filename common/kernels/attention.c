/* attention.c — causal multi-head self-attention over a (T, 3C) input holding each position's
 * query, key and value (GPT-2's c_attn output), H heads of C / H. The rows go in blocks of
 * ATT_BLOCK positions; a block's products are cblas_sgemm calls on the strided rows as they lie,
 * over the positions up to its last only (a position attends to none after it), so about half
 * the T x T square is never computed. The probabilities (zero above the diagonal) are kept for
 * the backward. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

#define ATT_BLOCK 64

/* Softmax of rows i0 .. i1 - 1 of s (row i over its first i + 1 entries), the rest of each row
 * set to 0. */
static void causal_softmax(float *s, size_t T, size_t i0, size_t i1) {
  for (size_t i = i0; i < i1; i++) {
    float *r = s + i * T, maxv = pc_maxf(r, i + 1);
    for (size_t j = 0; j <= i; j++) r[j] = pc_expf(r[j] - maxv);
    float inv = 1.0f / pc_sumf(r, i + 1);
    for (size_t j = 0; j <= i; j++) r[j] *= inv;
    memset(r + i + 1, 0, (T - i - 1) * sizeof *r);
  }
}

size_t pc_attention_scores(size_t T) {
  size_t n = 0;
  for (size_t i0 = 0; i0 < T; i0 += ATT_BLOCK) {
    size_t i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T;
    n += (i1 - i0) * i1;
  }
  return n;
}

void pc_attention_forward(float *out, float *att, const float *qkv, size_t N, size_t T,
                          size_t C, size_t H) {
  // out: (N, T, C)  att: (N, H, T, T)  qkv: (N, T, 3C)
  size_t hs = C / H;
  float scale = 1.0f / sqrtf((float)hs);
  int ld = (int)(3 * C);
  for (size_t n = 0; n < N; n++) {
    for (size_t h = 0; h < H; h++) {
      const float *q = qkv + n * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
      float *p = att + (n * H + h) * T * T, *y = out + n * T * C + h * hs;
      for (size_t i0 = 0; i0 < T; i0 += ATT_BLOCK) {
        size_t i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T;
        int rows = (int)(i1 - i0), upto = (int)i1;
        // S = scale Q K^T; P = softmax(S); Y = P V, rows i0 .. i1 - 1 against positions < i1
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, upto, (int)hs, scale,
                    q + i0 * 3 * C, ld, k, ld, 0.0f, p + i0 * T, (int)T);
        causal_softmax(p, T, i0, i1);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, (int)hs, upto, 1.0f,
                    p + i0 * T, (int)T, v, ld, 0.0f, y + i0 * C, (int)C);
      }
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
      for (size_t i0 = 0; i0 < T; i0 += ATT_BLOCK) {
        size_t i1 = i0 + ATT_BLOCK < T ? i0 + ATT_BLOCK : T;
        int rows = (int)(i1 - i0), upto = (int)i1;
        const float *pb = p + i0 * T;
        float *db = ds + i0 * T;
        // dP = dY V^T;  dV += P^T dY
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, upto, (int)hs, 1.0f,
                    dy + i0 * C, (int)C, v, ld, 0.0f, db, (int)T);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, upto, (int)hs, rows, 1.0f, pb,
                    (int)T, dy + i0 * C, (int)C, 1.0f, dv, ld);
        // dS = P (dP - rowsum(P dP)); 0 above the diagonal, where P is
        for (size_t i = i0; i < i1; i++) {
          const float *pr = p + i * T;
          float *d = ds + i * T, dot = 0.0f;
          for (size_t j = 0; j <= i; j++) dot += pr[j] * d[j];
          for (size_t j = 0; j <= i; j++) d[j] = pr[j] * (d[j] - dot);
          for (size_t j = i + 1; j < i1; j++) d[j] = 0.0f;
        }
        // dQ += scale dS K;  dK += scale dS^T Q
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, (int)hs, upto, scale, db,
                    (int)T, k, ld, 1.0f, dq + i0 * 3 * C, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, upto, (int)hs, rows, scale, db,
                    (int)T, q + i0 * 3 * C, ld, 1.0f, dk, ld);
      }
    }
  }
}
