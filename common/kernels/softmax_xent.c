/* softmax_xent.c — the loss: softmax over classes fused with cross-entropy against int32 labels.
 *
 * Forward keeps the probabilities (that is all backward needs) and reports per-sample losses and
 * the number of correct predictions. Backward takes a `scale`: with scale = 1/B, B the size of
 * the whole minibatch, the gradients of the microbatches accumulate to the minibatch's gradient
 * of its mean loss, whatever the microbatch count. */
#include <math.h>

#include "kernels.h"
#include "vmath.h"

size_t pc_softmax_xent_forward(float *probs, float *losses, const float *logits,
                               const int32_t *labels, size_t N, size_t C) {
  // probs: (N, C)  losses: (N)  logits: (N, C)  labels: (N)
  size_t correct = 0;
  for (size_t n = 0; n < N; n++) {
    const float *x = logits + n * C;
    float *p = probs + n * C;
    float maxv = pc_maxf(x, C);
    size_t argmax = 0; /* the first largest */
    while (argmax + 1 < C && !(x[argmax] == maxv)) argmax++;
    for (size_t j = 0; j < C; j++) p[j] = pc_expf(x[j] - maxv);
    float sum = pc_sumf(p, C);
    float inv = 1.0f / sum;
    for (size_t j = 0; j < C; j++) p[j] *= inv;
    size_t y = (size_t)labels[n];
    losses[n] = logf(sum) - (x[y] - maxv);
    if (argmax == y) correct++;
  }
  return correct;
}

void pc_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, size_t N,
                              size_t C, float scale) {
  // dlogits: (N, C)  probs: (N, C)  labels: (N)
  for (size_t n = 0; n < N; n++) {
    const float *p = probs + n * C;
    float *d = dlogits + n * C;
    size_t y = (size_t)labels[n];
    for (size_t j = 0; j < C; j++) {
      float indicator = j == y ? 1.0f : 0.0f;
      d[j] += (p[j] - indicator) * scale;
    }
  }
}
