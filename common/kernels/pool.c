/* pool.c — max and average pooling kernels (square window, stride, zero padding, floor output
 * size as PyTorch's ceil_mode=False), and the shared output-size helper.
 *
 * Max pool keeps the argmax of every window as an int32 offset inside its (n, c) plane, so its
 * backward is a scatter-add. Average pool follows PyTorch's count_include_pad=True: the divisor
 * is the window's area clipped to the padded input, not to the real one. */
#include <math.h>
#include <stddef.h>

#include "kernels.h"

size_t pc_window_out_size(size_t in, size_t k, size_t stride, size_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

// The window of output position o along one axis, clipped to the real input: [*s, *e).
static void clip_window(size_t o, size_t in, size_t K, size_t stride, size_t pad, size_t *s,
                        size_t *e) {
  ptrdiff_t start = (ptrdiff_t)(o * stride) - (ptrdiff_t)pad;
  ptrdiff_t end = start + (ptrdiff_t)K;
  *s = start < 0 ? 0 : (size_t)start;
  *e = end > (ptrdiff_t)in ? in : (size_t)end;
}

void pc_maxpool_forward(float *out, int32_t *idx, const float *in, size_t N, size_t C, size_t H,
                        size_t W, size_t K, size_t stride, size_t pad) {
  // out: (N, C, OH, OW)  idx: (N, C, OH, OW)  in: (N, C, H, W)
  size_t OH = pc_window_out_size(H, K, stride, pad), OW = pc_window_out_size(W, K, stride, pad);
  for (size_t nc = 0; nc < N * C; nc++) {
    const float *x = in + nc * H * W;
    float *o = out + nc * OH * OW;
    int32_t *ix = idx + nc * OH * OW;
    for (size_t oh = 0; oh < OH; oh++) {
      size_t hs, he;
      clip_window(oh, H, K, stride, pad, &hs, &he);
      for (size_t ow = 0; ow < OW; ow++) {
        size_t ws, we;
        clip_window(ow, W, K, stride, pad, &ws, &we);
        float best = -INFINITY;
        size_t besti = hs * W + ws;
        for (size_t h = hs; h < he; h++) {
          for (size_t w = ws; w < we; w++) {
            float v = x[h * W + w];
            if (v > best || isnan(v)) { best = v; besti = h * W + w; } // NaN wins, as in PyTorch
          }
        }
        o[oh * OW + ow] = best;
        ix[oh * OW + ow] = (int32_t)besti;
      }
    }
  }
}

void pc_maxpool_backward(float *din, const float *dout, const int32_t *idx, size_t N, size_t C,
                         size_t H, size_t W, size_t OH, size_t OW) {
  // din: (N, C, H, W)  dout: (N, C, OH, OW)  idx: (N, C, OH, OW)
  for (size_t nc = 0; nc < N * C; nc++) {
    float *dx = din + nc * H * W;
    const float *g = dout + nc * OH * OW;
    const int32_t *ix = idx + nc * OH * OW;
    for (size_t i = 0; i < OH * OW; i++) dx[ix[i]] += g[i];
  }
}

// The window of output position o along one axis: [*s, *e) clipped to the real input, and the
// extent of the window clipped to the padded input (PyTorch's count_include_pad divisor).
static size_t avg_window(size_t o, size_t in, size_t K, size_t stride, size_t pad, size_t *s,
                         size_t *e) {
  ptrdiff_t start = (ptrdiff_t)(o * stride) - (ptrdiff_t)pad;
  ptrdiff_t end = start + (ptrdiff_t)K;
  ptrdiff_t padded_end = (ptrdiff_t)(in + pad);
  if (end > padded_end) end = padded_end;
  size_t extent = (size_t)(end - start);
  *s = start < 0 ? 0 : (size_t)start;
  *e = end > (ptrdiff_t)in ? in : (size_t)end;
  return extent;
}

void pc_avgpool_forward(float *out, const float *in, size_t N, size_t C, size_t H, size_t W,
                        size_t K, size_t stride, size_t pad) {
  // out: (N, C, OH, OW)  in: (N, C, H, W)
  size_t OH = pc_window_out_size(H, K, stride, pad), OW = pc_window_out_size(W, K, stride, pad);
  for (size_t nc = 0; nc < N * C; nc++) {
    const float *x = in + nc * H * W;
    float *o = out + nc * OH * OW;
    for (size_t oh = 0; oh < OH; oh++) {
      size_t hs, he, hn = avg_window(oh, H, K, stride, pad, &hs, &he);
      for (size_t ow = 0; ow < OW; ow++) {
        size_t ws, we, wn = avg_window(ow, W, K, stride, pad, &ws, &we);
        float s = 0.0f;
        for (size_t h = hs; h < he; h++)
          for (size_t w = ws; w < we; w++) s += x[h * W + w];
        o[oh * OW + ow] = s / (float)(hn * wn);
      }
    }
  }
}

void pc_avgpool_backward(float *din, const float *dout, size_t N, size_t C, size_t H, size_t W,
                         size_t K, size_t stride, size_t pad) {
  // din: (N, C, H, W)  dout: (N, C, OH, OW)
  size_t OH = pc_window_out_size(H, K, stride, pad), OW = pc_window_out_size(W, K, stride, pad);
  for (size_t nc = 0; nc < N * C; nc++) {
    float *dx = din + nc * H * W;
    const float *g = dout + nc * OH * OW;
    for (size_t oh = 0; oh < OH; oh++) {
      size_t hs, he, hn = avg_window(oh, H, K, stride, pad, &hs, &he);
      for (size_t ow = 0; ow < OW; ow++) {
        size_t ws, we, wn = avg_window(ow, W, K, stride, pad, &ws, &we);
        float share = g[oh * OW + ow] / (float)(hn * wn);
        for (size_t h = hs; h < he; h++)
          for (size_t w = ws; w < we; w++) dx[h * W + w] += share;
      }
    }
  }
}
