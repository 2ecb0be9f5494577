/* conv.c — 2-d convolution kernels (square kernel, stride, zero padding), NCHW.
 *
 * The convolution is lowered to GEMMs over tiles of the output:
 *
 *   forward   Y (OC, cols)  = W (OC, IC*K*K) · X (IC*K*K, cols),   X = im2col of the tile
 *   backward  dW           += dY (OC, cols) · X^T
 *             dX            = W^T · dY,   then col2im adds dX onto din
 *
 * A tile is either a band of output rows of one sample or, where a whole output plane is narrower
 * than the target, several whole samples side by side. The target column count keeps X about
 * PC_CONV_TILE_BYTES (so im2col's output is still in cache when the GEMM reads it and col2im's
 * input when the GEMM wrote it) but never below PC_CONV_TILE_MIN_COLS (so the GEMM stays wide,
 * e.g. the deep 4x4, 2x2 and 1x1 layers of VGG16 and ResNet50 at 32x32 batch 32 run on the
 * whole batch at once). With one sample per tile, Y and dY are sub-blocks of the NCHW tensors
 * themselves (leading dimension OH*OW); with several they are gathered into / scattered from
 * scratch, an O(OC*cols) copy beside the O(OC*IC*K*K*cols) GEMM, and X is gathered through a
 * table of input offsets (see build_table) rather than by pc_im2col, whose per-row overhead
 * dominates on 4x4 to 1x1 planes. A 1x1, stride 1, unpadded convolution with one sample per
 * tile needs no im2col: X is a block of the input as it lies. */
#include <cblas.h>
#include <string.h>

#include "kernels.h"

#ifndef PC_CONV_TILE_BYTES
#define PC_CONV_TILE_BYTES (512 * 1024)
#endif
#ifndef PC_CONV_TILE_MIN_COLS
#define PC_CONV_TILE_MIN_COLS 256
#endif

typedef struct {
  size_t OH, OW, OHW; // output plane
  size_t KK;          // IC*K*K, the GEMM's inner dimension
  size_t imgs;        // samples per tile (more than 1 only with whole planes)
  size_t rows;        // output rows per tile (OH when imgs > 1)
  bool direct;        // 1x1 s1 p0 with one sample per tile: X is the input itself
  size_t col_floats;  // scratch for X / dX: KK * imgs * rows * OW (0 when direct)
  size_t buf_floats;  // scratch for gathered Y / dY: OC * imgs * OHW (0 when imgs == 1)
  size_t tab_floats;  // scratch for the gather table of multi-sample tiles: K*K * imgs * OHW
} conv_plan;

static conv_plan plan_conv(size_t N, size_t IC, size_t H, size_t W, size_t OC, size_t K,
                           size_t stride, size_t pad) {
  conv_plan p;
  p.OH = pc_window_out_size(H, K, stride, pad);
  p.OW = pc_window_out_size(W, K, stride, pad);
  p.OHW = p.OH * p.OW;
  p.KK = IC * K * K;
  size_t target = PC_CONV_TILE_BYTES / (sizeof(float) * p.KK);
  if (target < PC_CONV_TILE_MIN_COLS) target = PC_CONV_TILE_MIN_COLS;
  if (p.OHW >= target) {
    // bands of rows of one sample, balanced: ceil(OH / rows) bands of near-equal height
    size_t rows = target / p.OW > 0 ? target / p.OW : 1;
    size_t bands = (p.OH + rows - 1) / rows;
    p.imgs = 1;
    p.rows = (p.OH + bands - 1) / bands;
  } else {
    p.imgs = (target + p.OHW - 1) / p.OHW;
    if (p.imgs > N) p.imgs = N;
    while (p.imgs > 1 && p.imgs * IC * H * W > (size_t)INT32_MAX) p.imgs /= 2; // table offsets
    if (p.imgs < 1) p.imgs = 1;
    p.rows = p.OH;
  }
  p.direct = K == 1 && stride == 1 && pad == 0 && p.imgs == 1;
  p.col_floats = p.direct ? 0 : p.KK * p.imgs * p.rows * p.OW;
  p.buf_floats = p.imgs == 1 ? 0 : OC * p.imgs * p.OHW;
  p.tab_floats = p.imgs == 1 ? 0 : K * K * p.imgs * p.OHW; // int32 entries, one per float slot
  return p;
}

size_t pc_conv_scratch_floats(size_t N, size_t IC, size_t H, size_t W, size_t OC, size_t K,
                              size_t stride, size_t pad) {
  conv_plan p = plan_conv(N, IC, H, W, OC, K, stride, pad);
  return p.col_floats + p.buf_floats + p.tab_floats;
}

