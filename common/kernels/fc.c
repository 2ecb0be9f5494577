/* fc.c — fully connected layer kernels: out = in · w^T + b, and its backward.
 *
 * Many rows (samples, or positions of a sequence): single cblas_sgemm calls on the row-major
 * buffers as they lie (no transposes copied); the backward GEMMs use beta = 1 so they accumulate
 * into the gradients.
 *
 * Few rows (a small microbatch) on a CPU with AVX-512: the forward and the input gradient stream
 * the weights once, as fast as memory delivers them, where the GEMM's packing of the weights costs
 * more than the products. Each output is then summed in a fixed order that does not depend on the
 * number of rows: 16 partial sums over the input, in steps of 16 (a vector's lanes), added from
 * the first lane to the last, then the tail; the input gradient adds the products in order of the
 * output. A row's result is the same whichever microbatch it is computed in. */
#include <cblas.h>

#include "kernels.h"

#define LANES 16

typedef float lanes __attribute__((vector_size(LANES * sizeof(float))));
#define VLOAD(v, p) memcpy(&(v), (p), sizeof(lanes))
#define VSTORE(p, v) memcpy((p), &(v), sizeof(lanes))

bool pc_fc_streams(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

/* Beyond `most` rows the GEMM's blocking wins; below LANES inputs there is nothing to stream. */
static bool streaming(size_t N, size_t IN, size_t most) {
  return N <= most && IN >= LANES && pc_fc_streams();
}

/* The sum of one output: its lanes' partial sums in order, then the tail i >= full. */
static inline __attribute__((always_inline)) float fc_finish(const float *acc, const float *x,
                                                             const float *wr, size_t full,
                                                             size_t IN) {
  float s = 0.0f;
  for (int v = 0; v < LANES; v++) s += acc[v];
  for (size_t i = full; i < IN; i++) s += x[i] * wr[i];
  return s;
}

/* out (N, OUT) = in (N, IN) · w^T, four weight rows by four input rows at a time. */
__attribute__((target("avx512f"))) static void fc_forward_stream(float *out, const float *in,
                                                                 const float *w, size_t N,
                                                                 size_t IN, size_t OUT) {
  const size_t full = IN / LANES * LANES;
  for (size_t j = 0; j < OUT; j += 4) {
    size_t jb = OUT - j < 4 ? OUT - j : 4;
    for (size_t n = 0; n < N; n += 4) {
      size_t nb = N - n < 4 ? N - n : 4;
      lanes acc[4][4];
      memset(acc, 0, sizeof acc);
      if (jb == 4 && nb == 4) {
        for (size_t i = 0; i < full; i += LANES) {
          lanes x[4], y;
          for (int r = 0; r < 4; r++) VLOAD(x[r], in + (n + r) * IN + i);
          for (int q = 0; q < 4; q++) {
            VLOAD(y, w + (j + q) * IN + i);
            for (int r = 0; r < 4; r++) acc[r][q] += x[r] * y;
          }
        }
      } else {
        for (size_t i = 0; i < full; i += LANES)
          for (size_t q = 0; q < jb; q++) {
            lanes y;
            VLOAD(y, w + (j + q) * IN + i);
            for (size_t r = 0; r < nb; r++) {
              lanes x;
              VLOAD(x, in + (n + r) * IN + i);
              acc[r][q] += x * y;
            }
          }
      }
      for (size_t r = 0; r < nb; r++)
        for (size_t q = 0; q < jb; q++) {
          float a[LANES];
          memcpy(a, &acc[r][q], sizeof a);
          out[(n + r) * OUT + j + q] = fc_finish(a, in + (n + r) * IN, w + (j + q) * IN, full, IN);
        }
    }
  }
}

/* din (N, IN) += dout (N, OUT) · w (OUT, IN): for each row, the products of output j added in
 * order of j, four weight rows a pass. */
__attribute__((target("avx512f"))) static void fc_din_stream(float *din, const float *dout,
                                                             const float *w, size_t N,
                                                             size_t IN, size_t OUT) {
  const size_t full = IN / LANES * LANES;
  size_t j = 0;
  for (; j + 4 <= OUT; j += 4) {
    const float *w0 = w + j * IN, *w1 = w0 + IN, *w2 = w1 + IN, *w3 = w2 + IN;
    for (size_t n = 0; n < N; n++) {
      const float *d = dout + n * OUT + j;
      float *o = din + n * IN;
      lanes d0 = (lanes){0} + d[0], d1 = (lanes){0} + d[1], d2 = (lanes){0} + d[2],
            d3 = (lanes){0} + d[3];
      size_t i = 0;
      for (; i < full; i += LANES) {
        lanes t, y;
        VLOAD(t, o + i);
        VLOAD(y, w0 + i);
        t += d0 * y;
        VLOAD(y, w1 + i);
        t += d1 * y;
        VLOAD(y, w2 + i);
        t += d2 * y;
        VLOAD(y, w3 + i);
        t += d3 * y;
        VSTORE(o + i, t);
      }
      for (; i < IN; i++) {
        float t = o[i];
        t += d[0] * w0[i];
        t += d[1] * w1[i];
        t += d[2] * w2[i];
        t += d[3] * w3[i];
        o[i] = t;
      }
    }
  }
  for (; j < OUT; j++)
    for (size_t n = 0; n < N; n++) {
      const float d = dout[n * OUT + j], *wj = w + j * IN;
      float *o = din + n * IN;
      for (size_t i = 0; i < IN; i++) o[i] += d * wj[i];
    }
}

void pc_fc_forward(float *out, const float *in, const float *w, const float *b,
                   size_t N, size_t IN, size_t OUT) {
  // out: (N, OUT)  in: (N, IN)  w: (OUT, IN)  b: (OUT) or NULL
  if (streaming(N, IN, PC_FC_STREAM_FWD_ROWS)) {
    fc_forward_stream(out, in, w, N, IN, OUT);
    if (b != NULL)
      for (size_t n = 0; n < N; n++)
        for (size_t j = 0; j < OUT; j++) out[n * OUT + j] = b[j] + out[n * OUT + j];
    return;
  }
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
    if (streaming(N, IN, PC_FC_STREAM_DIN_ROWS))
      fc_din_stream(din, dout, w, N, IN, OUT);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)IN, (int)OUT, 1.0f,
                  dout, (int)OUT, w, (int)IN, 1.0f, din, (int)IN);
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
