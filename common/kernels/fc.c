/* fc.c — fully connected layer kernels: out = in · w^T + b, and its backward.
 *
 * All three products are single cblas_sgemm calls on the row-major buffers as they lie (no
 * transposes copied); the backward GEMMs use beta = 1 so they accumulate into the gradients. */
#include <cblas.h>

#include "kernels.h"

void pc_fc_forward(float *out, const float *in, const float *w, const float *b,
                   size_t N, size_t IN, size_t OUT) {
  // out: (N, OUT)  in: (N, IN)  w: (OUT, IN)  b: (OUT) or NULL
  float beta = 0.0f;
  if (b != NULL) {
    for (size_t n = 0; n < N; n++) {
      float *o = out + n * OUT;
      for (size_t j = 0; j < OUT; j++) o[j] = b[j];
    }
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)OUT, (int)IN, 1.0f, in,
              (int)IN, w, (int)IN, beta, out, (int)OUT);
}

void pc_fc_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                    const float *w, size_t N, size_t IN, size_t OUT) {
  // din: (N, IN) or NULL  dw: (OUT, IN)  db: (OUT) or NULL  dout: (N, OUT)  in: (N, IN)
  if (din != NULL) {
    // din (N, IN) += dout (N, OUT) · w (OUT, IN)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)IN, (int)OUT, 1.0f, dout,
                (int)OUT, w, (int)IN, 1.0f, din, (int)IN);
  }
  if (dw == NULL) return; /* the input gradient alone (a split backward's BWD) */
  // dw (OUT, IN) += dout^T (OUT, N) · in (N, IN)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)OUT, (int)IN, (int)N, 1.0f, dout,
              (int)OUT, in, (int)IN, 1.0f, dw, (int)IN);
  if (db != NULL) {
    for (size_t n = 0; n < N; n++) {
      const float *g = dout + n * OUT;
      for (size_t j = 0; j < OUT; j++) db[j] += g[j];
    }
  }
}