// Multi-sample tiles (small planes): im2col as a gather through a table built once per tile.
// Entry (kh, kw, m), m = i*OHW + oh*OW + ow, is the offset of in[i, c, ih, iw] from in[0, c]
// (the same for every channel c), or -1 where the window reads padding. The per-element work is
// then one flat loop per matrix row, however small the planes are.
static void build_table(int32_t *tab, size_t ni, size_t IC, size_t H, size_t W, size_t K,
                        size_t stride, size_t pad, size_t OH, size_t OW) {
  size_t cols = ni * OH * OW;
  for (size_t kh = 0; kh < K; kh++)
    for (size_t kw = 0; kw < K; kw++) {
      int32_t *t = tab + (kh * K + kw) * cols;
      for (size_t i = 0; i < ni; i++)
        for (size_t oh = 0; oh < OH; oh++)
          for (size_t ow = 0; ow < OW; ow++) {
            ptrdiff_t ih = (ptrdiff_t)(oh * stride + kh) - (ptrdiff_t)pad;
            ptrdiff_t iw = (ptrdiff_t)(ow * stride + kw) - (ptrdiff_t)pad;
            bool inside = ih >= 0 && iw >= 0 && ih < (ptrdiff_t)H && iw < (ptrdiff_t)W;
            *t++ = inside ? (int32_t)(i * IC * H * W + (size_t)ih * W + (size_t)iw) : -1;
          }
    }
}

static void gather_im2col(float *col, const float *x, const int32_t *tab, size_t IC, size_t HW,
                          size_t KK2, size_t cols) {
  // col: (IC*KK2, cols)  x: the tile's samples  tab: (KK2, cols)
  for (size_t c = 0; c < IC; c++) {
    const float *xc = x + c * HW;
    for (size_t kk = 0; kk < KK2; kk++) {
      const int32_t *t = tab + kk * cols;
      float *d = col + (c * KK2 + kk) * cols;
      for (size_t m = 0; m < cols; m++) d[m] = t[m] < 0 ? 0.0f : xc[t[m]];
    }
  }
}

static void scatter_col2im(float *dx, const float *col, const int32_t *tab, size_t IC, size_t HW,
                           size_t KK2, size_t cols) {
  // dx: the tile's samples' input gradient  col: (IC*KK2, cols)  tab: (KK2, cols)
  for (size_t c = 0; c < IC; c++) {
    float *xc = dx + c * HW;
    for (size_t kk = 0; kk < KK2; kk++) {
      const int32_t *t = tab + kk * cols;
      const float *d = col + (c * KK2 + kk) * cols;
      for (size_t m = 0; m < cols; m++)
        if (t[m] >= 0) xc[t[m]] += d[m];
    }
  }
}

/* The input of one tile (rows r0..r1 of ni images from x) as the GEMMs read it, (KK, cols) with
 * leading dimension *ldx: the images themselves when direct (rows r0.. of every channel), else
 * im2col'd (or gathered, several images a tile) into col. */
static const float *tile_input(const conv_plan *p, float *col, const float *x,
                               const int32_t *tab, size_t ni, size_t IC, size_t H, size_t W,
                               size_t K, size_t stride, size_t pad, size_t r0, size_t r1,
                               size_t *ldx) {
  size_t cols = ni * (r1 - r0) * p->OW;
  if (p->imgs > 1) {
    gather_im2col(col, x, tab, IC, H * W, K * K, cols);
    *ldx = cols;
    return col;
  }
  if (!p->direct) {
    pc_im2col(col, x, ni, IC, H, W, K, stride, pad, r0, r1);
    *ldx = cols;
    return col;
  }
  *ldx = H * W;
  return x + r0 * p->OW;
}

void pc_conv_forward(float *out, const float *in, const float *w, const float *b, float *scratch,
                     size_t N, size_t IC, size_t H, size_t W, size_t OC, size_t K, size_t stride,
                     size_t pad) {
  // out: (N, OC, OH, OW)  in: (N, IC, H, W)  w: (OC, IC, K, K)  b: (OC) or NULL
  conv_plan p = plan_conv(N, IC, H, W, OC, K, stride, pad);
  float *col = scratch;                // X: (KK, cols)
  float *buf = scratch + p.col_floats; // Y when imgs > 1: (OC, cols)
  int32_t *tab = (int32_t *)(buf + p.buf_floats); // gather table when imgs > 1
  for (size_t n0 = 0; n0 < N; n0 += p.imgs) {
    size_t ni = N - n0 < p.imgs ? N - n0 : p.imgs;
    const float *x = in + n0 * IC * H * W;
    if (p.imgs > 1 && (n0 == 0 || ni < p.imgs))
      build_table(tab, ni, IC, H, W, K, stride, pad, p.OH, p.OW);
    for (size_t r0 = 0; r0 < p.OH; r0 += p.rows) {
      size_t r1 = r0 + p.rows < p.OH ? r0 + p.rows : p.OH;
      size_t cols = ni * (r1 - r0) * p.OW;
      size_t ldx;
      const float *X = tile_input(&p, col, x, tab, ni, IC, H, W, K, stride, pad, r0, r1, &ldx);
      if (p.imgs == 1) {
        // Y is the block of out[n0] at columns r0*OW.., leading dimension OHW
        float *y = out + n0 * OC * p.OHW + r0 * p.OW;
        float beta = 0.0f;
        if (b != NULL) {
          for (size_t oc = 0; oc < OC; oc++)
            for (size_t j = 0; j < cols; j++) y[oc * p.OHW + j] = b[oc];
          beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)OC, (int)cols, (int)p.KK,
                    1.0f, w, (int)p.KK, X, (int)ldx, beta, y, (int)p.OHW);
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)OC, (int)cols, (int)p.KK,
                    1.0f, w, (int)p.KK, X, (int)ldx, 0.0f, buf, (int)cols);
        // scatter (OC, ni, OHW) -> (ni, OC, OHW), adding the bias
        for (size_t oc = 0; oc < OC; oc++) {
          float bias = b != NULL ? b[oc] : 0.0f;
          for (size_t i = 0; i < ni; i++) {
            const float *src = buf + oc * cols + i * p.OHW;
            float *dst = out + ((n0 + i) * OC + oc) * p.OHW;
            for (size_t j = 0; j < p.OHW; j++) dst[j] = src[j] + bias;
          }
        }
      }
    }
  }
}

