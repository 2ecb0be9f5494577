/* im2col.c — the lowering that turns a convolution into a GEMM, and its adjoint.
 *
 * pc_im2col copies every K x K window of a band of output rows [oh0, oh1) of `nimg` images into
 * a column of a matrix with IC*K*K rows, the images side by side, so that conv.c can run one GEMM
 * over several small images or over a cache-sized band of one large image; pc_col2im adds the
 * columns back onto the image positions they came from (conv's input gradient).
 *
 * Each matrix row (c, kh, kw) of one image is the input plane shifted by (kh - pad, kw - pad) and
 * subsampled by the stride. With stride 1 and "same" padding (OW == W: every 3x3 pad 1 and 1x1
 * convolution of VGG and ResNet) the shift maps the rows of the band onto ONE contiguous run of
 * the input, so a row is a single block copy (or add) plus a zero in the one or two columns that
 * wrapped around from a neighbouring image row — a few instructions per element even on 4x4 or
 * 1x1 planes. Other geometries go row by row with the valid column range computed once. */
#include <stddef.h>
#include <string.h>

#include "kernels.h"

// The output positions o in [*lo, *hi) whose input coordinate o*stride + k - pad lies in [0, in).
static void valid_range(size_t out, size_t in, size_t k, size_t stride, size_t pad, size_t *lo,
                        size_t *hi) {
  size_t l = k < pad ? (pad - k + stride - 1) / stride : 0;           // o*s + k >= pad
  size_t h = in + pad > k ? (in + pad - k + stride - 1) / stride : 0; // o*s + k < in + pad
  if (h > out) h = out;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

// One matrix row (c, kh, kw) of one image over the band [oh0, oh1), for stride 1 and OW == W.
// Output rows [a, b) are the valid ones; element j of the block starting at output row a reads
// input element s0 + j of the plane.
typedef struct {
  size_t a, b;      // valid output rows, clipped to the band
  ptrdiff_t s0;     // plane offset of the block's first element (may be negative by < W)
  size_t j0, j1;    // the part of the block inside the plane
} same_block;

static same_block plan_same(size_t H, size_t W, size_t kh, size_t kw, size_t pad, size_t oh0,
                            size_t oh1, size_t oh_lo, size_t oh_hi) {
  same_block s;
  s.a = oh_lo > oh0 ? oh_lo : oh0;
  s.b = oh_hi < oh1 ? oh_hi : oh1;
  if (s.b < s.a) s.b = s.a;
  s.s0 = ((ptrdiff_t)s.a + (ptrdiff_t)kh - (ptrdiff_t)pad) * (ptrdiff_t)W + (ptrdiff_t)kw -
         (ptrdiff_t)pad;
  size_t n = (s.b - s.a) * W;
  s.j0 = s.s0 < 0 ? (size_t)-s.s0 : 0;
  ptrdiff_t room = (ptrdiff_t)(H * W) - s.s0; // negative only when the block is empty
  s.j1 = room <= 0 ? 0 : (ptrdiff_t)n < room ? n : (size_t)room;
  if (s.j0 > s.j1) s.j0 = s.j1;
  return s;
}

// Zeroes the columns outside [ow_lo, ow_hi) of `rows` rows of width W.
static void zero_border_columns(float *d, size_t rows, size_t W, size_t ow_lo, size_t ow_hi) {
  if (ow_lo == 0 && ow_hi == W) return;
  for (size_t r = 0; r < rows; r++, d += W) {
    for (size_t ow = 0; ow < ow_lo; ow++) d[ow] = 0.0f;
    for (size_t ow = ow_hi; ow < W; ow++) d[ow] = 0.0f;
  }
}

// dst[j] += src[j], j < n; unrolled by 8 so that GCC's -O2 (SLP) vectorises it.
static void add_block(float *restrict dst, const float *restrict src, size_t n) {
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    dst[j + 0] += src[j + 0], dst[j + 1] += src[j + 1], dst[j + 2] += src[j + 2];
    dst[j + 3] += src[j + 3], dst[j + 4] += src[j + 4], dst[j + 5] += src[j + 5];
    dst[j + 6] += src[j + 6], dst[j + 7] += src[j + 7];
  }
  for (; j < n; j++) dst[j] += src[j];
}

