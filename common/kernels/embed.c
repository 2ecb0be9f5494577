/* embed.c — token embedding plus a learned position embedding (GPT-2's wte and wpe).
 *
 * Token ids arrive as floats (the model's input is a float tensor; ids up to 2^24 are exact).
 * An id that is not an integer in [0, V) makes its row NaN, which the runtime's check of every
 * output reports, naming the layer. */
#include <math.h>

#include "kernels.h"

void pc_embed_forward(float *out, const float *tokens, const float *wte, const float *wpe,
                      size_t N, size_t T, size_t V, size_t C) {
  // out: (N, T, C)  tokens: (N, T)  wte: (V, C)  wpe: (T, C) or NULL
  for (size_t i = 0; i < N * T; i++) {
    float id = tokens[i];
    float *o = out + i * C;
    if (!(id >= 0.0f && id < (float)V && id == floorf(id))) {
      for (size_t c = 0; c < C; c++) o[c] = NAN;
      continue;
    }
    const float *e = wte + (size_t)id * C;
    if (wpe == NULL) {
      for (size_t c = 0; c < C; c++) o[c] = e[c];
    } else {
      const float *p = wpe + (i % T) * C;
      for (size_t c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
  }
}

void pc_embed_backward(float *dwte, float *dwpe, const float *dout, const float *tokens,
                       size_t N, size_t T, size_t C) {
  // dwte: (V, C)  dwpe: (T, C) or NULL  dout: (N, T, C)  tokens: (N, T), checked by forward
  for (size_t i = 0; i < N * T; i++) {
    const float *g = dout + i * C;
    float *d = dwte + (size_t)tokens[i] * C;
    for (size_t c = 0; c < C; c++) d[c] += g[c];
    if (dwpe != NULL) {
      float *p = dwpe + (i % T) * C;
      for (size_t c = 0; c < C; c++) p[c] += g[c];
    }
  }
}