void pc_conv_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                      const float *w, float *scratch, size_t N, size_t IC, size_t H, size_t W,
                      size_t OC, size_t K, size_t stride, size_t pad) {
  // din: (N, IC, H, W) or NULL  dw: (OC, IC, K, K)  db: (OC) or NULL
  // dout: (N, OC, OH, OW)  in: (N, IC, H, W)  w: (OC, IC, K, K)
  conv_plan p = plan_conv(N, IC, H, W, OC, K, stride, pad);
  float *col = scratch;                // X, then dX: (KK, cols)
  float *buf = scratch + p.col_floats; // dY when imgs > 1: (OC, cols)
  int32_t *tab = (int32_t *)(buf + p.buf_floats); // gather table when imgs > 1
  for (size_t n0 = 0; n0 < N; n0 += p.imgs) {
    size_t ni = N - n0 < p.imgs ? N - n0 : p.imgs;
    const float *x = in + n0 * IC * H * W;
    if (p.imgs > 1 && (n0 == 0 || ni < p.imgs))
      build_table(tab, ni, IC, H, W, K, stride, pad, p.OH, p.OW);
    for (size_t r0 = 0; r0 < p.OH; r0 += p.rows) {
      size_t r1 = r0 + p.rows < p.OH ? r0 + p.rows : p.OH;
      size_t cols = ni * (r1 - r0) * p.OW;
      // dY (OC, cols): a block of dout[n0], or gathered from the tile's samples
      const float *dY = dout + n0 * OC * p.OHW + r0 * p.OW;
      size_t ldy = p.OHW;
      if (p.imgs != 1) {
        for (size_t oc = 0; oc < OC; oc++)
          for (size_t i = 0; i < ni; i++)
            memcpy(buf + oc * cols + i * p.OHW, dout + ((n0 + i) * OC + oc) * p.OHW,
                   p.OHW * sizeof(float));
        dY = buf;
        ldy = cols;
      }
      if (db != NULL && dw != NULL) {
        for (size_t oc = 0; oc < OC; oc++) {
          const float *g = dY + oc * ldy;
          float s = 0.0f;
          for (size_t j = 0; j < cols; j++) s += g[j];
          db[oc] += s;
        }
      }
      if (dw != NULL) { /* NULL: the input gradient alone (a split backward's BWD) */
        // dW (OC, KK) += dY (OC, cols) · X^T (cols, KK)
        size_t ldx;
        const float *X = tile_input(&p, col, x, tab, ni, IC, H, W, K, stride, pad, r0, r1, &ldx);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)OC, (int)p.KK, (int)cols, 1.0f,
                    dY, (int)ldy, X, (int)ldx, 1.0f, dw, (int)p.KK);
      }
      if (din == NULL) continue;
      float *dx = din + n0 * IC * H * W;
      if (p.direct) {
        // the block of din[n0] at columns r0*W.. (IC, cols) += W^T (IC, OC) · dY (OC, cols)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)IC, (int)cols, (int)OC, 1.0f,
                    w, (int)IC, dY, (int)ldy, 1.0f, dx + r0 * p.OW, (int)(H * W));
      } else {
        // dX (KK, cols) = W^T (KK, OC) · dY (OC, cols), then added back onto the images
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p.KK, (int)cols, (int)OC, 1.0f,
                    w, (int)p.KK, dY, (int)ldy, 0.0f, col, (int)cols);
        if (p.imgs > 1)
          scatter_col2im(dx, col, tab, IC, H * W, K * K, cols);
        else
          pc_col2im(dx, col, ni, IC, H, W, K, stride, pad, r0, r1);
      }
    }
  }
}