void pc_im2col(float *col, const float *in, size_t nimg, size_t IC, size_t H, size_t W, size_t K,
               size_t stride, size_t pad, size_t oh0, size_t oh1) {
  // col: (IC*K*K, nimg*(oh1-oh0)*OW)  in: (nimg, IC, H, W)
  size_t OH = pc_window_out_size(H, K, stride, pad), OW = pc_window_out_size(W, K, stride, pad);
  size_t band = (oh1 - oh0) * OW;
  bool same = stride == 1 && OW == W;
  for (size_t c = 0; c < IC; c++) {
    for (size_t kh = 0; kh < K; kh++) {
      size_t oh_lo, oh_hi;
      valid_range(OH, H, kh, stride, pad, &oh_lo, &oh_hi);
      for (size_t kw = 0; kw < K; kw++) {
        size_t ow_lo, ow_hi;
        valid_range(OW, W, kw, stride, pad, &ow_lo, &ow_hi);
        float *dst = col + ((c * K + kh) * K + kw) * nimg * band;
        for (size_t i = 0; i < nimg; i++, dst += band) {
          const float *x = in + (i * IC + c) * H * W;
          if (same) {
            same_block s = plan_same(H, W, kh, kw, pad, oh0, oh1, oh_lo, oh_hi);
            float *d = dst + (s.a - oh0) * W;
            for (size_t j = 0; j < (s.a - oh0) * W; j++) dst[j] = 0.0f;
            // d[0, j0) and d[j1, end) lie outside the plane: border columns, zeroed here too
            memcpy(d + s.j0, x + (s.s0 + (ptrdiff_t)s.j0), (s.j1 - s.j0) * sizeof(float));
            zero_border_columns(d, s.b - s.a, W, ow_lo, ow_hi);
            for (size_t j = (s.b - oh0) * W; j < band; j++) dst[j] = 0.0f;
            continue;
          }
          float *d = dst;
          for (size_t oh = oh0; oh < oh1; oh++, d += OW) {
            if (oh < oh_lo || oh >= oh_hi) {
              for (size_t ow = 0; ow < OW; ow++) d[ow] = 0.0f;
              continue;
            }
            const float *row = x + (oh * stride + kh - pad) * W;
            for (size_t ow = 0; ow < ow_lo; ow++) d[ow] = 0.0f;
            for (size_t ow = ow_lo; ow < ow_hi; ow++) d[ow] = row[ow * stride + kw - pad];
            for (size_t ow = ow_hi; ow < OW; ow++) d[ow] = 0.0f;
          }
        }
      }
    }
  }
}

void pc_col2im(float *din, float *col, size_t nimg, size_t IC, size_t H, size_t W, size_t K,
               size_t stride, size_t pad, size_t oh0, size_t oh1) {
  // din: (nimg, IC, H, W)  col: (IC*K*K, nimg*(oh1-oh0)*OW)
  size_t OH = pc_window_out_size(H, K, stride, pad), OW = pc_window_out_size(W, K, stride, pad);
  size_t band = (oh1 - oh0) * OW;
  bool same = stride == 1 && OW == W;
  for (size_t c = 0; c < IC; c++) {
    for (size_t kh = 0; kh < K; kh++) {
      size_t oh_lo, oh_hi;
      valid_range(OH, H, kh, stride, pad, &oh_lo, &oh_hi);
      for (size_t kw = 0; kw < K; kw++) {
        size_t ow_lo, ow_hi;
        valid_range(OW, W, kw, stride, pad, &ow_lo, &ow_hi);
        float *src = col + ((c * K + kh) * K + kw) * nimg * band;
        for (size_t i = 0; i < nimg; i++, src += band) {
          float *x = din + (i * IC + c) * H * W;
          if (same) {
            // the wrapped-around border columns would land on a neighbouring row: zero them
            same_block s = plan_same(H, W, kh, kw, pad, oh0, oh1, oh_lo, oh_hi);
            float *d = src + (s.a - oh0) * W;
            zero_border_columns(d, s.b - s.a, W, ow_lo, ow_hi);
            add_block(x + (s.s0 + (ptrdiff_t)s.j0), d + s.j0, s.j1 - s.j0);
            continue;
          }
          size_t a = oh_lo > oh0 ? oh_lo : oh0, b = oh_hi < oh1 ? oh_hi : oh1;
          for (size_t oh = a; oh < b; oh++) {
            float *row = x + (oh * stride + kh - pad) * W;
            const float *s = src + (oh - oh0) * OW;
            for (size_t ow = ow_lo; ow < ow_hi; ow++) row[ow * stride + kw - pad] += s[ow];
          }
        }
      }
    }
  }
}
